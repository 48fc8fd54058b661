"""我的上报: the reports a worker made herself, newest first, each with its case number, its state and its latest
step (what and when) — what the phone's "我的上报" screen shows and keeps for offline use; and the possible
duplicates of a report she is about to send (the case page's rule, :func:`patrol.cases.casefile.open_nearby`).

Only her own reports (``Case.reporter_id``): a case she can read for another reason (in her grid, assigned to her)
but did not report is not listed here.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from patrol.cases.casefile import open_nearby
from patrol.cases.lifecycle import SELF_HANDLED
from patrol.cases.places import to_point
from patrol.cases.reads import step_label
from patrol.core.auth import Actor
from patrol.core.errors import Forbidden, InvalidInput
from patrol.core.models import Case, CaseEvent, Category
from patrol.core.settings import Settings
from patrol.core.time import iso, now_utc

#: The most reports one page lists.
PAGE_MAX = 100


def my_reports(session: Session, actor: Actor, *, limit: int = 50, offset: int = 0) -> dict[str, Any]:
    """Her reports, newest first: ``{"items": [...], "total": n, "limit", "offset"}``. Each item: the case number,
    the phone's client id (so the phone can match what it queued), category, status, level, whether she handled it
    on the spot, when it was reported, and the latest step ``{action, label_zh, at}``."""
    if not 1 <= limit <= PAGE_MAX:
        raise InvalidInput(f"limit must be from 1 to {PAGE_MAX}, got {limit}", field="limit")
    if offset < 0:
        raise InvalidInput(f"offset must be 0 or more, got {offset}", field="offset")
    if actor.user_id is None:
        raise Forbidden("my reports are those of a logged-in user", field="authorization")
    mine = Case.reporter_id == actor.user_id
    total = session.scalar(select(func.count()).select_from(Case).where(mine)) or 0
    rows = session.execute(
        select(Case.id, Case.number, Case.client_id, Case.category_code, Category.name_zh, Category.name_en,
               Case.status, Case.level, Case.channel, Case.reported_at, Case.description)
        .join(Category, Category.code == Case.category_code).where(mine)
        .order_by(Case.reported_at.desc(), Case.id.desc()).limit(limit).offset(offset)).all()
    latest: dict[int, tuple[str, dt.datetime]] = {}
    if rows:
        events = session.execute(select(CaseEvent.case_id, CaseEvent.action, CaseEvent.at)
                                 .where(CaseEvent.case_id.in_([r[0] for r in rows]))
                                 .order_by(CaseEvent.at, CaseEvent.id)).all()
        for case_id, action, at in events:  # in order: the last one written wins
            latest[case_id] = (action, at)
    items = []
    for cid, number, client_id, code, zh, en, status, level, channel, reported_at, description in rows:
        action, at = latest.get(cid, ("report", reported_at))
        items.append({"id": cid, "number": number, "client_id": client_id,
                      "category": {"code": code, "zh": zh, "en": en}, "status": status, "level": level,
                      "self_handled": channel == SELF_HANDLED, "reported_at": iso(reported_at),
                      "description": description,
                      "latest": {"action": action, "label_zh": step_label(action), "at": iso(at)}})
    return {"items": items, "total": int(total), "limit": limit, "offset": offset}


def possible_duplicates(session: Session, actor: Actor, settings: Settings, *, category: str, lon: float,
                        lat: float, crs: str = "wgs84", now: dt.datetime | None = None) -> dict[str, Any]:
    """The open cases of ``category`` near (lon, lat) she may read — what the phone offers before sending a report
    (仍要上报 / 补充到该案件), with the radius used."""
    if session.get(Category, category) is None:
        raise InvalidInput(f"unknown category {category!r}; see GET /api/v1/categories", field="category")
    x, y = to_point(lon, lat, crs)
    found = open_nearby(session, actor, settings, category, x, y, now or now_utc())
    return {"radius_m": settings.duplicate_radius_m, "cases": found}
