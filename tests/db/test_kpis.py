"""KPIs of the closed loop (patrol.analytics.kpis) on a hand-made March 2025 history where every answer is known, on
both databases; plus the pure computation on DataFrames.

Calendar of these tests: Monday-Friday 09:00-12:00 and 13:30-17:30 (7 h a day), Asia/Shanghai, no holidays.
2025-03-03 is a Monday. Both categories have a 14 h deadline (two working days); dispatch restarts it.

The history (local times; G1, G2 in community C1; G3 = community C2; DEP department level, GRD grid level):

 case grid cat  unit  story                                                              handle h  close h
 c1   G1   DEP  U1    03-03 09:00 reported, 09:30 立案, 10:00 dispatched (due 03-05 10:00),    11.0      13.0
                      handled 03-04 15:00, closed 03-04 17:00 on time, rated 5 on 03-05
 c2   G1   DEP  U1    03-04 09:00, 立案 09:15, dispatched 09:30 (due 03-06 09:30), handled 03-07 24.25     26.25
                      14:00 (late), closed 16:00
 c3   G2   DEP  U2    03-10 09:00, 立案 09:30, dispatched 10:00 (due 03-12 10:00), suspended     12.0      14.0
                      03-11 10:00 (7 h left) across the due time, resumed 03-17 09:00 (due 17:30), (39−27)  (41−27)
                      handled 15:00, closed 17:00 on time, rated 3
 c4   G3   GRD  -     03-12 14:00 reported, rejected 15:00
 c5   G2   GRD  U2    03-17 08:30, 立案 09:00, dispatched 09:30 (due 03-19 09:30), handled 15:00, 9.0      11.5
                      verification failed 16:00 (返工), handled again 03-18 11:00, closed 15:00
 c6   G1   GRD  U2    03-19 09:00, 立案 09:30, dispatched 10:00, handled 16:00, closed 03-20     18.0      20.0
                      09:30, rated 2 at 11:00 → reopened (due 03-24 11:00), handled 03-21 15:00,
                      closed 17:00 on time, rated 4 on 03-24
 c7   G3   DEP  U1    03-24 09:00, 立案 09:30, dispatched 10:00 (due 03-26 10:00), accepted; open
 c8   G2   GRD  U2    03-25 09:00, 立案 09:30, escalated 10:00, dispatched 11:00 (due 03-27      7.5      10.0
                      11:00), handled 03-26 10:00, closed 14:00 on time
 c9   G1   DEP  U1    02-27 10:00 (February), 立案 10:30, dispatched 11:00 (due 03-03 11:00),     13.5      15.0
                      handled 03-03 10:00, closed 11:30 on time
 c10  G2   GRD  U2    03-31 16:00 reported, 立案 16:30 (SIMULATED); dispatched 04-01 10:00 (after March)

Households: G1 300 (200 + 100), G2 400, G3 250, and a building of C2 in no grid with 50: C1 700, C2 300, city 1000.
"Now" is 2025-04-02 10:00: c7 is overdue (due 03-26), c10 open and due 04-03 10:00.
"""

from __future__ import annotations

import datetime as dt
import math
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
import shapely
from sqlalchemy.orm import Session

from patrol.analytics.kpis import (
    DEFAULT_THRESHOLDS,
    KpiArgumentError,
    Threshold,
    compute_kpis,
    kpi_records,
    kpi_trend,
    kpis,
    last_periods,
)
from patrol.cases import service as svc
from patrol.cases.worktime import WorkCalendar
from patrol.core.auth import SYSTEM
from patrol.core.frames import ewkt
from patrol.core.models import Building, Case, Category, Community, Grid, ResponsibleUnit, Subdistrict
from patrol.core.settings import Settings
from tests.conftest import rolled_back, shared_scope

SH = ZoneInfo("Asia/Shanghai")
SETTINGS = Settings(work_periods="09:00-12:00,13:30-17:30", holidays="", workdays="", timezone="Asia/Shanghai",
                    duplicate_radius_m=1.0)
