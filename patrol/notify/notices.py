"""Who is told what about a case, written in the caller's transaction (the transactional outbox).

When a case is dispatched, whistled, returned, escalated, urged (督办) or reworked, or nears its deadline, every
addressee gets an in-app :class:`~patrol.core.models.Notice`, and each active :class:`NotifyChannel` of the addressee
(and of the addressed unit) gets one :class:`~patrol.core.models.Outbox` row that :mod:`patrol.notify.delivery` sends
later. Nothing here commits: when the action rolls back, so do its notices; once it commits, they are on disk and a
crash of the sender loses none. Every row carries a ``dedupe_key`` built from the case, the event (or the deadline)
and the addressee, so running the same job twice writes each once.

No personal data of residents (the case's ``contact_*``) goes into a notice or a payload: the case number, its
category, address, status and the staff's note.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from patrol.cases.overdue import near_clause, near_thresholds
from patrol.cases.worktime import calendar
from patrol.core.models import Case, CaseEvent, CaseTask, Category, Community, Notice, NotifyChannel, Outbox, User
from patrol.core.settings import Settings
from patrol.core.time import aware, now_utc

#: What each kind of notice says, in the title (Chinese first: the users' language; English for webhooks' readers).
KINDS: dict[str, tuple[str, str]] = {
    "dispatch": ("新派遣案件", "Case dispatched to you"),
    "whistle": ("吹哨报到", "Whistle: report in"),
    "return": ("案件被退回", "Case returned"),
    "escalate": ("案件升级", "Case escalated"),
    "persuade_fail": ("劝导无效，转城管", "Persuasion failed: to law enforcement"),
    "urge": ("督办", "Case urged"),
    "rework": ("核查不通过，请返工", "Rework required"),
    "near_deadline": ("即将超期", "Deadline near"),
}
STATUS_ZH = {"reported": "已上报", "registered": "已立案", "dispatched": "已派遣", "accepted": "处置中",
             "handled": "已处置", "verified": "已核查", "suspended": "缓办", "closed": "已结案",
             "rejected": "不予立案", "duplicate": "重复"}
#: The kinds of channel, and the shape of what each is sent.
CHANNEL_KINDS = ("email", "webhook", "wecom", "dingtalk")


@dataclass
class Recipients:
    """The users told (each gets a notice, and her channels a message) and the units whose channels are told."""

    users: list[int] = field(default_factory=list)
    units: list[int] = field(default_factory=list)


def case_link(settings: Settings, number: str | None) -> str:
    return f"{settings.public_url.rstrip('/')}/desk/cases/{number}"


# ---------------------------------------------------------------------------------------------- addressees


def _ids(session: Session, stmt) -> list[int]:
    return sorted(set(session.scalars(stmt)))


def unit_users(session: Session, units: list[int]) -> list[int]:
    if not units:
        return []
    return _ids(session, select(User.id).where(User.unit_id.in_(units), User.active.is_(True)))


def supervisors(session: Session, community_id: int | None) -> list[int]:
    return _ids(session, select(User.id).where(User.role == "supervisor", User.community_id == community_id,
                                               User.active.is_(True)))


def subdistrict_users(session: Session, community_id: int | None) -> list[int]:
    sub = session.scalar(select(Community.subdistrict_id).where(Community.id == community_id))
    return _ids(session, select(User.id).where(User.role == "subdistrict", User.subdistrict_id == sub,
                                               User.active.is_(True)))


def task_units(session: Session, case_id: int) -> list[int]:
    return _ids(session, select(CaseTask.unit_id).where(CaseTask.case_id == case_id,
                                                        CaseTask.status != "not_responsible"))


def holder(session: Session, case: Case) -> Recipients:
    """Whoever holds the case now: the whistled units or the unit or grid worker it was dispatched to while it is
    dispatched or accepted; else (to register, dispatch, verify or close) the community's supervisors."""
    if case.status in ("dispatched", "accepted"):
        units = task_units(session, case.id)
        if not units and case.unit_id is not None:
            units = [case.unit_id]
        if units:
            return Recipients(unit_users(session, units), units)
        if case.assignee_id is not None:
            return Recipients([case.assignee_id])
    return Recipients(supervisors(session, case.community_id))


