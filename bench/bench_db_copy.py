"""``gridpatrol db copy`` SpatiaLite → PostGIS: PostgreSQL's COPY FROM STDIN (what the command uses into PostGIS)
next to batched INSERTs (SQLAlchemy executemany with ``ST_GeomFromWKB``, the obvious way), on GPS fixes — the
table that grows fastest — in one run.

A SpatiaLite file is migrated and filled with one worker, one patrol and N fixes (random points over Monaco, one
every 5 s); each method copies it into a fresh, migrated PostGIS database (``patrol.core.transfer.copy_database``:
check, copy, sequences, row counts). Prints rows/s per method, the ratio and the load average.

Run with ``make bench`` or ``GRIDPATROL_BENCH_POSTGRES_URL=… python bench/bench_db_copy.py [--fixes N]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import struct
import tempfile
import time
import uuid
from pathlib import Path

from patrol.core.auth import create_user
from patrol.core.db import create_postgis_database, drop_postgis_database, make_engine, session_factory, transaction
from patrol.core.migrate import upgrade
from patrol.core.models import Patrol
from patrol.core.transfer import copy_database


def point_wkb(lon: float, lat: float) -> bytes:
    return struct.pack("<BIdd", 1, 1, lon, lat)


def spatialite_with_fixes(path: Path, n: int) -> str:
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    upgrade(engine)
    with transaction(session_factory(engine)) as s:
        worker = create_user(s, username="bench_worker", role="grid_worker", password="bench-pass-2026-x")
        patrol = Patrol(client_id=str(uuid.uuid4()), worker_id=worker.id,
                        started_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
        s.add(patrol)
        s.flush()
        patrol_id = patrol.id
    rng = random.Random(23)
    t0 = dt.datetime(2026, 1, 1)
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("BEGIN")
        cur.executemany(
            "INSERT INTO gps_fix (patrol_id, time, accuracy_m, flag, geom) VALUES (?, ?, ?, ?, GeomFromWKB(?, 4326))",
            ((patrol_id, (t0 + dt.timedelta(seconds=5 * i)).strftime("%Y-%m-%d %H:%M:%S.%f"),
              rng.uniform(3, 30), None, point_wkb(7.41 + rng.random() * 0.02, 43.72 + rng.random() * 0.02))
             for i in range(n)))
        cur.execute("COMMIT")
    finally:
        raw.close()
    engine.dispose()
    return url


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fixes", type=int, default=200_000)
    args = parser.parse_args()
    base = os.environ.get("GRIDPATROL_BENCH_POSTGRES_URL")
    if not base:
        raise SystemExit("set GRIDPATROL_BENCH_POSTGRES_URL (make bench starts a PostGIS)")
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        source = spatialite_with_fixes(Path(tmp) / "source.db", args.fixes)
        print(f"SpatiaLite with {args.fixes:,} GPS fixes written in {time.perf_counter() - t:.1f} s")
        seconds = {}
        for method in ("insert", "copy"):
            target = create_postgis_database(base, f"bench_copy_{method}_{uuid.uuid4().hex[:6]}")
            try:
                engine = make_engine(target)
                upgrade(engine)
                engine.dispose()
                t = time.perf_counter()
                report = copy_database(source, target, method=method)  # type: ignore[arg-type]
                seconds[method] = time.perf_counter() - t
                assert report.rows == args.fixes + 2, report.lines()
            finally:
                drop_postgis_database(target)
            rate = report.rows / seconds[method]
            print(f"{method:>6}: {report.rows:,} rows in {seconds[method]:.1f} s = {rate:,.0f} rows/s "
                  f"(load {os.getloadavg()[0]:.2f})")
    print(f"COPY is {seconds['insert'] / seconds['copy']:.1f}x faster than batched INSERTs")


if __name__ == "__main__":
    main()
