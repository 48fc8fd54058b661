"""``gridpatrol db copy SOURCE TARGET`` (patrol/core/transfer.py): the tests' city (Monaco) with three simulated days
of operations (the demo's month, surveys and people of the grid: 46 of the 52 tables hold rows) copied from
SpatiaLite into an empty, migrated PostGIS database and back into a new SpatiaLite file — every table's row count
equal, sample rows and geometries equal value for value, the app's KPIs (接诉即办 too) equal on all three; and the
refusals (not migrated, another revision, a target with rows, no such file), each one readable line. Needs PostGIS
(GRIDPATROL_TEST_POSTGRES_URL): SpatiaLite → PostGIS is the direction that matters.
"""

from __future__ import annotations

import datetime as dt
import types

import pandas as pd
import pytest
import shapely
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import LargeBinary, func, select, text, type_coerce

from api.app import create_app
from api.cli import cli
from patrol.analytics import kpi_days_sql
from patrol.analytics import kpis as K
from patrol.analytics import responsiveness as R
from patrol.core.db import drop_postgis_database, make_engine, session_factory
from patrol.core.frames import ewkt
from patrol.core.migrate import upgrade
from patrol.core.models import Base, Case, CaseKpiDay, CaseKpiFact, Category, City, ResponsibleUnit
from patrol.core.settings import Settings
from patrol.core.transfer import NOT_COUNTED, geometry_columns
from patrol.simulate.logins import DEMO_PASSWORD
from patrol.simulate.month import simulate_month
from patrol.simulate.people import simulate_people
from patrol.simulate.surveys import simulate_surveys
from tests.conftest import CITIES, ENGLISH, _fresh_postgres_database

#: the most rows compared value by value per table
SAMPLE = 200


def copy(source: str, target: str):
    return CliRunner().invoke(cli, ["db", "copy", source, target])


def migrated_postgis() -> str:
    url = _fresh_postgres_database(_postgres())
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


def _postgres() -> str:
    from tests.conftest import _postgres_url

    return _postgres_url()


@pytest.fixture(scope="module")
def copied(tmp_path_factory, monaco_model):
    """The tests' city (Monaco with categories and grids) on SpatiaLite with three simulated days (users, units,
    patrols, cases through the loop, residents' orders, desk queues, surveys, the people of the grid), the admin
    logged in; copied by the CLI to PostGIS and from there to a new SpatiaLite file. Yields their URLs, the settings
    and the admin's token."""
    directory = tmp_path_factory.mktemp("copy")
    source = CITIES.new("spatialite", monaco_model, directory / "source.db")
    settings = Settings(database_url=source, tiles=None, timezone="Asia/Shanghai",
                        secret_key="test-secret-key-for-the-suite-0123456789")
    engine = make_engine(source)
    factory = session_factory(engine)
    lines = list(simulate_month(factory, settings, days=3, cases=30))
    assert "GPS fixes" in lines[1]
    list(simulate_surveys(factory, settings, days=3, buildings_per_grid=2))  # shops, register, inspections
    list(simulate_people(factory, settings))  # micro-grids, teams, mediation, meetings, needs
    engine.dispose()
    app = create_app(settings)
    with TestClient(app) as client:  # a login before the copy: its session row travels with the rest
        r = client.post("/api/v1/auth/token", data={"username": "admin", "password": DEMO_PASSWORD})
        assert r.status_code == 200, r.text
        token = r.json()["access_token"]
    app.state.engine.dispose()
    pg_url = migrated_postgis()
    back = f"sqlite:///{directory / 'back.db'}"
    try:
        to_pg = copy(source, pg_url)
        engine = make_engine(back)
        upgrade(engine)
        engine.dispose()
        to_back = copy(pg_url, back)
        yield types.SimpleNamespace(url=source, settings=settings, token=token, pg=pg_url, back=back, to_pg=to_pg,
                                    to_back=to_back)
    finally:
        drop_postgis_database(pg_url)


def client_on(copied, url: str) -> TestClient:
    app = create_app(copied.settings.model_copy(update={"database_url": url}))
    return TestClient(app, headers={**ENGLISH, "Authorization": f"Bearer {copied.token}"})


