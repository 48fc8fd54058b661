"""Summary tables of the case loop for the dashboards at city scale (issue 23).

``case_kpi_fact`` holds one row per case with events: the instants of the steps the KPIs of
:mod:`patrol.analytics.kpis` read (first register, close, reject, merge, suspend, resume, rate; first and last
handle, escalate, urge; the last handle before the close; the first rework or reopen; when the case reached its final
status and when it was suspended and left that), whether the case is ``simple`` (its history lets every KPI be read
from those instants exactly: no reopen, at most one of each single step, at most two handles / escalations / urges,
one suspension, a final status that is its last), and its working hours register → handled / closed.

Upkeep: database triggers on ``case_event`` (migration 0017) refresh a case's row on every insert, update and
delete, whatever writes it (ORM, Core bulk inserts, the history and 12345 imports, batch, merge, delete). On
PostgreSQL they are statement-level (one refresh per statement for all the cases it touched). A bulk load may turn
them off with ``SET session_replication_role = replica`` (also turns off foreign-key checks) and must then call
:func:`rebuild`. The working hours need the Python calendar: the triggers keep them when their inputs did not change
and clear them otherwise; :func:`refresh_hours` fills the missing ones (and a KPI read computes those it needs).
"""

from __future__ import annotations

from sqlalchemy import bindparam, or_, select, text, update
from sqlalchemy.orm import Session

from patrol.analytics import kpi_days_sql as D
from patrol.analytics import summary_sql as S
from patrol.analytics.case_hours import calendar_key, case_hours
from patrol.cases import map_cells
from patrol.cases.worktime import calendar
from patrol.core.models import Case, CaseKpiFact
from patrol.core.settings import Settings, get_settings

__all__ = ["calendar_key", "case_hours", "rebuild", "refresh_hours"]  # the first two from case_hours

_BATCH = 20_000


def refresh_hours(session: Session, settings: Settings | None = None, *, case_ids: list[int] | None = None) -> int:
    """Compute the working hours of the simple closed cases that lack them (or were computed for another calendar);
    returns how many rows were filled."""
    cal = calendar(settings or get_settings())
    key = calendar_key(cal)
    stmt = (select(CaseKpiFact.case_id, Case.reported_at, CaseKpiFact.register_at,
                   CaseKpiFact.handle_before_close_at, CaseKpiFact.close_at, CaseKpiFact.suspend_at,
                   CaseKpiFact.resume_at)
            .join(Case, Case.id == CaseKpiFact.case_id)
            .where(CaseKpiFact.simple.is_(True), CaseKpiFact.close_at.is_not(None),
                   or_(CaseKpiFact.hours_cal.is_(None), CaseKpiFact.hours_cal != key)))
    if case_ids is not None:
        stmt = stmt.where(CaseKpiFact.case_id.in_(case_ids))
    rows = session.execute(stmt).all()
    upd = (update(CaseKpiFact.__table__).where(CaseKpiFact.case_id == bindparam("cid"))
           .values(handle_hours=bindparam("hh"), close_hours=bindparam("ch"), hours_cal=key))
    for i in range(0, len(rows), _BATCH):
        params = []
        for cid, rep, reg, hdl, close, sus, res in rows[i:i + _BATCH]:
            hh, ch = case_hours(cal, rep, reg, hdl, close, sus, res)
            params.append({"cid": cid, "hh": hh, "ch": ch})
        session.connection().execute(upd, params)
    return len(rows)


def _rebuild_postgres(session: Session, settings: Settings) -> None:
    """The facts with their spans and a row for every case, their hours, then the per-day sums in the settings'
    time zone (migration 0021), the per-day triggers off meanwhile (one pass instead of one per statement)."""
    conn = session.connection()
    days = [f"case_kpi_day_{op}" for op in ("insert", "update", "delete")]
    for name in days:
        conn.execute(text(f"ALTER TABLE case_kpi_fact DISABLE TRIGGER {name}"))
    conn.execute(text("DELETE FROM case_kpi_day_meta"))
    conn.execute(text("INSERT INTO case_kpi_day_meta (tz) VALUES (:tz)"), {"tz": settings.timezone})
    conn.execute(text("TRUNCATE case_kpi_fact"))
    conn.execute(text(f"INSERT INTO case_kpi_fact ({', '.join(S.columns(True, True))}) "
                      f"{S.fact_select('TRUE', True, True)}"))
    conn.execute(text(f"INSERT INTO case_kpi_fact ({', '.join(S.columns(True, True))}) {S.eventless_select('TRUE')}"))
    refresh_hours(session, settings)
    for stmt in D.rebuild_sql():
        conn.execute(text(stmt))
    for name in days:
        conn.execute(text(f"ALTER TABLE case_kpi_fact ENABLE TRIGGER {name}"))


def rebuild(session: Session, settings: Settings | None = None) -> int:
    """Rebuild every summary table from the raw rows (after a bulk load that bypassed the incremental upkeep, e.g.
    a COPY under ``session_replication_role = replica``): ``case_kpi_fact`` (then its working hours) and the cases
    map's ``case_map_cell`` (:func:`patrol.cases.map_cells.rebuild`). Returns the fact rows."""
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        _rebuild_postgres(session, settings or get_settings())
    else:
        conn.execute(text("DELETE FROM case_kpi_fact"))
        conn.execute(text(f"INSERT INTO case_kpi_fact ({', '.join(S.columns())}) {S.fact_select('TRUE')}"))
        refresh_hours(session, settings)
    map_cells.rebuild(session)
    return int(session.scalar(select(text("count(*)")).select_from(CaseKpiFact.__table__)) or 0)
