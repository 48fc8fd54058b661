"""The read replica's costs on the test cluster and its streaming standby, in one run: the replication lag (a commit
on the primary until the standby has replayed it), what read-your-writes adds to a write (the two small queries
after it: did it write, the WAL insert position) next to the same write without them, and what it adds to a read
(the replay-position check of a caller with a fresh write) next to a read without it.

Run with ``make bench`` (starts the cluster and its standby) or ``GRIDPATROL_BENCH_POSTGRES_URL=…
GRIDPATROL_BENCH_REPLICA_URL=… python bench/bench_replica.py [--n N]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker

from patrol.core.db import create_postgis_database, drop_postgis_database
from patrol.core.replica import ReadReplica, insert_position, lsn_number, wrote


def pct(values: list[float], p: float) -> float:
    return sorted(values)[min(len(values) - 1, int(p * len(values)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=300)
    args = parser.parse_args()
    base, replica_base = os.environ.get("GRIDPATROL_BENCH_POSTGRES_URL"), os.environ.get("GRIDPATROL_BENCH_REPLICA_URL")
    if not base or not replica_base:
        raise SystemExit("set GRIDPATROL_BENCH_POSTGRES_URL and GRIDPATROL_BENCH_REPLICA_URL (make bench does)")
    url = create_postgis_database(base, f"bench_replica_{uuid.uuid4().hex[:6]}")
    read_url = make_url(replica_base).set(database=make_url(url).database).render_as_string(hide_password=False)
    primary = create_engine(url)
    try:
        with primary.begin() as conn:
            conn.execute(text("CREATE TABLE bench_write (id serial PRIMARY KEY, note text)"))
        replica = ReadReplica(read_url, primary)
        factory = sessionmaker(bind=primary)
        while replica.session(factory, None)[0] is None:  # the database appears on the standby
            replica._down_until = 0.0
            time.sleep(0.1)
        lag, plain, remembered = [], [], []
        for i in range(args.n):
            t = time.perf_counter()
            with factory() as s:
                with s.begin():
                    s.execute(text("INSERT INTO bench_write (note) VALUES (:n)"), {"n": str(i)})
                    if i % 2:
                        assert wrote(s)
                if i % 2:
                    position = insert_position(s)
            (remembered if i % 2 else plain).append(time.perf_counter() - t)
            if i % 2:
                t = time.perf_counter()
                target = lsn_number(position)
                with replica.engine.connect() as conn:
                    while lsn_number(conn.execute(text("SELECT pg_last_wal_replay_lsn()::text")).scalar()) < target:
                        pass
                lag.append(time.perf_counter() - t)
        checked, unchecked = [], []
        for i in range(args.n):
            t = time.perf_counter()
            session, source = replica.session(factory, position if i % 2 else None)
            assert session is not None and source == "replica"
            session.execute(text("SELECT count(*) FROM bench_write")).scalar()
            session.close()
            (checked if i % 2 else unchecked).append(time.perf_counter() - t)
        replica.dispose()
        ms = 1000
        load = os.getloadavg()[0]
        print(f"replication lag (commit → replayed on the standby): p50 {pct(lag, .5) * ms:.2f} ms, "
              f"p95 {pct(lag, .95) * ms:.2f} ms (n={len(lag)}, load {load:.2f})")
        print(f"a write: {statistics.median(plain) * ms:.2f} ms plain, {statistics.median(remembered) * ms:.2f} ms "
              f"with its position remembered ({statistics.median(remembered) / statistics.median(plain):.2f}x)")
        print(f"a read on the replica: {statistics.median(unchecked) * ms:.2f} ms, "
              f"{statistics.median(checked) * ms:.2f} ms with the replay check of a fresh write "
              f"({statistics.median(checked) / statistics.median(unchecked):.2f}x)")
    finally:
        primary.dispose()
        drop_postgis_database(url)


if __name__ == "__main__":
    main()
