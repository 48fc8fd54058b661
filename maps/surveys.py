"""The supervisor's field-survey report page (/surveys): inspections planned and done per grid and checklist,
failed items by type, and household visits per grid, for one month; plus table 1 as CSV.

Renders only, from the plain dicts the report API returns (``/api/v1/surveys/report/inspections``, ``/findings``,
``/visits``), so the page and the API cannot disagree: the route calls the same services and hands their results
here. Server-rendered HTML without JavaScript — a supervisor can print it or save it as it is. The visits report
holds counts only; nothing on this page names a resident.
"""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Mapping
from urllib.parse import urlencode

LABELS = {
    "zh": {
        "title": "网格化管理 · 巡查走访报表", "dashboard": "监督看板", "logout": "退出", "lang": "English",
        "month": "月份", "apply": "查询", "prev": "‹ 上月", "next": "下月 ›", "this_month": "本月",
        "inspections": "各网格检查完成情况", "grid": "网格", "planned": "计划", "done": "完成",
        "completion": "完成率", "failed": "不合格", "total": "合计", "csv": "下载 CSV",
        "legend": "完成率：≥100% 绿色，≥70% 橙色，不足 70% 红色；“—”表示本月无计划。"
                  "计划 = 检查对象数 × 30 ÷ 检查周期（天）。",
        "findings": "不合格项（按类型，次数多的在前）", "checklist": "检查表", "item": "检查项",
        "category": "案件类别", "times": "不合格次数", "open_cases": "未结案件",
        "visits": "各网格住户走访", "households": "登记住户", "vulnerable": "重点人员（高龄、残疾、独居）",
        "visits_n": "当月走访", "overdue": "逾期未走访户", "as_of": "逾期截至",
        "no_checklists": "尚未加载检查表，因此没有检查计划。管理员可在服务器上运行 "
                         "<code>gridpatrol checklists load</code> 加载内置检查表（楼道消防、沿街商户、工地、消防通道）。",
        "no_inspections": "本月暂无检查记录。", "no_findings": "本月没有不合格项。",
        "no_grids": "您的范围内没有网格。", "no_households": "尚未登记住户（民情台账为空），"
                                                      "网格员可在巡查 App 中登记。",
        "not_begun": "该月尚未开始，暂无走访数据。", "no_plan": "—",
    },
    "en": {
        "title": "gridpatrol · field survey reports", "dashboard": "Dashboard", "logout": "Log out", "lang": "中文",
        "month": "Month", "apply": "Show", "prev": "‹ Previous", "next": "Next ›", "this_month": "This month",
        "inspections": "Inspections per grid", "grid": "Grid", "planned": "Planned", "done": "Done",
        "completion": "Completion", "failed": "Failed", "total": "Total", "csv": "Download CSV",
        "legend": "Completion: ≥100 % green, ≥70 % orange, below 70 % red; “—” means nothing was planned. "
                  "Planned = targets × 30 ÷ the checklist's frequency in days.",
        "findings": "Failed items by type (most frequent first)", "checklist": "Checklist", "item": "Item",
        "category": "Case category", "times": "Times failed", "open_cases": "Open cases",
        "visits": "Household visits per grid", "households": "Households registered",
        "vulnerable": "Vulnerable residents (elderly, disabled, living alone)", "visits_n": "Visits in the month",
        "overdue": "Households overdue for a visit", "as_of": "Overdue as of",
        "no_checklists": "No checklist is loaded yet, so nothing is planned. An administrator loads the shipped "
                         "ones (stairwells, shops, construction sites, fire lanes) on the server with "
                         "<code>gridpatrol checklists load</code>.",
        "no_inspections": "No inspections this month.", "no_findings": "No failed items this month.",
        "no_grids": "There are no grids in your scope.",
        "no_households": "No households registered yet (the residents register is empty); grid workers add "
                         "them in the field app.",
        "not_begun": "This month has not begun: no visits yet.", "no_plan": "—",
    },
}
RAW = ("no_checklists",)  # labels holding markup of our own (never user data)

CSV_COLUMNS = ("month", "grid_code", "grid_name", "checklist", "title", "targets", "planned", "done",
               "completion_pct", "failed")

