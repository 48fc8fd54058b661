"""The demo's volunteers (issue 22), labelled simulated: per community a 和事佬 mediation team and a 平安志愿者 team
with simulated members and a task each (the mediation team's for an open 邻里纠纷 case when there is one), 1–2
网格服务专员 per grid from city departments, a few 双报到 units and party members with pledges, pairings with the
register's vulnerable households, and this month's service records — some members without one, so that /desk/people
shows the gap. Idempotent: nothing is made when a simulated team exists already."""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from patrol.cases import worktime
from patrol.core.models import (
    Building,
    Case,
    Community,
    Grid,
    Household,
    Resident,
    ServiceMember,
    ServicePairing,
    ServiceRecord,
    TeamMember,
    TeamTask,
    VolunteerTeam,
)
from patrol.core.settings import Settings
from patrol.simulate.names import SIMULATED, NameMaker

DEPARTMENTS = ("区住建局", "区民政局", "区卫健局", "区城管局", "区市场监管局", "区应急管理局", "区人社局", "区教育局")
UNITS = ("区税务局机关党支部", "供电公司党支部", "区人民医院党总支", "区实验小学党支部", "区邮政分公司党支部")
PLEDGES = ("每月入户走访", "政策咨询", "代办帮办", "义诊", "家电维修", "法律咨询", "助老助餐", "环境整治志愿服务",
           "心理疏导", "就业指导")
KINDS = ("visit", "errand", "repair", "health", "talk", "activity")


def _phone(rng: random.Random) -> str:
    return "100" + "".join(rng.choice("0123456789") for _ in range(8))


def simulate_volunteers(session: Session, settings: Settings) -> str | None:
    """The step: returns its progress line, or None when it ran before or there is no community."""
    if session.scalar(select(VolunteerTeam.id).where(VolunteerTeam.simulated).limit(1)) is not None:
        return None
    communities = session.scalars(select(Community).order_by(Community.id)).all()
    if not communities:
        return None
    rng = random.Random(22)
    names = NameMaker(rng)
    today = worktime.local_today(settings.timezone)
    made = {"teams": 0, "members": 0, "roster": 0, "pairings": 0, "records": 0}
    for community in communities:
        _teams(session, rng, names, community, today, made)
        roster = _roster(session, rng, names, community, made)
        _services(session, rng, settings, community, roster, today, made)
    session.flush()
    return (f"simulated volunteers: {made['teams']} teams with {made['members']} members, {made['roster']} "
            f"网格服务专员 / 双报到 members, {made['pairings']} pairings, {made['records']} services this month")


def _teams(session: Session, rng: random.Random, names: NameMaker, community: Community, today: dt.date,
           made: dict[str, int]) -> None:
    dispute = session.scalar(select(Case.id).join(Grid, Grid.id == Case.grid_id).where(
        Grid.community_id == community.id, Case.category_code == "C0115",
        Case.status.not_in(("closed", "rejected", "duplicate"))).order_by(Case.id).limit(1))
    for kind, name, size in (("mediation", "和事佬调解队", rng.randint(3, 5)), ("safety", "平安志愿者队",
                                                                             rng.randint(4, 6))):
        team = VolunteerTeam(community_id=community.id, name=name + SIMULATED, kind=kind, simulated=True,
                             note="演示数据（模拟）")
        session.add(team)
        session.flush()
        made["teams"] += 1
        for i in range(size):
            session.add(TeamMember(team_id=team.id, name=names.labelled(), phone=_phone(rng),
                                   role_in_team="队长" if i == 0 else "队员", active=True))
            made["members"] += 1
        if kind == "mediation":
            session.add(TeamTask(team_id=team.id, title="调解邻里纠纷" + SIMULATED, case_id=dispute,
                                 due_on=today + dt.timedelta(days=5)))
        else:
            session.add(TeamTask(team_id=team.id, title="夜间治安巡逻" + SIMULATED,
                                 due_on=today + dt.timedelta(days=7)))


def _roster(session: Session, rng: random.Random, names: NameMaker, community: Community,
            made: dict[str, int]) -> list[ServiceMember]:
    grids = session.scalars(select(Grid).where(Grid.community_id == community.id).order_by(Grid.code)).all()
    members = []
    for g in grids:
        for _ in range(rng.randint(1, 2)):
            members.append(ServiceMember(kind="liaison", name=names.labelled(), organisation=rng.choice(DEPARTMENTS),
                                         phone=_phone(rng), community_id=community.id, grid_id=g.id,
                                         pledges="\n".join(rng.sample(PLEDGES, 2)), simulated=True))
    for unit in rng.sample(UNITS, 2):
        members.append(ServiceMember(kind="unit", name=unit + SIMULATED, organisation=unit, phone=_phone(rng),
                                     community_id=community.id, pledges="\n".join(rng.sample(PLEDGES, 3)),
                                     simulated=True))
    for _ in range(2):
        members.append(ServiceMember(kind="party_member", name=names.labelled(), organisation=rng.choice(UNITS),
                                     phone=_phone(rng), community_id=community.id,
                                     pledges="\n".join(rng.sample(PLEDGES, 1)), simulated=True))
    session.add_all(members)
    session.flush()
    made["roster"] += len(members)
    return members


def _vulnerable_households(session: Session, settings: Settings, community: Community, today: dt.date) -> list[int]:
    grids = select(Grid.id).where(Grid.community_id == community.id)
    return list(dict.fromkeys(session.scalars(
        select(Household.id).join(Building, Building.id == Household.building_id)
        .join(Resident, Resident.household_id == Household.id)
        .where(Building.grid_id.in_(grids),
               or_(Resident.birth_year <= today.year - settings.vulnerable_age, Resident.disabled,
                   Resident.lives_alone))
        .order_by(Household.id))))


def _services(session: Session, rng: random.Random, settings: Settings, community: Community,
              roster: list[ServiceMember], today: dt.date, made: dict[str, int]) -> None:
    first = today.replace(day=1)
    days = (today - first).days
    households = _vulnerable_households(session, settings, community, today)
    liaisons = [m for m in roster if m.kind == "liaison"]
    pairs: list[tuple[ServiceMember, int]] = []
    for i, h in enumerate(households[:2 * len(liaisons)]):
        member = liaisons[i % len(liaisons)]
        session.add(ServicePairing(member_id=member.id, household_id=h, since=first - dt.timedelta(days=90)))
        pairs.append((member, h))
    made["pairings"] += len(pairs)
    for member, h in pairs:
        if rng.random() < 0.7:
            session.add(ServiceRecord(member_id=member.id, household_id=h, kind="visit", hours=1.0,
                                      on=first + dt.timedelta(days=rng.randint(0, days)),
                                      note="入户走访，了解近况" + SIMULATED))
            made["records"] += 1
    for member in roster:
        if rng.random() < 0.3:  # some have none yet this month: the page shows the gap
            continue
        for _ in range(rng.randint(1, 2)):
            session.add(ServiceRecord(member_id=member.id, kind=rng.choice(KINDS), hours=rng.choice((1.0, 2.0, 3.0)),
                                      on=first + dt.timedelta(days=rng.randint(0, days)), note="演示服务" + SIMULATED))
            made["records"] += 1
