"""Analysis maps for supervisors: case heat, hot spots, patrol coverage, all cases by bounding box, grids.

Renders only, like :mod:`maps.overview` (whose helpers, legend and notice it reuses): the frames come from a
read model in EPSG:4326 (other CRSs are reprojected, rows without geometry skipped) and the thresholds that
decide what is hot, covered or overdue were applied before. Every map has a legend, a layer control and a
scale bar; an empty frame gives a "no data" notice instead of a blank map. Everything the page loads comes from
``static_prefix`` (``maps/static``: the vendored Leaflet and plugins, ``js/gridpatrol-cases.js``), so the maps
work without internet; only basemap tiles are remote.

Basemaps and datums
-------------------
``tiles`` is a folium tile name (default ``"OpenStreetMap"``), a URL template (then ``tile_attribution`` is
required) or ``None`` for a plain background. AMap (Gaode) and Tencent tiles are drawn in GCJ-02: pass
``datum="gcj02"`` with them and every coordinate drawn (layers, bounds, a route, and the cases fetched by
:func:`cases_map`, converted in the browser) is shifted from WGS-84 with :func:`geo.crs.wgs84_to_gcj02`;
otherwise everything lands 300–500 m off the streets. Tooltips still show the data, not shifted coordinates.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import folium
import geopandas as gpd
import pandas as pd
import shapely
from folium import plugins
from folium.elements import JSCSSMixin
from folium.map import CustomPane, FitBounds, Layer
from folium.template import Template
from shapely.geometry import box, shape
from shapely.geometry.base import BaseGeometry

from geo.crs import wgs84_to_gcj02
from geo.errors import ProblemList
from geo.hotspots import NO_PATTERN, pattern_name
from maps import overview as _ov
from maps.assets import use_local_assets

__all__ = [
    "BIN_COLOURS",
    "CLOSED_STATUSES",
    "COVERAGE_BINS",
    "DATUMS",
    "LABELS",
    "PATTERN_COLOURS",
    "SHARE_COLOURS",
    "STATUS_COLOURS",
    "cases_map",
    "coverage_map",
    "grids_map",
    "heatmap_map",
    "hotspot_map",
]

DATUMS = ("wgs84", "gcj02")

CLOSED_STATUSES: frozenset[str] = frozenset({"closed", "rejected", "duplicate"})
"""Default ``closed_statuses`` of :func:`heatmap_map`: the final states of ``patrol.cases.lifecycle.CLOSED`` (maps may
not import ``patrol``; a caller holding that set should pass it)."""

# --- labels -------------------------------------------------------------------------------------------------

_PATTERN_ZH = ("新增", "连续", "加强", "持续", "减弱", "零星", "振荡", "历史")
_STATUS_ZH = {
    "reported": "已上报",
    "registered": "已立案",
    "dispatched": "已派遣",
    "accepted": "处置中",
    "handled": "已处置",
    "verified": "已核查",
    "closed": "已结案",
    "suspended": "缓办",
    "rejected": "不予立案",
    "duplicate": "已合并",
}
_STATUS_EN = {
    "reported": "Reported",
    "registered": "Registered",
    "dispatched": "Dispatched",
    "accepted": "Accepted",
    "handled": "Handled",
    "verified": "Verified",
    "closed": "Closed",
    "suspended": "Suspended",
    "rejected": "Rejected",
    "duplicate": "Merged (duplicate)",
}

_OWN_LABELS: dict[str, dict[str, str]] = {
    "zh": {
        "empty": "暂无数据",
        "cases": "案件",
        "all_cases": "全部案件",
        "category_layer": "类别：{name}",
        "uncategorised": "未分类",
        "open": "未结案",
        "closed": "已结案",
        "overdue": "超期",
        "overdue_only": "仅看超期案件",
        "heat_title": "案件热力",
        "heat_weight": "权重：{column}（{low}–{high}）",
        "column:severity": "严重程度",
        "heat_equal": "每件案件权重相同",
        "heat_low": "少 / 轻",
        "heat_high": "多 / 重",
        "heat_hint": "颜色越红，该处案件越多、越严重（与当前视野内最热处相比）；在图层控件中按类别、"
        "未结案 / 已结案切换",
        "hotspot_title": "热点分析（Gi*）",
        "hotspots": "冷热点",
        "bin_3": "热点 99% 置信度",
        "bin_2": "热点 95% 置信度",
        "bin_1": "热点 90% 置信度",
        "bin_0": "不显著",
        "bin_-1": "冷点 90% 置信度",
        "bin_-2": "冷点 95% 置信度",
        "bin_-3": "冷点 99% 置信度",
        "confidence": "置信度",
        "count": "案件数",
        "z": "z 得分",
        "p": "p 值（FDR 校正）",
        "emerging": "时空热点模式",
        "pattern": "模式",
        "coverage_title": "巡查覆盖",
        "coverage": "街巷覆盖率",
        "coverage_grids": "网格覆盖率",
        "building_coverage": "楼栋覆盖率",
        "no_streets": "无街巷",
        "streets_covered": "已巡查街巷",
        "streets_uncovered": "未巡查街巷",
        "buildings_covered": "已巡查楼栋",
        "buildings_blind": "盲区楼栋（未巡查）",
        "tracks": "巡查轨迹",
        "time": "时间",
        "length": "里程",
        "grids_title": "网格",
        "grid_codes": "网格编码",
        "assigned": "已配备网格员",
        "not_assigned": "未配备网格员",
        "zoom_for_codes": "放大到 {zoom} 级及以上显示网格编码",
        "route": "派遣路线",
        "status": "状态",
        "category": "类别",
        "deadline": "办理期限",
        "timeline": "查看办理过程",
        "loading": "加载中…",
        "total": "视野内 {n} 件",
        "load_failed": "加载失败",
        "cluster": "聚合（数字为案件数）",
        "overdue_share": "聚合颜色：超期占比",
        "share_none": "无超期",
        "share_low": "低于 10%",
        "share_mid": "10%–30%",
        "share_high": "30% 及以上",
        "overdue_ring": "红圈：已超期",
        "cases_hint": "点击聚合放大；放大后显示单个案件",
        "other_status": "其他",
        "yes": "是",
        "no": "否",
    },
    "en": {
        "empty": "No data",
        "cases": "Cases",
        "all_cases": "All cases",
        "category_layer": "Category: {name}",
        "uncategorised": "Uncategorised",
        "open": "Open",
        "closed": "Closed",
        "overdue": "Overdue",
        "overdue_only": "Overdue cases only",
        "heat_title": "Case heat map",
        "heat_weight": "Weight: {column} ({low}–{high})",
        "column:severity": "severity",
        "heat_equal": "Every case weighs the same",
        "heat_low": "few / light",
        "heat_high": "many / severe",
        "heat_hint": "The redder, the more and the more severe the cases there (relative to the hottest spot "
        "in view); switch categories and open / closed in the layer control",
        "hotspot_title": "Hot spot analysis (Gi*)",
        "hotspots": "Hot and cold spots",
        "bin_3": "Hot spot, 99% confidence",
        "bin_2": "Hot spot, 95% confidence",
        "bin_1": "Hot spot, 90% confidence",
        "bin_0": "Not significant",
        "bin_-1": "Cold spot, 90% confidence",
        "bin_-2": "Cold spot, 95% confidence",
        "bin_-3": "Cold spot, 99% confidence",
        "confidence": "Confidence",
        "count": "Cases",
        "z": "z-score",
        "p": "p-value (FDR)",
        "emerging": "Emerging hot spot pattern",
        "pattern": "Pattern",
        "coverage_title": "Patrol coverage",
        "coverage": "Street coverage",
        "coverage_grids": "Grid coverage",
        "building_coverage": "Building coverage",
        "no_streets": "No streets",
        "streets_covered": "Patrolled streets",
        "streets_uncovered": "Unpatrolled streets",
        "buildings_covered": "Patrolled buildings",
        "buildings_blind": "Blind-spot buildings (not patrolled)",
        "tracks": "Patrol tracks",
        "time": "Time",
        "length": "Length",
        "grids_title": "Grids",
        "grid_codes": "Grid codes",
        "assigned": "With a grid worker",
        "not_assigned": "No grid worker",
        "zoom_for_codes": "Zoom to level {zoom}+ to show grid codes",
        "route": "Dispatch route",
        "status": "Status",
        "category": "Category",
        "deadline": "Deadline",
        "timeline": "Timeline",
        "loading": "loading…",
        "total": "{n} cases in view",
        "load_failed": "loading failed",
        "cluster": "Cluster (number of cases)",
        "overdue_share": "Cluster colour: share overdue",
        "share_none": "none",
        "share_low": "below 10%",
        "share_mid": "10%–30%",
        "share_high": "30% or more",
        "overdue_ring": "Red ring: overdue",
        "cases_hint": "Click a cluster to zoom in; single cases show when zoomed in",
        "other_status": "Other",
        "yes": "yes",
        "no": "no",
    },
}

for _code in range(-8, 9):
    _name = pattern_name(_code)
    _OWN_LABELS["en"][f"pattern:{_name}"] = _name
    _OWN_LABELS["zh"][f"pattern:{_name}"] = (
        "无显著模式" if _code == 0 else _PATTERN_ZH[abs(_code) - 1] + ("热点" if _code > 0 else "冷点")
    )
for _status, _text_zh in _STATUS_ZH.items():
    _OWN_LABELS["zh"][f"status:{_status}"] = _text_zh
    _OWN_LABELS["en"][f"status:{_status}"] = _STATUS_EN[_status]

LABELS: dict[str, dict[str, str]] = {lang: {**_ov.LABELS[lang], **own} for lang, own in _OWN_LABELS.items()}
"""UI strings by language: those of :data:`maps.overview.LABELS` plus this module's; ``pattern:<ArcGIS name>``
and ``status:<status>`` keys name the 17 emerging patterns and the case states."""

# --- colours ------------------------------------------------------------------------------------------------

BIN_COLOURS: dict[int, str] = {
    3: "#d62f27",
    2: "#ed7551",
    1: "#fab984",
    0: "#d4d4d4",
    -1: "#c0ccbe",
    -2: "#849eba",
    -3: "#4575b5",
}
"""Fill of each Gi_Bin, ArcGIS's Hot Spot Analysis palette (not significant: light grey, nearly transparent)."""

