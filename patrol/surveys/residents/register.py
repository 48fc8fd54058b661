"""What the register says about a household: labels, vulnerability (重点人员: 80 or older from the birth year,
disabled, or living alone), its visiting standing (when the next visit is due), and the dicts the API returns."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from patrol.city.labels import building_display
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
    mask_phone,
)

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


def end_of_day(day: dt.date, zone: ZoneInfo) -> dt.datetime:
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
        .where(HouseholdVisit.household_id.in_(households), Visit.time < end_of_day(today, zone))
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




def iso(t: dt.datetime | None) -> str | None:
    if t is None:
        return None
    return (t if t.tzinfo else t.replace(tzinfo=dt.UTC)).isoformat()


def age(r: Resident, today: dt.date) -> int | None:
    return None if r.birth_year is None else today.year - r.birth_year


def resident_dict(r: Resident, *, today: dt.date, settings: Settings, masked: bool = False) -> dict:
    reasons = vulnerability(r, today, settings)
    return {"id": r.id, "household_id": r.household_id, "name": r.name,
            "phone": mask_phone(r.phone) if masked else r.phone, "birth_year": r.birth_year, "age": age(r, today),
            "disabled": bool(r.disabled), "disability": r.disability, "lives_alone": bool(r.lives_alone),
            "health": r.health, "visit_every_days": r.visit_every_days, "vulnerable": bool(reasons),
            "reasons": reasons,
            "every_days": (r.visit_every_days or settings.vulnerable_visit_days) if reasons else None}


def standing_dict(s: Standing | None) -> dict:
    s = s or Standing()
    return {"residents": s.residents, "vulnerable": len(s.vulnerable), "last_visit_at": iso(s.last_visit_at),
            "next_due_on": s.next_due_on.isoformat() if s.next_due_on else None, "days_overdue": s.days_overdue,
            "due": s.due}


def household_row(h: Household, b: Building, s: Standing | None) -> dict:
    return {"id": h.id, "building_id": h.building_id, "building_label": building_display(b), "grid_id": b.grid_id,
            "room": h.room, "head_name": h.head_name,
            "phone": mask_phone(h.phone), "members": h.members, **standing_dict(s)}


def need_dict(n: ResidentNeed, h: Household | None = None, b: Building | None = None) -> dict:
    out = {"id": n.id, "household_id": n.household_id, "type": n.type, "type_label": NEED_LABELS.get(n.type),
           "detail": n.detail, "status": n.status, "status_label": NEED_STATUS_LABELS.get(n.status),
           "visit_id": n.visit_id, "case_id": n.case_id, "created_by": n.created_by,
           "created_at": iso(n.created_at), "resolved_at": iso(n.resolved_at)}
    if h is not None:
        out.update({"room": h.room, "head_name": h.head_name, "building_id": h.building_id})
    if b is not None:
        out["grid_id"], out["building_label"] = b.grid_id, building_display(b)
    return out


