"""The KPI summary table ``case_kpi_fact`` (issue 23, migration 0017) on both databases: kept right by the
triggers through every write (the loop, reopen, rate, escalate, suspend / resume, urge, merge, a Core bulk insert,
an edited and a deleted event, a deleted case), equal to :func:`patrol.analytics.summaries.rebuild`, and the fast
KPIs (``fast_reads``) equal to the pandas path for every grouping, with filters, over several periods.

The world is the hand-made March 2025 history of tests/db/test_kpis.py (c6 is reopened: the pandas fallback), plus
cases written here to reach the other shapes of a history.
"""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.orm import Session

from patrol.analytics import kpi_days_sql, summaries
from patrol.analytics import summary_sql as S
from patrol.analytics.kpis import BY, kpi_records, kpi_trend, kpis
from patrol.analytics.kpis_days import day_sums
from patrol.analytics.kpis_fast import place_filters
from patrol.analytics.periods import half_open
from patrol.cases import service as svc
from patrol.cases.worktime import calendar
from patrol.core.auth import SYSTEM
from patrol.core.models import Case, CaseEvent, CaseKpiDay, CaseKpiFact
from tests.conftest import rolled_back, shared_scope
from tests.db.test_kpis import MARCH, NOW, SETTINGS, SH, _build, t

SLOW = SETTINGS.model_copy(update={"fast_reads": False})
FAST = SETTINGS.model_copy(update={"fast_reads": True})
FACT_COLS = S.columns()


@pytest.fixture(scope=shared_scope)
def world(engine):
    with rolled_back(engine) as s:
        w = _build(s)
        w["extra"] = _more(s, w)
        yield w


def _act(s: Session, cid: int, *steps) -> None:
    for action, at, *extra in steps:
        kw = extra[0] if extra else {}
        if action in ("reject", "rework", "suspend", "urge", "return") and "note" not in kw:
            kw = {**kw, "note": action}
        svc.transition(s, SYSTEM, SETTINGS, cid, action, now=at, **kw)


