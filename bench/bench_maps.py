"""Supervisor case maps at scale: /maps/cases (clusters aggregated in the database) against naive folium pages.

Liechtenstein (OpenStreetMap, 2015) is imported, gridded and given N SIMULATED cases (default 100,000; labelled
``simulated = True``, description "(模拟)") at random points inside its grids, spread over categories and statuses,
some overdue (an open status with the deadline in the past). They are bulk-inserted (SQLAlchemy Core executemany),
not reported through the API. The app is served by uvicorn in a thread; Chromium (network closed except 127.0.0.1,
fresh context per page load, so a cold browser cache) opens:

* ours — ``/maps/cases`` on the whole city: time from navigation start until the first view is drawn and painted
  (``window.gridpatrolCases.ready`` after ``lastAnswer`` exists, then two animation frames) = "interactive"; page
  weight = the bytes of every response body of that navigation; then a zoom-in to zoom 16 on the biggest cluster
  (the cases themselves are drawn) and a pan of half a screen, each timed to the next painted frame. SpatiaLite by
  default; with ``GRIDPATROL_BENCH_POSTGRES_URL`` set, PostGIS too (one row each).
* naive — the same cases embedded in one folium page (local Leaflet from maps/static/vendor, served by a tiny
  http.server): ``folium.CircleMarker`` per case (status colour, overdue ring, category tooltip), folium
  ``plugins.MarkerCluster`` (one ``folium.Marker`` per case) and ``plugins.FastMarkerCluster`` (the cases as one
  JS array, clustered in the browser). Timed until the markers are in the DOM and painted, capped at 120 s.

Issue goal: 100k cases interactive in ≤ 3 s with a page ≤ 5 MB.

Run ``python bench/bench_maps.py [--cases N] [--naive-cases N] [--skip-naive] [--repeat R] [--postgres]`` or
``make bench``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import http.server
import os
import socket
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from sqlalchemy import insert, select

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "osm" / "liechtenstein_2015.osm.pbf"
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1280, "height": 800}
USER, PASSWORD = "admin", "load-test-pass-2026"
SECRET = "bench-maps-secret-key-not-for-production"
CASES_ZOOM = 16  # patrol.cases.service.CASES_FROM_ZOOM: from here on the server answers with the cases themselves
GOAL_S, GOAL_MB = 3.0, 5.0
# Share of each status among the simulated cases (most are closed, as in a year of a real city).
STATUS_WEIGHTS = {"closed": 0.52, "reported": 0.05, "registered": 0.04, "dispatched": 0.1, "accepted": 0.05,
                  "handled": 0.08, "verified": 0.03, "suspended": 0.02, "rejected": 0.06, "duplicate": 0.05}
OPEN_LATE = frozenset({"reported", "registered", "dispatched", "accepted", "handled", "verified"})
OVERDUE_SHARE = 0.35  # of the open (not suspended) cases

# In-page helpers (Playwright evaluate): wait until the next frame is painted, then read the clock.
PAINTED = "new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(performance.now()))))"
OURS_READY = f"async () => {{ await window.gridpatrolCases.ready; return await {PAINTED}; }}"
OURS_MOVE = """async ([kind, lon, lat, zoom]) => {
  const gp = window.gridpatrolCases, map = gp.layer._map;
  while (map._animatingZoom) { await new Promise(r => setTimeout(r, 10)); }
  const r0 = gp.requests, t0 = performance.now();
  if (kind === "zoom") { map.setView([lat, lon], zoom, {animate: false}); }
  else { map.panBy([map.getSize().x / 2, 0], {animate: false}); }
  while (gp.requests === r0) { await new Promise(r => setTimeout(r, 0)); }
  const answer = await gp.ready;
  const t1 = performance.now();
  const painted = await __PAINTED__;
  const api = performance.getEntriesByType("resource").filter(e => e.name.includes("/cases/map")).pop();
  return {ms: painted - t0, draw_end_ms: t1 - t0, zoom: map.getZoom(), drawn: gp.drawn(),
          total: answer && answer.total, truncated: answer && answer.truncated,
          api_ms: api ? api.responseEnd - api.requestStart : null, api_bytes: api ? api.decodedBodySize : null};
}""".replace("__PAINTED__", PAINTED)
NAIVE_MAP = "window.__benchMap || (window.__benchMap = Object.values(window).find(v => v instanceof L.Map))"
NAIVE_MOVE = """async ([kind, lon, lat, zoom]) => {
  const map = __MAP__, pane = map.getPane("mapPane");
  while (map._animatingZoom) { await new Promise(r => setTimeout(r, 10)); }
  const t0 = performance.now();
  if (kind === "zoom") { map.setView([lat, lon], zoom, {animate: false}); }
  else { map.panBy([map.getSize().x / 2, 0], {animate: false}); }
  // Leaflet.markercluster animates its re-clustering (class leaflet-cluster-anim on the map pane)
  while (pane.classList.contains("leaflet-cluster-anim")) { await new Promise(r => setTimeout(r, 10)); }
  const painted = await __PAINTED__;
  return {ms: painted - t0, zoom: map.getZoom(), drawn: document.querySelectorAll(
    "path.leaflet-interactive, .leaflet-marker-icon").length};
}""".replace("__MAP__", NAIVE_MAP).replace("__PAINTED__", PAINTED)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the city and its simulated cases ----------------------------------------------------------------------------
def _build(url: str, model: Any, n: int, seed: int = 2026) -> dict:
    """Import, grid, add the admin and ``n`` SIMULATED cases; returns the cases' columns (numpy) for the naive
    pages, the city's bounds and timings."""
    from patrol.cases.categories import load_categories
    from patrol.city.gridding import generate_city_grids
    from patrol.city.osm_import import store_city
    from patrol.core.auth import create_user
    from patrol.core.db import make_engine, session_factory, transaction
    from patrol.core.frames import read_frame
    from patrol.core.migrate import upgrade
    from patrol.core.models import Case, Category, Grid

    t0 = time.perf_counter()
    engine = make_engine(url)
    upgrade(engine)
    factory = session_factory(engine)
    with transaction(factory) as s:
        store_city(s, model, source=str(DATA))
        load_categories(s)
        generate_city_grids(s)
    with transaction(factory) as s:
        admin = create_user(s, username=USER, role="admin", password=PASSWORD, display_name="bench admin (模拟)",
                            simulated=True)
        admin_id = admin.id
        grids = read_frame(s, [Grid.id, Grid.community_id], Grid.geom)
        cats = s.execute(select(Category.code, Category.name_zh, Category.level, Category.deadline_hours)
                         .where(Category.active).order_by(Category.code)).all()
    city_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    grids = grids[grids.geometry.notna() & ~grids.geometry.is_empty].reset_index(drop=True)
    per_grid = np.full(len(grids), n // len(grids))  # round robin over grids: density follows households
    per_grid[: n % len(grids)] += 1
    lon, lat, gid, cid = [], [], [], []
    for k, poly in enumerate(grids.geometry):
        shapely.prepare(poly)
        x0, y0, x1, y1 = poly.bounds
        want, got_x, got_y = int(per_grid[k]), [], []
        while want > 0:
            m = max(4 * want, 64)
            xs, ys = rng.uniform(x0, x1, m), rng.uniform(y0, y1, m)
            inside = shapely.contains_xy(poly, xs, ys)
            got_x.append(xs[inside][:want])
            got_y.append(ys[inside][:want])
            want -= int(min(inside.sum(), want))
        lon.append(np.concatenate(got_x))
        lat.append(np.concatenate(got_y))
        gid.append(np.full(per_grid[k], grids["id"][k]))
        cid.append(np.full(per_grid[k], grids["community_id"][k]))
    order = rng.permutation(n)
    lon, lat = np.concatenate(lon)[order], np.concatenate(lat)[order]
    gid, cid = np.concatenate(gid)[order], np.concatenate(cid)[order]
    statuses = np.array(list(STATUS_WEIGHTS))
    status = rng.choice(statuses, n, p=np.array(list(STATUS_WEIGHTS.values())) / sum(STATUS_WEIGHTS.values()))
    cat = rng.integers(len(cats), size=n)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    age_h = rng.uniform(1, 365 * 24, n)  # reported within the last year
    is_open_late = np.isin(status, list(OPEN_LATE))
    overdue = is_open_late & (rng.random(n) < OVERDUE_SHARE)
    rows = []
    for i in range(n):
        code, _name, level, hours = cats[cat[i]]
        reported = now - dt.timedelta(hours=float(age_h[i]))
        st = str(status[i])
        if overdue[i]:
            deadline = now - dt.timedelta(hours=float(rng.uniform(1, 30 * 24)))
            reported = min(reported, deadline - dt.timedelta(hours=hours))
        elif is_open_late[i] or st == "suspended":
            deadline = now + dt.timedelta(hours=float(rng.uniform(1, hours)))
            reported = max(reported, deadline - dt.timedelta(hours=hours * 3))
        else:
            deadline = reported + dt.timedelta(hours=hours)
        done = st in ("closed", "rejected", "duplicate")
        closed = reported + dt.timedelta(hours=float(rng.uniform(0.5, 2 * hours))) if done else None
        rows.append({
            "client_id": str(uuid.UUID(int=int(rng.integers(1 << 62)) << 64 | i, version=4)),
            "category_code": code, "status": st, "level": level, "channel": "patrol",
            "description": "bench case (模拟)", "geom": f"SRID=4326;POINT({lon[i]:.7f} {lat[i]:.7f})",
            "input_crs": "wgs84", "community_id": int(cid[i]), "grid_id": int(gid[i]), "reporter_id": admin_id,
            "reported_at": reported, "deadline_at": deadline, "updated_at": closed or reported,
            "handled_at": closed if st == "closed" else None, "closed_at": closed,
            "closed_on_time": bool(closed <= deadline) if st == "closed" else None,
            "suspended_from": "dispatched" if st == "suspended" else None,
            "rework_count": 0, "reopened_count": 0, "escalations": 0, "simulated": True,
        })
    with transaction(factory) as s:
        for k in range(0, n, 5000):
            s.execute(insert(Case), rows[k:k + 5000])
    insert_s = time.perf_counter() - t0
    bounds = tuple(float(v) for v in grids.total_bounds)
    engine.dispose()
    names = np.array([c[1] for c in cats], dtype=object)
    return {"grids": len(grids), "buildings": len(model.buildings), "bounds": bounds, "city_s": city_s,
            "insert_s": insert_s, "lon": lon, "lat": lat, "status": status, "overdue": overdue,
            "category": names[cat]}


# --- servers -----------------------------------------------------------------------------------------------------
class _App:
    """The gridpatrol app under uvicorn in a thread of this process."""

    def __init__(self, url: str) -> None:
        import uvicorn

        from api.app import create_app
        from patrol.core.settings import Settings

        settings = Settings(database_url=url, tiles=None, secret_key=SECRET)
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

    def token(self) -> str:
        import httpx

        r = httpx.post(f"{self.base}/api/v1/auth/token", data={"username": USER, "password": PASSWORD}, timeout=30)
        r.raise_for_status()
        return r.json()["access_token"]

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
        self.app.state.engine.dispose()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


class _Files:
    """A tiny http.server for the naive pages, with maps/static linked in as /static."""

    def __init__(self, folder: Path) -> None:
        from maps.assets import STATIC_DIR

        self.folder = folder
        (folder / "static").symlink_to(STATIC_DIR, target_is_directory=True)
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=folder))
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# --- the browser -------------------------------------------------------------------------------------------------
def _context(browser: Any, base: str, token: str | None = None) -> tuple[Any, Any, list]:
    """A fresh context (empty cache) that reaches only 127.0.0.1, and a page recording its responses."""
    context = browser.new_context(bypass_csp=True, viewport=VIEWPORT, locale="zh-CN")
    if token:
        from api.deps import COOKIE

        context.add_cookies([{"name": COOKIE, "value": token, "url": base}])

    def offline(route: Any) -> None:
        if route.request.url.startswith("http://127.0.0.1:"):
            route.continue_()
        else:
            route.abort()

    context.route("**/*", offline)
    context.add_init_script("window.addEventListener('error', e => { window.__benchError = String(e.message); });")
    page = context.new_page()
    responses: list = []
    page.on("response", lambda response: responses.append(response))
    return context, page, responses


