"""Case ingest through the HTTP API (uvicorn, 2 workers, PostGIS) next to raw psycopg inserts of the same rows.

Monaco is imported and gridded into a throwaway PostGIS database; a grid worker owning every grid reports N cases
(POST /api/v1/cases, one case per request) from an asyncio/httpx load generator, then the same number of cases in
batches (POST /api/v1/cases/batch, as a phone syncs its offline queue). The baseline writes the same rows into a plain
``bench_case`` table: one INSERT + COMMIT per row (like a request), and executemany in one transaction.
Issue goal: ≥ 1,000 cases/s with p99 < 100 ms.

Run with ``make bench`` or ``GRIDPATROL_BENCH_POSTGRES_URL=… python bench/bench_ingest.py [--cases N]
[--concurrency C]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import numpy as np
import psycopg
import shapely
from sqlalchemy import select
from sqlalchemy.engine import make_url

from patrol.cases.categories import load_categories
from patrol.city.gridding import generate_city_grids
from patrol.city.osm_import import read_city, store_city
from patrol.core.auth import create_user
from patrol.core.db import (
    create_postgis_database,
    drop_postgis_database,
    make_engine,
    session_factory,
    transaction,
)
from patrol.core.frames import read_frame
from patrol.core.migrate import upgrade
from patrol.core.models import Grid

ROOT = Path(__file__).resolve().parents[1]

DATA = ROOT.parent / "shared" / "data" / "osm" / "monaco.osm.pbf"
CATEGORIES = ["C0102", "C0103", "C0105", "C0109", "B0101", "E0101"]
USER, PASSWORD = "bench", "load-test-pass-2026"
WARMUP = 50


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _build_city(url: str, n: int, seed: int = 7) -> list[dict]:
    """Import, grid and staff Monaco; return ``n`` case payloads at random points inside the grids."""
    engine = make_engine(url)
    upgrade(engine)
    model = read_city(DATA)
    factory = session_factory(engine)
    with transaction(factory) as s:
        store_city(s, model, source=str(DATA))
        load_categories(s)
        generate_city_grids(s)
    with transaction(factory) as s:
        codes = list(s.scalars(select(Grid.code)))
        create_user(s, username=USER, role="grid_worker", password=PASSWORD, grids=codes)
        grids = read_frame(s, [Grid.id], Grid.geom)
    engine.dispose()
    rng = random.Random(seed)
    polys = [g for g in grids.geometry if g is not None and not g.is_empty]
    points: list[tuple[float, float]] = []
    i = 0
    while len(points) < n:  # round-robin over grids, rejection sampling inside each (shrunk off the edges)
        poly = polys[i % len(polys)]
        i += 1
        inner = poly.buffer(-1e-5)
        target = inner if not inner.is_empty else poly
        x0, y0, x1, y1 = target.bounds
        for _ in range(200):
            x, y = rng.uniform(x0, x1), rng.uniform(y0, y1)
            if target.contains(shapely.Point(x, y)):
                points.append((x, y))
                break
    print(f"city: {len(model.buildings)} buildings, {len(codes)} grids; {n} points sampled inside grids")
    return [{"client_id": str(uuid.uuid4()), "category": CATEGORIES[k % len(CATEGORIES)], "lon": round(x, 7),
             "lat": round(y, 7), "description": f"bench case {k}"} for k, (x, y) in enumerate(points)]


def _start_server(url: str, port: int, log) -> subprocess.Popen:
    env = dict(os.environ, GRIDPATROL_DATABASE_URL=url, GRIDPATROL_SECRET_KEY="bench-secret-key-not-for-production")
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "api.app:create_app", "--workers", "2", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning"], cwd=ROOT, env=env, stderr=log, stdout=log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"uvicorn exited with {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.terminate()
    raise RuntimeError("uvicorn did not become healthy within 60 s")


async def _load(base: str, payloads: list[dict], warmup: list[dict], concurrency: int, batch: int = 1) -> dict:
    """POST the payloads one per request (batch 1) or ``batch`` per request to /cases/batch; latency per request."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        r = await client.post("/api/v1/auth/token", data={"username": USER, "password": PASSWORD})
        r.raise_for_status()
        headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
        latencies: list[float] = []
        errors: dict[int, int] = {}
        first_error: list[str] = []

        async def run(items: list[dict], record: bool) -> None:
            if batch > 1:
                items = [{"cases": items[k:k + batch]} for k in range(0, len(items), batch)]
            queue = iter(items)

            async def worker() -> None:
                for body in queue:
                    t = time.perf_counter()
                    try:
                        if batch > 1:
                            resp = await client.post("/api/v1/cases/batch", json=body, headers=headers)
                            ok = resp.status_code == 200 and resp.json()["counts"] == {"201": len(body["cases"])}
                            status = 201 if ok else resp.status_code
                        else:
                            resp = await client.post("/api/v1/cases", json=body, headers=headers)
                            status = resp.status_code
                        text = resp.text
                    except httpx.TransportError as exc:  # connection dropped: count it, keep going
                        status, text = type(exc).__name__, repr(exc)
                    dt = time.perf_counter() - t
                    if record:
                        latencies.append(dt)
                    if status != 201:
                        key = status if record else f"warm-up {status}"
                        errors[key] = errors.get(key, 0) + 1
                        if not first_error:
                            first_error.append(text[:300])

            await asyncio.gather(*(worker() for _ in range(concurrency)))

        await run(warmup, record=False)
        t = time.perf_counter()
        await run(payloads, record=True)
        wall = time.perf_counter() - t
    if first_error:
        print(f"first non-201 response: {first_error[0]}")
    return {"seconds": wall, "latencies": latencies, "errors": errors}


