"""Response models of the analytics API: KPI tables and trends, patrol coverage (hot spots are GeoJSON).

First written from the answers the API test-suite receives, then named and reviewed. Every field is optional:
a service leaves some out in some answers, and ``response_model_exclude_unset`` keeps an answer's keys as the
service gave them; the base model also keeps any field not named here (see :mod:`api.schemas.base`)."""

from __future__ import annotations

from typing import Any

from api.schemas.base import FeatureCollection, Out


class CoverageGrid(Out):
    code: str | None = None
    street_m: float | None = None
    covered_m: float | None = None
    coverage_pct: float | None = None
    buildings: int | float | None = None
    buildings_covered: int | float | None = None
    building_pct: float | None = None
    track_m: float | None = None
    patrol_s: float | None = None
    id: int | None = None


class BlindSpots(Out):
    days: int | None = None
    street_m: float | None = None
    buildings: int | float | None = None
    streets: FeatureCollection | None = None
    building_features: FeatureCollection | None = None


class CoverageOut(Out):
    start: str | None = None
    end: str | None = None
    distance_m: float | None = None
    fixes: int | float | None = None
    grids: list[CoverageGrid] | None = None
    streets: FeatureCollection | None = None
    buildings: FeatureCollection | None = None
    message: str | None = None
    blind_spots: BlindSpots | None = None


class KpiTrendOut(Out):
    period: str | None = None
    rows: list[dict[str, Any]] | None = None


class KpisOut(Out):
    by: str | None = None
    start: str | None = None
    end: str | None = None
    timezone: str | None = None
    rows: list[dict[str, Any]] | None = None


class ResponsivenessOut(Out):
    """接诉即办 rates (GET /api/v1/kpis/responsiveness)."""

    by: str | None = None
    start: str | None = None
    end: str | None = None
    timezone: str | None = None
    response_hours: float | None = None
    weights: dict[str, float] | None = None
    satisfaction: str | None = None
    rates: dict[str, dict[str, str]] | None = None
    rows: list[dict[str, Any]] | None = None
