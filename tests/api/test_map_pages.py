"""The analysis map pages as served, on both databases: each has its title, the period in words (by default the
last 30 days), its controls, grid and community outlines and a link back to the dashboard; an empty period or a
map with nothing significant explains itself; the survey report pro-rates this month's plan."""

from __future__ import annotations

import datetime as dt
import re

from patrol.cases.worktime import local_today
from patrol.core.db import session_factory, transaction
from patrol.surveys.checklists import load_builtin_checklists

PAGES = {"/maps/cases": "案件分布", "/maps/heat": "案件热力图", "/maps/hotspots": "热点分析",
         "/maps/coverage": "巡查覆盖", "/maps/grids": "网格划分"}


def _get(world, path: str) -> str:
    r = world.client.get(path, headers=world.h("admin"))
    assert r.status_code == 200, r.text[:500]
    return r.text


def test_every_map_page_has_title_period_controls_outlines_and_a_way_back(world):
    world.report("worker_a")
    today = local_today(world.settings.timezone)
    words = f"{today - dt.timedelta(days=29)} 至 {today}"
    for path, title in PAGES.items():
        html = _get(world, path)
        assert re.search(r'<h1 id="gp-title">[^<]*' + title, html), path
        assert 'id="gp-back"' in html and 'href="/dashboard?lang=zh"' in html, path
        assert "gridpatrol-outlines" in html, path  # the outline pane (grid and community boundaries)
        assert 'id="gp-controls"' in html and 'type="submit"' in html, path
        if path == "/maps/grids":
            assert f"截至 {today}" in html and 'name="community"' in html
            continue
        assert f"近30天：{words}" in html, path  # the default: the last 30 days, today included
        assert 'name="period"' in html, path
        if path in ("/maps/cases", "/maps/heat", "/maps/hotspots"):
            assert 'name="category"' in html, path
    en = _get(world, "/maps/heat?lang=en&period=7")
    assert "Last 7 days: " in en and "Back to the dashboard" in en and "近7天" not in en


def test_the_period_changes_what_is_counted_and_an_empty_one_says_what_to_try(world):
    world.report("worker_a")
    recent = _get(world, "/maps/heat")
    n = int(re.search(r"共 (\d+) 件案件", recent).group(1))
    assert n >= 1 and 'id="gp-explain"' not in recent
    old = _get(world, "/maps/heat?period=custom&start=2020-01-01&last=2020-01-31")
    assert "自定义：2020-01-01 至 2020-01-31" in old and "共 0 件案件" in old
    assert 'id="gp-explain"' in old and "更长的时段" in old
    # the dashboard's links: start and end (exclusive) are a custom period
    assert "自定义：2020-01-01 至 2020-01-30" in _get(world, "/maps/cases?start=2020-01-01&end=2020-01-31")
    r = world.client.get("/maps/heat?period=custom&start=2020-02-01&last=2020-01-01", headers=world.h("admin"))
    assert r.status_code == 422 and r.json()["field"] == "last"


def test_hotspots_with_nothing_significant_explain_the_grey(world):
    world.report("worker_a")
    html = _get(world, "/maps/hotspots?emerging=none")
    # a case or two in a whole city cannot make a significant cluster: every cell is 不显著, and the page says why
    assert 'id="gp-explain"' in html and "没有显著的热点或冷点" in html and "近90天" in html
    assert 'name="measure"' in html and 'name="emerging"' in html
    grid_cells = _get(world, "/maps/hotspots?cells=grid&emerging=none")
    assert '<input type="hidden" name="cells" value="grid">' in grid_cells  # the cell kind survives the form


def test_the_survey_report_pro_rates_this_months_plan(world):
    with transaction(session_factory(world.engine)) as s:
        load_builtin_checklists(s)
    today = local_today(world.settings.timezone)
    html = _get(world, "/surveys")
    assert 'id="prorated"' in html and "按已过天数折算" in html and f"已过 {today.day} 天" in html
    assert "计划（折算）" in html  # the column says what it holds
    past = (today.replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
    assert 'id="prorated"' not in _get(world, f"/surveys?month={past}")


def test_the_case_maps_filter_by_channel(world):
    """channel= on the cases, heat and hot-spot pages: a select in words (the residents' three at once), the count
    of the channel's cases, and a 422 naming the field for an unknown channel."""
    world.report("worker_a")
    patrol = _get(world, "/maps/heat?channel=patrol")
    assert int(re.search(r"共 (\d+) 件案件", patrol).group(1)) >= 1
    assert '<option value="patrol" selected>巡查上报</option>' in patrol
    assert '<option value="resident,12345,open311">居民诉求（扫码、12345、Open311）</option>' in patrol
    assert "共 0 件案件" in _get(world, "/maps/heat?channel=resident,12345,open311")
    assert '<option value="12345" selected>12345热线</option>' in _get(world, "/maps/cases?channel=12345")
    assert 'name="channel"' in _get(world, "/maps/hotspots?emerging=none&channel=patrol")
    r = world.client.get("/maps/heat?channel=fax", headers=world.h("admin"))
    assert r.status_code == 422 and r.json()["field"] == "channel"