STYLE = """<style>
main{padding:0 1.2em 2em}section{margin:1.2em 0}h2{font-size:1.05em;margin:.2em 0 .5em}
.note{color:#4b5563;font-size:.85em;margin:.4em 0}.empty{background:#fff;border:1px dashed #d1d5db;padding:.8em;
border-radius:6px;color:#374151}.scroll{overflow-x:auto}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
th.group{text-align:center;border-left:2px solid #e5e7eb}td.first,th.first{border-left:2px solid #e5e7eb}
td.green{background:#dcfce7;color:#166534;font-weight:600}td.orange{background:#ffedd5;color:#9a3412;font-weight:600}
td.red{background:#fee2e2;color:#991b1b;font-weight:600}tfoot td,tfoot th{font-weight:700;border-top:2px solid #9ca3af}
tr.overdue td{background:#fef2f2}tr.overdue td.overdue{color:#b91c1c;font-weight:700}small{color:#6b7280}
#filters a{color:#991b1b;align-self:center}code{background:#f3f4f6;padding:0 .3em;border-radius:3px}
</style>"""


def completion_pct(planned: int, done: int) -> int | None:
    """Done as a whole percentage of planned, rounded down (so "100 %" always means the plan is met); None when
    nothing was planned."""
    return done * 100 // planned if planned > 0 else None


def completion_level(pct: int | None) -> str | None:
    """green (≥100 %), orange (≥70 %), red (below) — the same three colours as the dashboard's warnings."""
    if pct is None:
        return None
    return "green" if pct >= 100 else "orange" if pct >= 70 else "red"


def _shift(month: str, by: int) -> str:
    year, mon = (int(p) for p in month.split("-"))
    n = year * 12 + mon - 1 + by
    return f"{n // 12:04d}-{n % 12 + 1:02d}"


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _text(d: Mapping | None, lang: str, fallback: str) -> str:
    if not d:
        return fallback
    return d.get(lang) or d.get("zh") or d.get("en") or fallback


def _grid_cell(grid_id: int, code: str, grid_names: Mapping[int, str]) -> str:
    name = grid_names.get(grid_id)
    return f'<th data-grid="{grid_id}">{_e(code)}' + (f"<br><small>{_e(name)}</small>" if name else "") + "</th>"


def _checklists_of(rows: list[dict], lang: str) -> dict[str, str]:
    """code → title in ``lang``, in the report's order."""
    out: dict[str, str] = {}
    for r in rows:
        out.setdefault(r["checklist"], _text(r.get("title"), lang, r["checklist"]))
    return out


def _pct_cell(planned: int, done: int, attrs: str, no_plan: str) -> str:
    pct = completion_pct(planned, done)
    level = completion_level(pct)
    cls = f"n {level}" if level else "n"
    return f'<td class="{cls}" {attrs} data-k="completion">{no_plan if pct is None else f"{pct}%"}</td>'


