"""The desk's 考核 page (/desk/scorecards) and the printable 月报 (/desk/reports/monthly), rendered on the server from
plain data (the scorecards of :mod:`patrol.analytics.scorecard`, the report of
:mod:`patrol.analytics.monthly_report`, passed in by the route): a ranking table with 优秀 marks, each item's figure
and points, a trend sparkline and a map of the grids coloured by score, both inline SVG built here — no script."""

from __future__ import annotations

import math
from urllib.parse import urlencode

from markupsafe import Markup

from maps.desk.common import frame, pick
from maps.templating import esc, render

TEXT = {
    "zh": {
        "title": "考核", "month": "月份", "show": "查看", "by": "考核对象", "rank": "名次", "name": "名称",
        "grids": "网格", "total": "总分", "grade": "等次", "excellent": "优秀", "trend": "近6月趋势",
        "card": "考核卡", "item": "考核项目", "figure": "数值", "points": "得分", "weight": "满分",
        "export_csv": "导出 CSV", "export_xlsx": "月报 Excel", "report": "打印月报", "as_of": "截至",
        "empty": "本范围内没有可考核的对象：网格尚未指定网格员（或网格长）。", "close": "关闭",
        "rules": "考核细则", "of": "共 {n} 名", "open_card": "查看考核卡", "by_worker": "网格员",
        "by_grid": "网格", "by_community": "社区", "by_grid_lead": "网格长", "no_value": "—",
        "monthly": "月报", "kpis": "主要指标", "this_month": "本月", "last_month": "上月", "change": "变化",
        "workers": "网格员排名", "grid_rank": "网格排名", "overdue": "超期案件", "no_overdue": "本月无超期案件。",
        "number": "案件编号", "category": "类别", "deadline": "时限", "closed": "结案时间", "kind": "情形",
        "open": "超期未结", "late": "超期结案", "map": "网格考核得分图", "mediation": "调解与民情",
        "mediations": "调解数", "agreed": "达成协议", "success": "调解成功率", "needs_due": "本月到期诉求",
        "needs_answered": "已答复", "needs_on_time": "按期答复", "print": "打印", "legend": "图例",
        "no_score": "无考核", "scope_of": "{name} 月报 · {month}",
    },
    "en": {
        "title": "Assessment", "month": "Month", "show": "Show", "by": "Assess", "rank": "Rank", "name": "Name",
        "grids": "Grids", "total": "Total", "grade": "Grade", "excellent": "Excellent", "trend": "Last 6 months",
        "card": "Scorecard", "item": "Item", "figure": "Figure", "points": "Points", "weight": "Out of",
        "export_csv": "Export CSV", "export_xlsx": "Monthly report (Excel)", "report": "Printable report",
        "as_of": "as of", "empty": "Nobody to assess here: no grid has a grid worker (or grid lead) yet.",
        "close": "Close", "rules": "Rules", "of": "of {n}", "open_card": "Open the scorecard",
        "by_worker": "Grid workers", "by_grid": "Grids", "by_community": "Communities", "by_grid_lead": "Grid leads",
        "no_value": "—", "monthly": "Monthly report", "kpis": "Key figures",
        "this_month": "This month", "last_month": "Last month", "change": "Change", "workers": "Grid workers ranked",
        "grid_rank": "Grids ranked", "overdue": "Overdue cases", "no_overdue": "No overdue cases this month.",
        "number": "Case no.", "category": "Category", "deadline": "Deadline", "closed": "Closed", "kind": "Kind",
        "open": "Overdue, open", "late": "Closed late", "map": "Grids by score", "mediation": "Mediation and needs",
        "mediations": "Mediations", "agreed": "Agreements", "success": "Success rate", "needs_due": "Needs due",
        "needs_answered": "Answered", "needs_on_time": "Answered on time", "print": "Print", "legend": "Legend",
        "no_score": "Not assessed", "scope_of": "{name} monthly report · {month}",
    },
}
BY = ("worker", "grid", "community", "grid_lead")
#: score bands of the map and their colours (from the pass mark up)
BANDS = (("#d73027", "< {pass}"), ("#fdae61", "{pass}–{exc}"), ("#1a9850", "≥ {exc}"))


def figure_text(item: dict, lang: str) -> str:
    """An item's figure in words: a rate as a percentage with its fraction, a count as a number."""
    if item["value"] is None:
        return TEXT[lang]["no_value"]
    if item["kind"] == "rate":
        if item["measure"] == "street_coverage":  # metres: the fraction would read as noise
            return f"{item['value'] * 100:.1f}% ({item['num']:,.0f}/{item['den']:,.0f} m)"
        return f"{item['value'] * 100:.1f}% ({item['num']:g}/{item['den']:g})"
    return f"{item['value']:g}"


def sparkline(totals: list[float | None], *, top: float = 100.0, width: int = 96, height: int = 24) -> Markup:
    """An inline SVG line of the totals (None: a gap), 0 … ``top`` bottom to top, with a dot on the last value."""
    n = len(totals)
    if n == 0:
        return Markup("")
    step = width / max(n - 1, 1)

    def y(v: float) -> float:
        return round(height - 2 - (height - 4) * max(0.0, min(1.0, v / top)), 1)

    parts: list[list[str]] = []
    run: list[str] = []
    for i, v in enumerate(totals):
        if v is None:
            if len(run) > 1:
                parts.append(run)
            run = []
            continue
        run.append(f"{round(i * step, 1)},{y(v)}")
    if len(run) > 1:
        parts.append(run)
    lines = "".join(f'<polyline points="{" ".join(p)}" fill="none" stroke="#2b6cb0" stroke-width="1.5"/>'
                    for p in parts)
    last = next(((i, v) for i, v in reversed(list(enumerate(totals))) if v is not None), None)
    dot = "" if last is None else f'<circle cx="{round(last[0] * step, 1)}" cy="{y(last[1])}" r="2.5" fill="#2b6cb0"/>'
    label = esc(" → ".join("—" if v is None else f"{v:g}" for v in totals))
    return Markup(f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
                  f'aria-label="{label}"><title>{label}</title>{lines}{dot}</svg>')


