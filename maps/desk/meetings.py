"""The 研判议事 pages of the desk: ``/desk/meetings`` (the 待研判 / 重难点 / 信访 lists and the community's meetings,
a form to plan one) and ``/desk/meetings/{number}`` (one meeting: its record, agenda — cases by number, needs by
type — the decision with the vote, follow-up cases; it prints as the 会议纪要 through print CSS). Rendered here from
plain data; ``static/js/desk/meetings.js`` only sends the forms to the API and shows what went wrong next to the
field."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from markupsafe import Markup

from maps.desk.casefile import local_time
from maps.desk.common import LEVEL, STATUS, frame, page_config, pick
from maps.templating import render

T: dict[str, dict[str, Any]] = {
    "zh": {
        "title": "研判议事", "lists": "研判", "to_assess": "待研判", "key_cases": "重难点", "petitions": "信访",
        "to_assess_empty": "没有待研判的案件（社区、部门层级已立案未研判的案件会出现在这里）。",
        "key_cases_empty": "没有在办的重难点案件。", "petitions_empty": "没有在办的信访案件。",
        "meetings": "议事会议", "no_meetings": "还没有议事会议。需要居民共同商议的事项，可在下方计划一次议事会。",
        "number": "编号", "kind": "类型", "topic": "议题", "status": "状态", "held_at": "时间", "place": "地点",
        "community": "社区", "topics": "议题案件", "votes": "表决", "case": "案件", "category": "类别",
        "level": "层级", "grid": "网格", "reported_at": "上报时间", "plan": "计划议事会", "community_code": "社区编码",
        "cases_field": "议题案件编号(多个用逗号分隔)", "submit": "提交", "participants": "参会人数",
        "representatives": "居民代表人数", "created_by": "发起人", "agenda": "议程", "agenda_cases": "议题案件",
        "agenda_needs": "民情诉求", "no_agenda": "议程上还没有案件或诉求。", "need_type": "诉求类型",
        "options": "备选方案", "decision": "决定", "no_decision": "尚未作出决定。", "for": "赞成", "against": "反对",
        "abstain": "弃权", "minutes": "会议纪要", "follow_ups": "后续案件", "no_follow_ups": "没有后续案件。",
        "link": "加入议程", "link_case": "案件编号", "decide": "记录表决与决定", "options_field": "备选方案(每行一个)",
        "follow_category": "后续案件类别编码(可不填)", "follow_description": "后续案件说明",
        "add_follow_up": "由决定生成后续案件", "print": "打印会议纪要", "waits": "待议事决定",
        "back": "返回研判议事", "refused": "该页面不在您的权限范围内", "missing": "没有这个议事编号",
        "sign": "记录人", "date": "日期", "more": "共 {n} 件，仅显示前 {k} 件",
        "needs_type": {"education": "教育", "medical": "医疗", "housing": "住房", "jobs": "就业",
                       "elderly_care": "养老", "other": "其他"},
        "need_status": {"open": "待办", "in_progress": "办理中", "resolved": "已解决"},
        "done": "已保存", "required": "必填",
    },
    "en": {
        "title": "Deliberation", "lists": "Assessment (研判)", "to_assess": "To assess", "key_cases": "Hard cases",
        "petitions": "Petitions",
        "to_assess_empty": "No case waits for an assessment (registered community- or department-level cases "
                           "appear here).",
        "key_cases_empty": "No open hard case.", "petitions_empty": "No open petition case.",
        "meetings": "Meetings", "no_meetings": "No meeting yet. Plan one below for a matter the residents must "
                                               "agree on.",
        "number": "No.", "kind": "Kind", "topic": "Topic", "status": "Status", "held_at": "When", "place": "Place",
        "community": "Community", "topics": "Cases", "votes": "Vote", "case": "Case", "category": "Category",
        "level": "Level", "grid": "Grid", "reported_at": "Reported", "plan": "Plan a meeting",
        "community_code": "Community code", "cases_field": "Case numbers on the agenda (comma-separated)",
        "submit": "Submit", "participants": "Participants", "representatives": "Residents' representatives",
        "created_by": "Planned by", "agenda": "Agenda", "agenda_cases": "Cases", "agenda_needs": "Residents' needs",
        "no_agenda": "Nothing on the agenda yet.", "need_type": "Need", "options": "Options",
        "decision": "Decision", "no_decision": "No decision yet.", "for": "For", "against": "Against",
        "abstain": "Abstain", "minutes": "Minutes", "follow_ups": "Follow-up cases", "no_follow_ups": "No follow-up "
                                                                                                    "case.",
        "link": "Add to the agenda", "link_case": "Case number", "decide": "Record the vote and decision",
        "options_field": "Options (one per line)", "follow_category": "Follow-up category code (optional)",
        "follow_description": "Follow-up description", "add_follow_up": "A follow-up case from the decision",
        "print": "Print the minutes", "waits": "waits for the decision", "back": "Back to deliberation",
        "refused": "This page is outside your scope", "missing": "There is no meeting with this number",
        "sign": "Recorded by", "date": "Date", "more": "{n} in all, the first {k} shown",
        "needs_type": {"education": "Education", "medical": "Medical care", "housing": "Housing", "jobs": "Jobs",
                       "elderly_care": "Elderly care", "other": "Other"},
        "need_status": {"open": "Open", "in_progress": "In progress", "resolved": "Resolved"},
        "done": "Saved", "required": "required",
    },
}


def _config(lang: str, **extra: Any) -> Markup:
    config = page_config(lang, {}, t={"done": T[lang]["done"]}, **extra)
    return Markup(json.dumps(config, ensure_ascii=False).replace("</", "<\\/"))


def meetings_page(lang: str | None, *, lists: Mapping[str, Mapping[str, Any]], meetings: Sequence[Mapping[str, Any]],
                  kinds: Sequence[Mapping[str, str]], timezone: str, can_plan: bool, need_community: bool,
                  who: Mapping[str, str] | None = None) -> str:
    """``/desk/meetings``: ``lists`` the three queue pages (to_assess, key_cases, petitions: empty for a role
    without them), ``meetings`` the community's meetings."""
    lang = pick(lang)
    t = T[lang]
    sections = []
    for name, q in lists.items():
        rows = [{**r, "category_name": r["category_zh"] if lang == "zh" else r["category_en"],
                 "level_name": LEVEL[lang].get(r["level"], r["level"]),
                 "status_name": STATUS[lang].get(r["status"], r["status"]),
                 "reported": local_time(r["reported_at"], timezone)[:10]} for r in q["rows"]]
        more = t["more"].format(n=q["total"], k=len(rows)) if q["total"] > len(rows) else ""
        sections.append({"name": name, "label": t[name], "rows": rows, "total": q["total"], "more": more,
                         "empty": t[f"{name}_empty"]})
    rows = [{**m, "when": local_time(m["held_at"], timezone) if m["held_at"] else "—"} for m in meetings]
    return render("desk_meetings.html", **frame(lang, active="meetings"), t=t, sections=sections, meetings=rows,
                  kinds=[{"code": k["code"], "name": k["zh"] if lang == "zh" else k["en"]} for k in kinds],
                  can_plan=can_plan, need_community=need_community,
                  config=_config(lang, timezone=timezone, **(who or {})))


