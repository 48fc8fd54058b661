"""Routing on the road network: the nearest responsible unit by road, its route, and the order of stops.

OpenStreetMap roads come as whole ways (``geo.osm.read_osm``), not split at junctions.
:meth:`RoadGraph.from_lines` nodes them: a vertex shared by two or more ways (exactly the same coordinates, as
OSM ways share node ids) or a way's end becomes a graph node, and ways are split there into edges. Two ways
that cross without a shared vertex (a bridge) stay unconnected, as they should.

Points (case reports, units) are not on nodes: they are snapped to the nearest *edge* and kept at their
fraction along it. A unit's Dijkstra starts from a virtual source spliced into its edge, and a point is
reached from the ends of its edge, so distances are exact along the road and need neither a nearest-node
approximation nor an edited graph.

:class:`FacilityIndex` runs one Dijkstra per unit up front (scipy's C implementation) and keeps the distance
and predecessor rows; after that a query is a lookup plus a few array operations, and a route is read back
from the predecessors. Adding, removing or moving one unit recomputes its row only.

All coordinates are in the metric CRS of the roads; distances are metres, times seconds.

Profiles
--------
``"walk"``
    Every ``highway`` class except those in :data:`WALK_EXCLUDED` (motorways, trunk roads, roads under
    construction or only proposed), both directions whatever ``oneway`` says, at :data:`WALK_SPEED_KMH`.
``"drive"``
    Only the motorised classes of :data:`DRIVE_SPEEDS_KMH`, at the speed listed there; ``oneway`` ways only in
    their geometry direction (``read_osm`` has already reversed ``oneway=-1`` ways). Tracks, paths, footways,
    cycleways, pedestrian streets, steps and bridleways are left out: they are closed to cars or unfit for
    them.

Direction
---------
A :class:`FacilityIndex` measures ``"from_facility"`` (default: the unit drives to the case) or
``"to_facility"`` (the point travels to the unit). On the walk profile both are the same; on the drive profile
one-way streets make them differ.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
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

PROFILES: tuple[str, ...] = ("walk", "drive")
WEIGHTS: tuple[str, ...] = ("length", "time")
DIRECTIONS: tuple[str, ...] = ("from_facility", "to_facility")

#: Walking speed (km/h) of every edge of the walk profile, unless ``speeds_kmh`` says otherwise for a class.
WALK_SPEED_KMH = 5.0
#: ``highway`` classes a person on foot cannot use (or which do not exist yet).
WALK_EXCLUDED: frozenset[str] = frozenset(
    {
        "motorway",
        "motorway_link",
        "trunk",
        "trunk_link",
        "construction",
        "proposed",
        "planned",
        "abandoned",
        "disused",
        "razed",
        "raceway",
        "bus_guideway",
        "busway",
        "escape",
        "no",
    }
)
#: ``highway`` classes of the drive profile and their speed (km/h): typical urban free-flow speeds of a car,
#: lower than the legal limits (junctions, traffic lights). A class missing here is not drivable.
DRIVE_SPEEDS_KMH: Mapping[str, float] = {
    "motorway": 100.0,
    "motorway_link": 60.0,
    "trunk": 80.0,
    "trunk_link": 50.0,
    "primary": 60.0,
    "primary_link": 50.0,
    "secondary": 50.0,
    "secondary_link": 40.0,
    "tertiary": 40.0,
    "tertiary_link": 30.0,
    "unclassified": 30.0,
    "residential": 30.0,
    "road": 30.0,
    "living_street": 10.0,
    "service": 15.0,
}
#: Speed (km/h) used to turn a straight-line distance into a time when a point cannot be routed.
NOMINAL_SPEED_KMH: Mapping[str, float] = {"walk": WALK_SPEED_KMH, "drive": 30.0}
#: A point farther than this (m) from every road is off the network: it is answered by straight-line distance.
DEFAULT_MAX_SNAP_M = 250.0
#: Unreachable pairs of :meth:`RoadGraph.distance_matrix` cost this many times their straight-line distance.
UNREACHABLE_PENALTY = 2.0

FALLBACK_STRAIGHT_LINE = "straight_line"
#: Why a point was answered by straight-line distance.
#: Farther than ``max_snap_m`` from every road of the profile.
REASON_OFF_NETWORK = "off_network"
#: No (candidate) facility reaches it: a disconnected piece of network, a one-way dead end.
REASON_UNREACHABLE = "unreachable"

# Choices of the end-of-edge arithmetic (see _reach).
_VIA_A, _VIA_B, _SAME_FORWARD, _SAME_BACKWARD = 0, 1, 2, 3
_SOURCE = -1  # predecessor of a node reached straight from the virtual source
_MAX_QUOTED = 5


# --- results ------------------------------------------------------------------------------------------------


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


# --- the graph ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Search:
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
        crs = _check_lines(lines, problems)
        if profile not in PROFILES:
            problems.add(
                "invalid_argument", f"profile must be one of {PROFILES}, got {profile!r}", field="profile"
            )
        speeds = _speed_table(profile, speeds_kmh, problems)
        problems.raise_if_any()
        assert crs is not None

        highway = lines["highway"].astype(str).to_numpy()
        if profile == "walk":
            speed_of = {k: v for k, v in speeds.items() if v is not None}
            dropped = [k for k, v in speeds.items() if v is None]
            # A class given a speed is walkable even when WALK_EXCLUDED lists it.
            keep = (~np.isin(highway, list(WALK_EXCLUDED)) | np.isin(highway, list(speed_of))) & ~np.isin(
                highway, dropped
            )
            class_speed = np.array([speed_of.get(h, WALK_SPEED_KMH) for h in highway], dtype=float)
            oneway = np.zeros(len(lines), dtype=bool)
        else:
            speed_of = {k: v for k, v in speeds.items() if v is not None}
            keep = np.isin(highway, list(speed_of))
            class_speed = np.array([speed_of.get(h, np.nan) for h in highway], dtype=float)
            oneway = (
                lines["oneway"].fillna(False).astype(bool).to_numpy()
                if "oneway" in lines.columns
                else np.zeros(len(lines), dtype=bool)
            )
        geoms = np.asarray(lines.geometry.array, dtype=object)
        keep &= ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        rows = np.flatnonzero(keep)
        if rows.size == 0:
            raise GeoValidationError(
                f"lines has no road of the {profile!r} profile ({len(lines)} rows, classes "
                f"{sorted(set(highway.tolist()))[:10]})",
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
        _check_choice(weight, WEIGHTS, "weight")
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
        return self._search(weight, reverse).matrix()

    def adjacency_edges(self, weight: str = "length", *, reverse: bool = False) -> np.ndarray:
        """Edge index of each stored entry of :meth:`adjacency` (same order as its ``data``)."""
        return self._search(weight, reverse).edge

    def node_distances(self, sources: npt.ArrayLike, *, weight: str = "length") -> np.ndarray:
        """(len(sources), n) cost from each source node to every node (``inf`` where unreachable)."""
        _check_choice(weight, WEIGHTS, "weight")
        return csgraph.dijkstra(
            self.adjacency(weight), directed=True, indices=np.asarray(sources, dtype=np.int64)
        )

    def _search(self, weight: str, reverse: bool) -> _Search:
        _check_choice(weight, WEIGHTS, "weight")
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
        xs, ys = _xy(x, y)
        _check_positive(max_distance_m, "max_distance_m")
        return self._snap(xs, ys, float(max_distance_m))

    def _snap(self, xs: np.ndarray, ys: np.ndarray, max_distance_m: float) -> Snap:
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

    def _dijkstra(
        self, search: _Search, weight: str, edge: np.ndarray, fraction: np.ndarray, *, tree: bool
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """One Dijkstra per (edge, fraction) source from a virtual node spliced into the edge.

        Returns the (k, n) costs, and when ``tree`` the int32 predecessors (``_SOURCE`` for a node reached
        straight from the source, -9999 where unreachable) and the other weight summed along the same tree.
        """
        n, k = search.n, edge.size
        big = n + k
        a, b, s = self._ends(search.reverse, edge, fraction)
        w = self.weights(weight)[edge]
        w2 = self.weights(_other(weight))[edge]
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
        pred = np.where(pred >= n, _SOURCE, pred).astype(np.int32)
        return dist[:, :n], pred, acc[:, :n]

    def _reach(
        self,
        search: _Search,
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
        options[_VIA_A] = dist[:, a] + s * w
        options[_VIA_B] = np.where(twoway, dist[:, b] + (1.0 - s) * w, inf)
        same = src_edge[:, None] == edge[None, :]
        ahead = s[None, :] - src_s[:, None]
        options[_SAME_FORWARD] = np.where(same & (ahead >= 0), ahead * w, inf)
        options[_SAME_BACKWARD] = np.where(same & twoway & (ahead <= 0), -ahead * w, inf)
        via = options.argmin(axis=0)
        cost = np.take_along_axis(options, via[None], axis=0)[0]
        if other is None:
            return cost, None, via
        w2 = self.weights(_other(weight))[edge]
        options[_VIA_A] = other[:, a] + s * w2
        options[_VIA_B] = other[:, b] + (1.0 - s) * w2
        options[_SAME_FORWARD] = ahead * w2
        options[_SAME_BACKWARD] = -ahead * w2
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
        xs, ys = _xy(x, y)
        problems = ProblemList()
        _check_choice(weight, WEIGHTS, "weight", problems)
        _check_positive(max_snap_m, "max_snap_m", problems)
        if not (isinstance(penalty, (int, float)) and np.isfinite(penalty) and penalty >= 1.0):
            problems.add(
                "invalid_argument", f"penalty must be a number >= 1, got {penalty!r}", field="penalty"
            )
        problems.raise_if_any()
        m = xs.size
        snap = self._snap(xs, ys, float(max_snap_m))
        cost = np.full((m, m), np.inf)
        on = np.flatnonzero(snap.on_network)
        if on.size:
            search = self._search(weight, False)
            dist, _, _ = self._dijkstra(search, weight, snap.edge[on], snap.fraction[on], tree=False)
            sub, _, _ = self._reach(
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

    def __missing__(self, key: tuple[str, bool]) -> _Search:
        value = _build_search(self._graph, *key)
        self[key] = value
        return value


def _build_search(g: RoadGraph, weight: str, reverse: bool) -> _Search:
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
    return _Search(
        n=n,
        reverse=reverse,
        rows=frm.astype(np.int64),
        cols=to.astype(np.int32),
        indptr=indptr,
        cost=g.weights(weight)[eid].astype(np.float64),
        other=g.weights(_other(weight))[eid].astype(np.float64),
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


# --- nearest facility ---------------------------------------------------------------------------------------


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
        xs, ys = _xy(facility_x, facility_y, names=("facility_x", "facility_y"))
        problems = ProblemList()
        _check_choice(weight, WEIGHTS, "weight", problems)
        _check_choice(direction, DIRECTIONS, "direction", problems)
        _check_positive(max_snap_m, "max_snap_m", problems)
        problems.raise_if_any()
        index = cls(
            graph,
            weight=weight,
            direction=direction,
            max_snap_m=float(max_snap_m),
            facility_x=np.zeros(0),
            facility_y=np.zeros(0),
            facility_snap=_empty_snap(),
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
        snap = self.graph._snap(xs, ys, self.max_snap_m)
        if xs.size == 0:
            n = self.graph.n_nodes
            return snap, np.zeros((0, n)), np.zeros((0, n)), np.zeros((0, n), dtype=np.int32)
        off = ~snap.on_network
        if off.any():
            where = np.flatnonzero(off)
            problems = ProblemList()
            for i in where[:_MAX_QUOTED]:
                problems.add(
                    "off_network",
                    f"facility at ({xs[i]:.1f}, {ys[i]:.1f}) is {snap.distance_m[i]:.0f} m from the "
                    f"nearest road, more than max_snap_m={self.max_snap_m:g}",
                    feature_id=int(i),
                    field=field,
                )
            if where.size > _MAX_QUOTED:
                problems.add("off_network", f"and {where.size - _MAX_QUOTED} more facilities", field=field)
            problems.raise_if_any()
        search = self.graph._search(self.weight, self._reverse)
        cost, pred, other = self.graph._dijkstra(search, self.weight, snap.edge, snap.fraction, tree=True)
        assert pred is not None and other is not None
        return snap, cost, other, pred

    # --- incremental refresh ---

    def add(self, x: float, y: float) -> int:
        """Add one facility (one Dijkstra); returns its index."""
        xs, ys = _xy([x], [y])
        snap, cost, other, pred = self._rows(xs, ys, field="x")
        self.facility_x = np.concatenate([self.facility_x, xs])
        self.facility_y = np.concatenate([self.facility_y, ys])
        self.facility_snap = _concat_snaps(self.facility_snap, snap)
        self.cost = np.vstack([self.cost, cost])
        self.other = np.vstack([self.other, other])
        self.pred = np.vstack([self.pred, pred])
        return self.n_facilities - 1

    def remove(self, facility: int) -> None:
        """Remove one facility; the facilities after it move down by one index, like a list."""
        i = self._facility(facility)
        keep = np.arange(self.n_facilities) != i
        self.facility_x, self.facility_y = self.facility_x[keep], self.facility_y[keep]
        self.facility_snap = _take_snap(self.facility_snap, keep)
        self.cost, self.other, self.pred = self.cost[keep], self.other[keep], self.pred[keep]

    def move(self, facility: int, x: float, y: float) -> None:
        """Move one facility (one Dijkstra); its index stays."""
        i = self._facility(facility)
        xs, ys = _xy([x], [y])
        snap, cost, other, pred = self._rows(xs, ys, field="x")
        self.facility_x = self.facility_x.copy()
        self.facility_y = self.facility_y.copy()
        self.facility_x[i], self.facility_y[i] = xs[0], ys[0]
        merged = _concat_snaps(self.facility_snap, snap)
        order = np.arange(self.n_facilities)
        order[i] = self.n_facilities
        self.facility_snap = _take_snap(merged, order)
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
        xs, ys = _xy(x, y)
        k = self.n_facilities
        if k == 0:
            raise GeoValidationError("the index has no facility to query", field="facility_x")
        mask = self._candidates(candidates, xs.size)
        graph = self.graph
        snap = graph._snap(xs, ys, self.max_snap_m)
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
        search = self.graph._search(self.weight, self._reverse)
        cost, second, via = self.graph._reach(
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
            which = "every point" if mask.ndim == 1 else _positions(empty)
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
        xs, ys = _xy([x], [y])
        f = self._facility(facility)
        graph = self.graph
        snap = graph._snap(xs, ys, self.max_snap_m)
        reason = None
        if not snap.on_network[0]:
            reason = REASON_OFF_NETWORK
        else:
            search = graph._search(self.weight, self._reverse)
            cost, second, via = graph._reach(
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
        pieces = self._pieces(search, f, int(snap.edge[0]), float(snap.fraction[0]), int(via[0, 0]))
        coords, edges = _assemble(graph, pieces, reverse=self._reverse)
        c, s = float(cost[0, 0]), float(second[0, 0])
        length, time = (c, s) if self.weight == "length" else (s, c)
        return Route(coords, length, time, c, edges)

    def _pieces(
        self, search: _Search, f: int, edge: int, fraction: float, via: int
    ) -> list[tuple[int, float, float]]:
        """Route pieces in search order as (edge, from, to) fractions in the edge's own u → v direction."""
        graph = self.graph
        rev = search.reverse

        def own(s: float) -> float:  # search fraction (from a) → fraction from u
            return 1.0 - s if rev else s

        f_edge = int(self.facility_snap.edge[f])
        f_s = float(self._search_fraction(f_edge, float(self.facility_snap.fraction[f])))
        p_s = float(self._search_fraction(edge, fraction))
        if via in (_SAME_FORWARD, _SAME_BACKWARD):
            return [(edge, own(f_s), own(p_s))]
        a, b = (graph.edge_v[edge], graph.edge_u[edge]) if rev else (graph.edge_u[edge], graph.edge_v[edge])
        end = int(a if via == _VIA_A else b)
        nodes = [end]
        pred = self.pred[f]
        while pred[nodes[-1]] != _SOURCE:
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
        pieces.append((edge, own(0.0 if via == _VIA_A else 1.0), own(p_s)))
        return pieces

    def _search_fraction(self, edge: int, fraction: float) -> float:
        return 1.0 - fraction if self._reverse else fraction


