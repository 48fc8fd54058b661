"""Volunteer teams, the 网格服务专员 / 双报到 roster, pairings, service records and /desk/people (issue 22), on both
databases, on the shared Monaco world (each test asserts on what it made itself)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import func, insert, literal, select

from patrol.cases.worktime import local_today
from patrol.core.db import session_factory, transaction
from patrol.core.models import Building, Community, Grid, ResidentAudit, ServiceRecord, VolunteerTeam
from patrol.people.teams import teams_of
from patrol.simulate.people_volunteers import simulate_volunteers
from tests.api.test_cli import run
from tests.conftest import shared_scope

PHONE = "13987650123"  # a volunteer's phone: the community's desk only
HEAD = "慕容雪晴"  # the head of a paired household: the register's roles only


@pytest.fixture(scope=shared_scope)
def place(world) -> dict:
    """Grid A's community (id, name), grid A's code and a building of it (the world's ``lead_a`` is the 网格长 leading
    grid A)."""
    with transaction(session_factory(world.engine)) as s:
        grid = s.get(Grid, world.grid_a)
        community = s.get(Community, grid.community_id)
        assert grid.lead_id == world.users["lead_a"]
        return {"community": community.id, "community_name": community.name, "grid": grid.code,
                "building": s.scalar(select(Building.id).where(Building.grid_id == grid.id).order_by(Building.id))}


def test_a_team_with_members_and_a_task_for_a_case_in_the_callers_scope(world, place):
    c = world.client
    name = f"和事佬调解队{uuid.uuid4().hex[:4]}"
    r = c.post("/api/v1/volunteers/teams", headers=world.h("sup"),
               json={"community_id": place["community"], "name": name, "kind": "mediation"})
    assert r.status_code == 201, r.text
    team = r.json()["id"]
    assert c.post("/api/v1/volunteers/teams", headers=world.h("sup"), json={
        "community_id": place["community"], "name": name, "kind": "mediation"}).status_code == 409
    bad = c.post("/api/v1/volunteers/teams", headers=world.h("sup"),
                 json={"community_id": place["community"], "name": "x", "kind": "choir"})
    assert bad.status_code == 422 and bad.json()["field"] == "kind"
    member = c.post(f"/api/v1/volunteers/teams/{team}/members", headers=world.h("sup"),
                    json={"name": "张和平", "phone": PHONE, "role_in_team": "队长"})
    assert member.status_code == 201 and member.json()["phone"] == PHONE, member.text
    assert c.post(f"/api/v1/volunteers/teams/{team}/members", headers=world.h("sup"),
                  json={"name": "李四", "phone": "call me"}).json()["field"] == "phone"
    case = world.report(category="C0115")
    task = c.post(f"/api/v1/volunteers/teams/{team}/tasks", headers=world.h("subd"),
                  json={"title": "调解邻里纠纷", "due_on": "2026-12-31", "case": case["number"]})
    assert task.status_code == 201 and task.json()["case"] == case["number"], task.text
    # out of scope: another community's supervisor and subdistrict; a 网格长 reads but does not write
    for who in ("sup_other", "subd_other", "lead_a", "worker_a", "planner", "dept1"):
        r = c.post(f"/api/v1/volunteers/teams/{team}/members", headers=world.h(who), json={"name": "王五"})
        assert r.status_code == 403, (who, r.text)
    seen = {}
    for who in ("sup", "subd", "admin", "lead_a"):
        r = c.get("/api/v1/volunteers/teams", headers=world.h(who), params={"community_id": place["community"]})
        assert r.status_code == 200, (who, r.text)
        mine = next(t for t in r.json() if t["id"] == team)
        assert [m["name"] for m in mine["members"]] == ["张和平"]
        assert [k["title"] for k in mine["open_tasks"]] == ["调解邻里纠纷"]
        seen[who] = PHONE in r.text
    assert seen == {"sup": True, "subd": False, "admin": False, "lead_a": False}
    assert c.get("/api/v1/volunteers/teams", headers=world.h("sup_other"),
                 params={"community_id": place["community"]}).status_code == 403
    assert team not in [t["id"] for t in c.get("/api/v1/volunteers/teams", headers=world.h("sup_other")).json()]
    done = c.post(f"/api/v1/volunteers/tasks/{task.json()['id']}/done", headers=world.h("sup"))
    assert done.status_code == 200 and done.json()["done_at"], done.text
    with transaction(session_factory(world.engine)) as s:  # what the mediation form lists
        assert {"id": team, "name": name, "kind": "mediation"} in teams_of(s, place["community"], "mediation")
        assert all(t["kind"] == "safety" for t in teams_of(s, place["community"], "safety"))


def roster_csv(place, tag: str, *rows: str) -> bytes:
    return ("类别,姓名,单位,电话,网格,承诺服务\n" + "".join(r.format(tag=tag, grid=place["grid"]) + "\n"
                                                       for r in rows)).encode()


def test_roster_import_pairing_services_and_the_month(world, place):
    c, tag = world.client, uuid.uuid4().hex[:4]
    bad = c.post("/api/v1/volunteers/members/import", headers=world.h("sup"), content=roster_csv(
        place, tag, "网格服务专员,刘{tag},区民政局,13800001111,{grid},每月走访；政策咨询",
        "wizard,赵{tag},,,{grid},", "双报到单位,供电所{tag},,,000000000000999,"))
    assert bad.status_code == 422, bad.text
    assert [d.split(":")[0] for d in bad.json()["details"]] == ["row 3", "row 4"], bad.json()["details"]
    good = roster_csv(place, tag, "网格服务专员,刘{tag},区民政局,13800001111,{grid},每月走访；政策咨询",
                      "双报到单位,供电所{tag},供电所,,{grid},免费检修线路")
    assert c.post("/api/v1/volunteers/members/import", headers=world.h("sup_other"),
                  content=good).status_code == 422  # every row outside her community, listed
    r = c.post("/api/v1/volunteers/members/import", headers=world.h("sup"), content=good)
    assert r.json() == {"rows": 2, "created": 2, "updated": 0}, r.text
    assert c.post("/api/v1/volunteers/members/import", headers=world.h("sup"),
                  content=good).json() == {"rows": 2, "created": 0, "updated": 0}
    roster = {m["name"]: m for m in c.get("/api/v1/volunteers/members", headers=world.h("sup"),
                                          params={"community_id": place["community"]}).json()}
    liaison, unit = roster[f"刘{tag}"], roster[f"供电所{tag}"]
    assert liaison["pledges"] == ["每月走访", "政策咨询"] and liaison["grid"]["code"] == place["grid"]

    # a household of grid A with an 85-year-old, paired with the liaison officer (the register's roles only)
    hh = c.post("/api/v1/households", headers=world.h("worker_a"), json={
        "building_id": place["building"], "room": f"{tag}-101", "head_name": HEAD})
    household = hh.json()["id"]
    assert c.post(f"/api/v1/households/{household}/residents", headers=world.h("worker_a"),
                  json={"name": HEAD, "birth_year": 1940}).status_code == 201
    for who in ("admin", "subd", "sup_other"):
        r = c.post(f"/api/v1/volunteers/members/{liaison['id']}/pairings", headers=world.h(who),
                   json={"household_id": household})
        assert r.status_code == 403, (who, r.text)
    p = c.post(f"/api/v1/volunteers/members/{liaison['id']}/pairings", headers=world.h("sup"),
               json={"household_id": household, "since": "2026-01-01"})
    assert p.status_code == 201, p.text

    today = local_today(world.settings.timezone)
    key = str(uuid.uuid4())
    body = {"client_id": key, "on": today.isoformat(), "kind": "visit", "hours": 1.5, "household_id": household}
    first = c.post(f"/api/v1/volunteers/members/{liaison['id']}/services", headers=world.h("sup"), json=body)
    again = c.post(f"/api/v1/volunteers/members/{liaison['id']}/services", headers=world.h("sup"), json=body)
    assert (first.status_code, again.status_code) == (201, 200), again.text
    assert again.json()["id"] == first.json()["id"] and again.json()["created"] is False
    late = c.post(f"/api/v1/volunteers/members/{unit['id']}/services", headers=world.h("sup"), json={
        "on": (today + dt.timedelta(days=2)).isoformat(), "kind": "repair"})
    assert late.status_code == 422 and late.json()["field"] == "on"
    unpaired = c.post(f"/api/v1/volunteers/members/{unit['id']}/services", headers=world.h("sup"), json={
        "on": today.isoformat(), "kind": "repair", "household_id": household})
    assert unpaired.status_code == 422 and unpaired.json()["field"] == "household_id"
    with transaction(session_factory(world.engine)) as s:
        assert s.scalar(select(func.count()).select_from(ServiceRecord).where(ServiceRecord.client_id == key)) == 1
        audits = s.scalar(select(func.count()).select_from(ResidentAudit).where(
            ResidentAudit.household_id == household, ResidentAudit.action == "list"))

    month = c.get("/api/v1/volunteers/month", headers=world.h("sup"), params={"community_id": place["community"]})
    assert month.status_code == 200, month.text
    v = month.json()
    mine = {m["name"]: m for m in v["members"]}
    assert (mine[f"刘{tag}"]["services"], mine[f"刘{tag}"]["hours"]) == (1, 1.5)
    assert f"供电所{tag}" in v["without_service"] and f"刘{tag}" not in v["without_service"]
    paired = next(h for h in v["pairings"]["households"] if h["household_id"] == household)
    assert (paired["head_name"], paired["served"], paired["vulnerable"]) == (HEAD, True, ["elderly"])
    with transaction(session_factory(world.engine)) as s:  # the listing was audited
        assert s.scalar(select(func.count()).select_from(ResidentAudit).where(
            ResidentAudit.household_id == household, ResidentAudit.action == "list")) == audits + 1
    for who in ("subd", "admin"):  # counts, no household, no phone
        r = c.get("/api/v1/volunteers/month", headers=world.h(who), params={"community_id": place["community"]})
        assert r.status_code == 200 and "households" not in r.json()["pairings"], (who, r.text)
        assert r.json()["pairings"]["count"] >= 1 and HEAD not in r.text and "13800001111" not in r.text
    # grid A's 网格长 reads grid A's register (the register's rule), so the household, but never a member's phone
    r = c.get("/api/v1/volunteers/month", headers=world.h("lead_a"), params={"community_id": place["community"]})
    assert r.status_code == 200 and HEAD in r.text and "13800001111" not in r.text, r.text
    for who in ("sup_other", "worker_a", "planner", "dept1"):
        r = c.get("/api/v1/volunteers/month", headers=world.h(who), params={"community_id": place["community"]})
        assert r.status_code == 403, (who, r.text)
    ended = c.post(f"/api/v1/volunteers/pairings/{p.json()['id']}/end", headers=world.h("sup"), json={})
    assert ended.json()["until"] == today.isoformat()


def test_the_desk_page_shows_people_teams_and_the_gap_to_each_in_their_words(world, place):
    c = world.client
    with transaction(session_factory(world.engine)) as s:
        s.add(VolunteerTeam(community_id=place["community"], name="平安志愿者页面队", kind="safety"))
    household = c.post("/api/v1/households", headers=world.h("worker_a"), json={
        "building_id": place["building"], "room": f"{uuid.uuid4().hex[:4]}-9", "head_name": "皇甫秋月"}).json()["id"]
    assert c.post(f"/api/v1/households/{household}/residents", headers=world.h("worker_a"),
                  json={"name": "皇甫秋月", "birth_year": 1930}).status_code == 201
    assert c.post("/api/v1/volunteers/members", headers=world.h("sup"), json={
        "kind": "party_member", "name": "页面党员", "community_id": place["community"]}).status_code == 201
    en = c.get("/desk/people", headers=world.h("sup"), params={"lang": "en"})
    assert en.status_code == 200, en.text
    assert "平安志愿者页面队" in en.text and "Safety volunteers" in en.text and "Add a member" in en.text, en.text
    assert "No members yet" in en.text  # the new team's empty state says what to do
    # the supervisor pairs from the register's vulnerable households; the subdistrict sees no household
    assert "Pair with a vulnerable household" in en.text and "皇甫秋月" in en.text and "aged 80+" in en.text
    sub = c.get("/desk/people", headers=world.h("subd"), params={"community_id": place["community"]})
    assert sub.status_code == 200 and "页面党员" in sub.text and "皇甫秋月" not in sub.text
    with transaction(session_factory(world.engine)) as s:  # a community of its own: no team, whatever ran before
        s.execute(insert(Community).from_select(
            ["subdistrict_id", "code", "name", "derived", "geom"],
            select(Community.subdistrict_id, literal("9" + uuid.uuid4().hex[:2]), literal("空社区"), literal(True),
                   Community.geom).where(Community.id == place["community"])))
        empty = s.scalar(select(func.max(Community.id)))
    zh = c.get("/desk/people", headers=world.h("admin"), params={"community_id": empty})
    assert zh.status_code == 200 and "还没有志愿者队伍 — 新建队伍" in zh.text, zh.text
    read_only = c.get("/desk/people", headers=world.h("lead_a"), params={"lang": "en"})
    assert "You can read this page but not change it" in read_only.text and 'data-api="' not in read_only.text
    for who, target in (("worker_a", "/app/"), ("planner", "/dashboard")):
        r = c.get("/desk/people", headers=world.h(who), follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith(target), who
    assert c.get("/desk/people", headers=world.h("sup_other"), params={"community_id": place["community"]},
                 ).status_code == 403


def test_the_command_line_imports_all_or_nothing_records_once_and_shows_the_month(world, place, tmp_path):
    tag = uuid.uuid4().hex[:4]
    bad = tmp_path / "bad.csv"
    bad.write_bytes(roster_csv(place, tag, "网格服务专员,周{tag},区卫健局,,{grid},义诊", "党员,,,,,"))
    r = run(world.url, "volunteers", "roster", "import", str(bad))
    assert r.exit_code != 0 and "row 3" in r.output and "nothing was written" in r.output, r.output
    good = tmp_path / "good.csv"
    good.write_bytes(roster_csv(place, tag, "网格服务专员,周{tag},区卫健局,,{grid},义诊"))
    assert "1 added" in run(world.url, "volunteers", "roster", "import", str(good)).output
    listed = run(world.url, "volunteers", "roster", "list", "--community", place["community_name"]).output
    member = next(line.split("\t")[0] for line in listed.splitlines() if f"周{tag}" in line)
    key = str(uuid.uuid4())
    for expected in ("recorded", "already recorded"):
        r = run(world.url, "volunteers", "record", member, "--kind", "health", "--hours", "2", "--client-id", key)
        assert r.exit_code == 0 and r.output.startswith(expected + ":"), r.output
    r = run(world.url, "volunteers", "month", "--community", place["community_name"])
    assert r.exit_code == 0 and any(f"周{tag}" in x and "1 services" in x for x in r.output.splitlines()), r.output
    r = run(world.url, "volunteers", "record", member, "--kind", "singing")
    assert r.exit_code != 0 and len(r.output.strip().splitlines()) == 1, r.output


def test_the_demo_step_makes_teams_roster_and_a_gap_once(world, place):
    with transaction(session_factory(world.engine)) as s:
        line = simulate_volunteers(s, world.settings)
    assert line and line.startswith("simulated volunteers:")
    with transaction(session_factory(world.engine)) as s:
        assert simulate_volunteers(s, world.settings) is None
        teams = s.scalars(select(VolunteerTeam).where(VolunteerTeam.simulated,
                                                      VolunteerTeam.community_id == place["community"])).all()
        assert sorted(t.kind for t in teams) == ["mediation", "safety"]
        assert all("(模拟)" in t.name for t in teams)
    v = world.client.get("/api/v1/volunteers/month", headers=world.h("sup"),
                         params={"community_id": place["community"]}).json()
    simulated = [m for m in v["members"] if "(模拟)" in m["name"]]
    assert {m["kind"] for m in simulated} == {"liaison", "unit", "party_member"}
    assert any(m["services"] for m in simulated) and any(not m["services"] for m in simulated)
