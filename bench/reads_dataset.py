"""A quick city-scale case table for the reads work of issue 23 (development figures, SIMULATED data).

Liechtenstein (OpenStreetMap 2015) is imported and gridded into a PostGIS database, then N SIMULATED cases (default
1,000,000; description "scale case (模拟)") are written by one ``INSERT … SELECT generate_series`` in the database:
each near a random grid's centre (±~300 m), a category, a channel, a status as in a real city (most closed, a third
of the open ones overdue), ``reported_at`` spread over five years with a yearly season, ratings, reworks and reopens;
``h3_9`` is then filled by :func:`patrol.core.cells.backfill` (the path migration 0016 uses), then ANALYZE.

Run ``python bench/reads_dataset.py URL [--cases N]`` (PostGIS only). The scale helper's generator
(``bench/bench_scale.py``) is the full one; this one only feeds bench/bench_reads.py.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "osm" / "liechtenstein_2015.osm.pbf"
PASSWORD = "bench pass phrase 2026"

CASES_SQL = """
WITH g AS (SELECT array_agg(id ORDER BY id) AS ids, array_agg(community_id ORDER BY id) AS coms,
                  array_agg(ST_X(ST_Centroid(geom)) ORDER BY id) AS xs, array_agg(ST_Y(ST_Centroid(geom)) ORDER BY id)
                  AS ys, count(*) AS n FROM grid WHERE geom IS NOT NULL),
     c AS (SELECT array_agg(code ORDER BY code) AS codes, array_agg(level ORDER BY code) AS levels,
                  array_agg(deadline_hours ORDER BY code) AS hours, count(*) AS n FROM category WHERE active),
     r AS (SELECT s AS i, 1 + floor(random() * (SELECT n FROM g))::int AS gk,
                  1 + floor(random() * (SELECT n FROM c))::int AS ck, random() AS st, random() AS roll,
                  -- five years back, more in summer: a day drawn twice, the summer one kept more often
                  now() - make_interval(secs => (
                      CASE WHEN random() < 0.3 THEN 365 * floor(random() * 5) * 86400
                           + (150 + 90 * random()) * 86400 ELSE 5 * 365 * 86400 * random() END
                      + 3600 * random())) AS reported
           FROM generate_series(1, :n) AS s)
INSERT INTO patrol_case (client_id, number, category_code, status, level, channel, description, geom, input_crs,
                         community_id, grid_id, reported_at, deadline_at, closed_at, closed_on_time, rating,
                         rework_count, reopened_count, escalations, updated_at, simulated, key_case, petition,
                         received_at)
SELECT md5('scale' || r.i || clock_timestamp())::uuid::text, NULL, c.codes[r.ck], x.status,
       c.levels[r.ck], (ARRAY['patrol', 'hotline', 'resident', 'staff'])[1 + (r.i % 4)], 'scale case (模拟)',
       ST_SetSRID(ST_MakePoint(g.xs[r.gk] + (random() - 0.5) * 0.008, g.ys[r.gk] + (random() - 0.5) * 0.005), 4326),
       'wgs84', g.coms[r.gk], g.ids[r.gk], r.reported,
       CASE WHEN x.status IN ('reported', 'registered', 'dispatched', 'accepted', 'handled', 'verified')
                 AND r.roll < 0.33 THEN now() - interval '2 days' * random()
            ELSE r.reported + interval '1 hour' * (c.hours[r.ck] * 2) END,
       CASE WHEN x.status IN ('closed', 'rejected', 'duplicate') THEN r.reported + interval '1 day' END,
       CASE WHEN x.status = 'closed' THEN r.roll > 0.1 END,
       CASE WHEN x.status = 'closed' AND r.roll > 0.3 THEN 1 + (r.i % 5) END,
       (r.roll < 0.05)::int, (r.roll > 0.98)::int, (r.roll > 0.97 AND r.roll < 0.975)::int, r.reported, true,
       false, false, r.reported
FROM r, g, c, LATERAL (SELECT CASE WHEN r.st < 0.55 THEN 'closed' WHEN r.st < 0.59 THEN 'reported'
                                   WHEN r.st < 0.63 THEN 'registered' WHEN r.st < 0.71 THEN 'dispatched'
                                   WHEN r.st < 0.77 THEN 'accepted' WHEN r.st < 0.83 THEN 'handled'
                                   WHEN r.st < 0.86 THEN 'verified' WHEN r.st < 0.88 THEN 'suspended'
                                   WHEN r.st < 0.95 THEN 'rejected' ELSE 'duplicate' END AS status) AS x
"""


def build(url: str, n: int) -> None:
    from sqlalchemy import text

    from patrol.cases.categories import load_categories
    from patrol.city.gridding import generate_city_grids
    from patrol.city.osm_import import read_city, store_city
    from patrol.core.auth import create_user
    from patrol.core.db import make_engine, session_factory, transaction
    from patrol.core.migrate import upgrade

    engine = make_engine(url)
    upgrade(engine)
    factory = session_factory(engine)
    t = time.perf_counter()
    with engine.connect() as conn:
        have_city = conn.execute(text("SELECT count(*) FROM grid")).scalar_one() > 0
    with transaction(factory) as s:
        if have_city:  # a second run adds cases to the city already there
            return _cases(engine, n)
        store_city(s, read_city(DATA), source=str(DATA))
        load_categories(s)
        generate_city_grids(s)
        create_user(s, username="admin", role="admin", password=PASSWORD, simulated=True)
    print(f"city: {time.perf_counter() - t:.1f} s", flush=True)
    _cases(engine, n)


def _cases(engine, n: int) -> None:
    from sqlalchemy import text

    from patrol.core.cells import backfill

    t = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text(CASES_SQL), {"n": n})
    print(f"{n:,} cases: {time.perf_counter() - t:.1f} s", flush=True)
    t = time.perf_counter()
    with engine.begin() as conn:
        done = backfill(conn)
    print(f"h3_9 backfill of {done:,}: {time.perf_counter() - t:.1f} s", flush=True)
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    engine.dispose()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("url")
    ap.add_argument("--cases", type=int, default=1_000_000)
    args = ap.parse_args(argv)
    build(args.url, args.cases)


if __name__ == "__main__":
    main()
