"""Roads, buildings with house numbers, water and green from delivered layers in other CRSs, OSM water/green and
house numbers, and OSM parts into a city whose areas came from elsewhere (--only) — on both databases, on Monaco."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely
from sqlalchemy import delete, func, select

from geo.layers import prepare_layer
from geo.osm import read_osm
from patrol.city.layer_import import import_layer
from patrol.city.map_version import current
from patrol.city.osm_import import store_city
from patrol.city.osm_parts import import_osm_parts
from patrol.city.read_models import layer
from patrol.core.errors import Conflict, ImportFailed
from patrol.core.models import Building, Community, MapArea, RoadSegment
from tests.db.conftest import gdal_count

GK3 = 31467  # DHDN / 3-degree Gauss-Krüger zone 3 (CM 9°E): a Gauss–Krüger zone as a Chinese bureau's files use


@pytest.fixture
def city(session, monaco):
    store_city(session, monaco, source="test")
    return session


@pytest.fixture(scope="module")
def monaco_osm(monaco_path):
    return read_osm(monaco_path)


def count(session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def official_roads(session) -> gpd.GeoDataFrame:
    """The city's roads as a bureau would deliver them: Gauss–Krüger metres, Chinese headers and classes, 是/否."""
    roads = layer(session, "roads")
    chinese = {"primary": "主干路", "secondary": "次干路", "tertiary": "支路", "residential": "街巷",
               "footway": "人行"}
    out = gpd.GeoDataFrame({
        "MC": roads["name"],
        "DJ": [chinese.get(h, h) for h in roads["highway"]],
        "DX": ["是" if w else "否" for w in roads["oneway"]],
    }, geometry=roads.geometry.to_numpy(), crs="EPSG:4326").to_crs(GK3)
    return out


def test_a_road_layer_in_gauss_kruger_replaces_the_roads_as_the_osm_import_writes_them(city, tmp_path):
    session = city
    before = {r.id: r for r in session.scalars(select(RoadSegment))}
    version = current(session)
    delivered = official_roads(session)
    delivered.loc[0, "DJ"] = "乡间小路"  # not a class we know: unclassified, reported
    delivered.loc[1, "DX"] = "-1"  # one-way against the line: stored reversed
    path = tmp_path / "roads.gpkg"
    delivered.to_file(path)
    frame, columns = gpd.read_file(path), {"name": "MC", "class": "DJ", "oneway": "DX"}
    with pytest.raises(Conflict):
        import_layer(session, "roads", frame, source=path.name, columns=columns)
    summary = import_layer(session, "roads", frame, source=path.name, replace=True, columns=columns)
    assert summary.imported == len(before) and summary.replaced == len(before)
    assert any("1 segments of unknown class stored as unclassified: '乡间小路'" in n for n in summary.notes)
    after = session.scalars(select(RoadSegment).order_by(RoadSegment.id)).all()
    old = sorted(before.values(), key=lambda r: r.id)
    # same classes (Chinese ones mapped back), one-way flags, names and lengths (metric CRS) as the OSM import's
    assert [r.highway for r in after[1:]] == [r.highway for r in old[1:]] and after[0].highway == "unclassified"
    assert [r.oneway for r in after[2:]] == [r.oneway for r in old[2:]] and after[1].oneway
    assert [r.name for r in after] == [r.name for r in old]
    assert sum(r.length_m for r in after) == pytest.approx(sum(r.length_m for r in old), rel=1e-6)
    lines = layer(session, "roads")
    assert lines.geometry.iloc[1].equals_exact(shapely.reverse(delivered.to_crs(4326).geometry.iloc[1]), 1e-7)
    assert current(session) == version + 1


def test_a_bad_road_layer_lists_every_problem_and_writes_nothing(city):
    session = city
    before = count(session, RoadSegment)
    delivered = official_roads(session).head(5).copy()
    delivered.loc[0, "DX"] = "有时"
    delivered.loc[1, "geometry"] = shapely.Point(delivered.geometry.iloc[1].coords[0])
    delivered.loc[2, "geometry"] = shapely.affinity.translate(delivered.geometry.iloc[2], xoff=80_000)
    with pytest.raises(ImportFailed) as exc:
        import_layer(session, "roads", delivered, source="bad.shp", replace=True,
                     columns={"class": "DJ", "oneway": "DX"})
    kinds = [line.split(":")[0] for line in exc.value.details]
    assert kinds == ["wrong_geometry_type", "bad_value", "outside_city"], exc.value.details
    assert "有时" in exc.value.details[1]
    assert count(session, RoadSegment) == before


