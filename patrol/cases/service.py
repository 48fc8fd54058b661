"""The case loop: create cases (idempotent by client id), move them through :mod:`patrol.cases.lifecycle`, escalate,
whistle departments in, schedule revisits, and read them back with their timeline.

Every function takes the session of the caller's transaction and an :class:`~patrol.core.auth.Actor`; nothing commits
here, so a request either writes all of its rows or none.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import shapely
from pyproj import Geod
from sqlalchemy import Integer, Select, and_, func, or_, select, true
from sqlalchemy import case as sql_case
from sqlalchemy.orm import Session

from geo.crs import to_wgs84
from patrol.core.auth import Actor
from patrol.core.dialect import at_point, bbox_filter
from patrol.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from patrol.core.frames import ewkt, read_frame
from patrol.cases.lifecycle import ACTIONS, OPEN, allowed_actions, next_level
from patrol.core.models import (
    Building,
    Case,
    CaseEvent,
    CaseTask,
    Category,
    City,
    Community,
    Grid,
    Photo,
    ResponsibleUnit,
    Revisit,
    User,
)
from patrol.core.settings import Settings
from patrol.cases.worktime import WorkCalendar

_geod = Geod(ellps="WGS84")
CRS_NAMES = ("wgs84", "gcj02", "bd09")


@lru_cache(maxsize=8)
def _calendar(periods: str, holidays: str, workdays: str, timezone: str) -> WorkCalendar:
    return WorkCalendar.from_text(periods=periods, holidays=holidays, workdays=workdays, timezone=timezone)


def calendar(settings: Settings) -> WorkCalendar:
    """The working calendar configured for the city (deadlines are in working hours)."""
    try:
        return _calendar(settings.work_periods, settings.holidays, settings.workdays, settings.timezone)
    except ValueError as exc:
        raise InvalidInput(f"working calendar: {exc}", field="holidays") from exc


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _aware(t: dt.datetime | None) -> dt.datetime | None:
    """SQLite returns naive datetimes for aware columns; they were stored in UTC."""
    if t is None or t.tzinfo is not None:
        return t
    return t.replace(tzinfo=dt.UTC)


# ---------------------------------------------------------------------------------------------- locating a point


@dataclass
class Place:
    community_id: int | None
    grid_id: int | None
    building_id: int | None


def parse_client_id(value: str | None, *, field: str = "client_id") -> str:
    if value is None:
        return str(uuid.uuid4())
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise InvalidInput(f"{field} must be a UUID such as {uuid.uuid4()}, got {value!r}", field=field) from None


def to_point(lon: float, lat: float, crs: str = "wgs84") -> tuple[float, float]:
    """WGS-84 lon/lat from input in WGS-84, GCJ-02 or BD-09, with range checks."""
    if crs not in CRS_NAMES:
        raise InvalidInput(f"crs must be one of {', '.join(CRS_NAMES)}, got {crs!r}", field="crs")
    if not (isinstance(lat, int | float) and math.isfinite(lat) and -90 <= lat <= 90):
        raise InvalidInput(f"lat must be between -90 and 90, got {lat!r}", field="lat")
    if not (isinstance(lon, int | float) and math.isfinite(lon) and -180 <= lon <= 180):
        raise InvalidInput(f"lon must be between -180 and 180, got {lon!r}", field="lon")
    x, y = to_wgs84(lon, lat, crs)
    return float(x), float(y)


def locate(session: Session, lon: float, lat: float) -> Place:
    """The community, grid and building containing the point, in one round trip (lowest id on a shared edge)."""
    def first(model):
        return (select(model.id).where(at_point(session, model.id, model.geom, lon, lat))
                .order_by(model.id).limit(1).scalar_subquery())

    row = session.execute(select(first(Community), first(Grid), first(Building))).one()
    return Place(row[0], row[1], row[2])


def nearest_grid(session: Session, lon: float, lat: float) -> tuple[str, float] | None:
    """(code, distance m) of the grid nearest to the point, measured in the city's metric CRS."""
    city = session.scalars(select(City).limit(1)).first()
    grids = read_frame(session, [Grid.code], Grid.geom)
    if city is None or grids.empty:
        return None
    metric = grids.to_crs(city.metric_epsg)
    import geopandas as gpd

    pt = gpd.GeoSeries([shapely.Point(lon, lat)], crs=4326).to_crs(city.metric_epsg).iloc[0]
    d = metric.distance(pt)
    i = int(d.to_numpy().argmin())
    return str(grids["code"].iloc[i]), float(d.iloc[i])