def rows_of(url: str, table, n: int = SAMPLE) -> list[tuple]:
    """The first ``n`` rows of ``table`` by primary key, geometries as shapely geometries."""
    geoms = geometry_columns(table)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            cols = [c for c in table.columns if c.name not in geoms]
            rows = conn.execute(select(*cols).order_by(*table.primary_key.columns).limit(n)).all()
            shapes = {}
            for g in geoms:
                wkb = conn.execute(select(type_coerce(func.ST_AsBinary(table.c[g]), LargeBinary))
                                   .order_by(*table.primary_key.columns).limit(n)).scalars().all()
                shapes[g] = [None if b is None else shapely.from_wkb(bytes(b)) for b in wkb]
    finally:
        engine.dispose()
    return [tuple(r) + tuple(shapes[g][i] for g in sorted(geoms)) for i, r in enumerate(rows)]


def test_the_copy_reports_every_table_and_equal_counts(copied):
    for result in (copied.to_pg, copied.to_back):
        assert result.exit_code == 0, result.output
        assert "row counts equal in every table" in result.output
    assert "patrol_case: " in copied.to_pg.output and "gps_fix: " in copied.to_pg.output
    assert "sequences reset" in copied.to_pg.output
    counts = {}
    for url in (copied.url, copied.pg, copied.back):
        engine = make_engine(url)
        with engine.connect() as conn:
            counts[url] = {t.name: conn.execute(select(func.count()).select_from(t)).scalar()
                           for t in Base.metadata.sorted_tables if t.name not in NOT_COUNTED}
        engine.dispose()
    source = counts[copied.url]
    assert source["patrol_case"] >= 30 and source["gps_fix"] > 1000 and source["app_user"] > 10
    assert counts[copied.pg] == source
    assert counts[copied.back] == source


def test_sample_rows_and_geometries_are_equal(copied):
    """Every copied table's rows are equal; the KPI facts on the columns both databases keep (PostgreSQL also
    writes each case's span and a row for a case without steps: the per-day sums' upkeep, not copied)."""
    compared = 0
    for table in Base.metadata.sorted_tables:
        if table.name in NOT_COUNTED:
            continue
        expected = rows_of(copied.url, table)
        for url in (copied.pg, copied.back):
            got = rows_of(url, table)
            assert len(got) == len(expected), table.name
            for a, b in zip(expected, got, strict=True):
                for x, y in zip(a, b, strict=True):
                    if isinstance(x, shapely.Geometry):
                        assert x.equals_exact(y, 0), (table.name, x.wkt[:80], y.wkt[:80])
                    else:
                        assert x == y, (table.name, x, y)
                compared += 1
    assert compared > 1000


def _facts(url: str) -> dict[int, tuple]:
    shared = [c for c in CaseKpiFact.__table__.columns if c.name not in ("span_lo", "span_hi", "span_day")]
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return {r[0]: tuple(r) for r in conn.execute(select(*shared).where(CaseKpiFact.first_at.is_not(None)))}
    finally:
        engine.dispose()


def test_the_kpi_facts_and_day_sums_are_built_on_the_target(copied):
    """The facts of the cases with steps are equal on the three databases (the working hours travel with them); on
    the PostGIS copy every case has a fact row with its span and the per-day sums equal a rebuild from the facts."""
    expected = _facts(copied.url)
    assert len(expected) > 100
    assert _facts(copied.pg) == expected and _facts(copied.back) == expected
    engine = make_engine(copied.pg)
    try:
        with session_factory(engine)() as s:
            assert s.scalar(select(func.count()).select_from(CaseKpiFact)) == s.scalar(
                select(func.count()).select_from(Case))
            assert s.scalar(select(func.count()).select_from(CaseKpiFact).where(CaseKpiFact.span_day.is_(None))) == 0
            kept = s.execute(select(CaseKpiDay).order_by(CaseKpiDay.day, CaseKpiDay.community_id,
                                                         CaseKpiDay.grid_id)).scalars().all()
            kept = [tuple(getattr(r, c.key) for c in CaseKpiDay.__table__.columns) for r in kept]
            assert kept and sum(r[3] for r in kept) > 100
            for stmt in kpi_days_sql.rebuild_sql():
                s.execute(text(stmt))
            rebuilt = s.execute(select(CaseKpiDay).order_by(CaseKpiDay.day, CaseKpiDay.community_id,
                                                            CaseKpiDay.grid_id)).scalars().all()
            assert kept == [tuple(getattr(r, c.key) for c in CaseKpiDay.__table__.columns) for r in rebuilt]
            s.rollback()
    finally:
        engine.dispose()


