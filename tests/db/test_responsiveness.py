"""接诉即办 rates (patrol.analytics.responsiveness) on a hand-built March 2025 history of 124 residents' orders, the
seeds' 蓝海 figure: 124 12345-style orders, 119 satisfied → 满意工单率 96.0 %; on both databases.

Calendar: Monday-Friday 09:00-12:00 and 13:30-17:30, Asia/Shanghai; response window 2 working hours; "now" is
2025-04-01 10:00. Orders i = 0…123 (100 hotline ``12345`` i < 100, 20 ``resident`` H5 i = 100…119, 4 ``open311``
i = 120…123), reported on the 20 working days 03-03…03-28 at 09:00-11:00 (i = 123: 03-31 17:00). Grids: i % 3.

- Response: i = 0…119 registered 30 min after receipt (in time); i = 120, 121 registered the next day at 15:00
  (late); i = 122 never answered (its window passed long ago); i = 123, received 03-31 17:00, is due at 04-01 10:30
  (½ h that evening + 1½ h next morning) and unanswered at 10:00 — not judged yet.
  **响应率** = 120 ÷ (124 − 1) = 120 / 123 = 97.56 %.
- Resolution (the resident's 解决了吗): i = 0…113 yes, 114…119 no, the rest no answer.
  **解决率** = 114 / 120 = 95.00 %.
- Ratings: i = 0…118 satisfied (5, every 4th one 4), i = 119 rated 3, 120 rated 2, 121 rated 1, i = 122, 123 not
  rated; i = 0 goes through the real loop: closed, rated 2 → reopened (再接单) → handled, closed, rated 5: its
  latest rating counts. **满意工单率** = 119 / 124 = 95.97 % → **96.0 %**; **评价满意率** = 119 / 122 = 97.54 %.
- **综合得分** (10 / 45 / 45, 评价满意率) = 100 × (0.10 × 120/123 + 0.45 × 114/120 + 0.45 × 119/122)
  = 9.756 + 42.750 + 43.893 = 96.40; with 满意工单率: 9.756 + 42.750 + 43.185 = 95.69.
- Per channel: 12345 — 100 orders, 100 in time, 100 solved of 100, 100 satisfied of 100 rated; resident — 20, 20,
  14 of 20, 19 of 20; open311 — 4 orders, 0 in time of 3 due, no answers, 0 satisfied of 2 rated.

Noise that must not count: a grid worker's patrol case in March rated 5, and a 12345 order of February.
"""

from __future__ import annotations

import datetime as dt
import math
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
import shapely
from sqlalchemy.orm import Session

from patrol.analytics.responsiveness import compute_responsiveness, responsiveness
from patrol.cases import service as svc
from patrol.cases.worktime import WorkCalendar
from patrol.core.auth import SYSTEM
from patrol.core.errors import InvalidInput
from patrol.core.frames import ewkt
from patrol.core.models import Case, Category, Community, Grid, ResponsibleUnit, Subdistrict
from patrol.core.settings import Settings
from tests.conftest import rolled_back, shared_scope

SH = ZoneInfo("Asia/Shanghai")
SETTINGS = Settings(work_periods="09:00-12:00,13:30-17:30", holidays="", workdays="", timezone="Asia/Shanghai",
                    duplicate_radius_m=1.0)
CAL = WorkCalendar.from_text(periods="09:00-12:00,13:30-17:30")
MARCH = (dt.date(2025, 3, 1), dt.date(2025, 4, 1))
NOW = dt.datetime(2025, 4, 1, 10, 0, tzinfo=SH)
DAYS = [d for d in range(3, 29) if dt.date(2025, 3, d).weekday() < 5]


def t(month: int, day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2025, month, day, hour, minute, tzinfo=SH)


def box(x0: float, y0: float, x1: float, y1: float) -> str:
    return ewkt([shapely.MultiPolygon([shapely.box(x0, y0, x1, y1)])])[0]


def channel_of(i: int) -> str:
    return "12345" if i < 100 else "resident" if i < 120 else "open311"