def _more(s: Session, w: dict) -> dict:
    """Cases with the other shapes: urged thrice, escalated twice, suspended twice, merged, rated twice, a Core
    bulk-inserted step, an edited step, a deleted step, a deleted case."""
    def report(at: dt.datetime, n: int, category: str = "KDEP") -> int:
        return svc.create_case(s, SYSTEM, SETTINGS, client_id=None, category=category, lon=121.4051 + n * 0.0003,
                               lat=31.2071, now=at).case.id

    x = {}
    x["urged"] = report(t(3, 5, 9), 1)
    _act(s, x["urged"], ("register", t(3, 5, 9, 30)), ("dispatch", t(3, 5, 10), {"unit_id": w["u1"]}),
         ("urge", t(3, 6, 10)), ("urge", t(3, 12, 10)), ("urge", t(4, 1, 9)))
    x["urged2"] = report(t(3, 5, 11), 2)
    _act(s, x["urged2"], ("register", t(3, 5, 11, 30)), ("dispatch", t(3, 5, 12), {"unit_id": w["u1"]}),
         ("urge", t(2, 28, 10)), ("urge", t(3, 12, 11)))
    x["escalated"] = report(t(3, 6, 9), 3, "KGRD")
    _act(s, x["escalated"], ("escalate", t(3, 6, 10)), ("escalate", t(3, 9, 10)))
    x["suspended"] = report(t(3, 7, 9), 4)
    _act(s, x["suspended"], ("register", t(3, 7, 9, 10)), ("dispatch", t(3, 7, 9, 20), {"unit_id": w["u2"]}),
         ("suspend", t(3, 7, 10)), ("resume", t(3, 10, 10)), ("suspend", t(3, 11, 10)))
    x["once_suspended"] = report(t(3, 8, 9), 5)
    _act(s, x["once_suspended"], ("register", t(3, 8, 9, 10)), ("dispatch", t(3, 8, 9, 20), {"unit_id": w["u2"]}),
         ("suspend", t(3, 8, 10)))
    x["merged"] = report(t(3, 13, 9), 6)
    _act(s, x["merged"], ("register", t(3, 13, 9, 30)), ("merge", t(3, 14, 9), {"duplicate_of": w["c"][1]}))
    x["rated_twice"] = report(t(3, 14, 9), 7)
    _act(s, x["rated_twice"], ("register", t(3, 14, 9, 10)),
         ("dispatch", t(3, 14, 9, 20), {"unit_id": w["u1"]}), ("accept", t(3, 14, 9, 30)),
         ("handle", t(3, 14, 10)), ("verify", t(3, 14, 11)), ("close", t(3, 14, 12)),
         ("rate", t(3, 15, 10), {"rating": 4}), ("rate", t(3, 16, 10), {"rating": 5}))
    x["bulk"] = report(t(3, 18, 9), 8)
    s.flush()
    s.execute(insert(CaseEvent), [
        {"case_id": x["bulk"], "action": "register", "from_status": "reported", "to_status": "registered",
         "level": "grid", "actor": "bulk", "at": t(3, 18, 9, 30)},
        {"case_id": x["bulk"], "action": "reject", "from_status": "registered", "to_status": "rejected",
         "level": "grid", "actor": "bulk", "at": t(3, 18, 10)}])
    s.execute(update(Case).where(Case.id == x["bulk"]).values(status="rejected"))
    x["edited"] = report(t(3, 19, 9), 9)
    _act(s, x["edited"], ("register", t(3, 19, 9, 30)))
    ev = s.scalar(select(CaseEvent.id).where(CaseEvent.case_id == x["edited"], CaseEvent.action == "register"))
    s.execute(update(CaseEvent).where(CaseEvent.id == ev).values(at=t(2, 26, 9)))  # moved out of March
    # moved to another community's grid by a Core update, and to the other grid of its community through the ORM:
    # the fact rows' copy of the place follows (migration 0019)
    s.execute(update(Case).where(Case.id == x["edited"]).values(grid_id=w["g3"], community_id=w["c2"]))
    s.get(Case, x["urged2"]).grid_id = w["g2"]
    s.flush()
    # steps in February and April, none in March, and a status set by hand to closed without a close step: open at
    # NOW by its steps, yet not relevant to March — the fast path's snapshot must not count it
    x["spanning"] = report(t(2, 20, 9), 12)
    _act(s, x["spanning"], ("register", t(2, 20, 9, 30)), ("dispatch", t(2, 20, 10), {"unit_id": w["u1"]}),
         ("accept", t(4, 2, 9)))
    s.execute(update(Case).where(Case.id == x["spanning"]).values(status="closed", deadline_at=t(4, 9, 9)))
    s.flush()
    x["step_deleted"] = report(t(3, 20, 9), 10)
    _act(s, x["step_deleted"], ("register", t(3, 20, 9, 30)), ("merge", t(3, 20, 10), {"duplicate_of": w["c"][2]}))
    ev = s.scalar(select(CaseEvent.id).where(CaseEvent.case_id == x["step_deleted"], CaseEvent.action == "merge"))
    s.execute(delete(CaseEvent).where(CaseEvent.id == ev))  # the merge undone by hand
    s.execute(update(Case).where(Case.id == x["step_deleted"]).values(status="registered", duplicate_of_id=None))
    # a case whose only step is deleted: no steps (PostgreSQL keeps its fact row, with the case's span)
    x["stepless"] = report(t(3, 22, 9), 13)
    s.flush()
    s.execute(delete(CaseEvent).where(CaseEvent.case_id == x["stepless"]))
    gone = report(t(3, 21, 9), 11)
    _act(s, gone, ("register", t(3, 21, 9, 30)))
    s.flush()
    s.execute(delete(Case).where(Case.id == gone))
    x["gone"] = gone
    s.flush()
    return x


def _facts(s: Session, names=FACT_COLS) -> dict[int, tuple]:
    cols = [getattr(CaseKpiFact, c) for c in names]
    return {r[0]: tuple(r) for r in s.execute(select(*cols).order_by(CaseKpiFact.case_id)).all()}