CAL = WorkCalendar.from_text(periods="09:00-12:00,13:30-17:30")
MARCH = (dt.datetime(2025, 3, 1, tzinfo=SH), dt.datetime(2025, 4, 1, tzinfo=SH))
NOW = dt.datetime(2025, 4, 2, 10, 0, tzinfo=SH)
THRESHOLDS = {"on_time_rate": Threshold(0.9, 0.8, 0.7), "rework_rate": Threshold(0.3, 0.4, 0.5, worse="above"),
              "overdue_now": Threshold(1, 2, 3, worse="above")}


def t(month: int, day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2025, month, day, hour, minute, tzinfo=SH)


def box(x0: float, y0: float, x1: float, y1: float) -> str:
    return ewkt([shapely.MultiPolygon([shapely.box(x0, y0, x1, y1)])])[0]


# ---------------------------------------------------------------------------------------------- the history


@pytest.fixture(scope=shared_scope)
def history(engine):
    """The world and the ten cases, written once per database in a transaction rolled back at the end."""
    with rolled_back(engine) as s:
        yield _build(s)


def _build(s: Session) -> dict:
    y0, y1 = 31.200, 31.210
    sub = Subdistrict(code="K01", name="测试街道", geom=box(121.40, y0, 121.43, y1))
    s.add(sub)
    s.flush()
    c1 = Community(subdistrict_id=sub.id, code="K01", name="一社区", geom=box(121.40, y0, 121.42, y1))
    c2 = Community(subdistrict_id=sub.id, code="K02", name="二社区", geom=box(121.42, y0, 121.43, y1))
    s.add_all([c1, c2])
    s.flush()
    g1 = Grid(community_id=c1.id, code="999999K01K01001", name="一网格", geom=box(121.40, y0, 121.41, y1))
    g2 = Grid(community_id=c1.id, code="999999K01K01002", name="二网格", geom=box(121.41, y0, 121.42, y1))
    g3 = Grid(community_id=c2.id, code="999999K01K02001", name="三网格", geom=box(121.42, y0, 121.43, y1))
    s.add_all([g1, g2, g3])
    s.flush()
    for grid, com, hh, x in ((g1, c1, 200, 121.401), (g1, c1, 100, 121.403), (g2, c1, 400, 121.411),
                             (g3, c2, 250, 121.421), (None, c2, 50, 121.425)):
        s.add(Building(community_id=com.id, grid_id=grid.id if grid else None, households=hh,
                       households_estimated=False, geom=box(x, 31.2080, x + 0.0005, 31.2085)))
    u1 = ResponsibleUnit(type="power", name="供电所", geom=ewkt([shapely.Point(121.401, 31.201)])[0])
    u2 = ResponsibleUnit(type="property", name="物业", geom=ewkt([shapely.Point(121.411, 31.201)])[0])
    s.add_all([u1, u2])
    for code, level in (("KDEP", "department"), ("KGRD", "grid")):
        s.add(Category(code=code, name_zh=f"测试{code}", name_en=code, kind="event", major_zh="测试", major_en="Test",
                       level=level, deadline_hours=14, severity=1, revisit_days=7))
    s.flush()
    spot = {g1.id: 121.405, g2.id: 121.415, g3.id: 121.425}
    n = iter(range(100))

    def report(grid: Grid, category: str, at: dt.datetime) -> int:
        lon = spot[grid.id] + next(n) * 0.0002  # cases 20 m apart: no duplicates or recurrences
        return svc.create_case(s, SYSTEM, SETTINGS, client_id=None, category=category, lon=lon, lat=31.203,
                               now=at).case.id

    def act(cid: int, *steps) -> None:
        for action, at, *extra in steps:
            kw = extra[0] if extra else {}
            if action in ("reject", "rework", "suspend") and "note" not in kw:
                kw = {**kw, "note": action}
            svc.transition(s, SYSTEM, SETTINGS, cid, action, now=at, **kw)

    def loop(unit, dispatch, accept, handle, verify, close) -> list:
        return [("dispatch", dispatch, {"unit_id": unit}), ("accept", accept), ("handle", handle),
                ("verify", verify), ("close", close)]

    c = {}
    c[9] = report(g1, "KDEP", t(2, 27, 10))
    act(c[9], ("register", t(2, 27, 10, 30)), *loop(u1.id, t(2, 27, 11), t(2, 28, 9, 30), t(3, 3, 10),
                                                     t(3, 3, 10, 30), t(3, 3, 11, 30)))
    c[1] = report(g1, "KDEP", t(3, 3, 9))
    act(c[1], ("register", t(3, 3, 9, 30)), *loop(u1.id, t(3, 3, 10), t(3, 3, 11), t(3, 4, 15), t(3, 4, 16),
                                                   t(3, 4, 17)), ("rate", t(3, 5, 10), {"rating": 5}))
    c[2] = report(g1, "KDEP", t(3, 4, 9))
    act(c[2], ("register", t(3, 4, 9, 15)), *loop(u1.id, t(3, 4, 9, 30), t(3, 4, 10), t(3, 7, 14), t(3, 7, 15),
                                                   t(3, 7, 16)))
    c[3] = report(g2, "KDEP", t(3, 10, 9))
    act(c[3], ("register", t(3, 10, 9, 30)), ("dispatch", t(3, 10, 10), {"unit_id": u2.id}),
        ("accept", t(3, 10, 10, 30)), ("suspend", t(3, 11, 10)), ("resume", t(3, 17, 9)), ("handle", t(3, 17, 15)),
        ("verify", t(3, 17, 16)), ("close", t(3, 17, 17)), ("rate", t(3, 18, 10), {"rating": 3}))
    c[4] = report(g3, "KGRD", t(3, 12, 14))
    act(c[4], ("reject", t(3, 12, 15)))
    c[5] = report(g2, "KGRD", t(3, 17, 8, 30))
    act(c[5], ("register", t(3, 17, 9)), ("dispatch", t(3, 17, 9, 30), {"unit_id": u2.id}), ("accept", t(3, 17, 10)),
        ("handle", t(3, 17, 15)), ("rework", t(3, 17, 16)),
        *loop(u2.id, None, t(3, 18, 9, 30), t(3, 18, 11), t(3, 18, 14), t(3, 18, 15))[1:])
    c[6] = report(g1, "KGRD", t(3, 19, 9))
    act(c[6], ("register", t(3, 19, 9, 30)), *loop(u2.id, t(3, 19, 10), t(3, 19, 10, 30), t(3, 19, 16),
                                                    t(3, 19, 17), t(3, 20, 9, 30)),
        ("rate", t(3, 20, 11), {"rating": 2}), ("accept", t(3, 21, 9, 30)), ("handle", t(3, 21, 15)),
        ("verify", t(3, 21, 16)), ("close", t(3, 21, 17)), ("rate", t(3, 24, 10), {"rating": 4}))
    c[7] = report(g3, "KDEP", t(3, 24, 9))
    act(c[7], ("register", t(3, 24, 9, 30)), ("dispatch", t(3, 24, 10), {"unit_id": u1.id}), ("accept", t(3, 24, 11)))
    c[8] = report(g2, "KGRD", t(3, 25, 9))
    act(c[8], ("register", t(3, 25, 9, 30)), ("escalate", t(3, 25, 10)),
        *loop(u2.id, t(3, 25, 11), t(3, 25, 14), t(3, 26, 10), t(3, 26, 11), t(3, 26, 14)))
    c[10] = report(g2, "KGRD", t(3, 31, 16))
    act(c[10], ("register", t(3, 31, 16, 30)), ("dispatch", t(4, 1, 10), {"unit_id": u2.id}))
    s.get(Case, c[10]).simulated = True
    s.flush()
    return {"s": s, "c": c, "g1": g1.id, "g2": g2.id, "g3": g3.id, "c1": c1.id, "c2": c2.id, "u1": u1.id,
            "u2": u2.id}


