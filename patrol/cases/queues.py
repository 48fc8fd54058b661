"""The desk's queues (待办): for each role, the lists of cases waiting for it, each a WHERE over the cases in the
actor's scope (:func:`patrol.cases.authority.scope_filter`), with cheap counts and server-side pages of rows.

社区 (supervisor): 待立案, 待派遣, 被退回, 待结案, 待评价/回访, 升级到社区, 即将超期, 已超期.
街道 (subdistrict): 升级到街道, 吹哨, 已超期, 即将超期, 已督办. Admin: the supervisor's set over everything, plus the
街道's. Department: 待接单, 处置中, 吹哨任务, 返工. The three of 研判 (:mod:`patrol.cases.assessment`) for the
社区, the 街道 and the admin: 待研判 (registered above the grid level, never assessed), 重难点 and 信访 (open cases
their latest 研判 marked so); the /desk/meetings page lists them too.

**即将超期 (near the deadline)** — the one definition, written once in :mod:`patrol.cases.overdue`
(``near_clause``, ``deadline_colour``; the nearing-deadline notices read it too): a case whose deadline clock
runs (:data:`patrol.cases.lifecycle.RUNNING`), not yet overdue, with less than
``near_deadline_fraction`` (default 0.2) of its category's time limit left, counted in working hours
(:class:`patrol.cases.worktime.WorkCalendar`). In SQL: ``now <= deadline_at < add_working_hours(now, fraction × the
category's deadline_hours)``, one threshold per category computed in Python (a handful of categories), so the test
is an indexed range on ``deadline_at``. The row colour uses the same numbers: red overdue, orange below the fraction,
yellow below twice the fraction, green otherwise. (The category's limit is the yardstick rather than the time from
the last dispatch: it is what the city sets per category, and needs no event lookup per row.)

**被退回 (returned)**: registered, and the last event that brought the case to ``registered`` is a ``return`` (a unit
returned it, or every whistled department returned its task); 待派遣 holds the other registered cases.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from patrol.cases.authority import can_read, scope_filter
from patrol.cases.channels import check_channels
from patrol.cases.contact import masked
from patrol.cases.lifecycle import ACTIONS, IN_HAND, OPEN, RUNNING, Status
from patrol.cases.overdue import deadline_colour, near_clause, near_thresholds, overdue_clause
from patrol.cases.service import transition
from patrol.cases.worktime import WorkCalendar, calendar
from patrol.core.auth import Actor
from patrol.core.errors import Forbidden, GridPatrolError, InvalidInput, NotFound
from patrol.core.models import (
    Building,
    Case,
    CaseAssessment,
    CaseEvent,
    CaseTask,
    Category,
    Community,
    Grid,
    ResponsibleUnit,
)
from patrol.core.settings import Settings
from patrol.core.time import aware, iso, now_utc

__all__ = ["BULK", "DELIBERATION", "QUEUES", "ROLE_QUEUES", "SORTS", "Queue", "QueueFilter", "bulk", "bulk_actions",
           "counts", "desk_roles", "filter_options", "hours_left", "queue_page", "queues_of", "scope_signature"]

_RUNNING = tuple(sorted(RUNNING))
_OPEN = tuple(sorted(OPEN))
_IN_HAND = tuple(sorted(IN_HAND))
#: a whistle task still standing: the department has not handled nor returned it
OPEN_TASK = ("dispatched", "accepted")


@dataclass(frozen=True)
class Context:
    """What a queue's WHERE needs besides the case: the caller, the moment, the near-deadline thresholds."""

    actor: Actor
    now: dt.datetime
    near: ColumnElement[bool]


@dataclass(frozen=True)
class Queue:
    name: str
    label_zh: str
    label_en: str
    where: Callable[[Context], list[ColumnElement[bool]]]
    #: actions offered on a selection in this queue (register / reject / dispatch), when the role may take them
    bulk: tuple[str, ...] = ()
    #: rows carry their whistle tasks
    tasks: bool = False
    #: the rule keeps to the actor's own unit (its cases or its whistle tasks), inside the department's scope: the
    #: scope's OR (unit or task), which keeps the database from using an index, is left out
    own_scope: bool = False


