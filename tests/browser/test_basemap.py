"""Our own basemap (vector tiles from /tiles/, drawn by static/js/basemap.js) on the map pages, with no internet.

1. The phone app: a grid worker logs in; the app puts her grid's tiles (z15–z18) in the tile cache; the network goes
   and the page is reloaded; at z18 around her pin the map shows building outlines and street names of her grid,
   drawn from the cached tiles (what each tile drew is on its canvas element; its pixels are not all background).
2. The desk case page and a supervisor's folium map, every request outside 127.0.0.1 aborted: tiles come from /tiles/
   and are drawn.
Screenshots: test-output/basemap/.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import shapely
from sqlalchemy import func, select

from patrol.core.db import session_factory, transaction
from patrol.core.models import Building, Case, Grid, RoadSegment, User
from patrol.simulate.month import DEMO_PASSWORD
from tests.browser.conftest import ARGS, chromium_path, phone_page, serve, simulated_city

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "basemap"
BACKGROUND = (244, 242, 236)  # basemap.js BG, #f4f2ec

# What the basemap drew: per settled tile its state and counts, the label texts, and the share of sampled pixels of
# drawn tiles that are not the background.
DRAWN = """(bg) => {
  const tiles = [...document.querySelectorAll('.gp-basemap canvas')];
  let other = 0, seen = 0;
  for (const c of tiles.filter((t) => t.dataset.state === 'drawn')) {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    for (let i = 0; i < d.length; i += 4 * 7) {
      seen++;
      if (Math.abs(d[i] - bg[0]) + Math.abs(d[i + 1] - bg[1]) + Math.abs(d[i + 2] - bg[2]) > 6) other++;
    }
  }
  return {states: tiles.map((t) => t.dataset.state || 'loading'),
          buildings: tiles.reduce((n, t) => n + Number(t.dataset.buildings || 0), 0),
          roads: tiles.reduce((n, t) => n + Number(t.dataset.roads || 0), 0),
          labels: tiles.flatMap((t) => (t.dataset.labels || '').split('\\n').filter(Boolean)),
          zooms: [...new Set(tiles.map((t) => Number(t.dataset.z)))],
          painted: seen ? other / seen : 0};
}"""
SETTLED = "() => { const t = [...document.querySelectorAll('.gp-basemap canvas')]; " \
          "return t.length > 0 && t.every((c) => c.dataset.state); }"


@pytest.fixture(scope="module")
def city(tmp_path_factory, monaco_model) -> Iterator[dict]:
    url = f"sqlite:///{tmp_path_factory.mktemp('basemap') / 'basemap.db'}"
    settings, engine = simulated_city(url, monaco_model, cases=40, tiles="gridpatrol")
    with transaction(session_factory(engine)) as s:
        info = _her_grid(s)
    with serve(settings) as base:
        yield dict(info, base=base)
    engine.dispose()


def _her_grid(s) -> dict:
    """A worker's grid with buildings and named streets: her, a building inside to stand at, the street names."""
    for grid in s.scalars(select(Grid).where(Grid.worker_id.is_not(None)).order_by(Grid.id)):
        area = shapely.from_wkb(bytes(s.scalar(select(func.ST_AsBinary(Grid.geom)).where(Grid.id == grid.id))))
        names = {n for n, g in s.execute(select(RoadSegment.name, func.ST_AsBinary(RoadSegment.geom))
                                          .where(RoadSegment.name.is_not(None)))
                 if shapely.from_wkb(bytes(g)).intersects(area)}
        spot = s.scalar(select(func.ST_AsText(func.ST_PointOnSurface(Building.geom)))
                        .where(Building.grid_id == grid.id).order_by(Building.id))
        if len(names) >= 2 and spot:
            case = s.scalars(select(Case).where(Case.grid_id == grid.id).order_by(Case.id)).first() \
                or s.scalars(select(Case).order_by(Case.id)).first()
            sup = s.scalars(select(User).where(User.role == "supervisor", User.community_id == grid.community_id)
                            ).first()
            pin = shapely.from_wkt(spot)
            return {"worker": s.get(User, grid.worker_id).username, "sup": sup.username, "case": str(case.number),
                    "grid_id": grid.id, "pin": (pin.x, pin.y), "streets": names}
    pytest.fail("no grid of Monaco has a worker, buildings and two named streets")


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(400)  # Leaflet fades new tiles in: let the picture settle (nothing is asserted on it)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def test_phone_app_offline_at_z18_draws_her_buildings_and_streets_from_cached_tiles(city):
    base = city["base"]
    lon, lat = city["pin"]
    with phone_page(lon, lat) as page:
        page.goto(f"{base}/app/")
        page.wait_for_selector("#login:not([hidden])")
        page.fill("#login-user", city["worker"])
        page.fill("#login-pass", DEMO_PASSWORD)
        page.tap("#login-form button[type=submit]")
        page.wait_for_selector("#shell:not([hidden])")
        page.wait_for_function("navigator.serviceWorker.controller !== null")
        config = page.evaluate("JSON.parse(document.getElementById('gp-config').textContent).tiles")
        assert config["kind"] == "vector" and config["url"].startswith("/tiles/{z}/{x}/{y}.pbf?v=")

        # -- the prefetch of her grid's tiles, z15–z18, shown quietly on the sync screen
        page.wait_for_function("() => { const s = window.gridpatrolOfflineMap; "
                               "return s.total > 0 && s.done + s.failed === s.total; }", timeout=90_000)
        status = page.evaluate("({done: gridpatrolOfflineMap.done, total: gridpatrolOfflineMap.total, "
                               "failed: gridpatrolOfflineMap.failed})")
        assert status["failed"] == 0 and 4 <= status["total"] <= 1500, status
        page.goto(f"{base}/app/#sync")
        page.wait_for_selector("#screen-sync:not([hidden])")
        cached = page.evaluate("""async () => { const names = (await caches.keys()).filter(
            (k) => k.startsWith('gridpatrol-basemap-')); let n = 0;
            for (const k of names) n += (await (await caches.open(k)).keys()).length; return {names, n}; }""")
        assert len(cached["names"]) == 1 and cached["n"] >= status["total"], cached

        # -- offline: the page comes from the service worker, the map from the cached tiles
        page.context.set_offline(True)
        page.goto(f"{base}/app/#map")
        page.wait_for_selector("#shell:not([hidden])")
        page.wait_for_function("window.gridpatrolMap !== undefined")
        page.evaluate(f"window.gridpatrolMap.setView([{lat}, {lon}], 18, {{animate: false}})")
        page.wait_for_function(SETTLED)
        drawn = page.evaluate(DRAWN, BACKGROUND)
        _shot(page, "phone-offline-z18")
        assert drawn["zooms"] == [18]
        assert drawn["states"].count("drawn") >= 2, drawn["states"]
        assert "error" not in drawn["states"][:1] and drawn["buildings"] >= 3 and drawn["roads"] >= 2, drawn
        assert set(drawn["labels"]) & city["streets"], (drawn["labels"], city["streets"])
        assert drawn["painted"] > 0.15, drawn["painted"]  # buildings, streets and labels, not an empty square
        assert not page.errors, page.errors


