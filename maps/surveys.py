"""The supervisor's field-survey report page (/surveys): inspections planned and done per grid and checklist,
failed items by type, and household visits per grid, for one month; plus table 1 as CSV.

Renders only, from the plain dicts the report API returns (``/api/v1/surveys/report/inspections``,
``/findings``, ``/visits``), so the page and the API cannot disagree: the route calls the same services and
hands their results here. Server-rendered HTML (``templates/surveys.html``, autoescaped) without JavaScript —
a supervisor can print it or save it as it is. The visits report holds counts only; nothing on this page names
a resident.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from urllib.parse import urlencode

from markupsafe import Markup

from maps.templating import render

LABELS = {
    "zh": {
        "title": "网格化管理 · 巡查走访报表",
        "dashboard": "监督看板",
        "logout": "退出",
        "lang": "English",
        "month": "月份",
        "apply": "查询",
        "prev": "‹ 上月",
        "next": "下月 ›",
        "this_month": "本月",
        "inspections": "各网格检查完成情况",
        "grid": "网格",
        "planned": "计划",
        "done": "完成",
        "completion": "完成率",
        "failed": "不合格",
        "total": "合计",
        "csv": "下载 CSV",
        "legend": "完成率：≥100% 绿色，≥70% 橙色，不足 70% 红色；“—”表示本月无计划。"
        "计划 = 检查对象数 × 30 ÷ 检查周期（天）。",
        "planned_prorated": "计划（折算）",
        "prorated": "本月计划按已过天数折算：已过 {days} 天（共 {of} 天），计划 = 整月计划 × {days} ÷ {of}，向上取整。",
        "findings": "不合格项（按类型，次数多的在前）",
        "checklist": "检查表",
        "item": "检查项",
        "category": "案件类别",
        "times": "不合格次数",
        "open_cases": "未结案件",
        "visits": "各网格住户走访",
        "households": "登记住户",
        "vulnerable": "重点人员（高龄、残疾、独居）",
        "visits_n": "当月走访",
        "overdue": "逾期未走访户",
        "as_of": "逾期截至",
        "no_checklists": "尚未加载检查表，因此没有检查计划。管理员可在服务器上运行 "
        "<code>gridpatrol checklists load</code> 加载内置检查表（楼道消防、沿街商户、工地、消防通道）。",
        "no_inspections": "本月暂无检查记录。",
        "no_findings": "本月没有不合格项。",
        "no_grids": "您的范围内没有网格。",
        "no_households": "尚未登记住户（民情台账为空），网格员可在手机应用「网格通」中登记。",
        "not_begun": "该月尚未开始，暂无走访数据。",
        "no_plan": "—",
    },
    "en": {
        "title": "gridpatrol · field survey reports",
        "dashboard": "Dashboard",
        "logout": "Log out",
        "lang": "中文",
        "month": "Month",
        "apply": "Show",
        "prev": "‹ Previous",
        "next": "Next ›",
        "this_month": "This month",
        "inspections": "Inspections per grid",
        "grid": "Grid",
        "planned": "Planned",
        "done": "Done",
        "completion": "Completion",
        "failed": "Failed",
        "total": "Total",
        "csv": "Download CSV",
        "legend": "Completion: ≥100 % green, ≥70 % orange, below 70 % red; “—” means nothing was planned. "
        "Planned = targets × 30 ÷ the checklist's frequency in days.",
        "planned_prorated": "Planned (pro-rated)",
        "prorated": "This month's plan is pro-rated to the days elapsed: {days} of {of} days, planned = the month's "
        "plan × {days} ÷ {of}, rounded up.",
        "findings": "Failed items by type (most frequent first)",
        "checklist": "Checklist",
        "item": "Item",
        "category": "Case category",
        "times": "Times failed",
        "open_cases": "Open cases",
        "visits": "Household visits per grid",
        "households": "Households registered",
        "vulnerable": "Vulnerable residents (elderly, disabled, living alone)",
        "visits_n": "Visits in the month",
        "overdue": "Households overdue for a visit",
        "as_of": "Overdue as of",
        "no_checklists": "No checklist is loaded yet, so nothing is planned. An administrator loads the "
        "shipped ones (stairwells, shops, construction sites, fire lanes) on the server with "
        "<code>gridpatrol checklists load</code>.",
        "no_inspections": "No inspections this month.",
        "no_findings": "No failed items this month.",
        "no_grids": "There are no grids in your scope.",
        "no_households": "No households registered yet (the residents register is empty); grid workers add "
        "them in the field app.",
        "not_begun": "This month has not begun: no visits yet.",
        "no_plan": "—",
    },
}
RAW = ("no_checklists",)  # labels holding markup of our own (never user data): marked safe for the template

CSV_COLUMNS = (
    "month",
    "grid_code",
    "grid_name",
    "checklist",
    "title",
    "targets",
    "planned",
    "done",
    "completion_pct",
    "failed",
)


def completion_pct(planned: int, done: int) -> int | None:
    """Done as a whole percentage of planned, rounded down (so "100 %" always means the plan is met); None
    when nothing was planned."""
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


def _text(d: Mapping | None, lang: str, fallback: str) -> str:
    if not d:
        return fallback
    return d.get(lang) or d.get("zh") or d.get("en") or fallback


def _checklists_of(rows: list[dict], lang: str) -> dict[str, str]:
    """code → title in ``lang``, in the report's order."""
    out: dict[str, str] = {}
    for r in rows:
        out.setdefault(r["checklist"], _text(r.get("title"), lang, r["checklist"]))
    return out


