"""Listing plans, opening a draft (a copy of the grids in force), deleting a draft, and a plan as GeoJSON."""

from __future__ import annotations

import datetime as dt

import shapely
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from patrol.core.auth import Actor
from patrol.core.errors import Conflict
from patrol.core.models import GridPlan, GridPlanGrid, User
from patrol.people.microgrids import copy_to_plan as copy_micro_grids
from patrol.plans.base import (
    as_int,
    copy_grids,
    ensure_baseline,
    plan_dict,
    plan_frame,
    plan_row,
    require_planner,
    serialize_writers,
)


def list_plans(session: Session, actor: Actor) -> list[dict]:
    require_planner(actor)
    plans = session.scalars(select(GridPlan).order_by(GridPlan.id.desc())).all()
    return [plan_dict(session, p) for p in plans]


def get_plan(session: Session, actor: Actor, plan_id: int) -> GridPlan:
    require_planner(actor)
    return plan_row(session, plan_id)


def create_draft(session: Session, actor: Actor, *, name: str | None = None, note: str | None = None,
                 now: dt.datetime | None = None) -> GridPlan:
    """A new draft holding a copy of the grids in force."""
    require_planner(actor)
    serialize_writers(session)
    now = now or dt.datetime.now(dt.UTC)
    base = ensure_baseline(session, actor, now=now)
    if base is None:
        raise Conflict("the city has no grids yet: draw them first (gridpatrol grids generate)", field="plan")
    plan = GridPlan(name=name or f"draft {now.date().isoformat()}", status="draft", based_on_id=base.id,
                    created_by=actor.user_id, created_at=now, note=note)
    session.add(plan)
    session.flush()
    copy_grids(session, plan.id)
    copy_micro_grids(session, plan.id)  # the draft's own 微网格, edited with it (patrol.people.microgrids)
    session.flush()
    return plan


def delete_draft(session: Session, actor: Actor, plan_id: int) -> None:
    require_planner(actor)
    plan = plan_row(session, plan_id, draft=True)
    session.execute(delete(GridPlanGrid).where(GridPlanGrid.plan_id == plan.id))
    session.delete(plan)
    session.flush()


def plan_geojson(session: Session, actor: Actor, plan_id: int) -> dict:
    """The plan's grids as a GeoJSON FeatureCollection (WGS-84) with the plan's metadata in ``plan``."""
    plan = get_plan(session, actor, plan_id)
    frame = plan_frame(session, plan.id)
    workers: dict[int | None, str] = {i: name for i, name in session.execute(select(User.id, User.display_name))}
    features = []
    for row, g in zip(frame.itertuples(index=False), frame.geometry, strict=True):
        features.append({"type": "Feature", "id": row.code, "geometry": shapely.geometry.mapping(g),
                         "properties": {"code": row.code, "name": row.name, "community_id": as_int(row.community_id),
                                        "worker_id": as_int(row.worker_id),
                                        "worker": workers.get(as_int(row.worker_id))}})
    return {"type": "FeatureCollection", "plan": plan_dict(session, plan), "features": features}
