"""A user's in-app notices (the bell): the latest, the unread count, marking them read. Only the user's own."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from patrol.core.models import Case, Notice
from patrol.core.time import iso, now_utc

LIMIT_MAX = 200


def my_notices(session: Session, user_id: int, *, unread: bool = False, limit: int = 20) -> list[dict]:
    """The user's notices, newest first, as plain data (the case as its number, never its id)."""
    stmt = (select(Notice, Case.number).outerjoin(Case, Case.id == Notice.case_id)
            .where(Notice.user_id == user_id).order_by(Notice.created_at.desc(), Notice.id.desc())
            .limit(max(1, min(limit, LIMIT_MAX))))
    if unread:
        stmt = stmt.where(Notice.read_at.is_(None))
    return [{"id": n.id, "kind": n.kind, "title": n.title, "body": n.body, "case_number": number,
             "link": f"/desk/cases/{number}" if number else None, "created_at": iso(n.created_at),
             "read": n.read_at is not None} for n, number in session.execute(stmt).all()]


def unread_count(session: Session, user_id: int) -> int:
    return session.scalar(select(func.count(Notice.id)).where(Notice.user_id == user_id,
                                                              Notice.read_at.is_(None))) or 0


def mark_read(session: Session, user_id: int, *, ids: list[int] | None = None, everything: bool = False,
              now: dt.datetime | None = None) -> int:
    """Mark the user's notices ``ids`` (or all of them) read; another user's ids are ignored. Returns how many."""
    stmt = update(Notice).where(Notice.user_id == user_id, Notice.read_at.is_(None))
    if not everything:
        if not ids:
            return 0
        stmt = stmt.where(Notice.id.in_(ids))
    return session.execute(stmt.values(read_at=now or now_utc())).rowcount or 0