def band_colour(total: float | None, passing: float, excellent: float) -> str:
    if total is None:
        return "#e2e8f0"
    return BANDS[2][0] if total >= excellent else BANDS[1][0] if total >= passing else BANDS[0][0]


def grid_map_svg(grids: list[dict], *, passing: float, excellent: float, width: int = 640) -> Markup:
    """The grids (``{code, name, rings: [[[lon, lat], …]], label_at: [lon, lat], total, excellent}``) as an SVG
    map, coloured by score band, labelled with code tails and totals (★ for 优秀); lon/lat scaled by cos(latitude)
    to keep shapes."""
    pts = [(x, y) for g in grids for poly in g["rings"] for ring in poly for x, y in ring]
    if not pts:
        return Markup("")
    west, east = min(p[0] for p in pts), max(p[0] for p in pts)
    south, north = min(p[1] for p in pts), max(p[1] for p in pts)
    kx = math.cos(math.radians((south + north) / 2))
    span_x, span_y = max((east - west) * kx, 1e-9), max(north - south, 1e-9)
    scale = (width - 20) / span_x
    height = int(span_y * scale) + 20

    def xy(lon: float, lat: float) -> str:
        return f"{round(10 + (lon - west) * kx * scale, 1)},{round(10 + (north - lat) * scale, 1)}"

    shapes, labels = [], []
    for g in grids:
        d = " ".join("M" + " L".join(xy(x, y) for x, y in ring) + " Z" for poly in g["rings"] for ring in poly)
        tip = esc(f"{g['code']} {g['name']}: {'—' if g['total'] is None else g['total']}")
        shapes.append(f'<path d="{d}" fill="{band_colour(g["total"], passing, excellent)}" fill-opacity="0.75" '
                      f'stroke="#1a202c" stroke-width="1"><title>{tip}</title></path>')
        if g.get("label_at"):
            cx, cy = g["label_at"]
        else:
            ring = max((r for poly in g["rings"] for r in poly), key=len)
            cx, cy = sum(p[0] for p in ring) / len(ring), sum(p[1] for p in ring) / len(ring)
        x, y = xy(cx, cy).split(",")
        text = f"{g['code'][-3:]} {'' if g['total'] is None else g['total']:}{' ★' if g['excellent'] else ''}"
        labels.append(f'<text x="{x}" y="{y}" text-anchor="middle" font-size="11">{esc(text)}</text>')
    return Markup(f'<svg class="gridmap" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
                  f'role="img">{"".join(shapes)}{"".join(labels)}</svg>')


def _query(**kw: str | None) -> str:
    return urlencode({k: v for k, v in kw.items() if v})


def render_scorecards(out: dict, *, card: dict | None, lang: str | None, actor_label: str,
                      community: str | None = None, subdistrict: str | None = None, error: str | None = None,
                      monthly: bool = True) -> str:
    """The HTML of /desk/scorecards for the scorecards ``out`` (and the worker's ``card`` when one is open);
    ``error``: what is wrong with the month asked for (shown beside the picker); ``monthly``: offer the 月报."""
    lang = pick(lang)
    t = TEXT[lang]
    rules = out["rules"]
    base = {"month": out["month"], "by": out["by"], "community": community, "subdistrict": subdistrict, "lang": lang}
    rows = [{**r, "spark": sparkline([p["total"] for p in r.get("trend", [])], top=rules["max_points"]),
             "figures": [figure_text(i, lang) for i in r["items"]],
             "card_href": "?" + _query(**base, worker=r["username"]) if out["by"] == "worker" else None}
            for r in out["rows"]]
    card_view = None
    if card is not None:
        c = card["card"]
        card_view = {**c, "figures": [figure_text(i, lang) for i in c["items"]],
                     "spark": sparkline([p["total"] for p in c["trend"]], top=rules["max_points"], width=240,
                                        height=48)}
    links = {
        "csv": "/api/v1/scorecards?" + _query(month=out["month"], by=out["by"], community=community,
                                              subdistrict=subdistrict, format="csv", headers=lang),
        "xlsx": "/api/v1/reports/monthly.xlsx?" + _query(month=out["month"], community=community,
                                                         subdistrict=subdistrict),
        "report": "/desk/reports/monthly?" + _query(month=out["month"], community=community,
                                                    subdistrict=subdistrict, lang=lang),
        "close": "?" + _query(**base),
    }
    return render("desk_scorecards.html", **frame(lang, active="scorecards"), t=t, out=out, rows=rows,
                  card=card_view, links=links, by_options=[(b, t[f"by_{b}"]) for b in BY], community=community or "",
                  subdistrict=subdistrict or "", actor_label=actor_label, error=error, monthly=monthly)


def render_monthly(report: dict, *, lang: str | None, actor_label: str) -> str:
    """The HTML of the printable 月报 (A4)."""
    lang = pick(lang)
    t = TEXT[lang]
    g = report["rules"]["grades"]
    svg = grid_map_svg(report.get("map", []), passing=g["pass"], excellent=g["excellent"])
    legend = [(colour, text.format(**{"pass": f"{g['pass']:g}", "exc": f"{g['excellent']:g}"}))
              for colour, text in BANDS]
    return render("desk_monthly.html", **frame(lang, active="scorecards"), t=t, r=report, map_svg=svg,
                  legend=legend, title=t["scope_of"].format(name=report["scope"]["name"], month=report["month"]),
                  actor_label=actor_label)
