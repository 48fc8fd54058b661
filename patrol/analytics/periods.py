"""The periods KPIs are computed over: instants (a date is local midnight in the city's time zone), half-open
periods, calendar weeks and months, the last N of them; and :class:`KpiArgumentError`, the error of a bad argument
to any KPI function.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pandas as pd

from patrol.core.errors import InvalidInput

PERIODS = ("week", "month")


class KpiArgumentError(InvalidInput, ValueError):
    """A bad argument to a KPI function: a ValueError for Python callers, a 422 naming ``field`` for the API."""


def instant(value: dt.datetime | dt.date, name: str, tz: str) -> dt.datetime:
    """An aware UTC datetime; a date is local midnight in ``tz``."""
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise KpiArgumentError(f"{name} must be timezone-aware, got {value.isoformat()}", field=name)
        return value.astimezone(dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time(), tzinfo=ZoneInfo(tz)).astimezone(dt.UTC)
    raise KpiArgumentError(f"{name} must be a datetime or a date, got {type(value).__name__}", field=name)


def half_open(start: dt.datetime | dt.date, end: dt.datetime | dt.date, tz: str) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) as aware UTC datetimes (dates: local midnight in ``tz``); end must come after start."""
    s, e = instant(start, "start", tz), instant(end, "end", tz)
    if e <= s:
        raise KpiArgumentError(f"end ({e.isoformat()}) must come after start ({s.isoformat()})", field="end")
    return s, e


def period_bounds(period: str, at: dt.datetime, tz: str = "Asia/Shanghai") -> tuple[dt.datetime, dt.datetime]:
    """The week (Monday 00:00) or month (1st 00:00) containing ``at``, in local time of ``tz``."""
    if period not in PERIODS:
        raise KpiArgumentError(f"period must be one of {', '.join(PERIODS)}, got {period!r}", field="period")
    zone = ZoneInfo(tz)
    day = instant(at, "now", tz).astimezone(zone).date()
    if period == "week":
        first = day - dt.timedelta(days=day.weekday())
        nxt = first + dt.timedelta(days=7)
    else:
        first = day.replace(day=1)
        nxt = (first + dt.timedelta(days=32)).replace(day=1)
    return (dt.datetime.combine(first, dt.time(), tzinfo=zone), dt.datetime.combine(nxt, dt.time(), tzinfo=zone))


def last_periods(period: str, n: int, now: dt.datetime, tz: str = "Asia/Shanghai") -> list[tuple[dt.datetime,
                                                                                                 dt.datetime]]:
    """The ``n`` weeks or months up to the one containing ``now`` (which is partial), oldest first."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise KpiArgumentError(f"n must be a whole number ≥ 1, got {n!r}", field="n")
    out = [period_bounds(period, now, tz)]
    for _ in range(n - 1):
        prev_end = out[0][0]
        out.insert(0, period_bounds(period, prev_end - dt.timedelta(hours=12), tz))
    return out
