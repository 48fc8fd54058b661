"""A proposal for one community of a draft: :func:`geo.grids.balance.propose` redraws the grids whose households
are out of range (and as few others as needed) and the result is written into the draft."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from geo.errors import GeoValidationError
from geo.grids.balance import propose as balance
from patrol.city.households import grid_households
from patrol.core.auth import Actor
from patrol.core.errors import InvalidInput
from patrol.core.frames import read_frame
from patrol.core.models import Building, Case, Community, GridPlanGrid, RoadSegment
from patrol.core.settings import Settings
from patrol.plans.base import (
    RECENT_DAYS,
    default_name,
    metric_epsg,
    metric_shape,
    next_code,
    plan_frame,
    plan_row,
    require_planner,
)
from patrol.plans.geometry import stored


def _community(session: Session, key: str) -> Community:
    text = str(key).strip()
    found = []
    if text.isdigit():
        by_id = session.get(Community, int(text))
        if by_id is not None and len(text) != 3:
            return by_id
        found = list(session.scalars(select(Community).where(Community.code == text)))
        if not found and by_id is not None:
            return by_id
    if not found:
        found = list(session.scalars(select(Community).where(Community.name == text)))
    if len(found) != 1:
        raise InvalidInput(f"no single community with id, code or name {key!r}", field="community")
    return found[0]


def propose(session: Session, actor: Actor, plan_id: int, community: str, *, settings: Settings,
            now: dt.datetime | None = None) -> dict:
    """Rebalance one community of a draft with :func:`geo.grids.balance.propose` (grids out of the households
    range are redrawn, as few others as needed, codes kept where grids continue) and write the proposal into the
    draft: kept grids untouched, continued codes keep their name and worker, new grids get fresh codes (never
    used before) and no worker, retired codes leave the draft. Returns the proposal's figures."""
    require_planner(actor)
    plan_row(session, plan_id, draft=True)
    com = _community(session, community)
    now = now or dt.datetime.now(dt.UTC)
    epsg = metric_epsg(session)
    area = metric_shape(session, Community.geom, Community.id == com.id, epsg)
    grids = plan_frame(session, plan_id)
    grids = grids[grids["community_id"] == com.id]
    if grids.empty:
        raise InvalidInput(f"plan {plan_id} has no grids in community {com.name}", field="community")
    grids_m = grids.to_crs(epsg)
    buildings = read_frame(session, [Building.id, Building.households], Building.geom,
                           order_by=[Building.id]).set_index("id").to_crs(epsg)
    inside = shapely.covers(area, shapely.point_on_surface(buildings.geometry.to_numpy()))
    buildings = buildings[inside]
    since = now - dt.timedelta(days=RECENT_DAYS)
    work = dict(session.execute(select(Case.building_id, func.count()).where(
        Case.reported_at >= since, Case.building_id.in_([int(i) for i in buildings.index] or [-1]))
        .group_by(Case.building_id)).all())
    buildings["workload"] = [int(work.get(int(i), 0)) for i in buildings.index]
    streets = read_frame(session, [RoadSegment.id], RoadSegment.geom).to_crs(epsg)
    codes = list(grids["code"])
    fresh = next_code(session, plan_id, codes[0], com.id)
    first_new = int(fresh[-3:])
    try:
        result = balance(area, buildings, grids_m[["code", "geometry"]].reset_index(drop=True),
                         households_range=grid_households(session, settings), workload="workload",
                         streets=streets, code_prefix=fresh[:-3],
                         next_seq=first_new)
    except GeoValidationError as exc:
        raise InvalidInput(f"no proposal for community {com.name}: fix the draft first (see its validation): "
                           f"{exc.problems[0].message}", field="community",
                           details=[str(p) for p in exc.problems[:50]]) from exc
    rows = {r.code: r for r in session.scalars(select(GridPlanGrid).where(
        GridPlanGrid.plan_id == plan_id, GridPlanGrid.community_id == com.id))}
    proposed = set(result.grids["code"])
    for code, row in rows.items():
        if code not in proposed:
            session.delete(row)
    for rec, geom in zip(result.grids.itertuples(index=False), result.grids.geometry, strict=True):
        if bool(rec.kept):
            continue
        g = stored(geom, epsg)
        if rec.code in rows:
            rows[rec.code].geom = g
        else:
            session.add(GridPlanGrid(plan_id=plan_id, code=rec.code, community_id=com.id, worker_id=None,
                                     name=default_name(session, com.id, rec.code), geom=g))
    session.flush()
    return {"plan_id": plan_id, "community_id": com.id, "community": com.name, "stats": _jsonable(result.stats),
            "grids": [{"code": r.code, "households": int(r.households), "buildings": int(r.buildings),
                       "kept": bool(r.kept), "street_m": None if pd.isna(r.street_m) else round(float(r.street_m), 1),
                       "cases_90d": None if pd.isna(r.workload) else int(r.workload)}
                      for r in result.grids.itertuples(index=False)]}


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, float | np.floating):
        return None if np.isnan(value) else float(value)
    if hasattr(value, "item"):
        return value.item()
    return value
