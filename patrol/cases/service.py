"""The case loop: create cases (idempotent by client id), move them through :mod:`patrol.cases.lifecycle`, escalate,
whistle departments in, schedule revisits, and read them back with their timeline.

Every function takes the session of the caller's transaction and an :class:`~patrol.core.auth.Actor`; nothing commits
here, so a request either writes all of its rows or none.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import shapely
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from patrol.cases import assessment, need_follow
from patrol.cases.authority import authorize, can_read, get_case, scope_filter
from patrol.cases.levels import PERSUADE_FAIL, handled_note, level_above
from patrol.cases.lifecycle import ACTIONS, ESCALATABLE, IN_HAND, SELF_HANDLED, Status, actions_from
from patrol.cases.numbers import case_number
from patrol.cases.places import locate, nearby, nearest_grid, to_point
from patrol.cases.reads import CaseFilter, case_clusters, case_dict, case_query, tasks_of, timeline
from patrol.cases.reference import ensure_categories
from patrol.cases.routing import responsible
from patrol.cases.times import Occurrence, undo_later_escalation
from patrol.cases.worktime import WorkCalendar, calendar
from patrol.core.auth import SYSTEM, Actor
from patrol.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from patrol.core.frames import ewkt
from patrol.core.models import (
    Building,
    Case,
    CaseEvent,
    CaseTask,
    Category,
    Grid,
    ResponsibleUnit,
    Revisit,
    User,
)
from patrol.core.settings import Settings
from patrol.core.time import now_utc
from patrol.notify import notices
from patrol.people.scope import FIELD_ROLES, in_micro_grid

# The case service is also the API's one import for the case loop: what it re-exports from the modules it is made of.
__all__ = ["CaseFilter", "Created", "calendar", "can_read", "case_clusters", "case_dict", "case_query",
           "create_case", "create_self_handled", "escalate_if_overdue", "escalate_overdue", "get_case",
           "handle_event_id", "locate", "nearest_grid", "now_utc", "parse_client_id", "record_revisit",
           "scope_filter", "task_action", "tasks_of", "timeline", "to_point", "transition"]


# ---------------------------------------------------------------------------------------------- identity


def parse_client_id(value: str | None, *, field: str = "client_id") -> str:
    if value is None:
        return str(uuid.uuid4())
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise InvalidInput(f"{field} must be a UUID such as {uuid.uuid4()}, got {value!r}", field=field) from None


# ---------------------------------------------------------------------------------------------- creating


@dataclass
class Created:
    case: Case
    created: bool
    possible_duplicates: list[int]
    wkb: bytes | None = None  # the stored point, when known without a query


def create_case(session: Session, actor: Actor, settings: Settings, *, client_id: str | None, category: str,
                lon: float, lat: float, crs: str = "wgs84", description: str | None = None,
                address: str | None = None, building_id: int | None = None, floor: str | None = None,
                unit_no: str | None = None, channel: str | None = None, contact: dict | None = None,
                now: dt.datetime | None = None, deadline_at: dt.datetime | None = None,
                occurred: Occurrence | None = None) -> Created:
    """Register a report as a case at ``reported``. A second call with the same ``client_id`` returns the first
    case (``created`` False) and changes nothing.

    ``deadline_at`` replaces the category's deadline in working hours when the deadline was set by someone with the
    authority to set it: an inspection ordering a rectification by a date (限期整改, ``channel="inspection"``).
    ``occurred``: when it happened on the phone (:mod:`patrol.cases.times`): the case is reported then and its
    deadline counts from then; its receipt is kept next to it."""
    cid = parse_client_id(client_id)
    existing = session.scalars(select(Case).where(Case.client_id == cid)).first()
    if existing is not None:
        if actor.api_key_id is None and not can_read(actor, existing, session):
            raise Conflict("this client_id belongs to another case", field="client_id")
        return Created(existing, False, [])
    if actor.role in ("planner", "department"):
        raise Forbidden(f"a {actor.role} cannot report cases", field="role")
    cat = session.get(Category, category)
    if cat is None and ensure_categories(session):  # a fresh database: the shipped categories first
        cat = session.get(Category, category)
    if cat is None or not cat.active:
        raise InvalidInput(f"unknown category {category!r}; see GET /api/v1/categories", field="category")
    x, y = to_point(lon, lat, crs)
    place = locate(session, x, y)
    if place.grid_id is None and place.community_id is None:
        near = nearest_grid(session, x, y)
        where = f"; the nearest grid is {near[0]}, {near[1]:.0f} m away" if near else ""
        raise InvalidInput(f"the point ({x:.6f}, {y:.6f}) lies outside every grid and community{where}",
                           field="lat")
    if actor.role in ("grid_worker", "grid_lead") and place.grid_id not in actor.grid_ids:
        raise Forbidden("the point lies outside your grids", field="lat")
    if actor.role == "building_lead" and not in_micro_grid(session, actor, x, y, building_id):
        raise Forbidden("a building lead reports only in her micro-grid (微网格): at one of its buildings or a point "
                        "within it", field="building_id" if building_id is not None else "lat")
    if actor.role == "supervisor" and place.community_id != actor.community_id:
        raise Forbidden("the point lies outside your community", field="lat")
    if actor.role == "subdistrict" and place.community_id not in actor.community_ids:
        raise Forbidden("the point lies outside your subdistrict's communities", field="lat")
    if building_id is not None and session.get(Building, building_id) is None:
        raise InvalidInput(f"no building {building_id}", field="building_id")
    now = occurred.at if occurred is not None else now or now_utc()
    times = occurred.columns() if occurred is not None else {"received_at": now}
    cal = calendar(settings)
    level = cat.level if place.grid_id is not None or cat.level != "grid" else "community"
    since = now - dt.timedelta(days=settings.recurrence_days)
    duplicates, recurrent = nearby(session, [(category, x, y)], settings.duplicate_radius_m, since)[0]
    contact = contact or {}
    case = Case(
        client_id=cid, category_code=category, status=Status.REPORTED, level=level,
        channel=channel or ("open311" if actor.api_key_id else "patrol" if actor.role in FIELD_ROLES else "staff"),
        description=description, address=address, geom=ewkt([shapely.Point(x, y)])[0], input_crs=crs,
        community_id=place.community_id, grid_id=place.grid_id, building_id=building_id or place.building_id,
        floor=floor, unit_no=unit_no, reporter_id=actor.user_id, api_key_id=actor.api_key_id,
        contact_name=contact.get("name"), contact_email=contact.get("email"), contact_phone=contact.get("phone"),
        reported_at=now, deadline_at=deadline_at or cal.add_working_hours(now, cat.deadline_hours),
        updated_at=times["received_at"],
        recurrence_of_id=max(recurrent, default=None), **times,
    )
    session.add(case)
    session.flush()
    case.number = case_number(now, case.id, settings.timezone)
    _event(session, case, actor, "report", None, Status.REPORTED, now=now, note=description, point=(x, y),
           times=times)
    return Created(case, True, duplicates, shapely.to_wkb(shapely.Point(x, y)))


SELF_HANDLED_NOTE = "自行处置"


def create_self_handled(session: Session, actor: Actor, settings: Settings, *, client_id: str | None,
                        category: str, lon: float, lat: float, note: str | None = None,
                        report_event_client_id: str | None = None, now: dt.datetime | None = None,
                        occurred: Occurrence | None = None, **report: Any) -> Created:
    """自行处置 (小事网格办): a grid worker reports a small matter she has already handled on the spot. Only a grid
    worker, in her own grid, for a category the rules give to the grid (``Category.level == "grid"``; else 422 on
    ``category``). Written through the loop in the caller's transaction, each step an event by her at ``now``:
    report → register → dispatch to herself → accept → handle (note 自行处置); the case ends ``handled`` at grid
    level and waits, like any other, for the community's verify and close (it does not close itself: a second pair
    of eyes is what makes 小事不出网格 credible). ``report_event_client_id`` is given to the report's event, so that
    photos of the problem queued apart attach to it (the after-photo goes to the handle event). A retry with the
    same ``client_id`` returns the case as it is now (``created`` False). ``occurred``: when she did it on the phone
    (every step is written at that time, its receipt kept next to it; see :mod:`patrol.cases.times`)."""
    cid = parse_client_id(client_id)
    if session.scalars(select(Case.id).where(Case.client_id == cid)).first() is not None:
        return create_case(session, actor, settings, client_id=cid, category=category, lon=lon, lat=lat, **report)
    if actor.role != "grid_worker":
        raise Forbidden("only a grid worker handles a matter on the spot (自行处置)", field="role")
    cat = session.get(Category, category)
    if cat is not None and cat.active and cat.level != "grid":
        raise InvalidInput(f"category {category} ({cat.name_zh}) is handled at {cat.level} level, not in the grid: "
                           "report it to be dispatched instead of handling it on the spot (自行处置)", field="category")
    now = now or now_utc()
    created = create_case(session, actor, settings, client_id=cid, category=category, lon=lon, lat=lat,
                          channel=SELF_HANDLED, now=now, occurred=occurred, **report)
    case = created.case
    if report_event_client_id is not None:
        ev = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)).one()
        ev.client_id = parse_client_id(report_event_client_id, field="report_event_client_id")
    for action in ("register", "dispatch", "accept", "handle"):
        said = f"{SELF_HANDLED_NOTE}：{note}" if note and action == "handle" else SELF_HANDLED_NOTE
        transition(session, actor, settings, case.id, action, now=now, note=said, occurred=occurred,
                   assignee_id=actor.user_id if action == "dispatch" else None)
    return created


def handle_event_id(session: Session, case_id: int) -> int | None:
    """The id of the case's latest ``handle`` step (where an after-photo belongs), None when it has none."""
    return session.scalar(select(CaseEvent.id).where(CaseEvent.case_id == case_id, CaseEvent.action == "handle")
                          .order_by(CaseEvent.at.desc(), CaseEvent.id.desc()).limit(1))