RAW_DDL = """
DROP TABLE IF EXISTS bench_case;
CREATE TABLE bench_case (
    id serial PRIMARY KEY,
    client_id uuid UNIQUE NOT NULL,
    category text NOT NULL,
    description text,
    geom geometry(Point, 4326) NOT NULL,
    reported_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX bench_case_geom ON bench_case USING gist (geom);
"""
RAW_INSERT = ("INSERT INTO bench_case (client_id, category, description, geom) "
              "VALUES (%s, %s, %s, ST_SetSRID(ST_MakePoint(%s, %s), 4326))")


def _rows(payloads: list[dict]) -> list[tuple]:
    return [(uuid.uuid4(), p["category"], p["description"], p["lon"], p["lat"]) for p in payloads]


def _raw_per_row(dsn: str, payloads: list[dict]) -> dict:
    with psycopg.connect(dsn) as conn:
        conn.execute(RAW_DDL)
        conn.commit()
        latencies = []
        rows = _rows(payloads)
        t0 = time.perf_counter()
        for row in rows:
            t = time.perf_counter()
            conn.execute(RAW_INSERT, row)
            conn.commit()
            latencies.append(time.perf_counter() - t)
        return {"seconds": time.perf_counter() - t0, "latencies": latencies}


def _raw_executemany(dsn: str, payloads: list[dict]) -> dict:
    with psycopg.connect(dsn) as conn:
        conn.execute(RAW_DDL)
        conn.commit()
        rows = _rows(payloads)
        t = time.perf_counter()
        with conn.cursor() as cur:
            cur.executemany(RAW_INSERT, rows)
        conn.commit()
        return {"seconds": time.perf_counter() - t, "latencies": []}


def _pct(latencies: list[float], q: float) -> float | None:
    return float(np.percentile(np.asarray(latencies), q) * 1000) if latencies else None


