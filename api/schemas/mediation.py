"""Request and response models of 调解 (mediation) and of the needs in the loop (issue 22). Responses keep any field
they do not name (:class:`api.schemas.base.Out`)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.base import Out
from api.schemas.residents import NeedOut
from api.schemas.shared import Bilingual


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PartyIn(_Strict):
    name: str = Field(min_length=1, max_length=100, description="姓名 (personal data)")
    phone: str | None = Field(None, max_length=40)
    address: str | None = Field(None, max_length=300)
    role: str | None = Field(None, max_length=40, description="申请人, 被申请人 …")


class MediationOpenIn(_Strict):
    mediator_id: int | None = Field(None, description="a user (grid worker, supervisor …); default: the caller")
    team_id: int | None = Field(None, description="a volunteer team of kind mediation (和事佬) instead of a person")
    parties: list[PartyIn] = Field(default_factory=list, max_length=20)


class MediationSessionIn(_Strict):
    client_id: str | None = Field(None, max_length=36, description="a UUID: a retry with it records nothing more")
    at: dt.datetime | None = Field(None, description="when (with a timezone); default: now")
    place: str | None = Field(None, max_length=200)
    note: str | None = Field(None, max_length=4000, description="what was said (a staff note, never public)")


class MediationCloseIn(_Strict):
    outcome: Literal["agreed", "failed", "referred"] = Field(description="达成协议 / 未达成 / 转交")
    agreement: str | None = Field(None, max_length=4000, description="the agreement (required for agreed)")
    follow_up: str | None = Field(None, max_length=2000, description="what the 回访 checks")
    follow_up_on: dt.date | None = Field(None, description="the day of the 回访")


class PartyOut(Out):
    id: int | None = None
    name: str | None = None
    role: str | None = None
    phone: str | None = None
    address: str | None = None


class SessionOut(Out):
    id: int | None = None
    at: str | None = None
    place: str | None = None
    note: str | None = None


class MediationOut(Out):
    id: int | None = None
    case_id: int | None = None
    case_number: str | None = None
    case_status: str | None = None
    category: str | None = None
    grid_id: int | None = None
    community_id: int | None = None
    mediator_id: int | None = None
    mediator: str | None = None
    team_id: int | None = None
    team: str | None = None
    outcome: str | None = None
    outcome_label: Bilingual | None = None
    agreement: str | None = None
    follow_up: str | None = None
    follow_up_on: str | None = None
    opened_at: str | None = None
    closed_at: str | None = None
    simulated: bool | None = None
    sessions: list[SessionOut] | None = None
    personal: bool | None = None
    party_count: int | None = None
    parties: list[PartyOut] | None = None
    case_handed: bool | None = None
    case_not_handed_because: str | None = None


class MediationKpiRow(Out):
    key: Any = None
    code: str | None = None
    name: str | None = None
    opened: int | None = None
    closed: int | None = None
    agreed: int | None = None
    failed: int | None = None
    referred: int | None = None
    success_rate: float | None = None


class MediationKpisOut(Out):
    by: str | None = None
    start: str | None = None
    end: str | None = None
    rows: list[MediationKpiRow] | None = None


# ---------------------------------------------------------------------------------------------- needs


class NeedAssignIn(_Strict):
    responsible_id: int | None = Field(None, description="who answers it (a grid worker, supervisor, 楼栋长 …)")
    due_on: dt.date | None = Field(None, description="answer by this day (local)")


class NeedAnswerIn(_Strict):
    response: str = Field(min_length=1, max_length=2000, description="the answer given to the resident (件件有回应)")
    status: Literal["in_progress", "resolved"] | None = Field(None, description="move the need forward too")


class NeedFeedbackIn(_Strict):
    feedback: Literal["satisfied", "basically", "dissatisfied"] = Field(description="满意 / 基本满意 / 不满意")
    note: str | None = Field(None, max_length=2000)


class NeedCaseIn(_Strict):
    category: str = Field(min_length=1, max_length=20, description="the case's category code (see /api/v1/categories)")
    description: str | None = Field(None, max_length=2000, description="the case's text: no resident's name "
                                                                       "(default: 民情诉求 and the need's type)")
    channel: Literal["staff", "patrol"] | None = None
    client_id: str | None = Field(None, max_length=36, description="a UUID: a retry with it returns the same case")


class NeedLinkIn(_Strict):
    case_id: int


class NeedLoopOut(NeedOut):
    responsible_id: int | None = None
    responsible: str | None = None
    due_on: str | None = None
    response: str | None = None
    responded_at: str | None = None
    feedback: str | None = None
    feedback_label: Bilingual | None = None
    feedback_note: str | None = None
    feedback_at: str | None = None
    case_number: str | None = None
    overdue: bool | None = None
    case_created: bool | None = None


class NeedKpiRow(Out):
    key: Any = None
    code: str | None = None
    name: str | None = None
    needs: int | None = None
    answered: int | None = None
    answered_on_time: int | None = None
    overdue: int | None = None
    resolved: int | None = None
    feedback: int | None = None
    satisfied: int | None = None
    answered_share: float | None = None
    on_time_share: float | None = None


class NeedKpisOut(Out):
    by: str | None = None
    start: str | None = None
    end: str | None = None
    rows: list[NeedKpiRow] | None = None
