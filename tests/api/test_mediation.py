"""调解 and needs in the loop (issue 22), on both databases: a dispute ends in a mediation agreement that hands the case
and counts in 调解成功率 (a hand-computed figure); the parties and session notes are read only by the case's grid
worker and community supervisor (audited), never by others; a need becomes a case, the case closes and the need
follows with its answer, reopens and the need is back in progress; the answered-on-time figure by hand; the command
line; the desk pages; the demo step."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select

from patrol.cases import service as cases
from patrol.core.auth import SYSTEM
from patrol.core.db import session_factory, transaction
from patrol.core.models import Building, Case, CaseEvent, Household, ResidentAudit, ResidentNeed, VolunteerTeam
from tests.api.test_cli import run

PARTY = "诸葛翠兰"  # distinctive: no map data or code text holds these
PARTY_PHONE = "13561728394"
NOTE = "双方同意先修补漏水再谈赔偿"
CN = dt.timezone(dt.timedelta(hours=8))


def dispute(world, state: str = "dispatched") -> int:
    """A fresh 邻里纠纷 (C0115) in grid A, registered and (for "dispatched") dispatched to worker A."""
    with transaction(session_factory(world.engine)) as s:
        c = cases.create_case(s, SYSTEM, world.settings, client_id=None, category="C0115", lon=world.point_a[0],
                              lat=world.point_a[1], description="楼上漏水引发邻里纠纷").case
        cases.transition(s, SYSTEM, world.settings, c.id, "register")
        if state == "dispatched":
            cases.transition(s, SYSTEM, world.settings, c.id, "dispatch", assignee_id=world.users["worker_a"])
        return c.id


def team(world) -> int:
    """A 和事佬 mediation team of grid A's community (made for the test)."""
    with transaction(session_factory(world.engine)) as s:
        community = s.scalar(select(Case.community_id).where(Case.grid_id == world.grid_a).limit(1))
        t = VolunteerTeam(community_id=community, name=f"和事佬调解队 {uuid.uuid4().hex[:4]}", kind="mediation")
        s.add(t)
        s.flush()
        return t.id


def post(world, who: str, path: str, expect: int = 200, **body) -> dict:
    r = world.client.post(path, headers=world.h(who), json=body)
    assert r.status_code == expect, r.text
    return r.json()


def test_a_dispute_ends_in_an_agreement_that_hands_the_case_and_counts_in_the_success_rate(world):
    """Four mediations by one team: two agreed, one failed, one still open → 调解数 4, closed 3, 调解成功率 2 ÷ 3 =
    0.6667."""
    team_id, case_id = team(world), dispute(world)
    m = post(world, "sup", f"/api/v1/cases/{case_id}/mediation", 201, team_id=team_id, parties=[
        {"name": PARTY, "phone": PARTY_PHONE, "address": "3-1-502", "role": "申请人"},
        {"name": "欧阳明远", "role": "被申请人"}])
    assert m["team_id"] == team_id and m["outcome"] == "open" and len(m["parties"]) == 2
    post(world, "sup", f"/api/v1/cases/{case_id}/mediation", 409, team_id=team_id)  # one per case
    sitting = {"client_id": str(uuid.uuid4()), "at": "2026-12-01T19:30:00+08:00", "place": "社区调解室", "note": NOTE}
    post(world, "worker_a", f"/api/v1/cases/{case_id}/mediation/sessions", **sitting)
    again = post(world, "worker_a", f"/api/v1/cases/{case_id}/mediation/sessions", **sitting)  # a retry
    assert len(again["sessions"]) == 1 and again["sessions"][0]["note"] == NOTE
    post(world, "worker_a", f"/api/v1/cases/{case_id}/mediation/sessions", place="现场")
    bad = world.client.post(f"/api/v1/cases/{case_id}/mediation/close", headers=world.h("sup"),
                            json={"outcome": "agreed"})
    assert bad.status_code == 422 and bad.json()["field"] == "agreement", bad.text
    done = post(world, "sup", f"/api/v1/cases/{case_id}/mediation/close", outcome="agreed",
                agreement="楼上住户三日内修补防水，赔偿楼下 800 元", follow_up="回访修补情况",
                follow_up_on="2026-12-20")
    assert done["outcome"] == "agreed" and done["case_handed"] is True and len(done["sessions"]) == 2
    case = world.client.get(f"/api/v1/cases/{case_id}", headers=world.h("sup")).json()
    assert case["status"] == "handled"
    with transaction(session_factory(world.engine)) as s:
        note = s.scalar(select(CaseEvent.note).where(CaseEvent.case_id == case_id, CaseEvent.action == "handle"))
    assert note == "调解达成协议：楼上住户三日内修补防水，赔偿楼下 800 元"
    world.act("worker_a", case_id, "verify")  # the loop goes on: 核查, then 结案
    # three more by the same team: agreed, failed, open
    for outcome in ("agreed", "failed", None):
        other = dispute(world)
        post(world, "worker_a", f"/api/v1/cases/{other}/mediation", 201, team_id=team_id,
             parties=[{"name": "甲"}, {"name": "乙"}])
        if outcome:
            post(world, "worker_a", f"/api/v1/cases/{other}/mediation/close", outcome=outcome,
                 agreement="互谅互让" if outcome == "agreed" else None)
    kpis = world.client.get("/api/v1/kpis/mediation", headers=world.h("sup"), params={"by": "mediator"}).json()
    row = next(r for r in kpis["rows"] if r["key"] == ["team", team_id])
    assert (row["opened"], row["closed"], row["agreed"], row["failed"], row["referred"]) == (4, 3, 2, 1, 0)
    assert row["success_rate"] == 0.6667
    by_grid = world.client.get("/api/v1/kpis/mediation", headers=world.h("admin"), params={"by": "grid"}).json()
    assert any(r["key"] == world.grid_a and r["agreed"] >= 2 for r in by_grid["rows"])
    assert world.client.get("/api/v1/kpis/mediation", headers=world.h("sup_other"),
                            params={"by": "mediator"}).json()["rows"] == []  # another community sees none of them


