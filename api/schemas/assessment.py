"""Response models of the 考核 API (issue 22): scorecards, one worker's card, the 考核细则 in force. Every field is
optional and the base model keeps fields not named here (:mod:`api.schemas.base`)."""

from __future__ import annotations

from typing import Any

from api.schemas.base import Out


class ScoreItem(Out):
    id: str | None = None
    label: dict[str, str] | None = None
    measure: str | None = None
    kind: str | None = None
    num: float | None = None
    den: float | None = None
    value: float | None = None
    points: float | None = None
    weight: float | None = None


class TrendPoint(Out):
    month: str | None = None
    total: float | None = None


class Scorecard(Out):
    key: int | None = None
    code: str | None = None
    name: str | None = None
    username: str | None = None
    grids: list[str] | None = None
    items: list[ScoreItem] | None = None
    total: float | None = None
    grade: str | None = None
    grade_label: dict[str, str] | None = None
    rank: int | None = None
    of: int | None = None
    excellent: bool | None = None
    trend: list[TrendPoint] | None = None


class RulesOut(Out):
    name: dict[str, str] | None = None
    source: str | None = None
    items: list[dict[str, Any]] | None = None
    max_points: float | None = None
    grades: dict[str, Any] | None = None


class ScorecardsOut(Out):
    month: str | None = None
    as_of: str | None = None
    by: str | None = None
    rules: RulesOut | None = None
    rows: list[Scorecard] | None = None
    card: Scorecard | None = None