def _inspections_section(report: dict, t: dict, lang: str, grid_names: Mapping[int, str],
                         checklists_loaded: bool, csv_href: str) -> str:
    rows = report["rows"]
    head = f'<h2>{t["inspections"]}</h2>'
    if not checklists_loaded:
        return head + f'<p class="empty" id="no-checklists">{t["no_checklists"]}</p>'
    if not rows:
        return head + f'<p class="empty">{t["no_grids"]}</p>'
    lists = _checklists_of(rows, lang)
    grids: dict[int, str] = {}
    cell: dict[tuple[int, str], dict] = {}
    for r in rows:
        grids.setdefault(r["grid_id"], r["grid_code"])
        cell[(r["grid_id"], r["checklist"])] = r
    keys = ("planned", "done", "completion", "failed")
    top = "".join(f'<th class="group" colspan="4" data-checklist="{_e(c)}">{_e(title)}</th>'
                  for c, title in lists.items())
    sub = "".join(f'<th class="n{" first" if i == 0 else ""}">{t[k]}</th>' for _ in lists for i, k in enumerate(keys))
    body = []
    totals = {c: {"planned": 0, "done": 0, "failed": 0} for c in lists}
    for gid, code in grids.items():
        tds = []
        for c in lists:
            r = cell.get((gid, c), {"planned": 0, "done": 0, "failed": 0})
            for k in ("planned", "done", "failed"):
                totals[c][k] += r[k]
            a = f'data-grid="{gid}" data-checklist="{_e(c)}"'
            tds.append(f'<td class="n first" {a} data-k="planned">{r["planned"]}</td>'
                       f'<td class="n" {a} data-k="done">{r["done"]}</td>'
                       + _pct_cell(r["planned"], r["done"], a, t["no_plan"])
                       + f'<td class="n" {a} data-k="failed">{r["failed"]}</td>')
        body.append(f"<tr>{_grid_cell(gid, code, grid_names)}{''.join(tds)}</tr>")
    foot = []
    for c, s in totals.items():
        a = f'data-grid="total" data-checklist="{_e(c)}"'
        foot.append(f'<td class="n first" {a} data-k="planned">{s["planned"]}</td>'
                    f'<td class="n" {a} data-k="done">{s["done"]}</td>'
                    + _pct_cell(s["planned"], s["done"], a, t["no_plan"])
                    + f'<td class="n" {a} data-k="failed">{s["failed"]}</td>')
    done_any = any(s["done"] for s in totals.values())
    empty = "" if done_any else f'<p class="empty" id="no-inspections">{t["no_inspections"]}</p>'
    return (head + empty
            + f'<div class="scroll"><table id="inspections-table"><thead><tr><th rowspan="2">{t["grid"]}</th>{top}'
              f'</tr><tr>{sub}</tr></thead><tbody>{"".join(body)}</tbody>'
              f'<tfoot><tr><th>{t["total"]}</th>{"".join(foot)}</tr></tfoot></table></div>'
            + f'<p class="note">{t["legend"]} <a id="csv" href="{_e(csv_href)}" download>{t["csv"]}</a></p>')


def _findings_section(report: dict, t: dict, lang: str, titles: Mapping[str, str],
                      category_labels: Mapping[str, str]) -> str:
    head = f'<h2>{t["findings"]}</h2>'
    rows = report["rows"]
    if not rows:
        return head + f'<p class="empty" id="no-findings">{t["no_findings"]}</p>'
    body = []
    for r in rows:
        a = f'data-checklist="{_e(r["checklist"])}" data-item="{_e(r["item"])}"'
        cat = r.get("category")
        cat_text = "—" if not cat else _e(cat) + (f" {_e(category_labels[cat])}" if cat in category_labels else "")
        body.append(f'<tr><td>{_e(titles.get(r["checklist"], r["checklist"]))}</td>'
                    f'<td>{_e(_text(r.get("text"), lang, r["item"]))}</td><td>{cat_text}</td>'
                    f'<td class="n" {a} data-k="failed">{r["failed"]}</td>'
                    f'<td class="n" {a} data-k="open_cases">{r["open_cases"]}</td></tr>')
    return (head + f'<table id="findings-table"><thead><tr><th>{t["checklist"]}</th><th>{t["item"]}</th>'
                   f'<th>{t["category"]}</th><th class="n">{t["times"]}</th><th class="n">{t["open_cases"]}</th>'
                   f'</tr></thead><tbody>{"".join(body)}</tbody></table>')


def _visits_section(report: dict | None, t: dict, grid_names: Mapping[int, str]) -> str:
    head = f'<h2>{t["visits"]}</h2>'
    if report is None:
        return head + f'<p class="empty" id="not-begun">{t["not_begun"]}</p>'
    rows = report["rows"]
    if not rows:
        return head + f'<p class="empty">{t["no_grids"]}</p>'
    keys = ("households", "vulnerable", "visits", "overdue")
    totals = dict.fromkeys(keys, 0)
    body = []
    for r in rows:
        for k in keys:
            totals[k] += r[k]
        tds = "".join(f'<td class="n{" overdue" if k == "overdue" else ""}" data-grid="{r["grid_id"]}" '
                      f'data-k="{k}">{r[k]}</td>' for k in keys)
        cls = ' class="overdue"' if r["overdue"] > 0 else ""
        body.append(f'<tr{cls}>{_grid_cell(r["grid_id"], r["grid_code"], grid_names)}{tds}</tr>')
    foot = "".join(f'<td class="n" data-grid="total" data-k="{k}">{totals[k]}</td>' for k in keys)
    empty = "" if totals["households"] else f'<p class="empty" id="no-households">{t["no_households"]}</p>'
    return (head + empty
            + f'<table id="visits-table"><thead><tr><th>{t["grid"]}</th><th class="n">{t["households"]}</th>'
              f'<th class="n">{t["vulnerable"]}</th><th class="n">{t["visits_n"]}</th>'
              f'<th class="n">{t["overdue"]}</th></tr></thead><tbody>{"".join(body)}</tbody>'
              f'<tfoot><tr><th>{t["total"]}</th>{foot}</tr></tfoot></table>'
            + f'<p class="note">{t["as_of"]} <time>{_e(report["as_of"])}</time></p>')


