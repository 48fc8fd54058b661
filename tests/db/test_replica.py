"""The read replica (issue 23, ``read_database_url``), against a real PostgreSQL streaming standby (``make test``
starts one: ``scripts/pg.sh start-replica``; GRIDPATROL_TEST_REPLICA_URL): the read routes' sessions run on the
standby and writes on the primary; with replay paused on the standby, a user who has just written reads her write
(from the primary) while another user's dashboard is served, stale, from the replica — after resuming both agree; a
replica that is down or refuses sends reads to the primary. PostgreSQL only (the tests without a database at the
end: the dependency without a replica, the WAL positions a cookie may carry).

The standby replicates the whole test cluster: the world's database is created on the primary (a copy of the
Monaco template, tests/conftest.py) and the tests wait until the standby has replayed it.
"""

from __future__ import annotations

import logging
import socket
import time
import types
import uuid
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from api.app import create_app
from api.deps import ReadSessionDep, SessionDep, get_read_session
from patrol.core.db import session_factory
from patrol.core.errors import ConfigurationError
from patrol.core.replica import POSITION_COOKIE, ReadReplica, lsn_number, valid_lsn
from tests.api.conftest import ENGLISH, build_world
from tests.api.test_route_matrix import ROUTES, _send, community_a
from tests.conftest import replica_url

#: the callers the read routes are asked as: every role that reads figures (admin reads them all)
CALLER = "admin"


def _dependency_calls(dependant) -> Iterator:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _dependency_calls(sub)


