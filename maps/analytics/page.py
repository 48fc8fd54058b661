"""The frame every analysis map page shares: a title, the period in words, a GET form of controls (period, category,
status …), a link back to the dashboard, an explanation when there is nothing to see, and the grid and community
outlines under the data.

Renders only: the route decides the period, the options and whether the page is empty or not significant, and
hands them over as plain values (:class:`PageFrame`). The controls are an ordinary form: submitting it reloads
the page with query parameters, so the page works without script; ``js/map-page.js`` only keeps the period
select and the dates in step (choosing a preset fills the dates, editing a date selects "custom").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlencode

import folium
import geopandas as gpd
import pandas as pd
from folium.elements import JSCSSMixin
from folium.map import CustomPane, FitBounds
from folium.template import Template

from maps.analytics.common import to_datum
from maps.leaflet import Stylesheet, constant, feature_collection, pane
from maps.templating import esc

__all__ = ["PERIODS", "PAGE_LABELS", "PageFrame", "Select", "add_outlines", "add_page_frame", "period_text"]

PERIODS = ("7", "30", "90", "month", "custom")
"""The period presets of every map page: the last 7, 30, 90 days (today included), this month so far, custom."""

PAGE_LABELS: dict[str, dict[str, str]] = {
    "zh": {
        "title:cases": "案件分布",
        "title:heat": "案件热力图",
        "title:hotspots": "热点分析（冷热点与时空模式）",
        "title:coverage": "巡查覆盖",
        "title:grids": "网格划分",
        "back": "‹ 返回监督看板",
        "lang": "English",
        "period": "时段",
        "period:7": "近7天",
        "period:30": "近30天",
        "period:90": "近90天",
        "period:month": "本月",
        "period:custom": "自定义",
        "from": "从",
        "to": "至",
        "range": "{start} 至 {last}",
        "as_of": "当前划分（截至 {today}）",
        "apply": "查询",
        "all": "全部",
        "category": "类别",
        "channel": "来源",
        "channel:residents": "居民诉求（扫码、12345、Open311）",
        "status": "状态",
        "status:open": "在办",
        "status:overdue": "当前超期",
        "status:closed": "已结案",
        "measure": "统计对象",
        "measure:cases": "全部案件",
        "measure:overdue": "超期案件",
        "measure:reworked": "返工案件",
        "measure:reopened": "重新办理案件",
        "emerging": "时空模式",
        "emerging:week": "近8周",
        "emerging:month": "近8个月",
        "emerging:none": "不显示",
        "community": "社区",
        "count": "共 {n} 件案件",
        "outlines": "网格与社区边界",
        "grid_outline": "网格边界",
        "community_outline": "社区边界",
        "explain:no_cases": "所选时段（{range}）内没有符合条件的案件，所以地图上没有可画的内容。可以试试：选择更长的"
        "时段（如近90天），或减少筛选条件（类别、状态设为“全部”）。",
        "explain:not_significant": "没有显著的热点或冷点：在所选时段（{range}）和条件下，{n} 件案件在空间上的分布与随机"
        "分布没有统计上的明显差别，所以每个单元都是灰色“不显著”。这不代表没有问题，只是案件太少或太分散，"
        "还看不出聚集。可以试试：选择更长的时段（如近90天），或减少筛选条件（类别、统计对象设为“全部”）。",
        "explain:no_patrols": "所选时段（{range}）内没有巡查轨迹，所以所有街巷都显示为未巡查。"
        "可以试试：选择更长的时段，或确认网格员的巡查 App 已同步。",
    },
    "en": {
        "title:cases": "Cases",
        "title:heat": "Case heat map",
        "title:hotspots": "Hot spots (hot and cold spots, emerging patterns)",
        "title:coverage": "Patrol coverage",
        "title:grids": "Grids",
        "back": "‹ Back to the dashboard",
        "lang": "中文",
        "period": "Period",
        "period:7": "Last 7 days",
        "period:30": "Last 30 days",
        "period:90": "Last 90 days",
        "period:month": "This month",
        "period:custom": "Custom",
        "from": "From",
        "to": "to",
        "range": "{start} to {last}",
        "as_of": "Current grids (as of {today})",
        "apply": "Show",
        "all": "All",
        "category": "Category",
        "channel": "Channel",
        "channel:residents": "Residents' requests (QR, 12345, Open311)",
        "status": "Status",
        "status:open": "Open",
        "status:overdue": "Overdue now",
        "status:closed": "Closed",
        "measure": "Counting",
        "measure:cases": "All cases",
        "measure:overdue": "Overdue cases",
        "measure:reworked": "Reworked cases",
        "measure:reopened": "Reopened cases",
        "emerging": "Patterns over time",
        "emerging:week": "last 8 weeks",
        "emerging:month": "last 8 months",
        "emerging:none": "hidden",
        "community": "Community",
        "count": "{n} cases",
        "outlines": "Grid and community boundaries",
        "grid_outline": "Grid boundary",
        "community_outline": "Community boundary",
        "explain:no_cases": "No case matches in the period ({range}), so the map has nothing to draw. Try a longer "
        "period (e.g. the last 90 days) or fewer filters (category and status set to All).",
        "explain:not_significant": "No significant hot or cold spot: in the period ({range}) and with these filters, "
        "the {n} cases are not distributed differently from random to a statistically meaningful degree, so every "
        "cell is grey (not significant). That does not mean there is no problem — there are too few or too "
        "scattered cases to show a cluster. Try a longer period (e.g. the last 90 days) or fewer filters.",
        "explain:no_patrols": "No patrol track in the period ({range}), so every street shows as not patrolled. Try a "
        "longer period, or check that the grid workers' app has synced.",
    },
}
"""Texts of the page frame by language; ``title:<kind>`` per page, ``explain:<why>`` the empty-state advice."""

OUTLINE_TOLERANCE = 2e-5
"""Degrees the outlines are simplified by (about 2 m): finer than a line's width at the zoom they are read."""
GRID_OUTLINE = {"color": "#1e3a8a", "weight": 1, "opacity": 0.55, "fill": False, "interactive": False}
COMMUNITY_OUTLINE = {"color": "#111827", "weight": 2.5, "opacity": 0.75, "dashArray": "6 4", "fill": False,
                     "interactive": False}

