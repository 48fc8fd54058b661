"""The dashboard of a 街道 (subdistrict) user in Chromium at 1366×768: her communities ranked as a supervisor's grids
are, the urges (督办) counted in the ranking, a link to the case desk; an admin gets a subdistrict filter that ranks
that subdistrict's communities. Screenshots: test-output/maps/app-dashboard-subdistrict*.png."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from patrol.core.models import Community, Subdistrict, User
from patrol.simulate.month import DEMO_PASSWORD
from tests.browser.conftest import ARGS, chromium_path, serve, simulated_city

pytestmark = pytest.mark.browser
SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "maps"


@pytest.fixture(scope="module")
def app_url(tmp_path_factory, monaco_model) -> Iterator[tuple[str, object]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('subdistrict') / 'pages.db'}"
    settings, engine = simulated_city(url, monaco_model, cases=40)
    with serve(settings) as base:
        yield base, engine
    engine.dispose()


@pytest.fixture
def browser(app_url) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    base, _ = app_url
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=ARGS)
        yield b
        b.close()


def _page_as(browser: Any, base: str, username: str) -> Any:
    context = browser.new_context(bypass_csp=True, viewport={"width": 1366, "height": 768}, locale="zh-CN")
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(base) else route.abort())
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(f"{base}/dashboard")
    page.fill("#u", username)
    page.fill("#p", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/dashboard")
    page.wait_for_function("window.gridpatrolDashboard && window.gridpatrolDashboard.ready")
    page.evaluate("window.gridpatrolDashboard.ready")
    page.wait_for_selector("#table tbody tr")
    return page


def test_a_subdistrict_user_ranks_her_communities(browser, app_url):
    base, engine = app_url
    from patrol.core.db import session_factory, transaction

    with transaction(session_factory(engine)) as s:
        street = s.scalars(select(User).where(User.role == "subdistrict").order_by(User.id)).first()
        n_coms = s.scalar(select(func.count(Community.id)).where(Community.subdistrict_id == street.subdistrict_id))
        username = street.username
    page = _page_as(browser, base, username)
    assert page.inner_text("#ranking").startswith("社区排名")
    assert page.locator("#table tbody tr").count() == n_coms > 0
    # the urges column adds up to what the API counts for her subdistrict (the simulated month urged some cases)
    urges = sum(int(t) for t in page.locator("#table tbody tr td:nth-child(8)").all_inner_texts())
    api = page.evaluate("fetch('/api/v1/analytics/kpis?by=subdistrict&' + new URLSearchParams(location.search), "
                        "{headers: {Authorization: 'Bearer ' + localStorage.getItem('gridpatrol.token')}})"
                        ".then(r => r.json())")
    assert [r["urges"] for r in api["rows"]] == [urges]
    assert page.get_attribute("#desk", "href").startswith("/desk")
    assert page.locator("#subdistrict-filter").is_hidden()  # her subdistrict is her scope, not a choice
    # the KPI download follows the ranking
    assert "by=community" in page.get_attribute("a[data-download=kpi_csv]", "href")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "app-dashboard-subdistrict.png"))


def test_an_admin_filters_by_subdistrict(browser, app_url):
    base, engine = app_url
    from patrol.core.db import session_factory, transaction

    with transaction(session_factory(engine)) as s:
        code, sid = s.execute(select(Subdistrict.code, Subdistrict.id).order_by(Subdistrict.id)).first()
        n_coms = s.scalar(select(func.count(Community.id)).where(Community.subdistrict_id == sid))
    page = _page_as(browser, base, "admin")
    assert page.inner_text("#ranking").startswith("网格排名")
    assert page.locator("#subdistrict-filter").is_visible()
    page.select_option("select[name=subdistrict]", code)
    page.click("#filters button[type=submit]")
    page.evaluate("window.gridpatrolDashboard.ready")
    page.wait_for_function("document.getElementById('ranking').textContent.startsWith('社区排名')")
    assert page.locator("#table tbody tr").count() == n_coms
    assert f"subdistrict={code}" in page.url
    page.screenshot(path=str(SHOTS / "app-dashboard-subdistrict-admin.png"))
