"""The field app's offline outbox: N reports queued on a phone with no network, then synced when it comes back.

Monaco (OpenStreetMap) is imported and gridded (300–500 households per grid) into a throwaway database (SpatiaLite
by default; PostGIS too with ``--postgres`` or ``GRIDPATROL_BENCH_POSTGRES_URL``); one grid worker owns the grid with
the most buildings. The app is served by uvicorn in a thread; Debian's Chromium opens /app/ as a phone (360×740,
touch, only 127.0.0.1 resolves, service workers on), logs in through the login form and waits for the day's data and
the service worker. Then, for each scenario, starting from an empty outbox:

* the network goes (``context.set_offline``); N SIMULATED reports (random points inside her grid, sampled in Python
  from the grid of /api/v1/field/today; categories cycled from the day's list; description "… (模拟)"; client ids made
  here, so the database can be checked for exactly them) are put in the outbox with ``gridpatrolApp.store.enqueue``
  one after the other, as the report form does: "enqueue ms/report";
* the page is reloaded while offline (the service worker serves it) and the outbox must still hold N;
* the network comes back: "sync s" runs from the page's ``online`` event until the outbox is empty and the sync
  engine idle (measured in the page, ``performance.now()``).

Scenarios: 1. the engine as shipped, 50 reports per POST /api/v1/cases/batch; 2. the same with the network cut five
times during the sync (0.4 s online, 0.5 s offline). Chromium's offline emulation fails only the requests that start
while offline (one already sent completes), so during this scenario the batch POSTs go through ``context.route``:
one under way when the cut comes reaches the server, which stores it, and its answer is dropped (the phone sees a
network error and must retry without duplicating); 3. one report per request (``engine.batchSize = 1``), the
obvious alternative. The database is then asked for the cases of the scenario's client ids: lost = N − found,
duplicates = rows beyond one per report (by client id, or by description) and any two cases with the same
description and point; the app must show no problems; server ids should follow the queue order. Network columns
count the page's POSTs to /cases/batch, those that failed in the browser, the answers lost after the server stored
the batch, and the reports the server answered "already stored" (retries).

Issue goal: a queue of 1,000 offline reports syncs with 0 loss and 0 duplicates; time to sync. Exits non-zero on
any loss or duplicate.

Run ``python bench/bench_field_sync.py [--reports N] [--postgres]`` or ``make bench``.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import socket
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import shape

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "osm" / "monaco.osm.pbf"
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LOCAL_ONLY = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"  # service workers bypass Playwright routing
PHONE = {"viewport": {"width": 360, "height": 740}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
USER, PASSWORD = "bench_worker", "load-test-pass-2026"
SECRET = "bench-field-sync-secret-key-not-for-production"
CUTS, CUT_ONLINE_S, CUT_OFFLINE_S = 5, 0.4, 0.5

SCENARIOS = [
    # key, label, reports per request, network cuts
    ("batched", "batched (50/request)", 50, 0),
    ("cuts", "batched, network cut 5× during sync", 50, CUTS),
    ("single", "one report per request", 1, 0),
]

ENQUEUE = """async (reports) => {
  const st = window.gridpatrolApp.store;
  const t0 = performance.now();
  for (const body of reports) await st.enqueue({kind: 'case', client_id: body.client_id, body});
  const ms = performance.now() - t0;
  return {ms, counts: await st.counts()};
}"""
# Installed after the offline reload, before the network comes back: the batch size, and the clock of the sync.
ARM = """(batch) => {
  const app = window.gridpatrolApp, st = app.store;
  st.engine.batchSize = batch;
  const m = window.__bench = {online: null, done: null, cuts: [], states: {}, errors: {}};
  let last = st.engine.state;
  window.addEventListener('online', () => {
    if (m.online === null) m.online = performance.now();
    else if (m.cuts.length) m.cuts[m.cuts.length - 1][1] = performance.now();
  });
  window.addEventListener('offline', () => { if (m.online !== null) m.cuts.push([performance.now(), null]); });
  st.onChange(() => {
    const s = st.engine.state;
    if (s !== last) {
      m.states[s] = (m.states[s] || 0) + 1;
      if (s === 'waiting') m.errors[st.engine.lastError] = (m.errors[st.engine.lastError] || 0) + 1;
      last = s;
    }
    if (m.online !== null && m.done === null && app.state.counts.waiting === 0 && s === 'idle') {
      m.done = performance.now();
    }
  });
}"""
FINAL = """async () => {
  const app = window.gridpatrolApp, st = app.store;
  return {bench: window.__bench, counts: await app.counts(), shown: app.state.counts, engine: app.engineState(),
          sent: st.engine.sent, lastError: st.engine.lastError,
          problems: (await st.problems()).slice(0, 3).map(p => [p.kind, p.status, JSON.stringify(p.error)])};
}"""
STUCK = """async () => ({engine: window.gridpatrolApp.engineState(),
  error: window.gridpatrolApp.store.engine.lastError,
  counts: await window.gridpatrolApp.counts(),
  head: (await window.gridpatrolApp.store.queued()).slice(0, 3).map(q => [q.kind, q.attempts, q.last_error])})"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the city ----------------------------------------------------------------------------------------------------
