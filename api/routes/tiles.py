"""Our own basemap as Mapbox Vector Tiles: ``GET /tiles/{z}/{x}/{y}.pbf`` and ``GET /tiles/meta.json``.

Public (no login): a tile holds places' names and codes, roads, buildings' labels and house numbers — no worker, no
resident, no case (tests/api/test_publication.py decodes one to check). A tile is a function of (map version, z, x,
y): its strong ETag names them, ``If-None-Match`` answers 304; ``?v=`` equal to the current map version (from
meta.json) makes it cacheable for a year (``immutable``), any other URL is revalidated each time (``no-cache``). The
encoded tiles of the current version are kept in memory (:class:`patrol.city.tiles.TileCache`, at most
:data:`patrol.city.tiles.CACHE_TILES` tiles). A tile outside the city's bounds, or outside zooms 10–18, is an empty
body (a valid empty tile), answered without reading any feature.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from api.deps import ReadSessionDep
from api.schemas.tiles import TileMetaOut
from geo import tiles as gt
from patrol.city.tiles import TileCache
from patrol.core.errors import InvalidInput

router = APIRouter(tags=["maps"])

LONG = "public, max-age=31536000, immutable"
REVALIDATE = "public, no-cache"


def cache_of(request: Request) -> TileCache:
    """The app's tile cache (made on first use)."""
    state = request.app.state
    if getattr(state, "tile_cache", None) is None:
        state.tile_cache = TileCache()
    return state.tile_cache


@router.get("/tiles/meta.json", summary="What the basemap tiles hold: map version, bounds, zooms, layers",
            response_model=TileMetaOut)
def tiles_meta(request: Request, session: ReadSessionDep) -> JSONResponse:
    meta = cache_of(request).meta(session)
    return JSONResponse(meta.as_dict(), headers={"Cache-Control": REVALIDATE})


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    return any(t.strip().removeprefix("W/") in (etag, "*") for t in if_none_match.split(","))


@router.get("/tiles/{z}/{x}/{y}.pbf", summary="A basemap tile (Mapbox Vector Tile)", response_class=Response,
            responses={200: {"content": {gt.MEDIA_TYPE: {}}, "description": "the tile (empty body: nothing there)"},
                       304: {"description": "the client's copy (If-None-Match) is current"}})
def tile(request: Request, session: ReadSessionDep, z: Annotated[int, Path(ge=0, le=30)], x: int, y: int,
         v: Annotated[int | None, Query(description="map version (meta.json), a cache key only")] = None
         ) -> Response:
    if not gt.valid_tile(z, x, y):
        field = "x" if not 0 <= x < 2 ** z else "y"
        raise InvalidInput(f"tile {z}/{x}/{y} does not exist: x and y run from 0 to {2 ** z - 1} at zoom {z}",
                           field=field)
    cache = cache_of(request)
    meta = cache.meta(session)
    etag = f'"t{gt.SCHEME}.{meta.version}-{z}-{x}-{y}"'
    headers = {"ETag": etag, "Cache-Control": LONG if v is not None and v == meta.version else REVALIDATE}
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers, media_type=gt.MEDIA_TYPE)  # Vary and W/ as the 200 had
    body = cache.tile(session, meta.version, z, x, y) if gt.covers(meta.bounds, z, x, y) else b""
    return Response(body, media_type=gt.MEDIA_TYPE, headers=headers)
