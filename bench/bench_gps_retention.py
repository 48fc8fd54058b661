"""GPS fixes at city scale on PostGIS (issue 23): coverage from the raw fixes (``fast_reads`` off, the original
read) next to coverage from the per worker-day summaries (``patrol_day``), storage per worker-year of raw fixes
and of summaries, and the time to summarise and to drop a month of raw fixes.

Data: Monaco's real streets and grids with SIMULATED patrols (模拟): W workers, each of one grid, walking the
streets 6 h every working day (09:00–15:00 local) with a fix every 5 s — 4,320 fixes a worker-day, 1.08M a
worker-year — written with COPY (a staging table, then INSERT … SELECT; keys and indexes built at the end) into
the monthly partitions of ``gps_fix``. Only the months the timings read are summarised (summarising everything is
the same work per worker-day, reported per worker-day).

Run ``python bench/bench_gps_retention.py --url postgresql+psycopg://…/db [--workers 10] [--days 365]``; an empty
database is migrated and gets Monaco first; a database that already holds the fixes is reused.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import statistics
import time
import uuid
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyproj
import shapely
from sqlalchemy import func, select, text
from walks import street_graph, street_walk  # bench/walks.py (the benchmarks run as scripts from bench/)

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "osm" / "monaco.osm.pbf"
TZ = "Asia/Shanghai"
FIX_S, HOURS, SPACING_M = 5, 6, 6.0  # a fix every 5 s at 1.2 m/s
DROP_KEYS = ["ALTER TABLE gps_fix DROP CONSTRAINT IF EXISTS pk_gps_fix",
             "ALTER TABLE gps_fix DROP CONSTRAINT IF EXISTS uq_gps_fix_patrol_id_time",
             "DROP INDEX IF EXISTS idx_gps_fix_geom", "DROP INDEX IF EXISTS ix_gps_fix_patrol_id",
             "DROP INDEX IF EXISTS ix_gps_fix_time"]
ADD_KEYS = ["ALTER TABLE gps_fix ADD CONSTRAINT pk_gps_fix PRIMARY KEY (id, time)",
            "ALTER TABLE gps_fix ADD CONSTRAINT uq_gps_fix_patrol_id_time UNIQUE (patrol_id, time)",
            "CREATE INDEX idx_gps_fix_geom ON gps_fix USING gist (geom)",
            "CREATE INDEX ix_gps_fix_patrol_id ON gps_fix (patrol_id)",
            "CREATE INDEX ix_gps_fix_time ON gps_fix USING brin (time)"]


def _load(url: str) -> None:
    from patrol.cases.categories import load_categories
    from patrol.city.gridding import generate_city_grids
    from patrol.city.osm_import import read_city, store_city
    from patrol.core.db import make_engine, session_factory, transaction
    from patrol.core.migrate import upgrade
    from patrol.core.models import Grid

    engine = make_engine(url)
    upgrade(engine)
    with transaction(session_factory(engine)) as s:
        if s.scalar(select(func.count(Grid.id))):
            return
        t = time.perf_counter()
        store_city(s, read_city(DATA), source="monaco")
        load_categories(s)
        generate_city_grids(s, households_range=(300, 500))
        print(f"Monaco stored and gridded in {time.perf_counter() - t:.1f} s")
    engine.dispose()


def _graph(s):
    """Street vertices (metric) and their adjacency, for random walks."""
    from patrol.core.models import RoadSegment

    lines = [shapely.from_wkb(bytes(w)) for w in s.scalars(select(func.ST_AsBinary(RoadSegment.geom)))]
    crs = pyproj.CRS("EPSG:32632")
    to_m = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    coords, which = shapely.get_coordinates(np.array(lines, dtype=object), return_index=True)
    x, y = to_m.transform(coords[:, 0], coords[:, 1])
    nodes, indptr, indices = street_graph(np.column_stack([x, y]), which, 1)
    return nodes, indptr, indices, pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True)


def _walk(rng, nodes, indptr, indices, start: int, n: int) -> np.ndarray:
    """``n`` points every SPACING_M along a random walk (no immediate U-turns) from ``start``, 3 m noise."""
    pts, cum = street_walk(nodes, indptr, indices, start, n * SPACING_M, rng)
    d = np.arange(n) * SPACING_M
    return np.column_stack([np.interp(d, cum, pts[:, 0]), np.interp(d, cum, pts[:, 1])]) + rng.normal(0, 3, (n, 2))


def _generate(url: str, workers: int, days: int) -> None:
    from patrol.core.auth import create_user
    from patrol.core.db import make_engine, session_factory
    from patrol.core.models import Grid, Patrol
    from patrol.field.retention import ensure_partitions

    engine = make_engine(url)
    sessions = session_factory(engine)
    with sessions() as s:
        if s.scalar(select(func.count(Patrol.id))):
            print("fixes already there: reusing them")
            return
    rng = np.random.default_rng(2026)
    zone = ZoneInfo(TZ)
    today = dt.datetime.now(zone).date()
    per_day = HOURS * 3600 // FIX_S
    t0 = time.perf_counter()
    total = 0
    with sessions() as s:
        grids = s.scalars(select(Grid).order_by(Grid.code)).all()[:workers]
        ids = [create_user(s, username=f"sim_walker_{i}", role="grid_worker", password=None, grids=[g.code],
                           simulated=True).id for i, g in enumerate(grids)]
        nodes, indptr, indices, to_wgs = _graph(s)
        first = today - dt.timedelta(days=days)
        ensure_partitions(s, dt.datetime.combine(first, dt.time(), zone), dt.datetime.combine(today, dt.time(), zone))
        centres = {g.id: shapely.from_wkb(bytes(s.scalar(select(func.ST_AsBinary(func.ST_Centroid(Grid.geom)))
                                                          .where(Grid.id == g.id)))) for g in grids}
        to_m = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:32632", always_xy=True)
        with _raw(s).cursor() as cur:  # a bulk load: the keys and indexes are built once at the end
            for stmt in DROP_KEYS:
                cur.execute(stmt)
            cur.execute("CREATE TEMP TABLE fix_stage (patrol_id int, t double precision, lon double precision, "
                        "lat double precision)")
        for d in range(days, 0, -1):
            day = today - dt.timedelta(days=d)
            if day.weekday() >= 5:
                continue
            start = dt.datetime.combine(day, dt.time(9), zone)
            parts = []
            for w, g in zip(ids, grids, strict=True):
                p = Patrol(client_id=str(uuid.uuid4()), worker_id=w, grid_id=g.id, started_at=start,
                           ended_at=start + dt.timedelta(hours=HOURS), simulated=True)
                s.add(p)
                s.flush()
                c = np.array(to_m.transform(centres[g.id].x, centres[g.id].y))
                near = int(np.argmin(np.hypot(*(nodes - c).T)))
                xy = _walk(rng, nodes, indptr, indices, near, per_day)
                lon, lat = to_wgs.transform(xy[:, 0], xy[:, 1])
                t = start.timestamp() + FIX_S * np.arange(per_day)
                parts.append(np.column_stack([np.full(per_day, p.id), t, lon, lat]))
                total += per_day
            buf = io.StringIO()
            np.savetxt(buf, np.vstack(parts), fmt=["%d", "%.0f", "%.7f", "%.7f"], delimiter="\t")
            with _raw(s).cursor() as cur:
                with cur.copy("COPY fix_stage FROM STDIN") as cp:
                    cp.write(buf.getvalue())
                cur.execute("INSERT INTO gps_fix (patrol_id, time, accuracy_m, geom) SELECT patrol_id, "
                            "to_timestamp(t), 5, ST_SetSRID(ST_MakePoint(lon, lat), 4326) FROM fix_stage")
                cur.execute("TRUNCATE fix_stage")
            s.commit()
            if d % 30 == 0:
                print(f"  {day}: {total:,} fixes, {time.perf_counter() - t0:.0f} s", flush=True)
        t1 = time.perf_counter()
        with _raw(s).cursor() as cur:
            for stmt in ADD_KEYS:
                cur.execute(stmt)
        s.commit()
        print(f"keys and indexes built in {time.perf_counter() - t1:.0f} s")
    print(f"SIMULATED {total:,} fixes of {workers} workers over {days} days written in "
          f"{time.perf_counter() - t0:.0f} s (COPY into a staging table, then INSERT … SELECT)")
    with engine.begin() as conn:
        conn.execute(text("ANALYZE gps_fix"))
        conn.execute(text("ANALYZE patrol"))
    engine.dispose()


def _raw(s):
    """The psycopg connection under the session's current transaction."""
    return s.connection().connection.driver_connection


