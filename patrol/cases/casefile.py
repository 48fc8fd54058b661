"""The case page's read model (案件详情, /desk/cases/{number}): everything one page shows about a case, for whoever
may read it, with names instead of ids — its place (grid, community, subdistrict, building, the outlines to draw),
the deadline as a countdown in working hours with a colour, the timeline with who did what, the photo gallery
(before / after), whistle tasks, revisits, possible duplicates nearby, earlier cases at the same building, the
督办 urges, and the actions this actor may take now with what each form needs (the responsible units ranked by road
for a dispatch). Case ids appear only as opaque keys for the API calls the page makes.

The actions come from :func:`patrol.cases.authority.allowed_actions` (the rule the service enforces) and the
tasks' from :data:`patrol.cases.service.TASK_ACTIONS`, so the page offers nothing the server would refuse.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import shapely
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from patrol.cases import assessment
from patrol.cases.authority import allowed_actions, can_read, scope_filter
from patrol.cases.contact import reporter_contact
from patrol.cases.lifecycle import CLOSED, IN_HAND, RUNNING
from patrol.cases.overdue import deadline_colour
from patrol.cases.places import metres, nearby
from patrol.cases.reads import timeline
from patrol.cases.routing import NobodyResponsible, NoRoads, responsible
from patrol.cases.service import NOTE_REQUIRED, TASK_ACTIONS
from patrol.cases.worktime import calendar
from patrol.core.auth import Actor
from patrol.core.errors import Forbidden, NotFound
from patrol.core.models import (
    Building,
    Case,
    CaseEvent,
    CaseTask,
    Category,
    Community,
    Grid,
    Photo,
    ResponsibleUnit,
    Revisit,
    Subdistrict,
    User,
)
from patrol.core.settings import Settings
from patrol.core.time import iso, now_utc

#: What the page shows of the history of a building, and of the timeline on a printed 派遣单.
EARLIER_MAX = 20

#: English names of the timeline's steps that are not actions of the loop (their Chinese ones come with the timeline).
EXTRA_LABELS_EN = {"report": "Reported", "reopen": "Reopened", "revisit": "Revisit (回头看)",
                   "task_report_in": "Department reported in", "task_handle": "Department handled its part",
                   "task_return": "Department returned its part", "photo": "Photo", "regrid": "Grid changed"}
#: Timeline steps whose photos are "after" photos (the problem handled, checked on site).
AFTER_STEPS = frozenset({"handle", "task_handle", "verify", "rework", "close", "revisit"})


# ---------------------------------------------------------------------------------------------- the clock


def case_clock(case: Case, category: Category, settings: Settings, now: dt.datetime) -> dict[str, Any]:
    """The deadline: when, working hours left (negative when late) and a colour; stopped while suspended; none once
    the case is finished (then whether it was closed on time)."""
    out: dict[str, Any] = {"deadline_at": iso(case.deadline_at), "total_hours": category.deadline_hours,
                           "running": case.status in RUNNING, "suspended": case.status == "suspended",
                           "remaining_hours": case.remaining_hours, "hours_left": None, "overdue": False,
                           "colour": None, "finished": case.status in CLOSED, "closed_on_time": case.closed_on_time}
    if case.status == "suspended":
        out["colour"] = "stopped"
    elif case.status in RUNNING and case.deadline_at is not None:
        left = calendar(settings).working_hours_between(now, case.deadline_at)
        overdue = case.deadline_at < now
        out.update(hours_left=round(left, 2), overdue=overdue,
                   colour=deadline_colour(left, category.deadline_hours, settings.near_deadline_fraction,
                                          overdue=overdue))
    return out


# ---------------------------------------------------------------------------------------------- the place


def _shape(wkb: bytes | None, digits: int = 6) -> dict | None:
    if wkb is None:
        return None
    geom = shapely.set_precision(shapely.from_wkb(bytes(wkb)), 10 ** -digits)
    return shapely.geometry.mapping(geom) if not geom.is_empty else None


def building_label(name: str | None, address: str | None, grid_name: str | None) -> str:
    """A building as people name it: its name, else "楼栋(无名) · <address or grid>"."""
    if name:
        return name
    return "楼栋(无名) · " + (address or grid_name or "—")


def case_place(session: Session, case: Case) -> dict[str, Any]:
    """Point, grid (code, name, worker, outline), community, subdistrict and building of the case, by name."""
    point = shapely.from_wkb(bytes(session.scalar(select(func.ST_AsBinary(Case.geom)).where(Case.id == case.id))))
    out: dict[str, Any] = {"lon": point.x, "lat": point.y, "address": case.address, "floor": case.floor,
                           "unit_no": case.unit_no, "grid": None, "community": None, "subdistrict": None,
                           "building": None}
    if case.grid_id is not None:
        row = session.execute(select(Grid.code, Grid.name, User.display_name, func.ST_AsBinary(Grid.geom))
                              .outerjoin(User, User.id == Grid.worker_id).where(Grid.id == case.grid_id)).first()
        if row is not None:
            out["grid"] = {"code": row[0], "name": row[1], "worker": row[2], "outline": _shape(row[3])}
    if case.community_id is not None:
        row = session.execute(select(Community.name, Subdistrict.name).join(
            Subdistrict, Subdistrict.id == Community.subdistrict_id).where(Community.id == case.community_id)).first()
        if row is not None:
            out["community"], out["subdistrict"] = {"name": row[0]}, {"name": row[1]}
    if case.building_id is not None:
        row = session.execute(select(Building.name, Building.address, Building.use,
                                     func.ST_AsBinary(Building.geom), Building.label)
                              .where(Building.id == case.building_id)).first()
        if row is not None:
            grid_name = out["grid"]["name"] if out["grid"] else None
            out["building"] = {"name": row[0], "address": row[1], "use": row[2],
                               "label": row[4] or building_label(row[0], row[1], grid_name),
                               "outline": _shape(row[3])}
    return out


# ---------------------------------------------------------------------------------------------- history


def _photo(pid: int) -> dict[str, Any]:
    return {"id": pid, "thumb": f"/api/v1/photos/{pid}/thumbnail", "full": f"/api/v1/photos/{pid}"}


def case_timeline(session: Session, case: Case) -> list[dict[str, Any]]:
    """The timeline (:func:`patrol.cases.reads.timeline`) with the actors' and units' names and the photos' URLs."""
    steps = timeline(session, case.id)
    actor_of = {int(e): a for e, a in session.execute(select(CaseEvent.id, CaseEvent.actor_id)
                                                     .where(CaseEvent.case_id == case.id)).all()}
    people = _names(session, User, {a for a in actor_of.values() if a is not None})
    units = _names(session, ResponsibleUnit, {s["unit_id"] for s in steps if s["unit_id"] is not None})
    out = []
    for s in steps:
        uid = actor_of.get(s["id"])
        who = people.get(uid) if uid is not None else None
        system = who is None and s["actor"] in ("system", None)
        if who is None:
            who = "系统" if system else s["actor"]
        out.append({"id": s["id"], "action": s["action"], "label_zh": s["label_zh"],
                    "label_en": EXTRA_LABELS_EN.get(s["action"]), "from": s["from"], "to": s["to"],
                    "level": s["level"], "actor": who, "system": system, "at": s["at"], "note": s["note"],
                    "received_at": s.get("received_at"), "time_flag": s.get("time_flag"),
                    "clock_skew_s": s.get("clock_skew_s"),
                    "auto": bool(s["note"] and s["note"].startswith("自动")),
                    "unit": units.get(s["unit_id"]) if s["unit_id"] is not None else None,
                    "lon": s["lon"], "lat": s["lat"], "photos": [_photo(p) for p in s["photos"]]})
    return out