def _ms(v: float | None) -> str:
    return f"{v:>9.2f}" if v is not None else f"{'—':>9}"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--batch", type=int, default=50, help="cases per request of the batch run (POST /cases/batch)")
    parser.add_argument("--batch-concurrency", type=int, default=2)
    args, _ = parser.parse_known_args(argv)  # bench/run.py leaves its own arguments (bench names) in sys.argv
    if not DATA.exists():
        print(f"skipped: {DATA} not found")
        return {}
    base = os.environ.get("GRIDPATROL_BENCH_POSTGRES_URL") or os.environ.get("GRIDPATROL_TEST_POSTGRES_URL")
    if not base:
        print("skipped: PostGIS not configured (set GRIDPATROL_BENCH_POSTGRES_URL or run `make bench`)")
        return {}
    url = create_postgis_database(base, f"bench_{uuid.uuid4().hex[:8]}")
    proc = None
    server_log = tempfile.TemporaryFile("w+")  # noqa: SIM115 - read after the server stopped, closed below
    try:
        payloads = _build_city(url, 2 * args.cases + 2 * WARMUP)
        warmup, payloads, warmup_b, batched = (payloads[:WARMUP], payloads[WARMUP:WARMUP + args.cases],
                                               payloads[WARMUP + args.cases:2 * WARMUP + args.cases],
                                               payloads[2 * WARMUP + args.cases:])
        port = _free_port()
        proc = _start_server(url, port, server_log)
        api = asyncio.run(_load(f"http://127.0.0.1:{port}", payloads, warmup, args.concurrency))
        api_b = asyncio.run(_load(f"http://127.0.0.1:{port}", batched, warmup_b, args.batch_concurrency,
                                  batch=args.batch))
        api["errors"].update({f"batch {k}": v for k, v in api_b["errors"].items()})
        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        per_row = _raw_per_row(dsn, payloads)
        many = _raw_executemany(dsn, payloads)
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        drop_postgis_database(url)

    n = len(payloads)
    rows = [(f"API POST /cases (c={args.concurrency}, 2 workers)", api),
            (f"API POST /cases/batch ×{args.batch} (c={args.batch_concurrency})", api_b),
            ("raw psycopg INSERT+COMMIT per row (1 conn)", per_row),
            ("raw psycopg executemany, 1 transaction", many)]
    api_rate = n / api["seconds"]
    print(f"{'method':<46}{'cases':>7}{'seconds':>9}{'cases/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'API/raw':>9}")
    result: dict = {"cases": n, "concurrency": args.concurrency, "api_errors": dict(api["errors"])}
    for (name, r), key in zip(rows, ("api", "api_batch", "raw_per_row", "raw_executemany"), strict=True):
        rate = n / r["seconds"]
        p50, p99 = _pct(r["latencies"], 50), _pct(r["latencies"], 99)
        ratio = api_rate / rate
        shown = f"{ratio:>9.3f}" if not key.startswith("api") else f"{'—':>9}"
        print(f"{name:<46}{n:>7}{r['seconds']:>9.2f}{rate:>10.0f}{_ms(p50)}{_ms(p99)}{shown}")
        result[key] = {"seconds": r["seconds"], "cases_per_s": rate, "p50_ms": p50, "p99_ms": p99,
                       "api_over_raw": ratio}
    if api["errors"]:
        print(f"API non-201 responses / transport errors: {api['errors']}")
        server_log.seek(0)
        print("uvicorn log (tail):\n" + "".join(server_log.readlines()[-15:]))
    server_log.close()
    for key, label in (("api", "one case per request"), ("api_batch", f"{args.batch} cases per request")):
        rate, p99 = result[key]["cases_per_s"], result[key]["p99_ms"] or 0
        print(f"{label}: goal ≥ 1,000 cases/s {'met' if rate >= 1000 else 'NOT met'} ({rate:.0f}); "
              f"p99 < 100 ms per request {'met' if p99 < 100 else 'NOT met'} ({p99:.1f} ms)")
    print("latency is per request: a batch request carries all its cases")
    return result


if __name__ == "__main__":
    main()
