"""考核 scorecards and the 月报 on both databases: a month built by hand (March 2026) scored by the sample 考核细则,
the API's scope per role, ``by=worker`` KPIs, the 月报 workbook against the API, the CLI."""

from __future__ import annotations

import datetime as dt
import io
import json
import uuid
from zoneinfo import ZoneInfo

import pytest
import shapely
from click.testing import CliRunner
from sqlalchemy import select

from patrol.core.db import session_factory, transaction
from patrol.core.frames import ewkt
from patrol.core.models import (
    Building,
    Case,
    CaseEvent,
    Checklist,
    Grid,
    Household,
    HouseholdVisit,
    Inspection,
    Patrol,
    Resident,
    ResidentNeed,
    Visit,
)

ZONE = ZoneInfo("Asia/Shanghai")
MONTH = "2026-03"


def at(day: int, hour: int = 10, month: int = 3) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, tzinfo=ZONE)


def _case(s, grid_id: int, point, channel: str, reported: dt.datetime, events: list[tuple[str, str, dt.datetime]],
          **cols) -> None:
    c = Case(client_id=str(uuid.uuid4()), category_code="C0103", status=events[-1][1], level="grid",
             channel=channel, geom=ewkt([shapely.Point(*point)])[0], grid_id=grid_id,
             community_id=s.scalar(select(Grid.community_id).where(Grid.id == grid_id)), reported_at=reported,
             **cols)
    s.add(c)
    s.flush()
    prev = "reported"
    for action, to, when in events:
        s.add(CaseEvent(case_id=c.id, action=action, from_status=prev, to_status=to, level="grid", actor="test",
                        at=when))
        prev = to


@pytest.fixture(scope="module")
def month(world):
    """March 2026 in grid A (worker_a); nothing in grid B (worker_b) but the grid itself."""
    with transaction(session_factory(world.engine)) as s:
        a = world.grid_a
        for day in (2, 2, 5, 10):  # two patrols on the 2nd: 3 patrol days
            s.add(Patrol(client_id=str(uuid.uuid4()), worker_id=world.users["worker_a"], grid_id=a,
                         started_at=at(day), ended_at=at(day, 11)))
        b = s.scalar(select(Building).where(Building.grid_id == a).order_by(Building.id))
        h = Household(building_id=b.id, room="101")
        s.add(h)
        s.flush()
        s.add(Resident(household_id=h.id, name="王奶奶", birth_year=1940, visit_every_days=7))
        for day in (3, 12, 20):
            v = Visit(client_id=str(uuid.uuid4()), worker_id=world.users["worker_a"], building_id=b.id,
                      time=at(day))
            s.add(v)
            s.flush()
            s.add(HouseholdVisit(visit_id=v.id, household_id=h.id))
        c = Checklist(code="site", version=1, title_zh="工地", title_en="Site", target="place", frequency_days=10,
                      definition=json.dumps({"code": "site", "items": []}), sha256="0" * 64)
        s.add(c)
        s.flush()
        for when in (at(20, month=2), at(8), at(18)):
            s.add(Inspection(client_id=str(uuid.uuid4()), checklist_id=c.id, worker_id=world.users["worker_a"],
                             grid_id=a, place_name="工地A", at=when, answers="{}"))
        p = world.point_a
        _case(s, a, p, "patrol", at(3), [("register", "registered", at(3)), ("close", "closed", at(4)),
                                         ("rate", "closed", at(5))], closed_at=at(4), closed_on_time=True, rating=5)
        _case(s, a, p, "self_handled", at(6), [("handle", "handled", at(6)), ("close", "closed", at(6, 11))],
              closed_at=at(6, 11), closed_on_time=True)
        _case(s, a, p, "resident", at(7), [("register", "registered", at(7)), ("rework", "dispatched", at(10)),
                                           ("close", "closed", at(12)), ("rate", "closed", at(13))],
              closed_at=at(12), closed_on_time=False, rating=4)
        _case(s, a, p, "patrol", at(20), [("register", "registered", at(20)), ("dispatch", "dispatched", at(20))],
              deadline_at=at(25))
        for due, answered in ((10, at(9)), (15, at(15, 20)), (20, None)):
            s.add(ResidentNeed(household_id=h.id, type="other", detail="操心事", status="open",
                               due_on=dt.date(2026, 3, due), responded_at=answered, response="已答复"
                               if answered else None))
    return MONTH