def test_desk_case_page_and_supervisor_map_draw_our_tiles_with_no_internet(city):
    from playwright.sync_api import sync_playwright

    base = city["base"]
    tiles: list[str] = []
    blocked: list[str] = []

    def local_only(route: Any) -> None:
        if route.request.url.startswith(base):
            if "/tiles/" in route.request.url:
                tiles.append(route.request.url)
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=ARGS)
        context = browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 800}, locale="zh-CN")
        context.route("**/*", local_only)
        page = context.new_page()
        page.set_default_timeout(20_000)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        target = f"/desk/cases/{city['case']}"
        page.goto(f"{base}{target}")
        page.fill("#u", city["sup"])
        page.fill("#p", DEMO_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}{target}")
        page.wait_for_function(SETTLED)
        desk = page.evaluate(DRAWN, BACKGROUND)
        _shot(page, "desk-case")
        assert tiles and all(".pbf?v=" in u for u in tiles), tiles[:3]
        assert "drawn" in desk["states"] and desk["buildings"] > 0 and desk["painted"] > 0.1, desk

        tiles.clear()
        page.goto(f"{base}/maps/grids")
        page.wait_for_function(SETTLED)
        folium_map = page.evaluate(DRAWN, BACKGROUND)
        _shot(page, "supervisor-grids")
        assert tiles[0].endswith("/tiles/meta.json") and all(".pbf?v=" in u for u in tiles[1:]), tiles[:3]
        assert "drawn" in folium_map["states"] and folium_map["roads"] > 0 and folium_map["painted"] > 0.05, folium_map
        attribution = page.inner_text(".leaflet-control-attribution")
        assert "OpenStreetMap" in attribution  # Monaco came from OSM
        assert not [u for u in blocked if "tile" in u], blocked  # nothing asked for an online basemap
        assert not errors, errors
        browser.close()
