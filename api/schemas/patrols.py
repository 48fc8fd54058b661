"""Response models of patrols (GPS fixes, the patrol's summary) and household visits.

First written from the answers the API test-suite receives, then named and reviewed. Every field is optional:
a service leaves some out in some answers, and ``response_model_exclude_unset`` keeps an answer's keys as the
service gave them; the base model also keeps any field not named here (see :mod:`api.schemas.base`)."""

from __future__ import annotations

from api.schemas.base import Geometry, Out


class AddFixesOut(Out):
    stored: int | float | None = None
    duplicates: int | float | None = None
    flagged: int | float | None = None


class Flagged(Out):
    speed: int | float | None = None
    accuracy: int | float | None = None
    future: int | float | None = None


class PatrolOut(Out):
    id: int | None = None
    client_id: str | None = None
    worker_id: int | None = None
    grid_id: int | None = None
    started_at: str | None = None
    ended_at: str | None = None
    fixes: int | float | None = None
    flagged: Flagged | None = None
    length_m: float | None = None
    track: Geometry | None = None


class VisitNeed(Out):
    id: int | None = None
    type: str | None = None
    detail: str | None = None
    status: str | None = None


class VisitOut(Out):
    id: int | None = None
    client_id: str | None = None
    building_id: int | None = None
    time: str | None = None
    household_id: int | None = None
    needs: list[VisitNeed] | None = None
