"""An app over a database holding a real small city (Monaco: 6 quarters, 1,151 buildings) with grids drawn."""

from __future__ import annotations

import contextlib
import dataclasses
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import shapely
from fastapi.testclient import TestClient
from sqlalchemy import insert, literal, select

from api.app import create_app
from patrol.core.auth import SYSTEM, create_api_key, create_user
from patrol.core.db import make_engine, session_factory, transaction
from patrol.core.frames import ewkt, read_frame
from patrol.core.models import Building, Grid, MicroGrid, MicroGridBuilding, ResponsibleUnit, Subdistrict
from patrol.core.settings import Settings
from patrol.people.microgrids import generate
from tests.conftest import CITIES, ENGLISH, shared_scope


@pytest.fixture
def city_url(monaco_city_url):
    """A database of its own for the test with Monaco, categories and grids (a copy of a template built once)."""
    return monaco_city_url


@pytest.fixture
def client(city_url):
    app = create_app(Settings(database_url=city_url, tiles=None))
    with TestClient(app, headers=ENGLISH) as c:
        yield c
    app.state.engine.dispose()


# ---------------------------------------------------------------------------------------------- the case-loop world

PASSWORD = "correct horse 1"
ROLE_USERS = ("admin", "sup", "sup_other", "subd", "subd_other", "worker_a", "worker_b", "dept1", "dept2", "planner",
              "lead_a", "bldg_a")


@dataclasses.dataclass
class World:
    client: TestClient
    url: str
    engine: object
    settings: Settings
    tokens: dict[str, str]
    users: dict[str, int]
    units: list[int]
    grid_a: int
    grid_b: int
    point_a: tuple[float, float]
    point_b: tuple[float, float]
    point_other: tuple[float, float]
    api_key: str
    #: the code of grid A's subdistrict (user "subd") and of the second one made for the test (user "subd_other")
    sub_code: str = ""
    sub_other_code: str = "902"
    #: the micro-grid (微网格) of grid A whose 楼栋长 is "bldg_a" (lead_a is grid A's 网格长), its buildings and a
    #: point inside one of them (grid A's lowest-id building with households lies in another micro-grid)
    micro_code: str = ""
    micro_buildings: tuple[int, ...] = ()
    point_micro: tuple[float, float] = (0.0, 0.0)

    def h(self, who: str) -> dict:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def report(self, who: str = "worker_a", category: str = "C0103", point=None, **extra) -> dict:
        lon, lat = point or self.point_a
        r = self.client.post("/api/v1/cases", headers=self.h(who), json={
            "client_id": str(uuid.uuid4()), "category": category, "lon": lon, "lat": lat, **extra})
        assert r.status_code == 201, r.text
        return r.json()

    def act(self, who: str, case_id: int, action: str, expect: int = 200, **body) -> dict:
        r = self.client.post(f"/api/v1/cases/{case_id}/actions/{action}", headers=self.h(who), json=body)
        assert r.status_code == expect, r.text
        return r.json()


