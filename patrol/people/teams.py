"""Volunteer teams of a community (和事佬调解队, 平安志愿者, 志愿服务队 …): the team, its members (a user, or a person
without an account: name and phone, personal data) and its tasks (a title, a due day, optionally a case — e.g. the
和事佬 team given a dispute). Scope: :mod:`patrol.people.volunteer_access`."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from patrol.core.auth import Actor
from patrol.core.errors import Conflict, InvalidInput, NotFound
from patrol.core.models import TEAM_KINDS, Case, Community, TeamMember, TeamTask, User, VolunteerTeam
from patrol.people.volunteer_access import (
    communities_read,
    community_of,
    require_read,
    require_write,
    sees_phones,
)

KIND_LABELS = {
    "mediation": {"zh": "和事佬调解队", "en": "Mediation team (和事佬)"},
    "safety": {"zh": "平安志愿者", "en": "Safety volunteers"},
    "service": {"zh": "志愿服务队", "en": "Volunteer service team"},
    "other": {"zh": "其他队伍", "en": "Other team"},
}
LIMITS = {"name": 100, "team_name": 200, "phone": 40, "role_in_team": 40, "title": 200, "note": 2000}
_PHONE = re.compile(r"^\+?[0-9][0-9 -]{2,38}$")


def _text(value: str | None, field: str, *, required: bool = False, limit: int | None = None) -> str | None:
    text = (value or "").strip()
    if not text:
        if required:
            raise InvalidInput(f"{field}: required", field=field)
        return None
    most = limit or LIMITS.get(field, 200)
    if len(text) > most:
        raise InvalidInput(f"{field}: at most {most} characters, got {len(text)}", field=field)
    return text


def clean_phone(value: str | None) -> str | None:
    """A phone as given (digits, spaces, dashes, a leading +), or None; anything else is an InvalidInput."""
    text = (value or "").strip()
    if not text:
        return None
    if not _PHONE.match(text):
        raise InvalidInput(f"phone: {text!r} is not a phone number (digits, spaces, dashes)", field="phone")
    return text


def teams_of(session: Session, community_id: int | None, kind: str | None = None) -> list[dict]:
    """The teams of a community (of every community for None), optionally of one kind: ``[{id, name, kind}]`` for a
    form that names a team (a mediation's team). No scope: the caller's form is scoped already."""
    q = select(VolunteerTeam.id, VolunteerTeam.name, VolunteerTeam.kind)
    if community_id is not None:
        q = q.where(VolunteerTeam.community_id == community_id)
    if kind is not None:
        q = q.where(VolunteerTeam.kind == kind)
    return [{"id": i, "name": n, "kind": k} for i, n, k in session.execute(q.order_by(VolunteerTeam.name,
                                                                                       VolunteerTeam.id))]


def create_team(session: Session, actor: Actor, *, community_id: int, name: str, kind: str,
                note: str | None = None) -> dict:
    community_of(session, community_id)
    require_write(session, actor, community_id)
    if kind not in TEAM_KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(TEAM_KINDS)}, got {kind!r}", field="kind")
    title = _text(name, "name", required=True, limit=LIMITS["team_name"])
    if session.scalar(select(VolunteerTeam.id).where(VolunteerTeam.community_id == community_id,
                                                     VolunteerTeam.name == title)) is not None:
        raise Conflict(f"the community has a team named {title!r} already", field="name")
    team = VolunteerTeam(community_id=community_id, name=title, kind=kind, note=_text(note, "note"))
    session.add(team)
    session.flush()
    return team_out(session, actor, team)


def team_in_scope(session: Session, actor: Actor, team_id: int, *, write: bool = False) -> VolunteerTeam:
    team = session.get(VolunteerTeam, team_id)
    if team is None:
        raise NotFound(f"no volunteer team {team_id}", field="team_id")
    (require_write if write else require_read)(session, actor, team.community_id)
    return team


def list_teams(session: Session, actor: Actor, *, community_id: int | None = None, kind: str | None = None,
               today: dt.date | None = None) -> list[dict]:
    """The teams in the caller's scope (of one community, one kind) with their members and open tasks."""
    allowed = communities_read(session, actor)
    q = select(VolunteerTeam)
    if community_id is not None:
        require_read(session, actor, community_id)
        q = q.where(VolunteerTeam.community_id == community_id)
    elif allowed is not None:
        q = q.where(VolunteerTeam.community_id.in_(allowed))
    if kind is not None:
        q = q.where(VolunteerTeam.kind == kind)
    return [team_out(session, actor, t, today=today)
            for t in session.scalars(q.order_by(VolunteerTeam.community_id, VolunteerTeam.name, VolunteerTeam.id))]


def team_out(session: Session, actor: Actor, team: VolunteerTeam, *, today: dt.date | None = None) -> dict:
    phones = sees_phones(actor, team.community_id)
    members = session.scalars(select(TeamMember).where(TeamMember.team_id == team.id)
                              .order_by(TeamMember.active.desc(), TeamMember.id)).all()
    tasks = session.execute(select(TeamTask, Case.number).outerjoin(Case, Case.id == TeamTask.case_id)
                            .where(TeamTask.team_id == team.id, TeamTask.done_at.is_(None))
                            .order_by(TeamTask.due_on.is_(None), TeamTask.due_on, TeamTask.id)).all()
    done = session.scalar(select(func.count()).select_from(TeamTask).where(TeamTask.team_id == team.id,
                                                                            TeamTask.done_at.is_not(None)))
    community = session.get(Community, team.community_id) if team.community_id is not None else None
    return {"id": team.id, "name": team.name, "kind": team.kind, "kind_label": KIND_LABELS[team.kind],
            "note": team.note, "community_id": team.community_id,
            "community": community.name if community is not None else None,
            "members": [member_out(m, phones) for m in members],
            "active_members": sum(1 for m in members if m.active),
            "open_tasks": [task_out(t, number, today) for t, number in tasks], "done_tasks": done or 0}


def member_out(m: TeamMember, phones: bool) -> dict:
    out = {"id": m.id, "team_id": m.team_id, "name": m.name, "user_id": m.user_id, "role_in_team": m.role_in_team,
           "active": m.active}
    if phones:
        out["phone"] = m.phone
    return out


def task_out(t: TeamTask, case_number: str | None, today: dt.date | None = None) -> dict:
    out = {"id": t.id, "team_id": t.team_id, "title": t.title, "due_on": t.due_on, "done_at": t.done_at,
           "case": case_number, "note": t.note}
    if today is not None:
        out["overdue"] = t.done_at is None and t.due_on is not None and t.due_on < today
    return out


def add_member(session: Session, actor: Actor, team_id: int, *, name: str | None = None, phone: str | None = None,
               role_in_team: str | None = None, username: str | None = None) -> dict:
    """Add a member: a user (``username``; her display name unless ``name`` is given) or a person (``name``)."""
    team = team_in_scope(session, actor, team_id, write=True)
    user = None
    if username:
        user = session.scalars(select(User).where(User.username == username.strip())).first()
        if user is None:
            raise InvalidInput(f"no user {username!r}", field="username")
        if session.scalar(select(TeamMember.id).where(TeamMember.team_id == team.id,
                                                      TeamMember.user_id == user.id)) is not None:
            raise Conflict(f"{user.display_name} is a member of {team.name} already", field="username")
    person = _text(name, "name", required=user is None) or (user.display_name[:LIMITS["name"]] if user else "")
    member = TeamMember(team_id=team.id, user_id=user.id if user else None, name=person, phone=clean_phone(phone),
                        role_in_team=_text(role_in_team, "role_in_team"), active=True)
    session.add(member)
    session.flush()
    return member_out(member, sees_phones(actor, team.community_id))


def set_member_active(session: Session, actor: Actor, team_id: int, member_id: int, active: bool) -> dict:
    team = team_in_scope(session, actor, team_id, write=True)
    member = session.get(TeamMember, member_id)
    if member is None or member.team_id != team.id:
        raise NotFound(f"no member {member_id} in team {team_id}", field="member_id")
    member.active = active
    session.flush()
    return member_out(member, sees_phones(actor, team.community_id))


def add_task(session: Session, actor: Actor, team_id: int, *, title: str, due_on: dt.date | None = None,
             case: str | None = None, note: str | None = None) -> dict:
    """Give the team a task; ``case``: the number of a case it is for (a dispute for the 和事佬 team)."""
    team = team_in_scope(session, actor, team_id, write=True)
    case_row = None
    if case:
        case_row = session.scalars(select(Case).where(Case.number == case.strip())).first()
        if case_row is None:
            raise InvalidInput(f"no case numbered {case!r}", field="case")
    task = TeamTask(team_id=team.id, title=_text(title, "title", required=True) or "",
                    case_id=case_row.id if case_row else None, due_on=due_on, note=_text(note, "note"))
    session.add(task)
    session.flush()
    return task_out(task, case_row.number if case_row else None)


def finish_task(session: Session, actor: Actor, task_id: int, *, now: dt.datetime | None = None) -> dict:
    """Mark a task done (again: no change)."""
    task = session.get(TeamTask, task_id)
    if task is None:
        raise NotFound(f"no team task {task_id}", field="task_id")
    team_in_scope(session, actor, task.team_id, write=True)
    if task.done_at is None:
        task.done_at = now or dt.datetime.now(dt.UTC)
        session.flush()
    number = session.scalar(select(Case.number).where(Case.id == task.case_id)) if task.case_id else None
    return task_out(task, number)
