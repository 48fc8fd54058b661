"""The planner's grid editor (/planner) in Chromium: log in, open a draft, split a grid by drawing a line across it on
the map, see validation and impact, merge the two pieces back, publish, roll back. Screenshots: test-output/planner/.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import shapely
from sqlalchemy import func, select

from patrol.core.db import session_factory, transaction
from patrol.core.models import Building, Grid, GridPlan
from patrol.simulate.logins import DEMO_PASSWORD
from tests.browser.conftest import ARGS, LOCAL_ONLY, chromium_path, serve, simulated_city

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "planner"
PASSWORD = DEMO_PASSWORD  # the demo's planner (issue 21: the simulated month has one)


@pytest.fixture(scope="module")
def planner_app(tmp_path_factory, monaco_model) -> Iterator[dict]:
    url = f"sqlite:///{tmp_path_factory.mktemp('planner') / 'planner.db'}"
    settings, engine = simulated_city(url, monaco_model, cases=40)
    factory = session_factory(engine)
    with transaction(factory) as s:
        # the grid to split: the one with the most buildings
        gid, _ = s.execute(select(Building.grid_id, func.count(Building.id)).where(Building.grid_id.is_not(None))
                           .group_by(Building.grid_id).order_by(func.count(Building.id).desc()).limit(1)).one()
        grid = s.get(Grid, gid)
        geom = shapely.from_wkb(bytes(s.scalar(select(func.ST_AsBinary(Grid.geom)).where(Grid.id == gid))))
        n_grids = s.scalar(select(func.count(Grid.id)))
        info = {"code": grid.code, "geom": geom, "n_grids": n_grids}
    with serve(settings) as base:
        yield dict(info, base=base, factory=factory)
    engine.dispose()


@pytest.fixture(scope="module")
def page(planner_app) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=[*ARGS, LOCAL_ONLY])
        context = browser.new_context(bypass_csp=True, viewport={"width": 1400, "height": 900}, locale="zh-CN")
        pg = context.new_page()
        pg.set_default_timeout(30_000)
        pg.errors = []
        pg.on("pageerror", lambda e: pg.errors.append(str(e)))
        pg.on("dialog", lambda d: d.accept())
        yield pg
        browser.close()


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def _click_at(page: Any, lon: float, lat: float) -> None:
    """A real mouse click on the map at (lon, lat)."""
    x, y = page.evaluate("([lat, lon]) => { const m = window.gridpatrolPlanner.map;"
                         " const p = m.latLngToContainerPoint([lat, lon]); return [p.x, p.y]; }", [lat, lon])
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + x, box["y"] + y)


def _open(page: Any, base: str) -> None:
    """/planner, logged in as the planner (the module's tests share one page, in any order)."""
    page.goto(f"{base}/planner")
    if "/login" in page.url:
        page.fill("#u", "planner")
        page.fill("#p", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/planner")
    page.evaluate("window.gridpatrolPlanner.ready")


def _features(page: Any) -> list[str]:
    return page.evaluate("window.gridpatrolPlanner.state.plan.features.map(f => f.properties.code)")


def test_split_merge_publish_and_roll_back_in_the_editor(page, planner_app):
    base, code, geom = planner_app["base"], planner_app["code"], planner_app["geom"]
    _open(page, base)
    page.click("#new-draft")
    page.wait_for_function("window.gridpatrolPlanner.state.plan && window.gridpatrolPlanner.state.plan.plan.status"
                           " === 'draft' && !document.body.classList.contains('busy')")
    assert len(_features(page)) == planner_app["n_grids"]
    assert page.locator("#impact tbody tr").count() == planner_app["n_grids"]

    # split the grid along a north–south line through its middle, drawn by clicking on the map
    minx, miny, maxx, maxy = geom.bounds
    inner = geom.representative_point()
    page.evaluate("([a, b, c, d]) => window.gridpatrolPlanner.map"
                  ".fitBounds([[b, a], [d, c]], {padding: [60, 60], animate: false})",
                  [minx, miny, maxx, maxy])
    page.click("[data-mode=split]")
    _click_at(page, inner.x, inner.y)  # select the grid
    assert page.evaluate("window.gridpatrolPlanner.state.selected") == [code]
    pad = (maxy - miny) * 0.15
    _click_at(page, inner.x, maxy + pad)
    _click_at(page, inner.x, miny - pad)
    _shot(page, "01-split-line")
    page.click("#finish")
    page.wait_for_function(f"window.gridpatrolPlanner.state.plan.features.length === {planner_app['n_grids'] + 1}")
    page.wait_for_function("!document.body.classList.contains('busy')")
    codes = _features(page)
    new = [c for c in codes if c not in page.evaluate("window.gridpatrolPlanner.state.impact.grids"
                                                      ".filter(g => g.status !== 'added').map(g => g.code)")]
    assert len(new) == 1 and new[0][:12] == code[:12]  # the new grid is numbered in the same community
    assert page.locator("#impact tr.st-added").count() == 1 and page.locator("#impact tr.st-changed").count() >= 1
    assert page.inner_text("#valid-summary")  # validation shown
    _shot(page, "02-split-impact")

    # merge the two pieces back: the plan equals the grids in force again
    page.click("[data-mode=merge]")
    page.evaluate("(codes) => { const S = window.gridpatrolPlanner.state; S.selected = codes; }", [code, new[0]])
    page.click("#do-merge")
    page.wait_for_function(f"window.gridpatrolPlanner.state.plan.features.length === {planner_app['n_grids']}")
    page.wait_for_function("!document.body.classList.contains('busy')")
    assert page.locator("#impact tr.st-added").count() == 0

    # split again, publish it, then roll back
    page.click("[data-mode=split]")
    _click_at(page, inner.x, inner.y)
    _click_at(page, inner.x, maxy + pad)
    _click_at(page, inner.x, miny - pad)
    page.click("#finish")
    page.wait_for_function(f"window.gridpatrolPlanner.state.plan.features.length === {planner_app['n_grids'] + 1}")
    page.wait_for_function("!document.body.classList.contains('busy')")
    assert "error" not in page.get_attribute("#message", "class") or not page.inner_text("#message")
    page.click("#publish")
    page.wait_for_function("window.gridpatrolPlanner.state.plan.plan.status === 'published' && "
                           "!document.body.classList.contains('busy')")
    with transaction(planner_app["factory"]) as s:
        assert s.scalar(select(func.count(Grid.id))) == planner_app["n_grids"] + 1
    _shot(page, "03-published")
    page.click("#rollback")
    page.wait_for_function(f"window.gridpatrolPlanner.state.plan.features.length === {planner_app['n_grids']} && "
                           "!document.body.classList.contains('busy')")
    with transaction(planner_app["factory"]) as s:
        assert s.scalar(select(func.count(Grid.id))) == planner_app["n_grids"]
        assert s.scalar(select(func.count(GridPlan.id)).where(GridPlan.status == "published")) == 1
    assert not page.errors, page.errors


def test_planner_prints_the_cards_of_the_selected_grid(page, planner_app):
    """打印二维码 in the planner: a hint without a selected grid, then the dialog for the selected grid's card."""
    base = planner_app["base"]
    _open(page, base)
    made = page.evaluate("!window.gridpatrolPlanner.state.plan")
    if made:  # no plan yet (this test ran before the editor's): a draft shows the grids in force, deleted after
        page.click("#new-draft")
    page.wait_for_function("window.gridpatrolPlanner.state.plan && !document.body.classList.contains('busy')")
    with transaction(planner_app["factory"]) as s:
        in_force = set(s.scalars(select(Grid.code)))
    code = next(c for c in _features(page) if c in in_force)
    page.evaluate("() => { window.gridpatrolPlanner.state.selected = []; }")
    page.click("#print-qr")
    assert "先在地图上选择网格" in page.inner_text("#message")
    page.evaluate("(c) => { window.gridpatrolPlanner.state.selected = [c]; }", code)
    page.click("#print-qr")
    page.wait_for_selector("#sticker-dialog[open]")
    assert page.input_value("#sticker-dialog select[name=kind]") == "cards"
    assert page.input_value("#sticker-dialog select[name=scope]") == f"grid={code}"
    _shot(page, "print-dialog")
    with page.expect_download() as pdf:
        page.click('#sticker-dialog button[value="download"]')
    assert pdf.value.suggested_filename == f"stickers-cards-{code}.pdf"
    assert Path(pdf.value.path()).read_bytes()[:5] == b"%PDF-"
    if made:
        page.keyboard.press("Escape")  # the dialog stays open after a download (to print another)
        page.wait_for_selector("#sticker-dialog[open]", state="detached")
        page.click("#delete-draft")
        page.wait_for_function("!document.body.classList.contains('busy')")
    assert not page.errors, page.errors