def _metres(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    return float(_geod.inv(lon1, lat1, lon2, lat2)[2])


def nearby(session: Session, reports: list[tuple[str, float, float]], radius_m: float,
           since: dt.datetime) -> list[tuple[list[int], list[int]]]:
    """For each (category, lon, lat): the open cases of that category within ``radius_m`` (possible duplicates)
    and those closed since ``since`` (recurrence) — one query for all, through the spatial index, then geodesic
    distances in Python."""
    lon = np.array([r[1] for r in reports])
    lat = np.array([r[2] for r in reports])
    dlat = radius_m / 111_000 * 1.5
    dlon = dlat / max(math.cos(math.radians(float(np.abs(lat).max()))), 0.01)
    box = (float(lon.min() - dlon), float(lat.min() - dlat), float(lon.max() + dlon), float(lat.max() + dlat))
    rows = session.execute(
        select(Case.id, Case.category_code, Case.status, func.ST_X(Case.geom), func.ST_Y(Case.geom))
        .where(Case.category_code.in_({r[0] for r in reports}),
               or_(Case.status.in_(OPEN), and_(Case.status == "closed", Case.closed_at >= since)),
               bbox_filter(session, Case.id, Case.geom, box))).all()
    by_cat: dict[str, list] = {}
    for row in rows:
        by_cat.setdefault(row[1], []).append(row)
    out = []
    for cat, x, y in reports:
        dup, rec = [], []
        for cid, _, status, cx, cy in by_cat.get(cat, ()):
            if abs(cy - y) <= dlat and abs(cx - x) <= dlon and _metres(x, y, cx, cy) <= radius_m:
                (dup if status in OPEN else rec).append(int(cid))
        out.append((sorted(dup), sorted(rec)))
    return out


# ---------------------------------------------------------------------------------------------- scope


def can_read(actor: Actor, case: Case, session: Session) -> bool:
    if actor.role in ("admin", "planner"):
        return True
    if actor.role == "supervisor":
        return case.community_id is not None and case.community_id == actor.community_id
    if actor.role == "grid_worker":
        return case.grid_id in actor.grid_ids or case.assignee_id == actor.user_id or case.reporter_id == actor.user_id
    if actor.role == "department":
        if actor.unit_id is None:
            return False
        if case.unit_id == actor.unit_id:
            return True
        return session.scalars(select(CaseTask.id).where(CaseTask.case_id == case.id,
                                                         CaseTask.unit_id == actor.unit_id)).first() is not None
    return False


def scope_filter(actor: Actor) -> list:
    """WHERE clauses restricting a case query to what ``actor`` may read."""
    if actor.role in ("admin", "planner"):
        return []
    if actor.role == "supervisor":
        return [Case.community_id == actor.community_id]
    if actor.role == "grid_worker":
        return [or_(Case.grid_id.in_(actor.grid_ids or [-1]), Case.assignee_id == actor.user_id,
                    Case.reporter_id == actor.user_id)]
    if actor.role == "department":
        tasks = select(CaseTask.case_id).where(CaseTask.unit_id == actor.unit_id)
        return [or_(Case.unit_id == actor.unit_id, Case.id.in_(tasks))]
    return [Case.id == -1]


def get_case(session: Session, actor: Actor, case_id: int, *, for_update: bool = False) -> Case:
    stmt = select(Case).where(Case.id == case_id)
    if for_update and session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    case = session.scalars(stmt).first()
    if case is None:
        raise NotFound(f"no case {case_id}", field="case_id")
    if not can_read(actor, case, session):
        raise Forbidden(f"case {case_id} is outside your scope ({actor.role})", field="case_id")
    return case


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
                now: dt.datetime | None = None, deadline_at: dt.datetime | None = None) -> Created:
    """Register a report as a case at ``reported``. A second call with the same ``client_id`` returns the first
    case (``created`` False) and changes nothing.

    ``deadline_at`` replaces the category's deadline in working hours when the deadline was set by someone with the
    authority to set it: an inspection ordering a rectification by a date (限期整改, ``channel="inspection"``)."""
    cid = parse_client_id(client_id)
    existing = session.scalars(select(Case).where(Case.client_id == cid)).first()
    if existing is not None:
        if actor.api_key_id is None and not can_read(actor, existing, session):
            raise Conflict("this client_id belongs to another case", field="client_id")
        return Created(existing, False, [])
    if actor.role in ("planner", "department"):
        raise Forbidden(f"a {actor.role} cannot report cases", field="role")
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
    if actor.role == "grid_worker" and place.grid_id not in actor.grid_ids:
        raise Forbidden("the point lies outside your grids", field="lat")
    if actor.role == "supervisor" and place.community_id != actor.community_id:
        raise Forbidden("the point lies outside your community", field="lat")
    if building_id is not None and session.get(Building, building_id) is None:
        raise InvalidInput(f"no building {building_id}", field="building_id")
    now = now or now_utc()
    cal = calendar(settings)
    level = cat.level if place.grid_id is not None or cat.level != "grid" else "community"
    since = now - dt.timedelta(days=settings.recurrence_days)
    duplicates, recurrent = nearby(session, [(category, x, y)], settings.duplicate_radius_m, since)[0]
    contact = contact or {}
    case = Case(
        client_id=cid, category_code=category, status="reported", level=level,
        channel=channel or ("open311" if actor.api_key_id else "patrol" if actor.role == "grid_worker" else "staff"),
        description=description, address=address, geom=ewkt([shapely.Point(x, y)])[0], input_crs=crs,
        community_id=place.community_id, grid_id=place.grid_id, building_id=building_id or place.building_id,
        floor=floor, unit_no=unit_no, reporter_id=actor.user_id, api_key_id=actor.api_key_id,
        contact_name=contact.get("name"), contact_email=contact.get("email"), contact_phone=contact.get("phone"),
        reported_at=now, deadline_at=deadline_at or cal.add_working_hours(now, cat.deadline_hours), updated_at=now,
        recurrence_of_id=max(recurrent, default=None),
    )
    session.add(case)
    session.flush()
    _event(session, case, actor, "report", None, "reported", now=now, note=description, point=(x, y))
    return Created(case, True, duplicates, shapely.to_wkb(shapely.Point(x, y)))