# ---------------------------------------------------------------------------------------------- transitions


def _event(session: Session, case: Case, actor: Actor, action: str, from_status: str | None, to_status: str, *,
           now: dt.datetime, note: str | None = None, unit_id: int | None = None,
           point: tuple[float, float] | None = None, client_id: str | None = None,
           times: dict | None = None) -> CaseEvent:
    ev = CaseEvent(case_id=case.id, action=action, from_status=from_status, to_status=to_status, level=case.level,
                   actor_id=actor.user_id, actor=actor.label, at=now, note=note, unit_id=unit_id, client_id=client_id,
                   geom=ewkt([shapely.Point(*point)])[0] if point else None, **(times or {"received_at": now}))
    session.add(ev)
    session.flush()
    return ev


#: The actions that need a note giving the reason (the case page's forms ask for it from this one list).
NOTE_REQUIRED = ("reject", "return", "rework", "suspend", "urge")

# a deadline set by hand is at most this many working hours away (≈ a year of working days): a larger one would
# never expire, and computing it walks the calendar day by day under the write lock
MAX_DEADLINE_HOURS = 2000.0


def check_hours(value: float | None, field: str) -> None:
    """422 on ``field`` unless ``value`` (working hours) is None or within (0, MAX_DEADLINE_HOURS]."""
    if value is not None and not 0 < value <= MAX_DEADLINE_HOURS:
        raise InvalidInput(f"{field} must be more than 0 and at most {MAX_DEADLINE_HOURS:g} working hours, "
                           f"got {value!r}", field=field)


