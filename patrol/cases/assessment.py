"""研判 (assessment): the step of the loop after 立案 for a matter that is not a 小事 — sort it into the city's
诉求清单 (:mod:`patrol.cases.lists`), decide the level that handles it (grid / community / department) with a reason,
mark it 重难点 (a hard case) or 信访 (a petition), and say whether it needs the residents' agreement first
(``needs_meeting``: 议事, :mod:`patrol.cases.meetings`).

It is the action ``assess`` of :data:`patrol.cases.lifecycle.ACTIONS` (from ``registered``, the status unchanged),
carried out by :func:`patrol.cases.service.transition`, which calls :func:`prepare` (the checks: 422 naming the
field — ``reason`` is required), :func:`apply` (the effect on the case) and :func:`record` (the row, linked to the
step's event). **Escalation by assessment**: a level other than the case's re-routes it as ``escalate`` does — the
case's level changes, its unit and assignee are cleared so that the next dispatch chooses by the responsibility
rules at the new level (:mod:`patrol.cases.routing`), its deadline restarts at the category's; raising it counts
as an escalation. The case's ``demand_list``, ``key_case`` and ``petition`` follow the latest assessment; the
earlier ones stay as the record.

**Deliberation first**: while the latest assessment of a case says ``needs_meeting``, ``dispatch`` and ``whistle``
are refused (409 naming ``meeting``) until a meeting with the case on its agenda is ``decided``
(:func:`meeting_gate`). Cases never assessed run the loop as before.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from patrol.cases.lifecycle import LEVELS
from patrol.cases.lists import demand_lists, name_of, suggest
from patrol.cases.worktime import WorkCalendar
from patrol.core.auth import Actor
from patrol.core.errors import Conflict, InvalidInput
from patrol.core.models import ASSESSMENT_KINDS, Case, CaseAssessment, CaseEvent, Category, Meeting, MeetingLink, User
from patrol.core.settings import Settings
from patrol.core.time import iso

KIND = {"zh": {"comprehensive": "综合研判", "special": "专题研判"},
        "en": {"comprehensive": "Comprehensive", "special": "Special (专题)"}}
LEVEL_ZH = {"grid": "网格", "community": "社区", "department": "部门"}
#: the longest reason kept (the API's limit too)
REASON_MAX = 2000


@dataclass
class Prepared:
    """An assessment checked and ready to apply."""

    kind: str
    demand_list: str
    level: str
    reason: str
    key_case: bool
    petition: bool
    needs_meeting: bool
    from_level: str = ""


def _flag(params: Mapping[str, Any], name: str) -> bool:
    value = params.get(name, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InvalidInput(f"{name} must be true or false, got {value!r}", field=name)
    return value


def prepare(settings: Settings, case: Case, reason: str | None, params: Mapping[str, Any] | None) -> Prepared:
    """Check an assessment of ``case``: ``reason`` (required), ``kind`` (comprehensive | special, default
    comprehensive), ``demand_list`` (a code of the lists in force, default suggested from the category), ``level``
    (default the case's), the marks; 422 naming the field."""
    params = params or {}
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("研判 needs a reason: why this level (and list)", field="reason")
    if len(reason) > REASON_MAX:
        raise InvalidInput(f"reason is longer than {REASON_MAX} characters", field="reason")
    kind = params.get("kind") or "comprehensive"
    if kind not in ASSESSMENT_KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(ASSESSMENT_KINDS)}, got {kind!r}", field="kind")
    lists = demand_lists(settings)
    code = params.get("demand_list") or suggest(lists, case.category_code)
    if code not in {e.code for e in lists}:
        raise InvalidInput(f"demand_list must be one of {', '.join(e.code for e in lists)}, got {code!r}",
                           field="demand_list")
    level = params.get("level") or case.level
    if level not in LEVELS:
        raise InvalidInput(f"level must be one of {', '.join(LEVELS)}, got {level!r}", field="level")
    if level == "grid" and case.grid_id is None:
        raise InvalidInput("the case lies in no grid: it cannot be handled at grid level", field="level")
    return Prepared(kind, code, level, reason, _flag(params, "key_case"), _flag(params, "petition"),
                    _flag(params, "needs_meeting"), case.level)


