"""The write cost of the cases map summary's triggers (``case_map_cell``, migration 0020): a Core bulk insert of
N closed cases and one-row status updates (closed → handled), with the three triggers on and disabled, alternating,
in a throwaway database created on the given PostgreSQL server (and dropped after).

    python bench/bench_map_cells.py --server postgresql+psycopg://postgres@127.0.0.1:54333/postgres

It prints each round and the load average; the read side is measured by bench/bench_scale.py (``--only "cases
map"``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import time
import uuid

import shapely
from sqlalchemy import create_engine, insert, text, update
from sqlalchemy.engine import make_url

from patrol.core.frames import ewkt
from patrol.core.migrate import upgrade
from patrol.core.models import Case, Category

DB = "bench_map_cells"
NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _rows(rng: random.Random, n: int) -> list[dict]:
    return [{"client_id": str(uuid.uuid4()), "category_code": "T", "status": "closed", "level": "grid",
             "channel": "巡查", "geom": ewkt([shapely.Point(9.5 + rng.random() * 0.15, 47.05 + rng.random() * 0.2)])[0],
             "reported_at": NOW, "updated_at": NOW} for _ in range(n)]


def _round(engine, on: bool, n: int, updates: int, rng: random.Random) -> tuple[float, float]:
    with engine.begin() as c:
        if not on:
            for op in ("insert", "update", "delete"):
                c.execute(text(f"ALTER TABLE patrol_case DISABLE TRIGGER case_map_cell_{op}"))
        data = _rows(rng, n)
        t = time.perf_counter()
        c.execute(insert(Case), data)
        t_insert = time.perf_counter() - t
        ids = [r[0] for r in c.execute(text(f"SELECT id FROM patrol_case ORDER BY id DESC LIMIT {updates}"))]
        t = time.perf_counter()
        for i in ids:
            c.execute(update(Case).where(Case.id == i).values(status="handled"))
        t_update = (time.perf_counter() - t) / max(1, len(ids))
    with engine.begin() as c:  # empty again, the triggers off
        c.execute(text("SET LOCAL session_replication_role = replica"))
        c.execute(text("DELETE FROM patrol_case"))
        c.execute(text("DELETE FROM case_map_cell"))
    return t_insert, t_update


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", required=True, help="a PostgreSQL URL whose user may create databases")
    ap.add_argument("--cases", type=int, default=20_000)
    ap.add_argument("--updates", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    admin = create_engine(args.server, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f"DROP DATABASE IF EXISTS {DB}"))
        c.execute(text(f"CREATE DATABASE {DB}"))
    url = make_url(args.server).set(database=DB)
    with create_engine(url, isolation_level="AUTOCOMMIT").connect() as c:
        c.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
    engine = create_engine(url)
    try:
        upgrade(engine)
        with engine.begin() as c:
            c.execute(insert(Category), [{"code": "T", "name_zh": "测试", "name_en": "test", "kind": "event",
                                          "major_zh": "测试", "major_en": "Test", "level": "grid",
                                          "deadline_hours": 1, "severity": 1, "revisit_days": 1}])
        rng = random.Random(23)
        for _ in range(args.rounds):
            for on in (True, False):
                ins, upd = _round(engine, on, args.cases, args.updates, rng)
                print(f"triggers {'on ' if on else 'off'}: Core insert of {args.cases:,} closed cases {ins:.2f} s "
                      f"({args.cases / ins:,.0f} rows/s); one-row status update {upd * 1000:.2f} ms; "
                      f"load {os.getloadavg()[0]:.1f}", flush=True)
    finally:
        engine.dispose()
        with admin.connect() as c:
            c.execute(text(f"DROP DATABASE IF EXISTS {DB}"))


if __name__ == "__main__":
    main()
