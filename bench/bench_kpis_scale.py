"""Dashboard KPIs at district scale on PostGIS (issue 23): the pandas path (``fast_reads`` off: ``load_frames`` +
``compute_kpis``) against the summary table ``case_kpi_fact`` (``fast_reads`` on), same calls, one run.

A throwaway database on the PostgreSQL at ``--url`` (or ``GRIDPATROL_BENCH_POSTGRES_URL``; the database named in the
URL is dropped and created) gets the migrations, a small synthetic district (1 subdistrict, 20 communities, 200 grids,
10 units; boxes, no real map) and N SIMULATED cases (default 1,000,000 over one year, ≈6.5 steps each; "bench case
(模拟)") written by ``INSERT … SELECT generate_series`` with the triggers off (``session_replication_role =
replica``), then :func:`patrol.analytics.summaries.rebuild`. The histories: 3 % rejected, the last 5 days still open
plus 0.5 % stale open cases, 6 % reworked (two handles), 3 % reopened by a low rating (closed twice: the pandas
fallback), 3 % suspended and resumed, 5 % escalated, 3 % urged, about half rated.

Timed (p50 / p95 of ``--repeat`` runs, warm cache, in process: the service call the routes make):
  community-month  ``kpis(by="grid", community_id=…)`` over the last month (goal ≤ 300 ms)
  district-year    ``kpis(by="community")`` and ``kpis(by=None)`` over the year (goal ≤ 1 s)
  trend            ``kpi_trend(period="month", n=12)`` (the dashboard's sparkline)
Also: the generation, the rebuild, and the cost of the triggers on a bulk insert of steps (triggers on vs off).

Run: ``python bench/bench_kpis_scale.py --url postgresql+psycopg://…/kpi_bench [--cases N] [--repeat R]``
(``--keep`` reuses a database already filled). Pandas runs of the year are run once (``--slow-repeat``; 0: not
run — at 1M cases they take far too long).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import time
from collections.abc import Callable
from zoneinfo import ZoneInfo

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

SH = ZoneInfo("Asia/Shanghai")
T0 = dt.datetime(2025, 12, 1, tzinfo=SH)
T1 = dt.datetime(2026, 12, 1, tzinfo=SH)
NOW = dt.datetime(2026, 12, 1, 10, 0, tzinfo=SH)
CHANNELS = ("patrol", "resident", "12345", "self_handled", "staff")


def _box(x: float, y: float, d: float) -> str:
    return (f"ST_Multi(ST_GeomFromText('POLYGON(({x} {y},{x + d} {y},{x + d} {y + d},{x} {y + d},{x} {y}))', "
            "4326))")


def world(conn) -> None:
    conn.execute(text(f"INSERT INTO subdistrict (code, name, derived, geom) VALUES ('B01', 'bench 街道(模拟)', false, "
                      f"{_box(121.0, 31.0, 0.2)})"))
    for c in range(20):
        conn.execute(text(f"INSERT INTO community (subdistrict_id, code, name, derived, geom) SELECT id, 'B{c:03d}', "
                          f"'bench 社区 {c} (模拟)', false, {_box(121.0 + c * 0.01, 31.0, 0.01)} FROM subdistrict"))
    conn.execute(text(
        "INSERT INTO grid (community_id, code, name, geom) SELECT c.id, 'BG' || c.id || '-' || g, "
        "'bench 网格 ' || g || ' (模拟)', ST_Multi(ST_Buffer(ST_Centroid(c.geom), 0.001)) "
        "FROM community c, generate_series(1, 10) g"))
    conn.execute(text(
        "INSERT INTO category (code, name_zh, name_en, kind, major_zh, major_en, level, deadline_hours, severity, "
        "revisit_days, active) SELECT 'BK' || lpad(k::text, 2, '0'), 'bench 类别 ' || k, 'bench ' || k, 'event', "
        "'bench', 'bench', CASE WHEN k % 2 = 0 THEN 'grid' ELSE 'department' END, 14, 1, 7, true "
        "FROM generate_series(1, 20) k "
        "ON CONFLICT DO NOTHING"))
    for u in range(10):
        conn.execute(text(f"INSERT INTO responsible_unit (type, name, geom) VALUES ('property', 'bench unit {u}', "
                          f"ST_GeomFromText('POINT(121.05 31.05)', 4326))"))


CASES = """
INSERT INTO patrol_case (id, client_id, category_code, status, level, channel, input_crs, reported_at, rework_count,
    reopened_count, escalations, updated_at, simulated, key_case, petition, grid_id, community_id, unit_id,
    deadline_at, closed_at, closed_on_time, rating, description, geom)
