"""The SQL that keeps ``case_kpi_fact`` (one row per case: the instants of its steps that the KPIs read) right, for
both databases: the per-case SELECT (window functions over the case's events in (at, id) order), the upsert that
keeps a case's stored working hours when their inputs did not change, and the triggers (PostgreSQL: statement-level
with transition tables, one refresh per statement however many rows a bulk insert writes; SQLite: row-level).

Used by migration 0017 (which installs the triggers) and by :func:`patrol.analytics.summaries.rebuild`. Plain
strings, no database or web imports beyond the text.
"""

from __future__ import annotations

#: statuses after which a case's loop has ended (:data:`patrol.cases.lifecycle.CLOSED`)
FINAL = ("closed", "rejected", "duplicate")
SINGLE = ("register", "reject", "merge", "close", "suspend", "resume", "rate")  # first instant kept
DOUBLE = ("handle", "escalate", "urge")  # first and last instant kept: "in P" is exact for up to two
COUNTED = (*SINGLE, *DOUBLE, "reopen")

#: the fact columns, in order (besides the hours, which the upsert handles)
COLUMNS = ("case_id", "simple", "first_at", "last_at",
           *(f"{a}_at" for a in SINGLE),
           *(f"{a}_{w}_at" for a in DOUBLE for w in ("first", "last")),
           "urge_n", "handle_before_close_at", "rework_at", "final_status", "final_at", "susp_at", "unsusp_at")
#: the case's place, copied into its fact row (migration 0019) so a community's or grid's facts are read from one
#: index; kept by the fact upsert and by a trigger on ``patrol_case`` when a case moves
PLACE = ("community_id", "grid_id")
#: the case's span (migration 0021, PostgreSQL only): its earliest and latest instant among its steps and its
#: reported, deadline and closed times, and the local day (in ``case_kpi_day_meta.tz``) of the earliest; the KPIs
#: of a long period read the per-day sums of ``case_kpi_day`` by that day, and the cases that straddle the period's
#: bounds from a GiST index on the span (:mod:`patrol.analytics.kpis_days`)
SPAN = ("span_lo", "span_hi", "span_day")
#: the case columns a span or a per-day sum reads: a change refreshes the case's fact row (PostgreSQL)
CASE_INPUTS = (*PLACE, "reported_at", "deadline_at", "closed_at", "channel", "level", "rating", "closed_on_time")
#: the inputs of the stored working hours: when one changes, the hours are computed again
HOURS_INPUTS = ("simple", "register_at", "handle_before_close_at", "close_at", "suspend_at", "resume_at")

_F = ", ".join(f"'{s}'" for s in FINAL)
_RUN = "(prev IS NULL OR prev <> to_status)"


def _windowed(where: str) -> str:
    return (f"SELECT case_id, at, id, action, to_status, "
            f"ROW_NUMBER() OVER (PARTITION BY case_id ORDER BY at, id) AS rn, "
            f"LAG(to_status) OVER (PARTITION BY case_id ORDER BY at, id) AS prev "
            f"FROM case_event WHERE {where}")


def columns(place: bool = True, span: bool = False) -> tuple[str, ...]:
    """The columns :func:`fact_select` writes: :data:`COLUMNS`, then :data:`PLACE` unless ``place`` is False (the
    table as migration 0017 made it), then :data:`SPAN` with ``span`` (PostgreSQL, migration 0021)."""
    return (*COLUMNS, *(PLACE if place else ()), *(SPAN if span else ()))


_DAY_TZ = "(SELECT tz FROM case_kpi_day_meta LIMIT 1)"


def _span(lo: str, hi: str) -> list[str]:
    """span_lo, span_hi, span_day from two PostgreSQL expressions (LEAST / GREATEST skip NULLs)."""
    return [lo, hi, f"(({lo}) AT TIME ZONE {_DAY_TZ})::date"]


def eventless_select(where_case: str) -> str:
    """SELECT of the fact rows (:func:`columns` with the span) of the cases without events that ``where_case``
    selects (a condition on ``patrol_case c``): PostgreSQL keeps a row for every case (migration 0021), so that the
    per-day sums and the span index see them too."""
    nulls = ["NULL"] * (len(COLUMNS) - 4)  # after case_id, simple, first_at, last_at
    cols = ["c.id", "TRUE", "NULL", "NULL", *nulls, *(f"c.{c}" for c in PLACE),
            *_span("LEAST(c.reported_at, c.deadline_at, c.closed_at)",
                   "GREATEST(c.reported_at, c.deadline_at, c.closed_at)")]
    cols[COLUMNS.index("urge_n")] = "0"
    return (f"SELECT {', '.join(cols)} FROM patrol_case c WHERE {where_case} AND NOT EXISTS "
            "(SELECT 1 FROM case_event ev WHERE ev.case_id = c.id)")


