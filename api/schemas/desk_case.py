"""The case page's answer (GET /api/v1/desk/cases/{number}): a case with names instead of ids, its clock, timeline,
gallery, tasks, revisits, neighbours and the actions the caller may take (see patrol.cases.casefile)."""

from __future__ import annotations

from typing import Any

from api.schemas.base import Geometry, Out


class CategoryName(Out):
    code: str
    zh: str
    en: str
    major_zh: str | None = None
    major_en: str | None = None


class Named(Out):
    name: str | None = None


class GridRef(Out):
    code: str
    name: str
    worker: str | None = None
    outline: Geometry | None = None


class BuildingRef(Out):
    name: str | None = None
    address: str | None = None
    use: str | None = None
    label: str
    outline: Geometry | None = None


class Place(Out):
    lon: float
    lat: float
    address: str | None = None
    floor: str | None = None
    unit_no: str | None = None
    grid: GridRef | None = None
    community: Named | None = None
    subdistrict: Named | None = None
    building: BuildingRef | None = None


class Clock(Out):
    deadline_at: str | None = None
    total_hours: float
    running: bool
    suspended: bool
    remaining_hours: float | None = None
    hours_left: float | None = None
    overdue: bool
    colour: str | None = None
    finished: bool
    closed_on_time: bool | None = None


class PhotoRef(Out):
    id: int
    thumb: str
    full: str


class Step(Out):
    id: int
    action: str
    label_zh: str
    label_en: str | None = None
    actor: str
    system: bool
    at: str
    received_at: str | None = None  # when the server received it (at: when it happened on the phone)
    time_flag: str | None = None
    clock_skew_s: int | None = None
    note: str | None = None
    auto: bool
    unit: str | None = None
    photos: list[PhotoRef]


class TaskRef(Out):
    id: int
    unit: str
    status: str
    report_in_by: str | None = None
    reported_in_at: str | None = None
    late: bool
    handled: bool
    actions: list[dict[str, Any]]


class Neighbour(Out):
    id: int
    number: str | None = None
    status: str
    reported_at: str | None = None
    distance_m: float
    description: str | None = None
    photos: list[PhotoRef]


class Earlier(Out):
    number: str | None = None
    category: CategoryName | dict[str, Any]
    status: str
    reported_at: str | None = None


class ActionForm(Out):
    name: str
    note_required: bool
    hours: bool
    unit_choice: bool
    units_choice: bool
    rating: bool
    duplicate_of: bool
    photo: bool
    one_click: bool


class CaseFileOut(Out):
    id: int
    number: str | None = None
    status: str
    level: str
    channel: str
    category: CategoryName
    description: str | None = None
    place: Place
    reported_at: str | None = None
    received_at: str | None = None
    time_flag: str | None = None
    clock_skew_s: int | None = None
    handler: str | None = None
    clock: Clock
    timeline: list[Step]
    gallery: dict[str, list[dict[str, Any]]]
    tasks: list[TaskRef]
    revisits: list[dict[str, Any]]
    duplicates: list[Neighbour]
    earlier: list[Earlier]
    urges: dict[str, Any]
    actions: list[ActionForm]


class RouteProperties(Out):
    length_m: float
    eta_s: float
    fallback: str | None = None
    profile: str


class RouteOut(Geometry):
    """A road route from a unit to the case: a GeoJSON LineString (WGS-84) with its length and travel time."""

    properties: RouteProperties
