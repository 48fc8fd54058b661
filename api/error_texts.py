"""Error messages in the reader's language: Chinese by default, English when the request asks for it.

The domain raises its errors with English messages (patrol.core.errors; the CLI prints them as they are). An HTTP
answer says them in the language of the request (:func:`request_lang`: ``?lang=en|zh`` first, else the first language
of ``Accept-Language`` that we speak, else Chinese): the English text as raised, or its Chinese wording from
:data:`PATTERNS` (the messages people meet in the pages: logging in, case actions, the phone app, the planner), else a
Chinese sentence made from the error's code and field (:func:`generic`). Request validation (422 from FastAPI) is
worded from pydantic's error type (:func:`validation_message`), in either language. The pages send their own language
(the desk's and the phone app's API helpers set ``Accept-Language``), so a Chinese page shows Chinese errors whatever
the browser's settings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from fastapi import Request

from maps.desk.common import STATUS
from patrol.cases.lifecycle import ACTIONS

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"
_CJK = re.compile(r"[\u3400-\u9fff]")


def request_lang(request: Request) -> str:
    """'en' or 'zh': ``?lang=`` when given, else the first of ``Accept-Language`` we speak, else Chinese."""
    asked = request.query_params.get("lang")
    if asked in LANGS:
        return asked
    for part in request.headers.get("accept-language", "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh"
        if tag.startswith("en"):
            return "en"
    return DEFAULT_LANG


#: field names as people say them (the JSON names stay in ``field`` for programs)
FIELD_ZH: Mapping[str, str] = {
    "username": "用户名", "password": "密码", "note": "说明", "category": "类别", "channel": "来源", "lat": "纬度",
    "lon": "经度",
    "building_id": "楼栋", "grid_id": "网格", "community": "社区", "community_id": "社区", "subdistrict": "街道",
    "unit_id": "责任单位", "units": "部门", "assignee_id": "处置人", "hours": "期限（工时）", "rating": "评价",
    "duplicate_of": "合并到", "action": "操作", "case_id": "案件", "photo": "照片", "file": "文件",
    "outcome": "回访结果", "client_id": "本机编号", "geometry": "图形", "line": "线", "codes": "网格编码",
    "code": "网格编码", "name": "名称", "plan_id": "方案", "plan": "方案", "effective_from": "生效日期",
    "worker_id": "网格员", "authorization": "登录", "refresh_token": "登录", "role": "角色", "format": "格式",
    "month": "月份", "status": "状态", "period": "时段", "start": "开始日期", "end": "结束日期", "bbox": "范围",
    "phone": "电话", "address": "地址", "description": "描述", "occurred_at": "发生时间", "fixes": "定位点",
    "ended_at": "结束时间", "patrol_id": "巡查", "layer": "图层", "headers": "表头", "body": "请求内容",
    "households": "户数", "tolerance_m2": "容差", "shop_id": "商铺", "checklist": "检查表", "answers": "检查项",
    # issue 18, stickers
    "grid": "网格", "per_page": "每页数量", "selection": "打印范围", "kind": "内容",
    # issue 22, deliberation (研判, 议事)
    "reason": "理由", "demand_list": "诉求清单", "level": "层级", "meeting": "议事", "topic": "议题",
    "decision": "决定", "participants": "参会人数", "representatives": "居民代表人数", "votes_for": "赞成票",
    "votes_against": "反对票", "votes_abstain": "弃权票", "options": "备选方案", "case": "案件", "need": "诉求",
    "held_at": "时间", "number": "编号",
}

#: (English message as raised, its Chinese wording): the first pattern that matches the whole message wins; named
#: groups are carried over
PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(p, re.DOTALL), zh) for p, zh in (
    (r"wrong username or password", "用户名或密码错误"),
    (r"too many failed logins .*; try again in (?P<n>\d+) minutes?", "登录失败次数过多，请 {n} 分钟后再试"),
    (r"log in first.*", "请先登录"),
    (r"the token has expired; log in again", "登录已过期，请重新登录"),
    (r"the token is not valid", "登录凭据无效，请重新登录"),
    (r"expected an? \w+ token", "登录凭据类型不对，请重新登录"),
    (r"the user no longer exists or is disabled", "该用户不存在或已停用"),
    (r"the token names no login session; log in again|unknown refresh token; log in again",
     "登录会话无效，请重新登录"),
    (r"this login session has ended.*", "登录会话已结束（已退出或被撤销），请重新登录"),
    (r"a login lasts at most (?P<n>[\d.]+) days; log in again", "每次登录最长有效 {n} 天，请重新登录"),
    (r"the refresh token has expired; log in again", "登录已过期，请重新登录"),
    (r"an api_key is required to file requests", "提交诉求需要 api_key"),
    (r"unknown api_key", "api_key 无效"),
    (r"this api_key has been revoked", "该 api_key 已被撤销"),
    (r"case \d+ is outside your scope.*", "该案件不在您的管辖范围内"),
    (r"a (?P<role>\w+) cannot (?P<action>\w+) a case", "您的角色不能对案件执行此操作"),
    (r"a grid worker can \w+ only grid-level cases of her grids", "网格员只能操作本人网格内网格级的案件"),
    (r"only the assignee can \w+ this case", "只有被派遣的处置人可以执行此操作"),
    (r"only the worker of the case's grid verifies on site", "只有案件所在网格的网格员可以现场核查"),
    (r"the case is not dispatched to your unit; use its whistle task", "该案件未派遣给本单位：请处理吹哨任务"),
    (r"cannot \w+ a case that is (?P<status>\w+); allowed: (?P<allowed>.*)",
     "案件当前为「{status}」，不能进行此操作（状态已变化，请刷新；可进行：{allowed}）"),
    (r"cannot \w+ a task that is \w+ .*", "任务当前状态不允许此操作（状态已变化，请刷新）"),
    (r"\w+ needs a note giving the reason", "请填写原因"),
    (r"this case was whistled to several departments: act on its tasks", "该案件已吹哨多个部门：请处理对应的任务"),
    (r"merge needs duplicate_of.*", "合并需要选择另一件案件"),
    (r"rating must be a whole number from 1 to 5.*", "评价须为 1 到 5 的整数"),
    (r"the case's grid has no worker; give unit_id or assignee_id", "案件所在网格没有网格员：请选择责任单位或处置人"),
    (r"dispatch needs unit_id .*", "派遣需要选择责任单位或网格员"),
    (r"whistle needs units.*", "吹哨需要选择部门"),
    (r"whistle lists a unit twice", "吹哨的部门重复"),
    (r"the case is already at department level and cannot be escalated further", "案件已在部门层级，不能再上报"),
    (r"outcome must be still_fixed or reopen", "回访结果须为“仍已解决”或“问题复发”"),
    (r"revisit \d+ was already recorded.*", "该回头看已记录"),
    (r"the case is \w+, not closed", "案件尚未结案"),
    (r"this client_id belongs to .*", "本机编号与另一条记录冲突"),
    (r"unknown category .*", "未知的类别"),
    (r"the point \(.*\) lies outside every grid and community.*", "该位置不在任何网格或社区内"),
    (r"no building \d+", "找不到该楼栋"),
    (r"building \d+ is not in your grids", "该楼栋不在您的网格内"),
    (r"lat must be between -90 and 90.*", "纬度须在 -90 到 90 之间"),
    (r"lon must be between -180 and 180.*", "经度须在 -180 到 180 之间"),
    (r"(?P<f>\w+) is longer than (?P<n>\d+) characters", "{f} 超过 {n} 个字符"),
    (r"no case \d+", "找不到该案件"),
    (r"the field app is for grid workers.*", "本应用供网格员使用"),
    (r"patrols are walked by grid workers", "巡查由网格员进行"),
    (r"grid \d+ is not yours", "该网格不是您的网格"),
    (r"this patrol belongs to another worker|only the worker walking the patrol .*", "这次巡查属于另一位网格员"),
    (r"name: the shop's name \(店名\) is required", "请填写店名"),
    (r"a (?P<role>\w+) cannot work on grid plans.*", "只有规划人员和管理员可以编辑网格方案"),
    (r"plan \d+ is \w+: only a draft can be changed.*", "只能修改草稿方案：请新建草稿"),
    (r"the line does not cut grid (?P<code>\d+) in two.*", "这条线没有把网格 {code} 分成两块：请从网格一边画到另一边"),
    (r"the line cuts grid (?P<code>\d+) into (?P<n>\d+) pieces.*",
     "这条线把网格 {code} 分成了 {n} 块：请画一条只穿过一次的线"),
    (r"merge needs at least two different grid codes", "合并至少需要两个不同的网格"),
    (r"only grids of the same community can be merged.*", "只能合并同一社区内的网格"),
    (r"move-boundary needs the codes of two neighbouring grids", "调整边界需要两个相邻的网格"),
    (r"the two grids are in different communities", "这两个网格属于不同社区"),
    (r"the line does not cross grids .*", "这条线没有穿过这两个网格：请从边界一端画到另一端"),
    (r"the new boundary would leave one of the grids empty", "新边界会使其中一个网格为空"),
    (r"the new shape of grid (?P<code>\d+) lies outside its community", "网格 {code} 的新形状超出了所在社区"),
    (r"geometry is not valid: .*", "图形无效（自相交或不闭合）"),
    (r"plan \d+ cannot be published: validation found .*", "方案有校验问题，不能发布：请先修正"),
    (r"there are no grid plans to roll back", "没有可回退的网格方案"),
    (r"plan \d+ .* is the first plan: there is nothing to roll back to", "这是第一个方案，无法回退"),
    (r"the city has no grids yet.*", "还没有网格：请先生成网格"),
    (r"no proposal for community .*", "该社区没有可用的调整建议：请先修正草稿的校验问题"),
    (r"plan \d+ has no grids in community .*", "方案在该社区没有网格"),
    (r"the file is larger than .*|request body larger than .*|.*too large.*", "文件或请求太大"),
    # issue 18, stickers (patrol.intake.stickers, patrol.intake.sheets)
    (r"nothing to print: .*", "没有可打印的内容：所选范围内没有楼栋或网格"),
    (r"the (card's )?QR would be \d+ mm wide.*", "每页数量太多，二维码会小于 25 毫米：请减少每页数量"),
    (r"(stickers|cards) come [\d, ]+ to a page, not \d+",
     "不支持的每页数量：贴纸可选 1、2、4、6、8、9、12、15、16、20、24 张，公示牌 1 或 2 张"),
    (r"no grid '.*'", "找不到该网格"),
    (r"no (community|subdistrict) '.*'", "找不到该社区或街道"),
    (r"\S+ is outside your scope \(\w+\)", "所选网格或社区不在您的管辖范围内"),
    (r"a \w+ does not print stickers", "您的角色不能打印二维码"),
    (r"(?P<n>\d+) \w+ are more than (?P<max>\d+) at once.*",
     "共 {n} 张，一次最多 {max} 张：请选择一个网格或社区，或使用命令行"),
    (r"give one of grid, community and subdistrict", "请只选择网格、社区或街道之一"),
    # issue 22, deliberation (patrol.cases.assessment, patrol.cases.meetings)
    (r"研判 needs a reason.*", "研判须填写理由"),
    (r"case \S+ waits for a 议事 decision.*", "该案件研判为需先议事：议事会作出决定前不能派遣"),
    (r"the votes \(for \+ against \+ abstain = (?P<n>\d+)\) exceed the participants \((?P<p>\d+)\)",
     "表决票数（{n}）超过参会人数（{p}）"),
    (r"a vote needs the number of participants", "表决须填写参会人数"),
    (r"representatives \((?P<r>\d+)\) cannot exceed the participants \((?P<p>\d+)\)",
     "居民代表人数（{r}）不能超过参会人数（{p}）"),
    (r"decision is required", "请填写决定"),
    (r"topic is required", "请填写议题"),
    (r"no case numbered .*", "找不到该案件编号"),
    (r"case \S+ is not in the meeting's community", "该案件不在本次议事的社区"),
    (r"case \S+ is already on meeting .*", "该案件已在本次议事的议程上"),
    (r"meeting \S+ is (decided|cancelled): cannot .*", "该议事已决定或已取消，不能再修改"),
    (r"no meeting numbered .*", "没有这个议事编号"),
))

_GENERIC_ZH = {
    "invalid": "填写有误", "not_found": "未找到", "forbidden": "无权进行此操作", "conflict": "状态已变化，请刷新后再试",
    "unauthorized": "请重新登录", "too_many_attempts": "尝试次数过多，请稍后再试", "too_large": "文件或请求太大",
    "method_not_allowed": "不支持此操作", "import_failed": "文件无法导入", "configuration": "服务器配置有误",
}


def field_label(field: str | None, lang: str) -> str:
    """The field as people say it in ``lang`` (its last part for a dotted path); '' for none."""
    if not field:
        return ""
    last = field.split(".")[-1]
    return FIELD_ZH.get(last, last) if lang == "zh" else last


def generic(code: str, field: str | None) -> str:
    """A Chinese sentence from the error's code and field, for a message without a Chinese wording."""
    head = _GENERIC_ZH.get(code, "请求未能完成")
    label = field_label(field, "zh")
    return f"{head}：{label}" if label else head


