"""The case page (/desk/cases/{number}, ``templates/desk_case.html`` + ``static/js/desk/case.js``) and its printable
派遣单 (``templates/desk_case_print.html``, no JavaScript: everything rendered here, with an SVG sketch of the grid,
the building and the point drawn from the geometry, so it prints offline). Renders only: the route reads the case
file through patrol and passes plain data in."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from markupsafe import Markup

from geo.labels import label_in
from maps.desk.common import ACTION_EN, CHANNEL, LEVEL, STATUS, building_use, frame, page_config, pick
from maps.templating import esc, render

T: dict[str, dict[str, Any]] = {
    "zh": {
        "title": "案件", "number": "案件编号", "category": "类别", "status": "状态", "level": "层级", "channel": "来源",
        "order_no": "工单编号", "contact": "回访联系人",
        "deadline": "处置时限", "stopped": "计时暂停", "remaining": "剩余", "hours": "工时", "overdue": "已超期",
        "finished": "已办结",
        "on_time": "按期办结", "late_closed": "超期办结", "map": "位置", "description": "问题描述", "place": "地点",
        "address": "地址", "grid": "网格", "worker": "网格员", "community": "社区", "subdistrict": "街道",
        "building": "楼栋", "floor": "楼层/单元", "reported_at": "上报时间", "deadline_at": "截止时间",
        "occurred_at": "发生时间", "received_at": "接收时间", "time_flag": "时间校验",
        "flag_future": "设备时间晚于服务器，已按接收时间记", "flag_too_old": "发生时间过早，已按接收时间记",
        "flag_skew": "设备时钟偏差，已校正", "skew": "设备时钟偏差",
        "handler": "承办", "photos": "照片", "before": "处置前", "after": "处置后", "no_photos": "暂无照片",
        "timeline": "办理过程", "auto": "自动", "tasks": "吹哨报到", "report_in_by": "报到时限",
        "reported_in": "已报到", "not_reported": "未报到", "late": "迟到", "on_time_in": "按时", "handled": "已处置",
        "revisits": "回头看", "due_on": "计划日期", "done": "完成", "outcome": "结果",
        "still_fixed": "问题未复发", "reopen": "问题复发", "cancelled": "已取消", "pending": "待进行",
        "duplicates": "疑似重复(30米内同类在办)", "no_duplicates": "附近没有同类在办案件",
        "compare": "对比", "merge": "将本案合并到", "distance": "距离", "this_case": "本案", "other_case": "对比案件",
        "earlier": "同一楼栋的历史案件", "no_earlier": "该楼栋以前没有案件", "urges": "督办",
        "no_urges": "未督办", "actions": "可办理操作", "no_actions": "当前没有您可办理的操作（仅可查看）",
        "note": "说明", "reason": "原因(必填)", "submit": "提交", "cancel": "取消", "done_ok": "已完成：",
        "candidates": "责任单位(按道路距离排序)", "auto_choice": "按责任规则自动派遣", "free_choice": "或任选单位",
        "eta": "约", "minutes": "分钟", "straight": "直线距离", "nobody": "没有责任单位覆盖此处：请任选单位",
        "grid_worker_choice": "本网格网格员", "hours_label": "处置时限(工时，可不填)",
        "report_in_hours": "报到时限(工时)", "departments": "参与部门(可多选)",
        "new_deadline": "新的时限(工时，可不填)",
        "rating_label": "评价", "photo_label": "处置后照片(可多张)", "upload": "上传中…", "print": "打印派遣单",
        "reload": "刷新", "loading": "加载中…", "empty_reason": "请填写原因", "choose_unit": "请选择单位",
        "choose_units": "请至少选择一个部门", "close": "关闭", "rate_5": "满意", "rate_4": "比较满意",
        "rate_3": "基本满意", "rate_2": "不太满意", "rate_1": "不满意", "system": "系统", "none": "—",
        "not_found": "没有这个案件编号", "forbidden": "该案件不在您的权限范围内", "back": "返回待办",
        "department": "部门", "use_tasks": "请在下方“吹哨报到”表中办理本单位的任务",
        "task_status": {"dispatched": "待报到", "accepted": "已报到·处置中", "handled": "已处置",
                        "not_responsible": "已退回"},
        "left_scope": "办理后该案件已不在您的范围内。",
        "merged_into": "已合并到", "recurrence_of": "复发自", "rework": "返工次数", "escalations": "升级次数",
        "rating": "满意度", "route": "路线", "photo_for": "照片", "task_actions": {"report_in": "报到",
                                                                                "handle": "处置完成",
                                                                                "return": "退回"},
        "sheet": "派遣单", "unit_sent": "派遣单位", "latest": "最近办理", "sign_receiver": "接收人",
        "sign_handler": "处置人", "sign_date": "日期", "printed": "打印时间", "sketch": "位置示意",
        "simulated": "(模拟)",
    },
    "en": {
        "title": "Case", "number": "Case No.", "category": "Category", "status": "Status", "level": "Level",
        "channel": "Channel", "order_no": "12345 order", "contact": "Reporter (call-back)",
        "deadline": "Deadline", "stopped": "Clock stopped", "remaining": "left", "hours": "working h",
        "overdue": "Overdue", "finished": "Finished", "on_time": "Closed on time", "late_closed": "Closed late",
        "map": "Where", "description": "Description", "place": "Place", "address": "Address", "grid": "Grid",
        "worker": "Grid worker", "community": "Community", "subdistrict": "Subdistrict", "building": "Building",
        "floor": "Floor / unit", "reported_at": "Reported", "deadline_at": "Due", "handler": "Handled by",
        "occurred_at": "Happened", "received_at": "Received", "time_flag": "Time check",
        "flag_future": "device time in the future: recorded at receipt",
        "flag_too_old": "too long ago: recorded at receipt", "flag_skew": "device clock off: corrected",
        "skew": "device clock off by",
        "photos": "Photos", "before": "Before", "after": "After", "no_photos": "No photos yet",
        "timeline": "Timeline", "auto": "automatic", "tasks": "Whistled departments (吹哨报到)",
        "report_in_by": "Report in by", "reported_in": "Reported in", "not_reported": "Not reported in",
        "late": "late", "on_time_in": "on time", "handled": "Handled", "revisits": "Revisits (回头看)",
        "due_on": "Due", "done": "Done", "outcome": "Outcome", "still_fixed": "Still fixed", "reopen": "Problem back",
        "cancelled": "Cancelled", "pending": "Pending",
        "duplicates": "Possible duplicates (same category, open, within 30 m)",
        "no_duplicates": "No open case of this category nearby", "compare": "Compare",
        "merge": "Merge this case into", "distance": "Distance", "this_case": "This case", "other_case": "Other case",
        "earlier": "Earlier cases at this building", "no_earlier": "No earlier case at this building",
        "urges": "Urges (督办)", "no_urges": "Not urged", "actions": "What you can do",
        "no_actions": "Nothing for you to do on this case now (read only)", "note": "Note",
        "reason": "Reason (required)", "submit": "Submit", "cancel": "Cancel", "done_ok": "Done: ",
        "candidates": "Responsible units (nearest by road first)", "auto_choice": "Automatic (responsibility rules)",
        "free_choice": "or any unit", "eta": "about", "minutes": "min", "straight": "straight line",
        "nobody": "No responsible unit covers this place: choose any unit", "grid_worker_choice": "The grid's worker",
        "hours_label": "Deadline (working hours, optional)", "report_in_hours": "Report in within (working hours)",
        "departments": "Departments (one or more)", "new_deadline": "New deadline (working hours, optional)",
        "rating_label": "Rating", "photo_label": "After-photos (one or more)", "upload": "Uploading…",
        "print": "Print dispatch sheet", "reload": "Reload", "loading": "Loading…",
        "empty_reason": "Please give a reason", "choose_unit": "Please choose a unit",
        "choose_units": "Please choose at least one department", "close": "Close", "rate_5": "Satisfied",
        "rate_4": "Mostly satisfied", "rate_3": "Fairly satisfied", "rate_2": "Not quite satisfied",
        "rate_1": "Not satisfied", "system": "System", "none": "—", "not_found": "There is no case with this number",
        "forbidden": "This case is outside your scope", "back": "Back to the queues", "department": "Department",
        "use_tasks": "Act on your unit's task in the whistle table below",
        "task_status": {"dispatched": "To report in", "accepted": "Reported in · handling", "handled": "Handled",
                        "not_responsible": "Returned"},
        "left_scope": "After this step the case is no longer in your scope.", "merged_into": "Merged into",
        "recurrence_of": "Recurrence of", "rework": "Reworked", "escalations": "Escalated", "rating": "Rating",
        "route": "Route", "photo_for": "Photo",
        "task_actions": {"report_in": "Report in", "handle": "Handled", "return": "Return"},
        "sheet": "Dispatch sheet", "unit_sent": "Dispatched to", "latest": "Latest steps",
        "sign_receiver": "Received by", "sign_handler": "Handled by", "sign_date": "Date", "printed": "Printed",
        "sketch": "Sketch of the place", "simulated": "(simulated)",
    },
}
#: How many of the latest timeline steps a 派遣单 prints.
PRINT_STEPS = 6


def case_page(lang: str | None, number: str, actions_zh: Mapping[str, str], *, tiles: dict | None, role: str,
              user: str, datum: str = "wgs84", timezone: str | None = None) -> str:
    """The case page: the frame and the configuration its script reads; the script fetches the case file.
    ``tiles``: the basemap (None: none, the grid and the point are drawn anyway); ``datum``: the basemap's datum."""
    lang = pick(lang)
    config = page_config(lang, actions_zh, timezone=timezone, number=number, tiles=tiles, datum=datum, t=T[lang],
                         role=role, user=user)
    return render("desk_case.html", **frame(lang, active="case"), t=T[lang], number=number,
                  config=Markup(json.dumps(config, ensure_ascii=False).replace("</", "<\\/")))


