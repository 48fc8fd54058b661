"""The desk's queue page (/desk): tabs of the caller's queues with count badges, the table of a queue (sortable,
filtered, paged on the server), the bulk bar. The page script (static/js/desk/queues.js) reads the queues from the API;
here are the page's words in Chinese and English and what each empty queue means and what to do."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from maps.desk.common import frame, page_config, pick
from maps.templating import render

TEXT = {
    "zh": {
        "print_qr": "打印二维码",  # stickers (issue 18)
        "title": "待办", "filters": "筛选", "grid": "网格", "category": "类别", "channel": "来源", "community": "社区",
        "start": "上报日期从", "end": "至", "apply": "筛选", "reset": "清除", "all": "全部", "number": "案件编号",
        "address": "地点", "status": "状态", "level": "层级", "reported_at": "上报时间", "deadline_at": "期限",
        "left": "剩余", "unit": "责任单位", "urges": "督办", "tasks": "吹哨部门", "select_all": "全选本页",
        "select": "选择案件", "selected": "已选 {n} 件", "auto_unit": "自动派遣(按责任清单)", "reason": "原因",
        "reason_needed": "不予立案须填写原因", "prev": "上一页", "next": "下一页",
        "page": "第 {from}–{to} 条，共 {total} 条",
        "loading": "加载中…", "results": "批量处理结果", "ok": "成功", "refused": "未处理", "live": "实时更新",
        "polling": "每 30 秒刷新", "sort_by": "按此列排序", "reported_in": "已报到", "late": "超时",
        "waiting": "未报到", "to": "派遣到", "resident_channels": "居民诉求（扫码、12345、Open311）",
    },
    "en": {
        "print_qr": "Print QR codes",  # stickers (issue 18)
        "title": "Queues", "filters": "Filters", "grid": "Grid", "category": "Category", "channel": "Channel",
        "community": "Community", "start": "Reported from", "end": "to", "apply": "Filter", "reset": "Clear",
        "all": "All", "number": "Case no.", "address": "Place", "status": "Status", "level": "Level",
        "reported_at": "Reported", "deadline_at": "Deadline", "left": "Left", "unit": "Unit", "urges": "Urged",
        "tasks": "Departments", "select_all": "Select this page", "select": "Select case",
        "selected": "{n} selected", "auto_unit": "Automatic (responsibility list)", "reason": "Reason",
        "reason_needed": "A rejection needs a reason", "prev": "Previous", "next": "Next",
        "page": "{from}–{to} of {total}", "loading": "Loading…", "results": "Results", "ok": "done",
        "refused": "not done", "live": "Live", "polling": "Refreshing every 30 s", "sort_by": "Sort by this column",
        "reported_in": "reported in", "late": "late", "waiting": "not reported in", "to": "Dispatch to",
        "resident_channels": "Residents' requests (QR, 12345, Open311)",
    },
}

#: the roles that print QR stickers and public cards (GET /api/v1/stickers; patrol.intake.stickers.PRINT_ROLES)
PRINT_ROLES = ("supervisor", "subdistrict", "planner", "admin")

#: what an empty queue means and what to do, per queue
EMPTY = {
    "zh": {
        "to_register": "没有待立案的上报。网格员和居民的新上报会出现在这里，逐件核实后立案或不予立案。",
        "to_dispatch": "没有待派遣的案件。立案后的案件在这里派遣给责任单位（可自动按责任清单派遣）。",
        "returned": "没有被退回的案件。责任单位认为不属本单位职责而退回时，案件回到这里，请改派其他单位。",
        "to_close": "没有待结案的案件。网格员现场核查通过后，案件在这里结案。",
        "to_rate": "没有待评价的案件。结案后请回访当事人并记录满意度。",
        "escalated": "没有升级到社区的案件。网格层面超期未处置的案件会自动升级到这里。",
        "escalated_subdistrict": "没有升级到街道的案件。社区超期或上报升级的案件会出现在这里，可吹哨或督办。",
        "whistle": "没有进行中的吹哨。对需要多部门联合处置的案件吹哨后，可在这里查看各部门报到情况。",
        "near": "没有即将超期的案件。剩余工时不足处置时限 {pct}% 的案件会出现在这里。",
        "overdue": "没有超期案件，继续保持。",
        "urged": "没有督办中的案件。在案件页对超期或滞留的案件督办后，会出现在这里。",
        "to_accept": "没有待接单的案件。派遣给本单位的案件会出现在这里，请及时接单或退回。",
        "in_hand": "没有处置中的案件。接单后在这里跟进，处置完成后上传处置后照片。",
        "tasks": "没有吹哨任务。街道或社区吹哨时，请在这里报到并处置本单位负责的部分。",
        "rework": "没有返工案件。核查未通过的案件会回到这里重新处置。",
    },
    "en": {
        "to_register": "No reports waiting. New reports from grid workers and residents appear here: check each and "
                       "register or reject it.",
        "to_dispatch": "Nothing to dispatch. Registered cases wait here to be dispatched to a unit (automatically "
                       "from the responsibility list, or a unit you choose).",
        "returned": "No returned cases. When a unit returns a case as not its job, it comes back here: dispatch it "
                    "to another unit.",
        "to_close": "Nothing to close. Cases verified on site by the grid worker are closed here.",
        "to_rate": "Nothing to rate. Call the reporter back after closing and record the rating.",
        "escalated": "Nothing escalated to you. Cases overdue at grid level are escalated here automatically.",
        "escalated_subdistrict": "Nothing escalated to the subdistrict. Cases escalated by communities appear here: "
                                 "whistle departments in or urge.",
        "whistle": "No open whistles. After whistling several departments in, follow who reported in here.",
        "near": "Nothing near its deadline. Cases with less than {pct}% of their time limit left appear here.",
        "overdue": "Nothing overdue. Keep it up.",
        "urged": "No urged cases. Cases you urge (督办) on the case page are followed here.",
        "to_accept": "Nothing to accept. Cases dispatched to your unit appear here: accept or return them.",
        "in_hand": "Nothing in hand. Follow accepted cases here and upload the after-photo when handled.",
        "tasks": "No whistle tasks. When you are whistled in, report in here and handle your part.",
        "rework": "No rework. Cases that failed the check on site come back here.",
    },
}


def queues_page(lang: str | None, *, actions_zh: Mapping[str, str], role: str, who: str,
                near_deadline_fraction: float, timezone: str | None = None) -> str:
    """The HTML of /desk for a user of ``role`` (the queues themselves come from GET /api/v1/desk/queues)."""
    lang = pick(lang)
    pct = round(near_deadline_fraction * 100)
    empty = {k: v.replace("{pct}", str(pct)) for k, v in EMPTY[lang].items()}
    config = page_config(lang, actions_zh, timezone=timezone, role=role, who=who, text=TEXT[lang], empty=empty,
                         near_deadline_fraction=near_deadline_fraction)
    return render("desk_queues.html", **frame(lang, active="desk"), t=TEXT[lang], config=_json(config),
                  can_print=role in PRINT_ROLES)


def _json(data: Any) -> str:
    """JSON safe inside a <script> element."""
    return json.dumps(data, ensure_ascii=False).replace("</", "<\\/")
