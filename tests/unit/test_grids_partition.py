"""Grid generation on synthetic communities (geo.grids.partition)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from scipy.sparse.csgraph import connected_components
from shapely.geometry import Polygon, box

from geo.errors import GeoValidationError
from geo.grids.check import check_grids
from geo.grids.codes import assign_codes
from geo.grids.partition import (
    GridPartition,
    building_adjacency,
    generate_grids,
    group_count,
    partition_households,
)
from geo.grids.tessellation import building_tessellation

CRS = "EPSG:32632"
SQUARE = box(0, 0, 1000, 1000)
L_SHAPE = Polygon([(0, 0), (1000, 0), (1000, 300), (300, 300), (300, 1000), (0, 1000)])


def _lattice(area: Polygon, *, seed: int = 1, spacing: float = 50.0, high: int = 30) -> gpd.GeoDataFrame:
    """10 m x 10 m buildings on a lattice (20 x 20 in the 1 km square) whose centre lies in ``area``."""
    centres = [(x, y) for x in np.arange(spacing / 2, 1000, spacing) for y in np.arange(spacing / 2, 1000, spacing)]
    centres = [c for c in centres if area.contains(shapely.Point(c))]
    households = np.random.default_rng(seed).integers(0, high + 1, len(centres))
    return gpd.GeoDataFrame(
        {"households": households},
        geometry=[box(x - 5, y - 5, x + 5, y + 5) for x, y in centres],
        index=[f"B{i:03d}" for i in range(len(centres))],
        crs=CRS,
    )


def _assert_groups_connected(area: Polygon, buildings: gpd.GeoDataFrame, assignment: np.ndarray) -> None:
    adjacency = building_adjacency(building_tessellation(area, buildings.geometry))
    for g in np.unique(assignment):
        members = np.flatnonzero(assignment == g)
        assert connected_components(adjacency[members][:, members], directed=False)[0] == 1, f"grid {g}"


def _assert_tiling(grids: gpd.GeoDataFrame, area: Polygon) -> None:
    geoms = grids.geometry.to_numpy()
    assert grids.area.sum() == pytest.approx(area.area, rel=1e-6)
    assert shapely.union_all(geoms).symmetric_difference(area).area < 1e-6
    left, right = grids.sindex.query(grids.geometry, predicate="intersects")
    keep = left < right
    assert (shapely.area(shapely.intersection(geoms[left[keep]], geoms[right[keep]])) <= 1e-6).all()


def _codes(grids: gpd.GeoDataFrame, community_id: str) -> gpd.GeoDataFrame:
    out = grids.copy()
    out["community_id"] = community_id
    out["code"] = assign_codes(out, district="110105", street=1, community=1)
    return out


def test_lattice_grids_are_in_range_connected_and_tile_the_square() -> None:
    buildings = _lattice(SQUARE)
    result = generate_grids(SQUARE, buildings)
    assert isinstance(result, GridPartition)
    grids = result.grids
    assert list(grids.columns) == ["grid_no", "households", "n_buildings", "geometry"]
    assert grids.crs == CRS
    assert list(grids["grid_no"]) == list(range(len(grids)))
    assert grids["households"].between(300, 500).all()
    assert grids["households"].sum() == buildings["households"].sum()
    assert grids["n_buildings"].sum() == len(buildings)
    assert result.assignment.index.equals(buildings.index)
    assert set(result.assignment) == set(range(len(grids)))
    assert (grids.geom_type == "Polygon").all()
    _assert_tiling(grids, SQUARE)
    _assert_groups_connected(SQUARE, buildings, result.assignment.to_numpy())
    own_grid = grids.geometry.to_numpy()[result.assignment.to_numpy()]
    assert shapely.within(buildings.geometry.to_numpy(), own_grid).all()
    communities = gpd.GeoDataFrame({"community_id": ["C1"]}, geometry=[SQUARE], crs=CRS)
    check = check_grids(communities, _codes(grids, "C1"), buildings, households_range=(300, 500))
    assert check.ok, check.problems
    assert check.households_out_of_range == check.buildings_cut == check.multipart_grids == 0


def test_grids_are_compact() -> None:
    grids = generate_grids(SQUARE, _lattice(SQUARE)).grids
    polsby_popper = 4 * np.pi * grids.area / grids.length**2  # 1 for a disc, 0.785 for a square
    assert polsby_popper.min() > 0.4


def test_l_shaped_community_keeps_grids_connected() -> None:
    buildings = _lattice(L_SHAPE, seed=3)
    result = generate_grids(L_SHAPE, buildings)
    assert len(result.grids) > 2
    assert result.grids["households"].between(300, 500).all()
    _assert_tiling(result.grids, L_SHAPE)
    _assert_groups_connected(L_SHAPE, buildings, result.assignment.to_numpy())
    assert (result.grids.geom_type == "Polygon").all()


def test_total_below_minimum_gives_one_grid() -> None:
    buildings = _lattice(SQUARE, high=1)  # about 200 households in all
    assert buildings["households"].sum() < 300
    result = generate_grids(SQUARE, buildings)
    assert len(result.grids) == 1
    assert (result.assignment == 0).all()
    assert result.grids.geometry.iloc[0].symmetric_difference(SQUARE).area < 1e-6


def test_community_without_buildings_is_one_empty_grid() -> None:
    empty = _lattice(SQUARE).iloc[:0]
    result = generate_grids(SQUARE, empty)
    assert len(result.grids) == 1
    assert result.grids["households"].iloc[0] == 0
    assert result.grids["n_buildings"].iloc[0] == 0
    assert result.grids.geometry.iloc[0].equals(SQUARE)
    assert len(result.assignment) == 0


def test_building_above_the_maximum_is_its_own_grid() -> None:
    buildings = _lattice(SQUARE)
    tower = buildings.index[210]
    buildings.loc[tower, "households"] = 900
    result = generate_grids(SQUARE, buildings)
    tower_grid = result.assignment[tower]
    assert (result.assignment == tower_grid).sum() == 1
    others = result.grids[result.grids["grid_no"] != tower_grid]
    assert others["households"].between(300, 500).all()
    _assert_tiling(result.grids, SQUARE)


def test_buildings_outside_the_community_are_listed() -> None:
    buildings = _lattice(SQUARE)
    buildings.loc["B000", "geometry"] = box(1100, 0, 1110, 10)
    buildings.loc["B001", "geometry"] = box(-50, 0, -40, 10)
    with pytest.raises(GeoValidationError) as err:
        generate_grids(SQUARE, buildings)
    assert {p.feature_id for p in err.value.problems} == {"B000", "B001"}
    assert {p.kind for p in err.value.problems} == {"building_outside_community"}


def test_bad_inputs_are_reported_together() -> None:
    buildings = _lattice(SQUARE).to_crs("EPSG:4326")
    buildings.loc["B005", "households"] = -1
    with pytest.raises(GeoValidationError) as err:
        generate_grids(SQUARE, buildings, households_range=(500, 300))
    assert {p.field for p in err.value.problems} >= {"buildings", "households", "households_range"}


def test_partition_without_adjacency_uses_delaunay_and_is_deterministic() -> None:
    rng = np.random.default_rng(11)
    points = rng.uniform(0, 1000, (300, 2))
    households = rng.integers(0, 40, 300).astype(float)
    first = partition_households(points, households, households_range=(300, 500))
    again = partition_households(points, households, households_range=(300, 500))
    assert (first == again).all()
    totals = np.bincount(first, weights=households)
    assert len(totals) == group_count(households.sum(), 300, 500)
    assert ((totals >= 300) & (totals <= 500)).all()


def test_partition_keeps_zero_household_buildings() -> None:
    points = np.array([[x, 0.0] for x in range(10)])
    households = np.array([0, 0, 200, 0, 200, 0, 200, 0, 200, 0], dtype=float)
    labels = partition_households(points, households, households_range=(300, 500))
    assert len(labels) == 10 and (labels >= 0).all()
    assert sorted(np.bincount(labels, weights=households)) == [400, 400]
    for g in np.unique(labels):  # on a line, connected means consecutive
        members = np.flatnonzero(labels == g)
        assert (np.diff(members) == 1).all()


@pytest.mark.parametrize(
    ("total", "expected"),
    [(0, 1), (250, 1), (500, 1), (520, 2), (900, 2), (1000, 3), (6000, 14), (1200, 3)],
)
def test_group_count(total: float, expected: int) -> None:
    assert group_count(total, 300, 500) == expected
