"""A user's task list, written once: what a grid worker must do today (cases to handle, cases to verify on site,
回头看 revisits due), what a department has in hand, what waits at a supervisor's desk.

Read by the API's ``GET /api/v1/tasks`` (:func:`task_list`), by the walking route of a worker's day
(:func:`patrol.cases.routing.worker_day`) and by the phone's day when the city has no roads
(:func:`patrol.field.day.field_today`), all through :func:`worker_stops` and the clauses below.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session

from patrol.cases.authority import scope_filter
from patrol.cases.lifecycle import AT_DESK, IN_HAND, SELF_HANDLED, TO_VERIFY
from patrol.cases.reads import case_dict
from patrol.city.labels import with_building_labels
from patrol.core.auth import Actor
from patrol.core.errors import Forbidden
from patrol.core.models import Case, Grid, Revisit

#: The kinds of a worker's stop, in the order they are listed.
STOP_KINDS = ("handle", "verify", "revisit")


def worker_grids(session: Session, worker_id: int) -> list[int]:
    """The ids of the grids whose worker is ``worker_id``, ascending."""
    return sorted(session.scalars(select(Grid.id).where(Grid.worker_id == worker_id)))


def to_handle(worker_id: int | None) -> list[ColumnElement[bool]]:
    """Cases assigned to the worker and in hand (dispatched or accepted)."""
    return [Case.assignee_id == worker_id, Case.status.in_(sorted(IN_HAND))]


def to_verify(grid_ids: list[int] | frozenset[int], worker_id: int | None = None) -> list[ColumnElement[bool]]:
    """Cases of the worker's grids handled and waiting for her check on site — but not those she handled on the
    spot herself (自行处置: the community checks them, :func:`patrol.cases.authority.refusal`)."""
    return [Case.grid_id.in_(list(grid_ids) or [-1]), Case.status.in_(sorted(TO_VERIFY)),
            ~and_(Case.channel == SELF_HANDLED, Case.assignee_id == worker_id)]


def revisits_due(grid_ids: list[int] | frozenset[int], day: dt.date) -> list[ColumnElement[bool]]:
    """回头看 revisits of the worker's grids not yet made and due on or before ``day`` (a local date)."""
    return [Revisit.grid_id.in_(list(grid_ids) or [-1]), Revisit.done_at.is_(None), Revisit.due_on <= day]


def worker_stops(session: Session, worker_id: int, day: dt.date) -> list[dict]:
    """A grid worker's stops for ``day``: ``[{kind, case_id, revisit_id, category, lon, lat}]`` (WGS-84), cases to
    handle, then to verify (by case id), then revisits due (by revisit id). Unordered for walking."""
    grids = worker_grids(session, worker_id)
    x, y = func.ST_X(Case.geom), func.ST_Y(Case.geom)
    queries = (
        ("handle", select(Case.id, Case.id, Case.category_code, x, y).where(*to_handle(worker_id))
         .order_by(Case.id)),
        ("verify", select(Case.id, Case.id, Case.category_code, x, y).where(*to_verify(grids, worker_id))
         .order_by(Case.id)),
        ("revisit", select(Revisit.id, Case.id, Case.category_code, x, y).join(Case, Case.id == Revisit.case_id)
         .where(*revisits_due(grids, day)).order_by(Revisit.id)),
    )
    stops = []
    for kind, stmt in queries:
        for rid, cid, cat, lon, lat in session.execute(stmt):
            stops.append({"kind": kind, "case_id": cid, "revisit_id": rid if kind == "revisit" else None,
                          "category": cat, "lon": lon, "lat": lat})
    return stops


def task_list(session: Session, actor: Actor, today: dt.date) -> dict:
    """``{handle: [case], verify: [case], revisits: [{id, case_id, due_on}]}`` for ``actor`` on ``today`` (a local
    date): a grid worker's cases to handle and verify and her grids' revisits due; a department's cases in hand;
    a supervisor's, 街道's or admin's cases waiting at the desk and the revisits due in her scope. Cases by
    deadline, then id; 403 for a planner."""
    scope = scope_filter(actor)
    todo: list[ColumnElement[bool]]
    verify: list[ColumnElement[bool]] | None
    revisits: list[ColumnElement[bool]] | None = [*scope, Revisit.done_at.is_(None), Revisit.due_on <= today]
    if actor.role == "grid_worker":
        todo, verify = to_handle(actor.user_id), to_verify(actor.grid_ids, actor.user_id)
        revisits = revisits_due(actor.grid_ids, today)
    elif actor.role == "department":
        todo, verify, revisits = [*scope, Case.status.in_(sorted(IN_HAND))], None, None
    elif actor.role in ("supervisor", "subdistrict", "admin"):
        todo, verify = [*scope, Case.status.in_(sorted(AT_DESK))], None
    elif actor.role == "grid_lead":  # 网格长: what waits at the desk in her grids, and their verifications
        todo = [*scope, Case.status.in_(sorted(AT_DESK))]
        verify = [*to_verify(actor.grid_ids), Case.channel != SELF_HANDLED]
    else:
        raise Forbidden(f"a {actor.role} has no task list", field="role")

    def cases(where: list[ColumnElement[bool]] | None) -> list[dict]:
        if where is None:
            return []
        rows = session.execute(select(Case, func.ST_AsBinary(Case.geom)).where(*where)
                               .order_by(Case.deadline_at, Case.id)).all()
        return with_building_labels(session, [case_dict(c, w) for c, w in rows])

    due: list[Revisit] = [] if revisits is None else list(session.scalars(
        select(Revisit).join(Case, Case.id == Revisit.case_id).where(*revisits).order_by(Revisit.due_on)))
    return {"handle": cases(todo), "verify": cases(verify),
            "revisits": [{"id": r.id, "case_id": r.case_id, "due_on": r.due_on.isoformat()} for r in due]}
