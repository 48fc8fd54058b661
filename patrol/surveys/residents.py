"""The residents register (民情台账): households, residents, their needs, household visits — and who may read them.

Personal data (names, phones, health, disability, needs) are read ONLY by the grid worker of the household's
building's grid and the supervisor of that grid's community. :func:`personal_scope` (SQL) and
:func:`can_read_person` (one building) are the one place that says so; every read and write below goes through
them. Admins, planners and departments see counts (:func:`visits_report`), never people: a register is only as good
as residents' trust that what they tell their grid worker stays with her.

Every read of a record writes :class:`~patrol.core.models.ResidentAudit` rows — one per household and one per resident
whose data were returned — in the caller's transaction, so that a read is logged exactly when it happened (a failed
request leaves neither the read nor the log). Lists mask phones (:func:`mask_phone`); the detail of one household or
resident, and the supervisor's export, show them in full.

Vulnerable residents (重点人员: 80 or older from the birth year, disabled, or living alone) are visited every
``visit_every_days`` or ``settings.vulnerable_visit_days`` days; a household is due when its last visit (a
:class:`~patrol.core.models.HouseholdVisit`) is older than the smallest frequency among its vulnerable residents.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, func, insert, or_, select
from sqlalchemy.orm import Session

from patrol.cases import worktime
from patrol.core.auth import Actor
from patrol.core.errors import Conflict, Forbidden, ImportFailed, InvalidInput, NotFound
from patrol.core.models import (
    NEED_STATUSES,
    NEED_TYPES,
    Building,
    Grid,
    Household,
    HouseholdVisit,
    Resident,
    ResidentAudit,
    ResidentNeed,
    Visit,
)
from patrol.core.settings import Settings, get_settings
from patrol.surveys.schemas import MAX_CHARS, MAX_MEMBERS, MAX_VISIT_EVERY_DAYS, OLDEST_BIRTH_YEAR

#: The role of the operator at the command line: she has the database itself, so scope does not apply to her, but
#: her reads are audited like anyone's. No token can carry it (users' roles are constrained to ROLES).
CLI_ROLE = "cli"
PERSONAL_ROLES = ("grid_worker", "supervisor")
PERSONAL_ONLY = ("personal data (民情台账: names, phones, health, needs) are limited to the grid's worker and the "
                 "community's supervisor")
AUDIT_ACTIONS = ("list", "read", "export", "due", "create", "update", "delete")
NEED_LABELS = {
    "education": {"zh": "教育", "en": "Education"},
    "medical": {"zh": "医疗", "en": "Medical care"},
    "housing": {"zh": "住房", "en": "Housing"},
    "jobs": {"zh": "就业", "en": "Jobs"},
    "elderly_care": {"zh": "养老", "en": "Elderly care"},
    "other": {"zh": "其他", "en": "Other"},
}
NEED_STATUS_LABELS = {"open": {"zh": "待办", "en": "Open"}, "in_progress": {"zh": "办理中", "en": "In progress"},
                      "resolved": {"zh": "已解决", "en": "Resolved"}}
#: A need moves forward only; setting the status it has is a no-op (a retried PATCH).
NEED_MOVES = {"open": ("in_progress", "resolved"), "in_progress": ("resolved",), "resolved": ()}
REASON_LABELS = {"elderly": {"zh": "高龄", "en": "Aged 80 or over"}, "disabled": {"zh": "残疾", "en": "Disabled"},
                 "lives_alone": {"zh": "独居", "en": "Lives alone"}}
_PHONE = re.compile(r"^\+?[0-9][0-9 ()\-]{2,38}$")


def cli_actor() -> Actor:
    """The operator at the command line (audited as ``cli:<login>``)."""
    import getpass

    try:
        who = getpass.getuser()
    except (OSError, KeyError):  # no login name in some containers
        who = "operator"
    return Actor(label=f"cli:{who}", role=CLI_ROLE)


def local_today(settings: Settings, now: dt.datetime | None = None) -> dt.date:
    """Today in the city's timezone (due dates are calendar days where the residents live)."""
    return worktime.local_today(settings.timezone, now)


# ---------------------------------------------------------------------------------------------- who may read


def _require_personal_role(actor: Actor) -> None:
    if actor.role == CLI_ROLE:
        return
    if actor.role == "grid_worker" and actor.user_id is not None:
        return
    if actor.role == "supervisor" and actor.community_id is not None:
        return
    role = actor.role if actor.role in ("admin", "planner", "department") else f"{actor.role} without a scope"
    raise Forbidden(f"{PERSONAL_ONLY}; a {role} sees counts only (GET /api/v1/surveys/report/visits)", field="role")


def personal_scope(actor: Actor) -> list:
    """WHERE clauses over :class:`Building` restricting a query to the buildings whose households ``actor`` may read:
    a grid worker's grids; a supervisor's community (the building's grid's community, or the building's own
    community when it lies in no grid). Raises Forbidden for every other role."""
    _require_personal_role(actor)
    if actor.role == CLI_ROLE:
        return []
    if actor.role == "grid_worker":
        return [Building.grid_id.in_(sorted(actor.grid_ids) or [-1])]
    grids = select(Grid.id).where(Grid.community_id == actor.community_id)
    return [or_(Building.grid_id.in_(grids),
                and_(Building.grid_id.is_(None), Building.community_id == actor.community_id))]


def can_read_person(actor: Actor, building: Building, session: Session) -> bool:
    """Whether ``actor`` may read (and write) the register of ``building`` — the same rule as :func:`personal_scope`."""
    if actor.role == CLI_ROLE:
        return True
    if actor.role == "grid_worker":
        return actor.user_id is not None and building.grid_id is not None and building.grid_id in actor.grid_ids
    if actor.role == "supervisor" and actor.community_id is not None:
        if building.grid_id is not None:
            community = session.scalar(select(Grid.community_id).where(Grid.id == building.grid_id))
        else:
            community = building.community_id
        return community is not None and community == actor.community_id
    return False