def _weight(responses: list, *, bodies: bool = True) -> tuple[int, int]:
    """(bytes of all response bodies, number of responses); Content-Length when the body is not available (or
    ``bodies`` is false: the renderer is still busy)."""
    total = 0
    for r in responses:
        try:
            if not bodies:
                raise LookupError
            total += len(r.body())
        except Exception:  # noqa: BLE001 - redirects, bodies evicted from the devtools buffer (very large pages)
            total += int(r.headers.get("content-length") or 0)
    return total, len(responses)


def _ours_once(browser: Any, base: str, token: str, move_to: tuple[float, float] | None) -> dict:
    context, page, responses = _context(browser, base, token)
    try:
        page.set_default_timeout(120_000)
        page.goto(f"{base}/maps/cases", wait_until="commit")
        page.wait_for_function("() => window.gridpatrolCases && window.gridpatrolCases.lastAnswer", polling="raf")
        painted_ms = page.evaluate(OURS_READY)
        info = page.evaluate("""() => {
          const gp = window.gridpatrolCases, nav = performance.getEntriesByType("navigation")[0];
          const api = performance.getEntriesByType("resource").filter(e => e.name.includes("/cases/map"));
          const a = api[api.length - 1];
          return {zoom: gp.layer._map.getZoom(), drawn: gp.drawn(), total: gp.lastAnswer.total,
                  requests: gp.requests, html_ms: nav.responseEnd, dom_ms: nav.domContentLoadedEventEnd,
                  api_start_ms: a.requestStart, api_ms: a.responseEnd - a.requestStart, api_bytes: a.decodedBodySize,
                  biggest: gp.lastAnswer.clusters.reduce((b, c) => (!b || c.count > b.count ? c : b), null)};
        }""")
        weight, n_resp = _weight(responses)
        out = {"interactive_s": painted_ms / 1000, "bytes": weight, "responses": n_resp, **info}
        lon, lat = move_to or ((info["biggest"]["lon"], info["biggest"]["lat"]) if info["biggest"] else (None, None))
        if lon is not None:
            out["zoom_in"] = page.evaluate(OURS_MOVE, ["zoom", lon, lat, CASES_ZOOM])
            out["pan"] = page.evaluate(OURS_MOVE, ["pan", lon, lat, CASES_ZOOM])
            out["center"] = (lon, lat)
        return out
    finally:
        context.close()


