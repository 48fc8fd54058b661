"""The desk's queues (patrol.cases.queues, /api/v1/desk/...) on both databases: each queue holds exactly the cases it
should, in the caller's scope only; paging, sort and filters; the near-deadline boundary; bulk actions with a refused
case; the live counts stream."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from patrol.cases import queues as Q
from patrol.cases import service as svc
from patrol.cases.overdue import deadline_colour
from patrol.cases.worktime import calendar
from patrol.core.auth import SYSTEM, actor_from_token, create_user
from patrol.core.db import session_factory, transaction
from patrol.core.models import Case, Community, Grid
from patrol.core.time import now_utc
from tests.api.conftest import PASSWORD, own_world

world = pytest.fixture(name="world")(own_world)

# The states to build through the service: name → the actions from reported (dispatch goes to unit 0).
STATES = {
    "reported": [], "registered": ["register"], "returned": ["register", "dispatch", "return"],
    "dispatched": ["register", "dispatch"], "accepted": ["register", "dispatch", "accept"],
    "verified": ["register", "dispatch", "accept", "handle", "verify"],
    "closed": ["register", "dispatch", "accept", "handle", "verify", "close"],
    "rated": ["register", "dispatch", "accept", "handle", "verify", "close", "rate"],
    "reworked": ["register", "dispatch", "accept", "handle", "rework"],
    "escalated": ["escalate"], "to_department": ["escalate", "escalate"],
    "whistled": ["register", "whistle"], "urged": ["register", "dispatch", "urge"],
    "suspended": ["register", "dispatch", "suspend"], "rejected": ["reject"],
}


def build(world, state: str, point=None) -> tuple[int, str]:
    """A case of C0103 (grid level, 4 working hours) brought to ``state`` through the service: (id, number)."""
    lon, lat = point or world.point_a
    with transaction(session_factory(world.engine)) as s:
        c = svc.create_case(s, SYSTEM, world.settings, client_id=None, category="C0103", lon=lon, lat=lat,
                            address=f"{state} 号").case
        for action in STATES[state]:
            svc.transition(s, SYSTEM, world.settings, c.id, action, note="测试原因",
                           unit_id=world.units[0] if action == "dispatch" else None,
                           units=world.units[:2] if action == "whistle" else None,
                           rating=5 if action == "rate" else None)
        return c.id, c.number


def set_deadline(world, case_id: int, deadline: dt.datetime) -> None:
    with transaction(session_factory(world.engine)) as s:
        s.execute(update(Case).where(Case.id == case_id).values(deadline_at=deadline))


def subdistrict_user(world) -> str:
    """A 街道 user over the subdistrict of grid A's community, logged in: her token."""
    with transaction(session_factory(world.engine)) as s:
        com = s.get(Community, s.scalar(select(Grid.community_id).where(Grid.id == world.grid_a)))
        create_user(s, username="street", role="subdistrict", password=PASSWORD, subdistrict=com.subdistrict.code)
    r = world.client.post("/api/v1/auth/token", data={"username": "street", "password": PASSWORD})
    assert r.status_code == 200, r.text
    world.tokens["street"] = r.json()["access_token"]
    return "street"


def numbers(world, who: str, queue: str, **params) -> list[str]:
    r = world.client.get(f"/api/v1/desk/queues/{queue}", headers=world.h(who), params={"limit": 200, **params})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == len(body["rows"])
    return [row["number"] for row in body["rows"]]


def counts(world, who: str) -> dict[str, int]:
    r = world.client.get("/api/v1/desk/queues", headers=world.h(who))
    assert r.status_code == 200, r.text
    return {q["name"]: q["count"] for q in r.json()["queues"]}