# ---------------------------------------------------------------------------------------------- transitions


def _event(session: Session, case: Case, actor: Actor, action: str, from_status: str | None, to_status: str, *,
           now: dt.datetime, note: str | None = None, unit_id: int | None = None,
           point: tuple[float, float] | None = None, client_id: str | None = None) -> CaseEvent:
    ev = CaseEvent(case_id=case.id, action=action, from_status=from_status, to_status=to_status, level=case.level,
                   actor_id=actor.user_id, actor=actor.label, at=now, note=note, unit_id=unit_id, client_id=client_id,
                   geom=ewkt([shapely.Point(*point)])[0] if point else None)
    session.add(ev)
    session.flush()
    return ev


def _authorize(session: Session, actor: Actor, case: Case, action: str) -> None:
    spec = ACTIONS[action]
    if actor.role not in spec.roles:
        raise Forbidden(f"a {actor.role} cannot {action} a case", field="action")
    if actor.role == "grid_worker":
        mine = case.grid_id in actor.grid_ids
        if action in ("register", "dispatch", "close") and not (mine and case.level == "grid"):
            raise Forbidden(f"a grid worker can {action} only grid-level cases of her grids", field="action")
        if action in ("accept", "handle") and case.assignee_id != actor.user_id:
            raise Forbidden(f"only the assignee can {action} this case", field="action")
        if action in ("verify", "rework") and not mine:
            raise Forbidden("only the worker of the case's grid verifies on site", field="action")
    if actor.role == "department" and case.unit_id != actor.unit_id:
        raise Forbidden("the case is not dispatched to your unit; use its whistle task", field="action")