def _plan_cells(rows: Mapping[str, Mapping], checklists: Mapping[str, str]) -> list[dict]:
    """One cell group per checklist (planned, done, completion, failed) from ``rows`` (checklist → report
    row)."""
    cells = []
    for code in checklists:
        r = rows.get(code, {"planned": 0, "done": 0, "failed": 0})
        pct = completion_pct(r["planned"], r["done"])
        cells.append(
            {
                "checklist": code,
                "planned": r["planned"],
                "done": r["done"],
                "failed": r["failed"],
                "pct": pct,
                "level": completion_level(pct),
            }
        )
    return cells


def _inspections_view(
    report: dict, lang: str, grid_names: Mapping[int, str], checklists_loaded: bool, csv_href: str
) -> dict:
    """Table 1 for the template: checklists (code → title), a row of cell groups per grid, and the totals."""
    checklists = _checklists_of(report["rows"], lang)
    by_grid: dict[int, dict] = {}
    for r in report["rows"]:
        grid = by_grid.setdefault(
            r["grid_id"],
            {"id": r["grid_id"], "code": r["grid_code"], "name": grid_names.get(r["grid_id"]), "rows": {}},
        )
        grid["rows"][r["checklist"]] = r
    totals = {c: {"planned": 0, "done": 0, "failed": 0} for c in checklists}
    for grid in by_grid.values():
        for c in checklists:
            r = grid["rows"].get(c, {"planned": 0, "done": 0, "failed": 0})
            for k in ("planned", "done", "failed"):
                totals[c][k] += r[k]
    grids = [{**g, "cells": _plan_cells(g["rows"], checklists)} for g in by_grid.values()]
    return {
        "checklists_loaded": checklists_loaded,
        "checklists": checklists,
        "grids": grids,
        "totals": _plan_cells(totals, checklists),
        "done_any": any(s["done"] for s in totals.values()),
        "csv_href": csv_href,
    }


def _findings_view(
    report: dict, lang: str, titles: Mapping[str, str], category_labels: Mapping[str, str]
) -> list[dict]:
    """Table 2 for the template: one row per failed item, texts in ``lang``."""
    return [
        {
            **r,
            "checklist_title": titles.get(r["checklist"], r["checklist"]),
            "text": _text(r.get("text"), lang, r["item"]),
            "category": r.get("category") or None,
            "category_name": category_labels.get(r.get("category") or ""),
        }
        for r in report["rows"]
    ]


