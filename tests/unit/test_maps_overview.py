"""The overview map and the vendored assets it loads: rendered HTML, then the same page in a real Chromium."""

from __future__ import annotations

import ast
import hashlib
import json
import re
import shutil
import sys
import threading
import warnings
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import folium
import geopandas as gpd
import pytest
from folium import plugins
from shapely.geometry import box

from geo.errors import GeoValidationError
from maps.assets import LOCAL_ASSETS, STATIC_DIR, OnlineAssetWarning, local_url, use_local_assets
from maps.overview import LABELS, households_class, overview_map

PREFIX = "/static/vendor"
VENDOR = STATIC_DIR / "vendor"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "maps"
LINK = re.compile(r"<(?:script|link)\b[^>]*?\b(?:src|href)=\"([^\"]+)\"")

X0, Y0, W, H = 121.400, 37.500, 0.006, 0.005  # two communities side by side in Yantai, ≈530 m × 555 m each


def make_frames() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    communities = gpd.GeoDataFrame(
        {"code": ["001", "002"], "name": ["蓝海社区", "珠玑东社区"], "households": [720, 1010]},
        geometry=[box(X0, Y0, X0 + W, Y0 + H), box(X0 + W, Y0, X0 + 2 * W, Y0 + H)],
        crs=4326,
    )
    grids = gpd.GeoDataFrame(
        {
            "code": ["370602001001001", "370602001001002", "370602001002001", "370602001002002"],
            "name": ["蓝海一网格", "蓝海二网格", "珠玑东一网格", "珠玑东二网格"],
            "households": [240, 480, 350, 660],
            "buildings": [2, 1, 2, 1],
            "worker": ["王芳", None, "李强", "张伟"],
        },
        geometry=[box(X0 + i * W / 2, Y0, X0 + (i + 1) * W / 2, Y0 + H) for i in range(4)],
        crs=4326,
    )
    centres = [
        (0.0015, 0.0015),
        (0.0015, 0.0035),
        (0.0045, 0.0025),
        (0.0075, 0.0025),
        (0.0090, 0.0038),
        (0.0105, 0.0025),
    ]
    buildings = gpd.GeoDataFrame(
        {
            "use": ["住宅", "住宅", "商业", "住宅", "学校", "住宅"],
            "levels": [6, 18, 3, 11.0, 4, None],
            "households": [120, 120, 0, 350, 0, 660],
        },
        geometry=[
            box(X0 + dx - 4e-4, Y0 + dy - 1.5e-4, X0 + dx + 4e-4, Y0 + dy + 1.5e-4) for dx, dy in centres
        ],
        crs=4326,
    )
    return communities, grids, buildings


@pytest.fixture
def frames() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    return make_frames()


def render(m: folium.Map) -> str:
    return m.get_root().render()


#: our own script on every folium page (Leaflet's words in the page's language), loaded after the vendored files
LEAFLET_LANG = "/static/js/leaflet-lang.js"


def links(html: str) -> list[str]:
    """The vendored scripts and stylesheets a page loads (our own leaflet-lang.js left out)."""
    return [url for url in LINK.findall(html) if url != LEAFLET_LANG]


def appears(text: str, html: str) -> bool:
    """Text in the page as written, or as folium's JSON embedding writes it (\\uXXXX for non-ASCII, <>&')."""
    embedded = json.dumps(text)[1:-1]
    for char in "<>&'":
        embedded = embedded.replace(char, f"\\u{ord(char):04x}")
    return text in html or embedded in html


# --- assets -------------------------------------------------------------------------------------------------


def test_overview_loads_only_vendored_leaflet(frames):
    html = render(overview_map(*frames, tiles=None))

    urls = links(html)
    assert f"{PREFIX}/leaflet-1.9.4/leaflet.js" in urls
    assert f"{PREFIX}/leaflet-1.9.4/leaflet.css" in urls
    assert all(url.startswith(PREFIX + "/") for url in urls), urls
    # Leaflet's words in the page's language: after leaflet.js, before the map is made
    assert html.index(f"{PREFIX}/leaflet-1.9.4/leaflet.js") < html.index(LEAFLET_LANG) < html.index("L.map(")
    assert "cdn." not in html and "https://" not in html and "//code.jquery" not in html
    for url in urls:
        assert (VENDOR / url.removeprefix(PREFIX + "/")).is_file(), url


