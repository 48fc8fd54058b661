"""Grid plans over HTTP (planners and admins only; everyone else gets 403 with field "role"): drafts, edits,
proposals, validation, impact, publishing with an effective date, rollback, history, download and upload."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.deps import ActorDep, SessionDep, SettingsDep
from api.error_texts import request_lang
from api.schemas.base import FeatureCollection
from api.schemas.plans import (
    CaseGridOut,
    ImpactOut,
    MergeOut,
    MoveBoundaryOut,
    PlanOut,
    ProposeOut,
    PublishOut,
    PutGridOut,
    ReshapeOut,
    RollbackOut,
    SplitOut,
    UploadOut,
    ValidationOut,
)
from patrol.core.auth import Actor
from patrol.core.errors import InvalidInput
from patrol.plans import service as svc

router = APIRouter(prefix="/api/v1/plans", tags=["grid plans"])
GEOJSON = "application/geo+json"


def planner(actor: ActorDep) -> Actor:
    svc.require_planner(actor)
    return actor


PlannerDep = Annotated[Actor, Depends(planner)]

Code = Annotated[str, Field(max_length=40, description="a grid code")]


class PlanIn(BaseModel):
    name: str | None = Field(None, max_length=200)
    note: str | None = Field(None, max_length=4000)


@router.post("", status_code=201, summary="Open a draft plan: a copy of the grids in force",
             response_model=PlanOut, response_model_exclude_unset=True)
def create_plan(actor: PlannerDep, session: SessionDep, body: PlanIn | None = None) -> dict:
    body = body or PlanIn()
    plan = svc.create_draft(session, actor, name=body.name, note=body.note)
    return svc.plan_dict(session, plan)


@router.get("", summary="Every plan, newest first (drafts, the plan in force, superseded ones)",
            response_model=list[PlanOut], response_model_exclude_unset=True)
def list_plans(actor: PlannerDep, session: SessionDep) -> list[dict]:
    return svc.list_plans(session, actor)


class RollbackIn(BaseModel):
    note: str | None = Field(None, max_length=4000)


@router.post("/rollback", summary="Put the previous plan back in force (published as a new plan)",
             response_model=RollbackOut, response_model_exclude_unset=True)
def rollback(actor: PlannerDep, session: SessionDep, settings: SettingsDep, body: RollbackIn | None = None) -> dict:
    return svc.rollback(session, actor, settings=settings, note=(body or RollbackIn()).note)


@router.get("/cases/{case_id}/grid", summary="The grid a case had when it was reported, and the one it has now",
            response_model=CaseGridOut, response_model_exclude_unset=True)
def case_grid(case_id: int, actor: PlannerDep, session: SessionDep) -> dict:
    return svc.case_grid_history(session, actor, case_id)


@router.get("/{plan_id}", summary="A plan's grids as GeoJSON, with the plan in 'plan'",
            response_model=FeatureCollection, response_model_exclude_unset=True)
def get_plan(plan_id: int, actor: PlannerDep, session: SessionDep) -> JSONResponse:
    return JSONResponse(svc.plan_geojson(session, actor, plan_id), media_type=GEOJSON)


@router.delete("/{plan_id}", status_code=204, summary="Delete a draft")
def delete_plan(plan_id: int, actor: PlannerDep, session: SessionDep) -> Response:
    svc.delete_draft(session, actor, plan_id)
    return Response(status_code=204)


# ---------------------------------------------------------------------------------------------- edits


class GridIn(BaseModel):
    geometry: dict[str, Any] | None = Field(None, description="GeoJSON Polygon or MultiPolygon, WGS-84")
    name: str | None = Field(None, max_length=200)
    worker_id: int | None = Field(None, description="a grid worker's user id; null for none")
    community_id: int | None = None


@router.put("/{plan_id}/grids/{code}", summary="Set a grid of a draft (only the fields given), or add it",
            response_model=PutGridOut, response_model_exclude_unset=True)
def put_grid(plan_id: int, code: str, body: GridIn, actor: PlannerDep, session: SessionDep) -> dict:
    return svc.set_grid(session, actor, plan_id, code, geometry=body.geometry, name=body.name,
                        worker_id=body.worker_id, community_id=body.community_id, fields=set(body.model_fields_set))


@router.patch("/{plan_id}/grids/{code}", summary="Change fields of a grid of a draft",
              response_model=PutGridOut, response_model_exclude_unset=True)
def patch_grid(plan_id: int, code: str, body: GridIn, actor: PlannerDep, session: SessionDep) -> dict:
    return put_grid(plan_id, code, body, actor, session)


@router.delete("/{plan_id}/grids/{code}", status_code=204, summary="Remove a grid from a draft")
def delete_grid(plan_id: int, code: str, actor: PlannerDep, session: SessionDep) -> Response:
    svc.delete_grid(session, actor, plan_id, code)
    return Response(status_code=204)


class SplitIn(BaseModel):
    code: Code
    line: dict[str, Any] = Field(description="GeoJSON LineString (WGS-84) across the grid, edge to edge")


@router.post("/{plan_id}/split", summary="Split a grid in two along a line",
             response_model=SplitOut, response_model_exclude_unset=True)
def split(plan_id: int, body: SplitIn, actor: PlannerDep, session: SessionDep) -> dict:
    return svc.split_grid(session, actor, plan_id, body.code, body.line)


class MergeIn(BaseModel):
    codes: list[Code] = Field(min_length=2, max_length=1000,
                              description="grids of one community; the first keeps its code")


@router.post("/{plan_id}/merge", summary="Merge grids of one community into the first",
             response_model=MergeOut, response_model_exclude_unset=True)
def merge(plan_id: int, body: MergeIn, actor: PlannerDep, session: SessionDep) -> dict:
    return svc.merge_grids(session, actor, plan_id, body.codes)


class ReshapeIn(BaseModel):
    code: Code
    geometry: dict[str, Any] = Field(description="the grid's new shape: GeoJSON Polygon or MultiPolygon, WGS-84")


@router.post("/{plan_id}/reshape", summary="Reshape a grid; its neighbours change with it",
             response_model=ReshapeOut, response_model_exclude_unset=True)
def reshape(plan_id: int, body: ReshapeIn, actor: PlannerDep, session: SessionDep) -> dict:
    return svc.reshape_grid(session, actor, plan_id, body.code, body.geometry)


class BoundaryIn(BaseModel):
    codes: list[Code] = Field(min_length=2, max_length=2, description="the two neighbouring grids")
    line: dict[str, Any] = Field(description="the new boundary: GeoJSON LineString (WGS-84), edge to edge")


@router.post("/{plan_id}/move-boundary", summary="Move the boundary between two neighbouring grids",
             response_model=MoveBoundaryOut, response_model_exclude_unset=True)
def move_boundary(plan_id: int, body: BoundaryIn, actor: PlannerDep, session: SessionDep) -> dict:
    return svc.move_boundary(session, actor, plan_id, body.codes, body.line)


@router.post("/{plan_id}/propose", summary="Write a rebalancing proposal for one community into the draft",
             response_model=ProposeOut, response_model_exclude_unset=True)
def propose(plan_id: int, actor: PlannerDep, session: SessionDep, settings: SettingsDep,
            community: Annotated[str, Query(description="community id, code or name")]) -> dict:
    return svc.propose(session, actor, plan_id, community, settings=settings)


# ---------------------------------------------------------------------------------------------- checks


@router.get("/{plan_id}/validation", summary="Every problem of the plan at once, each with its place",
            response_model=ValidationOut, response_model_exclude_unset=True)
def validation(plan_id: int, actor: PlannerDep, session: SessionDep, settings: SettingsDep, request: Request,
               tolerance_m2: Annotated[float, Query(ge=0, description="gaps/overlaps up to this are noise")] = 1.0,
               sliver_width_m: Annotated[float, Query(ge=0, description="thinner parts are slivers")] = 2.0) -> dict:
    """``message``/``label`` of each problem in the request's language (``?lang=en`` or ``Accept-Language``;
    Chinese by default): grids by name, places in lon/lat."""
    return svc.validate(session, actor, plan_id, settings=settings, tolerance_m2=tolerance_m2,
                        sliver_width_m=sliver_width_m, lang=request_lang(request))


@router.get("/{plan_id}/impact", summary="Per grid before/after, and GeoJSON of what moves",
            response_model=ImpactOut, response_model_exclude_unset=True)
def impact(plan_id: int, actor: PlannerDep, session: SessionDep) -> dict:
    return svc.impact(session, actor, plan_id)


class PublishIn(BaseModel):
    effective_from: dt.date | None = Field(None, description="the official date (default today; not later)")
    note: str | None = Field(None, max_length=4000)


@router.post("/{plan_id}/publish", summary="Put a draft in force (atomic; 409 with the problems if it is not valid)",
             response_model=PublishOut, response_model_exclude_unset=True)
def publish(plan_id: int, actor: PlannerDep, session: SessionDep, settings: SettingsDep,
            body: PublishIn | None = None) -> dict:
    body = body or PublishIn()
    return svc.publish(session, actor, plan_id, settings=settings, effective_from=body.effective_from,
                       note=body.note)


# ---------------------------------------------------------------------------------------------- files


@router.get("/{plan_id}/download", summary="A plan's grids as GeoPackage, GeoJSON or zipped Shapefile (EPSG:4326)")
def download(plan_id: int, actor: PlannerDep, session: SessionDep,
             format: Literal["gpkg", "geojson", "shp"] = "gpkg") -> Response:
    data, name, media = svc.download(session, actor, plan_id, format)
    return Response(data, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.post("/{plan_id}/upload", summary="Replace a draft's grids with a GeoPackage, GeoJSON or zipped Shapefile",
             response_model=UploadOut, response_model_exclude_unset=True)
def upload(plan_id: int, actor: PlannerDep, session: SessionDep, settings: SettingsDep,
           file: Annotated[UploadFile, File(description=".gpkg, .geojson/.json or .zip (Shapefile)")],
           layer: Annotated[str | None, Form(description="layer name in a multi-layer GeoPackage")] = None) -> dict:
    limit = settings.upload_max_mb * 1024 * 1024
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise InvalidInput(f"the file is larger than {settings.upload_max_mb} MB", field="file")
    return svc.upload(session, actor, plan_id, file.filename or "upload", data, layer=layer, settings=settings)
