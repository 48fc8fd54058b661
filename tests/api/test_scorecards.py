"""考核 scorecards and the 月报 on both databases: a month built by hand (March 2026) scored by the sample 考核细则,
the API's scope per role, ``by=worker`` KPIs, the 月报 workbook against the API, the CLI."""

from __future__ import annotations

import csv
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
             number=f"2026-9{reported.day:02d}{reported.hour:03d}", **cols)
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
                               due_on=dt.date(2026, 3, due), responded_at=answered, response="上门说明政策"
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
    # nothing before February's inspection: no total for October to January. February: 王奶奶 due ⌈28/7⌉ = 4
    # visits, none done (0 of 15); no patrol day, no coverage, nothing found (0); 工地A not yet a target, no cases,
    # no needs due (undefined: inspections 10, on_time 15, self_handled 5, rework 5, satisfaction 15, needs 5) — 55
    assert [t["total"] for t in a["trend"][:5]] == [None, None, None, None, 55.0]


def test_who_sees_which_cards(world, month):
    """A supervisor ranks her community, a worker gets her own row (ranked among her community's workers) and her
    own card only, the other community's supervisor and 街道 see nobody of ours; departments and planners are
    refused; a 街道 user may not ask for another 街道."""
    get = world.client.get
    q = {"month": month, "by": "worker", "trend": "false"}
    mine = get("/api/v1/scorecards", params=q, headers=world.h("worker_a")).json()["rows"]
    assert [(r["username"], r["rank"], r["of"]) for r in mine] == [("worker_a", 2, 2)]
    for who in ("sup_other", "subd_other"):
        rows = get("/api/v1/scorecards", params=q, headers=world.h(who)).json()["rows"]
        assert not {r["username"] for r in rows} & {"worker_a", "worker_b"}, who
    assert {r["username"] for r in get("/api/v1/scorecards", params=q, headers=world.h("subd")).json()["rows"]} \
        >= {"worker_a", "worker_b"}
    for who in ("dept1", "planner"):
        r = get("/api/v1/scorecards", params=q, headers=world.h(who))
        assert r.status_code == 403 and r.json()["field"] == "role", who
    r = get("/api/v1/scorecards", params={**q, "subdistrict": "902"}, headers=world.h("subd"))
    assert r.status_code == 403 and r.json()["field"] == "subdistrict"
    card = get("/api/v1/scorecards/workers/worker_a", params={"month": month}, headers=world.h("worker_a")).json()
    assert card["card"]["total"] == 30.83 and len(card["card"]["trend"]) == 6
    assert get("/api/v1/scorecards/workers/worker_a", params={"month": month},
               headers=world.h("worker_b")).status_code == 403
    assert get("/api/v1/scorecards/workers/worker_a", params={"month": month},
               headers=world.h("sup_other")).status_code == 403
    assert get("/api/v1/scorecards/workers/nobody", headers=world.h("admin")).status_code == 404
    bad = get("/api/v1/scorecards", params={"month": "2026-13"}, headers=world.h("admin"))
    assert bad.status_code == 422 and bad.json()["field"] == "month"
    by_grid = get("/api/v1/scorecards", params={**q, "by": "grid"}, headers=world.h("sup")).json()["rows"]
    code_a = next(r["grids"] for r in mine)[0]
    assert next(r for r in by_grid if r["code"] == code_a)["total"] == 30.83
    csv_text = get("/api/v1/scorecards", params={**q, "format": "csv", "headers": "en"},
                   headers=world.h("sup")).text
    assert "Total" in csv_text.splitlines()[0] and "Patrol days (points)" in csv_text and "30.83" in csv_text


