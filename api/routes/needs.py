"""民情台账 needs in the loop (issue 22, needs) over HTTP, and the desk page /desk/needs (民情诉求).

- ``GET /api/v1/needs/open?overdue=`` — the needs not yet resolved in my scope, the most overdue first (audited);
- ``POST /api/v1/needs/{need_id}/assign`` (responsible, due date) · ``…/answer`` (件件有回应) · ``…/feedback``
  (满意 / 基本满意 / 不满意) · ``…/case`` (转为案件) · ``…/link`` (to an existing case);
- ``GET /api/v1/kpis/needs?by=grid|community|overall&start&end`` — answered share, answered on time.

Personal data only for the register's roles (:mod:`patrol.surveys.residents.access`); the figures for every role that
sees the area's figures.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.deps import ActorDep, PageActorDep, Period, PeriodEnd, SessionDep, SettingsDep, local_days
from api.schemas.mediation import (
    NeedAnswerIn,
    NeedAssignIn,
    NeedCaseIn,
    NeedFeedbackIn,
    NeedKpisOut,
    NeedLinkIn,
    NeedLoopOut,
)
from maps.desk.needs import needs_page
from patrol.cases.categories import active_categories
from patrol.core.errors import GridPatrolError
from patrol.surveys.residents import needs_loop as svc

#: one router for the API and the desk page (no prefix: the paths are written out)
router = APIRouter(tags=["needs"])


@router.get("/api/v1/needs/open",
            summary="The needs not yet resolved in my scope with their due dates, the most overdue "
                    "first (民情诉求); audited",
            response_model=list[NeedLoopOut], response_model_exclude_unset=True)
def open_needs(request: Request, actor: ActorDep, session: SessionDep, settings: SettingsDep,
               overdue: Annotated[bool, Query(description="only those past their due date without an answer")]
               = False,
               limit: Annotated[int, Query(ge=1, le=5000)] = 500) -> list[dict]:
    return svc.open_needs(session, actor, settings, via=request.url.path, overdue_only=overdue, limit=limit)


@router.post("/api/v1/needs/{need_id}/assign", summary="Who answers a need and by when (the fields given)",
             response_model=NeedLoopOut, response_model_exclude_unset=True)
def assign(need_id: int, body: NeedAssignIn, request: Request, actor: ActorDep, session: SessionDep,
           settings: SettingsDep) -> dict:
    return svc.assign_need(session, actor, settings, need_id, body.model_dump(exclude_unset=True),
                           via=request.url.path)


@router.post("/api/v1/needs/{need_id}/answer", summary="The answer given to the resident (件件有回应)",
             response_model=NeedLoopOut, response_model_exclude_unset=True)
def answer(need_id: int, body: NeedAnswerIn, request: Request, actor: ActorDep, session: SessionDep,
           settings: SettingsDep) -> dict:
    return svc.answer_need(session, actor, settings, need_id, body.model_dump(), via=request.url.path)


@router.post("/api/v1/needs/{need_id}/feedback", summary="The resident's word on the answer: 满意 / 基本满意 / 不满意",
             response_model=NeedLoopOut, response_model_exclude_unset=True)
def feedback(need_id: int, body: NeedFeedbackIn, request: Request, actor: ActorDep, session: SessionDep,
             settings: SettingsDep) -> dict:
    return svc.record_feedback(session, actor, settings, need_id, body.model_dump(), via=request.url.path)


@router.post("/api/v1/needs/{need_id}/case", status_code=201,
             summary="转为案件: a case at the household's building (no resident's name in it); the need follows it",
             response_model=NeedLoopOut, response_model_exclude_unset=True)
def to_case(need_id: int, body: NeedCaseIn, request: Request, actor: ActorDep, session: SessionDep,
            settings: SettingsDep) -> dict:
    return svc.need_to_case(session, actor, settings, need_id, body.model_dump(), via=request.url.path)


@router.post("/api/v1/needs/{need_id}/link", summary="Link a need to an existing case; it follows the case",
             response_model=NeedLoopOut, response_model_exclude_unset=True)
def link(need_id: int, body: NeedLinkIn, request: Request, actor: ActorDep, session: SessionDep,
         settings: SettingsDep) -> dict:
    return svc.link_need(session, actor, settings, need_id, body.case_id, via=request.url.path)


@router.get("/api/v1/kpis/needs", summary="Needs answered (answered share) and answered on time, by grid or community",
            response_model=NeedKpisOut, response_model_exclude_unset=True)
def needs_kpis(actor: ActorDep, session: SessionDep, settings: SettingsDep,
               by: Literal["grid", "community", "overall"] = "grid", start: Period = None,
               end: PeriodEnd = None) -> dict:
    s, e = local_days(settings, start, end)
    rows = svc.needs_kpis(session, actor, settings, by=by, start=s, end=e)
    return {"by": by, "start": s.isoformat(), "end": e.isoformat(), "rows": rows}


@router.get("/desk/needs", response_class=HTMLResponse, tags=["desk"],
            summary="民情诉求: open needs with overdue marks, answers, "
                    "转为案件 (counts for roles without the register)")
def needs_html(request: Request, actor: PageActorDep, session: SessionDep, settings: SettingsDep,
               lang: Annotated[Literal["zh", "en"] | None, Query()] = None,
               overdue: Annotated[bool, Query()] = False) -> Response:
    words = lang or settings.lang
    s, e = local_days(settings, None, None)
    try:
        kpis = svc.needs_kpis(session, actor, settings, by="grid", start=s, end=e)
    except GridPatrolError:
        kpis = None
    rows = svc.open_needs(session, actor, settings, via=request.url.path, overdue_only=overdue) \
        if svc.reads_people(actor) else None
    return HTMLResponse(needs_page(words, rows=rows, kpis=kpis, overdue=overdue,
                                   categories=[(c.code, c.name_zh if words == "zh" else c.name_en)
                                               for c in active_categories(session)] if rows else [],
                                   month=s.strftime("%Y-%m")))
