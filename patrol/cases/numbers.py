"""Case numbers (案件编号) as people say and write them: ``2026-000123``, the local year a case was reported and a
sequence. Pages, notices, exports and the printed 派遣单 show the number, never the database id."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session

from patrol.core.models import Case

PATTERN = re.compile(r"^(\d{4})-(\d{6,})$")


def case_number(reported_at: dt.datetime, case_id: int, timezone: str) -> str:
    """The number of case ``case_id`` reported at ``reported_at`` (UTC) in a city on ``timezone``."""
    return f"{reported_at.astimezone(ZoneInfo(timezone)).year:04d}-{case_id:06d}"


def assign_numbers(session: Session, cases: list[tuple[int, dt.datetime]], timezone: str) -> None:
    """Give each new case (id, reported_at) its number, in the caller's transaction (one executemany)."""
    if not cases:
        return
    table = Case.__table__
    session.execute(update(table).where(table.c.id == bindparam("case_id")).values(number=bindparam("number")),
                    [{"case_id": case_id, "number": case_number(reported_at, case_id, timezone)}
                     for case_id, reported_at in cases])


def looks_like_number(text: str) -> bool:
    """Whether ``text`` is written like a case number (``2026-000123``)."""
    return PATTERN.match(text.strip()) is not None
