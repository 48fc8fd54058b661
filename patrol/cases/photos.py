"""Keep a case's photo: checked by content, its capture time and place kept as columns (from the file's EXIF, or as the
phone sent them: its browser downscale drops EXIF, so the app reads it first or records the capture), served without
metadata and with a visible watermark (time, place, grid, worker: :mod:`patrol.cases.watermark`); the upload as
received is kept in ``Photo.original`` for evidence."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import shapely
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from patrol.cases.authority import get_case
from patrol.cases.images import inspect, strip_metadata, thumbnail
from patrol.cases.service import parse_client_id
from patrol.cases.times import parse_time
from patrol.cases.watermark import watermark
from patrol.core.auth import Actor
from patrol.core.errors import Forbidden, InvalidInput
from patrol.core.models import Case, CaseEvent, Grid, Photo, User
from patrol.core.time import now_utc


def _capture(info_taken: dt.datetime | None, info_lon: float | None, info_lat: float | None, sent: dict | None,
             timezone: str) -> tuple[dt.datetime | None, float | None, float | None, str | None]:
    """Capture time, lon, lat and their source: the file's EXIF first, else what the phone sent (``sent``: taken_at,
    lon, lat, taken_source — 'exif' when the phone read them from the file before downscaling it, else 'device')."""
    taken = info_taken
    if taken is not None and taken.tzinfo is None:
        taken = taken.replace(tzinfo=ZoneInfo(timezone))
    if taken is not None or info_lon is not None:
        return taken, info_lon, info_lat, "exif"
    sent = sent or {}
    taken = parse_time(sent.get("taken_at"), "taken_at")
    lon, lat = sent.get("lon"), sent.get("lat")
    if lon is not None and lat is not None and not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise InvalidInput(f"lon/lat ({lon}, {lat}) are not WGS-84 degrees", field="lat")
    if taken is None and lon is None:
        return None, None, None, None
    source = sent.get("taken_source") if sent.get("taken_source") in ("exif", "device") else "device"
    return taken, lon, lat, source


def stamp_lines(session: Session, actor: Actor, case: Case, taken: dt.datetime | None, lon: float | None,
                lat: float | None, timezone: str) -> list[str]:
    """The watermark's lines: time (city time), place (lon/lat, else the case's point; its address), grid, worker."""
    when = (taken or now_utc()).astimezone(ZoneInfo(timezone))
    if lon is None or lat is None:
        wkb = session.scalar(select(func.ST_AsBinary(Case.geom)).where(Case.id == case.id))
        if wkb is not None:
            p = shapely.from_wkb(bytes(wkb))
            lon, lat = p.x, p.y
    place = f"{abs(lon):.5f}°{'E' if lon >= 0 else 'W'} {abs(lat):.5f}°{'N' if lat >= 0 else 'S'}" \
        if lon is not None and lat is not None else ""
    grid = session.scalar(select(Grid.name).where(Grid.id == case.grid_id)) if case.grid_id else None
    user = session.get(User, actor.user_id) if actor.user_id else None
    who = (user.display_name or user.username) if user else actor.label
    return [f"时间 {when:%Y-%m-%d %H:%M}", f"地点 {place}".strip(), case.address and f"地址 {case.address}",
            grid and f"网格 {grid}", f"人员 {who}"]


def store_photo(session: Session, actor: Actor, case_id: int, data: bytes, *, event_id: int | None = None,
                event_client_id: str | None = None, max_bytes: int,
                timezone: str = "Asia/Shanghai", sent: dict | None = None) -> tuple[Photo, bool]:
    """Attach a photo to a case (or one of its events); the same bytes again return the stored photo. A camera's
    EXIF time without offset is read as local time of the city (``timezone``).

    The event is given by its id or by ``event_client_id``, the client id the phone gave the transition (so an
    offline queue can attach an after-photo to the verify it queued before it knew the event's id); without
    either, the case's latest event. ``sent``: the capture the phone sent with it (taken_at, lon, lat,
    taken_source), used when the file has no EXIF."""
    case = get_case(session, actor, case_id)
    if actor.role == "planner":
        raise Forbidden("a planner cannot add photos", field="role")
    if event_id is not None and event_client_id is not None:
        raise InvalidInput("give event_id or event_client_id, not both", field="event_client_id")
    if event_client_id is not None:
        cid = parse_client_id(event_client_id, field="event_client_id")
        ev = session.scalars(select(CaseEvent).where(CaseEvent.client_id == cid)).first()
        if ev is None or ev.case_id != case.id:
            raise InvalidInput(f"case {case_id} has no event with client_id {cid}", field="event_client_id")
        event_id = ev.id
    elif event_id is not None:
        ev = session.get(CaseEvent, event_id)
        if ev is None or ev.case_id != case.id:
            raise InvalidInput(f"case {case_id} has no event {event_id}", field="event_id")
    info = inspect(data, max_bytes=max_bytes)
    found = session.scalars(select(Photo).where(Photo.case_id == case.id, Photo.sha256 == info.sha256)).first()
    if found is not None:
        return found, False
    if event_id is None:
        event_id = session.scalar(select(CaseEvent.id).where(CaseEvent.case_id == case.id)
                                  .order_by(CaseEvent.at.desc(), CaseEvent.id.desc()).limit(1))
    taken, lon, lat, source = _capture(info.taken_at, info.lon, info.lat, sent, timezone)
    lines = stamp_lines(session, actor, case, taken, lon, lat, timezone)
    photo = Photo(case_id=case.id, event_id=event_id, sha256=info.sha256, mime=info.mime, width=info.width,
                  height=info.height, taken_at=taken, exif_lon=lon, exif_lat=lat, taken_source=source,
                  data=watermark(strip_metadata(data), info.mime, lines),
                  thumbnail=watermark(thumbnail(data), "image/jpeg", lines, quality=85), original=data)
    session.add(photo)
    session.flush()
    return photo, True


def public_copy(p: Photo, case_number: str, timezone: str) -> bytes:
    """A photo for outside the desk (the resident's page, the hotline's links): the file as taken, without metadata,
    stamped with its time and the case number only — the stored copy's stamp names the worker."""
    when = (p.taken_at or now_utc()).astimezone(ZoneInfo(timezone))
    lines = [f"时间 {when:%Y-%m-%d %H:%M}", f"案件 {case_number}"]
    return watermark(strip_metadata(p.original if p.original is not None else p.data), p.mime, lines)