def localise(code: str, message: str | None, field: str | None, lang: str) -> str | None:
    """``message`` in ``lang``: as raised for English (and for a message already in Chinese), else its Chinese
    wording (:data:`PATTERNS`) or :func:`generic`."""
    if lang != "zh" or message is None or _mostly_cjk(message):
        return message
    for pattern, zh in PATTERNS:
        m = pattern.fullmatch(message.strip())
        if m:
            return zh.format(**{k: _words(k, v) for k, v in m.groupdict().items()})
    return generic(code, field)


def _words(name: str, value: str | None) -> str:
    """A status or a list of actions of a message in Chinese (the loop's own labels)."""
    if value is None:
        return ""
    if name == "status":
        return STATUS["zh"].get(value, value)
    if name == "allowed":
        names = [ACTIONS[a].label_zh for a in re.split(r",\s*", value) if a in ACTIONS]
        return "、".join(names) or "无（案件已办结）"
    return value


def _mostly_cjk(text: str) -> bool:
    """A message written in Chinese (a Chinese word in an English sentence does not make it one)."""
    cjk = len(_CJK.findall(text))
    return cjk > 0 and cjk * 3 >= len(re.findall(r"[A-Za-z]", text))


#: pydantic's error types worded in Chinese (ctx values are filled in)
_VALIDATION_ZH = {
    "missing": "必填", "string_too_short": "太短（至少 {min_length} 个字符）",
    "string_too_long": "太长（最多 {max_length} 个字符）", "too_short": "太少（至少 {min_length} 项）",
    "too_long": "太多（最多 {max_length} 项）", "int_parsing": "应为整数", "int_type": "应为整数",
    "float_parsing": "应为数字", "float_type": "应为数字", "bool_parsing": "应为是/否", "bool_type": "应为是/否",
    "string_type": "应为文字", "greater_than": "须大于 {gt}", "greater_than_equal": "须不小于 {ge}",
    "less_than": "须小于 {lt}", "less_than_equal": "须不大于 {le}", "literal_error": "须为以下之一：{expected}",
    "enum": "须为以下之一：{expected}", "date_parsing": "日期格式应为 YYYY-MM-DD", "date_from_datetime_parsing":
    "日期格式应为 YYYY-MM-DD", "datetime_parsing": "时间格式有误（如 2026-11-23T09:30:00+08:00）",
    "datetime_from_date_parsing": "时间格式有误（如 2026-11-23T09:30:00+08:00）", "json_invalid": "不是有效的 JSON",
    "extra_forbidden": "不是可用的字段", "string_pattern_mismatch": "格式不对", "uuid_parsing": "应为 UUID",
    "model_attributes_type": "格式不对", "dict_type": "格式不对", "list_type": "应为列表",
    "value_error": "取值无效", "finite_number": "应为有限的数字", "url_parsing": "不是有效的网址",
}


def validation_message(error: Mapping[str, Any], lang: str) -> str:
    """One request-validation error (pydantic's dict) as ``field: what is wrong`` in ``lang``."""
    loc = [str(p) for p in error.get("loc", ()) if p not in ("query", "body", "path", "header")]
    field = ".".join(loc)
    if lang == "en":
        return f"{field}: {error.get('msg')}" if field else str(error.get("msg", "invalid request"))
    template = _VALIDATION_ZH.get(str(error.get("type", "")))
    ctx = {k: v for k, v in (error.get("ctx") or {}).items()}
    try:
        what = template.format(**ctx) if template else "取值无效"
    except (KeyError, IndexError):
        what = "取值无效"
    label = field_label(field, "zh")
    return f"{label}：{what}" if label else what
