"""The residents' report page (/r/) on a throttled 3G phone: first load with a cold cache, compared in the same run
with the grid worker's phone app (/app/) on the same link (issue 18, "Done when": ≤ 3 s and ≤ 300 KB).

Monaco (the shared OSM extract, with grids; built into a temporary SpatiaLite file unless ``--database URL`` is given)
is served by uvicorn in a subprocess with our own basemap (``GRIDPATROL_TILES=gridpatrol``). Chromium (Debian's,
headless, 360×740 phone, only 127.0.0.1 reachable) gets a fresh context per run (cold HTTP cache, no service worker)
and the network emulated through CDP ``Network.emulateNetworkConditions`` with Chrome DevTools' **"Fast 3G"** preset
as current DevTools defines it: 1.6 Mbit/s down, 750 kbit/s up, 562.5 ms round trip (stricter than the 150 ms of
bench_wire.py).

Measured per page (from the navigation's start, ``performance.now()``): *usable* — until the form works (the report
page's script has wired it: ``body[data-ready]``; the phone app: its login form shows); *load* — the load event
(``performance`` navigation entry); *bytes* — the bytes on the wire (CDP ``encodedDataLength`` of every response,
headers included); for the map row also *map drawn* — from tapping 在地图上选点 until the first basemap tile is drawn.
Pages: the report page from a building's QR sticker (``/r/?b=…&g=…&at=…``: no map needed), the same after the resident
opens the map (Leaflet, the basemap module and its vector tiles load then), and the phone app's first load. Median of
``--repeat`` runs (default 3).

Run ``python bench/bench_resident_page.py [--database URL] [--repeat N]`` (or ``make bench``). The machine may be
shared: the times move with its load, the bytes do not.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]
FAST_3G = {"offline": False, "latency": 562.5, "downloadThroughput": 1.6e6 / 8, "uploadThroughput": 750e3 / 8}
SECRET = "bench-resident-secret-key-not-for-production-0123"
GOAL_S, GOAL_KB = 3.0, 300


def build_city(url: str) -> None:
    """Monaco with categories and grids at ``url`` (as the test suite builds it)."""
    sys.path.insert(0, str(ROOT))
    from patrol.cases.categories import load_categories
    from patrol.city.gridding import generate_city_grids
    from patrol.city.osm_import import read_city, store_city
    from patrol.core.db import make_engine, session_factory, transaction
    from patrol.core.migrate import upgrade

    engine = make_engine(url)
    upgrade(engine)
    with transaction(session_factory(engine)) as s:
        store_city(s, read_city(ROOT.parent / "shared" / "data" / "osm" / "monaco.osm.pbf"), source="monaco")
        load_categories(s)
        generate_city_grids(s, households_range=(300, 500))
    engine.dispose()


def sticker_link(url: str) -> str:
    """The QR sticker link of the first named building in a grid."""
    from sqlalchemy import func, select

    from patrol.core.db import make_engine, session_factory
    from patrol.core.models import Building, Grid
    from patrol.intake.links import ReportPlace, report_url

    engine = make_engine(url)
    with session_factory(engine)() as s:
        b, code, x, y = s.execute(select(Building.id, Grid.code, func.ST_X(func.ST_PointOnSurface(Building.geom)),
                                         func.ST_Y(func.ST_PointOnSurface(Building.geom)))
                                  .join(Grid, Grid.id == Building.grid_id).order_by(Building.id).limit(1)).one()
    engine.dispose()
    return report_url("", ReportPlace(b, code, float(x), float(y)))


@contextlib.contextmanager
def server(url: str) -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GRIDPATROL_DATABASE_URL": url, "GRIDPATROL_TILES": "gridpatrol",
           "GRIDPATROL_SECRET_KEY": SECRET}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory", "api.app:create_app", "--host",
                             "127.0.0.1", "--port", str(port), "--log-level", "warning"], cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def one_run(p, base: str, path: str, ready: str, then_map: bool = False) -> tuple[float, float, int, float]:
    """(seconds to usable, seconds to the load event — both from the navigation's start —, bytes on the wire,
    seconds from tapping 在地图上选点 until the basemap is drawn) of one cold load of ``path``; with ``then_map``
    the bytes include opening the map and its tiles."""
    browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
    try:
        context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True,
                                      device_scale_factor=2, locale="zh-CN", service_workers="block")
        page = context.new_page()
        page.set_default_timeout(120_000)
        cdp = context.new_cdp_session(page)
        got: list[float] = []
        cdp.on("Network.loadingFinished", lambda e: got.append(e.get("encodedDataLength", 0)))
        cdp.send("Network.enable")
        cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
        cdp.send("Network.emulateNetworkConditions", FAST_3G)
        page.goto(f"{base}{path}", wait_until="commit")
        page.wait_for_selector(ready, state="attached")
        usable = page.evaluate("performance.now()") / 1000
        page.wait_for_load_state("load")
        load = page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd") / 1000
        drawn = float("nan")
        if then_map:
            t0 = time.perf_counter()
            page.click("#pick")
            page.wait_for_selector(".gp-basemap canvas[data-state=drawn]")
            drawn = time.perf_counter() - t0
            page.wait_for_load_state("networkidle")
        page.wait_for_timeout(300)
        return usable, load, int(sum(got)), drawn
    finally:
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", help="a database holding a city with grids (default: Monaco, built here)")
    parser.add_argument("--repeat", type=int, default=3)
    args, _ = parser.parse_known_args()  # bench/run.py leaves its own arguments (bench names) in sys.argv
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database or f"sqlite:///{Path(tmp) / 'monaco.db'}"
        if not args.database:
            print("building Monaco …", flush=True)
            build_city(url)
        sticker = sticker_link(url)
        pages = [("report page from a QR sticker (/r/?b=…)", sticker, "body[data-ready='1']", False),
                 ("  … and the map opened (Leaflet + tiles)", sticker, "body[data-ready='1']", True),
                 ("phone app first load (/app/, login form)", "/app/", "#login:not([hidden])", False)]
        results = {}
        with server(url) as base, sync_playwright() as p:
            for name, path, ready, then_map in pages:
                runs = [one_run(p, base, path, ready, then_map) for _ in range(args.repeat)]
                results[name] = tuple(statistics.median(r[i] for r in runs) for i in range(4))
    print(f"\nChrome DevTools 'Fast 3G' (1.6 Mbit/s down, 750 kbit/s up, 562.5 ms RTT), cold cache, 360×740, "
          f"median of {args.repeat}; KB = 1000 bytes on the wire")
    print(f"{'page':44} {'usable s':>9} {'load s':>8} {'KB':>8} {'map drawn s':>12}")
    for name, (usable, load, size, drawn) in results.items():
        shown = "" if drawn != drawn else f"{drawn:12.2f}"
        print(f"{name:44} {usable:9.2f} {load:8.2f} {size / 1000:8.1f} {shown}")
    report, app = results[pages[0][0]], results[pages[2][0]]
    print(f"\nreport page ÷ phone app: usable {report[0] / app[0]:.2f}×, load {report[1] / app[1]:.2f}×, "
          f"bytes {report[2] / app[2]:.2f}×")
    ok = report[0] <= GOAL_S and report[2] / 1000 <= GOAL_KB
    print(f"goal (report page ≤ {GOAL_S:g} s to usable, ≤ {GOAL_KB} KB): {'met' if ok else 'NOT met'}")
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
