"""Patrols over HTTP: start, GPS fixes, end, the patrol's summary; household visits; 回头看 revisits."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from api.deps import ActorDep, SessionDep, SettingsDep
from api.device_clock import OCCURRED_AT, DeviceTimeDep
from api.schemas.cases import RecordedRevisit, RevisitOut
from api.schemas.patrols import AddFixesOut, PatrolOut, VisitOut
from geo.crs import Datum
from patrol.cases import service as svc
from patrol.cases import views
from patrol.cases.times import occurrence
from patrol.core.time import iso
from patrol.field import patrols as pat
from patrol.surveys.residents import visit_register
from patrol.surveys.schemas import NeedIn

router = APIRouter(prefix="/api/v1", tags=["patrols"])


class PatrolIn(BaseModel):
    client_id: uuid.UUID
    started_at: dt.datetime | None = None
    grid_id: int | None = None


@router.post("/patrols", status_code=201, summary="Start a patrol (idempotent by client_id)",
             response_model=PatrolOut, response_model_exclude_unset=True)
def start_patrol(body: PatrolIn, response: Response, actor: ActorDep, session: SessionDep) -> dict:
    p, created = pat.start_patrol(session, actor, client_id=str(body.client_id), started_at=body.started_at,
                                  grid_id=body.grid_id)
    if not created:
        response.status_code = 200
    return pat.patrol_summary(session, actor, p.id)


class FixIn(BaseModel):
    time: dt.datetime
    lat: float
    lon: float
    accuracy: float | None = Field(None, description="metres")
    gcj02: bool = Field(False, description="the phone reports GCJ-02 (AMap/Tencent location SDKs)")


class FixesIn(BaseModel):
    fixes: list[FixIn]


@router.post("/patrols/{patrol_id}/fixes", summary="A batch of GPS fixes",
             response_model=AddFixesOut, response_model_exclude_unset=True)
def add_fixes(patrol_id: int, body: FixesIn, actor: ActorDep, session: SessionDep) -> dict:
    fixes = [pat.Fix(f.time, f.lon, f.lat, f.accuracy, "gcj02" if f.gcj02 else "wgs84") for f in body.fixes]
    return pat.add_fixes(session, actor, patrol_id, fixes)


class EndIn(BaseModel):
    ended_at: dt.datetime | None = None


@router.post("/patrols/{patrol_id}/end", summary="End a patrol",
             response_model=PatrolOut, response_model_exclude_unset=True)
def end_patrol(patrol_id: int, actor: ActorDep, session: SessionDep, body: EndIn | None = None) -> dict:
    pat.end_patrol(session, actor, patrol_id, ended_at=(body or EndIn()).ended_at)
    return pat.patrol_summary(session, actor, patrol_id)


@router.get("/patrols/{patrol_id}", summary="A patrol: fixes, flags, length and track",
            response_model=PatrolOut, response_model_exclude_unset=True)
def get_patrol(patrol_id: int, actor: ActorDep, session: SessionDep) -> dict:
    return pat.patrol_summary(session, actor, patrol_id)


class VisitIn(BaseModel):
    client_id: uuid.UUID
    building_id: int
    time: dt.datetime | None = None
    patrol_id: int | None = None
    note: str | None = Field(None, max_length=4000)
    lat: float | None = None
    lon: float | None = None
    crs: Datum = Datum.WGS84
    household_id: int | None = Field(None, description="the household visited (民情台账), in this building")
    needs: list[NeedIn] | None = Field(None, max_length=50, description="needs raised at the visit (needs "
                                                                        "household_id); recorded once per client_id")


@router.post("/visits", status_code=201, summary="Household visit check-in at a building",
             response_model=VisitOut, response_model_exclude_unset=True)
def visit(body: VisitIn, response: Response, actor: ActorDep, session: SessionDep) -> dict:
    v, created = pat.check_in(session, actor, client_id=str(body.client_id), building_id=body.building_id,
                              time=body.time, patrol_id=body.patrol_id, note=body.note, lon=body.lon, lat=body.lat,
                              crs=body.crs, household_id=body.household_id,
                              needs=[n.model_dump() for n in body.needs] if body.needs else None)
    if not created:
        response.status_code = 200
    return {"id": v.id, "client_id": v.client_id, "building_id": v.building_id, "time": iso(v.time),
            **visit_register(session, v.id)}


# ---------------------------------------------------------------------------------------------- revisits, tasks


@router.get("/revisits", summary="回头看 revisits in my scope, by due date",
            response_model=list[RevisitOut], response_model_exclude_unset=True)
def revisits(actor: ActorDep, session: SessionDep, pending: bool = True) -> list[dict]:
    return views.revisits_in_scope(session, actor, pending=pending)


class RevisitIn(BaseModel):
    outcome: Literal["still_fixed", "reopen"]
    note: str | None = Field(None, max_length=4000)
    client_id: uuid.UUID | None = Field(None, description="makes a retried revisit idempotent")
    occurred_at: str | None = Field(None, max_length=40, description=OCCURRED_AT)
    lat: float | None = None
    lon: float | None = None


@router.post("/revisits/{revisit_id}", summary="Record a revisit: still fixed, or reopen",
             response_model=RecordedRevisit, response_model_exclude_unset=True)
def record_revisit(revisit_id: int, body: RevisitIn, actor: ActorDep, session: SessionDep,
                   settings: SettingsDep, device_time: DeviceTimeDep = None) -> dict:
    occurred = occurrence(body.occurred_at, device_time, settings, now=svc.now_utc())
    rv = svc.record_revisit(session, actor, settings, revisit_id, body.outcome, note=body.note,
                            client_id=str(body.client_id) if body.client_id else None, occurred=occurred,
                            point=svc.to_point(body.lon, body.lat) if body.lat is not None and body.lon is not None
                            else None)
    return {"id": rv.id, "case_id": rv.case_id, "outcome": rv.outcome, "done_at": iso(rv.done_at)}


