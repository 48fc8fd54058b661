"""Reading cases back: the filters of a case list (:class:`CaseFilter`, :func:`case_query`), a case as JSON
(:func:`case_dict`), its timeline and whistle tasks, and what a map of cases draws at a zoom (:func:`case_clusters`).
Every read goes through the actor's scope (:func:`patrol.cases.authority.scope_filter`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

import shapely
from sqlalchemy import ColumnElement, Integer, Select, and_, func, select, true
from sqlalchemy import case as sql_case
from sqlalchemy.orm import Session

from patrol.cases import map_cells
from patrol.cases.area_filters import area_clauses
from patrol.cases.authority import scope_filter
from patrol.cases.lifecycle import ACTIONS, OPEN, actions_from
from patrol.cases.overdue import is_overdue, overdue_clause
from patrol.core.auth import Actor
from patrol.core.dialect import bbox_filter, no_jit
from patrol.core.models import Case, CaseEvent, CaseTask, Category, Photo
from patrol.core.time import iso, now_utc


@dataclass
class CaseFilter:
    """The filters of a case list; ``bbox`` in WGS-84 (min lon, min lat, max lon, max lat), ``since`` / ``until``
    bound ``reported_at`` (half-open)."""

    bbox: tuple[float, float, float, float] | None = None
    grid: str | None = None
    community: str | None = None
    subdistrict: str | None = None
    category: str | None = None
    status: list[str] | None = None
    overdue: bool | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    ids: list[int] | None = None
    #: where the cases came from (:mod:`patrol.cases.channels`): any of these
    channels: list[str] | None = None


def case_query(session: Session, actor: Actor, f: CaseFilter, *, now: dt.datetime | None = None) -> Select:
    """The cases (with their point as WKB) that ``actor`` may read and ``f`` selects, by id; ``overdue`` at ``now``."""
    now = now or now_utc()
    where = scope_filter(actor)
    if f.bbox:
        where.append(bbox_filter(session, Case.id, Case.geom, f.bbox))
    where += area_clauses(f, Case.community_id, Case.grid_id)
    if f.category:
        where.append(Case.category_code == f.category)
    if f.status:
        where.append(Case.status.in_(f.status))
    if f.overdue is not None:
        late = overdue_clause(now)
        where.append(late if f.overdue else ~late)
    if f.since:
        where.append(Case.reported_at >= f.since)
    if f.until:
        where.append(Case.reported_at < f.until)
    if f.ids:
        where.append(Case.id.in_(f.ids))
    if f.channels:
        where.append(Case.channel.in_(f.channels))
    return select(Case, func.ST_AsBinary(Case.geom)).where(*where).order_by(Case.id)


def case_dict(case: Case, wkb: bytes | None = None, *, now: dt.datetime | None = None,
              category: Category | None = None) -> dict:
    """A case as JSON: its fields, whether it is overdue at ``now``, the actions its status allows, and its point
    (``lon``, ``lat``, WGS-84) when ``wkb`` is given."""
    now = now or now_utc()
    deadline = case.deadline_at
    out = {
        "id": case.id, "number": case.number, "client_id": case.client_id, "category": case.category_code,
        "status": case.status,
        "level": case.level, "channel": case.channel, "description": case.description, "address": case.address,
        "community_id": case.community_id, "grid_id": case.grid_id, "building_id": case.building_id,
        "floor": case.floor, "unit_no": case.unit_no, "unit_id": case.unit_id, "assignee_id": case.assignee_id,
        "reported_at": iso(case.reported_at), "deadline_at": iso(deadline), "handled_at": iso(case.handled_at),
        "closed_at": iso(case.closed_at), "closed_on_time": case.closed_on_time, "rating": case.rating,
        "rework_count": case.rework_count, "reopened_count": case.reopened_count, "escalations": case.escalations,
        "duplicate_of": case.duplicate_of_id, "recurrence_of": case.recurrence_of_id,
        "overdue": is_overdue(case.status, deadline, now),
        "allowed_actions": actions_from(case.status), "simulated": case.simulated,
        "received_at": iso(case.received_at), "time_flag": case.time_flag, "clock_skew_s": case.clock_skew_s,
    }
    if category is not None:
        out["category_name"] = {"zh": category.name_zh, "en": category.name_en}
    if wkb is not None:
        p = shapely.from_wkb(bytes(wkb))
        out["lon"], out["lat"] = p.x, p.y
    return out


def timeline(session: Session, case_id: int) -> list[dict]:
    """The case's events in order, each with its Chinese label, place and photo ids."""
    rows = session.execute(select(CaseEvent, func.ST_AsBinary(CaseEvent.geom)).where(CaseEvent.case_id == case_id)
                           .order_by(CaseEvent.at, CaseEvent.id)).all()
    photos: dict[int | None, list[int]] = {}
    for pid, eid in session.execute(select(Photo.id, Photo.event_id).where(Photo.case_id == case_id)):
        photos.setdefault(eid, []).append(pid)
    out = []
    for ev, wkb in rows:
        p = shapely.from_wkb(bytes(wkb)) if wkb is not None else None
        out.append({"id": ev.id, "action": ev.action, "label_zh": step_label(ev.action),
                    "from": ev.from_status, "to": ev.to_status, "level": ev.level, "actor": ev.actor,
                    "at": iso(ev.at), "received_at": iso(ev.received_at), "time_flag": ev.time_flag,
                    "clock_skew_s": ev.clock_skew_s, "note": ev.note, "unit_id": ev.unit_id,
                    "lon": p.x if p else None, "lat": p.y if p else None, "photos": photos.get(ev.id, [])})
    return out


