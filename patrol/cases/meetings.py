"""协商议事: the meetings where residents agree on a matter before the plan is carried out (问需会, 流动民主日,
网格协商议事会, 居民议事会, 民主议事会, 小马扎议事会 and the 三会: 听证会 / 协调会 / 评议会 — kinds as data,
:mod:`patrol.cases.lists`).

A meeting belongs to a community and runs ``planned`` → ``held`` → ``decided`` (or ``cancelled``): plan it (topic,
kind, date, place), put cases and 民情台账 needs on its agenda (:class:`~patrol.core.models.MeetingLink` role
``topic``), record it held (participants, residents' representatives, the options put to it, minutes), decide (the
decision in words, and the vote where one was taken: for / against / abstain, together at most the participants),
and create follow-up cases from the decision (role ``follow_up``, registered at once). Meetings are numbered
``YS2026-0007`` (议事, the local year, a sequence). A decision is written into the timeline of every open case on
the agenda (a 补充 step), and a case whose 研判 asked for 议事 can be dispatched once a meeting on it has decided
(:func:`patrol.cases.assessment.meeting_gate`).

Who: the community's supervisor, the 街道 of its subdistrict and the admin plan, hold and decide; a 网格长 reads
the meetings of the communities of her grids. The agenda names cases by number and needs by type: never a
resident's name, room or words (the register is read through :mod:`patrol.surveys.residents`).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from patrol.cases.assessment import waits_for_meeting
from patrol.cases.lifecycle import OPEN
from patrol.cases.lists import meeting_kinds, name_of
from patrol.cases.service import create_case, transition
from patrol.core.auth import Actor
from patrol.core.errors import Conflict, Forbidden, GridPatrolError, InvalidInput, NotFound
from patrol.core.models import (
    MEETING_STATES,
    Building,
    Case,
    Category,
    Community,
    Grid,
    Household,
    Meeting,
    MeetingLink,
    ResidentNeed,
    User,
)
from patrol.core.settings import Settings
from patrol.core.time import iso, now_utc

STAFF = ("supervisor", "subdistrict", "admin")
READERS = (*STAFF, "grid_lead")
STATE = {"zh": {"planned": "计划中", "held": "已召开", "decided": "已决定", "cancelled": "已取消"},
         "en": {"planned": "Planned", "held": "Held", "decided": "Decided", "cancelled": "Cancelled"}}
TOPIC_MAX, TEXT_MAX, OPTIONS_MAX = 300, 8000, 12


# ---------------------------------------------------------------------------------------------- scope


def community_scope(session: Session, actor: Actor) -> set[int] | None:
    """The communities whose meetings ``actor`` reads (None: all, the admin); 403 for other roles."""
    if actor.role == "admin":
        return None
    if actor.role == "supervisor":
        return {actor.community_id} if actor.community_id is not None else set()
    if actor.role == "subdistrict":
        return set(actor.community_ids)
    if actor.role == "grid_lead":
        return set(session.scalars(select(Grid.community_id).where(Grid.id.in_(sorted(actor.grid_ids) or [-1]))))
    raise Forbidden(f"a {actor.role} has no 议事 meetings", field="role")


def _may_write(actor: Actor) -> None:
    if actor.role not in STAFF:
        raise Forbidden(f"a {actor.role} cannot plan or decide meetings", field="role")


def _community(session: Session, actor: Actor, code: str | None) -> Community:
    """The community a new meeting belongs to: the code given (in scope), else the supervisor's own."""
    scope = community_scope(session, actor)
    if not code:
        if actor.role == "supervisor" and actor.community_id is not None:
            return session.get(Community, actor.community_id)
        raise InvalidInput("give the community's code", field="community")
    com = session.scalars(select(Community).where(Community.code == code)).first()
    if com is None:
        raise InvalidInput(f"no community coded {code!r}", field="community")
    if scope is not None and com.id not in scope:
        raise Forbidden(f"community {code} is outside your scope ({actor.role})", field="community")
    return com


def find_meeting(session: Session, actor: Actor, number: str, *, for_update: bool = False) -> Meeting:
    """The meeting numbered ``number`` (404 naming ``number``; 403 outside the actor's communities)."""
    stmt = select(Meeting).where(Meeting.number == number)
    if for_update and session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    m = session.scalars(stmt).first()
    if m is None:
        raise NotFound(f"no meeting numbered {number!r}", field="number")
    scope = community_scope(session, actor)
    if scope is not None and m.community_id not in scope:
        raise Forbidden(f"meeting {number} is outside your scope ({actor.role})", field="number")
    return m


