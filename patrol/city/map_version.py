"""The version of what the basemap shows (``city.map_version``): every change to what the tiles draw — a layer
import, an OSM import, a published grid plan, new building labels — bumps it in the same transaction, and tile URLs
and ETags carry it, so no cached tile outlives the data it was drawn from."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from patrol.core.models import City


def bump(session: Session) -> int | None:
    """Increase the map version (in the caller's transaction); the new version, or None before any city."""
    session.execute(update(City).values(map_version=City.map_version + 1))
    return current(session)


def current(session: Session) -> int | None:
    """The map version, or None before any city."""
    return session.scalar(select(City.map_version).limit(1))
