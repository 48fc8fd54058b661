"""研判 and 议事 at the desk in Chromium (1366×768, only 127.0.0.1 reachable), one supervisor's story in sequence:
on a registered 地锁 case she assesses (the reason left empty is said next to the field), at community level, 议事
first; dispatch is refused while the case waits; she plans a 网格协商议事会 on /desk/meetings with the case on its
agenda, decides on the meeting page (votes above the participants are said next to the field), with a follow-up
case; the case page no longer waits and she dispatches it; the minutes print; the English list. Screenshots go to
test-output/desk/meetings-*.png."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import shapely
from sqlalchemy import func, select

from patrol.cases import service as svc
from patrol.core.auth import actor_for
from patrol.core.db import session_factory, transaction
from patrol.core.models import Case, Grid, User
from patrol.simulate.month import DEMO_PASSWORD
from tests.browser.conftest import ARGS, chromium_path, serve, simulated_city

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "desk"


@pytest.fixture(scope="module")
def served(tmp_path_factory, monaco_model) -> Iterator[dict[str, Any]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('meetings') / 'meetings.db'}"
    settings, engine = simulated_city(url, monaco_model, cases=40, tiles="gridpatrol")  # test_basemap's month
    with transaction(session_factory(engine)) as s:
        sup = s.scalars(select(User).where(User.role == "supervisor").order_by(User.id)).first()
        grid = s.scalars(select(Grid).where(Grid.community_id == sup.community_id).order_by(Grid.code)).first()
        p = shapely.from_wkb(bytes(s.scalar(select(func.ST_AsBinary(Grid.geom)).where(Grid.id == grid.id))))
        p = p.representative_point()
        actor = actor_for(s, sup)
        case = svc.create_case(s, actor, settings, client_id=None, category="C0104", lon=p.x, lat=p.y,
                               description="楼下消防通道被地锁占用").case
        svc.transition(s, actor, settings, case.id, "register")
        number, username = case.number, sup.username
    with serve(settings) as base:
        yield {"base": base, "engine": engine, "sup": username, "number": number}
    engine.dispose()


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"meetings-{name}.png"), full_page=True)


def test_assess_deliberate_decide_dispatch(served):
    from playwright.sync_api import sync_playwright

    base, number = served["base"], served["number"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=ARGS)
        context = browser.new_context(bypass_csp=True, viewport={"width": 1366, "height": 768}, locale="zh-CN")
        context.route("**/*", lambda r: r.continue_() if r.request.url.startswith(base) else r.abort())
        page = context.new_page()
        page.set_default_timeout(20_000)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{base}/desk/cases/{number}")
        page.fill("#u", served["sup"])
        page.fill("#p", DEMO_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/desk/cases/{number}")
        # 研判: the form with the suggested list; no reason → said next to the reason
        page.wait_for_selector("#assess-form")
        assert page.locator("#assess-form select[name=demand_list]").input_value() == "property"
        page.select_option("#assess-form select[name=level]", "community")
        page.check("#assess-form input[name=needs_meeting]")
        page.click("#assess-form button[type=submit]")
        page.wait_for_selector("#assess-form .field-error")
        assert "理由" in page.locator("#assess-form textarea[name=reason]").locator("xpath=..").inner_text()
        page.fill("#assess-form textarea[name=reason]", "地锁涉及多户车位，需居民协商")
        page.click("#assess-form button[type=submit]")
        page.wait_for_selector("#waits-meeting")
        assert "地锁涉及多户车位" in page.locator("#assessment").inner_text()
        assert page.locator("#assessment .assessments li").count() == 1  # the record (a later 研判 may revise it)
        _shot(page, "1-assessed")
        # dispatch is refused while the case waits for the meeting
        page.click("#actions button[data-act=dispatch]")
        page.check("input[name=unit][value=free]")
        page.select_option("#f-free", index=1)
        page.click("#action-form button[type=submit]")
        page.wait_for_selector("#form-error .error")
        assert "议事" in page.locator("#form-error").inner_text()
        # plan the meeting on /desk/meetings
        page.goto(f"{base}/desk/meetings")
        assert number not in page.locator("#list-to_assess").inner_text()  # assessed: no longer waiting for it
        page.fill("#plan-form input[name=topic]", "消防通道地锁整治")
        page.fill("#plan-form input[name=place]", "社区议事厅")
        page.fill("#plan-form input[name=cases]", number)
        page.click("#plan-form button[type=submit]")
        page.wait_for_url(f"{base}/desk/meetings/YS*")
        assert number in page.locator("#agenda").inner_text()
        assert page.locator("#agenda .badge.waits").count() == 1
        _shot(page, "2-planned")
        # decide: more votes than participants is said next to the votes
        page.fill("#decide-form input[name=participants]", "20")
        page.fill("#decide-form input[name=votes_for]", "25")
        page.fill("#decide-form textarea[name=decision]", "七日内拆除地锁，施划消防通道标线")
        page.click("#decide-form button[type=submit]")
        page.wait_for_selector("#decide-form .field-error")
        assert page.locator("#decide-form input[name=votes_for]").get_attribute("aria-invalid") == "true"
        page.fill("#decide-form input[name=votes_for]", "17")
        page.fill("#decide-form input[name=votes_against]", "2")
        page.fill("#decide-form input[name=votes_abstain]", "1")
        page.fill("#decide-form textarea[name=options]", "全部拆除\n保留两个")
        page.fill("#decide-form input[name=follow_category]", "C0105")
        page.fill("#decide-form input[name=follow_description]", "施划消防通道标线")
        page.click("#decide-form button[type=submit]")
        page.wait_for_selector("#vote")
        assert "17" in page.locator("#vote").inner_text() and "20" in page.locator("#vote").inner_text()
        assert page.locator("#follow-ups .follow-up").count() == 1
        assert page.locator("#agenda .badge.waits").count() == 0 and page.locator("#decide-form").count() == 0
        _shot(page, "3-decided")
        page.emulate_media(media="print")
        _shot(page, "4-minutes-print")
        assert not page.locator("header.desk").is_visible() and page.locator(".sign").is_visible()
        page.emulate_media(media="screen")
        # the case can be dispatched now
        page.goto(f"{base}/desk/cases/{number}")
        page.wait_for_selector("#assessment")
        assert page.locator("#waits-meeting").count() == 0
        page.click("#actions button[data-act=dispatch]")
        page.check("input[name=unit][value=free]")
        page.select_option("#f-free", index=1)
        page.click("#action-form button[type=submit]")
        page.wait_for_selector("#message .ok")
        _shot(page, "5-dispatched")
        page.goto(f"{base}/desk/meetings?lang=en")
        assert "Deliberation" in page.locator("h2").first.inner_text()
        assert page.locator("#meetings tr.meeting").count() >= 1
        _shot(page, "6-list-en")
        browser.close()
    assert not errors, errors
    with transaction(session_factory(served["engine"])) as s:
        assert s.scalar(select(Case.status).where(Case.number == number)) == "dispatched"
