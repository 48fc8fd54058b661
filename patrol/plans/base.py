"""What every part of grid plans shares: who may plan, finding a plan, the grids in force and in a plan as frames,
the baseline plan, and the 15-digit grid codes a plan hands out."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import func, insert, literal, select, text
from sqlalchemy.orm import Session

from geo.area_codes import grid_stem
from patrol.city.gridding import city_of
from patrol.core.auth import Actor
from patrol.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from patrol.core.frames import read_frame
from patrol.core.models import Community, Grid, GridPlan, GridPlanGrid, Subdistrict
from patrol.plans.geometry import project

PLANNERS = ("planner", "admin")
#: What "recent" cases are in a plan's figures (cases reported in the last RECENT_DAYS days).
RECENT_DAYS = 90
#: A grid code: district 6 + street 3 + community 3 + sequence 3 digits.
GRID_CODE = re.compile(r"[0-9]{15}")


def require_planner(actor: Actor) -> None:
    if actor.role not in PLANNERS:
        raise Forbidden(f"a {actor.role} cannot work on grid plans; planners and admins do", field="role")


def metric_epsg(session: Session) -> int:
    """The city's metric CRS (EPSG code), in which every edit and measure of a plan is made."""
    return int(city_of(session).metric_epsg)


def grid_version(session: Session) -> int | None:
    """One cheap signal that changes whenever the grids in force change through plans (publish, rollback, a new
    baseline): the id of the latest non-draft plan. Caches keyed by grid count and last id add it, because a
    publish updates grids in place."""
    return session.scalar(select(func.max(GridPlan.id)).where(GridPlan.status != "draft"))


def metric_shape(session: Session, geom: Any, where: Any, epsg: int) -> shapely.Geometry:
    """The geometry column ``geom`` of the one row ``where`` selects, in EPSG ``epsg`` (404 when it has none)."""
    wkb = session.scalar(select(func.ST_AsBinary(geom)).where(where))
    if wkb is None:
        raise NotFound("the row has no geometry")
    return project(shapely.from_wkb(bytes(wkb)), 4326, epsg)


def plan_row(session: Session, plan_id: int, *, draft: bool = False, lock: bool = False) -> GridPlan:
    """Plan ``plan_id`` (404 when there is none; 409 when ``draft`` and it is not a draft any more), locked for
    update on PostgreSQL when ``lock``."""
    stmt = select(GridPlan).where(GridPlan.id == plan_id)
    if lock and session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    plan = session.scalars(stmt).first()
    if plan is None:
        raise NotFound(f"no grid plan {plan_id}", field="plan_id")
    if draft and plan.status != "draft":
        raise Conflict(f"plan {plan_id} is {plan.status}: only a draft can be changed; open a new draft "
                       "(POST /api/v1/plans, or `gridpatrol plans new`)", field="plan_id")
    return plan


def serialize_writers(session: Session) -> None:
    """One plan writer at a time on PostgreSQL (a transaction-scoped advisory lock); SQLite serializes writers."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(7342019)"))


def in_force(session: Session) -> GridPlan | None:
    return session.scalars(select(GridPlan).where(GridPlan.status == "published")
                           .order_by(GridPlan.published_at.desc(), GridPlan.id.desc()).limit(1)).first()


def plan_frame(session: Session, plan_id: int) -> gpd.GeoDataFrame:
    """The plan's grids (id, code, name, community_id, worker_id; WGS-84), by code."""
    c = GridPlanGrid
    return read_frame(session, [c.id, c.code, c.name, c.community_id, c.worker_id], c.geom,
                      where=[c.plan_id == plan_id], order_by=[c.code])


def grid_frame(session: Session) -> gpd.GeoDataFrame:
    """The grids in force (id, code, name, community_id, worker_id; WGS-84), by code."""
    return read_frame(session, [Grid.id, Grid.code, Grid.name, Grid.community_id, Grid.worker_id], Grid.geom,
                      order_by=[Grid.code])


def copy_grids(session: Session, plan_id: int) -> None:
    """The grids in force into plan ``plan_id`` (geometries copied by the database, bit for bit)."""
    session.execute(insert(GridPlanGrid).from_select(
        ["plan_id", "code", "name", "community_id", "worker_id", "geom"],
        select(literal(plan_id), Grid.code, Grid.name, Grid.community_id, Grid.worker_id, Grid.geom)))


def copy_plan(session: Session, source_id: int, plan_id: int) -> None:
    """Plan ``source_id``'s grids into plan ``plan_id``."""
    c = GridPlanGrid
    session.execute(insert(GridPlanGrid).from_select(
        ["plan_id", "code", "name", "community_id", "worker_id", "geom"],
        select(literal(plan_id), c.code, c.name, c.community_id, c.worker_id, c.geom).where(c.plan_id == source_id)))


