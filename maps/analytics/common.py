"""What every analysis map shares: labels, datums, option and number checks, the base map and number formats.

The map-independent Leaflet pieces (legends, tooltips, panes, frame checks) live in :mod:`maps.leaflet`; this
module adds what only the analysis maps need: their labels (on top of :data:`maps.overview.LABELS`), the datum
shift for GCJ-02 basemaps, and the base map without a basemap switch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import folium
import geopandas as gpd
import pandas as pd
import shapely
from folium.map import FitBounds

from geo.crs import Datum, wgs84_to_gcj02
from geo.errors import ProblemList
from geo.hotspots import pattern_name
from maps.assets import use_local_assets
from maps.leaflet import BASE_CSS, Notice, Stylesheet, base_map, number
from maps.overview import LABELS as OVERVIEW_LABELS

DATUMS = (Datum.WGS84.value, Datum.GCJ02.value)  # the datums a basemap comes in
"""Datums a basemap may be drawn in: WGS-84 (OpenStreetMap) or GCJ-02 (AMap, Tencent)."""

HIGHLIGHT = {"weight": 3, "color": "#111827"}
"""Outline of a polygon under the mouse."""

POINTS = ("Point",)
LINES = ("LineString", "MultiLineString")
POLYGONS = ("Polygon", "MultiPolygon")

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
        "timeline": "案件详情与办理过程",
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
        "timeline": "Case page and timeline",
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

LABELS: dict[str, dict[str, str]] = {
    lang: {**OVERVIEW_LABELS[lang], **own} for lang, own in _OWN_LABELS.items()
}
"""UI strings by language: those of :data:`maps.overview.LABELS` plus this module's; ``pattern:<ArcGIS name>``
and ``status:<status>`` keys name the 17 emerging patterns and the case states."""

# --- page ---------------------------------------------------------------------------------------------------

EXTRA_CSS = """
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
"""Styles of the analysis maps' legends (lines, dots, ramps) and grid code labels."""


def labels_of(lang: str) -> dict[str, str]:
    """:data:`LABELS` of ``lang``; ValueError for another language."""
    if lang not in LABELS:
        raise ValueError(f"'lang' should be one of {sorted(LABELS)}, got {lang!r}")
    return LABELS[lang]


def check_options(datum: str, tiles: Any, tile_attribution: str | None) -> None:
    """ValueError for an unknown ``datum`` or a tile URL template without attribution."""
    if datum not in DATUMS:
        raise ValueError(f"'datum' should be one of {list(DATUMS)}, got {datum!r}")
    if isinstance(tiles, str) and "{" in tiles and not tile_attribution:
        raise ValueError("'tile_attribution' is required with a tile URL template in 'tiles'")


def check_numbers(
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
            rule += f" from {plain(low)} to {plain(high)}"
        elif low is not None:
            rule += f" >= {plain(low)}"
        examples = ", ".join(repr(v) for v in values[bad].head(5).tolist())
        problems.add("bad_value", f"'{field}' should hold {rule}; got {examples}", field=field)
    return parsed


def to_datum(frame: gpd.GeoDataFrame, datum: str) -> gpd.GeoDataFrame:
    """``frame`` with every coordinate moved to ``datum`` (the CRS label stays EPSG:4326)."""
    if datum == "wgs84" or not len(frame):
        return frame

    def shift(xy: Any) -> Any:
        out = xy.copy()
        out[:, 0], out[:, 1] = wgs84_to_gcj02(xy[:, 0], xy[:, 1])
        return out

    moved = shapely.transform(frame.geometry.values, shift)
    return frame.set_geometry(gpd.GeoSeries(moved, index=frame.index, crs=frame.crs))


def new_map(extent: gpd.GeoDataFrame, tiles: Any, tile_attribution: str | None) -> folium.Map:
    """A map fitted to ``extent`` with the shared styles, one basemap and no fit animation."""
    m = base_map([extent], tiles, tile_attribution)
    for child in m._children.values():
        if isinstance(child, folium.TileLayer):
            child.control = False  # one basemap: a lone radio button in the layer control says nothing
        elif isinstance(child, FitBounds):
            # Jump, don't animate, from the initial zoom 14: Leaflet clips the paths of layers added during
            # the zoom animation to stale renderer bounds (half-drawn polygons until the next move).
            child.options["animate"] = False
    m.add_child(Stylesheet(BASE_CSS))
    m.add_child(Stylesheet(EXTRA_CSS))
    return m


def finish(m: folium.Map, static_prefix: str) -> folium.Map:
    """``m`` loading Leaflet and its plugins from ``static_prefix``/vendor instead of a CDN."""
    return use_local_assets(m, prefix=f"{static_prefix.rstrip('/')}/vendor")


def finish_empty(m: folium.Map, labels: Mapping[str, str], static_prefix: str) -> folium.Map:
    """``m`` with the "no data" notice, finished."""
    m.add_child(Notice(labels["empty"]))
    return finish(m, static_prefix)


def fill_swatch(style: Mapping[str, Any]) -> str:
    """A legend swatch for a polygon style, a little more opaque than on the map (no basemap behind it)."""
    alpha = format(round(255 * min(1.0, style["fillOpacity"] + 0.2)), "02x")
    return f"background: {style['fillColor']}{alpha}; border: 1.5px solid {style['color']}"


def plain(value: Any) -> str:
    """A number for people: thousands separated, at most two decimals, "—" when missing."""
    value = number(value)
    if value is None:
        return "—"
    return f"{value:,.0f}" if value.is_integer() else f"{value:,.2f}".rstrip("0")