# --- stop order ---------------------------------------------------------------------------------------------


def tour_cost(dist: npt.ArrayLike, order: Sequence[int], *, return_to_start: bool = False) -> float:
    """Cost of visiting stops in ``order`` on ``dist``, back to the first stop when ``return_to_start``."""
    d = np.asarray(dist, dtype=float)
    idx = list(order)
    if len(idx) < 2:
        return 0.0
    legs = list(itertools.pairwise(idx)) + ([(idx[-1], idx[0])] if return_to_start else [])
    return float(sum(d[i, j] for i, j in legs))


def order_stops(
    dist: npt.ArrayLike,
    *,
    start: int | None = None,
    return_to_start: bool = False,
    improve: bool = True,
) -> list[int]:
    """Order stops for a short tour: nearest neighbour, then 2-opt and Or-opt moves until none helps.

    Parameters
    ----------
    dist
        (m, m) cost matrix, ``dist[i, j]`` from stop i to stop j (may be asymmetric, e.g. one-way streets),
        such as :attr:`StopMatrix.cost` from :meth:`RoadGraph.distance_matrix`. Must be finite and
        non-negative.
    start
        Stop to begin at; ``None`` lets the tour begin wherever is cheapest.
    return_to_start
        Close the tour back to its first stop (and count that leg).
    improve
        False to stop after nearest neighbour (tried from every start when ``start`` is None).

    Returns
    -------
    list of int
        Every stop index once, in visiting order (beginning with ``start`` when given). A heuristic: usually
        optimal for a handful of stops, within a few per cent for more.

    Raises
    ------
    GeoValidationError
        For a matrix that is not square, has NaN, infinite or negative values, or a ``start`` out of range.
    """
    d = _check_matrix(dist, start)
    m = d.shape[0]
    if m == 0:
        return []
    if m == 1:
        return [0]
    # Every variant becomes a closed tour: an open path gets a dummy stop joined at no cost (from ``start``
    # only, when it is fixed), and the tour is read from the dummy on.
    if return_to_start:
        full, dummy = d, None
    else:
        full = np.zeros((m + 1, m + 1))
        full[:m, :m] = d
        dummy = m
        if start is not None:
            full[dummy, :m] = (d.sum() + 1.0) * 2.0
            full[dummy, start] = 0.0
    firsts = range(m) if start is None else [start]
    tours = [_nearest_neighbour(d, s) + ([] if dummy is None else [dummy]) for s in firsts]
    tour = min(tours, key=lambda t: _cycle_cost(full, t))
    if improve and len(tour) >= 3:
        tour = _improve(full, tour)
    anchor = dummy if dummy is not None else start
    if anchor is not None:
        i = tour.index(anchor)
        tour = tour[i:] + tour[:i]
    if dummy is not None:
        tour = tour[1:]
    return [int(i) for i in tour]