# ---------------------------------------------------------------------------------------------- input


def _when(value: str | dt.datetime | dt.date | None, settings: Settings, field: str = "held_at") -> dt.datetime | None:
    """A time as given: ISO (a naive one, or a date, is local to the city), None when empty."""
    if value is None or value == "":
        return None
    zone = ZoneInfo(settings.timezone)
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.strip().replace(" ", "T", 1)) if "T" in value or ":" in value \
                else dt.date.fromisoformat(value.strip())
        except ValueError:
            raise InvalidInput(f"{field} must be a date or time such as 2026-12-08 or 2026-12-08T19:00, "
                               f"got {value!r}", field=field) from None
    if not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time(9, 0))
    return (value if value.tzinfo else value.replace(tzinfo=zone)).astimezone(dt.UTC)


def _text(value: str | None, field: str, limit: int, *, required: bool = False) -> str | None:
    value = (value or "").strip()
    if required and not value:
        raise InvalidInput(f"{field} is required", field=field)
    if len(value) > limit:
        raise InvalidInput(f"{field} is longer than {limit} characters", field=field)
    return value or None


def _count(value: Any, field: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput(f"{field} must be a whole number ≥ 0, got {value!r}", field=field)
    return value


def _kind(settings: Settings, kind: str | None) -> str:
    codes = [k.code for k in meeting_kinds(settings)]
    if kind not in codes:
        raise InvalidInput(f"kind must be one of {', '.join(codes)}, got {kind!r}", field="kind")
    return kind


def _options(options: Sequence[str] | None) -> str | None:
    if options is None:
        return None
    items = [o.strip() for o in options if o and o.strip()]
    if len(items) > OPTIONS_MAX or any(len(o) > TOPIC_MAX for o in items):
        raise InvalidInput(f"at most {OPTIONS_MAX} options of at most {TOPIC_MAX} characters each", field="options")
    return json.dumps(items, ensure_ascii=False) if items else None


# ---------------------------------------------------------------------------------------------- writing


def plan_meeting(session: Session, actor: Actor, settings: Settings, *, kind: str, topic: str,
                 community: str | None = None, when: str | dt.datetime | dt.date | None = None,
                 place: str | None = None, cases: Sequence[str] = (), needs: Sequence[int] = (),
                 simulated: bool = False) -> Meeting:
    """Plan a meeting of a community (the supervisor's own, or ``community`` by code) on ``topic``; ``cases``
    (numbers) and ``needs`` (ids) go on its agenda."""
    _may_write(actor)
    com = _community(session, actor, community)
    m = Meeting(community_id=com.id, kind=_kind(settings, kind), topic=_text(topic, "topic", TOPIC_MAX, required=True),
                status="planned", held_at=_when(when, settings), place=_text(place, "place", 200),
                created_by=actor.user_id, simulated=simulated)
    session.add(m)
    session.flush()
    local = (m.held_at or now_utc()).astimezone(ZoneInfo(settings.timezone))
    m.number = f"YS{local.year:04d}-{m.id:04d}"
    for number in cases:
        _link_case(session, actor, m, number)
    for need in needs:
        _link_need(session, m, need)
    session.flush()
    return m


def _link_case(session: Session, actor: Actor, m: Meeting, number: str, role: str = "topic") -> Case:
    case = session.scalars(select(Case).where(Case.number == number)).first()
    if case is None:
        raise InvalidInput(f"no case numbered {number!r}", field="case")
    if case.community_id != m.community_id:
        raise InvalidInput(f"case {number} is not in the meeting's community", field="case")
    if session.scalar(select(MeetingLink.id).where(MeetingLink.meeting_id == m.id, MeetingLink.case_id == case.id)):
        raise Conflict(f"case {number} is already on meeting {m.number}", field="case")
    session.add(MeetingLink(meeting_id=m.id, case_id=case.id, role=role))
    return case


def _link_need(session: Session, m: Meeting, need_id: int) -> None:
    row = session.execute(select(ResidentNeed.id, Building.community_id)
                          .join(Household, Household.id == ResidentNeed.household_id)
                          .join(Building, Building.id == Household.building_id)
                          .where(ResidentNeed.id == need_id)).first()
    if row is None:
        raise InvalidInput(f"no need {need_id}", field="need")
    if row[1] != m.community_id:
        raise InvalidInput(f"need {need_id} is not in the meeting's community", field="need")
    if session.scalar(select(MeetingLink.id).where(MeetingLink.meeting_id == m.id, MeetingLink.need_id == need_id)):
        raise Conflict(f"need {need_id} is already on meeting {m.number}", field="need")
    session.add(MeetingLink(meeting_id=m.id, need_id=need_id, role="topic"))


def _open(m: Meeting, what: str) -> None:
    if m.status in ("decided", "cancelled"):
        raise Conflict(f"meeting {m.number} is {m.status}: cannot {what}", field="status")


def link(session: Session, actor: Actor, number: str, *, case: str | None = None,
         need: int | None = None) -> Meeting:
    """Put a case (by number) or a need (by id) on the agenda of a meeting not yet decided."""
    _may_write(actor)
    m = find_meeting(session, actor, number, for_update=True)
    _open(m, "change its agenda")
    if (case is None) == (need is None):
        raise InvalidInput("give a case number or a need", field="case")
    if case is not None:
        _link_case(session, actor, m, case)
    else:
        _link_need(session, m, int(need or 0))
    session.flush()
    return m


def _attendance(m: Meeting, participants: Any, representatives: Any) -> None:
    p = _count(participants, "participants")
    r = _count(representatives, "representatives")
    if p is not None:
        m.participants = p
    if r is not None:
        m.representatives = r
    if m.participants is not None and m.representatives is not None and m.representatives > m.participants:
        raise InvalidInput(f"representatives ({m.representatives}) cannot exceed the participants "
                           f"({m.participants})", field="representatives")


def record_held(session: Session, actor: Actor, settings: Settings, number: str, *, participants: int | None = None,
                representatives: int | None = None, options: Sequence[str] | None = None,
                minutes: str | None = None, when: str | dt.datetime | None = None,
                place: str | None = None) -> Meeting:
    """Record the meeting held: who came, the options put to it, the minutes (会议纪要)."""
    _may_write(actor)
    m = find_meeting(session, actor, number, for_update=True)
    _open(m, "record it held")
    _fill(m, settings, participants, representatives, options, minutes, when, place)
    m.status = "held"
    session.flush()
    return m


def _fill(m: Meeting, settings: Settings, participants: Any, representatives: Any, options: Sequence[str] | None,
          minutes: str | None, when: Any, place: str | None) -> None:
    _attendance(m, participants, representatives)
    if options is not None:
        m.options = _options(options)
    if minutes is not None:
        m.minutes = _text(minutes, "minutes", TEXT_MAX)
    m.held_at = _when(when, settings) or m.held_at or now_utc()
    if place is not None:
        m.place = _text(place, "place", 200)


def decide(session: Session, actor: Actor, settings: Settings, number: str, *, decision: str,
           votes_for: int | None = None, votes_against: int | None = None, votes_abstain: int | None = None,
           participants: int | None = None, representatives: int | None = None,
           options: Sequence[str] | None = None, minutes: str | None = None, when: str | dt.datetime | None = None,
           place: str | None = None, follow_ups: Sequence[dict[str, Any]] = ()) -> Meeting:
    """Decide (a planned meeting is recorded held in the same step): the decision, the vote where one was taken
    (for + against + abstain ≤ participants, which a vote requires), and the follow-up cases to create
    (``{"category", "description", "lon"?, "lat"?}``; at the first case on the agenda when no point is given).
    The decision is written into the timeline of the open cases on the agenda."""
    _may_write(actor)
    m = find_meeting(session, actor, number, for_update=True)
    _open(m, "decide it again")
    text = _text(decision, "decision", TEXT_MAX, required=True)
    _fill(m, settings, participants, representatives, options, minutes, when, place)
    votes = [_count(v, f) for v, f in ((votes_for, "votes_for"), (votes_against, "votes_against"),
                                       (votes_abstain, "votes_abstain"))]
    if any(v is not None for v in votes):
        if m.participants is None:
            raise InvalidInput("a vote needs the number of participants", field="participants")
        total = sum(v or 0 for v in votes)
        if total > m.participants:
            raise InvalidInput(f"the votes (for + against + abstain = {total}) exceed the participants "
                               f"({m.participants})", field="votes_for")
    m.decision, m.status = text, "decided"
    m.votes_for, m.votes_against, m.votes_abstain = votes
    session.flush()
    for f in follow_ups:
        add_follow_up(session, actor, settings, m, **f)
    _tell_cases(session, actor, settings, m)
    return m


def _tell_cases(session: Session, actor: Actor, settings: Settings, m: Meeting) -> None:
    """The decision as a 补充 step of every open case on the agenda the actor may supplement."""
    vote = "" if m.votes_for is None else \
        f"（赞成 {m.votes_for}，反对 {m.votes_against or 0}，弃权 {m.votes_abstain or 0}）"
    note = f"议事 {m.number} 已决定{vote}：{m.decision}"
    ids = session.scalars(select(MeetingLink.case_id).join(Case, Case.id == MeetingLink.case_id)
                          .where(MeetingLink.meeting_id == m.id, MeetingLink.role == "topic",
                                 Case.status.in_(sorted(OPEN)))).all()
    for cid in ids:
        try:
            with session.begin_nested():
                transition(session, actor, settings, cid, "supplement", note=note[:4000])
        except GridPatrolError:  # not hers to supplement: the meeting's own record still says it
            continue


def add_follow_up(session: Session, actor: Actor, settings: Settings, meeting: Meeting | str, *, category: str,
                  description: str | None = None, lon: float | None = None, lat: float | None = None) -> Case:
    """A case created from a decided meeting's decision, registered, linked as ``follow_up``."""
    _may_write(actor)
    m = meeting if isinstance(meeting, Meeting) else find_meeting(session, actor, meeting, for_update=True)
    if m.status != "decided":
        raise Conflict(f"meeting {m.number} has not decided yet: follow-up cases come from a decision",
                       field="status")
    if lon is None or lat is None:
        first = session.execute(select(func.ST_X(Case.geom), func.ST_Y(Case.geom))
                                .join(MeetingLink, MeetingLink.case_id == Case.id)
                                .where(MeetingLink.meeting_id == m.id, MeetingLink.role == "topic")
                                .order_by(MeetingLink.id).limit(1)).first()
        if first is None:
            raise InvalidInput("give lon and lat: the meeting has no case on its agenda to place the follow-up at",
                               field="lon")
        lon, lat = float(first[0]), float(first[1])
    note = _text(description, "description", 4000) or m.decision
    case = create_case(session, actor, settings, client_id=None, category=category, lon=lon, lat=lat,
                       description=f"{note}（议事 {m.number} 决定）", channel="staff").case
    if case.community_id != m.community_id:
        raise InvalidInput("the follow-up lies outside the meeting's community", field="lat")
    transition(session, actor, settings, case.id, "register", note=f"议事 {m.number} 决定的后续事项")
    session.add(MeetingLink(meeting_id=m.id, case_id=case.id, role="follow_up"))
    session.flush()
    return case


def cancel(session: Session, actor: Actor, number: str, *, reason: str) -> Meeting:
    _may_write(actor)
    m = find_meeting(session, actor, number, for_update=True)
    _open(m, "cancel it")
    m.minutes = _text(f"取消：{reason}" if reason else "", "reason", TEXT_MAX, required=True)
    m.status = "cancelled"
    session.flush()
    return m


# ---------------------------------------------------------------------------------------------- reading


def list_meetings(session: Session, actor: Actor, settings: Settings, *, community: str | None = None,
                  status: str | None = None, kind: str | None = None, start: dt.date | None = None,
                  end: dt.date | None = None, lang: str = "zh", limit: int = 200) -> list[dict[str, Any]]:
    """The meetings of the actor's communities, newest first, filtered (422 naming the filter)."""
    scope = community_scope(session, actor)
    where: list[ColumnElement[bool]] = []
    if scope is not None:
        where.append(Meeting.community_id.in_(sorted(scope) or [-1]))
    if community:
        com = session.scalar(select(Community.id).where(Community.code == community))
        if com is None or (scope is not None and com not in scope):
            raise InvalidInput(f"no community coded {community!r} in your scope", field="community")
        where.append(Meeting.community_id == com)
    if status:
        if status not in MEETING_STATES:
            raise InvalidInput(f"status must be one of {', '.join(MEETING_STATES)}", field="status")
        where.append(Meeting.status == status)
    if kind:
        where.append(Meeting.kind == _kind(settings, kind))
    if start and end and end < start:
        raise InvalidInput(f"end ({end}) must not be before start ({start})", field="end")
    zone = ZoneInfo(settings.timezone)
    when = func.coalesce(Meeting.held_at, Meeting.created_at)
    if start:
        where.append(when >= dt.datetime.combine(start, dt.time(), tzinfo=zone))
    if end:
        where.append(when < dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=zone))
    rows = session.execute(select(Meeting, Community.name).outerjoin(Community, Community.id == Meeting.community_id)
                           .where(*where).order_by(when.desc(), Meeting.id.desc()).limit(limit)).all()
    counts = dict(session.execute(select(MeetingLink.meeting_id, func.count(MeetingLink.id))
                                  .where(MeetingLink.meeting_id.in_([m.id for m, _ in rows] or [-1]),
                                         MeetingLink.role == "topic").group_by(MeetingLink.meeting_id)).all())
    kinds = meeting_kinds(settings)
    return [{"number": m.number, "community": name, "kind": m.kind, "kind_name": name_of(kinds, m.kind, lang),
             "topic": m.topic, "status": m.status, "status_name": STATE["en" if lang == "en" else "zh"][m.status],
             "held_at": iso(m.held_at), "place": m.place, "participants": m.participants,
             "votes_for": m.votes_for, "votes_against": m.votes_against, "votes_abstain": m.votes_abstain,
             "topics": counts.get(m.id, 0), "simulated": m.simulated} for m, name in rows]


