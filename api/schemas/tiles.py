"""Response model of ``GET /tiles/meta.json`` (api/routes/tiles.py): what the basemap tiles hold."""

from __future__ import annotations

from api.schemas.base import Out


class TileMetaOut(Out):
    version: int | None = None
    bounds: list[float] | None = None
    minzoom: int | None = None
    maxzoom: int | None = None
    layers: list[str] | None = None
    properties: dict[str, list[str]] | None = None
    extent: int | None = None
    buffer: int | None = None
    buildings_from: int | None = None
