"""The road graph: noding a road layer (:meth:`RoadGraph.from_lines`), snapping points to edges, and
Dijkstra from points that lie on edges (virtual sources spliced into their edge).

All coordinates are in the metric CRS of the roads; distances are metres, times seconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pyproj
import shapely
from scipy import sparse
from scipy.sparse import csgraph

from geo.errors import GeoValidationError, ProblemList
from geo.network.profiles import (
    DEFAULT_MAX_SNAP_M,
    NOMINAL_SPEED_KMH,
    PROFILES,
    UNREACHABLE_PENALTY,
    WEIGHTS,
    check_choice,
    check_lines,
    check_positive,
    other_weight,
    points_xy,
    profile_roads,
    speed_table,
)

#: Choices of the end-of-edge arithmetic (see :meth:`RoadGraph.reach_points`).
VIA_A, VIA_B, SAME_FORWARD, SAME_BACKWARD = 0, 1, 2, 3
#: Predecessor of a node reached straight from the virtual source.
VIRTUAL_SOURCE = -1
_SNAP_FIELDS = ("edge", "fraction", "distance_m", "x", "y")


@dataclass(frozen=True)
class Snap:
    """Points snapped to their nearest edge.

    Attributes
    ----------
    edge
        Edge index, -1 where no edge lies within the snapping distance.
    fraction
        Position along the edge in its ``u`` → ``v`` direction, 0..1 (NaN where ``edge`` is -1).
    distance_m
        Distance from the point to its nearest edge, also for points beyond the snapping distance.
    x, y
        The snapped point on the edge (NaN where ``edge`` is -1).
    """

    edge: np.ndarray
    fraction: np.ndarray
    distance_m: np.ndarray
    x: np.ndarray
    y: np.ndarray

    @property
    def on_network(self) -> np.ndarray:
        """True where the point was snapped to an edge."""
        return self.edge >= 0

    @classmethod
    def empty(cls) -> Snap:
        """No points."""
        e = np.zeros(0)
        return cls(np.zeros(0, dtype=np.int64), e, e, e, e)

    def concat(self, other: Snap) -> Snap:
        """These points followed by ``other``'s."""
        return Snap(*(np.concatenate([getattr(self, f), getattr(other, f)]) for f in _SNAP_FIELDS))

    def take(self, which: np.ndarray) -> Snap:
        """The points at ``which`` (indices or a boolean mask), in that order."""
        return Snap(*(getattr(self, f)[which] for f in _SNAP_FIELDS))


@dataclass(frozen=True)
class StopMatrix:
    """Answer of :meth:`RoadGraph.distance_matrix`.

    Attributes
    ----------
    cost
        (m, m) cost from stop ``i`` (row) to stop ``j`` (column), 0 on the diagonal; asymmetric on the drive
        profile.
    straight_line
        (m, m) True where no road route exists (a stop off the network or unreachable): ``cost`` there is the
        straight-line distance (or its time at :data:`NOMINAL_SPEED_KMH`) times ``penalty``.
    snap_distance_m
        (m,) distance from each stop to its nearest road.
    penalty
        The factor applied to straight-line entries.
    """

    cost: np.ndarray
    straight_line: np.ndarray
    snap_distance_m: np.ndarray
    penalty: float


@dataclass(frozen=True)
class SearchAdjacency:
    """Adjacency in search direction, parallel edges reduced to the cheapest one."""

    n: int
    reverse: bool
    rows: np.ndarray  # int64 per entry (sorted by row, then column)
    cols: np.ndarray  # int32
    indptr: np.ndarray  # int32, n + 1
    cost: np.ndarray  # float64, the weight searched on
    other: np.ndarray  # float64, the other weight of the same edge
    edge: np.ndarray  # int64, which edge an entry is

    @cached_property
    def keys(self) -> np.ndarray:
        return self.rows * self.n + self.cols

    def matrix(self) -> sparse.csr_matrix:
        return sparse.csr_matrix((self.cost, self.cols, self.indptr), shape=(self.n, self.n))

    def entry(self, frm: np.ndarray, to: np.ndarray) -> np.ndarray:
        """Entry index of each (frm, to) pair, which must exist."""
        return np.searchsorted(self.keys, np.asarray(frm, dtype=np.int64) * self.n + to)


