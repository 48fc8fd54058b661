"""The grid worker's phone app (网格通), served at ``/app/``: page, scripts, service worker and manifest.

The files live in ``maps/field/``. This module fills in what depends on the deployment — the basemap (a folium /
xyzservices name or a URL template, and its datum), the default language — and versions the service worker by the
content of the shell, so a phone picks up a new release the next time it is online and keeps the old one until then.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import xyzservices.providers as xyz

FIELD_DIR: Path = Path(__file__).resolve().parent / "field"
STATIC_DIR: Path = Path(__file__).resolve().parent / "static"
MODULES: tuple[str, ...] = (
    "app.js", "state.js", "texts.js", "auth.js", "store.js", "ui.js", "map.js", "patrol.js", "tasks.js", "due.js",
    "report.js", "visits.js", "inspect.js", "checklist.js", "shop.js", "outbox.js", "mine.js", "dupes.js",
    "selfhandle.js", "footprints.js", "exif.js", "offline.js",
)
"""The app's ES modules in maps/field (app.js is the entry; no build step)."""
SHARED_MODULES: tuple[str, ...] = (
    "/static/js/datum.js", "/static/js/html.js", "/static/js/i18n.js", "/static/js/basemap.js",
    "/static/vendor/pbf-5.2.1/index.js", "/static/vendor/vector-tile-3.0.0/index.js",
    "/static/vendor/point-geometry-1.1.0/index.js",
)
"""The ES modules the app shares with the other pages (datum conversion, HTML escaping, texts, our basemap and the
vendored tile decoders it imports)."""
_JS = "text/javascript; charset=utf-8"
ASSETS: dict[str, str] = {  # file in maps/field -> media type
    **dict.fromkeys(MODULES, _JS),
    "app.css": "text/css; charset=utf-8",
    "icon-192.png": "image/png",
    "icon-512.png": "image/png",
}
_LEAFLET = "/static/vendor/leaflet-1.9.4"
SHELL: tuple[str, ...] = (
    "/app/", *(f"/app/{name}" for name in MODULES), "/app/app.css", "/app/manifest.webmanifest", "/app/icon-192.png",
    "/app/icon-512.png", f"{_LEAFLET}/leaflet.js", f"{_LEAFLET}/leaflet.css", f"{_LEAFLET}/images/marker-icon.png",
    f"{_LEAFLET}/images/marker-icon-2x.png", f"{_LEAFLET}/images/marker-shadow.png", f"{_LEAFLET}/images/layers.png",
    *SHARED_MODULES, "/static/js/leaflet-lang.js",
)
"""What the service worker caches on install: the app opens offline from these (every module it imports)."""
UNVERSIONED: frozenset[str] = frozenset({
    "/app/", "/app/manifest.webmanifest", *(p for p in SHELL if p.startswith(f"{_LEAFLET}/images/"))})
"""Shell entries asked for by their plain URL (the page, the manifest, the images Leaflet's CSS and script name);
every other one is asked for, and so cached, by its content-hashed URL (:mod:`maps.fingerprint`)."""


OWN_BASEMAP = "gridpatrol"
"""``GRIDPATROL_TILES`` of our own basemap: the vector tiles served at /tiles/, drawn by static/js/basemap.js."""


def own_basemap(tiles: str | None) -> bool:
    """Whether ``GRIDPATROL_TILES`` names our own basemap."""
    return bool(tiles) and tiles.strip().lower() == OWN_BASEMAP  # type: ignore[union-attr]


def tiles_config(tiles: str | None, attribution: str | None = None, *, version: int | None = None) -> dict | None:
    """A Leaflet tile layer for ``GRIDPATROL_TILES``: our own vector tiles (``gridpatrol``: kind ``vector``, the URL
    carries the map ``version`` so a new map is fetched anew), a URL template as given, or a folium / xyzservices
    name (``OpenStreetMap``, ``CartoDB positron`` …) resolved to its URL; None for no basemap."""
    if not tiles:
        return None
    if own_basemap(tiles):
        return {"kind": "vector", "url": f"/tiles/{{z}}/{{x}}/{{y}}.pbf?v={version or 1}",
                "attribution": attribution or "", "minzoom": 10, "maxzoom": 18}
    if "{z}" in tiles or "{x}" in tiles:
        return {"url": tiles, "attribution": attribution or ""}
    name = {"openstreetmap": "OpenStreetMap.Mapnik"}.get(tiles.strip().lower(), tiles)
    try:
        provider = xyz.query_name(name)
    except ValueError:
        return None
    return {"url": provider.build_url(), "attribution": attribution or provider.html_attribution}


@lru_cache(maxsize=1)
def _shell_digest() -> str:
    h = hashlib.sha256()
    for name in ("index.html", "sw.js", *ASSETS):
        h.update((FIELD_DIR / name).read_bytes())
    for path in SHARED_MODULES:
        h.update((STATIC_DIR / path.removeprefix("/static/")).read_bytes())
    return h.hexdigest()


def version(config: dict) -> str:
    """Changes whenever a shell file or the deployment's configuration changes."""
    return hashlib.sha256((_shell_digest() + json.dumps(config, sort_keys=True)).encode()).hexdigest()[:16]


def index_html(config: dict) -> str:
    text = (FIELD_DIR / "index.html").read_text(encoding="utf-8")
    data = json.dumps(dict(config, version=version(config)), ensure_ascii=False).replace("</", "<\\/")
    return text.replace("__CONFIG__", data)


def shell(url: Callable[[str], str] = str) -> list[str]:
    """:data:`SHELL` as the page asks for it: ``url`` (the content-hashed URL of a file) applied to the versioned
    entries."""
    return [path if path in UNVERSIONED else url(path) for path in SHELL]


def service_worker(config: dict, url: Callable[[str], str] = str) -> str:
    """The service worker, precaching :func:`shell` (``url``: the hashed URL of a file, as the pages name it)."""
    text = (FIELD_DIR / "sw.js").read_text(encoding="utf-8")
    return text.replace("'__VERSION__'", json.dumps(version(config))).replace("__SHELL__", json.dumps(shell(url)))


def manifest(lang: str = "zh") -> dict:
    zh = lang != "en"
    return {
        "name": "网格通 · gridpatrol" if zh else "gridpatrol field app",
        "short_name": "网格通" if zh else "gridpatrol",
        "description": ("网格员巡查、上报、任务（离线可用）" if zh
                        else "Patrol, report and tasks for grid workers (works offline)"),
        "lang": "zh-CN" if zh else "en",
        "start_url": "/app/",
        "scope": "/app/",
        "display": "standalone",
        "orientation": "portrait",
        "background_color": "#f4f6f8",
        "theme_color": "#1565c0",
        "icons": [{"src": "/app/icon-192.png", "sizes": "192x192", "type": "image/png", "purpose": "any"},
                  {"src": "/app/icon-512.png", "sizes": "512x512", "type": "image/png", "purpose": "any maskable"}],
    }
