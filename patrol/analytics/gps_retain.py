"""``gridpatrol gps summarise`` and ``gridpatrol gps retain``: per worker-day summaries of finished days, then the
raw fixes past the retention window dropped (patrol.field.retention), the summaries marked as the days' only record.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker
from tqdm import tqdm

from patrol.analytics.gps_days import mark_dropped, pending_days, summarise_days
from patrol.analytics.service import Scope, coverage_base
from patrol.core.errors import InvalidInput
from patrol.core.settings import Settings
from patrol.field.retention import Dropped, cutoff_of, drop_raw, partition_default

#: Days read and summarised together (a week: ~0.5M fixes in a 100-worker district).
BATCH_DAYS = 7


@dataclass
class Summarised:
    days: int
    rows: int
    through: dt.date


def batches(days: list[dt.date], size: int) -> list[list[dt.date]]:
    """Sorted days in batches of at most ``size`` consecutive days (one query each reads no day outside)."""
    out: list[list[dt.date]] = []
    for day in sorted(days):
        if out and len(out[-1]) < size and out[-1][-1] + dt.timedelta(days=1) == day:
            out[-1].append(day)
        else:
            out.append([day])
    return out


def summarise(sessions: sessionmaker[Session], settings: Settings, *, through: dt.date | None = None,
              progress: bool = False, batch_days: int = BATCH_DAYS) -> Summarised:
    """Summarise every finished local day up to ``through`` (default yesterday) whose raw fixes are not all
    summarised yet; idempotent. One transaction per batch of up to ``batch_days`` consecutive days."""
    if batch_days < 1:
        raise InvalidInput(f"--batch-days must be at least 1, got {batch_days}", field="batch_days")
    today = dt.datetime.now(ZoneInfo(settings.timezone)).date()
    last = today - dt.timedelta(days=1)
    through = through or last
    if through > last:
        raise InvalidInput(f"--through must be a finished day (up to {last}), got {through}", field="through")
    with sessions() as s:
        days = pending_days(s, settings.timezone, through)
    rows = 0
    base = None
    with tqdm(total=len(days), desc="summarising GPS days", unit=" days", disable=not progress, leave=False) as bar:
        for batch in batches(days, batch_days):
            with sessions.begin() as s:
                base = base or coverage_base(s, Scope())
                rows += summarise_days(s, base, batch, settings.timezone)
            bar.update(len(batch))
    return Summarised(len(days), rows, through)


def retain(sessions: sessionmaker[Session], settings: Settings, *, today: dt.date | None = None,
           progress: bool = False) -> tuple[Summarised, Dropped]:
    """Summarise what is not yet, then drop the raw fixes older than ``settings.gps_retention_days``."""
    today = today or dt.datetime.now(ZoneInfo(settings.timezone)).date()
    cutoff = cutoff_of(today, settings.gps_retention_days, settings.timezone)
    before = cutoff.astimezone(ZoneInfo(settings.timezone)).date() - dt.timedelta(days=1)
    done = summarise(sessions, settings, through=min(today - dt.timedelta(days=1), before), progress=progress)
    with sessions.begin() as s:
        partition_default(s)  # months that landed in the DEFAULT partition (db copy) get theirs, so they can go whole
    with sessions.begin() as s:
        dropped = drop_raw(s, cutoff, settings.timezone)
        mark_dropped(s, dropped.days)
    return done, dropped