VISIT_KEYS = ("households", "vulnerable", "visits", "overdue")
"""The counts of table 3, in column order."""


def _visits_view(report: dict | None, grid_names: Mapping[int, str]) -> dict | None:
    """Table 3 for the template: counts per grid and their totals; None when the month has not begun."""
    if report is None:
        return None
    grids = [
        {
            "id": r["grid_id"],
            "code": r["grid_code"],
            "name": grid_names.get(r["grid_id"]),
            "counts": {k: r[k] for k in VISIT_KEYS},
        }
        for r in report["rows"]
    ]
    totals = {k: sum(g["counts"][k] for g in grids) for k in VISIT_KEYS}
    return {"grids": grids, "totals": totals, "as_of": report["as_of"]}


def _href(**params: str | None) -> str:
    return "/surveys?" + urlencode({k: v for k, v in params.items() if v is not None})


def surveys_page(
    *,
    inspections: dict,
    findings: dict,
    visits: dict | None,
    current_month: str,
    lang: str = "zh",
    checklists_loaded: bool = True,
    grid_names: Mapping[int, str] | None = None,
    category_labels: Mapping[str, str] | None = None,
) -> str:
    """The report page's HTML for the month of ``inspections`` (``{month, rows}`` of the inspections report).

    ``findings`` and ``visits`` are the other two reports of the same month (``visits`` None: the month has
    not begun); ``current_month`` (YYYY-MM, city time) bounds the month picker; ``checklists_loaded`` False
    shows how to load them instead of an empty plan; ``grid_names`` (grid id → name) and ``category_labels``
    (case category code → name in ``lang``) only label rows. Rendered by ``templates/surveys.html``: every
    value is escaped.
    """
    if lang not in LABELS:
        raise ValueError(f"lang must be one of {', '.join(LABELS)}, got {lang!r}")
    t = {k: (Markup(v) if k in RAW else v) for k, v in LABELS[lang].items()}
    if inspections.get("prorated"):  # this month: the plan column is the pro-rated plan, and says so
        t["planned"] = t["planned_prorated"]
    month = inspections["month"]
    names = grid_names or {}
    nxt = _shift(month, 1)
    return render(
        "surveys.html",
        lang=lang,
        t=t,
        month=month,
        current=current_month,
        dashboard_href=f"/dashboard?lang={lang}",
        other_href=_href(lang="en" if lang == "zh" else "zh", month=month),
        prev_href=_href(month=_shift(month, -1), lang=lang),
        next_href=_href(month=nxt, lang=lang) if nxt <= current_month else None,
        inspections=_inspections_view(
            inspections, lang, names, checklists_loaded, _href(month=month, lang=lang, format="csv")
        ),
        findings=_findings_view(
            findings, lang, _checklists_of(inspections["rows"], lang), category_labels or {}
        ),
        visits=_visits_view(visits, names),
        visit_keys=VISIT_KEYS,
        prorated=inspections.get("prorated"),
    )


def inspections_csv(
    inspections: dict, *, lang: str = "zh", grid_names: Mapping[int, str] | None = None
) -> str:
    """Table 1 as CSV (UTF-8 with BOM, so Excel opens the Chinese right): one row per grid and checklist,
    columns :data:`CSV_COLUMNS`; ``completion_pct`` is empty when nothing was planned."""
    names = grid_names or {}
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(CSV_COLUMNS)
    for r in inspections["rows"]:
        pct = completion_pct(r["planned"], r["done"])
        w.writerow(
            [
                inspections["month"],
                r["grid_code"],
                names.get(r["grid_id"], ""),
                r["checklist"],
                _text(r.get("title"), lang, r["checklist"]),
                r["targets"],
                r["planned"],
                r["done"],
                "" if pct is None else pct,
                r["failed"],
            ]
        )
    return "\ufeff" + buf.getvalue()
