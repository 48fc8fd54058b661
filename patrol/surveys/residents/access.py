"""Who may read the register, and the log of every read: personal data (names, phones, health, disability, needs)
are read ONLY by the grid worker of the household's building's grid, the 网格长 leading that grid (``grid_lead``),
a 楼栋长 whose micro-grid holds the building (``building_lead``: her buildings only) and the supervisor of that grid's
community (see :mod:`patrol.people.scope`).
:func:`personal_scope` (SQL) and :func:`can_read_person` (one building) are the one place that says so; every read
and write of the register goes through them. Lists mask phones (:func:`mask_phone`). Every read of a record writes
:class:`~patrol.core.models.ResidentAudit` rows in the caller's transaction (:func:`audit`); :func:`audit_trail`
shows them to supervisors and admins."""

from __future__ import annotations

import datetime as dt
import getpass
from collections.abc import Iterable

from sqlalchemy import ColumnElement, Select, and_, insert, or_, select
from sqlalchemy.orm import Session

from patrol.cases import worktime
from patrol.core.auth import Actor
from patrol.core.errors import Forbidden, InvalidInput, NotFound
from patrol.core.models import (
    Building,
    Grid,
    Household,
    ResidentAudit,
)
from patrol.core.settings import Settings

#: The role of the operator at the command line: she has the database itself, so scope does not apply to her, but
#: her reads are audited like anyone's. No token can carry it (users' roles are constrained to ROLES).
CLI_ROLE = "cli"
#: who reads names and phones; a subdistrict user (街道), like a department, an admin or a planner, sees counts only
PERSONAL_ROLES = ("grid_worker", "supervisor", "grid_lead", "building_lead")
PERSONAL_ONLY = ("personal data (民情台账: names, phones, health, needs) are limited to the grid's worker, its 网格长, "
                 "the 楼栋长 of the building and the community's supervisor")
#: the roles whose register scope is a set of grids (the worker's, the grids a 网格长 leads)
GRID_ROLES = ("grid_worker", "grid_lead")
AUDIT_ACTIONS = ("list", "read", "export", "due", "create", "update", "delete")

def cli_actor() -> Actor:
    """The operator at the command line (audited as ``cli:<login>``)."""
    try:
        who = getpass.getuser()
    except (OSError, KeyError):  # no login name in some containers
        who = "operator"
    return Actor(label=f"cli:{who}", role=CLI_ROLE)


def local_today(settings: Settings, now: dt.datetime | None = None) -> dt.date:
    """Today in the city's timezone (due dates are calendar days where the residents live)."""
    return worktime.local_today(settings.timezone, now)




def require_personal_role(actor: Actor) -> None:
    if actor.role == CLI_ROLE:
        return
    if actor.role in (*GRID_ROLES, "building_lead") and actor.user_id is not None:
        return
    if actor.role == "supervisor" and actor.community_id is not None:
        return
    role = actor.role if actor.role in ("admin", "planner", "department", "subdistrict") \
        else f"{actor.role} without a scope"
    raise Forbidden(f"{PERSONAL_ONLY}; a {role} sees counts only (GET /api/v1/surveys/report/visits)", field="role")


def personal_scope(actor: Actor) -> list:
    """WHERE clauses over :class:`Building` restricting a query to the buildings whose households ``actor`` may read:
    a grid worker's grids (a 网格长's: the grids she leads); a 楼栋长's buildings (those of her micro-grids); a
    supervisor's community (the building's grid's community, or the building's own community when it lies in no
    grid). Raises Forbidden for every other role."""
    require_personal_role(actor)
    if actor.role == CLI_ROLE:
        return []
    if actor.role in GRID_ROLES:
        return [Building.grid_id.in_(sorted(actor.grid_ids) or [-1])]
    if actor.role == "building_lead":
        return [Building.id.in_(sorted(actor.building_ids) or [-1])]
    grids = select(Grid.id).where(Grid.community_id == actor.community_id)
    return [or_(Building.grid_id.in_(grids),
                and_(Building.grid_id.is_(None), Building.community_id == actor.community_id))]


def can_read_person(actor: Actor, building: Building, session: Session) -> bool:
    """Whether ``actor`` may read (and write) the register of ``building`` — the same rule as :func:`personal_scope`."""
    if actor.role == CLI_ROLE:
        return True
    if actor.role in GRID_ROLES:
        return actor.user_id is not None and building.grid_id is not None and building.grid_id in actor.grid_ids
    if actor.role == "building_lead":
        return actor.user_id is not None and building.id in actor.building_ids
    if actor.role == "supervisor" and actor.community_id is not None:
        if building.grid_id is not None:
            community = session.scalar(select(Grid.community_id).where(Grid.id == building.grid_id))
        else:
            community = building.community_id
        return community is not None and community == actor.community_id
    return False


