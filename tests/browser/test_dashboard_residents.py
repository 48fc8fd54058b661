"""The dashboard's 接诉即办 panel and channel filter as an admin meets them (Chromium, 1366×900, the simulated month
with its residents' orders): the five rates and the composite in 黄橙红 cards, the table per grid, the channels in
words; choosing 12345 narrows both; choosing the grid workers' patrols says 接诉即办 has nothing to count; the
maps and downloads follow the channel; English with ?lang=en. One walk, several checks; screenshots in
test-output/dashboard/residents-*.png."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from patrol.simulate.month import DEMO_PASSWORD
from tests.browser.conftest import ARGS, chromium_path, serve, simulated_city

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "dashboard"


@pytest.fixture(scope="module")
def app_url(tmp_path_factory, monaco_model) -> Iterator[str]:
    url = f"sqlite:///{tmp_path_factory.mktemp('residents') / 'residents.db'}"
    settings, engine = simulated_city(url, monaco_model)
    with serve(settings) as base:
        yield base
    engine.dispose()


def _loaded(page: Any, loads: int | None = None) -> None:
    page.wait_for_function("window.gridpatrolDashboard && window.gridpatrolDashboard.ready")
    if loads is not None:
        page.wait_for_function(f"window.gridpatrolDashboard.loads > {loads}")
    page.evaluate("window.gridpatrolDashboard.ready")


def _choose_channel(page: Any, value: str) -> None:
    loads = page.evaluate("window.gridpatrolDashboard.loads")
    page.select_option("select[name=channel]", value)
    page.click("#filters button[type=submit]")
    _loaded(page, loads)


def test_the_residents_panel_and_the_channel_filter(app_url):
    from playwright.sync_api import sync_playwright

    base = app_url
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=ARGS)
        context = browser.new_context(bypass_csp=True, viewport={"width": 1366, "height": 900}, locale="zh-CN")
        context.route("**/*", lambda r: r.continue_() if r.request.url.startswith(base) else r.abort())
        page = context.new_page()
        page.set_default_timeout(30_000)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{base}/dashboard")
        page.fill("#u", "admin")
        page.fill("#p", DEMO_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/dashboard")
        _loaded(page)
        page.wait_for_selector("#r-cards .card[data-rate=composite] strong")
        # the panel: the rates with their numerator / denominator, the composite in points, the rules in words
        labels = page.locator("#r-cards .card span").all_inner_texts()
        assert labels == ["工单数", "响应率", "解决率", "满意工单率", "评价满意率", "综合得分"]
        orders = int(page.inner_text("#r-cards .card[data-rate=orders] strong"))
        assert orders > 0
        assert page.inner_text("#r-cards .card[data-rate=satisfied_order_rate] small").endswith(f"/ {orders}")
        assert float(page.inner_text("#r-cards .card[data-rate=composite] strong")) > 50
        assert "2 个工作小时" in page.inner_text("#r-note") and "响应 10%" in page.inner_text("#r-note")
        colours = page.eval_on_selector_all("#r-cards .card", "cs => cs.map(c => c.classList[1])")
        assert set(colours) <= {"green", "yellow", "orange", "red", "none"} and "green" in colours
        assert page.locator("#r-table tbody tr").count() > 0
        channels = dict(zip(page.locator("#channel-table tbody td:nth-child(1)").all_inner_texts(),
                            page.locator("#channel-table tbody td:nth-child(2)").all_inner_texts(), strict=True))
        assert {"巡查上报", "12345热线", "居民扫码"} <= set(channels), channels
        page.screenshot(path=str(SHOTS / "residents-zh.png"), full_page=True)
        # 12345 only: the panel counts its orders, the KPI cards and the links follow
        _choose_channel(page, "12345")
        assert int(page.inner_text("#r-cards .card[data-rate=orders] strong")) == int(channels["12345热线"])
        assert int(page.inner_text(".card[data-kpi=received] strong")) == int(channels["12345热线"])
        assert "channel=12345" in page.get_attribute("a[data-map=cases_map]", "href")
        assert "channel=12345" in page.get_attribute("a[data-download=cases_csv]", "href")
        assert "channel=12345" in page.get_attribute("a[data-download=r_csv]", "href")
        # the grid workers' own reports: nothing for 接诉即办
        _choose_channel(page, "patrol")
        assert "只统计居民扫码" in page.inner_text("#r-status")
        assert page.locator("#r-cards .card").count() == 0
        # the cases map of the channel chosen (kept by its form)
        page.goto(f"{base}/maps/cases?channel=12345")
        page.wait_for_function("window.gridpatrolCases && window.gridpatrolCases.lastAnswer")
        page.evaluate("window.gridpatrolCases.ready")
        assert page.evaluate("window.gridpatrolCases.lastAnswer.total") == int(channels["12345热线"])
        # English
        page.goto(f"{base}/dashboard?lang=en")
        _loaded(page)
        page.wait_for_selector("#r-cards .card[data-rate=composite] strong")
        assert "Response rate" in page.inner_text("#r-cards") and "12345 hotline" in page.inner_text("#channel-table")
        assert "working hours" in page.inner_text("#r-note")
        page.screenshot(path=str(SHOTS / "residents-en.png"), full_page=True)
        assert not errors, errors
        browser.close()
