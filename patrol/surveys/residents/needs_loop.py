"""Needs of the register in the loop (issue 22: 事事有着落，件件有回应).

A need has a responsible person (``responsible_id``: by default the worker of the household's grid) and a due date
(``due_on``, a local date: by default ``settings.need_due_days`` after it was raised); it gets an answer (``response``,
what the resident was told, with ``responded_at``) and the resident's word on it (``feedback``: 满意 / 基本满意 /
不满意, with a note). A need that needs action becomes a case (:func:`need_to_case`: the category chosen, at the
household's building, channel ``staff`` or ``patrol``; the case's public text never carries the resident's name or
the need's own words) or is linked to an existing one (:func:`link_need`); from then on it follows the case
(:mod:`patrol.cases.need_follow`: closed → resolved, with the case's result as the answer when none was written;
reopened → in progress).

Every read and write goes through :mod:`patrol.surveys.residents.access` (the grid's worker and the community's
supervisor) and is audited. The figures (:func:`needs_kpis`: answered share, answered on time) are counts, for every
role that sees figures of the area.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import shapely
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from patrol.cases import service as cases
from patrol.cases.authority import get_case
from patrol.core.auth import Actor
from patrol.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from patrol.core.models import FEEDBACK, Building, Case, Community, Grid, Household, ResidentNeed, User
from patrol.core.settings import Settings
from patrol.core.time import now_utc
from patrol.surveys.residents.access import (
    CLI_ROLE,
    audit,
    household_in_scope,
    local_today,
    personal_scope,
    require_personal_role,
)
from patrol.surveys.residents.register import NEED_LABELS, NEED_MOVES, need_dict

FEEDBACK_LABELS = {"satisfied": {"zh": "满意", "en": "Satisfied"}, "basically": {"zh": "基本满意", "en": "Fairly"},
                   "dissatisfied": {"zh": "不满意", "en": "Not satisfied"}}
CASE_CHANNELS = ("staff", "patrol")
MAX_RESPONSE = 2000
BY = ("grid", "community", "overall")


def due_of(n: ResidentNeed, settings: Settings) -> dt.date:
    """A need's due date: its own, else ``need_due_days`` local days after it was raised (a need raised at a visit
    check-in has no date of its own)."""
    return n.due_on or local_today(settings, n.created_at) + dt.timedelta(days=settings.need_due_days)


def grid_worker_of(session: Session, b: Building) -> int | None:
    return session.scalar(select(Grid.worker_id).where(Grid.id == b.grid_id)) if b.grid_id is not None else None


def loop_dict(session: Session, n: ResidentNeed, h: Household, b: Building, settings: Settings,
              today: dt.date | None = None) -> dict:
    """The register's need with its place in the loop: responsible, due date, answer, feedback, overdue."""
    out = need_dict(n, h, b)
    due = due_of(n, settings)
    who = session.get(User, n.responsible_id) if n.responsible_id else None
    number = session.scalar(select(Case.number).where(Case.id == n.case_id)) if n.case_id else None
    out.update({
        "responsible_id": n.responsible_id, "responsible": who.display_name if who else None,
        "due_on": due.isoformat(), "response": n.response,
        "responded_at": n.responded_at.isoformat() if n.responded_at else None, "feedback": n.feedback,
        "feedback_label": FEEDBACK_LABELS.get(n.feedback or ""), "feedback_note": n.feedback_note,
        "feedback_at": n.feedback_at.isoformat() if n.feedback_at else None, "case_number": number,
        "overdue": n.response is None and n.status != "resolved" and due < (today or local_today(settings))})
    return out


def reads_people(actor: Actor) -> bool:
    """Whether ``actor`` lists needs with their households (the register's roles), not only their counts."""
    try:
        require_personal_role(actor)
    except Forbidden:
        return False
    return True


