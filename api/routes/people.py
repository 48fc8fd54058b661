"""Micro-grids (微网格) and their 楼栋长, 网格长 (issue 22, people): the HTTP API.

- ``GET /api/v1/microgrids`` — GeoJSON of the micro-grids in the caller's scope (admin, planner: all; supervisor:
  her community; 街道: her communities; grid worker and 网格长: their grids; 楼栋长: her own; departments 403);
  ``?plan=`` a draft's (planners and admins).
- ``POST /api/v1/microgrids/generate`` — draw them from the buildings (planners and admins; in force: admins).
- ``POST /api/v1/microgrids/{code}/buildings`` — move a building into micro-grid ``code`` (the planner's edit).
- ``PUT /api/v1/microgrids/{code}/leader`` — appoint (or clear) its 楼栋长 (admins, planners, the community's
  supervisor).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.deps import ActorDep, SessionDep, SettingsDep
from api.schemas.base import FeatureCollection, Out
from patrol.core.errors import Forbidden
from patrol.people import microgrids as mg

router = APIRouter(prefix="/api/v1/microgrids", tags=["people"])


class GenerateIn(BaseModel):
    grids: list[Annotated[str, Field(max_length=20)]] | None = Field(
        None, max_length=500, description="grid codes (default: every grid, or those of community)")
    community: str | None = Field(None, max_length=200, description="a community code or name")
    plan_id: int | None = Field(None, description="a draft plan (default: the micro-grids in force, admins only)")
    min: int | None = Field(None, gt=0, description="households per micro-grid, at least (default: settings)")
    max: int | None = Field(None, gt=0, description="households per micro-grid, at most (default: settings)")


class GridSummaryOut(Out):
    grid: str
    micro_grids: int
    households: int
    buildings: int


class GenerateOut(Out):
    grids: list[GridSummaryOut]
    micro_grids: int


class MoveIn(BaseModel):
    building_id: int
    plan_id: int | None = Field(None, description="the draft whose micro-grid it is (default: in force, admins)")


class MoveOut(Out):
    building_id: int
    to: str
    from_: str | None = Field(None, alias="from")


class LeaderIn(BaseModel):
    username: str | None = Field(None, max_length=100, description="a building_lead user; null clears it")


class LeaderOut(Out):
    code: str
    name: str
    leader: str | None


@router.get("", summary="The micro-grids (微网格) in your scope, as GeoJSON", response_model=FeatureCollection,
            response_model_exclude_unset=True)
def list_microgrids(actor: ActorDep, session: SessionDep,
                    grid: Annotated[str | None, Query(max_length=20)] = None,
                    plan: Annotated[int | None, Query()] = None) -> dict:
    return mg.feature_collection(session, actor, plan_id=plan, grid=grid)


@router.post("/generate", summary="Draw micro-grids from the buildings of grids (planners and admins)",
             response_model=GenerateOut)
def generate(body: GenerateIn, actor: ActorDep, session: SessionDep, settings: SettingsDep) -> dict:
    if body.plan_id is None and actor.role != "admin":
        mg.require_editor(actor)
        raise Forbidden("the micro-grids in force are drawn by an admin; planners draw them in a draft",
                        field="plan_id")
    rng = (body.min or settings.micro_households_min, body.max or settings.micro_households_max)
    rows = mg.generate(session, actor, grids=body.grids, community=body.community, plan_id=body.plan_id,
                       households_range=rng)
    return {"grids": rows, "micro_grids": sum(r["micro_grids"] for r in rows)}


@router.post("/{code}/buildings", summary="Move a building into this micro-grid (a draft's, or in force: admins)",
             response_model=MoveOut, response_model_by_alias=True)
def move(code: str, body: MoveIn, actor: ActorDep, session: SessionDep) -> dict:
    return mg.move_building(session, actor, body.plan_id, body.building_id, code)


@router.put("/{code}/leader", summary="Appoint the micro-grid's 楼栋长 (or none)", response_model=LeaderOut)
def leader(code: str, body: LeaderIn, actor: ActorDep, session: SessionDep) -> dict:
    m = mg.set_leader(session, actor, code, body.username)
    return {"code": m.code, "name": m.name, "leader": body.username}