def transition(session: Session, actor: Actor, settings: Settings, case_id: int, action: str, *,
               note: str | None = None, unit_id: int | None = None, assignee_id: int | None = None,
               units: list[int] | None = None, hours: float | None = None, report_in_hours: float = 1.0,
               duplicate_of: int | None = None, rating: int | None = None,
               point: tuple[float, float] | None = None, client_id: str | None = None,
               now: dt.datetime | None = None) -> Case:
    """Apply ``action`` to a case; raises Conflict (409) listing the allowed actions when it does not apply.
    A retried call with the same event ``client_id`` returns the case unchanged."""
    if action not in ACTIONS:
        raise InvalidInput(f"unknown action {action!r}; actions: {', '.join(ACTIONS)}", field="action")
    if client_id is not None:
        client_id = parse_client_id(client_id)
        done = session.scalars(select(CaseEvent).where(CaseEvent.client_id == client_id)).first()
        if done is not None:
            if done.case_id != case_id:
                raise Conflict("this client_id belongs to an event of another case", field="client_id")
            return get_case(session, actor, case_id)
    case = get_case(session, actor, case_id, for_update=True)
    now = now or now_utc()
    escalate_if_overdue(session, case, settings, now=now)
    spec = ACTIONS[action]
    if case.status not in spec.sources:
        raise Conflict(f"cannot {action} a case that is {case.status}; allowed: "
                       f"{', '.join(allowed_actions(case.status)) or 'none (the case is finished)'}",
                       field="action", details=allowed_actions(case.status))
    _authorize(session, actor, case, action)
    cal = calendar(settings)
    cat = session.get(Category, case.category_code)
    before = case.status
    target = spec.target
    ev_unit = None
    has_tasks = session.scalars(select(CaseTask.id).where(CaseTask.case_id == case.id)).first() is not None

    if action in ("reject", "return", "rework", "suspend", "merge") and not (note or action == "merge"):
        raise InvalidInput(f"{action} needs a note giving the reason", field="note")
    if action == "dispatch":
        ev_unit, why = _dispatch(session, actor, case, unit_id, assignee_id)
        note = f"{note}\n{why}" if note and why else note or why
        case.deadline_at = cal.add_working_hours(now, hours or cat.deadline_hours)
    elif action == "whistle":
        _whistle(session, case, units, hours or cat.deadline_hours, report_in_hours, cal, now)
    elif action in ("accept", "handle", "return") and has_tasks:
        raise Conflict("this case was whistled to several departments: act on its tasks", field="action")
    elif action == "return":
        ev_unit, case.unit_id, case.assignee_id = case.unit_id, None, None
    elif action == "handle":
        case.handled_at = now
    elif action == "rework":
        case.rework_count += 1
        case.handled_at = None
        session.execute(CaseTask.__table__.update().where(CaseTask.case_id == case.id)
                        .values(status="dispatched", handled_at=None))
    elif action == "close":
        case.closed_at = now
        handled = _aware(case.handled_at) or now
        case.closed_on_time = case.deadline_at is None or handled <= _aware(case.deadline_at)
        _schedule_revisit(session, case, cat, cal, now)
    elif action == "rate":
        if not isinstance(rating, int) or not 1 <= rating <= 5:
            raise InvalidInput(f"rating must be a whole number from 1 to 5, got {rating!r}", field="rating")
        case.rating = rating
        target = "closed"
        if rating <= 2:
            _event(session, case, actor, "rate", before, "closed", now=now, note=note, client_id=client_id)
            return _reopen(session, actor, case, cat, cal, now, f"resident not satisfied ({rating}/5) 再接单")
    elif action == "suspend":
        left = cal.working_hours_between(now, _aware(case.deadline_at)) if case.deadline_at else cat.deadline_hours
        case.remaining_hours, case.suspended_from, case.deadline_at = max(left, 0.0), case.status, None
    elif action == "resume":
        target = case.suspended_from or "dispatched"
        case.deadline_at = cal.add_working_hours(now, case.remaining_hours or 0.0)
        case.remaining_hours, case.suspended_from = None, None
    elif action == "escalate":
        _raise_level(case, cat, cal, now)
    elif action == "merge":
        other = session.get(Case, duplicate_of) if duplicate_of is not None else None
        if other is None or other.id == case.id:
            raise InvalidInput("merge needs duplicate_of: the id of another case", field="duplicate_of")
        case.duplicate_of_id = other.id
        session.execute(Revisit.__table__.delete().where(Revisit.case_id == case.id, Revisit.done_at.is_(None)))
    case.status = target
    case.updated_at = now
    _event(session, case, actor, action, before, target, now=now, note=note, unit_id=ev_unit or case.unit_id,
           point=point, client_id=client_id)
    return case


