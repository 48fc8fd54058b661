"""What every desk page shares: the header (title, navigation, the notification bell, user, language, log out) and
the labels of statuses, levels, roles and actions in Chinese and English (the page scripts get the same tables
through :func:`page_config`, so the server and the browser name things alike)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

LANGS = ("zh", "en")

STATUS = {
    "zh": {"reported": "待立案", "registered": "已立案", "dispatched": "已派遣", "accepted": "处置中",
           "handled": "已处置", "verified": "已核查", "suspended": "缓办", "closed": "已结案",
           "rejected": "不予立案", "duplicate": "已合并"},
    "en": {"reported": "Reported", "registered": "Registered", "dispatched": "Dispatched", "accepted": "In hand",
           "handled": "Handled", "verified": "Verified", "suspended": "Suspended", "closed": "Closed",
           "rejected": "Rejected", "duplicate": "Merged"},
}
LEVEL = {
    "zh": {"grid": "网格", "community": "社区", "department": "街道·部门"},
    "en": {"grid": "Grid", "community": "Community", "department": "Subdistrict · departments"},
}
ROLE = {
    "zh": {"grid_worker": "网格员", "supervisor": "社区", "subdistrict": "街道", "department": "职能部门",
           "planner": "规划", "admin": "管理员", "grid_lead": "网格长", "building_lead": "楼栋长"},
    "en": {"grid_worker": "Grid worker", "supervisor": "Community", "subdistrict": "Subdistrict",
           "department": "Department", "planner": "Planner", "admin": "Administrator", "grid_lead": "Grid lead",
           "building_lead": "Building lead"},
}
ACTION_EN = {"register": "Register", "reject": "Reject", "dispatch": "Dispatch", "whistle": "Whistle departments in",
             "accept": "Accept", "return": "Return (not ours)", "handle": "Handled", "verify": "Verified on site",
             "rework": "Failed check (rework)", "close": "Close", "rate": "Rate", "suspend": "Suspend",
             "resume": "Resume", "escalate": "Escalate", "merge": "Merge (duplicate)", "urge": "Urge (督办)",
             "supplement": "Supplement (photo, note)", "assess": "Assess (研判)",
             "persuade_fail": "Persuasion failed (to 城管)"}
#: the words of ``patrol.cases.channels.CHANNELS`` (maps imports no patrol code: tests/unit/test_channels.py keeps
#: the two lists equal), and ``survey`` (a visit's finding)
CHANNEL = {
    "zh": {"patrol": "巡查上报", "self_handled": "自行处置", "resident": "居民扫码", "12345": "12345热线",
           "open311": "Open311", "inspection": "检查整改", "staff": "工作人员", "history": "历史导入",
           "survey": "走访"},
    "en": {"patrol": "Patrol", "self_handled": "Handled on the spot", "resident": "Resident (QR / H5)",
           "12345": "12345 hotline", "open311": "Open311", "inspection": "Inspection", "staff": "Staff",
           "history": "History import", "survey": "Visit"},
}

#: OpenStreetMap's building=* values in words (the case page and its print show a building's use); an unknown value
#: reads 其他建筑 in Chinese and its words in English
BUILDING_USE = {
    "zh": {"yes": "建筑", "house": "住宅", "apartments": "公寓楼", "residential": "住宅楼", "detached": "独栋住宅",
           "semidetached_house": "双拼住宅", "terrace": "联排住宅", "bungalow": "平房", "dormitory": "宿舍",
           "commercial": "商业楼", "retail": "商铺", "office": "办公楼", "industrial": "工业建筑", "warehouse": "仓库",
           "garage": "车库", "garages": "车库", "carport": "车棚", "parking": "停车楼", "shed": "棚屋", "hut": "小屋",
           "cabin": "小屋", "roof": "雨棚", "construction": "在建建筑", "service": "设施用房", "power": "电力设施",
           "school": "学校", "kindergarten": "幼儿园", "college": "学院", "university": "大学", "hospital": "医院",
           "hotel": "酒店", "public": "公共建筑", "civic": "公共建筑", "government": "政府机关", "church": "教堂",
           "chapel": "小教堂", "mosque": "清真寺", "temple": "寺庙", "museum": "博物馆", "stadium": "体育场",
           "sports_centre": "体育馆", "train_station": "火车站", "transportation": "交通建筑", "farm": "农舍",
           "barn": "谷仓", "greenhouse": "温室", "tower": "塔楼", "toilets": "公厕", "kiosk": "亭",
           "static_caravan": "活动房", "bunker": "掩体"},
}


def building_use(value: str | None, lang: str) -> str:
    """A building's use (OSM building=*) in words; '' for none."""
    if not value:
        return ""
    if pick(lang) == "zh":
        return BUILDING_USE["zh"].get(value, "其他建筑")
    return value.replace("_", " ").capitalize() if value != "yes" else "Building"


HEADER = {
    "zh": {"desk": "待办", "dashboard": "看板", "maps": "地图", "surveys": "走访报表", "notices": "通知",
           "no_notices": "暂无通知", "mark_read": "全部已读", "lang": "English", "logout": "退出",
           "app": "网格化管理 · 案件工作台", "unlocated": "待定位", "meetings": "研判议事", "mediation": "调解",
           "needs": "民情诉求", "people": "网格力量", "scorecards": "考核"},
    "en": {"desk": "Queues", "dashboard": "Dashboard", "maps": "Maps", "surveys": "Surveys", "notices": "Notices",
           "no_notices": "No notices", "mark_read": "Mark all read", "lang": "中文", "logout": "Log out",
           "app": "Grid governance · case desk", "unlocated": "To locate", "meetings": "Deliberation",
           "mediation": "Mediation", "needs": "Needs", "people": "People", "scorecards": "Assessment"},
}


def pick(lang: str | None) -> str:
    """'en' for English, else Chinese (the default)."""
    return "en" if lang == "en" else "zh"


def page_config(lang: str, actions_zh: Mapping[str, str], *, timezone: str | None = None,
                **extra: Any) -> dict[str, Any]:
    """The configuration a desk page script receives (``window.GRIDPATROL``): its language and the label tables.
    ``actions_zh``: the Chinese names of the actions, as the loop's table (patrol.cases.lifecycle.ACTIONS) holds them
    — the route passes them in, maps does not import patrol. ``timezone``: the city's, in which pages show times."""
    lang = pick(lang)
    actions = dict(actions_zh) if lang == "zh" else {k: ACTION_EN.get(k, k) for k in actions_zh}
    uses = {k: building_use(k, lang) for k in BUILDING_USE["zh"]}
    return {"lang": lang, "timezone": timezone, "labels": {
        "status": STATUS[lang], "level": LEVEL[lang], "role": ROLE[lang], "action": actions,
        "channel": CHANNEL[lang], "building_use": uses}, **extra}


def frame(lang: str, *, active: str) -> dict[str, Any]:
    """What ``templates/desk_base.html`` needs: the header labels, the other language, the active tab."""
    lang = pick(lang)
    return {"lang": lang, "other_lang": "en" if lang == "zh" else "zh", "h": HEADER[lang], "active": active}
