"""Residents of a household: add, read, change, remove; every read and write audited."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from patrol.core.auth import Actor
from patrol.core.errors import NotFound
from patrol.core.models import (
    Household,
    Resident,
)
from patrol.core.settings import Settings
from patrol.surveys.residents.access import (
    audit,
    building_of,
    can_read_person,
    household_in_scope,
    outside_scope,
    require_personal_role,
)
from patrol.surveys.residents.fields import (
    clean_resident,
)
from patrol.surveys.residents.register import (
    resident_dict,
)


def resident_in_scope(session: Session, actor: Actor, resident_id: int) -> Resident:
    require_personal_role(actor)
    r = session.get(Resident, resident_id)
    if r is None:
        raise NotFound(f"no resident {resident_id}", field="resident_id")
    if not can_read_person(actor, building_of(session, household_of(session, r)), session):
        raise outside_scope(actor, f"resident {resident_id}")
    return r


def household_of(session: Session, r: Resident) -> Household:
    """The household a resident belongs to (the foreign key guarantees there is one)."""
    h = session.get(Household, r.household_id)
    assert h is not None, r.household_id
    return h


def resident_out(session: Session, r: Resident, *, today: dt.date, settings: Settings) -> dict:
    h = household_of(session, r)
    return {**resident_dict(r, today=today, settings=settings), "building_id": h.building_id, "room": h.room}


def add_resident(session: Session, actor: Actor, household_id: int, data: dict, *, today: dt.date,
                 settings: Settings, via: str) -> dict:
    """Add a resident to a household; returns her record in full (audited ``create``)."""
    h, _ = household_in_scope(session, actor, household_id)
    fields = clean_resident(data, today=today)
    r = Resident(household_id=h.id, **{"disabled": False, "lives_alone": False, **fields})
    session.add(r)
    session.flush()
    audit(session, actor, "create", via, [(h.id, r.id)])
    return resident_out(session, r, today=today, settings=settings)


def get_resident(session: Session, actor: Actor, resident_id: int, *, today: dt.date, settings: Settings,
                 via: str) -> dict:
    """One resident in full (phone, health, disability); audited ``read``."""
    r = resident_in_scope(session, actor, resident_id)
    audit(session, actor, "read", via, [(r.household_id, r.id)])
    return resident_out(session, r, today=today, settings=settings)


def update_resident(session: Session, actor: Actor, resident_id: int, data: dict, *, today: dt.date,
                    settings: Settings, via: str) -> dict:
    r = resident_in_scope(session, actor, resident_id)
    fields = clean_resident(data, today=today, partial=True)
    for k, v in fields.items():
        setattr(r, k, v)
    session.flush()
    audit(session, actor, "update", via, [(r.household_id, r.id)])
    return resident_out(session, r, today=today, settings=settings)


def delete_resident(session: Session, actor: Actor, resident_id: int, *, via: str) -> None:
    r = resident_in_scope(session, actor, resident_id)
    audit(session, actor, "delete", via, [(r.household_id, r.id)])
    session.delete(r)
    session.flush()