_CSS = """
<style>
  html, body { height: 100%; margin: 0; }
  body { display: flex; flex-direction: column; }
  body > .folium-map { flex: 1 1 auto; height: auto !important; min-height: 300px; }
  body > .gp-legend { display: none; }  /* a legend waiting for its layer (maps.leaflet.LayerLegend) */
  .gp-page { order: -1; flex: none; background: #f9fafb; border-bottom: 1px solid #d1d5db; padding: 6px 12px;
      font: 14px/1.4 "PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", "Noto Sans CJK SC", system-ui,
      sans-serif; color: #111827; }
  .gp-page-top { display: flex; align-items: baseline; gap: 14px; flex-wrap: wrap; }
  .gp-page h1 { font-size: 18px; margin: 0; }
  .gp-page .gp-period { font-weight: 700; color: #1d4ed8; }
  .gp-page .gp-total { color: #4b5563; }
  .gp-page .gp-lang { margin-left: auto; }
  .gp-page a { color: #1d4ed8; }
  .gp-page form { display: flex; flex-wrap: wrap; align-items: center; gap: 6px 12px; margin: 6px 0 0; }
  .gp-page label { white-space: nowrap; }
  .gp-page select, .gp-page input, .gp-page button { font: inherit; padding: 2px 4px; }
  .gp-page select { max-width: 220px; }
  .gp-page button { padding: 2px 14px; }
  .gp-explain { margin: 6px 0 0; padding: 6px 10px; background: #fffbeb; border: 1px solid #f59e0b;
      border-radius: 4px; max-width: 1100px; }
</style>
"""