def _ours(browser: Any, base: str, token: str, repeat: int) -> dict:
    _ours_once(browser, base, token, None)  # warm-up: the server's first query, SQLite page cache, Chromium
    runs = [_ours_once(browser, base, token, None) for _ in range(repeat)]
    best = sorted(runs, key=lambda r: r["interactive_s"])[len(runs) // 2]  # the median run

    def median_s(key: str) -> float | None:
        values = [r[key]["ms"] / 1000 for r in runs if r.get(key)]
        return statistics.median(values) if values else None

    return {**best, "interactive_s": statistics.median(r["interactive_s"] for r in runs),
            "all_interactive_s": [r["interactive_s"] for r in runs], "zoom_in_s": median_s("zoom_in"),
            "pan_s": median_s("pan")}


# --- naive folium pages ------------------------------------------------------------------------------------------
def _naive_page(kind: str, cases: dict, n: int, bounds: tuple[float, float, float, float]) -> str:
    import folium
    from folium import plugins

    from maps.analytics import OTHER_STATUS_COLOUR as _OTHER_STATUS_COLOUR
    from maps.analytics import OVERDUE_COLOUR as _OVERDUE_COLOUR
    from maps.analytics import STATUS_COLOURS
    from maps.assets import use_local_assets

    lon, lat = cases["lon"][:n], cases["lat"][:n]
    # No basemap (as ours in the bench); Leaflet.markercluster then needs the map's own maxZoom (OSM's 19).
    m = folium.Map(location=[(bounds[1] + bounds[3]) / 2, (bounds[0] + bounds[2]) / 2], zoom_start=12, tiles=None,
                   maxZoom=19)
    m.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])
    for child in m._children.values():  # jump, as ours does: an animated fit would undo the zoom-in measured below
        if isinstance(child, folium.FitBounds):
            child.options["animate"] = False
    if kind == "circles":
        for i in range(n):
            late = bool(cases["overdue"][i])
            folium.CircleMarker(
                [float(lat[i]), float(lon[i])], radius=7, weight=3 if late else 1.5, opacity=1,
                color=_OVERDUE_COLOUR if late else "#ffffff", fill=True, fill_opacity=0.95,
                fill_color=STATUS_COLOURS.get(str(cases["status"][i]), _OTHER_STATUS_COLOUR),
                tooltip=str(cases["category"][i])).add_to(m)
    elif kind == "markercluster":
        plugins.MarkerCluster(locations=np.column_stack([lat, lon]).tolist()).add_to(m)
    else:
        plugins.FastMarkerCluster(np.column_stack([lat, lon]).tolist(),
                                  callback="function (row) { return L.marker(L.latLng(row[0], row[1])); }").add_to(m)
    use_local_assets(m, prefix="/static/vendor")
    return m.get_root().render()


