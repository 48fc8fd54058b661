"""The shipped rules follow the seeds, on both databases (the world's Monaco: 城管, power, greening and a mediation
committee; no property company, no community office):

- 邻里纠纷 C0115: the grid worker mediates; overdue, it goes to the community's mediation committee (人民调解委员会),
  never to the property company or 城管, and it climbs no higher than the community (小事不出网格，大事不出社区);
- 重点人员关怀 C0116: grid, then the community office; escalation (by deadline or by hand) stops at the community;
- 占道经营 … E0501–E0504: the worker persuades; handled at grid level it is recorded as 劝导成功, on the spot too;
  when persuasion fails (her step, or the deadline) it goes straight from the grid to the department level and is
  dispatched to 城管, skipping the community.
Everything runs in one rolled-back session: the shared world is left as it was.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from patrol.cases import service as svc
from patrol.cases.authority import allowed_actions
from patrol.cases.responsibility import rules_for
from patrol.core.auth import actor_for
from patrol.core.db import session_factory
from patrol.core.errors import Conflict, Forbidden
from patrol.core.models import Case, CaseEvent, User

LATER = dt.timedelta(days=30)


def _actors(s, *names):
    return [actor_for(s, s.scalars(select(User).where(User.username == n)).one()) for n in names]


def _with_worker(s, world, worker, category: str) -> Case:
    """A case of ``category`` in grid A, registered and dispatched to its worker (grid level)."""
    case = svc.create_case(s, worker, world.settings, client_id=None, category=category, lon=world.point_a[0],
                           lat=world.point_a[1]).case
    for action in ("register", "dispatch", "accept"):
        svc.transition(s, worker, world.settings, case.id, action)
    assert case.level == "grid" and case.assignee_id == worker.user_id
    return case


def _overdue(s, world, case: Case) -> bool:
    return svc.escalate_if_overdue(s, case, world.settings, now=case.deadline_at + LATER)


def test_a_dispute_goes_to_mediation_and_stays_in_the_community(world):
    with session_factory(world.engine)() as s:
        worker, sup = _actors(s, "worker_a", "sup")
        assert rules_for(s, "C0115", "grid")[0].category == "C0115"  # the worker mediates (一名网格员就是一名调解员)
        # the rules end before the catch-all's property company (and no department rule is ever reached)
        assert [r.unit_type for r in rules_for(s, "C0115", "community")] == ["mediation", "community_office"]
        assert "property" in [r.unit_type for r in rules_for(s, "C0103", "community")]
        case = _with_worker(s, world, worker, "C0115")
        assert _overdue(s, world, case)
        assert (case.level, case.status, case.escalations) == ("community", "registered", 1)
        svc.transition(s, sup, world.settings, case.id, "dispatch")
        assert case.unit_id == world.units[3]  # the mediation committee, not 物业 or 城管
        note = s.scalars(select(CaseEvent.note).where(CaseEvent.case_id == case.id, CaseEvent.action == "dispatch")
                         .order_by(CaseEvent.id.desc())).first()
        assert "人民调解委员会" in note
        # overdue again at the community: it stays there, and nobody can raise it by hand either
        assert not _overdue(s, world, case)
        assert case.level == "community" and "escalate" not in allowed_actions(sup, case)
        with pytest.raises(Conflict, match="top"):
            svc.transition(s, sup, world.settings, case.id, "escalate")
        s.rollback()


def test_care_stays_with_grid_and_community(world):
    with session_factory(world.engine)() as s:
        worker, sup, admin = _actors(s, "worker_a", "sup", "admin")
        assert [r.unit_type for r in rules_for(s, "C0116", "community")] == ["community_office"]
        case = _with_worker(s, world, worker, "C0116")
        assert "escalate" in allowed_actions(sup, case)
        svc.transition(s, sup, world.settings, case.id, "escalate", note="需社区协调")
        assert case.level == "community"
        assert "escalate" not in allowed_actions(admin, case)
        with pytest.raises(Conflict):
            svc.transition(s, admin, world.settings, case.id, "escalate")
        case.deadline_at = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
        assert not _overdue(s, world, case) and case.level == "community"
        assert case.id not in svc.escalate_overdue(s, world.settings, now=dt.datetime(2026, 1, 6, tzinfo=dt.UTC))
        s.rollback()


def test_street_order_is_persuaded_first_then_goes_to_the_law_enforcement_squad(world):
    with session_factory(world.engine)() as s:
        worker, sup = _actors(s, "worker_a", "sup")
        # persuasion worked: handled at grid level as 劝导成功, also when she handles it on the spot
        case = _with_worker(s, world, worker, "E0501")
        assert "persuade_fail" in allowed_actions(worker, case)
        svc.transition(s, worker, world.settings, case.id, "handle", note="摊主已自行撤离")
        spot = svc.create_self_handled(s, worker, world.settings, client_id=None, category="E0503",
                                       lon=world.point_a[0], lat=world.point_a[1]).case
        notes = dict(s.execute(select(CaseEvent.case_id, CaseEvent.note).where(
            CaseEvent.case_id.in_([case.id, spot.id]), CaseEvent.action == "handle")).all())
        assert notes[case.id] == "劝导成功：摊主已自行撤离" and notes[spot.id].startswith("劝导成功")
        # persuasion failed, her explicit step: from the grid straight to the department level, then 城管
        failed = _with_worker(s, world, worker, "E0502")
        svc.transition(s, worker, world.settings, failed.id, "persuade_fail", note="店主拒不整改")
        assert (failed.level, failed.status, failed.assignee_id) == ("department", "registered", None)
        svc.transition(s, sup, world.settings, failed.id, "dispatch")
        assert failed.unit_id == world.units[0]  # 城管中队
        # the deadline passed while she was persuading: the same way up, with the reason in the timeline
        late = _with_worker(s, world, worker, "E0504")
        assert _overdue(s, world, late) and late.level == "department"
        why = s.scalars(select(CaseEvent.note).where(CaseEvent.case_id == late.id,
                                                     CaseEvent.action == "escalate")).one()
        assert "劝导未果转城管" in why
        # an ordinary matter has no persuasion step, for anyone
        other = _with_worker(s, world, worker, "C0103")
        assert "persuade_fail" not in allowed_actions(worker, other) + allowed_actions(sup, other)
        with pytest.raises(Forbidden, match="persuade"):
            svc.transition(s, worker, world.settings, other.id, "persuade_fail")
        s.rollback()


def test_persuasion_failed_through_the_api(world):
    """The step is an action of the loop like any other: the phone offers it at her stop and posts it; the worker of
    another grid is refused."""
    lon, lat = world.point_a
    case = world.report("worker_a", category="E0501", point=(lon, lat))
    for action in ("register", "dispatch", "accept"):
        world.act("worker_a", case["id"], action)
    world.act("worker_b", case["id"], "persuade_fail", expect=403)
    day = world.client.get("/api/v1/field/today", headers=world.h("worker_a"))
    assert day.status_code == 200, day.text
    stop = next(x for x in day.json()["tasks"]["stops"] if x["case_id"] == case["id"])
    assert stop["actions"] == ["handle", "persuade_fail"]  # the phone's two buttons: 处置完成 (劝导成功), 劝导无效
    out = world.act("worker_a", case["id"], "persuade_fail", note="劝导无效")
    assert (out["level"], out["status"]) == ("department", "registered")


def test_the_demo_step_gives_every_community_a_mediation_committee(world):
    from patrol.core.models import Community, ResponsibleUnit
    from patrol.simulate.people import steps
    from patrol.simulate.people_rules import mediation_committees

    assert mediation_committees in steps()
    with session_factory(world.engine)() as s:
        communities = s.scalars(select(Community.id)).all()
        line = mediation_committees(s, world.settings)
        assert line is not None and str(len(communities)) in line
        made = s.scalars(select(ResponsibleUnit).where(ResponsibleUnit.type == "mediation",
                                                       ResponsibleUnit.name.like("%(模拟)"))).all()
        assert len(made) == len(communities) and all(u.jurisdiction is not None for u in made)
        assert {u.unit_id for u in s.scalars(select(User).where(User.username.like("mediation%")))} \
            == {u.id for u in made}
        assert mediation_committees(s, world.settings) is None  # idempotent
        s.rollback()
