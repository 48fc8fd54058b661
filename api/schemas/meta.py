"""Response models of the service's meta routes: health and what the database holds.

First written from the answers the API test-suite receives, then named and reviewed. Every field is optional:
a service leaves some out in some answers, and ``response_model_exclude_unset`` keeps an answer's keys as the
service gave them; the base model also keeps any field not named here (see :mod:`api.schemas.base`)."""

from __future__ import annotations

from typing import Any

from api.schemas.base import Out


class HealthOut(Out):
    status: str | None = None
    database: str | None = None
    revision: str | None = None


class SummaryOut(Out):
    city: str | None = None
    metric_epsg: int | float | None = None
    subdistricts: int | float | None = None
    communities: int | float | None = None
    buildings: int | float | None = None
    buildings_in_communities: int | float | None = None
    households: int | float | None = None
    roads: int | float | None = None
    road_km: float | None = None
    notes: list[Any] | None = None
