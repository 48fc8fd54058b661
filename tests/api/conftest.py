"""An app over a database holding a real small city (Monaco: 6 quarters, 1,151 buildings) with grids drawn."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import shutil
import sqlite3
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import shapely
from fastapi.testclient import TestClient
from sqlalchemy import insert, literal, select
from sqlalchemy.engine import make_url

from api.app import create_app
from patrol.core.auth import SYSTEM, create_api_key, create_user
from patrol.core.db import drop_postgis_database, make_engine, session_factory, transaction
from patrol.core.frames import ewkt, read_frame
from patrol.core.models import Building, Grid, MicroGrid, MicroGridBuilding, ResponsibleUnit, Subdistrict
from patrol.core.settings import Settings
from patrol.people.microgrids import generate
from tests.conftest import CITIES, ENGLISH, _copy_postgres_database, on_session_finish, shared_scope


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


def _populate(url: str) -> dict:
    """Store in the city at ``url`` the units, the subdistrict, the users and the key of the world; returns what the
    World names (all but the client, the engine, the settings and the tokens)."""
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
        micro = s.scalars(select(MicroGrid).where(MicroGrid.leader_id == ids["bldg_a"])).one()
        micro_buildings = tuple(sorted(s.scalars(select(MicroGridBuilding.building_id).where(
            MicroGridBuilding.micro_grid_id == micro.id))))
        frame = read_frame(s, [Building.id], Building.geom, where=[Building.id == micro_buildings[0]])
        inner = frame.geometry.iloc[0].representative_point()
        out = {"users": ids, "units": units, "grid_a": pair[0].id, "grid_b": pair[1].id,
               "point_a": point[pair[0].id], "point_b": point[pair[1].id], "point_other": point[other.id],
               "api_key": key, "sub_code": sub_row.code, "micro_code": micro.code,
               "micro_buildings": micro_buildings, "point_micro": (inner.x, inner.y)}
    engine.dispose()
    return out


def _world_settings(url: str) -> Settings:
    return Settings(database_url=url, tiles=None, secret_key="test-secret-key-for-the-suite-0123456789",
                    timezone="Asia/Shanghai")


class WorldTemplates:
    """The world as build_world hands it out — the city of CITIES, units, a second subdistrict, a user of every role
    logged in (their login sessions stored, their access tokens kept), an API key — built once per backend in this
    process and copied for each module (or test) that asks for a world.

    Building it costs 1–2 s (twelve users, twelve logins through the app, the micro-grids of grid A); the suite
    asks for some two hundred worlds. A copy is the same database (file copy on SpatiaLite, ``CREATE DATABASE …
    TEMPLATE`` on PostGIS), ids, login sessions and sequences included, so the tokens of the build work in every
    copy (the secret key is the suite's; they are valid for ``token_hours``, 12 h). Each world still gets an engine,
    an app and a client of its own.
    """

    def __init__(self) -> None:
        self._built: dict[str, tuple[str, dict]] = {}
        self._dir: Path | None = None

    def _build(self, backend: str, monaco_model) -> tuple[str, dict]:
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix="gridpatrol-world-"))
            on_session_finish(self.close)
        url = CITIES.new(backend, monaco_model, self._dir / f"world-{backend}.db")
        try:
            fields = _populate(url)
            app = create_app(_world_settings(url))
            with TestClient(app, headers=ENGLISH) as client:
                tokens = {}
                for name in ROLE_USERS:
                    r = client.post("/api/v1/auth/token", data={"username": name, "password": PASSWORD})
                    assert r.status_code == 200, r.text
                    tokens[name] = r.json()["access_token"]
            app.state.engine.dispose()
        except BaseException:
            if backend == "postgis":
                drop_postgis_database(url)
            raise
        if backend == "spatialite":  # one self-contained file: fold the write-ahead log back
            with contextlib.closing(sqlite3.connect(self._dir / f"world-{backend}.db")) as conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return url, fields | {"tokens": tokens}

    def new(self, backend: str, monaco_model, path: Path) -> tuple[str, dict]:
        """A copy of the world of ``backend`` (at ``path`` for SpatiaLite, which must not exist; a new database for
        PostGIS, which the caller drops): its URL and the World's fields."""
        if backend not in self._built:
            self._built[backend] = self._build(backend, monaco_model)
        template, built = self._built[backend]
        fields = copy.deepcopy(built)  # a world's dicts are its own (a test may add a token to world.tokens)
        if backend == "postgis":
            return _copy_postgres_database(template), fields
        if path.exists():
            raise FileExistsError(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(make_url(template).database, path)
        return f"sqlite:///{path}", fields

    def close(self) -> None:
        for backend, (url, _) in self._built.items():
            if backend == "postgis":
                drop_postgis_database(url)
        self._built.clear()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


#: The world templates of this test process (an xdist worker has its own).
WORLDS = WorldTemplates()


@contextlib.contextmanager
def build_world(backend: str, directory: Path, monaco_model) -> Iterator[World]:
    """Monaco with categories and grids (tests/conftest.py CITIES), four responsible units (城管, power, greening,
    the mediation committee), a user of every role logged in, an API key, and an app on it: a copy of the world
    built once per backend (WORLDS) with an app and a client of its own."""
    url, fields = WORLDS.new(backend, monaco_model, directory / "world.db")
    engine = make_engine(url)
    settings = _world_settings(url)
    app = create_app(settings)
    try:
        with TestClient(app, headers=ENGLISH) as client:
            yield World(client, url, engine, settings, **fields)
    finally:
        app.state.engine.dispose()
        engine.dispose()
        if backend == "postgis":
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
