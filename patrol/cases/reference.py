"""The case loop's reference tables on first use: a fresh database (a city just created or imported, or a report
into a database nobody loaded categories into) gets the shipped categories and responsibility table, so that no
report fails for want of ``gridpatrol categories load``."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from patrol.cases.categories import load_categories
from patrol.cases.responsibility import load_rules
from patrol.core.models import Category, Responsibility


def ensure_categories(session: Session) -> int:
    """Load the shipped categories when the database has none; how many were loaded (0 when they were there)."""
    if session.scalar(select(func.count()).select_from(Category)):
        return 0
    return load_categories(session)


def ensure_reference_tables(session: Session) -> tuple[int, int]:
    """Load the shipped categories when the database has none, and the shipped responsibility table when it has
    no rules (in the caller's transaction); returns how many of each were loaded (0 when they were there)."""
    categories, rules = ensure_categories(session), 0
    if not session.scalar(select(func.count()).select_from(Responsibility)):
        rules = load_rules(session)
    return categories, rules
