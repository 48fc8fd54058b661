"""研判 and 协商议事 in the loop, on both databases: 立案 → 研判 (community level, with a reason) → 议事 (a meeting with
a vote) → dispatch, refused before the decision (409 naming ``meeting``); a 研判 without a reason is 422 naming
``reason``; escalation by assessment re-routes the case; the desk's 研判 lists; the pages; the CLI."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import select

from api.cli import cli
from patrol.core.db import session_factory, transaction
from patrol.core.models import Case, CaseAssessment, Community, Grid, MeetingLink


def _registered(world, category: str, who: str = "sup") -> dict:
    c = world.report("worker_a", category=category)
    world.act(who, c["id"], "register")
    return c


def _queue(world, name: str, who: str = "sup") -> set[str]:
    r = world.client.get(f"/api/v1/desk/queues/{name}?limit=200", headers=world.h(who))
    assert r.status_code == 200, r.text
    return {row["number"] for row in r.json()["rows"]}


def test_assess_meet_vote_then_dispatch(world):
    c = _registered(world, "C0104")  # 地锁/私设障碍占道: a community-level matter
    number = c["number"]
    assert number in _queue(world, "to_assess")
    url = f"/api/v1/cases/{c['id']}/assessments"
    r = world.client.post(url, headers=world.h("sup"), json={"level": "community", "needs_meeting": True})
    assert r.status_code == 422 and r.json()["field"] == "reason", r.text
    r = world.client.post(url, headers=world.h("worker_a"), json={"reason": "x"})
    assert r.status_code == 403, r.text  # a grid worker does not assess
    r = world.client.post(url, headers=world.h("sup"), json={
        "reason": "地锁涉及多户车位，需居民协商", "level": "community", "needs_meeting": True, "key_case": True})
    assert r.status_code == 200, r.text
    assert number not in _queue(world, "to_assess") and number in _queue(world, "key_cases")
    record = world.client.get(url, headers=world.h("sup")).json()
    assert record[0]["demand_list"] == "property" and record[0]["reason"].startswith("地锁")
    # dispatch waits for the meeting's decision
    r = world.client.post(f"/api/v1/cases/{c['id']}/actions/dispatch", headers=world.h("sup"),
                          json={"unit_id": world.units[0]})
    assert r.status_code == 409 and r.json()["field"] == "meeting", r.text
    r = world.client.post("/api/v1/meetings", headers=world.h("sup"), json={
        "kind": "grid_council", "topic": "消防通道地锁", "held_at": "2026-12-08T19:00", "place": "社区议事厅",
        "cases": [number]})
    assert r.status_code == 201, r.text
    meeting = r.json()
    assert meeting["number"].startswith("YS2026-") and [x["number"] for x in meeting["cases"]] == [number]
    assert meeting["cases"][0]["waits_for_meeting"] is True
    assert world.client.get(f"/api/v1/meetings/{meeting['number']}", headers=world.h("sup_other")).status_code == 403
    decide = f"/api/v1/meetings/{meeting['number']}/decision"
    r = world.client.post(decide, headers=world.h("sup"), json={
        "decision": "拆除地锁", "participants": 20, "votes_for": 18, "votes_against": 2, "votes_abstain": 1})
    assert r.status_code == 422 and r.json()["field"] == "votes_for", r.text  # 21 votes of 20 participants
    r = world.client.post(decide, headers=world.h("sup"), json={
        "decision": "限期拆除地锁，划设公共车位", "participants": 32, "representatives": 12,
        "options": ["全部拆除", "保留两个"], "votes_for": 27, "votes_against": 3, "votes_abstain": 2,
        "follow_ups": [{"category": "C0105", "description": "施划消防通道标线"}]})
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["status"] == "decided" and done["votes_for"] == 27 and done["options"] == ["全部拆除", "保留两个"]
    assert len(done["follow_ups"]) == 1 and done["follow_ups"][0]["status"] == "registered"
    assert done["cases"][0]["waits_for_meeting"] is False
    case = world.act("sup", c["id"], "dispatch", unit_id=world.units[0])
    assert case["status"] == "dispatched"
    listed = world.client.get("/api/v1/meetings?status=decided", headers=world.h("sup")).json()
    assert meeting["number"] in {m["number"] for m in listed}
    # the pages: the meeting with its vote and follow-up; the list with the case among 重难点
    html = world.client.get(f"/desk/meetings/{meeting['number']}", headers=world.h("sup")).text
    assert "限期拆除地锁" in html and "27" in html and done["follow_ups"][0]["number"] in html
    html = world.client.get("/desk/meetings", headers=world.h("sup")).text
    assert meeting["number"] in html and number in html
    # the case page's 研判 panel: the record and the meeting
    f = world.client.get(f"/api/v1/desk/cases/{number}", headers=world.h("sup")).json()["assessment"]
    assert f["key_case"] is True and f["meetings"][0]["number"] == meeting["number"]
    assert f["waits_for_meeting"] is False and f["form"] is None  # dispatched: nothing to assess now


def test_escalation_by_assessment_reroutes(world):
    c = world.report("worker_a", category="C0103")  # 电动车私拉电线充电: a grid-level matter
    world.act("worker_a", c["id"], "register")
    assert c["number"] not in _queue(world, "to_assess")  # a grid matter waits for no 研判
    form = world.client.get(f"/api/v1/desk/cases/{c['number']}", headers=world.h("sup")).json()["assessment"]["form"]
    assert form["suggested"] == "safety" and "department" in form["levels"]
    r = world.client.post(f"/api/v1/cases/{c['id']}/assessments", headers=world.h("sup"), json={
        "reason": "整栋楼私拉电线，需供电所处理", "level": "department", "petition": True, "kind": "special"})
    assert r.status_code == 200, r.text
    assert r.json()["level"] == "department"
    with transaction(session_factory(world.engine)) as s:
        case = s.get(Case, c["id"])
        assert (case.level, case.escalations, case.petition, case.demand_list) == ("department", 1, True, "safety")
        a = s.scalars(select(CaseAssessment).where(CaseAssessment.case_id == case.id)).one()
        assert a.event_id is not None and a.kind == "special"
    timeline = world.client.get(f"/api/v1/desk/cases/{c['number']}", headers=world.h("sup")).json()["timeline"]
    step = next(s for s in timeline if s["action"] == "assess")
    assert "升级" in step["note"] and step["level"] == "department"
    assert c["number"] in _queue(world, "petitions") and c["number"] in _queue(world, "petitions", "subd")
    # the grid worker may no longer dispatch it (not a grid matter any more); bad input names its field
    world.act("worker_a", c["id"], "dispatch", expect=403)
    r = world.client.post(f"/api/v1/cases/{c['id']}/assessments", headers=world.h("sup"),
                          json={"reason": "x", "demand_list": "nope"})
    assert r.status_code == 422 and r.json()["field"] == "demand_list"


def test_cli_plans_and_decides(world, tmp_path):
    c = _registered(world, "C0111")
    with transaction(session_factory(world.engine)) as s:
        code = s.scalar(select(Community.code).join(Grid, Grid.community_id == Community.id)
                        .where(Grid.id == world.grid_a))

    def run(*args):
        return CliRunner().invoke(cli, [*args, "--database", world.url])

    r = run("meetings", "add", "--community", code, "--kind", "stool", "--topic", "占用公共车位", "--case",
            c["number"])
    assert r.exit_code == 0, r.output
    number = r.stdout.split()[-1]
    r = run("meetings", "decide", number, "--decision", "恢复公共车位", "--participants", "10", "--for", "11")
    assert r.exit_code != 0 and len(r.stderr.strip().splitlines()) >= 1 and "participants" in r.stderr
    r = run("meetings", "decide", number, "--decision", "恢复公共车位", "--participants", "12", "--for", "10",
            "--against", "1", "--follow-up", "C0111:清理占用车位")
    assert r.exit_code == 0 and "follow-up cases" in r.stdout, r.output
    r = run("meetings", "list", "--status", "decided")
    assert r.stdout.splitlines()[0].startswith("number\t") and number in r.stdout
    with transaction(session_factory(world.engine)) as s:
        roles = sorted(s.scalars(select(MeetingLink.role).join(Case, Case.id == MeetingLink.case_id)
                                 .where(Case.id.is_not(None), MeetingLink.meeting_id.in_(
                                     select(MeetingLink.meeting_id).where(MeetingLink.case_id == c["id"])))))
        assert roles == ["follow_up", "topic"]
    bad = tmp_path / "lists.csv"
    bad.write_text("code,name_zh,name_en,categories\nsafety,安全,Safety,E04\nfire,消防,Fire,E04\n", encoding="utf-8")
    r = run("meetings", "lists", "--check", str(bad))
    assert r.exit_code != 0 and "E04 is already in the list 'safety'" in r.stderr and "other" in r.stderr
    r = run("meetings", "lists")
    assert r.exit_code == 0 and "demand\tparty\t党建" in r.stdout and "网格协商议事会" in r.stdout


def test_the_demo_step(world):
    """The demo's 议事 on the small test city (no simulated month): an assessed 重难点 case, a decided meeting with
    a vote and a follow-up case; a second run does nothing."""
    from patrol.core.models import Meeting
    from patrol.simulate.people_meetings import simulate_deliberation

    with transaction(session_factory(world.engine)) as s:
        line = simulate_deliberation(s, world.settings)
    assert line and "议事" in line
    with transaction(session_factory(world.engine)) as s:
        assert simulate_deliberation(s, world.settings) is None
        m = s.scalars(select(Meeting).where(Meeting.simulated.is_(True))).one()
        assert (m.status, m.votes_for, m.votes_against, m.votes_abstain, m.participants) == ("decided", 31, 3, 2, 36)
        links = s.execute(select(MeetingLink.role, Case).join(Case, Case.id == MeetingLink.case_id)
                          .where(MeetingLink.meeting_id == m.id)).all()
        topic = next(c for r, c in links if r == "topic")
        assert topic.key_case and topic.level == "community" and topic.simulated
        assert topic.status in ("dispatched", "registered")  # dispatched unless nobody is responsible there
        assert [c.status for r, c in links if r == "follow_up"] == ["registered"]