def test_each_queue_holds_exactly_its_cases(world):
    built = {state: build(world, state) for state in STATES}
    num = {state: n for state, (_, n) in built.items()}
    # one overdue and one near its deadline (both dispatched to unit 0), set after the transitions
    over_id, over = build(world, "dispatched")
    near_id, near = build(world, "dispatched")
    now = now_utc()
    set_deadline(world, over_id, now - dt.timedelta(minutes=5))
    set_deadline(world, near_id, calendar(world.settings).add_working_hours(now, 0.1 * 4) - dt.timedelta(seconds=30))
    street = subdistrict_user(world)

    sup = {q: set(numbers(world, "sup", q)) for q in Q.ROLE_QUEUES["supervisor"]}
    assert sup["to_register"] == {num["reported"]}
    # registered and not returned: escalated cases wait for a dispatch too
    assert sup["to_dispatch"] == {num["registered"], num["escalated"], num["to_department"]}
    assert sup["returned"] == {num["returned"]}
    assert sup["to_close"] == {num["verified"]}
    assert sup["to_rate"] == {num["closed"]}  # the rated one is not waiting
    assert sup["escalated"] == {num["escalated"]}
    assert sup["overdue"] == {over}
    assert near in sup["near"] and over not in sup["near"]
    assert num["suspended"] not in sup["near"] | sup["overdue"]  # the clock is stopped
    assert counts(world, "sup") == {q: len(v) for q, v in sup.items()}

    dept = {q: set(numbers(world, "dept1", q)) for q in Q.ROLE_QUEUES["department"]}
    assert dept["to_accept"] == {num["dispatched"], num["urged"], num["reworked"], over, near}
    assert dept["in_hand"] == {num["accepted"]}
    assert dept["tasks"] == {num["whistled"]}
    assert dept["rework"] == {num["reworked"]}
    assert {q: set(numbers(world, "dept2", q)) for q in Q.ROLE_QUEUES["department"]} == {
        "to_accept": set(), "in_hand": set(), "tasks": {num["whistled"]}, "rework": set()}

    sub = {q: set(numbers(world, street, q)) for q in Q.ROLE_QUEUES["subdistrict"]}
    assert sub["escalated_subdistrict"] == {num["to_department"]}
    assert sub["whistle"] == {num["whistled"]}
    assert sub["urged"] == {num["urged"]}
    assert sub["overdue"] == {over}
    assert near in sub["near"]
    whistle = world.client.get("/api/v1/desk/queues/whistle", headers=world.h(street)).json()["rows"][0]
    assert sorted(t["unit"] for t in whistle["tasks"]) == ["供电所", "城管中队"]
    assert all(not t["reported_in"] for t in whistle["tasks"])
    assert world.client.get("/api/v1/desk/queues/urged", headers=world.h(street)).json()["rows"][0]["urges"] == 1

    admin = {q: set(numbers(world, "admin", q)) for q in Q.ROLE_QUEUES["admin"]}
    assert admin["to_register"] == sup["to_register"] and admin["whistle"] == sub["whistle"]


def test_rows_show_what_the_page_shows_and_urgency(world):
    _, number = build(world, "dispatched")
    row = world.client.get("/api/v1/desk/queues/to_accept", headers=world.h("dept1")).json()["rows"][0]
    assert row["number"] == number
    assert row["category_zh"] == "电动车违规充电/私拉电线充电" and row["address"] == "dispatched 号"
    assert row["grid"] and row["community"] and row["unit"] == "城管中队"
    assert row["status"] == "dispatched" and row["level"] == "grid"
    assert row["urgency"] in ("green", "yellow", "orange") and 0 < row["hours_left"] <= 4
    assert not any(k in row for k in ("contact_name", "contact_phone", "description"))
    assert deadline_colour(-0.1, 4, 0.2) == "red" and deadline_colour(0.7, 4, 0.2) == "orange"
    assert deadline_colour(1.5, 4, 0.2) == "yellow" and deadline_colour(1.6, 4, 0.2) == "green"
    assert deadline_colour(None, 4, 0.2) is None


