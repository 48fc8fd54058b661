"""The HTTP contract: one case-filter model for /cases, /cases/export and /cases/map; one redirect to /login for
every page; and /docs describing what every JSON route returns."""

from __future__ import annotations

import pytest

from tests.api.conftest import World

CASE_LISTINGS = ("/api/v1/cases", "/api/v1/cases/export", "/api/v1/cases/map")
MAP_VIEW = {"bbox": "7.40,43.72,7.44,43.76", "zoom": 18}  # Monaco, zoomed in: the cases themselves


@pytest.mark.parametrize("path", CASE_LISTINGS)
def test_every_case_listing_refuses_an_unknown_status_naming_the_field(world: World, path: str) -> None:
    r = world.client.get(path, headers=world.h("sup"), params={"status": "reported,lost", **MAP_VIEW})
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["field"] == "status" and "'lost'" in body["message"]


@pytest.mark.parametrize("path", CASE_LISTINGS)
@pytest.mark.parametrize("name", ["since", "until"])
def test_every_case_listing_wants_a_timezone_on_its_times(world: World, path: str, name: str) -> None:
    r = world.client.get(path, headers=world.h("sup"), params={name: "2026-11-01T00:00:00", **MAP_VIEW})
    assert r.status_code == 422, r.text
    assert r.json()["field"] == name


@pytest.mark.parametrize("path", CASE_LISTINGS)
def test_every_case_listing_filters_by_status_the_same_way(world: World, path: str) -> None:
    world.report()
    r = world.client.get(path, headers=world.h("sup"), params={"status": "reported", "format": "geojson",
                                                                **MAP_VIEW})
    assert r.status_code == 200, r.text
    body = r.json()
    statuses = [c["status"] for c in body["cases"]] if "cases" in body else \
        [f["properties"]["status"] for f in body["features"]]
    assert statuses and set(statuses) == {"reported"}


PAGES = ("/maps/cases", "/maps/heat", "/maps/hotspots", "/maps/coverage", "/maps/grids", "/dashboard", "/planner",
         "/surveys")


@pytest.mark.parametrize("path", PAGES)
def test_every_page_sends_a_visitor_without_login_to_login_and_back(world: World, path: str) -> None:
    world.client.cookies.clear()
    r = world.client.get(path, params={"lang": "en"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"/login?next={path}%3Flang%3Den"


@pytest.mark.parametrize("path", PAGES)
def test_every_page_opens_with_the_login_cookie(world: World, path: str) -> None:
    world.client.cookies.set("gridpatrol_token", world.tokens["admin"])
    try:
        r = world.client.get(path, follow_redirects=False)
    finally:
        world.client.cookies.clear()
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
