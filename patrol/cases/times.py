"""When field work happened, as opposed to when the server heard of it.

A phone queues what the worker does while offline and sends it later, so every queued action carries the device time
it happened (``occurred_at``, ISO 8601 with offset) and the request carries the device clock at send time
(``X-Device-Time``, or ``sent_at``). The server keeps both: the occurrence (``Case.reported_at``, ``CaseEvent.at``,
``Revisit.done_at``) and the receipt (``received_at``), and counts deadlines and 按期 from the occurrence.

A device time is believed within bounds (:class:`patrol.core.settings.Settings`):

- the device clock is compared with the server's at send time: ``clock_skew_s`` = device now − server now. Beyond
  ``clock_skew_allowance_s`` the occurrence is corrected by the skew and flagged ``skew`` (a phone set 2 days ahead
  reports work "in two days": the correction brings it back to when it truly happened);
- an occurrence still in the future beyond the allowance is clamped to the receipt and flagged ``future``; a small
  one (within the allowance) is clamped silently;
- an occurrence older than ``occurrence_window_hours`` is clamped to the receipt and flagged ``too_old`` (a week-old
  "on time" handle is not believed).

Escalation and offline work: the periodic sweep cannot know about a 处置 still in a phone's outbox, so it escalates
at the deadline as always. When that 处置 (or 接单) arrives with an occurrence before the automatic escalation, the
escalation is undone (:func:`undo_later_escalation`): the case goes back to the level, unit, status and deadline it
had, and the action applies as at its occurrence — it counts as on time when it happened before the deadline. The
escalate event stays in the timeline (what the desk saw), and the action's note says it was undone.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from patrol.core.auth import Actor
from patrol.core.errors import InvalidInput
from patrol.core.models import Case, CaseEvent
from patrol.core.settings import Settings

#: the deadline an automatic escalation found passed, as its note gives it (service.escalate_if_overdue)
_PASSED = re.compile(r"\(deadline (\S+)\)")
MAX_SKEW_S = 10 * 365 * 86400
FLAGS = ("future", "too_old", "skew")
#: what the flags say, for the desk (zh, en)
FLAG_TEXT = {
    "future": ("设备时间晚于服务器，已按接收时间记", "in the future: recorded at receipt"),
    "too_old": ("发生时间过早，已按接收时间记", "too old: recorded at receipt"),
    "skew": ("设备时钟偏差，已校正", "device clock off: corrected"),
}


@dataclass(frozen=True)
class Occurrence:
    """The time an action is recorded at (``at``), when it was received, the device clock's skew and a flag."""

    at: dt.datetime
    received_at: dt.datetime
    clock_skew_s: int | None = None
    flag: str | None = None

    @property
    def offline(self) -> bool:
        """Did it happen before it was received (more than a few seconds: queued on the phone)?"""
        return (self.received_at - self.at).total_seconds() > 5

    def columns(self) -> dict:
        return {"received_at": self.received_at, "clock_skew_s": self.clock_skew_s, "time_flag": self.flag}


def parse_time(value: object, field: str) -> dt.datetime | None:
    """An aware datetime from an ISO 8601 string (or datetime) with offset; None for None/''; 422 on ``field``."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        t = value
    else:
        try:
            t = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            t.astimezone(dt.UTC)
        except (ValueError, OverflowError):
            raise InvalidInput(f"{field} must be an ISO 8601 time with offset such as 2026-12-05T09:00:00+08:00, "
                               f"got {value!r}", field=field) from None
    if t.tzinfo is None:
        raise InvalidInput(f"{field} needs its UTC offset (e.g. +08:00), got {value!r}", field=field)
    return t.astimezone(dt.UTC)


def occurrence(occurred_at: object, sent_at: object, settings: Settings, *, now: dt.datetime,
               field: str = "occurred_at") -> Occurrence:
    """The believable occurrence of an action the device says happened at ``occurred_at`` and sent when its clock
    read ``sent_at`` (both optional), received at ``now`` (see the module's rules)."""
    at = parse_time(occurred_at, field)
    sent = parse_time(sent_at, "sent_at")
    skew = round((sent - now).total_seconds()) if sent is not None else None
    if skew is not None:  # kept in a 32-bit column: a clock off by more than ten years is off by ten years
        skew = max(-MAX_SKEW_S, min(MAX_SKEW_S, skew))
    if at is None:
        return Occurrence(now, now, skew, None)
    allowance = dt.timedelta(seconds=settings.clock_skew_allowance_s)
    flag = None
    if skew is not None and abs(skew) > settings.clock_skew_allowance_s:
        try:
            at, flag = at - dt.timedelta(seconds=skew), "skew"
        except OverflowError:  # a clock off by millennia: nothing of its time is believable
            at, flag = now, "skew"
    if at > now + allowance:
        at, flag = now, "future"
    elif at < now - dt.timedelta(hours=settings.occurrence_window_hours):
        at, flag = now, "too_old"
    return Occurrence(min(at, now), now, skew, flag)


def undo_later_escalation(session: Session, case: Case, actor: Actor, action: str, sources: frozenset[str],
                          occurred: dt.datetime) -> str | None:
    """Undo the automatic escalation written after ``occurred`` when ``action`` (done at ``occurred``, received
    later) applied to the case as it was before it; returns the note to add to the action, or None."""
    if action not in ("accept", "handle"):
        return None
    last_two = list(session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)
                                    .order_by(CaseEvent.at.desc(), CaseEvent.id.desc()).limit(2)))
    if len(last_two) < 2:
        return None
    esc, before = last_two
    if (esc.action != "escalate" or esc.actor_id is not None or esc.at is None or esc.at <= occurred
            or esc.from_status not in sources or case.status != esc.to_status):
        return None
    case.status, case.level = esc.from_status, before.level
    case.unit_id = before.unit_id
    if actor.role == "grid_worker" and case.level == "grid":
        case.assignee_id = actor.user_id
    case.escalations = max(0, (case.escalations or 0) - 1)
    passed = _PASSED.search(esc.note or "")
    case.deadline_at = parse_time(passed[1], "note") if passed else esc.at  # the deadline the sweep found passed
    return "自动升级已撤销: 该操作发生于升级之前(离线上报) / escalation undone: done before it, synced later"
