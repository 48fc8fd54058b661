"""Tests of geo.assign: bulk point-in-polygon must give exactly what geopandas.sjoin gives.

The reference is ``sjoin(points, polygons, predicate="intersects")`` keeping the lowest polygon position per
point (the documented edge rule), -1 for none.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from geo.assign import PolygonIndex, assign_points, build_polygon_index
from geo.errors import GeoValidationError
from tests.conftest import shared_file, shared_scope


def reference(points: gpd.GeoSeries | np.ndarray, polygons: gpd.GeoSeries | np.ndarray) -> np.ndarray:
    """sjoin, predicate="intersects" (covers, for points): lowest polygon position per point, -1 for none."""
    left = gpd.GeoDataFrame(geometry=gpd.GeoSeries(np.asarray(points, dtype=object)).reset_index(drop=True))
    right = gpd.GeoDataFrame(
        geometry=gpd.GeoSeries(np.asarray(polygons, dtype=object)).reset_index(drop=True)
    )
    joined = gpd.sjoin(left, right, predicate="intersects", how="left")
    lowest = joined["index_right"].fillna(-1).astype(np.int64).groupby(level=0).min()
    return lowest.reindex(range(len(left)), fill_value=-1).to_numpy()


def fishnet(nx: int, ny: int, size: float = 10.0) -> np.ndarray:
    x, y = np.meshgrid(np.arange(nx) * size, np.arange(ny) * size)
    return shapely.box(x.ravel(), y.ravel(), x.ravel() + size, y.ravel() + size)


def boundary_points(polygons: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Vertices, edge midpoints and points along edges of ``polygons``: on a boundary, or within rounding."""
    coords = shapely.get_coordinates(polygons)
    i = rng.integers(0, len(coords) - 1, n)
    t = rng.uniform(0, 1, n)[:, None]
    return np.concatenate(
        (
            coords[rng.integers(0, len(coords), n)],
            (coords[i] + coords[i + 1]) / 2,
            coords[i] + t * (coords[i + 1] - coords[i]),
        )
    )


def test_fishnet_edges_and_corners_follow_the_lowest_position_rule() -> None:
    cells = fishnet(2, 2)  # 0: (0,0)-(10,10), 1: (10,0)-(20,10), 2: (0,10)-(10,20), 3: (10,10)-(20,20)
    x = np.array([5.0, 15.0, 10.0, 10.0, 5.0, 10.0, 0.0, 20.0, 20.0, -0.001, 25.0, np.nan])
    y = np.array([5.0, 15.0, 5.0, 15.0, 10.0, 10.0, 0.0, 20.0, 5.0, 5.0, 5.0, 5.0])
    expected = [0, 3, 0, 2, 0, 0, 0, 3, 1, -1, -1, -1]
    assert build_polygon_index(cells).query_xy(x, y).tolist() == expected
    assert reference(shapely.points(x, y), cells).tolist() == expected


@pytest.mark.parametrize("cell_size", [None, 0.3, 1.0, 3.7, 10.0, 50.0])
def test_fishnet_matches_sjoin_for_any_bucket_size(cell_size: float | None) -> None:
    rng = np.random.default_rng(1)
    cells = fishnet(13, 7, size=7.5)
    points = np.concatenate(
        (
            rng.uniform(-20, 120, (20_000, 2)),
            boundary_points(cells, 3000, rng),
            np.round(rng.uniform(-5, 100, (3000, 2)) / 7.5) * 7.5,
        )
    )  # grid nodes
    ours = assign_points(shapely.points(points), cells, cell_size=cell_size)
    assert np.array_equal(ours, reference(shapely.points(points), cells))


def voronoi(area: shapely.Geometry, n: int, rng: np.random.Generator) -> np.ndarray:
    minx, miny, maxx, maxy = area.bounds
    seeds = rng.uniform((minx, miny), (maxx, maxy), (n * 3, 2))
    seeds = seeds[shapely.contains_xy(area, seeds[:, 0], seeds[:, 1])][:n]
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=area.envelope))
    cells = shapely.intersection(cells, area)
    return cells[~shapely.is_empty(cells)]