def test_every_local_asset_is_vendored_and_matches_the_readme_hash():
    readme = (VENDOR / "README.md").read_text(encoding="utf-8")
    recorded = {path: digest for digest, path in re.findall(r"^([0-9a-f]{64})  (\S+)$", readme, re.MULTILINE)}
    on_disk = {
        p.relative_to(VENDOR).as_posix() for p in VENDOR.rglob("*") if p.is_file() and p.name != "README.md"
    }
    assert on_disk == set(recorded), "README hash list and vendored files differ"
    for path, digest in recorded.items():
        assert hashlib.sha256((VENDOR / path).read_bytes()).hexdigest() == digest, path
    for name, relative in LOCAL_ASSETS.items():
        assert (STATIC_DIR / relative).is_file(), name
    assert not list(VENDOR.rglob("*.map")) and not list(VENDOR.rglob("src"))


def test_use_local_assets_changes_one_map_not_folium():
    class_js = list(folium.Map.default_js)
    m = use_local_assets(folium.Map(tiles=None), prefix="/assets/")

    assert m.default_js == [("leaflet", "/assets/leaflet-1.9.4/leaflet.js")]
    assert m.default_css == [("leaflet_css", "/assets/leaflet-1.9.4/leaflet.css")]
    assert folium.Map.default_js == class_js
    assert "cdn.jsdelivr.net/npm/leaflet" in render(folium.Map(tiles=None))


def test_use_local_assets_rewrites_plugins():
    m = folium.Map(tiles=None)
    plugins.MarkerCluster(locations=[(37.5, 121.4), (37.51, 121.41)]).add_to(m)
    plugins.HeatMap([(37.5, 121.4, 1.0)]).add_to(m)
    with warnings.catch_warnings():
        warnings.simplefilter("error", OnlineAssetWarning)
        html = render(use_local_assets(m))

    urls = links(html)
    for name in (
        "markerclusterjs",
        "markerclustercss",
        "markerclusterdefaultcss",
        "leaflet-heat.js",
        "leaflet",
    ):
        assert local_url(name) in urls
    assert all(url.startswith(PREFIX) for url in urls), urls


def test_use_local_assets_keeps_jquery_for_a_popup_and_says_so():
    m = folium.Map(tiles=None)
    folium.Marker((37.5, 121.4), popup="<b>hi</b>").add_to(m)  # folium.Popup fills itself with $(...)

    with pytest.warns(OnlineAssetWarning, match="jquery"):
        use_local_assets(m)

    urls = links(render(m))
    assert any("jquery" in url for url in urls)
    assert not any("bootstrap" in url or "fontawesome" in url for url in urls)


def test_use_local_assets_forgets_links_of_an_earlier_render():
    m = folium.Map(tiles=None)
    render(m)
    assert not any(url.startswith("http") for url in links(render(use_local_assets(m))))


def test_maps_imports_only_renderers_and_the_spatial_core():
    allowed = {"folium", "branca", "xyzservices", "geopandas", "shapely", "pandas", "jinja2", "markupsafe", "geo",
               "maps"}
    package = STATIC_DIR.parent
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top in allowed or top in sys.stdlib_module_names, f"{path.name} imports {name}"


def test_maps_modules_share_public_helpers_only():
    """maps/leaflet.py and maps/analytics/common.py are the shared helpers: no module imports another's _private
    names (neither ``from x import _y`` nor ``x._y`` on an imported module)."""
    package = STATIC_DIR.parent
    found = []
    for path in package.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        modules = {alias.asname or alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                   and node.module and node.module.split(".")[0] == "maps" for alias in node.names}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "maps":
                found += [f"{path.name}: {node.module}.{a.name}" for a in node.names if a.name.startswith("_")]
            elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules
                  and node.attr.startswith("_")):
                found.append(f"{path.name}: {node.value.id}.{node.attr}")
    assert found == []


# --- the overview map ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_legend_and_layer_names_are_in_the_chosen_language(frames, lang):
    html = render(overview_map(*frames, lang=lang, tiles=None))
    labels = LABELS[lang]

    legend = html[html.index('class="gp-legend"') :]
    for key in ("legend", "community_boundary", "buildings"):
        assert labels[key] in legend, key
    low_high = {"low": 300, "high": 500}
    for key in ("grid_households", "below", "within", "above"):
        assert labels[key].format(**low_high) in legend, key
    for key in ("communities", "grids", "buildings", "households"):
        assert appears(labels[key], html), key
    other = LABELS["en" if lang == "zh" else "zh"]
    assert other["community_boundary"] not in html


