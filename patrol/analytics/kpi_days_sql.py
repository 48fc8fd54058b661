"""The SQL of ``case_kpi_day`` (migration 0021, PostgreSQL only): per local day, community and grid, the KPI
features summed over the *simple* cases whose span begins that day, each as if the period held the case's whole
life (:func:`patrol.analytics.kpis_fast.features` without bounds, compiled here to PostgreSQL's text). A long
period's KPIs add the days it holds and correct for the few cases that straddle its bounds
(:mod:`patrol.analytics.kpis_days`).

Upkeep: statement-level triggers on ``case_kpi_fact`` recompute the (day, community, grid) rows of the fact rows a
statement wrote or deleted, old and new, from the fact rows and their cases; the facts follow the events and the
case columns the sums read (:func:`patrol.analytics.summary_sql.postgres_span_triggers`). The day is that of the
span's first instant in ``case_kpi_day_meta.tz`` (the settings' time zone when the table was built; ``gridpatrol db
rebuild-summaries`` builds it again for another).
"""

from __future__ import annotations

from sqlalchemy.dialects import postgresql

from patrol.analytics import summary_sql as S
from patrol.core.models import DAY_SUMS

__all__ = ["POSTGRES_DROP", "SPAN_INDEX", "fill_spans_sql", "postgres_triggers", "rebuild_sql"]

#: the key of a row: the local day and the case's community and grid (0 for none)
KEY = ("day", "community_id", "grid_id")
#: above this many keys in one statement the refresh locks the whole table instead of each key
BULK_KEYS = 64


def _sums() -> list[str]:
    """``SUM(…) AS name`` of every per-day feature, over ``case_kpi_fact f JOIN patrol_case``."""
    from patrol.analytics.kpis_fast import F, features  # the one definition of the features

    feats = features(None, None, None, F.hours_cal.is_not(None), None, None)
    assert tuple(feats) == DAY_SUMS, "the per-day columns must follow kpis_fast.features"
    dialect = postgresql.dialect()
    return [f"{expr.compile(dialect=dialect, compile_kwargs={'literal_binds': True})} AS {name}"
            for name, expr in feats.items()]


def _select(where: str) -> str:
    """The per-day rows of the simple fact rows ``where`` selects (a condition on ``f``)."""
    return (f"SELECT f.span_day, COALESCE(f.community_id, 0), COALESCE(f.grid_id, 0), COUNT(*) AS n, "
            f"{', '.join(_sums())}, "
            "MIN(CASE WHEN f.close_at IS NOT NULL THEN f.hours_cal END), "
            "MAX(CASE WHEN f.close_at IS NOT NULL THEN f.hours_cal END) "
            "FROM case_kpi_fact AS f JOIN patrol_case ON patrol_case.id = f.case_id "
            f"WHERE f.simple AND f.span_day IS NOT NULL AND {where} GROUP BY 1, 2, 3")


def columns() -> list[str]:
    return [*KEY, "n", *DAY_SUMS, "cal_lo", "cal_hi"]


def rebuild_sql() -> list[str]:
    """Empty the table and fill it from every fact row."""
    return ["TRUNCATE case_kpi_day", f"INSERT INTO case_kpi_day ({', '.join(columns())}) {_select('TRUE')}"]


