"""调解: the mediation of a dispute case (邻里纠纷 C0115, or any case the staff choose) — issue 22.

A mediation belongs to one case. Its mediator is a user ("一名网格员就是一名调解员": a grid worker, a supervisor …)
or a volunteer team of kind ``mediation`` (和事佬) of the case's community. It has parties (申请人 / 被申请人 …:
names, phones, addresses — personal data), sessions (when, where, a staff note, each with a client id so that a
retried submission never doubles it) and an outcome: 达成协议 (``agreed``, with the agreement's text), 未达成
(``failed``) or 转交 (``referred``), with a follow-up (what to check, and the day of the 回访).

Who: the parties and the session notes are read — like the residents register — only by the worker of the case's
grid and the supervisor of its community (and the operator at the command line); every read writes a
``resident_audit`` row naming the case. Whoever else may read the case (admin, subdistrict, the department it went to,
a planner) sees the mediation without them: mediator, dates, outcome, the agreement (it is the case's 处置 note). The
same two roles record a mediation; nobody else does.

Closing with 达成协议 hands the case: the ``handle`` step of the loop (``accept`` first when it is only dispatched),
taken by the one who closes it, within her scope (:func:`patrol.cases.authority.refusal`), with the agreement as the
note — so the case goes on to 核查 and 结案 like any other. When she may not hand it (another worker's case, a case not
yet dispatched) the mediation closes all the same and the answer says why the case was not moved.

KPIs (:func:`mediation_kpis`): 调解数 (mediations opened in the period) and 调解成功率 = agreed ÷ closed (mediations
closed in the period with an outcome), by grid, community or mediator.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, or_, select
from sqlalchemy.orm import Session

from patrol.cases.authority import get_case, refusal, scope_filter
from patrol.cases.lifecycle import CLOSED
from patrol.cases.service import parse_client_id, transition
from patrol.core.auth import SYSTEM, Actor, actor_for
from patrol.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from patrol.core.models import (
    MEDIATION_OUTCOMES,
    Case,
    Community,
    Grid,
    Mediation,
    MediationParty,
    MediationSession,
    ResidentAudit,
    User,
    VolunteerTeam,
)
from patrol.core.settings import Settings
from patrol.core.time import iso, now_utc
from patrol.surveys.residents.access import CLI_ROLE, mask_phone

OUTCOME_LABELS = {"open": {"zh": "调解中", "en": "In mediation"}, "agreed": {"zh": "达成协议", "en": "Agreed"},
                  "failed": {"zh": "未达成", "en": "No agreement"}, "referred": {"zh": "转交", "en": "Referred"}}
CLOSING = ("agreed", "failed", "referred")
#: who may be a mediator (a user); a team must be of kind ``mediation``
MEDIATOR_ROLES = ("grid_worker", "supervisor", "grid_lead", "building_lead", "subdistrict")
PARTIES_ONLY = ("the parties of a mediation and its session notes are personal data: only the worker (and the 网格长) "
                "of the case's grid and the supervisor of its community read them")
MAX_PARTIES = 20
LIMITS = {"name": 100, "phone": 40, "address": 300, "role": 40, "place": 200, "note": 4000, "agreement": 4000,
          "follow_up": 2000}
PHONE = re.compile(r"^[0-9+\-() ]{3,40}$")
BY = ("grid", "community", "mediator", "overall")


# ---------------------------------------------------------------------------------------------- who


def reads_parties(actor: Actor, case: Case) -> bool:
    """Whether ``actor`` reads (and records) the mediation's parties and notes: the register's rule, on the case."""
    if actor.role == CLI_ROLE:
        return True
    if actor.role in ("grid_worker", "grid_lead"):  # a 网格长 reads her grids' register (patrol.people.scope)
        return actor.user_id is not None and case.grid_id is not None and case.grid_id in actor.grid_ids
    if actor.role == "supervisor":
        return actor.community_id is not None and case.community_id == actor.community_id
    return False


def _require_recorder(actor: Actor, case: Case) -> None:
    if not reads_parties(actor, case):
        raise Forbidden(f"a {actor.role} cannot record the mediation of case {case.number}: {PARTIES_ONLY}",
                        field="role")


def _audit(session: Session, actor: Actor, action: str, via: str, case_ids: Iterable[int],
           now: dt.datetime | None = None) -> None:
    rows = [{"at": now or now_utc(), "actor_id": actor.user_id, "actor": actor.label[:200], "action": action,
             "household_id": None, "resident_id": None, "via": (via or "?")[:100], "case_id": c}
            for c in dict.fromkeys(case_ids)]
    if rows:
        session.execute(insert(ResidentAudit), rows)


# ---------------------------------------------------------------------------------------------- input


def _text(data: dict, name: str, *, required: bool = False, field: str | None = None) -> str | None:
    value = data.get(name)
    field = field or name
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InvalidInput(f"{name} is required", field=field)
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be text", field=field)
    value = value.strip()
    if len(value) > LIMITS[name]:
        raise InvalidInput(f"{name} has at most {LIMITS[name]} characters, got {len(value)}", field=field)
    return value


def clean_party(data: Any, index: int | None = None) -> dict:
    """A party ``{name, phone?, address?, role?}``; 422 naming the field (``parties.<i>.name`` in a list)."""
    where = "" if index is None else f"parties.{index}."
    if not isinstance(data, dict):
        raise InvalidInput("a party is an object {name, phone, address, role}", field=f"{where}name")
    out = {k: _text(data, k, required=k == "name", field=f"{where}{k}") for k in ("name", "phone", "address", "role")}
    if out["phone"] is not None and not PHONE.match(out["phone"]):
        raise InvalidInput(f"phone {out['phone']!r} is not a phone number", field=f"{where}phone")
    return out


def _mediator(session: Session, case: Case, actor: Actor, mediator_id: int | None,
              team_id: int | None) -> tuple[int | None, int | None]:
    if mediator_id is not None and team_id is not None:
        raise InvalidInput("give a mediator (a person) or a team, not both", field="team_id")
    if team_id is not None:
        team = session.get(VolunteerTeam, team_id)
        if team is None or team.kind != "mediation":
            raise InvalidInput(f"no mediation team (和事佬) {team_id}", field="team_id")
        if team.community_id not in (None, case.community_id):
            raise InvalidInput(f"team {team.name} belongs to another community", field="team_id")
        return None, team.id
    if mediator_id is None:  # the one who opens it, or else the grid's worker
        mediator_id = actor.user_id if actor.role in MEDIATOR_ROLES else None
        if mediator_id is None and case.grid_id is not None:
            mediator_id = session.scalar(select(Grid.worker_id).where(Grid.id == case.grid_id))
        if mediator_id is None:
            raise InvalidInput("give mediator_id (a user) or team_id (a 和事佬 team)", field="mediator_id")
    user = session.get(User, mediator_id)
    if user is None or user.role not in MEDIATOR_ROLES or not user.active:
        raise InvalidInput(f"user {mediator_id} is not an active grid worker, supervisor or 楼栋长",
                           field="mediator_id")
    return user.id, None


def _local_date(value: Any, field: str) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise InvalidInput(f"{field} must be a date such as 2026-12-31, got {value!r}", field=field) from None


def _instant(value: Any, field: str, default: dt.datetime) -> dt.datetime:
    if value is None or value == "":
        return default
    if isinstance(value, dt.datetime):
        t = value
    else:
        try:
            t = dt.datetime.fromisoformat(str(value))
        except ValueError:
            raise InvalidInput(f"{field} must be a time such as 2026-12-01T09:30:00+08:00, got {value!r}",
                               field=field) from None
    if t.tzinfo is None:
        raise InvalidInput(f"{field} needs a timezone (…+08:00), got {value!r}", field=field)
    if t > default + dt.timedelta(minutes=10):
        raise InvalidInput(f"{field} lies in the future", field=field)
    return t.astimezone(dt.UTC)


# ---------------------------------------------------------------------------------------------- writing


def _case(session: Session, actor: Actor, case_id: int, *, for_update: bool = False) -> Case:
    """The case (404 / 403 outside the scope); the operator at the command line reads every case."""
    if actor.role != CLI_ROLE:
        return get_case(session, actor, case_id, for_update=for_update)
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(f"no case {case_id}", field="case_id")
    return case


def _of(session: Session, actor: Actor, case_id: int) -> tuple[Case, Mediation]:
    case = _case(session, actor, case_id, for_update=True)
    m = session.scalars(select(Mediation).where(Mediation.case_id == case.id)).first()
    if m is None:
        raise NotFound(f"case {case.number} has no mediation; open one first", field="case_id")
    return case, m


def open_mediation(session: Session, actor: Actor, case_id: int, *, mediator_id: int | None = None,
                   team_id: int | None = None, parties: list | None = None, via: str,
                   now: dt.datetime | None = None) -> dict:
    """Open the mediation of an open case (409 when it has one, or is finished); audited ``create``."""
    case = _case(session, actor, case_id, for_update=True)
    _require_recorder(actor, case)
    if case.status in CLOSED:
        raise Conflict(f"case {case.number} is {case.status}: a finished case is not mediated", field="case_id")
    if session.scalars(select(Mediation.id).where(Mediation.case_id == case.id)).first() is not None:
        raise Conflict(f"case {case.number} already has a mediation", field="case_id")
    parties = parties or []
    if len(parties) > MAX_PARTIES:
        raise InvalidInput(f"at most {MAX_PARTIES} parties", field="parties")
    cleaned = [clean_party(p, i) for i, p in enumerate(parties)]
    who, team = _mediator(session, case, actor, mediator_id, team_id)
    now = now or now_utc()
    m = Mediation(case_id=case.id, mediator_id=who, team_id=team, outcome="open", opened_at=now)
    session.add(m)
    session.flush()
    session.add_all([MediationParty(mediation_id=m.id, **p) for p in cleaned])
    session.flush()
    _audit(session, actor, "create", via, [case.id], now)
    return mediation_dict(session, m, case, full=True)


def add_party(session: Session, actor: Actor, case_id: int, data: dict, *, via: str) -> dict:
    """Add a party to an open mediation; audited ``update``."""
    case, m = _of(session, actor, case_id)
    _require_recorder(actor, case)
    party = clean_party(data)
    if session.scalar(select(MediationParty.id).where(MediationParty.mediation_id == m.id)
                      .offset(MAX_PARTIES - 1).limit(1)) is not None:
        raise InvalidInput(f"at most {MAX_PARTIES} parties", field="name")
    session.add(MediationParty(mediation_id=m.id, **party))
    session.flush()
    _audit(session, actor, "update", via, [case.id])
    return mediation_dict(session, m, case, full=True)


def add_session(session: Session, actor: Actor, case_id: int, data: dict, *, via: str,
                now: dt.datetime | None = None) -> dict:
    """Record a sitting ``{at?, place?, note?, client_id?}`` of an open mediation; a retry with the same client id
    records nothing more."""
    case, m = _of(session, actor, case_id)
    _require_recorder(actor, case)
    now = now or now_utc()
    cid = parse_client_id(data.get("client_id"))
    done = session.scalars(select(MediationSession).where(MediationSession.client_id == cid)).first()
    if done is not None:
        if done.mediation_id != m.id:
            raise Conflict("this client_id belongs to a session of another mediation", field="client_id")
        return mediation_dict(session, m, case, full=True)
    if m.outcome != "open":
        raise Conflict(f"the mediation of case {case.number} is closed ({m.outcome})", field="case_id")
    at = _instant(data.get("at"), "at", now)
    session.add(MediationSession(client_id=cid, mediation_id=m.id, at=at, place=_text(data, "place"),
                                 note=_text(data, "note"), actor_id=actor.user_id))
    session.flush()
    _audit(session, actor, "update", via, [case.id], now)
    return mediation_dict(session, m, case, full=True)


def close_mediation(session: Session, actor: Actor, settings: Settings, case_id: int, data: dict, *, via: str,
                    now: dt.datetime | None = None) -> dict:
    """Close with ``{outcome, agreement, follow_up, follow_up_on}``; 达成协议 needs the agreement and hands the case
    (module docstring). The same close again (a retry) changes nothing; a different one is a conflict."""
    case, m = _of(session, actor, case_id)
    _require_recorder(actor, case)
    outcome = data.get("outcome")
    if outcome not in CLOSING:
        raise InvalidInput(f"outcome {outcome!r} is not one of {', '.join(CLOSING)} (达成协议 / 未达成 / 转交)",
                           field="outcome")
    agreement = _text(data, "agreement", required=outcome == "agreed")
    follow_up, follow_up_on = _text(data, "follow_up"), _local_date(data.get("follow_up_on"), "follow_up_on")
    if m.outcome != "open":
        if (m.outcome, m.agreement) == (outcome, agreement):
            return mediation_dict(session, m, case, full=True)
        raise Conflict(f"the mediation of case {case.number} is already closed ({m.outcome})", field="outcome")
    now = now or now_utc()
    opened_on = m.opened_at.astimezone(ZoneInfo(settings.timezone)).date()
    if follow_up_on is not None and follow_up_on < opened_on:
        raise InvalidInput(f"follow_up_on ({follow_up_on}) is before the mediation was opened ({opened_on})",
                           field="follow_up_on")
    m.outcome, m.agreement, m.follow_up, m.follow_up_on, m.closed_at = outcome, agreement, follow_up, \
        follow_up_on, now
    session.flush()
    hand_as = actor
    if actor.role == CLI_ROLE:  # at the command line the case is handed by its mediator (or the system)
        user = session.get(User, m.mediator_id) if m.mediator_id else None
        hand_as = actor_for(session, user) if user is not None else SYSTEM
    handed = _hand(session, hand_as, settings, case, agreement, now) if outcome == "agreed" else None
    _audit(session, actor, "update", via, [case.id], now)
    out = mediation_dict(session, m, case, full=True)
    out["case_handed"], out["case_not_handed_because"] = handed is None and outcome == "agreed", handed
    return out


def _hand(session: Session, actor: Actor, settings: Settings, case: Case, agreement: str | None,
          now: dt.datetime) -> str | None:
    """Hand the case with the agreement as its 处置 note; None when done, else why it was not."""
    steps = {"dispatched": ["accept", "handle"], "accepted": ["handle"]}.get(case.status)
    if steps is None:
        return f"case {case.number} is {case.status}: only a dispatched or accepted case is handed"
    for action in steps:
        why = refusal(actor, case, action)
        if why is not None:
            return why
    for action in steps:
        note = f"调解达成协议：{agreement}" if action == "handle" else "调解"
        transition(session, actor, settings, case.id, action, note=note, now=now)
    return None


# ---------------------------------------------------------------------------------------------- reading


def _names(session: Session, ms: list[Mediation]) -> tuple[dict[int, str], dict[int, str]]:
    users = {m.mediator_id for m in ms if m.mediator_id}
    teams = {m.team_id for m in ms if m.team_id}
    u = dict(session.execute(select(User.id, User.display_name).where(User.id.in_(users or [-1]))).all())
    t = dict(session.execute(select(VolunteerTeam.id, VolunteerTeam.name).where(
        VolunteerTeam.id.in_(teams or [-1]))).all())
    return u, t


def mediation_dict(session: Session, m: Mediation, case: Case, *, full: bool, masked: bool = False,
                   names: tuple[dict[int, str], dict[int, str]] | None = None) -> dict:
    """A mediation as the API answers it; ``full``: with parties and session notes (the caller may read them —
    ``masked``: phones masked and no addresses, as lists show them)."""
    users, teams = names or _names(session, [m])
    sessions = session.scalars(select(MediationSession).where(MediationSession.mediation_id == m.id)
                               .order_by(MediationSession.at, MediationSession.id)).all()
    out: dict[str, Any] = {
        "id": m.id, "case_id": case.id, "case_number": case.number, "case_status": case.status,
        "category": case.category_code, "grid_id": case.grid_id, "community_id": case.community_id,
        "mediator_id": m.mediator_id, "mediator": users.get(m.mediator_id) if m.mediator_id else None,
        "team_id": m.team_id, "team": teams.get(m.team_id) if m.team_id else None,
        "outcome": m.outcome, "outcome_label": OUTCOME_LABELS[m.outcome], "agreement": m.agreement,
        "follow_up": m.follow_up, "follow_up_on": m.follow_up_on.isoformat() if m.follow_up_on else None,
        "opened_at": iso(m.opened_at), "closed_at": iso(m.closed_at), "simulated": bool(m.simulated),
        "sessions": [{"id": s.id, "at": iso(s.at), "place": s.place, **({"note": s.note} if full else {})}
                     for s in sessions],
        "personal": full,
    }
    parties = session.scalars(select(MediationParty).where(MediationParty.mediation_id == m.id)
                              .order_by(MediationParty.id)).all()
    out["party_count"] = len(parties)
    if full:
        out["parties"] = [{"id": p.id, "name": p.name, "role": p.role,
                           "phone": mask_phone(p.phone) if masked else p.phone,
                           **({} if masked else {"address": p.address})} for p in parties]
    return out


def get_mediation(session: Session, actor: Actor, case_id: int, *, via: str) -> dict:
    """The mediation of a case for whoever may read the case; parties and notes for the register's two roles only
    (that read audited)."""
    case, m = _of(session, actor, case_id)
    full = reads_parties(actor, case)
    if full:
        _audit(session, actor, "read", via, [case.id])
    return mediation_dict(session, m, case, full=full)


def list_mediations(session: Session, actor: Actor, *, state: str | None = None, outcome: str | None = None,
                    via: str, limit: int = 200) -> list[dict]:
    """The mediations of the cases in ``actor``'s scope, open first then newest; parties (masked phones) for the
    register's roles, audited ``list`` (one row per case)."""
    where = list(scope_filter(actor)) if actor.role != CLI_ROLE else []
    if state not in (None, "open", "closed"):
        raise InvalidInput(f"state {state!r} is open or closed", field="state")
    if outcome is not None and outcome not in MEDIATION_OUTCOMES:
        raise InvalidInput(f"outcome {outcome!r} is not one of {', '.join(MEDIATION_OUTCOMES)}", field="outcome")
    if state is not None:
        where.append(Mediation.outcome == "open" if state == "open" else Mediation.outcome != "open")
    if outcome is not None:
        where.append(Mediation.outcome == outcome)
    rows = session.execute(select(Mediation, Case).join(Case, Case.id == Mediation.case_id).where(*where)
                           .order_by((Mediation.outcome != "open"), Mediation.opened_at.desc(), Mediation.id.desc())
                           .limit(limit)).all()
    names = _names(session, [m for m, _ in rows])
    out = [mediation_dict(session, m, c, full=reads_parties(actor, c), masked=True, names=names) for m, c in rows]
    _audit(session, actor, "list", via, [c.id for _, c in rows if reads_parties(actor, c)])
    return out