def _same_grids(a: gpd.GeoDataFrame, b: gpd.GeoDataFrame) -> bool:
    if len(a) != len(b) or list(a["code"]) != list(b["code"]):
        return False
    if list(a["community_id"]) != list(b["community_id"]):
        return False
    return bool(np.all(shapely.equals_exact(a.geometry.to_numpy(), b.geometry.to_numpy(), tolerance=1e-9)))


def ensure_baseline(session: Session, actor: Actor | None = None, *, now: dt.datetime | None = None
                    ) -> GridPlan | None:
    """The plan in force, recording the grids in force as a published baseline plan first when there is no plan
    yet or they were changed outside plans since. None when the city has no grids and no plans."""
    current = in_force(session)
    grids = grid_frame(session)
    if current is not None and _same_grids(grids, plan_frame(session, current.id)):
        return current
    if current is None and grids.empty:
        return None
    now = now or dt.datetime.now(dt.UTC)
    first = current is None and session.scalar(select(func.count(GridPlan.id))) == 0
    plan = GridPlan(name="baseline" if first else "grids changed outside plans", status="published",
                    based_on_id=current.id if current else None, created_by=actor.user_id if actor else None,
                    created_at=now, published_at=now, published_by=actor.user_id if actor else None,
                    note="the grids in force when plans were first used" if first
                    else "recorded automatically: the grids were regenerated or imported outside plans")
    session.add(plan)
    session.flush()
    copy_grids(session, plan.id)
    if current is not None:
        current.status = "superseded"
    session.flush()
    return plan


def plan_dict(session: Session, plan: GridPlan) -> dict:
    """A plan's metadata and its number of grids, as the API returns it."""
    n = session.scalar(select(func.count(GridPlanGrid.id)).where(GridPlanGrid.plan_id == plan.id)) or 0
    return {"id": plan.id, "name": plan.name, "status": plan.status, "based_on": plan.based_on_id,
            "created_by": plan.created_by, "created_at": iso(plan.created_at),
            "published_at": iso(plan.published_at), "published_by": plan.published_by,
            "effective_from": plan.effective_from.isoformat() if plan.effective_from else None,
            "note": plan.note, "grids": int(n)}


def iso(t: dt.datetime | None) -> str | None:
    """ISO 8601 of an aware datetime (the UTCDateTime columns return aware ones), or None."""
    return None if t is None else t.isoformat()


def as_int(v: object) -> int | None:
    """An id cell of a frame as int; None for NULL, NaN and NA."""
    if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
        return None
    return int(v)  # type: ignore[call-overload]  # a numpy or Python integer


def next_code(session: Session, plan_id: int, code: str, community_id: int | None) -> str:
    """The next free code of the community: its stem (a 15-digit code's first 12 digits, else the community's
    :func:`geo.area_codes.grid_stem`) and a 3-digit sequence not used by any grid in force, in this plan or in any
    plan before (a code never names two different grids in the history)."""
    stem = code[:12] if GRID_CODE.fullmatch(code or "") else None
    if stem is None:
        com = session.get(Community, community_id) if community_id is not None else None
        if com is None:
            raise InvalidInput(f"grid {code!r} has no community to number a new grid in", field="code")
        street = session.scalar(select(Subdistrict.code).where(Subdistrict.id == com.subdistrict_id))
        city = city_of(session)
        try:
            stem = grid_stem(com.code, street_code=str(street), district=city.district_code, scheme=city.code_scheme)
        except ValueError as exc:
            raise InvalidInput(str(exc), field="code") from exc
    used = set(session.scalars(select(GridPlanGrid.code).where(GridPlanGrid.code.like(f"{stem}%"))))
    used |= set(session.scalars(select(Grid.code).where(Grid.code.like(f"{stem}%"))))
    seqs = {int(c[len(stem):]) for c in used if len(c) == len(stem) + 3 and c[len(stem):].isdigit()}
    n = max(seqs, default=0) + 1
    if n > 999:
        n = next((i for i in range(1, 1000) if i not in seqs), 0)
        if not n:
            raise Conflict(f"community {stem} has no free grid code left", field="code")
    return f"{stem}{n:03d}"


def default_name(session: Session, community_id: int | None, code: str) -> str:
    """A new grid's name: its community's name and its sequence (``某社区 第3网格``)."""
    com = session.get(Community, community_id) if community_id is not None else None
    seq = int(code[-3:]) if code[-3:].isdigit() else code
    return f"{com.name} 第{seq}网格" if com is not None else f"网格 {code}"
