"""Response models of the phone's day (GET /api/v1/field/today), read by maps/field/*.js.

First written from the answers the API test-suite receives, then named and reviewed. Every field is optional:
a service leaves some out in some answers, and ``response_model_exclude_unset`` keeps an answer's keys as the
service gave them; the base model also keeps any field not named here (see :mod:`api.schemas.base`)."""

from __future__ import annotations

from typing import Any

from api.schemas.base import FeatureCollection, Out
from api.schemas.shared import AppliesTo, Bilingual, Shop, VisitsDueItem


class FieldUser(Out):
    id: int | None = None
    username: str | None = None
    display_name: str | None = None
    role: str | None = None


class FieldBuilding(Out):
    id: int | None = None
    name: str | None = None
    address: str | None = None
    households: int | float | None = None
    grid_id: int | None = None
    lon: float | None = None
    lat: float | None = None


class FieldCategory(Out):
    code: str | None = None
    name_zh: str | None = None
    name_en: str | None = None
    major_zh: str | None = None
    major_en: str | None = None
    level: str | None = None
    deadline_hours: float | None = None
    severity: int | float | None = None
    pinyin: str | None = None
    initials: str | None = None
    uses: int | float | None = None


class Point(Out):
    lon: float | None = None
    lat: float | None = None


class Stop(Out):
    kind: str | None = None
    case_id: int | None = None
    revisit_id: int | None = None
    category: str | None = None
    lon: float | None = None
    lat: float | None = None
    order: int | float | None = None
    leg_m: float | None = None
    leg_fallback: Any = None
    status: str | None = None
    description: str | None = None
    address: str | None = None
    building_id: Any = None
    deadline_at: str | None = None
    overdue: bool | None = None
    level: str | None = None
    reported_at: str | None = None
    category_name_zh: str | None = None
    category_name_en: str | None = None
    actions: list[str] | None = None


class WorkerDay(Out):
    worker_id: int | None = None
    name: str | None = None
    date: str | None = None
    start: Point | None = None
    stops: list[Stop] | None = None
    route: Any = None
    length_m: float | None = None
    eta_s: float | None = None
    empty: bool | None = None
    message: str | None = None


class Checklist(Out):
    applies_to: AppliesTo | None = None
    code: str | None = None
    frequency_days: int | None = None
    items: list[dict[str, Any]] | None = None
    target: str | None = None
    title: Bilingual | None = None
    id: int | None = None
    version: int | None = None


class InspectionsDueItem(Out):
    checklist_id: int | None = None
    checklist_code: str | None = None
    title: Bilingual | None = None
    target: str | None = None
    building_id: int | None = None
    shop_code: str | None = None
    place_name: Any = None
    grid_id: int | None = None
    name: str | None = None
    lon: float | None = None
    lat: float | None = None
    last_at: Any = None
    days_overdue: Any = None


class TodayOut(Out):
    user: FieldUser | None = None
    date: str | None = None
    timezone: str | None = None
    grids: FeatureCollection | None = None
    buildings: list[FieldBuilding] | None = None
    categories: list[FieldCategory] | None = None
    tasks: WorkerDay | None = None
    covered: FeatureCollection | None = None
    walked_m: float | None = None
    open_patrol: Any = None
    checklists: list[Checklist] | None = None
    shops: list[Shop] | None = None
    inspections_due: list[InspectionsDueItem] | None = None
    visits_due: list[VisitsDueItem] | None = None