def apply(settings: Settings, case: Case, p: Prepared, cat: Category, cal: WorkCalendar, now: dt.datetime) -> str:
    """Apply ``p`` to the case (its level re-routed when it differs, its columns following); returns the note of
    the step's event (what was decided, in words)."""
    moved = ""
    if p.level != case.level:
        up = LEVELS.index(p.level) > LEVELS.index(case.level)
        case.level, case.unit_id, case.assignee_id = p.level, None, None
        case.escalations += 1 if up else 0
        case.deadline_at = cal.add_working_hours(now, cat.deadline_hours)
        moved = f"，{'升级' if up else '降级'}：{LEVEL_ZH[p.from_level]} → {LEVEL_ZH[p.level]}"
    case.demand_list, case.key_case, case.petition = p.demand_list, p.key_case, p.petition
    marks = "".join(f"，{m}" for m, on in (("重难点", p.key_case), ("信访", p.petition), ("需议事", p.needs_meeting))
                    if on)
    listed = name_of(demand_lists(settings), p.demand_list)
    return (f"{KIND['zh'][p.kind]}：{listed}，{LEVEL_ZH[p.level]}层级处理{moved}{marks}。"
            f"理由：{p.reason}")


def record(session: Session, actor: Actor, case: Case, event: CaseEvent, p: Prepared) -> CaseAssessment:
    """The assessment's row, linked to the event of its step."""
    row = CaseAssessment(case_id=case.id, event_id=event.id, kind=p.kind, demand_list=p.demand_list, level=p.level,
                         reason=p.reason, key_case=p.key_case, petition=p.petition, needs_meeting=p.needs_meeting,
                         actor_id=actor.user_id, actor=actor.label, at=event.at)
    session.add(row)
    session.flush()
    return row


# ---------------------------------------------------------------------------------------------- reading


def latest(session: Session, case_id: int) -> CaseAssessment | None:
    return session.scalars(select(CaseAssessment).where(CaseAssessment.case_id == case_id)
                           .order_by(CaseAssessment.at.desc(), CaseAssessment.id.desc()).limit(1)).first()


def decided_meeting(session: Session, case_id: int) -> bool:
    """Whether a meeting with the case on its agenda has decided."""
    return bool(session.scalar(select(exists().where(
        MeetingLink.case_id == case_id, MeetingLink.role == "topic", MeetingLink.meeting_id == Meeting.id,
        Meeting.status == "decided"))))


def waits_for_meeting(session: Session, case_id: int) -> bool:
    """The latest assessment asks for 议事 and no meeting on the case has decided yet."""
    last = latest(session, case_id)
    return bool(last is not None and last.needs_meeting and not decided_meeting(session, case_id))


def meeting_gate(session: Session, case: Case) -> None:
    """409 naming ``meeting`` while the case waits for a 议事 decision (dispatch and whistle call it)."""
    if waits_for_meeting(session, case.id):
        raise Conflict(f"case {case.number} waits for a 议事 decision: the 研判 said it needs the residents' "
                       "agreement first; put it on a meeting's agenda and record the decision", field="meeting")


def history(session: Session, settings: Settings, case_id: int, lang: str = "zh") -> list[dict[str, Any]]:
    """Every assessment of the case, newest first, with the list's and the assessor's names."""
    lists = demand_lists(settings)
    rows = session.execute(select(CaseAssessment, User.display_name)
                           .outerjoin(User, User.id == CaseAssessment.actor_id)
                           .where(CaseAssessment.case_id == case_id)
                           .order_by(CaseAssessment.at.desc(), CaseAssessment.id.desc())).all()
    return [{"at": iso(a.at), "kind": a.kind, "kind_name": KIND["en" if lang == "en" else "zh"][a.kind],
             "demand_list": a.demand_list, "demand_list_name": name_of(lists, a.demand_list, lang),
             "level": a.level, "reason": a.reason, "key_case": a.key_case, "petition": a.petition,
             "needs_meeting": a.needs_meeting, "actor": name or a.actor} for a, name in rows]


def panel(session: Session, settings: Settings, case: Case, allowed: bool) -> dict[str, Any]:
    """What the case page's 研判 panel shows: the record, whether dispatch waits for a meeting (and the meetings on
    the case), and, when the actor may assess now, the form's choices with the suggested list."""
    lists = demand_lists(settings)
    meetings = session.execute(select(Meeting.number, Meeting.topic, Meeting.status, MeetingLink.role)
                               .join(MeetingLink, MeetingLink.meeting_id == Meeting.id)
                               .where(MeetingLink.case_id == case.id).order_by(Meeting.id)).all()
    return {"history": history(session, settings, case.id),
            "demand_list": case.demand_list, "key_case": case.key_case, "petition": case.petition,
            "waits_for_meeting": waits_for_meeting(session, case.id),
            "meetings": [{"number": n, "topic": t, "status": s, "role": r} for n, t, s, r in meetings],
            "form": None if not allowed else {
                "kinds": list(ASSESSMENT_KINDS), "levels": list(LEVELS), "level": case.level,
                "lists": [e.as_dict() for e in lists], "suggested": suggest(lists, case.category_code)}}
