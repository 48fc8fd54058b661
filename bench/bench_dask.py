"""Heavy analytics over the whole history: in this process vs a Dask LocalCluster of 1 and of 2 workers.

A PostGIS database (``--database``, default a new ``bench_dask`` database next to ``GRIDPATROL_TEST_POSTGRES_URL``)
holds Monaco (6 communities, 42 grids, its real streets) and a SIMULATED history written with COPY: ``--cases``
(default 2,000,000) cases over five years with a yearly season and a few clusters, and ``--fixes`` (default 10,000,000)
GPS fixes of the last year (random walks along the real streets, 8 m apart, 3 m noise; each day's walks repeat
with other patrols and days). It is kept between runs (drop the database to build it again). Before the load the
indexes the analyses do not read by are dropped from this database (COPY would maintain the 24 of patrol_case row by
row: 1.8k rows/s at load 15); kept: the keys, ``reported_at``, ``community_id`` and ``(patrol_id, time)``.

Measured, each in one run: ``hotspots`` (H3 res 9, the five years), ``emerging`` (60 monthly steps) and ``coverage``
(the last year) through ``patrol.analytics.service`` — in this process (``runner=None``), on a LocalCluster of 1 and
of 2 single-threaded worker processes where each task reads its slice (``reads=tasks``), and on 2 workers with one
read here then scattered (``reads=client``). Every Dask answer is checked equal to the in-process one. Prints the
times, in-process ÷ Dask and the 1 → 2 worker scaling, with the load average (the machine is shared: timings are
noisy). Run ``python bench/bench_dask.py [--cases N] [--fixes N] [--only hotspots,emerging,coverage]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import time
import uuid

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from walks import street_graph, street_walk  # bench/walks.py (the benchmarks run as scripts from bench/)

from patrol.analytics import history as H
from patrol.analytics import service as svc
from patrol.core.auth import SYSTEM
from patrol.core.db import create_postgis_database, make_engine, session_factory, transaction
from patrol.core.frames import read_frame
from patrol.core.migrate import upgrade
from patrol.core.models import Case, Category, City, Community, GpsFix, Grid, Patrol, RoadSegment, User
from patrol.core.settings import Settings

SETTINGS = Settings(timezone="Asia/Shanghai")
NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)  # the history ends here
YEARS = 5
SPACING_M, NOISE_M, PATROL_M = 8.0, 3.0, 3000.0
COVERAGE_DAYS = [365]  # --coverage-days


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.1f}/{five:.1f}"


def database(args: argparse.Namespace) -> str:
    if args.database:
        return args.database
    base = os.environ["GRIDPATROL_TEST_POSTGRES_URL"]
    url = make_url(base).set(database="bench_dask").render_as_string(hide_password=False)
    engine = make_engine(make_url(base).set(database="postgres").render_as_string(hide_password=False))
    with engine.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = 'bench_dask'")).scalar()
    engine.dispose()
    return url if exists else create_postgis_database(base, "bench_dask")


def build_city(url: str) -> None:
    from patrol.cases.categories import load_categories
    from patrol.city.gridding import generate_city_grids
    from patrol.city.osm_import import read_city, store_city

    path = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "osm", "monaco.osm.pbf")
    engine = make_engine(url)
    upgrade(engine)
    with transaction(session_factory(engine)) as s:
        if s.scalar(select(func.count()).select_from(Grid)):
            return
        store_city(s, read_city(path), source="monaco")
        load_categories(s)
        generate_city_grids(s, households_range=(300, 500))


def copy_rows(engine, table: str, frame: pd.DataFrame) -> None:
    buf = io.StringIO()
    frame.to_csv(buf, sep="\t", header=False, index=False, na_rep="\\N")
    buf.seek(0)
    with engine.begin() as conn:
        raw = conn.connection.driver_connection
        with raw.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(frame.columns)}) FROM STDIN") as copy:
            while chunk := buf.read(1 << 20):
                copy.write(chunk)


def simulate_cases(engine, n: int, rng: np.random.Generator) -> None:
    """SIMULATED cases over five years: 70 % spread over the communities, 30 % in five clusters; a yearly season."""
    with engine.connect() as conn:
        rows = conn.execute(select(Community.id, func.ST_AsBinary(Community.geom))).all()
        codes = np.array(conn.execute(select(Category.code)).scalars().all())
    ids = np.array([r[0] for r in rows])
    shapes = shapely.from_wkb([bytes(r[1]) for r in rows])
    x0, y0, x1, y1 = shapely.union_all(shapes).bounds
    tree = shapely.STRtree(shapes)
    centres = rng.uniform((x0, y0), (x1, y1), (5, 2))
    start = NOW - dt.timedelta(days=365 * YEARS)
    tag = uuid.uuid4().hex[:8]  # this load's client ids (a load may resume an interrupted one)
    for first in range(0, n, 500_000):
        m = min(500_000, n - first)
        xy = rng.uniform((x0, y0), (x1, y1), (m, 2))
        hot = rng.random(m) < 0.3
        xy[hot] = centres[rng.integers(5, size=hot.sum())] + rng.normal(0, 0.001, (hot.sum(), 2))
        points = shapely.points(xy)
        where, which = tree.query(points, predicate="intersects")
        community = np.full(m, -1)
        community[where] = ids[which]
        days = rng.uniform(0, 365 * YEARS, 3 * m)  # a season: more in summer, fewer in winter
        days = days[rng.random(days.size) < 0.7 + 0.3 * np.sin(2 * np.pi * (days - 80) / 365.25)][:m]
        reported = pd.Timestamp(start) + pd.to_timedelta(days, unit="D")
        frame = pd.DataFrame({
            "client_id": [f"bench-{tag}-{first + i}" for i in range(m)],
            "category_code": codes[rng.integers(codes.size, size=m)], "status": "closed", "level": "grid",
            "channel": "patrol", "geom": [f"SRID=4326;POINT({x:.7f} {y:.7f})" for x, y in xy],
            "input_crs": "wgs84",
            "community_id": pd.Series(np.where(community > 0, community, 0), dtype="Int64").where(community > 0),
            "reported_at": reported.strftime("%Y-%m-%d %H:%M:%S+00"),
            "rework_count": (rng.random(m) < 0.1).astype(int), "reopened_count": 0, "escalations": 0,
            "updated_at": reported.strftime("%Y-%m-%d %H:%M:%S+00"), "simulated": "t"})
        copy_rows(engine, "patrol_case", frame)
        print(f"  cases: {first + m:,}/{n:,} ({load()})", flush=True)


def walks(lines: np.ndarray, n_fixes: int, rng: np.random.Generator) -> list[np.ndarray]:
    """SIMULATED walks (metric x, y per fix) on the graph of the street vertices, no immediate U-turns."""
    coords, which = shapely.get_coordinates(lines, return_index=True)
    nodes, indptr, indices = street_graph(coords, which, 2)
    starts = np.flatnonzero(np.diff(indptr) > 0)
    out, total = [], 0
    while total < n_fixes:
        pts, cum = street_walk(nodes, indptr, indices, int(rng.choice(starts)), PATROL_M, rng)
        d = np.arange(rng.uniform(0, SPACING_M), cum[-1], SPACING_M)
        xy = np.column_stack((np.interp(d, cum, pts[:, 0]), np.interp(d, cum, pts[:, 1])))
        out.append(xy + rng.normal(0, NOISE_M, xy.shape))
        total += len(d)
    return out


def simulate_fixes(engine, n: int, rng: np.random.Generator) -> None:
    """SIMULATED patrols of the last year: one day's walks (n / 10 fixes) repeated on ten other days."""
    import pyproj

    sessions = session_factory(engine)
    with transaction(sessions) as s:
        epsg = s.scalar(select(City.metric_epsg))
        roads = read_frame(s, [RoadSegment.id], RoadSegment.geom).to_crs(epsg)
        grids = read_frame(s, [Grid.id], Grid.geom)
        worker = User(username=f"bench-walker-{uuid.uuid4().hex[:6]}", display_name="巡查员 (模拟)",
                      role="grid_worker", simulated=True)
        s.add(worker)
        s.flush()
        worker_id = worker.id
        first_patrol = (s.scalar(select(func.max(Patrol.id))) or 0) + 1
    to_wgs = pyproj.Transformer.from_crs(epsg, 4326, always_xy=True)
    paths = [np.column_stack(to_wgs.transform(p[:, 0], p[:, 1])) for p in walks(roads.geometry.to_numpy(), n // 10,
                                                                                  rng)]
    grid_tree = shapely.STRtree(grids.geometry.to_numpy())
    firsts = shapely.points([p[0] for p in paths])
    where, which = grid_tree.query(firsts, predicate="intersects")
    grid_of = np.full(len(paths), grids["id"].iloc[0])
    grid_of[where] = grids["id"].to_numpy()[which]
    year = NOW - dt.timedelta(days=365)
    pid, written = first_patrol, 0
    for _ in range(10):
        patrols, fixes = [], []
        for k, path in enumerate(paths):
            start = year + dt.timedelta(days=int(rng.integers(365)), minutes=int(rng.integers(600)))
            patrols.append((pid, f"bench-{pid}", worker_id, int(grid_of[k]), start.isoformat(), "t"))
            t = pd.Timestamp(start) + pd.to_timedelta(np.arange(len(path)) * SPACING_M / 1.2, unit="s")
            fixes.append(pd.DataFrame({"patrol_id": pid, "time": t.strftime("%Y-%m-%d %H:%M:%S.%f+00"),
                                       "geom": [f"SRID=4326;POINT({x:.7f} {y:.7f})" for x, y in path]}))
            pid += 1
        copy_rows(engine, "patrol", pd.DataFrame(patrols, columns=["id", "client_id", "worker_id", "grid_id",
                                                                   "started_at", "simulated"]))
        frame = pd.concat(fixes, ignore_index=True)
        copy_rows(engine, "gps_fix", frame)
        written += len(frame)
        print(f"  fixes: {written:,} ({load()})", flush=True)
    with engine.begin() as conn:
        conn.execute(text("SELECT setval('patrol_id_seq', (SELECT max(id) FROM patrol))"))


