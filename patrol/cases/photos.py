"""Keep a case's photo: checked by content, EXIF time and place kept as columns, served without metadata."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from patrol.cases.authority import get_case
from patrol.cases.images import inspect, strip_metadata, thumbnail
from patrol.cases.service import parse_client_id
from patrol.core.auth import Actor
from patrol.core.errors import Forbidden, InvalidInput
from patrol.core.models import CaseEvent, Photo


def store_photo(session: Session, actor: Actor, case_id: int, data: bytes, *, event_id: int | None = None,
                event_client_id: str | None = None, max_bytes: int,
                timezone: str = "Asia/Shanghai") -> tuple[Photo, bool]:
    """Attach a photo to a case (or one of its events); the same bytes again return the stored photo. A camera's
    EXIF time without offset is read as local time of the city (``timezone``).

    The event is given by its id or by ``event_client_id``, the client id the phone gave the transition (so an
    offline queue can attach an after-photo to the verify it queued before it knew the event's id); without
    either, the case's latest event."""
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
    taken = info.taken_at
    if taken is not None and taken.tzinfo is None:
        taken = taken.replace(tzinfo=ZoneInfo(timezone))
    photo = Photo(case_id=case.id, event_id=event_id, sha256=info.sha256, mime=info.mime, width=info.width,
                  height=info.height, taken_at=taken,
                  exif_lon=info.lon, exif_lat=info.lat, data=strip_metadata(data), thumbnail=thumbnail(data))
    session.add(photo)
    session.flush()
    return photo, True
