"""The desk's 调解 page (/desk/mediation): this month's 调解数 and 调解成功率, the mediations of the caller's scope
(open / closed, by outcome, parties masked and only for the case's grid worker and community supervisor), and one
mediation in full (``?case=<number>``) with the forms to record parties, sessions and the outcome — or the form to
open one. The forms post to the API through static/js/desk/records.js."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from maps.desk.common import frame, pick
from maps.desk.records import records_config
from maps.templating import render

TEXT = {
    "zh": {
        "title": "调解", "intro": "纠纷案件的调解记录：当事人、调解员、调解过程、调解结果。一名网格员就是一名调解员。",
        "month": "本月", "opened": "调解数", "closed": "已结束", "agreed": "达成协议", "rate": "调解成功率",
        "all": "全部", "open": "调解中", "done": "已结束", "case": "案件", "mediator": "调解员", "outcome": "结果",
        "opened_at": "开始", "closed_at": "结束", "parties": "当事人", "sessions": "调解过程", "none": "暂无调解记录。"
        "在案件页面或此处输入案件编号开始调解。", "find": "查看案件的调解", "number": "案件编号",
        "go": "查看", "hidden": "当事人信息仅限本网格网格员和本社区查看", "name": "姓名", "phone": "电话",
        "address": "住址", "role": "身份", "add_party": "添加当事人", "at": "时间", "place": "地点", "note": "记录",
        "add_session": "记录一次调解", "close": "结束调解", "agreement": "协议内容（达成协议时必填）",
        "follow_up": "回访事项", "follow_up_on": "回访日期", "save": "保存", "open_title": "开始调解",
        "open_hint": "选择调解员（本人、本社区网格员）或和事佬调解队，并登记当事人。", "me": "本人",
        "team": "调解队", "person": "调解员", "party": "当事人", "applicant": "申请人", "respondent": "被申请人",
        "start": "开始调解", "no_mediation": "该案件尚无调解记录。",
        "cannot_open": "只有本网格网格员和本社区可以开始调解。",
        "outcomes": {"agreed": "达成协议", "failed": "未达成", "referred": "转交"}, "count": "{n} 人",
        "session_count": "{n} 次", "agreement_label": "协议", "followup_label": "回访", "back": "返回列表",
        "case_page": "案件页面", "no_sessions": "尚无调解过程记录。",
    },
    "en": {
        "title": "Mediation", "intro": "Mediation of dispute cases: parties, mediator, sittings, outcome. Every grid "
                                       "worker is a mediator.",
        "month": "This month", "opened": "Mediations", "closed": "Closed", "agreed": "Agreed",
        "rate": "Success rate", "all": "All", "open": "Open", "done": "Closed", "case": "Case",
        "mediator": "Mediator", "outcome": "Outcome", "opened_at": "Opened", "closed_at": "Closed",
        "parties": "Parties", "sessions": "Sittings", "none": "No mediations yet. Open one from a case number "
                                                              "below or from the case page.",
        "find": "A case's mediation", "number": "Case number", "go": "Show",
        "hidden": "Parties are shown only to the grid's worker and the community", "name": "Name", "phone": "Phone",
        "address": "Address", "role": "Role", "add_party": "Add a party", "at": "When", "place": "Where",
        "note": "Note", "add_session": "Record a sitting", "close": "Close the mediation",
        "agreement": "Agreement (required when agreed)", "follow_up": "Follow-up", "follow_up_on": "Follow-up day",
        "save": "Save", "open_title": "Open a mediation", "open_hint": "Choose the mediator (you, a grid worker of "
                                                                       "the community) or a mediation team, and "
                                                                       "enter the parties.",
        "me": "Me", "team": "Team", "person": "Mediator", "party": "Party", "applicant": "Applicant",
        "respondent": "Respondent", "start": "Open the mediation", "no_mediation": "This case has no mediation.",
        "cannot_open": "Only the grid's worker and the community open a mediation.",
        "outcomes": {"agreed": "Agreed", "failed": "No agreement", "referred": "Referred"}, "count": "{n}",
        "session_count": "{n}", "agreement_label": "Agreement", "followup_label": "Follow-up",
        "back": "Back to the list", "case_page": "Case page", "no_sessions": "No sittings recorded yet.",
    },
}


def _local(value: str | None, zone: ZoneInfo) -> str:
    if not value:
        return ""
    return dt.datetime.fromisoformat(value).astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _row(m: dict, lang: str, zone: ZoneInfo) -> dict[str, Any]:
    return {**m, "who": m.get("mediator") or m.get("team") or "", "label": m["outcome_label"][lang],
            "opened": _local(m.get("opened_at"), zone), "closed": _local(m.get("closed_at"), zone),
            "sessions_local": [{**s, "when": _local(s.get("at"), zone)} for s in m.get("sessions") or []]}


def mediation_page(lang: str | None, *, rows: list[dict], kpis: dict | None, one: dict | None, case: str | None,
                   case_id: int | None, choices: dict | None, problem: str | None, state: str | None,
                   timezone: str = "Asia/Shanghai") -> str:
    """The HTML of /desk/mediation (module docstring)."""
    lang = pick(lang)
    zone = ZoneInfo(timezone)
    k = kpis or {"opened": 0, "closed": 0, "agreed": 0, "success_rate": None}
    rate = "—" if k.get("success_rate") is None else f"{k['success_rate'] * 100:.1f}%"
    return render("desk_mediation.html", **frame(lang, active="mediation"), t=TEXT[lang], config=records_config(lang),
                  kpis=k, rate=rate,
                  rows=[_row(m, lang, zone) for m in rows], one=_row(one, lang, zone) if one else None,
                  case=case or "", case_id=case_id, choices=choices, problem=problem, state=state or "")