def _recomputed(s: Session, cols=FACT_COLS) -> dict[int, tuple]:
    """The fact rows computed afresh from the raw events (what rebuild writes; on PostgreSQL with the spans and the
    rows of the cases without steps), read through the model's types."""
    tmp = CaseKpiFact.__table__
    postgres = s.get_bind().dialect.name == "postgresql"
    sql = S.fact_select("TRUE", True, postgres)
    if postgres:
        sql += " UNION ALL " + S.eventless_select("TRUE")
    every = S.columns(True, postgres)
    rows = s.execute(text(sql).columns(*(tmp.c[c] for c in every))).all()
    return {r[0]: tuple(r[every.index(c)] for c in cols) for r in rows}


def _day_rows(s: Session) -> list[tuple]:
    cols = list(CaseKpiDay.__table__.columns)
    return [tuple(r) for r in s.execute(select(*cols).order_by(*cols[:3])).all()]


def test_the_triggers_keep_the_facts_equal_to_a_recomputation(world):
    s = world["s"]
    facts = _facts(s)
    assert facts == _recomputed(s)
    assert world["extra"]["gone"] not in facts
    ids = set(s.scalars(select(Case.id).where(Case.id.in_(select(CaseEvent.case_id)))))
    if s.get_bind().dialect.name == "postgresql":  # a row for every case, with its span
        assert set(facts) == ids | {world["extra"]["stepless"]}
        every = (*FACT_COLS, "span_lo", "span_hi", "span_day")
        assert _facts(s, every) == _recomputed(s, every)
        stepless = _facts(s, every)[world["extra"]["stepless"]]
        assert stepless[1] is True and stepless[2] is None and stepless[-1] == dt.date(2025, 3, 22)
        spanning = _facts(s, every)[world["extra"]["spanning"]]
        assert spanning[-3:] == (t(2, 20, 9), t(4, 9, 9), dt.date(2025, 2, 20))
    else:
        assert set(facts) == ids
    simple = {cid: row[1] for cid, row in facts.items()}
    x = world["extra"]
    assert not simple[world["c"][6]]  # reopened
    assert not simple[x["urged"]] and simple[x["urged2"]]  # three urges / two
    assert not simple[x["suspended"]] and simple[x["once_suspended"]]
    assert not simple[x["rated_twice"]] and simple[x["merged"]] and simple[x["bulk"]]
    assert simple[world["c"][5]]  # reworked once: two handles
    place = {cid: row[-2:] for cid, row in facts.items()}
    assert place[x["edited"]] == (world["c2"], world["g3"]) and place[x["urged2"]] == (world["c1"], world["g2"])


def test_rebuild_equals_the_incremental_upkeep_and_fills_the_hours(world):
    s = world["s"]
    s.execute(update(CaseKpiFact).values(handle_hours=None, close_hours=None, hours_cal=None))
    before = _facts(s)
    nested = s.begin_nested()
    try:
        n = summaries.rebuild(s, SETTINGS)
        assert n == len(before) and _facts(s) == before
        if s.get_bind().dialect.name == "postgresql":  # the day rows after the rebuild: those of its facts
            rebuilt = _day_rows(s)
            key = summaries.calendar_key(calendar(SETTINGS))  # the hours filled, all for this calendar
            assert {r[4:6] for r in rebuilt} == {(None, None), (key, key)}
            for stmt in kpi_days_sql.rebuild_sql():
                s.execute(text(stmt))
            assert _day_rows(s) == rebuilt
        hours = dict(s.execute(select(CaseKpiFact.case_id, CaseKpiFact.close_hours)
                               .where(CaseKpiFact.close_hours.is_not(None))).all())
        assert hours[world["c"][1]] == pytest.approx(13.0) and hours[world["c"][3]] == pytest.approx(14.0)
        # a rating after the closure keeps the stored hours (their inputs did not change)
        _act(s, world["c"][2], ("rate", t(3, 30, 10), {"rating": 5}))
        s.flush()
        assert s.scalar(select(CaseKpiFact.close_hours).where(CaseKpiFact.case_id == world["c"][2])) \
            == pytest.approx(26.25)
    finally:
        nested.rollback()
    assert _facts(s) == before