def test_kpis_by_worker(world, month):
    """``by=worker`` groups the cases by the worker walking their grid: worker A's March has the scorecard's
    on-time figures (2 of 4) and 4 cases received; worker B's none."""
    r = world.client.get("/api/v1/analytics/kpis", params={"by": "worker", "start": "2026-03-01",
                                                           "end": "2026-04-01"}, headers=world.h("sup"))
    assert r.status_code == 200, r.text
    rows = {row["code"]: row for row in r.json()["rows"]}
    assert rows["worker_a"]["received"] == 4 and rows["worker_a"]["name"]
    assert (rows["worker_a"]["on_time_rate_num"], rows["worker_a"]["on_time_rate_den"]) == (2, 4)
    assert rows["worker_b"]["received"] == 0


def test_monthly_report_workbook_equals_the_api(world, month, tmp_path):
    """The 月报 workbook (API and CLI) opens with openpyxl; its KPI sheet holds the KPI API's figures for the
    community and its ranking sheet the scorecards' totals; the printable page shows the map and the ranking; none
    of them carries a resident's data (the register's names and needs stay in the register)."""
    from openpyxl import load_workbook

    from api.cli import cli

    client, h = world.client, world.h("sup")
    r = client.get("/api/v1/reports/monthly.xlsx", params={"month": month}, headers=h)
    assert r.status_code == 200, r.text
    wb = load_workbook(io.BytesIO(r.content))
    assert {"指标", "排名", "网格排名", "超期"} <= set(wb.sheetnames)
    kpi = client.get("/api/v1/analytics/kpis", params={"by": "overall", "start": "2026-03-01",
                                                       "end": "2026-04-01"}, headers=h).json()["rows"][0]
    sheet = {row[0]: row[1] for row in wb["指标"].iter_rows(min_row=3, values_only=True)}
    assert sheet["受理数"] == kpi["received"] and sheet["按期结案率"] == pytest.approx(kpi["on_time_rate"])
    assert sheet["满意率"] == pytest.approx(kpi["satisfaction_rate"])
    cards = client.get("/api/v1/scorecards", params={"month": month, "trend": "false"}, headers=h).json()["rows"]
    ranked = {row[1]: row for row in wb["排名"].iter_rows(min_row=2, values_only=True) if row[1]}
    head = next(wb["排名"].iter_rows(max_row=1, values_only=True))
    assert {c["code"]: c["total"] for c in cards} == {k: v[head.index("总分")] for k, v in ranked.items()}
    assert len(wb["指标"]._charts) == 1 and len(wb["排名"]._charts) == 1
    overdue = [row[0] for row in wb["超期"].iter_rows(min_row=2, values_only=True)]
    assert "2026-920010" in overdue  # the open patrol case of the 20th past its deadline of the 25th
    out = tmp_path / "m.xlsx"
    res = CliRunner().invoke(cli, ["assess", "report", "--community", str(_community_id(world)), "--month", month,
                                   "--out", str(out), "--database", world.url])
    assert res.exit_code == 0, res.output
    assert load_workbook(out)["指标"]["B3"].value == kpi["received"]
    page = client.get("/desk/reports/monthly", params={"month": month}, headers=h)
    assert page.status_code == 200 and "<svg class=\"gridmap\"" in page.text and "30.83" in page.text
    assert "2026-920010" in page.text and "Overdue cases" in page.text
    # figures only: no resident's name, need or phone in the page, the workbook or the cards
    cells = " ".join(str(c) for ws in wb.worksheets for row in ws.iter_rows(values_only=True) for c in row if c)
    for text in (page.text, cells, json.dumps(cards, ensure_ascii=False)):
        assert "王奶奶" not in text and "操心事" not in text and "上门说明政策" not in text
    assert client.get("/api/v1/reports/monthly.xlsx", params={"month": month},
                      headers=world.h("worker_a")).status_code == 403
    sub = client.get("/api/v1/reports/monthly.xlsx", params={"month": month}, headers=world.h("subd"))
    assert sub.status_code == 200 and world.sub_code in sub.headers["content-disposition"]
    sub_ranked = [row[1] for row in load_workbook(io.BytesIO(sub.content))["排名"].iter_rows(min_row=2,
                                                                                            values_only=True)]
    assert {"worker_a", "worker_b"} <= set(sub_ranked)


