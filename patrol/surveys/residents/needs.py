"""Needs of households (民情台账): record one, list them, move one forward (open → in progress → resolved)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from patrol.core.auth import Actor
from patrol.core.errors import Conflict, InvalidInput, NotFound
from patrol.core.models import (
    NEED_STATUSES,
    NEED_TYPES,
    Building,
    Grid,
    Household,
    ResidentNeed,
)
from patrol.core.settings import Settings
from patrol.surveys.residents.access import (
    audit,
    grid_in_scope,
    household_in_scope,
    local_today,
    personal_scope,
    require_personal_role,
)
from patrol.surveys.residents.fields import (
    clean_need,
)
from patrol.surveys.residents.register import (
    NEED_MOVES,
    need_dict,
)


def add_need(session: Session, actor: Actor, household_id: int, data: dict, *, via: str,
             visit_id: int | None = None, now: dt.datetime | None = None, settings: Settings | None = None) -> dict:
    """Record a need ``{type, detail}`` of a household (status ``open``); audited ``create``. Its responsible is
    the worker of the building's grid and, given ``settings``, it is due ``need_due_days`` later (issue 22)."""
    h, b = household_in_scope(session, actor, household_id)
    need = clean_need(data)
    now = now or dt.datetime.now(dt.UTC)
    worker = session.scalar(select(Grid.worker_id).where(Grid.id == b.grid_id)) if b.grid_id is not None else None
    due = local_today(settings, now) + dt.timedelta(days=settings.need_due_days) if settings is not None else None
    n = ResidentNeed(household_id=h.id, visit_id=visit_id, type=need["type"], detail=need["detail"], status="open",
                     created_by=actor.user_id, created_at=now, responsible_id=worker, due_on=due)
    session.add(n)
    session.flush()
    audit(session, actor, "create", via, [(h.id, None)])
    return need_dict(n, h, b)


def list_needs(session: Session, actor: Actor, *, via: str, status: str | None = None, type: str | None = None,
               grid_id: int | None = None, household_id: int | None = None, limit: int = 1000) -> list[dict]:
    """The register of needs in ``actor``'s scope, newest first; audited ``list`` (one row per household)."""
    where = personal_scope(actor)
    if status is not None and status not in NEED_STATUSES:
        raise InvalidInput(f"status {status!r} is not a need status; allowed: {', '.join(NEED_STATUSES)}",
                           field="status")
    if type is not None and type not in NEED_TYPES:
        raise InvalidInput(f"type {type!r} is not a need type; allowed: {', '.join(NEED_TYPES)}", field="type")
    if grid_id is not None:
        grid_in_scope(session, actor, grid_id)
        where.append(Building.grid_id == grid_id)
    if household_id is not None:
        household_in_scope(session, actor, household_id)
        where.append(Household.id == household_id)
    if status is not None:
        where.append(ResidentNeed.status == status)
    if type is not None:
        where.append(ResidentNeed.type == type)
    rows = session.execute(
        select(ResidentNeed, Household, Building).join(Household, Household.id == ResidentNeed.household_id)
        .join(Building, Building.id == Household.building_id).where(*where)
        .order_by(ResidentNeed.created_at.desc(), ResidentNeed.id.desc()).limit(limit)).all()
    audit(session, actor, "list", via, ((h.id, None) for _, h, _ in rows))
    return [need_dict(n, h, b) for n, h, b in rows]


def set_need_status(session: Session, actor: Actor, need_id: int, status: str, *, via: str,
                    now: dt.datetime | None = None) -> dict:
    """Move a need forward: open → in_progress → resolved (or open → resolved); ``resolved_at`` is set when it is
    resolved. The same status again changes nothing (a retried request); going back is a conflict."""
    require_personal_role(actor)
    n = session.get(ResidentNeed, need_id)
    if n is None:
        raise NotFound(f"no need {need_id}", field="need_id")
    h, b = household_in_scope(session, actor, n.household_id)
    if status not in NEED_STATUSES:
        raise InvalidInput(f"status {status!r} is not a need status; allowed: {', '.join(NEED_STATUSES)}",
                           field="status")
    if status != n.status:
        if status not in NEED_MOVES[n.status]:
            raise Conflict(f"need {need_id} is {n.status}; it can move to "
                           f"{' or '.join(NEED_MOVES[n.status]) or 'nothing else'}, not back to {status}",
                           field="status")
        n.status = status
        if status == "resolved":
            n.resolved_at = now or dt.datetime.now(dt.UTC)
        session.flush()
    audit(session, actor, "update", via, [(h.id, None)])
    return need_dict(n, h, b)