def _names(session: Session, model: Any, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    if model is User:  # with her post when she holds one (楼栋长, 网格长 …): who reported from the building
        return {int(i): f"{n}（{p}）" if p else n for i, n, p in session.execute(
            select(User.id, User.display_name, User.post).where(User.id.in_(sorted(ids)))).all()}
    return {int(i): n for i, n in session.execute(select(model.id, model.name).where(model.id.in_(sorted(ids)))).all()}


def gallery(steps: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Before (the report and everything before handling) and after (handle, verify … photos), each photo with
    the step it belongs to and when."""
    out: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
    for s in steps:
        side = "after" if s["action"] in AFTER_STEPS else "before"
        out[side] += [{**p, "action": s["action"], "label_zh": s["label_zh"], "label_en": s["label_en"],
                       "at": s["at"]} for p in s["photos"]]
    return out


def urges(steps: list[dict[str, Any]]) -> dict[str, Any]:
    """The 督办 of the case: how many, and each one's who, when and note."""
    items = [{"at": s["at"], "actor": s["actor"], "system": s["system"], "note": s["note"]}
             for s in steps if s["action"] == "urge"]
    return {"count": len(items), "items": items}


def case_tasks(session: Session, actor: Actor, case: Case, now: dt.datetime) -> list[dict[str, Any]]:
    """The whistle tasks: each department's name, state, report-in time (late or not), and the task actions this
    actor may take on it (a department on its own unit's task; a supervisor or admin on any)."""
    rows = session.execute(select(CaseTask, ResponsibleUnit.name).join(
        ResponsibleUnit, ResponsibleUnit.id == CaseTask.unit_id).where(CaseTask.case_id == case.id)
        .order_by(CaseTask.id)).all()
    out = []
    for t, name in rows:
        reported = t.reported_in_at
        late = (reported > t.report_in_by) if reported is not None else (
            t.status == "dispatched" and t.report_in_by < now)
        mine = (actor.role == "department" and actor.unit_id == t.unit_id) or actor.role in ("supervisor", "admin")
        acts = [a for a, (source, _) in TASK_ACTIONS.items()
                if mine and t.status == source and case.status in IN_HAND]
        out.append({"id": t.id, "unit": name, "status": t.status, "report_in_by": iso(t.report_in_by),
                    "reported_in_at": iso(reported), "late": bool(late), "deadline_at": iso(t.deadline_at),
                    "handled_at": iso(t.handled_at), "handled": t.status == "handled", "note": t.note,
                    "actions": [{"name": a, "note_required": a == "return"} for a in acts]})
    return out


def case_revisits(session: Session, case: Case) -> list[dict[str, Any]]:
    return [{"due_on": r.due_on.isoformat(), "done_at": iso(r.done_at), "outcome": r.outcome, "note": r.note}
            for r in session.scalars(select(Revisit).where(Revisit.case_id == case.id).order_by(Revisit.due_on))]


# ---------------------------------------------------------------------------------------------- neighbours


def duplicates(session: Session, actor: Actor, settings: Settings, case: Case, lon: float, lat: float,
               now: dt.datetime) -> list[dict[str, Any]]:
    """Open cases of the same category within ``Settings.duplicate_radius_m`` of this one (not itself), nearest
    first, those the actor may read, each with what a side-by-side compare shows."""
    if case.status in CLOSED:
        return []
    return open_nearby(session, actor, settings, case.category_code, lon, lat, now, exclude=case.id)


def open_nearby(session: Session, actor: Actor, settings: Settings, category: str, lon: float, lat: float,
                now: dt.datetime, *, exclude: int | None = None) -> list[dict[str, Any]]:
    """The possible duplicates of a report of ``category`` at (lon, lat) WGS-84: open cases of that category within
    ``Settings.duplicate_radius_m`` (the rule of :func:`patrol.cases.places.nearby`, which the service applies when
    a case is created), those the actor may read, nearest first — for the case page and for the phone before she
    sends a report. Each says whether the actor may supplement it (补充: her photo and note as a step of it)."""
    found, _ = nearby(session, [(category, lon, lat)], settings.duplicate_radius_m, now)[0]
    ids = [i for i in found if i != exclude]
    if not ids:
        return []
    rows = session.execute(select(Case, func.ST_X(Case.geom), func.ST_Y(Case.geom))
                           .where(Case.id.in_(ids), *scope_filter(actor))).all()
    thumbs: dict[int, list[dict[str, Any]]] = {}
    for pid, cid in session.execute(select(Photo.id, Photo.case_id).where(Photo.case_id.in_(ids)).order_by(Photo.id)):
        thumbs.setdefault(cid, []).append(_photo(pid))
    out = [{"id": c.id, "number": c.number, "status": c.status, "reported_at": iso(c.reported_at),
            "description": c.description, "address": c.address, "distance_m": round(metres(lon, lat, x, y), 1),
            "photos": thumbs.get(c.id, [])[:4], "can_supplement": "supplement" in allowed_actions(actor, c)}
           for c, x, y in rows]
    return sorted(out, key=lambda d: (d["distance_m"], d["number"] or ""))


def earlier_at_building(session: Session, actor: Actor, case: Case) -> list[dict[str, Any]]:
    """Cases reported at the same building before this one (the actor may read), newest first."""
    if case.building_id is None:
        return []
    rows = session.execute(
        select(Case.number, Case.category_code, Category.name_zh, Category.name_en, Case.status, Case.reported_at)
        .join(Category, Category.code == Case.category_code)
        .where(Case.building_id == case.building_id, Case.id != case.id, Case.reported_at <= case.reported_at,
               *scope_filter(actor))
        .order_by(Case.reported_at.desc(), Case.id.desc()).limit(EARLIER_MAX)).all()
    return [{"number": r[0], "category": {"code": r[1], "zh": r[2], "en": r[3]}, "status": r[4],
             "reported_at": iso(r[5])} for r in rows]


# ---------------------------------------------------------------------------------------------- actions


def _form(action: str) -> dict[str, Any]:
    """What the form of ``action`` asks for (the service's rules: :data:`patrol.cases.service.NOTE_REQUIRED` …)."""
    return {"name": action, "note_required": action in NOTE_REQUIRED or action == "assess",
            "hours": action in ("dispatch", "whistle", "urge"), "unit_choice": action == "dispatch",
            "units_choice": action == "whistle", "report_in_hours": action == "whistle",
            "rating": action == "rate", "duplicate_of": action == "merge",
            "photo": action in ("handle", "verify", "supplement"),
            "one_click": action in ("accept", "register", "verify", "close", "resume", "escalate")}


def dispatch_choices(session: Session, case: Case, lon: float, lat: float) -> dict[str, Any]:
    """For a dispatch: the responsible units ranked by road (distance, ETA) with the route from the first, the
    grid's worker for a grid-level case, or why nobody is responsible (then a free choice is left)."""
    returned = tuple(session.scalars(select(CaseEvent.unit_id).where(
        CaseEvent.case_id == case.id, CaseEvent.action == "return", CaseEvent.unit_id.is_not(None))))
    try:
        d = responsible(session, lon=lon, lat=lat, category=case.category_code, level=case.level,
                        grid_id=case.grid_id, exclude_units=returned, allow_straight_line=True, with_route=True)
    except (NobodyResponsible, NoRoads) as e:
        return {"candidates": [], "route": None, "worker": None, "why": None, "problem": str(e)}
    return {"candidates": [{"unit_id": c.unit_id, "name": c.name, "type": c.type,
                            "distance_m": round(c.distance_m, 1), "eta_s": round(c.eta_s, 1),
                            "straight_line": bool(c.fallback)} for c in d.candidates],
            "route": d.route, "worker": None if d.worker is None else {"name": d.worker["name"]},
            "why": d.why() if d.rule is not None else None, "problem": None}


def all_units(session: Session) -> list[dict[str, Any]]:
    return [{"unit_id": i, "name": n, "type": t} for i, n, t in session.execute(
        select(ResponsibleUnit.id, ResponsibleUnit.name, ResponsibleUnit.type)
        .order_by(ResponsibleUnit.type, ResponsibleUnit.name, ResponsibleUnit.id))]


def case_actions(session: Session, actor: Actor, case: Case, lon: float, lat: float) -> list[dict[str, Any]]:
    """The actions ``actor`` may take now (exactly :func:`allowed_actions`), each with its form."""
    out = []
    units = None
    for action in allowed_actions(actor, case):
        form = _form(action)
        if action == "dispatch":
            form["dispatch"] = dispatch_choices(session, case, lon, lat)
        if action in ("dispatch", "whistle"):
            units = units if units is not None else all_units(session)
            form["units"] = units
        if action == "rate":
            form["ratings"] = [5, 4, 3, 2, 1]
        out.append(form)
    return out


# ---------------------------------------------------------------------------------------------- the whole file


def find_case(session: Session, actor: Actor, number: str) -> Case:
    """The case numbered ``number`` (404 naming ``number``), 403 when the actor may not read it."""
    case = session.scalars(select(Case).where(Case.number == number)).first()
    if case is None:
        raise NotFound(f"no case numbered {number!r}", field="number")
    if not can_read(actor, case, session):
        raise Forbidden(f"case {number} is outside your scope ({actor.role})", field="number")
    return case


def case_file(session: Session, actor: Actor, settings: Settings, number: str, *,
              now: dt.datetime | None = None, with_actions: bool = True) -> dict[str, Any]:
    """Everything the case page shows (module docstring); ``with_actions`` False leaves the actions out (the
    printed 派遣单 needs none, and skips the routing)."""
    now = now or now_utc()
    case = find_case(session, actor, number)
    cat = session.get(Category, case.category_code)
    place = case_place(session, case)
    steps = case_timeline(session, case)
    handler = None
    if case.unit_id is not None:
        handler = session.scalar(select(ResponsibleUnit.name).where(ResponsibleUnit.id == case.unit_id))
    elif case.assignee_id is not None:
        handler = session.scalar(select(User.display_name).where(User.id == case.assignee_id))
    # the reporter's contact (none on the printed 派遣单, which goes to the handler)
    contact = reporter_contact(session, actor, case) if with_actions else None
    return {
        "id": case.id, "number": case.number, "status": case.status, "level": case.level, "channel": case.channel,
        "category": {"code": cat.code, "zh": cat.name_zh, "en": cat.name_en, "major_zh": cat.major_zh,
                     "major_en": cat.major_en, "deadline_hours": cat.deadline_hours},
        "description": case.description, "place": place, "reported_at": iso(case.reported_at),
        "received_at": iso(case.received_at), "time_flag": case.time_flag, "clock_skew_s": case.clock_skew_s,
        "handled_at": iso(case.handled_at), "closed_at": iso(case.closed_at), "rating": case.rating,
        "rework_count": case.rework_count, "escalations": case.escalations, "handler": handler,
        "duplicate_of": _number_of(session, case.duplicate_of_id),
        "recurrence_of": _number_of(session, case.recurrence_of_id),
        "clock": case_clock(case, cat, settings, now), "timeline": steps, "gallery": gallery(steps),
        "tasks": case_tasks(session, actor, case, now), "revisits": case_revisits(session, case),
        "duplicates": duplicates(session, actor, settings, case, place["lon"], place["lat"], now),
        "earlier": earlier_at_building(session, actor, case), "urges": urges(steps),
        "actions": (actions := case_actions(session, actor, case, place["lon"], place["lat"]) if with_actions
                    else []),
        # 研判: the record, a meeting waited for, and the form when the actor may assess now
        "assessment": assessment.panel(session, settings, case, any(a["name"] == "assess" for a in actions)),
        "simulated": case.simulated,
        # h5: where it came from, a 12345 order's number, and the reporter's contact (full + audited for the
        # community's staff, masked for the others: patrol.cases.contact)
        "source": case.source, "order_no": case.source_ref if case.source == "12345" else None,
        **({"contact": contact} if contact else {}),
    }


def _number_of(session: Session, case_id: int | None) -> str | None:
    return None if case_id is None else session.scalar(select(Case.number).where(Case.id == case_id))