def _need(session: Session, actor: Actor, need_id: int, *, for_update: bool = False
          ) -> tuple[ResidentNeed, Household, Building]:
    require_personal_role(actor)
    stmt = select(ResidentNeed).where(ResidentNeed.id == need_id)
    if for_update and session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    n = session.scalars(stmt).first()
    if n is None:
        raise NotFound(f"no need {need_id}", field="need_id")
    h, b = household_in_scope(session, actor, n.household_id)
    return n, h, b


def assign_need(session: Session, actor: Actor, settings: Settings, need_id: int, data: dict, *,
                via: str) -> dict:
    """Set who answers a need and by when ``{responsible_id?, due_on?}`` (the fields given)."""
    n, h, b = _need(session, actor, need_id)
    if "responsible_id" in data:
        rid = data["responsible_id"]
        user = session.get(User, rid) if rid is not None else None
        if rid is not None and (user is None or not user.active or user.role not in (
                "grid_worker", "supervisor", "grid_lead", "building_lead")):
            raise InvalidInput(f"user {rid} is not an active grid worker, supervisor, 网格长 or 楼栋长",
                               field="responsible_id")
        n.responsible_id = rid
    if "due_on" in data:
        due = data["due_on"]
        if due is not None and not isinstance(due, dt.date):
            raise InvalidInput("due_on must be a date such as 2026-12-31", field="due_on")
        if due is not None and due < n.created_at.astimezone(ZoneInfo(settings.timezone)).date():
            raise InvalidInput(f"due_on ({due}) is before the need was raised", field="due_on")
        n.due_on = due
    session.flush()
    audit(session, actor, "update", via, [(h.id, None)])
    return loop_dict(session, n, h, b, settings)


def answer_need(session: Session, actor: Actor, settings: Settings, need_id: int, data: dict, *, via: str,
                now: dt.datetime | None = None) -> dict:
    """Record the answer given to the resident ``{response, status?}`` (件件有回应): the answer and its time; the
    status moves forward to ``status`` when given (in_progress or resolved), else an open need is in progress."""
    n, h, b = _need(session, actor, need_id, for_update=True)
    text = data.get("response")
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("response (the answer given to the resident) is required", field="response")
    if len(text.strip()) > MAX_RESPONSE:
        raise InvalidInput(f"response has at most {MAX_RESPONSE} characters", field="response")
    status = data.get("status") or ("in_progress" if n.status == "open" else n.status)
    if status != n.status and status not in NEED_MOVES[n.status]:
        raise Conflict(f"need {need_id} is {n.status}; it can move to "
                       f"{' or '.join(NEED_MOVES[n.status]) or 'nothing else'}, not to {status}", field="status")
    now = now or now_utc()
    if n.response != text.strip():
        n.response, n.responded_at = text.strip(), now
    if status != n.status:
        n.status = status
        n.resolved_at = now if status == "resolved" else n.resolved_at
    session.flush()
    audit(session, actor, "update", via, [(h.id, None)])
    return loop_dict(session, n, h, b, settings)


def record_feedback(session: Session, actor: Actor, settings: Settings, need_id: int, data: dict, *, via: str,
                    now: dt.datetime | None = None) -> dict:
    """The resident's word on the answer ``{feedback, note?}`` (满意 / 基本满意 / 不满意); 409 before an answer."""
    n, h, b = _need(session, actor, need_id)
    feedback = data.get("feedback")
    if feedback not in FEEDBACK:
        raise InvalidInput(f"feedback {feedback!r} is one of {', '.join(FEEDBACK)} (满意 / 基本满意 / 不满意)",
                           field="feedback")
    if n.response is None:
        raise Conflict(f"need {need_id} has no answer yet: record the answer first", field="feedback")
    note = data.get("note")
    if note is not None and (not isinstance(note, str) or len(note) > MAX_RESPONSE):
        raise InvalidInput(f"note is text of at most {MAX_RESPONSE} characters", field="note")
    n.feedback, n.feedback_note, n.feedback_at = feedback, (note or "").strip() or None, now or now_utc()
    session.flush()
    audit(session, actor, "update", via, [(h.id, None)])
    return loop_dict(session, n, h, b, settings)