PAGE = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · {month}</title><link rel="stylesheet" href="/static/css/dashboard.css">
{style}</head>
<body>
<header><h1>{title}</h1><nav><a href="{dashboard_href}" id="dashboard">{dashboard}</a> ·
<a href="{other_href}" id="lang">{lang_label}</a> · <a href="/login?next=/surveys" id="logout">{logout}</a></nav>
</header>
<form id="filters" method="get" action="/surveys">
 <label>{month_label}<input type="month" name="month" value="{month}" max="{current}" required></label>
 <input type="hidden" name="lang" value="{lang}">
 <button type="submit">{apply}</button>
 <a href="{prev_href}" id="prev">{prev}</a>{next_link}
</form>
<main>
<section id="inspections">{inspections}</section>
<section id="findings">{findings}</section>
<section id="visits">{visits}</section>
</main>
</body></html>"""


def _href(**params) -> str:
    return "/surveys?" + urlencode({k: v for k, v in params.items() if v is not None})


def surveys_page(*, inspections: dict, findings: dict, visits: dict | None, current_month: str, lang: str = "zh",
                 checklists_loaded: bool = True, grid_names: Mapping[int, str] | None = None,
                 category_labels: Mapping[str, str] | None = None) -> str:
    """The report page's HTML for the month of ``inspections`` (``{month, rows}`` of the inspections report).

    ``findings`` and ``visits`` are the other two reports of the same month (``visits`` None: the month has not
    begun); ``current_month`` (YYYY-MM, city time) bounds the month picker; ``checklists_loaded`` False shows how
    to load them instead of an empty plan; ``grid_names`` (grid id → name) and ``category_labels`` (case category
    code → name in ``lang``) only label rows."""
    if lang not in LABELS:
        raise ValueError(f"lang must be one of {', '.join(LABELS)}, got {lang!r}")
    t = {k: (v if k in RAW else html.escape(v)) for k, v in LABELS[lang].items()}
    month = inspections["month"]
    names = grid_names or {}
    titles = _checklists_of(inspections["rows"], lang)
    nxt = _shift(month, 1)
    next_link = f' <a href="{_e(_href(month=nxt, lang=lang))}" id="next">{t["next"]}</a>' \
        if nxt <= current_month else ""
    return PAGE.format(
        lang=lang, title=t["title"], style=STYLE, month=_e(month), current=_e(current_month),
        dashboard=t["dashboard"], dashboard_href=f"/dashboard?lang={lang}",
        other_href=_e(_href(lang="en" if lang == "zh" else "zh", month=month)), lang_label=t["lang"],
        logout=t["logout"], month_label=t["month"], apply=t["apply"], prev=t["prev"],
        prev_href=_e(_href(month=_shift(month, -1), lang=lang)), next_link=next_link,
        inspections=_inspections_section(inspections, t, lang, names, checklists_loaded,
                                         _href(month=month, lang=lang, format="csv")),
        findings=_findings_section(findings, t, lang, titles, category_labels or {}),
        visits=_visits_section(visits, t, names),
    )


def inspections_csv(inspections: dict, *, lang: str = "zh", grid_names: Mapping[int, str] | None = None) -> str:
    """Table 1 as CSV (UTF-8 with BOM, so Excel opens the Chinese right): one row per grid and checklist, columns
    :data:`CSV_COLUMNS`; ``completion_pct`` is empty when nothing was planned."""
    names = grid_names or {}
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(CSV_COLUMNS)
    for r in inspections["rows"]:
        pct = completion_pct(r["planned"], r["done"])
        w.writerow([inspections["month"], r["grid_code"], names.get(r["grid_id"], ""), r["checklist"],
                    _text(r.get("title"), lang, r["checklist"]), r["targets"], r["planned"], r["done"],
                    "" if pct is None else pct, r["failed"]])
    return "\ufeff" + buf.getvalue()
