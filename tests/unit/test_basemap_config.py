"""Our own basemap in the pages' configuration: GRIDPATROL_TILES=gridpatrol (the default) means the vector tiles of
/tiles/ with the map version in their URL, drawn in WGS-84; a folium page gets it through a module whose imports
(the vendored decoders, one by a bare package name) are in the page's import map."""

from __future__ import annotations

import json
import re

import geopandas as gpd
from shapely.geometry import box

from maps import field as F
from maps.assets import use_local_assets
from maps.fingerprint import SITE
from maps.leaflet import base_map
from patrol.core.settings import Settings


def test_gridpatrol_tiles_are_ours_by_default_versioned_and_never_shifted():
    assert Settings().tiles == F.OWN_BASEMAP
    assert Settings(tiles="gridpatrol", tiles_datum="gcj02").tiles_datum == "wgs84"
    assert Settings(tiles="https://a/{z}/{x}/{y}.png", tiles_datum="gcj02").tiles_datum == "gcj02"
    cfg = F.tiles_config("gridpatrol", "© OpenStreetMap contributors", version=7)
    assert cfg == {"kind": "vector", "url": "/tiles/{z}/{x}/{y}.pbf?v=7", "attribution": "© OpenStreetMap contributors",
                   "minzoom": 10, "maxzoom": 18}


def test_a_folium_page_draws_our_basemap_through_a_module_and_its_import_map():
    frame = gpd.GeoDataFrame({"name": ["x"]}, geometry=[box(7.41, 43.72, 7.43, 43.74)], crs=4326)
    m = use_local_assets(base_map([frame], "gridpatrol", "摩纳哥"))
    html = SITE.rewrite_html(m.get_root().render())
    assert "tile.openstreetmap.org" not in html and "L.tileLayer" not in html  # no online basemap
    config = re.search(r'<div hidden class="gp-basemap-config" data-map="(map_\w+)"\s+data-attribution="([^"]*)"', html)
    assert config and config.group(2) == "摩纳哥" and f"var {config.group(1)} = L.map(" in html
    assert re.search(r'<script type="module" src="/static/js/basemap-folium.js\?v=\w{8}"></script>', html)
    imports = json.loads(re.search(r'<script type="importmap">(.*?)</script>', html).group(1))["imports"]
    assert {"/static/js/basemap.js", "/static/vendor/vector-tile-3.0.0/index.js", "/static/vendor/pbf-5.2.1/index.js",
            "@mapbox/point-geometry"} <= set(imports)
    assert imports["@mapbox/point-geometry"].startswith("/static/vendor/point-geometry-1.1.0/index.js?v=")
