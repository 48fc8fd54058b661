"""Tests of geo.network on real OSM roads (Liechtenstein 2015, Heidelberg).

References are independent of the code under test: networkx Dijkstra on a graph built here from the edge
arrays, with points and facilities inserted as nodes that split their edges; shapely distances to every edge
for snapping; itertools.permutations for the optimal stop order.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from functools import cache

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely
from scipy.sparse.csgraph import connected_components

from geo.crs import metric_crs_for_bounds
from geo.errors import GeoValidationError
from geo.network import (
    FALLBACK_STRAIGHT_LINE,
    REASON_OFF_NETWORK,
    REASON_UNREACHABLE,
    WALK_SPEED_KMH,
    FacilityIndex,
    RoadGraph,
    order_stops,
    tour_cost,
)
from geo.osm import read_osm
from tests.conftest import shared_file, shared_scope

CITIES = {"liechtenstein": "osm/liechtenstein_2015.osm.pbf", "heidelberg": "osm/heidelberg_roads.osm.pbf"}
TOL_M = 0.5


# --- fixtures -----------------------------------------------------------------------------------------------


@cache
def _roads(city: str) -> gpd.GeoDataFrame:
    roads = read_osm(shared_file(CITIES[city])).roads
    return roads.to_crs(metric_crs_for_bounds(tuple(roads.total_bounds)))


@cache
def _graph(city: str, profile: str) -> RoadGraph:
    return RoadGraph.from_lines(_roads(city), profile=profile)


@pytest.fixture(scope=shared_scope)
def graph():
    """``graph(city, profile)``: a RoadGraph read once per module."""
    yield _graph
    _graph.cache_clear()
    _roads.cache_clear()


def _nx(g: RoadGraph, weight: str = "length", inserted: list[tuple[str, int, float]] = ()) -> nx.DiGraph:
    """networkx graph of ``g`` with each (label, edge, fraction) inserted as a node splitting its edge."""
    w = g.edge_length_m if weight == "length" else g.edge_time_s
    splits: dict[int, list[tuple[float, str]]] = defaultdict(list)
    for label, e, t in inserted:
        splits[int(e)].append((float(t), label))
    best: dict[tuple, float] = {}

    def arc(a, b, cost):
        if a != b and cost < best.get((a, b), np.inf):
            best[(a, b)] = cost

    for e, (u, v, we, one) in enumerate(
        zip(g.edge_u.tolist(), g.edge_v.tolist(), w.tolist(), g.edge_oneway.tolist(), strict=True)
    ):
        chain = [(0.0, u)] + sorted(splits.get(e, [])) + [(1.0, v)]
        for (t0, a), (t1, b) in itertools.pairwise(chain):
            arc(a, b, we * (t1 - t0))
            if not one:
                arc(b, a, we * (t1 - t0))
    out = nx.DiGraph()
    out.add_nodes_from(range(g.n_nodes))
    out.add_weighted_edges_from((a, b, c) for (a, b), c in best.items())
    return out


def _strong_largest(g: RoadGraph) -> np.ndarray:
    _, labels = connected_components(g.adjacency(), directed=True, connection="strong")
    return labels == np.bincount(labels).argmax()


def _edge_points(g: RoadGraph, rng: np.random.Generator, k: int, *, in_largest: bool = True):
    """k random points on edges (of the largest strongly connected piece when asked): edge, fraction, x, y."""
    strong = _strong_largest(g)
    pool = np.flatnonzero(strong[g.edge_u] & strong[g.edge_v]) if in_largest else np.arange(g.n_edges)
    e = rng.choice(pool, k)
    t = rng.uniform(0.02, 0.98, k)
    p = shapely.line_interpolate_point(g.edge_geometry[e], t, normalized=True)
    return e, t, shapely.get_x(p), shapely.get_y(p)


# --- noding -------------------------------------------------------------------------------------------------


def _lines(*coords, oneway=None, highway="residential", crs="EPSG:32632") -> gpd.GeoDataFrame:
    n = len(coords)
    return gpd.GeoDataFrame(
        {"highway": [highway] * n, "oneway": oneway or [False] * n},
        geometry=[shapely.LineString(c) for c in coords],
        crs=crs,
    )


def test_ways_are_split_at_shared_vertices_and_ends_only() -> None:
    # A cross sharing its middle vertex, plus a bridge over it without a shared vertex.
    lines = _lines([(0, 0), (50, 0), (100, 0)], [(50, -50), (50, 0), (50, 50)], [(20, -30), (20, 30)])
    g = RoadGraph.from_lines(lines, profile="drive")
    assert (g.n_nodes, g.n_edges) == (7, 5)
    assert g.component_count == 2
    assert sorted(g.edge_length_m.tolist()) == [50.0] * 4 + [60.0]
    # Edge ends are their nodes, in the geometry direction.
    first = g.edge_coords[g.edge_offsets[:-1]]
    last = g.edge_coords[g.edge_offsets[1:] - 1]
    np.testing.assert_array_equal(first, np.c_[g.node_x[g.edge_u], g.node_y[g.edge_u]])
    np.testing.assert_array_equal(last, np.c_[g.node_x[g.edge_v], g.node_y[g.edge_v]])


@pytest.mark.parametrize("city", CITIES)
@pytest.mark.parametrize("profile", ["walk", "drive"])
def test_real_networks_are_noded_without_losing_road(graph, city: str, profile: str) -> None:
    g = graph(city, profile)
    roads = _roads(city)
    used = roads.iloc[np.unique(g.edge_row)]
    # Every metre of every used way is in exactly one edge.
    assert g.edge_length_m.sum() == pytest.approx(used.length.sum(), rel=1e-9)
    np.testing.assert_allclose(shapely.length(g.edge_geometry), g.edge_length_m, rtol=1e-12, atol=1e-9)
    # Every vertex shared by two ways is a node; no edge has one inside it.
    coords, way = shapely.get_coordinates(used.geometry.to_numpy(), return_index=True)
    uniq, inverse = np.unique(coords, axis=0, return_inverse=True)
    ways_at = defaultdict(set)
    for c, w in zip(inverse.reshape(-1).tolist(), way.tolist(), strict=True):
        ways_at[c].add(w)
    shared = {tuple(uniq[c]) for c, ws in ways_at.items() if len(ws) > 1}
    nodes = set(zip(g.node_x.tolist(), g.node_y.tolist(), strict=True))
    assert shared <= nodes
    inner = np.ones(len(g.edge_coords), dtype=bool)
    inner[g.edge_offsets[:-1]] = inner[g.edge_offsets[1:] - 1] = False
    assert not nodes & set(map(tuple, g.edge_coords[inner].tolist()))
    if profile == "walk":
        assert not set(roads.highway.iloc[g.edge_row]) & {"motorway", "motorway_link", "trunk", "trunk_link"}
        assert not g.edge_oneway.any()
        np.testing.assert_allclose(g.edge_time_s, g.edge_length_m / (WALK_SPEED_KMH / 3.6))
    else:
        assert set(roads.highway.iloc[g.edge_row]) <= {
            "motorway",
            "motorway_link",
            "trunk",
            "trunk_link",
            "primary",
            "primary_link",
            "secondary",
            "secondary_link",
            "tertiary",
            "tertiary_link",
            "unclassified",
            "residential",
            "road",
            "living_street",
            "service",
        }
        assert g.edge_oneway.any()
    print(f"{city} {profile}: {g.n_nodes} nodes, {g.n_edges} edges, {g.component_count} pieces")


def test_speeds_bring_classes_in_or_leave_them_out() -> None:
    roads = _roads("liechtenstein")
    drive = RoadGraph.from_lines(roads, profile="drive", speeds_kmh={"track": 20, "service": None})
    highway = roads.highway.to_numpy()[drive.edge_row]
    assert "track" in highway and "service" not in highway
    track = highway == "track"
    np.testing.assert_allclose(drive.edge_time_s[track], drive.edge_length_m[track] / (20 / 3.6))
    walk = RoadGraph.from_lines(roads, profile="walk", speeds_kmh={"steps": 2.0, "cycleway": None})
    highway = roads.highway.to_numpy()[walk.edge_row]
    assert "cycleway" not in highway
    steps = highway == "steps"
    np.testing.assert_allclose(walk.edge_time_s[steps], walk.edge_length_m[steps] / (2 / 3.6))
    np.testing.assert_allclose(walk.edge_time_s[~steps], walk.edge_length_m[~steps] / (WALK_SPEED_KMH / 3.6))


# --- shortest paths vs networkx -----------------------------------------------------------------------------


@pytest.mark.parametrize("city", CITIES)
@pytest.mark.parametrize(("profile", "weight"), [("walk", "length"), ("drive", "length"), ("drive", "time")])
def test_node_distances_equal_networkx(graph, city: str, profile: str, weight: str) -> None:
    g = graph(city, profile)
    reference = _nx(g, weight)
    rng = np.random.default_rng(7)
    sources = rng.choice(np.flatnonzero(g.in_largest_component), 10, replace=False)
    ours = g.node_distances(sources, weight=weight)
    pairs = 0
    for row, s in enumerate(sources):
        theirs = nx.single_source_dijkstra_path_length(reference, int(s))
        for t in rng.choice(g.n_nodes, 30, replace=False):
            expected = theirs.get(int(t), np.inf)
            assert ours[row, t] == pytest.approx(expected, abs=TOL_M), (s, t)
            pairs += 1
    assert pairs == 300


# --- snapping -----------------------------------------------------------------------------------------------


def test_snap_finds_the_nearest_edge(graph) -> None:
    g = graph("liechtenstein", "drive")
    rng = np.random.default_rng(3)
    x0, y0, x1, y1 = g.node_x.min(), g.node_y.min(), g.node_x.max(), g.node_y.max()
    x, y = rng.uniform(x0, x1, 40), rng.uniform(y0, y1, 40)
    snap = g.snap(x, y, max_distance_m=300)
    brute = shapely.distance(shapely.points(x, y)[:, None], g.edge_geometry[None, :])
    np.testing.assert_allclose(snap.distance_m, brute.min(axis=1), atol=1e-6)
    on = snap.on_network
    assert np.array_equal(on, brute.min(axis=1) <= 300)
    assert on.any() and (~on).any()
    np.testing.assert_allclose(
        shapely.distance(shapely.points(x[on], y[on]), shapely.points(snap.x[on], snap.y[on])),
        snap.distance_m[on],
        atol=1e-6,
    )
    assert ((snap.fraction[on] >= 0) & (snap.fraction[on] <= 1)).all()
    assert (snap.edge[~on] == -1).all() and np.isnan(snap.fraction[~on]).all()


# --- nearest facility vs brute force
# -------------------------------------------------------------------------


def _reference_costs(g, index, x, y, weight):
    """(p, k) brute-force costs: facilities and points inserted as nodes, one networkx Dijkstra per
    facility."""
    snap = g.snap(x, y, max_distance_m=index.max_snap_m)
    fs = index.facility_snap
    inserted = [(f"F{i}", e, t) for i, (e, t) in enumerate(zip(fs.edge, fs.fraction, strict=True))]
    inserted += [
        (f"P{j}", e, t) for j, (e, t) in enumerate(zip(snap.edge, snap.fraction, strict=True)) if e >= 0
    ]
    ref = _nx(g, weight, inserted)
    if index.direction == "to_facility":
        ref = ref.reverse(copy=False)
    out = np.full((len(x), index.n_facilities), np.inf)
    for i in range(index.n_facilities):
        d = nx.single_source_dijkstra_path_length(ref, f"F{i}")
        for j in range(len(x)):
            out[j, i] = d.get(f"P{j}", np.inf)
    return out, snap


CASES = [
    ("liechtenstein", "drive", "length", "from_facility"),
    ("liechtenstein", "drive", "time", "to_facility"),
    ("heidelberg", "walk", "length", "from_facility"),
    ("heidelberg", "drive", "length", "from_facility"),
]


@pytest.mark.parametrize(("city", "profile", "weight", "direction"), CASES)
def test_facility_costs_equal_brute_force(graph, city, profile, weight, direction) -> None:
    g = graph(city, profile)
    rng = np.random.default_rng(11)
    _, _, fx, fy = _edge_points(g, rng, 8)
    index = FacilityIndex.build(g, fx, fy, weight=weight, direction=direction)
    # Points near roads anywhere, some on disconnected pieces, pushed up to 60 m off their road.
    _, _, px, py = _edge_points(g, rng, 60, in_largest=False)
    px, py = px + rng.uniform(-60, 60, 60), py + rng.uniform(-60, 60, 60)
    result = index.query(px, py)
    expected, snap = _reference_costs(g, index, px, py, weight)
    routed = np.equal(result.fallback, None)
    assert routed.sum() >= 40
    np.testing.assert_allclose(result.cost[routed], expected[routed], atol=TOL_M)
    assert (result.nearest[routed] == expected[routed].argmin(axis=1)).all() or np.allclose(
        result.nearest_cost[routed], expected[routed].min(axis=1), atol=TOL_M
    )
    # A point is answered by straight line exactly when no facility reaches it, and says why.
    fell = ~routed
    assert (np.isinf(expected[fell]).all(axis=1) | ~snap.on_network[fell]).all()
    assert set(result.reason[fell]) <= {REASON_OFF_NETWORK, REASON_UNREACHABLE}
    np.testing.assert_allclose(result.snap_distance_m, snap.distance_m)


@pytest.mark.parametrize(("city", "profile", "weight", "direction"), CASES)
def test_routes_match_their_costs(graph, city, profile, weight, direction) -> None:
    g = graph(city, profile)
    rng = np.random.default_rng(5)
    _, _, fx, fy = _edge_points(g, rng, 6)
    index = FacilityIndex.build(g, fx, fy, weight=weight, direction=direction)
    _, _, px, py = _edge_points(g, rng, 30)
    px, py = px + rng.uniform(-40, 40, 30), py + rng.uniform(-40, 40, 30)
    result = index.query(px, py)
    snap = g.snap(px, py)
    fsnap = index.facility_snap
    for j in range(30):
        f = int(result.nearest[j])
        route = index.route(px[j], py[j], f)
        assert route.fallback is None
        assert abs(route.cost - result.cost[j, f]) <= 1e-6
        assert abs(route.length_m - result.distance_m[j, f]) <= 1e-6
        assert abs(route.time_s - result.eta_s[j, f]) <= 1e-6
        assert abs(route.line.length - route.length_m) <= 1e-6
        if len(set(route.edges.tolist())) == len(route.edges):  # (an edge met twice would be counted twice)
            assert route.time_s == pytest.approx(g.edge_time_s[route.edges] @ _shares(g, route), abs=1e-3)
        ends = [(fsnap.x[f], fsnap.y[f]), (snap.x[j], snap.y[j])]
        if direction == "to_facility":
            ends.reverse()
        np.testing.assert_allclose(route.coords[0], ends[0], atol=1e-6)
        np.testing.assert_allclose(route.coords[-1], ends[1], atol=1e-6)
        _assert_follows_edges(g, route)


def _shares(g: RoadGraph, route) -> np.ndarray:
    """Share of each route edge that the route covers, measured on the route geometry."""
    line = route.line
    shares = []
    for e in route.edges:
        covered = shapely.intersection(line, shapely.buffer(g.edge_geometry[e], 1e-6)).length
        shares.append(min(covered / g.edge_length_m[e], 1.0))
    return np.array(shares)


def _assert_follows_edges(g: RoadGraph, route) -> None:
    """Consecutive route edges meet at a node, and whole edges appear in the route in a direction they
    allow."""
    for a, b in itertools.pairwise(route.edges):
        assert {g.edge_u[a], g.edge_v[a]} & {g.edge_u[b], g.edge_v[b]}
    coords = route.coords
    for e in route.edges[1:-1]:
        line = g.edge_line(e)
        k = len(line)
        windows = np.lib.stride_tricks.sliding_window_view(coords, (k, 2))[:, 0]
        forward = np.isclose(windows, line, atol=1e-9).all(axis=(1, 2)).any()
        backward = np.isclose(windows, line[::-1], atol=1e-9).all(axis=(1, 2)).any()
        assert forward or (backward and not g.edge_oneway[e]), e


def _straight_edge_in_largest(g: RoadGraph, *, oneway: bool, min_length: float = 60.0) -> int:
    strong = _strong_largest(g)
    n_vertices = np.diff(g.edge_offsets)
    ok = (g.edge_oneway == oneway) & strong[g.edge_u] & strong[g.edge_v] & (g.edge_length_m > min_length)
    ok &= n_vertices == 2  # a straight segment: nothing beats going along it
    for e in np.flatnonzero(ok):
        # A clean edge: no other edge within 15 m of its middle part, so points snap to it.
        mid = shapely.line_interpolate_point(g.edge_geometry[e], [0.3, 0.5, 0.7], normalized=True)
        near = g._tree.query(shapely.buffer(mid, 15.0), predicate="intersects")
        if set(near[1].tolist()) == {e}:
            return int(e)
    raise AssertionError("no suitable edge")


def _at(g: RoadGraph, e: int, t: float) -> tuple[float, float]:
    p = shapely.line_interpolate_point(g.edge_geometry[e], t, normalized=True)
    return float(shapely.get_x(p)), float(shapely.get_y(p))


def test_one_way_streets_are_respected(graph) -> None:
    g = graph("liechtenstein", "drive")
    e = _straight_edge_in_largest(g, oneway=True)
    length = g.edge_length_m[e]
    fx, fy = _at(g, e, 0.5)
    ahead, behind = _at(g, e, 0.6), _at(g, e, 0.4)
    out = FacilityIndex.build(g, [fx], [fy], direction="from_facility")
    back = FacilityIndex.build(g, [fx], [fy], direction="to_facility")
    # The unit drives forwards to a point just ahead, but has to go round the block to one just behind.
    assert out.query(*ahead).cost[0, 0] == pytest.approx(0.1 * length, abs=1e-6)
    around = out.query(*behind).cost[0, 0]
    assert around > length
    # A point just past the unit must go round to reach it; one just before it drives straight on.
    assert back.query(*ahead).cost[0, 0] > length
    assert back.query(*behind).cost[0, 0] == pytest.approx(0.1 * length, abs=1e-6)
    route = back.route(*ahead, 0)
    assert route.length_m == pytest.approx(back.query(*ahead).cost[0, 0], abs=1e-6)
    np.testing.assert_allclose(route.coords[0], ahead, atol=1e-6)
    np.testing.assert_allclose(route.coords[-1], (fx, fy), atol=1e-6)
    assert len(route.edges) > 2 and route.edges[0] == route.edges[-1] == e
    _assert_follows_edges(g, route)
    expected, _ = _reference_costs(g, out, np.array([behind[0]]), np.array([behind[1]]), "length")
    assert around == pytest.approx(expected[0, 0], abs=TOL_M)


def test_facility_and_point_on_the_same_edge(graph) -> None:
    g = graph("liechtenstein", "drive")
    e = _straight_edge_in_largest(g, oneway=False)
    length = g.edge_length_m[e]
    index = FacilityIndex.build(g, *map(list, zip(_at(g, e, 0.2), _at(g, e, 0.8), strict=True)))
    for t, nearest, cost in ((0.3, 0, 0.1), (0.1, 0, 0.1), (0.65, 1, 0.15)):
        result = index.query(*_at(g, e, t))
        assert result.nearest[0] == nearest
        assert result.nearest_cost[0] == pytest.approx(cost * length, abs=1e-6)
        route = index.route(*_at(g, e, t), nearest)
        assert list(route.edges) == [e]
        assert route.line.length == pytest.approx(cost * length, abs=1e-6)


def test_walk_eta_is_distance_at_walking_speed_and_time_weight_is_faster(graph) -> None:
    rng = np.random.default_rng(2)
    walk = graph("liechtenstein", "walk")
    _, _, fx, fy = _edge_points(walk, rng, 5)
    result = FacilityIndex.build(walk, fx, fy).query(*_edge_points(walk, rng, 50)[2:])
    np.testing.assert_allclose(result.eta_s, result.distance_m / (WALK_SPEED_KMH / 3.6), rtol=1e-9)
    drive = graph("liechtenstein", "drive")
    _, _, fx, fy = _edge_points(drive, rng, 5)
    _, _, px, py = _edge_points(drive, rng, 50)
    shortest = FacilityIndex.build(drive, fx, fy, weight="length").query(px, py)
    fastest = FacilityIndex.build(drive, fx, fy, weight="time").query(px, py)
    assert (fastest.eta_s <= shortest.eta_s + 1e-6).all()
    assert (shortest.distance_m <= fastest.distance_m + 1e-6).all()
    np.testing.assert_array_equal(fastest.cost, fastest.eta_s)
    assert (fastest.eta_s < shortest.eta_s - 1).any()


# --- fallback, candidates, refresh
# ----------------------------------------------------------------------------


def test_points_off_the_network_or_unreachable_fall_back_to_straight_line(graph) -> None:
    g = graph("liechtenstein", "drive")
    rng = np.random.default_rng(4)
    _, _, fx, fy = _edge_points(g, rng, 4)
    index = FacilityIndex.build(g, fx, fy)
    far = (g.node_x.min() - 5000.0, g.node_y.min() - 5000.0)
    lost = np.flatnonzero(~g.in_largest_component[g.edge_u])[0]
    island = _at(g, lost, 0.5)
    result = index.query([far[0], island[0]], [far[1], island[1]])
    assert list(result.fallback) == [FALLBACK_STRAIGHT_LINE] * 2
    assert list(result.reason) == [REASON_OFF_NETWORK, REASON_UNREACHABLE]
    assert result.snap_distance_m[0] > 5000.0
    line = np.hypot(np.array([far[0], island[0]])[:, None] - fx, np.array([far[1], island[1]])[:, None] - fy)
    np.testing.assert_allclose(result.distance_m, line)
    np.testing.assert_array_equal(result.nearest, line.argmin(axis=1))
    route = index.route(*far, int(result.nearest[0]))
    assert route.fallback == FALLBACK_STRAIGHT_LINE and route.reason == REASON_OFF_NETWORK
    assert route.length_m == pytest.approx(result.nearest_distance_m[0])


def test_candidates_restrict_the_answer(graph) -> None:
    g = graph("heidelberg", "walk")
    rng = np.random.default_rng(9)
    _, _, fx, fy = _edge_points(g, rng, 10)
    index = FacilityIndex.build(g, fx, fy)
    _, _, px, py = _edge_points(g, rng, 25)
    full = index.query(px, py)
    subset = [1, 4, 7]
    mask = np.zeros(10, dtype=bool)
    mask[subset] = True
    for candidates in (subset, mask):
        part = index.query(px, py, candidates=candidates)
        assert set(part.nearest.tolist()) <= set(subset)
        np.testing.assert_array_equal(part.nearest, np.array(subset)[full.cost[:, subset].argmin(axis=1)])
        assert np.isnan(part.cost[:, ~mask]).all()
        np.testing.assert_array_equal(part.cost[:, mask], full.cost[:, mask])
    per_point = np.zeros((25, 10), dtype=bool)
    per_point[np.arange(25), np.arange(25) % 10] = True
    np.testing.assert_array_equal(index.query(px, py, candidates=per_point).nearest, np.arange(25) % 10)
    with pytest.raises(GeoValidationError, match="candidates"):
        index.query(px, py, candidates=[3, 10])
    with pytest.raises(GeoValidationError, match="candidates"):
        index.query(px, py, candidates=np.zeros(10, dtype=bool))


def test_incremental_refresh_equals_a_rebuild(graph) -> None:
    g = graph("heidelberg", "drive")
    rng = np.random.default_rng(12)
    _, _, fx, fy = _edge_points(g, rng, 8)
    _, _, nx_, ny_ = _edge_points(g, rng, 2)
    index = FacilityIndex.build(g, fx, fy)
    assert index.add(nx_[0], ny_[0]) == 8
    index.remove(2)
    index.move(5, nx_[1], ny_[1])
    xs = np.delete(np.append(fx, nx_[0]), 2)
    ys = np.delete(np.append(fy, ny_[0]), 2)
    xs[5], ys[5] = nx_[1], ny_[1]
    rebuilt = FacilityIndex.build(g, xs, ys)
    np.testing.assert_array_equal(index.cost, rebuilt.cost)
    np.testing.assert_array_equal(index.pred, rebuilt.pred)
    np.testing.assert_allclose(index.other, rebuilt.other, rtol=1e-12)
    _, _, px, py = _edge_points(g, rng, 30)
    np.testing.assert_array_equal(index.query(px, py).cost, rebuilt.query(px, py).cost)
    assert index.nbytes == 8 * g.n_nodes * (8 + 8 + 4)


def test_single_queries_are_lookups(graph) -> None:
    import time

    g = graph("heidelberg", "walk")
    rng = np.random.default_rng(1)
    _, _, fx, fy = _edge_points(g, rng, 50)
    index = FacilityIndex.build(g, fx, fy)
    _, _, px, py = _edge_points(g, rng, 300)
    index.query(px[:1], py[:1])
    took = []
    for x, y in zip(px, py, strict=True):
        t = time.perf_counter()
        index.query(x, y)
        took.append(time.perf_counter() - t)
    # Generous: the goal is 1 ms at p99 on an idle machine; this one is shared.
    assert np.median(took) < 2e-3


# --- stop order ---------------------------------------------------------------------------------------------


def _brute(d: np.ndarray, start, back: bool) -> float:
    m = d.shape[0]
    best = np.inf
    for perm in itertools.permutations(range(m)):
        if start is not None and perm[0] != start:
            continue
        best = min(best, tour_cost(d, perm, return_to_start=back))
    return best


@pytest.mark.parametrize("asymmetric", [False, True])
def test_order_stops_is_near_optimal_on_small_instances(asymmetric: bool) -> None:
    rng = np.random.default_rng(21)
    equal = total = 0
    for _ in range(60):
        m = int(rng.integers(3, 8))
        xy = rng.uniform(0, 1000, (m, 2))
        d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
        if asymmetric:
            d = d * rng.uniform(1.0, 1.6, (m, m))
            np.fill_diagonal(d, 0)
        start = None if rng.random() < 0.5 else int(rng.integers(m))
        back = bool(rng.random() < 0.5)
        order = order_stops(d, start=start, return_to_start=back)
        assert sorted(order) == list(range(m))
        if start is not None:
            assert order[0] == start
        ours = tour_cost(d, order, return_to_start=back)
        greedy = tour_cost(
            d, order_stops(d, start=start, return_to_start=back, improve=False), return_to_start=back
        )
        best = _brute(d, start, back)
        assert ours <= greedy + 1e-9
        assert ours <= best * 1.10 + 1e-9
        equal += ours <= best + 1e-6
        total += 1
    assert equal >= 0.9 * total


def test_order_stops_edge_cases() -> None:
    assert order_stops(np.zeros((0, 0))) == []
    assert order_stops([[0.0]]) == [0]
    assert order_stops([[0.0]], start=0, return_to_start=True) == [0]
    d = np.array([[0.0, 5.0], [1.0, 0.0]])
    assert order_stops(d) == [1, 0]  # the cheap direction
    assert order_stops(d, start=0) == [0, 1]
    assert order_stops(d, start=1, return_to_start=True) == [1, 0]
    line = np.abs(np.subtract.outer(np.arange(6.0), np.arange(6.0)))
    assert order_stops(line, start=0) == [0, 1, 2, 3, 4, 5]
    assert order_stops(line) in ([0, 1, 2, 3, 4, 5], [5, 4, 3, 2, 1, 0])
    for bad in ([[0.0, np.inf], [1.0, 0.0]], [[0.0, -1.0], [1.0, 0.0]], np.zeros((2, 3))):
        with pytest.raises(GeoValidationError, match="dist"):
            order_stops(bad)
    with pytest.raises(GeoValidationError, match="start"):
        order_stops(line, start=6)


def test_distance_matrix_matches_facility_queries_and_flags_unreachable(graph) -> None:
    g = graph("liechtenstein", "drive")
    rng = np.random.default_rng(8)
    _, _, x, y = _edge_points(g, rng, 7)
    lost = np.flatnonzero(~g.in_largest_component[g.edge_u])[0]
    island = _at(g, lost, 0.5)
    x, y = np.append(x, island[0]), np.append(y, island[1])
    matrix = g.distance_matrix(x, y)
    assert (np.diag(matrix.cost) == 0).all()
    for i in range(7):
        row = FacilityIndex.build(g, [x[i]], [y[i]]).query(x[:7], y[:7]).cost[:, 0]
        np.testing.assert_allclose(matrix.cost[i, :7], row, atol=1e-6)
    assert not matrix.straight_line[:7, :7].any()
    assert matrix.straight_line[7, :7].all() and matrix.straight_line[:7, 7].all()
    straight = np.hypot(x[7] - x[:7], y[7] - y[:7]) * matrix.penalty
    np.testing.assert_allclose(matrix.cost[7, :7], straight)
    order = order_stops(matrix.cost, start=0, return_to_start=True)
    assert order[0] == 0 and sorted(order) == list(range(8))
    assert not np.allclose(matrix.cost, matrix.cost.T)  # one-way streets


# --- bad input ----------------------------------------------------------------------------------------------


def test_bad_input_is_rejected_with_the_argument_named(graph) -> None:
    roads = _roads("liechtenstein")
    with pytest.raises(GeoValidationError, match="projected CRS in metres") as info:
        RoadGraph.from_lines(roads.to_crs("EPSG:4326"))
    assert info.value.problems[0].field == "lines" and "WGS 84" in str(info.value)
    with pytest.raises(GeoValidationError, match="no rows") as info:
        RoadGraph.from_lines(roads.iloc[:0])
    with pytest.raises(GeoValidationError, match="'bike'") as info:
        RoadGraph.from_lines(roads, profile="bike")
    assert info.value.problems[0].field == "profile"
    with pytest.raises(GeoValidationError, match=r"speeds_kmh\['primary'\].*-5"):
        RoadGraph.from_lines(roads, profile="drive", speeds_kmh={"primary": -5})
    with pytest.raises(GeoValidationError, match="no road of the 'drive' profile"):
        RoadGraph.from_lines(roads[roads.highway == "footway"], profile="drive")
    with pytest.raises(GeoValidationError, match="LineStrings"):
        RoadGraph.from_lines(
            gpd.GeoDataFrame({"highway": ["primary"]}, geometry=[shapely.Point(0, 0)], crs="EPSG:32632")
        )
    g = graph("liechtenstein", "drive")
    x, y = g.node_x[:2], g.node_y[:2]
    for kwargs, name in (
        ({"weight": "speed"}, "weight"),
        ({"direction": "up"}, "direction"),
        ({"max_snap_m": -1}, "max_snap_m"),
    ):
        with pytest.raises(GeoValidationError, match=name) as info:
            FacilityIndex.build(g, x, y, **kwargs)
        assert info.value.problems[0].field == name
    with pytest.raises(GeoValidationError, match="facility_y has 1 values"):
        FacilityIndex.build(g, x, y[:1])
    with pytest.raises(GeoValidationError, match="max_snap_m") as info:
        FacilityIndex.build(g, [x[0], x[0] - 9000.0], [y[0], y[0]])
    assert info.value.problems[0].feature_id == 1
    index = FacilityIndex.build(g, x, y)
    with pytest.raises(GeoValidationError, match="facility must be an index"):
        index.route(x[0], y[0], 5)
    with pytest.raises(GeoValidationError, match="weight"):
        g.distance_matrix(x, y, weight="fuel")
