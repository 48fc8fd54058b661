"""``gridpatrol gps summarise`` (issue 23): seconds per worker-day of the original path — one day at a time, an ORM
read of the day's fixes, :func:`patrol.analytics.gps_days.summary_row` per worker-day (its own track, tree and
scan of the city's street pieces), one ORM object per row — next to the batched path
(:func:`patrol.analytics.gps_days.summarise_days`: one Core read per batch of days, one pass over every worker-day
with :func:`geo.coverage.covered_pieces_by`, one multi-row insert), on the same days of an existing database, in
one run, with the ratio. Both write the same rows (checked here), each in a transaction that is ROLLED BACK: the
database is left as it was.

    python bench/bench_gps_summarise.py --url postgresql+psycopg://postgres@127.0.0.1:55500/gridpatrol \\
        --start 2026-11-09 --days 5

Without ``--url`` (bench/run.py): Monaco's streets with a few SIMULATED patrol days (bench_gps_retention's data
would take long; here 4 workers × 5 days in a temporary SpatiaLite file).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import time

from sqlalchemy import delete, select


def load() -> str:
    return "load {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def original(s, base, day: dt.date, tz: str, now: dt.datetime) -> int:
    """The summarise_day of before the batching (issue 23, first pass), kept here as the baseline."""
    import pandas as pd
    from sqlalchemy import func

    from patrol.analytics.gps_days import FIX_COLUMNS, day_bounds, summary_row
    from patrol.core.models import GpsFix, Patrol, PatrolDay

    start, end = day_bounds(day, tz)
    rows = s.execute(select(Patrol.worker_id, Patrol.grid_id, Patrol.simulated, GpsFix.patrol_id, GpsFix.time,
                            func.ST_X(GpsFix.geom), func.ST_Y(GpsFix.geom), GpsFix.flag)
                     .join(Patrol, Patrol.id == GpsFix.patrol_id)
                     .where(GpsFix.time >= start, GpsFix.time < end)
                     .order_by(GpsFix.patrol_id, GpsFix.time)).all()
    fixes = pd.DataFrame(rows, columns=["worker_id", "grid_id", "simulated", *FIX_COLUMNS])
    if fixes.empty:
        return 0
    fixes["time"] = pd.to_datetime(fixes["time"], utc=True)
    fixes["grid_key"] = fixes["grid_id"].fillna(-1).astype("int64")
    workers = sorted(int(w) for w in fixes["worker_id"].unique())
    s.execute(delete(PatrolDay).where(PatrolDay.day == day, PatrolDay.worker_id.in_(workers)))
    out = []
    for (worker, grid, sim), group in fixes.groupby(["worker_id", "grid_key", "simulated"], sort=True):
        row = summary_row(base, group[FIX_COLUMNS])
        out.append(PatrolDay(worker_id=int(worker), day=day, grid_id=None if grid < 0 else int(grid),
                             simulated=bool(sim), summarised_at=now, raw_dropped=False, **row))
    s.add_all(out)
    s.flush()
    return len(out)


def _rows(s, days: list[dt.date]) -> list[tuple]:
    from sqlalchemy import func

    from patrol.core.models import PatrolDay

    cols = ("patrols", "fixes", "first_at", "last_at", "walked_s", "distance_m", "lines", "covered")
    out = []
    for r, track in s.execute(select(PatrolDay, func.ST_AsBinary(PatrolDay.track))
                              .where(PatrolDay.day.in_(days)).order_by(PatrolDay.day, PatrolDay.worker_id,
                                                                       PatrolDay.grid_id)):
        out.append((r.day, r.worker_id, r.grid_id, *(getattr(r, c) for c in cols),
                    None if track is None else bytes(track)))
    return out


def measure(url: str, days: list[dt.date]) -> None:
    from patrol.analytics.gps_days import summarise_days
    from patrol.analytics.service import Scope, coverage_base
    from patrol.core.db import make_engine, session_factory
    from patrol.core.settings import Settings

    engine = make_engine(url)
    sessions = session_factory(engine)
    tz = Settings().timezone
    now = dt.datetime.now(dt.UTC)
    with sessions() as s:
        base = coverage_base(s, Scope())
    results = {}
    for name in ("original", "batched"):
        with sessions() as s:
            t0 = time.perf_counter()
            if name == "original":
                n = sum(original(s, base, d, tz, now) for d in days)
            else:
                n = summarise_days(s, base, days, tz, now=now)
            took = time.perf_counter() - t0
            results[name] = (n, took, _rows(s, days))
            s.rollback()
        print(f"  {name}: {n} worker-days in {took:.1f} s = {took / max(n, 1) * 1000:.0f} ms per worker-day "
              f"({load()})", flush=True)
    (n0, t0_, r0), (n1, t1_, r1) = results["original"], results["batched"]
    same = n0 == n1 and r0 == r1
    print(f"ratio original / batched: {t0_ / max(t1_, 1e-9):.1f}×; the same rows: {same}")
    if not same:
        raise SystemExit("the batched path wrote different rows")
    engine.dispose()


def small_world() -> tuple[str, list[dt.date]]:
    """A temporary SpatiaLite Monaco with SIMULATED patrols (模拟): 4 workers × 5 days, each a fix every 5 s for
    2 h along random streets of the worker's grid (with straight hops between them)."""
    import tempfile
    import uuid
    from pathlib import Path
    from zoneinfo import ZoneInfo

    import numpy as np
    import shapely
    from sqlalchemy import func, insert

    from patrol.cases.categories import load_categories
    from patrol.city.gridding import generate_city_grids
    from patrol.city.osm_import import read_city, store_city
    from patrol.core.auth import create_user
    from patrol.core.db import make_engine, session_factory, transaction
    from patrol.core.frames import ewkt
    from patrol.core.migrate import upgrade
    from patrol.core.models import GpsFix, Grid, Patrol, RoadSegment
    from patrol.core.settings import Settings

    url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='bench_gps_summarise_')) / 'monaco.db'}"
    engine = make_engine(url)
    upgrade(engine)
    tz = Settings().timezone
    today = dt.datetime.now(ZoneInfo(tz)).date()
    days = [today - dt.timedelta(days=10 - i) for i in range(5)]
    rng = np.random.default_rng(1)
    with transaction(session_factory(engine)) as s:
        store_city(s, read_city(Path(__file__).resolve().parents[2] / "shared" / "data" / "osm" / "monaco.osm.pbf"),
                   source="monaco")
        load_categories(s)
        generate_city_grids(s, households_range=(300, 500))
        roads = np.array([shapely.from_wkb(bytes(w)) for w in s.scalars(select(func.ST_AsBinary(RoadSegment.geom)))])
        for k, g in enumerate(s.scalars(select(Grid).order_by(Grid.code).limit(4)).all()):
            area = shapely.from_wkb(bytes(s.scalar(select(func.ST_AsBinary(Grid.geom)).where(Grid.id == g.id))))
            mine = roads[shapely.intersects(roads, area)]
            worker = create_user(s, username=f"bench_gps_{k}", role="grid_worker", password=None,
                                 grids=[g.code]).id
            for day in days:
                t0 = dt.datetime.combine(day, dt.time(9), ZoneInfo(tz)).astimezone(dt.UTC)
                picks = mine[rng.integers(0, len(mine), 60)]
                pts = shapely.line_interpolate_point(np.repeat(picks, 24), np.tile(np.linspace(0, 1, 24), 60),
                                                     normalized=True)
                p = Patrol(client_id=str(uuid.uuid4()), worker_id=worker, grid_id=g.id, started_at=t0,
                           ended_at=t0 + dt.timedelta(hours=2), simulated=True)
                s.add(p)
                s.flush()
                s.execute(insert(GpsFix), [{"patrol_id": p.id, "time": t0 + dt.timedelta(seconds=5 * i),
                                            "accuracy_m": 5.0, "geom": w} for i, w in enumerate(ewkt(pts))])
    engine.dispose()
    return url, days


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", help="an existing database with raw fixes (left as it was: rolled back)")
    ap.add_argument("--start", type=dt.date.fromisoformat, help="first local day (with --url)")
    ap.add_argument("--days", type=int, default=5, help="consecutive days measured")
    args = ap.parse_args()
    if args.url:
        if not args.start:
            raise SystemExit("--start is needed with --url")
        url, days = args.url, [args.start + dt.timedelta(days=i) for i in range(args.days)]
    else:
        url, days = small_world()
    print(f"gps summarise, {days[0]}..{days[-1]} ({len(days)} days); {load()}", flush=True)
    measure(url, days)
    print(json.dumps({"days": len(days)}))


if __name__ == "__main__":
    main()