_HOT_PATTERN_COLOURS = (
    "#ff1f1f",
    "#e8590c",
    "#99000d",
    "#cb181d",
    "#fc9272",
    "#fdbb84",
    "#c51b7d",
    "#8c6d31",
)
_COLD_PATTERN_COLOURS = (
    "#1f5bff",
    "#1c7ed6",
    "#08306b",
    "#2171b5",
    "#9ecae1",
    "#a5d8ff",
    "#6a51a3",
    "#35978f",
)
PATTERN_COLOURS: dict[str, str] = {
    **{pattern_name(i + 1): c for i, c in enumerate(_HOT_PATTERN_COLOURS)},
    **{pattern_name(-(i + 1)): c for i, c in enumerate(_COLD_PATTERN_COLOURS)},
    NO_PATTERN: "#d4d4d4",
}
"""Fill of each emerging hot spot pattern: reds for hot, blues for cold, magenta / purple for oscillating."""

COVERAGE_BINS: tuple[tuple[float, str], ...] = (
    (20.0, "#f2f0f7"),
    (40.0, "#cbc9e2"),
    (60.0, "#9e9ac8"),
    (80.0, "#756bb1"),
    (100.0, "#54278f"),
)
"""Upper bound (exclusive, 100 inclusive) of each coverage class in percent, and its fill (ColorBrewer
Purples, so red / green streets and blue tracks stay readable on top)."""
_NO_COVERAGE_COLOUR = "#e5e7eb"

STATUS_COLOURS: dict[str, str] = {
    "reported": "#a855f7",
    "registered": "#6366f1",
    "dispatched": "#2563eb",
    "accepted": "#0891b2",
    "handled": "#0d9488",
    "verified": "#65a30d",
    "closed": "#15803d",
    "suspended": "#d97706",
    "rejected": "#6b7280",
    "duplicate": "#9ca3af",
}
"""Fill of a case marker by status in :func:`cases_map` (red is kept for the overdue ring)."""
_OTHER_STATUS_COLOUR = "#374151"
_OVERDUE_COLOUR = "#dc2626"
SHARE_COLOURS: tuple[tuple[float, str, str], ...] = (
    (0.0, "#16a34a", "share_none"),
    (0.1, "#ca8a04", "share_low"),
    (0.3, "#ea580c", "share_mid"),
    (1.0, "#dc2626", "share_high"),
)
"""Cluster colour by the share of its cases overdue: (upper bound, colour, label key); the first class is
exactly 0, the others run up to (excluding) their bound, the last includes 1."""

HEAT_GRADIENT: dict[float, str] = {
    0.4: "#2563eb",
    0.6: "#06b6d4",
    0.7: "#65d80b",
    0.85: "#facc15",
    1.0: "#dc2626",
}
HEAT_OPTIONS: dict[str, Any] = {"radius": 22, "blur": 16, "min_opacity": 0.25, "max_zoom": None}
"""Leaflet.heat options. ``max_zoom`` stays unset: Leaflet.heat's option shares its name with ``L.Layer``'s,
and the layer control greys out a layer whose ``maxZoom`` is below the current zoom."""
HEAT_FLOOR = 1.0
"""Each case weighs ``weight / max weight``, summed per spot (Leaflet.heat's cells, scaled by zoom); the
heaviest spot in view is red, but it takes at least this many of the heaviest cases in one spot: a view with
only light cases stays faint (``js/gridpatrol-heat.js``)."""

GRID_LABELS_MIN_ZOOM = 15
"""Grid codes are shown as labels from this zoom on (15-digit codes would cover each other further out)."""

_STYLES = {
    "covered_street": {"color": "#16a34a", "weight": 2, "opacity": 0.9},
    "uncovered_street": {"color": "#dc2626", "weight": 5, "opacity": 0.95, "lineCap": "round"},
    "covered_building": {"color": "#6b7280", "weight": 0.6, "fillColor": "#d1d5db", "fillOpacity": 0.8},
    "blind_building": {"color": "#7c2d12", "weight": 1.5, "fillColor": "#f97316", "fillOpacity": 0.95},
    "track": {"color": "#2563eb", "weight": 3.5, "opacity": 0.85},
    "route": {"color": "#1d4ed8", "weight": 4, "opacity": 0.9, "dashArray": "10 8"},
    "coverage_grid": {"color": "#ffffff", "weight": 1.5, "opacity": 1.0, "fillOpacity": 0.6},
    "grid_assigned": {"color": "#1e3a8a", "weight": 1.5, "fillColor": "#93c5fd", "fillOpacity": 0.3},
    "grid_unassigned": {"color": "#1e3a8a", "weight": 1.5, "fillColor": "#f59e0b", "fillOpacity": 0.5},
}
_HIGHLIGHT = {"weight": 3, "color": "#111827"}