def _outside(actor: Actor, what: str) -> Forbidden:
    where = "your grids" if actor.role == "grid_worker" else "your community"
    return Forbidden(f"{what} is outside {where}: {PERSONAL_ONLY}", field=what.split()[0] + "_id")


def _building_in_scope(session: Session, actor: Actor, building_id: int, *, missing=InvalidInput) -> Building:
    _require_personal_role(actor)
    b = session.get(Building, building_id)
    if b is None:
        raise missing(f"no building {building_id}", field="building_id")
    if not can_read_person(actor, b, session):
        raise _outside(actor, f"building {building_id}")
    return b


def _household_in_scope(session: Session, actor: Actor, household_id: int) -> tuple[Household, Building]:
    _require_personal_role(actor)
    h = session.get(Household, household_id)
    if h is None:
        raise NotFound(f"no household {household_id}", field="household_id")
    b = session.get(Building, h.building_id)
    if not can_read_person(actor, b, session):
        raise _outside(actor, f"household {household_id}")
    return h, b


def _grid_in_scope(session: Session, actor: Actor, grid_id: int) -> None:
    _require_personal_role(actor)
    if actor.role == "grid_worker":
        ok = grid_id in actor.grid_ids
    elif actor.role == "supervisor":
        ok = session.scalar(select(Grid.community_id).where(Grid.id == grid_id)) == actor.community_id
    else:
        ok = session.get(Grid, grid_id) is not None
        if not ok:
            raise NotFound(f"no grid {grid_id}", field="grid_id")
    if not ok:
        raise _outside(actor, f"grid {grid_id}")


# ---------------------------------------------------------------------------------------------- masking, audit


def mask_phone(phone: str | None) -> str | None:
    """A phone for lists: the first 3 and last 4 characters kept (13812345678 → 138****5678); a number shorter than
    11 characters keeps only its last 2 (12345 → ***45)."""
    if phone is None:
        return None
    p = phone.strip()
    if len(p) >= 11:
        return p[:3] + "*" * (len(p) - 7) + p[-4:]
    return "*" * max(len(p) - 2, 0) + p[-2:]


def _audit(session: Session, actor: Actor, action: str, via: str, pairs: Iterable[tuple[int, int | None]],
           now: dt.datetime | None = None) -> int:
    """Log that ``actor`` did ``action`` on these (household, resident or None) records through ``via``."""
    assert action in AUDIT_ACTIONS, action
    at = now or dt.datetime.now(dt.UTC)
    rows = [{"at": at, "actor_id": actor.user_id, "actor": actor.label[:200], "action": action, "household_id": h,
             "resident_id": r, "via": (via or "?")[:100]} for h, r in dict.fromkeys(pairs)]
    if rows:
        session.execute(insert(ResidentAudit), rows)
    return len(rows)


# ---------------------------------------------------------------------------------------------- vulnerability, due


def vulnerability(resident: Resident, today: dt.date, settings: Settings) -> list[str]:
    """Why a resident is vulnerable (重点人员): ``elderly`` (turns ``vulnerable_age`` or more this year — only the
    birth year is recorded), ``disabled``, ``lives_alone``; empty when she is not."""
    reasons = []
    if resident.birth_year is not None and today.year - resident.birth_year >= settings.vulnerable_age:
        reasons.append("elderly")
    if resident.disabled:
        reasons.append("disabled")
    if resident.lives_alone:
        reasons.append("lives_alone")
    return reasons


@dataclass
class Standing:
    """A household's visiting state as of a day: its vulnerable residents (with reasons), how often it is visited,
    its last visit and when the next is due (None when it has no vulnerable resident)."""

    residents: int = 0
    vulnerable: list[tuple[Resident, list[str]]] = field(default_factory=list)
    every_days: int | None = None
    last_visit_at: dt.datetime | None = None
    next_due_on: dt.date | None = None
    days_overdue: int | None = None

    @property
    def due(self) -> bool:
        return self.days_overdue is not None and self.days_overdue >= 0


def _end_of(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=zone)


def standings(session: Session, households: Select, *, today: dt.date, settings: Settings) -> dict[int, Standing]:
    """The :class:`Standing` of every household id selected by ``households`` (a one-column select), as of the end
    of ``today`` in the city's timezone: visits after it do not count, so a past day gives the state of that day.
    Never visited → due on ``today``."""
    zone = ZoneInfo(settings.timezone)
    out: dict[int, Standing] = {}
    for r in session.scalars(select(Resident).where(Resident.household_id.in_(households))
                             .order_by(Resident.household_id, Resident.id)):
        s = out.setdefault(r.household_id, Standing())
        s.residents += 1
        reasons = vulnerability(r, today, settings)
        if reasons:
            s.vulnerable.append((r, reasons))
            every = r.visit_every_days or settings.vulnerable_visit_days
            s.every_days = every if s.every_days is None else min(s.every_days, every)
    last = session.execute(
        select(HouseholdVisit.household_id, func.max(Visit.time)).join(Visit, Visit.id == HouseholdVisit.visit_id)
        .where(HouseholdVisit.household_id.in_(households), Visit.time < _end_of(today, zone))
        .group_by(HouseholdVisit.household_id)).all()
    for hid, t in last:
        s = out.setdefault(hid, Standing())
        s.last_visit_at = t if t is None or t.tzinfo else t.replace(tzinfo=dt.UTC)
    for s in out.values():
        if s.every_days is None:
            continue
        s.next_due_on = today if s.last_visit_at is None else \
            s.last_visit_at.astimezone(zone).date() + dt.timedelta(days=s.every_days)
        s.days_overdue = (today - s.next_due_on).days
    return out


# ---------------------------------------------------------------------------------------------- validation


def _text(data: dict, name: str, max_len: int, problems: list[str], *, required: bool = False) -> str | None:
    value = data.get(name)
    if value is None:
        if required:
            problems.append(f"{name}: required")
        return None
    if not isinstance(value, str):
        problems.append(f"{name}: expected text, got {value!r}")
        return None
    value = value.strip()
    if not value:
        if required:
            problems.append(f"{name}: required")
        return None
    if len(value) > max_len:
        problems.append(f"{name}: at most {max_len} characters, got {len(value)}")
    return value