def _nearest_neighbour(d: np.ndarray, start: int) -> list[int]:
    m = d.shape[0]
    left = np.ones(m, dtype=bool)
    left[start] = False
    tour = [start]
    for _ in range(m - 1):
        row = np.where(left, d[tour[-1]], np.inf)
        nxt = int(row.argmin())
        tour.append(nxt)
        left[nxt] = False
    return tour


def _cycle_cost(d: np.ndarray, tour: Sequence[int]) -> float:
    t = np.asarray(tour)
    return float(d[t, np.roll(t, -1)].sum())


def _improve(d: np.ndarray, tour: list[int]) -> list[int]:
    """2-opt (segment reversal, exact on asymmetric costs) and Or-opt (move 1–3 stops, either way round)."""
    eps = 1e-9 * max(float(d.max()), 1.0)
    t = list(tour)
    m = len(t)
    for _ in range(100 * m):  # each pass strictly shortens the tour; the cap only guards against float loops
        if not (_two_opt(d, t, eps) or _or_opt(d, t, eps)):
            break
    return t


def _two_opt(d: np.ndarray, t: list[int], eps: float) -> bool:
    m = len(t)
    a = np.asarray(t)
    nxt = np.roll(a, -1)
    fwd = np.concatenate([[0.0], np.cumsum(d[a, nxt])])  # fwd[k]: cost t0→…→tk
    bwd = np.concatenate([[0.0], np.cumsum(d[nxt, a])])  # the same legs travelled backwards
    for i in range(m - 1):
        for j in range(i + 2, m):
            # Reverse t[i+1..j]: legs (t_i, t_i+1) and (t_j, t_j+1) change, the inner legs flip direction.
            old = d[a[i], a[i + 1]] + d[a[j], a[(j + 1) % m]] + (fwd[j] - fwd[i + 1])
            new = d[a[i], a[j]] + d[a[i + 1], a[(j + 1) % m]] + (bwd[j] - bwd[i + 1])
            if new < old - eps:
                t[i + 1 : j + 1] = t[i + 1 : j + 1][::-1]
                return True
    return False