def need_to_case(session: Session, actor: Actor, settings: Settings, need_id: int, data: dict, *, via: str,
                 now: dt.datetime | None = None) -> dict:
    """Turn a need into a case ``{category, description?, channel?, client_id?}`` at the household's building; the
    need is linked and in progress. The case's text is the staff's ``description`` (default: 民情诉求 and the need's
    type) — never the resident's name or the need's words (the case is not personal data). A retry with the same
    client id returns the same case."""
    n, h, b = _need(session, actor, need_id, for_update=True)
    channel = data.get("channel") or ("patrol" if actor.role == "grid_worker" else "staff")
    if channel not in CASE_CHANNELS:
        raise InvalidInput(f"channel {channel!r} is staff or patrol", field="channel")
    if n.case_id is not None:
        linked = session.get(Case, n.case_id)
        assert linked is not None  # the foreign key sets it NULL when the case goes
        if data.get("client_id") and linked.client_id == cases.parse_client_id(data["client_id"]):
            out = loop_dict(session, n, h, b, settings)  # a retried request: the same case
            out["case_created"] = False
            return out
        raise Conflict(f"need {need_id} is already linked to case {linked.number}", field="need_id")
    description = data.get("description") or f"民情诉求（{NEED_LABELS[n.type]['zh']}）"
    if not isinstance(description, str) or len(description) > MAX_RESPONSE:
        raise InvalidInput(f"description is text of at most {MAX_RESPONSE} characters", field="description")
    geom = session.scalar(select(func.ST_AsBinary(Building.geom)).where(Building.id == b.id))
    if geom is None:
        raise InvalidInput("the household's building has no shape to place the case at", field="need_id")
    p = shapely.from_wkb(bytes(geom)).representative_point()
    created = cases.create_case(session, actor, settings,
                                client_id=data.get("client_id"), category=str(data.get("category") or ""),
                                lon=p.x, lat=p.y, description=description, building_id=b.id, channel=channel,
                                now=now)
    n.case_id = created.case.id
    if n.status == "open":
        n.status = "in_progress"
    session.flush()
    audit(session, actor, "update", via, [(h.id, None)])
    out = loop_dict(session, n, h, b, settings)
    out["case_created"] = created.created
    return out


def link_need(session: Session, actor: Actor, settings: Settings, need_id: int, case_id: int, *,
              via: str) -> dict:
    """Link a need to an existing case the caller may read; it follows that case from now on."""
    n, h, b = _need(session, actor, need_id)
    if actor.role == CLI_ROLE:
        case = session.get(Case, case_id)
        if case is None:
            raise NotFound(f"no case {case_id}", field="case_id")
    else:
        case = get_case(session, actor, case_id)
    if n.case_id not in (None, case.id):
        raise Conflict(f"need {need_id} is already linked to another case", field="case_id")
    n.case_id = case.id
    if case.status == "closed" and n.status != "resolved":
        n.status, n.resolved_at = "resolved", now_utc()
    elif n.status == "open":
        n.status = "in_progress"
    session.flush()
    audit(session, actor, "update", via, [(h.id, None)])
    return loop_dict(session, n, h, b, settings)


def open_needs(session: Session, actor: Actor, settings: Settings, *, via: str, overdue_only: bool = False,
               limit: int = 500) -> list[dict]:
    """The needs not yet resolved in ``actor``'s scope, the most overdue first; audited ``list``."""
    today = local_today(settings)
    where = [*personal_scope(actor), ResidentNeed.status != "resolved"]
    rows = session.execute(
        select(ResidentNeed, Household, Building).join(Household, Household.id == ResidentNeed.household_id)
        .join(Building, Building.id == Household.building_id).where(*where)
        .order_by(ResidentNeed.due_on.is_(None), ResidentNeed.due_on, ResidentNeed.id).limit(limit)).all()
    audit(session, actor, "list", via, ((h.id, None) for _, h, _ in rows))
    out = [loop_dict(session, n, h, b, settings, today) for n, h, b in rows]
    return [r for r in out if r["overdue"]] if overdue_only else out


# ---------------------------------------------------------------------------------------------- KPIs