def fact_select(where: str, place: bool = True, span: bool = False) -> str:
    """SELECT of the fact rows (:func:`columns`) of the cases whose events ``where`` selects (a condition on
    ``case_event``; a case's events must be selected whole). No CTE: SQLite refuses WITH inside a trigger."""
    k = (f"SELECT case_id, "
         f"MAX(CASE WHEN {_RUN} THEN rn END) AS last_run_rn, "
         f"SUM(CASE WHEN {_RUN} AND to_status IN ({_F}) THEN 1 ELSE 0 END) AS final_runs, "
         f"MIN(CASE WHEN {_RUN} AND to_status IN ({_F}) THEN rn END) AS final_rn, "
         f"SUM(CASE WHEN {_RUN} AND to_status = 'suspended' THEN 1 ELSE 0 END) AS susp_runs, "
         f"MIN(CASE WHEN {_RUN} AND to_status = 'suspended' THEN rn END) AS susp_rn, "
         f"MIN(CASE WHEN action = 'close' THEN rn END) AS close_rn, "
         f"MIN(CASE WHEN action = 'suspend' THEN rn END) AS suspend_rn, "
         f"MIN(CASE WHEN action = 'resume' THEN rn END) AS resume_rn "
         f"FROM ({_windowed(where)}) w GROUP BY case_id")
    n = {a: f"SUM(CASE WHEN e.action = '{a}' THEN 1 ELSE 0 END)" for a in COUNTED}
    simple = " AND ".join([
        "(MIN(k.final_runs) = 0 OR (MIN(k.final_runs) = 1 AND MIN(k.final_rn) = MIN(k.last_run_rn)))",
        "MIN(k.susp_runs) <= 1", f"{n['reopen']} = 0",
        *(f"{n[a]} <= 1" for a in SINGLE), *(f"{n[a]} <= 2" for a in DOUBLE),
        "(MIN(k.resume_rn) IS NULL OR MIN(k.resume_rn) > MIN(k.suspend_rn))"])
    cols = [
        "e.case_id", f"CASE WHEN {simple} THEN TRUE ELSE FALSE END", "MIN(e.at)", "MAX(e.at)",
        *(f"MIN(CASE WHEN e.action = '{a}' THEN e.at END)" for a in SINGLE),
        *(f"{fn}(CASE WHEN e.action = '{a}' THEN e.at END)" for a in DOUBLE for fn in ("MIN", "MAX")),
        n["urge"],
        "MAX(CASE WHEN e.action = 'handle' AND e.rn < k.close_rn THEN e.at END)",
        "MIN(CASE WHEN e.action IN ('rework', 'reopen') THEN e.at END)",
        "MIN(CASE WHEN e.rn = k.final_rn THEN e.to_status END)",
        "MIN(CASE WHEN e.rn = k.final_rn THEN e.at END)",
        "MIN(CASE WHEN e.rn = k.susp_rn THEN e.at END)",
        "MIN(CASE WHEN e.rn > k.susp_rn AND e.to_status <> 'suspended' THEN e.at END)",
        *(f"MIN(c.{c})" for c in PLACE if place),
        *(_span("LEAST(MIN(e.at), MIN(c.reported_at), MIN(c.deadline_at), MIN(c.closed_at))",
                "GREATEST(MAX(e.at), MIN(c.reported_at), MIN(c.deadline_at), MIN(c.closed_at))") if span else ()),
    ]
    return (f"SELECT {', '.join(cols)} FROM ({_windowed(where)}) e JOIN ({k}) k ON k.case_id = e.case_id "
            f"JOIN patrol_case c ON c.id = e.case_id GROUP BY e.case_id")


def upsert(where: str, dialect: str, place: bool = True, span: bool = False, select: str | None = None) -> str:
    """INSERT … ON CONFLICT of the fact rows of the cases ``where`` selects (or of ``select``); the stored hours
    stay when their inputs are unchanged, else they are cleared (computed again by the next read or
    :func:`refresh_hours`)."""
    same = "IS NOT DISTINCT FROM" if dialect == "postgresql" else "IS"
    unchanged = " AND ".join(f"case_kpi_fact.{c} {same} excluded.{c}" for c in HOURS_INPUTS)
    cols = columns(place, span)
    sets = ", ".join(f"{c} = excluded.{c}" for c in cols[1:])
    keep = ", ".join(f"{h} = CASE WHEN {unchanged} THEN case_kpi_fact.{h} ELSE NULL END"
                     for h in ("handle_hours", "close_hours", "hours_cal"))
    # the hours first: SET reads the old row's values whatever the order, but be explicit
    return (f"INSERT INTO case_kpi_fact ({', '.join(cols)}) {select or fact_select(where, place, span)} "
            f"ON CONFLICT (case_id) DO UPDATE SET {keep}, {sets}")


