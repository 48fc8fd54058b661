"""Buildings by name in the phone app (360×740, Chromium): every list names buildings by their label (no database
id), and the report's pin map draws the footprints nearby — tapping one picks it (the pin inside it, the building
chosen and named in the picker) and highlights it. Screenshots: test-output/field/buildings-*.png."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyproj import Geod
from sqlalchemy import func, select

from patrol.core.db import session_factory, transaction
from patrol.core.models import Building, Grid, User
from patrol.simulate.month import DEMO_PASSWORD
from tests.browser.conftest import phone_page, serve, simulated_city

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "field"
BARE_ID = re.compile(r"#\s?\d+")
GEOD = Geod(ellps="WGS84")


@pytest.fixture(scope="module")
def city(tmp_path_factory, monaco_model) -> Iterator[dict]:
    url = f"sqlite:///{tmp_path_factory.mktemp('bldg') / 'bldg.db'}"
    settings, engine = simulated_city(url, monaco_model, cases=40)
    factory = session_factory(engine)
    with transaction(factory) as s:
        grid = s.scalars(select(Grid).where(Grid.worker_id.is_not(None)).order_by(Grid.id)).first()
        inside = func.ST_PointOnSurface(Building.geom)
        rows = s.execute(select(Building.id, Building.label, func.ST_X(inside), func.ST_Y(inside),
                                func.ST_Area(Building.geom))
                         .where(Building.grid_id == grid.id).order_by(Building.id)).all()
        worker = s.get(User, grid.worker_id).username
    # where she stands: a building with a fair-sized neighbour 25–45 m away (both on the small map at zoom 18)
    pairs = [(a, b) for a in rows for b in rows if a[0] != b[0] and b[4] > 2e-8
             and 25 < GEOD.inv(a[2], a[3], b[2], b[3])[2] < 45]
    assert pairs, "no two buildings 25–45 m apart in the grid"
    here, target = pairs[0]
    with serve(settings) as base:
        yield {"base": base, "worker": worker, "here": here, "target": target, "factory": factory,
               "labels": {r[0]: r[1] for r in rows}}
    engine.dispose()


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"buildings-{name}.png"))


def test_a_building_is_picked_by_tapping_the_map_and_no_list_shows_an_id(city) -> None:
    here, target = city["here"], city["target"]
    assert all(city["labels"].values())  # the import labelled every building of the grid
    with phone_page(here[2], here[3]) as page:
        page.goto(f"{city['base']}/app/")
        page.wait_for_selector("#login:not([hidden])")
        page.fill("#login-user", city["worker"])
        page.fill("#login-pass", DEMO_PASSWORD)
        page.tap("#login-form button[type=submit]")
        page.wait_for_selector("#shell:not([hidden])")
        page.wait_for_function("window.gridpatrolApp.state.today && window.gridpatrolApp.state.pos")

        # -- the report's pin map: footprints drawn; tap the neighbour's footprint
        page.tap("a[data-tab=report]")
        page.wait_for_selector("#screen-report:not([hidden])")
        page.wait_for_selector(f"#pin-map path.bld-{target[0]}")
        page.evaluate("window.gridpatrolPinMap.setView(window.gridpatrolPinMap.getCenter(), 18, {animate: false})")
        page.locator("#pin-map").scroll_into_view_if_needed()
        box = page.locator("#pin-map").bounding_box()
        xy = page.evaluate("([lat, lon]) => { const p = window.gridpatrolPinMap.latLngToContainerPoint([lat, lon]);"
                           " return [p.x, p.y]; }", [target[3], target[2]])
        assert 0 < xy[0] < box["width"] and 0 < xy[1] < box["height"], "the neighbour is off the small map"
        page.locator("#pin-map").tap(position={"x": xy[0], "y": xy[1]})
        page.wait_for_function(f"window.gridpatrolApp.state.report.building === {target[0]}")
        checked = page.locator("#near-buildings input:checked")
        assert checked.get_attribute("value") == str(target[0])
        picked = page.locator("#near-buildings label.radio", has=page.locator("input:checked")).inner_text()
        assert target[1] in picked  # named by its label in the picker
        assert "bld-chosen" in (page.locator(f"#pin-map path.bld-{target[0]}").get_attribute("class") or "")
        assert page.inner_text("#pin-map .bld-tip") == target[1]  # and named on the map
        pin = page.evaluate("window.gridpatrolApp.state.report.pin")
        assert GEOD.inv(pin["lon"], pin["lat"], target[2], target[3])[2] < 30  # the pin went into it
        page.evaluate("document.getElementById('pin-map').scrollIntoView({block: 'center'})")
        page.wait_for_timeout(700)  # the map pans to the tapped building (an animation) before the picture
        _shot(page, "report-map")
        page.locator("#near-buildings").scroll_into_view_if_needed()
        _shot(page, "report-picked")
        picker = page.inner_text("#near-buildings")

        # -- choosing another one in the picker moves the highlight
        other = page.locator("#near-buildings input[value]:not([value=''])").first
        other_id = int(other.get_attribute("value"))
        if other_id != target[0]:
            other.check()
            assert "bld-chosen" in (page.locator(f"#pin-map path.bld-{other_id}").get_attribute("class") or "")
            assert "bld-chosen" not in (page.locator(f"#pin-map path.bld-{target[0]}").get_attribute("class") or "")

        # -- the lists: visits, inspections' building picker — labels, never "#123"
        page.tap("a[data-tab=visit]")
        page.wait_for_selector("#visit-list li")
        visits = page.inner_text("#visit-list")
        _shot(page, "visits")
        page.tap("a[data-tab=inspect]")
        page.wait_for_selector("#insp-b-list li")
        inspect = page.inner_text("#insp-b-list")
        page.tap("a[data-tab=tasks]")
        tasks = page.inner_text("#screen-tasks")
        assert page.errors == []
    for name, text in {"picker": picker, "visits": visits, "inspect": inspect}.items():
        assert not BARE_ID.search(text), (name, text[:300])
    assert "楼栋 #" not in tasks and "Building #" not in tasks
    shown = [lab for lab in city["labels"].values() if lab in visits]
    assert len(shown) >= 3  # the visit list names buildings by their labels
