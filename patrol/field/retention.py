"""GPS fixes at city scale (issue 23): monthly partitions and retention. (Placeholder: filled in by the GPS
retention work.)"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session


def ensure_partitions(session: Session, start: dt.datetime, end: dt.datetime) -> None:
    """Make sure ``gps_fix`` can take fixes with times in [start, end) (PostgreSQL: the monthly partitions)."""