def delete_gone(where_case: str) -> str:
    """DELETE of the fact rows of the cases ``where_case`` selects (a condition on ``case_kpi_fact.case_id``) that
    no longer have an event."""
    return (f"DELETE FROM case_kpi_fact WHERE {where_case} AND NOT EXISTS "
            f"(SELECT 1 FROM case_event ev WHERE ev.case_id = case_kpi_fact.case_id)")


def _moved(ref_old: str, ref_new: str, distinct: str, cols: tuple[str, ...] = PLACE) -> str:
    return " OR ".join(f"{ref_old}.{c} {distinct} {ref_new}.{c}" for c in cols)


def sqlite_triggers(place: bool = True) -> list[str]:
    """Row-level triggers on ``case_event`` (insert, update, delete) and ``patrol_case`` (delete; with ``place``,
    an update that moves the case)."""
    out = []
    for op, refs in (("INSERT", ("NEW",)), ("UPDATE", ("OLD", "NEW")), ("DELETE", ("OLD",))):
        body = []
        for ref in refs:
            body.append(upsert(f"case_id = {ref}.case_id", "sqlite", place) + ";")
            body.append(delete_gone(f"case_kpi_fact.case_id = {ref}.case_id") + ";")
        out.append(f"CREATE TRIGGER case_kpi_fact_{op.lower()} AFTER {op} ON case_event FOR EACH ROW BEGIN "
                   + " ".join(body) + " END")
    out.append("CREATE TRIGGER case_kpi_fact_case_delete AFTER DELETE ON patrol_case FOR EACH ROW BEGIN "
               "DELETE FROM case_kpi_fact WHERE case_id = OLD.id; END")
    if place:
        sets = ", ".join(f"{c} = NEW.{c}" for c in PLACE)
        out.append(f"CREATE TRIGGER case_kpi_fact_case_move AFTER UPDATE OF {', '.join(PLACE)} ON patrol_case "
                   f"FOR EACH ROW WHEN {_moved('OLD', 'NEW', 'IS NOT')} BEGIN "
                   f"UPDATE case_kpi_fact SET {sets} WHERE case_id = NEW.id; END")
    return out


SQLITE_DROP = ["DROP TRIGGER IF EXISTS case_kpi_fact_insert", "DROP TRIGGER IF EXISTS case_kpi_fact_update",
               "DROP TRIGGER IF EXISTS case_kpi_fact_delete", "DROP TRIGGER IF EXISTS case_kpi_fact_case_delete",
               "DROP TRIGGER IF EXISTS case_kpi_fact_case_move"]


def postgres_triggers(place: bool = True) -> list[str]:
    """Statement-level triggers with transition tables: one refresh per statement for the distinct cases touched
    (with ``place``, also the statements on ``patrol_case`` that move cases)."""
    refresh = ("CREATE OR REPLACE FUNCTION case_kpi_fact_refresh(ids bigint[]) RETURNS void LANGUAGE plpgsql AS $$ "
               f"BEGIN {upsert('case_id = ANY(ids)', 'postgresql', place)}; "
               f"{delete_gone('case_kpi_fact.case_id = ANY(ids)')}; END $$")
    out = [refresh]
    for op, tables in (("insert", ("new_rows",)), ("update", ("old_rows", "new_rows")), ("delete", ("old_rows",))):
        ids = " UNION ".join(f"SELECT case_id FROM {t}" for t in tables)
        out.append(f"CREATE OR REPLACE FUNCTION case_kpi_fact_{op}() RETURNS trigger LANGUAGE plpgsql AS $$ "
                   f"BEGIN PERFORM case_kpi_fact_refresh(ARRAY(SELECT DISTINCT case_id::bigint FROM ({ids}) t)); "
                   "RETURN NULL; END $$")
        refs = " ".join(f"{'NEW' if t == 'new_rows' else 'OLD'} TABLE AS {t}" for t in tables)
        out.append(f"CREATE TRIGGER case_kpi_fact_{op} AFTER {op.upper()} ON case_event REFERENCING {refs} "
                   f"FOR EACH STATEMENT EXECUTE FUNCTION case_kpi_fact_{op}()")
    out.append("CREATE OR REPLACE FUNCTION case_kpi_fact_case_delete() RETURNS trigger LANGUAGE plpgsql AS $$ "
               "BEGIN DELETE FROM case_kpi_fact f USING old_rows o WHERE f.case_id = o.id; RETURN NULL; END $$")
    out.append("CREATE TRIGGER case_kpi_fact_case_delete AFTER DELETE ON patrol_case REFERENCING OLD TABLE AS "
               "old_rows FOR EACH STATEMENT EXECUTE FUNCTION case_kpi_fact_case_delete()")
    if place:  # transition tables and a column list cannot go together: compare the old and new rows instead
        sets = ", ".join(f"{c} = n.{c}" for c in PLACE)
        out.append("CREATE OR REPLACE FUNCTION case_kpi_fact_case_move() RETURNS trigger LANGUAGE plpgsql AS $$ "
                   f"BEGIN UPDATE case_kpi_fact f SET {sets} FROM new_rows n JOIN old_rows o ON o.id = n.id "
                   f"WHERE f.case_id = n.id AND ({_moved('o', 'n', 'IS DISTINCT FROM')}); RETURN NULL; END $$")
        out.append("CREATE TRIGGER case_kpi_fact_case_move AFTER UPDATE ON patrol_case REFERENCING OLD TABLE AS "
                   "old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION case_kpi_fact_case_move()")
    return out