def _build(url: str, model: Any) -> dict:
    """Import and grid Monaco, load the categories, add the grid worker of the grid with the most buildings."""
    from sqlalchemy import func, select

    from patrol.cases.categories import load_categories
    from patrol.city.gridding import generate_city_grids
    from patrol.city.osm_import import store_city
    from patrol.core.auth import create_user
    from patrol.core.db import make_engine, session_factory, transaction
    from patrol.core.migrate import upgrade
    from patrol.core.models import Building, Grid

    t0 = time.perf_counter()
    engine = make_engine(url)
    upgrade(engine)
    factory = session_factory(engine)
    with transaction(factory) as s:
        store_city(s, model, source=str(DATA))
        load_categories(s)
        generate_city_grids(s, households_range=(300, 500))
    with transaction(factory) as s:
        n_grids = s.scalar(select(func.count(Grid.id)))
        code, n_buildings = s.execute(
            select(Grid.code, func.count(Building.id).label("n")).join(Building, Building.grid_id == Grid.id)
            .group_by(Grid.code).order_by(func.count(Building.id).desc(), Grid.code).limit(1)).one()
        worker = create_user(s, username=USER, role="grid_worker", password=PASSWORD,
                             display_name="bench worker (模拟)", grids=[code], simulated=True)
        worker_id = worker.id
        wkb = s.scalar(select(func.ST_AsBinary(Grid.geom)).where(Grid.code == code))
    where = shapely.from_wkb(bytes(wkb)).representative_point()
    return {"engine": engine, "factory": factory, "grids": n_grids, "grid": code, "grid_buildings": n_buildings,
            "worker_id": worker_id, "start": (where.x, where.y), "seconds": time.perf_counter() - t0}


class _App:
    """The gridpatrol app under uvicorn in a thread of this process."""

    def __init__(self, url: str) -> None:
        import uvicorn

        from api.app import create_app
        from patrol.core.settings import Settings

        settings = Settings(database_url=url, secret_key=SECRET, timezone="Asia/Shanghai", tiles=None)
        port = _free_port()
        self.app = create_app(settings)
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        if not self.server.started:
            raise RuntimeError("uvicorn did not start within 30 s")
        self.base = f"http://127.0.0.1:{port}"

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
        self.app.state.engine.dispose()


# --- the phone ---------------------------------------------------------------------------------------------------
def _login(context: Any, base: str) -> Any:
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto(f"{base}/app")
    page.wait_for_selector("#login:not([hidden])")
    page.fill("#login-user", USER)
    page.fill("#login-pass", PASSWORD)
    page.tap("#login-form button[type=submit]")
    page.wait_for_selector("#shell:not([hidden])")
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    page.wait_for_function("window.gridpatrolApp.state.today && window.gridpatrolApp.state.today.grids")
    return page


