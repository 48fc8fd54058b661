"""The city-scale reads of issue 23 before (``fast_reads=False``: the original queries) and after, in one run.

On a database made by ``bench/reads_dataset.py`` (Liechtenstein, N SIMULATED cases over five years, PostGIS), in
process (the service functions the routes call, a fresh session per call), p50 / p95 server time of:

- hotspots, H3 resolution 9, the last year, the whole district (admin), count and severity weight, and overdue;
- emerging hot spots, 52 weekly steps, H3 resolution 9;
- the cases map (``/api/v1/cases/map``) at zooms 10–17, the whole district and a 1 km box;
- the CSV / GeoJSON export's peak memory (tracemalloc) before (one frame) and after (streamed).

"warm": the first call is dropped (cell frame cached, the table in PostgreSQL's buffers). Results are compared
before / after (identical, or the run says which differ). Run
``python bench/bench_reads.py URL [--repeat R] [--only hotspots,emerging,map,export]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import time
from collections.abc import Callable
from typing import Any


def _timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    fn()  # warm: the cell frame cached, pages in the buffer cache
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))], out


def _row(name: str, before: tuple, after: tuple, same: bool) -> None:
    ratio = before[0] / max(after[0], 1e-6)
    print(f"{name:<52}{before[0]:>10.0f}{before[1]:>10.0f}{after[0]:>10.0f}{after[1]:>10.0f}{ratio:>8.1f}×"
          f"  {'same' if same else 'DIFFERENT'}", flush=True)


def _map(factory, settings, repeat: int, now: dt.datetime) -> None:
    """The cases map's data call at zooms 10–17: the page's default (the last 30 days) and a year, the whole
    district's view and a 1 km box."""
    from sqlalchemy import func, select

    from patrol.cases.reads import CaseFilter, case_clusters
    from patrol.core.auth import SYSTEM
    from patrol.core.dialect import extent
    from patrol.core.models import Case, Grid

    with factory() as s:
        x0, y0, x1, y1 = extent(s, Grid.geom)
        cx, cy = s.execute(select(func.ST_X(Case.geom), func.ST_Y(Case.geom)).order_by(Case.id).limit(1)).one()
    boxes = {"district": (x0, y0, x1, y1), "1 km box": (cx - 0.0066, cy - 0.0045, cx + 0.0066, cy + 0.0045)}
    for days in (30, 365):
        for zoom in (10, 12, 14, 16, 17):
            for where, box in boxes.items():
                if (where == "district") != (zoom <= 14):
                    continue
                f = CaseFilter(bbox=box, since=now - dt.timedelta(days=days), until=now)

                def run(fast: bool, f=f, zoom=zoom):
                    def go():
                        with factory() as s:
                            return case_clusters(s, SYSTEM, f, zoom, now=now, fast=fast)
                    return go
                b, a = _timed(run(False), repeat), _timed(run(True), repeat)
                _row(f"map z{zoom}, {where}, last {days} days ({a[2]['total']:,} cases)", b, a,
                     _rounded(a[2]) == _rounded(b[2]))


def _rounded(out: dict) -> dict:
    """Map clusters with their mean position to 1e-9° (a sum of floats in another order: parallel workers)."""
    return {**out, "clusters": sorted((round(c["lon"], 9), round(c["lat"], 9), c["count"], c["overdue"],
                                       sorted(c["statuses"].items())) for c in out["clusters"])}


def _export(url: str, formats: tuple[str, ...], days: int | None) -> None:
    """Peak memory (the process's max RSS, a fresh process each) of building the CSV / GeoJSON download of the
    cases in scope (at most EXPORT_MAX; ``days``: reported in the last so many days), as the route does it: one
    frame (before) and streamed (after, each piece discarded as sent)."""
    import subprocess
    import sys

    since = int(time.time()) - (days or 0) * 86400  # one bound for both runs
    for fmt in formats:
        out = {}
        for how in ("before", "after"):
            t = time.perf_counter()
            child = f"{how},{fmt},{since if days else 0}"
            done = subprocess.run([sys.executable, __file__, url, "--export-child", child], capture_output=True,
                                  text=True, check=True)
            size, rss, base = (float(v) for v in done.stdout.split())
            out[how] = (size, rss, time.perf_counter() - t, base)
        b, a = out["before"], out["after"]
        print(f"export {fmt}, {'every case' if not days else f'last {days} days'} ({a[0] / 2**20:.0f} MB): peak RSS "
              f"one frame {b[1]:.0f} MB, streamed {a[1]:.0f} MB ({b[1] / a[1]:.1f}×; {b[3]:.0f} MB after the imports); "
              f"{b[2]:.0f} s / {a[2]:.0f} s; "
              f"same size: {a[0] == b[0]}; load {os.getloadavg()[0]:.2f}", flush=True)