def read_routes(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path) whose handler takes the read session (ReadSessionDep)."""
    out = set()
    for route in app.routes:
        for r in (route.effective_route_contexts() if hasattr(route, "effective_route_contexts") else [route]):
            dependant = getattr(r, "dependant", None)
            if dependant is not None and get_read_session in set(_dependency_calls(dependant)):
                out |= {(m, r.path) for m in r.methods if m != "HEAD"}
    return out


def replay_position(engine: Engine) -> int:
    with engine.connect() as conn:
        value = conn.execute(text("SELECT pg_last_wal_replay_lsn()::text")).scalar()
    return lsn_number(value) if value else 0


def wait_replayed(primary: Engine, replica: Engine, timeout: float = 30.0) -> None:
    """Wait until the standby has replayed everything the primary had written when this was called."""
    with primary.connect() as conn:
        target = lsn_number(conn.execute(text("SELECT pg_current_wal_insert_lsn()::text")).scalar())
    deadline = time.monotonic() + timeout
    while replay_position(replica) < target:
        assert time.monotonic() < deadline, "the standby did not catch up"
        time.sleep(0.05)


def wait_for_database(url: str, timeout: float = 30.0) -> Engine:
    """An engine on ``url`` (a database of the standby) once the standby has replayed its creation."""
    engine = create_engine(url, pool_pre_ping=True)
    deadline = time.monotonic() + timeout
    while True:
        try:
            with engine.connect() as conn:
                assert conn.execute(text("SELECT pg_is_in_recovery()")).scalar() is True
            return engine
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.fixture(scope="module")
def rw(tmp_path_factory, monaco_model):
    """The API tests' world (on PostGIS: the primary) and an app on it whose read_database_url is the same
    database on the standby; ``rw.standby`` is an AUTOCOMMIT engine on the standby (to pause and resume replay)."""
    base = replica_url()
    with build_world("postgis", tmp_path_factory.mktemp("replica"), monaco_model) as w:
        read_url = make_url(base).set(database=make_url(w.url).database).render_as_string(hide_password=False)
        base_engine = wait_for_database(read_url)
        standby = base_engine.execution_options(isolation_level="AUTOCOMMIT")
        wait_replayed(w.engine, standby)
        app = create_app(w.settings.model_copy(update={"read_database_url": read_url}))
        try:
            yield types.SimpleNamespace(world=w, app=app, standby=standby, read_url=read_url)
        finally:
            with standby.connect() as conn:  # never leave the standby paused for the next test file
                conn.execute(text("SELECT pg_wal_replay_resume()"))
            app.state.replica.dispose()
            app.state.engine.dispose()
            base_engine.dispose()


def client_of(rw, who: str) -> TestClient:
    """A browser of its own for ``who`` (its own cookies), logged in by bearer token."""
    return TestClient(rw.app, headers={**ENGLISH, "Authorization": f"Bearer {rw.world.tokens[who]}"})


def kpis_overall(client: TestClient) -> tuple[dict, str]:
    r = client.get("/api/v1/analytics/kpis", params={"by": "overall"})
    assert r.status_code == 200, r.text
    return r.json()["rows"], r.headers.get("x-read-source", "")


def case_ids(client: TestClient) -> tuple[set[int], str]:
    r = client.get("/api/v1/cases", params={"limit": 5000})
    assert r.status_code == 200, r.text
    return {f["properties"]["id"] for f in r.json()["features"]}, r.headers.get("x-read-source", "")


# ---------------------------------------------------------------------------------------------- routing


def test_the_read_sessions_run_on_the_standby_and_writes_on_the_primary(rw):
    replica = rw.app.state.replica
    session, source = replica.session(rw.app.state.session_factory, None)
    assert source == "replica" and session is not None
    with session:
        assert session.execute(text("SELECT pg_is_in_recovery()")).scalar() is True
        assert session.execute(text("SHOW transaction_read_only")).scalar() == "on"
    with Session(rw.app.state.engine) as primary:
        assert primary.execute(text("SELECT pg_is_in_recovery()")).scalar() is False
    # a write through the app lands on the primary (the standby refuses every write)
    alice = client_of(rw, "worker_a")
    r = alice.post("/api/v1/cases", json={"client_id": str(uuid.uuid4()), "category": "C0103",
                                          "lon": rw.world.point_a[0], "lat": rw.world.point_a[1]})
    assert r.status_code == 201, r.text
    assert POSITION_COOKIE in r.cookies


def test_every_read_route_is_served_by_the_replica(rw):
    """Every route that takes the read session answers from the standby (X-Read-Source: replica) for a caller
    without a fresh write of her own — with the same answer class as the route matrix expects."""
    routes = read_routes(rw.app)
    assert len(routes) >= 35, sorted(routes)
    missing = routes - set(ROUTES)
    assert not missing, f"read routes without a request in tests/api/test_route_matrix.py: {sorted(missing)}"
    wait_replayed(rw.app.state.engine, rw.standby)
    alice = client_of(rw, "worker_a")
    case = alice.post("/api/v1/cases", json={"client_id": str(uuid.uuid4()), "category": "C0103",
                                             "lon": rw.world.point_a[0], "lat": rw.world.point_a[1]}).json()["id"]
    open311 = rw.world.client.post("/open311/v2/requests.json", data={
        "api_key": rw.world.api_key, "service_code": "B0109", "lat": rw.world.point_a[1],
        "long": rw.world.point_a[0]}).json()[0]["service_request_id"]
    wait_replayed(rw.app.state.engine, rw.standby)
    from patrol.core.models import Grid

    with Session(rw.world.engine) as s:
        grid_a_code = s.get(Grid, rw.world.grid_a).code
    things = types.SimpleNamespace(case=case, open311=int(open311), grid_a_code=grid_a_code)
    assert community_a(rw.world)
    wrong = []
    for method, path in sorted(routes):
        expected, build = ROUTES[(method, path)]
        w = types.SimpleNamespace(**vars(rw.world))
        w.client = TestClient(rw.app, headers=ENGLISH)  # no cookie: a caller without a fresh write
        r = _send(w, CALLER, build(rw.world, things))
        source = r.headers.get("x-read-source")
        ok = 200 <= r.status_code < 400 if expected[CALLER] in ("ok", "away") else True
        if not ok or source != "replica":
            wrong.append((method, path, r.status_code, source, r.text[:200]))
    assert not wrong, wrong


# ---------------------------------------------------------------------------------------------- read-your-writes


def test_a_user_reads_her_own_write_while_others_read_the_lagging_replica(rw):
    alice, bob = client_of(rw, "worker_a"), client_of(rw, "sup")
    wait_replayed(rw.app.state.engine, rw.standby)
    bob_before, source = kpis_overall(bob)
    assert source == "replica"
    alice_before, _ = case_ids(alice)
    with rw.standby.connect() as conn:
        conn.execute(text("SELECT pg_wal_replay_pause()"))
    try:
        r = alice.post("/api/v1/cases", json={"client_id": str(uuid.uuid4()), "category": "C0103",
                                              "lon": rw.world.point_a[0], "lat": rw.world.point_a[1]})
        assert r.status_code == 201, r.text
        case = r.json()["id"]
        position = valid_lsn(alice.cookies.get(POSITION_COOKIE))
        assert position is not None
        # Alice's own write: the replica has not replayed it, so she reads the primary
        mine, source = case_ids(alice)
        assert case in mine and source == "primary-behind"
        assert kpis_overall(alice)[1] == "primary-behind"
        # Bob (same community) reads the replica: stale, without her case
        bob_stale, source = kpis_overall(bob)
        assert source == "replica"
        assert bob_stale == bob_before
        assert case not in case_ids(bob)[0]
    finally:
        with rw.standby.connect() as conn:
            conn.execute(text("SELECT pg_wal_replay_resume()"))
    deadline = time.monotonic() + 30
    while replay_position(rw.standby) < lsn_number(position):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    # caught up: both read the replica again, and they agree
    mine, source = case_ids(alice)
    assert case in mine and source == "replica" and mine - alice_before == {case}
    bob_after, source = kpis_overall(bob)
    assert source == "replica" and bob_after != bob_before
    assert case in case_ids(bob)[0]


def test_a_read_that_wrote_nothing_sets_no_position(rw):
    bob = client_of(rw, "sup")
    r = bob.get("/api/v1/analytics/kpis", params={"by": "overall"})
    assert r.status_code == 200 and POSITION_COOKIE not in r.cookies
    # a POST that fails writes nothing either
    r = bob.post("/api/v1/cases", json={"client_id": str(uuid.uuid4()), "category": "NOPE", "lon": 0, "lat": 0})
    assert r.status_code >= 400 and POSITION_COOKIE not in r.cookies


# ---------------------------------------------------------------------------------------------- fallback


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("how", ["down", "refuses"])
def test_a_replica_down_or_refusing_sends_reads_to_the_primary(rw, how, caplog):
    url = make_url(rw.read_url)
    bad = url.set(port=_closed_port()) if how == "down" else url.set(database="gp_no_such_database")
    app = create_app(rw.world.settings.model_copy(update={"read_database_url": bad.render_as_string(False)}))
    try:
        client = TestClient(app, headers={**ENGLISH, "Authorization": f"Bearer {rw.world.tokens['sup']}"})
        with caplog.at_level(logging.WARNING, logger="patrol.core.replica"):
            for _ in range(3):
                rows, source = kpis_overall(client)
                assert source == "primary-down" and rows
            lon, lat = rw.world.point_a
            r = client.get("/api/v1/cases/map", params={"bbox": f"{lon - .01},{lat - .01},{lon + .01},{lat + .01}",
                                                         "zoom": 16})
            assert r.status_code == 200 and r.headers["x-read-source"] == "primary-down"
        warnings = [r for r in caplog.records if r.name == "patrol.core.replica"]
        assert len(warnings) == 1 and "unavailable" in warnings[0].getMessage()  # logged once
        # when it is back (here: the real standby) reads go to it again, said in one line
        replica = app.state.replica
        replica.dispose()
        replica.engine = create_engine(rw.read_url, execution_options={"postgresql_readonly": True})
        replica._down_until = 0.0
        with caplog.at_level(logging.WARNING, logger="patrol.core.replica"):
            assert kpis_overall(client)[1] == "replica"
        assert "back" in caplog.records[-1].getMessage()
    finally:
        app.state.replica.dispose()
        app.state.engine.dispose()


# ---------------------------------------------------------------------------------------------- without a database


def test_without_a_replica_the_read_session_is_the_request_session():
    """No replica configured (the default, and always on SpatiaLite): the read session *is* the request's session
    (one transaction, nothing changes), and no header or cookie is added."""
    app = FastAPI()
    engine = create_engine("sqlite://")
    app.state.session_factory = session_factory(engine)
    app.state.writing_engine = engine
    app.state.replica = None

    @app.get("/same")
    def same(a: SessionDep, b: ReadSessionDep) -> dict:
        return {"same": a is b}

    with TestClient(app) as client:
        r = client.get("/same")
    assert r.json() == {"same": True} and "x-read-source" not in r.headers and not r.cookies
    engine.dispose()


def test_a_replica_needs_postgresql_on_both_sides():
    with pytest.raises(ConfigurationError, match="PostgreSQL"):
        ReadReplica("postgresql+psycopg://127.0.0.1/x", create_engine("sqlite://"))


@pytest.mark.parametrize(("cookie", "expected"), [
    ("0/3000148", "0/3000148"), ("1a/ff", "1A/FF"), (" 0/0 ", "0/0"), ("", None), (None, None),
    ("0/3000148'; DROP", None), ("123456789/0", None), ("x/1", None)])
def test_only_wal_positions_are_taken_from_the_cookie(cookie, expected):
    assert valid_lsn(cookie) == expected


def test_wal_positions_compare_as_numbers():
    assert lsn_number("1/0") > lsn_number("0/FFFFFFFF") > lsn_number("0/3000148")
