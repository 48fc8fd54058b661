"""Tests of the fast paths behind the two performance goals (issue 23, item 6): each must decide exactly what
the straightforward path decides, on edges, holes, multipolygons, ties and empty inputs.

- geo.tracks.track_vertices: the vertices of tracks_to_lines without building lines;
- geo.coverage: groups of street pieces settled by one k-d tree search, the fine grid index of prepared
  coverage, and track-end lookups that reuse the previous piece's end;
- geo.assign: point coordinates read before kinds are checked, and slots sorted by a sorting network.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from scipy.spatial import cKDTree

import geo.coverage.track as track_module
from geo.assign import assign_points, build_polygon_index
from geo.coverage import grid_coverage, prepare_coverage
from geo.coverage.measure import _grids_of_ends
from geo.coverage.streets import _fine_index
from geo.coverage.track import Track, build_track, near_track
from geo.errors import GeoValidationError
from geo.tracks import track_vertices, tracks_to_lines

METRIC = "EPSG:32632"
X0, Y0 = 539_000.0, 5_221_000.0  # Vaduz, in UTM 32N
TO_WGS84 = pyproj.Transformer.from_crs(METRIC, "EPSG:4326", always_xy=True)
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def random_fixes(rng: np.random.Generator, n: int = 600) -> pd.DataFrame:
    """Shuffled fixes of 12 patrols (one with a single fix, one without a key), ties in time, some flagged."""
    patrol = rng.choice([f"p{i:02d}" for i in range(11)], n)
    patrol[:1] = "lonely"
    x = X0 + rng.uniform(0, 2000, n)
    y = Y0 + rng.uniform(0, 2000, n)
    lon, lat = TO_WGS84.transform(x, y)
    seconds = rng.integers(0, 300, n)  # many equal times: ties keep row order
    frame = pd.DataFrame(
        {
            "patrol_id": patrol.astype(object),
            "time": [START + timedelta(seconds=int(s)) for s in seconds],
            "lon": lon,
            "lat": lat,
            "flag": ["speed" if u < 0.1 else None for u in rng.uniform(size=n)],
        }
    )
    frame.loc[rng.choice(n, 20, replace=False), "patrol_id"] = None
    return frame


# --- track_vertices -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("flag", ["flag", None])
def test_track_vertices_are_the_vertices_of_tracks_to_lines(flag: str | None) -> None:
    frame = random_fixes(np.random.default_rng(1))
    lines = tracks_to_lines(frame, flag=flag)
    x, y, t_us, line, keys = track_vertices(frame, flag=flag)
    coords, line_of = shapely.get_coordinates(lines.geometry.to_numpy(), return_index=True)
    assert np.array_equal(np.column_stack((x, y)), coords)
    assert np.array_equal(line, line_of)
    assert keys.tolist() == lines["patrol_id"].tolist()
    assert "lonely" not in keys.tolist()
    first = np.r_[0, np.flatnonzero(np.diff(line)) + 1]
    assert np.array_equal(t_us[first], lines["started"].dt.as_unit("us").astype("int64").to_numpy())


def test_track_vertices_empty_and_bad_input_as_tracks_to_lines() -> None:
    frame = random_fixes(np.random.default_rng(2))
    x, y, t_us, line, keys = track_vertices(frame.iloc[:0])
    assert x.size == y.size == t_us.size == line.size == keys.size == 0
    bad = frame.copy()
    bad.loc[3, "lon"] = 200.0
    bad["time"] = bad["time"].astype(object)
    bad.loc[5, "time"] = datetime(2026, 3, 2, 9, 0)  # naive
    for call in (tracks_to_lines, track_vertices):
        with pytest.raises(GeoValidationError) as caught:
            call(bad)
        assert {p.field for p in caught.value.problems} == {"lon", "time"}
    with pytest.raises(GeoValidationError, match="no column 'lat'"):
        track_vertices(frame.drop(columns="lat"))


def test_integer_and_float_coordinates_are_read_alike() -> None:
    frame = pd.DataFrame(
        {"patrol_id": "a", "time": [START, START + timedelta(seconds=5)], "lon": [9, 9], "lat": [47, 47]}
    )
    x, y, *_ = track_vertices(frame, flag=None)
    assert x.dtype == np.float64 and x.tolist() == [9.0, 9.0] and y.tolist() == [47.0, 47.0]
    frame["lat"] = [47.0, np.nan]
    with pytest.raises(GeoValidationError, match="position 1"):
        track_vertices(frame, flag=None)


# --- nearness: groups settled by one search -----------------------------------------------------------------


def _without_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(track_module, "_settle_groups", lambda tree, mid, *a: np.arange(len(mid)))


def _street_points(rng: np.random.Generator) -> np.ndarray:
    """1 m pieces' midpoints along random polylines (consecutive points are neighbours) plus scattered ones."""
    runs = []
    for _ in range(40):
        start = rng.uniform(0, 300, 2)
        heading = rng.uniform(0, 2 * np.pi)
        steps = np.arange(rng.integers(1, 60)) + 0.5
        runs.append(start + steps[:, None] * [np.cos(heading), np.sin(heading)])
    return np.concatenate(runs + [rng.uniform(-50, 350, (300, 2))])