POSTGRES_DROP = [
    *(f"DROP TRIGGER IF EXISTS case_kpi_fact_{op} ON case_event" for op in ("insert", "update", "delete")),
    "DROP TRIGGER IF EXISTS case_kpi_fact_case_delete ON patrol_case",
    "DROP TRIGGER IF EXISTS case_kpi_fact_case_move ON patrol_case",
    *(f"DROP FUNCTION IF EXISTS case_kpi_fact_{op}()"
      for op in ("insert", "update", "delete", "case_delete", "case_move")),
    "DROP FUNCTION IF EXISTS case_kpi_fact_refresh(bigint[])",
]


def postgres_span_triggers() -> list[str]:
    """Migration 0021 (PostgreSQL): the refresh writes the span too and keeps a row for a case without events (its
    last event deleted: the row of a case without events; its case deleted: no row); a new case gets its row
    (``DO NOTHING``: ``db copy`` writes the source's rows first, with their hours); a change of a case column the
    span or a per-day sum reads (:data:`CASE_INPUTS`) refreshes the case's row."""
    cols = ", ".join(columns(True, True))
    refresh = ("CREATE OR REPLACE FUNCTION case_kpi_fact_refresh(ids bigint[]) RETURNS void LANGUAGE plpgsql AS $$ "
               f"BEGIN {upsert('case_id = ANY(ids)', 'postgresql', True, True)}; "
               f"{upsert('', 'postgresql', True, True, eventless_select('c.id = ANY(ids)'))}; "
               "DELETE FROM case_kpi_fact WHERE case_id = ANY(ids) AND NOT EXISTS "
               "(SELECT 1 FROM patrol_case c WHERE c.id = case_kpi_fact.case_id); END $$")
    insert = ("CREATE OR REPLACE FUNCTION case_kpi_fact_case_insert() RETURNS trigger LANGUAGE plpgsql AS $$ "
              f"BEGIN INSERT INTO case_kpi_fact ({cols}) "
              f"{eventless_select('c.id IN (SELECT id FROM new_rows)')} ON CONFLICT (case_id) DO NOTHING; "
              "RETURN NULL; END $$")
    change = ("CREATE OR REPLACE FUNCTION case_kpi_fact_case_move() RETURNS trigger LANGUAGE plpgsql AS $$ "
              "BEGIN PERFORM case_kpi_fact_refresh(ARRAY(SELECT n.id::bigint FROM new_rows n JOIN old_rows o "
              f"ON o.id = n.id WHERE {_moved('o', 'n', 'IS DISTINCT FROM', CASE_INPUTS)})); RETURN NULL; END $$")
    return [refresh, insert, change,
            "CREATE TRIGGER case_kpi_fact_case_insert AFTER INSERT ON patrol_case REFERENCING NEW TABLE AS "
            "new_rows FOR EACH STATEMENT EXECUTE FUNCTION case_kpi_fact_case_insert()"]


POSTGRES_SPAN_DROP = ["DROP TRIGGER IF EXISTS case_kpi_fact_case_insert ON patrol_case",
                      "DROP FUNCTION IF EXISTS case_kpi_fact_case_insert()"]
