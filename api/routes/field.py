"""The field-worker app over HTTP: its files at /app/ (an installable PWA) and its data, the day in one response
(/api/v1/field/today), cached on the phone for offline use."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from api.basemap import page_tiles
from api.deps import ActorDep, SessionDep, SettingsDep
from api.schemas.field import TodayOut
from api.static import asset_response
from maps import field as F
from maps.fingerprint import SITE
from patrol.field.day import field_today

router = APIRouter(prefix="/api/v1/field", tags=["field app"])


@router.get("/today", summary="A grid worker's day: grids, buildings, categories, stops in walking order with the "
                              "route, today's covered streets and walked length, the open patrol",
            response_model=TodayOut, response_model_exclude_unset=True)
def today(actor: ActorDep, session: SessionDep, settings: SettingsDep,
          lat: Annotated[float | None, Query(description="where she is now (WGS-84), the start of the route")] = None,
          lon: Annotated[float | None, Query(description="give both lat and lon, or neither")] = None) -> dict:
    return field_today(session, actor, settings, lat=lat, lon=lon)


#: The app's own files at /app/ (an installable PWA that works offline).
shell = APIRouter(tags=["field app"])
NO_CACHE = {"Cache-Control": "no-cache"}


def _config(settings, session) -> dict:
    return {"lang": settings.lang if settings.lang in ("zh", "en") else "zh",
            "tiles": page_tiles(session, settings), "datum": settings.tiles_datum}


@shell.get("/app", include_in_schema=False)
def app_redirect() -> RedirectResponse:
    return RedirectResponse("/app/", status_code=308)


@shell.get("/app/", response_class=HTMLResponse, summary="The grid worker's phone app (PWA, works offline)")
def app_page(settings: SettingsDep, session: SessionDep) -> HTMLResponse:
    return HTMLResponse(F.index_html(_config(settings, session)), headers=NO_CACHE)


@shell.get("/app/sw.js", include_in_schema=False)
def service_worker(settings: SettingsDep, session: SessionDep) -> Response:
    return Response(F.service_worker(_config(settings, session), url=SITE.url),
                    media_type="text/javascript; charset=utf-8",
                    headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/app/"})


@shell.get("/app/manifest.webmanifest", include_in_schema=False)
def manifest(settings: SettingsDep) -> JSONResponse:
    return JSONResponse(F.manifest(settings.lang), media_type="application/manifest+json", headers=NO_CACHE)


@shell.get("/app/{name}", include_in_schema=False)
def asset(name: str, request: Request) -> Response:
    if name not in F.ASSETS:
        raise HTTPException(404, f"no file /app/{name}")
    return asset_response(request, F.FIELD_DIR / name, f"/app/{name}", F.ASSETS[name])
