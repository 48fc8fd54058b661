"""The headers of every CSV export in words: Chinese (the default of a download), English, or the machine keys.

Every export (cases, KPIs, the residents register, the inspections table) writes its rows under machine keys
(``reported_at``, ``closure_rate`` …). A download names its columns in the language asked with ``?headers=``:
``zh`` (default: 上报时间, 办结率 …), ``en`` (Reported at, Closure rate …) or ``keys`` (the keys, stable for scripts).
:func:`relabel` turns one header row; :func:`key_of` reads any of the three back (the register import accepts an
exported file whatever its headers). A key without a label here keeps its key (a test checks that every export's
columns have one).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

HEADER_MODES = ("zh", "en", "keys")

#: key → (Chinese, English)
LABELS: Mapping[str, tuple[str, str]] = {
    # cases (patrol.cases.views.EXPORT_COLUMNS, plus the point)
    "id": ("编号", "ID"), "number": ("案件编号", "Case number"), "client_id": ("上报端编号", "Client ID"),
    "category": ("类别", "Category"), "status": ("状态", "Status"), "level": ("层级", "Level"),
    "channel": ("来源代码", "Channel code"), "channel_label": ("来源", "Channel"),
    "description": ("描述", "Description"),
    "community_id": ("社区编号", "Community ID"),
    "grid_id": ("网格编号", "Grid ID"), "building_id": ("楼栋编号", "Building ID"),
    "building_label": ("楼栋", "Building"),
    "unit_id": ("责任单位编号", "Unit ID"),
    "reported_at": ("上报时间", "Reported at"), "deadline_at": ("处置期限", "Deadline"),
    "handled_at": ("处置时间", "Handled at"), "closed_at": ("结案时间", "Closed at"),
    "closed_on_time": ("按期结案", "Closed on time"), "rating": ("评价", "Rating"),
    "rework_count": ("返工次数", "Reworks"), "reopened_count": ("重开次数", "Reopened"),
    "escalations": ("升级次数", "Escalations"), "overdue": ("超期", "Overdue"), "simulated": ("模拟数据", "Simulated"),
    "lon": ("经度", "Longitude"), "lat": ("纬度", "Latitude"), "occurred_at": ("发生时间", "Occurred at"),
    "received_at": ("接收时间", "Received at"), "time_flag": ("时间标记", "Time flag"),
    "address": ("地址", "Address"), "community": ("社区", "Community"), "grid": ("网格", "Grid"),
    "subdistrict": ("街道", "Subdistrict"), "unit": ("责任单位", "Unit"),
    # KPIs (patrol.analytics.kpis: the group, the counts and rates, the warnings; a rate's <kpi>_num and <kpi>_den
    # are named after it by label())
    "by": ("分组方式", "Grouped by"), "start": ("开始日期", "Start"), "end": ("结束日期", "End"),
    "key": ("分组键", "Group key"), "code": ("编码", "Code"), "name": ("名称", "Name"),
    "received": ("受理数", "Received"), "registered": ("立案数", "Registered"), "rejected": ("不予立案数", "Rejected"),
    "merged": ("合并(重复)数", "Merged"), "closed": ("结案数", "Closed"), "escalated": ("升级数", "Escalated"),
    "suspended": ("缓办数", "Suspended"), "urged": ("被督办案件数", "Urged"), "urges": ("督办次数", "Urges"),
    "on_time_closed": ("按期结案数", "Closed on time"), "late_closed": ("超期结案数", "Closed late"),
    "due_unclosed": ("应结未结数", "Due, not closed"), "rated": ("评价数", "Rated"),
    "satisfied": ("满意数", "Satisfied"),
    "dissatisfied": ("不满意数", "Dissatisfied"), "ratings_unknown": ("评分未知数", "Ratings unknown"),
    "open_now": ("在办数", "Open now"), "overdue_now": ("当前超期数", "Overdue now"),
    "households": ("户数", "Households"),
    "closure_rate": ("办结率", "Closure rate"), "on_time_rate": ("按期结案率", "On-time closure rate"),
    "rework_rate": ("返工率", "Rework rate"), "reopen_rate": ("重开率", "Reopen rate"),
    "satisfaction_rate": ("满意率", "Satisfaction rate"), "dissatisfaction_rate": ("不满意率", "Dissatisfaction rate"),
    "mean_handle_hours": ("平均处置时长(工作时)", "Mean handling hours"),
    "mean_close_hours": ("平均结案时长(工作时)", "Mean closing hours"),
    "cases_per_1000_households": ("千户案件数", "Cases per 1,000 households"),
    "warning": ("预警", "Warning"), "warning_kpis": ("预警指标", "Warning KPIs"), "warnings": ("各项预警", "Warnings"),
    "reworked": ("返工案件数", "Reworked"), "reopened": ("重开案件数", "Reopened cases"),
    "self_handled": ("自行处置数", "Settled on the spot"),
    "settled_in_grid_rate": ("小事不出网格率", "Settled in grid"),
    # 接诉即办 (patrol.analytics.responsiveness)
    "orders": ("工单数", "Orders"), "response_due": ("应响应数", "Response due"),
    "responded": ("已响应数", "Responded"),
    "responded_in_time": ("按时响应数", "Responded in time"), "answered": ("解决情况回复数", "Answered solved?"),
    "solved": ("已解决数", "Solved"), "response_rate": ("响应率", "Response rate"),
    "resolution_rate": ("解决率", "Resolution rate"), "satisfied_order_rate": ("满意工单率", "Satisfied ÷ orders"),
    "rated_satisfaction_rate": ("评价满意率", "Satisfied ÷ rated"), "composite": ("综合得分", "Composite score"),
    # the residents register (patrol.surveys.residents.exchange)
    "household_id": ("住户编号", "Household ID"), "building_osm_id": ("楼栋OSM编号", "Building OSM ID"),
    "grid_code": ("网格编码", "Grid code"), "room": ("门牌/房号", "Room"), "head_name": ("户主", "Head of household"),
    "phone": ("电话", "Phone"), "members": ("人数", "Members"), "note": ("备注", "Note"),
    "resident_id": ("居民编号", "Resident ID"), "phone_resident": ("居民电话", "Resident's phone"),
    "birth_year": ("出生年份", "Birth year"), "disabled": ("残疾", "Disabled"),
    "disability": ("残疾类别", "Disability"),
    "lives_alone": ("独居", "Lives alone"), "health": ("健康状况", "Health"),
    "visit_every_days": ("走访周期(天)", "Visit every (days)"), "vulnerable": ("重点人员", "Vulnerable"),
    "reasons": ("原因", "Reasons"), "last_visit_at": ("上次走访", "Last visit"),
    "next_due_on": ("下次走访", "Next visit due"),
    # the inspections table (maps.surveys.CSV_COLUMNS)
    "month": ("月份", "Month"), "grid_name": ("网格名称", "Grid name"), "checklist": ("检查表", "Checklist"),
    "title": ("标题", "Title"), "targets": ("检查对象数", "Targets"), "planned": ("计划", "Planned"),
    "done": ("完成", "Done"), "completion_pct": ("完成率(%)", "Completion (%)"), "failed": ("不合格", "Failed"),
}


_PARTS = {"_num": ("（分子）", " (numerator)"), "_den": ("（分母）", " (denominator)")}


def label(key: str, mode: str) -> str:
    """The header of column ``key`` in ``mode`` ('zh', 'en' or 'keys')."""
    if mode == "keys":
        return key
    if key not in LABELS and key[-4:] in _PARTS and key[:-4] in LABELS:
        zh, en = _PARTS[key[-4:]]
        return label(key[:-4], mode) + (zh if mode == "zh" else en)
    if key not in LABELS:
        return key
    zh, en = LABELS[key]
    return zh if mode == "zh" else en


def relabel(keys: Iterable[str], mode: str) -> list[str]:
    """A header row of keys in ``mode``."""
    return [label(k, mode) for k in keys]


_BACK = {text: key for key, pair in reversed(LABELS.items()) for text in pair}  # the first key wins


def key_of(header: str) -> str:
    """The key of a header in any mode (an unknown header is returned as it is)."""
    header = header.strip()
    return header if header in LABELS else _BACK.get(header, header)
