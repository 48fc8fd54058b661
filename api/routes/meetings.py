"""研判 and 协商议事 (issue 22, deliberation): the HTTP API and the desk pages.

API: ``POST/GET /api/v1/cases/{case_id}/assessments`` (研判: the ``assess`` action with its form, and its record),
``GET /api/v1/meetings/lists`` (the 诉求清单 and the kinds of meeting in force), ``GET/POST /api/v1/meetings``,
``GET /api/v1/meetings/{number}``, ``POST …/{number}/links`` (a case or need on the agenda), ``…/held``,
``…/decision`` (with the vote and follow-up cases), ``…/follow-ups``, ``…/cancel``. Pages: ``/desk/meetings``
(研判议事: the 待研判 / 重难点 / 信访 lists and the community's meetings) and ``/desk/meetings/{number}`` (one
meeting: agenda, decision form, follow-ups; prints as the 会议纪要)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.deps import ActorDep, PageActorDep, SessionDep, SettingsDep
from api.schemas.cases import CaseDetail
from api.schemas.meetings import AssessmentOut, FollowUpOut, ListsOut, MeetingOut, MeetingRow
from maps.desk import meetings as page
from patrol.cases import assessment, meetings, queues, views
from patrol.cases import service as svc
from patrol.cases.lists import demand_lists
from patrol.core.auth import Actor
from patrol.core.errors import Forbidden, NotFound
from patrol.core.models import User

router = APIRouter(prefix="/api/v1", tags=["meetings"])
pages = APIRouter(tags=["meetings"])
Lang = Annotated[Literal["zh", "en"] | None, Query(description="zh (default) or en")]


# ---------------------------------------------------------------------------------------------- 研判


class AssessIn(BaseModel):
    reason: str | None = Field(None, max_length=assessment.REASON_MAX, description="why this level (required)")
    kind: str = Field("comprehensive", max_length=20, description="comprehensive (综合研判) or special (专题研判)")
    demand_list: str | None = Field(None, max_length=20, description="a code of GET /api/v1/meetings/lists "
                                                                     "(default: suggested from the category)")
    level: str | None = Field(None, max_length=20, description="grid, community or department (default: the case's)")
    key_case: bool = Field(False, description="重难点")
    petition: bool = Field(False, description="信访")
    needs_meeting: bool = Field(False, description="议事 first: dispatch waits for a meeting's decision")
    client_id: uuid.UUID | None = Field(None, description="makes a retried assessment idempotent")


@router.post("/cases/{case_id}/assessments", summary="研判: assess a registered case (list, level with a reason, "
                                                     "重难点 / 信访, 议事 first)",
             response_model=CaseDetail, response_model_exclude_unset=True)
def assess(case_id: int, body: AssessIn, actor: ActorDep, session: SessionDep, settings: SettingsDep) -> dict:
    case = svc.transition(session, actor, settings, case_id, "assess", note=body.reason,
                          client_id=str(body.client_id) if body.client_id else None,
                          assess=body.model_dump(exclude={"reason", "client_id"}))
    return views.case_view(session, case, detail=True)


@router.get("/cases/{case_id}/assessments", summary="The 研判 record of a case, newest first",
            response_model=list[AssessmentOut])
def assessments(case_id: int, actor: ActorDep, session: SessionDep, settings: SettingsDep,
                lang: Lang = None) -> list[dict[str, Any]]:
    svc.get_case(session, actor, case_id)
    return assessment.history(session, settings, case_id, lang or settings.lang)


# ---------------------------------------------------------------------------------------------- 议事


@router.get("/meetings/lists", summary="The 诉求清单 and the kinds of 议事 meeting in force",
            response_model=ListsOut)
def lists(actor: ActorDep, settings: SettingsDep) -> dict[str, Any]:
    return {"demand_lists": [e.as_dict() for e in demand_lists(settings)], "kinds": meetings.kinds_view(settings)}


class MeetingIn(BaseModel):
    kind: str = Field(max_length=40, description="a kind of GET /api/v1/meetings/lists, e.g. grid_council")
    topic: str = Field(max_length=meetings.TOPIC_MAX)
    community: str | None = Field(None, max_length=20, description="the community's code (a supervisor's own "
                                                                   "by default)")
    held_at: str | None = Field(None, max_length=40, description="date or local time, e.g. 2026-12-08T19:00")
    place: str | None = Field(None, max_length=200)
    cases: list[Annotated[str, Field(max_length=20)]] = Field(default_factory=list, max_length=50,
                                                             description="case numbers on the agenda")
    needs: list[int] = Field(default_factory=list, max_length=50, description="民情台账 needs on the agenda")


@router.get("/meetings", summary="The meetings of your communities, newest first",
            response_model=list[MeetingRow])
def meeting_list(actor: ActorDep, session: SessionDep, settings: SettingsDep,
                 community: Annotated[str | None, Query(max_length=20)] = None,
                 status: Annotated[str | None, Query(max_length=20)] = None,
                 kind: Annotated[str | None, Query(max_length=40)] = None,
                 start: dt.date | None = None, end: dt.date | None = None,
                 lang: Lang = None) -> list[dict[str, Any]]:
    return meetings.list_meetings(session, actor, settings, community=community, status=status, kind=kind,
                                  start=start, end=end, lang=lang or settings.lang)


@router.post("/meetings", status_code=201, summary="Plan a meeting (cases and needs on its agenda)",
              response_model=MeetingOut)
def plan(body: MeetingIn, actor: ActorDep, session: SessionDep, settings: SettingsDep) -> dict[str, Any]:
    m = meetings.plan_meeting(session, actor, settings, kind=body.kind, topic=body.topic, community=body.community,
                              when=body.held_at, place=body.place, cases=body.cases, needs=body.needs)
    return meetings.meeting_view(session, actor, settings, str(m.number), lang=settings.lang)


@router.get("/meetings/{number}", summary="A meeting: record, agenda, decision, follow-ups",
              response_model=MeetingOut)
def meeting(number: str, actor: ActorDep, session: SessionDep, settings: SettingsDep,
            lang: Lang = None) -> dict[str, Any]:
    return meetings.meeting_view(session, actor, settings, number, lang=lang or settings.lang)


class LinkIn(BaseModel):
    case: str | None = Field(None, max_length=20, description="a case number")
    need: int | None = None


@router.post("/meetings/{number}/links", summary="Put a case or a need on the agenda",
              response_model=MeetingOut)
def add_link(number: str, body: LinkIn, actor: ActorDep, session: SessionDep, settings: SettingsDep) -> dict:
    meetings.link(session, actor, number, case=body.case, need=body.need)
    return meetings.meeting_view(session, actor, settings, number, lang=settings.lang)


class HeldIn(BaseModel):
    participants: int | None = Field(None, ge=0, le=100000)
    representatives: int | None = Field(None, ge=0, le=100000, description="居民代表")
    options: list[Annotated[str, Field(max_length=meetings.TOPIC_MAX)]] | None = Field(
        None, max_length=meetings.OPTIONS_MAX)
    minutes: str | None = Field(None, max_length=meetings.TEXT_MAX, description="会议纪要")
    held_at: str | None = Field(None, max_length=40)
    place: str | None = Field(None, max_length=200)


@router.post("/meetings/{number}/held", summary="Record the meeting held (participants, options, minutes)",
              response_model=MeetingOut)
def held(number: str, body: HeldIn, actor: ActorDep, session: SessionDep, settings: SettingsDep) -> dict:
    meetings.record_held(session, actor, settings, number, participants=body.participants,
                         representatives=body.representatives, options=body.options, minutes=body.minutes,
                         when=body.held_at, place=body.place)
    return meetings.meeting_view(session, actor, settings, number, lang=settings.lang)


class FollowUpIn(BaseModel):
    category: str = Field(max_length=40)
    description: str | None = Field(None, max_length=4000)
    lon: float | None = None
    lat: float | None = None


class DecisionIn(HeldIn):
    decision: str = Field(max_length=meetings.TEXT_MAX)
    votes_for: int | None = Field(None, ge=0, le=100000)
    votes_against: int | None = Field(None, ge=0, le=100000)
    votes_abstain: int | None = Field(None, ge=0, le=100000)
    follow_ups: list[FollowUpIn] = Field(default_factory=list, max_length=20)


@router.post("/meetings/{number}/decision", summary="Decide (with the vote; follow-up cases created)",
              response_model=MeetingOut)
def decision(number: str, body: DecisionIn, actor: ActorDep, session: SessionDep, settings: SettingsDep) -> dict:
    meetings.decide(session, actor, settings, number, decision=body.decision, votes_for=body.votes_for,
                    votes_against=body.votes_against, votes_abstain=body.votes_abstain,
                    participants=body.participants, representatives=body.representatives, options=body.options,
                    minutes=body.minutes, when=body.held_at, place=body.place,
                    follow_ups=[f.model_dump() for f in body.follow_ups])
    return meetings.meeting_view(session, actor, settings, number, lang=settings.lang)


@router.post("/meetings/{number}/follow-ups", status_code=201, summary="A follow-up case from the decision",
              response_model=FollowUpOut)
def follow_up(number: str, body: FollowUpIn, actor: ActorDep, session: SessionDep, settings: SettingsDep) -> dict:
    case = meetings.add_follow_up(session, actor, settings, number, **body.model_dump())
    return {"number": case.number, "status": case.status}


class CancelIn(BaseModel):
    reason: str = Field(max_length=2000)


@router.post("/meetings/{number}/cancel", summary="Cancel a meeting not yet decided (with the reason)",
              response_model=MeetingOut)
def cancel(number: str, body: CancelIn, actor: ActorDep, session: SessionDep, settings: SettingsDep) -> dict:
    meetings.cancel(session, actor, number, reason=body.reason)
    return meetings.meeting_view(session, actor, settings, number, lang=settings.lang)


# ---------------------------------------------------------------------------------------------- pages


def _lists(session: SessionDep, actor: ActorDep, settings: SettingsDep) -> dict[str, Any]:
    if actor.role not in queues.ROLE_QUEUES or not set(queues.DELIBERATION) <= set(queues.ROLE_QUEUES[actor.role]):
        return {}
    return {name: queues.queue_page(session, actor, settings, name, queues.QueueFilter(), limit=50)
            for name in queues.DELIBERATION}


@pages.get("/desk/meetings", response_class=HTMLResponse, summary="研判议事: the lists and the meetings")
def meetings_page(actor: PageActorDep, session: SessionDep, settings: SettingsDep, lang: Lang = None) -> HTMLResponse:
    lang_ = lang or settings.lang
    try:
        rows = meetings.list_meetings(session, actor, settings, lang=lang_)
    except Forbidden:
        return HTMLResponse(page.refused_page(lang_), status_code=403)
    return HTMLResponse(page.meetings_page(lang_, lists=_lists(session, actor, settings), meetings=rows,
                                           kinds=meetings.kinds_view(settings), timezone=settings.timezone,
                                           can_plan=actor.role in meetings.STAFF,
                                           need_community=actor.role != "supervisor", who=_who(session, actor)))


@pages.get("/desk/meetings/{number}", response_class=HTMLResponse, summary="One meeting (agenda, decision, 纪要)")
def meeting_page(number: str, actor: PageActorDep, session: SessionDep, settings: SettingsDep,
                 lang: Lang = None) -> HTMLResponse:
    lang_ = lang or settings.lang
    try:
        data = meetings.meeting_view(session, actor, settings, number, lang=lang_)
    except (NotFound, Forbidden) as e:
        return HTMLResponse(page.refused_page(lang_, number=number, missing=isinstance(e, NotFound)),
                            status_code=404 if isinstance(e, NotFound) else 403)
    return HTMLResponse(page.meeting_page(lang_, data, timezone=settings.timezone, who=_who(session, actor)))


def _who(session: Session, actor: Actor) -> dict[str, str]:
    """The reader as the header names her: role and display name."""
    name = session.scalar(select(User.display_name).where(User.id == actor.user_id)) if actor.user_id else None
    return {"role": actor.role, "who": name or actor.label}
