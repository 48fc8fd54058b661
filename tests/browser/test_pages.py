"""The supervisor's map pages as the app serves them, in a real Chromium with the network closed except 127.0.0.1.

A Monaco database with a simulated month (the demo's generator) is served by uvicorn on a free port. The browser logs
in through /login, then opens each map: Leaflet is defined, the expected layers are drawn, filters change what is
drawn. Screenshots go to test-output/maps/app-*.png.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from patrol.core.db import session_factory, transaction
from patrol.core.models import Case
from patrol.simulate.month import DEMO_PASSWORD
from tests.browser.conftest import ARGS, chromium_path, serve, simulated_city

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "maps"
MAP = "Object.values(window).find(v => v instanceof L.Map)"


@pytest.fixture(scope="module")
def app_url(tmp_path_factory, monaco_model) -> Iterator[tuple[str, object]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('pages') / 'pages.db'}"
    settings, engine = simulated_city(url, monaco_model)
    with serve(settings) as base:
        yield base, engine
    engine.dispose()


@pytest.fixture(scope="module")
def page(app_url) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    base, _ = app_url
    blocked: list[str] = []

    def offline(route: Any) -> None:
        if route.request.url.startswith(base):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=ARGS)
        context = browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 800}, locale="zh-CN")
        context.route("**/*", offline)
        pg = context.new_page()
        pg.set_default_timeout(20_000)
        pg.blocked = blocked
        yield pg
        browser.close()


def _login(page: Any, base: str, target: str) -> None:
    """Open ``target``; when sent to /login, log in as the demo admin and come back."""
    page.goto(f"{base}{target}")
    if "/login" in page.url:
        page.fill("#u", "admin")
        page.fill("#p", DEMO_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}{target}")


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"app-{name}.png"))


def test_login_then_every_case_in_view_from_the_server(page, app_url):
    base, engine = app_url
    page.context.clear_cookies()  # the page is shared by the module: log out whatever test ran before
    page.goto(f"{base}/maps/cases?period=90")  # the last 90 days: the whole simulated month (default: 30 days)
    assert "/login" in page.url  # not logged in: sent to the login page, and back afterwards
    page.fill("#u", "admin")
    page.fill("#p", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/maps/cases?period=90")
    page.wait_for_function("window.gridpatrolCases && window.gridpatrolCases.lastAnswer")
    page.evaluate("window.gridpatrolCases.ready")
    with transaction(session_factory(engine)) as s:
        total = s.scalar(select(func.count(Case.id)))
        closed = s.scalar(select(func.count(Case.id)).where(Case.status == "closed"))
    assert page.evaluate("typeof L") == "object"
    answer = page.evaluate("window.gridpatrolCases.lastAnswer")
    assert answer["total"] == total > 0
    assert page.evaluate("window.gridpatrolCases.drawnCount()") > 0
    _shot(page, "cases")
    page.goto(f"{base}/maps/cases?period=90&status=closed")
    page.wait_for_function("window.gridpatrolCases && window.gridpatrolCases.lastAnswer")
    page.evaluate("window.gridpatrolCases.ready")
    assert page.evaluate("window.gridpatrolCases.lastAnswer.total") == closed < total
    assert all(c["status"] == "closed" for c in page.evaluate("window.gridpatrolCases.lastAnswer.cases"))
    assert not [u for u in page.blocked if "/static/" in u]  # every script and stylesheet came from the app


@pytest.mark.parametrize("path, name, selector, minimum", [
    ("/maps/heat", "heat", "canvas.leaflet-heatmap-layer", 1),
    ("/maps/hotspots?cells=grid", "hotspots", "path.leaflet-interactive", 10),
    ("/maps/coverage", "coverage", "path.leaflet-interactive", 50),
    ("/maps/grids", "grids", "path.leaflet-interactive", 10),
])
def test_each_map_draws_offline(page, app_url, path, name, selector, minimum):
    base, _ = app_url
    _login(page, base, path)
    page.wait_for_function(f"typeof L === 'object' && {MAP} !== undefined")
    page.wait_for_function(f"document.querySelectorAll('{selector}').length >= {minimum}")
    assert page.locator(".leaflet-control-layers").count() == 1
    assert page.locator(".leaflet-control-scale").count() == 1
    _shot(page, name)


def test_english_labels_on_request(page, app_url):
    base, _ = app_url
    _login(page, base, "/maps/grids?lang=en")
    page.wait_for_function(f"typeof L === 'object' && {MAP} !== undefined")
    text = page.inner_text("body")
    assert "Grid" in text or "grid" in text
    assert "网格员" not in text


def test_dashboard_cards_ranking_links_and_downloads(page, app_url):
    base, engine = app_url
    _login(page, base, "/dashboard")
    page.wait_for_function("window.gridpatrolDashboard && window.gridpatrolDashboard.ready")
    page.evaluate("window.gridpatrolDashboard.ready")
    page.wait_for_selector(".card[data-kpi=received] strong")
    # the last 30 days by default (today included; the end is the day after), as the API gives them
    start, end = page.input_value("input[name=start]"), page.input_value("input[name=end]")
    import datetime as dt

    assert (dt.date.fromisoformat(end) - dt.date.fromisoformat(start)).days == 30
    api = page.evaluate(f"fetch('/api/v1/analytics/kpis?by=overall&start={start}&end={end}', "
                        "{headers: {Authorization: 'Bearer ' + localStorage.getItem('gridpatrol.token')}})"
                        ".then(r => r.json())")["rows"][0]
    assert page.locator(".card[data-kpi]").count() == 8  # the KPI cards (the 接诉即办 panel has its own)
    assert page.inner_text(".card[data-kpi=received] strong") == str(api["received"])
    settled = api["settled_in_grid_rate"]  # 小事不出网格率
    assert page.inner_text(".card[data-kpi=settled_in_grid_rate] strong") == (
        "—" if settled is None else f"{settled * 100:.1f}%")
    colour = page.get_attribute(".card[data-kpi=overdue_now]", "class")
    assert api["warnings"].get("overdue_now", "none") in colour
    _shot(page, "dashboard")
    # pick a community: the ranking lists its grids only, the links carry the filter
    options = page.locator("select[name=community] option")
    name = options.nth(1).get_attribute("value")
    page.select_option("select[name=community]", name)
    page.click("#filters button[type=submit]")
    page.evaluate("window.gridpatrolDashboard.ready")
    rows = page.locator("#table tbody tr").count()
    with transaction(session_factory(engine)) as s:
        from patrol.core.models import Community, Grid

        cid = s.scalar(select(Community.id).where(Community.name == name))
        n_grids = s.scalar(select(func.count(Grid.id)).where(Grid.community_id == cid))
        n_cases = s.scalar(select(func.count(Case.id)).where(Case.community_id == cid))
    assert rows == n_grids > 0
    href = page.get_attribute("a[data-map=cases_map]", "href")
    assert href.startswith("/maps/cases?") and "community=" in href
    csv_href = page.get_attribute("a[data-download=cases_csv]", "href")
    head = page.evaluate(f"fetch({csv_href!r}).then(r => r.text())").lstrip("\ufeff").splitlines()[0]
    assert head.startswith("编号,") and "社区编号" in head  # Chinese headers by default; ?headers=keys for scripts
    text = page.evaluate(f"fetch({csv_href + '&headers=keys'!r}).then(r => r.text())")
    assert text.lstrip("\ufeff").splitlines()[0].startswith("id,") and "community_id" in text.splitlines()[0]
    # downloads contain what is filtered: the community's cases reported in the period
    since, until = page.input_value("input[name=start]"), page.input_value("input[name=end]")
    with transaction(session_factory(engine)) as s:
        import datetime as dt
        from zoneinfo import ZoneInfo

        tz = ZoneInfo("Asia/Shanghai")
        lo = dt.datetime.fromisoformat(since).replace(tzinfo=tz)
        hi = dt.datetime.fromisoformat(until).replace(tzinfo=tz)
        expected = s.scalar(select(func.count(Case.id)).where(Case.community_id == cid, Case.reported_at >= lo,
                                                               Case.reported_at < hi))
    assert len(text.strip().splitlines()) - 1 == expected <= n_cases
    # the status filter reaches the cases map and the downloads
    page.select_option("select[name=status]", "closed")
    closed_csv = page.get_attribute("a[data-download=cases_csv]", "href")
    assert "status=closed" in closed_csv and "status=closed" in page.get_attribute("a[data-map=cases_map]", "href")
    import csv
    import io

    text = page.evaluate(f"fetch({closed_csv + '&headers=keys'!r}).then(r => r.text())").lstrip("\ufeff")
    statuses = {row["status"] for row in csv.DictReader(io.StringIO(text))}
    assert statuses <= {"closed"}
    gpkg = page.evaluate("fetch(document.querySelector('a[data-download=cases_gpkg]').href)"
                         ".then(r => r.arrayBuffer())"
                         ".then(b => new TextDecoder().decode(new Uint8Array(b).slice(0, 15)))")
    assert gpkg == "SQLite format 3"