@dataclass
class _Step:
    """One transition being applied: what the caller gave, and what the effect of the action decides."""

    action: str
    target: str | None
    note: str | None
    unit_id: int | None = None
    assignee_id: int | None = None
    units: list[int] | None = None
    hours: float | None = None
    report_in_hours: float = 1.0
    duplicate_of: int | None = None
    rating: int | None = None
    event_unit: int | None = None  # the unit named in the event, when not the case's (dispatch, return)
    prepared: assessment.Prepared | None = None  # assess: the 研判 checked (patrol.cases.assessment)


def _replayed(session: Session, actor: Actor, case_id: int, client_id: str | None) -> Case | None:
    """The case unchanged when an event with ``client_id`` was already written for it (a retried request)."""
    if client_id is None:
        return None
    done = session.scalars(select(CaseEvent).where(CaseEvent.client_id == client_id)).first()
    if done is None:
        return None
    if done.case_id != case_id:
        raise Conflict("this client_id belongs to an event of another case", field="client_id")
    return get_case(session, actor, case_id)


def transition(session: Session, actor: Actor, settings: Settings, case_id: int, action: str, *,
               note: str | None = None, unit_id: int | None = None, assignee_id: int | None = None,
               units: list[int] | None = None, hours: float | None = None, report_in_hours: float = 1.0,
               duplicate_of: int | None = None, rating: int | None = None,
               point: tuple[float, float] | None = None, client_id: str | None = None,
               now: dt.datetime | None = None, occurred: Occurrence | None = None,
               assess: Mapping[str, Any] | None = None) -> Case:
    """Apply ``action`` to a case; raises Conflict (409) listing the allowed actions when it does not apply.
    ``assess``: the 研判's kind, demand_list, level and marks (its reason is ``note``; patrol.cases.assessment).
    A retried call with the same event ``client_id`` returns the case unchanged. ``hours``: the deadline in working
    hours (default the category's); ``point``: where it was done (WGS-84 lon, lat); ``occurred``: when it was done
    on the phone (:mod:`patrol.cases.times`): the step is recorded, and counted against the deadline, then."""
    if action not in ACTIONS:
        raise InvalidInput(f"unknown action {action!r}; actions: {', '.join(ACTIONS)}", field="action")
    check_hours(hours, "hours")
    check_hours(report_in_hours, "report_in_hours")
    client_id = parse_client_id(client_id) if client_id is not None else None
    replayed = _replayed(session, actor, case_id, client_id)
    if replayed is not None:
        return replayed
    case = get_case(session, actor, case_id, for_update=True)
    now = occurred.at if occurred is not None else now or now_utc()
    times = occurred.columns() if occurred is not None else {"received_at": now}
    escalate_if_overdue(session, case, settings, now=now)  # overdue when it was done, not when it arrived
    spec = ACTIONS[action]
    undone = undo_later_escalation(session, case, actor, action, spec.sources, now) \
        if occurred is not None and occurred.offline else None
    if undone:
        note = f"{note}\n{undone}" if note else undone
    if case.status not in spec.sources:
        raise Conflict(f"cannot {action} a case that is {case.status}; allowed: "
                       f"{', '.join(actions_from(case.status)) or 'none (the case is finished)'}",
                       field="action", details=actions_from(case.status))
    authorize(actor, case, action)
    if action in NOTE_REQUIRED and not note:
        raise InvalidInput(f"{action} needs a note giving the reason", field="note")
    step = _Step(action, spec.target, note, unit_id, assignee_id, units, hours, report_in_hours, duplicate_of,
                 rating)
    if action == "assess":
        step.prepared = assessment.prepare(settings, case, note, assess)
    cat = session.get(Category, case.category_code)
    cal = calendar(settings)
    before = case.status
    _apply(session, actor, case, step, cat, cal, now, settings)
    if action == "rate" and step.rating <= 2:  # 不满意: the rating is recorded, then the case reopened (再接单)
        _event(session, case, actor, "rate", before, Status.CLOSED, now=now, note=note, client_id=client_id,
               times=times)
        return _reopen(session, actor, case, cat, cal, now, f"resident not satisfied ({step.rating}/5) 再接单",
                       times=times)
    case.status = step.target
    case.updated_at = times["received_at"]
    ev = _event(session, case, actor, action, before, step.target, now=now, note=step.note,
                unit_id=step.event_unit or case.unit_id, point=point, client_id=client_id, times=times)
    if step.prepared is not None:
        assessment.record(session, actor, case, ev, step.prepared)
    if action == "close":  # a need of the register that became this case is resolved with it (issue 22)
        need_follow.case_closed(session, case, now)
    notices.case_event(session, case, ev, settings)
    return case