@pytest.fixture(scope=shared_scope)
def liechtenstein_cells() -> gpd.GeoSeries:
    from geo.osm import read_osm

    city = read_osm(shared_file("osm/liechtenstein_2015.osm.pbf"))
    country = city.boundaries.loc[city.boundaries["admin_level"] == 2].to_crs("EPSG:32632").geometry.iloc[0]
    cells = voronoi(country, 3000, np.random.default_rng(5))
    return gpd.GeoSeries(cells, crs="EPSG:32632")


def test_voronoi_cells_over_liechtenstein_match_sjoin(liechtenstein_cells: gpd.GeoSeries) -> None:
    rng = np.random.default_rng(2)
    minx, miny, maxx, maxy = liechtenstein_cells.total_bounds
    xy = np.concatenate(
        (
            rng.uniform((minx, miny), (maxx, maxy), (100_000, 2)),
            boundary_points(np.asarray(liechtenstein_cells.array), 10_000, rng),
        )
    )
    points = gpd.GeoSeries(shapely.points(xy), crs=liechtenstein_cells.crs)
    expected = reference(points, liechtenstein_cells)
    assert (expected == -1).any() and (expected >= 0).mean() > 0.3
    for index in (
        build_polygon_index(liechtenstein_cells),
        build_polygon_index(liechtenstein_cells, cell_size=20.0),
    ):
        assert np.array_equal(index.query(points), expected)
        assert np.array_equal(index.query_xy(xy[:, 0], xy[:, 1]), expected)
    # In WGS-84 degrees too (planar, as sjoin): the same cells, other coordinates.
    wgs = liechtenstein_cells.to_crs("EPSG:4326")
    points_wgs = points.to_crs("EPSG:4326")
    assert np.array_equal(assign_points(points_wgs, wgs), reference(points_wgs, wgs))


def test_holes_multipolygons_and_overlaps() -> None:
    rng = np.random.default_rng(3)
    ring = shapely.Polygon(
        [(200, 0), (300, 0), (300, 100), (200, 100)], [[(220, 20), (280, 20), (280, 80), (220, 80)]]
    )
    polygons = np.array(
        [
            shapely.box(10, 10, 10.3, 90),  # 0: a strip narrower than a bucket, inside 1
            shapely.box(0, 0, 100, 100),  # 1
            shapely.box(50, 50, 150, 150),  # 2: overlaps 1
            ring,  # 3: a hole …
            shapely.MultiPolygon(
                [shapely.box(230, 30, 240, 40), shapely.box(260, 60, 270, 70)]
            ),  # 4: … in the hole
            None,  # 5: missing
            shapely.Polygon(),  # 6: empty
            shapely.box(225, 25, 275, 75),  # 7: in the hole, over 4
        ],
        dtype=object,
    )
    xy = np.concatenate(
        (
            rng.uniform((-10, -10), (310, 160), (50_000, 2)),
            rng.uniform((9.9, 0), (10.4, 100), (5000, 2)),
            boundary_points(polygons[[0, 1, 2, 3, 4, 7]], 2000, rng),
        )
    )
    points = shapely.points(xy)
    expected = reference(points, polygons)
    assert {0, 1, 2, 3, 4, 7} <= set(expected.tolist()) and -1 in expected
    for cell_size in (None, 0.7, 3.3, 17.0):
        assert np.array_equal(assign_points(points, polygons, cell_size=cell_size), expected)
    # A point inside the hole, but in no polygon filling it, is in none.
    assert assign_points(shapely.points([[250, 50], [221, 21]]), polygons).tolist() == [7, -1]


def test_missing_empty_and_outside_points_get_minus_one() -> None:
    cells = fishnet(3, 3)
    points = gpd.GeoSeries(
        [
            shapely.Point(5, 5),
            None,
            shapely.Point(),
            shapely.Point(1e9, 5),
            shapely.Point(np.nan, 5),
            shapely.Point(-5, -5),
        ]
    )
    assert assign_points(points, cells).tolist() == [0, -1, -1, -1, -1, -1]


def test_empty_inputs() -> None:
    cells = fishnet(2, 2)
    assert assign_points(gpd.GeoSeries([], dtype="geometry"), cells).shape == (0,)
    assert build_polygon_index(cells).query_xy([], []).dtype == np.int64
    nothing = build_polygon_index(gpd.GeoSeries([], dtype="geometry"))
    assert nothing.query_xy([1.0, 2.0], [1.0, 2.0]).tolist() == [-1, -1]
    only_missing = build_polygon_index(np.array([None, shapely.Polygon()], dtype=object))
    assert only_missing.query_xy([0.0], [0.0]).tolist() == [-1]


