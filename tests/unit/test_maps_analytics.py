"""The analysis maps of maps.analytics, as rendered HTML (the same pages in Chromium: tests/browser)."""

from __future__ import annotations

import json
import math
import re
import warnings
from typing import Any

import folium
import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import LineString, Point, box

from geo.crs import wgs84_to_gcj02
from geo.errors import GeoValidationError
from maps.analytics import (
    BIN_COLOURS,
    LABELS,
    PATTERN_COLOURS,
    STATUS_COLOURS,
    cases_map,
    coverage_map,
    grids_map,
    heatmap_map,
    hotspot_map,
)
from maps.assets import STATIC_DIR, OnlineAssetWarning

X0, Y0 = 120.38, 36.06  # Qingdao, where the GCJ-02 offset is ≈ 300–500 m
D = 0.002  # ≈ 180 m east-west, 220 m north-south
LINK = re.compile(r"<(?:script|link)\b[^>]*?\b(?:src|href)=\"([^\"]+)\"")
CASES_JS = "/static/js/gridpatrol-cases.js"


# --- frames -------------------------------------------------------------------------------------------------


def make_cases() -> gpd.GeoDataFrame:
    """12 cases in three categories around two spots, 4 closed, 3 overdue."""
    rows = [
        # category, status, severity, overdue, dx, dy
        ("garbage", "dispatched", 3, True, 0.0010, 0.0010),
        ("garbage", "accepted", 4, False, 0.0012, 0.0009),
        ("garbage", "closed", 2, False, 0.0009, 0.0013),
        ("garbage", "reported", 5, True, 0.0011, 0.0011),
        ("garbage", "handled", 1, False, 0.0014, 0.0012),
        ("parking", "dispatched", 2, False, 0.0040, 0.0030),
        ("parking", "closed", 3, False, 0.0042, 0.0031),
        ("parking", "suspended", 4, True, 0.0041, 0.0028),
        ("parking", "rejected", 1, False, 0.0044, 0.0029),
        ("manhole", "registered", 5, False, 0.0025, 0.0050),
        ("manhole", "verified", 3, False, 0.0027, 0.0052),
        ("manhole", "closed", 2, False, 0.0060, 0.0010),
    ]
    return gpd.GeoDataFrame(
        {
            "category": [r[0] for r in rows],
            "status": [r[1] for r in rows],
            "severity": [r[2] for r in rows],
            "overdue": [r[3] for r in rows],
        },
        geometry=[Point(X0 + r[4], Y0 + r[5]) for r in rows],
        crs=4326,
    )


CATEGORY_NAMES = {"garbage": "垃圾堆放", "parking": "乱停车", "manhole": "井盖缺失"}