def _dispatch(session: Session, actor: Actor, case: Case, unit_id: int | None,
              assignee_id: int | None) -> tuple[int | None, str | None]:
    """Dispatch to the unit or worker given, or else to the one responsible (patrol.cases.routing), saying why."""
    if unit_id is not None:
        if session.get(ResponsibleUnit, unit_id) is None:
            raise InvalidInput(f"no responsible unit {unit_id}", field="unit_id")
        case.unit_id, case.assignee_id = unit_id, None
        return unit_id, None
    if assignee_id is None and case.level != "grid":
        from patrol.cases.routing import responsible

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
    if actor.role not in ("department", "supervisor", "admin"):
        raise Forbidden(f"a {actor.role} cannot act on a department's task", field="action")
    source, target = TASK_ACTIONS[action]
    if task.status != source or case.status not in ("dispatched", "accepted"):
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
        case.status, case.level = "registered", "community"
        _event(session, case, actor, "return", before, "registered", now=now, note="every department returned it")
    elif all(s == "handled" for s in standing):
        case.status, case.handled_at = "handled", now
        _event(session, case, actor, "handle", before, "handled", now=now, note="every department has handled it")
    elif any(s in ("accepted", "handled") for s in standing) and case.status == "dispatched":
        case.status = "accepted"
    case.updated_at = now
    return case


def _raise_level(case: Case, cat: Category, cal: WorkCalendar, now: dt.datetime) -> None:
    up = next_level(case.level)
    if up is None:
        raise Conflict("the case is already at department level and cannot be escalated further", field="action")
    case.level, case.unit_id, case.assignee_id = up, None, None
    case.escalations += 1
    case.deadline_at = cal.add_working_hours(now, cat.deadline_hours)


def _reopen(session: Session, actor: Actor, case: Case, cat: Category, cal: WorkCalendar, now: dt.datetime,
            note: str, client_id: str | None = None) -> Case:
    before = case.status
    case.status = "dispatched" if (case.unit_id or case.assignee_id) else "registered"
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
           client_id=client_id)
    return case


def _schedule_revisit(session: Session, case: Case, cat: Category, cal: WorkCalendar, now: dt.datetime) -> None:
    worker = session.scalar(select(Grid.worker_id).where(Grid.id == case.grid_id)) if case.grid_id else None
    local = now.astimezone(_zone(cal))
    session.add(Revisit(case_id=case.id, grid_id=case.grid_id, worker_id=worker,
                        due_on=local.date() + dt.timedelta(days=cat.revisit_days)))


def _zone(cal: WorkCalendar):
    from zoneinfo import ZoneInfo

    return ZoneInfo(cal.timezone)


# ---------------------------------------------------------------------------------------------- escalation


def escalate_if_overdue(session: Session, case: Case, settings: Settings, *, now: dt.datetime | None = None) -> bool:
    """Raise a case one level when its deadline at the current level passed before it was handled."""
    now = now or now_utc()
    deadline = _aware(case.deadline_at)
    if (case.status not in ("reported", "registered", "dispatched", "accepted") or deadline is None
            or deadline > now or next_level(case.level) is None):
        return False
    has_tasks = session.scalars(select(CaseTask.id).where(CaseTask.case_id == case.id)).first() is not None
    if has_tasks:
        return False
    cat = session.get(Category, case.category_code)
    before, level = case.status, case.level
    _raise_level(case, cat, calendar(settings), now)
    case.status = "registered" if before != "reported" else "reported"
    case.updated_at = now
    from patrol.core.auth import SYSTEM

    _event(session, case, SYSTEM, "escalate", before, case.status, now=now,
           note=f"deadline passed at {level} level: escalated to {case.level} (自动升级)")
    return True


def escalate_overdue(session: Session, settings: Settings, *, now: dt.datetime | None = None) -> list[int]:
    """Escalate every overdue open case (the periodic job behind ``gridpatrol escalate``)."""
    now = now or now_utc()
    stmt = select(Case).where(Case.status.in_(("reported", "registered", "dispatched", "accepted")),
                              Case.level != "department", Case.deadline_at < now)
    return [c.id for c in session.scalars(stmt).all() if escalate_if_overdue(session, c, settings, now=now)]


# ---------------------------------------------------------------------------------------------- revisits


