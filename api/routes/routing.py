"""Routing endpoints: who is responsible for a case here and the nearest of them by road; a worker's day route."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from api.deps import ActorDep, SessionDep, SettingsDep
from api.schemas.field import WorkerDay
from api.schemas.routing import ResponsibleOut
from geo.crs import Datum
from patrol.cases import routing as svc
from patrol.cases.places import to_point
from patrol.cases.views import check_route_reader
from patrol.cases.worktime import local_today
from patrol.core.errors import Forbidden, InvalidInput

router = APIRouter(prefix="/api/v1", tags=["routing"])


@router.get("/routing/responsible", summary="Who must handle a case of this category here, nearest by road first",
            response_model=ResponsibleOut, response_model_exclude_unset=True)
def responsible(actor: ActorDep, session: SessionDep, lat: float, lon: float, category: str,
                level: Literal["grid", "community", "department"] | None = None,
                crs: Datum = Datum.WGS84) -> dict:
    if actor.role not in ("admin", "supervisor", "subdistrict", "grid_worker", "planner", "department", "grid_lead"):
        raise Forbidden(f"a {actor.role} cannot query responsibility", field="role")
    x, y = to_point(lon, lat, crs)
    return svc.responsible(session, lon=x, lat=y, category=category, level=level).as_dict()


@router.get("/workers/{worker_id}/route", summary="A grid worker's stops for the day in walking order, with the route",
            response_model=WorkerDay, response_model_exclude_unset=True)
def worker_route(worker_id: int, actor: ActorDep, session: SessionDep, settings: SettingsDep,
                 date: Annotated[dt.date | None, Query(description="the day (default: today, local time)")] = None,
                 lat: float | None = None, lon: float | None = None) -> dict:
    check_route_reader(session, actor, worker_id)
    if (lat is None) != (lon is None):
        raise InvalidInput("give both lat and lon for the start, or neither", field="lat" if lat is None else "lon")
    start = to_point(lon, lat) if lat is not None and lon is not None else None
    day = date or local_today(settings.timezone)
    return svc.worker_day(session, worker_id, day, start=start)
