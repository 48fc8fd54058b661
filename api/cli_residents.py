"""CLI commands for the residents register (民情台账), registered by api.cli.build_parser:

- ``gridpatrol residents import FILE.csv`` — households and residents from a spreadsheet, all or nothing;
- ``gridpatrol residents due [--grid CODE] [--today YYYY-MM-DD]`` — counts and the masked list of households due;
- ``gridpatrol residents audit [--household ID] [--resident ID] [--limit N]`` — who read what.

The operator at the command line has the database itself, so the personal-data scope does not limit her; her reads
and writes are audited like anyone's (actor ``cli:<login>``, via ``cli``).
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from patrol.core.errors import InvalidInput


def _today(args: argparse.Namespace, settings) -> dt.date:
    from patrol.surveys.residents import local_today

    if not getattr(args, "today", None):
        return local_today(settings)
    try:
        return dt.date.fromisoformat(args.today)
    except ValueError:
        raise InvalidInput(f"--today must be a date YYYY-MM-DD, got {args.today!r}", field="today") from None


def cmd_residents_import(args: argparse.Namespace) -> None:
    from api.cli import _context
    from patrol.core.db import transaction
    from patrol.surveys.residents import cli_actor, import_csv

    path = Path(args.file)
    if not path.exists():
        raise InvalidInput(f"{path}: no such file", field="file")
    settings, _, factory = _context(args)
    with transaction(factory) as session:
        summary = import_csv(session, cli_actor(), path, today=_today(args, settings))
    print("\n".join(summary.lines()))


def cmd_residents_due(args: argparse.Namespace) -> None:
    from sqlalchemy import select

    from api.cli import _context
    from patrol.core.db import transaction
    from patrol.core.models import Grid
    from patrol.surveys.residents import REASON_LABELS, cli_actor, due_visits

    settings, _, factory = _context(args)
    today = _today(args, settings)
    with transaction(factory) as session:
        grid_id = None
        if args.grid:
            grid_id = session.scalar(select(Grid.id).where(Grid.code == args.grid))
            if grid_id is None:
                raise InvalidInput(f"no grid coded {args.grid!r}", field="grid")
        due = due_visits(session, cli_actor(), today=today, settings=settings, grid_id=grid_id, via="cli")
    people = sum(len(d["residents"]) for d in due)
    late = sum(1 for d in due if d["days_overdue"] > 0)
    print(f"{len(due)} households due a visit on {today.isoformat()}"
          + (f" in grid {args.grid}" if args.grid else "")
          + f" ({late} overdue, {people} vulnerable residents)")
    for d in due:
        who = "; ".join(f"{r['name']} {r['phone'] or '-'} ({', '.join(REASON_LABELS[x]['zh'] for x in r['reasons'])})"
                        for r in d["residents"])
        print(f"{d['household_id']}\tbuilding {d['building_id']}\troom {d['room']}\tdue {d['due_on']}"
              f"\t{d['days_overdue']} days overdue\t{who}")


def cmd_residents_audit(args: argparse.Namespace) -> None:
    from api.cli import _context
    from patrol.surveys.residents import audit_trail, cli_actor

    _, _, factory = _context(args)
    with factory() as session:
        rows = audit_trail(session, cli_actor(), household_id=args.household, resident_id=args.resident,
                           limit=args.limit)
    if not rows:
        print("no audit rows")
    for a in rows:
        print(f"{a['at'][:19]}\t{a['actor']}\t{a['action']}\thousehold {a['household_id']}"
              f"\tresident {a['resident_id'] if a['resident_id'] is not None else '-'}\t{a['via']}")


def register(sub, add) -> None:
    """Add this module's sub-commands: ``sub`` is the top-level subparsers, ``add(name, fn, help, parent)``."""
    res = sub.add_parser("residents", help="the residents register 民情台账 (personal data: every read is audited)"
                         ).add_subparsers(dest="residents_command", required=True)
    ri = add("import", cmd_residents_import,
             "import households and residents from a CSV (one row per resident; all or nothing; a household or "
             "resident already there is updated)", res)
    ri.add_argument("file", help="columns: building_osm_id or building_id, room, head_name, phone, members, name, "
                                 "phone_resident, birth_year, disabled, disability, lives_alone, health, "
                                 "visit_every_days (note optional)")
    ri.add_argument("--today", help=argparse.SUPPRESS)
    rd = add("due", cmd_residents_due, "households due a visit and their vulnerable residents (phones masked)", res)
    rd.add_argument("--grid", help="grid code")
    rd.add_argument("--today", help="as of this day YYYY-MM-DD (default today)")
    ra = add("audit", cmd_residents_audit, "who read or changed which records, newest first", res)
    ra.add_argument("--household", type=int)
    ra.add_argument("--resident", type=int)
    ra.add_argument("--limit", type=int, default=200)
