"""``gridpatrol volunteers``: volunteer teams, 网格服务专员 and 双报到 members (issue 22).

- ``teams list|add``, ``members list|add`` (a team's members), ``tasks list|add|done``;
- ``roster list|add|import FILE.csv`` (the 网格服务专员 / 双报到 roster; the import is all or nothing);
- ``pair MEMBER HOUSEHOLD``, ``unpair PAIRING``, ``record MEMBER --kind … [--client-id]``;
- ``month [--community …] [--month YYYY-MM]``: who served this month, who has none yet, the pairings.

The operator at the command line has the database itself (scope does not limit her); reads of the register's
households are audited as ``cli:<login>``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from api.cli.context import Group, open_database
from patrol.core.db import transaction
from patrol.core.errors import InvalidInput
from patrol.core.models import SERVICE_MEMBER_KINDS, TEAM_KINDS


def _date(value: str | None, field: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"--{field} must be a date YYYY-MM-DD, got {value!r}", field=field) from None


def _community(session, value: str | None) -> int | None:
    from patrol.people.volunteer_access import resolve_community

    return resolve_community(session, value)


def _actor():
    from patrol.surveys.residents import cli_actor

    return cli_actor()


@click.group(cls=Group)
def volunteers() -> None:
    """Volunteer teams, 网格服务专员 and 双报到 members (issue 22)."""


# ---------------------------------------------------------------------------------------------- teams


@volunteers.group("teams", cls=Group)
def teams_group() -> None:
    """volunteer teams (和事佬调解队, 平安志愿者 …)"""


@teams_group.command("list", help="the teams with their members and open tasks")
@click.option("--community", help="community code or name")
@click.option("--kind", type=click.Choice(TEAM_KINDS))
def teams_list(community: str | None, kind: str | None) -> None:
    from patrol.people.teams import list_teams

    sessions = open_database().sessions
    with transaction(sessions) as s:
        rows = list_teams(s, _actor(), community_id=_community(s, community), kind=kind)
    if not rows:
        print("no volunteer teams yet: gridpatrol volunteers teams add --community … --name … --kind mediation")
    for t in rows:
        print(f"{t['id']}\t{t['community']}\t{t['name']}\t{t['kind_label']['zh']}\t{t['active_members']} members"
              f"\t{len(t['open_tasks'])} open tasks")


@teams_group.command("add", help="create a team in a community")
@click.option("--community", required=True, help="community code or name")
@click.option("--name", required=True)
@click.option("--kind", type=click.Choice(TEAM_KINDS), required=True)
def teams_add(community: str, name: str, kind: str) -> None:
    from patrol.people.teams import create_team

    sessions = open_database().sessions
    with transaction(sessions) as s:
        t = create_team(s, _actor(), community_id=_community(s, community) or 0, name=name, kind=kind)
    print(f"team {t['id']}: {t['name']} ({t['kind_label']['zh']}) in {t['community']}")


@volunteers.group("members", cls=Group)
def members_group() -> None:
    """a team's members"""


@members_group.command("list", help="a team's members (phones in full: the operator has the database)")
@click.argument("team", type=int)
def members_list(team: int) -> None:
    from patrol.people.teams import team_in_scope, team_out

    sessions = open_database().sessions
    with transaction(sessions) as s:
        actor = _actor()
        t = team_out(s, actor, team_in_scope(s, actor, team))
    print(f"{t['name']}: {t['active_members']} active members")
    for m in t["members"]:
        print(f"{m['id']}\t{m['name']}\t{m['role_in_team'] or '-'}\t{m.get('phone') or '-'}"
              f"\t{'active' if m['active'] else 'left'}")