def test_the_history_is_what_the_docstring_says(history):
    """Guards the hand-worked answers below: the loop recorded what the table above claims."""
    s, c = history["s"], history["c"]
    got = {k: s.get(Case, v) for k, v in c.items()}
    assert {k: (x.status, x.closed_on_time) for k, x in got.items()} == {
        1: ("closed", True), 2: ("closed", False), 3: ("closed", True), 4: ("rejected", None), 5: ("closed", True),
        6: ("closed", True), 7: ("accepted", None), 8: ("closed", True), 9: ("closed", True), 10: ("dispatched", None)}
    assert (got[5].rework_count, got[6].rework_count, got[6].reopened_count, got[8].escalations) == (1, 1, 1, 1)
    assert got[7].deadline_at == t(3, 26, 10) and got[10].deadline_at == t(4, 3, 10)


# ---------------------------------------------------------------------------------------------- exact answers


def check(row: pd.Series | dict, **expected) -> None:
    """counts as ints; rates as (num, den) — the value is then num/den (None when den is 0)."""
    for kpi, want in expected.items():
        if isinstance(want, tuple):
            num, den = want
            assert (row[f"{kpi}_num"], row[f"{kpi}_den"]) == pytest.approx((num, den)), kpi
            value = row[kpi]
            if den == 0:
                assert value is None or (isinstance(value, float) and math.isnan(value)), kpi
            else:
                scale = 1000 if kpi == "cases_per_1000_households" else 1
                assert value == pytest.approx(num / den * scale), kpi
        else:
            assert row[kpi] == want, (kpi, row[kpi], want)


