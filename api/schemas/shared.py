"""Response shapes used by more than one resource: bilingual labels, shops, households due a visit.

First written from the answers the API test-suite receives, then named and reviewed. Every field is optional:
a service leaves some out in some answers, and ``response_model_exclude_unset`` keeps an answer's keys as the
service gave them; the base model also keeps any field not named here (see :mod:`api.schemas.base`)."""

from __future__ import annotations

from api.schemas.base import Out


class AppliesTo(Out):
    building_use: list[str] | None = None


class Bilingual(Out):
    en: str | None = None
    zh: str | None = None


class Shop(Out):
    id: int | None = None
    code: str | None = None
    name: str | None = None
    kind: str | None = None
    kind_name: Bilingual | None = None  # the OSM value in words (patrol.surveys.shop_kinds)
    building_id: int | None = None
    grid_id: int | None = None
    address: str | None = None
    active: bool | None = None
    lon: float | None = None
    lat: float | None = None
    last_inspection_at: str | None = None
    open_findings: int | float | None = None


class DueResident(Out):
    id: int | None = None
    name: str | None = None
    phone: str | None = None
    age: int | float | None = None
    reasons: list[str] | None = None
    reason_labels: list[Bilingual] | None = None


class VisitsDueItem(Out):
    household_id: int | None = None
    building_id: int | None = None
    grid_id: int | None = None
    room: str | None = None
    head_name: str | None = None
    lon: float | None = None
    lat: float | None = None
    due_on: str | None = None
    days_overdue: int | float | None = None
    last_visit_at: str | None = None
    every_days: int | None = None
    residents: list[DueResident] | None = None
