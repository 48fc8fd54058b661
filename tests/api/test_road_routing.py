"""Routing over roads imported from a delivered layer (issue 20): Monaco's roads exported, reprojected to a
Gauss–Krüger zone, written as a Shapefile without a .prj (so ``--crs`` declares it) with Chinese headers, classes and
one-way values, imported with ``gridpatrol import --layer roads --replace`` — and the case and the worker are routed
over them exactly as over the OSM roads, on both databases."""

from __future__ import annotations

import math
from collections.abc import Iterator

import geopandas as gpd
import pyogrio
import pytest
import shapely
import shapely.ops
from sqlalchemy import select

from patrol.core.db import session_factory
from patrol.core.models import RoadSegment
from tests.api.conftest import World, build_world
from tests.api.test_cli import run
from tests.api.test_routing import points_in_grid_a

pytestmark = pytest.mark.db

CHINESE = {"primary": "主干路", "secondary": "次干路", "tertiary": "支路", "residential": "街巷", "footway": "人行"}


@pytest.fixture(scope="module")
def world(backend, tmp_path_factory, monaco_model) -> Iterator[World]:
    with build_world(backend, tmp_path_factory.mktemp("roads"), monaco_model) as w:
        yield w


def _metres(a, b) -> float:
    dx = (a[0] - b[0]) * 111_320 * math.cos(math.radians(a[1]))
    return math.hypot(dx, (a[1] - b[1]) * 110_540)


def _roads(world) -> list[tuple]:
    with session_factory(world.engine)() as s:
        return s.execute(select(RoadSegment.name, RoadSegment.highway, RoadSegment.oneway, RoadSegment.length_m)
                         .order_by(RoadSegment.id)).all()


def _ask(world):
    r = world.client.get("/api/v1/routing/responsible", headers=world.h("sup"),
                         params={"lon": world.point_a[0], "lat": world.point_a[1], "category": "B0109"})
    assert r.status_code == 200, r.text
    return r.json()


def _worker_route(world):
    r = world.client.get(f"/api/v1/workers/{world.users['worker_a']}/route", headers=world.h("worker_a"),
                         params={"lon": world.point_a[0], "lat": world.point_a[1]})
    assert r.status_code == 200, r.text
    return r.json()


def test_case_and_worker_routed_over_roads_imported_from_a_gauss_kruger_shapefile(world, tmp_path):
    for point in points_in_grid_a(world, 2):  # two stops on the worker's day
        case = world.report(category="C0102", point=point)
        world.act("worker_a", case["id"], "register")
        world.act("worker_a", case["id"], "dispatch")
    before_unit, before_walk, before_rows = _ask(world), _worker_route(world), _roads(world)
    exported = tmp_path / "roads.gpkg"
    assert run(world.url, "export", "roads", str(exported)).exit_code == 0
    osm = pyogrio.read_dataframe(exported)
    bureau = gpd.GeoDataFrame({"LM": osm["name"], "DJ": [CHINESE.get(h, h) for h in osm["highway"]],
                               "DX": ["是" if w else "否" for w in osm["oneway"]]},
                              geometry=osm.geometry.to_numpy(), crs="EPSG:4326").to_crs("EPSG:31467")
    shp = tmp_path / "dl.shp"
    pyogrio.write_dataframe(bureau, shp, encoding="UTF-8")
    shp.with_suffix(".prj").unlink()  # as many bureau files come: no CRS in the file
    args = ("import", str(shp), "--layer", "roads", "--class-column", "DJ", "--oneway-column", "DX",
            "--name-column", "LM", "--replace")
    refused = run(world.url, *args)
    assert refused.exit_code == 1 and "unknown_crs" in refused.output, refused.output
    r = run(world.url, *args, "--crs", "EPSG:31467")
    assert r.exit_code == 0, r.output
    assert f"imported {len(osm)} road segments (replacing {len(osm)})" in r.stdout
    # the rows the OSM import wrote, again: names, classes mapped back, one-way flags, lengths in the metric CRS
    assert [(n, h, w) for n, h, w, _ in _roads(world)] == [(n, h, w) for n, h, w, _ in before_rows]
    assert sum(m for *_, m in _roads(world)) == pytest.approx(sum(m for *_, m in before_rows), rel=1e-6)
    # the routing graph was read again (new ids) and routes the same way over the imported roads
    after_unit = _ask(world)
    assert after_unit["chosen"]["unit_id"] == before_unit["chosen"]["unit_id"]
    assert after_unit["chosen"]["fallback"] is None
    assert after_unit["chosen"]["distance_m"] == pytest.approx(before_unit["chosen"]["distance_m"], abs=1.0)
    lines = shapely.MultiLineString(list(osm.geometry.to_numpy()))
    assert all(_metres(c, shapely.ops.nearest_points(lines, shapely.Point(c))[0].coords[0]) < 1.0
               for c in after_unit["route"]["coordinates"][1:-1])
    after_walk = _worker_route(world)
    assert after_walk["length_m"] == pytest.approx(before_walk["length_m"], abs=1.0) and after_walk["length_m"] > 0
    # every road a footway (人行): nothing left to drive on — the same 409 as a city without roads, naming why
    bureau["DJ"] = "人行"
    gpkg = tmp_path / "footways.gpkg"
    bureau.set_crs("EPSG:31467", allow_override=True).to_file(gpkg)
    assert run(world.url, "import", str(gpkg), "--layer", "roads", "--class-column", "DJ", "--replace").exit_code == 0
    r = world.client.get("/api/v1/routing/responsible", headers=world.h("sup"),
                         params={"lon": world.point_a[0], "lat": world.point_a[1], "category": "B0109"})
    assert r.status_code == 409 and r.json()["field"] == "roads" and "'drive' profile" in r.json()["message"]
    assert _worker_route(world)["length_m"] == pytest.approx(before_walk["length_m"], abs=1.0)  # walking still