SELECT g.i, 'bench-' || g.i, cats.codes[1 + g.i % array_length(cats.codes, 1)],
    CASE WHEN g.rejected THEN 'rejected' WHEN g.open THEN 'accepted' ELSE 'closed' END,
    CASE WHEN g.u3 > 0.5 THEN 'grid' ELSE 'community' END,
    (ARRAY['patrol','resident','12345','self_handled','staff'])[1 + g.i % 5], 'wgs84', g.r,
    CASE WHEN g.rework THEN 1 ELSE 0 END, CASE WHEN g.reopen THEN 1 ELSE 0 END, CASE WHEN g.esc THEN 1 ELSE 0 END,
    g.r, true, false, false, grids.ids[1 + g.i % array_length(grids.ids, 1)], NULL,
    CASE WHEN g.rejected THEN NULL ELSE units.ids[1 + g.i % array_length(units.ids, 1)] END,
    CASE WHEN g.rejected OR NOT g.open THEN NULL ELSE g.r + interval '2 days' END,
    CASE WHEN g.rejected OR g.open THEN NULL
         WHEN g.reopen THEN g.r + interval '3 days 2 hours' ELSE g.r + interval '1 day 8 hours' END,
    CASE WHEN g.rejected OR g.open THEN NULL ELSE g.u5 < 0.9 END,
    CASE WHEN g.reopen THEN 4 WHEN g.rated THEN 1 + floor(g.u3 * 5)::int END,
    'bench case (模拟)', ST_GeomFromText('POINT(121.05 31.05)', 4326)
FROM (SELECT i, r, u1, u2, u3, u4, u5, u1 < 0.03 AS rejected,
             (r > :now - interval '5 days' OR (u1 >= 0.03 AND u1 < 0.035)) AND u1 >= 0.03 AS open,
             u2 < 0.03 AS reopen, u3 < 0.06 AS rework, u4 < 0.03 AS susp, u5 < 0.05 AS esc,
             u4 >= 0.03 AND u4 < 0.06 AS urge, u2 >= 0.03 AND u2 < 0.5 AS rated
      FROM (SELECT i + :base AS i, :t0 + (i::float8 / :n) * (:t1 - :t0) AS r, random() AS u1, random() AS u2,
                   random() AS u3, random() AS u4, random() AS u5 FROM generate_series(1, :n) i) x) g,
     (SELECT array_agg(code ORDER BY code) AS codes FROM category WHERE code LIKE 'BK%') cats,
     (SELECT array_agg(id ORDER BY id) AS ids FROM grid) grids,
     (SELECT array_agg(id ORDER BY id) AS ids FROM responsible_unit) units
"""

# (action, from, to, offset, condition): the steps of each case; o = open, j = rejected, w = rework, p = reopen …
STEPS = [
    ("report", None, "reported", "0", "true"),
    ("reject", "reported", "rejected", "1 hour", "j"),
    ("register", "reported", "registered", "1 hour", "NOT j"),
    ("escalate", "registered", "registered", "90 minutes", "NOT j AND e"),
    ("dispatch", "registered", "dispatched", "2 hours", "NOT j"),
    ("accept", "dispatched", "accepted", "3 hours", "NOT j"),
    ("suspend", "accepted", "suspended", "5 hours", "NOT j AND s AND NOT o"),
    ("resume", "suspended", "accepted", "8 hours", "NOT j AND s AND NOT o"),
    ("urge", "accepted", "accepted", "10 hours", "NOT j AND u AND NOT o"),
    ("handle", "accepted", "handled", "1 day", "NOT j AND NOT o"),
    ("rework", "handled", "dispatched", "1 day 1 hour", "NOT j AND NOT o AND w"),
    ("handle", "dispatched", "handled", "1 day 5 hours", "NOT j AND NOT o AND w"),
    ("verify", "handled", "verified", "1 day 6 hours", "NOT j AND NOT o"),
    ("close", "verified", "closed", "1 day 8 hours", "NOT j AND NOT o"),
    ("rate", "closed", "closed", "2 days", "NOT j AND NOT o AND (p OR rt)"),
    ("reopen", "closed", "dispatched", "2 days", "NOT j AND NOT o AND p"),
    ("handle", "dispatched", "handled", "3 days", "NOT j AND NOT o AND p"),
    ("verify", "handled", "verified", "3 days 1 hour", "NOT j AND NOT o AND p"),
    ("close", "verified", "closed", "3 days 2 hours", "NOT j AND NOT o AND p"),
    ("rate", "closed", "closed", "4 days", "NOT j AND NOT o AND p"),
]


def events_sql(where: str = "true") -> str:
    values = ", ".join(
        f"({k}, '{a}', {'NULL' if f is None else repr(f)}, '{t}', interval '{off}', {cond})"
        for k, (a, f, t, off, cond) in enumerate(STEPS))
    return f"""