def _or_opt(d: np.ndarray, t: list[int], eps: float) -> bool:
    m = len(t)
    for length in (1, 2, 3):
        if length > m - 2:
            break
        for i in range(m):
            seg = [t[(i + k) % m] for k in range(length)]
            # The tour without seg, starting right after it; seg goes back between rest[pos] and rest[pos + 1].
            rest = [t[(i + length + k) % m] for k in range(m - length)]
            prev, after = rest[-1], rest[0]
            removed = d[prev, seg[0]] + d[seg[-1], after] - d[prev, after]
            inner = sum(d[seg[k], seg[k + 1]] for k in range(length - 1))
            inner_rev = sum(d[seg[k + 1], seg[k]] for k in range(length - 1))
            for pos in range(m - length - 1):
                p, q = rest[pos], rest[pos + 1]
                base = -d[p, q] - removed - inner
                if base + d[p, seg[0]] + inner + d[seg[-1], q] < -eps:
                    t[:] = rest[: pos + 1] + seg + rest[pos + 1 :]
                    return True
                if length > 1 and base + d[p, seg[-1]] + inner_rev + d[seg[0], q] < -eps:
                    t[:] = rest[: pos + 1] + seg[::-1] + rest[pos + 1 :]
                    return True
    return False


def _check_matrix(dist: npt.ArrayLike, start: int | None) -> np.ndarray:
    problems = ProblemList()
    try:
        d = np.asarray(dist, dtype=float)
    except (TypeError, ValueError):
        raise GeoValidationError(
            f"dist must be a square matrix of numbers, got {type(dist).__name__}", field="dist"
        ) from None
    if d.size == 0 and d.ndim <= 2:
        d = d.reshape(0, 0)
    if d.ndim != 2 or d.shape[0] != d.shape[1]:
        problems.add(
            "invalid_shape", f"dist must be a square (m, m) matrix, got shape {d.shape}", field="dist"
        )
    elif not np.isfinite(d).all() or (d < 0).any():
        problems.add(
            "invalid_value",
            "dist must be finite and non-negative (RoadGraph.distance_matrix replaces unreachable pairs), "
            f"got {int((~np.isfinite(d)).sum())} NaN/infinite and {int((d < 0).sum())} negative values",
            field="dist",
        )
    if start is not None and (
        not isinstance(start, (int, np.integer)) or not (d.ndim == 2 and 0 <= start < d.shape[0])
    ):
        problems.add(
            "invalid_argument",
            f"start must be a stop index in [0, {d.shape[0] if d.ndim else 0}), got {start!r}",
            field="start",
        )
    problems.raise_if_any()
    return d