def test_parties_and_notes_only_for_the_grid_worker_and_the_community(world):
    case_id = dispute(world)
    post(world, "worker_a", f"/api/v1/cases/{case_id}/mediation", 201,
         parties=[{"name": PARTY, "phone": PARTY_PHONE, "role": "申请人"}])
    post(world, "worker_a", f"/api/v1/cases/{case_id}/mediation/sessions", note=NOTE)
    c = world.client
    for who in ("sup", "worker_a"):
        r = c.get(f"/api/v1/cases/{case_id}/mediation", headers=world.h(who))
        assert r.status_code == 200 and r.json()["parties"][0]["phone"] == PARTY_PHONE, r.text
        assert r.json()["sessions"][0]["note"] == NOTE
    for who in ("admin", "subd", "planner"):  # they read the case, not the people in it
        r = c.get(f"/api/v1/cases/{case_id}/mediation", headers=world.h(who))
        assert r.status_code == 200, r.text
        assert PARTY not in r.text and PARTY_PHONE not in r.text and NOTE not in r.text and r.json()["party_count"] == 1
        listed = c.get("/api/v1/mediations", headers=world.h(who))
        assert listed.status_code == 200 and PARTY not in listed.text and NOTE not in listed.text
    for who in ("sup_other", "worker_b", "dept1", "subd_other"):
        assert c.get(f"/api/v1/cases/{case_id}/mediation", headers=world.h(who)).status_code == 403, who
    for who in ("admin", "planner", "subd", "dept1", "sup_other"):
        r = c.post(f"/api/v1/cases/{case_id}/mediation/parties", headers=world.h(who), json={"name": "某人"})
        assert r.status_code == 403, (who, r.text)
    listed = c.get("/api/v1/mediations", headers=world.h("sup")).json()
    mine = next(x for x in listed if x["case_id"] == case_id)
    assert mine["parties"][0]["name"] == PARTY and mine["parties"][0]["phone"] == "135****8394"
    assert "address" not in mine["parties"][0]
    with transaction(session_factory(world.engine)) as s:
        reads = set(s.scalars(select(ResidentAudit.actor_id).where(ResidentAudit.case_id == case_id,
                                                                   ResidentAudit.action.in_(("read", "list")))))
    u = world.users
    assert {u["sup"], u["worker_a"]} <= reads and not {u["admin"], u["planner"], u["subd"]} & reads
    for path in ("/open311/v2/requests.json", f"/open311/v2/requests/{case_id}.json", "/ogc/collections/cases/items"):
        r = c.get(path)
        assert PARTY not in r.text and PARTY_PHONE not in r.text and NOTE not in r.text, path


def household_need(world, detail: str = "楼道灯坏了，老人夜里看不清") -> tuple[int, dict]:
    c, h = world.client, world.h("worker_a")
    with transaction(session_factory(world.engine)) as s:
        building = s.scalar(select(Building.id).where(Building.grid_id == world.grid_a).order_by(Building.id))
    hh = c.post("/api/v1/households", headers=h, json={"building_id": building, "room": uuid.uuid4().hex[:6],
                                                       "head_name": "上官秀梅"})
    assert hh.status_code == 201, hh.text
    need = c.post(f"/api/v1/households/{hh.json()['id']}/needs", headers=h, json={"type": "other", "detail": detail})
    assert need.status_code == 201, need.text
    return hh.json()["id"], need.json()