def by_key(df: pd.DataFrame) -> dict:
    return {k: row for k, row in zip(df["key"], (r for _, r in df.iterrows()), strict=True)}


def march(s, **kw) -> pd.DataFrame:
    return kpis(s, start=MARCH[0], end=MARCH[1], now=NOW, settings=SETTINGS, thresholds=THRESHOLDS, **kw)


def test_overall(history):
    df = march(history["s"])
    assert len(df) == 1 and df["by"].iloc[0] == "all" and df["key"].iloc[0] is None
    check(df.iloc[0], received=9, registered=8, rejected=1, merged=0, closed=7, escalated=1, suspended=1,
          closure_rate=(6, 8), on_time_closed=6, late_closed=1, due_unclosed=1, on_time_rate=(6, 8),
          rework_rate=(2, 7), reopen_rate=(1, 7), rated=4, satisfied=2, dissatisfied=1, ratings_unknown=0,
          satisfaction_rate=(2, 4), dissatisfaction_rate=(1, 4),
          mean_handle_hours=(95.25, 7), mean_close_hours=(109.75, 7), open_now=2, overdue_now=1, households=1000,
          cases_per_1000_households=(9, 1000))
    # on time 75 % → orange; rework 2/7 < 30 % green; one overdue → yellow
    assert df["warning"].iloc[0] == "orange" and df["warning_kpis"].iloc[0] == ["on_time_rate"]
    assert df["warnings"].iloc[0] == {"on_time_rate": "orange", "rework_rate": "green", "overdue_now": "yellow"}