@dataclass(frozen=True)
class Select:
    """One select of the controls: query parameter ``name``, its label and its ``(value, text)`` options."""

    name: str
    label: str
    options: Sequence[tuple[str, str]]
    value: str | None = None


@dataclass(frozen=True)
class PageFrame:
    """What the frame of a map page shows.

    ``kind`` one of cases, heat, hotspots, coverage, grids (picks the title and the form's target); ``period`` a
    key of :data:`PERIODS` with ``start`` and ``end`` (exclusive) local days, or None for a page without a period
    (grids: ``today`` is then shown as "as of"); ``selects`` the other controls; ``keep`` query parameters carried
    along unchanged (community, grid …); ``count`` the cases drawn (None: not counted); ``explain`` a key of
    ``explain:<why>`` in :data:`PAGE_LABELS` (no_cases, not_significant, no_patrols) or None."""

    kind: str
    lang: str
    today: dt.date
    period: str | None = None
    start: dt.date | None = None
    end: dt.date | None = None
    selects: Sequence[Select] = ()
    keep: Mapping[str, str] = field(default_factory=dict)
    count: int | None = None
    explain: str | None = None


def period_text(lang: str, start: dt.date, end: dt.date) -> str:
    """The period [start, end) in words, its last day included: ``2026-11-05 至 2026-12-04``."""
    last = end - dt.timedelta(days=1)
    return PAGE_LABELS[lang]["range"].format(start=start.isoformat(), last=last.isoformat())


def _options(select: Select) -> str:
    out = []
    for value, text in select.options:
        chosen = " selected" if (select.value or "") == value else ""
        out.append(f'<option value="{esc(value)}"{chosen}>{esc(text)}</option>')
    return "".join(out)


def _period_controls(f: PageFrame, t: Mapping[str, str]) -> str:
    if f.period is None or f.start is None or f.end is None:
        return ""
    presets = Select("period", t["period"], [(p, t[f"period:{p}"]) for p in PERIODS], f.period)
    last = f.end - dt.timedelta(days=1)
    return (
        f'<label>{esc(t["period"])} <select name="period" id="gp-period-select">{_options(presets)}</select></label>'
        f'<label>{esc(t["from"])} <input type="date" name="start" value="{f.start.isoformat()}" '
        f'max="{f.today.isoformat()}"></label>'
        f'<label>{esc(t["to"])} <input type="date" name="last" value="{last.isoformat()}" '
        f'max="{f.today.isoformat()}"></label>'
    )


def frame_html(f: PageFrame) -> str:
    """The header of a map page: title, period, count, language and back links, the form, the explanation."""
    t = PAGE_LABELS[f.lang]
    if f.period is not None and f.start is not None and f.end is not None:
        words = period_text(f.lang, f.start, f.end)
        period = f'{esc(t[f"period:{f.period}"])}：{esc(words)}' if f.lang == "zh" else \
            f'{esc(t[f"period:{f.period}"])}: {esc(words)}'
    else:
        words = ""
        period = esc(t["as_of"].format(today=f.today.isoformat()))
    count = "" if f.count is None else \
        f'<span class="gp-total" id="gp-count">{esc(t["count"].format(n=f.count))}</span>'
    other = "en" if f.lang == "zh" else "zh"
    here = {k: v for k, v in f.keep.items() if v}
    for s in f.selects:
        if s.value:
            here[s.name] = s.value
    if f.period is not None and f.start is not None and f.end is not None:
        here["period"] = f.period
        if f.period == "custom":
            here["start"], here["last"] = f.start.isoformat(), (f.end - dt.timedelta(days=1)).isoformat()
    selects = "".join(f'<label>{esc(s.label)} <select name="{esc(s.name)}">{_options(s)}</select></label>'
                      for s in f.selects)
    hidden = "".join(f'<input type="hidden" name="{esc(k)}" value="{esc(v)}">'
                     for k, v in {**{k: v for k, v in f.keep.items() if v}, "lang": f.lang}.items())
    explain = ""
    if f.explain:
        text = t[f"explain:{f.explain}"].format(range=words, n=f.count if f.count is not None else 0)
        explain = f'<p class="gp-explain" id="gp-explain" role="status">{esc(text)}</p>'
    return (
        f'<header class="gp-page" id="gp-page"><div class="gp-page-top">'
        f'<a href="/dashboard?lang={f.lang}" id="gp-back">{esc(t["back"])}</a>'
        f'<h1 id="gp-title">{esc(t["title:" + f.kind])}</h1>'
        f'<span class="gp-period" id="gp-period">{period}</span>{count}'
        f'<a class="gp-lang" href="?{esc(urlencode({**here, "lang": other}))}">{esc(t["lang"])}</a></div>'
        f'<form id="gp-controls" method="get" action="/maps/{f.kind}">{_period_controls(f, t)}{selects}{hidden}'
        f'<button type="submit">{esc(t["apply"])}</button></form>{explain}</header>'
    )


