"""The working hours a simple closed case took (register → handled, register → closed, less one pause), as the
KPIs' pandas path computes them, and the fingerprint of the calendar they were computed with: stored in
``case_kpi_fact`` by :mod:`patrol.analytics.summaries`, computed on read by :mod:`patrol.analytics.kpis_fast` for the
rows that lack them.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from patrol.cases.worktime import WorkCalendar

__all__ = ["calendar_key", "case_hours"]


def calendar_key(cal: WorkCalendar) -> str:
    """A short fingerprint of the working calendar the stored hours were computed with."""
    text_ = repr((cal.timezone, cal.periods, sorted(cal.weekdays), sorted(cal.holidays), sorted(cal.workdays)))
    return hashlib.sha1(text_.encode()).hexdigest()[:16]


def _net(cal: WorkCalendar, a: dt.datetime, b: dt.datetime, pause: tuple[dt.datetime, dt.datetime] | None) -> float:
    hours = cal.working_hours_between(a, b)  # as patrol.analytics.kpis._net_hours, with at most one pause
    if pause is not None:
        lo, hi = max(pause[0], a), min(pause[1], b)
        if hi > lo:
            hours -= cal.working_hours_between(lo, hi)
    return hours


def case_hours(cal: WorkCalendar, reported_at: dt.datetime, register_at: dt.datetime | None,
               handled_at: dt.datetime | None, close_at: dt.datetime, suspend_at: dt.datetime | None,
               resume_at: dt.datetime | None) -> tuple[float | None, float]:
    """(handle hours or None, close hours) of a simple closed case, exactly as the KPIs' pandas path computes them."""
    reg = register_at or reported_at
    pause = None if suspend_at is None else (suspend_at, resume_at or close_at)
    handle = None if handled_at is None else _net(cal, reg, handled_at, pause)
    return handle, _net(cal, reg, close_at, pause)