def outside_scope(actor: Actor, what: str) -> Forbidden:
    where = {"grid_worker": "your grids", "grid_lead": "the grids you lead",
             "building_lead": "your micro-grid's buildings"}.get(actor.role, "your community")
    return Forbidden(f"{what} is outside {where}: {PERSONAL_ONLY}", field=what.split()[0] + "_id")


def building_in_scope(session: Session, actor: Actor, building_id: int, *, missing=InvalidInput) -> Building:
    require_personal_role(actor)
    b = session.get(Building, building_id)
    if b is None:
        raise missing(f"no building {building_id}", field="building_id")
    if not can_read_person(actor, b, session):
        raise outside_scope(actor, f"building {building_id}")
    return b


def household_in_scope(session: Session, actor: Actor, household_id: int) -> tuple[Household, Building]:
    require_personal_role(actor)
    h = session.get(Household, household_id)
    if h is None:
        raise NotFound(f"no household {household_id}", field="household_id")
    b = building_of(session, h)
    if not can_read_person(actor, b, session):
        raise outside_scope(actor, f"household {household_id}")
    return h, b


def building_of(session: Session, h: Household) -> Building:
    """The building a household is in (the foreign key guarantees there is one)."""
    b = session.get(Building, h.building_id)
    assert b is not None, h.building_id
    return b


def grid_in_scope(session: Session, actor: Actor, grid_id: int) -> None:
    require_personal_role(actor)
    if actor.role in GRID_ROLES:
        ok = grid_id in actor.grid_ids
    elif actor.role == "building_lead":  # her buildings, never a whole grid
        ok = False
    elif actor.role == "supervisor":
        ok = session.scalar(select(Grid.community_id).where(Grid.id == grid_id)) == actor.community_id
    else:
        ok = session.get(Grid, grid_id) is not None
        if not ok:
            raise NotFound(f"no grid {grid_id}", field="grid_id")
    if not ok:
        raise outside_scope(actor, f"grid {grid_id}")




def mask_phone(phone: str | None) -> str | None:
    """A phone for lists: the first 3 and last 4 characters kept (13812345678 → 138****5678); a number shorter than
    11 characters keeps only its last 2 (12345 → ***45)."""
    if phone is None:
        return None
    p = phone.strip()
    if len(p) >= 11:
        return p[:3] + "*" * (len(p) - 7) + p[-4:]
    return "*" * max(len(p) - 2, 0) + p[-2:]


def audit(session: Session, actor: Actor, action: str, via: str, pairs: Iterable[tuple[int, int | None]],
           now: dt.datetime | None = None) -> int:
    """Log that ``actor`` did ``action`` on these (household, resident or None) records through ``via``."""
    assert action in AUDIT_ACTIONS, action
    at = now or dt.datetime.now(dt.UTC)
    rows = [{"at": at, "actor_id": actor.user_id, "actor": actor.label[:200], "action": action, "household_id": h,
             "resident_id": r, "via": (via or "?")[:100]} for h, r in dict.fromkeys(pairs)]
    if rows:
        session.execute(insert(ResidentAudit), rows)
    return len(rows)


def scoped_households(actor: Actor, where: list | None = None) -> Select:
    """The ids of the households in ``actor``'s scope (and ``where``), as a one-column select."""
    return (select(Household.id).join(Building, Building.id == Household.building_id)
            .where(*personal_scope(actor), *(where or [])))




def audit_trail(session: Session, actor: Actor, *, household_id: int | None = None,
                resident_id: int | None = None, actor_id: int | None = None, limit: int = 1000) -> list[dict]:
    """Who read or changed which records, newest first — ids and actors, no personal data. An admin sees every row;
    a supervisor the rows of the households now in her community (a deleted household's rows only an admin sees:
    the trail has no link left to its building)."""
    if actor.role not in ("admin", "supervisor", CLI_ROLE) or (actor.role == "supervisor"
                                                                and actor.community_id is None):
        raise Forbidden("the audit trail of personal data is for the community's supervisor and admins",
                        field="role")
    where: list[ColumnElement[bool]] = []
    if actor.role == "supervisor":
        where.append(ResidentAudit.household_id.in_(scoped_households(actor)))
    if household_id is not None:
        where.append(ResidentAudit.household_id == household_id)
    if resident_id is not None:
        where.append(ResidentAudit.resident_id == resident_id)
    if actor_id is not None:
        where.append(ResidentAudit.actor_id == actor_id)
    rows = session.scalars(select(ResidentAudit).where(*where)
                           .order_by(ResidentAudit.at.desc(), ResidentAudit.id.desc()).limit(limit))
    return [{"id": a.id, "at": a.at.isoformat(), "actor_id": a.actor_id, "actor": a.actor, "action": a.action,
             "household_id": a.household_id, "resident_id": a.resident_id, "via": a.via} for a in rows]


