"""Photos of cases over HTTP: upload (EXIF read, then stripped), the photo and its thumbnail."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Response, UploadFile

from api.deps import ActorDep, SessionDep, SettingsDep
from api.schemas.cases import PhotoOut
from patrol.cases import views
from patrol.cases.photos import store_photo
from patrol.core.time import iso

router = APIRouter(prefix="/api/v1", tags=["cases"])


@router.post("/cases/{case_id}/photos", status_code=201, summary="Attach a photo (JPEG, PNG or WebP)",
             response_model=PhotoOut, response_model_exclude_unset=True)
async def upload_photo(case_id: int, actor: ActorDep, session: SessionDep, settings: SettingsDep,
                       response: Response, file: Annotated[UploadFile, File(description="the photo")],
                       event_id: Annotated[int | None, Form()] = None,
                       event_client_id: Annotated[str | None, Form(max_length=64,
                           description="the client_id given to a transition (e.g. a verify queued offline): "
                                       "the photo is attached to that event")] = None) -> dict:
    data = await file.read(settings.photo_max_bytes + 1)
    photo, created = store_photo(session, actor, case_id, data, event_id=event_id, event_client_id=event_client_id,
                                 max_bytes=settings.photo_max_bytes, timezone=settings.timezone)
    if not created:
        response.status_code = 200
    return {"id": photo.id, "case_id": photo.case_id, "mime": photo.mime, "width": photo.width,
            "height": photo.height, "taken_at": iso(photo.taken_at), "exif_lon": photo.exif_lon,
            "exif_lat": photo.exif_lat, "url": f"/api/v1/photos/{photo.id}"}


@router.get("/photos/{photo_id}", summary="A photo, without its EXIF metadata")
def photo(photo_id: int, actor: ActorDep, session: SessionDep) -> Response:
    p = views.photo_in_scope(session, actor, photo_id)
    return Response(p.data, media_type=p.mime, headers={"Cache-Control": "private, max-age=86400"})


@router.get("/photos/{photo_id}/thumbnail", summary="A JPEG thumbnail of a photo")
def photo_thumbnail(photo_id: int, actor: ActorDep, session: SessionDep) -> Response:
    p = views.photo_in_scope(session, actor, photo_id)
    return Response(p.thumbnail, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"})


