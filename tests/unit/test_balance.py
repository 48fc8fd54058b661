"""Rebalancing a community's grids (geo.grids.balance): hand-built lattices, then real Liechtenstein and Porto."""

from __future__ import annotations

from functools import lru_cache

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import LineString, box

from geo.errors import GeoValidationError
from geo.grids.balance import Proposal, cv, propose
from geo.grids.check import check_grids, format_check
from geo.grids.codes import assign_codes
from geo.grids.partition import generate_grids
from tests.conftest import shared_file

CRS = "EPSG:32650"
RANGE = (300, 500)
COMMUNITY = box(0, 0, 1200, 800)
PREFIX = "110105001001"


def _lattice() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """600 buildings of 10 m x 10 m every 40 m, 16 households each; 24 grids of 200 m x 200 m (400 households),
    coded in reading order (001 is the north-west grid)."""
    centres = [(x, y) for x in np.arange(20, 1200, 40) for y in np.arange(20, 800, 40)]
    buildings = gpd.GeoDataFrame(
        {"households": np.full(len(centres), 16)},
        geometry=[box(x - 5, y - 5, x + 5, y + 5) for x, y in centres],
        index=pd.Index([f"B{i:04d}" for i in range(len(centres))], name="building_id"),
        crs=CRS,
    )
    shapes = [box(i * 200, j * 200, (i + 1) * 200, (j + 1) * 200) for j in range(4) for i in range(6)]
    grids = gpd.GeoDataFrame({"community_id": ["C"] * len(shapes)}, geometry=shapes, crs=CRS)
    grids["code"] = assign_codes(grids, district="110105", street=1, community=1)
    return buildings, grids[["code", "geometry"]]


def _members(buildings: gpd.GeoDataFrame, grid: shapely.Geometry) -> pd.Index:
    return buildings.index[shapely.contains(grid, buildings.geometry.centroid.to_numpy())]


def _code_at(grids: gpd.GeoDataFrame, x: float, y: float) -> str:
    return grids.loc[grids.contains(shapely.Point(x, y)), "code"].iloc[0]


def _assert_valid_proposal(p: Proposal, community: shapely.Geometry, buildings: gpd.GeoDataFrame) -> None:
    """Tiles the community, every building in exactly one grid and inside it, counts consistent."""
    geoms = p.grids.geometry.to_numpy()
    assert abs(shapely.union_all(geoms).area - community.area) <= 1.0
    assert abs(p.grids.area.sum() - community.area) <= 1.0
    left, right = p.grids.sindex.query(p.grids.geometry, predicate="intersects")
    keep = left < right
    assert (shapely.area(shapely.intersection(geoms[left[keep]], geoms[right[keep]])) <= 1.0).all()
    communities = gpd.GeoDataFrame({"community_id": ["C"]}, geometry=[community], crs=buildings.crs)
    check = check_grids(communities, p.grids.assign(community_id="C"), buildings, households_range=RANGE)
    assert check.ok, format_check(check)
    assert check.buildings_cut == 0, format_check(check)
    assert p.assignment.index.equals(buildings.index)
    points = gpd.GeoSeries(buildings.representative_point(), crs=buildings.crs)
    grid_pos, building_pos = points.sindex.query(p.grids.geometry, predicate="contains")
    assert np.bincount(building_pos, minlength=len(buildings)).tolist() == [1] * len(buildings)
    found = pd.Series(p.grids["code"].to_numpy()[grid_pos], index=buildings.index[building_pos])
    assert found.to_dict() == p.assignment.to_dict()
    totals = buildings["households"].groupby(p.assignment).sum()
    assert p.grids.set_index("code")["households"].to_dict() == pytest.approx(totals.to_dict())
    assert p.grids["buildings"].sum() == len(buildings)
    assert list(p.grids["code"]) == sorted(p.grids["code"])


