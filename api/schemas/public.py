"""Response models of the residents' public endpoints (/api/v1/public/…; patrol.intake.h5)."""

from __future__ import annotations

from api.schemas.base import Out


class ResidentCategoryOut(Out):
    key: str
    name: str


class ReceiptOut(Out):
    """The answer to a report: the case number and the private follow-up link (shown once; keep it)."""

    number: str
    token: str
    follow_url: str
    follow_path: str


class PublicStep(Out):
    action: str
    text: str
    at: str | None = None
    local: str


class FollowOut(Out):
    """The follow-up view: no staff name, note, unit name or phone."""

    number: str | None = None
    status: str
    state: str
    finished: bool
    category: str
    description: str | None = None
    place: str | None = None
    reported_at: str | None = None
    timeline: list[PublicStep]
    after_photos: list[str]
    can_rate: bool
    rated: bool
    reopened: bool
    resident_solved: bool | None = None
