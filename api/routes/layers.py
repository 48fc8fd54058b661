"""GeoJSON endpoints of the spatial layers: communities, grids, buildings, roads (bbox filter, pagination).

Public: what they show follows :mod:`patrol.publication.policy` (grid workers only where configured public, or to a
logged-in member of staff, who sees them on the staff pages anyway)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from api.deps import OptionalActorDep, ReadSessionDep, SettingsDep
from api.geojson import page_collection
from api.schemas.base import FeatureCollection
from patrol.city.read_models import layer_page, parse_bbox
from patrol.publication.policy import worker_names_public

router = APIRouter(prefix="/api/v1", tags=["layers"])
GEOJSON = "application/geo+json"

BBox = Annotated[str | None, Query(description="minlon,minlat,maxlon,maxlat (WGS-84)", examples=["9.5,47.1,9.6,47.2"])]
Limit = Annotated[int, Query(ge=1, description="page size (at most the configured page_size_max)")]
Offset = Annotated[int, Query(ge=0)]


def _respond(session, settings, request: Request, layer: str, bbox, limit, offset, actor=None,
             **filters) -> JSONResponse:
    limit = min(limit, settings.page_size_max)
    named = worker_names_public(settings) or actor is not None
    page = layer_page(session, layer, bbox=parse_bbox(bbox), limit=limit, offset=offset, filters=filters,
                      worker_names=named)
    return JSONResponse(page_collection(page, request), media_type=GEOJSON)


@router.get("/communities", summary="Communities 社区 as GeoJSON",
            response_model=FeatureCollection, response_model_exclude_unset=True)
def communities(request: Request, session: ReadSessionDep, settings: SettingsDep, bbox: BBox = None,
                limit: Limit = 1000, offset: Offset = 0, subdistrict_id: int | None = None) -> JSONResponse:
    return _respond(session, settings, request, "communities", bbox, limit, offset, subdistrict_id=subdistrict_id)


@router.get("/grids", summary="Grids 网格 as GeoJSON",
            response_model=FeatureCollection, response_model_exclude_unset=True)
def grids(request: Request, session: ReadSessionDep, settings: SettingsDep, actor: OptionalActorDep, bbox: BBox = None,
          limit: Limit = 1000, offset: Offset = 0, community_id: int | None = None) -> JSONResponse:
    return _respond(session, settings, request, "grids", bbox, limit, offset, actor=actor, community_id=community_id)


@router.get("/buildings", summary="Buildings 楼栋 as GeoJSON",
            response_model=FeatureCollection, response_model_exclude_unset=True)
def buildings(request: Request, session: ReadSessionDep, settings: SettingsDep, bbox: BBox = None,
              limit: Limit = 1000, offset: Offset = 0, community_id: int | None = None,
              grid_id: int | None = None) -> JSONResponse:
    return _respond(session, settings, request, "buildings", bbox, limit, offset, community_id=community_id,
                    grid_id=grid_id)


@router.get("/roads", summary="Road segments as GeoJSON",
            response_model=FeatureCollection, response_model_exclude_unset=True)
def roads(request: Request, session: ReadSessionDep, settings: SettingsDep, bbox: BBox = None,
          limit: Limit = 1000, offset: Offset = 0) -> JSONResponse:
    return _respond(session, settings, request, "roads", bbox, limit, offset)
