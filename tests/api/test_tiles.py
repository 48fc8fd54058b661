"""The basemap's vector tiles (api/routes/tiles.py, patrol/city/tiles.py, geo/tiles.py) on both databases, over
Monaco (a copy of the test template with grids, and a planner; lighter than the case-loop world): the layers and
their properties as the browser renderer reads them, a known building with its label at z16 and z18, a named road,
grids and communities with their codes, an empty tile outside the city, the ETag / 304 / Cache-Control,
compression, a new map version changing both ETag and content, and what makes one (a published plan, new building
labels)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import mapbox_vector_tile
import pytest
import shapely
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from api.app import create_app
from geo.tiles import LAYERS, MEDIA_TYPE, PROPERTIES, tile_of
from patrol.city.labels import label_buildings
from patrol.city.map_version import bump
from patrol.core.auth import create_user
from patrol.core.db import drop_postgis_database, make_engine, session_factory, transaction
from patrol.core.frames import read_frame
from patrol.core.models import Building, Community, Grid, RoadSegment
from patrol.core.settings import Settings
from tests.conftest import CITIES, ENGLISH

pytestmark = pytest.mark.db
PASSWORD = "correct horse 1"


@dataclasses.dataclass
class City:
    """Monaco with grids (a copy of the template), an app on it and a planner: lighter than the case-loop world."""
    client: TestClient
    engine: object
    grid_a: int
    point_a: tuple[float, float]
    planner: dict[str, str]

    def h(self, _who: str) -> dict[str, str]:
        return self.planner


@pytest.fixture(scope="module")
def world(backend, tmp_path_factory, monaco_model) -> Iterator[City]:
    url = CITIES.new(backend, monaco_model, tmp_path_factory.mktemp("tiles") / "city.db")
    engine = make_engine(url)
    with transaction(session_factory(engine)) as s:
        create_user(s, username="planner", role="planner", password=PASSWORD)
        grid = read_frame(s, [Grid.id], Grid.geom, order_by=[Grid.code], limit=1).iloc[0]
        point = grid.geometry.representative_point()
    app = create_app(Settings(database_url=url, tiles=None, secret_key="test-secret-key-for-the-suite-0123456789",
                              timezone="Asia/Shanghai"))
    with TestClient(app, headers=ENGLISH) as client:
        r = client.post("/api/v1/auth/token", data={"username": "planner", "password": PASSWORD})
        assert r.status_code == 200, r.text
        yield City(client, engine, int(grid["id"]), (point.x, point.y),
                   {"Authorization": f"Bearer {r.json()['access_token']}"})
    app.state.engine.dispose()
    engine.dispose()
    if backend == "postgis":
        drop_postgis_database(url)


def _tile(world, point, z: int, **params) -> dict:
    x, y = tile_of(point[0], point[1], z)
    r = world.client.get(f"/tiles/{z}/{x}/{y}.pbf", params=params)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == MEDIA_TYPE
    layers = mapbox_vector_tile.decode(r.content)
    for name, layer in layers.items():  # the contract with the renderer: names and properties exactly these
        assert name in LAYERS, name
        assert layer["extent"] == 4096
        for f in layer["features"]:
            assert set(f["properties"]) <= set(PROPERTIES[name]), (name, f["properties"])
    return layers


def _values(layers: dict, layer: str, prop: str) -> set:
    return {f["properties"].get(prop) for f in layers.get(layer, {}).get("features", [])}


@pytest.fixture(scope="module")
def known(world) -> dict:
    """A labelled building with a house number (or any labelled one), a named road, grid A with its community."""
    with transaction(session_factory(world.engine)) as s:
        b = read_frame(s, [Building.id, Building.label, Building.housenumber], Building.geom,
                       where=[Building.label.is_not(None)], order_by=[Building.housenumber.is_(None), Building.id],
                       limit=1).iloc[0]
        road = read_frame(s, [RoadSegment.name, RoadSegment.highway], RoadSegment.geom,
                          where=[RoadSegment.name.is_not(None), RoadSegment.highway.in_(("primary", "secondary"))],
                          order_by=[func.length(RoadSegment.name), RoadSegment.id], limit=1).iloc[0]
        grid = s.get(Grid, world.grid_a)
        community = s.get(Community, grid.community_id)
        return {"building": (b.geometry.representative_point(), b["label"], b["housenumber"]),
                "road": (shapely.line_interpolate_point(road.geometry, 0.5, normalized=True), road["name"],
                         road["highway"]),
                "grid": (grid.code, grid.name, community.code, community.name)}


def test_layers_building_road_grid_and_community_in_their_tiles(world, known):
    point, label, housenumber = known["building"]
    for z in (16, 18):
        layers = _tile(world, (point.x, point.y), z)
        assert label in _values(layers, "buildings", "label"), z
        if housenumber:
            assert housenumber in _values(layers, "buildings", "housenumber")
    assert "buildings" not in _tile(world, (point.x, point.y), 14)  # buildings from z15 only
    mid, name, highway = known["road"]
    roads = _tile(world, (mid.x, mid.y), 16)["roads"]["features"]
    assert any(f["properties"].get("name") == name and f["properties"]["class"] == highway
               and f["properties"]["oneway"] in (0, 1) for f in roads)
    code, grid_name, com_code, com_name = known["grid"]
    layers = _tile(world, world.point_a, 14)
    assert (code, grid_name) in {(f["properties"]["code"], f["properties"]["name"])
                                for f in layers["grids"]["features"]}
    assert (com_code, com_name) in {(f["properties"]["code"], f["properties"]["name"])
                                    for f in layers["communities"]["features"]}
    z12 = _tile(world, world.point_a, 12)  # the whole city: every label point, major roads only
    assert {"community", "grid"} == _values(z12, "labels", "kind")
    assert code in _values(z12, "labels", "code") and _values(z12, "roads", "class") <= {
        "motorway", "motorway_link", "trunk", "trunk_link", "primary", "primary_link", "secondary", "secondary_link"}


def test_meta_bounds_and_empty_tiles_outside(world):
    meta = world.client.get("/tiles/meta.json").json()
    assert meta["layers"] == list(LAYERS) and (meta["minzoom"], meta["maxzoom"]) == (10, 18)
    assert isinstance(meta["version"], int) and meta["version"] >= 1
    west, south, east, north = meta["bounds"]
    with transaction(session_factory(world.engine)) as s:
        grids = read_frame(s, [Grid.id], Grid.geom).total_bounds
    assert west <= grids[0] and south <= grids[1] and east >= grids[2] and north >= grids[3]
    assert east - west < 0.1 and north - south < 0.1  # Monaco, not the world
    for z, x, y in ((16, *tile_of(0.0, 0.0, 16)), (9, *tile_of(*world.point_a, 9))):  # far away; below minzoom
        r = world.client.get(f"/tiles/{z}/{x}/{y}.pbf")
        assert r.status_code == 200 and r.content == b"" and mapbox_vector_tile.decode(r.content) == {}
    r = world.client.get("/tiles/3/8/0.pbf")
    assert r.status_code == 422 and r.json()["field"] == "x"


def test_etag_304_cache_control_compression_and_a_new_version(world, known):
    point, label, _ = known["building"]
    x, y = tile_of(point.x, point.y, 16)
    url = f"/tiles/16/{x}/{y}.pbf"
    version = world.client.get("/tiles/meta.json").json()["version"]
    first = world.client.get(url, params={"v": version}, headers={"Accept-Encoding": "gzip"})
    assert first.headers["content-encoding"] == "gzip" and "Accept-Encoding" in first.headers["vary"]
    assert "max-age=31536000" in first.headers["cache-control"]
    assert "no-cache" in world.client.get(url).headers["cache-control"]  # without ?v= (or an old one): revalidate
    etag = first.headers["etag"]
    again = world.client.get(url, params={"v": version}, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    with transaction(session_factory(world.engine)) as s:  # a new label, as a relabel writes it, and its bump
        s.execute(update(Building).where(Building.label == label).values(label="测试新名称楼"))
        bumped = bump(s)
    assert bumped == version + 1 and world.client.get("/tiles/meta.json").json()["version"] == bumped
    fresh = world.client.get(url, params={"v": bumped}, headers={"If-None-Match": etag})
    assert fresh.status_code == 200 and fresh.headers["etag"] != etag
    labels = _values(mapbox_vector_tile.decode(fresh.content), "buildings", "label")
    assert "测试新名称楼" in labels and label not in labels
    with transaction(session_factory(world.engine)) as s:
        s.execute(update(Building).where(Building.label == "测试新名称楼").values(label=label))
        bump(s)


def test_publishing_a_plan_and_relabelling_make_a_new_map_version(world):
    meta = world.client.get("/tiles/meta.json").json()
    plan = world.client.post("/api/v1/plans", headers=world.h("planner"), json={"name": "tiles"})
    assert plan.status_code == 201, plan.text
    r = world.client.post(f"/api/v1/plans/{plan.json()['id']}/publish", headers=world.h("planner"), json={})
    assert r.status_code == 200, r.text
    published = world.client.get("/tiles/meta.json").json()["version"]
    assert published > meta["version"]
    with transaction(session_factory(world.engine)) as s:  # a relabel that writes labels bumps; one that doesn't, not
        s.execute(update(Building).where(Building.id == s.scalar(select(func.min(Building.id)))).values(label=None))
    with transaction(session_factory(world.engine)) as s:
        assert label_buildings(s).written == 1
    with transaction(session_factory(world.engine)) as s:
        assert label_buildings(s).written == 0
    assert world.client.get("/tiles/meta.json").json()["version"] == published + 1