def test_road_columns_by_flag_and_a_crs_for_a_file_without_one():
    frame = gpd.GeoDataFrame({"名称": ["x", "y"], "LM": ["人民路", "解放路"], "DJ": ["快速路", "cycleway"],
                              "SX": ["-1", "否"]},
                             geometry=[shapely.LineString([(116.39, 39.9), (116.40, 39.91)]),
                                       shapely.MultiLineString([[(116.39, 39.9), (116.40, 39.9)],
                                                                [(116.40, 39.9), (116.41, 39.9)]])])
    out = prepare_layer(frame, "roads", columns={"name": "lm", "class": "DJ", "oneway": "SX"}, crs="EPSG:4490")
    assert list(out["row"]) == [1, 2, 2]  # the MultiLineString's parts keep its row
    assert list(out["name"]) == ["人民路", "解放路", "解放路"]  # 名称 (an alias of name) gave way to the named column
    assert list(out["highway"]) == ["motorway", "cycleway", "cycleway"] and list(out["oneway"]) == [True, False, False]
    assert out.geometry.iloc[0].coords[0] == pytest.approx((116.40, 39.91))  # -1: reversed


def test_buildings_with_house_numbers_households_and_names_from_gauss_kruger(city):
    session = city
    buildings = layer(session, "buildings").head(30)
    placed = [c for (c,) in session.execute(select(Building.community_id).order_by(Building.id).limit(30))]
    delivered = gpd.GeoDataFrame({
        "JZMC": [f"{i}号楼" for i in range(30)], "MPH": [str(100 + i) for i in range(30)],
        "DZ": [f"人民路{100 + i}号" for i in range(30)], "HS": list(range(30))},
        geometry=buildings.geometry.to_numpy(), crs="EPSG:4326").to_crs(GK3)
    summary = import_layer(session, "buildings", delivered, source="jz.shp", replace=True,
                           columns={"name": "JZMC", "housenumber": "MPH", "address": "DZ", "households": "HS"})
    assert summary.imported == 30 and "30 surveyed" in summary.notes[0]
    rows = session.execute(select(Building.name, Building.housenumber, Building.address, Building.households,
                                  Building.community_id).order_by(Building.id)).all()
    assert [r.housenumber for r in rows] == [str(100 + i) for i in range(30)]
    assert [(r.name, r.address, r.households) for r in rows] == [(f"{i}号楼", f"人民路{100 + i}号", i)
                                                                for i in range(30)]
    assert [r.community_id for r in rows] == placed and any(placed)  # placed again in their communities


def test_water_and_green_layers_go_to_map_area(city):
    session = city
    session.execute(delete(MapArea))
    square = shapely.box(7.420, 43.735, 7.421, 43.736)
    water = gpd.GeoDataFrame({"名称": ["港池"]}, geometry=[square], crs="EPSG:4326").to_crs(GK3)
    version = current(session)
    import_layer(session, "water", water, source="water.gpkg")
    import_layer(session, "green", gpd.GeoDataFrame(geometry=[square.buffer(-0.0002)], crs="EPSG:4326"),
                 source="green.geojson")
    with pytest.raises(Conflict):
        import_layer(session, "water", water, source="water.gpkg")
    rows = session.execute(select(MapArea.kind, MapArea.name, func.ST_Area(MapArea.geom))).all()
    assert sorted((k, n) for k, n, _ in rows) == [("green", None), ("water", "港池")]
    assert [a for k, _, a in rows if k == "water"][0] == pytest.approx(square.area, rel=1e-4)
    assert current(session) == version + 2


def test_the_osm_import_stores_water_green_and_house_numbers(city, monaco_path):
    session = city
    assert count(session, MapArea, MapArea.kind == "water") > 0 and count(session, MapArea, MapArea.kind == "green")
    with_number = gdal_count(monaco_path, "multipolygons",
                             "building IS NOT NULL AND other_tags LIKE '%\"addr:housenumber\"=>%'")
    assert with_number > 0 and count(session, Building, Building.housenumber.is_not(None)) == with_number
    parks = gdal_count(monaco_path, "multipolygons", "leisure IN ('park', 'garden') AND building IS NULL")
    assert count(session, MapArea, MapArea.kind == "green") >= parks * 0.9


def test_osm_parts_into_a_city_whose_areas_came_from_elsewhere(city, monaco_osm):
    session = city
    communities = dict(session.execute(select(Community.id, Community.code)).all())
    placed = dict(session.execute(select(Building.osm_id, Building.community_id)).all())
    for model in (Building, RoadSegment, MapArea):
        session.execute(delete(model))
    version = current(session)
    lines = import_osm_parts(session, monaco_osm, ("buildings", "roads", "water", "green"))
    assert lines[0].startswith("from monaco.osm.pbf")
    assert dict(session.execute(select(Community.id, Community.code)).all()) == communities
    again = dict(session.execute(select(Building.osm_id, Building.community_id)).all())
    inside = {o: c for o, c in placed.items() if c is not None}
    assert {o: again.get(o) for o in inside} == inside  # the same buildings in the same communities
    assert 0 < count(session, RoadSegment) <= len(monaco_osm.roads)
    assert count(session, MapArea, MapArea.kind == "water") > 0
    assert current(session) > version
    with pytest.raises(Conflict):
        import_osm_parts(session, monaco_osm, ("roads",))
