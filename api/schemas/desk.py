"""The desk's queues over HTTP: the queue list with counts, a queue's page of rows, bulk actions and their results."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

from api.schemas.base import Out

#: the most cases one bulk action acts on
BULK_MAX = 200


class QueueQuery(BaseModel):
    """Paging, sort and filters of a queue's rows (query parameters)."""

    limit: int = Field(50, ge=1, le=200, description="rows per page")
    offset: int = Field(0, ge=0, le=1_000_000)
    sort: Literal["reported_at", "deadline_at", "category", "grid"] = "reported_at"
    order: Literal["asc", "desc"] = "asc"
    grid: str | None = Field(None, max_length=20, description="grid code")
    category: str | None = Field(None, max_length=20, description="category code")
    channel: str | None = Field(None, max_length=200, description="channels, comma-separated (resident, 12345, …)")
    community: str | None = Field(None, max_length=3, description="community code (街道 and admin)")
    start: dt.date | None = Field(None, description="first local day reported (included)")
    end: dt.date | None = Field(None, description="last local day reported (included)")


class BulkIn(BaseModel):
    action: Literal["register", "reject", "dispatch"]
    cases: list[int] = Field(min_length=1, max_length=BULK_MAX, description=f"case ids, at most {BULK_MAX}")
    note: str | None = Field(None, max_length=2000, description="the reason (required to reject)")
    unit_id: int | None = Field(None, description="dispatch to this unit; none: the automatic dispatch")


class QueueOut(Out):
    name: str
    label_zh: str
    label_en: str
    count: int
    bulk: list[str]


class QueuesOut(Out):
    role: str
    near_deadline_fraction: float
    queues: list[QueueOut]
    filters: dict[str, list[dict[str, str]]]


class TaskOut(Out):
    unit: str
    status: str
    reported_in: bool
    late: bool


class RowOut(Out):
    id: int = Field(description="opaque key for actions: never shown to users")
    number: str | None
    category_zh: str
    category_en: str
    address: str | None
    grid: str | None
    community: str | None
    status: str
    level: str
    channel: str
    reported_at: str | None
    deadline_at: str | None
    hours_left: float | None
    urgency: str | None
    unit: str | None
    urges: int
    tasks: list[TaskOut] | None = None


class QueuePageOut(Out):
    queue: str
    total: int
    limit: int
    offset: int
    sort: str
    order: str
    bulk: list[str]
    rows: list[RowOut]


class BulkResult(Out):
    number: str | None
    ok: bool
    status: str | None = None
    code: str | None = None
    field: str | None = None
    message: str | None = None


class BulkOut(Out):
    action: str
    done: int
    refused: int
    results: list[BulkResult]


class UnitOut(Out):
    id: int
    name: str
    type: str