_POINTS = ("Point",)
_LINES = ("LineString", "MultiLineString")
_POLYGONS = ("Polygon", "MultiPolygon")

_EXTRA_CSS = """
<style>
  .gp-legend .gp-line { width: 18px; height: 0; border-top-style: solid; flex: none; }
  .gp-legend .gp-dot { width: 12px; height: 12px; border-radius: 50%; flex: none; box-sizing: border-box;
      margin: 0 3px; }
  .gp-legend .gp-ramp { height: 10px; border-radius: 2px; margin: 4px 0 2px; }
  .gp-legend .gp-ramp-ends { display: flex; justify-content: space-between; color: #6b7280; font-size: 12px; }
  .gp-grid-label span { position: absolute; transform: translate(-50%, -50%); white-space: nowrap;
      font-size: 11px; font-weight: 700; color: #1e3a8a; pointer-events: none;
      text-shadow: 0 0 2px #fff, 0 0 3px #fff, 0 0 5px #fff; }
  .gp-labels-hidden .gp-grid-label { display: none; }
</style>
"""


# --- 1. heat map --------------------------------------------------------------------------------------------


def heatmap_map(
    cases: gpd.GeoDataFrame,
    *,
    lang: str = "zh",
    tiles: str | None = "OpenStreetMap",
    tile_attribution: str | None = None,
    datum: str = "wgs84",
    weight_column: str | None = "severity",
    category_labels: Mapping[Any, str] | None = None,
    closed_statuses: Collection[str] = CLOSED_STATUSES,
    static_prefix: str = "/static",
) -> folium.Map:
    """Cases as a Leaflet.heat surface weighted by severity: one layer for all cases, one per category.

    Parameters
    ----------
    cases
        Points, one row per case: ``category``, ``status``, ``overdue`` (bool) and ``weight_column``.
    weight_column
        Numeric column (≥ 0) weighting each case, default ``severity``; ``None`` weighs every case the same.
        A missing value counts as the smallest weight present.
    category_labels
        Display name of each ``category`` value (default: the value itself).
    closed_statuses
        Statuses that count as closed for the "open / closed" switches; every other status is open.
    lang, tiles, tile_attribution, datum, static_prefix
        See the module documentation; ``static_prefix`` is the URL where ``maps/static`` is served.

    The layer control lists "all cases" (shown) and each category (hidden: tick one to see it alone), then
    two switches, open and closed (both on), that filter every heat layer by status, and an "overdue only"
    switch (off).

    Raises
    ------
    GeoValidationError
        Naming ``cases`` (or ``cases.<column>``) for a missing column or CRS, a geometry that is not a point,
        or a negative or non-numeric weight.
    ValueError
        For an unknown ``lang`` or ``datum``, or a tile URL without attribution.
    """
    labels = _labels(lang)
    _check_options(datum, tiles, tile_attribution)
    required = ("category", "status", "overdue", *((weight_column,) if weight_column else ()))
    problems = ProblemList()
    cases = _frame(cases, "cases", required, _POINTS, problems)
    if not problems and weight_column:
        _check_numbers(cases[weight_column], f"cases.{weight_column}", problems, low=0.0)
    problems.raise_if_any()
    cases = _to_datum(cases, datum)

    m = _new_map(cases, tiles, tile_attribution)
    if not len(cases):
        return _finish_empty(m, labels, static_prefix)

    weights = _heat_weights(cases, weight_column)
    is_open = ~cases["status"].isin(list(closed_statuses))
    overdue = cases["overdue"].fillna(False).astype(bool)
    names = _category_names(cases["category"], category_labels, labels)
    points = [
        [round(p.y, _ov._PRECISION), round(p.x, _ov._PRECISION), w]
        for p, w in zip(cases.geometry, weights, strict=True)
    ]
    # Per case one digit: 1 if open, + 2 if overdue (Leaflet.heat only takes [lat, lon, weight] points).
    flags = "".join(str(int(o) + 2 * int(d)) for o, d in zip(is_open, overdue, strict=True))

    heat_layers: list[tuple[plugins.HeatMap, str]] = [
        (_heat_layer(points, f"{labels['all_cases']} ({len(points):,})", show=True), flags)
    ]
    for name, rows in _groups(names):
        layer = _heat_layer(
            [points[i] for i in rows],
            f"{_ov._esc(labels['category_layer'].format(name=name))} ({len(rows):,})",
            show=False,
        )
        heat_layers.append((layer, "".join(flags[i] for i in rows)))
    for layer, _ in heat_layers:
        m.add_child(layer)
    switches = {
        "open": folium.FeatureGroup(f"{labels['open']} ({int(is_open.sum()):,})", show=True),
        "closed": folium.FeatureGroup(f"{labels['closed']} ({int((~is_open).sum()):,})", show=True),
        "overdue": folium.FeatureGroup(f"{labels['overdue_only']} ({int(overdue.sum()):,})", show=False),
    }
    for switch in switches.values():
        m.add_child(switch)
    m.add_child(_HeatFilter(heat_layers, switches, static_prefix))

    m.add_child(_ov._Legend(_heat_legend(cases, weight_column, weights, is_open, overdue, labels)))
    m.add_child(folium.LayerControl(collapsed=False))
    return _finish(m, static_prefix)


def _heat_weights(cases: gpd.GeoDataFrame, weight_column: str | None) -> list[float]:
    if not weight_column:
        return [1.0] * len(cases)
    values = pd.to_numeric(cases[weight_column], errors="coerce").astype(float)
    present = values.dropna()
    if present.empty or present.max() <= 0:
        return [1.0] * len(cases)
    values = values.fillna(present.min())
    return [round(v, 4) for v in (values / present.max()).tolist()]


def _heat_layer(points: list[list[float]], name: str, *, show: bool) -> plugins.HeatMap:
    return plugins.HeatMap(points, name=name, show=show, overlay=True, gradient=HEAT_GRADIENT, **HEAT_OPTIONS)


def _heat_legend(
    cases: gpd.GeoDataFrame,
    weight_column: str | None,
    weights: list[float],
    is_open: pd.Series,
    overdue: pd.Series,
    labels: Mapping[str, str],
) -> str:
    if weight_column:
        raw = pd.to_numeric(cases[weight_column], errors="coerce").dropna()
        low, high = (_plain(raw.min()), _plain(raw.max())) if len(raw) else ("—", "—")
        column = labels.get(f"column:{weight_column}", weight_column)
        weight = labels["heat_weight"].format(column=column, low=low, high=high)
    else:
        weight = labels["heat_equal"]
    stops = ", ".join(
        ["transparent 0%", *(f"{colour} {stop * 100:.0f}%" for stop, colour in HEAT_GRADIENT.items())]
    )
    rows = [
        f"<h4>{_ov._esc(labels['heat_title'])}</h4>",
        f'<div class="gp-ramp" style="background: linear-gradient(to right, {stops})"></div>',
        (
            f'<div class="gp-ramp-ends"><span>{_ov._esc(labels["heat_low"])}</span>'
            f"<span>{_ov._esc(labels['heat_high'])}</span></div>"
        ),
        f'<div class="gp-hint">{_ov._esc(weight)}</div>',
        f'<div class="gp-sub">{_ov._esc(labels["cases"])}</div>',
        _count_row(labels["open"], int(is_open.sum())),
        _count_row(labels["closed"], int((~is_open).sum())),
        _count_row(labels["overdue"], int(overdue.sum())),
        f'<div class="gp-hint">{_ov._esc(labels["heat_hint"])}</div>',
    ]
    return "\n".join(rows)


