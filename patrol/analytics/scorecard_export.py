"""The scorecards as a flat table (CSV for the API and the command line): one row per card with rank, name, each
item's figure and points, total, grade and 优秀."""

from __future__ import annotations

import csv
import io

_FIXED = {"rank": ("名次", "Rank"), "code": ("编码", "Code"), "name": ("名称", "Name"),
          "grids": ("网格", "Grids"), "total": ("总分", "Total"), "grade": ("等次", "Grade"),
          "excellent": ("优秀", "Excellent")}


def _head(key: str, zh: str, en: str, mode: str) -> str:
    return key if mode == "keys" else zh if mode == "zh" else en


def table(out: dict, mode: str = "zh") -> tuple[list[str], list[list]]:
    """(header, rows) of the scorecards ``out`` (of :func:`patrol.analytics.scorecard.scorecards`); ``mode``
    names the columns: zh, en or keys."""
    items = out["rules"]["items"]
    head = [_head(k, *_FIXED[k], mode) for k in ("rank", "code", "name", "grids")]
    for it in items:
        zh, en = it["label"]["zh"], it["label"]["en"]
        head += [_head(f"{it['id']}_value", f"{zh}(数值)", f"{en} (figure)", mode),
                 _head(f"{it['id']}_points", f"{zh}(得分)", f"{en} (points)", mode)]
    head += [_head(k, *_FIXED[k], mode) for k in ("total", "grade", "excellent")]
    rows = []
    lang = "en" if mode == "en" else "zh"
    for r in out["rows"]:
        row: list = [r["rank"], r["code"], r["name"], " ".join(r["grids"])]
        for it in r["items"]:
            row += ["" if it["value"] is None else it["value"], it["points"]]
        excellent = ("yes" if lang == "en" else "是") if r["excellent"] else ""
        row += [r["total"], r["grade_label"][lang], excellent]
        rows.append(row)
    return head, rows


def card_csv(out: dict, mode: str = "zh") -> str:
    head, rows = table(out, mode)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(head)
    w.writerows(rows)
    return "\ufeff" + buf.getvalue()
