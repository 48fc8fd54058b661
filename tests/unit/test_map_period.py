"""The period of the analysis map pages (by default the last 30 days, today included; presets; custom dates; the
dashboard's start/end links) and the survey report's plan pro-rated to the days of this month elapsed."""

from __future__ import annotations

import datetime as dt

import pytest

from api.map_pages import filter_cases, map_period, status_filter
from maps.analytics.page import PageFrame, frame_html, period_text
from patrol.core.errors import InvalidInput
from patrol.core.settings import Settings
from patrol.surveys.inspections import prorate

TODAY = dt.date(2026, 12, 4)
S = Settings(database_url="sqlite://", timezone="Asia/Shanghai")


def days(key, start=None, end=None, last=None):
    return map_period(S, key, start, end, last, today=TODAY)


def test_a_map_page_shows_the_last_30_days_by_default_and_each_preset():
    assert days(None) == ("30", dt.date(2026, 11, 5), dt.date(2026, 12, 5))
    assert period_text("zh", dt.date(2026, 11, 5), dt.date(2026, 12, 5)) == "2026-11-05 至 2026-12-04"
    assert period_text("en", dt.date(2026, 11, 5), dt.date(2026, 12, 5)) == "2026-11-05 to 2026-12-04"
    assert days("7") == ("7", dt.date(2026, 11, 28), dt.date(2026, 12, 5))
    assert days("90") == ("90", dt.date(2026, 9, 6), dt.date(2026, 12, 5))
    assert days("month") == ("month", dt.date(2026, 12, 1), dt.date(2026, 12, 5))
    # a preset ignores the dates the form also sent
    assert days("7", start=dt.date(2026, 1, 1), last=dt.date(2026, 1, 2))[1] == dt.date(2026, 11, 28)


def test_dates_make_a_custom_period_and_a_reversed_one_is_refused():
    # the dashboard's links: start and end (exclusive), no period
    assert days(None, start=dt.date(2026, 11, 1), end=dt.date(2026, 12, 1)) == \
        ("custom", dt.date(2026, 11, 1), dt.date(2026, 12, 1))
    # the form: start and the last day shown (included)
    assert days("custom", start=dt.date(2026, 11, 1), last=dt.date(2026, 11, 30)) == \
        ("custom", dt.date(2026, 11, 1), dt.date(2026, 12, 1))
    assert days("custom") == ("custom", dt.date(2026, 11, 5), dt.date(2026, 12, 5))
    with pytest.raises(InvalidInput) as e:
        days("custom", start=dt.date(2026, 11, 10), last=dt.date(2026, 11, 9))
    assert e.value.field == "last"


def test_the_status_filter_of_the_case_maps():
    import geopandas as gpd
    import shapely

    assert status_filter(None) == (None, None)
    assert status_filter("overdue") == (None, True)
    assert status_filter("closed") == (["closed"], None)
    assert "closed" not in status_filter("open")[0]
    cases = gpd.GeoDataFrame({"status": ["closed", "dispatched", "dispatched"], "overdue": [False, True, False]},
                             geometry=[shapely.Point(0, 0)] * 3, crs=4326)
    assert len(filter_cases(cases, "overdue")) == 1
    assert list(filter_cases(cases, "open")["status"]) == ["dispatched", "dispatched"]
    assert len(filter_cases(cases, None)) == 3


def test_the_frame_says_what_is_shown_and_escapes():
    f = PageFrame(kind="hotspots", lang="zh", today=TODAY, period="30", start=dt.date(2026, 11, 5),
                  end=dt.date(2026, 12, 5), keep={"community": "<b>x</b>"}, count=0, explain="no_cases")
    html = frame_html(f)
    assert "近30天：2026-11-05 至 2026-12-04" in html and 'href="/dashboard?lang=zh"' in html
    assert "更长的时段" in html and "<b>x</b>" not in html
    assert 'name="period"' in html and 'value="30" selected' in html
    en = frame_html(PageFrame(kind="grids", lang="en", today=TODAY))
    assert "as of 2026-12-04" in en and 'name="period"' not in en


def test_this_months_plan_is_pro_rated_to_the_days_elapsed_a_past_months_is_whole():
    report = {"month": "2026-12", "rows": [{"planned": 31, "done": 4}, {"planned": 10, "done": 0},
                                            {"planned": 0, "done": 0}]}
    out = prorate(report, TODAY)
    assert out["prorated"] == {"days": 4, "of": 31}
    assert [r["planned"] for r in out["rows"]] == [4, 2, 0]  # 31 × 4/31, 10 × 4/31 = 1.3 → 2 (rounded up)
    assert [r["planned_month"] for r in out["rows"]] == [31, 10, 0]
    assert report["rows"][0]["planned"] == 31  # the report given is not changed
    past = prorate({"month": "2026-11", "rows": [{"planned": 30, "done": 30}]}, TODAY)
    assert past["prorated"] is None and past["rows"][0]["planned"] == 30
    # the last day of a month: the whole plan
    assert prorate({"month": "2026-02", "rows": [{"planned": 7}]}, dt.date(2026, 2, 28))["rows"][0]["planned"] == 7