def test_scope(world):
    _, mine = build(world, "reported")
    _, theirs = build(world, "reported", point=world.point_other)
    assert numbers(world, "sup", "to_register") == [mine]
    assert numbers(world, "sup_other", "to_register") == [theirs]
    street = subdistrict_user(world)
    with transaction(session_factory(world.engine)) as s:
        actor = actor_from_token(s, world.tokens[street], world.settings)
        other_com = s.scalar(select(Case.community_id).where(Case.number == theirs))
    expected = {mine, theirs} if other_com in actor.community_ids else {mine}
    r = world.client.get("/api/v1/desk/queues", headers=world.h(street))
    assert [q["name"] for q in r.json()["queues"]] == list(Q.ROLE_QUEUES["subdistrict"])
    build(world, "to_department", point=world.point_other)
    build(world, "to_department")
    assert len(numbers(world, street, "escalated_subdistrict")) == len(expected)
    assert numbers(world, "dept2", "to_accept") == []
    for who in ("worker_a", "planner"):
        r = world.client.get("/api/v1/desk/queues", headers=world.h(who))
        assert r.status_code == 403 and r.json()["field"] == "role"
    r = world.client.get("/api/v1/desk/queues/whistle", headers=world.h("sup"))  # the 街道's queue
    assert r.status_code == 403 and r.json()["field"] == "queue"
    r = world.client.get("/api/v1/desk/queues/nope", headers=world.h("sup"))
    assert r.status_code == 404 and r.json()["field"] == "queue"


def test_paging_sort_and_filters(world):
    made = [build(world, "reported")[1] for _ in range(5)]
    with transaction(session_factory(world.engine)) as s:
        c = svc.create_case(s, SYSTEM, world.settings, client_id=None, category="B0109", lon=world.point_b[0],
                            lat=world.point_b[1], channel="12345").case
        other_cat = c.number
        grid_b = s.scalar(select(Grid.code).where(Grid.id == world.grid_b))
    everything = numbers(world, "sup", "to_register")
    assert set(everything) == {*made, other_cat}
    page = world.client.get("/api/v1/desk/queues/to_register", headers=world.h("sup"),
                            params={"limit": 2, "offset": 2, "sort": "reported_at", "order": "asc"}).json()
    assert page["total"] == 6 and [r["number"] for r in page["rows"]] == everything[2:4]
    assert numbers(world, "sup", "to_register", order="desc") == everything[::-1]
    by_category = numbers(world, "sup", "to_register", sort="category")
    assert by_category[0] == other_cat  # B0109 before C0103
    assert numbers(world, "sup", "to_register", category="B0109") == [other_cat]
    assert numbers(world, "sup", "to_register", channel="12345") == [other_cat]
    # the residents' channels at once (the picker's 居民诉求), and a list of channels
    assert numbers(world, "sup", "to_register", channel="resident,12345,open311") == [other_cat]
    assert set(numbers(world, "sup", "to_register", channel="patrol,12345")) >= {other_cat}
    assert other_cat in numbers(world, "sup", "to_register", grid=grid_b)
    assert not set(made) & set(numbers(world, "sup", "to_register", grid=grid_b))
    today = dt.datetime.now(dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=8))).date()
    assert len(numbers(world, "sup", "to_register", start=str(today), end=str(today))) == 6
    assert numbers(world, "sup", "to_register", end=str(today - dt.timedelta(days=1))) == []
    for params, field in (({"sort": "id"}, "sort"), ({"limit": 0}, "limit"), ({"grid": "nope"}, "grid"),
                          ({"category": "X9"}, "category"), ({"community": "001"}, "community"),
                          ({"channel": "hotline"}, "channel"),
                          ({"start": "2026-02-30"}, "start"),
                          ({"start": str(today), "end": str(today - dt.timedelta(days=1))}, "end")):
        r = world.client.get("/api/v1/desk/queues/to_register", headers=world.h("sup"), params=params)
        assert r.status_code == 422 and r.json()["field"] == field, (params, r.text)