def test_the_triggers_keep_the_day_sums_equal_to_a_rebuild(world):
    """PostgreSQL: the per-day sums after every write of the world (the loop, reopen, rating, a Core bulk insert, an
    edited, a moved, a deleted step, a deleted case, a status set by hand) equal a rebuild from the facts, and
    follow a rating set on a case and a case's move; SQLite keeps none."""
    s = world["s"]
    if s.get_bind().dialect.name != "postgresql":
        assert _day_rows(s) == []
        return
    kept = _day_rows(s)
    assert sum(r[3] for r in kept) == s.scalar(select(func.count()).select_from(CaseKpiFact)
                                               .where(CaseKpiFact.simple.is_(True)))
    nested = s.begin_nested()
    try:
        for stmt in kpi_days_sql.rebuild_sql():
            s.execute(text(stmt))
        assert _day_rows(s) == kept
        # a statement of thousands of keys (a bulk update, a copy) locks the table once, not each key: 50,000 key
        # locks overflowed PostgreSQL's shared lock table ("out of shared memory")
        s.execute(text("SELECT case_kpi_day_refresh(ARRAY(SELECT DATE '2000-01-01' + i FROM generate_series(0, 49999) "
                       "AS i) || ARRAY(SELECT day FROM case_kpi_day), array_fill(0, ARRAY[50000]) || ARRAY(SELECT "
                       "community_id FROM case_kpi_day), array_fill(0, ARRAY[50000]) || ARRAY(SELECT grid_id FROM "
                       "case_kpi_day))"))
        assert _day_rows(s) == kept
        c1 = world["c"][1]
        s.execute(update(Case).where(Case.id == c1).values(rating=1, grid_id=world["g3"], community_id=world["c2"]))
        changed = _day_rows(s)
        assert changed != kept
        for stmt in kpi_days_sql.rebuild_sql():
            s.execute(text(stmt))
        assert _day_rows(s) == changed
    finally:
        nested.rollback()


def same(a: list[dict], b: list[dict]) -> None:
    assert len(a) == len(b)
    for ra, rb in zip(a, b, strict=True):
        assert ra.keys() == rb.keys()
        for k in ra:
            va, vb = ra[k], rb[k]
            if isinstance(va, float) and isinstance(vb, float):
                assert math.isclose(va, vb, rel_tol=1e-9, abs_tol=1e-9), (k, ra["key"], va, vb)
            else:
                assert va == vb, (k, ra.get("key"), va, vb)


PERIODS = [MARCH, (dt.date(2025, 3, 17), dt.date(2025, 3, 18)),
           (dt.datetime(2025, 3, 5, 10, 30, tzinfo=SH), dt.datetime(2025, 3, 20, 9, 45, tzinfo=SH)),
           (dt.date(2025, 1, 1), dt.date(2026, 1, 1)), (dt.date(2025, 2, 1), dt.date(2025, 3, 1))]
#: long periods (the per-day sums on PostgreSQL) whose bounds cut through the world's cases: the cases that
#: straddle a bound are corrected from their steps
LONG = [(dt.date(2025, 2, 1), dt.date(2025, 3, 18)), (dt.date(2025, 3, 10), dt.date(2025, 5, 1)),
        (dt.date(2025, 3, 6), dt.date(2025, 4, 21))]


@pytest.mark.parametrize("by", [None, "community", "grid", "subdistrict", "worker"])
def test_long_periods_from_the_day_sums_equal_the_pandas_path(world, by):
    s = world["s"]
    postgres = s.get_bind().dialect.name == "postgresql"
    for (start, end), now in zip(LONG, (NOW, t(3, 12, 12), NOW), strict=True):
        kw = {"by": by, "start": start, "end": end, "now": now}
        fast = kpi_records(kpis(s, settings=FAST, **kw))
        same(fast, kpi_records(kpis(s, settings=SLOW, **kw)))
        assert sum(r["received"] for r in fast) > 3
        lo, hi = half_open(start, end, SETTINGS.timezone)
        used = day_sums(s, by=by, start=lo, end=hi, now=now, cal=calendar(SETTINGS), where=[],
                        place=place_filters(), window=None, slow=lambda w: pd.DataFrame())
        assert (used is not None) == postgres  # the day rows are read on PostgreSQL only
    for filters in ({"community_id": world["c1"]}, {"grid_id": world["g2"]}, {"community_ids": [world["c2"]]}):
        kw = {**filters, "by": by, "start": LONG[1][0], "end": LONG[1][1], "now": NOW}
        same(kpi_records(kpis(s, settings=FAST, **kw)), kpi_records(kpis(s, settings=SLOW, **kw)))


