"""Response models of the residents register (民情台账): households, residents, needs, audit, reports.

First written from the answers the API test-suite receives, then named and reviewed. Every field is optional:
a service leaves some out in some answers, and ``response_model_exclude_unset`` keeps an answer's keys as the
service gave them; the base model also keeps any field not named here (see :mod:`api.schemas.base`)."""

from __future__ import annotations

from typing import Any

from api.schemas.base import Out
from api.schemas.shared import Bilingual


class NeedRecord(Out):
    id: int | None = None
    household_id: int | None = None
    type: str | None = None
    type_label: Bilingual | None = None
    detail: str | None = None
    status: str | None = None
    status_label: Bilingual | None = None
    visit_id: int | None = None
    case_id: Any = None
    created_by: int | float | None = None
    created_at: str | None = None
    resolved_at: str | None = None


class NeedOut(NeedRecord):
    """A need as the register lists it: the record with its household's room, head and place."""

    room: str | None = None
    head_name: str | None = None
    building_id: int | None = None
    grid_id: int | None = None


class ResidentRecord(Out):
    id: int | None = None
    household_id: int | None = None
    name: str | None = None
    phone: str | None = None
    birth_year: int | None = None
    age: int | float | None = None
    disabled: bool | None = None
    disability: str | None = None
    lives_alone: bool | None = None
    health: str | None = None
    visit_every_days: int | None = None
    vulnerable: bool | None = None
    reasons: list[str] | None = None
    every_days: int | None = None


class ResidentOut(ResidentRecord):
    """A resident as the register answers one: the record with the household's building and room."""

    building_id: int | None = None
    room: str | None = None


class AuditEntry(Out):
    id: int | None = None
    at: str | None = None
    actor_id: int | None = None
    actor: str | None = None
    action: str | None = None
    household_id: int | None = None
    resident_id: int | None = None
    via: str | None = None


class VisitRecord(Out):
    id: int | None = None
    time: str | None = None
    worker_id: int | None = None
    patrol_id: Any = None
    note: str | None = None


class HouseholdOut(Out):
    id: int | None = None
    building_id: int | None = None
    grid_id: int | None = None
    room: str | None = None
    head_name: str | None = None
    phone: str | None = None
    members: int | None = None
    note: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    residents: list[ResidentRecord] | None = None
    vulnerable: int | float | None = None
    last_visit_at: str | None = None
    next_due_on: str | None = None
    days_overdue: int | float | None = None
    due: bool | None = None
    needs: list[NeedRecord] | None = None
    visits: list[VisitRecord] | None = None


class HouseholdListItem(Out):
    id: int | None = None
    building_id: int | None = None
    grid_id: int | None = None
    room: str | None = None
    head_name: str | None = None
    phone: str | None = None
    members: int | None = None
    residents: int | None = None
    vulnerable: int | float | None = None
    last_visit_at: str | None = None
    next_due_on: str | None = None
    days_overdue: int | float | None = None
    due: bool | None = None


class VisitsReportRow(Out):
    grid_id: int | None = None
    grid_code: str | None = None
    households: int | float | None = None
    vulnerable: int | float | None = None
    visits: int | float | None = None
    overdue: int | float | None = None


class VisitsReportOut(Out):
    month: str | None = None
    as_of: str | None = None
    rows: list[VisitsReportRow] | None = None
