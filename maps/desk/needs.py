"""The desk's 民情诉求 page (/desk/needs): this month's figures per grid (needs raised, answered, answered on time,
overdue) for everyone who sees figures, and — for the grid's worker and the community's supervisor only, whom the
register allows — the needs not yet resolved with their households, due dates and overdue marks, the answer form
(件件有回应), the resident's feedback and 转为案件. The forms post to the API through static/js/desk/records.js."""

from __future__ import annotations

from typing import Any

from maps.desk.common import frame, pick
from maps.desk.records import records_config
from maps.templating import render

TEXT = {
    "zh": {
        "title": "民情诉求", "intro": "民情台账中的诉求：事事有着落，件件有回应。逾期未回应的诉求标红。",
        "figures": "{month} 诉求统计", "grid": "网格", "needs": "诉求", "answered": "已回应", "on_time": "按时回应",
        "overdue": "逾期未回应", "answered_share": "回应率", "on_time_share": "按时回应率", "resolved": "已解决",
        "satisfied": "满意/基本满意", "no_figures": "本月暂无诉求。", "list": "待办诉求", "only_overdue": "只看逾期",
        "all": "全部待办", "household": "住户", "type": "类别", "detail": "诉求内容", "responsible": "责任人",
        "due": "回应期限", "status": "状态", "answer": "回应", "response": "回应内容（告知居民的答复）",
        "resolve": "同时标记为已解决", "save": "保存", "feedback": "居民评价", "feedback_note": "评价说明",
        "to_case": "转为案件", "category": "案件类别", "description": "案件描述（不写居民姓名）", "create": "生成案件",
        "case": "案件", "empty": "没有待办的诉求。走访时登记的诉求会出现在这里。",
        "counts_only": "诉求内容属于居民个人信息，仅本网格网格员和本社区可以查看；这里只显示统计数字。",
        "overdue_mark": "逾期", "no_response": "尚未回应", "feedbacks": {"satisfied": "满意", "basically": "基本满意",
                                                                         "dissatisfied": "不满意"},
    },
    "en": {
        "title": "Needs", "intro": "The residents' needs of the register: every one gets an answer. Needs past "
                                   "their due date without one are marked red.",
        "figures": "Figures of {month}", "grid": "Grid", "needs": "Needs", "answered": "Answered",
        "on_time": "On time", "overdue": "Overdue", "answered_share": "Answered share",
        "on_time_share": "Answered on time", "resolved": "Resolved", "satisfied": "Satisfied",
        "no_figures": "No needs this month.", "list": "Open needs", "only_overdue": "Overdue only",
        "all": "All open", "household": "Household", "type": "Type", "detail": "Need", "responsible": "Responsible",
        "due": "Due", "status": "Status", "answer": "Answer", "response": "Answer given to the resident",
        "resolve": "Resolved as well", "save": "Save", "feedback": "Resident's feedback",
        "feedback_note": "Note", "to_case": "Turn into a case", "category": "Category",
        "description": "Case text (no resident's name)", "create": "Create the case", "case": "Case",
        "empty": "No open needs. Needs recorded at visits appear here.",
        "counts_only": "Needs are residents' personal data, shown only to the grid's worker and the community; "
                       "here are the figures.",
        "overdue_mark": "Overdue", "no_response": "No answer yet",
        "feedbacks": {"satisfied": "Satisfied", "basically": "Fairly", "dissatisfied": "Not satisfied"},
    },
}


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def needs_page(lang: str | None, *, rows: list[dict] | None, kpis: list[dict] | None, overdue: bool,
               categories: list[tuple[str, str]], month: str) -> str:
    """The HTML of /desk/needs; ``rows`` None: the caller sees counts only; ``kpis`` None: not even those."""
    lang = pick(lang)
    figures: list[dict[str, Any]] = [{**k, "answered_pct": _pct(k["answered_share"]),
                                      "on_time_pct": _pct(k["on_time_share"])} for k in kpis or []]
    total = {f: sum(k[f] for k in figures) for f in ("needs", "answered", "answered_on_time", "overdue")}
    listed = [{**r, "type_word": (r.get("type_label") or {}).get(lang, r["type"]),
               "status_word": (r.get("status_label") or {}).get(lang, r["status"]),
               "feedback_word": (r.get("feedback_label") or {}).get(lang, "")} for r in rows or []]
    return render("desk_needs.html", **frame(lang, active="needs"), t=TEXT[lang], config=records_config(lang),
                  rows=listed,
                  personal=rows is not None, figures=figures, has_figures=kpis is not None, total=total,
                  overdue=overdue, categories=categories, month=month)
