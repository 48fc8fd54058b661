"""The residents register (民情台账) from the command line:

- ``gridpatrol residents import FILE.csv`` — households and residents from a spreadsheet, all or nothing;
- ``gridpatrol residents due [--grid CODE] [--today YYYY-MM-DD]`` — counts and the masked list of households due;
- ``gridpatrol residents audit [--household ID] [--resident ID] [--limit N]`` — who read what.

The operator at the command line has the database itself, so the personal-data scope does not limit her; her reads
and writes are audited like anyone's (actor ``cli:<login>``, via ``cli``).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from api.cli.context import Group, grid_id_of, open_database
from patrol.core.db import transaction
from patrol.core.errors import InvalidInput
from patrol.core.settings import Settings
from patrol.surveys.residents import (
    REASON_LABELS,
    audit_trail,
    cli_actor,
    due_visits,
    import_csv,
    local_today,
)

CSV_COLUMNS = ("columns: building_osm_id or building_id, room, head_name, phone, members, name, phone_resident, "
               "birth_year, disabled, disability, lives_alone, health, visit_every_days (note optional)")


def _as_of(today: str | None, settings: Settings) -> dt.date:
    """The day given as YYYY-MM-DD, else today in the city's time zone."""
    if not today:
        return local_today(settings)
    try:
        return dt.date.fromisoformat(today)
    except ValueError:
        raise InvalidInput(f"--today must be a date YYYY-MM-DD, got {today!r}", field="today") from None


@click.group(cls=Group, help="the residents register 民情台账 (personal data: every read is audited)")
def residents() -> None:
    pass


@residents.command("import", help="import households and residents from a CSV (one row per resident; all or "
                                  f"nothing; a household or resident already there is updated). {CSV_COLUMNS}")
@click.argument("file")
@click.option("--today", hidden=True)  # tests pin the day the visit schedule starts from
def residents_import(file: str, today: str | None) -> None:
    path = Path(file)
    if not path.exists():
        raise InvalidInput(f"{path}: no such file", field="file")
    settings, _, sessions = open_database()
    with transaction(sessions) as session:
        summary = import_csv(session, cli_actor(), path, today=_as_of(today, settings))
    print("\n".join(summary.lines()))


@residents.command("due", help="households due a visit and their vulnerable residents (phones masked)")
@click.option("--grid", help="grid code")
@click.option("--today", metavar="YYYY-MM-DD", help="as of this day (default today)")
def residents_due(grid: str | None, today: str | None) -> None:
    settings, _, sessions = open_database()
    day = _as_of(today, settings)
    with transaction(sessions) as session:
        due = due_visits(session, cli_actor(), today=day, settings=settings, grid_id=grid_id_of(session, grid),
                         via="cli")
    people = sum(len(d["residents"]) for d in due)
    late = sum(1 for d in due if d["days_overdue"] > 0)
    print(f"{len(due)} households due a visit on {day.isoformat()}"
          + (f" in grid {grid}" if grid else "")
          + f" ({late} overdue, {people} vulnerable residents)")
    for d in due:
        who = "; ".join(f"{r['name']} {r['phone'] or '-'} ({', '.join(REASON_LABELS[x]['zh'] for x in r['reasons'])})"
                        for r in d["residents"])
        print(f"{d['household_id']}\tbuilding {d['building_id']}\troom {d['room']}\tdue {d['due_on']}"
              f"\t{d['days_overdue']} days overdue\t{who}")


@residents.command("audit", help="who read or changed which records, newest first")
@click.option("--household", type=int, help="only this household id")
@click.option("--resident", type=int, help="only this resident id")
@click.option("--limit", type=int, default=200, show_default=True, help="at most this many rows")
def residents_audit(household: int | None, resident: int | None, limit: int) -> None:
    sessions = open_database().sessions
    with sessions() as session:
        rows = audit_trail(session, cli_actor(), household_id=household, resident_id=resident, limit=limit)
    if not rows:
        print("no audit rows")
    for a in rows:
        print(f"{a['at'][:19]}\t{a['actor']}\t{a['action']}\thousehold {a['household_id']}"
              f"\tresident {a['resident_id'] if a['resident_id'] is not None else '-'}\t{a['via']}")