def open_choices(session: Session, actor: Actor, case: Case) -> dict | None:
    """What the desk's form to open a mediation of ``case`` offers: the mediators of its community (its grids'
    workers, its supervisors) and its 和事佬 teams; None when ``actor`` may not open one (or the case is finished)."""
    if not reads_parties(actor, case) or case.status in CLOSED:
        return None
    grids = select(Grid.worker_id).where(Grid.community_id == case.community_id)
    users = session.execute(select(User.id, User.display_name, User.role).where(
        User.active.is_(True), or_(User.id.in_(grids),
                                   (User.role == "supervisor") & (User.community_id == case.community_id)))
        .order_by(User.role, User.display_name)).all()
    teams = session.execute(select(VolunteerTeam.id, VolunteerTeam.name).where(
        VolunteerTeam.kind == "mediation", or_(VolunteerTeam.community_id == case.community_id,
                                               VolunteerTeam.community_id.is_(None)))
        .order_by(VolunteerTeam.name)).all()
    return {"users": [{"id": i, "name": n, "role": r} for i, n, r in users],
            "teams": [{"id": i, "name": n} for i, n in teams], "me": actor.user_id}


# ---------------------------------------------------------------------------------------------- KPIs


def _bounds(settings: Settings, start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    zone = ZoneInfo(settings.timezone)
    return (dt.datetime.combine(start, dt.time(), zone).astimezone(dt.UTC),
            dt.datetime.combine(end, dt.time(), zone).astimezone(dt.UTC))


def _group_labels(session: Session, by: str, rows: list) -> dict:
    if by == "grid":
        return {i: (c, n) for i, c, n in session.execute(select(Grid.id, Grid.code, Grid.name))}
    if by == "community":
        return {i: (c, n) for i, c, n in session.execute(select(Community.id, Community.code, Community.name))}
    if by == "mediator":
        users, teams = _names(session, [m for m, *_ in rows])
        return {("user", k): (None, v) for k, v in users.items()} | {("team", k): (None, v) for k, v in teams.items()}
    return {None: (None, "全部")}


def mediation_kpis(session: Session, actor: Actor, settings: Settings, *, by: str = "grid", start: dt.date,
                   end: dt.date) -> list[dict]:
    """调解数 and 调解成功率 per group over [start, end) (local days), of the cases in ``actor``'s scope:
    ``opened`` (mediations opened in the period), ``closed`` (closed in it with an outcome), ``agreed`` / ``failed``
    / ``referred`` among them, and ``success_rate`` = agreed ÷ closed (None when none closed)."""
    if by not in BY:
        raise InvalidInput(f"by {by!r} is one of {', '.join(BY)}", field="by")
    if actor.role in ("building_lead",):
        raise Forbidden("a 楼栋长 sees no mediation figures", field="role")
    s, e = _bounds(settings, start, end)
    where = list(scope_filter(actor)) if actor.role != CLI_ROLE else []
    rows = session.execute(
        select(Mediation, Case.grid_id, Case.community_id).join(Case, Case.id == Mediation.case_id)
        .where(*where, or_(Mediation.opened_at.between(s, e), Mediation.closed_at.between(s, e)))).all()
    labels = _group_labels(session, by, rows)
    groups: dict[Any, dict[str, int]] = {}
    for m, grid_id, community_id in rows:
        key = {"grid": grid_id, "community": community_id, "overall": None,
               "mediator": ("team", m.team_id) if m.team_id else ("user", m.mediator_id)}[by]
        g = groups.setdefault(key, dict.fromkeys(("opened", "closed", "agreed", "failed", "referred"), 0))
        if s <= m.opened_at < e:
            g["opened"] += 1
        if m.closed_at is not None and s <= m.closed_at < e and m.outcome in CLOSING:
            g["closed"] += 1
            g[m.outcome] += 1
    out = []
    for key, g in groups.items():
        code, name = labels.get(key, (None, None))
        row: dict[str, Any] = {"key": list(key) if isinstance(key, tuple) else key, "code": code, "name": name, **g,
                               "success_rate": round(g["agreed"] / g["closed"], 4) if g["closed"] else None}
        out.append(row)
    return sorted(out, key=lambda r: (-r["opened"], str(r["code"] or r["name"] or "")))
