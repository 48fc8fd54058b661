"""A 民情台账 need that became (or was linked to) a case follows it (issue 22): when the case closes the need is
resolved, with the case's result as the answer when none was written; when the case is reopened the need is back in
progress. Written here, as SQL updates through the model, because the register (patrol.surveys) imports the case
service and not the other way round."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from patrol.core.models import Case, CaseEvent, ResidentNeed


def case_result(session: Session, case: Case) -> str:
    """The result of a closed case in words: its latest 处置 note, with its number."""
    note = session.scalar(select(CaseEvent.note).where(CaseEvent.case_id == case.id, CaseEvent.action == "handle")
                          .order_by(CaseEvent.at.desc(), CaseEvent.id.desc()).limit(1))
    said = f"：{note}" if note else ""
    return f"已办结（案件 {case.number}）{said}"[:2000]


def case_closed(session: Session, case: Case, now: dt.datetime) -> int:
    """Resolve the needs linked to ``case`` (just closed); returns how many changed."""
    result = case_result(session, case)
    linked = (ResidentNeed.case_id == case.id, ResidentNeed.status != "resolved")
    unanswered = session.execute(update(ResidentNeed).where(*linked, ResidentNeed.response.is_(None))
                                 .values(response=result, responded_at=now)
                                 .execution_options(synchronize_session=False)).rowcount
    changed = session.execute(update(ResidentNeed).where(*linked).values(status="resolved", resolved_at=now)
                              .execution_options(synchronize_session=False)).rowcount
    return max(unanswered or 0, changed or 0)


def case_reopened(session: Session, case: Case) -> int:
    """Put the needs linked to ``case`` (just reopened) back in progress; returns how many changed."""
    return session.execute(update(ResidentNeed).where(ResidentNeed.case_id == case.id,
                                                      ResidentNeed.status == "resolved")
                           .values(status="in_progress", resolved_at=None)
                           .execution_options(synchronize_session=False)).rowcount or 0
