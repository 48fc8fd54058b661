"""The desk's 待定位 page (/desk/unlocated): the 12345 work orders whose address matched no building (or several),
listed with their best candidates; the supervisor picks a candidate or clicks the place on the map, which creates the
case. The page script (static/js/desk/unlocated.js) reads GET /api/v1/desk/unlocated and posts
/api/v1/hotline/orders/{order_no}/place; here are its words in Chinese and English."""

from __future__ import annotations

import json
from collections.abc import Mapping

from markupsafe import Markup

from maps.desk.common import frame, page_config, pick
from maps.templating import render

TEXT = {
    "zh": {
        "title": "待定位",
        "intro": "以下 12345 工单的事发地址未能唯一匹配到楼栋。请选择候选楼栋，"
                 "或在地图上点击事发位置后定位，定位后即生成案件。",
        "order_no": "工单编号", "received_at": "受理时间", "deadline_at": "办理时限", "category": "诉求分类",
        "address": "事发地址", "description": "诉求内容", "subdistrict": "所属街道", "candidates": "候选楼栋",
        "score": "匹配度", "pick": "选此楼栋", "no_candidates": "没有候选楼栋：请在地图上点击事发位置。",
        "click_map": "在地图上点击事发位置", "place_here": "定位到所点位置", "placed": "已定位，生成案件",
        "empty": "没有待定位的工单。12345 工单的地址未能唯一匹配楼栋时会出现在这里。", "loading": "加载中…",
        "map": "地图：点击选择事发位置", "select": "定位此工单", "selected": "当前工单", "total": "共 {n} 件",
        "point": "所选位置", "candidate": "候选",
    },
    "en": {
        "title": "To locate", "intro": "The addresses of these 12345 work orders matched no single building. Pick a "
                                      "candidate building, or click the place on the map and locate it there: the "
                                      "case is created then.",
        "order_no": "Order no.", "received_at": "Received", "deadline_at": "Deadline", "category": "Category",
        "address": "Address", "description": "Request", "subdistrict": "Subdistrict", "candidates": "Candidates",
        "score": "match", "pick": "This building", "no_candidates": "No candidate buildings: click the place on "
                                                                  "the map.",
        "click_map": "Click the place on the map", "place_here": "Locate at the clicked point",
        "placed": "Located; case created", "empty": "No orders to locate. 12345 orders whose address matched no "
                                                     "single building appear here.",
        "loading": "Loading…", "map": "Map: click to choose the place", "select": "Locate this order",
        "selected": "Selected order", "total": "{n} in all", "point": "Chosen point", "candidate": "Candidate",
    },
}


def unlocated_page(lang: str | None, actions_zh: Mapping[str, str], *, tiles: dict | None, datum: str = "wgs84",
                   timezone: str | None = None, role: str = "",
                   bounds: list[float] | None = None) -> str:
    """The HTML of /desk/unlocated (the orders come from the API); ``bounds``: the caller's area (WGS-84
    [west, south, east, north]) the map opens on."""
    lang = pick(lang)
    config = page_config(lang, actions_zh, timezone=timezone, tiles=tiles, datum=datum, t=TEXT[lang], role=role,
                         bounds=bounds)
    return render("desk_unlocated.html", **frame(lang, active="unlocated"), t=TEXT[lang],
                  config=Markup(json.dumps(config, ensure_ascii=False).replace("</", "<\\/")))