def test_per_grid(history):
    h = history
    df = march(h["s"], by="grid")
    assert df["key"].tolist() == [h["g1"], h["g2"], h["g3"]]
    assert df["code"].tolist() == ["999999K01K01001", "999999K01K01002", "999999K01K02001"]
    assert df["name"].tolist() == ["一网格", "二网格", "三网格"]
    rows = by_key(df)
    check(rows[h["g1"]], received=3, registered=3, rejected=0, closed=4, escalated=0, closure_rate=(3, 3),
          on_time_closed=3, late_closed=1, due_unclosed=0, on_time_rate=(3, 4), rework_rate=(1, 4),
          reopen_rate=(1, 4), satisfaction_rate=(2, 3), dissatisfaction_rate=(1, 3),
          mean_handle_hours=(11 + 24.25 + 18 + 13.5, 4), mean_close_hours=(13 + 26.25 + 20 + 15, 4),
          open_now=0, overdue_now=0, households=300, cases_per_1000_households=(3, 300))
    check(rows[h["g2"]], received=4, registered=4, closed=3, escalated=1, suspended=1, closure_rate=(3, 4),
          on_time_rate=(3, 3), rework_rate=(1, 3), reopen_rate=(0, 3), satisfaction_rate=(0, 1),
          dissatisfaction_rate=(0, 1), mean_handle_hours=(12 + 9 + 7.5, 3), mean_close_hours=(14 + 11.5 + 10, 3),
          open_now=1, overdue_now=0, households=400, cases_per_1000_households=(4, 400))
    check(rows[h["g3"]], received=2, registered=1, rejected=1, closed=0, closure_rate=(0, 1), on_time_closed=0,
          due_unclosed=1, on_time_rate=(0, 1), rework_rate=(0, 0), reopen_rate=(0, 0), satisfaction_rate=(0, 0),
          mean_handle_hours=(0, 0), open_now=1, overdue_now=1, households=250, cases_per_1000_households=(2, 250))
    assert [rows[g]["warning"] for g in (h["g1"], h["g2"], h["g3"])] == ["orange", "yellow", "red"]
    assert rows[h["g2"]]["warning_kpis"] == ["rework_rate"]  # 1/3 ≥ 30 %
    assert rows[h["g3"]]["warnings"] == {"on_time_rate": "red", "overdue_now": "yellow"}  # no rework rate: 0/0


def test_per_community_category_and_unit(history):
    h = history
    com = by_key(march(h["s"], by="community"))
    assert list(com) == [h["c1"], h["c2"]]
    check(com[h["c1"]], received=7, registered=7, rejected=0, closed=7, closure_rate=(6, 7), on_time_rate=(6, 7),
          rework_rate=(2, 7), reopen_rate=(1, 7), satisfaction_rate=(2, 4), dissatisfaction_rate=(1, 4),
          mean_handle_hours=(95.25, 7), open_now=1, overdue_now=0, cases_per_1000_households=(7, 700))
    check(com[h["c2"]], received=2, rejected=1, closure_rate=(0, 1), on_time_rate=(0, 1), open_now=1,
          overdue_now=1, households=300, cases_per_1000_households=(2, 300))
    assert com[h["c1"]]["code"] == "K01" and com[h["c2"]]["name"] == "二社区"

    cat = by_key(march(h["s"], by="category"))
    assert list(cat) == ["KDEP", "KGRD"] and cat["KDEP"]["name"] == "测试KDEP"
    check(cat["KDEP"], received=4, registered=4, closed=4, suspended=1, closure_rate=(3, 4), on_time_closed=3,
          late_closed=1, due_unclosed=1, on_time_rate=(3, 5), rework_rate=(0, 4), reopen_rate=(0, 4),
          satisfaction_rate=(1, 2), dissatisfaction_rate=(0, 2), open_now=1, overdue_now=1)
    assert pd.isna(cat["KDEP"]["households"]) and pd.isna(cat["KDEP"]["cases_per_1000_households"])
    check(cat["KGRD"], received=5, registered=4, rejected=1, closed=3, escalated=1, closure_rate=(3, 4),
          on_time_rate=(3, 3), rework_rate=(2, 3), reopen_rate=(1, 3), satisfaction_rate=(1, 2),
          dissatisfaction_rate=(1, 2), open_now=1, overdue_now=0)
    assert cat["KGRD"]["warning"] == "red" and cat["KGRD"]["warning_kpis"] == ["rework_rate"]  # 2/3 ≥ 50 %
    unit = by_key(march(h["s"], by="unit"))
    assert list(unit) == [h["u1"], h["u2"], None] and unit[h["u1"]]["code"] == "power"
    check(unit[h["u1"]], received=3, closed=3, on_time_rate=(2, 4))
    check(unit[h["u2"]], received=5, closed=4, on_time_rate=(4, 4), rework_rate=(2, 4))
    check(unit[None], received=1, rejected=1, closed=0)