# the page has drawn once some cluster icon is in the DOM
_CLUSTERS_DRAWN = "n => window.L && L.MarkerClusterGroup && document.querySelector('.marker-cluster') !== null"
NAIVE = {
    "circles": ("folium CircleMarker per case",
                "n => document.getElementsByClassName('leaflet-interactive').length >= n"),
    "markercluster": ("folium plugins.MarkerCluster", _CLUSTERS_DRAWN),
    "fastmarkercluster": ("folium plugins.FastMarkerCluster", _CLUSTERS_DRAWN),
}


def _naive(browser: Any, files: _Files, kind: str, cases: dict, n: int, bounds: tuple, center: tuple | None,
           timeout_s: float) -> dict:
    t0 = time.perf_counter()
    html = _naive_page(kind, cases, n, bounds).encode()
    render_s = time.perf_counter() - t0
    name = f"naive-{kind}.html"
    (files.folder / name).write_bytes(html)
    out: dict = {"render_s": render_s, "html_bytes": len(html)}
    del html
    context, page, responses = _context(browser, files.base)
    try:
        page.set_default_timeout(timeout_s * 1000)
        start = time.perf_counter()
        page.goto(f"{files.base}/{name}", wait_until="commit")
        try:
            left = max(1.0, timeout_s - (time.perf_counter() - start))
            page.wait_for_function(f"n => window.__benchError || ({NAIVE[kind][1]})(n)", arg=n, polling=100,
                                   timeout=left * 1000)
            if page.evaluate("window.__benchError || null"):
                raise RuntimeError(page.evaluate("window.__benchError"))
        except Exception as exc:  # noqa: BLE001 - playwright's TimeoutError, or the renderer gave up (out of memory)
            out.update(timed_out=True, error=f"{type(exc).__name__}: {str(exc).splitlines()[0][:100]}",
                       interactive_s=None,
                       wall_s=time.perf_counter() - start)
            out["bytes"], out["responses"] = _weight(responses, bodies=False)
            return out
        out["interactive_s"] = page.evaluate(f"async () => await {PAINTED}") / 1000
        out["drawn"] = page.evaluate(
            "document.querySelectorAll('path.leaflet-interactive, .leaflet-marker-icon').length")
        out["bytes"], out["responses"] = _weight(responses)
        page.evaluate(f"() => {{ {NAIVE_MAP}; }}")  # find the map once (100k globals to look through)
        if center is not None:
            try:
                out["zoom_in"] = page.evaluate(NAIVE_MOVE, ["zoom", center[0], center[1], CASES_ZOOM])
                out["pan"] = page.evaluate(NAIVE_MOVE, ["pan", center[0], center[1], CASES_ZOOM])
            except Exception as exc:  # noqa: BLE001
                out["move_error"] = f"{type(exc).__name__}: {str(exc)[:120]}"
        return out
    finally:
        context.close()