def _reports(today: dict, n: int, key: str, rng: random.Random) -> list[dict]:
    """``n`` SIMULATED report bodies at random points inside her grid (kept 1 m off its edges)."""
    polys = [shape(f["geometry"]) for f in today["grids"]["features"]]
    area = shapely.union_all(polys)
    inner = area.buffer(-1e-5)
    target = inner if not inner.is_empty else area
    shapely.prepare(target)
    x0, y0, x1, y1 = target.bounds
    codes = [c["code"] for c in today["categories"]]
    out: list[dict] = []
    while len(out) < n:
        x, y = rng.uniform(x0, x1), rng.uniform(y0, y1)
        if not shapely.contains_xy(target, x, y):
            continue
        k = len(out)
        cid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        out.append({"client_id": cid, "category": codes[k % len(codes)],
                    "lat": round(y, 7), "lon": round(x, 7), "description": f"bench {key} #{k} 离线上报 (模拟)"})
    return out


class _Net:
    """The page's POSTs to the case API as the browser saw them."""

    def __init__(self, page: Any) -> None:
        self.requests = 0
        self.failed: list[str] = []
        self.responses: list[Any] = []
        self.single = 0
        self.armed = False
        page.on("request", self._request)
        page.on("requestfailed", self._failed)
        page.on("response", self._response)

    @staticmethod
    def _batch(req: Any) -> bool:
        return req.method == "POST" and req.url.endswith("/api/v1/cases/batch")

    def _request(self, req: Any) -> None:
        if self.armed and req.method == "POST" and req.url.endswith("/api/v1/cases"):
            self.single += 1
        if self.armed and self._batch(req):
            self.requests += 1

    def _failed(self, req: Any) -> None:
        if self.armed and self._batch(req):
            self.failed.append(req.failure or "?")

    def _response(self, resp: Any) -> None:
        if self.armed and self._batch(resp.request):
            self.responses.append(resp)

    def reset(self) -> None:
        self.requests, self.failed, self.responses, self.single = 0, [], [], 0

    def answered(self) -> dict[str, int]:
        """Reports per status over every batch answer that reached the page (201 created, 200 already stored)."""
        total: dict[str, int] = {}
        for r in self.responses:
            try:
                counts = r.json()["counts"] if r.status == 200 else {f"HTTP {r.status}": 1}
            except Exception:  # noqa: BLE001 - the body was lost with the network cut after the headers
                counts = {"body lost": 1}
            for k, v in counts.items():
                total[k] = total.get(k, 0) + v
        return total


class _Cutter:
    """Network cuts that also cut the request under way. Chromium's offline emulation (``context.set_offline``)
    only fails requests that start while offline: a POST already sent completes and its answer arrives. So while
    cutting, every POST /cases/batch goes through ``context.route``: sent to the server by Playwright, and when the
    network was cut before the answer came back, the server has stored the batch but the phone gets a network error
    (a lost answer, what losing the signal mid-request does); one started while offline fails at once."""

    PATTERN = "**/api/v1/cases/batch"

    def __init__(self, context: Any) -> None:
        self.context = context
        self.offline = False
        self.cut_at: list[float] = []
        self.dropped = 0      # answers lost: the server stored the batch, the phone heard a network error
        self.refused = 0      # started while offline: never reached the server
        context.route(self.PATTERN, self._route)

    def _route(self, route: Any) -> None:
        if self.offline:
            self.refused += 1
            route.abort("internetdisconnected")
            return
        t = time.monotonic()
        answer = route.fetch()
        if self.offline or any(c >= t for c in self.cut_at):
            self.dropped += 1
            route.abort("internetdisconnected")
        else:
            route.fulfill(response=answer)

    def set(self, offline: bool) -> None:
        if offline:
            self.cut_at.append(time.monotonic())
        self.offline = offline
        self.context.set_offline(offline)

    def close(self) -> None:
        self.context.unroute(self.PATTERN, self._route)


