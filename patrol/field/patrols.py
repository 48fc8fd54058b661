"""Patrols (巡查): start / end, GPS fixes in batches (implausible ones kept but flagged), household visit check-ins.

Phones retry when the signal drops, so everything is idempotent: a patrol and a visit by their client ids, a fix by
(patrol, time).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import shapely
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from geo.errors import GeoValidationError
from geo.tracks import flag_fixes, track_length_m
from patrol.cases.places import to_point
from patrol.cases.service import parse_client_id
from patrol.core.auth import Actor
from patrol.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from patrol.core.frames import ewkt
from patrol.core.models import Building, GpsFix, Grid, Patrol, Visit
from patrol.core.time import now_utc
from patrol.field.retention import ensure_partitions
from patrol.surveys.residents import check_visit_household, record_household_visit

MAX_BATCH = 5000


@dataclass
class Fix:
    time: dt.datetime
    lon: float
    lat: float
    accuracy_m: float | None = None
    crs: str = "wgs84"


def _own_patrol(session: Session, actor: Actor, patrol_id: int) -> Patrol:
    p = session.get(Patrol, patrol_id)
    if p is None:
        raise NotFound(f"no patrol {patrol_id}", field="patrol_id")
    if actor.role == "admin" or p.worker_id == actor.user_id:
        return p
    if actor.role == "supervisor" and p.grid_id is not None and actor.community_id == session.scalar(
            select(Grid.community_id).where(Grid.id == p.grid_id)):
        return p
    if actor.role == "subdistrict" and p.grid_id is not None and session.scalar(
            select(Grid.community_id).where(Grid.id == p.grid_id)) in actor.community_ids:
        return p
    raise Forbidden("this patrol belongs to another worker", field="patrol_id")


def _worker_only(actor: Actor) -> None:
    if actor.role != "grid_worker":
        raise Forbidden("patrols are walked by grid workers", field="role")


def start_patrol(session: Session, actor: Actor, *, client_id: str | None, started_at: dt.datetime | None = None,
                 grid_id: int | None = None) -> tuple[Patrol, bool]:
    _worker_only(actor)
    cid = parse_client_id(client_id)
    found = session.scalars(select(Patrol).where(Patrol.client_id == cid)).first()
    if found is not None:
        if found.worker_id != actor.user_id:
            raise Conflict("this client_id belongs to another patrol", field="client_id")
        return found, False
    if grid_id is not None and grid_id not in actor.grid_ids:
        raise Forbidden(f"grid {grid_id} is not yours", field="grid_id")
    grid = grid_id if grid_id is not None else (min(actor.grid_ids) if len(actor.grid_ids) == 1 else None)
    p = Patrol(client_id=cid, worker_id=actor.user_id, grid_id=grid, started_at=_check_time(started_at))
    session.add(p)
    session.flush()
    return p, True


def end_patrol(session: Session, actor: Actor, patrol_id: int, *, ended_at: dt.datetime | None = None) -> Patrol:
    p = _own_patrol(session, actor, patrol_id)
    if p.worker_id != actor.user_id:  # the supervisor reads her workers' patrols; only the worker ends one
        raise Forbidden("only the worker walking the patrol ends it", field="patrol_id")
    if p.ended_at is None:
        end = _check_time(ended_at)
        if end < p.started_at:
            raise InvalidInput("ended_at is before the patrol started", field="ended_at")
        p.ended_at = end
    return p


def _check_time(t: dt.datetime | None, field: str = "time") -> dt.datetime:
    if t is None:
        return now_utc()
    if t.tzinfo is None:
        raise InvalidInput(f"{field} needs a timezone, e.g. 2026-11-23T09:30:00+08:00", field=field)
    return t


def add_fixes(session: Session, actor: Actor, patrol_id: int, fixes: list[Fix], *,
              now: dt.datetime | None = None) -> dict:
    """Store a batch of fixes; returns counts of stored, already known (retried) and flagged fixes."""
    p = _own_patrol(session, actor, patrol_id)
    if p.worker_id != actor.user_id:
        raise Forbidden("only the worker walking the patrol sends its fixes", field="patrol_id")
    if not fixes:
        return {"stored": 0, "duplicates": 0, "flagged": 0}
    if len(fixes) > MAX_BATCH:
        raise InvalidInput(f"at most {MAX_BATCH} fixes per batch, got {len(fixes)}", field="fixes")
    now = now or now_utc()
    points = []
    for i, f in enumerate(fixes):
        try:
            points.append(to_point(f.lon, f.lat, f.crs))
        except InvalidInput as exc:
            raise InvalidInput(f"fixes[{i}]: {exc.message}", field=f"fixes.{i}.{exc.field}") from None
        _check_time(f.time, f"fixes.{i}.time")
    times = [f.time.astimezone(dt.UTC) for f in fixes]
    known = set()
    for t in session.scalars(select(GpsFix.time).where(GpsFix.patrol_id == p.id, GpsFix.time.in_(times))):
        known.add(t)
    fresh = []
    for i, t in enumerate(times):  # new times only, each once (a batch may repeat a fix)
        if t not in known:
            known.add(t)
            fresh.append(i)
    if not fresh:
        return {"stored": 0, "duplicates": len(fixes), "flagged": 0}
    first = min(times[i] for i in fresh)
    ref = session.execute(
        select(GpsFix.time, func.ST_AsBinary(GpsFix.geom)).where(GpsFix.patrol_id == p.id, GpsFix.flag.is_(None),
                                                                   GpsFix.time < first)
        .order_by(GpsFix.time.desc()).limit(1)).first()
    t_all = [times[i] for i in fresh]
    x_all = [points[i][0] for i in fresh]
    y_all = [points[i][1] for i in fresh]
    acc = [fixes[i].accuracy_m if fixes[i].accuracy_m is not None else np.nan for i in fresh]
    if ref is not None:
        rp = shapely.from_wkb(bytes(ref[1]))
        t_all, x_all, y_all, acc = [ref[0], *t_all], [rp.x, *x_all], [rp.y, *y_all], [np.nan, *acc]
    try:
        flags = flag_fixes(t_all, x_all, y_all, acc, now=now)
    except GeoValidationError as exc:
        raise InvalidInput(str(exc), field="fixes") from None
    if ref is not None:
        flags = flags[1:]
    geoms = ewkt([shapely.Point(points[i]) for i in fresh])
    rows = [{"patrol_id": p.id, "time": times[i], "accuracy_m": fixes[i].accuracy_m, "flag": fl, "geom": g}
            for i, fl, g in zip(fresh, flags, geoms, strict=True)]
    ensure_partitions(session, min(t_all), max(t_all) + dt.timedelta(microseconds=1))
    session.execute(insert(GpsFix), rows)
    return {"stored": len(rows), "duplicates": len(fixes) - len(rows), "flagged": sum(f is not None for f in flags)}


def patrol_summary(session: Session, actor: Actor, patrol_id: int) -> dict:
    p = _own_patrol(session, actor, patrol_id)
    rows = session.execute(select(GpsFix.time, GpsFix.flag, func.ST_AsBinary(GpsFix.geom))
                           .where(GpsFix.patrol_id == p.id).order_by(GpsFix.time)).all()
    good = [shapely.from_wkb(bytes(r[2])) for r in rows if r[1] is None]
    length = track_length_m([g.x for g in good], [g.y for g in good]) if len(good) >= 2 else 0.0
    flagged: dict[str, int] = {}
    for r in rows:
        if r[1] is not None:
            flagged[r[1]] = flagged.get(r[1], 0) + 1
    return {"id": p.id, "client_id": p.client_id, "worker_id": p.worker_id, "grid_id": p.grid_id,
            "started_at": p.started_at.isoformat(),
            "ended_at": p.ended_at.isoformat() if p.ended_at else None,
            "fixes": len(rows), "flagged": flagged, "length_m": round(length, 1),
            "track": {"type": "LineString", "coordinates": [[g.x, g.y] for g in good]}}


def check_in(session: Session, actor: Actor, *, client_id: str | None, building_id: int,
             time: dt.datetime | None = None, patrol_id: int | None = None, note: str | None = None,
             lon: float | None = None, lat: float | None = None, crs: str = "wgs84",
             household_id: int | None = None, needs: list[dict] | None = None) -> tuple[Visit, bool]:
    """A household visit check-in (入户走访) at a building of the worker's grids.

    With ``household_id`` (a household of the 民情台账 register in that building) the visit counts for the
    household's due visits, and ``needs`` (``[{type, detail}]``) raised at it go into the register. A retry with
    the same ``client_id`` returns the first visit and records nothing again — not the needs either. The client id
    of another worker's visit is a conflict (409) that reveals nothing of that visit or its household."""
    if actor.role != "building_lead":  # a 楼栋长 checks in at her micro-grid's buildings (patrol.people.scope)
        _worker_only(actor)
    cid = parse_client_id(client_id)
    found = session.scalars(select(Visit).where(Visit.client_id == cid)).first()
    if found is not None:
        if found.worker_id != actor.user_id:  # someone else's visit: nothing of it, nor of its household
            raise Conflict("this client_id belongs to another visit", field="client_id")
        return found, False
    b = session.get(Building, building_id)
    if b is None:
        raise InvalidInput(f"no building {building_id}", field="building_id")
    if actor.role == "building_lead" and building_id not in actor.building_ids:
        raise Forbidden(f"building {building_id} is not in your micro-grid (微网格)", field="building_id")
    if actor.role != "building_lead" and b.grid_id not in actor.grid_ids:
        raise Forbidden(f"building {building_id} is not in your grids", field="building_id")
    household, clean_needs = check_visit_household(session, b, household_id, needs)
    if patrol_id is not None:
        _own_patrol(session, actor, patrol_id)
    geom = None
    if lon is not None and lat is not None:
        geom = ewkt([shapely.Point(*to_point(lon, lat, crs))])[0]
    v = Visit(client_id=cid, worker_id=actor.user_id, patrol_id=patrol_id, building_id=building_id,
              time=_check_time(time), note=note, geom=geom)
    session.add(v)
    session.flush()
    if household is not None:
        record_household_visit(session, actor, v, household, clean_needs)
    return v, True