def test_the_kpis_are_equal_on_both(copied):
    """The KPIs and the 接诉即办 rates of the last ten days are equal on the source and both copies. They are computed
    at one pinned ``now``: 在办/超期 and "response due" are snapshots at now, and three calls a second apart may see a
    deadline pass between them."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    today = now.date()
    start, end = today - dt.timedelta(days=10), today + dt.timedelta(days=1)
    answers = []
    for url in (copied.url, copied.pg, copied.back):
        settings = copied.settings.model_copy(update={"database_url": url})
        engine = make_engine(url)
        with session_factory(engine)() as s:
            frames = [K.kpis(s, by=by, start=start, end=end, now=now, settings=settings)
                      for by in ("grid", "channel", None)]
            frames.append(R.responsiveness(s, by="grid", start=start, end=end, now=now, settings=settings))
        engine.dispose()
        answers.append(frames)
    assert answers[0][2]["received"].iloc[0] >= 30
    for copy_ in answers[1:]:
        for mine, theirs in zip(answers[0], copy_, strict=True):
            pd.testing.assert_frame_equal(theirs, mine)


def test_the_kpis_route_answers_on_the_copy(copied):
    """The app itself runs on the PostGIS copy: the KPI route answers with the copied cases."""
    client = client_on(copied, copied.pg)
    today = dt.date.today()
    r = client.get("/api/v1/analytics/kpis", params={"by": "overall", "start": str(today - dt.timedelta(days=10)),
                                                     "end": str(today + dt.timedelta(days=1))})
    client.app.state.engine.dispose()
    assert r.status_code == 200, r.text
    assert r.json()["rows"][0]["received"] >= 30


def test_a_new_row_after_the_copy_takes_the_next_id(copied):
    """The sequences were reset: the PostGIS copy goes on working (a new responsible unit gets the next id)."""
    engine = make_engine(copied.pg)
    with session_factory(engine)() as s:  # rolled back: the other tests (in any order) compare the copy's rows
        largest = s.scalar(select(func.max(ResponsibleUnit.id)))
        unit = ResponsibleUnit(type="power", name="复制后新增", geom=ewkt([shapely.Point(7.42, 43.735)])[0])
        s.add(unit)
        s.flush()
        new = unit.id
        s.rollback()
    engine.dispose()
    assert largest and new == largest + 1


def test_refusals_are_one_readable_line(copied, tmp_path):
    # a target with rows (the copy itself)
    r = copy(copied.url, copied.pg)
    assert r.exit_code == 1 and "not empty (table" in r.output and len(r.output.strip().splitlines()) == 1
    # a target not migrated
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    make_engine(empty).dispose()
    make_engine(empty).connect().close()
    r = copy(copied.url, empty)
    assert r.exit_code == 1 and "not migrated" in r.output and "db upgrade" in r.output
    # a target at another revision
    older = f"sqlite:///{tmp_path / 'older.db'}"
    engine = make_engine(older)
    upgrade(engine, "0015")
    engine.dispose()
    r = copy(copied.url, older)
    assert r.exit_code == 1 and "at revision 0015" in r.output
    assert len(r.output.strip().splitlines()) == 1
    # no such source file
    r = copy(f"sqlite:///{tmp_path / 'nope.db'}", older)
    assert r.exit_code == 1 and "does not exist" in r.output


def test_a_failing_table_rolls_back_alone_and_is_named(monaco_model, tmp_path):
    """SQLite does not enforce VARCHAR lengths, PostgreSQL does: a city whose district code is too long stops the
    copy at table ``city``, which stays empty, while the table copied before it (the categories) is in the target."""
    source = CITIES.new("spatialite", monaco_model, tmp_path / "bad.db")
    engine = make_engine(source)
    with engine.begin() as conn:
        conn.execute(City.__table__.update().values(district_code="12345678"))
    engine.dispose()
    target = migrated_postgis()
    try:
        r = copy(source, target)
        assert r.exit_code == 1, r.output
        assert "table city failed and was rolled back" in r.output and "start again on a new database" in r.output
        engine = make_engine(target)
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(City)).scalar() == 0
            assert conn.execute(select(func.count()).select_from(Category)).scalar() > 50
        engine.dispose()
    finally:
        drop_postgis_database(target)