def _apply(session: Session, actor: Actor, case: Case, step: _Step, cat: Category, cal: WorkCalendar,
           now: dt.datetime, settings: Settings) -> None:
    """The effect of ``step.action`` on the case's fields and its tasks and revisits (its status is set by the
    caller, to ``step.target``); raises InvalidInput / Conflict when the request does not fit."""
    action = step.action
    if action in ("dispatch", "whistle"):  # a 研判 that asked for 议事 first: not before the meeting decided
        assessment.meeting_gate(session, case)
    if action in ("accept", "handle", "return") and session.scalars(
            select(CaseTask.id).where(CaseTask.case_id == case.id)).first() is not None:
        raise Conflict("this case was whistled to several departments: act on its tasks", field="action")
    if action == "dispatch":
        step.event_unit, why = _dispatch(session, actor, case, step.unit_id, step.assignee_id)
        step.note = f"{step.note}\n{why}" if step.note and why else step.note or why
        case.deadline_at = cal.add_working_hours(now, step.hours or cat.deadline_hours)
    elif action == "whistle":
        _whistle(session, case, step.units, step.hours or cat.deadline_hours, step.report_in_hours, cal, now)
    elif action == "return":
        step.event_unit, case.unit_id, case.assignee_id = case.unit_id, None, None
    elif action == "handle":
        case.handled_at = now
        step.note = handled_note(cat, case.level, step.note)  # a persuade-first matter: 劝导成功
    elif action == "rework":
        case.rework_count += 1
        case.handled_at = None
        session.execute(CaseTask.__table__.update().where(CaseTask.case_id == case.id)
                        .values(status="dispatched", handled_at=None))
    elif action == "close":
        case.closed_at = now
        handled = case.handled_at or now
        case.closed_on_time = case.deadline_at is None or handled <= case.deadline_at
        _schedule_revisit(session, case, cat, cal, now)
    elif action == "supplement":  # 补充: a note and photos as a step of its own; nothing else changes
        step.target = case.status
    elif action == "assess" and step.prepared is not None:  # 研判: the status stays, the level may move
        step.target = case.status
        step.note = assessment.apply(settings, case, step.prepared, cat, cal, now)
    elif action in ("rate", "suspend", "resume", "urge"):
        _apply_clock(case, step, cat, cal, now)
    elif action in ("escalate", PERSUADE_FAIL):  # persuade_fail: from the grid straight to 城管's level
        _raise_level(case, cat, cal, now)
    elif action == "merge":
        other = session.get(Case, step.duplicate_of) if step.duplicate_of is not None else None
        if other is None or other.id == case.id:
            raise InvalidInput("merge needs duplicate_of: the id of another case", field="duplicate_of")
        case.duplicate_of_id = other.id
        session.execute(Revisit.__table__.delete().where(Revisit.case_id == case.id, Revisit.done_at.is_(None)))