def _size(conn, tables: list[str]) -> int:
    return sum(int(conn.execute(text("SELECT pg_total_relation_size(:t)"), {"t": t}).scalar() or 0) for t in tables)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("GRIDPATROL_BENCH_POSTGRES_URL"))
    parser.add_argument("--workers", type=int, default=10)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=5)
    args, _ = parser.parse_known_args(argv)
    if not args.url or not DATA.exists():
        print("skipped: needs --url (PostGIS) and the shared Monaco extract")
        return
    _load(args.url)
    _generate(args.url, args.workers, args.days)
    _measure(args)


def _measure(args) -> None:
    from patrol.analytics import service as svc
    from patrol.core.auth import SYSTEM
    from patrol.core.db import make_engine, session_factory
    from patrol.core.models import Community, GpsFix, Grid, Patrol, PatrolDay
    from patrol.core.settings import Settings

    engine = make_engine(args.url)
    sessions = session_factory(engine)
    settings = Settings(database_url=args.url, timezone=TZ, tiles=None)
    raw_settings = settings.model_copy(update={"fast_reads": False})
    zone = ZoneInfo(TZ)
    with sessions() as s:
        n_fixes = s.scalar(select(func.count()).select_from(GpsFix))
        last = s.scalar(select(func.max(Patrol.started_at))).astimezone(zone).date()
        month = dt.date(last.year, last.month, 1) - dt.timedelta(days=1)
        month = dt.date(month.year, month.month, 1)  # the last full month
        nxt = dt.date(month.year + (month.month == 12), month.month % 12 + 1, 1)
        grid_id, grid_code, com = s.execute(select(Grid.id, Grid.code, Grid.community_id).join(
            Patrol, Patrol.grid_id == Grid.id).limit(1)).one()
        com_code = s.scalar(select(Community.code).where(Community.id == com))
        workers_in_com = s.scalar(select(func.count(func.distinct(Patrol.worker_id))).join(
            Grid, Grid.id == Patrol.grid_id).where(Grid.community_id == com))
    print(f"{n_fixes:,} fixes; last full month {month:%Y-%m}; community {com_code} with {workers_in_com} walkers")
    t = time.perf_counter()
    done = _summarise_month(sessions, settings, month, nxt)
    took = time.perf_counter() - t
    print(f"summarised {done[0]} days ({done[1]} worker-days) in {took:.1f} s: {took / max(done[1], 1):.2f} s "
          f"per worker-day (load {os.getloadavg()[0]:.1f})")

    def cov(st, **kw):
        with sessions() as s:
            return svc.coverage(s, SYSTEM, st, **kw)

    days = [month + dt.timedelta(days=i) for i in range((nxt - month).days)]
    work = [d for d in days if d.weekday() < 5][:args.repeat]
    rows = []
    one_day = dt.timedelta(days=1)
    for label, kw in (("grid-day", {"grid": grid_code}), ("community-month", {"community": com_code})):
        cov(settings, start=work[0], end=work[0] + one_day, **kw)  # warm the coverage base
        periods = [(d, d + one_day) for d in work] if label == "grid-day" else \
            [(month, nxt)] * max(2, args.repeat // 2)
        before = [_one(lambda a=a, b=b, kw=kw: cov(raw_settings, start=a, end=b, **kw)) for a, b in periods]
        after = [_one(lambda a=a, b=b, kw=kw: cov(settings, start=a, end=b, **kw)) for a, b in periods]
        x = cov(raw_settings, start=periods[0][0], end=periods[0][1], **kw)
        y = cov(settings, start=periods[0][0], end=periods[0][1], **kw)
        same = [g["covered_m"] for g in x["grids"]] == [g["covered_m"] for g in y["grids"]] and \
            x["streets"] == y["streets"]
        rows.append((label, _p(before), _p(after), same))
    print(f"\n{'coverage (warm)':<18}{'raw p50':>10}{'raw p95':>10}{'summ p50':>10}{'summ p95':>10}{'ratio':>8}  same")
    for label, (b50, b95), (a50, a95), same in rows:
        print(f"{label:<18}{b50 * 1000:>8.0f}ms{b95 * 1000:>8.0f}ms{a50 * 1000:>8.0f}ms{a95 * 1000:>8.0f}ms"
              f"{b50 / a50:>7.1f}×  {same}")
    print(f"(load average {os.getloadavg()[0]:.1f} {os.getloadavg()[1]:.1f} {os.getloadavg()[2]:.1f})")
    with engine.connect() as conn:
        parts = partitions_of(conn)
        raw_bytes = _size(conn, parts + ["gps_fix_default"])
        summ_bytes = _size(conn, ["patrol_day"])
        n_rows = conn.execute(select(func.count(PatrolDay.id))).scalar()
    worker_years = n_fixes / (HOURS * 3600 / FIX_S * 250)
    per_row = summ_bytes / max(n_rows, 1)
    print(f"\nstorage: raw fixes {raw_bytes / 1e9:.2f} GB for {worker_years:.1f} worker-years = "
          f"{raw_bytes / worker_years / 1e6:.0f} MB per worker-year (table + indexes, {len(parts)} partitions); "
          f"summaries {per_row / 1e3:.1f} kB per worker-day = {per_row * 250 / 1e6:.1f} MB per worker-year "
          f"(250 working days; {raw_bytes / worker_years / (per_row * 250):.0f}× smaller)")
    _drop_oldest(sessions, settings)
    engine.dispose()


def partitions_of(conn) -> list[str]:
    names = conn.execute(text("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                              "WHERE i.inhparent = 'gps_fix'::regclass")).scalars().all()
    return sorted(n for n in names if n != "gps_fix_default")


def _summarise_month(sessions, settings, month: dt.date, nxt: dt.date) -> tuple[int, int]:
    from patrol.analytics import service as svc
    from patrol.analytics.gps_days import summarise_day

    days = rows = 0
    d = month
    base = None
    while d < nxt:
        with sessions.begin() as s:
            base = base or svc.coverage_base(s, svc.Scope())
            n = summarise_day(s, base, d, settings.timezone)
        days += n > 0
        rows += n
        d += dt.timedelta(days=1)
    return days, rows


def _drop_oldest(sessions, settings) -> None:
    """Drop the oldest month of raw fixes (summarised first) by DETACH + DROP, next to a DELETE of the next month's
    rows (rolled back) — the obvious alternative."""
    from patrol.analytics import service as svc
    from patrol.analytics.gps_days import mark_dropped
    from patrol.field.retention import drop_raw, next_month

    with sessions() as s:
        parts = partitions_of(s.connection())
    if len(parts) < 3:
        return
    first = dt.date(int(parts[0][9:13]), int(parts[0][14:16]), 1)
    second = next_month(first)
    cutoff = dt.datetime.combine(second, dt.time(), dt.UTC)
    t = time.perf_counter()
    local = cutoff.astimezone(ZoneInfo(TZ)).date()
    start = dt.datetime.combine(first, dt.time(), dt.UTC).astimezone(ZoneInfo(TZ)).date()
    days, rows = _summarise_month(sessions, settings, start, local)
    summ = time.perf_counter() - t
    with sessions.begin() as s:
        t = time.perf_counter()
        dropped = drop_raw(s, cutoff, TZ)
        mark_dropped(s, dropped.days)
        drop_s = time.perf_counter() - t
    with sessions() as s:
        t = time.perf_counter()
        hi = dt.datetime.combine(next_month(second), dt.time(), dt.UTC)
        deleted = s.execute(text("DELETE FROM gps_fix WHERE time >= :a AND time < :b"), {"a": cutoff, "b": hi}).rowcount
        delete_s = time.perf_counter() - t
        s.rollback()
    del svc
    print(f"\nretention: summarised {rows} worker-days of {first:%Y-%m} in {summ:.0f} s; dropped "
          f"{', '.join(dropped.partitions)} ({dropped.partition_rows:,} fixes, plus {dropped.rows:,} rows of the "
          f"default partition) in {drop_s:.2f} s: {dropped.check_s:.2f} s checking every worker-day is summarised, "
          f"{dropped.drop_s:.3f} s for DETACH + DROP; a DELETE of the next month's {deleted:,} fixes took "
          f"{delete_s:.1f} s ({delete_s / max(dropped.drop_s, 1e-9):.0f}× the DETACH + DROP; rolled back), and "
          f"leaves dead rows for VACUUM (load {os.getloadavg()[0]:.1f})")
    del days


def _one(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def _p(times: list[float]) -> tuple[float, float]:
    s = sorted(times)
    return statistics.median(s), s[min(len(s) - 1, int(round(0.95 * (len(s) - 1))))]


if __name__ == "__main__":
    main()