def test_grid_grown_to_900_is_split_and_the_rest_is_kept() -> None:
    buildings, grids = _lattice()
    grown = grids.geometry.iloc[8]  # the third grid of the second row: 400 -> 900 households
    inside = _members(buildings, grown)
    buildings.loc[inside[[3, 17]], "households"] += 250
    old = grids.set_index("code").geometry

    p = propose(COMMUNITY, buildings, grids, households_range=RANGE)

    assert list(p.grids.columns) == ["code", "households", "workload", "street_m", "buildings", "kept",
                                     "compactness", "geometry"]
    _assert_valid_proposal(p, COMMUNITY, buildings)
    assert p.grids["households"].between(*RANGE).all(), p.grids["households"].tolist()
    assert (p.grids.geom_type == "Polygon").all() and p.stats["contiguous"]
    # Only the grown grid changes: it keeps its code for one half, the other half gets the next number.
    changed = p.grids[~p.grids["kept"]]
    assert len(changed) == 2
    assert grids["code"].iloc[8] in set(changed["code"])
    assert p.stats["codes_new"] == [f"{PREFIX}025"]
    assert p.stats["codes_kept"] == 24 and p.stats["codes_retired"] == []
    assert shapely.union_all(changed.geometry.to_numpy()).symmetric_difference(grown).area < 1.0
    kept = p.grids[p.grids["kept"]].set_index("code")
    assert len(kept) == 23
    for code, geom in kept.geometry.items():
        assert geom.equals_exact(old[code], tolerance=0), code  # the very same polygon
    assert (kept["households"] == 400).all()
    s = p.stats
    assert s["grids"] == 25 and s["grids_changed"] == 2 and s["grids_kept"] == 23
    assert s["in_range_share"] == 1.0 and s["out_of_range"] == []
    assert s["households_min"] >= 300 and s["households_max"] <= 500
    assert s["households_cv"] == pytest.approx(cv(p.grids["households"].to_numpy()))
    assert s["households_reassigned"] == pytest.approx(p.grids.loc[p.grids["code"] == f"{PREFIX}025",
                                                                   "households"].iloc[0])
    assert s["workload_cv"] is None and s["street_m_cv"] is None
    assert p.grids["workload"].isna().all() and p.grids["street_m"].isna().all()
    assert 0 < s["compactness_mean"] <= 1
    assert kept["compactness"].to_numpy() == pytest.approx(np.pi / 4)  # Polsby-Popper of a square
    again = propose(COMMUNITY, buildings, p.grids[["code", "geometry"]], households_range=RANGE)
    assert again.grids["kept"].all() and again.assignment.to_dict() == p.assignment.to_dict()


def test_grid_that_lost_households_takes_from_one_neighbour() -> None:
    buildings, grids = _lattice()
    inside = _members(buildings, grids.geometry.iloc[8])
    buildings.loc[inside[:13], "households"] = 0  # 192 households left
    p = propose(COMMUNITY, buildings, grids, households_range=RANGE)
    _assert_valid_proposal(p, COMMUNITY, buildings)
    assert p.grids["households"].between(*RANGE).all()
    assert p.stats["codes_kept"] == 24 and p.stats["codes_new"] == [] and p.stats["codes_retired"] == []
    assert 2 <= p.stats["grids_changed"] <= 3
    assert p.stats["contiguous"]


