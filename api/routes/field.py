"""The field-worker app's server side: the day in one response, cached on the phone for offline use."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import ActorDep, SessionDep, SettingsDep
from api.schemas.field import TodayOut
from patrol.field.day import field_today

router = APIRouter(prefix="/api/v1/field", tags=["field app"])


@router.get("/today", summary="A grid worker's day: grids, buildings, categories, stops in walking order with the "
                              "route, today's covered streets and walked length, the open patrol",
            response_model=TodayOut, response_model_exclude_unset=True)
def today(actor: ActorDep, session: SessionDep, settings: SettingsDep,
          lat: Annotated[float | None, Query(description="where she is now (WGS-84), the start of the route")] = None,
          lon: Annotated[float | None, Query(description="give both lat and lon, or neither")] = None) -> dict:
    return field_today(session, actor, settings, lat=lat, lon=lon)