def test_an_index_is_built_once_and_reused() -> None:
    rng = np.random.default_rng(4)
    cells = fishnet(10, 10)
    index = build_polygon_index(cells)
    assert isinstance(index, PolygonIndex) and 0 < index.boundary_share < 1
    for _ in range(3):
        xy = rng.uniform(-5, 105, (1000, 2))
        assert np.array_equal(assign_points(shapely.points(xy), index), reference(shapely.points(xy), cells))


def test_bad_inputs_are_reported() -> None:
    cells = gpd.GeoSeries(fishnet(2, 2), crs="EPSG:32632")
    with pytest.raises(GeoValidationError) as caught:
        build_polygon_index(
            np.array([shapely.box(0, 0, 1, 1), shapely.LineString([(0, 0), (1, 1)])]), cell_size=-1
        )
    assert {p.field for p in caught.value.problems} == {"polygons", "cell_size"}
    assert "position 1" in str(caught.value)
    with pytest.raises(GeoValidationError, match="shapely geometries"):
        build_polygon_index([1, 2])
    with pytest.raises(GeoValidationError, match="finite"):
        build_polygon_index(np.array([shapely.Polygon([(0, 0), (np.inf, 0), (1, 1)])]))
    with pytest.raises(GeoValidationError, match="max_buckets"):
        build_polygon_index(cells, cell_size=1e-3)
    with pytest.raises(GeoValidationError, match="points") as caught:
        assign_points(gpd.GeoSeries([shapely.box(0, 0, 1, 1)], crs="EPSG:32632"), cells)
    with pytest.raises(GeoValidationError, match="EPSG:4326") as caught:
        assign_points(gpd.GeoSeries([shapely.Point(0, 0)], crs="EPSG:4326"), cells)
    assert caught.value.problems[0].field == "points"
    for per in (0, 2.5, True):
        with pytest.raises(GeoValidationError, match="buckets_per_polygon") as caught:
            build_polygon_index(cells, buckets_per_polygon=per)  # type: ignore[arg-type]
        assert caught.value.problems[0].field == "buckets_per_polygon"
    big = fishnet(30, 30)
    assert build_polygon_index(big, buckets_per_polygon=400).labels.size > build_polygon_index(big).labels.size
    index = build_polygon_index(cells)
    with pytest.raises(GeoValidationError) as caught:
        index.query_xy([1.0, 2.0], [1.0])
    assert caught.value.problems[0].field == "y"
    with pytest.raises(GeoValidationError):
        index.query_xy([[1.0]], [[1.0]])


def lattice_tessellation(n: int, offset: float, rng: np.random.Generator) -> np.ndarray:
    """Voronoi cells of ``n`` seeds in a 1000 × 700 box at ``offset``, vertices snapped to whole units (so
    points exactly on an edge can be written down), every other cell's rings reversed (clockwise shells), and
    one cell with a hole holding another polygon."""
    seeds = rng.uniform((0, 0), (1000, 700), (n, 2))
    area = shapely.box(0, 0, 1000, 700)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=area))
    cells = shapely.set_precision(shapely.intersection(cells, area), 1.0)
    cells = cells[~shapely.is_empty(cells) & (shapely.get_type_id(cells) == 3)]
    cells[::2] = shapely.reverse(cells[::2])
    # The cell holding (500, 350) gets a hole; the hole is filled by a last polygon (its edges shared).
    hole = shapely.box(480, 330, 520, 370)
    host = int(np.flatnonzero(shapely.contains_xy(cells, 500.0, 350.0))[0])
    cells[host] = shapely.difference(cells[host], hole)
    cells = np.append(cells, shapely.reverse(hole))
    return shapely.transform(cells, lambda xy: xy + offset)


