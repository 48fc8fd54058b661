"""The residents' public pages, rendered: the report page ``/r/`` (``templates/resident_report.html`` +
``static/js/resident.js``) and the follow-up page ``/r/f/<token>`` (``templates/resident_follow.html`` +
``static/js/resident-follow.js``). Light on purpose — one small script and stylesheet each, no field-app bundle;
Leaflet and the basemap load only when the resident opens the map. Chinese first, English with ``?lang=en``.
Renders only: the routes read through patrol and pass plain data in."""

from __future__ import annotations

import json
from typing import Any

from markupsafe import Markup

from maps.templating import render

T: dict[str, dict[str, str]] = {
    "zh": {
        "title": "我要反映问题", "lead": "无需注册，提交后请保存办理进度链接。", "other_lang": "English",
        "category": "1. 什么问题？", "photos": "2. 拍照（可选，最多 3 张）", "add_photo": "＋ 拍照或选图",
        "where": "3. 在哪里？", "at": "位置：", "gps": "使用我的位置", "pick": "在地图上选点",
        "locating": "正在定位…", "located": "已定位（精度约 {m} 米）", "pinned": "已在地图上选点",
        "no_gps": "无法获取定位，请在地图上点选位置", "map_hint": "点击地图或拖动标记到问题所在位置",
        "description": "4. 描述问题", "description_ph": "例如：3号楼东侧路灯连续三晚不亮",
        "phone": "联系电话（可选）", "phone_hint": "仅工作人员回访时可见，不会公开",
        "submit": "提交", "sending": "正在提交…",
        "offline": "网络连接失败，请检查网络后再点“提交”。您填写的内容已保留。",
        "failed": "提交失败", "need_category": "请选择问题类型", "need_place": "请定位：使用我的位置或在地图上选点",
        "done": "提交成功", "number": "案件编号", "save": "保存此链接",
        "save_hint": "凭此链接查看办理进度、处置结果并评价。链接只显示这一次，请截图、收藏或复制保存，不要转发给他人。",
        "copy_link": "复制链接", "copied": "已复制", "open": "查看办理进度", "again": "再反映一个问题",
        "photo_n": "照片", "remove": "删除",
    },
    "en": {
        "title": "Report a problem", "lead": "No account needed. Keep the follow-up link you get.",
        "other_lang": "中文",
        "category": "1. What is the problem?", "photos": "2. Photos (optional, up to 3)",
        "add_photo": "+ Take or add a photo",
        "where": "3. Where?", "at": "Place: ", "gps": "Use my location", "pick": "Pick on the map",
        "locating": "Locating…", "located": "Located (about {m} m)", "pinned": "Placed on the map",
        "no_gps": "Location is not available; tap the map instead", "map_hint": "Tap the map or drag the marker",
        "description": "4. Describe it", "description_ph": "e.g. the street light east of building 3 has been out "
                                                           "for three nights",
        "phone": "Phone (optional)", "phone_hint": "Seen only by staff calling you back; never published",
        "submit": "Send", "sending": "Sending…",
        "offline": "The network failed; check your connection and press Send again. Your report is kept.",
        "failed": "Sending failed", "need_category": "Choose what kind of problem it is",
        "need_place": "Give the place: use my location or pick on the map",
        "done": "Sent", "number": "Case number", "save": "Save this link",
        "save_hint": "With this link you follow the case, see the result and rate it. It is shown only now: "
                     "bookmark, copy or screenshot it, and do not share it.",
        "copy_link": "Copy link", "copied": "Copied", "open": "Follow the case", "again": "Report another problem",
        "photo_n": "Photo", "remove": "Remove",
    },
}

