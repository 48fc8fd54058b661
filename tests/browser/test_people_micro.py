"""微网格 in Chromium (issue 22, people): in the planner's draft, tick 显示微网格, pick a micro-grid by clicking it on
the map and click a building of a neighbouring micro-grid into it; then a 楼栋长 logs in to the phone app and sees her
micro-grid's buildings, without the patrol button. Screenshots: test-output/people/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import shapely
from sqlalchemy import func, select

from patrol.core.auth import SYSTEM
from patrol.core.db import session_factory, transaction
from patrol.core.models import Building, MicroGrid, MicroGridBuilding, User
from patrol.core.settings import Settings
from patrol.plans.drafts import create_draft
from patrol.simulate.logins import DEMO_PASSWORD
from patrol.simulate.people_microgrids import microgrids_and_leads
from tests.browser.conftest import ARGS, LOCAL_ONLY, chromium_path, serve, simulated_city

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "people"


def _geom(s, col, where) -> shapely.Geometry:
    return shapely.from_wkb(bytes(s.scalar(select(func.ST_AsBinary(col)).where(where))))


@pytest.fixture(scope="module")
def app(tmp_path_factory, monaco_model) -> Iterator[dict]:
    url = f"sqlite:///{tmp_path_factory.mktemp('people') / 'people.db'}"
    settings, engine = simulated_city(url, monaco_model, cases=40)  # the small files' month
    factory = session_factory(engine)
    with transaction(factory) as s:
        microgrids_and_leads(s, Settings(database_url=url))
    with transaction(factory) as s:
        plan = create_draft(s, SYSTEM, name="微网格调整")
        # two micro-grids of one grid, each of two buildings or more: move a building of the second into the first
        counts = s.execute(select(MicroGrid.id, MicroGrid.grid_code, func.count(MicroGridBuilding.id))
                           .join(MicroGridBuilding, MicroGridBuilding.micro_grid_id == MicroGrid.id)
                           .where(MicroGrid.plan_id == plan.id).group_by(MicroGrid.id, MicroGrid.grid_code)
                           .having(func.count(MicroGridBuilding.id) >= 2).order_by(MicroGrid.id)).all()
        by_grid: dict[str, list[int]] = {}
        for mid, grid, _ in counts:
            by_grid.setdefault(grid, []).append(mid)
        target, source = next(ids[:2] for ids in by_grid.values() if len(ids) >= 2)
        t, src = s.get(MicroGrid, target), s.get(MicroGrid, source)
        moved = s.scalar(select(MicroGridBuilding.building_id).where(MicroGridBuilding.micro_grid_id == source)
                         .order_by(MicroGridBuilding.building_id))
        others = [_geom(s, MicroGrid.geom, MicroGrid.id == m.id) for m in s.scalars(select(MicroGrid).where(
            MicroGrid.plan_id == plan.id, MicroGrid.id != target))]
        buildings = shapely.union_all([shapely.from_wkb(bytes(w)) for w in s.scalars(
            select(func.ST_AsBinary(Building.geom)).where(Building.grid_id.is_not(None)))])
        free = _geom(s, MicroGrid.geom, MicroGrid.id == target).difference(shapely.union_all(others)) \
            .difference(buildings)
        pick = free.representative_point()
        moved_at = _geom(s, Building.geom, Building.id == moved).representative_point()
        info = {"plan": plan.id, "target": t.code, "source": src.code, "moved": moved, "pick": (pick.x, pick.y),
                "moved_at": (moved_at.x, moved_at.y), "target_id": target}
        lead = s.scalars(select(User).where(User.role == "building_lead").order_by(User.username)).first()
        info["lead"] = lead.username
        info["grid_lead"] = s.scalar(select(User.username).where(User.role == "grid_lead").order_by(User.username))
        info["lead_buildings"] = s.scalar(select(func.count(MicroGridBuilding.id)).join(
            MicroGrid, MicroGrid.id == MicroGridBuilding.micro_grid_id).where(
            MicroGrid.leader_id == lead.id, MicroGrid.plan_id.is_(None)))
    with serve(settings) as base:
        yield dict(info, base=base, factory=factory)
    engine.dispose()


@pytest.fixture(scope="module")
def page(app) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=[*ARGS, LOCAL_ONLY])
        context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
        pg = context.new_page()
        pg.set_default_timeout(30_000)
        pg.errors = []
        pg.on("pageerror", lambda e: pg.errors.append(str(e)))
        yield pg
        browser.close()


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def _click_at(page: Any, lon: float, lat: float) -> None:
    x, y = page.evaluate("([lat, lon]) => { const m = window.gridpatrolPlanner.map;"
                         " const p = m.latLngToContainerPoint([lat, lon]); return [p.x, p.y]; }", [lat, lon])
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + x, box["y"] + y)


def test_a_planner_moves_a_building_between_micro_grids_and_a_building_lead_sees_hers(app, page):
    base = app["base"]
    page.goto(f"{base}/planner")
    page.fill("#u", "planner")
    page.fill("#p", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/planner")
    page.wait_for_function(f"() => window.gridpatrolPlanner.state.plan && "
                           f"window.gridpatrolPlanner.state.plan.plan.id === {app['plan']}")
    page.wait_for_selector("#impact tbody tr")  # the plan drawn and the map fitted to it
    page.check("#micro-show")
    lon, lat = app["pick"]
    page.evaluate("([lat, lon]) => window.gridpatrolPlanner.map.setView([lat, lon], 18, {animate: false})", [lat, lon])
    page.wait_for_function("() => document.querySelectorAll('#map path.leaflet-interactive').length > 60")
    _click_at(page, lon, lat)
    page.wait_for_function("t => document.getElementById('micro-state').textContent.includes(t)", arg=app["target"])
    _shot(page, "planner-target")
    _click_at(page, *app["moved_at"])
    page.wait_for_function("() => document.getElementById('micro-state').textContent.includes('已移入')")
    _shot(page, "planner-moved")
    with transaction(app["factory"]) as s:
        assert s.scalar(select(MicroGridBuilding.micro_grid_id).join(
            MicroGrid, MicroGrid.id == MicroGridBuilding.micro_grid_id).where(
            MicroGridBuilding.building_id == app["moved"], MicroGrid.plan_id == app["plan"])) == app["target_id"]
        in_force = s.scalar(select(MicroGrid.code).join(
            MicroGridBuilding, MicroGridBuilding.micro_grid_id == MicroGrid.id).where(
            MicroGridBuilding.building_id == app["moved"], MicroGrid.plan_id.is_(None)))
        assert in_force == app["source"]  # the micro-grids in force wait for the plan's publication
    # the 楼栋长 on her phone: her micro-grid's buildings, no patrol
    page.goto(f"{base}/app/")
    page.fill("#login-user", app["lead"])
    page.fill("#login-pass", DEMO_PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#shell:not([hidden])")
    page.wait_for_function("() => document.body.classList.contains('lead')")
    page.wait_for_function("() => document.getElementById('grid-name').textContent.includes('微网格')")
    assert "楼栋长" in page.locator("#user-name").text_content()
    page.wait_for_function("n => document.querySelectorAll('#map path.leaflet-interactive').length >= n",
                           arg=app["lead_buildings"])
    assert not page.locator("#patrol-btn").is_visible()
    assert not page.locator("[data-tab=inspect]").is_visible() and page.locator("[data-tab=report]").is_visible()
    _shot(page, "app-building-lead")
    # a 网格长 at the desk: the queues of the grids she leads
    page.goto(f"{base}/login?next=/desk")
    page.fill("#u", app["grid_lead"])
    page.fill("#p", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/desk")
    page.wait_for_selector("[role=tab]")
    tabs = page.locator("[role=tab]").all_text_contents()
    assert any("待立案" in x for x in tabs) and not any("吹哨" in x for x in tabs), tabs
    page.wait_for_selector(".empty, table")
    _shot(page, "desk-grid-lead")
    assert page.errors == []