def addressees(session: Session, case: Case, event: CaseEvent) -> Recipients | None:
    """Who is told about ``event`` (None: an event nobody is told about)."""
    action = event.action
    if action == "dispatch":
        unit = event.unit_id or case.unit_id
        if unit is not None:
            return Recipients(unit_users(session, [unit]), [unit])
        return Recipients([case.assignee_id] if case.assignee_id else [])
    if action == "whistle":
        units = task_units(session, case.id)
        return Recipients(unit_users(session, units), units)
    if action == "return":
        return Recipients(supervisors(session, case.community_id))
    if action in ("escalate", "persuade_fail"):
        if event.level == "department" or case.level == "department":
            return Recipients(subdistrict_users(session, case.community_id))
        return Recipients(supervisors(session, case.community_id))
    if action in ("urge", "rework"):
        return holder(session, case)
    return None


# ---------------------------------------------------------------------------------------------- messages


@dataclass
class Message:
    """What one notice says, in every shape a channel takes."""

    kind: str
    title: str
    body: str
    fields: dict

    def payload(self, channel_kind: str) -> str:
        if channel_kind == "email":
            return _dumps({"subject": self.title, "text": self.text()})
        if channel_kind == "wecom":
            return _dumps({"msgtype": "markdown", "markdown": {"content": self.markdown()}})
        if channel_kind == "dingtalk":
            return _dumps({"msgtype": "markdown", "markdown": {"title": self.title, "text": self.markdown()}})
        return _dumps(self.fields)

    def text(self) -> str:
        f = self.fields
        lines = [self.title, "", f"案件编号 Case: {f['case_number']}", f"类别 Category: {f['category']}",
                 f"地址 Address: {f['address'] or '-'}", f"状态 Status: {STATUS_ZH.get(f['status'], f['status'])}"]
        if self.body:
            lines += ["", self.body]
        return "\n".join([*lines, "", f"查看案件 Open the case: {f['url']}", ""])

    def markdown(self) -> str:
        f = self.fields
        lines = [f"### {self.title}", f"> 案件编号：{f['case_number']}", f"> 类别：{f['category']}",
                 f"> 地址：{f['address'] or '-'}", f"> 状态：{STATUS_ZH.get(f['status'], f['status'])}"]
        if self.body:
            lines += ["", self.body]
        return "\n".join([*lines, "", f"[查看案件]({f['url']})"])


def _dumps(value: dict) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def message(session: Session, case: Case, kind: str, note: str | None, at: dt.datetime,
            settings: Settings) -> Message:
    cat = session.get(Category, case.category_code)
    category = cat.name_zh if cat is not None else case.category_code
    address = (case.address or "").strip()
    title = " ".join(p for p in (f"【{KINDS[kind][0]}】{case.number}", category, address) if p)[:300]
    fields = {"event": kind, "case_number": case.number, "category": category, "status": case.status,
              "address": address or None, "note": note or None, "url": case_link(settings, case.number),
              "at": aware(at).isoformat()}
    return Message(kind, title, note or "", fields)


# ---------------------------------------------------------------------------------------------- writing


def _new_keys(session: Session, model, keys: list[str]) -> set[str]:
    """The keys of ``keys`` not yet written to ``model`` (the dedupe check, one query per thousand keys)."""
    seen: set[str] = set()
    for i in range(0, len(keys), 1000):
        seen |= set(session.scalars(select(model.dedupe_key).where(model.dedupe_key.in_(keys[i:i + 1000]))))
    return set(keys) - seen