def _phone(data: dict, name: str, problems: list[str]) -> str | None:
    value = _text(data, name, MAX_CHARS["phone"], problems)
    if value is not None and not _PHONE.match(value):
        problems.append(f"{name}: {value!r} is not a phone number (digits, spaces, +, -, parentheses)")
    return value


def _int(data: dict, name: str, lo: int, hi: int, problems: list[str], what: str = "a whole number") -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        problems.append(f"{name}: {value!r} is not {what} from {lo} to {hi}")
        return None
    return value


def _bool(data: dict, name: str, problems: list[str]) -> bool | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, bool):
        problems.append(f"{name}: expected true or false, got {value!r}")
        return None
    return value


HOUSEHOLD_FIELDS = ("building_id", "room", "head_name", "phone", "members", "note")
RESIDENT_FIELDS = ("name", "phone", "birth_year", "disabled", "disability", "lives_alone", "health",
                   "visit_every_days")


def _unknown(data: dict, allowed: tuple[str, ...], problems: list[str]) -> None:
    for k in data:
        if k not in allowed:
            problems.append(f"{k}: not a field; fields: {', '.join(allowed)}")


def clean_household(data: dict, *, partial: bool = False) -> dict:
    """The household fields of ``data`` checked and stripped (only those given when ``partial``); InvalidInput
    with one detail per problem."""
    problems: list[str] = []
    _unknown(data, HOUSEHOLD_FIELDS, problems)
    out = {}
    if "building_id" in data or not partial:
        b = data.get("building_id")
        if isinstance(b, bool) or not isinstance(b, int):
            problems.append(f"building_id: expected a building id, got {b!r}")
        out["building_id"] = b
    if "room" in data or not partial:
        out["room"] = _text(data, "room", MAX_CHARS["room"], problems, required=True)
    for name in ("head_name", "note"):
        if name in data:
            out[name] = _text(data, name, MAX_CHARS[name], problems)
    if "phone" in data:
        out["phone"] = _phone(data, "phone", problems)
    if "members" in data:
        out["members"] = _int(data, "members", 0, MAX_MEMBERS, problems)
    _raise("household", problems)
    return out


def clean_resident(data: dict, *, today: dt.date, partial: bool = False) -> dict:
    """The resident fields of ``data`` checked and stripped (only those given when ``partial``)."""
    problems: list[str] = []
    _unknown(data, RESIDENT_FIELDS, problems)
    out = {}
    if "name" in data or not partial:
        out["name"] = _text(data, "name", MAX_CHARS["name"], problems, required=True)
    if "phone" in data:
        out["phone"] = _phone(data, "phone", problems)
    if "birth_year" in data:
        out["birth_year"] = _int(data, "birth_year", OLDEST_BIRTH_YEAR, today.year, problems, "a year")
    for name in ("disabled", "lives_alone"):
        if name in data:
            value = _bool(data, name, problems)
            out[name] = bool(value)
    if "disability" in data:
        out["disability"] = _text(data, "disability", MAX_CHARS["disability"], problems)
    if "health" in data:
        out["health"] = _text(data, "health", MAX_CHARS["health"], problems)
    if "visit_every_days" in data:
        out["visit_every_days"] = _int(data, "visit_every_days", 1, MAX_VISIT_EVERY_DAYS, problems)
    _raise("resident", problems)
    return out


def clean_need(data: dict, problems: list[str] | None = None, prefix: str = "") -> dict:
    """A need ``{type, detail}``; a wrong type names the allowed ones."""
    own = problems is None
    problems = [] if own else problems
    kind = data.get("type")
    if kind not in NEED_TYPES:
        problems.append(f"{prefix}type: {kind!r} is not a need type; allowed: {', '.join(NEED_TYPES)}")
    detail = _text(data, "detail", MAX_CHARS["detail"], sub := [], required=True)
    problems += [prefix + p for p in sub]
    if own:
        _raise("need", problems)
    return {"type": kind, "detail": detail}


def _raise(what: str, problems: list[str]) -> None:
    if not problems:
        return
    first = problems[0]
    if len(problems) == 1:
        raise InvalidInput(first, field=first.split(":")[0].split(".")[-1].split("[")[0], details=problems)
    raise InvalidInput(f"the {what} has {len(problems)} problems", field=first.split(":")[0].split("[")[0],
                       details=problems)


# ---------------------------------------------------------------------------------------------- output


def _iso(t: dt.datetime | None) -> str | None:
    if t is None:
        return None
    return (t if t.tzinfo else t.replace(tzinfo=dt.UTC)).isoformat()


def _age(r: Resident, today: dt.date) -> int | None:
    return None if r.birth_year is None else today.year - r.birth_year


def resident_dict(r: Resident, *, today: dt.date, settings: Settings, masked: bool = False) -> dict:
    reasons = vulnerability(r, today, settings)
    return {"id": r.id, "household_id": r.household_id, "name": r.name,
            "phone": mask_phone(r.phone) if masked else r.phone, "birth_year": r.birth_year, "age": _age(r, today),
            "disabled": bool(r.disabled), "disability": r.disability, "lives_alone": bool(r.lives_alone),
            "health": r.health, "visit_every_days": r.visit_every_days, "vulnerable": bool(reasons),
            "reasons": reasons, "every_days": (r.visit_every_days or settings.vulnerable_visit_days) if reasons else None}


def _standing_dict(s: Standing | None) -> dict:
    s = s or Standing()
    return {"residents": s.residents, "vulnerable": len(s.vulnerable), "last_visit_at": _iso(s.last_visit_at),
            "next_due_on": s.next_due_on.isoformat() if s.next_due_on else None, "days_overdue": s.days_overdue,
            "due": s.due}


def _household_row(h: Household, b: Building, s: Standing | None) -> dict:
    return {"id": h.id, "building_id": h.building_id, "grid_id": b.grid_id, "room": h.room, "head_name": h.head_name,
            "phone": mask_phone(h.phone), "members": h.members, **_standing_dict(s)}


