"""Response models of the case loop: a case (as in lists, tasks and batch results), a case with its timeline, the
cases map, categories, photos, revisits, the caller and the task list."""

from __future__ import annotations

from pydantic import Field

from api.schemas.base import Out
from api.schemas.plans import GridRef


class Label(Out):
    """A name in both languages."""

    zh: str | None = None
    en: str | None = None


class CaseOut(Out):
    """A case (:func:`patrol.cases.service.case_dict`); times ISO 8601 with offset, lon/lat WGS-84 degrees."""

    id: int
    number: str | None = Field(None, description="the case number people use, e.g. 2026-000123")
    client_id: str | None
    category: str
    status: str
    level: str | None
    channel: str | None
    description: str | None
    address: str | None
    community_id: int | None
    grid_id: int | None
    building_id: int | None
    floor: str | None
    unit_no: str | None
    unit_id: int | None
    assignee_id: int | None
    reported_at: str | None
    deadline_at: str | None
    handled_at: str | None
    closed_at: str | None
    closed_on_time: bool | None
    rating: int | None
    rework_count: int | None
    reopened_count: int | None
    escalations: int | None
    duplicate_of: int | None
    recurrence_of: int | None
    overdue: bool
    allowed_actions: list[str] = Field(description="the actions the case's status allows (roles aside)")
    simulated: bool | None
    category_name: Label | None = None
    lon: float | None = None
    lat: float | None = None
    received_at: str | None = Field(None, description="when the server received the report (reported_at: when it "
                                                      "happened on the phone)")
    time_flag: str | None = Field(None, description="why the phone's time was not taken as given: future, too_old, "
                                                    "skew")
    clock_skew_s: int | None = Field(None, description="the phone's clock minus the server's when it sent, s")


class CreatedCase(CaseOut):
    possible_duplicates: list[int] = Field(description="open cases of the category close by")


class TimelineEvent(Out):
    id: int
    action: str
    label_zh: str | None
    from_: str | None = Field(alias="from")
    to: str | None
    level: str | None
    actor: str | None
    at: str | None
    received_at: str | None = Field(None, description="when the server received it (at: when it happened)")
    time_flag: str | None = None
    clock_skew_s: int | None = None
    note: str | None
    unit_id: int | None
    lon: float | None
    lat: float | None
    photos: list[int] = Field(description="ids of the photos attached to this event")


class CaseTask(Out):
    """A whistled department's task on a case."""

    id: int
    unit_id: int | None
    status: str
    deadline_at: str | None
    reported_in_at: str | None = None
    handled_at: str | None = None
    report_in_by: str | None = None
    note: str | None = None


class CasePhoto(Out):
    id: int
    event_id: int | None
    mime: str
    taken_at: str | None
    url: str
    thumbnail: str


class CaseRevisit(Out):
    id: int
    due_on: str
    done_at: str | None
    outcome: str | None
    received_at: str | None = None


class CaseDetail(CaseOut):
    """One case with what happened to it."""

    timeline: list[TimelineEvent]
    tasks: list[CaseTask]
    photos: list[CasePhoto]
    revisits: list[CaseRevisit]
    reported_grid: GridRef | None = Field(description="the grid it had when reported (grid plans)")


class BatchError(Out):
    code: str
    message: str
    field: str | None


class BatchResult(Out):
    """One report of a batch, in the order sent: status 201 created, 200 known (or ``same_as`` an earlier report
    of the batch), 4xx refused with the error."""

    number: str | None = Field(None, description="the case number people use, e.g. 2026-000123")
    client_id: str | None
    status: int | None
    id: int | None
    possible_duplicates: list[int]
    recurrence_of: int | None
    error: BatchError | None
    same_as: int | str | None = None


class BatchOut(Out):
    results: list[BatchResult]
    counts: dict[str, int] = Field(description="results per status")


class Cluster(Out):
    lon: float
    lat: float
    count: int
    overdue: int
    statuses: dict[str, int]


class MapCase(Out):
    id: int
    status: str
    category: str
    category_name: str | None
    deadline_at: str | None
    lon: float
    lat: float
    overdue: bool
    thumbnail: str | None
    number: str | None = Field(None, description="the case number people use, e.g. 2026-000123")
    url: str = Field(description="the case page, /desk/cases/{number}")


class CasesMapOut(Out):
    """Clusters (zoomed out, many cases) or the cases themselves (zoomed in, or few)."""

    clusters: list[Cluster]
    cases: list[MapCase]
    total: int
    truncated: bool


class CategoryOut(Out):
    code: str
    name_zh: str
    name_en: str | None
    kind: str | None
    major_zh: str | None
    major_en: str | None
    level: str | None
    deadline_hours: float | None
    severity: int | None
    revisit_days: int | None


class EscalationOut(Out):
    escalated: list[int] = Field(description="ids of the cases escalated")
    notices: int = Field(0, description="nearing-deadline notices written")


class PhotoOut(Out):
    id: int
    case_id: int
    mime: str
    width: int | None
    height: int | None
    taken_at: str | None
    exif_lon: float | None
    exif_lat: float | None
    url: str


class RevisitOut(Out):
    id: int
    case_id: int
    grid_id: int | None
    due_on: str
    done_at: str | None
    outcome: str | None


class RecordedRevisit(Out):
    id: int
    case_id: int
    outcome: str | None
    done_at: str | None


class DueRevisit(Out):
    id: int
    case_id: int
    due_on: str


class TasksOut(Out):
    """A user's work: cases to handle, cases to verify, revisits due (oldest deadline first)."""

    handle: list[CaseOut]
    verify: list[CaseOut]
    revisits: list[DueRevisit]


class MeOut(Out):
    id: int
    username: str
    display_name: str | None
    role: str
    community_id: int | None
    unit_id: int | None
    grid_ids: list[int]
    subdistrict_id: int | None = None
    community_ids: list[int] = []
