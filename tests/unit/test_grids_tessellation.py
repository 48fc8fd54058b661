"""Morphological tessellation and cell dissolving (geo.grids.tessellation)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import Polygon, box

from geo.errors import GeoValidationError
from geo.grids.partition import building_adjacency
from geo.grids.tessellation import building_tessellation, dissolve_cells

CRS = "EPSG:32632"


def _series(geoms: list[Polygon], *, index: list[object] | None = None) -> gpd.GeoSeries:
    return gpd.GeoSeries(geoms, index=index, crs=CRS)


def _assert_tiles(cells: gpd.GeoSeries, area: Polygon) -> None:
    assert cells.area.sum() == pytest.approx(area.area, rel=1e-9)
    assert shapely.union_all(cells.to_numpy()).symmetric_difference(area).area < 1e-6
    left, right = cells.sindex.query(cells, predicate="intersects")
    keep = left < right
    overlap = shapely.area(shapely.intersection(cells.to_numpy()[left[keep]], cells.to_numpy()[right[keep]]))
    assert (overlap < 1e-6).all()


def test_cells_tile_the_area_and_hold_their_footprints() -> None:
    area = box(0, 0, 100, 60)
    rng = np.random.default_rng(7)
    footprints = [box(x, y, x + 8, y + 6) for x in range(5, 95, 15) for y in range(5, 55, 12)]
    ids = [f"b{i}" for i in rng.permutation(len(footprints))]
    cells = building_tessellation(area, _series(footprints, index=ids))
    assert list(cells.index) == ids
    assert cells.crs == CRS
    _assert_tiles(cells, area)
    assert all(cell.contains(fp) for cell, fp in zip(cells, footprints, strict=True))


def test_terraced_houses_sharing_walls_get_separate_cells() -> None:
    area = box(0, 0, 60, 30)
    row = [box(10 + 6 * i, 10, 16 + 6 * i, 20) for i in range(6)]  # touching walls: shared outline points
    cells = building_tessellation(area, _series(row))
    _assert_tiles(cells, area)
    for cell, fp in zip(cells, row, strict=True):
        # The shared wall is the cell boundary, give or take the 0.01 mm by which seed points are jittered.
        assert fp.difference(cell).area < 1e-3
        assert cell.buffer(1e-4).contains(fp)


def test_tiny_building_keeps_a_cell() -> None:
    area = box(0, 0, 50, 50)
    shed = box(20, 20, 20.5, 20.5)  # vanishes when shrunk by 0.4 m
    cells = building_tessellation(area, _series([box(2, 2, 12, 12), shed]))
    assert cells.iloc[1].area > 0
    assert cells.iloc[1].contains(shed.centroid)
    _assert_tiles(cells, area)


def test_building_partly_outside_and_exact_duplicate() -> None:
    area = box(0, 0, 50, 50)
    straddling = box(45, 20, 55, 30)
    twin = box(10, 10, 20, 20)
    cells = building_tessellation(area, _series([straddling, twin, twin]))
    _assert_tiles(cells, area)
    assert cells.iloc[0].within(area)
    assert cells.iloc[0].contains(straddling.intersection(area).buffer(-0.01))
    # An exact duplicate loses its outline to the first copy and keeps a small cell around an interior point.
    assert 0 < cells.iloc[2].area < twin.area
    assert cells.iloc[2].within(twin)
    assert cells.iloc[1].contains(twin.exterior)


def test_no_buildings_gives_empty_result() -> None:
    cells = building_tessellation(box(0, 0, 10, 10), _series([]))
    assert len(cells) == 0
    assert cells.crs == CRS


def test_single_building_gets_the_whole_area() -> None:
    area = Polygon([(0, 0), (40, 0), (40, 40), (20, 20), (0, 40)])
    cells = building_tessellation(area, _series([box(5, 5, 10, 10)]))
    assert cells.iloc[0].symmetric_difference(area).area < 1e-9


def test_geographic_crs_is_refused() -> None:
    with pytest.raises(GeoValidationError) as err:
        building_tessellation(box(0, 0, 1, 1), gpd.GeoSeries([box(0, 0, 0.1, 0.1)], crs="EPSG:4326"))
    assert err.value.problems[0].field == "buildings"


def test_dissolve_cells_tiles_and_drops_shared_edges() -> None:
    area = box(0, 0, 90, 90)
    footprints = [box(x + 10, y + 10, x + 20, y + 20) for x in (0, 30, 60) for y in (0, 30, 60)]
    cells = building_tessellation(area, _series(footprints))
    labels = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2])
    merged = dissolve_cells(cells, labels)
    assert list(merged.index) == [0, 1, 2]
    assert (merged.geom_type == "Polygon").all()
    _assert_tiles(merged, area)
    assert merged.iloc[0].hausdorff_distance(box(0, 0, 30, 90)) < 1e-3


def test_dissolve_cells_checks_labels() -> None:
    cells = _series([box(0, 0, 1, 1), box(1, 0, 2, 1)])
    with pytest.raises(GeoValidationError) as err:
        dissolve_cells(cells, np.array([0]))
    assert err.value.problems[0].field == "labels"


def test_building_adjacency_needs_a_shared_edge() -> None:
    cells = _series([box(0, 0, 1, 1), box(1, 0, 2, 1), box(2, 0, 3, 1), box(3, 1, 4, 2)])  # last: corner only
    adjacency = building_adjacency(cells).toarray()
    assert (adjacency == adjacency.T).all()
    assert adjacency[0, 1] == adjacency[1, 2] == 1
    assert adjacency[0, 2] == 0
    assert adjacency[2, 3] == 0
    assert np.diag(adjacency).sum() == 0