# --- report ------------------------------------------------------------------------------------------------------
def _row(name: str, r: dict, ours: dict | None) -> str:
    mb = r.get("bytes", 0) / 1e6
    t = r.get("interactive_s")
    zoom = r.get("zoom_in_s") if "zoom_in_s" in r else (r.get("zoom_in") or {}).get("ms", 0) / 1000 or None
    pan = r.get("pan_s") if "pan_s" in r else (r.get("pan") or {}).get("ms", 0) / 1000 or None
    drawn = r.get("drawn")
    if isinstance(drawn, dict):
        drawn = drawn["clusters"] + drawn["cases"]

    def fmt(v: float | None, w: int = 8, p: int = 2) -> str:
        return f"{v:>{w}.{p}f}" if v is not None else f"{'—':>{w}}"

    if ours is None:
        rmb, rt = "", ""
    else:
        rmb = f"{mb / (ours['bytes'] / 1e6):>7.1f}×"
        if t is not None:
            rt = f"{t / ours['interactive_s']:>7.1f}×"
        else:
            rt = f"{'>' + format(r['wall_s'] / ours['interactive_s'], '.0f'):>7}×"
    shown_t = fmt(t, 10) if t is not None else f"{'>' + format(r.get('wall_s', 0), '.0f') + ' s':>10}"
    return (f"{name:<40}{mb:>9.2f}{shown_t}{fmt(zoom)}{fmt(pan)}{drawn if drawn is not None else '—':>9}"
            f"{rmb:>9}{rt:>9}")


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--naive-cases", type=int, default=None, help="cases in the naive pages (default: --cases)")
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--repeat", type=int, default=3, help="measured loads of our page (median shown)")
    parser.add_argument("--naive-timeout", type=float, default=120.0)
    parser.add_argument("--postgres", action="store_true",
                        help="also PostGIS (needs GRIDPATROL_BENCH_POSTGRES_URL; run when it is set anyway)")
    args, _ = parser.parse_known_args(argv)  # bench/run.py leaves its own arguments (bench names) in sys.argv
    return args