def record_revisit(session: Session, actor: Actor, settings: Settings, revisit_id: int, outcome: str, *,
                   note: str | None = None, now: dt.datetime | None = None, client_id: str | None = None) -> Revisit:
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
    now = now or now_utc()
    rv.done_at, rv.outcome, rv.note = now, outcome, note
    if outcome == "reopen":
        if case.status != "closed":
            raise Conflict(f"the case is {case.status}, not closed", field="outcome")
        _reopen(session, actor, case, session.get(Category, case.category_code), calendar(settings), now,
                f"回头看: problem is back. {note or ''}".strip(), client_id=client_id)
    else:
        _event(session, case, actor, "revisit", case.status, case.status, now=now,
               note=f"回头看: still fixed. {note or ''}".strip(), client_id=client_id)
    session.flush()
    return rv


# ---------------------------------------------------------------------------------------------- reading


@dataclass
class CaseFilter:
    bbox: tuple[float, float, float, float] | None = None
    grid: str | None = None
    community: str | None = None
    category: str | None = None
    status: list[str] | None = None
    overdue: bool | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    ids: list[int] | None = None


def case_query(session: Session, actor: Actor, f: CaseFilter, *, now: dt.datetime | None = None) -> Select:
    now = now or now_utc()
    where = scope_filter(actor)
    if f.bbox:
        where.append(bbox_filter(session, Case.id, Case.geom, f.bbox))
    if f.grid:
        where.append(Case.grid_id.in_(select(Grid.id).where(Grid.code == f.grid)))
    if f.community:
        where.append(Case.community_id.in_(select(Community.id).where(
            or_(Community.code == f.community, Community.name == f.community))))
    if f.category:
        where.append(Case.category_code == f.category)
    if f.status:
        where.append(Case.status.in_(f.status))
    if f.overdue is not None:
        late = and_(Case.status.in_(tuple(OPEN - {"suspended"})), Case.deadline_at < now)
        where.append(late if f.overdue else ~late)
    if f.since:
        where.append(Case.reported_at >= f.since)
    if f.until:
        where.append(Case.reported_at < f.until)
    if f.ids:
        where.append(Case.id.in_(f.ids))
    return select(Case, func.ST_AsBinary(Case.geom)).where(*where).order_by(Case.id)


def case_dict(case: Case, wkb: bytes | None = None, *, now: dt.datetime | None = None,
              category: Category | None = None) -> dict:
    now = now or now_utc()
    deadline = _aware(case.deadline_at)
    out = {
        "id": case.id, "client_id": case.client_id, "category": case.category_code, "status": case.status,
        "level": case.level, "channel": case.channel, "description": case.description, "address": case.address,
        "community_id": case.community_id, "grid_id": case.grid_id, "building_id": case.building_id,
        "floor": case.floor, "unit_no": case.unit_no, "unit_id": case.unit_id, "assignee_id": case.assignee_id,
        "reported_at": _iso(case.reported_at), "deadline_at": _iso(deadline), "handled_at": _iso(case.handled_at),
        "closed_at": _iso(case.closed_at), "closed_on_time": case.closed_on_time, "rating": case.rating,
        "rework_count": case.rework_count, "reopened_count": case.reopened_count, "escalations": case.escalations,
        "duplicate_of": case.duplicate_of_id, "recurrence_of": case.recurrence_of_id,
        "overdue": bool(case.status in OPEN and case.status != "suspended" and deadline is not None and deadline < now),
        "allowed_actions": allowed_actions(case.status), "simulated": case.simulated,
    }
    if category is not None:
        out["category_name"] = {"zh": category.name_zh, "en": category.name_en}
    if wkb is not None:
        p = shapely.from_wkb(bytes(wkb))
        out["lon"], out["lat"] = p.x, p.y
    return out


def timeline(session: Session, case_id: int) -> list[dict]:
    rows = session.execute(select(CaseEvent, func.ST_AsBinary(CaseEvent.geom)).where(CaseEvent.case_id == case_id)
                           .order_by(CaseEvent.at, CaseEvent.id)).all()
    photos: dict[int, list[int]] = {}
    for pid, eid in session.execute(select(Photo.id, Photo.event_id).where(Photo.case_id == case_id)):
        photos.setdefault(eid, []).append(pid)
    out = []
    for ev, wkb in rows:
        p = shapely.from_wkb(bytes(wkb)) if wkb is not None else None
        out.append({"id": ev.id, "action": ev.action, "label_zh": ACTIONS[ev.action].label_zh
                    if ev.action in ACTIONS else _EXTRA_LABELS.get(ev.action, ev.action),
                    "from": ev.from_status, "to": ev.to_status, "level": ev.level, "actor": ev.actor,
                    "at": _iso(ev.at), "note": ev.note, "unit_id": ev.unit_id,
                    "lon": p.x if p else None, "lat": p.y if p else None, "photos": photos.get(ev.id, [])})
    return out


