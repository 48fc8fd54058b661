"""The 12345 exchange's JSON: orders pushed by a hotline platform, the 办理结果 it reads back, its 回访 pushed in, and
the desk's 待定位 queue."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from api.schemas.base import Out

PUSH_MAX = 1000
Satisfaction = Literal["满意", "非常满意", "基本满意", "一般", "不满意", "非常不满意"]


ORDER_EXAMPLE: dict[str, JsonValue] = {
    "order_no": "GD20261203000123", "received_at": "2026-12-03T09:15:00+08:00", "contact_name": "王女士",
    "contact_phone": "13800138000", "description": "小区门口垃圾两天没人清运", "category": "城市管理-垃圾清运",
    "address": "崂山区海尔路1号", "subdistrict": "中韩街道", "deadline": "72小时", "urgency": "一般"}


class HotlineOrderIn(BaseModel):
    """One work order (工单), the fields of the mapping file's targets."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [ORDER_EXAMPLE]})

    order_no: str = Field(min_length=1, max_length=80, description="工单编号: the order's number at the hotline; a "
                                                                   "second push with it updates the order")
    received_at: dt.datetime = Field(description="受理时间 (ISO 8601; without an offset: the mapping's timezone)")
    address: str = Field(min_length=1, max_length=300, description="事发地址, matched to the city's buildings")
    contact_name: str | None = Field(None, max_length=200, description="诉求人 (personal data)")
    contact_phone: str | None = Field(None, max_length=40, pattern=r"^[0-9+\-() ]*$",
                                      description="联系电话 (personal data)")
    description: str | None = Field(None, max_length=4000, description="诉求内容")
    category: str | None = Field(None, max_length=200, description="诉求分类 as the hotline writes it (mapped by "
                                                                   "the mapping's categories)")
    category_code: str | None = Field(None, max_length=20, description="our category code, when the platform "
                                                                       "maps it itself (wins over category)")
    subdistrict: str | None = Field(None, max_length=200, description="所属街道")
    deadline: str | None = Field(None, max_length=40, description="办理时限: ISO time, or an amount from 受理时间 "
                                                                  "(72, 72小时, 3天, 5个工作日)")
    urgency: str | None = Field(None, max_length=20, description="紧急程度")


class HotlineRowResult(Out):
    order_no: str
    result: str = Field(description="created | updated | unchanged | pending (待定位) | rated | reopened | refused")
    why: str = ""


class HotlinePushOut(Out):
    results: list[HotlineRowResult]
    counts: dict[str, int]


class HotlineResultOut(Out):
    order_no: str = Field(description="工单编号")
    result: str = Field(description="办理结果: the handling and closing notes")
    closed_at: dt.datetime = Field(description="办结时间")
    unit: str = Field(description="办理单位")
    photos: list[str] = Field(description="现场照片: signed links to the after-photos (none for sensitive "
                                          "categories)")


class HotlineFeedbackIn(BaseModel):
    """One 回访 result: 满意 rates 5, 基本满意 4, 不满意 2 (reopens the case: 再接单)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "order_no": "GD20261203000123", "satisfaction": "不满意", "solved": False,
        "at": "2026-12-06T10:00:00+08:00", "comment": "垃圾又堆起来了"}]})

    order_no: str = Field(min_length=1, max_length=80)
    satisfaction: Satisfaction = Field(description="回访结果")
    solved: bool | None = Field(None, description="是否解决 (解决率)")
    at: dt.datetime | None = Field(None, description="回访时间; the same order, time and result twice rate once")
    comment: str | None = Field(None, max_length=2000)


class HotlinePlaceIn(BaseModel):
    """Where a 待定位 order is: a building (a candidate, or any other) or a point on the map (WGS-84)."""

    model_config = ConfigDict(extra="forbid")

    building_id: int | None = Field(None, description="the building (one of the order's candidates, or any)")
    lon: float | None = Field(None, ge=-180, le=180)
    lat: float | None = Field(None, ge=-90, le=90)


class HotlinePlacedOut(Out):
    order_no: str
    case_id: int
    case_number: str | None


class HotlineCandidateOut(Out):
    building_id: int = Field(description="opaque key for placing: never shown to users")
    score: float
    label: str
    lon: float | None = None
    lat: float | None = None


class HotlineUnlocatedOut(Out):
    order_no: str
    received_at: dt.datetime
    deadline_at: dt.datetime | None = None
    category_text: str | None = None
    category: str | None = Field(None, description="our category's name")
    description: str | None = None
    address: str | None = None
    subdistrict_text: str | None = None
    urgency: str | None = None
    candidates: list[HotlineCandidateOut]


class HotlineUnlocatedPageOut(Out):
    total: int
    rows: list[HotlineUnlocatedOut]
