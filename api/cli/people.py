"""``gridpatrol people``: 微网格 (micro-grids) and their 楼栋长 (``people microgrids generate|import|export|list``,
``people set-lead``); 网格长 and 楼栋长 accounts are made with ``users add --role grid_lead --lead-grids …`` and
``users add --role building_lead --micro-grid …``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from api.cli.context import Group, open_database
from patrol.core.auth import SYSTEM
from patrol.core.db import transaction
from patrol.core.errors import InvalidInput
from patrol.core.settings import get_settings
from patrol.people import microgrids as mg


@click.group(cls=Group)
def people() -> None:
    """微网格 (micro-grids) and their 楼栋长, 网格长 (issue 22)."""


@people.group("microgrids", cls=Group, help="微网格: generate, import, export, list")
def microgrids() -> None:
    pass


def _codes(value: str | None) -> list[str] | None:
    return [c.strip() for c in value.split(",") if c.strip()] if value else None


@microgrids.command("generate", help="group the buildings of grids into 微网格 of tens of households (replaces the "
                                     "grids' micro-grids; a 楼栋长 keeps the micro-grid of the same code)")
@click.option("--grids", help="comma-separated grid codes (default: every grid, or those of --community)")
@click.option("--community", help="a community code or name")
@click.option("--plan", type=int, help="a draft plan's id (default: the micro-grids in force)")
@click.option("--min", "low", type=int, help="households per micro-grid, at least (default: settings, 30)")
@click.option("--max", "high", type=int, help="households per micro-grid, at most (default: settings, 80)")
def generate(grids: str | None, community: str | None, plan: int | None, low: int | None, high: int | None) -> None:
    settings = get_settings()
    rng = (low or settings.micro_households_min, high or settings.micro_households_max)
    if rng[0] > rng[1]:
        raise InvalidInput(f"--min {rng[0]} is above --max {rng[1]}", field="min")
    with transaction(open_database().sessions) as session:
        rows = mg.generate(session, SYSTEM, grids=_codes(grids), community=community, plan_id=plan,
                           households_range=rng)
    print("grid\tmicro_grids\thouseholds\tbuildings")
    for r in rows:
        print(f"{r['grid']}\t{r['micro_grids']}\t{r['households']}\t{r['buildings']}")
    print(f"{sum(r['micro_grids'] for r in rows)} micro-grids in {len(rows)} grids "
          f"({rng[0]}–{rng[1]} households each)")


@microgrids.command("list", help="the micro-grids (in force, or of a draft), one per line under a header row")
@click.option("--grid", help="one grid's")
@click.option("--plan", type=int, help="a draft plan's id")
def list_(grid: str | None, plan: int | None) -> None:
    with open_database().sessions() as session:
        rows = mg.summaries(session, SYSTEM, plan_id=plan, grid=grid)
    if not rows:
        print("no micro-grids yet: gridpatrol people microgrids generate")
        return
    print("code\tname\tgrid\thouseholds\tbuildings\tleader")
    for r in rows:
        lead = f"{r['leader']} ({r['leader_post'] or '楼栋长'})" if r["leader"] else "-"
        print(f"{r['code']}\t{r['name']}\t{r['grid_code']}\t{r['households']}\t{r['buildings']}\t{lead}")


@microgrids.command("import", help="micro-grids from a CSV (code,name,building_id or address) or GeoJSON "
                                   "(features with code, name) file; replaces those of the grids they fall in")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--plan", type=int, help="a draft plan's id")
def import_(path: Path, plan: int | None) -> None:
    fmt = "csv" if path.suffix.lower() == ".csv" else "geojson"
    with transaction(open_database().sessions) as session:
        done = mg.import_rows(session, SYSTEM, path.read_bytes(), fmt=fmt, plan_id=plan)
    print(f"imported {done['micro_grids']} micro-grids with {done['buildings']} buildings")


@microgrids.command("export", help="the micro-grids as GeoJSON (default) or CSV (--format csv) on standard output "
                                   "or into --out")
@click.option("--format", "fmt", type=click.Choice(["geojson", "csv"]), default="geojson")
@click.option("--plan", type=int, help="a draft plan's id")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path))
def export(fmt: str, plan: int | None, out: Path | None) -> None:
    with open_database().sessions() as session:
        text = mg.export_csv(session, SYSTEM, plan_id=plan) if fmt == "csv" else json.dumps(
            mg.feature_collection(session, SYSTEM, plan_id=plan), ensure_ascii=False)
    if out is None:
        click.echo(text)
    else:
        out.write_text(text, encoding="utf-8")
        print(f"wrote {out}")


@people.command("set-lead", help="give a micro-grid in force its 楼栋长 (a building_lead user); --none to clear")
@click.argument("code")
@click.argument("username", required=False)
@click.option("--none", "clear", is_flag=True, help="the micro-grid has no 楼栋长")
def set_lead(code: str, username: str | None, clear: bool) -> None:
    if not clear and not username:
        raise InvalidInput("give the 楼栋长's user name, or --none", field="username")
    with transaction(open_database().sessions) as session:
        m = mg.set_leader(session, SYSTEM, code, None if clear else username)
        print(f"micro-grid {m.code} {m.name}: " + (f"楼栋长 {username}" if not clear else "no 楼栋长"))