def postgres_triggers() -> list[str]:
    """The refresh of a set of keys, and the statement-level triggers on ``case_kpi_fact`` that call it with the
    keys of the rows a statement touched (old and new)."""
    keys = "unnest(d, c, g) AS k(day, com, grd)"
    # Concurrent writers of one key: each recomputes the row from its own snapshot, so the last to commit must have
    # seen every other's facts. A transaction-level advisory lock per key (taken in one global order: the hash's)
    # makes a second writer wait until the first commits; its DELETE and INSERT then see the first's facts (READ
    # COMMITTED: a new snapshot per statement). Without it two writers of one grid's day inserted the same key.
    # Advisory locks live in the shared lock table (≈ 6,400 slots by default): a statement of more than
    # BULK_KEYS keys (a bulk update, a copy, the hours of thousands of cases) takes one table-wide lock instead,
    # exclusive; the per-key writers hold it shared, so each waits for the other.
    table = "hashtextextended('case_kpi_day', 0)"
    lock = (f"IF cardinality(d) > {BULK_KEYS} THEN PERFORM pg_advisory_xact_lock({table}); ELSE "
            f"PERFORM pg_advisory_xact_lock_shared({table}); "
            f"PERFORM pg_advisory_xact_lock(h) FROM (SELECT DISTINCT hashtextextended('case_kpi_day/' || k.day "
            f"|| '/' || k.com || '/' || k.grd, 0) AS h FROM {keys} ORDER BY 1) AS locks; END IF; ")
    refresh = ("CREATE OR REPLACE FUNCTION case_kpi_day_refresh(d date[], c int[], g int[]) RETURNS void "
               "LANGUAGE plpgsql AS $$ BEGIN " + lock +
               f"DELETE FROM case_kpi_day t USING {keys} WHERE t.day = k.day AND t.community_id = k.com "
               "AND t.grid_id = k.grd; "
               f"INSERT INTO case_kpi_day ({', '.join(columns())}) "
               + _select(f"(f.span_day, COALESCE(f.community_id, 0), COALESCE(f.grid_id, 0)) IN "
                         f"(SELECT k.day, k.com, k.grd FROM {keys})")
               + "; END $$")
    out = [refresh]
    for op, tables in (("insert", ("new_rows",)), ("update", ("old_rows", "new_rows")), ("delete", ("old_rows",))):
        rows = " UNION ".join(f"SELECT span_day, COALESCE(community_id, 0) AS com, COALESCE(grid_id, 0) AS grd "
                              f"FROM {t} WHERE span_day IS NOT NULL" for t in tables)
        out.append(f"CREATE OR REPLACE FUNCTION case_kpi_day_{op}() RETURNS trigger LANGUAGE plpgsql AS $$ "
                   "DECLARE d date[]; c int[]; g int[]; BEGIN "
                   f"SELECT array_agg(span_day), array_agg(com), array_agg(grd) INTO d, c, g FROM ({rows}) t; "
                   "IF d IS NOT NULL THEN PERFORM case_kpi_day_refresh(d, c, g); END IF; RETURN NULL; END $$")
        refs = " ".join(f"{'NEW' if t == 'new_rows' else 'OLD'} TABLE AS {t}" for t in tables)
        out.append(f"CREATE TRIGGER case_kpi_day_{op} AFTER {op.upper()} ON case_kpi_fact REFERENCING {refs} "
                   f"FOR EACH STATEMENT EXECUTE FUNCTION case_kpi_day_{op}()")
    return out


POSTGRES_DROP = [
    *(f"DROP TRIGGER IF EXISTS case_kpi_day_{op} ON case_kpi_fact" for op in ("insert", "update", "delete")),
    *(f"DROP FUNCTION IF EXISTS case_kpi_day_{op}()" for op in ("insert", "update", "delete")),
    "DROP FUNCTION IF EXISTS case_kpi_day_refresh(date[], int[], int[])",
]


def fill_spans_sql() -> list[str]:
    """The span of every existing fact row, from its steps' first and last instant and its case; then the rows of
    the cases without events (migration 0021; ``gridpatrol db rebuild-summaries`` writes them with the facts)."""
    lo = "LEAST(f.first_at, c.reported_at, c.deadline_at, c.closed_at)"
    hi = "GREATEST(f.last_at, c.reported_at, c.deadline_at, c.closed_at)"
    return [f"UPDATE case_kpi_fact f SET span_lo = {lo}, span_hi = {hi}, span_day = (({lo}) AT TIME ZONE "
            "(SELECT tz FROM case_kpi_day_meta LIMIT 1))::date FROM patrol_case c WHERE c.id = f.case_id",
            f"INSERT INTO case_kpi_fact ({', '.join(S.columns(True, True))}) {S.eventless_select('TRUE')}"]


#: the GiST index that finds the cases straddling an instant
SPAN_INDEX = ("CREATE INDEX IF NOT EXISTS ix_case_kpi_fact_span ON case_kpi_fact USING gist "
              "(tstzrange(span_lo, span_hi, '[]'))")
