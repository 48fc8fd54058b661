"""Official codes per level, parent links by code/name and by location, column mapping and --crs (pure geo code)."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely

from geo.area_codes import format_problem, grid_stem, prefix_problem
from geo.errors import GeoValidationError, Problem
from geo.grids.codes import assign_codes
from geo.layers import column_mapping, in_lonlat, prepare_layer
from geo.parents import COMMUNITY_IN_SUBDISTRICT, link_parents


@pytest.mark.parametrize(("code", "level", "scheme", "ok"), [
    ("370602001", "subdistricts", "gb", True), ("001", "subdistricts", None, True),
    ("370602", "subdistricts", "gb", False), ("370602001002", "communities", "gb", True),
    ("002", "communities", "gb", True), ("37060200100", "communities", "gb", False),
    ("370602001002003", "grids", "gb", True), ("003", "grids", "gb", False),
    ("南山-7", "communities", "own", True), ("x" * 21, "grids", "own", False),
])
def test_code_formats_per_level_and_scheme(code, level, scheme, ok):
    assert (format_problem(code, level, scheme) is None) == ok


def test_long_codes_start_with_their_parents():
    assert prefix_problem("370602001", None, "subdistricts", "gb", district="370602") is None
    assert "does not start with the city's district code 370602" in prefix_problem(
        "370611001", None, "subdistricts", "gb", district="370602")
    assert prefix_problem("370602001002", "370602001", "communities", "gb") is None
    assert "its subdistrict's code 370602001" in prefix_problem("370602009002", "370602001", "communities", "gb")
    assert prefix_problem("370602009002", "370602001", "communities", "own") is None
    assert prefix_problem("002", "370602001", "communities", "gb") is None


def test_grid_stems_for_every_kind_of_community_code():
    assert grid_stem("370602001002", street_code="370602001", district="370602", scheme="gb") == "370602001002"
    assert grid_stem("002", street_code="001", district="370602", scheme="gb") == "370602001002"
    assert grid_stem("002", street_code="370602001", district="370602", scheme="gb") == "370602001002"
    assert grid_stem("NS-7", street_code="NS", district="370602", scheme="own") == "NS-7"
    with pytest.raises(ValueError, match="too long"):
        grid_stem("x" * 18, street_code="s", district="370602", scheme="own")
    grids = gpd.GeoDataFrame(geometry=[shapely.box(0, 100, 10, 110), shapely.box(0, 0, 10, 10)], crs=32650)
    assert list(assign_codes(grids, stem="NS-7")) == ["NS-7001", "NS-7002"]  # north first
    assert list(assign_codes(grids, district="370602", street=1, community=2)) == ["370602001002001",
                                                                                "370602001002002"]


def _subs() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"id": [1, 2], "code": ["370602001", "370602002"], "name": ["东街", "西街"]},
                            geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)], crs=4326)


def test_parents_by_code_name_and_location_must_agree():
    coms = gpd.GeoDataFrame({"row": [1, 2, 3, 4, 5], "code": ["a", "b", "c", "d", "e"], "name": list("ABCDE"),
                             "subdistrict": ["370602001", "西街", "370602001", None, "北街"]},
                            geometry=[shapely.box(0.1, 0.1, 0.2, 0.2), shapely.box(1.1, 0.1, 1.2, 0.2),
                                      shapely.box(1.5, 0.5, 1.6, 0.6), shapely.box(5, 5, 6, 6),
                                      shapely.box(0.3, 0.3, 0.4, 0.4)], crs=4326)
    ids, problems = link_parents(coms, _subs(), "subdistrict", COMMUNITY_IN_SUBDISTRICT)
    assert ids == [1, 2, None, None, None]
    kinds = {p.feature_id: p.kind for p in problems}
    assert kinds == {3: "parent_mismatch", 4: "outside_subdistricts", 5: "unknown_subdistrict"}
    mismatch = next(p.message for p in problems if p.feature_id == 3)
    assert mismatch == ("row 3 community c C names subdistrict '370602001' (370602001 东街) but lies in 370602002 西街 "
                        "(at 1.5500, 0.5500)")


def test_column_mapping_crs_and_codes_in_prepare_layer():
    raw = gpd.GeoDataFrame({"JDDM": ["370602001", "370611001"], "JDMC": ["东街", "西街"], "name": ["x", "y"]},
                           geometry=[shapely.box(121.3, 37.5, 121.31, 37.51), shapely.box(121.31, 37.5, 121.32, 37.51)])
    with pytest.raises(GeoValidationError) as failed:
        prepare_layer(raw, "subdistricts", columns=column_mapping("subdistricts", code="JDDM", name="JDMC"),
                      crs="EPSG:4490", district_code="370602")
    assert [(p.kind, p.feature_id) for p in failed.value.problems] == [("bad_value", 2)]
    layer = prepare_layer(raw.iloc[:1], "subdistricts", columns={"code": "jddm", "name": "JDMC"}, crs="EPSG:4490",
                          district_code="370602")
    assert layer.crs.to_epsg() == 4326 and list(layer["code"]) == ["370602001"] and list(layer["name"]) == ["东街"]
    with pytest.raises(GeoValidationError) as failed:
        prepare_layer(raw.set_crs(4326), "subdistricts", columns={"code": "BM"}, crs="EPSG:4490")
    assert {p.kind for p in failed.value.problems} == {"missing_column", "wrong_crs"}
    with pytest.raises(GeoValidationError, match="--parent-column applies to"):
        column_mapping("subdistricts", parent="X")
    assert column_mapping("grids", parent="SQ", households="HS") == {"households": "HS", "community": "SQ"}


def test_geos_places_in_projected_messages_become_lonlat():
    [p] = in_lonlat([Problem("invalid_geometry", "Self-intersection[500000 2488000]", 1)], "EPSG:4547")
    assert p.message == "Self-intersection at 114.0000, 22.4895"
