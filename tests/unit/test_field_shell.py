"""The field app's shell as served: configuration filled in, service worker versioned by content and configuration."""

from __future__ import annotations

import json
import re

from maps import field as F
from maps.fingerprint import BARE


def _config(html: str) -> dict:
    found = re.search(r'<script id="gp-config" type="application/json">(.*?)</script>', html, re.DOTALL)
    return json.loads(found.group(1))


def test_tiles_from_a_url_a_folium_name_or_nothing():
    url = "https://webrd0{s}.is.autonavi.com/appmaptile?x={x}&y={y}&z={z}&style=8"
    assert F.tiles_config(url, "© 高德") == {"url": url, "attribution": "© 高德"}
    osm = F.tiles_config("OpenStreetMap")
    assert osm["url"] == "https://tile.openstreetmap.org/{z}/{x}/{y}.png" and "OpenStreetMap" in osm["attribution"]
    assert F.tiles_config(None) is None and F.tiles_config("") is None
    assert F.tiles_config("no such provider") is None


def test_page_carries_the_configuration_and_a_version_that_follows_it():
    a = {"lang": "zh", "tiles": None, "datum": "wgs84"}
    b = dict(a, datum="gcj02")
    page = F.index_html(dict(a, lang="en</script><script>alert(1)"))
    assert "</script><script>alert(1)" not in page  # a configured value cannot close the script element
    assert _config(page)["lang"] == "en</script><script>alert(1)"
    cfg = _config(F.index_html(a))
    assert cfg["lang"] == "zh" and cfg["datum"] == "wgs84" and cfg["version"] == F.version(a)
    assert F.version(a) != F.version(b)
    sw_a, sw_b = F.service_worker(a), F.service_worker(b)
    assert json.dumps(F.version(a)) in sw_a and json.dumps(F.version(b)) in sw_b
    shell = json.loads(re.search(r"const SHELL = (\[.*?\]);", sw_a).group(1))
    assert shell == list(F.SHELL)
    for path in shell:  # every file the service worker caches exists
        if path.startswith("/app/") and path not in ("/app/", "/app/manifest.webmanifest"):
            assert (F.FIELD_DIR / path.removeprefix("/app/")).is_file(), path
        elif path.startswith("/static/"):
            from maps.assets import STATIC_DIR

            assert (STATIC_DIR / path.removeprefix("/static/")).is_file(), path


def test_manifest_in_both_languages():
    zh, en = F.manifest("zh"), F.manifest("en")
    assert zh["short_name"] == "网格通" and zh["lang"] == "zh-CN" and en["lang"] == "en"
    assert zh["start_url"] == zh["scope"] == "/app/" and zh["display"] == "standalone"


IMPORT = re.compile(r"""^import\s.*?\sfrom\s+'([^']+)';""", re.MULTILINE | re.DOTALL)


def _module_graph() -> dict[str, list[str]]:
    """{module path as served: the paths it imports}, from the entry /app/app.js."""
    graph: dict[str, list[str]] = {}
    todo = ["/app/app.js"]
    while todo:
        path = todo.pop()
        if path in graph:
            continue
        folder, prefix = (F.FIELD_DIR, "/app/") if path.startswith("/app/") else (F.STATIC_DIR, "/static/")
        text = (folder / path.removeprefix(prefix)).read_text(encoding="utf-8")
        specs = [BARE.get(t, t) for t in IMPORT.findall(text)]  # a vendored package's bare import: its file
        graph[path] = [t if t.startswith("/") else prefix + t.removeprefix("./") for t in specs]
        todo.extend(graph[path])
    return graph


def test_the_shell_holds_every_module_the_app_imports():
    """Offline the service worker serves only the shell: a module imported but not cached would break the app."""
    seen = set(_module_graph())
    assert len(seen) > 10  # the entry module and its modules were found
    assert seen <= set(F.SHELL), sorted(seen - set(F.SHELL))
    assert {p.removeprefix("/app/") for p in seen if p.startswith("/app/")} == set(F.MODULES)
    page = F.index_html({"lang": "zh", "tiles": None, "datum": "wgs84"})
    assert '<script type="module" src="/app/app.js"></script>' in page


def test_the_app_modules_import_one_way():
    """No import cycles among the app's modules: state.js at the bottom, app.js (the wiring) at the top."""
    graph = _module_graph()
    assert "/app/state.js" in graph["/app/tasks.js"] and graph["/app/texts.js"] == []
    done: set[str] = set()

    def visit(path: str, stack: tuple[str, ...]) -> None:
        assert path not in stack, " -> ".join((*stack, path))
        if path in done:
            return
        for target in graph[path]:
            visit(target, (*stack, path))
        done.add(path)

    visit("/app/app.js", ())
    assert not any("/app/app.js" in targets for targets in graph.values())
