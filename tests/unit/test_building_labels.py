"""Buildings' readable labels (geo.labels): the rules on a few buildings drawn by hand, then on every building of a
real country (Liechtenstein, OSM 2015)."""

from __future__ import annotations

import re

import geopandas as gpd
import pytest
import shapely

from geo.labels import NO_GROUP, building_labels, label_in, split_address
from geo.osm import read_osm
from tests.conftest import shared_file

BARE_ID = re.compile(r"^\s*#?\d+\s*$|#\d+")


def _box(x: float, y: float) -> shapely.Polygon:
    return shapely.box(x, y, x + 10, y + 10)


def test_each_rule_in_its_order() -> None:
    roads = gpd.GeoDataFrame({"name": ["Landstrasse", None, "Feldweg"]},
                             geometry=[shapely.LineString([(0, -5), (1000, -5)]),
                                       shapely.LineString([(0, 300), (100, 300)]),
                                       shapely.LineString([(0, 800), (100, 800)])], crs=32632)
    rows = [
        {"street": "Landstrasse", "housenumber": "12", "unit": "2", "ref": "3", "name": "Haus", "group": "G"},
        {"street": None, "housenumber": None, "unit": None, "ref": None, "name": "Rathaus", "group": "G"},
        {"street": None, "housenumber": None, "unit": None, "ref": None, "name": None, "group": "G"},  # near no. 12
        {"street": None, "housenumber": None, "unit": None, "ref": None, "name": None, "group": "G"},  # Feldweg
        {"street": None, "housenumber": None, "unit": None, "ref": None, "name": None, "group": "G"},  # Feldweg
        {"street": None, "housenumber": None, "unit": None, "ref": None, "name": None, "group": "G"},  # no road
        {"street": None, "housenumber": None, "unit": None, "ref": None, "name": None, "group": None},  # nowhere
    ]
    places = [(0, 0), (40, 0), (80, 0), (10, 810), (60, 810), (5000, 5000), (9000, 9000)]
    frame = gpd.GeoDataFrame(rows, geometry=[_box(x, y) for x, y in places], crs=32632)
    out = building_labels(frame, roads)
    assert out["kind"].tolist() == ["address", "name", "near", "road", "road", "fallback", "fallback"]
    assert out["label"].tolist() == ["Landstrasse 12 3栋 2单元", "Rathaus", "Landstrasse 12号附近",
                                     "Feldweg 第1栋", "Feldweg 第2栋", "G 第1栋", f"{NO_GROUP} 第1栋"]
    assert label_in("Landstrasse 12号附近", "en") == "near Landstrasse 12"
    assert label_in("Feldweg 第2栋", "en") == "Feldweg building 2"
    assert label_in("Feldweg 第2栋", "zh") == "Feldweg 第2栋"
    assert split_address("Im Gässle 3a") == ("Im Gässle", "3a")
    assert split_address("Landstrasse") == ("Landstrasse", None)


def test_an_address_column_is_split_and_labels_are_deterministic() -> None:
    roads = gpd.GeoDataFrame({"name": ["Hauptstrasse"]}, geometry=[shapely.LineString([(0, -5), (500, -5)])],
                             crs=32632)
    frame = gpd.GeoDataFrame({"address": ["Hauptstrasse 7", None, None], "name": [None, None, None],
                              "group": ["G", "G", "G"]},
                             geometry=[_box(0, 0), _box(100, 0), _box(50, 0)], crs=32632)
    first = building_labels(frame, roads)
    assert first["label"].tolist() == ["Hauptstrasse 7", "Hauptstrasse 7号附近", "Hauptstrasse 7号附近"]
    shuffled = building_labels(frame.iloc[[2, 0, 1]], roads)
    assert shuffled["label"].sort_index().tolist() == first["label"].tolist()


@pytest.fixture(scope="module")
def liechtenstein() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    osm = read_osm(shared_file("osm/liechtenstein_2015.osm.pbf"))
    return osm.buildings, osm.roads


def test_every_building_of_a_real_country_has_a_readable_label(liechtenstein) -> None:
    buildings, roads = liechtenstein
    out = building_labels(buildings.assign(group="Vaduz 第1网格"), roads)
    share = out["kind"].value_counts(normalize=True)
    assert len(out) == len(buildings) > 8000
    assert out["label"].notna().all() and (out["label"].str.strip() != "").all()
    assert not out["label"].str.contains(BARE_ID).any()
    # measured 2026-12: address 10.1 %, name 1.1 %, near 9.8 %, road 75.6 %, fallback 3.3 %
    assert 0.08 < share["address"] < 0.15
    assert 0.05 < share["near"] < 0.15
    assert share["road"] > 0.6
    assert share["fallback"] < 0.1
    assert share["address"] + share["name"] + share["near"] + share["road"] > 0.9  # named by a road or better
    addressed = out[out["kind"] == "address"]["label"]
    assert addressed.str.match(r"^\D.* \d").all()  # "street number"


def test_a_street_named_with_a_number_is_not_split() -> None:
    assert split_address("Boulevard Albert 1er") == ("Boulevard Albert 1er", None)
    assert split_address("Rue Grimaldi 3-5") == ("Rue Grimaldi", "3-5")
    assert split_address("12") == (None, "12")
