"""Tests of geo.coverage: street and building coverage of patrol tracks, per grid, and when last covered.

Hand-made scenes are built in metres (UTM 32N, near Vaduz) with expected answers worked out by hand; fixes are
converted to WGS-84 as phones report them. On real data (Liechtenstein streets, simulated walks) the covered
share is checked against the exact buffer-union-intersect method (geo.coverage.buffer_coverage).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from scipy import sparse

from geo.coverage import (
    EXCLUDED_HIGHWAYS,
    buffer_coverage,
    coverage_from_pieces,
    covered_pieces,
    covered_pieces_by,
    grid_coverage,
    last_covered,
    prepare_coverage,
)
from geo.coverage.measure import _SortedPoints, in_box
from geo.coverage.track import Track
from geo.errors import GeoValidationError
from geo.tracks import flag_fixes, tracks_to_lines
from tests.conftest import shared_file, shared_scope

METRIC = "EPSG:32632"
X0, Y0 = 539_000.0, 5_221_000.0  # Vaduz, in UTM 32N
TO_WGS84 = pyproj.Transformer.from_crs(METRIC, "EPSG:4326", always_xy=True)
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WALK = 1.2  # m/s


def line(*xy: tuple[float, float]) -> shapely.LineString:
    return shapely.LineString([(X0 + x, Y0 + y) for x, y in xy])


def box(x1: float, y1: float, x2: float, y2: float) -> shapely.Polygon:
    return shapely.box(X0 + x1, Y0 + y1, X0 + x2, Y0 + y2)


def streets(*lines: shapely.LineString, highway: str = "residential") -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "osm_id": np.arange(1, len(lines) + 1),
            "name": [f"street {i}" for i in range(len(lines))],
            "highway": highway,
        },
        geometry=list(lines),
        crs=METRIC,
    )


def grids(**cells: shapely.Polygon) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"code": list(cells)}, geometry=list(cells.values()), crs=METRIC)


def walk(
    *xy: tuple[float, float], patrol: str = "p1", start: datetime = START, step: float = 10.0
) -> pd.DataFrame:
    """Fixes every ``step`` m along the polyline through ``xy`` (local metres), walking at 1.2 m/s."""
    pts = np.array(xy, dtype=float)
    cum = np.r_[0.0, np.cumsum(np.hypot(*np.diff(pts, axis=0).T))]
    d = np.r_[np.arange(0.0, cum[-1], step), cum[-1]]
    x, y = np.interp(d, cum, pts[:, 0]), np.interp(d, cum, pts[:, 1])
    lon, lat = TO_WGS84.transform(X0 + x, Y0 + y)
    return pd.DataFrame(
        {
            "patrol_id": patrol,
            "time": [start + timedelta(seconds=float(s) / WALK) for s in d],
            "lon": lon,
            "lat": lat,
            "flag": None,
        }
    )


def one_grid() -> gpd.GeoDataFrame:
    return grids(G1=box(-200, -200, 300, 200))


STREET = line((0, 0), (100, 0))


# --- hand-made scenes
# ----------------------------------------------------------------------------------------


def test_parallel_track_at_20_m_covers_the_whole_street() -> None:
    base = prepare_coverage(one_grid(), streets(STREET))
    result = grid_coverage(base, walk((-50, 20), (150, 20)))
    row = result.grids.iloc[0]
    assert row["street_m"] == pytest.approx(100.0, abs=1e-6)
    assert row["covered_m"] == pytest.approx(100.0, abs=1e-6)
    assert row["coverage_pct"] == pytest.approx(100.0, abs=1e-6)
    assert result.streets["covered"].tolist() == [True]


def test_parallel_track_at_30_m_covers_nothing() -> None:
    base = prepare_coverage(one_grid(), streets(STREET))
    result = grid_coverage(base, walk((-50, 30), (150, 30)))
    assert result.grids.iloc[0]["covered_m"] == 0.0
    assert result.streets["covered"].tolist() == [False]
    assert result.streets["length_m"].sum() == pytest.approx(100.0)


def test_track_covering_half_the_street() -> None:
    # Walking along the street from far west to x = 25 covers it up to x = 50 (the 25 m round end).
    base = prepare_coverage(one_grid(), streets(STREET))
    result = grid_coverage(base, walk((-100, 0), (25, 0)))
    assert result.grids.iloc[0]["covered_m"] == pytest.approx(50.0, abs=1.0)
    runs = result.streets.to_crs(METRIC)
    assert runs["covered"].tolist() == [True, False]
    assert runs["length_m"].to_numpy() == pytest.approx([50.0, 50.0], abs=1.0)
    # The runs are the two halves of the street, split where the coverage ends.
    split = shapely.get_coordinates(runs.geometry.iloc[0])[-1]
    assert split == pytest.approx([X0 + 50.0, Y0], abs=1.0)
    assert shapely.get_coordinates(runs.geometry.iloc[1])[0] == pytest.approx(split)


def test_coverage_follows_the_track_line_between_fixes() -> None:
    # Two fixes 500 m apart, none within 25 m of the street: the line between them runs 20 m from it.
    base = prepare_coverage(one_grid(), streets(STREET))
    result = grid_coverage(base, walk((-200, 20), (300, 20), step=1000.0))
    assert result.grids.iloc[0]["coverage_pct"] == pytest.approx(100.0)


def test_a_flagged_jump_is_left_out() -> None:
    # A track 30 m from the street, with one GPS spike across the street and 500 m beyond.
    fixes = walk((-50, 30), (150, 30))
    spike = len(fixes) // 2
    lon, lat = TO_WGS84.transform(X0 + 50.0, Y0 - 500.0)
    fixes.loc[spike, ["lon", "lat"]] = [lon, lat]
    fixes["flag"] = flag_fixes(
        fixes["time"], fixes["lon"], fixes["lat"], [5.0] * len(fixes), now=START + timedelta(hours=1)
    )
    assert fixes["flag"].tolist()[spike] == "speed"
    assert fixes["flag"].notna().sum() == 1
    base = prepare_coverage(one_grid(), streets(STREET))
    assert grid_coverage(base, fixes).grids.iloc[0]["covered_m"] == 0.0
    # Used, the spike would cross the street and cover part of it.
    assert grid_coverage(base, fixes, flag=None).grids.iloc[0]["covered_m"] > 10.0


def test_streets_are_clipped_to_each_grid() -> None:
    cells = grids(West=box(-50, -50, 60, 50), East=box(60, -50, 200, 50))
    base = prepare_coverage(cells, streets(STREET))
    result = grid_coverage(base, walk((-100, 0), (5, 0)))  # covers x <= 30
    table = result.grids.set_index("code")
    assert table.loc["West", "street_m"] == pytest.approx(60.0)
    assert table.loc["East", "street_m"] == pytest.approx(40.0)
    assert table.loc["West", "covered_m"] == pytest.approx(30.0, abs=1.0)
    assert table.loc["West", "coverage_pct"] == pytest.approx(50.0, abs=1.5)
    assert table.loc["East", "covered_m"] == 0.0
    assert set(result.streets["code"]) == {"West", "East"}
    assert result.streets.groupby("code")["length_m"].sum().to_dict() == pytest.approx(
        {"West": 60.0, "East": 40.0}
    )


def test_only_walkable_streets_count() -> None:
    motorway = streets(line((0, 50), (100, 50)), highway="motorway")
    footway = streets(STREET, highway="footway")
    base = prepare_coverage(one_grid(), pd.concat([motorway, footway], ignore_index=True))
    assert base.streets["highway"].tolist() == ["footway"]
    result = grid_coverage(base, walk((-50, 50), (150, 50)))
    assert result.grids.iloc[0]["street_m"] == pytest.approx(100.0)
    assert result.grids.iloc[0]["covered_m"] == 0.0  # the track follows the motorway, 50 m from the footway
    assert {"motorway", "trunk"} <= EXCLUDED_HIGHWAYS
    everything = prepare_coverage(one_grid(), pd.concat([motorway, footway]), exclude_highways=())
    assert grid_coverage(everything, walk((-50, 50), (150, 50))).grids.iloc[0]["street_m"] == pytest.approx(
        200.0
    )


def test_buildings_passed_visited_or_walked_through() -> None:
    footprints = gpd.GeoDataFrame(
        {"osm_id": [1, 2, 3, 4, 5]},
        geometry=[
            box(0, 20, 10, 30),  # 20 m from the track along y = 0
            box(20, 40, 30, 50),  # 40 m away
            box(40, -60, 50, -50),  # 50 m away, but visited
            box(-150, -150, 250, -40).difference(box(-140, -100, -130, -90)),  # far edges, track inside below
            box(1000, 1000, 1010, 1010),  # outside every grid
        ],
        crs=METRIC,
    )
    base = prepare_coverage(one_grid(), streets(STREET), buildings=footprints)
    fixes = pd.concat(
        [walk((-100, 0), (150, 0)), walk((-100, -95), (200, -95), patrol="p2")], ignore_index=True
    )
    result = grid_coverage(base, fixes, visited=[3])
    table = result.buildings.set_index("building_id")
    assert table.index.tolist() == [1, 2, 3, 4]
    assert table["covered"].to_dict() == {1: True, 2: False, 3: True, 4: True}
    assert table["visited"].to_dict() == {1: False, 2: False, 3: True, 4: False}
    row = result.grids.iloc[0]
    assert (row["buildings"], row["buildings_covered"]) == (4, 3)
    assert row["building_pct"] == pytest.approx(75.0)


def test_building_distance_is_measured_to_the_footprint_edge() -> None:
    footprints = gpd.GeoDataFrame(
        {"osm_id": [1, 2]}, geometry=[box(0, 24.5, 10, 40), box(20, 25.5, 30, 40)], crs=METRIC
    )
    base = prepare_coverage(one_grid(), streets(STREET), buildings=footprints)
    result = grid_coverage(base, walk((-100, 0), (150, 0), step=250.0))
    assert result.buildings["covered"].tolist() == [True, False]


def test_track_length_and_time_per_grid() -> None:
    cells = grids(West=box(-50, -50, 60, 50), East=box(60, -50, 200, 50))
    base = prepare_coverage(cells, streets(STREET))
    # 100 m at 1.2 m/s in two fixes, crossing the grid edge at x = 60; then 30 m outside every grid.
    fixes = walk((0, 0), (100, 0), step=1000.0)
    fixes = pd.concat([fixes, walk((100, 0), (100, 80), step=1000.0, start=fixes["time"].iloc[-1]).iloc[1:]])
    table = grid_coverage(base, fixes).grids.set_index("code")
    assert table.loc["West", "track_m"] == pytest.approx(60.0, abs=1e-3)
    assert table.loc["East", "track_m"] == pytest.approx(40.0 + 50.0, abs=1e-3)
    assert table.loc["West", "patrol_s"] == pytest.approx(60.0 / WALK, abs=1e-3)
    assert table.loc["East", "patrol_s"] == pytest.approx(90.0 / WALK, abs=1e-3)


def test_period_keeps_the_fixes_inside_it() -> None:
    base = prepare_coverage(one_grid(), streets(STREET))
    fixes = pd.concat([walk((-50, 20), (40, 20)), walk((60, 20), (150, 20), start=START + timedelta(days=3))])
    fixes["patrol_id"] = np.where(fixes["time"] < START + timedelta(days=1), "a", "b")
    whole = grid_coverage(base, fixes).grids.iloc[0]["covered_m"]
    first = grid_coverage(base, fixes, period=(START, START + timedelta(days=1))).grids.iloc[0]["covered_m"]
    assert whole == pytest.approx(100.0)
    assert first == pytest.approx(
        40.0 + 15.0, abs=1.0
    )  # the round end reaches sqrt(25² - 20²) = 15 m further


def test_fixes_may_come_as_points() -> None:
    base = prepare_coverage(one_grid(), streets(STREET))
    fixes = walk((-100, 0), (25, 0))
    points = gpd.GeoDataFrame(
        fixes.drop(columns=["lon", "lat"]),
        geometry=gpd.points_from_xy(fixes["lon"], fixes["lat"]),
        crs="EPSG:4326",
    )
    expected = grid_coverage(base, fixes).grids
    pd.testing.assert_frame_equal(grid_coverage(base, points).grids, expected)
    pd.testing.assert_frame_equal(grid_coverage(base, points.to_crs(METRIC)).grids, expected)


def test_no_fixes_cover_nothing() -> None:
    base = prepare_coverage(one_grid(), streets(STREET))
    result = grid_coverage(base, walk((-50, 20), (150, 20)).iloc[:0])
    assert result.grids.iloc[0]["covered_m"] == 0.0
    assert result.grids.iloc[0]["track_m"] == 0.0
    assert result.streets["covered"].tolist() == [False]


def test_last_covered_per_run_and_building() -> None:
    footprints = gpd.GeoDataFrame(
        {"osm_id": [1, 2, 3]},
        geometry=[box(0, 10, 10, 20), box(80, 10, 90, 20), box(40, 100, 50, 110)],
        crs=METRIC,
    )
    base = prepare_coverage(one_grid(), streets(STREET, line((0, -150), (100, -150))), buildings=footprints)
    day1, day5 = START, START + timedelta(days=4)
    fixes = pd.concat(
        [
            walk((-50, 0), (150, 0), patrol="early", start=day1),
            walk((-100, 0), (25, 0), patrol="late", start=day5),
        ],
        ignore_index=True,
    )
    result = last_covered(base, fixes, visited={3: day1 + timedelta(days=1)})
    runs = result.streets.sort_values(["osm_id", "last_covered"], ascending=[True, False]).reset_index(
        drop=True
    )
    assert runs["patrol"].tolist()[:2] == ["late", "early"] and runs["patrol"].isna().tolist() == [
        False,
        False,
        True,
    ]
    assert runs["length_m"].to_numpy() == pytest.approx([50.0, 50.0, 100.0], abs=1.0)
    late_end = day5 + timedelta(seconds=125.0 / WALK)
    assert day5 < runs.loc[0, "last_covered"] <= late_end
    assert day1 < runs.loc[1, "last_covered"] <= day1 + timedelta(seconds=200.0 / WALK)
    assert pd.isna(runs.loc[2, "last_covered"])
    assert (
        isinstance(runs["last_covered"].dtype, pd.DatetimeTZDtype)
        and str(runs["last_covered"].dt.tz) == "UTC"
    )
    buildings = result.buildings.set_index("building_id")
    assert buildings["patrol"].tolist()[:2] == ["late", "early"] and pd.isna(buildings.loc[3, "patrol"])
    assert buildings.loc[3, "last_covered"] == pd.Timestamp(day1 + timedelta(days=1))
    # The blind spots not covered for more than 3 days on day 5 evening: the street far south and building 2 …
    now = day5 + timedelta(hours=12)
    stale = runs[~(runs["last_covered"] >= now - timedelta(days=3))]
    assert stale["patrol"].tolist()[0] == "early" and len(stale) == 2
    assert buildings.index[~(buildings["last_covered"] >= now - timedelta(days=3))].tolist() == [2, 3]


def test_bad_arguments_are_reported_together() -> None:
    bad_grids = grids(A=box(0, 0, 10, 10), B=box(10, 0, 20, 10))
    bad_grids.loc[1, "code"] = "A"
    with pytest.raises(GeoValidationError) as caught:
        prepare_coverage(bad_grids, streets(STREET).drop(columns="highway"), step_m=0)
    fields = {p.field for p in caught.value.problems}
    assert {"code", "highway", "step_m"} <= fields
    with pytest.raises(GeoValidationError) as caught:
        prepare_coverage(one_grid().set_crs(None, allow_override=True), streets(STREET))
    assert caught.value.problems[0].field == "grids"
    with pytest.raises(GeoValidationError, match="LineString"):
        prepare_coverage(
            one_grid(), gpd.GeoDataFrame({"highway": ["x"]}, geometry=[box(0, 0, 1, 1)], crs=METRIC)
        )
    base = prepare_coverage(one_grid(), streets(STREET))
    with pytest.raises(GeoValidationError, match="distance_m"):
        grid_coverage(base, walk((0, 0), (1, 1)), distance_m=-1)
    with pytest.raises(GeoValidationError, match="period"):
        grid_coverage(base, walk((0, 0), (1, 1)), period=(START, START - timedelta(days=1)))
    with pytest.raises(GeoValidationError) as caught:
        grid_coverage(base, walk((0, 0), (1, 1)).drop(columns="lat"))
    assert caught.value.problems[0].field == "lat"
    with pytest.raises(GeoValidationError, match="timezone-aware") as caught:
        last_covered(base, walk((0, 0), (1, 1)), visited={1: datetime(2026, 3, 2, 9, 0)})
    assert caught.value.problems[0].field == "visited"


# --- real data ----------------------------------------------------------------------------------------------


def simulate_walks(
    lines: np.ndarray,
    crs: pyproj.CRS,
    *,
    n_fixes: int,
    seed: int = 7,
    spacing: float = 8.0,
    noise: float = 3.0,
    patrol_m: float = 3000.0,
) -> pd.DataFrame:
    """SIMULATED fixes: random walks along the street network, a fix every ``spacing`` m, Gaussian noise."""
    rng = np.random.default_rng(seed)
    coords, which = shapely.get_coordinates(lines, return_index=True)
    nodes, node = np.unique(np.round(coords, 2), axis=0, return_inverse=True)
    node = node.ravel()
    same = (which[1:] == which[:-1]) & (node[1:] != node[:-1])
    a, b = node[:-1][same], node[1:][same]
    graph = sparse.csr_matrix((np.ones(2 * a.size), (np.r_[a, b], np.r_[b, a])), shape=(len(nodes),) * 2)
    starts = np.flatnonzero(np.diff(graph.indptr) > 0)
    frames, patrol, per = [], 0, int(patrol_m / spacing)
    while sum(map(len, frames)) < n_fixes:
        u, prev, path, length = int(rng.choice(starts)), -1, [], 0.0
        path.append(u)
        while length < patrol_m:
            nb = graph.indices[graph.indptr[u] : graph.indptr[u + 1]]
            nb = nb[nb != prev] if nb.size > 1 else nb
            prev, u = u, int(nb[rng.integers(nb.size)])
            length += float(np.hypot(*(nodes[u] - nodes[prev])))
            path.append(u)
        pts = nodes[path]
        cum = np.r_[0.0, np.cumsum(np.hypot(*np.diff(pts, axis=0).T))]
        d = np.arange(per) * spacing
        x = np.interp(d, cum, pts[:, 0]) + rng.normal(0, noise, d.size)
        y = np.interp(d, cum, pts[:, 1]) + rng.normal(0, noise, d.size)
        lon, lat = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(x, y)
        start = pd.Timestamp(START) + pd.Timedelta(days=int(rng.integers(30)), minutes=int(rng.integers(600)))
        frames.append(
            pd.DataFrame(
                {
                    "patrol_id": patrol,
                    "time": start + pd.to_timedelta(d / WALK, unit="s"),
                    "lon": lon,
                    "lat": lat,
                    "flag": None,
                }
            )
        )
        patrol += 1
    return pd.concat(frames, ignore_index=True).iloc[:n_fixes]


@pytest.fixture(scope=shared_scope)
def liechtenstein():
    from geo.osm import read_osm

    city = read_osm(shared_file("osm/liechtenstein_2015.osm.pbf"))
    communities = city.boundaries[city.boundaries["admin_level"] == 8]
    two = communities[communities["name"].isin(["Vaduz", "Schaan"])][["name", "geometry"]]
    base = prepare_coverage(two.rename(columns={"name": "code"}), city.roads, buildings=city.buildings)
    fixes = simulate_walks(base.parts, base.targets.crs, n_fixes=6000)
    return city, base, fixes


def test_real_streets_match_the_buffer_method(liechtenstein) -> None:
    _, base, fixes = liechtenstein
    ours = grid_coverage(base, fixes).grids.set_index("code")
    exact = buffer_coverage(base, fixes).set_index("code")
    assert set(ours.index) == {"Vaduz", "Schaan"}
    assert ours["street_m"].to_numpy() == pytest.approx(exact["street_m"].to_numpy(), rel=1e-9)
    assert (ours["coverage_pct"] > 5).all()  # a meaningful test: the walks cover a good share
    assert np.abs(ours["coverage_pct"] - exact["coverage_pct"]).max() < 0.1
    total = ours["covered_m"].sum() / ours["street_m"].sum() * 100
    assert total == pytest.approx(exact["covered_m"].sum() / exact["street_m"].sum() * 100, abs=0.1)


def test_real_runs_and_buildings_are_consistent(liechtenstein) -> None:
    _, base, fixes = liechtenstein
    result = grid_coverage(base, fixes)
    runs = result.streets
    by_grid = runs.groupby(["code", "covered"])["length_m"].sum().unstack()
    table = result.grids.set_index("code")
    assert by_grid[True].to_numpy() == pytest.approx(table.loc[by_grid.index, "covered_m"].to_numpy())
    # Each run is covered or not all along: its middle is within 25 m of a track line, or not (±1 m pieces).
    lines = gpd.GeoSeries(
        [
            shapely.LineString(
                np.column_stack(
                    pyproj.Transformer.from_crs("EPSG:4326", base.targets.crs, always_xy=True).transform(
                        g.lon, g.lat
                    )
                )
            )
            for _, g in fixes.sort_values("time", kind="stable").groupby("patrol_id")
        ],
        crs=base.targets.crs,
    )
    tracks = shapely.union_all(lines.to_numpy())
    long = runs[runs["length_m"] > 5].to_crs(base.targets.crs)
    middle = shapely.line_interpolate_point(long.geometry.to_numpy(), 0.5, normalized=True)
    distance = shapely.distance(middle, tracks)
    covered = long["covered"].to_numpy()
    assert (distance[covered] <= 25.5).all() and (distance[~covered] > 24.5).all()
    # Buildings: covered exactly when the footprint is within 25 m of a track.
    b = result.buildings.to_crs(base.targets.crs)
    assert len(b) == table["buildings"].sum() > 1000
    near = shapely.distance(b.geometry.to_numpy(), tracks) <= 25.0
    assert np.array_equal(near, b["covered"].to_numpy())


def test_real_last_covered_agrees_with_coverage(liechtenstein) -> None:
    _, base, fixes = liechtenstein
    covered = grid_coverage(base, fixes)
    result = last_covered(base, fixes)
    dated = result.streets[result.streets["last_covered"].notna()].groupby("code")["length_m"].sum()
    table = covered.grids.set_index("code")
    assert dated.to_numpy() == pytest.approx(table.loc[dated.index, "covered_m"].to_numpy())
    assert (
        result.buildings["last_covered"].notna().to_numpy().tolist() == covered.buildings["covered"].tolist()
    )
    assert result.streets["last_covered"].max() <= fixes["time"].max()


# --- stored pieces (per worker-day summaries, issue 23)


def test_stored_pieces_union_to_the_coverage_of_all_the_fixes_whatever_grids_a_base_has() -> None:
    cells = grids(West=box(-50, -50, 60, 50), East=box(60, -50, 200, 50), North=box(-50, 50, 200, 150))
    roads = streets(STREET, line((0, 100), (150, 100)), line((120, -40), (120, 140)))
    footprints = gpd.GeoDataFrame({"osm_id": [1, 2]}, geometry=[box(0, 20, 10, 30), box(100, 110, 110, 120)],
                                  crs=METRIC)
    city = prepare_coverage(cells, roads, buildings=footprints)
    one_day = walk((-100, 0), (90, 0), (90, 100))
    next_day = walk((150, 100), (120, 100), (120, -30), patrol="p2", start=START + timedelta(days=1))
    stored = [covered_pieces(city, fixes) for fixes in (one_day, next_day)]
    both = pd.concat([one_day, next_day], ignore_index=True)
    for base in (city, prepare_coverage(cells.iloc[[2, 0]], roads, buildings=footprints)):  # fewer grids, reordered
        want = grid_coverage(base, both, visited=[2])
        got = coverage_from_pieces(base, [p for p, _ in stored], [b for _, bs in stored for b in bs], visited=[2])
        pd.testing.assert_frame_equal(got.grids, want.grids)
        pd.testing.assert_frame_equal(got.buildings, want.buildings)
        assert got.streets.to_wkt().equals(want.streets.to_wkt())
    grid_pieces, near = stored[0]
    assert set(grid_pieces) == {"West", "East", "North"} and near == [1, 2]  # 2: 14 m from the turn at (90, 100)
    assert all(len(p["runs"]) % 2 == 0 and p["n"] > 0 for p in grid_pieces.values())


def test_stored_pieces_of_another_street_network_are_refused() -> None:
    cells = one_grid()
    pieces, _ = covered_pieces(prepare_coverage(cells, streets(STREET)), walk((-100, 0), (150, 0)))
    other = prepare_coverage(cells, streets(line((0, 0), (120, 0))))
    with pytest.raises(GeoValidationError, match="street pieces now"):
        coverage_from_pieces(other, [pieces])


def test_pieces_by_group_equal_each_group_measured_alone(liechtenstein) -> None:
    """covered_pieces_by (many worker-days in one pass) gives exactly the lines of tracks_to_lines and the pieces
    of covered_pieces of each group's fixes alone: with flagged fixes, a one-fix patrol (no line), a fix of no
    patrol, and a group whose only patrol makes no line."""
    _, base, fixes = liechtenstein
    fixes = fixes.iloc[:2500].copy()
    fixes["flag"] = fixes["flag"].astype(object)
    fixes.loc[fixes.index[::37], "flag"] = "jump"
    fixes["day"] = fixes["patrol_id"] % 2
    lone = fixes.iloc[[10, 11]].assign(patrol_id=[100, None], day=[0, 1])
    alone = fixes.iloc[[12]].assign(patrol_id=101, day=5)
    fixes = pd.concat([fixes, lone, alone], ignore_index=True).sample(frac=1.0, random_state=3)  # any row order
    got = covered_pieces_by(base, fixes, "day")
    assert sorted(got) == [0, 1, 5] and len(got[5].keys) == 0 and got[5].grids == {} and got[5].buildings == []
    for day in (0, 1):
        mine = fixes[fixes["day"] == day]
        lines = tracks_to_lines(mine)
        grids, near = covered_pieces(base, mine)
        g = got[day]
        assert g.grids == grids and g.buildings == near and grids
        assert list(g.keys) == list(lines["patrol_id"]) and 100 not in list(g.keys)
        assert list(g.length_m) == list(lines["length_m"])
        assert list(pd.to_datetime(g.started_us, unit="us", utc=True)) == list(lines["started"])
        assert list(pd.to_datetime(g.ended_us, unit="us", utc=True)) == list(lines["ended"])
        assert [x.wkb for x in g.lines] == [x.wkb for x in lines.geometry]


def test_sorted_points_find_the_points_of_a_box_as_a_scan_does() -> None:
    rng = np.random.default_rng(5)
    points = np.round(rng.uniform(0, 2000, (20_000, 2)), 0)  # many ties, and points right on the box edges
    sorted_points = _SortedPoints.of(points)
    for _ in range(30):
        a = np.round(rng.uniform(-100, 2100, (5, 2)), 0)
        track = Track(a[:-1], a[1:], np.zeros(4), np.ones(4), np.zeros(4, dtype=np.int64), np.array(["p"], object))
        for margin in (0.0, 25.0):
            want = in_box(points, track, margin)
            assert np.array_equal(sorted_points.in_box(track, margin), want)