def figures_scope(session: Session, actor: Actor) -> list:
    """WHERE clauses over :class:`Building` for the figures ``actor`` may see (counts, no people): admin and
    planner the city, a subdistrict user her communities, a supervisor her community, a grid worker her grids."""
    role = actor.role
    if role in ("admin", "planner", CLI_ROLE):
        return []
    if role == "subdistrict":
        ids = sorted(actor.community_ids) or [-1]
    elif role == "supervisor" and actor.community_id is not None:
        ids = [actor.community_id]
    elif role in ("grid_worker", "grid_lead"):
        return [Building.grid_id.in_(sorted(actor.grid_ids) or [-1])]
    else:
        raise Forbidden(f"a {role} sees no figures of the residents' needs", field="role")
    grids = select(Grid.id).where(Grid.community_id.in_(ids))
    return [Building.grid_id.in_(grids) | (Building.grid_id.is_(None) & Building.community_id.in_(ids))]


def _labels(session: Session, by: str) -> dict:
    if by == "grid":
        return {i: (c, n) for i, c, n in session.execute(select(Grid.id, Grid.code, Grid.name))}
    if by == "community":
        return {i: (c, n) for i, c, n in session.execute(select(Community.id, Community.code, Community.name))}
    return {None: (None, None)}


def needs_kpis(session: Session, actor: Actor, settings: Settings, *, by: str = "grid", start: dt.date,
               end: dt.date, today: dt.date | None = None) -> list[dict]:
    """Per group, the needs raised in [start, end) (local days): ``needs``, ``answered`` (an answer recorded),
    ``answered_on_time`` (answered on or before its due date, local), ``overdue`` (no answer and its due date before
    ``today``), ``resolved``, ``feedback`` / ``satisfied`` (满意 or 基本满意); ``answered_share`` = answered ÷
    needs and ``on_time_share`` = answered on time ÷ needs (None when there are none)."""
    if by not in BY:
        raise InvalidInput(f"by {by!r} is one of {', '.join(BY)}", field="by")
    zone = ZoneInfo(settings.timezone)
    today = today or local_today(settings)
    s = dt.datetime.combine(start, dt.time(), zone).astimezone(dt.UTC)
    e = dt.datetime.combine(end, dt.time(), zone).astimezone(dt.UTC)
    grid_community = select(Grid.community_id).where(Grid.id == Building.grid_id).scalar_subquery()
    rows = session.execute(
        select(ResidentNeed, Building.grid_id, func.coalesce(grid_community, Building.community_id))
        .join(Household, Household.id == ResidentNeed.household_id)
        .join(Building, Building.id == Household.building_id)
        .where(*figures_scope(session, actor), ResidentNeed.created_at >= s, ResidentNeed.created_at < e)).all()
    labels = _labels(session, by)
    groups: dict[Any, dict[str, int]] = {}
    for n, grid_id, community_id in rows:
        key = {"grid": grid_id, "community": community_id, "overall": None}[by]
        g = groups.setdefault(key, dict.fromkeys(("needs", "answered", "answered_on_time", "overdue", "resolved",
                                                  "feedback", "satisfied"), 0))
        g["needs"] += 1
        if n.responded_at is not None:
            g["answered"] += 1
            if n.responded_at.astimezone(zone).date() <= due_of(n, settings):
                g["answered_on_time"] += 1
        elif n.status != "resolved" and due_of(n, settings) < today:
            g["overdue"] += 1
        g["resolved"] += n.status == "resolved"
        g["feedback"] += n.feedback is not None
        g["satisfied"] += n.feedback in ("satisfied", "basically")
    out = []
    for key, g in groups.items():
        code, name = labels.get(key, (None, None))
        out.append({"key": key, "code": code, "name": name, **g,
                    "answered_share": round(g["answered"] / g["needs"], 4) if g["needs"] else None,
                    "on_time_share": round(g["answered_on_time"] / g["needs"], 4) if g["needs"] else None})
    return sorted(out, key=lambda r: str(r["code"] or ""))