@members_group.command("add", help="add a member to a team: a person (--name, --phone) or a user (--user)")
@click.argument("team", type=int)
@click.option("--name")
@click.option("--phone")
@click.option("--role", "role_in_team", help="队长, 队员 …")
@click.option("--user", "username", help="a user of the system")
def members_add(team: int, name: str | None, phone: str | None, role_in_team: str | None,
                username: str | None) -> None:
    from patrol.people.teams import add_member

    sessions = open_database().sessions
    with transaction(sessions) as s:
        m = add_member(s, _actor(), team, name=name, phone=phone, role_in_team=role_in_team, username=username)
    print(f"member {m['id']}: {m['name']} joined team {team}")


@volunteers.group("tasks", cls=Group)
def tasks_group() -> None:
    """a team's tasks"""


@tasks_group.command("list", help="the open tasks of the teams (of a community)")
@click.option("--community", help="community code or name")
def tasks_list(community: str | None) -> None:
    from patrol.people.teams import list_teams

    sessions = open_database().sessions
    with transaction(sessions) as s:
        rows = list_teams(s, _actor(), community_id=_community(s, community))
    tasks = [(t["name"], k) for t in rows for k in t["open_tasks"]]
    if not tasks:
        print("no open tasks")
    for team, k in tasks:
        print(f"{k['id']}\t{team}\t{k['title']}\tdue {k['due_on'] or '-'}\tcase {k['case'] or '-'}")


@tasks_group.command("add", help="give a team a task")
@click.argument("team", type=int)
@click.option("--title", required=True)
@click.option("--due", metavar="YYYY-MM-DD")
@click.option("--case", help="the number of the case it is for")
def tasks_add(team: int, title: str, due: str | None, case: str | None) -> None:
    from patrol.people.teams import add_task

    sessions = open_database().sessions
    with transaction(sessions) as s:
        k = add_task(s, _actor(), team, title=title, due_on=_date(due, "due"), case=case)
    print(f"task {k['id']}: {k['title']}" + (f" (case {k['case']})" if k["case"] else ""))


@tasks_group.command("done", help="mark a task done")
@click.argument("task", type=int)
def tasks_done(task: int) -> None:
    from patrol.people.teams import finish_task

    sessions = open_database().sessions
    with transaction(sessions) as s:
        k = finish_task(s, _actor(), task)
    print(f"task {k['id']} done: {k['title']}")


# ---------------------------------------------------------------------------------------------- the roster


@volunteers.group("roster", cls=Group)
def roster_group() -> None:
    """the 网格服务专员 / 双报到 roster"""


@roster_group.command("list", help="the roster with pledges")
@click.option("--community", help="community code or name")
@click.option("--kind", type=click.Choice(SERVICE_MEMBER_KINDS))
def roster_list(community: str | None, kind: str | None) -> None:
    from patrol.people.roster import list_members

    sessions = open_database().sessions
    with transaction(sessions) as s:
        rows = list_members(s, _actor(), community_id=_community(s, community), kind=kind)
    if not rows:
        print("nobody on the roster yet: gridpatrol volunteers roster import FILE.csv")
    for m in rows:
        grid = m["grid"]["code"] if m["grid"] else "-"
        print(f"{m['id']}\t{m['kind_label']['zh']}\t{m['name']}\t{m['organisation'] or '-'}\tgrid {grid}"
              f"\t{'；'.join(m['pledges']) or '-'}\t{m['pairings']} pairings")


@roster_group.command("add", help="add one member to the roster")
@click.option("--kind", required=True, help="liaison / party_member / unit (or 网格服务专员 / 双报到党员 / 双报到单位)")
@click.option("--name", required=True)
@click.option("--organisation")
@click.option("--phone")
@click.option("--community", help="community code or name (or give --grid)")
@click.option("--grid", help="grid code")
@click.option("--pledges", help="pledged services, separated by ；")
def roster_add(**fields: str | None) -> None:
    from patrol.people.roster import create_member

    sessions = open_database().sessions
    with transaction(sessions) as s:
        m = create_member(s, _actor(), fields)
    print(f"member {m['id']}: {m['name']} ({m['kind_label']['zh']})")


