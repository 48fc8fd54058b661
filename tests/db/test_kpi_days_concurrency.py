"""Two writers of one grid's day at once (the case loop's everyday concurrency): the per-day KPI sums stay equal to a
rebuild from the facts. On PostgreSQL each writer recomputes the (day, community, grid) row from its own snapshot,
so the second must wait for the first to commit (a per-key advisory lock in ``case_kpi_day_refresh``); without it
the second writer's insert of the same key failed (HTTP 500 under eight concurrent writers). SQLite serializes
writers and keeps no day rows; its fact rows must still be both cases'.
"""

from __future__ import annotations

import threading
import uuid

from sqlalchemy import func, select, text

from patrol.analytics import kpi_days_sql
from patrol.cases import service as svc
from patrol.core.auth import SYSTEM
from patrol.core.db import make_engine, session_factory, transaction
from patrol.core.models import CaseKpiDay, CaseKpiFact
from patrol.core.settings import Settings


def _day_rows(conn) -> list[tuple]:
    cols = list(CaseKpiDay.__table__.columns)
    return [tuple(r) for r in conn.execute(select(*cols).order_by(*cols[:3])).all()]


def test_two_writers_of_one_grid_day_keep_the_day_rows_right(monaco_city_url, backend):
    engine = make_engine(monaco_city_url)
    settings = Settings(database_url=monaco_city_url, timezone="Asia/Shanghai")
    factory = session_factory(engine.execution_options(sqlite_immediate=True))  # as the API's writing engine
    with engine.connect() as conn:
        x, y = conn.execute(text("SELECT ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) FROM grid "
                                 "ORDER BY id LIMIT 1")).one()
    first_written, failures, made = threading.Event(), [], []

    def report(wait: threading.Event | None) -> None:
        try:
            with transaction(factory) as s:
                case = svc.create_case(s, SYSTEM, settings, client_id=str(uuid.uuid4()), category="C0103",
                                       lon=float(x), lat=float(y), description="concurrent").case
                s.flush()  # the triggers have run: the first writer holds the day row's key until it commits
                made.append(case.id)
                if wait is None:
                    first_written.set()
                    threading.Event().wait(0.5)  # the second writer reaches the same key meanwhile
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            failures.append(exc)
            first_written.set()

    first = threading.Thread(target=report, args=(None,))
    first.start()
    assert first_written.wait(60)
    second = threading.Thread(target=report, args=(first_written,))
    second.start()
    first.join(60)
    second.join(60)
    try:
        assert failures == [] and len(made) == 2
        with engine.connect() as conn:
            facts = conn.execute(select(func.count()).select_from(CaseKpiFact)
                                 .where(CaseKpiFact.case_id.in_(made))).scalar()
            assert facts == 2
            kept = _day_rows(conn)
            conn.rollback()
            if backend == "postgis":
                assert sum(r[3] for r in kept) >= 2
                with conn.begin() as tx:
                    for stmt in kpi_days_sql.rebuild_sql():
                        conn.execute(text(stmt))
                    assert _day_rows(conn) == kept
                    tx.rollback()
            else:
                assert kept == []
    finally:
        engine.dispose()
