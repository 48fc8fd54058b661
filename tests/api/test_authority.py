"""One rule for who may act: for every (role, status, ownership) the actions that
:func:`patrol.cases.authority.allowed_actions` lists are exactly those :func:`patrol.cases.service.transition`
carries out, on both databases. Each action is tried in a savepoint that is rolled back, so the cases stay put."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from sqlalchemy import select

from patrol.cases import service as svc
from patrol.cases.authority import allowed_actions
from patrol.cases.lifecycle import ACTIONS, Status, actions_from
from patrol.core.auth import SYSTEM, actor_for
from patrol.core.db import session_factory
from patrol.core.errors import Conflict, Forbidden
from patrol.core.models import Case, User

ROLES = ("admin", "sup", "worker_a", "dept1", "planner")  # sup_other, worker_b, dept2 are the "other" ownerships
WHERE = ("a", "other")  # the case in worker_a's grid and sup's community, or in another community and grid
HOLDER = ("worker_a", "dept1")  # assigned to worker_a, or dispatched to dept1's unit
LEVEL = ("grid", "department")  # the grid level (a grid worker's own cases), the top level (no escalation above)
OWNERSHIPS = list(itertools.product(WHERE, HOLDER, LEVEL))
FUTURE = dt.timedelta(days=30)  # deadlines far ahead, so that no case is escalated on the way


def _args(world, action: str, other_case: int) -> dict:
    """What each action needs besides the actor, so that only authority (or the loop itself) can refuse it."""
    return {"reject": {"note": "不属实"}, "return": {"note": "非本单位职责"}, "rework": {"note": "未修好"},
            "suspend": {"note": "待材料"}, "urge": {"note": "请加快办理"}, "dispatch": {"unit_id": world.units[0]},
            "whistle": {"units": [world.units[0], world.units[1]]}, "rate": {"rating": 5},
            "merge": {"duplicate_of": other_case}, "assess": {"note": "社区层面处理"}}.get(action, {})


def _case(s, world, status: str, where: str, holder: str, level: str) -> int:
    """A case in ``status`` with the given ownership, its fields set as the loop would have left them."""
    point = world.point_a if where == "a" else world.point_other
    case = svc.create_case(s, SYSTEM, world.settings, client_id=None, category="C0103", lon=point[0],
                           lat=point[1]).case
    now = dt.datetime.now(dt.UTC)
    case.status, case.level = status, level
    case.assignee_id = world.users["worker_a"] if holder == "worker_a" else None
    case.unit_id = world.units[0] if holder == "dept1" else None
    case.deadline_at = None if status == Status.SUSPENDED else now + FUTURE
    if status == Status.SUSPENDED:
        case.suspended_from, case.remaining_hours = Status.DISPATCHED, 4.0
    if status in (Status.HANDLED, Status.VERIFIED, Status.CLOSED):
        case.handled_at = now
    if status == Status.CLOSED:
        case.closed_at, case.closed_on_time = now, True
    s.flush()
    return case.id


@pytest.mark.parametrize("status", list(Status))
@pytest.mark.parametrize("role", ROLES)
def test_allowed_actions_agree_with_transition(world, role, status):
    tried = 0
    with session_factory(world.engine)() as s:
        other = _case(s, world, Status.REPORTED, "a", "worker_a", "grid")
        actor = actor_for(s, s.scalars(select(User).where(User.username == role)).one())
        for where, holder, level in OWNERSHIPS:
            case_id = _case(s, world, status, where, holder, level)
            allowed = allowed_actions(actor, s.get(Case, case_id))
            assert set(allowed) <= set(actions_from(status))
            for action in ACTIONS:
                sp = s.begin_nested()
                try:
                    svc.transition(s, actor, world.settings, case_id, action, **_args(world, action, other))
                    done, why = True, None
                except (Forbidden, Conflict) as exc:
                    done, why = False, exc.message
                finally:
                    sp.rollback()
                    s.expire_all()
                tried += 1
                assert done == (action in allowed), (role, status, where, holder, level, action, why)
        s.rollback()
    assert tried == len(OWNERSHIPS) * len(ACTIONS)


def test_the_matrix_is_not_trivial(world):
    """Every role is allowed something somewhere and refused something somewhere (a check that can fail)."""
    with session_factory(world.engine)() as s:
        cases = [s.get(Case, _case(s, world, st, *own)) for st in (Status.REPORTED, Status.DISPATCHED,
                                                                      Status.HANDLED) for own in OWNERSHIPS]
        for role in ROLES:
            actor = actor_for(s, s.scalars(select(User).where(User.username == role)).one())
            listed = [allowed_actions(actor, c) for c in cases]
            if role == "planner":
                assert not any(listed)
            else:  # admins too: no escalation above the department level
                assert any(listed), role
                assert any(set(a) != set(actions_from(c.status)) for a, c in zip(listed, cases, strict=True)), role
        s.rollback()
