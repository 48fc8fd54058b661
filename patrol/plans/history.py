"""Which grid a case had when it was reported: plans are in force from their publication to the next one."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from patrol.core.auth import Actor
from patrol.core.dialect import at_point
from patrol.core.errors import NotFound
from patrol.core.models import Case, Grid, GridPlan, GridPlanGrid
from patrol.plans.base import iso, require_planner


def grid_at(session: Session, case: Case) -> dict | None:
    """The grid a case had when it was reported: the grid holding its point in the plan in force at its
    ``reported_at`` (the first plan for cases older than every plan). Without plans: the grid it points at."""
    plans = session.execute(select(GridPlan.id, GridPlan.published_at).where(GridPlan.status != "draft")
                            .order_by(GridPlan.published_at, GridPlan.id)).all()
    if not plans:
        if case.grid_id is None:
            return None
        g = session.get(Grid, case.grid_id)
        return {"plan_id": None, "code": g.code, "name": g.name} if g else None
    reported = case.reported_at
    plan_id = plans[0][0]
    for pid, at in plans:
        if at is not None and at <= reported:
            plan_id = pid
    x, y = session.execute(select(func.ST_X(Case.geom), func.ST_Y(Case.geom)).where(Case.id == case.id)).one()
    row = session.execute(select(GridPlanGrid.code, GridPlanGrid.name).where(
        GridPlanGrid.plan_id == plan_id, at_point(session, GridPlanGrid.id, GridPlanGrid.geom, x, y))
        .order_by(GridPlanGrid.code).limit(1)).first()
    return {"plan_id": plan_id, "code": row[0] if row else None, "name": row[1] if row else None}


def case_grid_history(session: Session, actor: Actor, case_id: int) -> dict:
    """The grid a case had when reported, and the grid it has now."""
    require_planner(actor)
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(f"no case {case_id}", field="case_id")
    now = session.get(Grid, case.grid_id) if case.grid_id is not None else None
    return {"case_id": case.id, "reported_at": iso(case.reported_at), "reported": grid_at(session, case),
            "current": {"code": now.code, "name": now.name} if now else None}