def _returned() -> ColumnElement[bool]:
    """The last event that brought the case to ``registered`` is a return: a return to ``registered`` with no later
    event to ``registered`` (two probes of the index on case_event (case_id, to_status, id))."""
    later = aliased(CaseEvent)
    return exists().where(CaseEvent.case_id == Case.id, CaseEvent.to_status == Status.REGISTERED,
                          CaseEvent.action == "return",
                          ~exists().where(later.case_id == CaseEvent.case_id, later.to_status == Status.REGISTERED,
                                          later.id > CaseEvent.id))


def _has_tasks() -> ColumnElement[bool]:
    return exists().where(CaseTask.case_id == Case.id)


def _open_tasks(unit_id: int | None = None) -> ColumnElement[bool]:
    cond = [CaseTask.case_id == Case.id, CaseTask.status.in_(OPEN_TASK)]
    if unit_id is not None:
        cond.append(CaseTask.unit_id == unit_id)
    return exists().where(*cond)


def _urged() -> ColumnElement[bool]:
    return exists().where(CaseEvent.case_id == Case.id, CaseEvent.action == "urge")


def _mine(c: Context) -> ColumnElement[bool]:
    return Case.unit_id == (c.actor.unit_id if c.actor.unit_id is not None else -1)


QUEUES: dict[str, Queue] = {q.name: q for q in (
    Queue("to_register", "待立案", "To register", lambda c: [Case.status == Status.REPORTED],
          bulk=("register", "reject")),
    Queue("to_dispatch", "待派遣", "To dispatch", lambda c: [Case.status == Status.REGISTERED, ~_returned()],
          bulk=("dispatch",)),
    Queue("returned", "被退回", "Returned", lambda c: [Case.status == Status.REGISTERED, _returned()],
          bulk=("dispatch",)),
    Queue("to_close", "待结案", "To close", lambda c: [Case.status == Status.VERIFIED]),
    Queue("to_rate", "待评价/回访", "To rate / call back",
          lambda c: [Case.status == Status.CLOSED, Case.rating.is_(None)]),
    Queue("escalated", "升级到社区", "Escalated to me",
          lambda c: [Case.status.in_(_OPEN), Case.level == "community", Case.escalations > 0]),
    Queue("escalated_subdistrict", "升级到街道", "Escalated to the subdistrict",
          lambda c: [Case.status.in_(_OPEN), Case.level == "department",
                     or_(Case.status.in_((Status.REPORTED, Status.REGISTERED)), Case.escalations > 0)]),
    Queue("whistle", "吹哨", "Whistles", lambda c: [Case.status.in_(_IN_HAND), _open_tasks()], tasks=True),
    Queue("near", "即将超期", "Near the deadline", lambda c: [c.near]),
    Queue("overdue", "已超期", "Overdue", lambda c: [overdue_clause(c.now)]),
    Queue("urged", "已督办", "Urged", lambda c: [Case.status.in_(_OPEN), _urged()]),
    Queue("to_accept", "待接单", "To accept",
          lambda c: [Case.status == Status.DISPATCHED, _mine(c), ~_has_tasks()], own_scope=True),
    Queue("in_hand", "处置中", "In hand", lambda c: [Case.status == Status.ACCEPTED, _mine(c)], own_scope=True),
    Queue("tasks", "吹哨任务", "Whistle tasks",
          lambda c: [Case.status.in_(_IN_HAND), _open_tasks(c.actor.unit_id if c.actor.unit_id is not None else -1)],
          tasks=True, own_scope=True),
    Queue("rework", "返工", "Rework", lambda c: [Case.status.in_(_IN_HAND), _mine(c), Case.rework_count > 0],
          own_scope=True),
    # 研判 (patrol/cases/assessment.py): registered above the grid level and never assessed; the lists it marks
    Queue("to_assess", "待研判", "To assess",
          lambda c: [Case.status == Status.REGISTERED, Case.level != "grid",
                     ~exists().where(CaseAssessment.case_id == Case.id)]),
    Queue("key_cases", "重难点", "Hard cases", lambda c: [Case.status.in_(_OPEN), Case.key_case.is_(True)]),
    Queue("petitions", "信访", "Petitions", lambda c: [Case.status.in_(_OPEN), Case.petition.is_(True)]),
)}
#: the 研判议事 page's lists (/desk/meetings), also tabs of the queues
DELIBERATION = ("to_assess", "key_cases", "petitions")