def emit(session: Session, case: Case, msg: Message, to: Recipients, key: str, *,
         exclude: int | None = None) -> int:
    """Write one notice per user of ``to`` (but ``exclude``, who did it) and one outbox row per active channel of
    those users and of ``to.units``; ``key`` identifies the occurrence (kind, case, event). Returns the notices
    written (0 when this occurrence was already emitted)."""
    users = [u for u in dict.fromkeys(to.users) if u is not None and u != exclude]
    keys = {u: f"{key}:{u}" for u in users}
    fresh = _new_keys(session, Notice, list(keys.values()))
    notices: dict[int, Notice] = {}
    for u in users:
        if keys[u] in fresh:
            notices[u] = Notice(user_id=u, case_id=case.id, kind=msg.kind, title=msg.title, body=msg.body or None,
                                dedupe_key=keys[u])
            session.add(notices[u])
    session.flush()
    owners = [NotifyChannel.user_id.in_(users)] if users else []
    if to.units:
        owners.append(NotifyChannel.unit_id.in_(to.units))
    if not owners:
        return len(notices)
    channels = session.scalars(select(NotifyChannel).where(NotifyChannel.active.is_(True), or_(*owners))
                               .order_by(NotifyChannel.id)).all()
    rows: dict[str, tuple[NotifyChannel, int | None]] = {}
    for ch in channels:
        if ch.user_id is not None and ch.user_id in keys:
            rows[f"{keys[ch.user_id]}:ch{ch.id}"] = (ch, notices[ch.user_id].id if ch.user_id in notices else None)
        elif ch.unit_id is not None and ch.unit_id in to.units:
            rows[f"{key}:unit{ch.unit_id}:ch{ch.id}"] = (ch, None)
    fresh = _new_keys(session, Outbox, list(rows))
    for k, (ch, notice_id) in rows.items():
        if k in fresh:
            session.add(Outbox(notice_id=notice_id, channel_id=ch.id, case_id=case.id, kind=ch.kind,
                               address=ch.address, payload=msg.payload(ch.kind), dedupe_key=k))
    session.flush()
    return len(notices)


def case_event(session: Session, case: Case, event: CaseEvent, settings: Settings) -> int:
    """Tell the addressees of ``event`` (just written for ``case``); the number of notices written."""
    to = addressees(session, case, event)
    if to is None:
        return 0
    kind = event.action
    note = event.note
    if kind == "urge" and case.deadline_at is not None:
        local = aware(case.deadline_at).astimezone(ZoneInfo(settings.timezone))
        note = f"{note or ''}\n办理期限：{local:%Y-%m-%d %H:%M}".strip()
    msg = message(session, case, kind, note, event.at, settings)
    return emit(session, case, msg, to, f"{kind}:{case.id}:{event.id}", exclude=event.actor_id)


def case_events(session: Session, case: Case, settings: Settings, *, at: dt.datetime) -> int:
    """Tell the addressees of every event written for ``case`` at ``at`` (an action that wrote several: a whistled
    department's task and the case's return when every department returned it)."""
    events = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.at == at)
                             .order_by(CaseEvent.id)).all()
    return sum(case_event(session, case, ev, settings) for ev in events)


# ---------------------------------------------------------------------------------------------- nearing deadlines


def nearing_deadline(session: Session, settings: Settings, now: dt.datetime) -> list[tuple[Case, float]]:
    """Running cases near their deadline (the desk's 即将超期: :func:`patrol.cases.overdue.near_clause`), with the
    working hours left."""
    cal = calendar(settings)
    stmt = select(Case).where(near_clause(near_thresholds(session, settings, now), now)).order_by(Case.id)
    return [(case, cal.working_hours_between(now, aware(case.deadline_at))) for case in session.scalars(stmt)]


def near_deadline(session: Session, settings: Settings, *, now: dt.datetime | None = None) -> int:
    """Emit a "nearing its deadline" notice to the holder of every such case, once per deadline (a new deadline —
    dispatched again, urged with new hours — is noticed again). Returns the notices written."""
    now = now or now_utc()
    written = 0
    for case, left in nearing_deadline(session, settings, now):
        deadline = aware(case.deadline_at)
        local = deadline.astimezone(ZoneInfo(settings.timezone))
        note = f"剩余 {left:.1f} 个工作小时，期限 {local:%Y-%m-%d %H:%M}"
        msg = message(session, case, "near_deadline", note, now, settings)
        key = f"near_deadline:{case.id}:{deadline.astimezone(dt.UTC):%Y%m%dT%H%M%S}"
        try:  # a job running at the same moment wrote the same notices: theirs stand, this one adds none
            with session.begin_nested():
                written += emit(session, case, msg, holder(session, case), key)
        except IntegrityError:
            continue
    return written