def tasks_of(session: Session, case_id: int) -> list[dict]:
    """The whistle tasks (吹哨报到) of a case, one per department called in."""
    return [{"id": t.id, "unit_id": t.unit_id, "status": t.status, "deadline_at": iso(t.deadline_at),
             "report_in_by": iso(t.report_in_by), "reported_in_at": iso(t.reported_in_at),
             "handled_at": iso(t.handled_at), "note": t.note}
            for t in session.scalars(select(CaseTask).where(CaseTask.case_id == case_id).order_by(CaseTask.id))]


def step_label(action: str) -> str:
    """The Chinese name of a timeline step: the loop's action (:data:`ACTIONS`), or a step of its own (上报 …)."""
    return ACTIONS[action].label_zh if action in ACTIONS else _EXTRA_LABELS.get(action, action)


_EXTRA_LABELS = {"report": "上报", "reopen": "重新办理(再接单)", "revisit": "回头看", "task_report_in": "部门报到",
                 "task_handle": "部门处置", "task_return": "部门退回", "photo": "照片", "regrid": "网格调整"}


# ---------------------------------------------------------------------------------------------- map aggregation

CLUSTER_PX = 64  # a cluster cell is about this many screen pixels wide
CASES_FROM_ZOOM = 16  # from this zoom on (or when few), the cases themselves


def case_clusters(session: Session, actor: Actor, f: CaseFilter, zoom: int, *, now: dt.datetime | None = None,
                  max_cases: int = 2000, few: int = 300, fast: bool = False) -> dict:
    """What a map of cases draws in a bbox at a zoom: clusters (aggregated in the database on a grid of about
    64 px cells, so 100k cases cost the browser a few hundred markers) or, zoomed in (and at most ``max_cases``)
    or when few, the cases themselves, open and overdue ones first. ``fast`` (``Settings.fast_reads``): the
    final cases' clusters from the summary ``case_map_cell`` when it can answer (:mod:`patrol.cases.map_cells`:
    the same counts per cell and status), and on PostgreSQL without JIT compilation, which costs more than it
    saves on these queries (issue 23: ≈0.35 s of 1.1 s for a month of a 1M-case district)."""
    now = now or now_utc()
    if fast:
        no_jit(session)
    where = case_query(session, actor, f, now=now).whereclause
    if where is None:  # an admin without filters
        where = true()
    late = overdue_clause(now)
    live = _live_query(session, where, late, zoom)
    rows = map_cells.summary_rows(session, actor, f, zoom, _fast_live(session, actor, f, now, late, zoom, live)) \
        if fast else None
    if rows is None:
        rows = session.execute(live()).all()
    total = sum(r[3] for r in rows)
    if (zoom >= CASES_FROM_ZOOM and total <= max_cases) or total <= few:
        return {"clusters": [], "cases": _map_cases(session, where, late, max_cases), "total": total,
                "truncated": False}
    cells: dict[tuple, dict] = {}
    for cx, cy, status, n, sx, sy, n_late in rows:
        c = cells.setdefault((cx, cy), {"count": 0, "sx": 0.0, "sy": 0.0, "overdue": 0, "statuses": {}})
        c["count"] += n
        c["sx"] += sx
        c["sy"] += sy
        c["overdue"] += int(n_late or 0)
        c["statuses"][status] = n
    clusters = [{"lon": c["sx"] / c["count"], "lat": c["sy"] / c["count"], "count": c["count"],
                 "overdue": c["overdue"], "statuses": c["statuses"]} for c in cells.values()]
    return {"clusters": clusters, "cases": [], "total": total, "truncated": False}