def test_the_day_sums_are_not_read_for_another_calendar_or_time_zone(world):
    """Hours stored for another calendar, or day rows of another time zone: the facts' path answers, still equal."""
    s = world["s"]
    start, end = LONG[1]
    other = SETTINGS.model_copy(update={"timezone": "Asia/Tokyo"})
    nested = s.begin_nested()
    try:
        s.execute(update(CaseKpiFact).where(CaseKpiFact.close_at.is_not(None)).values(hours_cal="another"))
        lo, hi = half_open(start, end, SETTINGS.timezone)
        for settings in (SETTINGS, other):
            assert day_sums(s, by=None, start=lo, end=hi, now=NOW, cal=calendar(settings), where=[],
                            place=place_filters(), window=None, slow=lambda w: pd.DataFrame()) is None
        kw = {"by": "community", "start": start, "end": end, "now": NOW}
        same(kpi_records(kpis(s, settings=FAST, **kw)), kpi_records(kpis(s, settings=SLOW, **kw)))
    finally:
        nested.rollback()


@pytest.mark.parametrize("by", [None, *BY])
def test_fast_kpis_equal_the_pandas_path_for_every_grouping(world, by):
    s = world["s"]
    for (start, end), now in ((PERIODS[0], NOW), (PERIODS[0], t(3, 12, 12)), (PERIODS[1], t(3, 31, 18)),
                              (PERIODS[2], NOW), (PERIODS[3], NOW)):
        kw = {"by": by, "start": start, "end": end, "now": now}
        same(kpi_records(kpis(s, settings=FAST, **kw)), kpi_records(kpis(s, settings=SLOW, **kw)))


@pytest.mark.parametrize("filters", [
    {"community_id": "c1"}, {"grid_id": "g2"}, {"unit_id": "u2"}, {"category": "KGRD"},
    {"include_simulated": False}, {"channels": "patrol"}, {"community_ids": ["c2"]}])
def test_fast_kpis_equal_the_pandas_path_with_filters(world, filters):
    s = world["s"]
    kw = {k: (world[v] if isinstance(v, str) and k.endswith("_id") else v) for k, v in filters.items()}
    if "community_ids" in kw:
        kw["community_ids"] = [world[v] for v in kw["community_ids"]]
    for by in (None, "category"):
        for start, end in (PERIODS[0], PERIODS[2], PERIODS[3]):
            args = {**kw, "by": by, "start": start, "end": end, "now": NOW}
            same(kpi_records(kpis(s, settings=FAST, **args)), kpi_records(kpis(s, settings=SLOW, **args)))


def test_fast_trend_equals_the_pandas_path(world):
    s = world["s"]
    for period, n, now in (("week", 6, t(3, 19, 12)), ("month", 3, NOW)):
        same(kpi_records(kpi_trend(s, period=period, n=n, now=now, settings=FAST)),
             kpi_records(kpi_trend(s, period=period, n=n, now=now, settings=SLOW)))


def test_the_rebuild_command(tmp_path):
    """``gridpatrol db rebuild-summaries`` (SpatiaLite; the rebuild itself is tested on both databases above)."""
    from tests.api.test_cli import run
    url = f"sqlite:///{tmp_path / 'k.db'}"
    r = run(url, "db", "rebuild-summaries")
    assert r.exit_code == 0 and r.stdout.startswith("case_kpi_fact rebuilt: 0 cases; case_map_cell: 0 rows"), r.output
    r = run(url, "db", "rebuild-summaries", "--hours-only")
    assert r.exit_code == 0 and r.stdout.startswith("working hours of 0 cases filled"), r.output