def test_near_deadline_boundary(world):
    case_id, number = build(world, "dispatched")
    now = now_utc()
    threshold = calendar(world.settings).add_working_hours(now, world.settings.near_deadline_fraction * 4)
    with transaction(session_factory(world.engine)) as s:
        actor = actor_from_token(s, world.tokens["sup"], world.settings)
    for deadline, near in ((threshold, False), (threshold - dt.timedelta(seconds=1), True),
                           (now, True), (now - dt.timedelta(seconds=1), False)):
        set_deadline(world, case_id, deadline)
        with transaction(session_factory(world.engine)) as s:
            page = Q.queue_page(s, actor, world.settings, "near", Q.QueueFilter(), now=now)
            overdue = Q.counts(s, actor, world.settings, now=now)["overdue"]
        assert (number in [r["number"] for r in page["rows"]]) is near, deadline
        assert overdue == (1 if deadline < now else 0)
        if near:
            assert page["rows"][0]["urgency"] == "orange"


def test_bulk_with_a_refused_case(world):
    a_id, a = build(world, "reported")
    b_id, b = build(world, "reported")
    done_id, done = build(world, "registered")  # already registered: refused with 409
    r = world.client.post("/api/v1/desk/bulk", headers=world.h("sup"),
                          json={"action": "register", "cases": [a_id, done_id, b_id]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["done"] == 2 and body["refused"] == 1
    assert [x["number"] for x in body["results"]] == [a, done, b]
    assert [x["ok"] for x in body["results"]] == [True, False, True]
    assert body["results"][1]["code"] == "conflict" and "registered" in body["results"][1]["message"]
    assert set(numbers(world, "sup", "to_dispatch")) == {a, b, done}
    # dispatch without a unit: the automatic dispatch; with a unit: that unit
    r = world.client.post("/api/v1/desk/bulk", headers=world.h("sup"),
                          json={"action": "dispatch", "cases": [a_id], "unit_id": world.units[1]})
    assert r.json()["results"][0]["ok"], r.text
    assert numbers(world, "dept2", "to_accept") == [a]
    r = world.client.post("/api/v1/desk/bulk", headers=world.h("sup"), json={"action": "dispatch", "cases": [b_id]})
    assert r.status_code == 200 and r.json()["results"][0]["status"] == "dispatched", r.text
    # another community's case: refused, its number not revealed
    other_id, _ = build(world, "reported", point=world.point_other)
    r = world.client.post("/api/v1/desk/bulk", headers=world.h("sup"), json={"action": "reject", "cases": [other_id],
                                                                              "note": "不属实"})
    assert r.json()["results"] == [{"number": None, "ok": False, "code": "forbidden", "field": "case_id",
                                    "message": r.json()["results"][0]["message"]}]
    for body, field in (({"action": "reject", "cases": [a_id]}, "note"),
                        ({"action": "close", "cases": [a_id]}, "action"),
                        ({"action": "register", "cases": []}, "cases"),
                        ({"action": "register", "cases": list(range(1, 202))}, "cases"),
                        ({"action": "register", "cases": [a_id, a_id]}, "cases"),
                        ({"action": "dispatch", "cases": [a_id], "unit_id": 999999}, "unit_id")):
        r = world.client.post("/api/v1/desk/bulk", headers=world.h("sup"), json=body)
        assert r.status_code == 422 and r.json()["field"] == field, (body, r.text)
    r = world.client.post("/api/v1/desk/bulk", headers=world.h("dept1"), json={"action": "register",
                                                                                "cases": [a_id]})
    assert r.status_code == 403


def test_live_counts_stream(world, monkeypatch):
    build(world, "reported")
    monkeypatch.setattr(world.client.app.state.settings, "sse_seconds", 0.5)
    with world.client.stream("GET", "/api/v1/desk/events", headers=world.h("sup")) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        text = "".join(r.iter_text())
    assert "event: counts" in text
    data = next(line for line in text.splitlines() if line.startswith("data: "))
    assert '"to_register": 1' in data
    r = world.client.get("/api/v1/desk/events", headers=world.h("planner"))
    assert r.status_code == 403
