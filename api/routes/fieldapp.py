"""The field app's files at /app/ (an installable PWA; its data comes from /api/v1/field/today and the case API)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from api.deps import SettingsDep
from maps import field as F

router = APIRouter(tags=["field app"])
NO_CACHE = {"Cache-Control": "no-cache"}


def _config(settings) -> dict:
    return {"lang": settings.lang if settings.lang in ("zh", "en") else "zh",
            "tiles": F.tiles_config(settings.tiles, settings.tile_attribution), "datum": settings.tiles_datum}


@router.get("/app", include_in_schema=False)
def app_redirect() -> RedirectResponse:
    return RedirectResponse("/app/", status_code=308)


@router.get("/app/", response_class=HTMLResponse, summary="The grid worker's phone app (PWA, works offline)")
def app_page(settings: SettingsDep) -> HTMLResponse:
    return HTMLResponse(F.index_html(_config(settings)), headers=NO_CACHE)


@router.get("/app/sw.js", include_in_schema=False)
def service_worker(settings: SettingsDep) -> Response:
    return Response(F.service_worker(_config(settings)), media_type="text/javascript; charset=utf-8",
                    headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/app/"})


@router.get("/app/manifest.webmanifest", include_in_schema=False)
def manifest(settings: SettingsDep) -> JSONResponse:
    return JSONResponse(F.manifest(settings.lang), media_type="application/manifest+json", headers=NO_CACHE)


@router.get("/app/{name}", include_in_schema=False)
def asset(name: str) -> Response:
    if name not in F.ASSETS:
        raise HTTPException(404, f"no file /app/{name}")
    return Response((F.FIELD_DIR / name).read_bytes(), media_type=F.ASSETS[name], headers=NO_CACHE)
