"""The scale generator (patrol.simulate.scale) on Monaco with small numbers, on SpatiaLite and PostGIS: counts, every
case's events consistent with its status, h3_9 stored, everything labelled simulated, seasonality, fixes inside the
walker's grid, and the KPIs computable with plausible rates."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections import defaultdict

import geopandas as gpd
import numpy as np
import pytest
import shapely
from sqlalchemy import func, select, text

from geo.cells.ids import h3_ids
from patrol.analytics import summaries
from patrol.analytics.kpis import kpis
from patrol.core.db import drop_postgis_database, make_engine, session_factory, transaction
from patrol.core.errors import Conflict, InvalidInput
from patrol.core.frames import read_frame
from patrol.core.models import Case, CaseEvent, City, GpsFix, Grid, Patrol, Photo, User
from patrol.core.settings import Settings
from patrol.simulate.scale import Options, generate
from tests.conftest import CITIES, shared_scope

NOW = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)
CASES, FIXES = 2000, 20_000


@pytest.fixture(scope=shared_scope)
def generated(backend: str, monaco_model, tmp_path_factory: pytest.TempPathFactory):
    """Generated once per file and database (the tests only read it)."""
    url = CITIES.new(backend, monaco_model, tmp_path_factory.mktemp("scale") / "city.db")
    engine = make_engine(url)
    factory = session_factory(engine)
    report = generate(engine, factory, Settings(), Options(cases=CASES, fixes=FIXES, years=5, now=NOW, seed=7,
                                                           progress=False))
    yield engine, factory, report
    engine.dispose()
    if backend == "postgis":
        drop_postgis_database(url)


def test_counts_labels_and_report(generated) -> None:
    engine, factory, report = generated
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == CASES
        assert s.scalar(select(func.count()).select_from(GpsFix)) >= FIXES
        assert s.scalar(select(func.count()).select_from(Case).where(Case.simulated.is_(False))) == 0
        assert s.scalar(select(func.count()).select_from(Patrol).where(Patrol.simulated.is_(False))) == 0
        assert s.scalar(select(func.count()).select_from(User).where(User.simulated.is_(False))) == 0
        assert all(d.endswith("(模拟)") for d in s.scalars(select(Case.description)))
        assert s.scalar(select(func.count()).select_from(Photo)) > CASES // 3
        numbers = s.scalars(select(Case.number)).all()
        assert len(set(numbers)) == CASES and all(n and n[4] == "-" for n in numbers)
        rows = s.execute(select(Case.h3_9, func.ST_X(Case.geom), func.ST_Y(Case.geom))).all()
    assert [r[0] for r in rows] == h3_ids([r[1] for r in rows], [r[2] for r in rows], 9)
    assert report.tables["patrol_case"].rows == CASES and report.tables["gps_fix"].rows >= FIXES
    assert all(t.seconds > 0 for t in report.tables.values())


def test_events_follow_the_loop(generated) -> None:
    _, factory, _ = generated
    with factory() as s:
        cases = {r.id: r for r in s.execute(select(Case.id, Case.status, Case.reported_at, Case.closed_at,
                                                   Case.rating, Case.deadline_at, Case.escalations))}
        events = defaultdict(list)
        for e in s.execute(select(CaseEvent.case_id, CaseEvent.action, CaseEvent.from_status, CaseEvent.to_status,
                                  CaseEvent.at).order_by(CaseEvent.at, CaseEvent.id)):
            events[e.case_id].append(e)
    assert set(events) == set(cases)
    for cid, c in cases.items():
        evs = events[cid]
        assert evs[0].action == "report" and evs[0].at == c.reported_at and evs[0].from_status is None
        assert evs[-1].to_status == c.status, cid
        assert all(b.from_status == a.to_status for a, b in zip(evs, evs[1:], strict=False)), cid
        assert all(e.at < NOW for e in evs)
        actions = [e.action for e in evs]
        if c.status == "closed":
            assert "close" in actions and c.closed_at is not None
            assert c.closed_at == [e.at for e in evs if e.action == "close"][-1]
        if c.status == "rejected":
            assert actions == ["report", "reject"]
        if c.rating is not None:
            assert "rate" in actions
        assert c.escalations == actions.count("escalate")
    statuses = {c.status for c in cases.values()}
    assert {"closed", "rejected"} <= statuses
    closed = sum(c.status == "closed" for c in cases.values())
    assert closed > 0.9 * CASES  # old cases are closed; the open ones are the recent ones
    old_open = [c for c in cases.values() if c.status not in ("closed", "rejected", "duplicate")
                and c.reported_at < NOW - dt.timedelta(days=60)]
    assert not old_open


def test_seasonality(generated) -> None:
    _, factory, _ = generated
    with factory() as s:
        times = s.scalars(select(Case.reported_at)).all()
    months = np.array([t.month for t in times])
    summer, winter = np.isin(months, [6, 7, 8]).sum(), np.isin(months, [12, 1, 2]).sum()
    assert summer > 1.4 * winter
    weekdays = np.array([t.weekday() for t in times])
    assert (weekdays < 5).mean() > 5 / 7
    assert min(times) >= NOW - dt.timedelta(days=5 * 365 + 2)


def test_fixes_walk_the_grid(generated) -> None:
    _, factory, _ = generated
    with factory() as s:
        epsg = s.scalar(select(City.metric_epsg))
        grids = read_frame(s, [Grid.id, Grid.worker_id], Grid.geom).set_index("id")
        patrols = {p.id: p for p in s.execute(select(Patrol.id, Patrol.grid_id, Patrol.worker_id, Patrol.started_at,
                                                     Patrol.ended_at))}
        fixes = read_frame(s, [GpsFix.patrol_id, GpsFix.time], GpsFix.geom, order_by=[GpsFix.id], limit=4000)
    assert fixes["time"].min() >= NOW - dt.timedelta(days=367)
    for p in patrols.values():
        assert grids.loc[p.grid_id, "worker_id"] == p.worker_id
        assert p.started_at < p.ended_at <= NOW
    fixes_m = fixes.to_crs(epsg)
    areas = gpd.GeoSeries(grids.geometry, crs=4326).to_crs(epsg).buffer(15)
    grid_of = np.array([patrols[int(pid)].grid_id for pid in fixes["patrol_id"]])
    inside = shapely.contains(areas.loc[grid_of].to_numpy(), fixes_m.geometry.to_numpy())
    assert inside.mean() > 0.99


def test_kpis_plausible(generated) -> None:
    _, factory, _ = generated
    with factory() as s:
        k = kpis(s, start=dt.date(2026, 1, 1), end=dt.date(2026, 11, 1), now=NOW, settings=Settings()).iloc[0]
    assert k["received"] > 200 and k["closed"] > 200
    assert 0.9 <= k["satisfaction_rate"] <= 1
    assert 0.8 <= k["on_time_rate"] <= 1
    assert 0 < k["rework_rate"] < 0.1
    assert k["mean_close_hours"] > 0


def test_refuses_a_database_with_cases_and_bad_input(generated) -> None:
    engine, factory, _ = generated
    with pytest.raises(Conflict, match="already holds"):
        generate(engine, factory, Settings(), Options(cases=10, fixes=0, now=NOW, progress=False))
    with pytest.raises(InvalidInput, match="cases"):
        generate(engine, factory, Settings(), Options(cases=0, progress=False))


# ---------------------------------------------------------------------------------------------- SpatiaLite bulk load
# SpatiaLite only: the PostGIS load is unchanged (COPY, indexes dropped and rebuilt, triggers off, summaries.rebuild).

LOADED = ("patrol_case", "case_event", "photo", "patrol", "gps_fix", "case_kpi_fact")
RTREES = ("idx_patrol_case_geom", "idx_case_event_geom", "idx_gps_fix_geom")


@pytest.fixture(scope="module")
def both_loads(monaco_model, tmp_path_factory: pytest.TempPathFactory):
    """The same small district (same seed and now) generated twice on SpatiaLite: triggers and indexes off during
    the load then rebuilt (the default), and row by row through SpatiaLite's triggers (``fast_load=False``)."""
    directory = tmp_path_factory.mktemp("lite")
    engines = {}
    for fast in (True, False):
        url = CITIES.new("spatialite", monaco_model, directory / f"fast_{fast}.db")
        engine = make_engine(url)
        generate(engine, session_factory(engine), Settings(), Options(cases=300, fixes=3000, years=2, now=NOW, seed=11,
                                                                      progress=False, fast_load=fast))
        engines[fast] = engine
    yield engines
    for engine in engines.values():
        engine.dispose()