def _check_db(factory: Any, worker_id: int, key: str, reports: list[dict]) -> dict:
    from sqlalchemy import func, select

    from patrol.core.db import transaction
    from patrol.core.models import Case

    cids = [r["client_id"] for r in reports]
    wanted = set(cids)
    with transaction(factory) as s:
        rows = s.execute(select(Case.id, Case.client_id, Case.description, func.ST_AsText(Case.geom))
                         .where(Case.reporter_id == worker_id)).all()
    mine = [r for r in rows if str(r[1]) in wanted or (r[2] or "").startswith(f"bench {key} #")]
    by_cid: dict[str, list[int]] = {}
    for case_id, cid, _desc, _wkt in mine:
        by_cid.setdefault(str(cid), []).append(case_id)
    found = sum(1 for c in cids if c in by_cid)
    # every row beyond one per report: a client id stored twice, or a report stored again under another client id
    # (caught by its description); and, as a cross-check, two cases with the same description and point
    same_place = len(mine) - len({(d, w) for _, _, d, w in mine})
    ids = [by_cid[c][0] for c in cids if c in by_cid]
    inversions = sum(1 for a, b in itertools.pairwise(ids) if b <= a)
    return {"found": found, "lost": len(cids) - found, "duplicates": max(len(mine) - found, same_place),
            "rows": len(mine), "in_order": inversions == 0 and found == len(cids), "inversions": inversions}


def _scenario(page: Any, net: _Net, city: dict, key: str, label: str, batch: int, cuts: int, n: int,
              rng: random.Random, timeout_s: float) -> dict:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    context = page.context
    start = page.evaluate("window.gridpatrolApp.counts()")
    if start != {"waiting": 0, "problems": 0}:
        raise RuntimeError(f"{label}: the outbox is not empty at the start: {start}")
    today = page.evaluate("window.gridpatrolApp.state.today")
    reports = _reports(today, n, key, rng)

    # -- offline: queue N reports, then close and reopen the app
    context.set_offline(True)
    page.wait_for_function("!navigator.onLine")
    queued = page.evaluate(ENQUEUE, reports)
    if queued["counts"]["waiting"] != n:
        raise RuntimeError(f"{label}: {queued['counts']['waiting']} queued of {n}")
    t = time.perf_counter()
    page.reload()
    page.wait_for_selector("#shell:not([hidden])")  # served by the service worker: the network is off
    survived = page.evaluate("async () => { await window.gridpatrolApp.ready; "
                             "return (await window.gridpatrolApp.counts()).waiting; }")
    reload_s = time.perf_counter() - t
    early = _check_db(city["factory"], city["worker_id"], key, reports)["rows"]  # nothing may leave while offline

    # -- online again: time until the outbox is empty and the engine idle
    page.evaluate(ARM, batch)
    net.reset()
    net.armed = True
    cutter = _Cutter(context) if cuts else None
    context.set_offline(False)
    cuts_made = 0
    timed_out = None
    try:
        for _ in range(cuts):
            page.wait_for_timeout(CUT_ONLINE_S * 1000)
            if page.evaluate("window.__bench.done !== null"):
                break
            cutter.set(True)
            cuts_made += 1
            page.wait_for_timeout(CUT_OFFLINE_S * 1000)
            cutter.set(False)
        page.wait_for_function("window.__bench.done !== null", polling=50, timeout=timeout_s * 1000)
    except PlaywrightTimeout:
        context.set_offline(False)
        timed_out = page.evaluate(STUCK)
    finally:
        if cutter is not None:
            cutter.close()
    net.armed = False
    final = page.evaluate(FINAL)
    page.wait_for_timeout(300)  # let the app's fetch of the new day (after "all sent") go out before the next scenario
    db = _check_db(city["factory"], city["worker_id"], key, reports)
    bench = final["bench"]
    sync_s = (bench["done"] - bench["online"]) / 1000 if bench["done"] is not None else None
    answered = net.answered()
    return {
        "key": key, "label": label, "reports": n, "batch": batch, "enqueue_ms": queued["ms"] / n,
        "reload_s": reload_s, "survived_reload": survived, "leaked_offline": early, "sync_s": sync_s,
        "rate": n / sync_s if sync_s else None, "cuts": cuts_made, "requests": net.requests,
        "failed": len(net.failed), "failures": sorted(set(net.failed)), "single_posts": net.single,
        "answered": answered, "resent": answered.get("200", 0), "problems": final["counts"]["problems"],
        "problem_samples": final["problems"], "left": final["counts"]["waiting"], "engine": final["engine"],
        "dropped": cutter.dropped if cutter else 0, "refused": cutter.refused if cutter else 0,
        "retries": bench["states"].get("waiting", 0), "retry_errors": bench["errors"],
        "offline_s": sum((b or a) - a for a, b in bench["cuts"]) / 1000, "timed_out": timed_out, **db,
    }