def points_on_edges(cells: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Points exactly on edges (whole-unit lattice points of the snapped edges), on vertices, within 1e-12
    (relative) of edges on either side, one float step off the on-edge points, and anywhere along edges."""
    coords, ring = shapely.get_coordinates(shapely.get_rings(shapely.get_parts(cells)), return_index=True)
    same = ring[1:] == ring[:-1]
    a, b = coords[:-1][same], coords[1:][same]
    d = b - a
    steps = np.gcd(np.abs(d[:, 0]).astype(np.int64), np.abs(d[:, 1]).astype(np.int64))
    which = np.concatenate([np.flatnonzero(k < steps) for k in range(1, 4)])
    k = np.concatenate([np.full(np.count_nonzero(k < steps), k) for k in range(1, 4)])
    on_edges = a[which] + d[which] * (k / steps[which])[:, None]
    # Exactly on their edges (GEOS decides a point on a segment exactly).
    segments = shapely.linestrings(np.stack((a[which], b[which]), axis=1))
    assert on_edges.size and shapely.intersects(segments, shapely.points(on_edges)).all()
    normal = np.column_stack((-d[which, 1], d[which, 0]))
    normal /= np.hypot(normal[:, 0], normal[:, 1])[:, None]
    scale = np.abs(on_edges).max(axis=1, keepdims=True)
    near = [on_edges + sign * 1e-12 * scale * normal for sign in (-1.0, 1.0)]
    nudged = [np.nextafter(on_edges, toward) for toward in (-np.inf, np.inf)]
    along = a + rng.uniform(0, 1, (len(a), 1)) * d
    return np.concatenate((on_edges, coords, *near, *nudged, along))


@pytest.mark.parametrize("offset", [0.0, 0.125, 2.0**22])  # shifts that keep the lattice points exact
def test_voronoi_points_on_and_near_shared_edges_and_vertices_match_sjoin(offset: float) -> None:
    rng = np.random.default_rng(6)
    cells = lattice_tessellation(400, offset, rng)
    assert shapely.is_valid(cells).all()
    edges = points_on_edges(cells, rng)
    xy = np.concatenate((edges, rng.uniform(-20, 1020, (30_000, 2)) + offset))
    points = shapely.points(xy)
    expected = reference(points, cells)
    assert (expected == -1).any() and (expected == cells.size - 1).any()  # outside; in the filled hole
    # Many of them are covered by two or more cells (on a shared edge or vertex): the lowest must win.
    on_shared = shapely.STRtree(cells).query(points[: len(edges)], predicate="intersects")[0]
    assert (np.bincount(on_shared, minlength=len(edges)) >= 2).sum() > 1000
    for cell_size in (None, 3.0, 7.7, 40.0):
        index = build_polygon_index(cells, cell_size=cell_size)
        assert np.array_equal(index.query_xy(xy[:, 0], xy[:, 1]), expected)
        assert np.array_equal(index.query(points), expected)


def bucket_boxes(index: PolygonIndex, touched_ids: np.ndarray) -> np.ndarray:
    """The squares of the k-th touched buckets (k in ``touched_ids``)."""
    flat = np.flatnonzero(index.labels <= -2)[touched_ids]  # touched buckets in row-major order = k order
    rows, cols = np.divmod(flat, index.shape[1])
    x0, y0 = index.origin
    return shapely.box(x0 + cols * index.cell, y0 + rows * index.cell,
                       x0 + (cols + 1) * index.cell, y0 + (rows + 1) * index.cell)


@pytest.mark.parametrize("offset", [0.0, 2.0**22])
def test_a_closed_bucket_is_covered_by_its_listed_polygons(offset: float) -> None:
    """PolygonIndex.closed lets a point that none of a bucket's polygons but the last holds go to the last one
    untested: every closed bucket must lie within the union of its listed polygons, the tessellation's outer
    edge and the edges of a hole without a polygon in it must not close a bucket, and most touched buckets of a
    tessellation are closed (else the shortcut does nothing)."""
    rng = np.random.default_rng(7)
    cells = lattice_tessellation(400, offset, rng)
    # Streets between blocks: gaps whose edges end shared edges (a bucket wholly in a street, listed only for a
    # shared edge's piece whose bounding box overlaps it, once passed for closed).
    streets = shapely.union_all(shapely.buffer(shapely.linestrings(
        [[(0, 90), (1000, 610)], [(0, 500), (1000, 120)], [(333, 0), (333, 700)], [(0, 351.5), (1000, 351.5)]]
    ), 3.0))
    streets = shapely.transform(streets, lambda xy: xy + offset)
    blocks = shapely.difference(cells, streets)
    blocks = blocks[~shapely.is_empty(blocks)]
    for polygons, cell_size, share in ((cells, 4.0, 0.8), (np.delete(cells, -1), 4.0, 0.8),
                                       (blocks, 4.0, 0.5), (blocks, 1.3, 0.5)):
        index = build_polygon_index(polygons, cell_size=cell_size)
        assert index.closed.mean() > share
        in_streets = shapely.points(rng.uniform(-5, 1005, (20_000, 2)) + offset)
        in_streets = in_streets[shapely.intersects(streets, in_streets)]
        assert np.array_equal(index.query(in_streets), reference(in_streets, polygons))
        closed = np.flatnonzero(index.closed)
        boxes = bucket_boxes(index, closed)
        listed = index.slots[closed]
        unions = np.array([shapely.union_all(polygons[row[row >= 0]]) for row in listed], dtype=object)
        assert shapely.covers(unions, boxes).all()
        # Buckets across the outer edge, a street's edge or (when empty) the hole's edge are open.
        edge = shapely.boundary(shapely.union_all(polygons))
        across = shapely.intersects(bucket_boxes(index, np.arange(index.closed.size)), edge)
        assert across.any() and not index.closed[across].any()


def test_an_edge_shared_by_two_polygons_on_the_same_side_closes_no_bucket() -> None:
    """Two polygons whose rings share an edge with both interiors on the same side (one inside the other): the
    other side of that edge is outside both, so the edge is one-sided and its buckets stay open (a rule that
    only matched end points would send the outside points to the second polygon)."""
    polygons = np.array([shapely.box(0, 0, 10, 10), shapely.box(0, 0, 5, 10), shapely.box(-10, 20, 0, 30)])
    rng = np.random.default_rng(8)
    xy = np.concatenate((rng.uniform((-2, -1), (12, 31), (20_000, 2)), rng.uniform((-0.5, 0), (0, 10), (5000, 2))))
    points = shapely.points(xy)
    expected = reference(points, polygons)
    assert (expected[-5000:] == -1).all()
    for cell_size in (0.3, 1.0, 4.0):
        index = build_polygon_index(polygons, cell_size=cell_size)
        assert not index.closed.any()
        assert np.array_equal(index.query(points), expected)


def test_two_threads_give_the_one_threads_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Large builds and queries run on two threads (each query half with its own prepared copy of the
    polygons): the same answers as one thread, and a forked child (dask, multiprocessing) can still use them."""
    import multiprocessing

    import geo.assign

    rng = np.random.default_rng(9)
    cells = lattice_tessellation(3000, 0.0, rng)
    xy = np.concatenate((rng.uniform(-20, 1020, (150_000, 2)), points_on_edges(cells, rng)))
    points = shapely.points(xy)
    monkeypatch.setattr(geo.assign, "THREADS", 1)
    alone = assign_points(points, cells)
    index = build_polygon_index(cells)
    assert not index.twin
    monkeypatch.setattr(geo.assign, "THREADS", 2)
    assert np.array_equal(assign_points(points, cells), alone)
    assert np.array_equal(index.query_xy(xy[:, 0], xy[:, 1]), alone)
    assert index.twin["polygons"] is not index.polygons  # the query really ran on two threads
    assert build_polygon_index(cells).twin  # a large build makes the copy on its second thread
    assert np.array_equal(alone, reference(points, cells))
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:
        child = pool.apply_async(_assign_in_child, (xy, cells))
        assert np.array_equal(child.get(timeout=120), alone)


def test_a_cold_assignment_reads_a_frames_points_beside_the_build(monkeypatch: pytest.MonkeyPatch) -> None:
    """A GeoDataFrame, a GeoSeries or an array of many points: their coordinates are read on the second thread
    while the index is built (a GeoDataFrame, two-dimensional, was once left out)."""
    import threading

    import geo.assign

    monkeypatch.setattr(geo.assign, "THREADS", 2)
    rng = np.random.default_rng(13)
    cells = lattice_tessellation(400, 0.0, rng)
    points = gpd.GeoSeries(shapely.points(rng.uniform(-20, 1020, (60_000, 2))))
    real = geo.assign._point_xy
    readers: list[str] = []

    def recorded(*args: object, **kw: object) -> tuple:
        readers.append(threading.current_thread().name)
        return real(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(geo.assign, "_point_xy", recorded)
    expected = reference(points, cells)
    for given in (points, gpd.GeoDataFrame(geometry=points), np.asarray(points.array)):
        readers.clear()
        assert np.array_equal(assign_points(given, cells), expected)
        assert len(readers) == 1 and readers[0].startswith("geo-assign"), readers


def _assign_in_child(xy: np.ndarray, cells: np.ndarray) -> np.ndarray:
    import geo.assign

    geo.assign.THREADS = 2
    return assign_points(shapely.points(xy), cells)


def test_a_bucket_in_a_gap_listed_only_for_a_shared_edge_is_not_closed() -> None:
    """Buckets of side 1 on whole-number lines. Polygons 0 and 1 share the edge (1.5, 0.3)–(2.4, 1.2), whose
    bounding box overlaps the bucket [1, 2) × [1, 2) although the edge stays 0.14 away from it; that bucket lies
    wholly outside both, and no one-sided edge's bounding box overlaps it. Its points must get -1, not the last
    polygon listed for it."""
    polygons = np.array([
        shapely.Polygon([(1.5, 0.3), (2.4, 0.3), (2.4, 1.2)]),  # right of the shared edge
        shapely.Polygon([(1.5, 0.3), (2.4, 1.2), (2.05, 0.99)]),  # left of it, a thin triangle below the bucket
        shapely.box(-10, -10, -9.8, -9.8),  # far away: puts the bucket lines on whole numbers
    ])
    index = build_polygon_index(polygons, cell_size=1.0)
    assert index.origin == (-11.0, -11.0)
    rng = np.random.default_rng(10)
    points = shapely.points(rng.uniform((1.0, 1.0), (2.0, 2.0), (2000, 2)))
    assert index.labels[index.shape[1] * 12 + 12] <= -2  # the bucket is listed (for the shared edge only)
    assert (reference(points, polygons) == -1).all()
    assert (index.query(points) == -1).all()


@pytest.mark.parametrize("threads", [1, 2])
def test_two_callers_of_one_index_never_test_one_polygon_at_once(
    monkeypatch: pytest.MonkeyPatch, threads: int
) -> None:
    """GEOS prepared geometries are not thread-safe (libgeos/geos#825) and a web server queries its cached
    indexes from several threads: the exact tests of two callers (and of a query's two halves) must never use the
    same polygon object at the same time."""
    import threading
    import time

    import geo.assign

    monkeypatch.setattr(geo.assign, "THREADS", threads)
    rng = np.random.default_rng(11)
    cells = lattice_tessellation(400, 0.0, rng)
    index = build_polygon_index(cells, cell_size=5.0)
    xy = rng.uniform(-20, 1020, (120_000, 2))
    expected = reference(shapely.points(xy[:2000]), cells)
    real = shapely.intersects_xy
    in_use: set[int] = set()
    guard = threading.Lock()
    clashes = []

    def watched(polygons: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        mine = set(map(id, polygons))
        with guard:
            if mine & in_use:
                clashes.append(len(mine & in_use))
            in_use.update(mine)
        time.sleep(0.02)  # long enough for another caller to come in
        try:
            return real(polygons, x, y)
        finally:
            with guard:
                in_use.difference_update(mine)

    monkeypatch.setattr(shapely, "intersects_xy", watched)
    answers: list[np.ndarray] = []
    callers = [threading.Thread(target=lambda: answers.append(index.query_xy(xy[:, 0], xy[:, 1])))
               for _ in range(3)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()
    assert not clashes
    assert len(answers) == 3 and all(np.array_equal(a[:2000], expected) for a in answers)


def test_a_pickled_index_answers_the_same_with_prepared_polygons() -> None:
    """dask ships an index to its workers pickled: it must come back with its polygons prepared again, a lock of
    its own and no second copy."""
    import pickle

    rng = np.random.default_rng(12)
    cells = lattice_tessellation(400, 0.0, rng)
    index = build_polygon_index(cells)
    index.twin["polygons"] = cells
    again = pickle.loads(pickle.dumps(index))
    assert shapely.is_prepared(again.polygons).all() and not again.twin and again.lock is not index.lock
    xy = rng.uniform(-20, 1020, (20_000, 2))
    assert np.array_equal(again.query_xy(xy[:, 0], xy[:, 1]), index.query_xy(xy[:, 0], xy[:, 1]))