def _rows(engine, sql: str) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def test_spatialite_fast_load_is_the_same_database(both_loads) -> None:
    fast, slow = both_loads[True], both_loads[False]
    for table in LOADED:
        key = "case_id" if table == "case_kpi_fact" else "id"
        rows = _rows(fast, f"SELECT * FROM {table} ORDER BY {key}")  # noqa: S608
        assert rows, table
        assert rows == _rows(slow, f"SELECT * FROM {table} ORDER BY {key}"), table  # noqa: S608
    for rtree in RTREES:  # the R*Trees hold the same boxes (float32, rounded outwards) for the same rows
        sql = f"SELECT pkid, xmin, xmax, ymin, ymax FROM {rtree} ORDER BY pkid"  # noqa: S608
        assert _rows(fast, sql) == _rows(slow, sql), rtree
    n_cases = _rows(fast, "SELECT count(*) FROM idx_patrol_case_geom")[0][0]
    assert n_cases == 300 and _rows(fast, "SELECT count(*) FROM idx_gps_fix_geom")[0][0] >= 3000
    # the same triggers and indexes afterwards, and SpatiaLite finds its indexes consistent
    schema = "SELECT type, name, sql FROM sqlite_master WHERE type IN ('trigger', 'index') ORDER BY name"
    assert _rows(fast, schema) == _rows(slow, schema)
    assert {r[1] for r in _rows(fast, schema)} >= {"gii_patrol_case_geom", "case_kpi_fact_insert",
                                                    "ix_case_event_case_id", "ix_patrol_case_number"}
    for table in ("patrol_case", "gps_fix"):
        assert _rows(fast, f"SELECT CheckSpatialIndex('{table}', 'geom')")[0][0] == 1, table
    # a box query answered through the spatial index: the same cases, and those really in the box
    x, y = _rows(fast, "SELECT avg(ST_X(geom)), avg(ST_Y(geom)) FROM patrol_case")[0]
    box = (f"SELECT id FROM patrol_case WHERE id IN (SELECT pkid FROM idx_patrol_case_geom WHERE xmax >= {x - 0.002} "
           f"AND xmin <= {x + 0.002} AND ymax >= {y - 0.002} AND ymin <= {y + 0.002}) ORDER BY id")
    found = _rows(fast, box)
    assert found and found == _rows(slow, box)
    scan = (f"SELECT id FROM patrol_case WHERE ST_X(geom) BETWEEN {x - 0.002} AND {x + 0.002} "
            f"AND ST_Y(geom) BETWEEN {y - 0.002} AND {y + 0.002} ORDER BY id")
    assert found == _rows(fast, scan)