# --- helpers ------------------------------------------------------------------------------------------------


def _assemble(
    graph: RoadGraph, pieces: list[tuple[int, float, float]], *, reverse: bool
) -> tuple[np.ndarray, np.ndarray]:
    if reverse:  # the search ran against the direction of travel
        pieces = [(e, t1, t0) for e, t0, t1 in reversed(pieces)]
    chunks = [_partial(graph, e, t0, t1) for e, t0, t1 in pieces]
    coords = np.concatenate(chunks)
    keep = np.ones(coords.shape[0], dtype=bool)
    keep[1:] = (coords[1:] != coords[:-1]).any(axis=1)
    edges = np.array([e for e, _, _ in pieces], dtype=np.int64)
    return coords[keep], edges


def _partial(graph: RoadGraph, edge: int, t0: float, t1: float) -> np.ndarray:
    """Vertices of ``edge`` from fraction t0 to t1 (t1 < t0 walks it backwards)."""
    if t1 < t0:
        return _partial(graph, edge, t1, t0)[::-1]
    line = graph.edge_line(edge)
    seg = np.hypot(*np.diff(line, axis=0).T)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    total = cum[-1]
    d0, d1 = t0 * total, t1 * total
    inner = line[(cum > d0) & (cum < d1)]
    return np.vstack([_along(line, cum, d0), inner, _along(line, cum, d1)])


