"""What a page needs to know about our own basemap (the vector tiles at /tiles/): the map version its tile URLs
carry, and the attribution it shows — "© OpenStreetMap contributors" when any of what the tiles draw came from
OpenStreetMap, else the city's name (official layers of the city's own surveying)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from patrol.city.map_version import current
from patrol.core.models import Building, City, RoadSegment

OSM_ATTRIBUTION = "© OpenStreetMap contributors"


@dataclass(frozen=True)
class BasemapFacts:
    version: int | None
    attribution: str


def basemap_facts(session: Session) -> BasemapFacts:
    """The map version (None before any city) and the attribution of our basemap."""
    row = session.execute(select(City.name, City.source).limit(1)).first()
    if row is None:
        return BasemapFacts(None, "")
    from_osm = "osm" in (row.source or "").lower() or bool(session.scalar(select(
        exists().where(Building.osm_id.is_not(None)) | exists().where(RoadSegment.osm_id.is_not(None)))))
    return BasemapFacts(current(session), OSM_ATTRIBUTION if from_osm else row.name)
