"""Response models of field surveys: checklists, inspections with findings and photos, shops, reports.

First written from the answers the API test-suite receives, then named and reviewed. Every field is optional:
a service leaves some out in some answers, and ``response_model_exclude_unset`` keeps an answer's keys as the
service gave them; the base model also keeps any field not named here (see :mod:`api.schemas.base`)."""

from __future__ import annotations

from typing import Any

from api.schemas.base import Out
from api.schemas.shared import AppliesTo, Bilingual


class Finding(Out):
    item: str | None = None
    category: str | None = None
    case_id: int | None = None
    deadline_at: str | None = None


class RecordedInspection(Out):
    id: int | None = None
    client_id: str | None = None
    failed: int | float | None = None
    findings: list[Finding] | None = None


class FindingDetail(Finding):
    """A failed item as an inspection's history shows it: with the item's text and its case's state."""

    text: Bilingual | None = None
    case_status: str | None = None


class Inspection(Out):
    id: int | None = None
    at: str | None = None
    checklist: str | None = None
    version: int | None = None
    checklist_id: int | None = None
    title: Bilingual | None = None
    failed: int | float | None = None
    findings: list[FindingDetail] | None = None


class FindingCase(Out):
    id: int | None = None
    status: str | None = None
    category: str | None = None
    item: str | None = None
    inspection_id: int | None = None
    reported_at: str | None = None
    deadline_at: str | None = None
    closed_at: str | None = None


class ShopDetail(Out):
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
    licence_no: str | None = None
    osm_id: Any = None
    created_at: str | None = None
    inspections: list[Inspection] | None = None
    cases: list[FindingCase] | None = None


class ChecklistDetail(Out):
    id: int | None = None
    code: str | None = None
    version: int | None = None
    title: Bilingual | None = None
    target: str | None = None
    frequency_days: int | None = None
    applies_to: AppliesTo | None = None
    items: list[dict[str, Any]] | None = None
    active: bool | None = None
    sha256: str | None = None
    versions: list[int | float] | None = None




class InspectionPhoto(Out):
    id: int | None = None
    client_id: str | None = None
    item: str | None = None
    mime: str | None = None
    url: str | None = None
    thumbnail: str | None = None


class InspectionDetail(Out):
    id: int | None = None
    client_id: str | None = None
    checklist_id: int | None = None
    checklist: str | None = None
    version: int | None = None
    title: Bilingual | None = None
    target: str | None = None
    building_id: int | None = None
    shop_code: Any = None
    shop_name: Any = None
    place_name: str | None = None
    grid_id: int | None = None
    worker_id: int | None = None
    at: str | None = None
    failed: int | float | None = None
    lon: float | None = None
    lat: float | None = None
    simulated: bool | None = None
    answers: dict[str, Any] | None = None
    note: Any = None
    findings: list[FindingDetail] | None = None
    photos: list[InspectionPhoto] | None = None
    photos_missing: list[str] | None = None


class ChecklistSummary(Out):
    id: int | None = None
    code: str | None = None
    version: int | None = None
    title: Bilingual | None = None
    target: str | None = None
    frequency_days: int | None = None
    items: int | float | None = None


class InspectionListItem(Out):
    id: int | None = None
    client_id: str | None = None
    checklist_id: int | None = None
    checklist: str | None = None
    version: int | None = None
    title: Bilingual | None = None
    target: str | None = None
    building_id: int | None = None
    shop_code: str | None = None
    shop_name: str | None = None
    place_name: str | None = None
    grid_id: int | None = None
    worker_id: int | None = None
    at: str | None = None
    failed: int | float | None = None
    lon: float | None = None
    lat: float | None = None
    simulated: bool | None = None


class LoadChecklistOut(Out):
    id: int | None = None
    code: str | None = None
    version: int | None = None
    created: bool | None = None


class SurveyReportRow(Out):
    checklist: str | None = None
    item: str | None = None
    text: Bilingual | None = None
    category: str | None = None
    failed: int | float | None = None
    open_cases: int | float | None = None
    grid_id: int | None = None
    grid_code: str | None = None
    title: Bilingual | None = None
    targets: int | float | None = None
    planned: int | float | None = None
    done: int | float | None = None


class SurveyReportOut(Out):
    month: str | None = None
    rows: list[SurveyReportRow] | None = None


class UploadInspectionPhotoOut(Out):
    id: int | None = None
    item: str | None = None
    client_id: str | None = None
    mime: str | None = None
    url: str | None = None