INSERT INTO case_event (case_id, action, from_status, to_status, level, actor, at)
SELECT c.id, v.a, v.f, v.t, c.level, 'bench (模拟)', c.reported_at + v.off
FROM (SELECT c.*, c.status = 'rejected' AS j, c.status = 'accepted' AS o, c.rework_count > 0 AS w,
             c.reopened_count > 0 AS p, c.escalations > 0 AS e, (c.id::bigint * 7919) % 100 < 3 AS s,
             (c.id::bigint * 104729) % 100 < 3 AS u, c.rating IS NOT NULL AS rt
      FROM patrol_case c WHERE {where}) c,
LATERAL (VALUES {values}) AS v(k, a, f, t, off, ok)
WHERE v.ok AND c.reported_at + v.off <= :now
ORDER BY c.id, v.k
"""


def generate(engine, n: int) -> dict[str, float]:
    from patrol.analytics.summaries import rebuild
    from patrol.core.migrate import upgrade
    upgrade(engine)
    out = {}
    with engine.begin() as conn:
        world(conn)
        conn.execute(text("SELECT setseed(0.23)"))
        started = time.perf_counter()
        conn.execute(text("SET session_replication_role = replica"))
        conn.execute(text(CASES), {"n": n, "base": 0, "t0": T0, "t1": T1, "now": NOW})
        conn.execute(text("UPDATE patrol_case c SET community_id = g.community_id FROM grid g WHERE g.id = c.grid_id"))
        conn.execute(text(events_sql()), {"now": NOW})
        conn.execute(text("SET session_replication_role = origin"))
        conn.execute(text("SELECT setval(pg_get_serial_sequence('patrol_case', 'id'), (SELECT max(id) FROM "
                          "patrol_case))"))
        out["generate_s"] = time.perf_counter() - started
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    with Session(engine) as s:
        started = time.perf_counter()
        rebuild(s, _settings(True))
        s.commit()
        out["rebuild_s"] = time.perf_counter() - started
    with engine.begin() as conn:
        conn.execute(text("VACUUM ANALYZE")) if False else conn.execute(text("ANALYZE"))
    return out


def trigger_cost(engine, n: int = 20_000) -> dict[str, float]:
    """Steps of ``n`` more cases inserted with the triggers on and off (each in a transaction rolled back)."""
    out = {}
    for mode in ("origin", "replica"):
        with engine.connect() as conn:
            tx = conn.begin()
            conn.execute(text("SELECT setseed(0.5)"))
            base = conn.execute(text("SELECT max(id) FROM patrol_case")).scalar()
            conn.execute(text("SET session_replication_role = replica"))
            conn.execute(text(CASES), {"n": n, "base": base, "t0": T0, "t1": T1, "now": NOW})
            conn.execute(text(f"SET session_replication_role = {mode}"))
            started = time.perf_counter()
            conn.execute(text(events_sql(f"c.id > {base}")), {"now": NOW})
            out[mode] = time.perf_counter() - started
            tx.rollback()
    return out


def _settings(fast: bool):
    from patrol.core.settings import Settings
    return Settings(fast_reads=fast, timezone="Asia/Shanghai", tiles=None)


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return statistics.median(times), p95


def measure(engine, repeat: int, slow_repeat: int) -> None:
    from patrol.analytics.kpis import kpi_records, kpi_trend, kpis
    with engine.connect() as conn:
        community = conn.execute(text("SELECT min(id) FROM community")).scalar()
    month = (dt.date(2026, 11, 1), dt.date(2026, 12, 1))
    year = (T0.date(), T1.date())
    cases = {
        "community-month by grid": (dict(by="grid", community_id=community, start=month[0], end=month[1]), 300),
        "community-month overall": (dict(by=None, community_id=community, start=month[0], end=month[1]), 300),
        "district-year by community": (dict(by="community", start=year[0], end=year[1]), 1000),
        "district-year overall": (dict(by=None, start=year[0], end=year[1]), 1000),
        "district-month by category": (dict(by="category", start=month[0], end=month[1]), 1000),
    }
    print(f"{'read':32} {'before p50/p95 ms':>20} {'after p50/p95 ms':>20} {'ratio':>7}  goal  load")
    for name, (kw, goal) in cases.items():
        results = {}
        for fast in (False, True):
            settings = _settings(fast)
            reps = repeat if fast or "year" not in name else slow_repeat
            if not reps:
                results[fast], results[(fast, "t")] = None, (float("nan"), float("nan"))
                continue
            with Session(engine) as s:
                results[fast] = kpi_records(kpis(s, now=NOW, settings=settings, **kw))
                results[(fast, "t")] = timed(lambda s=s, settings=settings, kw=kw: kpis(
                    s, now=NOW, settings=settings, **kw), reps)
        same = "not compared" if results[False] is None else _same(results[False], results[True])
        b, a = results[(False, "t")], results[(True, "t")]
        print(f"{name:32} {b[0]:9.0f} /{b[1]:8.0f} {a[0]:9.0f} /{a[1]:8.0f} {b[0] / a[0]:7.1f}x  "
              f"{'ok' if a[1] <= goal else 'MISS'} {goal}  {os.getloadavg()[0]:.2f}  identical={same}")
    for fast in (False, True):
        if not fast and not slow_repeat:
            continue
        with Session(engine) as s:
            p = timed(lambda s=s, fast=fast: kpi_trend(s, period="month", n=12, now=NOW, settings=_settings(fast)),
                      repeat if fast else slow_repeat)
        print(f"trend month×12 fast={fast}: p50 {p[0]:.0f} ms p95 {p[1]:.0f} ms  load {os.getloadavg()[0]:.2f}")


def _same(a: list[dict], b: list[dict]) -> bool:
    import math
    if len(a) != len(b):
        return False
    for ra, rb in zip(a, b, strict=True):
        for k in ra:
            va, vb = ra[k], rb[k]
            if isinstance(va, float) and isinstance(vb, float):
                if not math.isclose(va, vb, rel_tol=1e-9, abs_tol=1e-9):
                    return False
            elif va != vb:
                return False
    return True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", default=os.environ.get("GRIDPATROL_BENCH_POSTGRES_URL"))
    ap.add_argument("--cases", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--slow-repeat", type=int, default=1)
    ap.add_argument("--work-mem", default="256MB", help="PostgreSQL work_mem of the bench's sessions")
    ap.add_argument("--keep", action="store_true", help="reuse the filled database")
    args = ap.parse_args()
    if not args.url:
        raise SystemExit("bench_kpis_scale: give --url postgresql+psycopg://… (or GRIDPATROL_BENCH_POSTGRES_URL)")
    url = make_url(args.url)
    if not args.keep:
        admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}"'))
            conn.execute(text(f'CREATE DATABASE "{url.database}"'))
        admin.dispose()
        with create_engine(url, isolation_level="AUTOCOMMIT").connect() as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
    # with PostgreSQL's default work_mem (4 MB) the pandas path's "id IN (steps in the period)" is no longer hashed
    # once the period holds ~100k steps and runs as a per-row subplan (minutes at 20k cases): give both paths room
    engine = create_engine(url, connect_args={"options": f"-c work_mem={args.work_mem}"})
    if not args.keep:
        gen = generate(engine, args.cases)
        print(f"{args.cases:,} cases: generated in {gen['generate_s']:.1f} s (triggers off), summaries rebuilt in "
              f"{gen['rebuild_s']:.1f} s  load {os.getloadavg()[0]:.2f}")
    with engine.connect() as conn:
        n_ev = conn.execute(text("SELECT count(*) FROM case_event")).scalar()
        n_simple = conn.execute(text("SELECT avg(CASE WHEN simple THEN 1.0 ELSE 0 END) FROM case_kpi_fact")).scalar()
    print(f"{n_ev:,} steps; simple cases {float(n_simple):.1%}")
    cost = trigger_cost(engine)
    print(f"steps of 20,000 cases: triggers on {cost['origin']:.2f} s, off {cost['replica']:.2f} s "
          f"({cost['origin'] / cost['replica']:.1f}x)  load {os.getloadavg()[0]:.2f}")
    measure(engine, args.repeat, args.slow_repeat)


if __name__ == "__main__":
    main()