def _fast_live(session: Session, actor: Actor, f: CaseFilter, now: dt.datetime, late: ColumnElement[bool],
               zoom: int, live: map_cells.LiveQuery) -> map_cells.LiveQuery:
    """The live query of the summary's small parts. On SpatiaLite the bbox is tested on the point's coordinates
    (the same closed box as ``ST_Intersects`` with it): its R*Tree filter lists every case id of the view, which
    costs more than the small parts themselves (a 100k-case district: 1.4 s instead of 1.1 s live)."""
    if f.bbox is None or session.get_bind().dialect.name != "sqlite":
        return live
    x0, y0, x1, y1 = f.bbox
    inside = and_(func.ST_X(Case.geom).between(x0, x1), func.ST_Y(Case.geom).between(y0, y1))
    rest = case_query(session, actor, replace(f, bbox=None), now=now).whereclause
    return _live_query(session, inside if rest is None else and_(inside, rest), late, zoom)


def _live_query(session: Session, where: ColumnElement[bool], late: ColumnElement[bool],
                zoom: int) -> map_cells.LiveQuery:
    """The live grouped query of the map at ``zoom`` (per cell of about 64 px and status: count, sums of lon and
    lat, overdue count) over the cases ``where`` and the extra conditions given select."""
    cell = 360.0 / (2 ** max(0, min(zoom, 22))) / (256 / CLUSTER_PX)
    x, y = func.ST_X(Case.geom), func.ST_Y(Case.geom)
    gx: ColumnElement[float]
    gy: ColumnElement[float]
    if session.get_bind().dialect.name == "sqlite":  # no floor() in every SQLite; shifted positive, CAST truncates
        gx, gy = func.cast((x + 180) / cell, Integer), func.cast((y + 90) / cell, Integer)
    else:
        gx, gy = func.floor((x + 180) / cell), func.floor((y + 90) / cell)

    def query(*conds: ColumnElement[bool]) -> Select:
        return (select(gx.label("gx"), gy.label("gy"), Case.status, func.count(), func.sum(x), func.sum(y),
                       func.sum(sql_case((late, 1), else_=0)))
                .where(where, *conds).group_by("gx", "gy", Case.status))
    return query


def _map_cases(session: Session, where: ColumnElement[bool], late: ColumnElement[bool], limit: int) -> list[dict]:
    rows = session.execute(
        select(Case.id, Case.status, Case.category_code, Category.name_zh, Case.deadline_at,
               func.ST_X(Case.geom), func.ST_Y(Case.geom), late.label("late"), Case.number)
        .join(Category, Category.code == Case.category_code).where(where)
        .order_by(late.desc(), Case.status.in_(tuple(OPEN)).desc(), Case.id.desc()).limit(limit)).all()
    thumbs = dict(session.execute(select(Photo.case_id, func.min(Photo.id)).where(
        Photo.case_id.in_([r[0] for r in rows] or [-1])).group_by(Photo.case_id)).all())
    return [{"id": r[0], "status": r[1], "category": r[2], "category_name": r[3],
             "deadline_at": iso(r[4]), "lon": r[5], "lat": r[6], "overdue": bool(r[7]),
             "thumbnail": f"/api/v1/photos/{thumbs[r[0]]}/thumbnail" if r[0] in thumbs else None,
             "number": r[8], "url": f"/desk/cases/{r[8]}"} for r in rows]