_SUPERVISOR = ("to_register", "to_dispatch", "returned", "to_close", "to_rate", "escalated", "near", "overdue")
_SUBDISTRICT = ("escalated_subdistrict", "whistle", "overdue", "near", "urged")
ROLE_QUEUES: dict[str, tuple[str, ...]] = {
    "supervisor": _SUPERVISOR + DELIBERATION,
    "subdistrict": _SUBDISTRICT + DELIBERATION,
    "department": ("to_accept", "in_hand", "tasks", "rework"),
    "admin": _SUPERVISOR + ("escalated_subdistrict", "whistle", "urged") + DELIBERATION,
    # 网格长: the loop of the grids she leads (patrol.people.scope), read through the case scope, and their 研判
    "grid_lead": ("to_register", "to_dispatch", "returned", "to_close", "near", "overdue") + DELIBERATION,
}


def desk_roles() -> frozenset[str]:
    """The roles that have queues (a grid worker works on her phone, a planner has none)."""
    return frozenset(ROLE_QUEUES)


def queues_of(actor: Actor) -> list[Queue]:
    """The queues of ``actor``'s role, in tab order; 403 for a role without any."""
    names = ROLE_QUEUES.get(actor.role)
    if names is None:
        raise Forbidden(f"a {actor.role} has no desk queues", field="role")
    return [QUEUES[n] for n in names]


def bulk_actions(actor: Actor, queue: Queue) -> list[str]:
    """The actions offered on a selection of ``queue``'s cases: those of the queue the actor's role may take (the
    scope needs no check: every row of a queue lies in her scope)."""
    return [a for a in queue.bulk if actor.role in ACTIONS[a].roles]


# ---------------------------------------------------------------------------------------------- near the deadline


def hours_left(cal: WorkCalendar, now: dt.datetime, deadlines: Sequence[dt.datetime | None]) -> list[float | None]:
    """Working hours from ``now`` to each deadline (negative when past), for a page of rows: the deadlines are
    sorted and the calendar walked once over their span (working time adds up over consecutive intervals)."""
    points = sorted({d for d in deadlines if d is not None} | {now})
    cumulative = [0.0]
    for a, b in zip(points, points[1:], strict=False):
        cumulative.append(cumulative[-1] + cal.working_hours_between(a, b))
    at = {p: c for p, c in zip(points, cumulative, strict=True)}
    base = at[now]
    return [None if d is None else at[d] - base for d in deadlines]


# ---------------------------------------------------------------------------------------------- filters, counts


SORTS = {"reported_at": Case.reported_at, "deadline_at": Case.deadline_at, "category": Case.category_code,
         "grid": Grid.code}


@dataclass
class QueueFilter:
    """What the queue's table narrows to: grid code, category code, channels (comma-separated; 422 naming
    ``channel`` for an unknown one), community code (街道 and admin), and the local days the case was reported in
    ``[start, end]`` (both included)."""

    grid: str | None = None
    category: str | None = None
    channel: str | None = None
    community: str | None = None
    start: dt.date | None = None
    end: dt.date | None = None
    extra: list[ColumnElement[bool]] = field(default_factory=list)

    def clauses(self, session: Session, actor: Actor, settings: Settings) -> list[ColumnElement[bool]]:
        """The WHERE of the filter; 422 naming the field on an unknown grid, category or community."""
        out: list[ColumnElement[bool]] = []
        if self.grid:
            gid = session.scalar(select(Grid.id).where(Grid.code == self.grid))
            if gid is None:
                raise InvalidInput(f"no grid coded {self.grid!r}", field="grid")
            out.append(Case.grid_id == gid)
        if self.category:
            if session.get(Category, self.category) is None:
                raise InvalidInput(f"unknown category {self.category!r}; see GET /api/v1/categories",
                                   field="category")
            out.append(Case.category_code == self.category)
        if self.channel:  # one channel or several, comma-separated (the picker's 居民诉求: the residents' three)
            out.append(Case.channel.in_(check_channels(self.channel)))
        if self.community:
            out.append(Case.community_id.in_(_communities(session, actor, self.community)))
        zone = ZoneInfo(settings.timezone)
        if self.start and self.end and self.end < self.start:
            raise InvalidInput(f"end ({self.end}) must not be before start ({self.start})", field="end")
        if self.start:
            out.append(Case.reported_at >= dt.datetime.combine(self.start, dt.time(), tzinfo=zone))
        if self.end:
            out.append(Case.reported_at < dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time(),
                                                              tzinfo=zone))
        return out