def need_dict(n: ResidentNeed, h: Household | None = None, b: Building | None = None) -> dict:
    out = {"id": n.id, "household_id": n.household_id, "type": n.type, "type_label": NEED_LABELS.get(n.type),
           "detail": n.detail, "status": n.status, "status_label": NEED_STATUS_LABELS.get(n.status),
           "visit_id": n.visit_id, "case_id": n.case_id, "created_by": n.created_by,
           "created_at": _iso(n.created_at), "resolved_at": _iso(n.resolved_at)}
    if h is not None:
        out.update({"room": h.room, "head_name": h.head_name, "building_id": h.building_id})
    if b is not None:
        out["grid_id"] = b.grid_id
    return out


# ---------------------------------------------------------------------------------------------- households


def _scoped_households(actor: Actor, where: list | None = None) -> Select:
    return (select(Household.id).join(Building, Building.id == Household.building_id)
            .where(*personal_scope(actor), *(where or [])))


def list_households(session: Session, actor: Actor, *, today: dt.date, settings: Settings, via: str,
                    grid_id: int | None = None, building_id: int | None = None, q: str | None = None,
                    due: bool | None = None, limit: int = 1000) -> list[dict]:
    """Households in ``actor``'s scope (filters: grid, building, text in room / head / a resident's name, due or
    not as of ``today``), phones masked; audited (``list``, one row per household returned)."""
    where = personal_scope(actor)
    if grid_id is not None:
        _grid_in_scope(session, actor, grid_id)
        where.append(Building.grid_id == grid_id)
    if building_id is not None:
        _building_in_scope(session, actor, building_id, missing=NotFound)
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
    if due is not None:
        rows = [(h, b) for h, b in rows if state.get(h.id, Standing()).due == due]
    rows = rows[:limit]
    _audit(session, actor, "list", via, ((h.id, None) for h, _ in rows))
    return [_household_row(h, b, state.get(h.id)) for h, b in rows]