def _export_child(url: str, spec: str) -> None:
    import resource
    import tempfile
    from pathlib import Path

    from api.csv_safe import safe_csv
    from patrol.cases import export_stream, views
    from patrol.cases.reads import CaseFilter
    from patrol.city.exporting import write_frame
    from patrol.core.auth import SYSTEM
    from patrol.core.db import make_engine, session_factory

    how, fmt, since = spec.split(",")
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    factory = session_factory(make_engine(url))
    f = CaseFilter(since=dt.datetime.fromtimestamp(int(since), dt.UTC)) if int(since) else CaseFilter()
    size = 0
    if how == "before":
        with factory() as s:
            frame = views.export_frame(s, SYSTEM, f)
        if fmt == "csv":
            points = list(frame.geometry)
            out = frame.drop(columns="geometry").assign(lon=[p.x for p in points], lat=[p.y for p in points])
            size = len(safe_csv("\ufeff" + out.to_csv(index=False)).encode())
        else:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "cases.geojson"
                write_frame(frame, path, "cases")
                size = len(path.read_bytes())
    else:
        chunks = export_stream.frames(factory, SYSTEM, f, views.EXPORT_COLUMNS, views.EXPORT_MAX)
        if fmt == "csv":
            size = sum(len((safe_csv("\ufeff" + p) if i == 0 else safe_csv(p)).encode())
                       for i, p in enumerate(export_stream.csv_pieces(chunks)))
        else:
            size = sum(len(b) for b in export_stream.geojson_pieces(chunks, "cases"))
    print(size, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, base)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("url")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", default="hotspots,emerging,map,export")
    ap.add_argument("--formats", default="csv", help="export formats measured: csv,geojson")
    ap.add_argument("--days", type=int, default=None, help="export: only the cases of the last so many days")
    ap.add_argument("--export-child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.export_child:
        return _export_child(args.url, args.export_child)
    from sqlalchemy import func, select

    from patrol.analytics import service as svc
    from patrol.core.auth import SYSTEM
    from patrol.core.db import make_engine, session_factory
    from patrol.core.models import Case
    from patrol.core.settings import Settings

    engine = make_engine(args.url)
    factory = session_factory(engine)
    with factory() as s:
        n = s.scalar(select(func.count(Case.id)))
    print(f"{engine.dialect.name}: {n:,} cases; load average {os.getloadavg()[0]:.2f} at the start")
    print(f"{'read':<52}{'before p50':>10}{'p95':>10}{'after p50':>10}{'p95':>10}{'ratio':>9}")
    settings = {fast: Settings(database_url=args.url, fast_reads=fast) for fast in (False, True)}
    now = dt.datetime.now(dt.UTC)
    start, end = (now - dt.timedelta(days=365)).date(), now.date()
    only = set(args.only.split(","))

    def call(fn, fast: bool, **kw):
        def run():
            with factory() as s:
                return fn(s, SYSTEM, settings[fast], **kw)
        return run

    if "hotspots" in only:
        for label, kw in (("hotspots res 9, one year, count", {}), ("hotspots res 9, one year, severity",
                                                                   {"weight": "severity"}),
                          ("hotspots res 9, one year, overdue", {"measure": "overdue"})):
            b = _timed(call(svc.hotspots, False, start=start, end=end, **kw), args.repeat)
            a = _timed(call(svc.hotspots, True, start=start, end=end, **kw), args.repeat)
            _row(label, b, a, b[2] == a[2])
    if "emerging" in only:
        kw = {"step": "week", "steps": 52, "now": now}
        b = _timed(call(svc.emerging, False, **kw), max(1, args.repeat // 2))
        a = _timed(call(svc.emerging, True, **kw), args.repeat)
        _row("emerging res 9, 52 weekly steps", b, a, b[2] == a[2])
    if "map" in only:
        _map(factory, settings, args.repeat, now)
    if "export" in only:
        _export(args.url, tuple(args.formats.split(",")), args.days)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    engine.dispose()


if __name__ == "__main__":
    main()
