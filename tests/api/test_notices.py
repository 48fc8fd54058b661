"""Notices on both databases: who is told when a case is dispatched, returned, urged, escalated or nears its
deadline; nothing is written when the action rolls back; re-running never duplicates; the bell's API shows only
one's own."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select

from patrol.cases import service as svc
from patrol.core.auth import SYSTEM
from patrol.core.db import session_factory, transaction
from patrol.core.models import Case, CaseEvent, Community, Notice, NotifyChannel, Outbox, User
from patrol.notify import notices

pytestmark = pytest.mark.db


def told(world, case_id: int) -> list[tuple[int, str]]:
    """(user id, kind) of every notice about the case, in order."""
    with session_factory(world.engine)() as s:
        return [(n.user_id, n.kind) for n in s.scalars(select(Notice).where(Notice.case_id == case_id)
                                                       .order_by(Notice.id))]


def outbox(world, case_id: int) -> list[Outbox]:
    with session_factory(world.engine)() as s:
        return list(s.scalars(select(Outbox).where(Outbox.case_id == case_id).order_by(Outbox.id)))


def new_case(world, *, dispatch: bool = False, hours: float | None = None, **kw) -> int:
    with transaction(session_factory(world.engine)) as s:
        c = svc.create_case(s, SYSTEM, world.settings, client_id=None, category="C0103", lon=world.point_a[0],
                            lat=world.point_a[1], address="Boulevard 3号",
                            contact={"name": "张三", "phone": "13800000000"},
                            **kw).case
        if dispatch:
            svc.transition(s, SYSTEM, world.settings, c.id, "register")
            svc.transition(s, SYSTEM, world.settings, c.id, "dispatch", unit_id=world.units[0], hours=hours)
        return c.id


@pytest.fixture(scope="module")
def channels(world):
    """A webhook for unit 1 (城管中队), an e-mail address and a WeCom robot for dept1, an inactive one for dept2."""
    with transaction(session_factory(world.engine)) as s:
        rows = [NotifyChannel(unit_id=world.units[0], kind="webhook", address="http://127.0.0.1:9/unit1"),
                NotifyChannel(user_id=world.users["dept1"], kind="email", address="dept1@example.org"),
                NotifyChannel(user_id=world.users["dept1"], kind="wecom", address="http://127.0.0.1:9/wecom"),
                NotifyChannel(user_id=world.users["dept2"], kind="email", address="dept2@example.org",
                              active=False)]
        s.add_all(rows)
        s.flush()
        return {"unit": rows[0].id, "email": rows[1].id, "wecom": rows[2].id}


def test_dispatch_to_a_unit_tells_its_users_and_its_channels_only(world, channels):
    r = world.report()
    world.act("sup", r["id"], "register")
    world.act("sup", r["id"], "dispatch", unit_id=world.units[0], note="请尽快处理")
    assert told(world, r["id"]) == [(world.users["dept1"], "dispatch")]
    rows = outbox(world, r["id"])
    assert sorted((o.channel_id, o.kind, o.status) for o in rows) == sorted(
        [(channels["unit"], "webhook", "pending"), (channels["email"], "email", "pending"),
         (channels["wecom"], "wecom", "pending")])
    with session_factory(world.engine)() as s:
        notice = s.scalars(select(Notice).where(Notice.case_id == r["id"])).one()
    assert r["number"] in notice.title and "电动车" in notice.title and notice.body == "请尽快处理"
    plain = json.loads(next(o.payload for o in rows if o.kind == "webhook"))
    assert plain["event"] == "dispatch" and plain["case_number"] == r["number"] and plain["status"] == "dispatched"
    assert plain["url"] == f"http://127.0.0.1:8000/desk/cases/{r['number']}" and plain["note"] == "请尽快处理"
    wecom = json.loads(next(o.payload for o in rows if o.kind == "wecom"))
    assert wecom["msgtype"] == "markdown" and r["number"] in wecom["markdown"]["content"]


def test_no_personal_data_of_the_resident_in_notices_or_payloads(world, channels):
    case_id = new_case(world, dispatch=True)
    rows = outbox(world, case_id)
    with session_factory(world.engine)() as s:
        texts = [n.title + (n.body or "") for n in s.scalars(select(Notice).where(Notice.case_id == case_id))]
    assert rows and texts
    for text in [o.payload for o in rows] + texts:
        assert "张三" not in text and "13800000000" not in text


def test_a_rolled_back_action_writes_no_notice_and_no_outbox_row(world, channels):
    case_id = new_case(world)
    sessions = session_factory(world.engine)
    with sessions() as s:
        s.begin()
        svc.transition(s, SYSTEM, world.settings, case_id, "register")
        svc.transition(s, SYSTEM, world.settings, case_id, "dispatch", unit_id=world.units[0])
        s.flush()
        inside = s.scalars(select(Notice.id).where(Notice.case_id == case_id)).all()
        s.rollback()
    assert inside  # the notice was written in the action's transaction …
    assert told(world, case_id) == [] and outbox(world, case_id) == []  # … and went with it


def test_return_tells_the_communitys_supervisors(world, channels):
    r = world.report()
    world.act("sup", r["id"], "register")
    world.act("sup", r["id"], "dispatch", unit_id=world.units[0])
    world.act("dept1", r["id"], "return", note="非本单位职责")
    assert told(world, r["id"]) == [(world.users["dept1"], "dispatch"), (world.users["sup"], "return")]


def test_urge_tells_whoever_holds_the_case(world, channels):
    r = world.report()
    world.act("sup", r["id"], "register")
    world.act("admin", r["id"], "urge", note="请今日内办结")  # registered: the community's supervisor holds it
    world.act("sup", r["id"], "dispatch", unit_id=world.units[1])
    world.act("admin", r["id"], "urge", note="督办：限时处理", hours=2)  # dispatched to unit 2: its users
    assert told(world, r["id"]) == [(world.users["sup"], "urge"), (world.users["dept2"], "dispatch"),
                                    (world.users["dept2"], "urge")]
    with session_factory(world.engine)() as s:
        body = s.scalars(select(Notice.body).where(Notice.case_id == r["id"], Notice.kind == "urge")
                         .order_by(Notice.id.desc())).first()
    assert "督办：限时处理" in body and "办理期限：" in body
    # dept2's only channel is inactive: no outbox row for it
    assert [o.channel_id for o in outbox(world, r["id"])] == []


def test_whistle_tells_every_department_called_in(world, channels):
    r = world.report()
    world.act("sup", r["id"], "register")
    world.act("sup", r["id"], "whistle", units=[world.units[0], world.units[1]], note="联合执法")
    assert sorted(told(world, r["id"])) == sorted([(world.users["dept1"], "whistle"),
                                                   (world.users["dept2"], "whistle")])


def test_escalation_tells_the_next_level_once(world, channels):
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=3)
    case_id = new_case(world, deadline_at=past)
    sessions = session_factory(world.engine)
    with transaction(sessions) as s:
        sub = s.scalar(select(Community.subdistrict_id).join(Case, Case.community_id == Community.id)
                       .where(Case.id == case_id))
        if s.scalar(select(User.id).where(User.username == "jiedao")) is None:
            s.add(User(username="jiedao", display_name="街道", role="subdistrict", subdistrict_id=sub))
            s.flush()
        # every 街道 user of the case's subdistrict (the world's "subd" and this one)
        jiedao = sorted(s.scalars(select(User.id).where(User.role == "subdistrict", User.subdistrict_id == sub)))
        assert len(jiedao) >= 1
        assert case_id in svc.escalate_overdue(s, world.settings)
    assert told(world, case_id) == [(world.users["sup"], "escalate")]
    with transaction(sessions) as s:  # the job again, and the same event told again: nothing new
        svc.escalate_overdue(s, world.settings)
        ev = s.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.action == "escalate")).one()
        assert notices.case_event(s, s.get(Case, case_id), ev, world.settings) == 0
    assert told(world, case_id) == [(world.users["sup"], "escalate")]
    with transaction(sessions) as s:  # community → department level: the 街道 is told
        case = s.get(Case, case_id)
        case.deadline_at = past
        assert svc.escalate_if_overdue(s, case, world.settings)
    assert told(world, case_id) == [(world.users["sup"], "escalate")] + [(u, "escalate") for u in jiedao]


def test_nearing_deadline_is_told_once_per_deadline(world, channels):
    case_id = new_case(world, dispatch=True, hours=0.5)  # C0103: 4 working hours; 0.5 left < 20 %
    relaxed = new_case(world, dispatch=True, hours=4)
    sessions = session_factory(world.engine)
    for _ in range(2):
        with transaction(sessions) as s:
            notices.near_deadline(s, world.settings)
    assert told(world, case_id) == [(world.users["dept1"], "dispatch"), (world.users["dept1"], "near_deadline")]
    assert told(world, relaxed) == [(world.users["dept1"], "dispatch")]
    rows = [o for o in outbox(world, case_id) if "near_deadline" in o.dedupe_key]
    assert len(rows) == 3  # unit webhook, dept1's e-mail and WeCom, once each
    with transaction(sessions) as s:  # a new deadline (urged with new hours) is noticed again
        svc.transition(s, SYSTEM, world.settings, case_id, "urge", note="再限时", hours=0.25)
        notices.near_deadline(s, world.settings)
    assert [k for _, k in told(world, case_id)].count("near_deadline") == 2


def test_the_escalation_endpoint_counts_nearing_deadline_notices(world, channels):
    case_id = new_case(world, dispatch=True, hours=0.5)
    r = world.client.post("/api/v1/escalations/run", headers=world.h("admin"))
    assert r.status_code == 200, r.text
    assert r.json()["notices"] >= 1
    assert (world.users["dept1"], "near_deadline") in told(world, case_id)


def test_the_bell_api_shows_and_marks_only_my_notices(world, channels):
    r = world.report()
    world.act("sup", r["id"], "register")
    world.act("sup", r["id"], "dispatch", unit_id=world.units[0], note="看铃铛")
    c = world.client
    assert c.get("/api/v1/notices").status_code == 401
    assert c.get("/api/v1/notices/count").status_code == 401
    assert c.post("/api/v1/notices/read", json={"all": True}).status_code == 401
    mine = c.get("/api/v1/notices?unread=true&limit=200", headers=world.h("dept1")).json()
    item = next(n for n in mine if n["case_number"] == r["number"])
    assert item["link"] == f"/desk/cases/{r['number']}" and item["read"] is False and item["body"] == "看铃铛"
    assert mine == sorted(mine, key=lambda n: (n["created_at"], n["id"]), reverse=True)
    others = c.get("/api/v1/notices?limit=200", headers=world.h("dept2")).json()
    assert all(n["case_number"] != r["number"] for n in others)
    before = c.get("/api/v1/notices/count", headers=world.h("dept1")).json()["unread"]
    stolen = c.post("/api/v1/notices/read", headers=world.h("dept2"), json={"ids": [item["id"]]})
    assert stolen.status_code == 200 and stolen.json()["marked"] == 0
    assert c.get("/api/v1/notices/count", headers=world.h("dept1")).json()["unread"] == before
    done = c.post("/api/v1/notices/read", headers=world.h("dept1"), json={"ids": [item["id"]]}).json()
    assert done == {"marked": 1, "unread": before - 1}
    unread = c.get("/api/v1/notices?unread=true&limit=200", headers=world.h("dept1")).json()
    assert all(n["id"] != item["id"] for n in unread)
    bad = c.post("/api/v1/notices/read", headers=world.h("dept1"), json={})
    assert bad.status_code == 422 and bad.json()["field"] == "ids"
    assert c.post("/api/v1/notices/read", headers=world.h("dept1"), json={"all": True}).json()["unread"] == 0


def test_when_every_whistled_department_returns_it_the_supervisor_is_told(world, channels):
    r = world.report()
    world.act("sup", r["id"], "register")
    world.act("sup", r["id"], "whistle", units=[world.units[0], world.units[1]])
    with session_factory(world.engine)() as s:
        tasks = {t["unit_id"]: t["id"] for t in svc.tasks_of(s, r["id"])}
    for who, unit in (("dept1", world.units[0]), ("dept2", world.units[1])):
        answer = world.client.post(f"/api/v1/cases/{r['id']}/tasks/{tasks[unit]}/return", headers=world.h(who),
                                   json={"note": "非本部门职责"})
        assert answer.status_code == 200, answer.text
    assert told(world, r["id"])[-1] == (world.users["sup"], "return")
    assert [k for _, k in told(world, r["id"])].count("return") == 1