def household_detail(session: Session, actor: Actor, household_id: int, *, today: dt.date, settings: Settings,
                     via: str, action: str = "read") -> dict:
    """One household in full: residents with full phones, needs, visits (newest first); audited (the household and
    each resident)."""
    h, b = _household_in_scope(session, actor, household_id)
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
    _audit(session, actor, action, via, [(h.id, None), *((h.id, r.id) for r in residents)])
    return {"id": h.id, "building_id": h.building_id, "grid_id": b.grid_id, "room": h.room, "head_name": h.head_name,
            "phone": h.phone, "members": h.members, "note": h.note, "created_at": _iso(h.created_at),
            "updated_at": _iso(h.updated_at), **_standing_dict(state.get(h.id)),
            "residents": [resident_dict(r, today=today, settings=settings) for r in residents],
            "needs": [need_dict(n) for n in needs],
            "visits": [{"id": v.id, "time": _iso(v.time), "worker_id": v.worker_id, "patrol_id": v.patrol_id,
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
    _require_personal_role(actor)
    fields = clean_household(data)
    b = _building_in_scope(session, actor, fields["building_id"])
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
    h, b = _household_in_scope(session, actor, household_id)
    fields = clean_household(data, partial=True)
    if fields.get("building_id", h.building_id) != h.building_id:
        b = _building_in_scope(session, actor, fields["building_id"])
    _room_free(session, fields.get("building_id", h.building_id), fields.get("room", h.room), h.id)
    for k, v in fields.items():
        setattr(h, k, v)
    h.updated_at = now or dt.datetime.now(dt.UTC)
    session.flush()
    return _detail(session, actor, h, b, today=today, settings=settings, via=via, action="update")


def delete_household(session: Session, actor: Actor, household_id: int, *, via: str) -> None:
    """Remove a household with its residents, needs and visit links (the visits themselves stay: they were walks
    to the building). The audit trail keeps the ids."""
    h, _ = _household_in_scope(session, actor, household_id)
    residents = list(session.scalars(select(Resident.id).where(Resident.household_id == h.id)))
    _audit(session, actor, "delete", via, [(h.id, None), *((h.id, r) for r in residents)])
    session.delete(h)
    session.flush()
    session.expire_all()  # residents, needs and links went with it (ON DELETE CASCADE)


# ---------------------------------------------------------------------------------------------- residents


def _resident_in_scope(session: Session, actor: Actor, resident_id: int) -> Resident:
    _require_personal_role(actor)
    r = session.get(Resident, resident_id)
    if r is None:
        raise NotFound(f"no resident {resident_id}", field="resident_id")
    h = session.get(Household, r.household_id)
    if not can_read_person(actor, session.get(Building, h.building_id), session):
        raise _outside(actor, f"resident {resident_id}")
    return r


def _resident_out(session: Session, r: Resident, *, today: dt.date, settings: Settings) -> dict:
    h = session.get(Household, r.household_id)
    return {**resident_dict(r, today=today, settings=settings), "building_id": h.building_id, "room": h.room}


def add_resident(session: Session, actor: Actor, household_id: int, data: dict, *, today: dt.date,
                 settings: Settings, via: str) -> dict:
    """Add a resident to a household; returns her record in full (audited ``create``)."""
    h, _ = _household_in_scope(session, actor, household_id)
    fields = clean_resident(data, today=today)
    r = Resident(household_id=h.id, **{"disabled": False, "lives_alone": False, **fields})
    session.add(r)
    session.flush()
    _audit(session, actor, "create", via, [(h.id, r.id)])
    return _resident_out(session, r, today=today, settings=settings)


def get_resident(session: Session, actor: Actor, resident_id: int, *, today: dt.date, settings: Settings,
                 via: str) -> dict:
    """One resident in full (phone, health, disability); audited ``read``."""
    r = _resident_in_scope(session, actor, resident_id)
    _audit(session, actor, "read", via, [(r.household_id, r.id)])
    return _resident_out(session, r, today=today, settings=settings)


def update_resident(session: Session, actor: Actor, resident_id: int, data: dict, *, today: dt.date,
                    settings: Settings, via: str) -> dict:
    r = _resident_in_scope(session, actor, resident_id)
    fields = clean_resident(data, today=today, partial=True)
    for k, v in fields.items():
        setattr(r, k, v)
    session.flush()
    _audit(session, actor, "update", via, [(r.household_id, r.id)])
    return _resident_out(session, r, today=today, settings=settings)


def delete_resident(session: Session, actor: Actor, resident_id: int, *, via: str) -> None:
    r = _resident_in_scope(session, actor, resident_id)
    _audit(session, actor, "delete", via, [(r.household_id, r.id)])
    session.delete(r)
    session.flush()


# ---------------------------------------------------------------------------------------------- needs (民情台账)


def add_need(session: Session, actor: Actor, household_id: int, data: dict, *, via: str,
             visit_id: int | None = None, now: dt.datetime | None = None) -> dict:
    """Record a need ``{type, detail}`` of a household (status ``open``); audited ``create``."""
    h, b = _household_in_scope(session, actor, household_id)
    need = clean_need(data)
    n = ResidentNeed(household_id=h.id, visit_id=visit_id, type=need["type"], detail=need["detail"], status="open",
                     created_by=actor.user_id, created_at=now or dt.datetime.now(dt.UTC))
    session.add(n)
    session.flush()
    _audit(session, actor, "create", via, [(h.id, None)])
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
        _grid_in_scope(session, actor, grid_id)
        where.append(Building.grid_id == grid_id)
    if household_id is not None:
        _household_in_scope(session, actor, household_id)
        where.append(Household.id == household_id)
    if status is not None:
        where.append(ResidentNeed.status == status)
    if type is not None:
        where.append(ResidentNeed.type == type)
    rows = session.execute(
        select(ResidentNeed, Household, Building).join(Household, Household.id == ResidentNeed.household_id)
        .join(Building, Building.id == Household.building_id).where(*where)
        .order_by(ResidentNeed.created_at.desc(), ResidentNeed.id.desc()).limit(limit)).all()
    _audit(session, actor, "list", via, ((h.id, None) for _, h, _ in rows))
    return [need_dict(n, h, b) for n, h, b in rows]


def set_need_status(session: Session, actor: Actor, need_id: int, status: str, *, via: str,
                    now: dt.datetime | None = None) -> dict:
    """Move a need forward: open → in_progress → resolved (or open → resolved); ``resolved_at`` is set when it is
    resolved. The same status again changes nothing (a retried request); going back is a conflict."""
    _require_personal_role(actor)
    n = session.get(ResidentNeed, need_id)
    if n is None:
        raise NotFound(f"no need {need_id}", field="need_id")
    h, b = _household_in_scope(session, actor, n.household_id)
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
    _audit(session, actor, "update", via, [(h.id, None)])
    return need_dict(n, h, b)


# ---------------------------------------------------------------------------------------------- household visits


def check_visit_household(session: Session, building: Building, household_id: int | None,
                          needs: list[dict] | None) -> tuple[Household | None, list[dict]]:
    """Validate the register part of a visit check-in before anything is written: the household must be in the
    visited building; needs need a household and each a valid ``{type, detail}``."""
    needs = needs or []
    if household_id is None:
        if needs:
            raise InvalidInput("needs are recorded for a household: give household_id", field="household_id")
        return None, []
    h = session.get(Household, household_id)
    if h is None:
        raise InvalidInput(f"no household {household_id}", field="household_id")
    if h.building_id != building.id:
        raise InvalidInput(f"household {household_id} is in building {h.building_id}, not in the visited building "
                           f"{building.id}", field="household_id")
    problems: list[str] = []
    clean = [clean_need(n if isinstance(n, dict) else {}, problems, f"needs[{i}].") for i, n in enumerate(needs)]
    _raise("visit", problems)
    return h, clean


def record_household_visit(session: Session, actor: Actor, visit: Visit, household: Household, needs: list[dict],
                           *, via: str = "/api/v1/visits") -> None:
    """Tie a new visit to its household and record the needs raised at it (once: the caller only gets here when
    the visit itself was created, so a retried check-in adds nothing). Audited ``update``."""
    session.add(HouseholdVisit(visit_id=visit.id, household_id=household.id))
    for n in needs:
        session.add(ResidentNeed(household_id=household.id, visit_id=visit.id, type=n["type"], detail=n["detail"],
                                 status="open", created_by=actor.user_id, created_at=visit.time))
    session.flush()
    _audit(session, actor, "update", via, [(household.id, None)])


def visit_register(session: Session, visit_id: int) -> dict:
    """The register part of a visit for its check-in response: its household and the needs raised at it."""
    hid = session.scalar(select(HouseholdVisit.household_id).where(HouseholdVisit.visit_id == visit_id))
    needs = session.scalars(select(ResidentNeed).where(ResidentNeed.visit_id == visit_id).order_by(ResidentNeed.id))
    return {"household_id": hid,
            "needs": [{"id": n.id, "type": n.type, "detail": n.detail, "status": n.status} for n in needs]}


# ---------------------------------------------------------------------------------------------- due visits


def due_visits(session: Session, actor: Actor, *, today: dt.date, settings: Settings | None = None,
               grid_id: int | None = None, via: str = "/api/v1/field/today") -> list[dict]:
    """The households of ``actor``'s scope due a visit on ``today``, most overdue first, each with its vulnerable
    residents (names, masked phones, reasons) and a point in its building for the map:
    ``[{household_id, building_id, grid_id, room, head_name, lon, lat, due_on, days_overdue, last_visit_at,
    every_days, residents: [{id, name, phone, age, reasons, reason_labels}]}]``. Audited ``due`` (the household and
    each resident returned)."""
    settings = settings or get_settings()
    where = personal_scope(actor)
    if grid_id is not None:
        _grid_in_scope(session, actor, grid_id)
        where.append(Building.grid_id == grid_id)
    ids = select(Household.id).join(Building, Building.id == Household.building_id).where(*where)
    state = standings(session, ids, today=today, settings=settings)
    due = {hid: s for hid, s in state.items() if s.due}
    if not due:
        return []
    inside = func.ST_PointOnSurface(Building.geom)
    rows = session.execute(select(Household, Building.grid_id, func.ST_X(inside), func.ST_Y(inside))
                           .join(Building, Building.id == Household.building_id)
                           .where(Household.id.in_(sorted(due)))).all()
    out = []
    for h, gid, x, y in rows:
        s = due[h.id]
        out.append({"household_id": h.id, "building_id": h.building_id, "grid_id": gid, "room": h.room,
                    "head_name": h.head_name, "lon": None if x is None else round(float(x), 7),
                    "lat": None if y is None else round(float(y), 7), "due_on": s.next_due_on.isoformat(),
                    "days_overdue": s.days_overdue, "last_visit_at": _iso(s.last_visit_at),
                    "every_days": s.every_days,
                    "residents": [{"id": r.id, "name": r.name, "phone": mask_phone(r.phone), "age": _age(r, today),
                                   "reasons": reasons, "reason_labels": [REASON_LABELS[x] for x in reasons]}
                                  for r, reasons in s.vulnerable]})
    out.sort(key=lambda d: (-d["days_overdue"], d["building_id"], d["room"], d["household_id"]))
    _audit(session, actor, "due", via,
           [p for d in out for p in [(d["household_id"], None), *((d["household_id"], r["id"])
                                                                   for r in d["residents"])]])
    return out


# ---------------------------------------------------------------------------------------------- export, import

EXPORT_COLUMNS = ("household_id", "building_id", "building_osm_id", "grid_code", "room", "head_name", "phone",
                  "members", "note", "resident_id", "name", "phone_resident", "birth_year", "disabled", "disability",
                  "lives_alone", "health", "visit_every_days", "vulnerable", "reasons", "last_visit_at",
                  "next_due_on")
IMPORT_COLUMNS = ("building_osm_id", "building_id", "room", "head_name", "phone", "members", "name",
                  "phone_resident", "birth_year", "disabled", "disability", "lives_alone", "health",
                  "visit_every_days", "note")
#: Columns of the export that an import ignores, so that an exported file can be edited and imported again.
EXPORT_ONLY = tuple(c for c in EXPORT_COLUMNS if c not in IMPORT_COLUMNS)


def export_csv(session: Session, actor: Actor, *, today: dt.date, settings: Settings, via: str,
               grid_id: int | None = None) -> str:
    """The supervisor's register of her community as CSV (UTF-8 with BOM for Excel), in full — one row per
    resident, a household without residents on one row. Audited ``export`` (every household and resident)."""
    if actor.role not in ("supervisor", CLI_ROLE):
        _require_personal_role(actor)
        raise Forbidden("the register export is for the community's supervisor", field="role")
    where = personal_scope(actor)
    if grid_id is not None:
        _grid_in_scope(session, actor, grid_id)
        where.append(Building.grid_id == grid_id)
    rows = session.execute(
        select(Household, Building.osm_id, Grid.code).join(Building, Building.id == Household.building_id)
        .outerjoin(Grid, Grid.id == Building.grid_id).where(*where)
        .order_by(Grid.code, Household.building_id, Household.room, Household.id)).all()
    ids = select(Household.id).join(Building, Building.id == Household.building_id).where(*where)
    state = standings(session, ids, today=today, settings=settings)
    residents: dict[int, list[Resident]] = {}
    for r in session.scalars(select(Resident).where(Resident.household_id.in_(ids)).order_by(Resident.id)):
        residents.setdefault(r.household_id, []).append(r)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(EXPORT_COLUMNS)
    pairs: list[tuple[int, int | None]] = []
    for h, osm_id, code in rows:
        s = state.get(h.id, Standing())
        head = [h.id, h.building_id, osm_id or "", code or "", h.room, h.head_name or "", h.phone or "",
                "" if h.members is None else h.members, h.note or ""]
        tail = [s.last_visit_at.isoformat() if s.last_visit_at else "",
                s.next_due_on.isoformat() if s.next_due_on else ""]
        pairs.append((h.id, None))
        for r in residents.get(h.id, []) or [None]:
            if r is None:
                w.writerow([*head, *[""] * 11, *tail])
                continue
            reasons = vulnerability(r, today, settings)
            w.writerow([*head, r.id, r.name, r.phone or "", r.birth_year or "", "yes" if r.disabled else "no",
                        r.disability or "", "yes" if r.lives_alone else "no", r.health or "",
                        r.visit_every_days or "", "yes" if reasons else "no", " ".join(reasons), *tail])
            pairs.append((h.id, r.id))
    _audit(session, actor, "export", via, pairs)
    return "\ufeff" + buf.getvalue()


_TRUE = {"1", "true", "yes", "y", "是", "t", "x", "✓"}
_FALSE = {"", "0", "false", "no", "n", "否", "f"}


@dataclass
class ImportSummary:
    households_created: int = 0
    households_updated: int = 0
    residents_created: int = 0
    residents_updated: int = 0
    rows: int = 0

    def lines(self) -> list[str]:
        return [f"read {self.rows} rows",
                f"households 户: {self.households_created} added, {self.households_updated} updated",
                f"residents 居民: {self.residents_created} added, {self.residents_updated} updated"]


def read_csv(path: Path) -> list[dict[str, str]]:
    """The rows of a register CSV as dicts (UTF-8, with or without BOM, or GB18030 as Chinese Excel writes it)."""
    raw = Path(path).read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes any byte string
        raise ImportFailed(f"cannot import {Path(path).name}: not UTF-8 or GB18030 text")
    reader = csv.DictReader(io.StringIO(text))
    columns = [c.strip() for c in reader.fieldnames or []]
    unknown = [c for c in columns if c and c not in IMPORT_COLUMNS and c not in EXPORT_ONLY]
    problems = []
    if unknown:
        problems.append(f"unknown columns: {', '.join(unknown)}; columns: {', '.join(IMPORT_COLUMNS)}")
    if "room" not in columns or not ({"building_id", "building_osm_id"} & set(columns)):
        problems.append("the header needs room and building_id or building_osm_id")
    if problems:
        raise ImportFailed(f"cannot import {Path(path).name}: nothing was written", details=problems)
    return [{(k or "").strip(): (v or "").strip() for k, v in row.items() if k is not None}
            for row in reader]


def import_rows(session: Session, actor: Actor, rows: list[dict[str, str]], *, source: str, today: dt.date,
                via: str = "cli") -> ImportSummary:
    """Import register rows (one per resident; rows of the same building + room form one household; a row without
    ``name`` is a household alone). All or nothing: every bad row is reported (``row 7: birth_year 'abc' is not a
    year``; row 1 is the header) and nothing is written. A household already in the register is updated with the
    values given, a resident (matched by name within the household) likewise, so importing the same file twice
    changes nothing. Audited ``create`` / ``update``."""
    _require_personal_role(actor)
    problems: list[str] = []
    households: dict[tuple[int, str], dict] = {}
    osm_cache: dict[str, list[int]] = {}
    for i, row in enumerate(rows, start=2):
        p: list[str] = []
        b = _row_building(session, row, osm_cache, p)
        if b is not None and not can_read_person(actor, b, session):
            p.append(f"building {b.id} is outside your scope")
        room = row.get("room", "")
        if not room:
            p.append("room: required")
        hh = {"head_name": row.get("head_name") or None, "phone": row.get("phone") or None,
              "members": _row_int(row, "members", 0, MAX_MEMBERS, p), "note": row.get("note") or None}
        resident = None
        if row.get("name"):
            resident = {"name": row["name"], "phone": row.get("phone_resident") or None,
                        "birth_year": _row_int(row, "birth_year", OLDEST_BIRTH_YEAR, today.year, p, "a year"),
                        "disabled": _row_bool(row, "disabled", p), "disability": row.get("disability") or None,
                        "lives_alone": _row_bool(row, "lives_alone", p), "health": row.get("health") or None,
                        "visit_every_days": _row_int(row, "visit_every_days", 1, MAX_VISIT_EVERY_DAYS, p)}
        else:
            for k in ("phone_resident", "birth_year", "disability", "health", "visit_every_days"):
                if row.get(k):
                    p.append(f"{k} given without the resident's name")
        if len(room) > MAX_CHARS["room"]:
            p.append(f"room: at most {MAX_CHARS['room']} characters, got {len(room)}")
        p += _problems(clean_household, {k: v for k, v in hh.items() if v is not None}, partial=True)
        if resident is not None:  # the resident's phone is the column phone_resident
            p += [re.sub(r"^phone:", "phone_resident:", x) for x in _problems(clean_resident, resident, today=today)]
        if p:
            problems += [f"row {i}: {x}" for x in p]
            continue
        key = (b.id, room)
        entry = households.setdefault(key, {"row": i, "fields": {}, "residents": {}})
        for k, v in hh.items():
            if v is None:
                continue
            if k in entry["fields"] and entry["fields"][k] != v:
                problems.append(f"row {i}: {k} {v!r} differs from {entry['fields'][k]!r} given for the same "
                                f"household (building {b.id} room {room}) in row {entry['row']}")
            entry["fields"][k] = v
        if resident is not None:
            if resident["name"] in entry["residents"]:
                problems.append(f"row {i}: {resident['name']} is listed twice in building {b.id} room {room}")
            entry["residents"][resident["name"]] = resident
    if problems:
        raise ImportFailed(f"cannot import {source}: {len(problems)} problems; nothing was written",
                           details=problems)
    summary = ImportSummary(rows=len(rows))
    now = dt.datetime.now(dt.UTC)
    audit: dict[str, list[tuple[int, int | None]]] = {"create": [], "update": []}
    for (building_id, room), entry in households.items():
        h = session.scalars(select(Household).where(Household.building_id == building_id,
                                                    Household.room == room)).first()
        if h is None:
            h = Household(building_id=building_id, room=room, created_at=now, updated_at=now, **entry["fields"])
            session.add(h)
            session.flush()
            summary.households_created += 1
            audit["create"].append((h.id, None))
        elif any(getattr(h, k) != v for k, v in entry["fields"].items()):
            for k, v in entry["fields"].items():
                setattr(h, k, v)
            h.updated_at = now
            summary.households_updated += 1
            audit["update"].append((h.id, None))
        known = {r.name: r for r in session.scalars(select(Resident).where(Resident.household_id == h.id))}
        for name, fields in entry["residents"].items():
            r = known.get(name)
            if r is None:
                r = Resident(household_id=h.id, **fields)
                session.add(r)
                session.flush()
                summary.residents_created += 1
                audit["create"].append((h.id, r.id))
            elif any(getattr(r, k) != v for k, v in fields.items()):
                for k, v in fields.items():
                    setattr(r, k, v)
                summary.residents_updated += 1
                audit["update"].append((h.id, r.id))
    session.flush()
    for action, pairs in audit.items():
        _audit(session, actor, action, via, pairs, now)
    return summary


def _problems(check, *args, **kwargs) -> list[str]:
    """The problems ``check(*args, **kwargs)`` raises, one line each (none when it passes)."""
    try:
        check(*args, **kwargs)
    except InvalidInput as exc:
        return exc.details or [exc.message]
    return []


def import_csv(session: Session, actor: Actor, path: Path, *, today: dt.date, via: str = "cli") -> ImportSummary:
    """:func:`import_rows` of a CSV file (columns: see :data:`IMPORT_COLUMNS`)."""
    return import_rows(session, actor, read_csv(path), source=Path(path).name, today=today, via=via)


def _row_building(session: Session, row: dict, cache: dict[str, list[int]], p: list[str]) -> Building | None:
    if row.get("building_id"):
        raw = row["building_id"]
        if not raw.isdigit():
            p.append(f"building_id {raw!r} is not a building id")
            return None
        b = session.get(Building, int(raw))
        if b is None:
            p.append(f"building_id {raw}: no such building")
        return b
    raw = row.get("building_osm_id", "")
    if not raw:
        p.append("building_id or building_osm_id: required")
        return None
    if not raw.lstrip("-").isdigit():
        p.append(f"building_osm_id {raw!r} is not an OpenStreetMap id")
        return None
    if raw not in cache:
        cache[raw] = list(session.scalars(select(Building.id).where(Building.osm_id == int(raw)).limit(2)))
    found = cache[raw]
    if len(found) != 1:
        p.append(f"building_osm_id {raw}: " + ("no such building" if not found else
                                               "several buildings have it; give building_id"))
        return None
    return session.get(Building, found[0])


def _row_int(row: dict, name: str, lo: int, hi: int, p: list[str], what: str = "a whole number") -> int | None:
    raw = row.get(name, "")
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        p.append(f"{name} {raw!r} is not {what}")
        return None
    if not lo <= value <= hi:
        p.append(f"{name} {raw!r} is not {what} from {lo} to {hi}")
        return None
    return value


def _row_bool(row: dict, name: str, p: list[str]) -> bool:
    raw = row.get(name, "").lower()
    if raw in _TRUE:
        return True
    if raw not in _FALSE:
        p.append(f"{name} {row.get(name)!r} is not yes or no")
    return False


# ---------------------------------------------------------------------------------------------- audit trail


def audit_trail(session: Session, actor: Actor, *, household_id: int | None = None,
                resident_id: int | None = None, actor_id: int | None = None, limit: int = 1000) -> list[dict]:
    """Who read or changed which records, newest first — ids and actors, no personal data. An admin sees every row;
    a supervisor the rows of the households now in her community (a deleted household's rows only an admin sees:
    the trail has no link left to its building)."""
    if actor.role not in ("admin", "supervisor", CLI_ROLE) or (actor.role == "supervisor"
                                                                and actor.community_id is None):
        raise Forbidden("the audit trail of personal data is for the community's supervisor and admins",
                        field="role")
    where = []
    if actor.role == "supervisor":
        where.append(ResidentAudit.household_id.in_(_scoped_households(actor)))
    if household_id is not None:
        where.append(ResidentAudit.household_id == household_id)
    if resident_id is not None:
        where.append(ResidentAudit.resident_id == resident_id)
    if actor_id is not None:
        where.append(ResidentAudit.actor_id == actor_id)
    rows = session.scalars(select(ResidentAudit).where(*where)
                           .order_by(ResidentAudit.at.desc(), ResidentAudit.id.desc()).limit(limit))
    return [{"id": a.id, "at": _iso(a.at), "actor_id": a.actor_id, "actor": a.actor, "action": a.action,
             "household_id": a.household_id, "resident_id": a.resident_id, "via": a.via} for a in rows]


# ---------------------------------------------------------------------------------------------- report


def visits_report(session: Session, actor: Actor, *, month: str | None, settings: Settings,
                  today: dt.date | None = None) -> dict:
    """Per grid, counts only — no names: households in the register, vulnerable residents, household visits in the
    month and households due a visit at the month's end (or today, for the current month):
    ``{month, as_of, rows: [{grid_id, grid_code, households, vulnerable, visits, overdue}]}``. Admins and planners
    see every grid, a supervisor her community's, a grid worker hers; departments none."""
    today = today or local_today(settings)
    _, start, end = worktime.month_bounds(month, settings.timezone, today=today)
    first, last = start.date(), (end - dt.timedelta(days=1)).date()
    if first > today:
        raise InvalidInput(f"month {first:%Y-%m} has not begun", field="month")
    as_of = min(last, today)
    if actor.role in ("admin", "planner", CLI_ROLE):
        grid_where = []
    elif actor.role == "supervisor" and actor.community_id is not None:
        grid_where = [Grid.community_id == actor.community_id]
    elif actor.role == "grid_worker":
        grid_where = [Grid.id.in_(sorted(actor.grid_ids) or [-1])]
    else:
        raise Forbidden(f"the visits report is for admins, planners, supervisors and grid workers, not a {actor.role}",
                        field="role")
    grids = session.execute(select(Grid.id, Grid.code).where(*grid_where).order_by(Grid.code)).all()
    in_grids = select(Grid.id).where(*grid_where)
    base = (select(Building.grid_id, func.count(Household.id)).join(Building, Building.id == Household.building_id)
            .where(Building.grid_id.in_(in_grids)).group_by(Building.grid_id))
    households = dict(session.execute(base).all())
    vulnerable_clause = or_(Resident.disabled, Resident.lives_alone,
                            Resident.birth_year <= as_of.year - settings.vulnerable_age)
    vulnerable = dict(session.execute(
        select(Building.grid_id, func.count(Resident.id)).join(Household, Household.id == Resident.household_id)
        .join(Building, Building.id == Household.building_id)
        .where(Building.grid_id.in_(in_grids), vulnerable_clause).group_by(Building.grid_id)).all())
    zone = ZoneInfo(settings.timezone)
    start = dt.datetime.combine(first, dt.time(), tzinfo=zone)
    visits = dict(session.execute(
        select(Building.grid_id, func.count(HouseholdVisit.id)).join(Visit, Visit.id == HouseholdVisit.visit_id)
        .join(Household, Household.id == HouseholdVisit.household_id)
        .join(Building, Building.id == Household.building_id)
        .where(Building.grid_id.in_(in_grids), Visit.time >= start, Visit.time < _end_of(last, zone))
        .group_by(Building.grid_id)).all())
    ids = (select(Household.id).join(Building, Building.id == Household.building_id)
           .where(Building.grid_id.in_(in_grids)))
    grid_of = dict(session.execute(select(Household.id, Building.grid_id)
                                   .join(Building, Building.id == Household.building_id)
                                   .where(Household.id.in_(ids))).all())
    overdue: dict[int, int] = {}
    for hid, s in standings(session, ids, today=as_of, settings=settings).items():
        if s.due:
            overdue[grid_of[hid]] = overdue.get(grid_of[hid], 0) + 1
    return {"month": f"{first:%Y-%m}", "as_of": as_of.isoformat(),
            "rows": [{"grid_id": gid, "grid_code": code, "households": int(households.get(gid, 0)),
                      "vulnerable": int(vulnerable.get(gid, 0)), "visits": int(visits.get(gid, 0)),
                      "overdue": overdue.get(gid, 0)} for gid, code in grids]}
