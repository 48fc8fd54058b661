"""``gridpatrol analytics hotspots|emerging|coverage``: the heavy analytics over a long period or the whole history
(``--history``), in this process or on a Dask cluster (``--dask local`` or a scheduler address; default
``GRIDPATROL_DASK_SCHEDULER``), written as GeoJSON (see :mod:`patrol.analytics.history`)."""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.cli.context import Command, Group, database_url, open_database
from patrol.analytics import history as H
from patrol.analytics import service as svc
from patrol.core.auth import SYSTEM
from patrol.core.errors import InvalidInput
from patrol.core.models import Case, GpsFix
from patrol.core.settings import Settings


@click.group(cls=Group, help="hotspots, emerging hotspots and coverage over a long period or the whole history, "
                             "in this process or on a Dask cluster, written as GeoJSON")
def analytics() -> None:
    pass


def _common(command: Callable) -> Callable:
    options = [
        click.option("--history", is_flag=True, help="the whole history: from the first case (coverage: the first "
                                                     "GPS fix) to today"),
        click.option("--start", type=click.DateTime(["%Y-%m-%d"]), help="first day (local), instead of --history"),
        click.option("--end", type=click.DateTime(["%Y-%m-%d"]), help="day after the last (local)"),
        click.option("--dask", "address", metavar="local|ADDRESS",
                     help="run on Dask: local (a LocalCluster on this machine) or a scheduler address "
                          "(tcp://host:8786); default GRIDPATROL_DASK_SCHEDULER, empty: in this process"),
        click.option("--workers", type=click.IntRange(1, 256), help="workers of --dask local (default "
                                                                    "GRIDPATROL_DASK_WORKERS)"),
        click.option("--memory", metavar="SIZE", help="memory per worker of --dask local, e.g. 2GiB (default "
                                                      "GRIDPATROL_DASK_MEMORY)"),
        click.option("--reads", type=click.Choice(H.READS), default="tasks", show_default=True,
                     help="tasks: each task reads its slice from the database; client: one read here, scattered"),
        click.option("--community", help="community code or name (default: the whole city)"),
        click.option("--grid", help="grid code"),
        click.option("--out", type=click.Path(dir_okay=False, writable=True), help="GeoJSON file to write "
                                                                                   "(default: <command>.geojson)"),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _progress(kind: str) -> Callable[[int, int], None]:
    last = [0.0]

    def show(done: int, total: int) -> None:
        now = time.monotonic()
        if done == total or now - last[0] >= 1.0:
            last[0] = now
            end = "\n" if done == total else ""
            print(f"\r{kind}: {done}/{total} partitions done", end=end, file=sys.stderr, flush=True)

    return show


@contextmanager
def _runner(settings: Settings, opts: dict[str, Any], kind: str) -> Iterator[tuple[H.DaskRunner | None, str]]:
    address = (opts["address"] if opts["address"] is not None else settings.dask_scheduler).strip()
    if not address:
        yield None, "in this process"
        return
    H.cluster_kind(address)
    workers = opts["workers"] or settings.dask_workers
    where = f"dask {address}" + (f", {workers} workers" if address == "local" else "")
    print(f"{kind}: starting {where} …", file=sys.stderr)
    with H.open_client(address, workers=workers, memory=opts["memory"] or settings.dask_memory) as client:
        yield H.DaskRunner(client, database_url(settings), tz=settings.timezone, reads=opts["reads"],
                           progress=_progress(kind)), where


def _period(session: Session, settings: Settings, opts: dict[str, Any], first_of) -> tuple[dt.date, dt.date]:
    if opts["history"]:
        if opts["start"] or opts["end"]:
            raise click.UsageError("give --history or --start/--end, not both")
        first = session.scalar(select(func.min(first_of)))
        if first is None:
            raise InvalidInput("nothing recorded yet: no history to analyse", field="history")
        zone = ZoneInfo(settings.timezone)
        first = first.replace(tzinfo=first.tzinfo or dt.UTC)
        return first.astimezone(zone).date(), dt.datetime.now(zone).date() + dt.timedelta(days=1)
    if not opts["start"] or not opts["end"]:
        raise click.UsageError("give --history, or --start and --end")
    return opts["start"].date(), opts["end"].date()


def _write(out: dict, opts: dict[str, Any], kind: str, line: str, where: str, started: float) -> None:
    path = Path(opts["out"] or f"{kind}.geojson")
    path.write_text(json.dumps(out, ensure_ascii=False), encoding="utf-8")
    print(f"{line} → {path} ({where}, {time.perf_counter() - started:.1f} s)")


@analytics.command("hotspots", cls=Command, help="Gi* hot and cold spots of the cases of a long period or the "
                                                  "whole history (counted per community-month on Dask)")
@_common
@click.option("--cells", type=click.Choice(svc.CELLS), default="h3", show_default=True)
@click.option("--resolution", type=int, default=9, show_default=True, help="H3 resolution")
@click.option("--size-m", type=float, default=250, show_default=True, help="fishnet cell side, metres")
@click.option("--category", help="category code")
@click.option("--measure", type=click.Choice(list(svc.MEASURES)), default="cases", show_default=True)
@click.option("--weight", type=click.Choice(["count", "severity"]), default="count", show_default=True)
@click.option("--permutations", type=click.IntRange(0, 9999), default=0, show_default=True)
def hotspots(**opts: Any) -> None:
    started = time.perf_counter()
    settings, _, sessions = open_database()
    with sessions() as session, _runner(settings, opts, "hotspots") as (runner, where):
        start, end = _period(session, settings, opts, Case.reported_at)
        out = svc.hotspots(session, SYSTEM, settings, start=start, end=end, cells=opts["cells"],
                           resolution=opts["resolution"], size_m=opts["size_m"], category=opts["category"],
                           measure=opts["measure"], weight=opts["weight"], permutations=opts["permutations"],
                           community=opts["community"], grid=opts["grid"], runner=runner)
    summary = out["summary"]
    bins = summary.get("bins", {})
    hot, cold = sum(bins.get(str(k), 0) for k in (1, 2, 3)), sum(bins.get(str(k), 0) for k in (-1, -2, -3))
    _write(out, opts, "hotspots", f"hotspots {start}..{end}: {summary['points']} cases in {summary['cells']} cells, "
           f"{hot} hot, {cold} cold", where, started)


@analytics.command("emerging", cls=Command, help="emerging hot spots (Gi* per step + Mann–Kendall) over the last "
                                                  "steps, or monthly steps over the whole history")
@_common
@click.option("--step", type=click.Choice(["day", "week", "month"]), default="month", show_default=True)
@click.option("--steps", type=click.IntRange(2, 60), help="steps up to this one (default: with --history, every "
                                                          "month of the history, at most 60)")
@click.option("--cells", type=click.Choice(svc.CELLS), default="h3", show_default=True)
@click.option("--resolution", type=int, default=9, show_default=True, help="H3 resolution")
@click.option("--size-m", type=float, default=250, show_default=True, help="fishnet cell side, metres")
@click.option("--category", help="category code")
@click.option("--measure", type=click.Choice(list(svc.MEASURES)), default="cases", show_default=True)
def emerging(**opts: Any) -> None:
    started = time.perf_counter()
    settings, _, sessions = open_database()
    with sessions() as session, _runner(settings, opts, "emerging") as (runner, where):
        steps = opts["steps"]
        if steps is None:
            if not opts["history"]:
                raise click.UsageError("give --steps, or --history for every month of the history")
            first, end = _period(session, settings, opts, Case.reported_at)
            steps = max(2, min(60, (end.year - first.year) * 12 + end.month - first.month + 1))
            opts["step"] = "month"
        out = svc.emerging(session, SYSTEM, settings, step=opts["step"], steps=steps, cells=opts["cells"],
                           resolution=opts["resolution"], size_m=opts["size_m"], category=opts["category"],
                           measure=opts["measure"], community=opts["community"], grid=opts["grid"], runner=runner)
    summary = out["summary"]
    patterns = ", ".join(f"{k} {v}" for k, v in sorted(summary.get("patterns", {}).items()) if k != "No Pattern "
                         "Detected")
    _write(out, opts, "emerging", f"emerging over {steps} {opts['step']}s: {summary['points']} cases in "
           f"{summary['cells']} cells" + (f"; {patterns}" if patterns else ""), where, started)


@analytics.command("coverage", cls=Command, help="patrol coverage per grid (不留死角) of a long period or the whole "
                                                  "history (measured per month of patrols on Dask)")
@_common
@click.option("--distance-m", type=click.FloatRange(1, 500), default=25.0, show_default=True,
              help="covered within this many metres of a track")
def coverage(**opts: Any) -> None:
    started = time.perf_counter()
    settings, _, sessions = open_database()
    with sessions() as session, _runner(settings, opts, "coverage") as (runner, where):
        start, end = _period(session, settings, opts, GpsFix.time)
        out = svc.coverage(session, SYSTEM, settings, start=start, end=end, community=opts["community"],
                           grid=opts["grid"], distance_m=opts["distance_m"], runner=runner)
    street = sum(r["street_m"] or 0 for r in out["grids"])
    covered = sum(r["covered_m"] or 0 for r in out["grids"])
    collection = {"type": "FeatureCollection", "features": out["streets"]["features"],
                  "summary": {k: out[k] for k in ("start", "end", "distance_m", "fixes", "message")},
                  "grids": out["grids"], "buildings": out["buildings"]}
    share = f"{100 * covered / street:.2f} %" if street else "no streets"
    _write(collection, opts, "coverage", f"coverage {start}..{end}: {out['fixes']} fixes, {share} of "
           f"{street / 1000:.1f} km of streets covered", where, started)