#: the indexes the analyses read by (the rest, 24 on patrol_case, would be kept up to date row by row by COPY)
KEEP = {"pk_patrol_case", "ix_patrol_case_reported_at", "ix_patrol_case_community_id", "uq_patrol_case_client_id",
        "pk_gps_fix", "uq_gps_fix_patrol_id_time"}


def lean(engine) -> None:
    """Drop the other indexes of patrol_case and gps_fix in this benchmark's own database before the load."""
    with engine.begin() as conn:
        names = conn.execute(text("SELECT indexname FROM pg_indexes WHERE tablename IN ('patrol_case', 'gps_fix')"))
        for name in sorted(set(names.scalars()) - KEEP):
            conn.execute(text(f'DROP INDEX IF EXISTS "{name}"'))


def prepare(args: argparse.Namespace) -> str:
    url = database(args)
    build_city(url)
    engine = make_engine(url)
    rng = np.random.default_rng(2026)
    with engine.connect() as conn:
        have_cases = conn.execute(select(func.count()).select_from(Case)).scalar()
        have_fixes = conn.execute(select(func.count()).select_from(GpsFix)).scalar()
    lean(engine)
    if have_cases < args.cases:
        t = time.perf_counter()
        simulate_cases(engine, args.cases - have_cases, rng)
        print(f"SIMULATED {args.cases - have_cases:,} cases written with COPY in {time.perf_counter() - t:.0f} s")
    if have_fixes < args.fixes:
        t = time.perf_counter()
        simulate_fixes(engine, args.fixes - have_fixes, rng)
        print(f"SIMULATED {args.fixes - have_fixes:,} fixes written with COPY in {time.perf_counter() - t:.0f} s")
    with engine.begin() as conn:
        conn.execute(text("ANALYZE patrol_case; ANALYZE gps_fix; ANALYZE patrol"))
    engine.dispose()
    return url