def _row(rows: list[dict], username: str) -> dict:
    return next(r for r in rows if r["username"] == username)


def test_a_month_scored_by_hand(world, month):
    """Worker A's March 2026 by the sample 考核细则 (a past month: targets are not pro-rated):

    ==============  ================================================  =========================  ======
    item            figure                                            rule                       points
    ==============  ================================================  =========================  ======
    patrol_days     3 days (two patrols on the 2nd, the 5th, the 10th) 10 × min(1, 3/20)          1.50
    coverage        0 (no GPS tracks)                                 10 × (0 − .3)/(.8 − .3) → 0  0.00
    visits          王奶奶 (86, every 7 days): due ⌈31/7⌉ = 5, done 3    15 × (.6 − .5)/.5            3.00
    inspections     工地A (inspected in Feb): planned ⌈1×30/10⌉ = 3,    10 × (.667 − .5)/.5          3.33
                    done 2
    found           2 patrol + 1 自行处置 = 3 (the resident's not)      10 × 3/10                    3.00
    on_time         on time 2 ÷ (2 + late 1 + due unclosed 1) = .5    15 × (.5 − .7)/.3 → 0        0.00
    self_handled    1 ÷ 3 found                                       5 × .333/.5                  3.33
    rework          1 reworked ÷ 3 closed = .333                      5 × (.333 − .3)/(0 − .3) → 0 0.00
    satisfaction    ratings 5 and 4: 2 ÷ 2 = 1                        15 × (1 − .8)/.16 → 15      15.00
    needs           due 10th answered 9th, due 15th answered 15th,    5 × (.667 − .5)/.5           1.67
                    due 20th not answered: 2 ÷ 3
    ==============  ================================================  =========================  ======

    Total 30.83: 不合格 (< 60). Worker B had nothing to judge but patrolled no day and found nothing: patrol_days
    0, coverage 0, found 0; every rate undefined scores full (visits 15, inspections 10, on_time 15, self_handled 5,
    rework 5, satisfaction 15, needs 5) = 70: 合格, ranked first. Neither reaches 优秀 (90)."""
    r = world.client.get("/api/v1/scorecards", params={"month": month, "by": "worker"}, headers=world.h("sup"))
    assert r.status_code == 200, r.text
    body = r.json()
    a, b = _row(body["rows"], "worker_a"), _row(body["rows"], "worker_b")
    points = {i["id"]: i["points"] for i in a["items"]}
    assert points == {"patrol_days": 1.5, "coverage": 0.0, "visits": 3.0, "inspections": 3.33, "found": 3.0,
                      "on_time": 0.0, "self_handled": 3.33, "rework": 0.0, "satisfaction": 15.0, "needs": 1.67}
    figures = {i["id"]: (i["num"], i["den"]) for i in a["items"]}
    assert figures["visits"] == (3, 5) and figures["inspections"] == (2, 3) and figures["on_time"] == (2, 4)
    assert figures["needs"] == (2, 3) and figures["found"] == (3, 1) and figures["rework"] == (1, 3)
    assert a["total"] == 30.83 and a["grade"] == "fail" and a["rank"] == 2 and not a["excellent"]
    assert b["total"] == 70 and b["grade"] == "pass" and b["rank"] == 1 and not b["excellent"]
    assert [t["month"] for t in a["trend"]] == ["2025-10", "2025-11", "2025-12", "2026-01", "2026-02", "2026-03"]
    assert a["trend"][-1]["total"] == 30.83
