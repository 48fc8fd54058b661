"""研判 and 议事 answers (api/routes/meetings.py; patrol.cases.assessment and patrol.cases.meetings)."""

from __future__ import annotations

from api.schemas.base import Out


class AssessmentOut(Out):
    """One 研判 of a case."""

    at: str | None = None
    kind: str
    kind_name: str
    demand_list: str
    demand_list_name: str | None = None
    level: str
    reason: str
    key_case: bool
    petition: bool
    needs_meeting: bool
    actor: str | None = None


class ListEntry(Out):
    code: str
    zh: str
    en: str
    categories: list[str] = []


class ListsOut(Out):
    """The 诉求清单 and the kinds of 议事 meeting in force."""

    demand_lists: list[ListEntry]
    kinds: list[ListEntry]


class MeetingBase(Out):
    """What a meeting's list row and its record share."""

    number: str
    community: str | None = None
    kind: str
    kind_name: str | None = None
    topic: str
    status: str
    status_name: str
    held_at: str | None = None
    place: str | None = None
    participants: int | None = None
    votes_for: int | None = None
    votes_against: int | None = None
    votes_abstain: int | None = None
    simulated: bool


class MeetingRow(MeetingBase):
    """A meeting in a list."""

    topics: int


class AgendaCase(Out):
    number: str | None = None
    category: str
    status: str
    level: str
    address: str | None = None
    waits_for_meeting: bool


class AgendaNeed(Out):
    """A 民情台账 need on the agenda: its type and state only (never the resident's name or words)."""

    key: int
    type: str
    status: str
    grid: str | None = None


class MeetingOut(MeetingBase):
    """A meeting: the record, the agenda, the decision with the vote, the follow-up cases."""

    community_code: str | None = None
    representatives: int | None = None
    options: list[str]
    decision: str | None = None
    minutes: str | None = None
    created_by: str | None = None
    created_at: str | None = None
    cases: list[AgendaCase]
    needs: list[AgendaNeed]
    follow_ups: list[AgendaCase]
    can_edit: bool
    can_follow_up: bool


class FollowUpOut(Out):
    number: str | None = None
    status: str
