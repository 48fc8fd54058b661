"""Instants as the domain handles them: aware UTC datetimes, written out as ISO 8601.

Columns of type :class:`patrol.core.models.UTCDateTime` already read back aware (UTC) on both databases, so
:func:`aware` is needed only for values that bypass the column type (pandas frames, raw SQL, JSON input).
"""

from __future__ import annotations

import datetime as dt


def now_utc() -> dt.datetime:
    """The current instant, aware, in UTC."""
    return dt.datetime.now(dt.UTC)


def aware(t: dt.datetime | None) -> dt.datetime | None:
    """``t`` with UTC attached when it is naive (a value stored in UTC that lost its offset); None stays None."""
    if t is None or t.tzinfo is not None:
        return t
    return t.replace(tzinfo=dt.UTC)


def iso(t: dt.datetime | None) -> str | None:
    """ISO 8601 text of an instant (a naive one is taken as UTC), or None."""
    t = aware(t)
    return t.isoformat() if t is not None else None
