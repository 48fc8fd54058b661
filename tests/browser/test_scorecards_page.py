"""The 考核 page (/desk/scorecards) in Chromium over the demo city: a supervisor sees her community's workers ranked
with figures, points and trend sparklines, opens a worker's card, switches the month with the picker (and sees a
bad month explained beside it), reads the page in English and opens the printable 月报 with its map — under the
pages' real Content-Security-Policy, without a script error or a refused resource. Screenshots at
1366×768 go to test-output/desk/scorecards-*.png."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from patrol.core.models import Grid, User
from patrol.simulate.month import DEMO_PASSWORD
from tests.browser.conftest import ARGS, chromium_path, serve, simulated_city

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "desk"


@pytest.fixture(scope="module")
def site(tmp_path_factory, monaco_model) -> Iterator[dict[str, Any]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('scorecards') / 'demo.db'}"
    settings, engine = simulated_city(url, monaco_model)
    with engine.connect() as c:
        sup = c.execute(select(User.username, User.community_id).where(User.role == "supervisor", User.simulated)
                        .order_by(User.username)).first()
        workers = c.execute(select(User.username).join(Grid, Grid.worker_id == User.id)
                            .where(Grid.community_id == sup[1])).scalars().all()
    with serve(settings) as base:
        yield {"base": base, "sup": sup[0], "workers": sorted(set(workers))}
    engine.dispose()


def test_the_scorecard_page(site) -> None:
    from playwright.sync_api import sync_playwright

    base = site["base"]
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=ARGS)
        context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
        context.route("**/*", lambda r: r.continue_() if r.request.url.startswith(base) else r.abort())
        page = context.new_page()
        page.set_default_timeout(30_000)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text)
                if "Content Security Policy" in m.text or "Refused to" in m.text else None)
        page.goto(f"{base}/desk/scorecards")
        page.fill("#u", site["sup"])
        page.fill("#p", DEMO_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_selector("#ranking")
        # the ranking: every worker of her community, ranked, with points, a total, a grade and a sparkline
        rows = page.locator("#ranking tbody tr")
        assert rows.count() == len(site["workers"]) >= 1
        assert page.locator("#ranking tbody tr").first.locator("td").first.inner_text().strip() == "1"
        assert page.locator("#ranking svg.spark").count() == rows.count()
        assert page.locator("nav a[aria-current=page]").inner_text() == "考核"
        page.screenshot(path=str(SHOTS / "scorecards-ranking.png"), full_page=True)
        # a worker's card
        page.locator("#ranking a.open-card").first.click()
        page.wait_for_selector("#card")
        card = page.locator("#card")
        assert "考核卡" in card.locator("h3").inner_text()
        assert card.locator("table.items tbody tr").count() == 10 and card.locator("svg.spark").count() == 1
        page.screenshot(path=str(SHOTS / "scorecards-card.png"), full_page=True)
        # the month picker: last month, then a month not begun (explained beside the picker)
        last = (dt.date.today().replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
        page.fill("#month", last)
        page.click("#show")
        page.wait_for_url(f"**month={last}**")
        assert last in page.locator("h2").inner_text() and page.locator("#card").count() == 0
        page.goto(f"{base}/desk/scorecards?month=2999-01")
        assert page.locator("#month-error").is_visible()
        page.goto(f"{base}/desk/scorecards?lang=en")
        assert "Assessment" in page.locator("h2").inner_text() and page.locator("#ranking th").first.inner_text() \
            == "Rank"
        page.screenshot(path=str(SHOTS / "scorecards-en.png"), full_page=True)
        # the printable 月报 with the grids' map
        page.goto(f"{base}/desk/scorecards")
        page.click("#print-report")
        page.wait_for_selector("svg.gridmap")
        assert page.locator("svg.gridmap path").count() >= 1 and "月报" in page.locator("h2").inner_text()
        page.emulate_media(media="print")
        page.screenshot(path=str(SHOTS / "scorecards-monthly-print.png"), full_page=True)
        assert not errors, errors
        browser.close()
