"""The basemap of the pages (``GRIDPATROL_TILES``): our own vector tiles get the current map version in their URL
and an attribution from what the city holds (:mod:`patrol.city.basemap`); an external one is passed on as set."""

from __future__ import annotations

from sqlalchemy.orm import Session

from maps.field import own_basemap, tiles_config
from patrol.city.basemap import basemap_facts
from patrol.core.settings import Settings


def page_tiles(session: Session, settings: Settings) -> dict | None:
    """The page config's ``tiles`` (see :func:`maps.field.tiles_config`)."""
    if not own_basemap(settings.tiles):
        return tiles_config(settings.tiles, settings.tile_attribution)
    facts = basemap_facts(session)
    return tiles_config(settings.tiles, settings.tile_attribution or facts.attribution, version=facts.version)


def tile_attribution(session: Session, settings: Settings) -> str | None:
    """The attribution a folium page shows under its basemap."""
    if settings.tile_attribution or not own_basemap(settings.tiles):
        return settings.tile_attribution
    return basemap_facts(session).attribution