class _HeatFilter(JSCSSMixin, folium.MacroElement):
    """Loads ``js/gridpatrol-heat.js``: every heat layer scales to the heaviest spot in view (at least
    :data:`HEAT_FLOOR` heaviest cases) and is filtered by the open / closed / overdue-only switches.

    Each layer comes with a string of one digit per point: 1 if the case is open, plus 2 if it is overdue.
    The switches are empty FeatureGroups, so the layer control shows them as check boxes and their add /
    remove events trigger the filter.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        L.gridpatrolHeat.filter(
            {{ this._parent.get_name() }},
            [{% for layer, flags in this.layers %}
                [L.gridpatrolHeat.autoMax({{ layer.get_name() }}, {{ this.floor }}), {{ flags|tojson }}],
            {% endfor %}],
            {{ this.switches.open.get_name() }},
            {{ this.switches.closed.get_name() }},
            {{ this.switches.overdue.get_name() }}
        );
        {% endmacro %}
        """
    )

    def __init__(
        self, layers: list[tuple[Layer, str]], switches: Mapping[str, Layer], static_prefix: str
    ) -> None:
        super().__init__()
        self._name = "HeatFilter"
        self.layers = layers
        self.switches = switches
        self.floor = HEAT_FLOOR
        self.default_js = [("gridpatrol-heat", f"{static_prefix.rstrip('/')}/js/gridpatrol-heat.js")]


# --- 2. hot spots -------------------------------------------------------------------------------------------


def hotspot_map(
    cells: gpd.GeoDataFrame,
    *,
    lang: str = "zh",
    tiles: str | None = "OpenStreetMap",
    tile_attribution: str | None = None,
    datum: str = "wgs84",
    emerging: Sequence[Any] | pd.Series | None = None,
    static_prefix: str = "/static",
) -> folium.Map:
    """Cells coloured by Getis-Ord Gi* confidence bin, and optionally by emerging hot spot pattern.

    Parameters
    ----------
    cells
        Polygons, one row per cell: ``bin`` (Gi_Bin, an integer −3 … +3, see :func:`geo.hotspots.gi_bin`),
        ``count``, ``z``, ``p_fdr``; optional ``pattern`` (an emerging hot spot pattern per cell).
    emerging
        Patterns per cell, aligned with the rows of ``cells``: ArcGIS names (``"New Hot Spot"`` …
        ``"No Pattern Detected"``, :func:`geo.hotspots.pattern_name`) or their codes −8 … 8, e.g.
        ``EmergingHotspots.pattern``. Overrides a ``pattern`` column. A missing value means no pattern.

    The bins layer is shown with its legend; the pattern layer (when there are patterns) is off at first and
    its legend appears when it is switched on. Tooltips give the count, z, p and both classes.

    Raises
    ------
    GeoValidationError
        Naming ``cells`` / ``cells.<column>`` (missing column or CRS, not polygons, a bin outside −3 … 3, an
        unknown pattern) or ``emerging`` (wrong length).
    """
    labels = _labels(lang)
    _check_options(datum, tiles, tile_attribution)
    problems = ProblemList()
    if emerging is not None and isinstance(cells, gpd.GeoDataFrame):
        emerging = list(emerging)
        if len(emerging) != len(cells):
            problems.add(
                "length",
                f"'emerging' should have one pattern per row of 'cells' ({len(cells)}), got {len(emerging)}",
                field="emerging",
            )
        else:
            cells = cells.assign(pattern=emerging)
    cells = _frame(cells, "cells", ("bin", "count", "z", "p_fdr"), _POLYGONS, problems)
    bins, patterns = pd.Series(dtype=float), None
    if not problems:
        bins = _check_numbers(cells["bin"], "cells.bin", problems, low=-3, high=3, integer=True)
        patterns = _patterns(cells["pattern"], problems) if "pattern" in cells else None
    problems.raise_if_any()
    cells = _to_datum(cells, datum)

    m = _new_map(cells, tiles, tile_attribution)
    if not len(cells):
        return _finish_empty(m, labels, static_prefix)
    m.add_child(CustomPane(_ov._pane("cells"), z_index=410, pointer_events=False))

    bins = bins.astype(int)
    display = cells.assign(
        gp_bin=bins,
        confidence=[labels[f"bin_{b}"] for b in bins],
        count=[_plain(v) for v in cells["count"]],
        z=[_decimal(v, 2) for v in cells["z"]],
        p_fdr=[_p_value(v) for v in cells["p_fdr"]],
    )
    fields = {
        "confidence": labels["confidence"],
        "count": labels["count"],
        "z": labels["z"],
        "p_fdr": labels["p"],
    }
    has_patterns = patterns is not None and len(patterns) > 0
    if has_patterns:
        display = display.assign(gp_pattern=patterns, pattern=[labels[f"pattern:{p}"] for p in patterns])
        fields["pattern"] = labels["pattern"]
    display, shown = _ov._display(display, fields, labels)

    bins_layer = folium.GeoJson(
        _ov._feature_collection(display, {**shown, "gp_bin": ""}),
        name=f"{labels['hotspots']} ({len(cells):,})",
        style_function=_bin_style,
        highlight_function=_ov._constant(_HIGHLIGHT),
        tooltip=_ov._tooltip(shown),
        pane=_ov._pane("cells"),
    )
    m.add_child(bins_layer)
    bin_counts = bins.value_counts()
    bin_rows = [
        f"<h4>{_ov._esc(labels['hotspot_title'])}</h4>",
        *(
            _ov._legend_row(_swatch(BIN_COLOURS[b], b == 0), labels[f"bin_{b}"], int(bin_counts.get(b, 0)))
            for b in (3, 2, 1, 0, -1, -2, -3)
        ),
    ]
    m.add_child(_LayerLegend(bins_layer, "\n".join(bin_rows)))

    if has_patterns:
        pattern_layer = folium.GeoJson(
            _ov._feature_collection(display, {**shown, "gp_pattern": ""}),
            name=labels["emerging"],
            show=False,
            style_function=_pattern_style,
            highlight_function=_ov._constant(_HIGHLIGHT),
            tooltip=_ov._tooltip(shown),
            pane=_ov._pane("cells"),
        )
        m.add_child(pattern_layer)
        pattern_counts = patterns.value_counts()
        order = [pattern_name(c) for c in (*range(1, 9), *range(-1, -9, -1), 0)]
        pattern_rows = [
            f"<h4>{_ov._esc(labels['emerging'])}</h4>",
            *(
                _ov._legend_row(
                    _swatch(PATTERN_COLOURS[p], p == NO_PATTERN),
                    labels[f"pattern:{p}"],
                    int(pattern_counts[p]),
                )
                for p in order
                if pattern_counts.get(p, 0)
            ),
        ]
        m.add_child(_LayerLegend(pattern_layer, "\n".join(pattern_rows)))

    m.add_child(folium.LayerControl(collapsed=False))
    return _finish(m, static_prefix)


def _bin_style(feature: Mapping[str, Any]) -> dict[str, Any]:
    b = feature["properties"]["gp_bin"]
    if b == 0:
        return {
            "fillColor": BIN_COLOURS[0],
            "fillOpacity": 0.15,
            "color": "#9ca3af",
            "weight": 0.4,
            "opacity": 0.6,
        }
    return {
        "fillColor": BIN_COLOURS[b],
        "fillOpacity": 0.8,
        "color": "#ffffff",
        "weight": 0.6,
        "opacity": 0.9,
    }


def _pattern_style(feature: Mapping[str, Any]) -> dict[str, Any]:
    p = feature["properties"]["gp_pattern"]
    if p == NO_PATTERN:
        return {"fillColor": PATTERN_COLOURS[p], "fillOpacity": 0.1, "color": "#9ca3af", "weight": 0.4}
    return {"fillColor": PATTERN_COLOURS[p], "fillOpacity": 0.8, "color": "#ffffff", "weight": 0.6}