def _along(line: np.ndarray, cum: np.ndarray, d: float) -> np.ndarray:
    i = int(np.clip(np.searchsorted(cum, d, side="right") - 1, 0, len(line) - 2))
    span = cum[i + 1] - cum[i]
    r = 0.0 if span == 0 else min(max((d - cum[i]) / span, 0.0), 1.0)
    return (line[i] + r * (line[i + 1] - line[i]))[None, :]


def _other(weight: str) -> str:
    return "time" if weight == "length" else "length"


def _empty_snap() -> Snap:
    e = np.zeros(0)
    return Snap(np.zeros(0, dtype=np.int64), e, e, e, e)


def _concat_snaps(a: Snap, b: Snap) -> Snap:
    return Snap(
        *(
            np.concatenate([getattr(a, f), getattr(b, f)])
            for f in ("edge", "fraction", "distance_m", "x", "y")
        )
    )


def _take_snap(s: Snap, which: np.ndarray) -> Snap:
    return Snap(*(getattr(s, f)[which] for f in ("edge", "fraction", "distance_m", "x", "y")))


def _check_lines(lines: object, problems: ProblemList) -> pyproj.CRS | None:
    if not isinstance(lines, gpd.GeoDataFrame):
        problems.add(
            "invalid_argument", f"lines must be a GeoDataFrame, got {type(lines).__name__}", field="lines"
        )
        return None
    crs = lines.crs
    if crs is None:
        problems.add("crs", "lines has no CRS; project it with geo.crs.metric_crs_for_bounds", field="lines")
    elif not crs.is_projected or crs.axis_info[0].unit_name not in ("metre", "meter"):
        problems.add(
            "crs",
            f"lines must be in a projected CRS in metres, got {crs.name!r} ({crs.to_string()}); "
            "project it with geo.crs.metric_crs_for_bounds",
            field="lines",
        )
    if len(lines) == 0:
        problems.add("empty", "lines has no rows", field="lines")
    if "highway" not in lines.columns:
        problems.add("missing_column", "lines has no column 'highway'", field="lines")
    if len(lines):
        kind = shapely.get_type_id(np.asarray(lines.geometry.array, dtype=object))
        bad = ~np.isin(kind, [-1, 1, 5])  # missing, LineString, MultiLineString
        if bad.any():
            problems.add(
                "invalid_geometry_type",
                f"lines must be LineStrings; {_positions(bad)} are not",
                field="lines",
            )
    return crs