def test_every_community_name_and_grid_code_is_on_the_map(frames):
    communities, grids, _ = frames
    html = render(overview_map(*frames, tiles=None))

    for name in communities["name"]:
        assert appears(name, html), name
    for code in grids["code"]:
        assert code in html, code
    for worker in [*grids["worker"].dropna(), LABELS["zh"]["unassigned"]]:
        assert appears(worker, html), worker


def test_grids_are_coloured_by_the_household_range_given():
    assert [households_class(h, (300, 500)) for h in (299, 300, 500, 501, None, float("nan"))] == [
        "below",
        "within",
        "within",
        "above",
        "unknown",
        "unknown",
    ]


def test_legend_counts_follow_the_range_parameter(frames):
    html = render(overview_map(*frames, tiles=None, households_range=(200, 700), lang="en"))
    legend = html[html.index('class="gp-legend"') :]

    assert "Grid households (target 200–700)" in legend
    assert re.search(r"<span>200–700</span><span class=\"gp-count\">4</span>", legend)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_empty_inputs_give_a_map_with_a_message(lang):
    empty = gpd.GeoDataFrame({"name": [], "code": [], "households": []}, geometry=[], crs=4326)

    html = render(overview_map(empty, empty, tiles=None, lang=lang))

    assert LABELS[lang]["no_data"] in html
    assert "gridpatrol import" in html
    assert "L.map(" in html and "[35.0, 105.0]" in html
    assert links(html) == [f"{PREFIX}/leaflet-1.9.4/leaflet.js", f"{PREFIX}/leaflet-1.9.4/leaflet.css"]


def test_names_are_escaped_because_folium_tooltips_use_innerhtml(frames):
    communities, grids, buildings = frames
    communities.loc[0, "name"] = "<img src=x onerror=alert(1)>"

    html = render(overview_map(communities, grids, buildings, tiles=None))

    assert "<img src=x" not in html
    assert appears("&lt;img src=x onerror=alert(1)&gt;", html)


def test_other_crs_is_reprojected_and_missing_geometries_skipped(frames):
    communities, grids, buildings = frames
    buildings.loc[5, "geometry"] = None

    html = render(overview_map(communities.to_crs(3857), grids, buildings, tiles=None, lang="en"))

    assert re.search(r"<span>Buildings</span><span class=\"gp-count\">5</span>", html)
    assert "121.4" in html and "13514" not in html


def test_bad_frames_are_reported_together(frames):
    communities, grids, _ = frames

    with pytest.raises(GeoValidationError) as caught:
        overview_map(
            communities.drop(columns="name").set_crs(None, allow_override=True), grids.drop(columns="code")
        )

    kinds = {(p.kind, p.field) for p in caught.value.problems}
    assert kinds == {("crs", "communities"), ("column", "communities.name"), ("column", "grids.code")}


def test_bad_options_are_refused(frames):
    with pytest.raises(ValueError, match="lang"):
        overview_map(*frames, lang="fr")
    with pytest.raises(ValueError, match="households_range"):
        overview_map(*frames, households_range=(500, 300))
    with pytest.raises(ValueError, match="buildings_url"):
        overview_map(*frames, buildings_url="/api/buildings")


def test_buildings_url_is_fetched_by_bounding_box_instead_of_embedded(frames):
    communities, grids, _ = frames

    html = render(overview_map(communities, grids, buildings_url="/api/buildings", tiles=None))

    assert '"/api/buildings"' in html and "bbox=" in html and "limit = 5000" in html
    assert "住宅" not in html and appears(LABELS["zh"]["zoom_for_buildings"].format(zoom=15), html)


# --- in Chromium --------------------------------------------------------------------------------------------


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A folder served on 127.0.0.1 (random port) with a copy of maps/static: /static/vendor/... resolves."""
    shutil.copytree(STATIC_DIR, tmp_path / "static")
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield tmp_path, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def browser_page():
    """A Chromium page that cannot reach anything but 127.0.0.1; yields (page, page_errors, blocked_urls)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    errors: list[str] = []
    blocked: list[str] = []

    def offline(route) -> None:
        if urlparse(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort("internetdisconnected")

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 800}, device_scale_factor=1)
            context.route("**/*", offline)
            page = context.new_page()
            page.on("pageerror", lambda error: errors.append(str(error)))
            yield page, errors, blocked
        finally:
            browser.close()


PATHS = "document.querySelectorAll('path.leaflet-interactive').length"