def test_grids_in_range_are_all_kept() -> None:
    buildings, grids = _lattice()
    p = propose(COMMUNITY, buildings, grids, households_range=RANGE)
    assert p.grids["kept"].all() and p.stats["grids_changed"] == 0 and p.stats["households_reassigned"] == 0
    assert p.grids.set_index("code").geometry.geom_equals(grids.set_index("code").geometry, align=True).all()
    expected = pd.Series(grids["code"].to_numpy()[[int(x // 200) + 6 * int(y // 200)
                                                   for x, y in shapely.get_coordinates(buildings.centroid)]],
                         index=buildings.index)
    assert p.assignment.to_dict() == expected.to_dict()


def test_building_above_the_maximum_is_left_out_of_range_and_reported() -> None:
    buildings, grids = _lattice()
    inside = _members(buildings, grids.geometry.iloc[8])
    buildings.loc[inside[5], "households"] = 700
    p = propose(COMMUNITY, buildings, grids, households_range=RANGE)
    _assert_valid_proposal(p, COMMUNITY, buildings)
    holder = p.assignment[inside[5]]
    assert p.stats["out_of_range"] == [holder]
    assert p.grids.loc[p.grids["code"] == holder, "households"].iloc[0] == 700
    assert p.stats["in_range_share"] == pytest.approx(24 / 25)
    assert p.grids.loc[p.grids["code"] != holder, "households"].between(*RANGE).all()


def test_community_too_small_for_the_minimum_is_a_best_effort() -> None:
    buildings, grids = _lattice()
    buildings["households"] = 0
    buildings.loc[buildings.index[:10], "households"] = 25  # 250 households in all, below the minimum
    p = propose(COMMUNITY, buildings, grids, households_range=RANGE)
    _assert_valid_proposal(p, COMMUNITY, buildings)
    assert len(p.grids) == 1 and p.stats["out_of_range"] == p.grids["code"].tolist()
    assert p.grids["households"].iloc[0] == 250


def test_workload_pass_evens_cases_among_changed_grids() -> None:
    buildings, grids = _lattice()
    for g in (8, 9):  # two neighbouring grids grow to 700 households each
        buildings.loc[_members(buildings, grids.geometry.iloc[g])[0], "households"] += 300
    buildings["workload"] = np.random.default_rng(0).poisson(3, len(buildings))
    buildings.loc[_members(buildings, grids.geometry.iloc[8])[:10], "workload"] += 20  # a hot spot of cases

    even = propose(COMMUNITY, buildings, grids, households_range=RANGE)
    plain = propose(COMMUNITY, buildings, grids, households_range=RANGE, weights={"households": 1.0})
    for p in (even, plain):
        _assert_valid_proposal(p, COMMUNITY, buildings)
        assert p.grids["households"].between(*RANGE).all()
    def changed(p: Proposal) -> np.ndarray:
        return p.grids.loc[~p.grids["kept"], "workload"].to_numpy()

    assert cv(changed(even)) < 0.75 * cv(changed(plain))
    assert even.grids["workload"].sum() == buildings["workload"].sum()
    assert even.stats["workload_cv"] == pytest.approx(cv(even.grids["workload"].to_numpy()))
    cases = buildings.pop("workload")
    from_series = propose(COMMUNITY, buildings, grids, households_range=RANGE, workload=cases[cases > 0])
    assert from_series.assignment.to_dict() == even.assignment.to_dict()


def test_street_length_per_grid() -> None:
    buildings, grids = _lattice()
    buildings.loc[_members(buildings, grids.geometry.iloc[8])[:2], "households"] += 250
    streets = gpd.GeoDataFrame(geometry=[LineString([(0, y), (1200, y)]) for y in (100, 300, 500, 700)]
                               + [LineString([(x, -50), (x, 850)]) for x in (100, 500, 900)], crs=CRS)
    p = propose(COMMUNITY, buildings, grids, households_range=RANGE, streets=streets)
    assert p.grids["street_m"].sum() == pytest.approx(4 * 1200 + 3 * 800)
    assert p.grids.loc[p.grids["kept"], "street_m"].isin([0.0, 200.0, 400.0]).all()
    assert p.stats["street_m_cv"] == pytest.approx(cv(p.grids["street_m"].to_numpy()))


def test_new_codes_from_prefix_and_sequence() -> None:
    buildings, grids = _lattice()
    buildings.loc[_members(buildings, grids.geometry.iloc[0])[:2], "households"] += 250
    p = propose(COMMUNITY, buildings, grids, households_range=RANGE, code_prefix="370202004007", next_seq=40)
    assert p.stats["codes_new"] == ["370202004007040"]
    grids["code"] = [f"G{i}" for i in range(len(grids))]  # codes outside the 15-digit scheme
    with pytest.raises(GeoValidationError) as err:
        propose(COMMUNITY, buildings, grids, households_range=RANGE)
    assert [p.field for p in err.value.problems] == ["code_prefix"]
    p = propose(COMMUNITY, buildings, grids, households_range=RANGE, code_prefix=PREFIX)
    assert p.stats["codes_new"] == [f"{PREFIX}001"] and p.stats["codes_kept"] == 24


def test_bad_inputs_give_one_problem_each() -> None:
    buildings, grids = _lattice()
    with pytest.raises(GeoValidationError) as err:
        propose(COMMUNITY, buildings.to_crs("EPSG:4326"), grids.to_crs("EPSG:4326"))
    assert sorted(p.field for p in err.value.problems) == ["buildings", "grids"]
    assert all(p.kind == "crs" for p in err.value.problems)

    bad = buildings.copy()
    bad["households"] = bad["households"].astype(float)
    bad.loc["B0000", "households"] = np.nan
    bad.loc["B0001", "geometry"] = box(2000, 0, 2010, 10)
    bad.loc["B0002", "geometry"] = box(1300, 0, 1310, 10)
    bad["workload"] = 0
    bad.loc["B0003", "workload"] = -1
    with pytest.raises(GeoValidationError) as err:
        propose(COMMUNITY, bad, grids, weights={"households": -1, "color": 1})
    kinds = sorted(p.kind for p in err.value.problems)
    assert kinds == ["building_outside_community", "building_outside_community", "households", "weights",
                     "weights", "workload"]
    outside = {p.feature_id for p in err.value.problems if p.kind == "building_outside_community"}
    assert outside == {"B0001", "B0002"}

    holey = grids.copy()
    holey.loc[3, "geometry"] = box(600, 0, 790, 200)  # a 10 m strip of the community in no grid
    holey.loc[4, "code"] = holey.loc[5, "code"]
    with pytest.raises(GeoValidationError) as err:
        propose(COMMUNITY, buildings, holey)
    assert sorted(p.kind for p in err.value.problems) == ["duplicate_code", "gap"]

    with pytest.raises(GeoValidationError) as err:
        propose(COMMUNITY, buildings.drop(columns="households"), grids.drop(columns="code"), households_range=(5, 1))
    assert sorted(p.kind for p in err.value.problems) == ["column", "column", "range"]


# --- real cities --------------------------------------------------------------------------------------------------


@lru_cache(maxsize=2)
def _city(name: str):
    from patrol.city.osm_import import read_city

    return read_city(shared_file(f"osm/{name}"))


@pytest.mark.parametrize(("city", "community"), [("liechtenstein_2015.osm.pbf", "Eschen"),
                                                 ("porto_centre.osm.pbf", "São Nicolau")])
def test_two_new_blocks_in_a_real_community(city: str, community: str) -> None:
    model = _city(city)
    crs = model.metric_crs
    communities = model.communities.to_crs(crs)
    number = int(communities.index[communities["name"] == community][0])
    area = communities.geometry.loc[number]
    buildings = model.buildings.to_crs(crs)
    buildings = buildings.loc[buildings["community"] == number, ["households", "geometry"]]
    buildings.index = pd.Index([f"b{i}" for i in buildings.index], name="building_id")
    part = generate_grids(area, buildings, households_range=RANGE)
    grids = part.grids.assign(community_id="C")
    grids["code"] = assign_codes(grids, district="110105", street=1, community=1)
    grids = grids[["code", "geometry"]]
    # Two new apartment blocks (+200 households each) in the smallest grid push it above the maximum.
    smallest = int(part.grids["households"].idxmin())
    inside = part.assignment.index[part.assignment == smallest]
    blocks = buildings.loc[inside, "households"].sort_values().index[-2:]
    buildings.loc[blocks, "households"] += 200
    assert part.grids["households"].iloc[smallest] + 400 > RANGE[1]
    buildings["workload"] = np.random.default_rng(1).poisson(2, len(buildings))
    streets = model.roads.to_crs(crs)
    streets = streets[streets.intersects(area)]

    p = propose(area, buildings, grids, households_range=RANGE, streets=streets)

    communities_frame = gpd.GeoDataFrame({"community_id": ["C"]}, geometry=[area], crs=crs)
    check = check_grids(communities_frame, p.grids.assign(community_id="C"), buildings, households_range=RANGE)
    assert check.ok, format_check(check)
    assert check.households_out_of_range == 0, format_check(check)
    assert p.grids["households"].between(*RANGE).all(), p.grids["households"].tolist()
    assert p.grids["households"].sum() == buildings["households"].sum()
    assert p.stats["codes_kept"] == len(grids) and p.stats["codes_retired"] == []
    assert p.stats["grids_kept"] >= len(grids) - 2
    kept = p.grids[p.grids["kept"]].set_index("code").geometry
    assert kept.geom_equals(grids.set_index("code").geometry.loc[kept.index]).all()
    assert p.grids["workload"].sum() == buildings["workload"].sum()
    inside_length = shapely.length(shapely.intersection(streets.geometry.to_numpy(), area)).sum()
    assert p.grids["street_m"].sum() == pytest.approx(inside_length, rel=1e-3)
