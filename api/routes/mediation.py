"""调解 of dispute cases (issue 22, mediation) over HTTP, and the desk page /desk/mediation.

- ``GET /api/v1/mediations?state=open|closed&outcome=`` — the mediations of the cases in the caller's scope;
- ``POST /api/v1/cases/{case_id}/mediation`` — open one (mediator or 和事佬 team, parties);
- ``GET /api/v1/cases/{case_id}/mediation`` — one, with parties and session notes for the case's grid worker and
  community supervisor only (audited);
- ``POST /api/v1/cases/{case_id}/mediation/parties`` · ``…/sessions`` · ``…/close`` — record;
- ``GET /api/v1/kpis/mediation?by=grid|community|mediator|overall&start&end`` — 调解数, 调解成功率.

Who may do what is :mod:`patrol.cases.mediation`'s to say.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.deps import ActorDep, PageActorDep, Period, PeriodEnd, SessionDep, SettingsDep, local_days
from api.schemas.mediation import (
    MediationCloseIn,
    MediationKpisOut,
    MediationOpenIn,
    MediationOut,
    MediationSessionIn,
    PartyIn,
)
from maps.desk.mediation import mediation_page
from patrol.cases import mediation as svc
from patrol.cases.casefile import find_case
from patrol.core.errors import GridPatrolError, NotFound

#: one router for the API and the desk page (no prefix: the paths are written out)
router = APIRouter(tags=["mediation"])

Limit = Annotated[int, Query(ge=1, le=1000)]


@router.get("/api/v1/mediations",
            summary="Mediations (调解) of the cases in my scope, open first; parties (masked) only for "
                    "the grid's worker and the community's supervisor; audited",
            response_model=list[MediationOut], response_model_exclude_unset=True)
def mediations(request: Request, actor: ActorDep, session: SessionDep,
               state: Annotated[Literal["open", "closed"] | None, Query()] = None,
               outcome: Annotated[str | None, Query(description="open | agreed | failed | referred")] = None,
               limit: Limit = 200) -> list[dict]:
    return svc.list_mediations(session, actor, state=state, outcome=outcome, via=request.url.path, limit=limit)


@router.post("/api/v1/cases/{case_id}/mediation", status_code=201, summary="Open the mediation of a case",
             response_model=MediationOut, response_model_exclude_unset=True)
def open_mediation(case_id: int, body: MediationOpenIn, request: Request, actor: ActorDep,
                   session: SessionDep) -> dict:
    return svc.open_mediation(session, actor, case_id, mediator_id=body.mediator_id, team_id=body.team_id,
                              parties=[p.model_dump() for p in body.parties], via=request.url.path)


@router.get("/api/v1/cases/{case_id}/mediation",
            summary="The mediation of a case (parties and notes for the register's "
                    "roles; audited)",
            response_model=MediationOut, response_model_exclude_unset=True)
def get_mediation(case_id: int, request: Request, actor: ActorDep, session: SessionDep) -> dict:
    return svc.get_mediation(session, actor, case_id, via=request.url.path)


@router.post("/api/v1/cases/{case_id}/mediation/parties", summary="Add a party to a mediation",
             response_model=MediationOut, response_model_exclude_unset=True)
def add_party(case_id: int, body: PartyIn, request: Request, actor: ActorDep, session: SessionDep) -> dict:
    return svc.add_party(session, actor, case_id, body.model_dump(), via=request.url.path)


@router.post("/api/v1/cases/{case_id}/mediation/sessions", summary="Record a sitting of a mediation (idempotent by "
                                                            "client_id)",
             response_model=MediationOut, response_model_exclude_unset=True)
def add_session(case_id: int, body: MediationSessionIn, request: Request, actor: ActorDep,
                session: SessionDep) -> dict:
    return svc.add_session(session, actor, case_id, body.model_dump(), via=request.url.path)


@router.post("/api/v1/cases/{case_id}/mediation/close",
             summary="Close a mediation: 达成协议 (hands the case) / 未达成 / 转交",
             response_model=MediationOut, response_model_exclude_unset=True)
def close_mediation(case_id: int, body: MediationCloseIn, request: Request, actor: ActorDep, session: SessionDep,
                    settings: SettingsDep) -> dict:
    return svc.close_mediation(session, actor, settings, case_id, body.model_dump(), via=request.url.path)


@router.get("/api/v1/kpis/mediation", summary="调解数 and 调解成功率 (agreed ÷ closed) by grid, community or mediator",
            response_model=MediationKpisOut, response_model_exclude_unset=True)
def mediation_kpis(actor: ActorDep, session: SessionDep, settings: SettingsDep,
                   by: Literal["grid", "community", "mediator", "overall"] = "grid", start: Period = None,
                   end: PeriodEnd = None) -> dict:
    s, e = local_days(settings, start, end)
    rows = svc.mediation_kpis(session, actor, settings, by=by, start=s, end=e)
    return {"by": by, "start": s.isoformat(), "end": e.isoformat(), "rows": rows}


@router.get("/desk/mediation", response_class=HTMLResponse, tags=["desk"],
            summary="调解: the mediations of my scope, one in full")
def mediation_html(request: Request, actor: PageActorDep, session: SessionDep, settings: SettingsDep,
                   lang: Annotated[Literal["zh", "en"] | None, Query()] = None,
                   case: Annotated[str | None, Query(description="a case number: its mediation in full")] = None,
                   state: Annotated[Literal["open", "closed"] | None, Query()] = None,
                   outcome: Annotated[Literal["agreed", "failed", "referred"] | None, Query()] = None) -> Response:
    s, e = local_days(settings, None, None)
    try:
        kpis = svc.mediation_kpis(session, actor, settings, by="overall", start=s, end=e)
    except GridPatrolError:
        kpis = []
    rows = svc.list_mediations(session, actor, state=state, outcome=outcome, via=request.url.path)
    found, one, problem = None, None, None
    if case:
        try:
            found = find_case(session, actor, case)
        except GridPatrolError as err:
            problem = err.message
    if found is not None:
        try:
            one = svc.get_mediation(session, actor, found.id, via=request.url.path)
        except NotFound:
            one = None
    choices = svc.open_choices(session, actor, found) if found is not None and one is None else None
    return HTMLResponse(mediation_page(lang or settings.lang, rows=rows, kpis=kpis[0] if kpis else None, one=one,
                                       case=case, case_id=found.id if found else None, choices=choices,
                                       problem=problem, state=outcome or state, timezone=settings.timezone))
