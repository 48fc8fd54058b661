"""Every analysis map page as a supervisor meets it (Chromium, 1366×768, the simulated month): a title, the period
in words, the controls, grid and community outlines and a link back to the dashboard; changing the period or the
category changes what is drawn; the dashboard's 状态 = 当前超期 filter changes the ranking; sparklines have ≥ 3
points; the survey report pro-rates this month's plan. One walk, several checks;
screenshots in test-output/maps/pages-*.png."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from patrol.core.db import session_factory, transaction
from patrol.simulate.month import DEMO_PASSWORD
from patrol.surveys.checklists import load_builtin_checklists
from tests.browser.conftest import ARGS, chromium_path, serve, simulated_city

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "maps"
MAP = "Object.values(window).find(v => v instanceof L.Map)"
PAGES = [("/maps/cases", "案件分布"), ("/maps/heat", "案件热力图"), ("/maps/hotspots", "热点分析"),
         ("/maps/coverage", "巡查覆盖"), ("/maps/grids", "网格划分")]
OUTLINES = ".leaflet-gridpatrol-outlines-pane path"


@pytest.fixture(scope="module")
def app_url(tmp_path_factory, monaco_model) -> Iterator[str]:
    url = f"sqlite:///{tmp_path_factory.mktemp('mappages') / 'mappages.db'}"
    settings, engine = simulated_city(url, monaco_model)
    with transaction(session_factory(engine)) as s:  # the survey report plans from the checklists
        load_builtin_checklists(s)
    with serve(settings) as base:
        yield base
    engine.dispose()


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"pages-{name}.png"))


def _open(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_function(f"typeof L === 'object' && {MAP} !== undefined")


def _cases_total(page: Any) -> int:
    page.wait_for_function("window.gridpatrolCases && window.gridpatrolCases.lastAnswer")
    page.evaluate("window.gridpatrolCases.ready")
    return page.evaluate("window.gridpatrolCases.lastAnswer.total")


def _submit(page: Any) -> None:
    with page.expect_navigation():
        page.click("#gp-controls button[type=submit]")
    page.wait_for_function(f"typeof L === 'object' && {MAP} !== undefined")


def test_every_map_page_reads_well_and_its_controls_change_the_map(app_url):
    from playwright.sync_api import sync_playwright

    base = app_url
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=ARGS)
        context = browser.new_context(bypass_csp=True, viewport={"width": 1366, "height": 768}, locale="zh-CN")
        context.route("**/*", lambda r: r.continue_() if r.request.url.startswith(base) else r.abort())
        page = context.new_page()
        page.set_default_timeout(30_000)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{base}/maps/cases")
        page.fill("#u", "admin")
        page.fill("#p", DEMO_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/maps/cases")

        for path, title in PAGES:  # the frame of every page
            _open(page, f"{base}{path}")
            assert title in page.inner_text("#gp-title"), path
            period = page.inner_text("#gp-period")
            assert ("近30天：" in period and " 至 " in period) if path != "/maps/grids" else "截至" in period, path
            assert page.get_attribute("#gp-back", "href") == "/dashboard?lang=zh"
            assert page.locator("#gp-controls button[type=submit]").count() == 1
            if path != "/maps/grids":
                assert page.locator("#gp-controls select[name=period] option").count() == 5
                assert page.locator("#gp-controls input[type=date]").count() == 2
            if path in ("/maps/cases", "/maps/heat", "/maps/hotspots"):
                assert page.locator("#gp-controls select[name=category] option").count() > 5
            page.wait_for_function(f"document.querySelectorAll('{OUTLINES}').length >= 2")
            header = page.locator("#gp-page").bounding_box()
            box = page.locator(".folium-map").bounding_box()
            assert box["y"] >= header["y"] + header["height"] - 1 and box["height"] > 300  # the map under it
            if path == "/maps/cases":
                _cases_total(page)
            _shot(page, path.rsplit("/", 1)[1])

        # the period changes what the cases map draws: the last 7 days hold fewer cases than the last 90
        _open(page, f"{base}/maps/cases")
        page.select_option("select[name=period]", "7")
        _submit(page)
        assert "period=7" in page.url and "近7天" in page.inner_text("#gp-period")
        week = _cases_total(page)
        page.select_option("select[name=period]", "90")
        _submit(page)
        quarter = _cases_total(page)
        assert 0 < week < quarter
        # so does the category: the cases map of one category draws fewer cases
        code = page.locator("select[name=category] option").nth(1).get_attribute("value")
        page.select_option("select[name=category]", code)
        _submit(page)
        assert f"category={code}" in page.url and "period=90" in page.url  # the period stays as chosen
        one = _cases_total(page)
        assert one < quarter
        assert one == int(page.inner_text("#gp-count").split()[1])  # the header counts what the map draws
        _open(page, f"{base}/maps/heat")
        # a custom period without cases: the map says so and what to try
        page.fill("input[name=start]", "2020-01-01")
        page.fill("input[name=last]", "2020-01-31")
        assert page.input_value("select[name=period]") == "custom"  # js/map-page.js: a date typed is custom
        _submit(page)
        assert "更长的时段" in page.inner_text("#gp-explain")
        _shot(page, "heat-empty")
        # hot spots in English
        _open(page, f"{base}/maps/hotspots?lang=en")
        assert "Last 30 days: " in page.inner_text("#gp-period") and "Back" in page.inner_text("#gp-back")
        _shot(page, "hotspots-en")

        # the dashboard's 状态 = 当前超期 lists only the grids with cases overdue now
        page.goto(f"{base}/dashboard")
        page.wait_for_function("window.gridpatrolDashboard && window.gridpatrolDashboard.ready")
        page.evaluate("window.gridpatrolDashboard.ready")
        page.wait_for_selector(".card[data-kpi=received] strong")
        before = page.locator("#table tbody tr").count()
        loads = page.evaluate("window.gridpatrolDashboard.loads")
        page.select_option("select[name=status]", "overdue")
        page.wait_for_function(f"window.gridpatrolDashboard.loads > {loads}")
        page.evaluate("window.gridpatrolDashboard.ready")
        overdue = [int(t) for t in page.locator("#table tbody tr td:nth-child(7)").all_inner_texts()]
        assert overdue and all(n > 0 for n in overdue) and len(overdue) < before
        assert overdue == sorted(overdue, reverse=True)
        assert "当前超期" in page.inner_text("#status-note")
        assert "focus" in page.get_attribute(".card[data-kpi=overdue_now]", "class")
        assert "status=overdue" in page.get_attribute("a[data-map=cases_map]", "href") or \
            "overdue=true" in page.get_attribute("a[data-map=cases_map]", "href")
        _shot(page, "dashboard-overdue")
        # a trend line only from 3 points on; with fewer, last month's figure in words
        for points in page.eval_on_selector_all(".card svg.spark polyline", "ps => ps.map(p => p.points.length)"):
            assert points >= 3
        # the survey report: this month's plan pro-rated to the days elapsed, and saying so
        page.goto(f"{base}/surveys")
        assert "按已过天数折算" in page.inner_text("#prorated")
        _shot(page, "surveys")
        assert not errors, errors
        browser.close()