def meeting_view(session: Session, actor: Actor, settings: Settings, number: str, *,
                 lang: str = "zh") -> dict[str, Any]:
    """A meeting as its page shows it: the record, the agenda (cases by number, needs by type), the follow-ups,
    and what the actor may do now."""
    m = find_meeting(session, actor, number)
    en = lang == "en"
    com = session.get(Community, m.community_id) if m.community_id is not None else None
    by = session.scalar(select(User.display_name).where(User.id == m.created_by)) if m.created_by else None
    cases = session.execute(select(MeetingLink.role, Case, Category.name_zh, Category.name_en)
                            .join(Case, Case.id == MeetingLink.case_id)
                            .join(Category, Category.code == Case.category_code)
                            .where(MeetingLink.meeting_id == m.id).order_by(MeetingLink.id)).all()
    needs = session.execute(select(ResidentNeed.id, ResidentNeed.type, ResidentNeed.status, Grid.name)
                            .join(MeetingLink, MeetingLink.need_id == ResidentNeed.id)
                            .join(Household, Household.id == ResidentNeed.household_id)
                            .join(Building, Building.id == Household.building_id)
                            .outerjoin(Grid, Grid.id == Building.grid_id)
                            .where(MeetingLink.meeting_id == m.id).order_by(MeetingLink.id)).all()

    def case_row(c: Case, zh: str, en_name: str) -> dict[str, Any]:
        return {"number": c.number, "category": en_name if en else zh, "status": c.status, "level": c.level,
                "address": c.address, "waits_for_meeting": waits_for_meeting(session, c.id)}

    writable = actor.role in STAFF and m.status not in ("decided", "cancelled")
    return {
        "number": m.number, "community": com.name if com else None, "community_code": com.code if com else None,
        "kind": m.kind, "kind_name": name_of(meeting_kinds(settings), m.kind, lang), "topic": m.topic,
        "status": m.status, "status_name": STATE["en" if en else "zh"][m.status], "held_at": iso(m.held_at),
        "place": m.place, "participants": m.participants, "representatives": m.representatives,
        "options": json.loads(m.options) if m.options else [], "decision": m.decision, "votes_for": m.votes_for,
        "votes_against": m.votes_against, "votes_abstain": m.votes_abstain, "minutes": m.minutes,
        "created_by": by, "created_at": iso(m.created_at), "simulated": m.simulated,
        "cases": [case_row(c, z, e) for role, c, z, e in cases if role == "topic"],
        "needs": [{"key": i, "type": t, "status": s, "grid": g} for i, t, s, g in needs],
        "follow_ups": [case_row(c, z, e) for role, c, z, e in cases if role == "follow_up"],
        "can_edit": writable, "can_follow_up": actor.role in STAFF and m.status == "decided",
    }


def kinds_view(settings: Settings) -> list[dict[str, Any]]:
    return [{"code": k.code, "zh": k.name_zh, "en": k.name_en} for k in meeting_kinds(settings)]