def test_filters_and_simulated(history):
    h = history
    only = march(h["s"], grid_id=h["g2"], include_simulated=False)
    check(only.iloc[0], received=3, registered=3, closure_rate=(3, 3), open_now=0, households=400)
    grids = march(h["s"], by="grid", community_id=h["c1"], category="KGRD")
    assert grids["key"].tolist() == [h["g1"], h["g2"]]
    check(by_key(grids)[h["g1"]], received=1, closed=1, rework_rate=(1, 1), reopen_rate=(1, 1))


def test_an_empty_period_is_zeros_and_none(history):
    h = history
    df = kpis(h["s"], by="grid", start=dt.date(2025, 1, 1), end=dt.date(2025, 2, 1), now=NOW, settings=SETTINGS,
              thresholds=THRESHOLDS)
    assert df["key"].tolist() == [h["g1"], h["g2"], h["g3"]]
    records = kpi_records(df)
    for r in records:
        assert all(r[k] == 0 for k in ("received", "registered", "closed", "rated", "on_time_rate_den"))
        assert all(r[k] is None for k in ("closure_rate", "on_time_rate", "rework_rate", "satisfaction_rate",
                                          "mean_handle_hours"))
        assert r["start"] == "2025-01-01T00:00:00+08:00"
    # the snapshot at now still sees c7 overdue in G3
    assert [r["overdue_now"] for r in records] == [0, 0, 1] and records[2]["warning"] == "yellow"


def test_trend_by_week_and_month(history):
    h = history
    weeks = kpi_trend(h["s"], period="week", n=5, now=NOW, settings=SETTINGS, thresholds=THRESHOLDS)
    assert [s.date().isoformat() for s in weeks["start"]] == ["2025-03-03", "2025-03-10", "2025-03-17",
                                                               "2025-03-24", "2025-03-31"]
    assert weeks["received"].tolist() == [2, 2, 2, 2, 1]
    assert weeks["closed"].tolist() == [3, 0, 3, 1, 0]
    assert weeks["partial"].tolist() == [False] * 4 + [True]
    assert weeks["overdue_now"].isna().tolist() == [True] * 4 + [False] and weeks["overdue_now"].iloc[-1] == 1
    months = kpi_trend(h["s"], period="month", n=2, now=NOW, settings=SETTINGS, thresholds=THRESHOLDS,
                       grid_id=h["g1"])
    check(months.iloc[0], received=3, closed=4, on_time_rate=(3, 4), households=300)
    check(months.iloc[1], received=0, closed=0, on_time_rate=(0, 0), open_now=0)


def test_bad_arguments_name_the_argument(history):
    s = history["s"]
    with pytest.raises(ValueError, match="by must be one of") as err:
        kpis(s, by="street", start=MARCH[0], end=MARCH[1], settings=SETTINGS)
    assert err.value.field == "by"
    with pytest.raises(KpiArgumentError, match="end") as err:
        kpis(s, start=MARCH[1], end=MARCH[0], settings=SETTINGS)
    assert err.value.field == "end"
    with pytest.raises(ValueError, match="start must be timezone-aware"):
        kpis(s, start=dt.datetime(2025, 3, 1), end=MARCH[1], settings=SETTINGS)
    with pytest.raises(ValueError, match="period must be one of"):
        kpi_trend(s, period="year", settings=SETTINGS)
    with pytest.raises(ValueError, match="thresholds: unknown KPI"):
        kpis(s, start=MARCH[0], end=MARCH[1], settings=SETTINGS, thresholds={"speed": (1, 2, 3)})


