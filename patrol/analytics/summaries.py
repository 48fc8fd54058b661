"""Summary tables of the case loop for the dashboards at city scale (issue 23). (Placeholder: filled in by the KPI
summaries work.)"""

from __future__ import annotations

from sqlalchemy.orm import Session


def rebuild(session: Session) -> None:
    """Rebuild every summary table from the raw rows (after a bulk load that bypassed the incremental upkeep)."""