def tasks_of(session: Session, case_id: int) -> list[dict]:
    return [{"id": t.id, "unit_id": t.unit_id, "status": t.status, "deadline_at": _iso(t.deadline_at),
             "report_in_by": _iso(t.report_in_by), "reported_in_at": _iso(t.reported_in_at),
             "handled_at": _iso(t.handled_at), "note": t.note}
            for t in session.scalars(select(CaseTask).where(CaseTask.case_id == case_id).order_by(CaseTask.id))]


_EXTRA_LABELS = {"report": "上报", "reopen": "重新办理(再接单)", "revisit": "回头看", "task_report_in": "部门报到",
                 "task_handle": "部门处置", "task_return": "部门退回", "photo": "照片", "regrid": "网格调整"}


def _iso(t: dt.datetime | None) -> str | None:
    t = _aware(t)
    return t.isoformat() if t is not None else None



# ---------------------------------------------------------------------------------------------- map aggregation

CLUSTER_PX = 64  # a cluster cell is about this many screen pixels wide
CASES_FROM_ZOOM = 16  # from this zoom on (or when few), the cases themselves


def case_clusters(session: Session, actor: Actor, f: CaseFilter, zoom: int, *, now: dt.datetime | None = None,
                  max_cases: int = 2000, few: int = 300) -> dict:
    """What a map of cases draws in a bbox at a zoom: clusters (aggregated in the database on a grid of about
    64 px cells, so 100k cases cost the browser a few hundred markers) or, zoomed in (and at most ``max_cases``)
    or when few, the cases themselves, open and overdue ones first."""
    now = now or now_utc()
    where = case_query(session, actor, f, now=now).whereclause
    if where is None:  # an admin without filters
        where = true()
    late = and_(Case.status.in_(tuple(OPEN - {"suspended"})), Case.deadline_at < now)
    cell = 360.0 / (2 ** max(0, min(zoom, 22))) / (256 / CLUSTER_PX)
    x, y = func.ST_X(Case.geom), func.ST_Y(Case.geom)
    if session.get_bind().dialect.name == "sqlite":  # no floor() in every SQLite; shifted positive, CAST truncates
        gx, gy = func.cast((x + 180) / cell, Integer), func.cast((y + 90) / cell, Integer)
    else:
        gx, gy = func.floor((x + 180) / cell), func.floor((y + 90) / cell)
    rows = session.execute(
        select(gx.label("gx"), gy.label("gy"), Case.status, func.count(), func.sum(x), func.sum(y),
               func.sum(sql_case((late, 1), else_=0)))
        .where(where).group_by("gx", "gy", Case.status)).all()
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


def _map_cases(session: Session, where, late, limit: int) -> list[dict]:
    rows = session.execute(
        select(Case.id, Case.status, Case.category_code, Category.name_zh, Case.deadline_at,
               func.ST_X(Case.geom), func.ST_Y(Case.geom), late.label("late"))
        .join(Category, Category.code == Case.category_code).where(where)
        .order_by(late.desc(), Case.status.in_(tuple(OPEN)).desc(), Case.id.desc()).limit(limit)).all()
    thumbs = dict(session.execute(select(Photo.case_id, func.min(Photo.id)).where(
        Photo.case_id.in_([r[0] for r in rows] or [-1])).group_by(Photo.case_id)).all())
    return [{"id": r[0], "status": r[1], "category": r[2], "category_name": r[3],
             "deadline_at": _iso(_aware(r[4])), "lon": r[5], "lat": r[6], "overdue": bool(r[7]),
             "thumbnail": f"/api/v1/photos/{thumbs[r[0]]}/thumbnail" if r[0] in thumbs else None,
             "url": f"/api/v1/cases/{r[0]}"} for r in rows]