@roster_group.command("import", help="import a roster CSV, all or nothing (columns: kind, name, organisation, phone, "
                                     "community, grid, pledges; Chinese headers 类别, 姓名, 单位, 电话, 社区, 网格, "
                                     "承诺服务 too)")
@click.argument("file")
def roster_import(file: str) -> None:
    from patrol.people.roster import import_roster_file

    path = Path(file)
    if not path.exists():
        raise InvalidInput(f"{path}: no such file", field="file")
    sessions = open_database().sessions
    with transaction(sessions) as s:
        summary = import_roster_file(s, _actor(), path)
    print("\n".join(summary.lines()))


# ---------------------------------------------------------------------------------------------- pairing, services


@volunteers.command("pair", help="pair a roster member with a household of the register (audited)")
@click.argument("member", type=int)
@click.argument("household", type=int)
@click.option("--since", metavar="YYYY-MM-DD")
def pair(member: int, household: int, since: str | None) -> None:
    from patrol.people.services import pair as do_pair

    settings, _, sessions = open_database()
    with transaction(sessions) as s:
        p = do_pair(s, _actor(), settings, member, household, since=_date(since, "since"))
    print(f"pairing {p['id']}: member {member} with household {household} since {p['since']}")


@volunteers.command("unpair", help="end a pairing")
@click.argument("pairing", type=int)
@click.option("--until", metavar="YYYY-MM-DD", help="the last day (default today)")
def unpair(pairing: int, until: str | None) -> None:
    from patrol.people.services import end_pairing

    settings, _, sessions = open_database()
    with transaction(sessions) as s:
        p = end_pairing(s, _actor(), settings, pairing, until=_date(until, "until"))
    print(f"pairing {p['id']} ended on {p['until']}")


@volunteers.command("record", help="record a service of a roster member (a --client-id seen before adds nothing)")
@click.argument("member", type=int)
@click.option("--kind", required=True, help="visit / errand / repair / health / talk / activity / other")
@click.option("--on", "on", metavar="YYYY-MM-DD", help="the day (default today)")
@click.option("--hours", type=float)
@click.option("--note")
@click.option("--household", type=int, help="a household paired with the member")
@click.option("--client-id", help="an id of this submission, so a retry lands once")
def record(member: int, kind: str, on: str | None, hours: float | None, note: str | None, household: int | None,
           client_id: str | None) -> None:
    from patrol.cases.worktime import local_today
    from patrol.people.services import record_service

    settings, _, sessions = open_database()
    with transaction(sessions) as s:
        r, created = record_service(s, _actor(), settings, member, on=_date(on, "on") or local_today(
            settings.timezone), kind=kind, hours=hours, note=note, household_id=household, client_id=client_id)
    print(("recorded" if created else "already recorded") + f": service {r['id']} of member {member} on {r['on']} "
          f"({r['kind_label']['zh']})")


@volunteers.command("month", help="a community's services this month: per member, who has none yet, the pairings")
@click.option("--community", help="community code or name (default: the first)")
@click.option("--month", "month", metavar="YYYY-MM")
def month(community: str | None, month: str | None) -> None:
    from patrol.people.services import month_view

    settings, _, sessions = open_database()
    with transaction(sessions) as s:
        v = month_view(s, _actor(), settings, community_id=_community(s, community), month=month)
    print(f"{v['community']} {v['month']}: {v['services']} services, {v['hours']} hours, "
          f"{len(v['members'])} members on the roster")
    for m in v["members"]:
        print(f"{m['id']}\t{m['kind_label']['zh']}\t{m['name']}\t{m['services']} services\t{m['hours']} h"
              f"\tlast {m['last_on'] or '-'}")
    print("no service yet: " + ("、".join(v["without_service"]) or "none"))
    p = v["pairings"]
    print(f"pairings: {p['count']} households, {p['without_service']} without a service this month")
    for h in p.get("households", []):
        print(f"{h['pairing_id']}\t{h['member']}\t{h['building']} {h['room']}\t{h['head_name'] or '-'}"
              f"\t{'served' if h['served'] else 'NOT SERVED'}")