def _speed_table(profile: str, speeds_kmh: object, problems: ProblemList) -> dict[str, float | None]:
    table: dict[str, float | None] = dict(DRIVE_SPEEDS_KMH) if profile == "drive" else {}
    if speeds_kmh is None:
        return table
    if not isinstance(speeds_kmh, Mapping):
        problems.add(
            "invalid_argument",
            f"speeds_kmh must be a mapping of highway class to km/h, got {type(speeds_kmh).__name__}",
            field="speeds_kmh",
        )
        return table
    for key, value in speeds_kmh.items():
        if value is not None and not (
            isinstance(value, (int, float, np.number)) and np.isfinite(value) and value > 0
        ):
            problems.add(
                "invalid_argument",
                f"speeds_kmh[{key!r}] must be a positive number or None, got {value!r}",
                field="speeds_kmh",
            )
            continue
        table[str(key)] = None if value is None else float(value)
    return table


def _check_choice(
    value: object, choices: tuple[str, ...], name: str, problems: ProblemList | None = None
) -> None:
    if value not in choices:
        message = f"{name} must be one of {choices}, got {value!r}"
        if problems is None:
            raise GeoValidationError(message, field=name)
        problems.add("invalid_argument", message, field=name)


def _check_positive(value: object, name: str, problems: ProblemList | None = None) -> None:
    if not (isinstance(value, (int, float, np.number)) and np.isfinite(value) and value > 0):
        message = f"{name} must be a positive number of metres, got {value!r}"
        if problems is None:
            raise GeoValidationError(message, field=name)
        problems.add("invalid_argument", message, field=name)


