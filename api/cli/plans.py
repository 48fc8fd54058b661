"""Versioned grid plans from the command line (the planner's browser editor does the same over HTTP):
``plans list|new|validate|publish|rollback|download|upload``. The operator acts as the system user."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import click

from api.cli.context import Group, open_database
from patrol.core.auth import SYSTEM
from patrol.core.db import transaction
from patrol.core.errors import GridPatrolError, InvalidInput
from patrol.plans.service import (
    create_draft,
    download,
    list_plans,
    plan_dict,
    publish,
    rollback,
    upload,
    validate,
)

FORMATS = {".gpkg": "gpkg", ".geojson": "geojson", ".json": "geojson", ".zip": "shp"}


@click.group(cls=Group, help="versioned grid plans (planners)")
def plans() -> None:
    pass


PLANS_HEADER = "id\tstatus\tgrids\twhen\tname"


@plans.command("list", help="list the grid plans, newest first, under a header row (tab-separated)")
def plans_list() -> None:
    sessions = open_database().sessions
    with sessions() as session:
        rows = list_plans(session, SYSTEM)
    if not rows:
        print("no grid plans yet (the first draft records the grids in force as the baseline)")
        return
    print(PLANS_HEADER)
    for p in rows:
        when = f"published {p['published_at'][:16]}, effective {p['effective_from'] or '-'}" if p["published_at"] \
            else f"created {p['created_at'][:16]}"
        print(f"{p['id']}\t{p['status']}\t{p['grids']} grids\t{when}\t{p['name']}")


@plans.command("new", help="open a draft plan: a copy of the grids in force")
@click.option("--name", help="the plan's name")
@click.option("--note", help="why the plan is made")
def plans_new(name: str | None, note: str | None) -> None:
    sessions = open_database().sessions
    with transaction(sessions) as session:
        plan = plan_dict(session, create_draft(session, SYSTEM, name=name, note=note))
    print(f"draft plan {plan['id']} with {plan['grids']} grids (a copy of the grids in force)")


@plans.command("validate", help="every problem of a plan, with its place (exit 1 when fatal)")
@click.argument("plan", type=int)
@click.option("--tolerance", type=float, default=1.0, show_default=True,
              help="gaps/overlaps up to this many m² are noise")
@click.option("--sliver-width", type=float, default=2.0, show_default=True,
              help="parts thinner than this (m) are slivers")
def plans_validate(plan: int, tolerance: float, sliver_width: float) -> None:
    settings, _, sessions = open_database()
    with sessions() as session:
        report = validate(session, None, plan, settings=settings, tolerance_m2=tolerance, sliver_width_m=sliver_width)
    print(f"plan {plan}: {'OK' if report['ok'] else 'FAILED'} — {report['errors']} errors, "
          f"{report['warnings']} warnings")
    for p in report["problems"]:
        print(f"  {p['severity']}\t{p['kind']}\t{p['feature']}\t({p['lon']}, {p['lat']})\t{p['message']}")
    if not report["ok"]:
        raise GridPatrolError(f"plan {plan} has {report['errors']} fatal problems")


def _plan_lines(result: dict[str, Any]) -> str:
    g = result["grids"]
    return (f"plan {result['plan']['id']} in force from {result['plan']['effective_from']}: {g['kept']} grids kept, "
            f"{g['added']} added, {g['removed']} removed; {result['buildings_moved']} buildings, "
            f"{result['open_cases_moved']} open cases ({result['assignees_changed']} reassigned), "
            f"{result['closed_cases_moved']} closed cases and {result['revisits_moved']} revisits moved")


@plans.command("publish", help="put a draft in force (refused while validation finds fatal problems)")
@click.argument("plan", type=int)
@click.option("--effective", metavar="YYYY-MM-DD", help="official date (default today; not in the future)")
@click.option("--note", help="why it is published")
def plans_publish(plan: int, effective: str | None, note: str | None) -> None:
    # parsed here rather than by click.DateTime so that a bad date is a domain error (exit 1) naming the API field
    try:
        effective_from = dt.date.fromisoformat(effective) if effective else None
    except ValueError:
        raise InvalidInput(f"--effective must be a date YYYY-MM-DD, got {effective!r}",
                           field="effective_from") from None
    settings, _, sessions = open_database()
    with transaction(sessions) as session:
        result = publish(session, SYSTEM, plan, settings=settings, effective_from=effective_from, note=note)
    print(_plan_lines(result))


@plans.command("rollback", help="put the previous plan back in force (as a new plan)")
@click.option("--note", help="why it is rolled back")
def plans_rollback(note: str | None) -> None:
    settings, _, sessions = open_database()
    with transaction(sessions) as session:
        result = rollback(session, SYSTEM, settings=settings, note=note)
    print(f"rolled back from plan {result['rolled_back_from']} to the grids of plan {result['restored']}")
    print(_plan_lines(result))


@plans.command("download", help="write a plan's grids to .gpkg, .geojson or .zip (Shapefile)")
@click.argument("plan", type=int)
@click.argument("output")
def plans_download(plan: int, output: str) -> None:
    path = Path(output)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InvalidInput(f"{path.name}: write a .gpkg, .geojson or .zip (zipped Shapefile)", field="output")
    sessions = open_database().sessions
    with sessions() as session:
        data, _, _ = download(session, SYSTEM, plan, fmt)
    path.write_bytes(data)
    print(f"wrote plan {plan} to {path}")


@plans.command("upload", help="replace a draft's grids with a .gpkg, .geojson or zipped Shapefile")
@click.argument("plan", type=int)
@click.argument("file")
@click.option("--source-layer", help="layer name inside a multi-layer GeoPackage")
def plans_upload(plan: int, file: str, source_layer: str | None) -> None:
    path = Path(file)
    if not path.exists():
        raise InvalidInput(f"{path}: no such file", field="file")
    sessions = open_database().sessions
    with transaction(sessions) as session:
        result = upload(session, SYSTEM, plan, path.name, path.read_bytes(), layer=source_layer)
    print(f"plan {plan} now holds the {result['grids']} grids of {path.name}")
