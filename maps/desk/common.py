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
           "planner": "规划", "admin": "管理员"},
    "en": {"grid_worker": "Grid worker", "supervisor": "Community", "subdistrict": "Subdistrict",
           "department": "Department", "planner": "Planner", "admin": "Administrator"},
}
ACTION_EN = {"register": "Register", "reject": "Reject", "dispatch": "Dispatch", "whistle": "Whistle departments in",
             "accept": "Accept", "return": "Return (not ours)", "handle": "Handled", "verify": "Verified on site",
             "rework": "Failed check (rework)", "close": "Close", "rate": "Rate", "suspend": "Suspend",
             "resume": "Resume", "escalate": "Escalate", "merge": "Merge (duplicate)", "urge": "Urge (督办)",
             "supplement": "Supplement (photo, note)"}
CHANNEL = {
    "zh": {"patrol": "巡查上报", "staff": "工作人员", "open311": "Open311", "inspection": "检查整改",
           "survey": "走访", "resident": "居民", "hotline": "12345", "self_handled": "自行处置"},
    "en": {"patrol": "Patrol", "staff": "Staff", "open311": "Open311", "inspection": "Inspection",
           "survey": "Visit", "resident": "Resident", "hotline": "12345", "self_handled": "Handled on the spot"},
}

HEADER = {
    "zh": {"desk": "待办", "dashboard": "看板", "maps": "地图", "surveys": "走访报表", "notices": "通知",
           "no_notices": "暂无通知", "mark_read": "全部已读", "lang": "English", "logout": "退出",
           "app": "网格化管理 · 案件工作台"},
    "en": {"desk": "Queues", "dashboard": "Dashboard", "maps": "Maps", "surveys": "Surveys", "notices": "Notices",
           "no_notices": "No notices", "mark_read": "Mark all read", "lang": "中文", "logout": "Log out",
           "app": "Grid governance · case desk"},
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
    return {"lang": lang, "timezone": timezone, "labels": {
        "status": STATUS[lang], "level": LEVEL[lang], "role": ROLE[lang], "action": actions,
        "channel": CHANNEL[lang]}, **extra}


def frame(lang: str, *, active: str) -> dict[str, Any]:
    """What ``templates/desk_base.html`` needs: the header labels, the other language, the active tab."""
    lang = pick(lang)
    return {"lang": lang, "other_lang": "en" if lang == "zh" else "zh", "h": HEADER[lang], "active": active}