def missing_page(lang: str | None, number: str, *, forbidden: bool) -> str:
    """The page for an unknown case number or one outside the user's scope."""
    lang = pick(lang)
    return render("desk_case_missing.html", **frame(lang, active="case"), t=T[lang], number=number,
                  message=T[lang]["forbidden" if forbidden else "not_found"])


# ---------------------------------------------------------------------------------------------- the 派遣单


def local_time(iso: str | None, timezone: str) -> str:
    """An ISO time as ``2026-03-05 14:30`` in the city's time zone ("—" when missing)."""
    if not iso:
        return "—"
    return dt.datetime.fromisoformat(iso).astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")


def _rings(geometry: Mapping[str, Any] | None) -> list[list[tuple[float, float]]]:
    if not geometry:
        return []
    kind, coords = geometry.get("type"), geometry.get("coordinates") or []
    if kind == "Polygon":
        return [[(float(x), float(y)) for x, y, *_ in ring] for ring in coords]
    if kind == "MultiPolygon":
        return [[(float(x), float(y)) for x, y, *_ in ring] for poly in coords for ring in poly]
    return []


def sketch_svg(grid: Mapping[str, Any] | None, building: Mapping[str, Any] | None, lon: float, lat: float, *,
               size: int = 260, label: str = "") -> Markup:
    """An SVG sketch (north up, equal scale both ways) of the grid's outline, the building and the point."""
    grid_rings, bld_rings = _rings(grid), _rings(building)
    pts = [p for r in grid_rings + bld_rings for p in r] + [(lon, lat)]
    k = math.cos(math.radians(lat))
    xs, ys = [p[0] * k for p in pts], [p[1] for p in pts]
    span = max(max(xs) - min(xs), max(ys) - min(ys), 0.0008)
    pad = span * 0.08
    x0, y1 = min(xs) - pad, max(ys) + pad
    scale = size / (span + 2 * pad)

    def xy(p: tuple[float, float]) -> str:
        return f"{(p[0] * k - x0) * scale:.1f},{(y1 - p[1]) * scale:.1f}"

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="sketch" viewBox="0 0 {size} {size}" width="{size}" '
             f'height="{size}" role="img" aria-label="{esc(label)}">',
             f'<rect width="{size}" height="{size}" fill="#fff" stroke="#9ca3af"/>']
    parts += [f'<polygon points="{" ".join(xy(p) for p in r)}" fill="#dbeafe" stroke="#1d4ed8" stroke-width="2"/>'
              for r in grid_rings]
    parts += [f'<polygon points="{" ".join(xy(p) for p in r)}" fill="#fde68a" stroke="#b45309" stroke-width="1.5"/>'
              for r in bld_rings]
    cx, cy = xy((lon, lat)).split(",")
    parts.append(f'<circle cx="{cx}" cy="{cy}" r="7" fill="#dc2626" stroke="#fff" stroke-width="2"/>')
    parts.append(f'<text x="{size - 14}" y="20" font-size="14" text-anchor="middle">N</text>'
                 f'<path d="M{size - 14} 24 l-5 12 h10 z" fill="#111"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


def print_page(lang: str | None, data: Mapping[str, Any], actions_zh: Mapping[str, str], *, city: str | None,
               timezone: str) -> str:
    """The printable A4 派遣单 of a case (``data``: the case file of patrol.cases.casefile)."""
    lang = pick(lang)
    place = data["place"]
    grid = place.get("grid") or {}
    building = place.get("building") or {}
    if building.get("label"):
        building = {**building, "label": label_in(building["label"], lang)}
    steps = []
    for s in list(data["timeline"])[-PRINT_STEPS:]:
        name = s["label_zh"] if lang == "zh" else (s.get("label_en") or ACTION_EN.get(s["action"], s["action"]))
        actor = T[lang]["system"] if s.get("system") else s["actor"]
        steps.append({**s, "name": name, "actor": actor, "when": local_time(s["at"], timezone)})
    photos = [{**p, "name": p["label_zh"] if lang == "zh" else (p.get("label_en") or ACTION_EN.get(p["action"],
                                                                                                p["action"]))}
              for side in ("before", "after") for p in data["gallery"][side]][:6]
    return render(
        "desk_case_print.html", lang=lang, t=T[lang], c=data, city=city or "", steps=steps, photos=photos,
        category=data["category"]["zh" if lang == "zh" else "en"],
        status=STATUS[lang].get(data["status"], data["status"]), level=LEVEL[lang].get(data["level"], data["level"]),
        channel=CHANNEL[lang].get(data["channel"], data["channel"]),
        reported=local_time(data["reported_at"], timezone),
        deadline=local_time(data["clock"]["deadline_at"], timezone),
        printed=dt.datetime.now(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M"),
        sketch=sketch_svg(grid.get("outline"), building.get("outline"), place["lon"], place["lat"],
                          label=str(T[lang]["sketch"])),
        grid=grid, building={**building, "use": building_use(building.get("use"), lang)} if building else building,
        actions_zh=actions_zh)
