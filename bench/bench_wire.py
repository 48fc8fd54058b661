"""Light on the wire: page weights and the phone app's load times on a throttled 3G link, before and after compression
and content-hashed caching (issue 21, part 6).

The demo city (Kouvola with its simulated month, built by ``gridpatrol demo --no-serve`` into a temporary SpatiaLite
file unless ``--database URL`` is given) is served twice by uvicorn, in subprocesses on the same database:

* before — the source as it was before the wire work (the parent of the commit that added api/compression.py,
  exported with ``git archive``; ``--before REF`` picks another);
* after — this checkout.

Weights: the bytes on the wire (``httpx``'s downloaded bytes, headers excluded) of the phone app's shell (its page plus
every file its service worker precaches: what a phone downloads on its first visit), ``/api/v1/field/today`` (as the
first grid worker), ``/dashboard`` and ``/maps/coverage`` (as admin) and the case desk's queues ``/desk`` (as
``sup001``), asking with ``Accept-Encoding: gzip, deflate, br`` as Chromium does.

Times: Chromium (Debian's, headless, 360×740 phone, only 127.0.0.1 reachable) with the network emulated through CDP
``Network.emulateNetworkConditions`` — Fast 3G: 1.6 Mbit/s down, 750 kbit/s up, 150 ms round trip — a fresh context
per run (cold HTTP cache, no service worker): *first load* = navigation to ``/app/`` until the login form shows;
*login → day* = from pressing 登录 until the worker's day has come from the server; *reload (service worker)* = a reload
until the shell shows with the day (from the worker's cache and IndexedDB). Median of ``--repeat`` runs (default 3).
Goals: first load ≤ 3 s, reload ≤ 1 s.

Run ``python bench/bench_wire.py [--database URL] [--repeat N] [--before REF]`` (or ``make bench``). The machine may
be shared: the times move with its load, the weights do not.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tarfile
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
FAST_3G = {"offline": False, "latency": 150, "downloadThroughput": 1.6e6 / 8, "uploadThroughput": 750e3 / 8}
PASSWORD = "demo-pass-2026"
BROWSER_ENCODING = "gzip, deflate, br"
SECRET = "bench-wire-secret-key-not-for-production-0123"


def _before_ref() -> str:
    first = subprocess.run(["git", "-C", str(ROOT), "log", "--diff-filter=A", "--format=%H", "--",
                            "api/compression.py"], capture_output=True, text=True, check=True).stdout.split()
    if not first:
        sys.exit("bench_wire: no commit adds api/compression.py; give --before REF")
    return f"{first[-1]}^"


def _export(ref: str, into: Path) -> Path:
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", ref], capture_output=True,
                             check=True).stdout
    into.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into)  # our own repository's tree
    return into


def _env(source: Path, url: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(source), "GRIDPATROL_DATABASE_URL": url, "GRIDPATROL_TILES": "",
            "GRIDPATROL_SECRET_KEY": SECRET}


@contextlib.contextmanager
def _server(source: Path, url: str) -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory", "api.app:create_app", "--host",
                             "127.0.0.1", "--port", str(port), "--log-level", "warning"], cwd=source,
                            env=_env(source, url))
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


def _token(base: str, user: str) -> str:
    r = httpx.post(f"{base}/api/v1/auth/token", data={"username": user, "password": PASSWORD})
    r.raise_for_status()
    return r.json()["access_token"]


def _wire_bytes(base: str, path: str, token: str | None, encoding: str) -> tuple[int, int]:
    """(bytes on the wire, bytes decoded) of one GET."""
    headers = {"accept-encoding": encoding, **({"authorization": f"Bearer {token}"} if token else {})}
    with httpx.Client() as client, client.stream("GET", f"{base}{path}", headers=headers) as r:
        decoded = sum(len(chunk) for chunk in r.iter_bytes())
        return r.num_bytes_downloaded, decoded


def weights(base: str, worker: str) -> dict[str, tuple[int, int]]:
    admin, sup, work = _token(base, "admin"), _token(base, "sup001"), _token(base, worker)
    shell = json.loads(re.search(r"const SHELL = (\[.*?\]);", httpx.get(f"{base}/app/sw.js").text).group(1))
    wire = decoded = 0
    for path in shell:
        w, d = _wire_bytes(base, path, None, BROWSER_ENCODING)
        wire, decoded = wire + w, decoded + d
    found = {"phone app shell (page + precached files)": (wire, decoded)}
    for name, path, token in [("/api/v1/field/today", "/api/v1/field/today", work),
                              ("/dashboard", "/dashboard", admin), ("/maps/coverage", "/maps/coverage", admin),
                              ("/desk (queues)", "/desk", sup)]:
        found[name] = _wire_bytes(base, path, token, BROWSER_ENCODING)
    return found


def _timed_run(p, base: str, worker: str) -> tuple[float, float, float]:
    browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
    try:
        context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True,
                                      locale="zh-CN", service_workers="allow")
        page = context.new_page()
        page.set_default_timeout(60_000)
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.emulateNetworkConditions", FAST_3G)
        t0 = time.perf_counter()
        page.goto(f"{base}/app/", wait_until="commit")
        page.wait_for_selector("#login:not([hidden])")
        first = time.perf_counter() - t0
        page.fill("#login-user", worker)
        page.fill("#login-pass", PASSWORD)
        t0 = time.perf_counter()
        with page.expect_response(lambda r: "/api/v1/field/today" in r.url) as answer:
            page.click("#login-form button[type=submit]")
        answer.value.finished()
        page.wait_for_function("window.gridpatrolApp && window.gridpatrolApp.state.today")
        day = time.perf_counter() - t0
        page.wait_for_function("navigator.serviceWorker.controller !== null")
        page.wait_for_timeout(1500)  # the worker's precache settles
        t0 = time.perf_counter()
        page.reload(wait_until="commit")
        page.wait_for_selector("#shell:not([hidden])")
        page.wait_for_function("window.gridpatrolApp && window.gridpatrolApp.state.today")
        reload = time.perf_counter() - t0
        return first, day, reload
    finally:
        browser.close()


def timings(base: str, worker: str, repeat: int) -> tuple[float, float, float]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        runs = [_timed_run(p, base, worker) for _ in range(repeat)]
    return tuple(statistics.median(r[i] for r in runs) for i in range(3))  # type: ignore[return-value]


def _first_worker(url: str) -> str:
    out = subprocess.run([sys.executable, "-m", "api.cli", "--database", url, "users", "list"], cwd=ROOT,
                         env=_env(ROOT, url), capture_output=True, text=True, check=True).stdout
    rows = [line.split("\t") for line in out.splitlines()]
    return next(row[1] for row in rows if len(row) > 3 and row[3] == "grid_worker")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", help="a database holding the demo (default: build one in a temporary folder)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--before", help="git ref of the source to compare with (default: before the wire work)")
    args, _ = parser.parse_known_args()  # bench/run.py leaves its own arguments (bench names) in sys.argv
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database or f"sqlite:///{Path(tmp) / 'demo.db'}"
        if not args.database:
            print("building the demo database …", flush=True)
            subprocess.run([sys.executable, "-m", "api.cli", "--database", url, "demo", "--no-serve"], cwd=ROOT,
                           env=_env(ROOT, url), check=True, stdout=subprocess.DEVNULL)
        worker = _first_worker(url)
        before_src = _export(args.before or _before_ref(), Path(tmp) / "before")
        results = {}
        for label, source in (("before", before_src), ("after", ROOT)):
            with _server(source, url) as base:
                results[label] = (weights(base, worker), timings(base, worker, args.repeat))
    print(f"\nbytes on the wire (Accept-Encoding: {BROWSER_ENCODING}); KB = 1000 bytes")
    print(f"{'answer':44} {'before':>10} {'after':>10} {'ratio':>7}")
    for name, (wire_before, _) in results["before"][0].items():
        wire_after, decoded = results["after"][0][name]
        print(f"{name:44} {wire_before / 1000:9.1f}K {wire_after / 1000:9.1f}K {wire_after / wire_before:7.2f}"
              f"   (decoded {decoded / 1000:.1f}K)")
    print(f"\nphone app on Fast 3G (1.6 Mbit/s down, 750 kbit/s up, 150 ms RTT), median of {args.repeat}, seconds")
    print(f"{'':28} {'before':>8} {'after':>8}   goal")
    for i, (name, goal) in enumerate([("first load (login form)", "≤ 3 s"), ("login → day", ""),
                                      ("reload (service worker)", "≤ 1 s")]):
        print(f"{name:28} {results['before'][1][i]:8.2f} {results['after'][1][i]:8.2f}   {goal}")
    print(f"\nload average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
