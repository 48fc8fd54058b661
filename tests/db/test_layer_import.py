"""Importing delivered layers (communities, grids, buildings, units) into a real city, on both databases."""

from __future__ import annotations

import uuid

import geopandas as gpd
import pytest
import shapely
from geoalchemy2.shape import to_shape
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from geo.layers import read_layer
from patrol.cases.service import create_case
from patrol.city.gridding import check_city_grids
from patrol.city.layer_import import import_layer
from patrol.city.osm_import import store_city
from patrol.city.read_models import layer
from patrol.core.auth import SYSTEM
from patrol.core.db import make_engine
from patrol.core.errors import Conflict, ImportFailed
from patrol.core.models import Building, Category, Community, Grid, Responsibility, ResponsibleUnit
from patrol.core.settings import Settings


@pytest.fixture
def city(monaco_city_url):
    """A session on a database of this test's own holding Monaco with its grids: a copy of the run's template
    (tests/conftest.py CityTemplates) instead of storing and gridding the city for each test."""
    engine = make_engine(monaco_city_url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            yield session
    finally:
        engine.dispose()


def count(session, model, *where):
    return session.scalar(select(func.count()).select_from(model).where(*where))


def grid_of_buildings(session) -> dict[int, str]:
    return dict(session.execute(select(Building.id, Grid.code).join(Grid, Building.grid_id == Grid.id)).all())


def test_grids_round_trip_through_geopackage_keeps_codes_and_every_building_placement(city, tmp_path):
    session = city
    before = grid_of_buildings(session)
    path = tmp_path / "grids.gpkg"
    layer(session, "grids").to_file(path, layer="grids")
    with pytest.raises(Conflict):
        import_layer(session, "grids", read_layer(path), source="grids.gpkg")
    summary = import_layer(session, "grids", read_layer(path), source="grids.gpkg", replace=True)
    assert summary.imported == summary.replaced == len(set(before.values()))
    assert grid_of_buildings(session) == before


def test_grids_without_codes_get_15_digit_codes_in_their_community(city):
    session = city
    grids = layer(session, "grids")[["name", "geometry"]]
    import_layer(session, "grids", grids, source="drawn.geojson", replace=True)
    codes = list(session.scalars(select(Grid.code)))
    assert len(codes) == len(grids) == len(set(codes)) and all(len(c) == 15 and c.isdigit() for c in codes)
    report = check_city_grids(session, households_range=None)
    assert report.check.buildings_in_several_grids == 0


def test_a_bad_grids_layer_changes_nothing_and_names_every_problem_class(city):
    session = city
    before = grid_of_buildings(session)
    grids = layer(session, "grids")[["code", "geometry"]].copy()
    bowtie = shapely.Polygon([(7.42, 43.73), (7.421, 43.731), (7.421, 43.73), (7.42, 43.731)])
    grids.loc[0, "geometry"] = shapely.Point(7.42, 43.73)
    grids.loc[1, "geometry"] = bowtie
    grids.loc[2, "geometry"] = shapely.affinity.translate(grids.geometry.iloc[2], xoff=1.0)  # 80 km east
    grids.loc[3, "code"] = grids.loc[4, "code"]
    with pytest.raises(ImportFailed) as exc:
        import_layer(session, "grids", grids, source="bad.gpkg", replace=True)
    kinds = [line.split(":")[0] for line in exc.value.details]
    assert kinds == ["wrong_geometry_type", "invalid_geometry", "duplicate_code", "outside_city"]
    assert grid_of_buildings(session) == before


def test_communities_replace_moves_buildings_and_removes_grids(city, tmp_path):
    session = city
    in_community = count(session, Building, Building.community_id.is_not(None))
    path = tmp_path / "communities.geojson"
    com = layer(session, "communities")[["code", "name", "geometry"]]
    com.to_file(path)
    with pytest.raises(Conflict):
        import_layer(session, "communities", read_layer(path), source=path.name)
    summary = import_layer(session, "communities", read_layer(path), source=path.name, replace=True)
    assert summary.imported == len(com)
    assert sorted(session.scalars(select(Community.name))) == sorted(com["name"])
    assert count(session, Building, Building.community_id.is_not(None)) == in_community
    assert count(session, Grid) == 0 and any("grids generate" in n for n in summary.notes)


def test_buildings_surveyed_households_are_kept_and_the_rest_estimated(city):
    session = city
    extra = gpd.GeoDataFrame({"名称": ["新楼 A", "新楼 B"], "户数": [120, None], "层数": [18, 18],
                              "用途": ["apartments", "apartments"]},
                             geometry=[shapely.box(7.4205, 43.7305, 7.4209, 43.7308),
                                       shapely.box(7.4212, 43.7305, 7.4216, 43.7308)], crs=4326)
    total = count(session, Building)
    import_layer(session, "buildings", extra, source="survey.gpkg")
    assert count(session, Building) == total + 2
    rows = {r.name: r for r in session.scalars(select(Building).where(Building.name.like("新楼%")))}
    assert rows["新楼 A"].households == 120 and not rows["新楼 A"].households_estimated
    assert rows["新楼 B"].households > 50 and rows["新楼 B"].households_estimated
    assert rows["新楼 A"].community_id is not None


def test_units_points_and_jurisdictions(city):
    session = city
    units = gpd.GeoDataFrame({"type": ["property", "fire"], "name": ["丰泰物业", "Monaco fire station"],
                              "phone": ["0532-1", None]},
                             geometry=[shapely.box(7.420, 43.730, 7.423, 43.733), shapely.Point(7.4246, 43.7367)],
                             crs=4326)
    summary = import_layer(session, "units", units, source="units.geojson")
    assert summary.imported == 2 == count(session, ResponsibleUnit)
    assert count(session, ResponsibleUnit, ResponsibleUnit.jurisdiction.is_not(None)) == 1
    bad = units.assign(type=[None, "fire"])
    with pytest.raises(ImportFailed):
        import_layer(session, "units", bad, source="units.geojson", replace=True)
    assert count(session, ResponsibleUnit) == 2


def test_categories_are_loaded_on_first_use_by_an_import_and_by_a_report(session, monaco):
    assert count(session, Category) == 0
    store_city(session, monaco, source="test")
    assert count(session, Category) > 10 and count(session, Responsibility) > 10
    session.execute(delete(Category))  # a database whose categories nobody loaded: a report does not fail
    point = to_shape(session.scalars(select(Community)).first().geom).representative_point()
    created = create_case(session, SYSTEM, Settings(), client_id=str(uuid.uuid4()), category="C0103", lon=point.x,
                          lat=point.y)
    assert created.case.category_code == "C0103" and count(session, Category) > 10
