"""``gridpatrol mediation``: 调解 of dispute cases (issue 22).

- ``list [--state open|closed] [--outcome …]`` — the mediations (parties with masked phones; audited);
- ``open NUMBER [--mediator USERNAME | --team NAME] [--party 'NAME|PHONE|ADDRESS|ROLE' …]``;
- ``session NUMBER [--at TIME] [--place …] [--note …] [--client-id UUID]`` — a sitting;
- ``close NUMBER --outcome agreed|failed|referred [--agreement …] [--follow-up …] [--follow-up-on YYYY-MM-DD]`` —
  达成协议 hands the case (as its mediator);
- ``kpis [--by grid|community|mediator|overall] [--start] [--end]`` — 调解数, 调解成功率.

The operator at the command line is not limited by scope; her reads and writes are audited (``cli:<login>``).
"""

from __future__ import annotations

import datetime as dt

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.cli.context import Group, open_database
from patrol.core.db import transaction
from patrol.core.errors import InvalidInput, NotFound
from patrol.core.models import Case, User, VolunteerTeam
from patrol.core.settings import Settings


def _case_id(session: Session, number: str) -> int:
    found = session.scalar(select(Case.id).where(Case.number == number))
    if found is None:
        raise NotFound(f"no case numbered {number!r}", field="number")
    return found


def _day(value: str | None, name: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"--{name} must be a date YYYY-MM-DD, got {value!r}", field=name) from None


def _party(text: str) -> dict:
    parts = [p.strip() or None for p in text.split("|")]
    if len(parts) > 4:
        raise InvalidInput(f"--party is NAME|PHONE|ADDRESS|ROLE, got {text!r}", field="party")
    parts += [None] * (4 - len(parts))
    return dict(zip(("name", "phone", "address", "role"), parts, strict=True))


def _line(m: dict) -> str:
    who = m.get("mediator") or m.get("team") or "-"
    parties = "、".join(f"{p['name']} {p.get('phone') or ''}".strip() for p in m.get("parties") or [])
    return (f"{m['case_number']}  {m['outcome_label']['zh']}  调解员 {who}  当事人 {parties or m['party_count']}  "
            f"调解 {len(m['sessions'])} 次" + (f"  协议：{m['agreement']}" if m.get("agreement") else ""))


@click.group(cls=Group)
def mediation() -> None:
    """调解 of dispute cases (issue 22): list, open, session, close, kpis."""


@mediation.command("list", help="the mediations, open first (parties with masked phones; audited)")
@click.option("--state", type=click.Choice(["open", "closed"]))
@click.option("--outcome", type=click.Choice(["open", "agreed", "failed", "referred"]))
def mediation_list(state: str | None, outcome: str | None) -> None:
    from patrol.cases import mediation as svc
    from patrol.surveys.residents import cli_actor

    _, _, sessions = open_database()
    with transaction(sessions) as session:
        rows = svc.list_mediations(session, cli_actor(), state=state, outcome=outcome, via="cli")
    print(f"{len(rows)} mediations")
    for m in rows:
        print(_line(m))


@mediation.command("open", help="open the mediation of the case numbered NUMBER")
@click.argument("number")
@click.option("--mediator", metavar="USERNAME", help="the mediator (default: the grid's worker)")
@click.option("--team", metavar="NAME", help="a mediation team (和事佬) instead of a person")
@click.option("--party", "parties", multiple=True, metavar="'NAME|PHONE|ADDRESS|ROLE'", help="a party (repeat)")
def mediation_open(number: str, mediator: str | None, team: str | None, parties: tuple[str, ...]) -> None:
    from patrol.cases import mediation as svc
    from patrol.surveys.residents import cli_actor

    _, _, sessions = open_database()
    with transaction(sessions) as session:
        mediator_id = team_id = None
        if mediator:
            mediator_id = session.scalar(select(User.id).where(User.username == mediator))
            if mediator_id is None:
                raise InvalidInput(f"no user {mediator!r}", field="mediator")
        if team:
            team_id = session.scalar(select(VolunteerTeam.id).where(VolunteerTeam.name == team))
            if team_id is None:
                raise InvalidInput(f"no team {team!r}", field="team")
        m = svc.open_mediation(session, cli_actor(), _case_id(session, number), mediator_id=mediator_id,
                               team_id=team_id, parties=[_party(p) for p in parties], via="cli")
    print(f"opened: {_line(m)}")


