"""The phone's own reports over HTTP: 我的上报 (GET /api/v1/field/my-reports), the possible duplicates of a report
before she sends it (GET /api/v1/field/duplicates), and a report handled on the spot with its after-photo
(POST /api/v1/field/self-handled, 自行处置). 补充 to a duplicate is the case action ``supplement``
(POST /api/v1/cases/{id}/actions/supplement, then its photos with ``event_client_id``)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Response, UploadFile
from pydantic import Field, ValidationError

from api.deps import ActorDep, SessionDep, SettingsDep
from api.device_clock import DeviceTimeDep
from api.routes.cases import CaseIn
from api.schemas.mine import DuplicatesOut, MyReportsOut, SelfHandledOut
from geo.crs import Datum
from patrol.cases import service as svc
from patrol.cases import views
from patrol.cases.photos import store_photo
from patrol.cases.times import occurrence
from patrol.core.errors import InvalidInput
from patrol.field.mine import PAGE_MAX, my_reports, possible_duplicates

router = APIRouter(prefix="/api/v1/field", tags=["field app"])


@router.get("/my-reports", summary="我的上报: the reports I made, newest first, with case number, state and "
                                   "latest step", response_model=MyReportsOut, response_model_exclude_unset=True)
def reports(actor: ActorDep, session: SessionDep,
            limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = 50,
            offset: Annotated[int, Query(ge=0)] = 0) -> dict:
    return my_reports(session, actor, limit=limit, offset=offset)


@router.get("/duplicates", summary="Open cases of a category near a point (within the duplicate radius), before "
                                   "a report is sent", response_model=DuplicatesOut, response_model_exclude_unset=True)
def duplicates(actor: ActorDep, session: SessionDep, settings: SettingsDep,
               category: Annotated[str, Query(max_length=40)], lat: float, lon: float,
               crs: Datum = Datum.WGS84) -> dict:
    return possible_duplicates(session, actor, settings, category=category, lon=lon, lat=lat, crs=crs)


class SelfHandledIn(CaseIn):
    note: str | None = Field(None, max_length=4000, description="what she did (the handle step's note)")
    report_event_client_id: uuid.UUID | None = Field(
        None, description="given to the report's step: photos of the problem sent apart attach to it")


@router.post("/self-handled", status_code=201, response_model=SelfHandledOut, response_model_exclude_unset=True,
             summary="自行处置: a report handled on the spot, with its after-photo (required); ends handled at grid "
                     "level (201 created, 200 when the client_id is known)")
async def self_handled(actor: ActorDep, session: SessionDep, settings: SettingsDep, response: Response,
                       report: Annotated[str, Form(max_length=20_000,
                                                   description="the report as JSON: the fields of POST /cases, "
                                                               "note, report_event_client_id")],
                       file: Annotated[UploadFile, File(description="the after-photo (required)")],
                       device_time: DeviceTimeDep = None) -> dict:
    try:
        body = SelfHandledIn.model_validate_json(report)
    except ValidationError as e:
        first = e.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "report"
        raise InvalidInput(f"report.{field}: {first['msg']}", field=f"report.{field}") from None
    data = await file.read(settings.photo_max_bytes + 1)
    result = svc.create_self_handled(
        session, actor, settings, client_id=str(body.client_id), category=body.category, lon=body.lon, lat=body.lat,
        crs=body.crs, description=body.description, address=body.address, building_id=body.building_id,
        floor=body.floor, unit_no=body.unit_no, note=body.note,
        report_event_client_id=str(body.report_event_client_id) if body.report_event_client_id else None,
        occurred=occurrence(body.occurred_at, device_time, settings, now=svc.now_utc()))
    photo, _ = store_photo(session, actor, result.case.id, data, max_bytes=settings.photo_max_bytes,
                           timezone=settings.timezone, event_id=svc.handle_event_id(session, result.case.id))
    if not result.created:
        response.status_code = 200
    out = views.case_view(session, result.case, wkb=result.wkb)
    out["photo_id"] = photo.id
    return out