class _Header(JSCSSMixin, folium.MacroElement):
    """The frame's header written into the page body (placed above the map by CSS), with its small script."""

    _template = Template("{% macro html(this, kwargs) %}{{ this.body }}{% endmacro %}")

    def __init__(self, body: str, static_prefix: str) -> None:
        super().__init__()
        self._name = "PageFrame"
        self.body = body
        self.default_js = [("gridpatrol-map-page", f"{static_prefix.rstrip('/')}/js/map-page.js")]


def add_page_frame(m: folium.Map, frame: PageFrame, static_prefix: str = "/static") -> folium.Map:
    """``m`` with the header of ``frame`` above it (see :class:`PageFrame`); the page title becomes the title."""
    if frame.lang not in PAGE_LABELS:
        raise ValueError(f"lang must be one of {', '.join(PAGE_LABELS)}, got {frame.lang!r}")
    m.add_child(Stylesheet(_CSS))
    m.add_child(Stylesheet(f"<title>{esc(PAGE_LABELS[frame.lang]['title:' + frame.kind])}</title>"))
    m.add_child(_Header(frame_html(frame), static_prefix))
    return m


def add_outlines(m: folium.Map, grids: gpd.GeoDataFrame | None, communities: gpd.GeoDataFrame | None, *,
                 lang: str = "zh", datum: str = "wgs84") -> folium.Map:
    """Grid (thin blue) and community (dashed dark) boundaries as lines above the fills and below the markers, not
    catching the mouse; one switchable layer. Frames in EPSG:4326 (polygons); None or empty: not drawn. A map
    not yet fitted to anything (an empty one) is fitted to the outlines."""
    t = PAGE_LABELS[lang]
    parts = [(f, style) for f, style in ((grids, GRID_OUTLINE), (communities, COMMUNITY_OUTLINE))
             if f is not None and len(f)]
    if not parts:
        return m
    # the layer control lists the layers defined before it: it moves after the outlines
    controls = [k for k, child in m._children.items() if isinstance(child, folium.LayerControl)]
    moved = [m._children.pop(k) for k in controls]
    m.add_child(CustomPane(pane("outlines"), z_index=440, pointer_events=False))
    group = folium.FeatureGroup(name=t["outlines"], show=True)
    for frame, style in parts:
        lines = frame.geometry.boundary.simplify(OUTLINE_TOLERANCE).values  # ~2 m: invisible, half the bytes
        shown = to_datum(gpd.GeoDataFrame(geometry=lines, crs=4326), datum)
        folium.GeoJson(feature_collection(shown, {}), style_function=constant(style), pane=pane("outlines"),
                       control=False).add_to(group)
    m.add_child(group)
    if not any(isinstance(child, FitBounds) for child in m._children.values()):
        # an empty map (nothing in the period) still opens on the city, not on the middle of China
        minx, miny, maxx, maxy = to_datum(pd.concat([f[["geometry"]] for f, _ in parts]), datum).total_bounds
        m.fit_bounds([[miny, minx], [maxy, maxx]])
    for control in moved:
        m.add_child(control)
    return m
