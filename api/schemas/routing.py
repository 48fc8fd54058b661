"""Response models of routing: who is responsible for a case here, nearest by road.

First written from the answers the API test-suite receives, then named and reviewed. Every field is optional:
a service leaves some out in some answers, and ``response_model_exclude_unset`` keeps an answer's keys as the
service gave them; the base model also keeps any field not named here (see :mod:`api.schemas.base`)."""

from __future__ import annotations

from typing import Any

from api.schemas.base import Geometry, Out


class Rule(Out):
    category: str | None = None
    level: str | None = None
    unit_type: str | None = None
    priority: int | float | None = None
    profile: str | None = None
    note_zh: str | None = None


class UnitChoice(Out):
    unit_id: int | None = None
    name: str | None = None
    type: str | None = None
    distance_m: float | None = None
    eta_s: float | None = None
    fallback: Any = None
    reason: Any = None


class ResponsibleOut(Out):
    category: str | None = None
    level: str | None = None
    rule: Rule | None = None
    unit_type: str | None = None
    chosen: UnitChoice | None = None
    candidates: list[UnitChoice] | None = None
    worker: Any = None
    route: Geometry | None = None
    tried: list[str] | None = None
    why: str | None = None