def _apply_clock(case: Case, step: _Step, cat: Category, cal: WorkCalendar, now: dt.datetime) -> None:
    """The actions that touch the rating or the deadline clock only: rate, suspend, resume, urge."""
    action = step.action
    if action == "rate":
        if not isinstance(step.rating, int) or not 1 <= step.rating <= 5:
            raise InvalidInput(f"rating must be a whole number from 1 to 5, got {step.rating!r}", field="rating")
        case.rating = step.rating
        step.target = Status.CLOSED
    elif action == "suspend":
        left = cal.working_hours_between(now, case.deadline_at) if case.deadline_at else cat.deadline_hours
        case.remaining_hours, case.suspended_from, case.deadline_at = max(left, 0.0), case.status, None
    elif action == "resume":
        step.target = case.suspended_from or Status.DISPATCHED
        case.deadline_at = cal.add_working_hours(now, case.remaining_hours or 0.0)
        case.remaining_hours, case.suspended_from = None, None
    elif action == "urge":  # 督办: a note to whoever holds the case, and a new deadline when one is set
        step.target = case.status
        if step.hours is not None:
            case.deadline_at = cal.add_working_hours(now, step.hours)


def _dispatch(session: Session, actor: Actor, case: Case, unit_id: int | None,
              assignee_id: int | None) -> tuple[int | None, str | None]:
    """Dispatch to the unit or worker given, or else to the one responsible (patrol.cases.routing), saying why."""
    if unit_id is not None:
        if session.get(ResponsibleUnit, unit_id) is None:
            raise InvalidInput(f"no responsible unit {unit_id}", field="unit_id")
        case.unit_id, case.assignee_id = unit_id, None
        return unit_id, None
    if assignee_id is None and case.level != "grid":
        p = shapely.from_wkb(bytes(session.scalar(select(func.ST_AsBinary(Case.geom)).where(Case.id == case.id))))
        returned = tuple(session.scalars(select(CaseEvent.unit_id).where(
            CaseEvent.case_id == case.id, CaseEvent.action == "return", CaseEvent.unit_id.is_not(None))))
        decision = responsible(session, lon=p.x, lat=p.y, category=case.category_code, level=case.level,
                               grid_id=case.grid_id, exclude_units=returned, allow_straight_line=True,
                               with_route=False)
        if decision.chosen is not None:
            case.unit_id, case.assignee_id = decision.chosen.unit_id, None
            return decision.chosen.unit_id, "自动派遣 " + decision.why()
        assignee_id = decision.worker["user_id"]
    if assignee_id is None and case.level == "grid" and case.grid_id is not None:
        assignee_id = session.scalar(select(Grid.worker_id).where(Grid.id == case.grid_id))
        if assignee_id is None:
            raise InvalidInput("the case's grid has no worker; give unit_id or assignee_id", field="assignee_id")
    if assignee_id is None:
        raise InvalidInput("dispatch needs unit_id (a responsible unit) or assignee_id (a grid worker)",
                           field="unit_id")
    user = session.get(User, assignee_id)
    if user is None or user.role != "grid_worker":
        raise InvalidInput(f"assignee {assignee_id} is not a grid worker", field="assignee_id")
    case.assignee_id, case.unit_id = assignee_id, None
    return None, None