def _community_id(world) -> int:
    with session_factory(world.engine)() as s:
        return s.scalar(select(Grid.community_id).where(Grid.id == world.grid_a))


def test_cli_scorecard_and_rules(world, month, tmp_path):
    """``assess scorecard`` prints the ranking (CSV too) and takes ``--rules``; ``assess rules check`` lists every
    problem of a bad file and exits 1."""
    from api.cli import cli

    def run(*args: str):
        return CliRunner().invoke(cli, [*args, "--database", world.url])

    res = run("assess", "scorecard", "--month", month, "--format", "csv", "--lang", "en")
    assert res.exit_code == 0, res.output
    rows = {r[1]: r for r in csv.reader(io.StringIO(res.stdout))}
    assert rows["worker_a"][-3] == "30.83" and rows["worker_b"][0] == "1"
    table = run("assess", "scorecard", "--month", month)
    assert table.exit_code == 0 and "worker_a" in table.stdout and "30.83" in table.stdout
    only_found = tmp_path / "found.yaml"
    only_found.write_text("name: 只看发现\nitems:\n  - {id: f, label: 发现, measure: found, weight: 100, "
                          "score: {type: target, target: 3}}\ngrades: {excellent: 90, pass: 60, excellent_top: 1}\n",
                          encoding="utf-8")
    res = run("assess", "scorecard", "--month", month, "--format", "csv", "--rules", str(only_found))
    rows = {r[1]: r for r in csv.reader(io.StringIO(res.stdout))}
    assert rows["worker_a"][-3] == "100.0" and rows["worker_a"][-1] == "是" and rows["worker_b"][-3] == "0.0"
    bad = tmp_path / "bad.yaml"
    bad.write_text("items:\n  - {id: a, measure: nope, weight: 60, score: {type: linear, zero: 1, full: 1}}\n",
                   encoding="utf-8")
    res = CliRunner().invoke(cli, ["assess", "rules", "check", str(bad)])
    assert res.exit_code == 1
    assert "measure: one of" in res.stderr and "zero and full must differ" in res.stderr and "grades" in res.stderr
    assert CliRunner().invoke(cli, ["assess", "rules", "check", "patrol/data/assessment.yaml"]).exit_code == 0


def test_a_grid_lead_ranks_her_grids(world, month):
    """A 网格长 leading grids A and B sees their workers and her own card, which adds up both grids' figures:
    patrol days (3 + 0) ÷ 2 grids = 1.5 → 0.75; found (3 + 0) ÷ 2 = 1.5 → 1.5; the rates are grid A's (grid B has
    nothing to count): visits 3.0, inspections 3.33, self_handled 3.33, satisfaction 15, needs 1.67, on_time, rework
    and coverage 0 — total 28.58. She may not ask for a community."""
    from patrol.core.auth import create_user
    from tests.api.conftest import PASSWORD

    with transaction(session_factory(world.engine)) as s:
        codes = list(s.scalars(select(Grid.code).where(Grid.id.in_([world.grid_a, world.grid_b]))))
        create_user(s, username="lead_ab", role="grid_lead", password=PASSWORD, lead_grids=codes)
    token = world.client.post("/api/v1/auth/token", data={"username": "lead_ab", "password": PASSWORD})
    h = {"Authorization": f"Bearer {token.json()['access_token']}"}
    q = {"month": month, "trend": "false"}
    workers = world.client.get("/api/v1/scorecards", params={**q, "by": "worker"}, headers=h).json()["rows"]
    assert {r["username"] for r in workers} == {"worker_a", "worker_b"}
    mine = world.client.get("/api/v1/scorecards", params={**q, "by": "grid_lead"}, headers=h).json()["rows"]
    assert [(r["code"], r["total"]) for r in mine] == [("lead_ab", 28.58)]
    assert world.client.get("/api/v1/scorecards", params={**q, "community": "x"}, headers=h).status_code == 403