def _patterns(values: pd.Series, problems: ProblemList) -> pd.Series:
    """Pattern names from names or codes; missing values become :data:`geo.hotspots.NO_PATTERN`."""
    known = {pattern_name(c) for c in range(-8, 9)}
    out: list[str] = []
    bad: list[str] = []
    for value in values:
        is_code = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            out.append(NO_PATTERN)
        elif isinstance(value, str) and value in known:
            out.append(value)
        elif is_code and float(value).is_integer() and -8 <= value <= 8:  # codes; 1.0 from a column with NaN
            out.append(pattern_name(int(value)))
        else:
            out.append(NO_PATTERN)
            bad.append(repr(value))
    if bad:
        problems.add(
            "bad_value",
            f"'cells.pattern' (or 'emerging') holds unknown patterns {', '.join(sorted(set(bad))[:5])}; expected "
            "the ArcGIS names of geo.hotspots.pattern_name ('New Hot Spot' … 'Historical Cold Spot', "
            "'No Pattern Detected') or their codes -8 … 8",
            field="cells.pattern",
        )
    return pd.Series(out, index=values.index)


class _LayerLegend(folium.MacroElement):
    """A legend control shown only while ``layer`` is on the map (it follows the layer control's box)."""

    _template = Template(
        """
        {% macro html(this, kwargs) %}
        <div id="{{ this.get_name() }}" class="gp-legend">{{ this.body }}</div>
        {% endmacro %}
        {% macro script(this, kwargs) %}
        (function (map, layer) {
            var div = document.getElementById("{{ this.get_name() }}");
            L.DomEvent.disableClickPropagation(div);
            L.DomEvent.disableScrollPropagation(div);
            var control = L.control({position: "bottomright"});
            control.onAdd = function () { return div; };
            function sync() {
                if (map.hasLayer(layer)) { control.addTo(map); } else { control.remove(); }
            }
            layer.on("add remove", sync);
            sync();
        })({{ this._parent.get_name() }}, {{ this.layer.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, layer: Layer, body: str) -> None:
        super().__init__()
        self._name = "LayerLegend"
        self.layer = layer
        self.body = body


# --- 3. coverage --------------------------------------------------------------------------------------------


def coverage_map(
    grids: gpd.GeoDataFrame,
    segments: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame | None = None,
    tracks: gpd.GeoDataFrame | None = None,
    *,
    lang: str = "zh",
    tiles: str | None = "OpenStreetMap",
    tile_attribution: str | None = None,
    datum: str = "wgs84",
    static_prefix: str = "/static",
) -> folium.Map:
    """Patrol coverage ("不留死角"): grids by street coverage, streets and buildings patrolled or not, tracks.

    Parameters
    ----------
    grids
        Polygons: ``code``, ``coverage_pct`` (0–100; missing when the grid has no street); optional ``name``,
        ``building_pct``. As :func:`geo.coverage.grid_coverage` returns them, with their geometry.
    segments
        LineStrings of street runs with ``covered`` (bool): uncovered ones are drawn bold red, covered thin
        green; optional ``name``, ``code`` in the tooltip.
    buildings
        Optional polygons with ``covered`` (bool): blind spots (not covered) in orange, the others grey.
    tracks
        Optional LineStrings of the patrols shown (one worker and day, say), drawn blue; optional
        ``worker``, ``started``, ``ended`` (shown as given: convert them to local time first), ``length_m``.

    Raises
    ------
    GeoValidationError
        Listing every missing column, missing CRS, wrong geometry type or coverage outside 0–100, each naming
        its argument (``grids``, ``segments``, ``buildings``, ``tracks``).
    """
    labels = _labels(lang)
    _check_options(datum, tiles, tile_attribution)
    problems = ProblemList()
    grids = _frame(grids, "grids", ("code", "coverage_pct"), _POLYGONS, problems)
    segments = _frame(segments, "segments", ("covered",), _LINES, problems)
    if buildings is not None:
        buildings = _frame(buildings, "buildings", ("covered",), _POLYGONS, problems)
    if tracks is not None:
        tracks = _frame(tracks, "tracks", (), _LINES, problems)
    if not problems:
        _check_numbers(
            grids["coverage_pct"], "grids.coverage_pct", problems, low=0, high=100, allow_missing=True
        )
    problems.raise_if_any()
    grids, segments = _to_datum(grids, datum), _to_datum(segments, datum)
    buildings = None if buildings is None else _to_datum(buildings, datum)
    tracks = None if tracks is None else _to_datum(tracks, datum)

    frames = [f for f in (grids, segments, buildings, tracks) if f is not None and len(f)]
    m = _new_map(frames[0] if frames else grids, tiles, tile_attribution)
    if not frames:
        return _finish_empty(m, labels, static_prefix)
    for name, z_index in {"grids": 410, "buildings": 420, "streets": 430, "tracks": 440}.items():
        m.add_child(CustomPane(_ov._pane(name), z_index=z_index, pointer_events=False))

    legend = [f"<h4>{_ov._esc(labels['coverage_title'])}</h4>"]
    if len(grids):
        classes = [_coverage_class(v) for v in grids["coverage_pct"]]
        display = grids.assign(
            gp_fill=[_NO_COVERAGE_COLOUR if c is None else COVERAGE_BINS[c][1] for c in classes],
            coverage_pct=[_percent(v, labels) for v in grids["coverage_pct"]],
        )
        if "building_pct" in display:
            display["building_pct"] = [_percent(v, labels) for v in display["building_pct"]]
        fields = {
            "code": labels["code"],
            "name": labels["name"],
            "coverage_pct": labels["coverage"],
            "building_pct": labels["building_coverage"],
        }
        display, shown = _ov._display(display, fields, labels)
        m.add_child(
            folium.GeoJson(
                _ov._feature_collection(display, {**shown, "gp_fill": ""}),
                name=f"{labels['coverage_grids']} ({len(grids):,})",
                style_function=lambda f: {
                    **_STYLES["coverage_grid"],
                    "fillColor": f["properties"]["gp_fill"],
                },
                highlight_function=_ov._constant(_HIGHLIGHT),
                tooltip=_ov._tooltip(shown),
                pane=_ov._pane("grids"),
            )
        )
        counts = pd.Series([c for c in classes if c is not None], dtype=object).value_counts()
        legend.append(f'<div class="gp-sub">{_ov._esc(labels["coverage"])}</div>')
        for i, (high, colour) in reversed(list(enumerate(COVERAGE_BINS))):
            low = 0 if i == 0 else COVERAGE_BINS[i - 1][0]
            legend.append(
                _ov._legend_row(
                    _fill_swatch({**_STYLES["coverage_grid"], "fillColor": colour, "color": "#d1d5db"}),
                    f"{low:.0f}–{high:.0f}%",
                    int(counts.get(i, 0)),
                )
            )
        missing = sum(c is None for c in classes)
        if missing:
            legend.append(
                _ov._legend_row(f"background: {_NO_COVERAGE_COLOUR}", labels["no_streets"], missing)
            )

    line_fields = {"name": labels["name"], "code": labels["code"]}
    for covered, key in ((True, "streets_covered"), (False, "streets_uncovered")):
        style = _STYLES["covered_street" if covered else "uncovered_street"]
        n = _covered_part(m, segments, covered, line_fields, labels, key, style, "streets")
        swatch = f"border-top-width: {style['weight']}px; border-top-color: {style['color']}"
        legend.append(_line_row(swatch, labels[key], n))

    if buildings is not None:
        building_fields = {"name": labels["name"], "use": labels["use"]}
        for covered, key in ((False, "buildings_blind"), (True, "buildings_covered")):
            style = _STYLES["covered_building" if covered else "blind_building"]
            n = _covered_part(m, buildings, covered, building_fields, labels, key, style, "buildings")
            swatch = f"background: {style['fillColor']}; border: 1px solid {style['color']}"
            legend.append(_ov._legend_row(swatch, labels[key], n))

    if tracks is not None:
        display = tracks.assign(gp_time=[_period(a, b) for a, b in _columns(tracks, "started", "ended")])
        if "length_m" in display:
            display["length_m"] = [_length(v) for v in display["length_m"]]
        fields = {"worker": labels["worker"], "gp_time": labels["time"], "length_m": labels["length"]}
        if "started" not in tracks and "ended" not in tracks:
            del fields["gp_time"]
        display, shown = _ov._display(display, fields, labels)
        if len(tracks):
            m.add_child(
                folium.GeoJson(
                    _ov._feature_collection(display, shown),
                    name=f"{labels['tracks']} ({len(tracks):,})",
                    style_function=_ov._constant(_STYLES["track"]),
                    highlight_function=_ov._constant({"weight": 6}),
                    tooltip=_ov._tooltip(shown) if shown else None,
                    pane=_ov._pane("tracks"),
                )
            )
        track = _STYLES["track"]
        legend.append(
            _line_row(
                f"border-top-width: 3px; border-top-color: {track['color']}", labels["tracks"], len(tracks)
            )
        )

    m.add_child(_ov._Legend("\n".join(legend)))
    m.add_child(folium.LayerControl(collapsed=False))
    return _finish(m, static_prefix)


def _covered_part(m: folium.Map, frame: gpd.GeoDataFrame, covered: bool, fields: Mapping[str, str],
                  labels: Mapping[str, str], key: str, style: Mapping[str, Any], pane: str) -> int:
    """Add the rows of ``frame`` whose ``covered`` equals ``covered`` as one styled layer; returns their number."""
    part = frame.loc[frame["covered"].fillna(False).astype(bool) == covered]
    if len(part):
        display, shown = _ov._display(part, fields, labels)
        m.add_child(
            folium.GeoJson(
                _ov._feature_collection(display, shown),
                name=f"{labels[key]} ({len(part):,})",
                style_function=_ov._constant(style),
                tooltip=_ov._tooltip(shown) if shown else None,
                pane=_ov._pane(pane),
            )
        )
    return len(part)


def _coverage_class(value: Any) -> int | None:
    number = _ov._number(value)
    if number is None:
        return None
    return next(i for i, (high, _) in enumerate(COVERAGE_BINS) if number < high or high == 100.0)


def _columns(frame: pd.DataFrame, *names: str) -> Iterable[tuple[Any, ...]]:
    columns = [frame[n] if n in frame else pd.Series([None] * len(frame), index=frame.index) for n in names]
    return zip(*columns, strict=True)


# --- 4. all cases, fetched by bounding box ------------------------------------------------------------------


def cases_map(
    *,
    bounds: tuple[float, float, float, float],
    data_url: str,
    lang: str = "zh",
    tiles: str | None = "OpenStreetMap",
    tile_attribution: str | None = None,
    datum: str = "wgs84",
    route: Mapping[str, Any] | BaseGeometry | None = None,
    statuses_labels: Mapping[str, str] | None = None,
    time_zone: str | None = None,
    static_prefix: str = "/static",
) -> folium.Map:
    """Every case of a city without embedding them: the page fetches the cases in view from ``data_url``.

    ``maps/static/js/gridpatrol-cases.js`` (loaded from ``static_prefix``) asks, on load and after every move
    or zoom, ``data_url?bbox=minlon,minlat,maxlon,maxlat&zoom=Z`` (appended to a query string ``data_url``
    may already have; WGS-84 even when ``datum="gcj02"``), sending ``Authorization: Bearer <token>`` when
    ``localStorage["gridpatrol.token"]`` holds one, and draws the JSON answer::

        {"clusters": [{"lon": .., "lat": .., "count": n, "overdue": k, "statuses": {"dispatched": 3, ...}}],
         "cases": [{"id": .., "lon": .., "lat": .., "status": .., "overdue": bool, "category": ..,
                    "category_name": .., "deadline_at": iso or null, "thumbnail": url or null,
                    "url": "/api/v1/cases/ID"}],
         "total": N}

    Clusters are circles sized by count and coloured by the share overdue (click: zoom in); cases are dots
    coloured by status, ringed red when overdue, with a popup (category, status, deadline, thumbnail, link).
    The server decides when to answer with clusters and when with cases (by zoom). At most one request is in
    flight; a stale answer is never drawn.

    Parameters
    ----------
    bounds
        ``(minlon, minlat, maxlon, maxlat)`` in WGS-84 that the map opens on.
    data_url
        Endpoint as above, absolute or relative to the page.
    route
        Optional dispatch route: a GeoJSON LineString (geometry or Feature dict) or a shapely line, WGS-84,
        drawn dashed.
    statuses_labels
        Display names of statuses, added to / overriding the built-in ones (``LABELS[lang]["status:…"]``).
    time_zone
        IANA zone in which popups show deadlines (e.g. ``"Asia/Shanghai"``); ``None``: the browser's own.

    Raises
    ------
    GeoValidationError
        Naming ``bounds``, ``data_url``, ``route`` or ``time_zone`` when they are malformed.
    """
    labels = _labels(lang)
    _check_options(datum, tiles, tile_attribution)
    problems = ProblemList()
    area = _bounds_box(bounds, problems)
    if not isinstance(data_url, str) or not data_url.strip():
        problems.add(
            "invalid_argument", f"'data_url' should be a non-empty URL, got {data_url!r}", field="data_url"
        )
    line = _route_line(route, problems) if route is not None else None
    if time_zone is not None:
        try:
            ZoneInfo(time_zone)
        except (ValueError, ZoneInfoNotFoundError):
            problems.add(
                "invalid_argument", f"'time_zone' is no IANA time zone: {time_zone!r}", field="time_zone"
            )
    problems.raise_if_any()

    extent = _to_datum(gpd.GeoDataFrame(geometry=[area], crs=4326), datum)
    m = _new_map(extent, tiles, tile_attribution)
    statuses = {
        **{key.removeprefix("status:"): text for key, text in labels.items() if key.startswith("status:")},
        **{str(k): str(v) for k, v in (statuses_labels or {}).items()},
    }
    layer = _CasesLayer(
        data_url=data_url,
        datum=datum,
        labels=labels,
        statuses=statuses,
        lang=lang,
        time_zone=time_zone,
        static_prefix=static_prefix,
    )
    m.add_child(layer)
    if line is not None:
        route_frame = _to_datum(gpd.GeoDataFrame(geometry=[line], crs=4326), datum)
        m.add_child(CustomPane(_ov._pane("route"), z_index=450, pointer_events=False))
        m.add_child(
            folium.GeoJson(
                _ov._feature_collection(route_frame, {}),
                name=labels["route"],
                style_function=_ov._constant(_STYLES["route"]),
                pane=_ov._pane("route"),
            )
        )
    m.add_child(_ov._Legend(_cases_legend(statuses, line is not None, labels)))
    m.add_child(folium.LayerControl(collapsed=False))
    return _finish(m, static_prefix)


def _cases_legend(statuses: Mapping[str, str], has_route: bool, labels: Mapping[str, str]) -> str:
    rows = [
        f"<h4>{_ov._esc(labels['cases'])}</h4>",
        f'<div class="gp-sub">{_ov._esc(labels["status"])}</div>',
    ]
    for status, colour in STATUS_COLOURS.items():
        rows.append(_dot_row(f"background: {colour}; border: 1.5px solid #fff", statuses.get(status, status)))
    rows.append(_dot_row(f"background: #fff; border: 3px solid {_OVERDUE_COLOUR}", labels["overdue_ring"]))
    rows.append(f'<div class="gp-sub">{_ov._esc(labels["overdue_share"])}</div>')
    for _, colour, key in SHARE_COLOURS:
        rows.append(_dot_row(f"background: {colour}", labels[key]))
    if has_route:
        route = _STYLES["route"]
        rows.append(_line_row(f"border-top: 3px dashed {route['color']}", labels["route"], None))
    rows.append(f'<div class="gp-hint">{_ov._esc(labels["cases_hint"])}</div>')
    return "\n".join(rows)


class _CasesLayer(JSCSSMixin, Layer):
    """``L.gridpatrolCases``: the layer of ``js/gridpatrol-cases.js``, loaded with its stylesheet."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.gridpatrolCases({{ this.options|tojson }});
        {% endmacro %}
        """
    )

    def __init__(
        self,
        *,
        data_url: str,
        datum: str,
        labels: Mapping[str, str],
        statuses: Mapping[str, str],
        lang: str,
        time_zone: str | None,
        static_prefix: str,
    ) -> None:
        super().__init__(name=labels["cases"], overlay=True, control=True, show=True)
        self._name = "GridpatrolCases"
        prefix = static_prefix.rstrip("/")
        self.default_js = [("gridpatrol-cases", f"{prefix}/js/gridpatrol-cases.js")]
        self.default_css = [("gridpatrol-cases-css", f"{prefix}/css/gridpatrol-cases.css")]
        keys = (
            "loading",
            "total",
            "load_failed",
            "empty",
            "status",
            "category",
            "deadline",
            "overdue",
            "timeline",
            "other_status",
            "yes",
            "no",
            "cases",
        )
        self.options = {
            "dataUrl": data_url,
            "datum": datum,
            "locale": "zh-CN" if lang == "zh" else "en-GB",
            "timeZone": time_zone,
            "labels": {key: labels[key] for key in keys},
            "statusLabels": dict(statuses),
            "statusColors": {**STATUS_COLOURS, "": _OTHER_STATUS_COLOUR},
            "overdueColor": _OVERDUE_COLOUR,
            "shareColors": [[bound, colour] for bound, colour, _ in SHARE_COLOURS],
            "tokenKey": "gridpatrol.token",
        }


def _bounds_box(bounds: Any, problems: ProblemList) -> BaseGeometry:
    try:
        minx, miny, maxx, maxy = (float(v) for v in bounds)
        ok = all(math.isfinite(v) for v in (minx, miny, maxx, maxy))
        ok = ok and -180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90
    except (TypeError, ValueError):
        ok = False
    if not ok:
        problems.add(
            "invalid_argument",
            f"'bounds' should be (minlon, minlat, maxlon, maxlat) in degrees with min <= max, got {bounds!r}",
            field="bounds",
        )
        return box(0, 0, 1, 1)
    return box(minx, miny, maxx, maxy)


def _route_line(route: Any, problems: ProblemList) -> BaseGeometry | None:
    geometry: Any = route
    if isinstance(route, Mapping):
        geometry = route.get("geometry") if route.get("type") == "Feature" else route
        try:
            geometry = shape(geometry)
        except (AttributeError, KeyError, TypeError, ValueError, shapely.errors.ShapelyError) as error:
            problems.add("invalid_argument", f"'route' is not a GeoJSON geometry: {error}", field="route")
            return None
    if not isinstance(geometry, BaseGeometry) or geometry.geom_type not in _LINES or geometry.is_empty:
        kind = geometry.geom_type if isinstance(geometry, BaseGeometry) else type(geometry).__name__
        problems.add("geometry_type", f"'route' should be a (GeoJSON) LineString, got {kind}", field="route")
        return None
    return geometry


# --- 5. grids -----------------------------------------------------------------------------------------------


def grids_map(
    grids: gpd.GeoDataFrame,
    *,
    lang: str = "zh",
    tiles: str | None = "OpenStreetMap",
    tile_attribution: str | None = None,
    datum: str = "wgs84",
    static_prefix: str = "/static",
) -> folium.Map:
    """Grid boundaries with their codes (as labels from zoom :data:`GRID_LABELS_MIN_ZOOM`) and grid workers.

    Parameters
    ----------
    grids
        Polygons: ``code``, ``households``, ``worker`` (display name; missing means unassigned, filled amber);
        optional ``name``.

    Raises
    ------
    GeoValidationError
        Naming ``grids`` / ``grids.<column>`` for a missing column or CRS or a geometry that is no polygon.
    """
    labels = _labels(lang)
    _check_options(datum, tiles, tile_attribution)
    problems = ProblemList()
    grids = _frame(grids, "grids", ("code", "households", "worker"), _POLYGONS, problems)
    problems.raise_if_any()
    grids = _to_datum(grids, datum)

    m = _new_map(grids, tiles, tile_attribution)
    if not len(grids):
        return _finish_empty(m, labels, static_prefix)
    m.add_child(CustomPane(_ov._pane("grids"), z_index=410, pointer_events=False))

    assigned = grids["worker"].notna() & (grids["worker"].astype(str).str.strip() != "")
    display = grids.assign(
        worker=grids["worker"].astype(object).where(assigned, labels["unassigned"]), gp_assigned=assigned
    )
    fields = {
        "code": labels["code"],
        "name": labels["name"],
        "households": labels["households"],
        "worker": labels["worker"],
    }
    display, shown = _ov._display(display, fields, labels)
    m.add_child(
        folium.GeoJson(
            _ov._feature_collection(display, {**shown, "gp_assigned": ""}),
            name=f"{labels['grids']} ({len(grids):,})",
            style_function=lambda f: dict(
                _STYLES["grid_assigned" if f["properties"]["gp_assigned"] else "grid_unassigned"]
            ),
            highlight_function=_ov._constant(_HIGHLIGHT),
            tooltip=_ov._tooltip(shown),
            pane=_ov._pane("grids"),
        )
    )
    codes = folium.FeatureGroup(name=labels["grid_codes"], overlay=True)
    for code, point in zip(display["code"], grids.geometry.representative_point(), strict=True):
        folium.Marker(
            (point.y, point.x),
            icon=folium.DivIcon(html=f"<span>{code}</span>", icon_size=(0, 0), class_name="gp-grid-label"),
            interactive=False,
            keyboard=False,
        ).add_to(codes)
    m.add_child(codes)
    m.add_child(_ov._HideLabelsBelow(GRID_LABELS_MIN_ZOOM))

    legend = [
        f"<h4>{_ov._esc(labels['grids_title'])}</h4>",
        _ov._legend_row(_fill_swatch(_STYLES["grid_assigned"]), labels["assigned"], int(assigned.sum())),
        _ov._legend_row(
            _fill_swatch(_STYLES["grid_unassigned"]), labels["not_assigned"], int((~assigned).sum())
        ),
        f'<div class="gp-hint">{_ov._esc(labels["zoom_for_codes"].format(zoom=GRID_LABELS_MIN_ZOOM))}</div>',
    ]
    m.add_child(_ov._Legend("\n".join(legend)))
    m.add_child(folium.LayerControl(collapsed=False))
    return _finish(m, static_prefix)


# --- shared -------------------------------------------------------------------------------------------------


def _labels(lang: str) -> dict[str, str]:
    if lang not in LABELS:
        raise ValueError(f"'lang' should be one of {sorted(LABELS)}, got {lang!r}")
    return LABELS[lang]


def _check_options(datum: str, tiles: Any, tile_attribution: str | None) -> None:
    if datum not in DATUMS:
        raise ValueError(f"'datum' should be one of {list(DATUMS)}, got {datum!r}")
    if isinstance(tiles, str) and "{" in tiles and not tile_attribution:
        raise ValueError("'tile_attribution' is required with a tile URL template in 'tiles'")


def _frame(
    frame: Any, arg: str, required: tuple[str, ...], geom_types: tuple[str, ...], problems: ProblemList
) -> Any:
    """``frame`` checked (as :func:`maps.overview._checked`) plus its geometry types, in EPSG:4326."""
    before = len(problems.problems)
    frame = _ov._checked(frame, arg, required, problems)
    if len(problems.problems) > before or not isinstance(frame, gpd.GeoDataFrame):
        return frame
    types = frame.geom_type
    wrong = ~types.isin(list(geom_types))
    if wrong.any():
        found = sorted(set(types[wrong]))
        problems.add(
            "geometry_type",
            f"'{arg}' should hold {' or '.join(geom_types)} geometries, got {', '.join(found)} "
            f"({int(wrong.sum())} of {len(frame)} rows)",
            field=arg,
        )
    return frame


def _check_numbers(
    values: pd.Series,
    field: str,
    problems: ProblemList,
    *,
    low: float | None = None,
    high: float | None = None,
    integer: bool = False,
    allow_missing: bool = True,
) -> pd.Series:
    """``values`` as numbers; a problem naming ``field`` lists examples outside ``low`` … ``high``."""
    parsed = pd.to_numeric(values, errors="coerce")
    present = parsed.notna()
    bad = values.notna() & ~present
    if not allow_missing or integer:
        bad |= values.isna()
    if low is not None:
        bad |= present & (parsed < low)
    if high is not None:
        bad |= present & (parsed > high)
    if integer:
        bad |= present & (parsed != parsed.round())
    if bad.any():
        rule = "whole numbers" if integer else "numbers"
        if low is not None and high is not None:
            rule += f" from {_plain(low)} to {_plain(high)}"
        elif low is not None:
            rule += f" >= {_plain(low)}"
        examples = ", ".join(repr(v) for v in values[bad].head(5).tolist())
        problems.add("bad_value", f"'{field}' should hold {rule}; got {examples}", field=field)
    return parsed


def _to_datum(frame: gpd.GeoDataFrame, datum: str) -> gpd.GeoDataFrame:
    """``frame`` with every coordinate of every geometry moved to ``datum`` (the CRS label stays EPSG:4326)."""
    if datum == "wgs84" or not len(frame):
        return frame

    def shift(xy: Any) -> Any:
        out = xy.copy()
        out[:, 0], out[:, 1] = wgs84_to_gcj02(xy[:, 0], xy[:, 1])
        return out

    moved = shapely.transform(frame.geometry.values, shift)
    return frame.set_geometry(gpd.GeoSeries(moved, index=frame.index, crs=frame.crs))


def _new_map(extent: gpd.GeoDataFrame, tiles: Any, tile_attribution: str | None) -> folium.Map:
    m = _ov._base_map(extent, None, None, tiles, tile_attribution)
    for child in m._children.values():
        if isinstance(child, folium.TileLayer):
            child.control = False  # one basemap: a lone radio button in the layer control says nothing
        elif isinstance(child, FitBounds):
            # Jump, don't animate, from the initial zoom 14: Leaflet clips the paths of layers added during
            # the zoom animation to stale renderer bounds (half-drawn polygons until the next move).
            child.options["animate"] = False
    m.add_child(_ov._Stylesheet(_ov._CSS))
    m.add_child(_ov._Stylesheet(_EXTRA_CSS))
    return m


def _finish(m: folium.Map, static_prefix: str) -> folium.Map:
    return use_local_assets(m, prefix=f"{static_prefix.rstrip('/')}/vendor")


def _finish_empty(m: folium.Map, labels: Mapping[str, str], static_prefix: str) -> folium.Map:
    m.add_child(_ov._Notice(labels["empty"]))
    return _finish(m, static_prefix)


def _category_names(
    values: pd.Series, category_labels: Mapping[Any, str] | None, labels: Mapping[str, str]
) -> list[str]:
    names = []
    for value in values:
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            names.append(labels["uncategorised"])
        else:
            names.append(str((category_labels or {}).get(value, value)))
    return names


def _groups(names: list[str]) -> list[tuple[str, list[int]]]:
    """Row positions of each name, the largest group first (ties by name)."""
    rows: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        rows.setdefault(name, []).append(i)
    return sorted(rows.items(), key=lambda item: (-len(item[1]), item[0]))


def _swatch(colour: str, faint: bool) -> str:
    """A legend swatch for a cell fill (as drawn: 0.8 opaque, or faint with a grey outline)."""
    if faint:
        return f"background: {colour}55; border: 1px solid #9ca3af"
    return f"background: {colour}cc"


def _fill_swatch(style: Mapping[str, Any]) -> str:
    """A legend swatch for a polygon style, a little more opaque than on the map (no basemap behind it)."""
    alpha = format(round(255 * min(1.0, style["fillOpacity"] + 0.2)), "02x")
    return f"background: {style['fillColor']}{alpha}; border: 1.5px solid {style['color']}"


def _line_row(style: str, label: str, count: int | None) -> str:
    count_html = "" if count is None else f'<span class="gp-count">{count:,}</span>'
    return (
        f'<div class="gp-row"><span class="gp-line" style="{style}"></span>'
        f"<span>{_ov._esc(label)}</span>{count_html}</div>"
    )


def _dot_row(style: str, label: str) -> str:
    return f'<div class="gp-row"><span class="gp-dot" style="{style}"></span><span>{_ov._esc(label)}</span></div>'


def _count_row(label: str, count: int) -> str:
    return f'<div class="gp-row"><span>{_ov._esc(label)}</span><span class="gp-count">{count:,}</span></div>'


def _plain(value: Any) -> str:
    number = _ov._number(value)
    if number is None:
        return "—"
    return f"{number:,.0f}" if number.is_integer() else f"{number:,.2f}".rstrip("0")


def _decimal(value: Any, digits: int) -> str | None:
    number = _ov._number(value)
    return None if number is None else f"{number:.{digits}f}"


def _p_value(value: Any) -> str | None:
    number = _ov._number(value)
    if number is None:
        return None
    return "< 0.001" if number < 0.001 else f"{number:.3f}"


def _percent(value: Any, labels: Mapping[str, str]) -> str:
    number = _ov._number(value)
    return labels["no_streets"] if number is None else f"{number:.1f}%"


def _length(value: Any) -> str | None:
    number = _ov._number(value)
    if number is None:
        return None
    return f"{number / 1000:.2f} km" if number >= 1000 else f"{number:.0f} m"


def _period(start: Any, end: Any) -> str | None:
    def fmt(t: Any) -> str | None:
        if t is None or (not isinstance(t, str) and pd.isna(t)):
            return None
        try:
            return pd.Timestamp(t).strftime("%Y-%m-%d %H:%M")
        except (TypeError, ValueError):
            return str(t)

    a, b = fmt(start), fmt(end)
    if a and b:
        return f"{a}–{b[11:]}" if a[:10] == b[:10] else f"{a}–{b}"
    return a or b