def received(i: int) -> dt.datetime:
    if i == 123:
        return t(3, 31, 17)
    return t(3, DAYS[i % 20], 9) + dt.timedelta(minutes=20 * (i // 20))


@pytest.fixture(scope=shared_scope)
def orders(engine):
    with rolled_back(engine) as s:
        yield _build(s)


def _world(s: Session) -> tuple[list[Grid], int]:
    y0, y1 = 31.200, 31.210
    sub = Subdistrict(code="R01", name="接诉街道", geom=box(121.40, y0, 121.43, y1))
    s.add(sub)
    s.flush()
    com = Community(subdistrict_id=sub.id, code="R01", name="蓝海社区", geom=box(121.40, y0, 121.43, y1))
    s.add(com)
    s.flush()
    grids = [Grid(community_id=com.id, code=f"999999R01R0100{k + 1}", name=f"{k + 1}网格",
                  geom=box(121.40 + 0.01 * k, y0, 121.41 + 0.01 * k, y1)) for k in range(3)]
    s.add_all(grids)
    unit = ResponsibleUnit(type="property", name="物业", geom=ewkt([shapely.Point(121.401, 31.201)])[0])
    s.add(unit)
    s.add(Category(code="RES1", name_zh="居民诉求", name_en="Request", kind="event", major_zh="测试", major_en="Test",
                   level="community", deadline_hours=14, severity=1, revisit_days=7))
    s.flush()
    return grids, unit.id


def _build(s: Session) -> dict:
    grids, unit = _world(s)

    def report(i: int, at: dt.datetime, channel: str) -> Case:
        g = i % 3
        case = svc.create_case(s, SYSTEM, SETTINGS, client_id=None, category="RES1", channel=channel,
                               lon=121.4005 + 0.01 * g + (i % 40) * 0.0002, lat=31.201 + (i // 40) * 0.002,
                               contact={"phone": "10012345678"}, now=at).case
        if channel == "12345":
            case.source, case.source_ref = "12345", f"GD20250{at.month}{at.day:02d}{i:05d}"
        return case

    ids = {}
    for i in range(124):
        case = report(i, received(i), channel_of(i))
        ids[i] = case.id
        if i < 120:
            svc.transition(s, SYSTEM, SETTINGS, case.id, "register", now=received(i) + dt.timedelta(minutes=30))
        elif i < 122:
            svc.transition(s, SYSTEM, SETTINGS, case.id, "register", now=received(i).replace(hour=15)
                           + dt.timedelta(days=1 if received(i).weekday() < 4 else 3))
        if i == 0:  # the real loop: rated 2 → reopened → handled again → rated 5
            at = received(0)
            steps = [("dispatch", 1, {"unit_id": unit}), ("accept", 2, {}), ("handle", 4, {}), ("verify", 5, {}),
                     ("close", 6, {}), ("rate", 7, {"rating": 2}), ("accept", 24, {}), ("handle", 26, {}),
                     ("verify", 27, {}), ("close", 28, {}), ("rate", 30, {"rating": 5})]
            for action, hours, kw in steps:
                svc.transition(s, SYSTEM, SETTINGS, case.id, action, now=at + dt.timedelta(hours=hours), **kw)
        else:  # the hotline's 回访 results, written as its feedback import writes them
            case.rating = 5 if i < 119 and i % 4 else 4 if i < 119 else {119: 3, 120: 2, 121: 1}.get(i)
        case.resident_solved = True if i < 114 else False if i < 120 else None
    noise = report(124, t(3, 5, 10), "patrol")
    noise.rating, noise.resident_solved = 5, True
    report(125, t(2, 28, 10), "12345").rating = 1
    s.flush()
    return {"s": s, "ids": ids, "grids": [g.id for g in grids]}


def rate(row, name: str, num: int, den: int) -> None:
    assert (row[f"{name}_num"], row[f"{name}_den"]) == (num, den), name
    assert row[name] == pytest.approx(num / den), name


def march(s, **kw) -> pd.DataFrame:
    kw.setdefault("settings", SETTINGS)
    return responsiveness(s, start=MARCH[0], end=MARCH[1], now=NOW, **kw)


def test_the_seed_figure_and_the_other_rates(orders):
    """119 of 124 orders satisfied: 满意工单率 96.0 %, next to 评价满意率, 响应率, 解决率 and the composite."""
    s = orders["s"]
    first = s.get(Case, orders["ids"][0])
    assert (first.status, first.rating, first.reopened_count) == ("closed", 5, 1)
    row = march(s, by=None).iloc[0]
    assert (row["orders"], row["satisfied"], row["rated"]) == (124, 119, 122)
    rate(row, "satisfied_order_rate", 119, 124)
    assert round(row["satisfied_order_rate"] * 100, 1) == 96.0
    rate(row, "rated_satisfaction_rate", 119, 122)
    rate(row, "response_rate", 120, 123)
    assert (row["responded"], row["responded_in_time"]) == (122, 120)
    rate(row, "resolution_rate", 114, 120)
    assert row["composite"] == pytest.approx(100 * (0.10 * 120 / 123 + 0.45 * 114 / 120 + 0.45 * 119 / 122), abs=0.01)
    assert row["composite"] == pytest.approx(96.40, abs=0.01)
    assert row["warning"] == "green"
    assert "satisfied_order_rate" not in row["warnings"]  # no default threshold: recent orders are not rated yet
    by_orders = march(s, by=None, settings=SETTINGS.model_copy(update={
        "responsiveness_satisfaction": "orders",
        "responsiveness_thresholds": {"satisfied_order_rate": (0.97, 0.9, 0.8)}}))
    assert by_orders["composite"].iloc[0] == pytest.approx(95.69, abs=0.01)
    assert by_orders["warnings"].iloc[0]["satisfied_order_rate"] == "yellow"  # 96.0 % < 97 %


def test_by_channel_and_by_grid(orders):
    s = orders["s"]
    df = march(s, by="channel", lang="en")
    got = {r["key"]: r for _, r in df.iterrows()}
    assert list(df["key"]) == ["resident", "12345", "open311"]
    assert got["12345"]["name"] == "12345 hotline" and got["resident"]["name"] == "Resident (QR / H5)"
    rate(got["12345"], "satisfied_order_rate", 100, 100)
    rate(got["12345"], "response_rate", 100, 100)
    rate(got["resident"], "rated_satisfaction_rate", 19, 20)
    rate(got["resident"], "resolution_rate", 14, 20)
    rate(got["open311"], "response_rate", 0, 3)
    assert got["open311"]["resolution_rate_den"] == 0 and math.isnan(got["open311"]["resolution_rate"])
    assert math.isnan(got["open311"]["composite"])  # 解决率 undefined: no composite
    assert got["open311"]["warning"] == "red"
    zh = march(s, by="channel", channels="12345")
    assert list(zh["name"]) == ["12345热线"] and zh["orders"].tolist() == [100]
    grids = march(s, by="grid")
    assert grids["orders"].sum() == 124 and grids["satisfied"].sum() == 119
    assert dict(zip(grids["key"], grids["orders"], strict=True)) == {g: 42 - (k > 0) for k, g in
                                                                      enumerate(orders["grids"])}
    assert march(s, by="grid", include_simulated=False)["orders"].sum() == 124


def test_bad_arguments_name_the_field(orders):
    s = orders["s"]
    with pytest.raises(InvalidInput) as bad:
        march(s, by=None, channels="patrol")
    assert bad.value.field == "channel"
    with pytest.raises(InvalidInput) as bad:
        march(s, by=None, channels="fax")
    assert bad.value.field == "channel"
    with pytest.raises(InvalidInput) as bad:
        march(s, by="category")
    assert bad.value.field == "by"


def test_compute_on_dataframes_without_a_database():
    cases = pd.DataFrame({"id": [1, 2, 3], "channel": ["12345", "resident", "patrol"],
                          "reported_at": [t(3, 3, 9), t(3, 3, 11), t(3, 3, 9)], "rating": [5, None, 5],
                          "resident_solved": [True, None, True], "grid_id": [7, 7, 7]})
    df = compute_responsiveness(cases, {1: t(3, 3, 10), 2: t(3, 3, 15)}, by="grid", start=MARCH[0], end=MARCH[1],
                                now=NOW, calendar=CAL, groups=[7, 8],
                                weights={"response": 0.0, "resolution": 0.5, "satisfaction": 0.5})
    assert df["key"].tolist() == [7, 8] and df["orders"].tolist() == [2, 0]
    # case 2: 11:00 → 15:00 is 1 h + 1.5 h = 2.5 working hours: late
    assert df["response_rate_num"].tolist() == [1, 0] and df["response_rate_den"].tolist() == [2, 0]
    assert df["composite"].iloc[0] == pytest.approx(100.0)  # the response rate weighs nothing here
    assert math.isnan(df["composite"].iloc[1])