ANALYSES = {
    "hotspots": lambda s, runner: svc.hotspots(s, SYSTEM, SETTINGS, start=(NOW - dt.timedelta(days=365 * YEARS)),
                                               end=NOW, runner=runner),
    "emerging": lambda s, runner: svc.emerging(s, SYSTEM, SETTINGS, step="month", steps=60, now=NOW,
                                               runner=runner),
    "coverage": lambda s, runner: svc.coverage(s, SYSTEM, SETTINGS, start=NOW - dt.timedelta(days=COVERAGE_DAYS[0]),
                                               end=NOW, runner=runner),
}


def timed(sessions, name: str, runner) -> tuple[float, dict]:
    with sessions() as s:
        t = time.perf_counter()
        out = ANALYSES[name](s, runner)
        return time.perf_counter() - t, out


def run(url: str, names: list[str], workers: list[int], memory: str, client_reads: bool = True) -> None:
    engine = make_engine(url)
    sessions = session_factory(engine)
    times: dict[tuple[str, str], float] = {}
    expected = {}
    for name in names:
        with sessions() as s:  # the street network prepared once per process, as a server keeps it
            svc.coverage_base(s, svc.Scope()) if name == "coverage" else None
        times[(name, "in-process")], expected[name] = timed(sessions, name, None)
        print(f"{name:<9} in-process        {times[(name, 'in-process')]:7.1f} s   ({load()})", flush=True)
    for n in workers:
        with H.open_client("local", workers=n, memory=memory) as client:
            client.run(lambda: __import__("patrol.analytics.history"))
            for reads in ("tasks", "client") if n == max(workers) and client_reads else ("tasks",):
                runner = H.DaskRunner(client, url, tz=SETTINGS.timezone, reads=reads)
                for name in names:
                    if name == "emerging" and reads == "client":
                        continue
                    key = f"{n} worker{'s' if n > 1 else ''} {reads}"
                    times[(name, key)], out = timed(sessions, name, runner)
                    same = "same" if out == expected[name] else "DIFFERENT"
                    print(f"{name:<9} {key:<17} {times[(name, key)]:7.1f} s   {same}   ({load()})", flush=True)
    engine.dispose()
    print(f"\n{'analysis':<10}{'in-process':>11}{'1 worker':>10}{'2 workers':>11}{'2w, 1 read':>12}"
          f"{'in-proc ÷ 2w':>14}{'1→2 scaling':>13}")
    def cell(v: float | None, width: int, unit: str) -> str:
        return f"{'—':>{width}}" if v is None else f"{v:>{width - len(unit)}.{1 if unit == 's' else 2}f}{unit}"

    for name in names:
        one, two = times.get((name, "1 worker tasks")), times.get((name, "2 workers tasks"))
        base = times[(name, "in-process")]
        print(f"{name:<10}{cell(base, 11, 's')}{cell(one, 10, 's')}{cell(two, 11, 's')}"
              f"{cell(times.get((name, '2 workers client')), 12, 's')}{cell(base / two if two else None, 14, '×')}"
              f"{cell(one / two if one and two else None, 13, '×')}")
    print(f"({load()}; 2 cores shared with other work: Dask cannot beat the cores it has)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", help="PostGIS URL (default: bench_dask next to GRIDPATROL_TEST_POSTGRES_URL)")
    parser.add_argument("--cases", type=int, default=2_000_000)
    parser.add_argument("--fixes", type=int, default=10_000_000)
    parser.add_argument("--only", default="hotspots,emerging,coverage")
    parser.add_argument("--workers", default="1,2", help="LocalCluster sizes to measure")
    parser.add_argument("--memory", default="3GiB", help="memory limit per worker")
    parser.add_argument("--generate-only", action="store_true")
    parser.add_argument("--coverage-days", type=int, default=365,
                        help="coverage of the last N days (the in-process read of a year's 10M fixes took > 5 GB)")
    parser.add_argument("--no-client-reads", action="store_true", help="skip one read here then scattered")
    args, _ = parser.parse_known_args(argv)  # bench/run.py leaves its own arguments (bench names) in sys.argv
    if not args.database and not os.environ.get("GRIDPATROL_TEST_POSTGRES_URL"):
        print("skipped: give --database postgresql+psycopg://… or GRIDPATROL_TEST_POSTGRES_URL (scripts/pg.sh start)")
        return
    url = prepare(args)
    COVERAGE_DAYS[0] = args.coverage_days
    if not args.generate_only:
        run(url, args.only.split(","), [int(w) for w in args.workers.split(",")], args.memory,
            not args.no_client_reads)


if __name__ == "__main__":
    main()
