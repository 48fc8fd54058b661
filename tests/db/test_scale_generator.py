"""The scale generator (patrol.simulate.scale) on Monaco with small numbers, on SpatiaLite and PostGIS: counts, every
case's events consistent with its status, h3_9 stored, everything labelled simulated, seasonality, fixes inside the
walker's grid, and the KPIs computable with plausible rates."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import geopandas as gpd
import numpy as np
import pytest
import shapely
from sqlalchemy import func, select

from geo.cells.ids import h3_ids
from patrol.analytics.kpis import kpis
from patrol.core.db import drop_postgis_database, make_engine, session_factory
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
