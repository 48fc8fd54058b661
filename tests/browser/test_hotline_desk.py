"""The desk's 待定位 page in Chromium (1366×768, our own basemap, only 127.0.0.1 reachable): a supervisor sees two 12345
orders whose address matched two buildings each, places the first by clicking the map and the second by picking a
candidate; both become 12345 cases, the list empties with its explanation; the English page. Screenshots go to
test-output/desk/unlocated-*.png."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from patrol.core.db import session_factory, transaction
from patrol.core.models import Building, Case, Community, Grid, HotlineOrder, User
from patrol.simulate.month import DEMO_PASSWORD
from tests.browser.conftest import ARGS, chromium_path, serve, simulated_city

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "desk"


@pytest.fixture(scope="module")
def served(tmp_path_factory, monaco_model) -> Iterator[dict[str, Any]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('unlocated') / 'unlocated.db'}"
    settings, engine = simulated_city(url, monaco_model, cases=40, tiles="gridpatrol")  # test_basemap's month
    with transaction(session_factory(engine)) as s:
        grid_id = s.scalar(select(Building.grid_id).join(Grid, Grid.id == Building.grid_id)
                           .where(Grid.worker_id.is_not(None)).group_by(Building.grid_id)
                           .having(func.count() >= 8).order_by(Building.grid_id).limit(1))
        grid = s.get(Grid, grid_id)
        com = s.get(Community, grid.community_id)
        sup = s.scalars(select(User.username).where(User.role == "supervisor", User.community_id == com.id)).first()
        buildings = list(s.scalars(select(Building.id).where(Building.grid_id == grid.id).order_by(Building.id)
                                   .limit(4)))
        for i, (no, pair) in enumerate((("GD-0001", buildings[:2]), ("GD-0002", buildings[2:]))):
            s.add(HotlineOrder(
                order_no=no, state="pending", received_at=dt.datetime(2026, 12, 1, 1 + i, tzinfo=dt.UTC),
                deadline_at=dt.datetime(2026, 12, 4, 1, tzinfo=dt.UTC), category_code="C0102",
                category_text="市容环境-楼道堆物", description="楼道里堆满纸箱", address=f"海景路{i + 5}号",
                contact_phone="13800138000", community_id=com.id, subdistrict_id=com.subdistrict_id,
                match_score=0.9, candidates=json.dumps([{"building_id": b, "score": 0.9 - j / 20,
                                                         "label": f"海景路{i + 5}号 {j + 1}栋"}
                                                        for j, b in enumerate(pair)], ensure_ascii=False)))
    with serve(settings) as base:
        yield {"base": base, "engine": engine, "sup": sup}
    engine.dispose()


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"unlocated-{name}.png"))


def test_a_supervisor_places_one_order_on_the_map_and_one_by_its_candidate(served):
    from playwright.sync_api import sync_playwright

    base = served["base"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=ARGS)
        context = browser.new_context(bypass_csp=True, viewport={"width": 1366, "height": 768}, locale="zh-CN")
        context.route("**/*", lambda r: r.continue_() if r.request.url.startswith(base) else r.abort())
        page = context.new_page()
        page.set_default_timeout(20_000)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{base}/desk/unlocated")
        page.fill("#u", served["sup"])
        page.fill("#p", DEMO_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/desk/unlocated")
        page.wait_for_selector("#orders .order")
        page.wait_for_selector(".leaflet-marker-icon .candno")
        assert page.locator("#orders .order").count() == 2
        first = page.locator("#orders .order").first
        assert "GD-0001" in first.inner_text() and "海景路5号 1栋" in first.inner_text()
        assert "13800138000" not in page.content()  # the caller's phone is not on the queue
        assert page.locator(".leaflet-marker-icon .candno").count() == 2
        page.wait_for_timeout(800)  # the basemap tiles
        _shot(page, "list")

        # 1. click the place on the map (between the two candidates, in the grid) and locate the order there
        box = page.locator("#map").bounding_box()
        assert box is not None
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.wait_for_selector("#placebar:not([hidden])")
        assert "GD-0001" in page.inner_text("#pointtext")
        _shot(page, "clicked")
        page.click("#placehere")
        page.wait_for_selector("#message .ok")
        message = page.inner_text("#message")
        assert "GD-0001" in message and "已定位" in message, message
        page.wait_for_function("document.querySelectorAll('#orders .order').length === 1")
        _shot(page, "placed")

        # 2. the second: pick its second candidate
        page.click("#orders .order button[data-pick='1']")
        page.wait_for_selector("#orders .empty")
        assert "没有待定位的工单" in page.inner_text("#orders")
        assert "GD-0002" in page.inner_text("#message")
        number = page.locator("#message a").inner_text()
        _shot(page, "empty")

        # 3. the English page
        page.goto(f"{base}/desk/unlocated?lang=en")
        page.wait_for_selector("#orders .empty")
        assert "No orders to locate" in page.inner_text("#orders") and "To locate" in page.inner_text("h2")
        assert errors == [], errors
        browser.close()

    with session_factory(served["engine"])() as s:
        cases = {c.source_ref: c for c in s.scalars(select(Case).where(  # the test's orders, not the month's
            Case.source == "12345", Case.source_ref.like("GD-%")))}
        states = set(s.scalars(select(HotlineOrder.state).where(HotlineOrder.order_no.like("GD-%"))))
    assert set(cases) == {"GD-0001", "GD-0002"} and states == {"placed"}
    assert cases["GD-0002"].number == number and cases["GD-0002"].building_id is not None
    assert all(c.channel == "12345" and c.contact_phone == "13800138000" for c in cases.values())