def _measure_ours(browser, backend: str, url: str, model, args: argparse.Namespace) -> tuple[dict, dict]:
    """Build the city and cases in ``url``, load our page; returns (what was built, the measurements)."""
    app = None
    try:
        built = _build(url, model, args.cases)
        print(f"{backend}: {built['grids']} grids; city imported and gridded in {built['city_s']:.1f} s; "
              f"{args.cases:,} SIMULATED cases inserted in {built['insert_s']:.1f} s", flush=True)
        app = _App(url)
        r = _ours(browser, app.base, app.token(), args.repeat)
        print(f"{backend}: interactive {', '.join(f'{v:.2f}' for v in r['all_interactive_s'])} s; "
              f"HTML done {r['html_ms']:.0f} ms, DOMContentLoaded {r['dom_ms']:.0f} ms, /cases/map asked "
              f"at {r['api_start_ms']:.0f} ms, answered in {r['api_ms']:.0f} ms ({r['api_bytes']:,} B); "
              f"zoom {r['zoom']}: {r['drawn']['clusters']} clusters", flush=True)
        for key in ("zoom_in", "pan"):
            if r.get(key):
                z = r[key]
                print(f"{backend}: {key} to zoom {z['zoom']}: {z['drawn']['cases']} cases drawn of "
                      f"{z['total']:,} in view{' (truncated)' if z['truncated'] else ''}; /cases/map "
                      f"{z['api_ms']:.0f} ms ({z['api_bytes']:,} B), drawn {z['draw_end_ms']:.0f} ms, "
                      f"painted {z['ms']:.0f} ms", flush=True)
        return built, r
    finally:
        if app is not None:
            app.close()


