"""What "overdue" means, written once: a case whose deadline clock runs (open, not suspended — see
:data:`patrol.cases.lifecycle.RUNNING`) and whose ``deadline_at`` lies before ``now``.

Three forms of the one rule, for the three places it is evaluated: :func:`overdue_clause` in SQL (filters, map
clusters), :func:`is_overdue` on one case in Python, :func:`overdue_mask` on pandas columns (KPIs). Automatic
escalation is a different rule (a deadline passed at a level before the case was handled:
:func:`patrol.cases.service.escalate_if_overdue`).

Near the deadline (即将超期), also written once: running, not overdue, and less than
``Settings.near_deadline_fraction`` of the category's time limit (working hours) left — :func:`near_clause` over
:func:`near_thresholds` in SQL (the desk's queues, the nearing-deadline notices); :func:`deadline_colour` the colour
the desk shows for a deadline (red overdue, orange near, yellow below twice the fraction, green).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import ColumnElement, and_, case, literal, select
from sqlalchemy.orm import Session

from patrol.cases.lifecycle import RUNNING
from patrol.cases.worktime import calendar
from patrol.core.models import Case, Category
from patrol.core.settings import Settings
from patrol.core.time import aware

#: The running statuses as a stable tuple, for SQL ``IN``.
_RUNNING = tuple(sorted(RUNNING))


def overdue_clause(now: dt.datetime) -> ColumnElement[bool]:
    """SQL: the case is overdue at ``now`` (aware). Its negation keeps SQL's three-valued logic: a case without a
    deadline is neither overdue nor (under ``~``) selected as not overdue, as the filters have always answered."""
    return and_(Case.status.in_(_RUNNING), Case.deadline_at < now)


def is_overdue(status: str | None, deadline: dt.datetime | None, now: dt.datetime) -> bool:
    """Python: a case in ``status`` with ``deadline`` (aware; a naive one is taken as UTC) is overdue at ``now``."""
    deadline = aware(deadline)
    return bool(status in RUNNING and deadline is not None and deadline < now)


def overdue_mask(status: pd.Series, deadline: pd.Series, now: dt.datetime) -> pd.Series:
    """pandas: per row, overdue at ``now``; ``deadline`` a datetime64[ns, UTC] column (NaT: no deadline), a
    missing status is not overdue. Aligned on the index of ``status``."""
    return status.isin(list(RUNNING)) & (deadline < now).fillna(False)


def near_thresholds(session: Session, settings: Settings, now: dt.datetime) -> dict[str, dt.datetime]:
    """Per category code: the moment at which ``near_deadline_fraction`` of its time limit is left from ``now``."""
    cal = calendar(settings)
    f = settings.near_deadline_fraction
    limits = {code: hours for code, hours in session.execute(select(Category.code, Category.deadline_hours))}
    at = {hours: cal.add_working_hours(now, f * hours) for hours in set(limits.values())}  # a few distinct limits
    return {code: at[hours] for code, hours in limits.items()}


def near_clause(thresholds: dict[str, dt.datetime], now: dt.datetime) -> ColumnElement[bool]:
    """SQL: running, not overdue, less than the fraction of the category's time limit left."""
    if not thresholds:
        return Case.id == -1
    kind = Case.deadline_at.type  # bound as the column binds (SpatiaLite compares datetimes as text)
    limit = case({code: literal(t, kind) for code, t in thresholds.items()}, value=Case.category_code,
                 else_=literal(now, kind))
    return and_(Case.status.in_(_RUNNING), Case.deadline_at >= now, Case.deadline_at < max(thresholds.values()),
                Case.deadline_at < limit)


def deadline_colour(left: float | None, limit_hours: float, fraction: float, *, overdue: bool = False) -> str | None:
    """The colour of a running deadline with ``left`` working hours left of ``limit_hours``: red when overdue (its
    moment passed, even if no working hour has — a weekend) or nothing is left, orange below ``fraction`` of the
    limit, yellow below twice it, green otherwise; None without a running clock."""
    if left is None:
        return None
    if overdue or left < 0:
        return "red"
    if left < fraction * limit_hours:
        return "orange"
    if left < 2 * fraction * limit_hours:
        return "yellow"
    return "green"
