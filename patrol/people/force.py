"""网格力量: the people of one community's grids as the desk page shows them — the 网格长 (``Grid.lead_id``), the
grid workers with their grids (``Grid.worker_id``), the 楼栋长 / 微网格员 with their 微网格 in force
(``MicroGrid.leader_id``) — and everything the /desk/people page needs in one dict (teams, roster and month,
communities to choose from)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from patrol.cases import worktime
from patrol.core.auth import Actor
from patrol.core.models import Community, Grid, MicroGrid, User
from patrol.core.settings import Settings
from patrol.people.roster import KIND_LABELS as MEMBER_KINDS
from patrol.people.services import SERVICE_KINDS, month_view, pairing_candidates
from patrol.people.teams import KIND_LABELS as TEAM_KINDS
from patrol.people.teams import list_teams
from patrol.people.volunteer_access import WRITE_ROLES, communities_read, default_community


def grid_people(session: Session, community_id: int) -> dict:
    """The community's 网格长, grid workers and 楼栋长, each with the grids / micro-grids she has (names and posts;
    the work phone a grid worker's public card prints, nothing personal)."""
    grids = session.scalars(select(Grid).where(Grid.community_id == community_id).order_by(Grid.code)).all()
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(
        {g.worker_id for g in grids if g.worker_id} | {g.lead_id for g in grids if g.lead_id} or {-1})))}
    micro = session.execute(select(MicroGrid, User).join(User, User.id == MicroGrid.leader_id).where(
        MicroGrid.plan_id.is_(None), MicroGrid.grid_id.in_([g.id for g in grids] or [-1]))
        .order_by(MicroGrid.code)).all()

    def person(uid: int) -> dict:
        u = users[uid]
        return {"id": u.id, "name": u.display_name, "post": u.post, "work_phone": u.work_phone, "grids": []}

    leads: dict[int, dict] = {}
    workers: dict[int, dict] = {}
    for g in grids:
        label = {"code": g.code, "name": g.name}
        for uid, into in ((g.lead_id, leads), (g.worker_id, workers)):
            if uid is not None and uid in users:
                into.setdefault(uid, person(uid))["grids"].append(label)
    building_leads: dict[int, dict] = {}
    for mg, u in micro:
        entry = building_leads.setdefault(u.id, {"id": u.id, "name": u.display_name, "post": u.post,
                                                 "micro_grids": []})
        entry["micro_grids"].append({"code": mg.code, "name": mg.name, "households": mg.households})
    return {"grids": [{"id": g.id, "code": g.code, "name": g.name} for g in grids],
            "grid_leads": list(leads.values()), "workers": list(workers.values()),
            "unstaffed": [{"code": g.code, "name": g.name} for g in grids if g.worker_id is None],
            "building_leads": list(building_leads.values())}


def people_page(session: Session, actor: Actor, settings: Settings, *, community_id: int | None,
                month: str | None, via: str) -> dict:
    """The data of /desk/people for one community (the caller's own, or one she chose among hers)."""
    cid = default_community(session, actor, community_id)
    allowed = communities_read(session, actor)
    q = select(Community.id, Community.name).order_by(Community.name)
    if allowed is not None:
        q = q.where(Community.id.in_(allowed))
    choices = [{"id": i, "name": n} for i, n in session.execute(q)]
    today = worktime.local_today(settings.timezone)
    return {"community_id": cid, "communities": choices, "can_write": actor.role in WRITE_ROLES,
            "people": grid_people(session, cid),
            "teams": list_teams(session, actor, community_id=cid, today=today),
            "month": month_view(session, actor, settings, community_id=cid, month=month, via=via),
            "candidates": pairing_candidates(session, actor, settings, cid, via=via),
            "team_kinds": TEAM_KINDS, "member_kinds": MEMBER_KINDS, "service_kinds": SERVICE_KINDS,
            "today": today}
