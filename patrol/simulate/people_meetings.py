"""The demo's 研判 and 议事 (issue 22, deliberation), SIMULATED and labelled so: a blocked fire lane (消防通道被地锁和
钢丝绳占用, the seeds' story) is registered, assessed at community level with a reason and marked 重难点 with 议事
first; a 网格协商议事会 of its community — with the month's parking-lock dispute (地锁) on the agenda too when the
month has one — votes on it and decides; a follow-up case is created from the decision and the fire-lane case is
then dispatched. Idempotent: nothing is done when a simulated meeting exists. Works on a city without a simulated
month (it makes its own case, as the system when the community has no supervisor)."""

from __future__ import annotations

import datetime as dt

import shapely
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from patrol.cases import meetings
from patrol.cases.service import create_case, transition
from patrol.core.auth import SYSTEM, Actor, actor_for
from patrol.core.errors import GridPatrolError
from patrol.core.models import Case, Category, Community, Grid, Meeting, User
from patrol.core.settings import Settings
from patrol.core.time import now_utc

FIRE_LANE, LOCKS = "C0105", "C0104"
DISPUTE_WORDS = "地锁拆除"


def _place(session: Session) -> tuple[int, int, float, float] | None:
    """(community id, grid id, lon, lat): the grid of the month's parking dispute, else the first grid."""
    dispute = session.scalars(select(Case).where(Case.simulated.is_(True), Case.category_code == LOCKS,
                                                 Case.description.contains(DISPUTE_WORDS))
                              .order_by(Case.id.desc()).limit(1)).first()
    stmt = select(Grid.id, Grid.community_id, func.ST_AsBinary(Grid.geom)).where(Grid.community_id.is_not(None))
    stmt = stmt.where(Grid.id == dispute.grid_id) if dispute is not None and dispute.grid_id else \
        stmt.order_by(Grid.code)
    row = session.execute(stmt.limit(1)).first()
    if row is None:
        return None
    p = shapely.from_wkb(bytes(row[2])).representative_point()
    return int(row[1]), int(row[0]), p.x, p.y


def _supervisor(session: Session, community_id: int) -> Actor:
    user = session.scalars(select(User).where(User.role == "supervisor", User.community_id == community_id,
                                              User.active.is_(True)).order_by(User.id).limit(1)).first()
    return actor_for(session, user) if user is not None else SYSTEM


def simulate_deliberation(session: Session, settings: Settings) -> str | None:
    if session.scalar(select(Meeting.id).where(Meeting.simulated.is_(True)).limit(1)) is not None:
        return None
    if session.get(Category, FIRE_LANE) is None or session.get(Category, LOCKS) is None:
        return None
    place = _place(session)
    if place is None:
        return None
    community_id, _, lon, lat = place
    actor = _supervisor(session, community_id)
    now = now_utc()
    case = create_case(session, actor, settings, client_id=None, category=FIRE_LANE, lon=lon, lat=lat,
                       description="消防通道被地锁和钢丝绳占用，消防车无法通行（居民反映）(模拟)",
                       now=now - dt.timedelta(hours=3)).case
    case.simulated = True
    transition(session, actor, settings, case.id, "register", now=now - dt.timedelta(hours=3))
    transition(session, actor, settings, case.id, "assess", now=now - dt.timedelta(hours=2),
               note="地锁涉及十余户居民的停车位，拆除需居民协商一致：小事不出网格，大事不出社区，由社区组织议事 (模拟)",
               assess={"level": "community", "demand_list": "safety", "key_case": True, "needs_meeting": True})
    topics = [str(case.number)]
    dispute = session.scalar(select(Case.number).where(Case.simulated.is_(True), Case.category_code == LOCKS,
                                                       Case.community_id == community_id,
                                                       Case.description.contains(DISPUTE_WORDS))
                             .order_by(Case.id.desc()).limit(1))
    if dispute:
        topics.append(dispute)
    code = session.scalar(select(Community.code).where(Community.id == community_id))
    m = meetings.plan_meeting(session, actor, settings, kind="grid_council", topic="消防通道地锁整治 (模拟)",
                              community=code, when=now - dt.timedelta(hours=1), place="社区议事厅 (模拟)",
                              cases=topics, simulated=True)
    meetings.decide(session, actor, settings, str(m.number), participants=36, representatives=14,
                    options=["全部拆除地锁，施划公共车位", "保留地锁，让出消防通道", "维持现状"],
                    decision="七日内由居民自行拆除消防通道上的地锁和钢丝绳，逾期由物业统一拆除；施划消防通道标线，"
                             "设置公共车位按先到先停 (模拟)",
                    votes_for=31, votes_against=3, votes_abstain=2,
                    minutes="第三轮协商。居民代表逐户征求意见后表决通过。(模拟)",
                    follow_ups=[{"category": LOCKS, "description": "拆除消防通道地锁，施划标线（议事决定）(模拟)"}])
    for c in session.scalars(select(Case).where(Case.description.contains(f"议事 {m.number} 决定"))):
        c.simulated = True
    try:
        with session.begin_nested():
            transition(session, actor, settings, case.id, "dispatch")
    except GridPatrolError:  # nobody responsible here: it waits at 待派遣, no longer for the meeting
        pass
    return (f"simulated 议事: {m.number} 网格协商议事会 on the blocked fire lane (31 for, 3 against, 2 abstaining), "
            f"case {case.number} assessed at community level (重难点), {len(topics)} cases on the agenda")
