"""The reporter's contact on the desk: a resident's phone from the H5 page, a 12345 order's 诉求人 and 联系电话.

Personal data, as in the residents register (:mod:`patrol.surveys.residents.access`): lists show the phone masked
(:func:`masked`); the case page shows it in full only to the staff of the case's community — its supervisor, the
subdistrict (街道) it lies in, admins — and every such read writes a ``resident_audit`` row naming the case
(``case_id``; household and resident empty). Everyone else who may read the case (its grid worker, the department it
went to, a planner) sees it masked. Public surfaces never read this module.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from patrol.cases.authority import can_read
from patrol.core.auth import Actor
from patrol.core.models import Case, ResidentAudit
from patrol.surveys.residents.access import mask_phone

#: who reads a reporter's contact in full (on the case page of a case in her scope)
FULL_ROLES = ("supervisor", "subdistrict", "admin")


def masked(phone: str | None) -> str | None:
    """The phone as lists show it (138****5678)."""
    return mask_phone(phone)


def _masked_name(name: str | None) -> str | None:
    return None if not name else name[0] + "*" * max(len(name) - 1, 1)


def reporter_contact(session: Session, actor: Actor, case: Case, *, via: str = "desk case page",
                     now: dt.datetime | None = None) -> dict[str, Any] | None:
    """The reporter's name and phone for ``actor`` (module docstring), None when the case has none; a full read is
    audited in the caller's transaction."""
    if not case.contact_phone and not case.contact_name:
        return None
    if actor.role in FULL_ROLES and can_read(actor, case, session):
        session.execute(insert(ResidentAudit), [{
            "at": now or dt.datetime.now(dt.UTC), "actor_id": actor.user_id, "actor": actor.label[:200],
            "action": "read", "household_id": None, "resident_id": None, "via": via[:100], "case_id": case.id}])
        return {"name": case.contact_name, "phone": case.contact_phone, "masked": False}
    return {"name": _masked_name(case.contact_name), "phone": masked(case.contact_phone), "masked": True}
