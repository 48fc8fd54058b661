"""The supervisor's dashboard page: filters, KPI cards in 黄橙红 with their trend, grids ranked by overdue and
satisfaction, links to the maps and downloads of what is filtered. Renders only: the page reads the analytics API
(``/api/v1/analytics/kpis``, ``/kpis/trend``) from the browser with the logged-in user's token."""

from __future__ import annotations

import html
import json

LABELS = {
    "zh": {
        "title": "网格化管理 · 监督看板", "community": "社区", "grid": "网格", "all": "全部", "category": "类别",
        "start": "开始", "end": "结束", "apply": "查询", "this_month": "本月", "last_month": "上月",
        "received": "受理数", "closed": "结案数", "closure_rate": "办结率", "on_time_rate": "按期结案率",
        "satisfaction_rate": "满意率", "rework_rate": "返工率", "overdue_now": "当前超期", "open_now": "在办数",
        "grids": "网格排名（超期多、满意度低的在前）", "code": "编码", "name": "名称", "warning": "预警",
        "maps": "地图", "cases_map": "案件分布", "heat": "热力图", "hotspots": "热点分析", "coverage": "巡查覆盖",
        "grids_map": "网格", "downloads": "下载", "status": "状态", "open": "在办", "closed_status": "已结案", "kpi_csv": "指标 CSV", "cases_csv": "案件 CSV",
        "cases_geojson": "案件 GeoJSON", "cases_gpkg": "案件 GeoPackage", "trend": "近6个月",
        "loading": "加载中…", "empty": "所选范围内暂无案件", "error": "加载失败", "of": "/", "logout": "退出",
        "green": "正常", "yellow": "黄色预警", "orange": "橙色预警", "red": "红色预警", "lang": "English",
        "surveys": "巡查走访报表",
    },
    "en": {
        "title": "gridpatrol · supervisor dashboard", "community": "Community", "grid": "Grid", "all": "All",
        "category": "Category", "start": "From", "end": "To", "apply": "Apply", "this_month": "This month",
        "last_month": "Last month", "received": "Received", "closed": "Closed", "closure_rate": "Closure rate",
        "on_time_rate": "On-time closure", "satisfaction_rate": "Satisfaction", "rework_rate": "Rework rate",
        "overdue_now": "Overdue now", "open_now": "Open now",
        "grids": "Grids ranked (most overdue, least satisfied first)", "code": "Code", "name": "Name",
        "warning": "Warning", "maps": "Maps", "cases_map": "Cases", "heat": "Heatmap", "hotspots": "Hot spots",
        "coverage": "Patrol coverage", "grids_map": "Grids", "downloads": "Downloads", "status": "Status", "open": "Open",
        "closed_status": "Closed", "kpi_csv": "KPIs CSV",
        "cases_csv": "Cases CSV", "cases_geojson": "Cases GeoJSON", "cases_gpkg": "Cases GeoPackage",
        "trend": "last 6 months", "loading": "Loading…", "empty": "No cases in this selection",
        "error": "Could not load", "of": "/", "logout": "Log out", "green": "normal", "yellow": "yellow",
        "orange": "orange", "red": "red", "lang": "中文", "surveys": "Survey reports",
    },
}

PAGE = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><link rel="stylesheet" href="/static/css/dashboard.css"></head>
<body>
<header><h1>{title}</h1><nav><a href="/surveys?lang={lang}" id="surveys">{surveys}</a> ·
<a href="?lang={other}">{lang_label}</a> · <a href="/login" id="logout">{logout}</a></nav></header>
<form id="filters">
 <label>{community}<select name="community"><option value="">{all}</option></select></label>
 <label>{grid}<select name="grid"><option value="">{all}</option></select></label>
 <label>{category}<select name="category"><option value="">{all}</option></select></label>
 <label>{status}<select name="status"><option value="">{all}</option><option value="open">{open}</option>
 <option value="overdue">{overdue_now}</option><option value="closed">{closed_status}</option></select></label>
 <label>{start}<input type="date" name="start"></label>
 <label>{end}<input type="date" name="end"></label>
 <button type="button" data-preset="this_month">{this_month}</button>
 <button type="button" data-preset="last_month">{last_month}</button>
 <button type="submit">{apply}</button>
</form>
<p id="status" role="status"></p>
<section id="cards"></section>
<section class="row">
 <div id="links"><h2>{maps}</h2><ul></ul><h2>{downloads}</h2><ul id="downloads"></ul></div>
 <div id="table"><h2>{grids}</h2><table><thead><tr><th>{code}</th><th>{name}</th><th>{received}</th>
 <th>{closed}</th><th>{on_time_rate}</th><th>{satisfaction_rate}</th><th>{overdue_now}</th><th>{warning}</th>
 </tr></thead><tbody></tbody></table></div>
</section>
<script>window.GRIDPATROL = {config};</script>
<script src="/static/js/dashboard.js"></script>
</body></html>"""


def dashboard_page(*, lang: str = "zh", timezone: str = "Asia/Shanghai") -> str:
    """The dashboard's HTML; ``lang`` zh (default) or en."""
    if lang not in LABELS:
        raise ValueError(f"lang must be one of {', '.join(LABELS)}, got {lang!r}")
    t = LABELS[lang]
    config = json.dumps({"lang": lang, "labels": t, "timezone": timezone}, ensure_ascii=False).replace("<", "\\u003c")
    esc = {k: html.escape(v) for k, v in t.items()}
    return PAGE.format(lang=lang, other="en" if lang == "zh" else "zh", lang_label=esc["lang"], config=config, **{
        k: v for k, v in esc.items() if k not in ("lang",)})