def test_spatialite_triggers_work_after_a_fast_load(both_loads, tmp_path) -> None:
    """The restored triggers keep the R*Tree and the KPI facts on later writes: a moved case is found at its new
    place, a new event changes its case's facts, and the facts then equal a recomputation. On a copy of the fast
    load's file: the other test compares that file with the row-by-row one, in any order."""
    copy = tmp_path / "fast_copy.db"
    with sqlite3.connect(str(both_loads[True].url.database)) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)  # the WAL's pages too
    engine = make_engine(f"sqlite:///{copy}")
    factory = session_factory(engine)
    with transaction(factory) as s:
        case_id, x, y = s.execute(text("SELECT id, ST_X(geom), ST_Y(geom) FROM patrol_case WHERE status = 'closed' "
                                       "ORDER BY id LIMIT 1")).one()
        s.execute(text("UPDATE patrol_case SET geom = MakePoint(:x, :y, 4326) WHERE id = :id"),
                  {"x": x + 0.05, "y": y + 0.05, "id": case_id})
        before = s.execute(text("SELECT * FROM case_kpi_fact WHERE case_id = :id"), {"id": case_id}).one()
        s.execute(text("INSERT INTO case_event (case_id, action, from_status, to_status, level, actor, at, note, "
                       "received_at) VALUES (:id, 'reopen', 'closed', 'dispatched', 'community', '居民', "
                       "'2026-11-20 09:00:00.000000', '(模拟)', '2026-11-20 09:00:00.000000')"), {"id": case_id})
    hit = _rows(engine, f"SELECT pkid FROM idx_patrol_case_geom WHERE xmin <= {x + 0.05} AND xmax >= {x + 0.05} "
                        f"AND ymin <= {y + 0.05} AND ymax >= {y + 0.05}")
    assert (case_id,) in hit
    after = _rows(engine, f"SELECT * FROM case_kpi_fact WHERE case_id = {case_id}")[0]
    assert after != tuple(before)
    facts = _rows(engine, "SELECT * FROM case_kpi_fact ORDER BY case_id")
    with transaction(factory) as s:
        summaries.rebuild(s)
    assert _rows(engine, "SELECT * FROM case_kpi_fact ORDER BY case_id") == facts
    engine.dispose()