def _communities(session: Session, actor: Actor, code: str) -> list[int]:
    if actor.role not in ("subdistrict", "admin"):
        raise InvalidInput("the community filter is for the subdistrict (街道) and the admin", field="community")
    stmt = select(Community.id).where(Community.code == code)
    if actor.role == "subdistrict":
        stmt = stmt.where(Community.id.in_(sorted(actor.community_ids) or [-1]))
    ids = list(session.scalars(stmt))
    if not ids:
        raise InvalidInput(f"no community coded {code!r} in your scope", field="community")
    return ids


def _context(session: Session, actor: Actor, settings: Settings, now: dt.datetime | None) -> Context:
    now = now or now_utc()
    return Context(actor, now, near_clause(near_thresholds(session, settings, now), now))


def _where(ctx: Context, queue: Queue) -> list[ColumnElement[bool]]:
    return [*([] if queue.own_scope else scope_filter(ctx.actor)), *queue.where(ctx)]


def counts(session: Session, actor: Actor, settings: Settings, *, now: dt.datetime | None = None,
           flt: QueueFilter | None = None) -> dict[str, int]:
    """How many cases each of ``actor``'s queues holds: a COUNT per queue, each answered from the queue's own
    index (migration 0008) — cheaper at 200,000 cases than one pass over every open case of the scope that tests
    every queue's rule (and its event subqueries) on each row (bench/bench_desk_queues.py)."""
    ctx = _context(session, actor, settings, now)
    extra = flt.clauses(session, actor, settings) if flt else []
    return {q.name: session.scalar(select(func.count()).select_from(Case).where(*_where(ctx, q), *extra)) or 0
            for q in queues_of(actor)}


def scope_signature(session: Session, actor: Actor) -> tuple[Any, ...]:
    """A cheap fingerprint of the cases in ``actor``'s scope (latest change, how many): the live stream recounts
    the queues only when it changes."""
    row = session.execute(select(func.max(Case.updated_at), func.count(Case.id)).where(*scope_filter(actor))).one()
    return (iso(aware(row[0])), row[1])


# ---------------------------------------------------------------------------------------------- rows


_ROW = (Case.id, Case.number, Case.category_code, Case.status, Case.level, Case.channel, Case.address,
        Case.reported_at, Case.deadline_at, Case.remaining_hours, Category.name_zh, Category.name_en,
        Category.deadline_hours, Grid.code.label("grid_code"), Grid.name.label("grid_name"),
        Community.name.label("community_name"), ResponsibleUnit.name.label("unit_name"),
        Building.name.label("building_name"), Building.address.label("building_address"),
        Building.label.label("building_label"), Case.contact_phone, Case.source, Case.source_ref)


def queue_page(session: Session, actor: Actor, settings: Settings, name: str, flt: QueueFilter, *,
               sort: str = "reported_at", order: str = "asc", limit: int = 50, offset: int = 0,
               now: dt.datetime | None = None) -> dict[str, Any]:
    """One page of queue ``name`` (404 when ``actor``'s role has no such queue): the rows as the desk shows them
    (no ids but the opaque ``id`` for actions), the total, the paging and the sort."""
    queue = next((q for q in queues_of(actor) if q.name == name), None)
    if queue is None:
        mine = ", ".join(ROLE_QUEUES[actor.role])
        if name in QUEUES:  # another role's queue: not hers to read (the permission matrix answers 403)
            raise Forbidden(f"the queue {name!r} is not a {actor.role}'s; your queues: {mine}", field="queue")
        raise NotFound(f"no queue {name!r}; your queues: {mine}", field="queue")
    if sort not in SORTS:
        raise InvalidInput(f"sort must be one of {', '.join(SORTS)}, got {sort!r}", field="sort")
    if order not in ("asc", "desc"):
        raise InvalidInput(f"order must be asc or desc, got {order!r}", field="order")
    ctx = _context(session, actor, settings, now)
    where = [*_where(ctx, queue), *flt.clauses(session, actor, settings)]
    total = session.scalar(select(func.count(Case.id)).where(*where)) or 0
    rows = session.execute(_page_rows(where, sort, order, limit, offset)).all()
    return {"queue": queue.name, "label_zh": queue.label_zh, "label_en": queue.label_en, "total": total,
            "limit": limit, "offset": offset, "sort": sort, "order": order,
            "bulk": bulk_actions(actor, queue),
            "rows": _rows(session, settings, rows, ctx.now, tasks=queue.tasks)}