# --- report ------------------------------------------------------------------------------------------------------
def _table(rows: list[tuple[str, dict]]) -> None:
    print(f"{'scenario':<48}{'reports':>8}{'lost':>6}{'dup':>5}{'enq ms/rep':>11}{'sync s':>8}{'rep/s':>8}"
          f"{'cuts':>5}{'POSTs':>7}{'failed':>7}{'ans lost':>9}{'resent':>7}{'ids in order':>13}{'sync/batched':>13}")
    ref: dict[str, float | None] = {}
    for backend, r in rows:
        if r["key"] == "batched":
            ref[backend] = r["sync_s"]

    def fmt(v: float | None, w: int, p: int) -> str:
        return f"{v:>{w}.{p}f}" if v is not None else f"{'—':>{w}}"

    for backend, r in rows:
        base = ref.get(backend)
        ratio = r["sync_s"] / base if r["sync_s"] and base else None
        order = "yes" if r["in_order"] else f"no ({r['inversions']})"
        print(f"{backend + ' · ' + r['label']:<48}{r['reports']:>8}{r['lost']:>6}{r['duplicates']:>5}"
              f"{r['enqueue_ms']:>11.2f}{fmt(r['sync_s'], 8, 2)}{fmt(r['rate'], 8, 0)}{r['cuts']:>5}{r['requests']:>7}"
              f"{r['failed']:>7}{r['dropped']:>9}{r['resent']:>7}{order:>13}{fmt(ratio, 12, 2)}"
              f"{'×' if ratio else ' '}")


def _report_scenario(backend: str, label: str, cuts: int, r: dict, n: int, timeout_s: float,
                     errors: list[str]) -> None:
    """Print one scenario's line (and notes); append what went wrong to ``errors``."""
    sync = f"{r['sync_s']:.2f} s" if r["sync_s"] is not None else "did NOT finish"
    failures = f": {', '.join(r['failures'])}" if r["failures"] else ""
    extra = (f", {r['cuts']} cuts ({r['offline_s']:.1f} s offline in all): {r['dropped']} answers "
             f"lost after the server stored the batch, {r['refused']} POSTs refused while offline"
             if cuts else "")
    if r["retries"]:
        extra += f", {r['retries']} retries after {r['retry_errors']}"
    if r["single_posts"]:
        extra += f", {r['single_posts']} single POST /cases"
    print(f"{backend} · {label}: enqueued {n} in {r['enqueue_ms'] * n / 1000:.2f} s; offline "
          f"reload {r['reload_s']:.2f} s, {r['survived_reload']} still queued; synced {sync}; "
          f"{r['requests']} POST /cases/batch ({r['failed']} failed in the browser{failures}), "
          f"answers {r['answered']}{extra}; database: {r['found']} found, {r['rows']} rows; "
          f"app problems {r['problems']}", flush=True)
    for name, bad in (("lost", r["lost"]), ("duplicated", r["duplicates"]),
                      ("shown as problems", r["problems"]),
                      ("missing after the offline reload", n - r["survived_reload"]),
                      ("sent while offline", r["leaked_offline"])):
        if bad:
            errors.append(f"{backend} · {label}: {bad} {name}")
    if cuts and r["cuts"] < cuts:
        print(f"  note: the sync finished after {r['cuts']} of {cuts} cuts (too few reports to "
              f"exercise them all)")
    if r["problem_samples"]:
        print(f"  problems: {r['problem_samples']}")
    if r["timed_out"]:
        errors.append(f"{backend} · {label}: not synced within {timeout_s:.0f} s: "
                      f"{r['timed_out']}")


