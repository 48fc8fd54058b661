"""The residents register (民情台账) over HTTP: households, residents, needs, due visits, the supervisor's export, the
audit trail, and the per-grid visits report.

Personal data are readable only by the grid worker of the household's grid and the supervisor of its community
(:mod:`patrol.surveys.residents` decides; everyone else gets 403, no token 401). Every read is audited in the request's
own transaction, with the request path as ``via``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from api.csv_safe import HeaderMode, csv_response
from api.deps import ActorDep, SessionDep, SettingsDep
from api.schemas.residents import (
    AuditEntry,
    HouseholdListItem,
    HouseholdOut,
    NeedOut,
    ResidentOut,
    VisitsReportOut,
)
from api.schemas.shared import VisitsDueItem
from patrol.surveys import residents as svc
from patrol.surveys.schemas import HouseholdIn, HouseholdPatch, NeedPatch, ResidentIn, ResidentPatch
from patrol.surveys.schemas import StrictNeedIn as NeedIn

router = APIRouter(prefix="/api/v1", tags=["residents"])

Today = Annotated[dt.date | None, Query(description="compute due visits as of this day (default: today in the "
                                                    "city's timezone)")]
Limit = Annotated[int, Query(ge=1, le=10000)]


def _today(settings, today: dt.date | None) -> dt.date:
    return today or svc.local_today(settings)


def _patch(body: BaseModel, booleans: tuple[str, ...] = ()) -> dict:
    data = body.model_dump(exclude_unset=True)
    for name in booleans:  # null for a flag means "no"
        if name in data and data[name] is None:
            data[name] = False
    return data


# ---------------------------------------------------------------------------------------------- households


@router.get("/households", summary="Households of my grids / community (民情台账), phones masked; audited",
            response_model=list[HouseholdListItem], response_model_exclude_unset=True)
def households(request: Request, actor: ActorDep, session: SessionDep, settings: SettingsDep,
               grid_id: int | None = None, building_id: int | None = None,
               q: Annotated[str | None, Query(description="text in the room, the head's or a resident's name")] = None,
               due: Annotated[bool | None, Query(description="only households due a visit (true) or not (false)")]
               = None, today: Today = None, limit: Limit = 1000) -> list[dict]:
    return svc.list_households(session, actor, today=_today(settings, today), settings=settings,
                               via=request.url.path, grid_id=grid_id, building_id=building_id, q=q, due=due,
                               limit=limit)


@router.post("/households", status_code=201, summary="Add a household to the register (409 if the room is there)",
             response_model=HouseholdOut, response_model_exclude_unset=True)
def create_household(body: HouseholdIn, request: Request, actor: ActorDep, session: SessionDep,
                     settings: SettingsDep) -> dict:
    return svc.create_household(session, actor, body.model_dump(exclude_unset=True), today=_today(settings, None),
                                settings=settings, via=request.url.path)


@router.get("/households/{household_id}", summary="One household: residents (full phones), needs, visits; audited",
            response_model=HouseholdOut, response_model_exclude_unset=True)
def household(household_id: int, request: Request, actor: ActorDep, session: SessionDep, settings: SettingsDep,
              today: Today = None) -> dict:
    return svc.household_detail(session, actor, household_id, today=_today(settings, today), settings=settings,
                                via=request.url.path)


@router.patch("/households/{household_id}", summary="Change a household (the fields given; null clears one)",
              response_model=HouseholdOut, response_model_exclude_unset=True)
def update_household(household_id: int, body: HouseholdPatch, request: Request, actor: ActorDep,
                     session: SessionDep, settings: SettingsDep) -> dict:
    return svc.update_household(session, actor, household_id, _patch(body), today=_today(settings, None),
                                settings=settings, via=request.url.path)


@router.delete("/households/{household_id}", status_code=204, summary="Remove a household with its residents and "
                                                                       "needs")
def delete_household(household_id: int, request: Request, actor: ActorDep, session: SessionDep) -> Response:
    svc.delete_household(session, actor, household_id, via=request.url.path)
    return Response(status_code=204)


@router.post("/households/{household_id}/residents", status_code=201, summary="Add a resident to a household",
             response_model=ResidentOut, response_model_exclude_unset=True)
def add_resident(household_id: int, body: ResidentIn, request: Request, actor: ActorDep, session: SessionDep,
                 settings: SettingsDep) -> dict:
    return svc.add_resident(session, actor, household_id, body.model_dump(), today=_today(settings, None),
                            settings=settings, via=request.url.path)


@router.post("/households/{household_id}/needs", status_code=201, summary="Record a need of a household (民情台账)",
             response_model=NeedOut, response_model_exclude_unset=True)
def add_need(household_id: int, body: NeedIn, request: Request, actor: ActorDep, session: SessionDep,
             settings: SettingsDep) -> dict:
    return svc.add_need(session, actor, household_id, body.model_dump(), via=request.url.path, settings=settings)


# ---------------------------------------------------------------------------------------------- residents


@router.get("/residents/due", summary="Households due a visit with their vulnerable residents (masked phones); "
                                      "audited",
            response_model=list[VisitsDueItem], response_model_exclude_unset=True)
def due(request: Request, actor: ActorDep, session: SessionDep, settings: SettingsDep, grid_id: int | None = None,
        today: Today = None) -> list[dict]:
    return svc.due_visits(session, actor, today=_today(settings, today), settings=settings, grid_id=grid_id,
                          via=request.url.path)


@router.get("/residents/export.csv", summary="The supervisor's register of her community as CSV, in full; audited")
def export(request: Request, actor: ActorDep, session: SessionDep, settings: SettingsDep,
           grid_id: int | None = None, today: Today = None, headers: HeaderMode = "zh") -> Response:
    text = svc.export_csv(session, actor, today=_today(settings, today), settings=settings, via=request.url.path,
                          grid_id=grid_id)
    return csv_response(text, "residents.csv", {"Cache-Control": "no-store"}, header_mode=headers)


@router.get("/residents/audit", summary="Who read or changed which records (ids and actors, no personal data)",
            response_model=list[AuditEntry], response_model_exclude_unset=True)
def audit(actor: ActorDep, session: SessionDep, household_id: int | None = None, resident_id: int | None = None,
          actor_id: int | None = None, limit: Limit = 1000) -> list[dict]:
    return svc.audit_trail(session, actor, household_id=household_id, resident_id=resident_id, actor_id=actor_id,
                           limit=limit)


@router.get("/residents/{resident_id}", summary="One resident in full; audited",
            response_model=ResidentOut, response_model_exclude_unset=True)
def resident(resident_id: int, request: Request, actor: ActorDep, session: SessionDep,
             settings: SettingsDep) -> dict:
    return svc.get_resident(session, actor, resident_id, today=_today(settings, None), settings=settings,
                            via=request.url.path)


@router.patch("/residents/{resident_id}", summary="Change a resident (the fields given)",
              response_model=ResidentOut, response_model_exclude_unset=True)
def update_resident(resident_id: int, body: ResidentPatch, request: Request, actor: ActorDep, session: SessionDep,
                    settings: SettingsDep) -> dict:
    return svc.update_resident(session, actor, resident_id, _patch(body, ("disabled", "lives_alone")),
                               today=_today(settings, None), settings=settings, via=request.url.path)


@router.delete("/residents/{resident_id}", status_code=204, summary="Remove a resident")
def delete_resident(resident_id: int, request: Request, actor: ActorDep, session: SessionDep) -> Response:
    svc.delete_resident(session, actor, resident_id, via=request.url.path)
    return Response(status_code=204)


# ---------------------------------------------------------------------------------------------- needs


@router.get("/needs", summary="The register of needs (民情台账) in my scope, newest first; audited",
            response_model=list[NeedOut], response_model_exclude_unset=True)
def needs(request: Request, actor: ActorDep, session: SessionDep,
          status: Annotated[str | None, Query(description="open | in_progress | resolved")] = None,
          type: Annotated[str | None, Query(description="education | medical | housing | jobs | elderly_care | "
                                                        "other")] = None,
          grid_id: int | None = None, household_id: int | None = None, limit: Limit = 1000) -> list[dict]:
    return svc.list_needs(session, actor, via=request.url.path, status=status, type=type, grid_id=grid_id,
                          household_id=household_id, limit=limit)


@router.patch("/needs/{need_id}", summary="Move a need forward: open → in_progress → resolved",
              response_model=NeedOut, response_model_exclude_unset=True)
def update_need(need_id: int, body: NeedPatch, request: Request, actor: ActorDep, session: SessionDep) -> dict:
    return svc.set_need_status(session, actor, need_id, body.status, via=request.url.path)


# ---------------------------------------------------------------------------------------------- report


@router.get("/surveys/report/visits", tags=["surveys"],
            summary="Per grid counts (no names): households, vulnerable residents, visits in the month, overdue",
            response_model=VisitsReportOut, response_model_exclude_unset=True)
def visits_report(actor: ActorDep, session: SessionDep, settings: SettingsDep,
                  month: Annotated[str | None, Query(description="YYYY-MM (default: this month)")] = None) -> dict:
    return svc.visits_report(session, actor, month=month, settings=settings)
