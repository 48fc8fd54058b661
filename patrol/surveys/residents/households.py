"""Households of the register: list (phones masked), detail (in full), create, update, delete; every read and
write audited."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from patrol.core.auth import Actor
from patrol.core.errors import Conflict, NotFound
from patrol.core.models import (
    Building,
    Household,
    HouseholdVisit,
    Resident,
    ResidentNeed,
    Visit,
)
from patrol.core.settings import Settings
from patrol.surveys.residents.access import (
    audit,
    building_in_scope,
    grid_in_scope,
    household_in_scope,
    personal_scope,
    require_personal_role,
)
from patrol.surveys.residents.fields import (
    clean_household,
)
from patrol.surveys.residents.register import (
    Standing,
    household_row,
    iso,
    need_dict,
    resident_dict,
    standing_dict,
    standings,
)


def list_households(session: Session, actor: Actor, *, today: dt.date, settings: Settings, via: str,
                    grid_id: int | None = None, building_id: int | None = None, q: str | None = None,
                    due: bool | None = None, limit: int = 1000) -> list[dict]:
    """Households in ``actor``'s scope (filters: grid, building, text in room / head / a resident's name, due or
    not as of ``today``), phones masked; audited (``list``, one row per household returned)."""
    where = personal_scope(actor)
    if grid_id is not None:
        grid_in_scope(session, actor, grid_id)
        where.append(Building.grid_id == grid_id)
    if building_id is not None:
        building_in_scope(session, actor, building_id, missing=NotFound)
        where.append(Household.building_id == building_id)
    if q and q.strip():
        q = q.strip()
        named = select(Resident.household_id).where(Resident.name.icontains(q, autoescape=True))
        where.append(or_(Household.room.icontains(q, autoescape=True),
                         Household.head_name.icontains(q, autoescape=True), Household.id.in_(named)))
    rows = session.execute(select(Household, Building).join(Building, Building.id == Household.building_id)
                           .where(*where).order_by(Household.building_id, Household.room, Household.id)).all()
    ids = select(Household.id).join(Building, Building.id == Household.building_id).where(*where)
    state = standings(session, ids, today=today, settings=settings)
    shown = [(h, b) for h, b in rows if due is None or state.get(h.id, Standing()).due == due][:limit]
    audit(session, actor, "list", via, ((h.id, None) for h, _ in shown))
    return [household_row(h, b, state.get(h.id)) for h, b in shown]


def household_detail(session: Session, actor: Actor, household_id: int, *, today: dt.date, settings: Settings,
                     via: str, action: str = "read") -> dict:
    """One household in full: residents with full phones, needs, visits (newest first); audited (the household and
    each resident)."""
    h, b = household_in_scope(session, actor, household_id)
    return _detail(session, actor, h, b, today=today, settings=settings, via=via, action=action)


def _detail(session: Session, actor: Actor, h: Household, b: Building, *, today: dt.date, settings: Settings,
            via: str, action: str) -> dict:
    residents = list(session.scalars(select(Resident).where(Resident.household_id == h.id).order_by(Resident.id)))
    needs = session.scalars(select(ResidentNeed).where(ResidentNeed.household_id == h.id)
                            .order_by(ResidentNeed.created_at.desc(), ResidentNeed.id.desc()))
    visits = session.execute(
        select(Visit).join(HouseholdVisit, HouseholdVisit.visit_id == Visit.id)
        .where(HouseholdVisit.household_id == h.id).order_by(Visit.time.desc(), Visit.id.desc()).limit(100)).scalars()
    state = standings(session, select(Household.id).where(Household.id == h.id), today=today, settings=settings)
    audit(session, actor, action, via, [(h.id, None), *((h.id, r.id) for r in residents)])
    return {"id": h.id, "building_id": h.building_id, "grid_id": b.grid_id, "room": h.room, "head_name": h.head_name,
            "phone": h.phone, "members": h.members, "note": h.note, "created_at": iso(h.created_at),
            "updated_at": iso(h.updated_at), **standing_dict(state.get(h.id)),
            "residents": [resident_dict(r, today=today, settings=settings) for r in residents],
            "needs": [need_dict(n) for n in needs],
            "visits": [{"id": v.id, "time": iso(v.time), "worker_id": v.worker_id, "patrol_id": v.patrol_id,
                        "note": v.note} for v in visits]}


def _room_free(session: Session, building_id: int, room: str, household_id: int | None = None) -> None:
    other = session.scalar(select(Household.id).where(Household.building_id == building_id, Household.room == room))
    if other is not None and other != household_id:
        raise Conflict(f"room {room!r} of building {building_id} is in the register already (household {other})",
                       field="room")


def create_household(session: Session, actor: Actor, data: dict, *, today: dt.date, settings: Settings,
                     via: str, now: dt.datetime | None = None) -> dict:
    """Add a household ``{building_id, room, head_name?, phone?, members?, note?}``; 409 when the room is in the
    register already. Returns the detail (audited ``create``)."""
    require_personal_role(actor)
    fields = clean_household(data)
    b = building_in_scope(session, actor, fields["building_id"])
    _room_free(session, b.id, fields["room"])
    now = now or dt.datetime.now(dt.UTC)
    h = Household(**fields, created_at=now, updated_at=now)
    session.add(h)
    session.flush()
    return _detail(session, actor, h, b, today=today, settings=settings, via=via, action="create")


def update_household(session: Session, actor: Actor, household_id: int, data: dict, *, today: dt.date,
                     settings: Settings, via: str, now: dt.datetime | None = None) -> dict:
    """Change the fields given (null clears an optional one); moving it to another building needs that building in
    scope too. Returns the detail (audited ``update``)."""
    h, b = household_in_scope(session, actor, household_id)
    fields = clean_household(data, partial=True)
    if fields.get("building_id", h.building_id) != h.building_id:
        b = building_in_scope(session, actor, fields["building_id"])
    _room_free(session, fields.get("building_id", h.building_id), fields.get("room", h.room), h.id)
    for k, v in fields.items():
        setattr(h, k, v)
    h.updated_at = now or dt.datetime.now(dt.UTC)
    session.flush()
    return _detail(session, actor, h, b, today=today, settings=settings, via=via, action="update")


def delete_household(session: Session, actor: Actor, household_id: int, *, via: str) -> None:
    """Remove a household with its residents, needs and visit links (the visits themselves stay: they were walks
    to the building). The audit trail keeps the ids."""
    h, _ = household_in_scope(session, actor, household_id)
    residents = list(session.scalars(select(Resident.id).where(Resident.household_id == h.id)))
    audit(session, actor, "delete", via, [(h.id, None), *((h.id, r) for r in residents)])
    session.delete(h)
    session.flush()
    session.expire_all()  # residents, needs and links went with it (ON DELETE CASCADE)