def _run_backend(browser, backend: str, url: str, model, n: int, rng: random.Random, timeout_s: float,
                 rows: list[tuple[str, dict]], errors: list[str]) -> None:
    """Every scenario on one database: rows and errors are appended to."""
    app = city = context = None
    try:
        city = _build(url, model)
        print(f"{backend}: {city['grids']} grids in {city['seconds']:.1f} s; worker {USER} owns grid "
              f"{city['grid']} ({city['grid_buildings']} buildings)", flush=True)
        app = _App(url)
        lon, lat = city["start"]
        context = browser.new_context(bypass_csp=True, **PHONE, locale="zh-CN", service_workers="allow",
                                      geolocation={"latitude": lat, "longitude": lon, "accuracy": 8},
                                      permissions=["geolocation"])
        page = _login(context, app.base)
        net = _Net(page)
        for key, label, batch, cuts in SCENARIOS:
            r = _scenario(page, net, city, key, label, batch, cuts, n, rng, timeout_s)
            rows.append((backend, r))
            _report_scenario(backend, label, cuts, r, n, timeout_s, errors)
        if page.errors:
            errors.append(f"{backend}: page errors {page.errors[:3]}")
    finally:
        if context is not None:
            context.close()
        if app is not None:
            app.close()
        if city is not None:
            city["engine"].dispose()


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=1000, help="reports queued offline per scenario")
    parser.add_argument("--postgres", action="store_true",
                        help="also PostGIS (needs GRIDPATROL_BENCH_POSTGRES_URL; run when it is set anyway)")
    parser.add_argument("--timeout", type=float, default=None,
                        help="seconds allowed per sync (default: scales with N)")
    parser.add_argument("--seed", type=int, default=2026)
    args, _ = parser.parse_known_args(argv)  # bench/run.py leaves its own arguments (bench names) in sys.argv
    if not DATA.exists():
        print(f"skipped: {DATA} not found")
        return {}
    if not CHROMIUM.exists():
        print(f"skipped: {CHROMIUM} not found (Debian's chromium)")
        return {}
    from playwright.sync_api import sync_playwright

    from patrol.city.osm_import import read_city
    from patrol.core.db import create_postgis_database, drop_postgis_database

    pg_base = os.environ.get("GRIDPATROL_BENCH_POSTGRES_URL")
    backends = ["SpatiaLite"]
    if pg_base:
        backends.append("PostGIS")
    elif args.postgres:
        print("PostGIS skipped: GRIDPATROL_BENCH_POSTGRES_URL is not set")
    n = args.reports
    timeout_s = args.timeout or max(120.0, 0.3 * n)
    rng = random.Random(args.seed)

    t = time.perf_counter()
    model = read_city(DATA)
    print(f"read {DATA.name}: {len(model.buildings):,} buildings ({time.perf_counter() - t:.1f} s)", flush=True)
    rows: list[tuple[str, dict]] = []
    errors: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench_field_sync_") as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=[*ARGS, LOCAL_ONLY])
        try:
            for backend in backends:
                if backend == "SpatiaLite":
                    url = f"sqlite:///{Path(tmp) / 'field.db'}"
                else:
                    url = create_postgis_database(pg_base, f"bench_field_{uuid.uuid4().hex[:8]}")
                try:
                    _run_backend(browser, backend, url, model, n, rng, timeout_s, rows, errors)
                finally:
                    if backend == "PostGIS":
                        drop_postgis_database(url)
        finally:
            browser.close()

    print(f"\n{n:,} SIMULATED reports queued offline per scenario, Monaco, one grid worker; Chromium phone "
          f"360×740 with service worker; sync = page 'online' event → outbox empty and engine idle")
    _table(rows)
    print("cuts = network cuts made before the sync had finished; POSTs = POST /cases/batch made by the page; "
          "failed = of those, failed in the browser;\nans lost = of those, answered by the server (batch stored) but "
          "cut before the answer reached the phone; resent = reports the server answered 'already stored' (retries)")
    lost = sum(r["lost"] for _, r in rows)
    dups = sum(r["duplicates"] for _, r in rows)
    print(f"goal: {n:,} offline reports sync with 0 loss, 0 duplicates: "
          f"{'met' if not lost and not dups and not errors else 'NOT met'} (lost {lost}, duplicates {dups})")
    for e in errors:
        print(f"  {e}")
    return {"reports": n, "rows": [{"backend": b, **r} for b, r in rows], "errors": errors,
            "ok": not lost and not dups and not errors}


if __name__ == "__main__":
    sys.exit(0 if main().get("ok", True) else 1)