def _xy(
    x: npt.ArrayLike, y: npt.ArrayLike, *, names: tuple[str, str] = ("x", "y")
) -> tuple[np.ndarray, np.ndarray]:
    problems = ProblemList()
    arrays: dict[str, np.ndarray] = {}
    for name, values in zip(names, (x, y), strict=True):
        try:
            arr = np.atleast_1d(np.asarray(values, dtype=float))
        except (TypeError, ValueError):
            problems.add("invalid_coordinate", f"{name} must be numbers, got {values!r:.80}", field=name)
            continue
        if arr.ndim != 1:
            problems.add(
                "invalid_shape", f"{name} must be one-dimensional, got shape {arr.shape}", field=name
            )
            continue
        if not np.isfinite(arr).all():
            problems.add(
                "invalid_coordinate",
                f"{name} has NaN or infinite values at {_positions(~np.isfinite(arr))}",
                field=name,
            )
            continue
        arrays[name] = arr
    if len(arrays) == 2 and arrays[names[0]].size != arrays[names[1]].size:
        problems.add(
            "length_mismatch",
            f"{names[1]} has {arrays[names[1]].size} values but {names[0]} has {arrays[names[0]].size}",
            field=names[1],
        )
    problems.raise_if_any()
    return arrays[names[0]], arrays[names[1]]


def _positions(mask: np.ndarray, limit: int = _MAX_QUOTED) -> str:
    where = np.flatnonzero(mask)
    quoted = ", ".join(str(i) for i in where[:limit])
    more = f" and {where.size - limit} more" if where.size > limit else ""
    return f"position{'s' if where.size > 1 else ''} {quoted}{more}"