@mediation.command("session", help="record a sitting of the mediation of case NUMBER")
@click.argument("number")
@click.option("--at", metavar="TIME", help="when, ISO 8601 with a timezone (default: now)")
@click.option("--place")
@click.option("--note", help="what was said (a staff note)")
@click.option("--client-id", metavar="UUID", help="a retry with it records nothing more")
def mediation_session(number: str, at: str | None, place: str | None, note: str | None,
                      client_id: str | None) -> None:
    from patrol.cases import mediation as svc
    from patrol.surveys.residents import cli_actor

    _, _, sessions = open_database()
    with transaction(sessions) as session:
        m = svc.add_session(session, cli_actor(), _case_id(session, number),
                            {"at": at, "place": place, "note": note, "client_id": client_id}, via="cli")
    print(f"recorded: {_line(m)}")


@mediation.command("close", help="close the mediation of case NUMBER (agreed hands the case, as its mediator)")
@click.argument("number")
@click.option("--outcome", required=True, type=click.Choice(["agreed", "failed", "referred"]))
@click.option("--agreement", help="the agreement (required for agreed)")
@click.option("--follow-up", help="what the 回访 checks")
@click.option("--follow-up-on", metavar="YYYY-MM-DD", help="the day of the 回访")
def mediation_close(number: str, outcome: str, agreement: str | None, follow_up: str | None,
                    follow_up_on: str | None) -> None:
    from patrol.cases import mediation as svc
    from patrol.surveys.residents import cli_actor

    settings, _, sessions = open_database()
    with transaction(sessions) as session:
        m = svc.close_mediation(session, cli_actor(), settings, _case_id(session, number), {
            "outcome": outcome, "agreement": agreement, "follow_up": follow_up,
            "follow_up_on": _day(follow_up_on, "follow-up-on")}, via="cli")
    print(f"closed: {_line(m)}")
    if m.get("case_handed"):
        print(f"case {m['case_number']} handed (处置) with the agreement; it now waits for 核查 and 结案")
    elif m.get("case_not_handed_because"):
        print(f"case {m['case_number']} not handed: {m['case_not_handed_because']}")


def _period(settings: Settings, start: str | None, end: str | None) -> tuple[dt.date, dt.date]:
    from patrol.surveys.residents import local_today

    today = local_today(settings)
    s = _day(start, "start") or today.replace(day=1)
    e = _day(end, "end") or today + dt.timedelta(days=1)
    if e <= s:
        raise InvalidInput(f"--end ({e}) must be after --start ({s})", field="end")
    return s, e


@mediation.command("kpis", help="调解数 and 调解成功率 (agreed ÷ closed) over [start, end)")
@click.option("--by", type=click.Choice(["grid", "community", "mediator", "overall"]), default="grid",
              show_default=True)
@click.option("--start", metavar="YYYY-MM-DD", help="first day (default: the first of this month)")
@click.option("--end", metavar="YYYY-MM-DD", help="day after the last (default: tomorrow)")
def mediation_kpis(by: str, start: str | None, end: str | None) -> None:
    from patrol.cases import mediation as svc
    from patrol.surveys.residents import cli_actor

    settings, _, sessions = open_database()
    s, e = _period(settings, start, end)
    with transaction(sessions) as session:
        rows = svc.mediation_kpis(session, cli_actor(), settings, by=by, start=s, end=e)
    print(f"mediation {s} – {e} by {by}: group, opened, closed, agreed, failed, referred, success rate")
    for r in rows:
        rate = "-" if r["success_rate"] is None else f"{r['success_rate'] * 100:.1f}%"
        print(f"{r['code'] or r['name'] or '-'}  {r['opened']}  {r['closed']}  {r['agreed']}  {r['failed']}  "
              f"{r['referred']}  {rate}")
