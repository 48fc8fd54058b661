"""``gridpatrol gps summarise [--through DATE]`` and ``gridpatrol gps retain``: per worker-day GPS summaries and the
retention of raw fixes (patrol.analytics.gps_retain, patrol.field.retention)."""

from __future__ import annotations

import datetime as dt

import click

from api.cli.context import Group, open_database
from patrol.analytics import gps_retain


@click.group(cls=Group, help="GPS fixes: per worker-day summaries and the retention of raw fixes")
def gps() -> None:
    pass


@gps.command("summarise", help="summarise the GPS fixes of finished days per worker-day (idempotent)")
@click.option("--through", type=click.DateTime(formats=["%Y-%m-%d"]), help="last local day to summarise "
              "(default: yesterday)")
@click.option("--batch-days", type=int, default=gps_retain.BATCH_DAYS, show_default=True,
              help="consecutive days read and summarised together (one transaction each)")
def summarise(through: dt.datetime | None, batch_days: int) -> None:
    db = open_database()
    done = gps_retain.summarise(db.sessions, db.settings, through=through.date() if through else None, progress=True,
                                batch_days=batch_days)
    print(f"summarised {done.days} day(s) through {done.through}: {done.rows} worker-day row(s) written")


@gps.command("retain", help="summarise what is not yet, then drop raw GPS fixes older than "
                            "GRIDPATROL_GPS_RETENTION_DAYS")
def retain() -> None:
    db = open_database()
    done, dropped = gps_retain.retain(db.sessions, db.settings, progress=True)
    print(f"summarised {done.days} day(s) ({done.rows} worker-day rows); raw fixes kept from "
          f"{dropped.cutoff.isoformat()} ({db.settings.gps_retention_days} days)")
    if dropped.partitions:
        print(f"dropped {len(dropped.partitions)} monthly partition(s) ({', '.join(dropped.partitions)}): "
              f"{dropped.partition_rows} fixes")
    if dropped.rows:
        print(f"deleted {dropped.rows} older fixes")
    if not dropped.partitions and not dropped.rows:
        print("nothing to drop")