# ---------------------------------------------------------------------------------------------- pure


def frames(cases: list[dict], events: list[tuple]) -> tuple[pd.DataFrame, pd.DataFrame]:
    base = {"status": "closed", "category_code": "X", "community_id": 1, "grid_id": 1, "unit_id": None,
            "deadline_at": None, "closed_at": None, "closed_on_time": None, "rating": None}
    cdf = pd.DataFrame([{**base, **c} for c in cases])
    edf = pd.DataFrame(events, columns=["case_id", "action", "to_status", "at"])
    return cdf, edf


def test_compute_kpis_on_dataframes_without_a_database():
    cases, events = frames([
        # closed on time, rated 5
        {"id": 1, "reported_at": t(3, 3, 9), "closed_at": t(3, 4, 17), "closed_on_time": True, "rating": 5,
         "deadline_at": t(3, 5, 10)},
        # closed, rated 1 → reopened, open and overdue at now; its latest rating is 1
        {"id": 2, "status": "dispatched", "reported_at": t(3, 3, 10), "deadline_at": t(3, 6, 10), "rating": 1},
        # no grid, reported in February, still reported and overdue
        {"id": 3, "status": "reported", "grid_id": None, "reported_at": t(2, 27, 9), "deadline_at": t(2, 28, 16)},
    ], [
        (1, "report", "reported", t(3, 3, 9)), (1, "register", "registered", t(3, 3, 9, 30)),
        (1, "handle", "handled", t(3, 4, 15)), (1, "close", "closed", t(3, 4, 17)),
        (1, "rate", "closed", t(3, 5, 10)),
        (2, "report", "reported", t(3, 3, 10)), (2, "register", "registered", t(3, 3, 10)),
        (2, "handle", "handled", t(3, 3, 16)), (2, "close", "closed", t(3, 4, 10)),
        (2, "rate", "closed", t(3, 4, 11)), (2, "reopen", "dispatched", t(3, 4, 11)),
        (3, "report", "reported", t(2, 27, 9)),
    ])
    df = compute_kpis(cases, events, by="grid", start=dt.date(2025, 3, 1), end=dt.date(2025, 4, 1), now=NOW,
                      calendar=CAL, households={1: 500}, thresholds=DEFAULT_THRESHOLDS)
    assert df["key"].tolist() == [1, None]
    g, none = df.iloc[0], df.iloc[1]
    # c1: register 03-03 09:30 → handle 03-04 15:00 = 6.5 + 4.5; → close 17:00 = 6.5 + 6.5
    # c2: register 03-03 10:00 → handle 16:00 = 2 + 2.5; → close 03-04 10:00 = 6 + 1
    check(g, received=2, registered=2, closed=2, closure_rate=(1, 2), on_time_closed=1, due_unclosed=1,
          on_time_rate=(1, 2), rework_rate=(1, 2), reopen_rate=(1, 2), rated=2, satisfaction_rate=(1, 2),
          dissatisfaction_rate=(1, 2), mean_handle_hours=(11 + 4.5, 2), mean_close_hours=(13 + 7, 2), open_now=1,
          overdue_now=1, households=500, cases_per_1000_households=(2, 500))
    check(none, received=0, closed=0, on_time_rate=(0, 0), open_now=1, overdue_now=1)
    assert g["warning"] == "red" and g["warning_kpis"] == ["on_time_rate", "satisfaction_rate", "rework_rate"]
    assert none["warnings"] == {"overdue_now": "yellow"}
    rec = kpi_records(df)
    assert rec[1]["key"] is None and rec[1]["on_time_rate"] is None and rec[1]["households"] is None
    assert isinstance(rec[0]["received"], int) and rec[0]["rework_rate"] == 0.5
    import json

    assert "NaN" not in json.dumps(rec, allow_nan=True)

    overall = compute_kpis(cases, events, by=None, start=dt.date(2025, 3, 1), end=dt.date(2025, 4, 1), now=NOW,
                           calendar=CAL, households=1000, thresholds={})
    check(overall.iloc[0], received=2, open_now=2, overdue_now=2, cases_per_1000_households=(2, 1000))
    assert overall["warning"].iloc[0] == "green" and overall["warning_kpis"].iloc[0] == []
    empty = compute_kpis(cases.iloc[:0], events.iloc[:0], by=None, start=MARCH[0], end=MARCH[1], now=NOW,
                         calendar=CAL)
    check(empty.iloc[0], received=0, closed=0, closure_rate=(0, 0), satisfaction_rate=(0, 0), open_now=0)
    with pytest.raises(ValueError, match="by must be one of 'grid', 'community', 'subdistrict', 'unit', 'category', "
                                         "'channel', 'worker' or None"):
        compute_kpis(cases, events, by="district", start=MARCH[0], end=MARCH[1], now=NOW, calendar=CAL)
    with pytest.raises(ValueError, match="cases_df lacks columns rating"):
        compute_kpis(cases.drop(columns="rating"), events, by=None, start=MARCH[0], end=MARCH[1], now=NOW,
                     calendar=CAL)