def meeting_page(lang: str | None, m: Mapping[str, Any], *, timezone: str, who: Mapping[str, str] | None = None) -> str:
    """``/desk/meetings/{number}``: one meeting (``m``: patrol.cases.meetings.meeting_view); ``who``: the reader's
    ``role`` and name (``who``) for the header."""
    lang = pick(lang)
    t = T[lang]

    def case_rows(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        return [{**r, "status_name": STATUS[lang].get(r["status"], r["status"]),
                 "level_name": LEVEL[lang].get(r["level"], r["level"])} for r in rows]

    needs = [{**n, "type_name": t["needs_type"].get(n["type"], n["type"]),
              "status_name": t["need_status"].get(n["status"], n["status"])} for n in m["needs"]]
    return render("desk_meeting.html", **frame(lang, active="meetings"), t=t, m=m, cases=case_rows(m["cases"]),
                  follow_ups=case_rows(m["follow_ups"]), needs=needs,
                  when=local_time(m["held_at"], timezone) if m["held_at"] else "—",
                  config=_config(lang, timezone=timezone, number=m["number"], **(who or {})))


def refused_page(lang: str | None, *, number: str | None = None, missing: bool = False) -> str:
    """The page for a meeting number that does not exist, or a page outside the user's role."""
    lang = pick(lang)
    t = T[lang]
    return render("desk_meeting.html", **frame(lang, active="meetings"), t=t, m=None, refused=True,
                  message=t["missing"] if missing else t["refused"], number=number,
                  config=_config(lang))