def _whistle(session: Session, case: Case, units: list[int] | None, hours: float, report_in_hours: float,
             cal: WorkCalendar, now: dt.datetime) -> None:
    if not units:
        raise InvalidInput("whistle needs units: the ids of the departments called in", field="units")
    if len(set(units)) != len(units):
        raise InvalidInput("whistle lists a unit twice", field="units")
    missing = [u for u in units if session.get(ResponsibleUnit, u) is None]
    if missing:
        raise InvalidInput(f"no responsible units {missing}", field="units")
    session.execute(CaseTask.__table__.delete().where(CaseTask.case_id == case.id))
    deadline = cal.add_working_hours(now, hours)
    for u in units:
        session.add(CaseTask(case_id=case.id, unit_id=u, status="dispatched", deadline_at=deadline,
                             report_in_by=cal.add_working_hours(now, report_in_hours)))
    case.level, case.unit_id, case.assignee_id, case.deadline_at = "department", None, None, deadline
    session.flush()


TASK_ACTIONS = {"report_in": ("dispatched", "accepted"), "handle": ("accepted", "handled"),
                "return": ("dispatched", "not_responsible")}


def task_action(session: Session, actor: Actor, settings: Settings, case_id: int, task_id: int, action: str, *,
                note: str | None = None, now: dt.datetime | None = None) -> Case:
    """A whistled department reports in (报到), handles its part, or returns it; the case is handled when every
    task still standing is handled."""
    if action not in TASK_ACTIONS:
        raise InvalidInput(f"unknown task action {action!r}; actions: {', '.join(TASK_ACTIONS)}", field="action")
    case = get_case(session, actor, case_id, for_update=True)
    task = session.get(CaseTask, task_id)
    if task is None or task.case_id != case.id:
        raise NotFound(f"case {case_id} has no task {task_id}", field="task_id")
    if actor.role == "department" and task.unit_id != actor.unit_id:
        raise Forbidden("this task belongs to another unit", field="task_id")
    if actor.role not in ("department", "supervisor", "subdistrict", "admin"):
        raise Forbidden(f"a {actor.role} cannot act on a department's task", field="action")
    source, target = TASK_ACTIONS[action]
    if task.status != source or case.status not in IN_HAND:
        allowed = [a for a, (s, _) in TASK_ACTIONS.items() if s == task.status]
        raise Conflict(f"cannot {action} a task that is {task.status} (case {case.status}); allowed: "
                       f"{', '.join(allowed) or 'none'}", field="action", details=allowed)
    if action == "return" and not note:
        raise InvalidInput("return needs a note giving the reason", field="note")
    now = now or now_utc()
    task.status, task.note = target, note or task.note
    if action == "report_in":
        task.reported_in_at = now
    if action == "handle":
        task.handled_at = now
    session.flush()
    unit = session.get(ResponsibleUnit, task.unit_id)
    _event(session, case, actor, f"task_{action}", case.status, case.status, now=now,
           note=f"{unit.name}: {note or action}", unit_id=task.unit_id)
    statuses = list(session.scalars(select(CaseTask.status).where(CaseTask.case_id == case.id)))
    standing = [s for s in statuses if s != "not_responsible"]
    before = case.status
    if not standing:
        case.status, case.level = Status.REGISTERED, "community"
        _event(session, case, actor, "return", before, Status.REGISTERED, now=now, note="every department returned it")
    elif all(s == "handled" for s in standing):
        case.status, case.handled_at = Status.HANDLED, now
        _event(session, case, actor, "handle", before, Status.HANDLED, now=now, note="every department has handled it")
    elif any(s in ("accepted", "handled") for s in standing) and case.status == Status.DISPATCHED:
        case.status = Status.ACCEPTED
    case.updated_at = now
    notices.case_events(session, case, settings, at=now)
    return case