def test_a_need_becomes_a_case_the_case_closes_and_the_need_follows(world):
    _, need = household_need(world)
    today = dt.datetime.now(CN).date()
    open_ = world.client.get("/api/v1/needs/open", headers=world.h("worker_a")).json()
    mine = next(n for n in open_ if n["id"] == need["id"])
    assert mine["responsible_id"] == world.users["worker_a"] and mine["due_on"] == str(today + dt.timedelta(days=7))
    assert mine["overdue"] is False
    for who in ("planner", "dept1", "admin", "sup_other", "worker_b"):
        r = world.client.post(f"/api/v1/needs/{need['id']}/case", headers=world.h(who), json={"category": "B0109"})
        assert r.status_code == 403, (who, r.text)
    client_id = str(uuid.uuid4())
    made = post(world, "worker_a", f"/api/v1/needs/{need['id']}/case", 201, category="B0109", client_id=client_id)
    assert made["status"] == "in_progress" and made["case_number"] and made["case_created"] is True
    retry = post(world, "worker_a", f"/api/v1/needs/{need['id']}/case", 201, category="B0109", client_id=client_id)
    assert retry["case_id"] == made["case_id"] and retry["case_created"] is False
    case = world.client.get(f"/api/v1/cases/{made['case_id']}", headers=world.h("sup")).json()
    assert case["channel"] == "patrol" and "上官" not in str(case) and "老人夜里" not in str(case)
    with transaction(session_factory(world.engine)) as s:
        for action in ("register", "dispatch", "accept", "handle", "verify", "close"):
            cases.transition(s, SYSTEM, world.settings, made["case_id"], action,
                             unit_id=world.units[1] if action == "dispatch" else None,
                             note="已更换楼道灯" if action == "handle" else None)
    with transaction(session_factory(world.engine)) as s:
        n = s.get(ResidentNeed, need["id"])
        assert n.status == "resolved" and n.resolved_at is not None
        assert n.response == f"已办结（案件 {made['case_number']}）：已更换楼道灯" and n.responded_at is not None
    world.act("admin", made["case_id"], "rate", rating=1)  # 不满意: the case is reopened, the need with it
    with transaction(session_factory(world.engine)) as s:
        assert s.get(ResidentNeed, need["id"]).status == "in_progress"


def test_a_need_is_answered_and_rated_and_linked(world):
    _, need = household_need(world, "想了解高龄补贴怎么申请")
    path = f"/api/v1/needs/{need['id']}"
    r = world.client.post(f"{path}/feedback", headers=world.h("worker_a"), json={"feedback": "satisfied"})
    assert r.status_code == 409 and r.json()["field"] == "feedback", r.text  # no answer yet
    bad = world.client.post(f"{path}/answer", headers=world.h("sup"), json={"response": " ", "status": "resolved"})
    assert bad.status_code == 422 and bad.json()["field"] == "response"
    answered = post(world, "sup", f"{path}/answer", response="已告知携带身份证到社区服务站办理", status="resolved")
    assert answered["status"] == "resolved" and answered["responded_at"] and answered["overdue"] is False
    rated = post(world, "worker_a", f"{path}/feedback", feedback="basically", note="希望上门办理")
    assert rated["feedback"] == "basically" and rated["feedback_label"]["zh"] == "基本满意"
    assigned = post(world, "sup", f"{path}/assign", responsible_id=world.users["worker_b"], due_on="2026-12-31")
    assert assigned["responsible_id"] == world.users["worker_b"] and assigned["due_on"] == "2026-12-31"
    wrong = world.client.post(f"{path}/assign", headers=world.h("sup"), json={"responsible_id": world.users["dept1"]})
    assert wrong.status_code == 422 and wrong.json()["field"] == "responsible_id"
    _, other = household_need(world, "小区门口井盖松动")
    case_id = world.report("worker_a", category="B0109")["id"]
    linked = post(world, "worker_a", f"/api/v1/needs/{other['id']}/link", case_id=case_id)
    assert linked["case_id"] == case_id and linked["status"] == "in_progress"