def make_cells() -> gpd.GeoDataFrame:
    """A 4 × 3 lattice of square cells with one cell in every Gi_Bin, and emerging patterns."""
    bins = [3, 3, 2, 1, 0, 0, 0, -1, -2, -3, 0, 0]
    patterns = [
        "New Hot Spot",
        "Persistent Hot Spot",
        "Intensifying Hot Spot",
        "Sporadic Hot Spot",
        "No Pattern Detected",
        None,
        "Oscillating Cold Spot",
        "Diminishing Cold Spot",
        "Consecutive Cold Spot",
        "Persistent Cold Spot",
        "No Pattern Detected",
        "Historical Hot Spot",
    ]
    z = [3.1, 2.9, 2.2, 1.7, 0.4, -0.2, 0.1, -1.8, -2.1, -2.8, 0.0, 0.9]
    return gpd.GeoDataFrame(
        {
            "bin": bins,
            "count": [40, 35, 22, 15, 8, 6, 5, 2, 1, 0, 7, 9],
            "z": z,
            "p_fdr": [0.0004, 0.006, 0.04, 0.09, 0.7, 0.8, 0.9, 0.08, 0.04, 0.008, 1.0, 0.4],
            "pattern": patterns,
        },
        geometry=[
            box(X0 + (i % 4) * D, Y0 + (i // 4) * D, X0 + (i % 4 + 1) * D, Y0 + (i // 4 + 1) * D)
            for i in range(12)
        ],
        crs=4326,
    )


def make_coverage() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    grids = gpd.GeoDataFrame(
        {
            "code": ["370202001001001", "370202001001002", "370202001001003"],
            "name": ["一网格", "二网格", "三网格"],
            "coverage_pct": [92.5, 47.0, None],
            "building_pct": [100.0, 50.0, None],
        },
        geometry=[box(X0 + i * D, Y0, X0 + (i + 1) * D, Y0 + D) for i in range(3)],
        crs=4326,
    )
    y = Y0 + D / 2
    segments = gpd.GeoDataFrame(
        {
            "covered": [True, True, False, False, True],
            "name": ["香港中路", "香港中路", "福州路", "南京路", None],
        },
        geometry=[
            LineString([(X0 + 0.0001, y), (X0 + D, y)]),
            LineString([(X0 + D, y), (X0 + 1.4 * D, y)]),
            LineString([(X0 + 1.4 * D, y), (X0 + 2 * D - 0.0001, y)]),
            LineString([(X0 + 1.5 * D, Y0 + 0.0001), (X0 + 1.5 * D, Y0 + D - 0.0001)]),
            LineString([(X0 + 0.5 * D, Y0 + 0.0001), (X0 + 0.5 * D, Y0 + D - 0.0001)]),
        ],
        crs=4326,
    )
    buildings = gpd.GeoDataFrame(
        {"covered": [True, True, False, True, False], "use": ["住宅", "住宅", "商业", "学校", "住宅"]},
        geometry=[
            box(X0 + dx, Y0 + dy, X0 + dx + 0.0004, Y0 + dy + 0.0003)
            for dx, dy in [
                (0.0003, 0.0003),
                (0.0012, 0.0013),
                (0.0032, 0.0013),
                (0.0022, 0.0003),
                (0.0047, 0.0014),
            ]
        ],
        crs=4326,
    )
    tracks = gpd.GeoDataFrame(
        {
            "worker": ["王芳"],
            "started": [pd.Timestamp("2026-03-02 08:30")],
            "ended": [pd.Timestamp("2026-03-02 10:05")],
            "length_m": [2350.0],
        },
        geometry=[
            LineString(
                [
                    (X0 + 0.0001, y + 0.00005),
                    (X0 + 1.4 * D, y + 0.00005),
                    (X0 + 0.5 * D, Y0 + D - 0.0002),
                    (X0 + 0.5 * D, Y0 + 0.0002),
                ]
            )
        ],
        crs=4326,
    )
    return grids, segments, buildings, tracks


def make_grids() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "code": ["370202001001001", "370202001001002", "370202001002001", "370202001002002"],
            "name": ["海港一网格", "海港二网格", "海港三网格", "海港四网格"],
            "households": [320, 410, 505, 280],
            "worker": ["王芳", None, "李强", "张伟"],
        },
        geometry=[
            box(X0 + (i % 2) * D, Y0 + (i // 2) * D, X0 + (i % 2 + 1) * D, Y0 + (i // 2 + 1) * D)
            for i in range(4)
        ],
        crs=4326,
    )


ROUTE = {
    "type": "LineString",
    "coordinates": [[X0 + 0.0005, Y0 + 0.0005], [X0 + 0.002, Y0 + 0.0008], [X0 + 0.004, Y0 + 0.003]],
}
BOUNDS = (X0, Y0, X0 + 4 * D, Y0 + 3 * D)


def render_all(lang: str = "zh", datum: str = "wgs84", tiles: str | None = None) -> dict[str, str]:
    """Every map of the module rendered from the frames above."""
    options = {"lang": lang, "datum": datum, "tiles": tiles}
    maps = {
        "heatmap": heatmap_map(make_cases(), category_labels=CATEGORY_NAMES, **options),
        "hotspot": hotspot_map(make_cells(), **options),
        "coverage": coverage_map(*make_coverage(), **options),
        "cases": cases_map(bounds=BOUNDS, data_url="/api/v1/cases/map?grid=7", route=ROUTE, **options),
        "grids": grids_map(make_grids(), **options),
    }
    return {name: render(m) for name, m in maps.items()}


def render(m: folium.Map) -> str:
    return m.get_root().render()


def appears(text: str, html: str) -> bool:
    """Text in the page as written or as JSON (\\uXXXX for non-ASCII) — folium writes names both ways."""
    embedded = json.dumps(text)[1:-1]
    for char in "<>&'":
        embedded = embedded.replace(char, f"\\u{ord(char):04x}")
    return text in html or embedded in html


def legend(html: str) -> str:
    return html[html.index('class="gp-legend"') :]


def overlays(html: str) -> dict[str, str]:
    """Layer control entries: name -> JS variable."""
    block = html[html.index("overlays :") :]
    block = block[: block.index("},")]
    return {json.loads(name): var for name, var in re.findall(r'("(?:[^"\\]|\\.)*")\s*:\s*(\w+),', block)}


def geojson_data(html: str) -> dict[str, dict[str, Any]]:
    """JS variable -> the GeoJSON FeatureCollection folium embedded for it."""
    return {var: json.loads(data) for var, data in re.findall(r"(geo_json_\w+)_add\((\{.*\})\);", html)}


def layer_features(html: str) -> dict[str, list[dict[str, Any]]]:
    """Layer control name -> the features of that GeoJSON layer."""
    data = geojson_data(html)
    return {name: data[var]["features"] for name, var in overlays(html).items() if var in data}


def heat_data(html: str) -> dict[str, list[list[float]]]:
    """Layer control name -> the points of that heat layer."""
    points = {
        var: json.loads(data)
        for var, data in re.findall(r"var (heat_map_\w+) = L\.heatLayer\(\s*(\[.*\]),", html)
    }
    return {name: points[var] for name, var in overlays(html).items() if var in points}


def by_prefix(features: dict[str, Any], prefix: str) -> Any:
    (key,) = [k for k in features if k.startswith(prefix)]
    return features[key]


# --- assets -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_map_loads_only_local_files(lang):
    with warnings.catch_warnings():
        warnings.simplefilter("error", OnlineAssetWarning)
        pages = render_all(lang=lang, tiles="OpenStreetMap")

    for name, html in pages.items():
        urls = LINK.findall(html)
        assert urls[:2] == [
            "/static/vendor/leaflet-1.9.4/leaflet.js",
            "/static/vendor/leaflet-1.9.4/leaflet.css",
        ]
        assert all(url.startswith("/static/") for url in urls), (name, urls)
        assert not re.search(r"<(?:script|link)\b[^>]*(?:src|href)=\"(?:https?:)?//", html), name
        for url in urls:
            assert (STATIC_DIR / url.removeprefix("/static/")).is_file(), url
        assert "L.map(" in html and "control_scale" not in html  # the scale bar is an L.control.scale
        assert "L.control.scale" in html, name
        assert "L.control.layers" in html, name
        assert '"animate": false' in html, name  # see test_coverage_paths_are_not_clipped in tests/browser
        assert 'class="gp-legend"' in html, name
    assert LINK.findall(pages["heatmap"])[2:] == [
        "/static/vendor/leaflet.heat-0.2.0/leaflet-heat.js",
        "/static/js/gridpatrol-heat.js",
        "/static/js/leaflet-lang.js",  # Leaflet's words in the page's language (maps.assets)
    ]
    assert LINK.findall(pages["cases"])[2:] == [CASES_JS, "/static/css/gridpatrol-cases.css",
                                                "/static/js/leaflet-lang.js"]


def test_static_prefix_moves_every_link():
    html = render(cases_map(bounds=BOUNDS, data_url="/d", tiles=None, static_prefix="/assets/"))

    assert LINK.findall(html) == [
        "/assets/vendor/leaflet-1.9.4/leaflet.js",
        "/assets/vendor/leaflet-1.9.4/leaflet.css",
        "/assets/js/gridpatrol-cases.js",
        "/assets/css/gridpatrol-cases.css",
        "/assets/js/leaflet-lang.js",
    ]


# --- heat map -----------------------------------------------------------------------------------------------


def test_heatmap_has_one_layer_for_all_and_one_per_category_weighted_by_severity():
    html = render(heatmap_map(make_cases(), tiles=None, category_labels=CATEGORY_NAMES))
    layers = heat_data(html)

    assert set(layers) == {"全部案件 (12)", "类别：垃圾堆放 (5)", "类别：乱停车 (4)", "类别：井盖缺失 (3)"}
    everything = layers["全部案件 (12)"]
    assert len(everything) == 12
    # [lat, lon, severity / max severity], and one flag per case: 1 if open + 2 if overdue
    assert everything[0] == [pytest.approx(Y0 + 0.001), pytest.approx(X0 + 0.001), 0.6]
    assert sorted(p[2] for p in everything) == sorted(s / 5 for s in make_cases()["severity"])
    assert '"310311030110"' in html and '"31031"' in html
    # only "all cases" is on at first; categories wait to be ticked
    added = set(re.findall(r"(heat_map_\w+)\.addTo\(", html))
    names = {var: name for name, var in overlays(html).items()}
    assert {names[var] for var in added} == {"全部案件 (12)"}
    # open / closed / overdue-only switches are empty feature groups in the control
    assert {"未结案 (8)", "已结案 (4)", "仅看超期案件 (3)"} <= set(overlays(html))
    options = html[html.index("L.heatLayer(") :]
    options = options[: options.index(");")]
    assert '"maxZoom"' not in options  # it would grey out the layer control
    assert "L.gridpatrolHeat.autoMax(" in html and "L.gridpatrolHeat.filter(" in html


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_heatmap_legend_explains_the_weights(lang):
    html = render(heatmap_map(make_cases(), tiles=None, lang=lang))
    labels = LABELS[lang]

    text = legend(html)
    assert labels["heat_title"] in text
    assert labels["heat_weight"].format(column=labels["column:severity"], low=1, high=5) in text
    for key in ("open", "closed", "overdue", "heat_low", "heat_high"):
        assert labels[key] in text, key
    assert re.search(rf"<span>{labels['open']}</span><span class=\"gp-count\">8</span>", text)
    other = LABELS["en" if lang == "zh" else "zh"]
    assert other["heat_title"] not in html


def test_heatmap_without_weights_and_with_missing_severities():
    cases = make_cases()
    html = render(heatmap_map(cases, tiles=None, weight_column=None, lang="en"))
    assert {p[2] for p in heat_data(html)["All cases (12)"]} == {1.0}
    assert "Every case weighs the same" in legend(html)

    cases["severity"] = cases["severity"].astype(float)
    cases.loc[0, "severity"] = None
    points = heat_data(render(heatmap_map(cases, tiles=None, lang="en")))["All cases (12)"]
    assert points[0][2] == pytest.approx(0.2)  # a missing weight counts as the smallest present


# --- hot spots ----------------------------------------------------------------------------------------------


def test_hotspot_cells_are_coloured_by_gi_bin_with_tooltips():
    cells = make_cells()
    html = render(hotspot_map(cells, tiles=None))
    layers = layer_features(html)

    features = layers["冷热点 (12)"]
    assert len(features) == 12
    assert [f["properties"]["gp_bin"] for f in features] == cells["bin"].tolist()
    first = features[0]["properties"]
    assert first["confidence"] == "热点 99% 置信度" and first["count"] == "40"
    assert first["z"] == "3.10" and first["p_fdr"] == "&lt; 0.001"
    for b in (3, 2, 1, -1, -2, -3):
        assert f'"fillColor": "{BIN_COLOURS[b]}"' in html, b
    assert '"fillOpacity": 0.15' in html  # not significant stays faint


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_hotspot_legends_name_bins_and_patterns(lang):
    html = render(hotspot_map(make_cells(), tiles=None, lang=lang))
    labels = LABELS[lang]

    text = legend(html)
    for b in (3, 2, 1, 0, -1, -2, -3):
        assert labels[f"bin_{b}"] in text, b
    assert re.search(rf"<span>{re.escape(labels['bin_0'])}</span><span class=\"gp-count\">5</span>", text)
    names = ["New Hot Spot", "Persistent Hot Spot", "Historical Hot Spot", "Oscillating Cold Spot"]
    for name in names:
        assert labels[f"pattern:{name}"] in text, name
    assert "New Cold Spot" not in text and labels["pattern:New Cold Spot"] not in text  # absent patterns
    if lang == "zh":
        assert "热点 99% 置信度" in text and "冷点 99% 置信度" in text and "不显著" in text
        assert "新增热点" in text and "持续冷点" in text and "无显著模式" in text


def test_hotspot_pattern_layer_is_a_second_layer_off_at_first():
    html = render(hotspot_map(make_cells(), tiles=None))
    layers = layer_features(html)
    var = overlays(html)["时空热点模式"]

    patterns = [f["properties"]["gp_pattern"] for f in layers["时空热点模式"]]
    assert patterns[:2] == ["New Hot Spot", "Persistent Hot Spot"] and patterns[5] == "No Pattern Detected"
    assert f"{var}.addTo(" not in html
    assert f'"fillColor": "{PATTERN_COLOURS["Persistent Cold Spot"]}"' in html


def test_hotspot_emerging_argument_takes_names_or_codes():
    cells = make_cells().drop(columns="pattern")
    assert "时空热点模式" not in overlays(render(hotspot_map(cells, tiles=None)))

    codes = [1, 4, 3, 6, 0, 0, -7, -5, -2, -4, 0, 8]
    html = render(hotspot_map(cells, tiles=None, emerging=codes))
    patterns = [f["properties"]["gp_pattern"] for f in layer_features(html)["时空热点模式"]]
    assert patterns == make_cells()["pattern"].fillna("No Pattern Detected").tolist()

    as_floats = pd.Series(codes, dtype=float).where(pd.Series(codes) != 0)  # NaN: no pattern
    html = render(hotspot_map(cells, tiles=None, emerging=as_floats))
    assert [f["properties"]["gp_pattern"] for f in layer_features(html)["时空热点模式"]] == patterns

    with pytest.raises(GeoValidationError, match="'emerging'") as caught:
        hotspot_map(cells, emerging=codes[:3])
    assert caught.value.problems[0].field == "emerging"
    with pytest.raises(GeoValidationError, match="Lukewarm Spot") as caught:
        hotspot_map(cells, emerging=["Lukewarm Spot"] * 12)
    assert caught.value.problems[0].field == "cells.pattern"


# --- coverage -----------------------------------------------------------------------------------------------


def test_coverage_layers_hold_the_right_features():
    html = render(coverage_map(*make_coverage(), tiles=None))
    layers = layer_features(html)

    assert {name: len(features) for name, features in layers.items()} == {
        "网格覆盖率 (3)": 3,
        "已巡查街巷 (3)": 3,
        "未巡查街巷 (2)": 2,
        "盲区楼栋（未巡查） (2)": 2,
        "已巡查楼栋 (3)": 3,
        "巡查轨迹 (1)": 1,
    }
    grids = [f["properties"] for f in layers["网格覆盖率 (3)"]]
    assert [g["coverage_pct"] for g in grids] == ["92.5%", "47.0%", "无街巷"]
    assert [g["gp_fill"] for g in grids] == ["#54278f", "#9e9ac8", "#e5e7eb"]
    track = layers["巡查轨迹 (1)"][0]["properties"]
    assert track == {"worker": "王芳", "gp_time": "2026-03-02 08:30–10:05", "length_m": "2.35 km"}
    assert '"color": "#dc2626", "lineCap": "round", "opacity": 0.95, "weight": 5' in html  # bold red
    assert '"color": "#16a34a", "opacity": 0.9, "weight": 2' in html  # thin green


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_coverage_legend(lang):
    html = render(coverage_map(*make_coverage(), tiles=None, lang=lang))
    labels = LABELS[lang]

    text = legend(html)
    for key in (
        "coverage_title",
        "coverage",
        "streets_covered",
        "streets_uncovered",
        "buildings_blind",
        "buildings_covered",
        "tracks",
        "no_streets",
    ):
        assert labels[key] in text, key
    for label in ("80–100%", "60–80%", "40–60%", "20–40%", "0–20%"):
        assert label in text
    assert re.search(
        rf"<span>{re.escape(labels['buildings_blind'])}</span><span class=\"gp-count\">2</span>", text
    )


def test_coverage_needs_only_grids_and_segments():
    grids, segments, _, _ = make_coverage()
    layers = layer_features(render(coverage_map(grids, segments, tiles=None, lang="en")))

    assert set(layers) == {"Grid coverage (3)", "Patrolled streets (3)", "Unpatrolled streets (2)"}


# --- cases by bounding box ----------------------------------------------------------------------------------


def test_cases_map_embeds_no_case_but_the_layer_options():
    html = render(cases_map(bounds=BOUNDS, data_url="/api/v1/cases/map?grid=7", route=ROUTE, tiles=None))

    (options,) = re.findall(r"L\.gridpatrolCases\((\{.*?\})\);", html, re.DOTALL)
    options = json.loads(options)
    assert options["dataUrl"] == "/api/v1/cases/map?grid=7"
    assert options["datum"] == "wgs84" and options["tokenKey"] == "gridpatrol.token"
    assert options["timeZone"] is None  # the browser's
    assert options["labels"]["loading"] == "加载中…" and options["labels"]["empty"] == "暂无数据"
    assert options["statusLabels"]["dispatched"] == "已派遣"
    assert options["statusColors"]["closed"] == STATUS_COLOURS["closed"]
    # opens on the bounds given
    assert f"[[{Y0}, {X0}], [{Y0 + 3 * D}, {X0 + 4 * D}]]" in html.replace("\n", "")
    # the route is the one embedded GeoJSON, dashed
    (route,) = layer_features(html).values()
    assert route[0]["geometry"]["type"] == "LineString" and len(route[0]["geometry"]["coordinates"]) == 3
    assert '"dashArray": "10 8"' in html
    assert set(overlays(html)) == {"案件", "派遣路线"}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_cases_map_legend_lists_states_overdue_and_clusters(lang):
    labels = LABELS[lang]
    html = render(
        cases_map(bounds=BOUNDS, data_url="/d", tiles=None, lang=lang, statuses_labels={"closed": "办结"})
    )

    text = legend(html)
    for status in (
        "reported",
        "registered",
        "dispatched",
        "accepted",
        "handled",
        "verified",
        "suspended",
        "rejected",
    ):
        assert labels[f"status:{status}"] in text, status
    assert "办结" in text  # statuses_labels override the built-in names
    for key in ("overdue_ring", "overdue_share", "share_none", "share_high", "cases_hint"):
        assert labels[key] in text, key
    assert labels["route"] not in text


def test_cases_map_refuses_bad_bounds_url_and_route():
    with pytest.raises(GeoValidationError) as caught:
        cases_map(bounds=(121, 36, 120, 37), data_url="", route={"type": "Point", "coordinates": [120, 36]})

    assert {p.field for p in caught.value.problems} == {"bounds", "data_url", "route"}
    assert "'bounds'" in str(caught.value) and "'route' should be a (GeoJSON) LineString, got Point" in str(
        caught.value
    )
    with pytest.raises(GeoValidationError, match="'route' is not a GeoJSON geometry"):
        cases_map(bounds=BOUNDS, data_url="/d", route={"coordinates": []})
    with pytest.raises(GeoValidationError, match="'time_zone' is no IANA time zone: 'Mars/Olympus'"):
        cases_map(bounds=BOUNDS, data_url="/d", time_zone="Mars/Olympus")


def test_cases_map_takes_a_feature_or_shapely_route():
    feature = {"type": "Feature", "properties": {}, "geometry": ROUTE}
    for route in (feature, LineString(ROUTE["coordinates"])):
        (features,) = layer_features(
            render(cases_map(bounds=BOUNDS, data_url="/d", route=route, tiles=None))
        ).values()
        assert features[0]["geometry"]["coordinates"][0] == pytest.approx(ROUTE["coordinates"][0])


# --- grids --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_grids_map_labels_codes_and_names_workers(lang):
    labels = LABELS[lang]
    grids = make_grids()
    html = render(grids_map(grids, tiles=None, lang=lang))

    features = layer_features(html)[f"{labels['grids']} (4)"]
    assert [f["properties"]["worker"] for f in features] == ["王芳", labels["unassigned"], "李强", "张伟"]
    assert [f["properties"]["households"] for f in features] == ["320", "410", "505", "280"]
    assert [f["properties"]["gp_assigned"] for f in features] == [True, False, True, True]
    for code in grids["code"]:
        assert appears(f"<span>{code}</span>", html)
    assert html.count('"className": "gp-grid-label"') == 4
    assert "map.getZoom() < 15" in html  # labels hidden further out
    text = legend(html)
    assert re.search(
        rf"<span>{re.escape(labels['not_assigned'])}</span><span class=\"gp-count\">1</span>", text
    )
    assert re.search(rf"<span>{re.escape(labels['assigned'])}</span><span class=\"gp-count\">3</span>", text)
    assert labels["zoom_for_codes"].format(zoom=15) in text


def test_names_are_escaped_because_tooltips_use_innerhtml():
    grids = make_grids()
    grids.loc[0, "worker"] = "<img src=x onerror=alert(1)>"
    cases = make_cases()
    html = render(grids_map(grids, tiles=None)) + render(
        heatmap_map(cases, tiles=None, category_labels={"garbage": "<b>垃圾</b>"})
    )

    assert "<img src=x" not in html and "<b>垃圾" not in html
    assert appears("&lt;img src=x onerror=alert(1)&gt;", html)


# --- empty frames, datum, bad input -------------------------------------------------------------------------


def _empty(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return frame.iloc[0:0]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_empty_frames_give_a_notice_instead_of_a_blank_map(lang):
    grids, segments, buildings, tracks = (_empty(f) for f in make_coverage())
    maps = [
        heatmap_map(_empty(make_cases()), tiles=None, lang=lang),
        hotspot_map(_empty(make_cells()), tiles=None, lang=lang),
        coverage_map(grids, segments, buildings, tracks, tiles=None, lang=lang),
        grids_map(_empty(make_grids()), tiles=None, lang=lang),
    ]
    for m in maps:
        html = render(m)
        assert f'<div class="gp-notice" role="status">{LABELS[lang]["empty"]}</div>' in html
        assert "L.control.scale" in html and "L.map(" in html and "[35.0, 105.0]" in html
        assert 'class="gp-legend"' not in html and "L.heatLayer" not in html and "_add({" not in html


def _first_coordinate(html: str) -> tuple[float, float]:
    data = next(iter(geojson_data(html).values()))
    coordinates: Any = data["features"][0]["geometry"]["coordinates"]
    while isinstance(coordinates[0], list):
        coordinates = coordinates[0]
    return coordinates[0], coordinates[1]


def test_gcj02_datum_shifts_every_layer_by_the_gcj02_offset():
    gx, gy = wgs84_to_gcj02(X0, Y0)
    offset_m = math.hypot((gx - X0) * math.cos(math.radians(Y0)), gy - Y0) * 111_320
    assert 300 < offset_m < 600  # ≈ 460 m, mostly east: worth correcting

    plain, shifted = render_all(datum="wgs84"), render_all(datum="gcj02")

    for name in ("hotspot", "coverage", "grids"):
        x, y = _first_coordinate(plain[name])
        sx, sy = _first_coordinate(shifted[name])
        ex, ey = wgs84_to_gcj02(x, y)
        assert (sx, sy) == (pytest.approx(ex, abs=1.1e-6), pytest.approx(ey, abs=1.1e-6)), name
    # a cell's corner at exactly (X0, Y0)
    assert _first_coordinate(shifted["grids"])[0] != X0
    heat = heat_data(shifted["heatmap"])["全部案件 (12)"][0]
    ex, ey = wgs84_to_gcj02(X0 + 0.001, Y0 + 0.001)
    assert heat[:2] == [pytest.approx(ey, abs=1e-6), pytest.approx(ex, abs=1e-6)]
    # the cases map: bounds, route, and the layer is told to shift what it fetches
    route = next(iter(geojson_data(shifted["cases"]).values()))["features"][0]["geometry"]["coordinates"][0]
    ex, ey = wgs84_to_gcj02(*ROUTE["coordinates"][0])
    assert route == [pytest.approx(ex, abs=1e-6), pytest.approx(ey, abs=1e-6)]
    sx, sy = wgs84_to_gcj02(X0, Y0)
    assert f"[[{sy}, {sx}]" in shifted["cases"].replace("\n", "")
    assert '"datum": "gcj02"' in shifted["cases"]


def test_missing_columns_and_wrong_geometries_name_the_argument():
    cases = make_cases().drop(columns="severity")
    with pytest.raises(GeoValidationError, match=r"'cases' lacks the column 'severity'") as caught:
        heatmap_map(cases)
    assert [p.field for p in caught.value.problems] == ["cases.severity"]

    with pytest.raises(
        GeoValidationError, match=r"'cells' should hold Polygon or MultiPolygon geometries, got Point"
    ):
        hotspot_map(make_cells().set_geometry(make_cells().representative_point()))

    grids, segments, buildings, _tracks = make_coverage()
    with pytest.raises(GeoValidationError) as caught:
        coverage_map(
            grids.drop(columns="coverage_pct"),
            grids.assign(covered=True),
            buildings,
            segments.iloc[:0].set_crs(None, allow_override=True),
        )
    assert {(p.kind, p.field) for p in caught.value.problems} == {
        ("column", "grids.coverage_pct"),
        ("geometry_type", "segments"),
        ("crs", "tracks"),
    }
    assert "'segments' should hold LineString or MultiLineString geometries, got Polygon" in str(caught.value)

    with pytest.raises(GeoValidationError, match="'grids' should be a GeoDataFrame"):
        grids_map(pd.DataFrame(make_grids()))


def test_bad_values_name_the_column():
    cells = make_cells()
    cells.loc[0, "bin"] = 4
    with pytest.raises(
        GeoValidationError, match=r"'cells.bin' should hold whole numbers from -3 to 3; got 4"
    ):
        hotspot_map(cells)

    cases = make_cases()
    cases.loc[1, "severity"] = -2
    with pytest.raises(GeoValidationError, match=r"'cases.severity' should hold numbers >= 0; got -2"):
        heatmap_map(cases)

    grids, segments, _, _ = make_coverage()
    grids.loc[0, "coverage_pct"] = 120
    with pytest.raises(GeoValidationError, match=r"'grids.coverage_pct' should hold numbers from 0 to 100"):
        coverage_map(grids, segments)


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match="'lang'"):
        grids_map(make_grids(), lang="fr")
    with pytest.raises(ValueError, match="'datum'"):
        grids_map(make_grids(), datum="bd09")
    with pytest.raises(ValueError, match="'tile_attribution'"):
        grids_map(make_grids(), tiles="https://tiles.example/{z}/{x}/{y}.png")


def test_tiles_none_url_and_name():
    grids = make_grids()
    assert "L.tileLayer" not in render(grids_map(grids, tiles=None))
    assert "tile.openstreetmap.org" in render(grids_map(grids))
    html = render(
        grids_map(
            grids,
            tiles="https://webrd0{s}.is.autonavi.com/appmaptile?x={x}&y={y}&z={z}&style=8",
            tile_attribution="© 高德地图",
            datum="gcj02",
        )
    )
    assert "autonavi.com" in html and appears("© 高德地图", html)


def test_other_crs_is_reprojected():
    html = render(grids_map(make_grids().to_crs(3857), tiles=None))
    assert _first_coordinate(html)[0] == pytest.approx(X0 + D, abs=1e-6)
