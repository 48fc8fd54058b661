"""What "overdue" means, written once: a case whose deadline clock runs (open, not suspended — see
:data:`patrol.cases.lifecycle.RUNNING`) and whose ``deadline_at`` lies before ``now``.

Three forms of the one rule, for the three places it is evaluated: :func:`overdue_clause` in SQL (filters, map
clusters), :func:`is_overdue` on one case in Python, :func:`overdue_mask` on pandas columns (KPIs). Automatic
escalation is a different rule (a deadline passed at a level before the case was handled:
:func:`patrol.cases.service.escalate_if_overdue`).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import ColumnElement, and_

from patrol.cases.lifecycle import RUNNING
from patrol.core.models import Case
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
