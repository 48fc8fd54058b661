"""The desk's 网格力量 page (/desk/people) in Chromium (1366×768, under its content security policy): a supervisor of
the demo's month with its volunteers sees the teams, the roster with the members without a service this month, and
the pairings; a phone that is not one is refused next to its field; a member added and a service recorded appear
after the page reloads, the member served leaves the gap; the English page. Screenshots: test-output/desk/people-*."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from patrol.core.db import session_factory, transaction
from patrol.core.models import Community, ServiceMember, User
from patrol.simulate.month import DEMO_PASSWORD
from patrol.simulate.people_volunteers import simulate_volunteers
from tests.browser.conftest import ARGS, chromium_path, serve, simulated_city

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "desk"


@pytest.fixture(scope="module")
def served(tmp_path_factory, monaco_model) -> Iterator[dict[str, Any]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('people') / 'people.db'}"
    settings, engine = simulated_city(url, monaco_model, cases=40, tiles="gridpatrol")  # test_basemap's month
    with transaction(session_factory(engine)) as s:
        assert simulate_volunteers(s, settings)
        sup, community = s.execute(select(User.username, User.community_id).where(User.role == "supervisor")
                                   .order_by(User.id)).first()
        name = s.scalar(select(Community.name).where(Community.id == community))
        assert s.scalar(select(ServiceMember.id).where(ServiceMember.community_id == community).limit(1))
    with serve(settings) as base:
        yield {"base": base, "sup": sup, "community": name}
    engine.dispose()


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"people-{name}.png"), full_page=True)


def test_a_supervisor_adds_a_member_records_a_service_and_the_gap_closes(served):
    from playwright.sync_api import sync_playwright

    base = served["base"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=ARGS)
        context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
        context.route("**/*", lambda r: r.continue_() if r.request.url.startswith(base) else r.abort())
        page = context.new_page()
        page.set_default_timeout(20_000)
        problems: list[str] = []
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("console", lambda m: problems.append(m.text)
                if "Content Security Policy" in m.text or "Refused to" in m.text else None)
        page.goto(f"{base}/desk/people")
        page.fill("#u", served["sup"])
        page.fill("#p", DEMO_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/desk/people")
        page.wait_for_selector("body[data-ready='1']")
        assert served["community"] in page.locator("h2").inner_text()
        assert page.locator("article.team").count() == 2
        assert "和事佬调解队" in page.locator("article.team").first.inner_text()
        gap = page.locator("#h-roster ~ table tr.gap").first
        gap_name = gap.locator("td").nth(1).inner_text().split("\n")[0]
        assert gap_name in page.locator("#h-roster ~ p.warn").inner_text()
        _shot(page, "zh")

        team = page.locator("article.team").first
        form = team.locator("form[data-api$='/members']")
        form.locator("input[name=name]").fill("新队员 (测试)")
        form.locator("input[name=phone]").fill("call me")
        form.locator("button[type=submit]").click()
        page.wait_for_selector("article.team >> nth=0 >> .field-error[data-for=phone]:not(:empty)")
        assert page.locator("#message .error").count() == 1
        assert "电话" in page.locator("#message").inner_text() and "phone" not in page.locator("#message").inner_text()
        _shot(page, "error")
        form.locator("input[name=phone]").fill("10012345678")
        with page.expect_navigation():
            form.locator("button[type=submit]").click()
        page.wait_for_selector("body[data-ready='1']")
        assert "新队员 (测试)" in page.locator("article.team").first.inner_text()

        record = page.locator("form[data-api-member]")
        record.locator("select[name=member]").select_option(label=gap_name)
        record.locator("select[name=kind]").select_option("health")
        record.locator("input[name=hours]").fill("2")
        with page.expect_navigation():
            record.locator("button[type=submit]").click()
        page.wait_for_selector("body[data-ready='1']")
        warn = page.locator("#h-roster ~ p.warn")
        assert warn.count() == 0 or gap_name not in warn.inner_text()

        page.goto(f"{base}/desk/people?lang=en")
        page.wait_for_selector("body[data-ready='1']")
        assert "People" in page.locator("h2").inner_text() and "Volunteer teams" in page.content()
        _shot(page, "en")
        assert problems == [], problems
        browser.close()
