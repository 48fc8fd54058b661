"""The maps of maps.analytics in a real Chromium, offline: only 127.0.0.1 answers (tiles are blocked too).

Each page is written next to a link to maps/static and served by a local http.server, which also plays the
cases endpoint of cases_map. Screenshots go to test-output/maps/analytics-*.png.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import folium
import pytest
from folium import plugins

from geo.crs import wgs84_to_gcj02
from maps.analytics import cases_map, coverage_map, grids_map, heatmap_map, hotspot_map
from maps.assets import STATIC_DIR
from tests.unit.test_maps_analytics import (
    BOUNDS,
    CATEGORY_NAMES,
    ROUTE,
    X0,
    Y0,
    make_cases,
    make_cells,
    make_coverage,
    make_grids,
)

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "maps"
PATHS = "document.querySelectorAll('path.leaflet-interactive').length"
HEAT_CANVASES = "document.querySelectorAll('canvas.leaflet-heatmap-layer').length"
TOKEN = "test-token-123"


# --- the cases endpoint -------------------------------------------------------------------------------------

CLUSTERS = [
    {
        "lon": X0 + 0.0015,
        "lat": Y0 + 0.0012,
        "count": 120,
        "overdue": 0,
        "statuses": {"dispatched": 70, "closed": 50},
    },
    {
        "lon": X0 + 0.0045,
        "lat": Y0 + 0.0030,
        "count": 45,
        "overdue": 3,
        "statuses": {"accepted": 40, "reported": 5},
    },
    {"lon": X0 + 0.0065, "lat": Y0 + 0.0048, "count": 8, "overdue": 4, "statuses": {"suspended": 8}},
]
CASES = [
    {
        "id": 101,
        "lon": X0 + 0.0030,
        "lat": Y0 + 0.0025,
        "status": "dispatched",
        "overdue": True,
        "category": "garbage",
        "category_name": "垃圾堆放",
        "deadline_at": "2026-03-02T10:00:00+08:00",
        "thumbnail": "/static/vendor/leaflet-1.9.4/images/marker-icon-2x.png",
        "number": "2026-000101",
        "url": "/desk/cases/2026-000101",
    },
    {
        "id": 102,
        "lon": X0 + 0.0036,
        "lat": Y0 + 0.0028,
        "status": "closed",
        "overdue": False,
        "category": "parking",
        "category_name": "乱停车",
        "deadline_at": None,
        "thumbnail": None,
        "number": "2026-000102",
        "url": "/desk/cases/2026-000102",
    },
    {
        "id": 103,
        "lon": X0 + 0.0042,
        "lat": Y0 + 0.0031,
        "status": "accepted",
        "overdue": False,
        "category": "manhole",
        "category_name": "井盖缺失",
        "deadline_at": "2026-03-05T18:00:00+08:00",
        "thumbnail": None,
        "url": "javascript:alert(1)",
    },
    {
        "id": 104,
        "lon": X0 + 0.0039,
        "lat": Y0 + 0.0020,
        "status": "suspended",
        "overdue": True,
        "category": "garbage",
        "category_name": "垃圾堆放",
        "deadline_at": "2026-03-01T12:00:00+08:00",
        "thumbnail": None,
        "number": "2026-000104",
        "url": "/desk/cases/2026-000104",
    },
    {
        "id": 105,
        "lon": X0 + 0.0033,
        "lat": Y0 + 0.0034,
        "status": "reported",
        "overdue": False,
        "category": "parking",
        "category_name": "乱停车",
        "deadline_at": None,
        "thumbnail": None,
        "number": "2026-000105",
        "url": "/desk/cases/2026-000105",
    },
]
CLUSTER_ZOOM = 16  # the endpoint answers clusters below this zoom, cases from it on


class _Handler(SimpleHTTPRequestHandler):
    """Static files, plus /api/cases answering like the real cases-by-bbox endpoint."""

    state: dict[str, Any]

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        url = urlparse(self.path)
        if url.path != "/api/cases":
            super().do_GET()
            return
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.state["requests"].append({"query": query, "authorization": self.headers.get("Authorization")})
        zoom = int(query["zoom"])
        time.sleep(self.state["delay"].get(zoom, 0.0))
        if query.get("empty"):
            answer: dict[str, Any] = {"clusters": [], "cases": [], "total": 0}
        elif zoom < CLUSTER_ZOOM:
            answer = {"clusters": CLUSTERS, "cases": [], "total": sum(c["count"] for c in CLUSTERS)}
        else:
            answer = {"clusters": [], "cases": CASES, "total": len(CASES)}
        body = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the page aborted this request
            self.wfile.write(body)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str, dict[str, Any]]]:
    root = tmp_path_factory.mktemp("maps-site")
    (root / "static").symlink_to(STATIC_DIR, target_is_directory=True)
    state: dict[str, Any] = {"requests": [], "delay": {}}
    handler = type("Handler", (_Handler,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(root)))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright import sync_api
    if not CHROMIUM.exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: make test installs Debian's chromium")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


class Page:
    """A page that reaches nothing but 127.0.0.1; collects page errors and blocked URLs."""

    def __init__(self, browser: Any, site: tuple[Path, str, dict[str, Any]]) -> None:
        self.root, self.base, self.state = site
        self.errors: list[str] = []
        self.blocked: list[str] = []
        self.context = browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 800},
                                           device_scale_factor=1)
        self.context.route("**/*", self._offline)
        self.page = self.context.new_page()
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def _offline(self, route: Any) -> None:
        if urlparse(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort("internetdisconnected")

    def open(self, m: folium.Map, name: str) -> None:
        (self.root / f"{name}.html").write_text(m.get_root().render(), encoding="utf-8")
        self.page.goto(f"{self.base}/{name}.html")
        self.page.wait_for_function(
            "typeof L !== 'undefined' && document.querySelector('.leaflet-control-scale')"
        )
        # fitBounds animates from the initial zoom; a setZoom during the animation would be dropped by Leaflet
        self.page.wait_for_function(f"!{m.get_name()}._animatingZoom")

    def js(self, expression: str) -> Any:
        return self.page.evaluate(expression)

    def wait(self, expression: str) -> None:
        self.page.wait_for_function(expression, timeout=10_000)

    def toggle(self, layer_name: str) -> None:
        label = self.page.locator(".leaflet-control-layers-overlays label", has_text=layer_name)
        label.locator("input").click()

    def screenshot(self, name: str) -> None:
        self.page.mouse.move(2, 790)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"analytics-{name}.png"))

    def check_clean(self, *, tiles_blocked: bool = False) -> None:
        assert self.errors == []
        if tiles_blocked:
            assert self.blocked and all("tile.openstreetmap.org" in url for url in self.blocked), self.blocked
        else:
            assert self.blocked == []


@pytest.fixture
def page(browser: Any, site: tuple[Path, str, dict[str, Any]]) -> Iterator[Page]:
    p = Page(browser, site)
    try:
        yield p
    finally:
        p.context.close()


def _children(m: folium.Map, kind: type) -> list[Any]:
    return [child for child in m._children.values() if isinstance(child, kind)]


# --- maps ---------------------------------------------------------------------------------------------------


def test_heatmap_draws_offline_and_the_switches_filter(page):
    m = heatmap_map(make_cases(), category_labels=CATEGORY_NAMES)  # OpenStreetMap tiles: blocked
    everything, *categories = _children(m, plugins.HeatMap)
    page.open(m, "heatmap")
    page.wait(f"{HEAT_CANVASES} === 1")
    inked = (
        "Array.from(document.querySelectorAll('canvas.leaflet-heatmap-layer')).map(function (c) {"
        "  var d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data, n = 0;"
        "  for (var i = 3; i < d.length; i += 4) { if (d[i] > 0) { n++; } } return n; })"
    )

    assert page.js("typeof L !== 'undefined'")
    assert page.js(f"{everything.get_name()}._latlngs.length") == 12
    page.wait(f"{inked}[0] > 5000")  # the heat is really painted, without tiles
    assert page.page.locator(".gp-legend").is_visible()
    assert page.page.locator(".leaflet-control-scale").is_visible()
    page.screenshot("heatmap")

    page.toggle("已结案")
    page.wait(f"{everything.get_name()}._latlngs.length === 8")
    page.toggle("仅看超期案件")
    page.wait(f"{everything.get_name()}._latlngs.length === 3")
    page.toggle("已结案")
    page.toggle("仅看超期案件")
    page.wait(f"{everything.get_name()}._latlngs.length === 12")

    page.toggle("全部案件")
    page.wait(f"{HEAT_CANVASES} === 0")
    page.toggle("垃圾堆放")
    page.wait(f"{HEAT_CANVASES} === 1")
    assert page.js(f"{categories[0].get_name()}._latlngs.length") == 5
    page.wait(f"{inked}[0] > 1000")
    page.check_clean(tiles_blocked=True)


def test_hotspot_bins_then_patterns_each_with_its_legend(page):
    m = hotspot_map(make_cells(), tiles=None)
    page.open(m, "hotspot")
    page.wait(f"{PATHS} === 12")
    legends = "Array.from(document.querySelectorAll('.leaflet-control-container .gp-legend')).length"

    assert page.js(legends) == 1
    point = page.js(f"{m.get_name()}.latLngToContainerPoint([{Y0 + 0.001}, {X0 + 0.001}])")
    page.page.mouse.move(point["x"], point["y"])
    page.page.wait_for_selector(".leaflet-tooltip.gp-tooltip", timeout=5_000)
    tooltip = page.page.locator(".leaflet-tooltip").inner_text()
    assert "热点 99% 置信度" in tooltip and "40" in tooltip and "< 0.001" in tooltip and "新增热点" in tooltip
    page.screenshot("hotspot")

    page.toggle("时空热点模式")
    page.wait(f"{PATHS} === 24 && {legends} === 2")
    page.toggle("冷热点")
    page.wait(f"{PATHS} === 12 && {legends} === 1")
    assert "新增热点" in page.page.locator(".leaflet-control-container .gp-legend").inner_text()
    page.screenshot("hotspot-emerging")
    page.check_clean()


def test_coverage_draws_grids_streets_buildings_and_tracks(page):
    grids, segments, buildings, tracks = make_coverage()
    m = coverage_map(grids, segments, buildings, tracks, tiles=None)
    page.open(m, "coverage")
    expected = len(grids) + len(segments) + len(buildings) + len(tracks)
    page.wait(f"{PATHS} === {expected}")

    # Drawn whole: paths added while fitBounds animated used to be clipped to stale renderer bounds.
    size = page.js(
        "(function () { var b = document.querySelector('.leaflet-gridpatrol-grids-pane path').getBBox();"
        f" var a = {m.get_name()}.latLngToLayerPoint([{Y0}, {X0}]),"
        f" c = {m.get_name()}.latLngToLayerPoint([{Y0 + 0.002}, {X0 + 0.002}]);"
        " return [b.width, b.height, c.x - a.x, a.y - c.y]; })()"
    )
    assert size[0] == pytest.approx(size[2], abs=2) and size[1] == pytest.approx(size[3], abs=2)
    red = "document.querySelectorAll('path.leaflet-interactive[stroke=\"#dc2626\"]').length"
    assert page.js(red) == 2
    assert page.js("document.querySelectorAll('path.leaflet-interactive[stroke=\"#2563eb\"]').length") == 1
    page.screenshot("coverage")
    page.toggle("未巡查街巷")
    page.wait(f"{PATHS} === {expected - 2} && {red} === 0")
    page.toggle("网格覆盖率")
    page.wait(f"{PATHS} === {expected - 2 - len(grids)}")
    page.check_clean()


def test_grids_show_codes_when_zoomed_in(page):
    m = grids_map(make_grids(), tiles=None)
    page.open(m, "grids")
    page.wait(f"{PATHS} === 4")
    visible_labels = (
        "Array.from(document.querySelectorAll('.gp-grid-label')).filter(e => e.offsetParent).length"
    )

    assert page.js(f"{m.get_name()}.getZoom()") >= 15
    assert page.js(visible_labels) == 4
    point = page.js(f"{m.get_name()}.latLngToContainerPoint([{Y0 + 0.0015}, {X0 + 0.0035}])")
    page.page.mouse.move(point["x"], point["y"])
    page.page.wait_for_selector(".leaflet-tooltip.gp-tooltip", timeout=5_000)
    assert "未配备" in page.page.locator(".leaflet-tooltip").inner_text()
    page.screenshot("grids")

    page.js(f"{m.get_name()}.setZoom(14, {{animate: false}})")
    page.wait(f"{visible_labels} === 0")
    page.toggle("网格 (4)")
    page.wait(f"{PATHS} === 0")
    page.check_clean()


def _cases_page(page: Page, **options: Any) -> folium.Map:
    page.state["requests"].clear()
    page.state["delay"].clear()
    page.context.add_init_script(f"window.localStorage.setItem('gridpatrol.token', {json.dumps(TOKEN)});")
    name = options.pop("name", "cases")
    m = cases_map(bounds=BOUNDS, data_url="/api/cases?grid=7", tiles=None, **options)
    page.open(m, name)
    page.wait("window.gridpatrolCases && window.gridpatrolCases.draws >= 1")
    return m


def _zoom(page: Page, m: folium.Map, zoom: int) -> None:
    page.js(f"{m.get_name()}.setZoom({zoom}, {{animate: false}})")
    page.page.evaluate("window.gridpatrolCases.ready")


def test_cases_layer_fetches_clusters_then_cases(page):
    m = _cases_page(page, route=ROUTE, time_zone="Asia/Shanghai")

    _zoom(page, m, 14)
    assert page.js("gridpatrolCases.drawn()") == {"clusters": 3, "cases": 0}
    assert page.js("document.querySelectorAll('.gp-cluster').length") == 3
    assert page.page.locator(".gp-cases-status").inner_text() == "视野内 173 件"
    labels = page.page.locator(".gp-cluster").all_inner_texts()
    assert labels == ["120", "45", "8"]
    colours = page.js("Array.from(document.querySelectorAll('.gp-cluster-dot')).map(d => d.style.background)")
    assert colours == ["rgb(22, 163, 74)", "rgb(202, 138, 4)", "rgb(220, 38, 38)"]  # 0 %, 6.7 %, 50 % overdue
    sizes = page.js("Array.from(document.querySelectorAll('.gp-cluster-dot')).map(d => d.offsetWidth)")
    assert sizes[0] > sizes[1] > sizes[2]
    page.screenshot("cases-clusters")

    request = page.state["requests"][-1]
    assert request["authorization"] == f"Bearer {TOKEN}"
    assert request["query"]["grid"] == "7" and request["query"]["zoom"] == "14"
    minx, miny, maxx, maxy = map(float, request["query"]["bbox"].split(","))
    assert minx < X0 < BOUNDS[2] < maxx and miny < Y0 < BOUNDS[3] < maxy

    _zoom(page, m, 17)
    assert page.js("gridpatrolCases.drawnCount()") == len(CASES)
    assert page.js("document.querySelectorAll('path.gp-case').length") == len(CASES)
    assert page.js("document.querySelectorAll('path.gp-case-overdue').length") == 2
    assert page.js("gridpatrolCases.lastAnswer.total") == len(CASES)
    assert page.page.locator(".gp-cases-status").inner_text() == "视野内 5 件"
    assert (
        page.js("document.querySelectorAll('path.leaflet-interactive[stroke-dasharray=\"10 8\"]').length")
        == 1
    )

    page.js("gridpatrolCases.layer._group.eachLayer(l => { if (l.caseId === 101) l.openPopup(); })")
    popup = page.page.locator(".gp-case-card")
    popup.wait_for(timeout=5_000)
    text = popup.inner_text()
    assert "垃圾堆放" in text and "已派遣" in text and "2026/03/02 10:00" in text and "案件详情" in text
    assert "2026-000101" in text  # the case number, never its id
    assert popup.locator("a").get_attribute("href") == "/desk/cases/2026-000101"
    page.wait(
        "document.querySelector('.gp-case-thumb') && document.querySelector('.gp-case-thumb').naturalWidth > 0"
    )
    page.wait("getComputedStyle(document.querySelector('.leaflet-popup')).opacity === '1'")  # faded in
    page.screenshot("cases-zoomed")
    page.js("gridpatrolCases.layer._group.eachLayer(l => { if (l.caseId === 103) l.openPopup(); })")
    page.wait(
        "document.querySelector('.gp-case-card')"
        " && document.querySelector('.gp-case-card').innerText.includes('井盖缺失')"
    )
    assert page.page.locator(".gp-case-card a").count() == 0  # a javascript: URL is not linked
    page.check_clean()


def test_a_stale_answer_never_overwrites_a_newer_one(page):
    m = _cases_page(page)
    _zoom(page, m, 14)
    before = len(page.state["requests"])
    page.state["delay"][15] = 1.5  # the clusters of zoom 15 come late

    page.js(f"{m.get_name()}.setZoom(15, {{animate: false}})")
    deadline = time.monotonic() + 5
    while len(page.state["requests"]) == before and time.monotonic() < deadline:
        page.page.wait_for_timeout(20)  # not time.sleep: the offline route handler runs in this thread
    assert page.state["requests"][-1]["query"]["zoom"] == "15", page.state["requests"]
    page.js(f"{m.get_name()}.setZoom(17, {{animate: false}})")
    page.page.evaluate("window.gridpatrolCases.ready")
    assert page.js("gridpatrolCases.drawn()") == {"clusters": 0, "cases": len(CASES)}

    page.page.wait_for_timeout(1_800)  # the zoom-15 answer would have arrived by now
    assert page.js("gridpatrolCases.drawn()") == {"clusters": 0, "cases": len(CASES)}
    assert page.js("gridpatrolCases.lastAnswer.cases.length") == len(CASES)
    assert [r["query"]["zoom"] for r in page.state["requests"][before:]] == ["15", "17"]
    page.check_clean()


def test_cases_layer_in_gcj02_sends_wgs84_and_draws_shifted(page):
    m = _cases_page(page, datum="gcj02", name="cases-gcj02")
    _zoom(page, m, 17)

    js = page.js(f"gridpatrolCases.wgs84ToGcj02({X0}, {Y0})")
    assert js == [pytest.approx(v, abs=1e-9) for v in wgs84_to_gcj02(X0, Y0)]
    drawn = page.js(
        "(function () { var out = {}; gridpatrolCases.layer._group.eachLayer(function (l) {"
        " out[l.caseId] = [l.getLatLng().lng, l.getLatLng().lat]; }); return out; })()"
    )
    gx, gy = wgs84_to_gcj02(CASES[0]["lon"], CASES[0]["lat"])
    assert drawn["101"] == [pytest.approx(gx, abs=1e-9), pytest.approx(gy, abs=1e-9)]
    # the view is in GCJ-02 but the bbox asked for is WGS-84
    bounds = page.js(f"{m.get_name()}.getBounds().toBBoxString()").split(",")
    sent = page.state["requests"][-1]["query"]["bbox"].split(",")
    west, south = wgs84_to_gcj02(float(sent[0]), float(sent[1]))
    assert west == pytest.approx(float(bounds[0]), abs=2e-6) and south == pytest.approx(
        float(bounds[1]), abs=2e-6
    )
    page.check_clean()


def test_cases_layer_with_nothing_to_show_says_so(page):
    page.state["requests"].clear()
    m = cases_map(bounds=BOUNDS, data_url="/api/cases?empty=1", tiles=None, lang="en")
    page.open(m, "cases-empty")
    page.wait("window.gridpatrolCases && window.gridpatrolCases.draws >= 1")

    assert page.page.locator(".gp-cases-empty").inner_text() == "No data"
    assert page.page.locator(".gp-cases-status").inner_text() == "0 cases in view"
    assert page.state["requests"][-1]["authorization"] is None  # no token stored: no header
    page.screenshot("cases-empty")
    page.check_clean()


def test_an_empty_frame_shows_the_notice(page):
    m = grids_map(make_grids().iloc[0:0], tiles=None, lang="en")
    page.open(m, "grids-empty")

    assert page.page.locator(".gp-notice").inner_text() == "No data"
    assert page.js(PATHS) == 0
    page.screenshot("grids-empty")
    page.check_clean()