def _measure_naive(browser, folder: Path, cases: dict, n_naive: int, center, args: argparse.Namespace) -> dict:
    """Each naive folium page with ``n_naive`` of the cases: kind -> measurements."""
    folder.mkdir()
    files = _Files(folder)
    out: dict = {}
    try:
        for kind in NAIVE:
            r = _naive(browser, files, kind, cases, n_naive, cases["bounds"], center, args.naive_timeout)
            out[kind] = r
            state = (f"gave up after {r['wall_s']:.0f} s ({r['error']})" if r.get("timed_out")
                     else f"interactive {r['interactive_s']:.2f} s")
            print(f"naive {kind}: {n_naive:,} cases, HTML {r['html_bytes'] / 1e6:.1f} MB rendered by "
                  f"folium in {r['render_s']:.1f} s; {state}"
                  + "".join(f"; {key} {r[key]['ms'] / 1000:.2f} s, {r[key]['drawn']:,} markers in the DOM"
                            for key in ("zoom_in", "pan") if r.get(key))
                  + (f"; {r['move_error']}" if r.get("move_error") else ""), flush=True)
    finally:
        files.close()
    return out


def _report(result: dict, args: argparse.Namespace, n_naive: int) -> None:
    print(f"\n{args.cases:,} SIMULATED cases in Liechtenstein; Chromium {VIEWPORT['width']}×{VIEWPORT['height']}, "
          f"cold cache; zoom-in = zoom {CASES_ZOOM} on the biggest cluster, pan = half a screen")
    print(f"{'method':<40}{'page MB':>9}{'inter. s':>10}{'zoom s':>8}{'pan s':>8}{'markers':>9}{'MB/ours':>9}"
          f"{'t/ours':>9}")
    ref = result["ours"].get("SpatiaLite") or next(iter(result["ours"].values()), None)
    for backend, r in result["ours"].items():
        print(_row(f"ours /maps/cases ({backend})", r, None if r is ref else ref))
    for kind, r in result["naive"].items():
        print(_row(f"{NAIVE[kind][0]} ({n_naive // 1000}k)" if n_naive >= 1000 else NAIVE[kind][0], r, ref))
    if result["naive"]:
        print("naive pages are pre-rendered static files: folium's render time (above) is not in 'inter. s'")
    for backend, r in result["ours"].items():
        ok_t, ok_mb = r["interactive_s"] <= GOAL_S, r["bytes"] / 1e6 <= GOAL_MB
        r["goal_met"] = ok_t and ok_mb
        print(f"goal ({backend}, {args.cases:,} cases): interactive ≤ {GOAL_S:.0f} s {'met' if ok_t else 'NOT met'} "
              f"({r['interactive_s']:.2f} s); page ≤ {GOAL_MB:.0f} MB {'met' if ok_mb else 'NOT met'} "
              f"({r['bytes'] / 1e6:.2f} MB)")


def main(argv: list[str] | None = None) -> dict:
    args = _args(argv)
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
    n_naive = min(args.naive_cases or args.cases, args.cases)

    t = time.perf_counter()
    model = read_city(DATA)
    print(f"read {DATA.name}: {len(model.buildings):,} buildings ({time.perf_counter() - t:.1f} s)", flush=True)
    result: dict = {"cases": args.cases, "naive_cases": n_naive, "ours": {}, "naive": {}}
    cases = None
    with tempfile.TemporaryDirectory(prefix="bench_maps_") as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            for backend in backends:
                if backend == "SpatiaLite":
                    url = f"sqlite:///{Path(tmp) / 'maps.db'}"
                else:
                    url = create_postgis_database(pg_base, f"bench_maps_{uuid.uuid4().hex[:8]}")
                try:
                    built, result["ours"][backend] = _measure_ours(browser, backend, url, model, args)
                    if cases is None:
                        cases = built
                finally:
                    if backend == "PostGIS":
                        drop_postgis_database(url)
            center = next(iter(result["ours"].values())).get("center") if result["ours"] else None
            if not args.skip_naive and cases is not None:
                result["naive"] = _measure_naive(browser, Path(tmp) / "naive", cases, n_naive, center, args)
        finally:
            browser.close()
    _report(result, args, n_naive)
    return result

if __name__ == "__main__":
    main()