def test_needs_answered_on_time_by_hand(world):
    """Grid B, March 2026, four needs raised 1 March (due 5 March unless said): answered 3 March (on time),
    answered 10 March (late), not answered (overdue), not answered with no due date of its own (due 1 + 7 = 8 March:
    overdue) → needs 4, answered 2, on time 1, overdue 2, answered share 0.5, on-time share 0.25."""
    def at(day: int) -> dt.datetime:
        return dt.datetime(2026, 3, day, 10, tzinfo=CN)

    with transaction(session_factory(world.engine)) as s:
        building = s.scalar(select(Building.id).where(Building.grid_id == world.grid_b).order_by(Building.id))
        h = Household(building_id=building, room=f"K{uuid.uuid4().hex[:6]}")
        s.add(h)
        s.flush()
        due = dt.date(2026, 3, 5)
        for responded, due_on in ((at(3), due), (at(10), due), (None, due), (None, None)):
            s.add(ResidentNeed(household_id=h.id, type="other", detail="x", status="open", created_at=at(1),
                               due_on=due_on, responded_at=responded, response="答复" if responded else None))
    period = {"by": "grid", "start": "2026-03-01", "end": "2026-04-01"}
    for who in ("sup", "admin", "planner", "worker_b", "subd"):
        r = world.client.get("/api/v1/kpis/needs", headers=world.h(who), params=period)
        assert r.status_code == 200, (who, r.text)
        row = next(x for x in r.json()["rows"] if x["key"] == world.grid_b)
        assert (row["needs"], row["answered"], row["answered_on_time"], row["overdue"]) == (4, 2, 1, 2), who
        assert (row["answered_share"], row["on_time_share"]) == (0.5, 0.25)
    assert world.client.get("/api/v1/kpis/needs", headers=world.h("worker_a"), params=period).json()["rows"] == []
    for who in ("dept1", "sup_other"):
        r = world.client.get("/api/v1/kpis/needs", headers=world.h(who), params=period)
        assert r.status_code == 403 if who == "dept1" else not any(x["key"] == world.grid_b for x in r.json()["rows"])


def test_the_command_line_records_a_mediation(world):
    case_id = dispute(world)
    with transaction(session_factory(world.engine)) as s:
        number = s.get(Case, case_id).number
    r = run(world.url, "mediation", "open", number, "--mediator", "worker_a",
            "--party", f"{PARTY}|{PARTY_PHONE}||申请人", "--party", "令狐")
    assert r.exit_code == 0 and "opened" in r.output, r.output
    r = run(world.url, "mediation", "session", number, "--place", "调解室", "--note", "第一次调解")
    assert r.exit_code == 0 and "调解 1 次" in r.output, r.output
    r = run(world.url, "mediation", "close", number, "--outcome", "agreed")
    assert r.exit_code != 0 and "agreement" in r.output and len(r.output.strip().splitlines()) <= 2, r.output
    r = run(world.url, "mediation", "close", number, "--outcome", "agreed", "--agreement", "各退一步")
    assert r.exit_code == 0 and f"case {number} handed" in r.output, r.output
    r = run(world.url, "mediation", "list", "--outcome", "agreed")
    assert r.exit_code == 0 and number in r.output and "135****8394" in r.output and PARTY_PHONE not in r.output
    r = run(world.url, "mediation", "kpis", "--by", "overall")
    assert r.exit_code == 0 and "success rate" in r.output, r.output


def test_the_desk_pages_show_people_only_to_the_register_roles(world):
    case_id = dispute(world)
    post(world, "worker_a", f"/api/v1/cases/{case_id}/mediation", 201, parties=[{"name": PARTY}])
    _, need = household_need(world, "独居老人需要助餐服务")
    with transaction(session_factory(world.engine)) as s:
        number = s.get(Case, case_id).number
    c = world.client
    page = c.get("/desk/mediation", headers=world.h("sup"), params={"case": number})
    assert page.status_code == 200 and PARTY in page.text and 'data-api="/api/v1/cases/' in page.text
    for who in ("planner", "admin"):
        page = c.get("/desk/mediation", headers=world.h(who), params={"case": number, "lang": "en"})
        assert page.status_code == 200 and PARTY not in page.text and "Mediation" in page.text, who
    page = c.get("/desk/mediation", headers=world.h("sup"), params={"outcome": "failed", "lang": "en"})
    assert page.status_code == 200 and number not in page.text and 'aria-current="page">No agreement' in page.text
    page = c.get("/desk/needs", headers=world.h("worker_a"))
    assert page.status_code == 200 and "独居老人需要助餐服务" in page.text
    assert f"/api/v1/needs/{need['id']}/answer" in page.text
    page = c.get("/desk/needs", headers=world.h("planner"))
    assert page.status_code == 200 and "独居老人" not in page.text and 'id="counts-only"' in page.text


def test_the_demo_step_mediates_and_answers_needs_once(world):
    from patrol.simulate.people_mediation import mediation_step

    with transaction(session_factory(world.engine)) as s:
        first = mediation_step(s, world.settings)
    with transaction(session_factory(world.engine)) as s:
        second = mediation_step(s, world.settings)
        simulated = s.scalars(select(Case).join(ResidentNeed, ResidentNeed.case_id == Case.id)
                              .where(Case.simulated.is_(True))).all()
    assert first and "调解" in first and second is None
    assert simulated
