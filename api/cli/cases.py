"""The case loop's reference tables and its clock: ``categories load|list``, ``responsibility load|list``,
``escalate`` (run periodically, e.g. from cron) and ``cases import-history`` (a 311 / 12345 history)."""

from __future__ import annotations

import sys

import click
from sqlalchemy import func, select

from api.cli.context import Command, Group, open_database
from patrol.cases.categories import active_categories, load_categories, load_categories_file
from patrol.cases.responsibility import all_rules, load_rules, load_rules_file
from patrol.cases.service import escalate_overdue
from patrol.core.db import transaction
from patrol.core.models import Responsibility, ResponsibleUnit
from patrol.notify.notices import near_deadline


@click.group(cls=Group, help="the category taxonomy")
def categories() -> None:
    pass


@categories.command("load", help="load categories from a CSV (default: the shipped taxonomy)")
@click.argument("file", required=False)
def categories_load(file: str | None) -> None:
    sessions = open_database().sessions
    with transaction(sessions) as session:
        n = load_categories_file(session, file) if file else load_categories(session)
    print(f"loaded {n} categories" + (f" from {file}" if file else " (shipped taxonomy)"))


CATEGORIES_HEADER = "code\tname_zh\tname_en\tkind\tlevel\tdeadline\tseverity"
RESPONSIBILITY_HEADER = "category\tlevel\tunit_type\tpriority\tprofile\tunits\tnote"


@categories.command("list", help="list the active categories, one per line under a header row (tab-separated)")
def categories_list() -> None:
    sessions = open_database().sessions
    print(CATEGORIES_HEADER)
    with sessions() as session:
        for c in active_categories(session):
            print(f"{c.code}\t{c.name_zh}\t{c.name_en}\t{c.kind}\t{c.level}\t{c.deadline_hours:g} h"
                  f"\tseverity {c.severity}")


@click.group(cls=Group, help="who handles what: category × level → unit type")
def responsibility() -> None:
    pass


@responsibility.command("load", help="replace the responsibility table with a CSV (default: the shipped one)")
@click.argument("file", required=False)
def responsibility_load(file: str | None) -> None:
    sessions = open_database().sessions
    with transaction(sessions) as session:
        n = load_rules_file(session, file) if file else load_rules(session)
    print(f"loaded {n} responsibility rules" + (f" from {file}" if file else " (shipped table)"))


@responsibility.command("list", help="list the rules and how many units of each type exist, under a header row")
def responsibility_list() -> None:
    sessions = open_database().sessions
    with sessions() as session:
        loaded = session.scalar(select(func.count(Responsibility.id)))
        rules = sorted(all_rules(session), key=lambda r: (r.level, r.category, r.priority))
        units = dict(session.execute(select(ResponsibleUnit.type, func.count())
                                     .group_by(ResponsibleUnit.type)).all())
    if not loaded:
        print("no table loaded: the shipped one applies (gridpatrol responsibility load FILE to replace it)",
              file=sys.stderr)
    print(RESPONSIBILITY_HEADER)
    for r in rules:
        print(f"{r.category}\t{r.level}\t{r.unit_type}\tpriority {r.priority}\t{r.profile}\t"
              f"{units.get(r.unit_type, 0) if r.unit_type not in ('grid_worker', 'none') else '-'} units\t"
              f"{r.note_zh or ''}")


@click.command("escalate", cls=Command,
               help="escalate every case whose deadline passed and notify the cases nearing theirs (run it "
                    "periodically, e.g. cron)")
def escalate() -> None:
    settings, _, sessions = open_database()
    with transaction(sessions) as session:
        ids = escalate_overdue(session, settings)
        noticed = near_deadline(session, settings)
    print(f"escalated {len(ids)} overdue cases" + (f": {', '.join(map(str, ids))}" if ids else ""))
    print(f"{noticed} nearing-deadline notices")


@click.group(cls=Group, help="cases in bulk: a history import")
def cases() -> None:
    pass


@cases.command("import-history",
               help="import a 311 / 12345-style case history (CSV, GeoJSON, GeoPackage) with its original times, "
                    "statuses, categories and channels as the mapping says; re-imports update by the source's id; "
                    "all-or-nothing (every problem listed)")
@click.argument("file")
@click.option("--mapping", "mapping_file", required=True, metavar="MAPPING.yaml",
              help="what the columns are and how values map (e.g. patrol/data/history/la311.yaml)")
@click.option("--report", "report_file", metavar="REPORT.csv",
              help="write one line per row: created, updated, unchanged, skipped or error, with the field and why")
def cases_import_history(file: str, mapping_file: str, report_file: str | None) -> None:
    from patrol.intake.history import import_history, raise_for_problems, write_report  # pandas, GDAL: only here
    from patrol.intake.history_mapping import load_mapping

    settings, _, sessions = open_database()
    mapping = load_mapping(mapping_file)
    with transaction(sessions) as session:
        out = import_history(session, settings, file, mapping)
        if report_file:
            write_report(out, report_file)
        raise_for_problems(out, file)
    print(f"{file}: {out.summary()} (source {mapping.source})" + (f"; report: {report_file}" if report_file else ""))