def _page_rows(where: list[ColumnElement[bool]], sort: str, order: str, limit: int, offset: int) -> Any:
    """The page's rows, in two steps: the ids of the page from the cases alone (the queue's index, a narrow sort),
    then the joins for those rows only — a planner that misjudges how many cases match would otherwise join every
    match to its grid, community, unit and building before it sorts and cuts the page. The sort key is wrapped
    (COALESCE) so that no planner walks the whole reported_at / deadline_at index in order testing each case against
    the queue (SQLite: seconds for a queue of a few hundred cases; PostgreSQL: 已督办 by report time); the matches,
    found through the queue's own index, are sorted instead (a narrow sort of at most a few ten thousand rows)."""
    def ordered(key: Any, ident: Any) -> list[Any]:
        return [key.asc().nulls_last() if order == "asc" else key.desc().nulls_last(),
                ident.asc() if order == "asc" else ident.desc()]

    key = func.coalesce(SORTS[sort], SORTS[sort])
    inner = select(Case.id, SORTS[sort].label("key")).select_from(Case)
    if sort == "grid":
        inner = inner.outerjoin(Grid, Grid.id == Case.grid_id)
    page = inner.where(*where).order_by(*ordered(key, Case.id)).limit(limit).offset(offset).subquery()
    return (select(*_ROW).select_from(page)
            .join(Case, Case.id == page.c.id)
            .join(Category, Category.code == Case.category_code)
            .outerjoin(Grid, Grid.id == Case.grid_id)
            .outerjoin(Community, Community.id == Case.community_id)
            .outerjoin(ResponsibleUnit, ResponsibleUnit.id == Case.unit_id)
            .outerjoin(Building, Building.id == Case.building_id)
            .order_by(*ordered(page.c.key, page.c.id)))


def _rows(session: Session, settings: Settings, rows: Sequence[Any], now: dt.datetime, *,
          tasks: bool) -> list[dict[str, Any]]:
    ids = [r.id for r in rows]
    urges = dict(session.execute(select(CaseEvent.case_id, func.count(CaseEvent.id))
                                 .where(CaseEvent.case_id.in_(ids or [-1]), CaseEvent.action == "urge")
                                 .group_by(CaseEvent.case_id)).all())
    whistles = _tasks(session, ids, now) if tasks else {}
    running = [aware(r.deadline_at) if r.status in RUNNING else None for r in rows]
    left = hours_left(calendar(settings), now, running)
    fraction = settings.near_deadline_fraction
    out = []
    for r, hours in zip(rows, left, strict=True):
        if hours is None and r.status == Status.SUSPENDED:
            hours = r.remaining_hours  # the clock is stopped: what was left when it stopped
        out.append({
            "id": r.id, "number": r.number, "category": r.category_code,
            "category_zh": r.name_zh, "category_en": r.name_en,
            "address": r.address or r.building_label or r.building_name or r.building_address or r.grid_name,
            "grid": r.grid_name, "grid_code": r.grid_code, "community": r.community_name,
            "status": r.status, "level": r.level, "channel": r.channel,
            "reported_at": iso(aware(r.reported_at)), "deadline_at": iso(aware(r.deadline_at)),
            "hours_left": None if hours is None else round(hours, 2),
            "urgency": "stopped" if r.status == Status.SUSPENDED else deadline_colour(
                hours if r.status in RUNNING else None, r.deadline_hours, fraction,
                overdue=r.deadline_at is not None and aware(r.deadline_at) < now),
            "unit": r.unit_name, "urges": urges.get(r.id, 0),
            # h5: the reporter's phone only masked in lists (patrol.cases.contact); a 12345 order's number
            "phone": masked(r.contact_phone), "order_no": r.source_ref if r.source == "12345" else None,
            **({"tasks": whistles.get(r.id, [])} if tasks else {}),
        })
    return out


