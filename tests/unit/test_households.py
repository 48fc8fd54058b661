"""Tests of geo.households with hand-computed expectations."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import Point, box

from geo.errors import GeoValidationError
from geo.households import DEFAULT_LEVELS, FALLBACK_LEVELS, estimate_households, parse_levels

UTM_51N = "EPSG:32651"


def _buildings(rows: list[tuple[str | None, object, object]], crs: str | None = UTM_51N) -> gpd.GeoDataFrame:
    types, levels, geoms = zip(*rows, strict=True)
    return gpd.GeoDataFrame({"building": types, "levels": levels}, geometry=list(geoms), crs=crs)


def _households(rows: list[tuple[str | None, object, object]], **options: object) -> list[int]:
    return estimate_households(_buildings(rows), **options)["households"].tolist()


def test_parse_levels_osm_values() -> None:
    got = parse_levels(["3", "2.5", "3;4", " 4 ", "", None, "ground", 5, 2.0, np.nan, "-1"])
    expected = [3, 2.5, 3, 4, np.nan, np.nan, np.nan, 5, 2, np.nan, -1]
    np.testing.assert_array_equal(got, np.array(expected, dtype=float))
    assert got.dtype == np.float64


def test_parse_levels_handles_all_missing_and_scalars() -> None:
    assert np.isnan(parse_levels([None, None])).all()
    np.testing.assert_array_equal(parse_levels("7"), [7.0])


def test_hand_computed_examples() -> None:
    rows = [
        ("apartments", "5", box(0, 0, 20, 10)),  # floor(200 * 5 / 90) = 11
        ("garage", None, box(0, 0, 20, 10)),  # not residential
        ("yes", None, box(0, 0, 5, 1)),  # 5 m² shed: below the minimum footprint
        ("house", None, box(0, 0, 12, 10)),  # floor(120 * 2 / 90) = 2
    ]
    assert _households(rows) == [11, 0, 0, 2]


def test_output_frame_shape_and_types() -> None:
    gdf = _buildings([("house", "2", box(0, 0, 10, 10)), ("shed", None, box(0, 0, 10, 10))])
    gdf.index = ["w1", "w2"]
    out = estimate_households(gdf)
    assert list(out.columns) == ["households", "households_estimated"]
    assert list(out.index) == ["w1", "w2"]
    assert out["households"].dtype == np.int64
    assert out["households_estimated"].dtype == bool and out["households_estimated"].all()


@pytest.mark.parametrize(
    "kind",
    ["garage", "shed", "industrial", "commercial", "retail", "school", "church", "barn", "stable", "roof"],
)
def test_non_residential_types_hold_no_households(kind: str) -> None:
    assert _households([(kind, "10", box(0, 0, 50, 50))]) == [0]


def test_small_residential_building_gets_at_least_one() -> None:
    # 40 m² × 1 level ÷ 90 m² rounds down to 0, but someone lives there.
    assert _households([("house", "1", box(0, 0, 8, 5))]) == [1]
    # At the threshold exactly: 30 m² counts, 29.9 m² does not.
    assert _households([("yes", None, box(0, 0, 6, 5)), ("yes", None, box(0, 0, 5.98, 5))]) == [1, 0]


def test_exact_multiple_is_not_lost_to_rounding() -> None:
    # 32.21 m × (540 / 32.21 / 5) m is 108 m² on paper; in floating point the area is 107.99999999999999,
    # and 108 × 5 levels ÷ 90 m² must still give 6 dwellings, not 5.
    footprint = box(0, 0, 32.21, 540 / 32.21 / 5)
    assert footprint.area < 108
    assert _households([("residential", "5", footprint)]) == [6]


def test_default_levels_by_type() -> None:
    footprint = box(0, 0, 30, 30)  # 900 m² → 10 dwellings per level
    rows = [(kind, None, footprint) for kind in ("detached", "dormitory", "yes", "cabin")]
    assert _households(rows) == [20, 40, 20, 10]
    assert DEFAULT_LEVELS["apartments"] == 4 and FALLBACK_LEVELS == 1


def test_unusable_levels_fall_back_to_defaults() -> None:
    footprint = box(0, 0, 30, 30)
    rows = [("apartments", value, footprint) for value in ("0", "-2", "many", None, "6;7")]
    assert _households(rows) == [40, 40, 40, 40, 60]


def test_options_override_defaults() -> None:
    footprint = box(0, 0, 30, 30)
    rows = [("house", None, footprint), ("office", None, footprint)]
    assert _households(rows, default_levels={"house": 3}) == [30, 0]
    assert _households(rows, residential_types={"Office"}, dwelling_m2=100) == [0, 9]


def test_missing_type_counts_as_unknown_building_and_case_is_ignored() -> None:
    footprint = box(0, 0, 30, 30)
    assert _households([(None, None, footprint), ("  House ", None, footprint)]) == [20, 20]


def test_missing_levels_column_uses_defaults() -> None:
    gdf = _buildings([("apartments", "9", box(0, 0, 30, 30))]).drop(columns="levels")
    assert estimate_households(gdf)["households"].tolist() == [40]


def test_non_polygons_and_missing_geometries_hold_none() -> None:
    assert _households([("house", None, Point(0, 0)), ("house", None, None)]) == [0, 0]


def test_area_agrees_with_hand_calculation() -> None:
    b = box(0, 0, 17.3, 11.1)
    assert _households([("apartments", "6", b)]) == [math.floor(17.3 * 11.1 * 6 / 90)]


def test_geographic_crs_raises() -> None:
    gdf = _buildings([("house", None, box(120.38, 36.06, 120.3801, 36.0601))], crs="EPSG:4326")
    with pytest.raises(GeoValidationError) as info:
        estimate_households(gdf)
    assert info.value.problems[0].kind == "geographic_crs"
    assert info.value.problems[0].field == "crs"


def test_missing_crs_and_bad_options_are_reported_together() -> None:
    gdf = _buildings([("house", None, box(0, 0, 10, 10))], crs=None)
    with pytest.raises(GeoValidationError) as info:
        estimate_households(gdf, building_col="use", dwelling_m2=0)
    assert {p.field for p in info.value.problems} == {"crs", "building_col", "dwelling_m2"}


def test_crs_in_feet_raises() -> None:
    gdf = _buildings([("house", None, box(0, 0, 10, 10))], crs="EPSG:2263")  # NY State Plane, US feet
    with pytest.raises(GeoValidationError, match="not metres"):
        estimate_households(gdf)
