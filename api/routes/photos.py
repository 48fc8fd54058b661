"""Photos of cases over HTTP: upload (EXIF read, then stripped; watermarked with time, place, grid and worker), the
photo and its thumbnail, and the file as uploaded (evidence: staff of the case's scope only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Response, UploadFile

from api.deps import ActorDep, SessionDep, SettingsDep
from api.schemas.cases import PhotoOut
from patrol.cases import views
from patrol.cases.photos import store_photo
from patrol.core.errors import Forbidden
from patrol.core.time import iso

router = APIRouter(prefix="/api/v1", tags=["cases"])


@router.post("/cases/{case_id}/photos", status_code=201, summary="Attach a photo (JPEG, PNG or WebP)",
             response_model=PhotoOut, response_model_exclude_unset=True)
async def upload_photo(case_id: int, actor: ActorDep, session: SessionDep, settings: SettingsDep,
                       response: Response, file: Annotated[UploadFile, File(description="the photo")],
                       event_id: Annotated[int | None, Form()] = None,
                       event_client_id: Annotated[str | None, Form(max_length=64,
                           description="the client_id given to a transition (e.g. a verify queued offline): "
                                       "the photo is attached to that event")] = None,
                       taken_at: Annotated[str | None, Form(max_length=40, description="when it was taken (ISO 8601 "
                           "with offset), when the file has no EXIF (a phone's downscale drops it)")] = None,
                       lon: Annotated[float | None, Form(description="where it was taken, WGS-84")] = None,
                       lat: Annotated[float | None, Form(description="where it was taken, WGS-84")] = None,
                       taken_source: Annotated[str | None, Form(max_length=10, description="exif: read from the "
                           "file by the phone before downscaling; device: the phone's clock and GPS at capture")]
                       = None) -> dict:
    data = await file.read(settings.photo_max_bytes + 1)
    sent = {"taken_at": taken_at, "lon": lon, "lat": lat, "taken_source": taken_source}
    photo, created = store_photo(session, actor, case_id, data, event_id=event_id, event_client_id=event_client_id,
                                 max_bytes=settings.photo_max_bytes, timezone=settings.timezone, sent=sent)
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


#: who may download a photo as uploaded (with its EXIF: the worker's position, the phone's make): staff of the case
ORIGINAL_ROLES = ("supervisor", "subdistrict", "admin")


@router.get("/photos/{photo_id}/original", summary="The photo as uploaded, metadata and all (evidence; staff of the "
                                                   "case's community or subdistrict, and admins)")
def photo_original(photo_id: int, actor: ActorDep, session: SessionDep) -> Response:
    if actor.role not in ORIGINAL_ROLES:
        raise Forbidden("only the case's staff (supervisor, subdistrict, admin) download an original",
                        field="role")
    p = views.photo_in_scope(session, actor, photo_id)
    data = p.original if p.original is not None else p.data  # photos from before originals were kept
    return Response(data, media_type=p.mime, headers={
        "Cache-Control": "private, no-store",
        "Content-Disposition": f'attachment; filename="photo-{p.id}-original.{p.mime.split("/")[1]}"'})