@dataclass(frozen=True, eq=False)
class RoadGraph:
    """A routable road network in a metric CRS; build it with :meth:`from_lines`.

    Attributes
    ----------
    crs
        The (projected, metric) CRS of every coordinate.
    profile
        ``"walk"`` or ``"drive"``.
    speeds_kmh
        Speed per ``highway`` class used for ``edge_time_s``; on the walk profile other classes go at
        :data:`WALK_SPEED_KMH`.
    node_x, node_y
        (n,) node coordinates.
    edge_u, edge_v
        (m,) end nodes of each edge, in its geometry direction.
    edge_length_m, edge_time_s
        (m,) length and travel time of each edge.
    edge_oneway
        (m,) True where the edge may only be travelled from ``u`` to ``v``.
    edge_row
        (m,) position (``iloc``) of the source row in the ``lines`` the graph was built from.
    edge_coords, edge_offsets
        Vertices of every edge: edge ``e`` is ``edge_coords[edge_offsets[e]:edge_offsets[e + 1]]``, from ``u``
        to ``v``.
    """

    crs: pyproj.CRS
    profile: str
    speeds_kmh: Mapping[str, float]
    node_x: np.ndarray
    node_y: np.ndarray
    edge_u: np.ndarray
    edge_v: np.ndarray
    edge_length_m: np.ndarray
    edge_time_s: np.ndarray
    edge_oneway: np.ndarray
    edge_row: np.ndarray
    edge_coords: np.ndarray
    edge_offsets: np.ndarray

    # --- building ---

    @classmethod
    def from_lines(
        cls,
        lines: gpd.GeoDataFrame,
        *,
        profile: str = "walk",
        speeds_kmh: Mapping[str, float | None] | None = None,
    ) -> RoadGraph:
        """Node a road layer and build the graph of one profile.

        Parameters
        ----------
        lines
            Roads in a projected CRS in metres (see :func:`geo.crs.metric_crs_for_bounds`), as ``read_osm``
            gives them once projected: a ``highway`` column, an optional boolean ``oneway`` column (one-way
            ways digitised in their direction of travel) and LineString (or MultiLineString) geometries. Rows
            with a missing or empty geometry are skipped.
        profile
            ``"walk"`` or ``"drive"`` (see the module documentation).
        speeds_kmh
            Speeds by ``highway`` class that replace or extend the profile's table; ``None`` leaves a class
            out, a speed brings it in (even one of :data:`WALK_EXCLUDED`). On the walk profile the classes not
            listed go at :data:`WALK_SPEED_KMH`; on the drive profile only listed classes are drivable.

        Returns
        -------
        RoadGraph

        Raises
        ------
        GeoValidationError
            For ``lines`` that is not a GeoDataFrame, has no CRS or a geographic (non-metric) CRS, lacks a
            ``highway`` column, holds non-line geometries or no road of the profile; an unknown ``profile``; a
            speed that is not a positive number. Every problem names its argument and the bad value.
        """
        problems = ProblemList()
        crs = check_lines(lines, problems)
        if profile not in PROFILES:
            problems.add(
                "invalid_argument", f"profile must be one of {PROFILES}, got {profile!r}", field="profile"
            )
        speeds = speed_table(profile, speeds_kmh, problems)
        problems.raise_if_any()
        assert crs is not None

        speed_of, keep, class_speed, oneway = profile_roads(lines, profile, speeds)
        geoms = np.asarray(lines.geometry.array, dtype=object)
        keep &= ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        rows = np.flatnonzero(keep)
        if rows.size == 0:
            raise GeoValidationError(
                f"lines has no road of the {profile!r} profile ({len(lines)} rows, classes "
                f"{sorted(set(lines['highway'].astype(str).tolist()))[:10]})",
                field="lines",
            )
        parts, part_of = shapely.get_parts(geoms[rows], return_index=True)
        graph = _node(
            parts,
            rows[part_of],
            class_speed[rows[part_of]],
            oneway[rows[part_of]],
            crs=crs,
            profile=profile,
            speeds=speed_of,
        )
        return graph

    def __repr__(self) -> str:
        return (
            f"RoadGraph(profile={self.profile!r}, nodes={self.n_nodes}, edges={self.n_edges}, "
            f"crs={self.crs.to_string()!r})"
        )

    # --- size and geometry ---

    @property
    def n_nodes(self) -> int:
        return int(self.node_x.size)

    @property
    def n_edges(self) -> int:
        return int(self.edge_u.size)

    def edge_line(self, edge: int) -> np.ndarray:
        """(q, 2) vertices of ``edge`` from ``u`` to ``v``."""
        return self.edge_coords[self.edge_offsets[edge] : self.edge_offsets[edge + 1]]

    def partial_edge(self, edge: int, t0: float, t1: float) -> np.ndarray:
        """(q, 2) vertices of ``edge`` from fraction ``t0`` to ``t1`` of its length.

        ``t1 < t0`` walks it backwards.
        """
        if t1 < t0:
            return self.partial_edge(edge, t1, t0)[::-1]
        line = self.edge_line(edge)
        seg = np.hypot(*np.diff(line, axis=0).T)
        cum = np.concatenate([[0.0], np.cumsum(seg)])
        total = cum[-1]
        d0, d1 = t0 * total, t1 * total
        inner = line[(cum > d0) & (cum < d1)]
        return np.vstack([_along(line, cum, d0), inner, _along(line, cum, d1)])

    @cached_property
    def edge_geometry(self) -> np.ndarray:
        """(m,) shapely LineStrings of the edges."""
        index = np.repeat(np.arange(self.n_edges), np.diff(self.edge_offsets))
        return shapely.linestrings(self.edge_coords, indices=index)

    @cached_property
    def _tree(self) -> shapely.STRtree:
        return shapely.STRtree(self.edge_geometry)

    def weights(self, weight: str = "length") -> np.ndarray:
        """(m,) edge weights: ``edge_length_m`` for ``"length"``, ``edge_time_s`` for ``"time"``."""
        check_choice(weight, WEIGHTS, "weight")
        return self.edge_length_m if weight == "length" else self.edge_time_s

    @property
    def nominal_speed_kmh(self) -> float:
        """Speed of the profile used to turn straight-line distances into times."""
        return NOMINAL_SPEED_KMH[self.profile]

    # --- connectivity ---

    @cached_property
    def _weak_components(self) -> tuple[int, np.ndarray]:
        count, labels = csgraph.connected_components(
            self.adjacency("length"), directed=True, connection="weak"
        )
        return int(count), labels

    @property
    def node_component(self) -> np.ndarray:
        """(n,) label of the (weakly) connected piece of network each node is in."""
        return self._weak_components[1]

    @property
    def component_count(self) -> int:
        """Number of disconnected pieces of the network."""
        return self._weak_components[0]

    @cached_property
    def in_largest_component(self) -> np.ndarray:
        """(n,) True for nodes of the largest connected piece.

        On the drive profile a one-way dead end can still be unreachable inside it; :class:`FacilityIndex`
        reports such points as unreachable rather than relying on this flag.
        """
        labels = self.node_component
        return labels == np.bincount(labels).argmax()

    # --- adjacency ---

    def adjacency(self, weight: str = "length", *, reverse: bool = False) -> sparse.csr_matrix:
        """(n, n) CSR matrix of the cheapest edge from row node to column node (transposed when ``reverse``).

        Parallel edges keep the cheaper one; :meth:`adjacency_edges` says which edge each entry is.
        """
        return self.search_adjacency(weight, reverse).matrix()

    def adjacency_edges(self, weight: str = "length", *, reverse: bool = False) -> np.ndarray:
        """Edge index of each stored entry of :meth:`adjacency` (same order as its ``data``)."""
        return self.search_adjacency(weight, reverse).edge

    def node_distances(self, sources: npt.ArrayLike, *, weight: str = "length") -> np.ndarray:
        """(len(sources), n) cost from each source node to every node (``inf`` where unreachable)."""
        check_choice(weight, WEIGHTS, "weight")
        return csgraph.dijkstra(
            self.adjacency(weight), directed=True, indices=np.asarray(sources, dtype=np.int64)
        )

    def search_adjacency(self, weight: str, reverse: bool) -> SearchAdjacency:
        check_choice(weight, WEIGHTS, "weight")
        return self._searches[(weight, bool(reverse))]

    @cached_property
    def _searches(self) -> _LazySearches:
        return _LazySearches(self)

    # --- snapping ---

    def snap(self, x: npt.ArrayLike, y: npt.ArrayLike, *, max_distance_m: float = DEFAULT_MAX_SNAP_M) -> Snap:
        """Snap points to their nearest edge (not node).

        Parameters
        ----------
        x, y
            Point coordinates in the graph's CRS.
        max_distance_m
            Points farther than this from every edge get ``edge`` -1.

        Returns
        -------
        Snap
        """
        xs, ys = points_xy(x, y)
        check_positive(max_distance_m, "max_distance_m")
        return self.snap_unchecked(xs, ys, float(max_distance_m))

    def snap_unchecked(self, xs: np.ndarray, ys: np.ndarray, max_distance_m: float) -> Snap:
        n = xs.size
        edge = np.full(n, -1, dtype=np.int64)
        dist = np.full(n, np.inf)
        points = shapely.points(xs, ys)
        if n:
            (which, hit), d = self._tree.query_nearest(
                points, max_distance=max_distance_m, return_distance=True, all_matches=False
            )
            edge[which] = hit
            dist[which] = d
            far = np.flatnonzero(edge < 0)
            if far.size:  # the real distance, for the caller's message
                (which, _), d = self._tree.query_nearest(points[far], return_distance=True, all_matches=False)
                dist[far[which]] = d
        fraction = np.full(n, np.nan)
        sx = np.full(n, np.nan)
        sy = np.full(n, np.nan)
        ok = np.flatnonzero(edge >= 0)
        if ok.size:
            lines = self.edge_geometry[edge[ok]]
            fraction[ok] = np.clip(shapely.line_locate_point(lines, points[ok], normalized=True), 0.0, 1.0)
            sx[ok], sy[ok] = self._point_at(edge[ok], fraction[ok])
        return Snap(edge, fraction, dist, sx, sy)

    def _point_at(self, edge: np.ndarray, fraction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        at = shapely.line_interpolate_point(self.edge_geometry[edge], fraction, normalized=True)
        return shapely.get_x(at), shapely.get_y(at)

    # --- Dijkstra from points on edges ---

    def _ends(self, reverse: bool, edge: np.ndarray, fraction: np.ndarray) -> tuple[np.ndarray, ...]:
        """Search-direction ends ``a`` → ``b`` of edges and the fraction measured from ``a``."""
        if reverse:
            return self.edge_v[edge], self.edge_u[edge], 1.0 - fraction
        return self.edge_u[edge], self.edge_v[edge], fraction

    def dijkstra_from_edges(
        self, search: SearchAdjacency, weight: str, edge: np.ndarray, fraction: np.ndarray, *, tree: bool
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """One Dijkstra per (edge, fraction) source from a virtual node spliced into the edge.

        Returns the (k, n) costs, and when ``tree`` the int32 predecessors (``VIRTUAL_SOURCE`` for a node
        reached straight from the source, -9999 where unreachable) and the other weight summed along the same
        tree.
        """
        n, k = search.n, edge.size
        big = n + k
        a, b, s = self._ends(search.reverse, edge, fraction)
        w = self.weights(weight)[edge]
        w2 = self.weights(other_weight(weight))[edge]
        twoway = ~self.edge_oneway[edge]
        # Toward b always; toward a too where the edge is two-way. A two-way loop (a == b) keeps the cheaper
        # side.
        back_cheaper = twoway & (s < 1.0 - s)
        loop = a == b
        to_b_cost = np.where(loop & back_cheaper, s, 1.0 - s)
        rows = [np.arange(k), np.flatnonzero(twoway & ~loop)]
        cols = [b, a[rows[1]]]
        cost = [to_b_cost * w, (s * w)[rows[1]]]
        other = [to_b_cost * w2, (s * w2)[rows[1]]]
        vr, vc, vw, vo = (np.concatenate(p) for p in (rows, cols, cost, other))
        order = np.lexsort((vc, vr))
        vr, vc, vw, vo = vr[order], vc[order], vw[order], vo[order]
        base_nnz = search.cols.size
        indptr = np.concatenate([search.indptr, base_nnz + np.cumsum(np.bincount(vr, minlength=k))])
        indices = np.concatenate([search.cols, vc]).astype(np.int32)
        data = np.concatenate([search.cost, vw])
        aug = sparse.csr_matrix((data, indices, indptr.astype(np.int64)), shape=(big, big))
        sources = np.arange(n, big)
        if not tree:
            return csgraph.dijkstra(aug, directed=True, indices=sources)[:, :n], None, None
        dist, pred = csgraph.dijkstra(aug, directed=True, indices=sources, return_predecessors=True)
        # The other weight along the same tree: pointer jumping, log2(depth) vectorised passes.
        keys = np.concatenate([search.rows * big + search.cols, (vr + n) * big + vc])
        other_w = np.concatenate([search.other, vo])
        has = pred >= 0
        cols_idx = np.broadcast_to(np.arange(big), pred.shape)
        acc = np.zeros(pred.shape)
        acc[has] = other_w[np.searchsorted(keys, pred[has].astype(np.int64) * big + cols_idx[has])]
        ptr = np.where(has, pred, cols_idx).astype(np.int64)
        while True:
            nxt = np.take_along_axis(ptr, ptr, axis=1)
            if np.array_equal(nxt, ptr):
                break
            acc = acc + np.take_along_axis(acc, ptr, axis=1)
            ptr = nxt
        pred = pred[:, :n]
        pred = np.where(pred >= n, VIRTUAL_SOURCE, pred).astype(np.int32)
        return dist[:, :n], pred, acc[:, :n]

    def reach_points(
        self,
        search: SearchAdjacency,
        weight: str,
        dist: np.ndarray,
        other: np.ndarray | None,
        src_edge: np.ndarray,
        src_fraction: np.ndarray,
        edge: np.ndarray,
        fraction: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """Cost (k, p) from k sources (rows of ``dist``) to p points on edges, by the end-of-edge arithmetic.

        A point at fraction ``s`` (from ``a``) of edge a→b is reached via ``a`` at ``dist[a] + s·w``, via
        ``b`` at ``dist[b] + (1 − s)·w`` if the edge is two-way, or along the edge when the source is on the
        same edge. Returns the cost, the other weight of the chosen way (when ``other`` is given) and which
        way was chosen.
        """
        a, b, s = self._ends(search.reverse, edge, fraction)
        _, _, src_s = self._ends(search.reverse, src_edge, src_fraction)
        w = self.weights(weight)[edge]
        twoway = ~self.edge_oneway[edge]
        inf = np.inf
        options = np.empty((4, dist.shape[0], edge.size))
        options[VIA_A] = dist[:, a] + s * w
        options[VIA_B] = np.where(twoway, dist[:, b] + (1.0 - s) * w, inf)
        same = src_edge[:, None] == edge[None, :]
        ahead = s[None, :] - src_s[:, None]
        options[SAME_FORWARD] = np.where(same & (ahead >= 0), ahead * w, inf)
        options[SAME_BACKWARD] = np.where(same & twoway & (ahead <= 0), -ahead * w, inf)
        via = options.argmin(axis=0)
        cost = np.take_along_axis(options, via[None], axis=0)[0]
        if other is None:
            return cost, None, via
        w2 = self.weights(other_weight(weight))[edge]
        options[VIA_A] = other[:, a] + s * w2
        options[VIA_B] = other[:, b] + (1.0 - s) * w2
        options[SAME_FORWARD] = ahead * w2
        options[SAME_BACKWARD] = -ahead * w2
        second = np.take_along_axis(options, via[None], axis=0)[0]
        second[~np.isfinite(cost)] = np.inf
        return cost, second, via

    # --- stops ---

    def distance_matrix(
        self,
        x: npt.ArrayLike,
        y: npt.ArrayLike,
        *,
        weight: str = "length",
        max_snap_m: float = DEFAULT_MAX_SNAP_M,
        penalty: float = UNREACHABLE_PENALTY,
    ) -> StopMatrix:
        """Network cost between every pair of points (one Dijkstra per point), for :func:`order_stops`.

        Parameters
        ----------
        x, y
            Stops in the graph's CRS.
        weight
            ``"length"`` (metres) or ``"time"`` (seconds).
        max_snap_m
            Stops farther than this from every road are off the network.
        penalty
            Pairs without a road route (a stop off the network, or unreachable) cost the straight-line
            distance times ``penalty`` (in seconds: at :data:`NOMINAL_SPEED_KMH`); ``straight_line`` marks
            them.

        Returns
        -------
        StopMatrix
        """
        xs, ys = points_xy(x, y)
        problems = ProblemList()
        check_choice(weight, WEIGHTS, "weight", problems)
        check_positive(max_snap_m, "max_snap_m", problems)
        if not (isinstance(penalty, (int, float)) and np.isfinite(penalty) and penalty >= 1.0):
            problems.add(
                "invalid_argument", f"penalty must be a number >= 1, got {penalty!r}", field="penalty"
            )
        problems.raise_if_any()
        m = xs.size
        snap = self.snap_unchecked(xs, ys, float(max_snap_m))
        cost = np.full((m, m), np.inf)
        on = np.flatnonzero(snap.on_network)
        if on.size:
            search = self.search_adjacency(weight, False)
            dist, _, _ = self.dijkstra_from_edges(
                search, weight, snap.edge[on], snap.fraction[on], tree=False
            )
            sub, _, _ = self.reach_points(
                search, weight, dist, None, snap.edge[on], snap.fraction[on], snap.edge[on], snap.fraction[on]
            )
            cost[np.ix_(on, on)] = sub
        np.fill_diagonal(cost, 0.0)
        straight = ~np.isfinite(cost)
        if straight.any():
            line = np.hypot(xs[:, None] - xs[None, :], ys[:, None] - ys[None, :]) * float(penalty)
            if weight == "time":
                line = line / (self.nominal_speed_kmh / 3.6)
            cost[straight] = line[straight]
        return StopMatrix(cost, straight, snap.distance_m, float(penalty))


class _LazySearches(dict):
    """Search adjacencies built on first use, per (weight, reverse)."""

    def __init__(self, graph: RoadGraph) -> None:
        super().__init__()
        self._graph = graph

    def __missing__(self, key: tuple[str, bool]) -> SearchAdjacency:
        value = _build_search(self._graph, *key)
        self[key] = value
        return value


def _build_search(g: RoadGraph, weight: str, reverse: bool) -> SearchAdjacency:
    twoway = np.flatnonzero(~g.edge_oneway)
    eid = np.concatenate([np.arange(g.n_edges), twoway])
    frm = np.concatenate([g.edge_u, g.edge_v[twoway]])
    to = np.concatenate([g.edge_v, g.edge_u[twoway]])
    if reverse:
        frm, to = to, frm
    loop = frm == to
    eid, frm, to = eid[~loop], frm[~loop], to[~loop]
    cost = g.weights(weight)[eid]
    order = np.lexsort((cost, to, frm))
    eid, frm, to = eid[order], frm[order], to[order]
    first = np.ones(eid.size, dtype=bool)
    first[1:] = (frm[1:] != frm[:-1]) | (to[1:] != to[:-1])
    eid, frm, to = eid[first], frm[first], to[first]
    n = g.n_nodes
    indptr = np.concatenate([[0], np.cumsum(np.bincount(frm, minlength=n))]).astype(np.int32)
    return SearchAdjacency(
        n=n,
        reverse=reverse,
        rows=frm.astype(np.int64),
        cols=to.astype(np.int32),
        indptr=indptr,
        cost=g.weights(weight)[eid].astype(np.float64),
        other=g.weights(other_weight(weight))[eid].astype(np.float64),
        edge=eid.astype(np.int64),
    )


def _node(
    parts: np.ndarray,
    row: np.ndarray,
    speed_kmh: np.ndarray,
    oneway: np.ndarray,
    *,
    crs: pyproj.CRS,
    profile: str,
    speeds: Mapping[str, float],
) -> RoadGraph:
    """Split lines at shared vertices and ends; one edge per piece."""
    coords, way = shapely.get_coordinates(parts, return_index=True)
    # Consecutive repeated vertices would make zero-length pieces.
    repeat = np.zeros(way.size, dtype=bool)
    repeat[1:] = (way[1:] == way[:-1]) & (coords[1:] == coords[:-1]).all(axis=1)
    coords, way = coords[~repeat], way[~repeat]
    enough = np.bincount(way, minlength=parts.size)[way] >= 2
    coords, way = coords[enough], way[enough]
    if way.size == 0:
        raise GeoValidationError("lines has no road with two distinct vertices", field="lines")
    first = np.ones(way.size, dtype=bool)
    first[1:] = way[1:] != way[:-1]
    last = np.ones(way.size, dtype=bool)
    last[:-1] = way[1:] != way[:-1]
    unique, inverse, count = np.unique(coords, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    is_node = first | last | (count[inverse] >= 2)
    node_of_unique = np.full(unique.shape[0], -1, dtype=np.int64)
    node_uniques = np.unique(inverse[is_node])
    node_of_unique[node_uniques] = np.arange(node_uniques.size)
    at = np.flatnonzero(is_node)
    pair = ~last[at[:-1]]  # consecutive node vertices of the same way bound an edge
    start, end = at[:-1][pair], at[1:][pair]
    u = node_of_unique[inverse[start]]
    v = node_of_unique[inverse[end]]
    count_e = end - start + 1
    offsets = np.concatenate([[0], np.cumsum(count_e)])
    flat = np.repeat(start - offsets[:-1], count_e) + np.arange(offsets[-1])
    edge_coords = coords[flat]
    seg = np.zeros(edge_coords.shape[0])
    seg[:-1] = np.hypot(*(edge_coords[1:] - edge_coords[:-1]).T)
    seg[offsets[1:] - 1] = 0.0  # no segment from one edge's last vertex to the next edge's first
    length = np.add.reduceat(seg, offsets[:-1])
    src = way[start]
    time = length / (speed_kmh[src] / 3.6)
    return RoadGraph(
        crs=crs,
        profile=profile,
        speeds_kmh=dict(speeds),
        node_x=unique[node_uniques, 0].copy(),
        node_y=unique[node_uniques, 1].copy(),
        edge_u=u,
        edge_v=v,
        edge_length_m=length,
        edge_time_s=time,
        edge_oneway=oneway[src].astype(bool),
        edge_row=row[src].astype(np.int64),
        edge_coords=edge_coords,
        edge_offsets=offsets.astype(np.int64),
    )


def _along(line: np.ndarray, cum: np.ndarray, d: float) -> np.ndarray:
    i = int(np.clip(np.searchsorted(cum, d, side="right") - 1, 0, len(line) - 2))
    span = cum[i + 1] - cum[i]
    r = 0.0 if span == 0 else min(max((d - cum[i]) / span, 0.0), 1.0)
    return (line[i] + r * (line[i + 1] - line[i]))[None, :]
