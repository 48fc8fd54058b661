"""Response models of grid plans: plans, edits, proposals, validation problems, impact, publishing.

First written from the answers the API test-suite receives, then named and reviewed. Every field is optional:
a service leaves some out in some answers, and ``response_model_exclude_unset`` keeps an answer's keys as the
service gave them; the base model also keeps any field not named here (see :mod:`api.schemas.base`)."""

from __future__ import annotations

from typing import Any

from api.schemas.base import FeatureCollection, Out


class PlanOut(Out):
    id: int | None = None
    name: str | None = None
    status: str | None = None
    based_on: int | float | None = None
    created_by: int | float | None = None
    created_at: str | None = None
    published_at: str | None = None
    published_by: int | float | None = None
    effective_from: str | None = None
    note: str | None = None
    grids: int | float | None = None


class GridFigures(Out):
    households: int | float | None = None
    buildings: int | float | None = None
    street_m: float | None = None
    worker_id: int | None = None
    worker: str | None = None
    open_cases: int | float | None = None
    cases_90d: int | float | None = None


class GridChange(Out):
    households: int | float | None = None
    buildings: int | float | None = None
    street_m: float | None = None
    open_cases: int | float | None = None
    cases_90d: int | float | None = None


class ImpactGrid(Out):
    code: str | None = None
    status: str | None = None
    before: GridFigures | None = None
    after: GridFigures | None = None
    change: GridChange | None = None


class GridCounts(Out):
    before: int | float | None = None
    after: int | float | None = None


class Totals(Out):
    grids: GridCounts | None = None
    changed: int | float | None = None
    buildings_moving: int | float | None = None
    open_cases_moving: int | float | None = None


class ImpactOut(Out):
    plan_id: int | None = None
    grids: list[ImpactGrid] | None = None
    totals: Totals | None = None
    moved: FeatureCollection | None = None


class MergeOut(Out):
    code: str | None = None
    removed: list[str] | None = None
    parts: int | float | None = None
    area_m2: float | None = None


class MoveBoundaryOut(Out):
    codes: list[str] | None = None
    area_m2: list[float] | None = None
    moved_m2: float | None = None


class ProposalStats(Out):
    grids: int | float | None = None
    households_min: float | None = None
    households_max: float | None = None
    households_mean: float | None = None
    households_cv: float | None = None
    in_range_share: float | None = None
    out_of_range: list[str] | None = None
    workload_cv: float | None = None
    street_m_cv: float | None = None
    compactness_mean: float | None = None
    codes_kept: int | float | None = None
    codes_new: list[str] | None = None
    codes_retired: list[Any] | None = None
    grids_changed: int | float | None = None
    grids_kept: int | float | None = None
    households_reassigned: float | None = None
    contiguous: bool | None = None
    multipart: list[str] | None = None


class ProposedGrid(Out):
    code: str | None = None
    households: int | float | None = None
    buildings: int | float | None = None
    kept: bool | None = None
    street_m: float | None = None
    cases_90d: int | float | None = None


class ProposeOut(Out):
    plan_id: int | None = None
    community_id: int | None = None
    community: str | None = None
    stats: ProposalStats | None = None
    grids: list[ProposedGrid] | None = None


class PublishedGrids(Out):
    kept: int | float | None = None
    added: int | float | None = None
    removed: int | float | None = None


class PublishOut(Out):
    plan: PlanOut | None = None
    replaced: int | float | None = None
    warnings: int | float | None = None
    grids: PublishedGrids | None = None
    buildings_moved: int | float | None = None
    open_cases_moved: int | float | None = None
    assignees_changed: int | float | None = None
    closed_cases_moved: int | float | None = None
    revisits_moved: int | float | None = None


class PutGridOut(Out):
    code: str | None = None
    name: str | None = None
    community_id: int | None = None
    worker_id: int | None = None


class ReshapeOut(Out):
    code: str | None = None
    neighbours_changed: list[str] | None = None
    removed: list[Any] | None = None
    gained_m2: float | None = None
    given_m2: float | None = None
    uncovered_m2: float | None = None


class RollbackOut(PublishOut):
    """A rollback publishes the previous grids again: a publication's answer plus what it rolled back from."""

    rolled_back_from: int | float | None = None
    restored: int | float | None = None


class SplitOut(Out):
    codes: list[str] | None = None
    area_m2: list[float] | None = None


class UploadOut(Out):
    plan_id: int | None = None
    grids: int | float | None = None


class ProblemCounts(Out):
    gaps: int | float | None = None
    overlaps: int | float | None = None
    buildings_in_no_grid: int | float | None = None
    buildings_in_several_grids: int | float | None = None
    grids_outside_community: int | float | None = None
    duplicate_codes: int | float | None = None
    invalid_geometries: int | float | None = None
    slivers: int | float | None = None
    buildings_cut: int | float | None = None
    households_out_of_range: int | float | None = None
    multipart_grids: int | float | None = None


class PlanProblem(Out):
    kind: str | None = None
    severity: str | None = None
    message: str | None = None
    label: str | None = None
    detail: str | None = None
    feature: Any = None
    lon: float | None = None
    lat: float | None = None


class ValidationOut(Out):
    plan_id: int | None = None
    ok: bool | None = None
    errors: int | float | None = None
    warnings: int | float | None = None
    counts: ProblemCounts | None = None
    households_range: list[int | float] | None = None
    tolerance_m2: float | None = None
    sliver_width_m: float | None = None
    problems: list[PlanProblem] | None = None


class GridRef(Out):
    """A grid as it was in a plan (``plan_id`` null: the grids before any plan)."""

    plan_id: int | None = None
    code: str | None = None
    name: str | None = None


class CaseGridOut(Out):
    case_id: int | None = None
    reported_at: str | None = None
    reported: GridRef | None = None
    current: GridRef | None = None