def _raise_level(case: Case, cat: Category, cal: WorkCalendar, now: dt.datetime) -> None:
    up = level_above(cat, case.level)
    if up is None:
        top = "department" if case.level == "department" else f"its category's top ({case.level})"
        raise Conflict(f"the case is already at the {top} level and cannot be escalated further", field="action")
    case.level, case.unit_id, case.assignee_id = up, None, None
    case.escalations += 1
    case.deadline_at = cal.add_working_hours(now, cat.deadline_hours)


def _reopen(session: Session, actor: Actor, case: Case, cat: Category, cal: WorkCalendar, now: dt.datetime,
            note: str, client_id: str | None = None, times: dict | None = None) -> Case:
    before = case.status
    case.status = Status.DISPATCHED if (case.unit_id or case.assignee_id) else Status.REGISTERED
    case.rework_count += 1
    case.reopened_count += 1
    case.closed_at, case.closed_on_time, case.handled_at = None, None, None
    case.deadline_at = cal.add_working_hours(now, cat.deadline_hours)
    case.updated_at = now
    session.execute(Revisit.__table__.update().where(Revisit.case_id == case.id, Revisit.done_at.is_(None))
                    .values(done_at=now, outcome="cancelled"))
    session.execute(CaseTask.__table__.update().where(CaseTask.case_id == case.id, CaseTask.status == "handled")
                    .values(status="dispatched", handled_at=None))
    _event(session, case, actor, "reopen", before, case.status, now=now, note=note, unit_id=case.unit_id,
           client_id=client_id, times=times)
    need_follow.case_reopened(session, case)
    return case


def _schedule_revisit(session: Session, case: Case, cat: Category, cal: WorkCalendar, now: dt.datetime) -> None:
    worker = session.scalar(select(Grid.worker_id).where(Grid.id == case.grid_id)) if case.grid_id else None
    local = now.astimezone(ZoneInfo(cal.timezone))
    session.add(Revisit(case_id=case.id, grid_id=case.grid_id, worker_id=worker,
                        due_on=local.date() + dt.timedelta(days=cat.revisit_days)))


# ---------------------------------------------------------------------------------------------- escalation