@pytest.mark.browser
def test_overview_draws_offline_in_chromium(frames, site, browser_page):
    communities, grids, buildings = frames
    root, base = site
    page, errors, blocked = browser_page
    m = overview_map(communities, grids, buildings, tiles=None)
    (root / "overview.html").write_text(render(m), encoding="utf-8")

    page.goto(f"{base}/overview.html")
    expected = len(communities) + len(grids) + len(buildings)
    page.wait_for_function(f"{PATHS} >= {expected}", timeout=10_000)

    assert page.evaluate("typeof L !== 'undefined'")
    assert page.evaluate(PATHS) == expected
    assert page.locator(".gp-legend").is_visible()
    assert page.locator(".leaflet-control-layers").is_visible()
    assert page.locator(".leaflet-control-scale").is_visible()
    # Hovering inside a grid (away from buildings) reaches the grid through the community pane above it.
    point = page.evaluate(f"{m.get_name()}.latLngToContainerPoint([{Y0 + 0.0008}, {X0 + 0.0045}])")
    page.mouse.move(point["x"], point["y"])
    page.wait_for_selector(".leaflet-tooltip.gp-tooltip", timeout=5_000)
    assert grids.loc[1, "code"] in page.locator(".leaflet-tooltip").inner_text()
    page.mouse.move(5, 400)

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "overview.png"))
    assert errors == []
    assert blocked == []


@pytest.mark.browser
def test_buildings_url_layer_loads_at_zoom_15_and_clears_below(frames, site, browser_page):
    communities, grids, buildings = frames
    root, base = site
    page, errors, blocked = browser_page
    (root / "api").mkdir()
    (root / "api" / "buildings").write_text(
        buildings.to_json(), encoding="utf-8"
    )  # http.server ignores the query
    m = overview_map(communities, grids, tiles=None, buildings_url="/api/buildings", lang="en")
    (root / "overview.html").write_text(render(m), encoding="utf-8")
    requests: list[str] = []
    page.on(
        "request", lambda request: requests.append(request.url) if "/api/buildings" in request.url else None
    )

    page.goto(f"{base}/overview.html")
    everything = len(communities) + len(grids) + len(buildings)
    page.wait_for_function(f"{PATHS} == {everything}", timeout=10_000)
    assert page.evaluate(f"{m.get_name()}.getZoom()") >= 15

    query = parse_qs(urlparse(requests[-1]).query)
    minx, miny, maxx, maxy = map(float, query["bbox"][0].split(","))
    assert query["limit"] == ["5000"]
    assert minx < X0 + 0.001 and maxx > X0 + 2 * W - 0.001 and miny < Y0 + 0.001 and maxy > Y0 + H - 0.001

    page.evaluate(f"{m.get_name()}.setZoom(14, {{animate: false}})")
    page.wait_for_function(f"{PATHS} == {len(communities) + len(grids)}", timeout=10_000)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "overview-buildings-url-z14.png"))
    assert errors == []
    assert blocked == []


@pytest.mark.browser
def test_geojson_popup_tooltip_layers_and_scale_need_only_leaflet(frames, site, browser_page):
    communities, _, _ = frames
    root, base = site
    page, errors, blocked = browser_page
    m = folium.Map(tiles=None, control_scale=True)
    folium.GeoJson(
        communities[["name", "geometry"]],
        name="communities",
        tooltip=folium.GeoJsonTooltip(["name"]),
        popup=folium.GeoJsonPopup(["name"]),
    ).add_to(m)
    folium.LayerControl().add_to(m)
    minx, miny, maxx, maxy = communities.total_bounds
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    with warnings.catch_warnings():
        warnings.simplefilter("error", OnlineAssetWarning)
        use_local_assets(m)
    html = render(m)
    assert links(html) == [f"{PREFIX}/leaflet-1.9.4/leaflet.js", f"{PREFIX}/leaflet-1.9.4/leaflet.css"]
    (root / "plain.html").write_text(html, encoding="utf-8")

    page.goto(f"{base}/plain.html")
    page.wait_for_function(f"{PATHS} == {len(communities)}", timeout=10_000)
    point = page.evaluate(f"{m.get_name()}.latLngToContainerPoint([{Y0 + H / 2}, {X0 + W / 2}])")
    page.mouse.click(point["x"], point["y"])
    page.wait_for_selector(".leaflet-popup-content", timeout=5_000)

    assert communities.loc[0, "name"] in page.locator(".leaflet-popup-content").inner_text()
    assert page.locator(".leaflet-control-scale").is_visible()
    assert page.locator(".leaflet-control-layers").is_visible()
    assert errors == []
    assert blocked == []