@contextlib.contextmanager
def build_world(backend: str, directory: Path, monaco_model) -> Iterator[World]:
    """Monaco with categories and grids (a copy of the template built once per backend, tests/conftest.py CITIES),
    four responsible units (城管, power, greening, the mediation committee), a user of every role logged in, an API
    key, and an app on it."""
    url = CITIES.new(backend, monaco_model, directory / "world.db")
    engine = make_engine(url)
    with transaction(session_factory(engine)) as s:
        grids = s.scalars(select(Grid).order_by(Grid.code)).all()
        by_com: dict[int, list[Grid]] = {}
        for g in grids:
            by_com.setdefault(g.community_id, []).append(g)
        com, pair = next((c, gs) for c, gs in by_com.items() if len(gs) >= 2)
        other = next(gs[0] for c, gs in by_com.items() if c != com)

        frame = read_frame(s, [Grid.id], Grid.geom).set_index("id")
        pts = {g.id: frame.geometry[g.id].representative_point() for g in (pair[0], pair[1], other)}
        units = []
        for i, (kind, name) in enumerate((("urban_management", "城管中队"), ("power", "供电所"),
                                          ("greening", "园林所"), ("mediation", "人民调解委员会"))):
            u = ResponsibleUnit(type=kind, name=name, geom=ewkt([shapely.Point(7.42 + i / 1000, 43.735)])[0])
            s.add(u)
            s.flush()
            units.append(u.id)
        code = s.scalar(select(Grid.code).where(Grid.id == pair[0].id))
        com_code = code[9:12]
        from patrol.core.models import Community

        com_row = s.get(Community, com)
        other_row = s.get(Community, other.community_id)
        # Monaco has one subdistrict: the other community moves to a second one (its boundary copied), so that a
        # 街道 user ("subd", grid A's subdistrict) has a boundary to be refused at ("subd_other" is the other's)
        s.execute(insert(Subdistrict).from_select(
            ["code", "name", "osm_id", "derived", "geom"],
            select(literal("902"), literal("另一街道"), literal(None), literal(True), Community.geom)
            .where(Community.id == other_row.id)))
        other_sub = s.scalar(select(Subdistrict).where(Subdistrict.code == "902"))
        other_row.subdistrict_id = other_sub.id
        s.flush()
        sub_row = s.get(Subdistrict, com_row.subdistrict_id)
        users = {
            "admin": create_user(s, username="admin", role="admin", password=PASSWORD),
            "sup": create_user(s, username="sup", role="supervisor", password=PASSWORD, community=com_row.name),
            "sup_other": create_user(s, username="sup_other", role="supervisor", password=PASSWORD,
                                     community=other_row.name),
            "worker_a": create_user(s, username="worker_a", role="grid_worker", password=PASSWORD,
                                    grids=[pair[0].code]),
            "worker_b": create_user(s, username="worker_b", role="grid_worker", password=PASSWORD,
                                    grids=[pair[1].code]),
            "dept1": create_user(s, username="dept1", role="department", password=PASSWORD, unit_id=units[0]),
            "dept2": create_user(s, username="dept2", role="department", password=PASSWORD, unit_id=units[1]),
            "planner": create_user(s, username="planner", role="planner", password=PASSWORD),
            "subd": create_user(s, username="subd", role="subdistrict", password=PASSWORD, subdistrict=sub_row.code),
            "subd_other": create_user(s, username="subd_other", role="subdistrict", password=PASSWORD,
                                      subdistrict="902"),
        }
        users |= people_of_grid_a(s, pair[0].code, com_row.code)
        ids = {k: u.id for k, u in users.items()}
        key = create_api_key(s, "residents app")
        assert com_code
        point = {k: (p.x, p.y) for k, p in pts.items()}
        grid_a, grid_b = pair[0].id, pair[1].id
        other_id = other.id
        sub_code = sub_row.code
        micro = s.scalars(select(MicroGrid).where(MicroGrid.leader_id == ids["bldg_a"])).one()
        micro_code = micro.code
        micro_buildings = tuple(sorted(s.scalars(select(MicroGridBuilding.building_id).where(
            MicroGridBuilding.micro_grid_id == micro.id))))
        frame = read_frame(s, [Building.id], Building.geom, where=[Building.id == micro_buildings[0]])
        inner = frame.geometry.iloc[0].representative_point()
    settings = Settings(database_url=url, tiles=None, secret_key="test-secret-key-for-the-suite-0123456789",
                        timezone="Asia/Shanghai")
    app = create_app(settings)
    with TestClient(app, headers=ENGLISH) as client:
        tokens = {}
        for name in ROLE_USERS:
            r = client.post("/api/v1/auth/token", data={"username": name, "password": PASSWORD})
            assert r.status_code == 200, r.text
            tokens[name] = r.json()["access_token"]
        yield World(client, url, engine, settings, tokens, ids, units, grid_a, grid_b, point[grid_a], point[grid_b],
                    point[other_id], key, sub_code, micro_code=micro_code, micro_buildings=micro_buildings,
                    point_micro=(inner.x, inner.y))
    app.state.engine.dispose()
    engine.dispose()
    if backend == "postgis":
        from patrol.core.db import drop_postgis_database

        drop_postgis_database(url)


def people_of_grid_a(s, grid_code: str, community_code: str) -> dict:
    """Grid A's 网格长 ("lead_a") and the 楼栋长 ("bldg_a") of a micro-grid of grid A generated for the test: the
    first in code order that does not hold grid A's lowest-id building with households (the matrix's building)."""
    generate(s, SYSTEM, grids=[grid_code])
    first = s.scalar(select(Building.id).join(Grid, Grid.id == Building.grid_id)
                     .where(Grid.code == grid_code, Building.households > 0).order_by(Building.id))
    holding = select(MicroGridBuilding.micro_grid_id).where(MicroGridBuilding.building_id == first)
    micro = s.scalars(select(MicroGrid.code).where(MicroGrid.grid_code == grid_code, MicroGrid.plan_id.is_(None),
                                                   MicroGrid.id.not_in(holding)).order_by(MicroGrid.code)).first()
    assert micro is not None, "grid A needs two micro-grids"
    return {"lead_a": create_user(s, username="lead_a", role="grid_lead", password=PASSWORD, lead_grids=[grid_code],
                                  post="网格长"),
            "bldg_a": create_user(s, username="bldg_a", role="building_lead", password=PASSWORD, micro_grid=micro,
                                  post="楼栋长")}


@pytest.fixture(scope=shared_scope)
def world(backend, tmp_path_factory, monaco_model) -> Iterator[World]:
    """The world shared by the tests of a module: each test asserts only on what it creates itself (or on
    differences), never on what another test did or did not do before it. A module whose tests need a pristine
    world overrides this with a function-scoped one (``own_world``)."""
    with build_world(backend, tmp_path_factory.mktemp("world"), monaco_model) as w:
        yield w


def own_world(backend, tmp_path, monaco_model) -> Iterator[World]:
    """A world for each test: a module whose tests need a pristine one says
    ``world = pytest.fixture(name="world")(own_world)``."""
    with build_world(backend, tmp_path, monaco_model) as w:
        yield w