def escalate_if_overdue(session: Session, case: Case, settings: Settings, *, now: dt.datetime | None = None) -> bool:
    """Raise a case one level when its deadline at the current level passed before it was handled."""
    now = now or now_utc()
    deadline = case.deadline_at
    if case.status not in ESCALATABLE or deadline is None or deadline > now:
        return False
    cat = session.get(Category, case.category_code)
    if level_above(cat, case.level) is None:  # the department level, or the category's top (levels.py)
        return False
    has_tasks = session.scalars(select(CaseTask.id).where(CaseTask.case_id == case.id)).first() is not None
    if has_tasks:
        return False
    before, level = case.status, case.level
    _raise_level(case, cat, calendar(settings), now)
    case.status = Status.REGISTERED if before != Status.REPORTED else Status.REPORTED
    case.updated_at = now
    ev = _event(session, case, SYSTEM, "escalate", before, case.status, now=now,
                note=f"deadline passed at {level} level: escalated to {case.level} (自动升级"
                     + ("，劝导未果转城管" if cat.persuade_first and level == "grid" else "")
                     + f") (deadline {deadline.isoformat()})")
    notices.case_event(session, case, ev, settings)
    return True


def escalate_overdue(session: Session, settings: Settings, *, now: dt.datetime | None = None) -> list[int]:
    """Escalate every overdue open case (the periodic job behind ``gridpatrol escalate``)."""
    now = now or now_utc()
    stmt = select(Case).where(Case.status.in_(sorted(ESCALATABLE)),
                              Case.level != "department", Case.deadline_at < now)
    return [c.id for c in session.scalars(stmt).all() if escalate_if_overdue(session, c, settings, now=now)]


# ---------------------------------------------------------------------------------------------- revisits


def record_revisit(session: Session, actor: Actor, settings: Settings, revisit_id: int, outcome: str, *,
                   note: str | None = None, now: dt.datetime | None = None, client_id: str | None = None,
                   occurred: Occurrence | None = None, point: tuple[float, float] | None = None) -> Revisit:
    """Record a 回头看: still fixed, or reopen the case. A retried call with the same ``client_id`` (given to the
    event it writes) returns the revisit as recorded."""
    if outcome not in ("still_fixed", "reopen"):
        raise InvalidInput("outcome must be still_fixed or reopen", field="outcome")
    rv = session.get(Revisit, revisit_id)
    if rv is None:
        raise NotFound(f"no revisit {revisit_id}", field="revisit_id")
    case = get_case(session, actor, rv.case_id, for_update=True)
    if client_id is not None:
        client_id = parse_client_id(client_id)
        done = session.scalars(select(CaseEvent).where(CaseEvent.client_id == client_id)).first()
        if done is not None:
            if done.case_id != rv.case_id:
                raise Conflict("this client_id belongs to an event of another case", field="client_id")
            return rv
    if actor.role not in ("grid_worker", "supervisor", "admin") or (
            actor.role == "grid_worker" and rv.grid_id not in actor.grid_ids):
        raise Forbidden("revisits are made by the grid's worker or the community's supervisor", field="revisit_id")
    if rv.done_at is not None:
        raise Conflict(f"revisit {revisit_id} was already recorded ({rv.outcome})", field="revisit_id")
    now = occurred.at if occurred is not None else now or now_utc()
    times = occurred.columns() if occurred is not None else {"received_at": now}
    rv.done_at, rv.outcome, rv.note, rv.received_at = now, outcome, note, times["received_at"]
    if outcome == "reopen":
        if case.status != Status.CLOSED:
            raise Conflict(f"the case is {case.status}, not closed", field="outcome")
        _reopen(session, actor, case, session.get(Category, case.category_code), calendar(settings), now,
                f"回头看: problem is back. {note or ''}".strip(), client_id=client_id, times=times)
    else:
        _event(session, case, actor, "revisit", case.status, case.status, now=now,
               note=f"回头看: still fixed. {note or ''}".strip(), client_id=client_id, times=times, point=point)
    session.flush()
    return rv


