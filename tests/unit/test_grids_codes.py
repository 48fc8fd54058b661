"""Grid codes and reading order (geo.grids.codes)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import box

from geo.errors import GeoValidationError
from geo.grids.codes import assign_codes, grid_code, reading_order


def test_grid_code_is_fifteen_digits() -> None:
    code = grid_code("110105", 7, 12, 3)
    assert code == "110105007012003"
    assert len(code) == 15 and code.isdigit()
    assert grid_code("110105", 999, 999, 999) == "110105999999999"
    assert grid_code("110105", np.int64(1), 1, 1) == "110105001001001"


def test_bad_district_names_its_field() -> None:
    with pytest.raises(GeoValidationError) as err:
        grid_code("12AB56", 1, 1, 1)
    assert [p.field for p in err.value.problems] == ["district"]


@pytest.mark.parametrize("district", ["11010", "1101050", "١١٠١٠٥", 110105])
def test_district_must_be_six_ascii_digits(district: object) -> None:
    with pytest.raises(GeoValidationError) as err:
        grid_code(district, 1, 1, 1)  # type: ignore[arg-type]
    assert err.value.problems[0].field == "district"


def test_every_bad_part_is_reported() -> None:
    with pytest.raises(GeoValidationError) as err:
        grid_code("110105", 0, 1000, True)  # type: ignore[arg-type]
    assert [p.field for p in err.value.problems] == ["street", "community", "seq"]


def test_reading_order_on_a_three_by_three_lattice() -> None:
    xs, ys = np.meshgrid([0.0, 100.0, 200.0], [0.0, 100.0, 200.0])
    points = np.column_stack([xs.ravel(), ys.ravel()])
    rng = np.random.default_rng(5)
    shuffled = rng.permutation(len(points))
    rank = reading_order(points[shuffled])
    in_order = points[shuffled][np.argsort(rank)]
    expected = [(0, 200), (100, 200), (200, 200), (0, 100), (100, 100), (200, 100), (0, 0), (100, 0), (200, 0)]
    assert [tuple(p) for p in in_order] == expected


def test_reading_order_tolerates_jitter_within_a_row() -> None:
    points = np.array([[0.0, 198.0], [100.0, 203.0], [200.0, 195.0], [0.0, 101.0], [100.0, 97.0], [200.0, 104.0]])
    assert list(reading_order(points, row_height_m=50.0)) == [0, 1, 2, 3, 4, 5]
    assert list(reading_order(points, areas=np.full(6, 50.0**2))) == [0, 1, 2, 3, 4, 5]


def test_reading_order_on_a_line_and_empty() -> None:
    assert list(reading_order(np.array([[2.0, 0.0], [0.0, 0.0], [1.0, 0.0]]))) == [2, 0, 1]
    assert list(reading_order(np.array([[0.0, 0.0], [0.0, 2.0], [0.0, 1.0]]))) == [2, 0, 1]
    assert len(reading_order(np.zeros((0, 2)))) == 0


def test_row_height_must_be_positive() -> None:
    with pytest.raises(GeoValidationError) as err:
        reading_order(np.zeros((2, 2)), row_height_m=0)
    assert err.value.problems[0].field == "row_height_m"


def test_assign_codes_numbers_grids_in_reading_order() -> None:
    cells = [box(x, y, x + 100, y + 100) for y in (0, 100, 200) for x in (0, 100, 200)]  # south-west first
    grids = gpd.GeoDataFrame({"grid_no": range(9)}, geometry=cells, index=list("abcdefghi"), crs="EPSG:32650")
    codes = assign_codes(grids, district="110105", street=2, community=3)
    assert codes.name == "code"
    assert list(codes.index) == list("abcdefghi")
    assert codes["g"] == "110105002003001"  # north-west
    assert codes["i"] == "110105002003003"
    assert codes["a"] == "110105002003007"  # south-west
    assert codes.is_unique


def test_assign_codes_refuses_degrees_and_bad_parts() -> None:
    grids = gpd.GeoDataFrame(geometry=[box(0, 0, 1, 1)], crs="EPSG:4326")
    with pytest.raises(GeoValidationError) as err:
        assign_codes(grids, district="110105", street=1, community=1)
    assert err.value.problems[0].kind == "crs"
    with pytest.raises(GeoValidationError) as err:
        assign_codes(grids.set_crs("EPSG:32650", allow_override=True), district="1101", street=1, community=1)
    assert err.value.problems[0].field == "district"
