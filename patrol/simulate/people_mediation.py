"""The demo's mediation and needs (issue 22), labelled simulated: a 邻里纠纷 (C0115) of the month — or a new one —
mediated by its grid's worker with two simulated parties, two sittings and an agreement that hands the case; the
register's needs given their responsible and due date, most answered, some rated by the resident, one turned into
a case. Idempotent: a simulated mediation is its marker. On a city with no simulated month or register it makes the
dispute and one need itself."""

from __future__ import annotations

import datetime as dt
import random
import uuid

import shapely
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from patrol.cases import mediation
from patrol.cases import service as cases
from patrol.core.auth import SYSTEM, actor_for
from patrol.core.errors import GridPatrolError
from patrol.core.models import Building, Case, Category, Grid, Household, Mediation, ResidentNeed, User
from patrol.core.settings import Settings
from patrol.core.time import now_utc
from patrol.simulate.names import NameMaker
from patrol.surveys.residents import needs_loop

NAMESPACE = uuid.UUID("6f1c8f52-3c3e-4c55-9a43-2f6c0e5d7a22")  # the demo's client ids, the same on every run
ANSWERS = ("已联系相关部门，本周内上门处理", "已告知办理流程和所需材料", "已纳入社区助老服务名单", "已协调物业维修",
           "已转交街道民政办，正在办理")


def _dispute(session: Session, settings: Settings, now: dt.datetime) -> Case | None:
    """An open C0115 of the month in a grid with a worker, dispatched to her; else a new one."""
    found = session.scalars(select(Case).join(Grid, Grid.id == Case.grid_id).where(
        Case.category_code == "C0115", Case.status.in_(("dispatched", "accepted")), Grid.worker_id.is_not(None),
        Case.assignee_id == Grid.worker_id, ~Case.id.in_(select(Mediation.case_id))).order_by(Case.id)).first()
    if found is not None:
        return found
    grid = session.scalars(select(Grid).where(Grid.worker_id.is_not(None)).order_by(Grid.id)).first()
    if grid is None or session.get(Category, "C0115") is None:
        return None
    point = shapely.from_wkb(bytes(session.scalar(select(func.ST_AsBinary(Grid.geom)).where(Grid.id == grid.id))))
    p = point.representative_point()
    case = cases.create_case(session, SYSTEM, settings, client_id=str(uuid.uuid5(NAMESPACE, "dispute")),
                             category="C0115", lon=p.x, lat=p.y, description="楼上漏水引发邻里纠纷 (模拟)",
                             channel="staff", now=now - dt.timedelta(days=3)).case
    case.simulated = True
    for action in ("register", "dispatch"):
        cases.transition(session, SYSTEM, settings, case.id, action, now=now - dt.timedelta(days=3),
                         assignee_id=grid.worker_id if action == "dispatch" else None)
    return case


def _mediate(session: Session, settings: Settings, case: Case, rng: random.Random, now: dt.datetime) -> str:
    worker = session.get(User, session.scalar(select(Grid.worker_id).where(Grid.id == case.grid_id)))
    assert worker is not None
    actor = actor_for(session, worker)
    names = NameMaker(rng)
    phone = "100" + "".join(rng.choice("0123456789") for _ in range(8))
    mediation.open_mediation(session, actor, case.id, parties=[
        {"name": names.labelled(), "phone": phone, "address": "3单元502 (模拟)", "role": "申请人"},
        {"name": names.labelled(), "role": "被申请人", "address": "3单元602 (模拟)"}],
        via="demo", now=now - dt.timedelta(days=2))
    m = session.scalars(select(Mediation).where(Mediation.case_id == case.id)).one()
    m.simulated = True
    for i, (place, note) in enumerate((("楼栋现场", "查看漏水位置，双方各自陈述 (模拟)"),
                                       ("社区调解室", "物业出具检测意见，双方协商赔偿 (模拟)"))):
        mediation.add_session(session, actor, case.id, {
            "client_id": str(uuid.uuid5(NAMESPACE, f"session-{case.id}-{i}")), "place": place, "note": note,
            "at": (now - dt.timedelta(days=2 - i)).isoformat()}, via="demo", now=now)
    out = mediation.close_mediation(session, actor, settings, case.id, {
        "outcome": "agreed", "agreement": "楼上住户一周内修补防水层，承担楼下墙面修复费用 (模拟)",
        "follow_up": "回访修补和赔偿落实情况", "follow_up_on": (now + dt.timedelta(days=14)).date()},
        via="demo", now=now)
    return f"调解: case {case.number} mediated by {worker.display_name}, agreed" + \
        (" and handed" if out["case_handed"] else "")


