"""The desk's 网格力量 page (/desk/people): one community's people — 网格长, grid workers with their grids, 楼栋长 with
their 微网格 — its volunteer teams with members and open tasks, the 网格服务专员 / 双报到 roster with pledges and this
month's services (who has none yet), and the pairings with households (named only for those the register allows,
counts for everyone else). Forms add a team, a member, a task, a roster member and a service record; the page script
(static/js/desk/people.js) posts them to /api/v1/volunteers and shows what is wrong next to the field."""

from __future__ import annotations

import json
from typing import Any

from markupsafe import Markup

from maps.desk.common import frame, page_config, pick
from maps.templating import render

TEXT = {
    "zh": {
        "title": "网格力量", "community": "社区", "month": "月份", "show": "查看", "people": "网格人员",
        "grid_leads": "网格长", "workers": "专职网格员", "building_leads": "楼栋长 · 微网格员", "grids": "网格",
        "micro_grids": "微网格", "households": "户", "unstaffed": "尚无网格员的网格",
        "no_grid_leads": "还没有网格长。网格长负责若干网格：在网格上指定网格长后会显示在这里。",
        "no_workers": "还没有网格员。为网格指定专职网格员后会显示在这里。",
        "no_building_leads": "还没有楼栋长。划定微网格并指定楼栋长（微网格员）后会显示在这里。",
        "teams": "志愿者队伍", "no_teams": "还没有志愿者队伍 — 新建队伍（如和事佬调解队、平安志愿者）。",
        "new_team": "新建队伍", "team_name": "队伍名称", "kind": "类型", "add": "添加", "create": "新建",
        "members": "队员", "no_members": "还没有队员 — 在下面添加第一位队员。", "name": "姓名", "phone": "电话",
        "role_in_team": "职务", "left": "已退出", "open_tasks": "待办任务", "no_tasks": "没有待办任务。",
        "done_tasks": "已完成 {n} 项", "add_member": "添加队员", "add_task": "布置任务", "task_title": "任务",
        "due_on": "完成期限", "case": "关联案件编号", "done": "完成", "overdue": "已逾期",
        "roster": "网格服务专员 · 双报到", "no_roster": "还没有网格服务专员或双报到成员 — 在下面添加，或用 "
                                                 "gridpatrol volunteers roster import 导入名册。",
        "organisation": "单位", "pledges": "承诺服务", "services": "本月服务", "hours": "小时",
        "last_on": "最近服务", "none_yet": "本月尚无服务", "summary": "本月共服务 {n} 次、{h} 小时",
        "without": "本月尚无服务记录：{names}", "all_served": "本月每位成员都有服务记录。",
        "add_roster": "添加成员", "grid": "网格", "any_grid": "（不限网格）", "pledges_hint": "多项用“；”分隔",
        "record": "记录服务", "member": "成员", "on": "日期", "service_kind": "服务类型", "note": "备注",
        "household": "结对户", "no_household": "（不针对某一户）",
        "pairings": "结对帮扶", "no_pairings": "还没有结对户。社区工作人员可将成员与重点人员户结对。",
        "pair_counts": "共 {n} 户结对，本月 {m} 户尚未服务。",
        "pair_private": "结对户的住户信息仅本社区工作人员可见。", "building": "楼栋", "room": "房号",
        "head_name": "户主", "vulnerable": "重点人员", "served": "本月已服务", "yes": "是", "no": "否",
        "read_only": "您可以查看本页，但不能修改。", "saved": "已保存", "since": "结对日期",
        "pair": "结对帮扶重点人员户", "end_pairing": "结束结对",
        "reasons": {"elderly": "高龄", "disabled": "残疾", "lives_alone": "独居"},
    },
    "en": {
        "title": "People", "community": "Community", "month": "Month", "show": "Show", "people": "People of the grids",
        "grid_leads": "Grid leads (网格长)", "workers": "Grid workers", "building_leads": "Building leads (楼栋长)",
        "grids": "Grids", "micro_grids": "Micro-grids", "households": "households",
        "unstaffed": "Grids without a worker",
        "no_grid_leads": "No grid leads yet. A grid lead leads several grids: name one on the grids and she shows "
                         "here.",
        "no_workers": "No grid workers yet. Assign workers to the grids and they show here.",
        "no_building_leads": "No building leads yet. Draw micro-grids and name their building leads to see them "
                             "here.",
        "teams": "Volunteer teams", "no_teams": "No volunteer teams yet — create one (a mediation team, safety "
                                                "volunteers).",
        "new_team": "New team", "team_name": "Team name", "kind": "Kind", "add": "Add", "create": "Create",
        "members": "Members", "no_members": "No members yet — add the first one below.", "name": "Name",
        "phone": "Phone", "role_in_team": "Role", "left": "left", "open_tasks": "Open tasks",
        "no_tasks": "No open tasks.", "done_tasks": "{n} done", "add_member": "Add a member",
        "add_task": "Give a task", "task_title": "Task", "due_on": "Due", "case": "Case number", "done": "Done",
        "overdue": "overdue", "roster": "Liaison officers · reporting-in members",
        "no_roster": "No liaison officers or reporting-in members yet — add one below, or import a roster with "
                     "gridpatrol volunteers roster import.",
        "organisation": "Organisation", "pledges": "Pledged services", "services": "This month", "hours": "h",
        "last_on": "Last service", "none_yet": "no service yet this month",
        "summary": "{n} services, {h} hours this month", "without": "No service recorded yet this month: {names}",
        "all_served": "Every member has a service this month.", "add_roster": "Add a member", "grid": "Grid",
        "any_grid": "(no grid)", "pledges_hint": "separate several with ;", "record": "Record a service",
        "member": "Member", "on": "Date", "service_kind": "Kind of service", "note": "Note",
        "household": "Paired household", "no_household": "(no particular household)",
        "pairings": "Pairings with households", "no_pairings": "No pairings yet. The community's staff pair members "
                                                            "with vulnerable households.",
        "pair_counts": "{n} households paired; {m} without a service this month.",
        "pair_private": "The paired households' details are shown to the community's staff only.",
        "building": "Building", "room": "Room", "head_name": "Head of household", "vulnerable": "Vulnerable",
        "served": "Served this month", "yes": "yes", "no": "no", "read_only": "You can read this page but not "
                                                                                "change it.",
        "saved": "Saved", "since": "Paired since", "pair": "Pair with a vulnerable household",
        "end_pairing": "End pairing",
        "reasons": {"elderly": "aged 80+", "disabled": "disabled", "lives_alone": "lives alone"},
    },
}


def people_page_html(lang: str | None, data: dict[str, Any], *, role: str) -> str:
    """The HTML of /desk/people from the data :func:`patrol.people.force.people_page` gathered (plain dicts)."""
    lang = pick(lang)
    t = TEXT[lang]
    community = next((c["name"] for c in data["communities"] if c["id"] == data["community_id"]), "")
    config = page_config(lang, {}, role=role, t={"saved": t["saved"]})
    return render("desk_people.html", **frame(lang, active="people"), t=t, d=data, community=community,
                  config=Markup(json.dumps(config, ensure_ascii=False).replace("</", "<\\/")))
