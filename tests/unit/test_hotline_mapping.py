"""The hotline mapping's pure parts: 办理时限 as a time or an amount, 诉求分类 → our category."""

from __future__ import annotations

import datetime as dt

from patrol.cases.worktime import calendar
from patrol.core.settings import Settings
from patrol.intake.hotline.mapping import load_mapping, parse_deadline, parse_time

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def test_deadlines_as_times_and_amounts():
    m = load_mapping()
    received = dt.datetime(2026, 12, 4, 16, 0, tzinfo=SHANGHAI)  # a Friday, 16:00
    add = calendar(Settings(database_url="sqlite://", timezone="Asia/Shanghai")).add_working_hours
    assert parse_deadline("72", m, received, add) == received + dt.timedelta(hours=72)
    assert parse_deadline("72小时", m, received, add) == received + dt.timedelta(hours=72)
    assert parse_deadline("3天", m, received, add) == received + dt.timedelta(days=3)
    one_working_day = parse_deadline("1个工作日", m, received, add)  # 8 working hours: over the weekend
    assert one_working_day is not None and one_working_day.weekday() == 0  # ends on Monday
    assert parse_deadline("2026/12/08 17:30", m, received, add) == dt.datetime(2026, 12, 8, 17, 30, tzinfo=SHANGHAI)
    assert parse_deadline("尽快", m, received, add) is None
    assert parse_time("2026-12-04T08:00:00Z", m.received_formats, m.zone) == dt.datetime(2026, 12, 4, 8, tzinfo=dt.UTC)


def test_categories_exact_contained_and_default():
    m = load_mapping()
    assert m.category_of("噪音扰民") == "E0301"
    assert m.category_of("城市管理-市容环境-楼道堆物") == "C0102"
    assert m.category_of("咨询") == m.default_category == "C0117"
    assert m.category_of(None) == "C0117"