def _a_need(session: Session, settings: Settings, case: Case, now: dt.datetime) -> None:
    """One simulated household with a need in the dispute's grid, when the register has no need at all."""
    building = session.scalar(select(Building.id).where(Building.grid_id == case.grid_id).order_by(Building.id))
    if building is None:
        return
    h = Household(building_id=building, room="1-1-101 (模拟)", simulated=True)
    session.add(h)
    session.flush()
    session.add(ResidentNeed(household_id=h.id, type="elderly_care", detail="楼道灯不亮，老人夜间出行不便 (模拟)",
                             status="open", created_at=now - dt.timedelta(days=5)))
    session.flush()


def _needs(session: Session, settings: Settings, rng: random.Random, now: dt.datetime) -> str:
    needs = session.scalars(select(ResidentNeed).where(ResidentNeed.case_id.is_(None))
                            .order_by(ResidentNeed.id).limit(400)).all()
    waiting = next((n for n in needs if n.response is None), None)  # it becomes a case
    answered = rated = 0
    for i, n in enumerate(needs):
        b = session.scalar(select(Building).join(Household, Household.building_id == Building.id)
                           .where(Household.id == n.household_id))
        if n.responsible_id is None and b is not None and b.grid_id is not None:
            n.responsible_id = session.scalar(select(Grid.worker_id).where(Grid.id == b.grid_id))
        n.due_on = n.due_on or needs_loop.due_of(n, settings)
        if i % 5 == 4 or n.response is not None or n is waiting:  # one in five still waits for its answer
            continue
        at = min(now, n.created_at + dt.timedelta(days=rng.randint(1, settings.need_due_days + 2)))
        n.response, n.responded_at = rng.choice(ANSWERS) + " (模拟)", at
        n.status = "resolved" if rng.random() < 0.6 else "in_progress"
        n.resolved_at = at if n.status == "resolved" else None
        answered += 1
        if rng.random() < 0.5:
            n.feedback = rng.choices(("satisfied", "basically", "dissatisfied"), (8, 3, 1))[0]
            n.feedback_at = at + dt.timedelta(days=1)
            rated += 1
    session.flush()
    made = _need_case(session, settings, waiting, now) if waiting is not None else None
    return f"民情诉求: {len(needs)} needs assigned, {answered} answered, {rated} rated" + \
        (f", one turned into case {made}" if made else "")


def _need_case(session: Session, settings: Settings, n: ResidentNeed, now: dt.datetime) -> str | None:
    """A waiting need becomes a case, reported by the community's supervisor (else the responsible grid worker);
    None when it cannot be."""
    grid = session.scalar(select(Building.grid_id).join(Household, Household.building_id == Building.id)
                          .where(Household.id == n.household_id))
    community = session.scalar(select(Grid.community_id).where(Grid.id == grid)) if grid else None
    who = session.scalars(select(User).where(User.role == "supervisor", User.community_id == community,
                                             User.active.is_(True)).order_by(User.id)).first() \
        if community else None
    who = who or (session.get(User, n.responsible_id) if n.responsible_id else None)
    if who is None or who.role not in ("grid_worker", "supervisor") or session.get(Category, "B0109") is None:
        return None
    try:
        with session.begin_nested():  # a building outside her grids' shapes: no case, the rest stands
            out = needs_loop.need_to_case(session, actor_for(session, who), settings, n.id, {
                "category": "B0109", "description": "楼道灯不亮，需维修 (模拟)",
                "client_id": str(uuid.uuid5(NAMESPACE, f"need-{n.id}"))}, via="demo", now=now)
    except GridPatrolError:
        return None
    case = session.get(Case, out["case_id"])
    if case is not None:
        case.simulated = True
    return out["case_number"]


def mediation_step(session: Session, settings: Settings) -> str | None:
    """The step of :func:`patrol.simulate.people.steps` (module docstring); None when already done or nothing to
    work on."""
    if session.scalar(select(Mediation.id).where(Mediation.simulated.is_(True)).limit(1)) is not None:
        return None
    now = now_utc()
    rng = random.Random(22)
    case = _dispute(session, settings, now)
    if case is None:
        return None
    lines = [_mediate(session, settings, case, rng, now)]
    if session.scalar(select(ResidentNeed.id).where(ResidentNeed.case_id.is_(None), ResidentNeed.response.is_(None))
                      .limit(1)) is None:  # none waiting (a small city without a register): one to turn into a case
        _a_need(session, settings, case, now)
    lines.append(_needs(session, settings, rng, now))
    return "; ".join(lines)
