"""``gridpatrol simulate``: SIMULATED data at city scale (issue 23) — ``simulate scale`` builds a district's five years
(:mod:`patrol.simulate.scale`) into an empty database, for the benchmarks of the dashboards and maps at that size."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import click

from api.cli.context import Group, open_database, state
from patrol.simulate.scale import CITIES, Options, counts, generate


@click.group(cls=Group, help="simulated data (labelled 模拟) for demos and benchmarks")
def simulate() -> None:
    pass


@simulate.command("scale", help="build a SIMULATED district's years of cases and GPS fixes on a real city into an "
                                "empty database (PostgreSQL: COPY); prints the time of each table")
@click.option("--url", metavar="URL", help="database URL (same as --database; default: the settings' database)")
@click.option("--city", type=click.Choice(sorted(CITIES)), default="liechtenstein", show_default=True,
              help="the real city (shared OpenStreetMap extract) the district is built on")
@click.option("--osm", type=click.Path(dir_okay=False, path_type=Path),
              help="the city's .osm.pbf (default: ../shared/data/osm/<the city's extract>)")
@click.option("--cases", type=click.IntRange(min=1), default=5_000_000, show_default=True, help="cases to generate")
@click.option("--fixes", type=click.IntRange(min=0), default=20_000_000, show_default=True,
              help="GPS fixes over the last year")
@click.option("--years", type=click.FloatRange(min=0, min_open=True, max=30), default=5.0, show_default=True,
              help="years of cases, ending now")
@click.option("--seed", type=int, default=2026, show_default=True, help="random seed")
@click.option("--no-progress", is_flag=True, help="no progress bars")
def scale(url: str | None, city: str, osm: Path | None, cases: int, fixes: int, years: float, seed: int,
          no_progress: bool) -> None:
    if url:
        state().database = url
    settings, engine, sessions = open_database()
    t0 = time.perf_counter()
    report = generate(engine, sessions, settings, Options(city=city, cases=cases, fixes=fixes, years=years, seed=seed,
                                                          osm=osm, progress=not no_progress,
                                                          now=dt.datetime.now(dt.UTC)))
    for line in report.lines():
        click.echo(line)
    with sessions() as s:
        click.echo("rows: " + ", ".join(f"{k} {v:,}" for k, v in counts(s).items()))
    click.echo(f"simulated district generated in {time.perf_counter() - t0:.0f} s (everything labelled 模拟)")
