"""Grid plans as files: download a plan (GeoPackage, GeoJSON, zipped Shapefile) and upload one to replace a draft's
grids. An upload is checked on the same path as every delivered layer (:func:`geo.layers.prepare_layer`, as a grids
layer that needs codes) and then against the city's communities and workers; every problem is reported at once."""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

import geopandas as gpd
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from geo import intake
from geo._checks import FIELD_OF_KIND, Kind
from geo.errors import GeoValidationError, Problem
from geo.intake import Limits
from geo.layers import GRID_PLAN, prepare_layer
from patrol.city.exporting import write_frame
from patrol.city.gridding import city_of
from patrol.city.layer_import import city_area, resolve_communities
from patrol.core.auth import Actor
from patrol.core.errors import InvalidInput
from patrol.core.frames import ewkt, read_frame
from patrol.core.models import Community, GridPlanGrid, User
from patrol.core.settings import Settings, get_settings
from patrol.plans.base import as_int, default_name, plan_frame, plan_row, require_planner
from patrol.plans.drafts import get_plan

FORMATS = {"gpkg": ("application/geopackage+sqlite3", ".gpkg"), "geojson": ("application/geo+json", ".geojson"),
           "shp": ("application/zip", ".zip")}
#: Problems spelled out in an upload's error message (all of them are in its details).
_SHOWN = 10
_MIB = 1024 * 1024


def download(session: Session, actor: Actor, plan_id: int, fmt: str) -> tuple[bytes, str, str]:
    """The plan's grids as a file: (bytes, file name, media type). Columns code, name, community_id (``comm_id``
    in a Shapefile, whose names stop at 10 characters), worker_id; EPSG:4326. A Shapefile comes zipped."""
    plan = get_plan(session, actor, plan_id)
    if fmt not in FORMATS:
        raise InvalidInput(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}", field="format")
    frame = plan_frame(session, plan.id)
    out = gpd.GeoDataFrame({"code": frame["code"].astype(str), "name": frame["name"].astype(str),
                            "community_id": frame["community_id"].astype("Int64"),
                            "worker_id": frame["worker_id"].astype("Int64")},
                           geometry=frame.geometry.to_numpy(), crs=4326)
    media, suffix = FORMATS[fmt]
    stem = f"grid_plan_{plan.id}"
    with tempfile.TemporaryDirectory() as tmp:
        if fmt == "shp":
            path = Path(tmp) / f"{stem}.shp"
            write_frame(out.rename(columns={"community_id": "comm_id"}), path, stem)
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
                for part in sorted(Path(tmp).glob(f"{stem}.*")):
                    zf.write(part, part.name)
            return buf.getvalue(), f"{stem}.zip", media
        path = Path(tmp) / f"{stem}{suffix}"
        write_frame(out, path, "grids")
        return path.read_bytes(), path.name, media


def read_upload(filename: str, data: bytes, *, layer: str | None = None,
                settings: Settings | None = None) -> gpd.GeoDataFrame:
    """Read an uploaded GeoPackage, GeoJSON or zipped Shapefile (one clear InvalidInput when it cannot be read).
    :func:`geo.intake.read_upload` decides the format by the name, checks it against the content, checks a zip
    before unpacking it and reads in a child process with that GDAL driver only (GDAL's SQLite and SpatiaLite never
    meet in one process; a crash or a hang costs the child), within the settings' upload limits."""
    settings = settings or get_settings()
    limits = Limits(max_bytes=settings.upload_max_mb * _MIB, seconds=settings.upload_read_seconds,
                    memory_bytes=settings.upload_read_memory_mb * _MIB)
    try:
        return intake.read_upload(filename, data, layer=layer, kind="grids", limits=limits)
    except GeoValidationError as exc:
        first = exc.problems[0]
        raise InvalidInput(first.message, field=first.field or "file") from exc


def upload(session: Session, actor: Actor, plan_id: int, filename: str, data: bytes, *,
           layer: str | None = None, settings: Settings | None = None) -> dict:
    """Replace a draft's grids with an uploaded layer, after checking it: a CRS (EPSG:4326 or the city's metric
    CRS), a ``code`` column of unique 15-digit codes, valid (Multi)Polygon geometries near the city, known
    communities and grid workers. Any problem → one InvalidInput listing every problem, and nothing changes."""
    require_planner(actor)
    plan_row(session, plan_id, draft=True)
    frame = read_upload(filename, data, layer=layer, settings=settings)
    rows = check_upload(session, Path(filename or "upload").name, frame)
    session.execute(delete(GridPlanGrid).where(GridPlanGrid.plan_id == plan_id))
    session.execute(insert(GridPlanGrid), [{"plan_id": plan_id, **r} for r in rows])
    session.flush()
    return {"plan_id": plan_id, "grids": len(rows)}


def check_upload(session: Session, name: str, frame: gpd.GeoDataFrame) -> list[dict]:
    """The rows of ``grid_plan_grid`` an uploaded layer (file ``name``) gives, or InvalidInput with every problem:
    the layer's own (:func:`geo.layers.prepare_layer`) and, when it is sound, unknown communities and workers."""
    city = city_of(session)
    try:
        grids = prepare_layer(frame, "grids", spec=GRID_PLAN, city_area=city_area(session),
                              metric_crs=city.metric_epsg, crs_allowed=(4326, int(city.metric_epsg)),
                              code_scheme=city.code_scheme)
    except GeoValidationError as exc:
        raise _invalid(name, exc.problems) from exc
    coms = read_frame(session, [Community.id, Community.code, Community.name], Community.geom)
    community_ids, problems = resolve_communities(grids, coms)
    workers = set(session.scalars(select(User.id).where(User.role == "grid_worker")))
    problems += [Problem(Kind.BAD_VALUE, f"worker_id {int(w)} is not a grid worker", int(r), "worker_id")
                 for r, w in zip(grids["row"], map(as_int, grids["worker_id"]), strict=True)
                 if w is not None and w not in workers]
    if problems:
        raise _invalid(name, problems)
    return [{"code": code, "name": (n or "")[:200] or default_name(session, cid, code), "community_id": cid,
             "worker_id": w, "geom": g}
            for code, n, cid, w, g in zip(grids["code"], grids["name"], community_ids, map(as_int, grids["worker_id"]),
                                          ewkt(grids.geometry.to_numpy()), strict=True)]


def _invalid(name: str, problems: list[Problem]) -> InvalidInput:
    """One error for every problem of an upload: the first few in the message, all in the details; the field is
    the first problem's."""
    lines = [f"row {p.feature_id}: {p.message}" if p.feature_id is not None else p.message for p in problems]
    more = f"; and {len(lines) - _SHOWN} more" if len(lines) > _SHOWN else ""
    first = problems[0]
    field = first.field or FIELD_OF_KIND.get(first.kind, "file")
    count = f"{len(problems)} problems: " if len(problems) > 1 else ""
    return InvalidInput(f"{name}: {count}{'; '.join(lines[:_SHOWN])}{more}", field=field, details=lines)
