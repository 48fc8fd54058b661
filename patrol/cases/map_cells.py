"""The cases map's clusters from a summary at city scale (issue 23): ``case_map_cell`` holds, per cell of the base
zoom's grid (:data:`~patrol.cases.map_cells_sql.BASE_ZOOM`), final status, community, grid and unit, the count and
the sums of lon / lat of the cases in a final status (closed, rejected, duplicate — the bulk of a district's
years, never overdue). Kept by triggers on ``patrol_case`` (migration 0020); a bulk load with the triggers off must
call :func:`rebuild` (``gridpatrol db rebuild-summaries`` does, as does the scale generator).

:func:`summary_rows` answers :func:`patrol.cases.reads.case_clusters` exactly (the same counts per cell and status;
the centroids up to the order of a floating-point sum): the summary's cells lying wholly inside the bbox plus,
read live, the open cases, the final cases in the bbox's border strip (outside those cells, by the stored index's
own expression) and, for a department, the final cases of its whistle tasks
dispatched to another unit. It answers None (the caller runs the live query) for what the summary cannot say:
a zoom above the base zoom, no bbox, a period (``since`` / ``until``), a category, channels, ids, the scopes of
grid workers, grid leads and building leads (they depend on the assignee or reporter), and a bbox whose inner
cells are none; and a view whose inner cells hold fewer than :data:`LIVE_BELOW` final cases (cheaper live).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, Integer, Select, and_, false, func, not_, or_, select, text
from sqlalchemy.orm import Session

from patrol.cases import map_cells_sql as S
from patrol.cases.area_filters import area_clauses
from patrol.cases.lifecycle import OPEN
from patrol.core.auth import Actor
from patrol.core.dialect import bbox_filter
from patrol.core.models import Case, CaseMapCell, CaseTask

if TYPE_CHECKING:
    from patrol.cases.reads import CaseFilter

__all__ = ["rebuild", "summary_rows", "SUMMARY_ROLES"]

#: the roles whose scope the summary's key columns express
SUMMARY_ROLES = ("admin", "planner", "supervisor", "subdistrict", "department")
_OPEN = tuple(sorted(OPEN))
#: when the summary's inner cells hold fewer final cases than this, the live query runs instead (on the 5M district,
#: a zoom-15 view of 383 cases: 19 ms live, 41 ms through the summary's three queries)
LIVE_BELOW = 5000

#: a function building the live grouped query (gx, gy, status, count, sum x, sum y, overdue) of the cases that
#: match the map's WHERE and the given extra conditions, at the zoom asked
LiveQuery = Callable[..., Select]


def rebuild(session: Session) -> int:
    """Rebuild ``case_map_cell`` from ``patrol_case``; returns its rows."""
    conn = session.connection()
    dialect = conn.dialect.name
    conn.execute(text("TRUNCATE case_map_cell" if dialect == "postgresql" else "DELETE FROM case_map_cell"))
    conn.execute(text(f"INSERT INTO case_map_cell ({', '.join(S.COLUMNS)}) {S.rebuild_select(dialect)}"))
    return int(session.scalar(select(func.count()).select_from(CaseMapCell)) or 0)


def answerable(actor: Actor, f: CaseFilter, zoom: int) -> bool:
    """Whether the summary can answer this map (else the live query runs)."""
    return (zoom <= S.BASE_ZOOM and f.bbox is not None and actor.role in SUMMARY_ROLES
            and not (f.since or f.until or f.category or f.channels or f.ids))


def _inner(bbox: tuple[float, float, float, float]) -> tuple[int, int, int, int] | None:
    """The base cells (gx0, gy0, gx1, gy1, inclusive) whose every point lies inside ``bbox``, or None when there
    are none. Exact: ``fl(fl(x + 180) / c)`` does not decrease with ``x`` (IEEE rounding is monotonic) and is the
    same double in Python and in either database, so a point left of ``x0`` has an index ≤ ``floor(a0) < gx0``
    (``a0`` the bbox edge's value), and likewise on the other three sides."""
    c = S.BASE_CELL
    x0, y0, x1, y1 = bbox
    gx0, gx1 = math.floor((x0 + 180) / c) + 1, math.floor((x1 + 180) / c) - 1
    gy0, gy1 = math.floor((y0 + 90) / c) + 1, math.floor((y1 + 90) / c) - 1
    return None if gx0 > gx1 or gy0 > gy1 else (gx0, gy0, gx1, gy1)


def _case_index(session: Session, expr: ColumnElement) -> ColumnElement:
    """The base cell index of a shifted coordinate of a case, as the stored one (and the live query) computes it."""
    if session.get_bind().dialect.name == "sqlite":
        return func.cast(expr / S.BASE_CELL, Integer)
    return func.cast(func.floor(expr / S.BASE_CELL), Integer)


def _none0(v: int | None) -> int:
    return 0 if v is None else v


def _scope(actor: Actor) -> list[ColumnElement[bool]]:
    """:func:`patrol.cases.authority.scope_filter` on the summary's key columns (0: none)."""
    if actor.role == "supervisor":
        return [CaseMapCell.community_id == _none0(actor.community_id)]
    if actor.role == "subdistrict":
        return [CaseMapCell.community_id.in_(sorted(actor.community_ids) or [-1])]
    if actor.role == "department":
        return [CaseMapCell.unit_id == _none0(actor.unit_id)]
    return []


def _filters(f: CaseFilter) -> list[ColumnElement[bool]]:
    """The filters of :func:`patrol.cases.reads.case_query` that the summary answers, on its key columns."""
    where = area_clauses(f, CaseMapCell.community_id, CaseMapCell.grid_id)
    if f.status:
        where.append(CaseMapCell.status.in_(f.status))
    if f.overdue:  # a final case is never overdue (and is always "not overdue")
        where.append(false())
    return where


def _strips(bbox: tuple[float, float, float, float], inner: tuple[int, int, int, int]
            ) -> list[tuple[float, float, float, float]]:
    """Four boxes covering the part of ``bbox`` outside the inner cells, reaching 1/64 of a cell into them (beyond
    any rounding; the boxes only let the spatial index find the border: the exact test is the stored index's
    expression)."""
    c = S.BASE_CELL
    x0, y0, x1, y1 = bbox
    gx0, gy0, gx1, gy1 = inner
    xa, xb = gx0 * c - 180 + c / 64, (gx1 + 1) * c - 180 - c / 64
    ya, yb = gy0 * c - 90 + c / 64, (gy1 + 1) * c - 90 - c / 64
    return [(x0, y0, xa, y1), (xb, y0, x1, y1), (x0, y0, x1, ya), (x0, yb, x1, y1)]


def summary_rows(session: Session, actor: Actor, f: CaseFilter, zoom: int, live: LiveQuery) -> list[tuple] | None:
    """Rows (gx, gy, status, count, sum lon, sum lat, overdue) of the map at ``zoom``, the same per cell and status
    as the live query's, or None when the summary cannot answer (see the module's docstring). ``live(*conds)``
    builds the live grouped query of the map's cases that also match ``conds``."""
    if not answerable(actor, f, zoom):
        return None
    assert f.bbox is not None
    inner = _inner(f.bbox)
    if inner is None:
        return None
    gx0, gy0, gx1, gy1 = inner
    div = 2 ** (S.BASE_ZOOM - zoom)
    stored = select((CaseMapCell.gx // div).label("gx"), (CaseMapCell.gy // div).label("gy"), CaseMapCell.status,
                    func.sum(CaseMapCell.n), func.sum(CaseMapCell.sx), func.sum(CaseMapCell.sy)).where(
        CaseMapCell.gx.between(gx0, gx1), CaseMapCell.gy.between(gy0, gy1), CaseMapCell.n > 0,
        *_scope(actor), *_filters(f)).group_by("gx", "gy", CaseMapCell.status)
    if session.get_bind().dialect.name == "postgresql":  # small live parts: a parallel worker's start costs more
        session.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
    rows = [(*r, 0) for r in session.execute(stored)]
    if sum(r[3] for r in rows) < LIVE_BELOW:  # a view of few cases: the live query alone is cheaper
        return None
    final = Case.status.in_(S.FINAL)
    in_inner = and_(_case_index(session, func.ST_X(Case.geom) + 180).between(gx0, gx1),
                    _case_index(session, func.ST_Y(Case.geom) + 90).between(gy0, gy1))
    strips = or_(*(bbox_filter(session, Case.id, Case.geom, b) for b in _strips(f.bbox, inner)))
    # the border's cases found first through the spatial index alone (OFFSET 0: not merged into the outer query,
    # where PostgreSQL would AND the bitmap of a scope's index, e.g. a community's 0.9M cases, to the strips')
    border = select(Case.id).where(not_(in_inner), strips).offset(0)
    parts = [live(Case.status.in_(_OPEN)), live(Case.id.in_(border), final)]
    if actor.role == "department":  # its whistle tasks' cases dispatched to another unit (or none)
        tasks = select(CaseTask.case_id).where(CaseTask.unit_id == actor.unit_id)
        parts.append(live(final, in_inner, Case.id.in_(tasks),
                          func.coalesce(Case.unit_id, 0) != _none0(actor.unit_id)))
    for q in parts:
        rows += [tuple(r) for r in session.execute(q)]
    return _merge(rows)


def _merge(rows: list[tuple]) -> list[tuple]:
    """Rows of the same (gx, gy, status) added up (the summary's and the live parts')."""
    out: dict[tuple, list] = {}
    for gx, gy, status, n, sx, sy, late in rows:
        key = (int(gx), int(gy), status)
        acc = out.setdefault(key, [0, 0.0, 0.0, 0])
        acc[0] += int(n)
        acc[1] += float(sx)
        acc[2] += float(sy)
        acc[3] += int(late or 0)
    return [(*k, *v) for k, v in out.items()]
