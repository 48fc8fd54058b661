"""Importing real OSM cities into SpatiaLite and PostGIS (every test runs on both)."""

from __future__ import annotations

import geopandas as gpd
import pytest
from sqlalchemy import func, select

from patrol.city.osm_import import read_city, store_city, summarize
from patrol.core.errors import Conflict, ImportFailed
from patrol.core.models import Building, City, Community, RoadSegment, Subdistrict
from tests.db.conftest import gdal_count


def test_liechtenstein_counts_match_what_gdal_reads(session, liechtenstein, liechtenstein_path):
    summary = store_city(session, liechtenstein, source="test")
    assert summary.buildings == gdal_count(liechtenstein_path, "multipolygons", "building IS NOT NULL") == 8994
    assert summary.roads == gdal_count(liechtenstein_path, "lines", "highway IS NOT NULL") == 4658
    levels = gdal_count(liechtenstein_path, "multipolygons", "boundary='administrative' AND admin_level='8'")
    assert summary.communities == levels == 11
    assert summary.subdistricts == gdal_count(
        liechtenstein_path, "multipolygons", "boundary='administrative' AND admin_level='6'") == 2
    assert summary.metric_epsg == 32632
    names = set(session.scalars(select(Community.name)))
    assert {"Vaduz", "Schaan", "Balzers", "Planken"} <= names


def test_buildings_are_placed_in_the_community_that_contains_them(session, liechtenstein, liechtenstein_path):
    store_city(session, liechtenstein, source="test")
    # Independent count: geopandas point-in-polygon on the file's own layers.
    import pyogrio

    b = pyogrio.read_dataframe(liechtenstein_path, layer="multipolygons", where="building IS NOT NULL",
                               on_invalid="ignore")
    c = pyogrio.read_dataframe(liechtenstein_path, layer="multipolygons",
                               where="boundary='administrative' AND admin_level='8'")
    pts = gpd.GeoDataFrame(geometry=b.to_crs(32632).representative_point(), crs=32632)
    joined = gpd.sjoin(pts, c.to_crs(32632), predicate="within")
    expected = joined.groupby("name").size().to_dict()
    stored = dict(session.execute(
        select(Community.name, func.count(Building.id)).join(Building, Building.community_id == Community.id)
        .group_by(Community.name)).all())
    assert stored == expected
    assert sum(stored.values()) == joined.index.nunique() == 8961


def test_households_are_estimated_and_flagged(session, monaco):
    store_city(session, monaco, source="test")
    total = session.scalar(select(func.sum(Building.households)))
    assert total > 1000  # Monaco has ~20k households; footprints × levels gives the right order of magnitude
    assert session.scalar(select(func.count()).select_from(Building).where(~Building.households_estimated)) == 0


def test_road_lengths_are_metric(session, monaco):
    store_city(session, monaco, source="test")
    km = session.scalar(select(func.sum(RoadSegment.length_m))) / 1000
    assert 50 < km < 400
    assert session.scalar(select(func.count()).select_from(RoadSegment).where(RoadSegment.oneway)) > 0


def test_a_second_city_is_refused_without_replace_and_nothing_changes(session, monaco):
    store_city(session, monaco, source="first")
    before = summarize(session)
    with pytest.raises(Conflict, match="--replace"):
        store_city(session, monaco, source="second")
    after = summarize(session)
    assert (after.buildings, after.communities, after.roads) == (before.buildings, before.communities, before.roads)
    version = session.scalar(select(City.map_version))
    store_city(session, monaco, source="second", replace=True)
    assert session.scalar(select(func.count()).select_from(City)) == 1
    assert summarize(session).buildings == before.buildings
    assert session.scalar(select(City.map_version)) > version  # tile URLs of the first city are not reused


def test_subdistrict_is_derived_when_the_file_has_none(session, monaco):
    store_city(session, monaco, source="test")
    subs = session.scalars(select(Subdistrict)).all()
    assert len(subs) == 1 and subs[0].derived
    assert any("no subdistrict boundaries" in n for n in monaco.notes)


def test_unreadable_file_is_a_clear_import_error(tmp_path):
    bad = tmp_path / "broken.osm.pbf"
    bad.write_bytes(b"this is not a protobuf")
    with pytest.raises(ImportFailed) as err:
        read_city(bad)
    assert "broken.osm.pbf" in err.value.message
    assert err.value.details and all(line.startswith("unreadable") for line in err.value.details)


def test_asking_for_a_missing_admin_level_names_the_option(liechtenstein_path):
    with pytest.raises(ImportFailed) as err:
        read_city(liechtenstein_path, community_level=9)
    assert any("admin_level 9" in d for d in err.value.details)
