"""Response models of the phone's 我的上报 (her reports), the possible duplicates of a report before it is sent,
and 自行处置 (a report handled on the spot)."""

from __future__ import annotations

from pydantic import Field

from api.schemas.base import Out
from api.schemas.cases import CaseOut, Label


class Step(Out):
    action: str = Field(description="the latest step's action (report, register, dispatch, handle, …)")
    label_zh: str
    at: str | None


class MyReport(Out):
    id: int = Field(description="the key for API calls; people see the number")
    number: str | None = Field(None, description="the case number, e.g. 2026-000123")
    client_id: str | None = Field(description="the id the phone gave the report")
    category: Label
    status: str
    level: str | None
    self_handled: bool = Field(description="handled on the spot by her (自行处置)")
    reported_at: str | None
    description: str | None
    latest: Step


class MyReportsOut(Out):
    items: list[MyReport]
    total: int
    limit: int
    offset: int


class PhotoLink(Out):
    id: int
    thumb: str
    full: str


class NearbyCase(Out):
    id: int
    number: str | None
    status: str
    reported_at: str | None
    description: str | None
    address: str | None
    distance_m: float
    photos: list[PhotoLink]
    can_supplement: bool = Field(description="whether she may add her photo and note to it (补充)")


class DuplicatesOut(Out):
    radius_m: float
    cases: list[NearbyCase]


class SelfHandledOut(CaseOut):
    photo_id: int = Field(description="the after-photo, attached to the handle step")
