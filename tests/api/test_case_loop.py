"""The case loop over HTTP on both databases: idempotent reports, every path of the state machine, escalation,
whistles, revisits, ratings."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select

from patrol.cases import service as svc
from patrol.core.auth import SYSTEM
from patrol.core.db import session_factory, transaction
from patrol.core.models import Case, CaseEvent, Revisit

SH = dt.timezone(dt.timedelta(hours=8))


def test_login_me_and_unauthenticated(world):
    c = world.client
    assert c.post("/api/v1/auth/token", data={"username": "sup", "password": "wrong password"}).status_code == 401
    r = c.get("/api/v1/cases")
    assert r.status_code == 401 and r.json()["field"] == "authorization"
    me = c.get("/api/v1/auth/me", headers=world.h("worker_a")).json()
    assert me["role"] == "grid_worker" and me["grid_ids"] == [world.grid_a]
    bad = c.get("/api/v1/cases", headers={"Authorization": "Bearer nonsense"})
    assert bad.status_code == 401 and bad.json()["code"] == "unauthorized"


def test_retried_report_returns_the_same_case_once(world):
    c = world.client
    body = {"client_id": str(uuid.uuid4()), "category": "C0103", "lon": world.point_a[0], "lat": world.point_a[1],
            "description": "楼道内电动车充电", "floor": "3"}
    first = c.post("/api/v1/cases", headers=world.h("worker_a"), json=body)
    again = c.post("/api/v1/cases", headers=world.h("worker_a"), json=body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert first.json()["grid_id"] == world.grid_a and first.json()["community_id"] is not None
    with transaction(session_factory(world.engine)) as s:
        assert len(s.scalars(select(Case).where(Case.client_id == body["client_id"])).all()) == 1
        assert len(s.scalars(select(CaseEvent).where(CaseEvent.case_id == first.json()["id"])).all()) == 1


def test_bad_reports_are_4xx_naming_the_field(world):
    c, h = world.client, world.h("worker_a")
    base = {"client_id": str(uuid.uuid4()), "category": "C0103", "lon": world.point_a[0], "lat": world.point_a[1]}
    cases = [({"client_id": "not-a-uuid"}, 422, "client_id"), ({"category": "X999"}, 422, "category"),
             ({"lat": 123.0}, 422, "lat"), ({"crs": "utm"}, 422, "crs"),
             ({"lon": 7.0, "lat": 43.0}, 422, "lat"),  # in the sea south of Monaco: outside every grid
             ({"lon": world.point_b[0], "lat": world.point_b[1]}, 403, "lat")]  # not her grid
    for change, status, field in cases:
        r = c.post("/api/v1/cases", headers=h, json={**base, **change, "client_id": str(uuid.uuid4())}
                   if "client_id" not in change else {**base, **change})
        assert r.status_code == status, (change, r.text)
        assert r.json()["field"] == field, (change, r.json())
    far = c.post("/api/v1/cases", headers=h, json={**base, "client_id": str(uuid.uuid4()), "lon": 7.0, "lat": 43.0})
    assert "nearest grid is" in far.json()["message"] and " m away" in far.json()["message"]


def test_the_whole_loop_with_timeline(world):
    case = world.report(description="路灯倾斜", category="B0109")  # department level
    cid = case["id"]
    assert case["status"] == "reported" and case["level"] == "department"
    world.act("sup", cid, "register", note="核实属实")
    r = world.act("worker_a", cid, "accept", expect=409)  # a registered case is dispatched before anyone accepts
    assert r["field"] == "action" and "dispatch" in r["details"] and "accept" not in r["details"], r
    assert r["message"] == f"cannot accept a case that is registered; allowed: {', '.join(r['details'])}", r
    world.act("sup", cid, "dispatch", unit_id=world.units[0])
    world.act("dept2", cid, "accept", expect=403)
    world.act("dept1", cid, "accept")
    world.act("dept1", cid, "handle", note="已扶正加固")
    world.act("worker_a", cid, "verify", note="现场核查通过")
    done = world.act("sup", cid, "close")
    assert done["status"] == "closed" and done["closed_on_time"] is True
    assert [e["action"] for e in done["timeline"]] == ["report", "register", "dispatch", "accept", "handle", "verify",
                                                       "close"]
    assert done["revisits"] and done["revisits"][0]["done_at"] is None
    rated = world.act("sup", cid, "rate", rating=5)
    assert rated["status"] == "closed" and rated["rating"] == 5
    conflict = world.client.post(f"/api/v1/cases/{cid}/actions/dispatch", headers=world.h("sup"), json={})
    assert conflict.status_code == 409 and conflict.json()["details"] == ["rate"]


def test_rework_and_a_low_rating_reopen_the_case(world):
    cid = world.report()["id"]  # grid level: the worker settles it in her grid
    world.act("worker_a", cid, "register")
    d = world.act("worker_a", cid, "dispatch")
    assert d["assignee_id"] == world.users["worker_a"]
    world.act("worker_a", cid, "accept")
    world.act("worker_a", cid, "handle")
    world.act("worker_a", cid, "rework", expect=422)  # a rework needs the reason
    r = world.act("worker_a", cid, "rework", note="充电线仍在")
    assert r["status"] == "dispatched" and r["rework_count"] == 1
    world.act("worker_a", cid, "accept")
    world.act("worker_a", cid, "handle")
    world.act("worker_a", cid, "verify")
    world.act("worker_a", cid, "close")
    world.act("sup", cid, "rate", rating=9, expect=422)
    low = world.act("sup", cid, "rate", rating=2, note="不满意")
    assert low["status"] == "dispatched" and low["reopened_count"] == 1 and low["rework_count"] == 2
    assert low["closed_at"] is None and low["revisits"][0]["outcome"] == "cancelled"
    assert [e["action"] for e in low["timeline"]][-2:] == ["rate", "reopen"]


def test_whistle_several_departments_case_handled_when_all_are(world):
    cid = world.report(category="C0104")["id"]  # community level
    world.act("sup", cid, "register")
    world.act("sup", cid, "whistle", units=[999999], expect=422)
    w = world.act("sup", cid, "whistle", units=world.units[:2], hours=8, report_in_hours=1)
    assert w["level"] == "department" and len(w["tasks"]) == 2
    t1, t2 = (t["id"] for t in w["tasks"])
    c = world.client
    assert c.post(f"/api/v1/cases/{cid}/tasks/{t2}/report_in", headers=world.h("dept1")).status_code == 403
    assert c.post(f"/api/v1/cases/{cid}/tasks/{t1}/report_in", headers=world.h("dept1")).status_code == 200
    r = c.post(f"/api/v1/cases/{cid}/tasks/{t1}/handle", headers=world.h("dept1")).json()
    assert r["status"] == "accepted"
    c.post(f"/api/v1/cases/{cid}/tasks/{t2}/report_in", headers=world.h("dept2"))
    r = c.post(f"/api/v1/cases/{cid}/tasks/{t2}/handle", headers=world.h("dept2"), json={"note": "已断电整改"}).json()
    assert r["status"] == "handled"
    assert all(t["reported_in_at"] and t["handled_at"] for t in r["tasks"])
    # department 1 sees the case through its task, department 3's user does not exist: dept2 sees it too
    assert c.get(f"/api/v1/cases/{cid}", headers=world.h("dept1")).status_code == 200


def test_suspend_keeps_the_remaining_working_hours(world):
    now = dt.datetime(2026, 11, 23, 9, 0, tzinfo=SH)  # Monday
    with transaction(session_factory(world.engine)) as s:
        case = svc.create_case(s, SYSTEM, world.settings, client_id=None, category="C0104", lon=world.point_a[0],
                               lat=world.point_a[1], now=now).case
        svc.transition(s, SYSTEM, world.settings, case.id, "register", now=now)
        svc.transition(s, SYSTEM, world.settings, case.id, "dispatch", unit_id=world.units[2], now=now)
        # 40 working hours from Mon 09:00: Monday holds 7 h (09:00–12:00, 13:30–17:30), Tue–Fri 4 × 7.5 = 30,
        # so 3 h remain for the next Monday: 08:30 + 3 h = 11:30
        assert case.deadline_at.astimezone(SH) == dt.datetime(2026, 11, 30, 11, 30, tzinfo=SH)
        svc.transition(s, SYSTEM, world.settings, case.id, "suspend", note="等待业主回国",
                       now=dt.datetime(2026, 11, 23, 10, 0, tzinfo=SH))
        assert case.remaining_hours == 39.0 and case.deadline_at is None
        svc.transition(s, SYSTEM, world.settings, case.id, "resume", now=dt.datetime(2026, 11, 26, 14, 0, tzinfo=SH))
        # Thu 14:00: 3.5 h on Thu, 7.5 on Fri (11), Mon–Wed 22.5 (33.5), 5.5 h on Thu 3 Dec: 3.5 in the morning and
        # 2 h from 13:30 → 15:30
        assert case.status == "dispatched"
        assert case.deadline_at.astimezone(SH) == dt.datetime(2026, 12, 3, 15, 30, tzinfo=SH)


def test_deadlines_in_working_hours_lunch_weekend_holiday(world):
    settings = world.settings.model_copy(update={"holidays": "2026-12-01"})
    with transaction(session_factory(world.engine)) as s:
        def deadline(t):
            c = svc.create_case(s, SYSTEM, settings, client_id=None, category="C0103", lon=world.point_a[0],
                                lat=world.point_a[1], now=t).case  # 4 working hours
            return c.deadline_at.astimezone(SH)

        assert deadline(dt.datetime(2026, 11, 23, 11, 0, tzinfo=SH)) == dt.datetime(2026, 11, 23, 16, 30, tzinfo=SH)
        assert deadline(dt.datetime(2026, 11, 27, 16, 0, tzinfo=SH)) == dt.datetime(2026, 11, 30, 11, 0, tzinfo=SH)
        # Monday 30 Nov 16:00 + 4 h: 1.5 h on Monday, Tuesday 1 Dec is a holiday, 2.5 h on Wednesday → 11:00
        assert deadline(dt.datetime(2026, 11, 30, 16, 0, tzinfo=SH)) == dt.datetime(2026, 12, 2, 11, 0, tzinfo=SH)


def test_overdue_cases_escalate_one_level_automatically(world):
    t0 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=SH)  # a Monday in the past, so the case is long overdue by now
    with transaction(session_factory(world.engine)) as s:
        case = svc.create_case(s, SYSTEM, world.settings, client_id=None, category="C0103", lon=world.point_a[0],
                               lat=world.point_a[1], now=t0).case
        svc.transition(s, SYSTEM, world.settings, case.id, "register", now=t0)
        assert case.level == "grid"
        assert svc.escalate_overdue(s, world.settings, now=t0 + dt.timedelta(hours=2)) == []
        late = dt.datetime(2026, 6, 1, 15, 0, tzinfo=SH)  # 4 working hours from 09:00 end at 14:30
        assert case.id in svc.escalate_overdue(s, world.settings, now=late)
        assert (case.level, case.status, case.escalations) == ("community", "registered", 1)
        ev = s.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id.desc())).first()
        assert ev.action == "escalate" and ev.actor == "system" and "自动升级" in ev.note
        case_id = case.id
    # on read: the case is long overdue at community level now, a GET escalates it to the departments
    r = world.client.get(f"/api/v1/cases/{case_id}", headers=world.h("sup")).json()
    assert r["level"] == "department" and r["escalations"] == 2
    manual = world.client.post(f"/api/v1/cases/{case_id}/actions/escalate", headers=world.h("sup"),
                               json={"note": "x"})
    assert manual.status_code == 409 and "department level" in manual.json()["message"]


def test_duplicates_merge_and_recurrence(world):
    lon, lat = world.point_a[0] + 0.0001, world.point_a[1]  # 8 m east
    first = world.report(category="C0105" if False else "C0101", point=(world.point_a[0], world.point_a[1]))
    second = world.report(category="C0101", point=(lon, lat))
    assert first["id"] in second["possible_duplicates"]
    merged = world.act("sup", second["id"], "merge", duplicate_of=first["id"])
    assert merged["status"] == "duplicate" and merged["duplicate_of"] == first["id"]
    for who, action in (("sup", "register"), ("sup", "dispatch")):
        world.act(who, first["id"], action, **({"unit_id": world.units[2]} if action == "dispatch" else {}))
    with transaction(session_factory(world.engine)) as s:
        for a in ("accept", "handle", "verify", "close"):
            svc.transition(s, SYSTEM, world.settings, first["id"], a)
    again = world.report(category="C0101", point=(lon, lat))
    assert again["recurrence_of"] == first["id"]


def test_revisit_reopens_or_confirms(world):
    ids = []
    for _ in range(2):
        cid = world.report()["id"]
        for a in ("register", "dispatch", "accept", "handle", "verify", "close"):
            world.act("worker_a", cid, a)
        ids.append(cid)
    pending = world.client.get("/api/v1/revisits", headers=world.h("worker_a")).json()
    rv = {r["case_id"]: r["id"] for r in pending}
    assert set(ids) <= set(rv)
    assert world.client.post(f"/api/v1/revisits/{rv[ids[0]]}", headers=world.h("worker_b"),
                             json={"outcome": "still_fixed"}).status_code == 403
    ok = world.client.post(f"/api/v1/revisits/{rv[ids[0]]}", headers=world.h("worker_a"),
                           json={"outcome": "still_fixed"})
    assert ok.status_code == 200
    again = world.client.post(f"/api/v1/revisits/{rv[ids[0]]}", headers=world.h("worker_a"),
                              json={"outcome": "still_fixed"})
    assert again.status_code == 409
    world.client.post(f"/api/v1/revisits/{rv[ids[1]]}", headers=world.h("worker_a"),
                      json={"outcome": "reopen", "note": "又有人充电"})
    case = world.client.get(f"/api/v1/cases/{ids[1]}", headers=world.h("worker_a")).json()
    assert case["status"] == "dispatched" and case["reopened_count"] == 1
    with transaction(session_factory(world.engine)) as s:
        assert s.get(Revisit, rv[ids[1]]).outcome == "reopen"


def test_case_queries_filter_and_scope(world):
    world.report()
    c = world.client
    mine = c.get("/api/v1/cases", headers=world.h("worker_b")).json()
    assert all(f["properties"]["grid_id"] == world.grid_b for f in mine["features"])
    a = c.get("/api/v1/cases", headers=world.h("sup"), params={"status": "reported", "limit": 2}).json()
    assert a["numberReturned"] <= 2 and all(f["properties"]["status"] == "reported" for f in a["features"])
    assert a["numberMatched"] >= a["numberReturned"]
    other = c.get("/api/v1/cases", headers=world.h("sup_other")).json()
    assert all(f["properties"]["grid_id"] != world.grid_a for f in other["features"])
    assert c.get("/api/v1/cases", headers=world.h("sup"), params={"status": "lost"}).json()["field"] == "status"
    x, y = world.point_a
    box = c.get("/api/v1/cases", headers=world.h("admin"),
                params={"bbox": f"{x - 0.0005},{y - 0.0005},{x + 0.0005},{y + 0.0005}"}).json()
    assert box["numberMatched"] >= 1
    assert all(abs(f["geometry"]["coordinates"][0] - x) < 0.0006 for f in box["features"])


def test_a_retried_revisit_with_its_client_id_is_recorded_once(world):
    """A phone that lost the answer sends the same revisit again: the same result, no second event; a reopen too."""
    ids = []
    for _ in range(2):
        cid = world.report()["id"]
        for a in ("register", "dispatch", "accept", "handle", "verify", "close"):
            world.act("worker_a", cid, a)
        ids.append(cid)
    pending = world.client.get("/api/v1/revisits", headers=world.h("worker_a")).json()
    rv = {r["case_id"]: r["id"] for r in pending}
    for case_id, outcome in zip(ids, ("still_fixed", "reopen"), strict=True):
        body = {"outcome": outcome, "note": "回头看", "client_id": str(uuid.uuid4())}
        first = world.client.post(f"/api/v1/revisits/{rv[case_id]}", headers=world.h("worker_a"), json=body)
        again = world.client.post(f"/api/v1/revisits/{rv[case_id]}", headers=world.h("worker_a"), json=body)
        assert first.status_code == again.status_code == 200, again.text
        assert first.json() == again.json()
        timeline = world.client.get(f"/api/v1/cases/{case_id}", headers=world.h("worker_a")).json()["timeline"]
        kind = "revisit" if outcome == "still_fixed" else "reopen"
        assert [e["action"] for e in timeline].count(kind) == 1
        other = world.client.post(f"/api/v1/revisits/{rv[case_id]}", headers=world.h("worker_a"),
                                  json={"outcome": outcome, "client_id": str(uuid.uuid4())})
        assert other.status_code == 409  # a different revisit of the same visit is still refused
    case = world.client.get(f"/api/v1/cases/{ids[1]}", headers=world.h("worker_a")).json()
    assert case["reopened_count"] == 1