def test_urges_counted_per_case_and_in_total_and_grouped_by_subdistrict():
    """督办: ``urged`` counts the cases with an urge in P, ``urges`` every urge in P; by subdistrict the cases are
    grouped by the ``subdistrict_id`` the loader adds (without it, by=subdistrict names the missing column)."""
    cases, events = frames([
        {"id": 1, "status": "dispatched", "reported_at": t(3, 3, 9), "subdistrict_id": 7},
        {"id": 2, "status": "dispatched", "reported_at": t(3, 3, 9), "subdistrict_id": 7},
        {"id": 3, "status": "dispatched", "reported_at": t(3, 3, 9), "subdistrict_id": 8},
    ], [
        (1, "urge", "dispatched", t(3, 4, 9)), (1, "urge", "dispatched", t(3, 5, 9)),
        (2, "urge", "dispatched", t(2, 20, 9)),  # before P: not counted
        (3, "urge", "dispatched", t(3, 6, 9)),
    ])
    df = compute_kpis(cases, events, by="subdistrict", start=dt.date(2025, 3, 1), end=dt.date(2025, 4, 1),
                      now=NOW, calendar=CAL, groups=[7, 8, 9])
    rows = by_key(df)
    check(rows[7], urged=1, urges=2, received=2)
    check(rows[8], urged=1, urges=1, received=1)
    check(rows[9], urged=0, urges=0, received=0)
    with pytest.raises(ValueError, match="lacks the column subdistrict_id"):
        compute_kpis(cases.drop(columns="subdistrict_id"), events, by="subdistrict", start=MARCH[0], end=MARCH[1],
                     now=NOW, calendar=CAL)


def test_period_helpers():
    weeks = last_periods("week", 2, t(3, 5, 12))
    assert weeks == [(dt.datetime(2025, 2, 24, tzinfo=SH), dt.datetime(2025, 3, 3, tzinfo=SH)),
                     (dt.datetime(2025, 3, 3, tzinfo=SH), dt.datetime(2025, 3, 10, tzinfo=SH))]
    months = last_periods("month", 3, t(1, 15, 0))
    assert [m[0].date().isoformat() for m in months] == ["2024-11-01", "2024-12-01", "2025-01-01"]
    assert months[-1][1] == dt.datetime(2025, 2, 1, tzinfo=SH)
    assert Threshold(1, 5, 10, worse="above").colour(5) == "orange"
    assert Threshold(0.9, 0.8, 0.7).colour(0.9) == "green" and Threshold(0.9, 0.8, 0.7).colour(0.69) == "red"
    with pytest.raises(ValueError, match="get worse in turn"):
        Threshold(0.7, 0.8, 0.9)
