"""Checking delivered layers (pure): every problem found at once, CRS and datum handled at the edge."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo.crs import wgs84_to_gcj02
from geo.errors import GeoValidationError
from geo.layers import GRID_PLAN, prepare_layer, read_layer
from tests.conftest import shared_file

CITY = shapely.box(9.47, 47.04, 9.64, 47.27)  # Liechtenstein, lon/lat


def kinds(exc: pytest.ExceptionInfo) -> dict[str, list]:
    out: dict[str, list] = {}
    for p in exc.value.problems:
        out.setdefault(p.kind, []).append(p.feature_id)
    return out


def test_every_problem_of_a_bad_grids_layer_is_reported_with_its_row():
    bowtie = shapely.Polygon([(9.50, 47.10), (9.51, 47.11), (9.51, 47.10), (9.50, 47.11)])
    gdf = gpd.GeoDataFrame(
        {"code": ["423000001001001", "423000001001001", "12", None, None]},
        geometry=[shapely.box(9.50, 47.10, 9.51, 47.11), shapely.box(9.52, 47.10, 9.53, 47.11),
                  shapely.Point(9.5, 47.1), bowtie, shapely.box(12.0, 50.0, 12.01, 50.01)],
        crs=4326)
    with pytest.raises(GeoValidationError) as exc:
        prepare_layer(gdf, "grids", city_area=CITY, metric_crs=32632)
    found = kinds(exc)
    assert found["duplicate_code"] == [1, 2]
    assert found["bad_value"] == [3]
    assert found["wrong_geometry_type"] == [3]
    assert found["invalid_geometry"] == [4]
    assert found["outside_city"] == [5]


def test_a_clean_layer_comes_back_in_wgs84_with_canonical_columns_from_chinese_headers():
    gdf = gpd.GeoDataFrame({"名称": ["一号楼", "二号楼"], "户数": [24, None], "层数": ["6", "3"]},
                           geometry=[shapely.box(0, 0, 20, 10), shapely.box(30, 0, 50, 10)], crs=32632)
    gdf = gdf.set_geometry(gdf.translate(539500, 5221000))  # Vaduz in UTM 32N
    out = prepare_layer(gdf, "buildings", city_area=CITY, metric_crs=32632)
    assert out.crs.to_epsg() == 4326
    assert list(out["name"]) == ["一号楼", "二号楼"]
    assert out["households"].tolist()[0] == 24 and out["households"].isna().tolist() == [False, True]
    assert out["levels"].tolist() == [6.0, 3.0]
    assert set(out.geometry.geom_type) == {"MultiPolygon"}
    minx, miny, maxx, maxy = out.total_bounds
    assert 9.47 < minx < maxx < 9.64 and 47.04 < miny < maxy < 47.27


def test_missing_required_columns_and_bad_numbers_are_named():
    gdf = gpd.GeoDataFrame({"type": ["fire", ""], "households": [1, 2]},
                           geometry=[shapely.Point(9.5, 47.1), shapely.Point(9.51, 47.1)], crs=4326)
    with pytest.raises(GeoValidationError) as exc:
        prepare_layer(gdf, "units", city_area=CITY)
    fields = {(p.kind, p.field) for p in exc.value.problems}
    assert ("missing_column", "name") in fields and ("bad_value", "type") in fields

    b = gpd.GeoDataFrame({"households": [-3, 2.5, "many"]}, geometry=[shapely.box(9.5, 47.1, 9.5001, 47.1001)] * 3,
                         crs=4326)
    with pytest.raises(GeoValidationError) as exc:
        prepare_layer(b, "buildings", city_area=CITY)
    assert kinds(exc) == {"bad_value": [1, 2, 3]}


def test_unit_polygons_become_jurisdictions_with_a_point_inside():
    gdf = gpd.GeoDataFrame({"type": ["property", "police"], "name": ["物业", "派出所"]},
                           geometry=[shapely.box(9.50, 47.10, 9.51, 47.11), shapely.Point(9.52, 47.12)], crs=4326)
    out = prepare_layer(gdf, "units", city_area=CITY)
    assert out.geometry.geom_type.tolist() == ["Point", "Point"]
    assert out["jurisdiction"].iloc[0].contains(out.geometry.iloc[0]) and out["jurisdiction"].iloc[1] is None


def test_a_shapefile_without_prj_has_an_unknown_crs(tmp_path):
    gdf = gpd.GeoDataFrame({"name": ["a"]}, geometry=[shapely.box(9.5, 47.1, 9.51, 47.11)], crs=4326)
    gdf.to_file(tmp_path / "c.shp")
    (tmp_path / "c.prj").unlink()
    layer = read_layer(tmp_path / "c.shp")
    with pytest.raises(GeoValidationError) as exc:
        prepare_layer(layer, "communities", city_area=CITY)
    assert list(kinds(exc)) == ["unknown_crs"]


def test_unreadable_files_and_layer_choice(tmp_path):
    junk = tmp_path / "x.gpkg"
    junk.write_bytes(b"not a geopackage")
    with pytest.raises(GeoValidationError) as exc:
        read_layer(junk)
    assert list(kinds(exc)) == ["unreadable"]
    with pytest.raises(GeoValidationError) as exc:
        read_layer(tmp_path / "missing.geojson")
    assert "no such file" in exc.value.problems[0].message

    two = tmp_path / "two.gpkg"
    g = gpd.GeoDataFrame({"name": ["a"]}, geometry=[shapely.box(0, 0, 1, 1)], crs=4326)
    g.to_file(two, layer="grids")
    g.to_file(two, layer="other")
    assert len(read_layer(two, kind="grids")) == 1
    with pytest.raises(GeoValidationError) as exc:
        read_layer(two, kind="buildings")
    assert "grids" in exc.value.problems[0].message and exc.value.problems[0].field == "source_layer"


def test_gcj02_points_are_shifted_back_to_wgs84_in_qingdao():
    qingdao = gpd.read_file(shared_file("china/qingdao_370200_districts_datav.json"))
    area = shapely.union_all(qingdao.geometry.to_numpy())
    lon, lat = 120.38, 36.06  # the case of the leaning lamp post
    glon, glat = wgs84_to_gcj02(lon, lat)
    gdf = gpd.GeoDataFrame({"type": ["城管"], "name": ["市南城管中队"]}, geometry=[shapely.Point(glon, glat)],
                           crs=4326)
    raw = prepare_layer(gdf, "units", city_area=area)
    fixed = prepare_layer(gdf, "units", city_area=area, datum="gcj02")
    metric = gpd.GeoSeries([raw.geometry.iloc[0], fixed.geometry.iloc[0], shapely.Point(lon, lat)],
                           crs=4326).to_crs(32651)
    assert metric.iloc[0].distance(metric.iloc[2]) > 300  # GCJ-02 read as WGS-84 is hundreds of metres off
    assert metric.iloc[1].distance(metric.iloc[2]) < 0.5
    assert np.isclose(fixed.geometry.iloc[0].x, lon, atol=1e-5)


def test_datum_needs_lon_lat():
    gdf = gpd.GeoDataFrame({"name": ["a"]}, geometry=[shapely.box(760000, 5220000, 760100, 5220100)], crs=32632)
    with pytest.raises(GeoValidationError) as exc:
        prepare_layer(gdf, "communities", datum="gcj02")
    assert list(kinds(exc)) == ["datum_mismatch"]


def test_qingdao_districts_are_a_valid_communities_layer():
    raw = json.loads(shared_file("china/qingdao_370200_districts_datav.json").read_text())
    gdf = gpd.GeoDataFrame.from_features(raw["features"], crs=4326)
    out = prepare_layer(gdf, "communities")
    assert len(out) == len(raw["features"]) and out["name"].notna().all()


def test_a_grid_plan_layer_reports_a_wrong_crs_with_every_other_problem():
    """The plan upload's path: codes required, ids as whole numbers, only the CRSs allowed — all in one error,
    the CRS problem first."""
    gdf = gpd.GeoDataFrame(
        {"wgbm": ["423000001001001", None], "comm_id": [1, "x"], "worker": [None, 2.5]},
        geometry=[shapely.box(9.50, 47.10, 9.51, 47.11), shapely.box(9.52, 47.10, 9.53, 47.11)],
        crs=4326).to_crs(3857)
    with pytest.raises(GeoValidationError) as exc:
        prepare_layer(gdf, "grids", spec=GRID_PLAN, city_area=CITY, metric_crs=32632, crs_allowed=(4326, 32632))
    assert exc.value.problems[0].kind == "wrong_crs" and "EPSG:3857" in exc.value.problems[0].message
    found = kinds(exc)
    assert found["bad_value"] == [2, 2, 2]  # code empty, community_id 'x', worker_id 2.5
    assert {p.field for p in exc.value.problems if p.kind == "bad_value"} == {"code", "community_id", "worker_id"}
    ok = prepare_layer(gdf.to_crs(4326).iloc[:1], "grids", spec=GRID_PLAN, crs_allowed=(4326,))
    assert list(ok.columns) == ["row", "code", "name", "community", "community_id", "worker_id", "geometry"]
    assert ok["community_id"].iloc[0] == 1 and pd.isna(ok["worker_id"].iloc[0])


def test_the_operators_layer_import_reads_only_what_the_name_says(tmp_path):
    """`gridpatrol import FILE --layer …` reads through geo.intake too: a VRT named .gpkg reads nothing it names."""
    secret = tmp_path / "secret.csv"
    secret.write_text("name,WKT\nSECRET-99,\"POINT (0 0)\"\n")
    vrt = tmp_path / "grids.gpkg"
    vrt.write_text(f'<OGRVRTDataSource><OGRVRTLayer name="grids"><SrcDataSource>{secret}</SrcDataSource>'
                   "<SrcLayer>secret</SrcLayer></OGRVRTLayer></OGRVRTDataSource>")
    with pytest.raises(GeoValidationError) as exc:
        read_layer(vrt)
    assert list(kinds(exc)) == ["unreadable"] and "holds XML" in exc.value.problems[0].message
    assert "SECRET-99" not in str(exc.value)
