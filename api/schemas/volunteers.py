"""Request and response models of the volunteer teams and the 网格服务专员 / 双报到 roster (issue 22). Response fields
are optional: phones (and notes) appear only for the community's desk, paired households only where the residents
register allows (see :mod:`patrol.people.volunteer_access`)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.base import Out
from api.schemas.shared import Bilingual


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TeamIn(_Strict):
    community_id: int
    name: str = Field(min_length=1, max_length=200, description="e.g. 和事佬调解队")
    kind: str = Field(max_length=20, description="mediation 和事佬调解队 / safety 平安志愿者 / service 志愿服务队 / "
                                                 "other")
    note: str | None = Field(None, max_length=2000)


class TeamMemberIn(_Strict):
    name: str | None = Field(None, max_length=100, description="a person without an account (or the user's name)")
    phone: str | None = Field(None, max_length=40, description="personal: shown to the community's desk only")
    role_in_team: str | None = Field(None, max_length=40, description="队长, 队员 …")
    username: str | None = Field(None, max_length=80, description="a user of the system instead of a person")


class ActiveIn(_Strict):
    active: bool


class TaskIn(_Strict):
    title: str = Field(min_length=1, max_length=200)
    due_on: dt.date | None = None
    case: str | None = Field(None, max_length=40, description="the number of the case the task is for")
    note: str | None = Field(None, max_length=2000)


class ServiceMemberIn(_Strict):
    kind: str = Field(max_length=20, description="liaison 网格服务专员 / party_member 双报到党员 / unit 双报到单位")
    name: str = Field(min_length=1, max_length=200)
    organisation: str | None = Field(None, max_length=200)
    phone: str | None = Field(None, max_length=40)
    community_id: int | None = None
    grid_id: int | None = None
    pledges: list[Annotated[str, Field(max_length=200)]] | Annotated[str, Field(max_length=2000)] | None = Field(
        None, description="承诺服务: a list, or a text separated by ；")


class PairingIn(_Strict):
    household_id: int
    since: dt.date | None = None


class PairingEndIn(_Strict):
    until: dt.date | None = None


class ServiceRecordIn(_Strict):
    client_id: str | None = Field(None, max_length=36, description="a retried submission with the same id lands once")
    on: dt.date
    kind: str = Field(max_length=40, description="visit / errand / repair / health / talk / activity / other")
    hours: float | None = None
    note: str | None = Field(None, max_length=2000)
    household_id: int | None = Field(None, description="a household paired with the member")


class TeamMemberOut(Out):
    id: int | None = None
    team_id: int | None = None
    name: str | None = None
    user_id: int | None = None
    role_in_team: str | None = None
    active: bool | None = None
    phone: str | None = None


class TaskOut(Out):
    id: int | None = None
    team_id: int | None = None
    title: str | None = None
    due_on: str | None = None
    done_at: str | None = None
    case: str | None = None
    note: str | None = None
    overdue: bool | None = None


class TeamOut(Out):
    id: int | None = None
    name: str | None = None
    kind: str | None = None
    kind_label: Bilingual | None = None
    community_id: int | None = None
    community: str | None = None
    members: list[TeamMemberOut] | None = None
    active_members: int | None = None
    open_tasks: list[TaskOut] | None = None
    done_tasks: int | None = None


class ServiceMemberOut(Out):
    id: int | None = None
    kind: str | None = None
    kind_label: Bilingual | None = None
    name: str | None = None
    organisation: str | None = None
    community_id: int | None = None
    grid_id: int | None = None
    grid: dict[str, Any] | None = None
    pledges: list[str] | None = None
    active: bool | None = None
    pairings: int | None = None
    phone: str | None = None


class RosterImportOut(Out):
    rows: int | None = None
    created: int | None = None
    updated: int | None = None


class PairingOut(Out):
    id: int | None = None
    member_id: int | None = None
    household_id: int | None = None
    since: str | None = None
    until: str | None = None


class ServiceRecordOut(Out):
    id: int | None = None
    client_id: str | None = None
    member_id: int | None = None
    on: str | None = None
    kind: str | None = None
    kind_label: Bilingual | None = None
    hours: float | None = None
    household_id: int | None = None
    note: str | None = None
    created: bool | None = None


class MonthOut(Out):
    community_id: int | None = None
    community: str | None = None
    month: str | None = None
    members: list[dict[str, Any]] | None = None
    without_service: list[str] | None = None
    liaison_without_service: list[str] | None = None
    services: int | None = None
    hours: float | None = None
    pairings: dict[str, Any] | None = None
