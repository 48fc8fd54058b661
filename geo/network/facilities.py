"""Nearest responsible unit by road: one Dijkstra per unit (facility) up front, then lookups.

:class:`FacilityIndex` runs one Dijkstra per unit up front (scipy's C implementation) and keeps the distance
and predecessor rows; after that a query is a lookup plus a few array operations, and a route is read back
from the predecessors. Adding, removing or moving one unit recomputes its row only.

Direction
---------
A :class:`FacilityIndex` measures ``"from_facility"`` (default: the unit drives to the case) or
``"to_facility"`` (the point travels to the unit). On the walk profile both are the same; on the drive profile
one-way streets make them differ.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely

from geo.errors import GeoValidationError, ProblemList
from geo.network.graph import (
    SAME_BACKWARD,
    SAME_FORWARD,
    VIA_A,
    VIRTUAL_SOURCE,
    RoadGraph,
    SearchAdjacency,
    Snap,
)
from geo.network.profiles import (
    DEFAULT_MAX_SNAP_M,
    DIRECTIONS,
    FALLBACK_STRAIGHT_LINE,
    MAX_QUOTED,
    REASON_OFF_NETWORK,
    REASON_UNREACHABLE,
    WEIGHTS,
    check_choice,
    check_positive,
    points_xy,
    quote_positions,
)


@dataclass(frozen=True)
class NearestFacilities:
    """Answer of :meth:`FacilityIndex.query` for ``p`` points and ``k`` facilities.

    Attributes
    ----------
    cost
        (p, k) cost in the index's weight (metres for ``"length"``, seconds for ``"time"``); ``inf`` where the
        facility cannot reach the point by road, NaN for facilities left out by ``candidates``.
    distance_m, eta_s
        (p, k) length and travel time of the cheapest route (the one ``cost`` measures), NaN/inf likewise.
    nearest
        (p,) index of the cheapest candidate facility.
    snap_distance_m
        (p,) distance from each point to its nearest road.
    fallback
        (p,) ``None``, or ``"straight_line"`` where the point could not be routed: its whole row then holds
        straight-line distances from the point to the facilities' given locations, and ``eta_s`` that distance
        at :data:`NOMINAL_SPEED_KMH`.
    reason
        (p,) ``None``, ``"off_network"`` (farther than ``max_snap_m`` from every road) or ``"unreachable"``
        (no candidate facility reaches the point's piece of the network).
    """

    cost: np.ndarray
    distance_m: np.ndarray
    eta_s: np.ndarray
    nearest: np.ndarray
    snap_distance_m: np.ndarray
    fallback: np.ndarray
    reason: np.ndarray

    def _pick(self, values: np.ndarray) -> np.ndarray:
        return values[np.arange(values.shape[0]), self.nearest]

    @property
    def nearest_cost(self) -> np.ndarray:
        """(p,) cost to the nearest facility."""
        return self._pick(self.cost)

    @property
    def nearest_distance_m(self) -> np.ndarray:
        """(p,) route length (or straight-line distance) to the nearest facility."""
        return self._pick(self.distance_m)

    @property
    def nearest_eta_s(self) -> np.ndarray:
        """(p,) travel time to the nearest facility."""
        return self._pick(self.eta_s)


@dataclass(frozen=True)
class Route:
    """One route between a point and a facility, in travel order.

    Attributes
    ----------
    coords
        (q, 2) vertices in the metric CRS, from the facility's snapped point to the point's snapped point for
        ``"from_facility"``, the other way round for ``"to_facility"``; the partial edges at both ends are
        included. For a straight-line fallback: the point and the facility's given location.
    length_m, time_s, cost
        Length, travel time and cost (in the index's weight) of the route; ``cost`` equals the one
        :meth:`FacilityIndex.query` returns.
    edges
        Edge indices along the route in travel order (the partial ones included); empty for a fallback.
    fallback, reason
        As in :class:`NearestFacilities`.
    """

    coords: np.ndarray
    length_m: float
    time_s: float
    cost: float
    edges: np.ndarray
    fallback: str | None = None
    reason: str | None = None

    @property
    def line(self) -> shapely.LineString:
        """The route as a LineString."""
        return shapely.LineString(self.coords)


class FacilityIndex:
    """Precomputed road distances from every facility (unit) to the whole network; build with :meth:`build`.

    Attributes
    ----------
    graph, weight, direction, max_snap_m
        As given to :meth:`build`.
    facility_x, facility_y
        (k,) facility locations as given.
    facility_snap
        :class:`Snap` of the facilities.
    cost
        (k, n) float64 cost from each facility to each node (to it from each node for ``"to_facility"``).
        float64 rather than float32 so that a route's length equals its queried distance to well below a
        millimetre.
    other
        (k, n) float64: the other weight (time when searching on length, and vice versa) along the same
        routes.
    pred
        (k, n) int32 predecessor of each node on its facility's tree: -1 where the node is reached straight
        from the facility's spot on its edge, -9999 where unreachable.
    """

    def __init__(
        self,
        graph: RoadGraph,
        *,
        weight: str,
        direction: str,
        max_snap_m: float,
        facility_x: np.ndarray,
        facility_y: np.ndarray,
        facility_snap: Snap,
        cost: np.ndarray,
        other: np.ndarray,
        pred: np.ndarray,
    ) -> None:
        self.graph = graph
        self.weight = weight
        self.direction = direction
        self.max_snap_m = max_snap_m
        self.facility_x = facility_x
        self.facility_y = facility_y
        self.facility_snap = facility_snap
        self.cost = cost
        self.other = other
        self.pred = pred

    @classmethod
    def build(
        cls,
        graph: RoadGraph,
        facility_x: npt.ArrayLike,
        facility_y: npt.ArrayLike,
        *,
        weight: str = "length",
        direction: str = "from_facility",
        max_snap_m: float = DEFAULT_MAX_SNAP_M,
    ) -> FacilityIndex:
        """Snap the facilities to their nearest edge and run one Dijkstra from each.

        Parameters
        ----------
        graph
            The road graph.
        facility_x, facility_y
            Facility (unit) locations in the graph's CRS.
        weight
            ``"length"``: nearest by metres, ``"time"``: by seconds.
        direction
            ``"from_facility"``: the unit travels to the point; ``"to_facility"``: the point travels to the
            unit.
        max_snap_m
            Points (and facilities) farther than this from every road are off the network.

        Returns
        -------
        FacilityIndex

        Raises
        ------
        GeoValidationError
            For an unknown ``weight`` or ``direction``, a non-positive ``max_snap_m``, coordinates of
            different lengths or not finite, and every facility farther than ``max_snap_m`` from the roads
            (each named by its position).
        """
        xs, ys = points_xy(facility_x, facility_y, names=("facility_x", "facility_y"))
        problems = ProblemList()
        check_choice(weight, WEIGHTS, "weight", problems)
        check_choice(direction, DIRECTIONS, "direction", problems)
        check_positive(max_snap_m, "max_snap_m", problems)
        problems.raise_if_any()
        index = cls(
            graph,
            weight=weight,
            direction=direction,
            max_snap_m=float(max_snap_m),
            facility_x=np.zeros(0),
            facility_y=np.zeros(0),
            facility_snap=Snap.empty(),
            cost=np.zeros((0, graph.n_nodes)),
            other=np.zeros((0, graph.n_nodes)),
            pred=np.zeros((0, graph.n_nodes), dtype=np.int32),
        )
        snap, cost, other, pred = index._rows(xs, ys, field="facility_x")
        index.facility_x, index.facility_y, index.facility_snap = xs, ys, snap
        index.cost, index.other, index.pred = cost, other, pred
        return index

    def __repr__(self) -> str:
        return (
            f"FacilityIndex(facilities={self.n_facilities}, weight={self.weight!r}, "
            f"direction={self.direction!r}, graph={self.graph!r}, nbytes={self.nbytes})"
        )

    # --- state ---

    @property
    def n_facilities(self) -> int:
        return int(self.facility_x.size)

    @property
    def nbytes(self) -> int:
        """Memory of the precomputed rows (cost, other, pred) in bytes: k × n × (8 + 8 + 4)."""
        return int(self.cost.nbytes + self.other.nbytes + self.pred.nbytes)

    @property
    def reach(self) -> np.ndarray:
        """(k,) number of nodes each facility reaches; a small number flags one on a disconnected piece."""
        return np.isfinite(self.cost).sum(axis=1)

    @property
    def _reverse(self) -> bool:
        return self.direction == "to_facility"

    def _rows(
        self, xs: np.ndarray, ys: np.ndarray, *, field: str
    ) -> tuple[Snap, np.ndarray, np.ndarray, np.ndarray]:
        snap = self.graph.snap_unchecked(xs, ys, self.max_snap_m)
        if xs.size == 0:
            n = self.graph.n_nodes
            return snap, np.zeros((0, n)), np.zeros((0, n)), np.zeros((0, n), dtype=np.int32)
        off = ~snap.on_network
        if off.any():
            where = np.flatnonzero(off)
            problems = ProblemList()
            for i in where[:MAX_QUOTED]:
                problems.add(
                    "off_network",
                    f"facility at ({xs[i]:.1f}, {ys[i]:.1f}) is {snap.distance_m[i]:.0f} m from the "
                    f"nearest road, more than max_snap_m={self.max_snap_m:g}",
                    feature_id=int(i),
                    field=field,
                )
            if where.size > MAX_QUOTED:
                problems.add("off_network", f"and {where.size - MAX_QUOTED} more facilities", field=field)
            problems.raise_if_any()
        search = self.graph.search_adjacency(self.weight, self._reverse)
        cost, pred, other = self.graph.dijkstra_from_edges(
            search, self.weight, snap.edge, snap.fraction, tree=True
        )
        assert pred is not None and other is not None
        return snap, cost, other, pred

    # --- incremental refresh ---

    def add(self, x: float, y: float) -> int:
        """Add one facility (one Dijkstra); returns its index."""
        xs, ys = points_xy([x], [y])
        snap, cost, other, pred = self._rows(xs, ys, field="x")
        self.facility_x = np.concatenate([self.facility_x, xs])
        self.facility_y = np.concatenate([self.facility_y, ys])
        self.facility_snap = self.facility_snap.concat(snap)
        self.cost = np.vstack([self.cost, cost])
        self.other = np.vstack([self.other, other])
        self.pred = np.vstack([self.pred, pred])
        return self.n_facilities - 1

    def remove(self, facility: int) -> None:
        """Remove one facility; the facilities after it move down by one index, like a list."""
        i = self._facility(facility)
        keep = np.arange(self.n_facilities) != i
        self.facility_x, self.facility_y = self.facility_x[keep], self.facility_y[keep]
        self.facility_snap = self.facility_snap.take(keep)
        self.cost, self.other, self.pred = self.cost[keep], self.other[keep], self.pred[keep]

    def move(self, facility: int, x: float, y: float) -> None:
        """Move one facility (one Dijkstra); its index stays."""
        i = self._facility(facility)
        xs, ys = points_xy([x], [y])
        snap, cost, other, pred = self._rows(xs, ys, field="x")
        self.facility_x = self.facility_x.copy()
        self.facility_y = self.facility_y.copy()
        self.facility_x[i], self.facility_y[i] = xs[0], ys[0]
        merged = self.facility_snap.concat(snap)
        order = np.arange(self.n_facilities)
        order[i] = self.n_facilities
        self.facility_snap = merged.take(order)
        self.cost, self.other, self.pred = self.cost.copy(), self.other.copy(), self.pred.copy()
        self.cost[i], self.other[i], self.pred[i] = cost[0], other[0], pred[0]

    def _facility(self, facility: object) -> int:
        if not isinstance(facility, (int, np.integer)) or not 0 <= int(facility) < self.n_facilities:
            raise GeoValidationError(
                f"facility must be an index in [0, {self.n_facilities}), got {facility!r}", field="facility"
            )
        return int(facility)

    # --- queries ---

    def query(
        self, x: npt.ArrayLike, y: npt.ArrayLike, *, candidates: npt.ArrayLike | None = None
    ) -> NearestFacilities:
        """Road cost between points and the facilities, and the nearest facility of each point.

        Parameters
        ----------
        x, y
            Points in the graph's CRS.
        candidates
            Which facilities may answer: ``None`` (all), a boolean mask of length k or a list of facility
            indices (the same for every point), or a (p, k) boolean mask (per point). Each point needs at
            least one.

        Returns
        -------
        NearestFacilities
            Points off the network, or that no candidate reaches, are answered by straight-line distance and
            say so in ``fallback`` and ``reason``.
        """
        xs, ys = points_xy(x, y)
        k = self.n_facilities
        if k == 0:
            raise GeoValidationError("the index has no facility to query", field="facility_x")
        mask = self._candidates(candidates, xs.size)
        graph = self.graph
        snap = graph.snap_unchecked(xs, ys, self.max_snap_m)
        p = xs.size
        cost = np.full((k, p), np.inf)
        second = np.full((k, p), np.inf)
        on = snap.edge >= 0
        if on.all():
            cost, second, _ = self._reach_all(snap.edge, snap.fraction)
        elif on.any():
            cols = np.flatnonzero(on)
            cost[:, cols], second[:, cols], _ = self._reach_all(snap.edge[cols], snap.fraction[cols])
        cost, second = cost.T, second.T
        if mask is not None:
            cost = np.where(mask, cost, np.nan)
            second = np.where(mask, second, np.nan)
        finite = np.isfinite(cost)
        reachable = finite.any(axis=1)
        if self.weight == "length":
            distance, eta = cost, second
        else:
            distance, eta = second, cost
        fallback = np.full(p, None, dtype=object)
        reason = np.full(p, None, dtype=object)
        bad = ~(on & reachable)
        if bad.any():
            distance, eta, cost = distance.copy(), eta.copy(), cost.copy()
            rows = np.flatnonzero(bad)
            line = np.hypot(
                xs[rows, None] - self.facility_x[None, :], ys[rows, None] - self.facility_y[None, :]
            )
            if mask is not None:
                line = np.where(mask if mask.ndim == 1 else mask[rows], line, np.nan)
            line_eta = line / (graph.nominal_speed_kmh / 3.6)
            distance[rows], eta[rows] = line, line_eta
            cost[rows] = line if self.weight == "length" else line_eta
            fallback[rows] = FALLBACK_STRAIGHT_LINE
            reason[rows] = np.where(on[rows], REASON_UNREACHABLE, REASON_OFF_NETWORK)
        nearest = np.where(np.isnan(cost), np.inf, cost).argmin(axis=1)
        return NearestFacilities(cost, distance, eta, nearest, snap.distance_m, fallback, reason)

    def _reach_all(self, edge: np.ndarray, fraction: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        search = self.graph.search_adjacency(self.weight, self._reverse)
        cost, second, via = self.graph.reach_points(
            search,
            self.weight,
            self.cost,
            self.other,
            self.facility_snap.edge,
            self.facility_snap.fraction,
            edge,
            fraction,
        )
        assert second is not None
        return cost, second, via

    def _candidates(self, candidates: npt.ArrayLike | None, p: int) -> np.ndarray | None:
        if candidates is None:
            return None
        k = self.n_facilities
        arr = np.asarray(candidates)
        if arr.dtype == bool and arr.shape in ((k,), (p, k)):
            mask = arr
        elif arr.ndim == 1 and (arr.size == 0 or np.issubdtype(arr.dtype, np.integer)):
            if arr.size and (arr.min() < 0 or arr.max() >= k):
                raise GeoValidationError(
                    f"candidates must be facility indices in [0, {k}), got {arr.tolist()[:10]}",
                    field="candidates",
                )
            mask = np.zeros(k, dtype=bool)
            mask[arr] = True
        else:
            raise GeoValidationError(
                f"candidates must be a boolean mask of shape ({k},) or ({p}, {k}) or a list of "
                f"facility indices, got an array of dtype {arr.dtype} and shape {arr.shape}",
                field="candidates",
            )
        empty = ~mask.any(axis=-1)
        if np.any(empty):
            which = "every point" if mask.ndim == 1 else quote_positions(np.asarray(empty))
            raise GeoValidationError(f"candidates selects no facility for {which}", field="candidates")
        return mask

    def route(self, x: float, y: float, facility: int) -> Route:
        """The route behind :meth:`query`'s cost between one point and one facility.

        Parameters
        ----------
        x, y
            The point in the graph's CRS.
        facility
            Facility index.

        Returns
        -------
        Route
            In travel order (see :class:`Route`); a straight-line :class:`Route` with ``fallback`` set when
            the point is off the network or the facility cannot reach it.
        """
        xs, ys = points_xy([x], [y])
        f = self._facility(facility)
        graph = self.graph
        snap = graph.snap_unchecked(xs, ys, self.max_snap_m)
        reason = None
        if not snap.on_network[0]:
            reason = REASON_OFF_NETWORK
        else:
            search = graph.search_adjacency(self.weight, self._reverse)
            cost, second, via = graph.reach_points(
                search,
                self.weight,
                self.cost[f : f + 1],
                self.other[f : f + 1],
                self.facility_snap.edge[f : f + 1],
                self.facility_snap.fraction[f : f + 1],
                snap.edge,
                snap.fraction,
            )
            assert second is not None
            if not np.isfinite(cost[0, 0]):
                reason = REASON_UNREACHABLE
        if reason is not None:
            line = float(np.hypot(xs[0] - self.facility_x[f], ys[0] - self.facility_y[f]))
            eta = line / (graph.nominal_speed_kmh / 3.6)
            coords = np.array([[self.facility_x[f], self.facility_y[f]], [xs[0], ys[0]]])
            if self._reverse:
                coords = coords[::-1].copy()
            return Route(
                coords,
                line,
                eta,
                line if self.weight == "length" else eta,
                np.zeros(0, dtype=np.int64),
                FALLBACK_STRAIGHT_LINE,
                reason,
            )
        assert second is not None
        pieces = self._pieces(search, f, int(snap.edge[0]), float(snap.fraction[0]), int(via[0, 0]))
        coords, edges = _assemble(graph, pieces, reverse=self._reverse)
        c, s = float(cost[0, 0]), float(second[0, 0])
        length, time = (c, s) if self.weight == "length" else (s, c)
        return Route(coords, length, time, c, edges)

    def _pieces(
        self, search: SearchAdjacency, f: int, edge: int, fraction: float, via: int
    ) -> list[tuple[int, float, float]]:
        """Route pieces in search order as (edge, from, to) fractions in the edge's own u → v direction."""
        graph = self.graph
        rev = search.reverse

        def own(s: float) -> float:  # search fraction (from a) → fraction from u
            return 1.0 - s if rev else s

        f_edge = int(self.facility_snap.edge[f])
        f_s = float(self._search_fraction(f_edge, float(self.facility_snap.fraction[f])))
        p_s = float(self._search_fraction(edge, fraction))
        if via in (SAME_FORWARD, SAME_BACKWARD):
            return [(edge, own(f_s), own(p_s))]
        a, b = (graph.edge_v[edge], graph.edge_u[edge]) if rev else (graph.edge_u[edge], graph.edge_v[edge])
        end = int(a if via == VIA_A else b)
        nodes = [end]
        pred = self.pred[f]
        while pred[nodes[-1]] != VIRTUAL_SOURCE:
            nodes.append(int(pred[nodes[-1]]))
            if len(nodes) > graph.n_nodes:  # defensive: a broken tree must not hang a request
                raise RuntimeError("predecessor tree has a cycle")
        nodes.reverse()
        fa, fb = (
            (graph.edge_v[f_edge], graph.edge_u[f_edge])
            if rev
            else (graph.edge_u[f_edge], graph.edge_v[f_edge])
        )
        twoway = not graph.edge_oneway[f_edge]
        if fa == fb:
            toward_b = not (twoway and f_s < 1.0 - f_s)
        else:
            toward_b = nodes[0] == fb
        pieces = [(f_edge, own(f_s), own(1.0 if toward_b else 0.0))]
        if len(nodes) > 1:
            frm = np.asarray(nodes[:-1])
            to = np.asarray(nodes[1:])
            for e, p in zip(search.edge[search.entry(frm, to)], frm, strict=True):
                start = 0.0 if graph.edge_u[e] == p else 1.0
                pieces.append((int(e), start, 1.0 - start))
        pieces.append((edge, own(0.0 if via == VIA_A else 1.0), own(p_s)))
        return pieces

    def _search_fraction(self, edge: int, fraction: float) -> float:
        return 1.0 - fraction if self._reverse else fraction


def _assemble(
    graph: RoadGraph, pieces: list[tuple[int, float, float]], *, reverse: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Route vertices and edges from (edge, from-fraction, to-fraction) pieces, in travel order."""
    if reverse:  # the search ran against the direction of travel
        pieces = [(e, t1, t0) for e, t0, t1 in reversed(pieces)]
    chunks = [graph.partial_edge(e, t0, t1) for e, t0, t1 in pieces]
    coords = np.concatenate(chunks)
    keep = np.ones(coords.shape[0], dtype=bool)
    keep[1:] = (coords[1:] != coords[:-1]).any(axis=1)
    edges = np.array([e for e, _, _ in pieces], dtype=np.int64)
    return coords[keep], edges
