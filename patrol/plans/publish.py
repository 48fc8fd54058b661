"""Publishing a draft and rolling back: the ``grid`` table takes the plan's grids and everything that points at
grids moves with them (see :mod:`patrol.plans.service` for the rules). The caller's transaction makes it atomic."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import cast

import geopandas as gpd
import numpy as np
import shapely
from sqlalchemy import Table, delete, func, insert, select, update
from sqlalchemy.orm import Session

from patrol.cases.lifecycle import CLOSED, OPEN
from patrol.cases.worktime import local_today
from patrol.city.map_version import bump
from patrol.core.auth import Actor
from patrol.core.errors import Conflict, InvalidInput
from patrol.core.frames import read_frame
from patrol.core.models import Building, Case, CaseEvent, Grid, GridPlan, GridPlanGrid, Revisit
from patrol.core.settings import Settings
from patrol.people.microgrids import put_in_force as put_micro_grids_in_force
from patrol.plans.base import (
    as_int,
    copy_plan,
    ensure_baseline,
    grid_frame,
    metric_epsg,
    plan_dict,
    plan_row,
    require_planner,
    serialize_writers,
)
from patrol.plans.checks import validate
from patrol.plans.geometry import locate, nearest, points


def publish(session: Session, actor: Actor, plan_id: int, *, settings: Settings,
            effective_from: dt.date | None = None, note: str | None = None, now: dt.datetime | None = None,
            _force: bool = False) -> dict:
    """Put draft ``plan_id`` in force (see :mod:`patrol.plans.service`); the caller's transaction makes it atomic.
    Raises Conflict (409) listing the problems while validation finds a fatal one."""
    require_planner(actor)
    serialize_writers(session)
    plan = plan_row(session, plan_id, draft=True, lock=True)
    today = local_today(settings.timezone)
    effective_from = effective_from or today
    if effective_from > today:
        raise InvalidInput(f"effective_from {effective_from.isoformat()} is in the future: publish the plan on "
                           "that day (scheduling is not supported)", field="effective_from")
    if not session.scalar(select(func.count(GridPlanGrid.id)).where(GridPlanGrid.plan_id == plan.id)):
        raise Conflict(f"plan {plan.id} has no grids", field="plan_id")
    now = now or dt.datetime.now(dt.UTC)
    previous = ensure_baseline(session, actor, now=now)
    report = validate(session, None, plan.id, settings=settings)
    if not report["ok"] and not _force:
        errors = [p for p in report["problems"] if p["severity"] == "error"]
        shown = [f"{p['kind']}: {p['message']} (feature {p['feature']}, lon/lat {p['lon']}, {p['lat']})"
                 for p in errors[:50]]
        raise Conflict(f"plan {plan.id} cannot be published: validation found {report['errors']} problem(s) "
                       f"({', '.join(sorted({p['kind'] for p in errors}))}); nothing was changed",
                       field="plan_id", details=shown)
    moved = _apply(session, actor, plan.id, now, effective_from)
    session.execute(update(GridPlan).where(GridPlan.status == "published", GridPlan.id != plan.id)
                    .values(status="superseded"))
    plan.status, plan.published_at, plan.published_by = "published", now, actor.user_id
    plan.effective_from = effective_from
    if note:
        plan.note = f"{plan.note}\n{note}" if plan.note else note
    bump(session)  # the basemap draws the grids: tiles of the old ones are stale
    session.flush()
    return {"plan": plan_dict(session, plan), "replaced": previous.id if previous else None,
            "warnings": report["warnings"], **moved}


def rollback(session: Session, actor: Actor, *, settings: Settings, note: str | None = None,
             now: dt.datetime | None = None) -> dict:
    """Publish a copy of the plan in force before the current one (a new plan, so history stays linear)."""
    require_planner(actor)
    serialize_writers(session)
    now = now or dt.datetime.now(dt.UTC)
    current = ensure_baseline(session, actor, now=now)
    if current is None:
        raise Conflict("there are no grid plans to roll back", field="plan")
    previous = session.scalars(select(GridPlan).where(GridPlan.status == "superseded",
                                                      GridPlan.published_at <= current.published_at,
                                                      GridPlan.id != current.id)
                               .order_by(GridPlan.published_at.desc(), GridPlan.id.desc()).limit(1)).first()
    if previous is None:
        raise Conflict(f"plan {current.id} ({current.name}) is the first plan: there is nothing to roll back to",
                       field="plan")
    copy = GridPlan(name=f"rollback to plan {previous.id} ({previous.name})"[:200], status="draft",
                    based_on_id=previous.id, created_by=actor.user_id, created_at=now,
                    note=note or f"rolled back from plan {current.id}")
    session.add(copy)
    session.flush()
    copy_plan(session, previous.id, copy.id)
    session.flush()
    result = publish(session, actor, copy.id, settings=settings, now=now, _force=True)
    result["rolled_back_from"] = current.id
    result["restored"] = previous.id
    return result


@dataclass
class _Grids:
    """The grids in force before publishing (``old``) and after (``ids``, ``worker``, ``code``, metric shapes)."""

    epsg: int
    old_code: dict[int, str]
    old_worker: dict[int, int | None]
    removed: list[int]
    ids: np.ndarray
    worker: dict[int, int | None]
    code: dict[int, str]
    polys: np.ndarray

    def grid_of(self, pts: np.ndarray, *, near: bool = False) -> list[int | None]:
        """The new grid holding each point (metric CRS); with ``near`` the nearest within 50 m for the rest."""
        pos = locate(pts, self.polys)
        if near:
            pos = nearest(pts, self.polys, pos)
        return [int(self.ids[p]) if p >= 0 else None for p in pos]


def _apply(session: Session, actor: Actor, plan_id: int, now: dt.datetime, effective_from: dt.date) -> dict:
    """Write the plan's grids into ``grid`` and move everything that points at grids (see the module docstring
    of :mod:`patrol.plans.service`). Grids that are new or change shape get ``valid_from`` = the effective date."""
    grids = _write_grids(session, plan_id, effective_from)
    buildings = _move_buildings(session, grids)
    cases = _move_cases(session, actor, grids, now)
    revisits = _move_revisits(session, grids)
    put_micro_grids_in_force(session, plan_id)  # the plan's 微网格 replace those in force (patrol.people.microgrids)
    if grids.removed:
        session.execute(update(Building).where(Building.grid_id.in_(grids.removed)).values(grid_id=None))
        session.execute(delete(Grid).where(Grid.id.in_(grids.removed)))
    session.flush()
    kept = len(grids.old_code) - len(grids.removed)
    return {"grids": {"kept": kept, "added": len(grids.ids) - kept, "removed": len(grids.removed)},
            "buildings_moved": buildings, **cases, "revisits_moved": revisits}


def _write_grids(session: Session, plan_id: int, effective_from: dt.date) -> _Grids:
    """Update grids in place by code, insert the new codes, and stamp ``valid_from`` on new and reshaped grids;
    the grids whose code left the plan are only listed (deleted once nothing points at them)."""
    old = grid_frame(session)
    plan_codes = select(GridPlanGrid.code).where(GridPlanGrid.plan_id == plan_id)
    pg = GridPlanGrid

    def col(c):  # the plan's value for the grid of the same code
        return select(c).where(pg.plan_id == plan_id, pg.code == Grid.code).scalar_subquery()

    grid_table = cast(Table, Grid.__table__)  # a Core UPDATE: correlated per-code values, no ORM session sync
    session.execute(grid_table.update().where(grid_table.c.code.in_(plan_codes)).values(
        geom=col(pg.geom), name=col(pg.name), worker_id=col(pg.worker_id), community_id=col(pg.community_id)))
    session.execute(insert(Grid).from_select(
        ["community_id", "code", "name", "worker_id", "geom"],
        select(pg.community_id, pg.code, pg.name, pg.worker_id, pg.geom)
        .where(pg.plan_id == plan_id, pg.code.not_in(select(Grid.code)))))
    session.flush()
    kept = set(old["code"]) & set(session.scalars(plan_codes))
    new = read_frame(session, [Grid.id, Grid.code, Grid.worker_id], Grid.geom,
                     where=[Grid.code.in_(plan_codes)], order_by=[Grid.code])
    _stamp_valid_from(session, old, new, effective_from)
    epsg = metric_epsg(session)
    old_code = dict(zip(old["id"], old["code"], strict=True))
    return _Grids(epsg=epsg, old_code=old_code,
                  old_worker={int(i): as_int(w) for i, w in zip(old["id"], old["worker_id"], strict=True)},
                  removed=[int(i) for i, c in old_code.items() if c not in kept],
                  ids=new["id"].to_numpy(dtype=np.int64),
                  worker={int(i): as_int(w) for i, w in zip(new["id"], new["worker_id"], strict=True)},
                  code=dict(zip(new["id"], new["code"], strict=True)),
                  polys=new.to_crs(epsg).geometry.to_numpy())


def _stamp_valid_from(session: Session, old: gpd.GeoDataFrame, new: gpd.GeoDataFrame,
                      effective_from: dt.date) -> None:
    old_geom = dict(zip(old["code"], old.geometry, strict=True))
    reshaped = [int(i) for i, c, g in zip(new["id"], new["code"], new.geometry, strict=True)
                if c not in old_geom or not shapely.equals_exact(old_geom[c], g, tolerance=0)]
    if reshaped:
        session.execute(update(Grid).where(Grid.id.in_(reshaped)).values(valid_from=effective_from))


def _move_buildings(session: Session, grids: _Grids) -> int:
    """Every building to the new grid holding its representative point; returns how many changed grid."""
    buildings = read_frame(session, [Building.id, Building.grid_id], Building.geom, order_by=[Building.id])
    b_new = grids.grid_of(shapely.point_on_surface(buildings.to_crs(grids.epsg).geometry.to_numpy()))
    rows = [{"id": int(b), "grid_id": g} for b, g, was in zip(buildings["id"], b_new, buildings["grid_id"],
                                                              strict=True) if as_int(was) != g]
    if rows:
        session.execute(update(Building), rows)
    return len(rows)


def _move_cases(session: Session, actor: Actor, grids: _Grids, now: dt.datetime) -> dict:
    """Open cases follow their point (a ``regrid`` event each; an assignee who was the old grid's worker follows
    the new grid's worker); closed ones move only when their grid is removed, without an event."""
    removed = set(grids.removed)
    rows = session.execute(select(Case.id, Case.status, Case.level, Case.grid_id, Case.assignee_id,
                                  func.ST_X(Case.geom), func.ST_Y(Case.geom))
                           .where((Case.status.in_(tuple(OPEN))) | (Case.grid_id.in_(grids.removed or [-1])))
                           .order_by(Case.id)).all()
    c_new = grids.grid_of(points([r[5] for r in rows], [r[6] for r in rows], grids.epsg), near=True)
    case_rows, events, counts = [], [], {"open_cases_moved": 0, "assignees_changed": 0, "closed_cases_moved": 0}
    for (cid, status, level, gid, assignee, _, _), g in zip(rows, c_new, strict=True):
        if status in CLOSED:
            if gid in removed:
                case_rows.append({"id": cid, "grid_id": g})
                counts["closed_cases_moved"] += 1
            continue
        values = _open_case_change(grids, gid, g, assignee)
        if not values:
            continue
        note = f"网格调整 {grids.old_code.get(gid, '—') if gid else '—'} → {grids.code.get(g, '—') if g else '—'}"
        if "assignee_id" in values:
            note += f"; 处置人 {assignee} → {values['assignee_id']} (the grid's worker)"
            counts["assignees_changed"] += 1
        counts["open_cases_moved"] += "grid_id" in values
        case_rows.append({"id": cid, **values, "updated_at": now})
        events.append({"case_id": cid, "action": "regrid", "from_status": status, "to_status": status,
                       "level": level, "actor_id": actor.user_id, "actor": actor.label, "at": now, "note": note})
    for keys in {tuple(sorted(r)) for r in case_rows}:  # executemany needs the same keys in every row
        session.execute(update(Case), [r for r in case_rows if tuple(sorted(r)) == keys])
    if events:
        session.execute(insert(CaseEvent), events)
    return counts


def _open_case_change(grids: _Grids, gid: int | None, g: int | None, assignee: int | None) -> dict:
    """What changes for an open case of grid ``gid`` whose point is now in grid ``g``."""
    values: dict = {}
    if g != gid:
        values["grid_id"] = g
    before_worker = grids.old_worker.get(gid) if gid is not None else None
    after_worker = grids.worker.get(g) if g is not None else None
    if assignee is not None and assignee == before_worker and after_worker is not None and after_worker != assignee:
        values["assignee_id"] = after_worker
    return values


def _move_revisits(session: Session, grids: _Grids) -> int:
    """Pending revisits follow their case's point, to the new grid and its worker; returns how many moved."""
    rv = session.execute(select(Revisit.id, Revisit.grid_id, Revisit.worker_id, func.ST_X(Case.geom),
                                func.ST_Y(Case.geom)).join(Case, Case.id == Revisit.case_id)
                         .where(Revisit.done_at.is_(None)).order_by(Revisit.id)).all()
    r_new = grids.grid_of(points([r[3] for r in rv], [r[4] for r in rv], grids.epsg), near=True)
    rows = []
    for (rid, gid, wid, _, _), g in zip(rv, r_new, strict=True):
        w = grids.worker.get(g) if g is not None else None
        if g != gid:
            rows.append({"id": rid, "grid_id": g, "worker_id": w})
        elif wid is not None and wid == grids.old_worker.get(gid) and w is not None and w != wid:
            rows.append({"id": rid, "grid_id": g, "worker_id": w})  # the grid's worker changed
    if rows:
        session.execute(update(Revisit), rows)
    return len(rows)