def _tasks(session: Session, ids: list[int], now: dt.datetime) -> dict[int, list[dict[str, Any]]]:
    """The whistle tasks of the cases ``ids``: each department, its state, whether it reported in, whether late."""
    out: dict[int, list[dict[str, Any]]] = {}
    stmt = (select(CaseTask.case_id, CaseTask.status, CaseTask.report_in_by, CaseTask.reported_in_at,
                   CaseTask.deadline_at, ResponsibleUnit.name)
            .join(ResponsibleUnit, ResponsibleUnit.id == CaseTask.unit_id)
            .where(CaseTask.case_id.in_(ids or [-1])).order_by(CaseTask.case_id, ResponsibleUnit.name))
    for case_id, status, by, reported_in, deadline, unit in session.execute(stmt):
        by, reported_in, deadline = aware(by), aware(reported_in), aware(deadline)
        standing = status in OPEN_TASK
        late = standing and ((reported_in is None and by is not None and by < now)
                             or (deadline is not None and deadline < now))
        out.setdefault(case_id, []).append({"unit": unit, "status": status, "reported_in": reported_in is not None,
                                            "reported_in_at": iso(reported_in), "report_in_by": iso(by),
                                            "late": bool(late)})
    return out



# ---------------------------------------------------------------------------------------------- bulk actions


BULK = ("register", "reject", "dispatch")


def bulk(session: Session, actor: Actor, settings: Settings, action: str, case_ids: Sequence[int], *,
         note: str | None = None, unit_id: int | None = None) -> list[dict[str, Any]]:
    """Apply ``action`` to each case through :func:`patrol.cases.service.transition`, each in its own SAVEPOINT, so a
    refused case leaves the others applied: one result per case, in order (its number when the actor may read it,
    ok, and the refusal's code, field and message)."""
    if action not in BULK:
        raise InvalidInput(f"action must be one of {', '.join(BULK)}, got {action!r}", field="action")
    if len(set(case_ids)) != len(case_ids):
        raise InvalidInput("a case is listed twice", field="cases")
    if action == "reject" and not (note and note.strip()):
        raise InvalidInput("reject needs a note giving the reason", field="note")
    if unit_id is not None and (action != "dispatch" or session.get(ResponsibleUnit, unit_id) is None):
        raise InvalidInput(f"no responsible unit {unit_id} to dispatch to", field="unit_id")
    queues_of(actor)  # 403 for a role without a desk (a grid worker acts on her phone)
    if actor.role not in ACTIONS[action].roles:
        raise Forbidden(f"a {actor.role} cannot {action} a case", field="action")
    found = {c.id: c for c in session.scalars(select(Case).where(Case.id.in_(list(case_ids))))}
    results: list[dict[str, Any]] = []
    for cid in case_ids:
        c = found.get(cid)
        number = c.number if c is not None and can_read(actor, c, session) else None
        try:
            with session.begin_nested():
                done = transition(session, actor, settings, cid, action, note=note, unit_id=unit_id)
            results.append({"number": number, "ok": True, "status": done.status})
        except GridPatrolError as exc:  # refused (409, 403, 422, 404): reported, the others still applied
            results.append({"number": number, "ok": False, "code": exc.code, "field": exc.field,
                            "message": exc.message})
    return results



def filter_options(session: Session, actor: Actor) -> dict[str, list[dict[str, str]]]:
    """What the queue filters offer ``actor``: the grids and (街道, admin) communities of her scope by code and name,
    and the active categories."""
    grids = select(Grid.code, Grid.name).order_by(Grid.code)
    if actor.role == "supervisor":
        grids = grids.where(Grid.community_id == actor.community_id)
    elif actor.role == "subdistrict":
        grids = grids.where(Grid.community_id.in_(sorted(actor.community_ids) or [-1]))
    elif actor.role == "grid_lead":
        grids = grids.where(Grid.id.in_(sorted(actor.grid_ids) or [-1]))
    elif actor.role != "admin":
        grids = grids.where(Grid.id == -1)
    communities = select(Community.code, Community.name).order_by(Community.code)
    if actor.role == "subdistrict":
        communities = communities.where(Community.id.in_(sorted(actor.community_ids) or [-1]))
    elif actor.role != "admin":
        communities = communities.where(Community.id == -1)
    cats = select(Category.code, Category.name_zh, Category.name_en).where(Category.active).order_by(Category.code)
    return {"grids": [{"code": c, "name": n} for c, n in session.execute(grids)],
            "communities": [{"code": c, "name": n} for c, n in session.execute(communities).unique()],
            "categories": [{"code": c, "name_zh": z, "name_en": e} for c, z, e in session.execute(cats)]}