F: dict[str, dict[str, str]] = {
    "zh": {
        "title": "办理进度", "number": "案件编号", "state": "当前状态", "category": "问题", "place": "位置",
        "description": "描述", "timeline": "办理过程", "after": "处置结果照片", "no_after": "暂无处置照片",
        "rate": "请您评价", "rate_hint": "您的评价会计入满意率；不满意的问题将重新办理。",
        "solved": "问题解决了吗？", "yes": "解决了", "no": "没解决", "comment": "意见（可选）",
        "send": "提交评价", "sending": "正在提交…", "thanks": "感谢您的评价。",
        "reopened": "您的评价为不满意，案件已重新办理（再接单），请留意后续进度。",
        "rated": "本次办结已评价，谢谢。", "offline": "网络连接失败，请稍后再试。", "failed": "提交失败",
        "need_rating": "请选择评价", "other_lang": "English", "report": "反映新问题",
        "missing_title": "链接无效",
        "missing": "这个链接有误或已失效。请核对您保存的完整链接；如需反映问题，请重新提交。",
        "stars": "5|满意|4|满意|3|基本满意|2|不满意|1|不满意",
    },
    "en": {
        "title": "Case progress", "number": "Case number", "state": "State", "category": "Problem", "place": "Place",
        "description": "Description", "timeline": "What was done", "after": "Photos of the result",
        "no_after": "No photos of the result yet",
        "rate": "Your rating", "rate_hint": "Your rating counts in the satisfaction rate; a problem you are not "
                                            "satisfied with is handled again.",
        "solved": "Was the problem solved?", "yes": "Yes", "no": "No", "comment": "Comment (optional)",
        "send": "Send rating", "sending": "Sending…", "thanks": "Thank you for your rating.",
        "reopened": "You were not satisfied: the case has been reopened (再接单). Check back for progress.",
        "rated": "This closure has been rated, thank you.", "offline": "The network failed; try again later.",
        "failed": "Sending failed", "need_rating": "Choose a rating", "other_lang": "中文",
        "report": "Report a new problem",
        "missing_title": "Link not valid", "missing": "This link is wrong or no longer valid. Check the full link "
                                                      "you saved; to report a problem, send a new report.",
        "stars": "5|Satisfied|4|Satisfied|3|Fairly satisfied|2|Not satisfied|1|Not satisfied",
    },
}


def _lang(lang: str) -> str:
    return "en" if lang == "en" else "zh"


def _json(value: Any) -> Markup:
    return Markup(json.dumps(value, ensure_ascii=False).replace("</", "<\\/"))


def report_page(lang: str, *, categories: list[dict[str, str]], spot: dict[str, Any] | None,
                sticker: dict[str, str], tiles: dict | None, datum: str,
                centre: dict[str, float] | None = None) -> str:
    """The report page. ``spot``: the sticker's place (building, place or grid) or None; ``sticker``: the link's
    query as it was (sent back with the report when the resident keeps the sticker's place)."""
    lang = _lang(lang)
    t = T[lang]
    config = {"lang": lang, "t": t, "spot": spot, "sticker": sticker, "tiles": tiles, "datum": datum,
              "center": centre}
    return render("resident_report.html", lang=lang, t=t, categories=categories, spot=spot,
                  other="zh" if lang == "en" else "en", config=_json(config))


def follow_page(lang: str, token: str, view: dict[str, Any]) -> str:
    """The follow-up page of a case (``view``: :func:`patrol.intake.h5.follow_view`)."""
    lang = _lang(lang)
    t = F[lang]
    words = t["stars"].split("|")
    stars = [(int(words[i]), words[i + 1]) for i in range(0, len(words), 2)]
    config = {"lang": lang, "t": t, "token": token}
    return render("resident_follow.html", lang=lang, t=t, v=view, stars=stars, token=token,
                  other="zh" if lang == "en" else "en", config=_json(config))


def missing_page(lang: str) -> str:
    """An unknown follow-up link: says the link is wrong, not which ones exist."""
    lang = _lang(lang)
    return render("resident_missing.html", lang=lang, t=F[lang], other="zh" if lang == "en" else "en")