def _track(a: np.ndarray, b: np.ndarray) -> Track:
    n = len(a)
    return Track(a, b, np.zeros(n), np.ones(n), np.zeros(n, dtype=np.int64), np.array(["p"], dtype=object))


@pytest.mark.parametrize("distance", [3.0, 10.0, 25.0])
def test_grouped_search_decides_as_the_search_per_point(
    distance: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(int(distance))
    mid = _street_points(rng)
    a = rng.uniform(0, 300, (400, 2))
    track = _track(a, a + rng.uniform(-6, 6, (400, 2)))
    tree = cKDTree(track.mid)
    grouped = near_track(tree, track, mid, distance)
    # Brute force, away from the edge of the distance (where rounding could go either way).
    ab = track.b - track.a
    ap = mid[:, None, :] - track.a[None]
    t = np.clip((ap * ab).sum(-1) / (ab * ab).sum(-1), 0, 1)
    d = np.hypot(*(ap - t[..., None] * ab).transpose(2, 0, 1)).min(axis=1)
    clear = np.abs(d - distance) > 1e-6
    assert np.array_equal(grouped[clear], d[clear] <= distance)
    assert 0 < grouped.sum() < grouped.size
    _without_groups(monkeypatch)
    assert np.array_equal(near_track(tree, track, mid, distance), grouped)


def test_points_exactly_at_the_distance_are_covered_in_groups_too(monkeypatch: pytest.MonkeyPatch) -> None:
    # Eight points on a line exactly 25 m from a horizontal track piece, one 1 mm farther.
    track = _track(np.array([[0.0, 0.0]]), np.array([[20.0, 0.0]]))
    mid = np.column_stack((np.arange(9.0) * 2, np.r_[np.full(8, 25.0), 25.001]))
    tree = cKDTree(track.mid)
    expected = [True] * 8 + [False]
    assert near_track(tree, track, mid, 25.0).tolist() == expected
    _without_groups(monkeypatch)
    assert near_track(tree, track, mid, 25.0).tolist() == expected


def test_grouped_search_on_few_or_no_points() -> None:
    track = _track(np.array([[0.0, 0.0]]), np.array([[5.0, 0.0]]))
    tree = cKDTree(track.mid)
    assert near_track(tree, track, np.empty((0, 2)), 25.0).tolist() == []
    assert near_track(tree, track, np.array([[1.0, 24.0], [1.0, 26.0]]), 25.0).tolist() == [True, False]


# --- grids of track ends, fine grid index -------------------------------------------------------------------


def _grid_scene() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Grids with a shared edge, a hole, a multipolygon and an empty one; points on edges and vertices."""
    ring = shapely.Polygon(
        [(200, 0), (300, 0), (300, 100), (200, 100)], [[(220, 20), (280, 20), (280, 80), (220, 80)]]
    )
    grids = np.array(
        [
            shapely.box(0, 0, 100, 100),
            shapely.box(100, 0, 200, 100),  # shares x = 100 with 0 and x = 200 with 2
            ring,
            shapely.MultiPolygon([shapely.box(230, 30, 240, 40), shapely.box(260, 60, 270, 70)]),
            shapely.Polygon(),
        ],
        dtype=object,
    )
    rng = np.random.default_rng(5)
    coords = shapely.get_coordinates(grids)
    xy = np.concatenate(
        (
            rng.uniform((-10, -10), (310, 110), (3000, 2)),
            coords,
            (coords[:-1] + coords[1:]) / 2,
            np.column_stack((np.full(50, 100.0), rng.uniform(0, 100, 50))),
        )
    )
    return grids, xy[:, 0], xy[:, 1]


@pytest.mark.parametrize("scale", [1.0, 100.0])
def test_fine_grid_index_answers_as_the_default_index(scale: float) -> None:
    grids, x, y = _grid_scene()
    grids = shapely.transform(grids, lambda c: c * scale)
    x, y = x * scale, y * scale
    expected = build_polygon_index(grids).query_xy(x, y)
    fine = _fine_index(grids)
    default_size = build_polygon_index(grids).labels.size
    assert fine.labels.size > default_size if scale > 1 else fine.labels.size >= default_size
    assert np.array_equal(fine.query_xy(x, y), expected)
    assert {0, 1, 2, 3, -1} <= set(expected.tolist())
    assert _fine_index(np.array([None, shapely.Polygon()], dtype=object)).query_xy([0.0], [0.0]).tolist() == [-1]


def test_track_end_lookups_reuse_the_previous_piece() -> None:
    grids, x, y = _grid_scene()
    index = build_polygon_index(grids)

    class Scene:  # what _grids_of_ends reads of the targets
        grid_index = index

    # A walk through vertices and along the shared edge (x = 100), pieces that jump (b != next a) included.
    xy = np.column_stack((x, y))[-120:]
    a, b = xy[:-1].copy(), xy[1:].copy()
    b[::7] += 0.5  # these pieces end where the next one does not start
    ga, gb = _grids_of_ends(Scene, _track(a, b))  # type: ignore[arg-type]
    assert np.array_equal(ga, index.query_xy(a[:, 0], a[:, 1]))
    assert np.array_equal(gb, index.query_xy(b[:, 0], b[:, 1]))
    empty = _grids_of_ends(Scene, _track(np.empty((0, 2)), np.empty((0, 2))))  # type: ignore[arg-type]
    assert empty[0].size == empty[1].size == 0


# --- grid_coverage end to end -------------------------------------------------------------------------------


def test_grid_coverage_is_the_same_with_and_without_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(7)
    cells = gpd.GeoDataFrame(
        {"code": ["w", "e"]},
        geometry=[shapely.box(X0, Y0, X0 + 1000, Y0 + 2000), shapely.box(X0 + 1000, Y0, X0 + 2000, Y0 + 2000)],
        crs=METRIC,
    )
    starts = rng.uniform((X0, Y0), (X0 + 2000, Y0 + 2000), (60, 2))
    ends = starts + rng.uniform(-600, 600, (60, 2))
    streets = gpd.GeoDataFrame(
        {"osm_id": np.arange(60), "name": "s", "highway": "residential"},
        geometry=shapely.linestrings(np.stack((starts, ends), axis=1)),
        crs=METRIC,
    )
    base = prepare_coverage(cells, streets)
    fixes = random_fixes(rng, 1500)
    result = grid_coverage(base, fixes)
    track = build_track(
        fixes, base.targets.crs, piece_m=6.25, period=None, by="patrol_id", time="time", lon="lon",
        lat="lat", flag="flag",
    )
    assert track.size > 0 and 0 < result.grids["covered_m"].sum() < result.grids["street_m"].sum()
    _without_groups(monkeypatch)
    plain = grid_coverage(base, fixes)
    pd.testing.assert_frame_equal(result.grids, plain.grids)
    pd.testing.assert_frame_equal(result.streets, plain.streets)


# --- assign: coordinates first, kinds where there are none --------------------------------------------------


def test_non_points_are_still_reported_by_position() -> None:
    cells = np.array([shapely.box(0, 0, 10, 10)], dtype=object)
    points = np.array(
        [
            shapely.Point(1, 1),
            shapely.LineString([(0, 0), (1, 1)]),
            shapely.LineString(),
            shapely.MultiPoint([(1, 1)]),
            None,
            shapely.Point(),
            shapely.Point(np.nan, 1),
            shapely.GeometryCollection([shapely.Point(1, 1)]),
        ],
        dtype=object,
    )
    with pytest.raises(GeoValidationError) as caught:
        assign_points(points, cells)
    assert "positions 1, 2, 3, 7 are not" in str(caught.value)
    fine = points[[0, 4, 5, 6]]
    assert assign_points(fine, cells).tolist() == [0, -1, -1, -1]


def test_buckets_touched_by_many_polygons_in_any_order() -> None:
    # Thin triangles fanning out of one vertex, listed in shuffled order: up to 4 slots per bucket, sorted,
    # and buckets with more going to the STRtree.
    rng = np.random.default_rng(11)
    angles = np.linspace(0, 2 * np.pi, 13)
    tips = 50 + 40 * np.column_stack((np.cos(angles), np.sin(angles)))
    fan = [shapely.Polygon([(50, 50), tuple(p), tuple(q)]) for p, q in zip(tips[:-1], tips[1:], strict=True)]
    overlapping = [shapely.box(45, 45, 55, 55), shapely.box(48, 40, 60, 52)]
    polygons = np.array([fan[i] for i in rng.permutation(len(fan))] + overlapping, dtype=object)
    coords = shapely.get_coordinates(polygons)
    xy = np.concatenate((rng.uniform(0, 100, (20_000, 2)), rng.uniform(45, 55, (5000, 2)), coords))
    points = shapely.points(xy)
    expected = np.full(len(xy), -1)
    for position in range(len(polygons) - 1, -1, -1):
        expected[shapely.intersects(polygons[position], points)] = position
    for cell_size in (None, 0.5, 2.0, 7.0):
        index = build_polygon_index(polygons, cell_size=cell_size)
        big = np.iinfo(np.int32).max
        slots = np.where(index.slots < 0, big, index.slots)
        assert ((np.diff(slots, axis=1) > 0) | (slots[:, 1:] == big)).all()  # ascending, distinct, -1 last
        assert (index.slots[:, 1] >= 0).any()
        assert np.array_equal(index.query(points), expected)
