"""Responsibility and nearest-by-road routing through the API, on both databases, on Monaco's real roads.

The world has three units (城管 urban_management, power, greening) at fixed points; tests here add community offices
and property companies with jurisdictions, move units and delete the roads, so each test has a world of its own.
"""

from __future__ import annotations

import math

import pytest
import shapely
from sqlalchemy import delete, func, select

from patrol.core.db import session_factory, transaction
from patrol.core.frames import ewkt
from patrol.core.models import Case, CaseEvent, Community, Grid, ResponsibleUnit, RoadSegment
from tests.api.conftest import own_world

pytestmark = pytest.mark.db
world = pytest.fixture(name="world")(own_world)


def _metres(a, b) -> float:
    dx = (a[0] - b[0]) * 111_320 * math.cos(math.radians(a[1]))
    return math.hypot(dx, (a[1] - b[1]) * 110_540)


def _add_unit(world, kind: str, name: str, at, jurisdiction=None) -> int:
    if isinstance(jurisdiction, shapely.Polygon):
        jurisdiction = shapely.MultiPolygon([jurisdiction])
    with transaction(session_factory(world.engine)) as s:
        u = ResponsibleUnit(type=kind, name=name, geom=ewkt([shapely.Point(*at)])[0],
                            jurisdiction=None if jurisdiction is None else ewkt([jurisdiction])[0])
        s.add(u)
        s.flush()
        return u.id


def _community_of(world, grid_id: int):
    with transaction(session_factory(world.engine)) as s:
        cid = s.scalar(select(Grid.community_id).where(Grid.id == grid_id))
        wkb = s.scalar(select(func.ST_AsBinary(Community.geom)).where(Community.id == cid))
        return cid, shapely.from_wkb(bytes(wkb))


def _ask(world, who="sup", point=None, **params):
    lon, lat = point or world.point_a
    return world.client.get("/api/v1/routing/responsible", headers=world.h(who),
                            params={"lon": lon, "lat": lat, **params})


def test_department_case_goes_to_the_unit_type_of_its_category_nearest_by_road(world):
    r = _ask(world, category="B0109")  # street lamp → power
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["level"] == "department" and d["unit_type"] == "power" and d["rule"]["category"] == "B0109"
    assert d["chosen"]["unit_id"] == world.units[1] and d["chosen"]["fallback"] is None
    route = d["route"]["coordinates"]
    # from the unit (7.421, 43.735) to the case, along the roads: at least as long as the straight line
    assert _metres(route[-1], world.point_a) < 60 and _metres(route[0], (7.421, 43.735)) < 250
    straight = _metres((7.421, 43.735), world.point_a)
    assert d["chosen"]["distance_m"] >= straight * 0.95
    assert abs(d["route"]["properties"]["length_m"] - d["chosen"]["distance_m"]) < 0.5
    assert d["chosen"]["eta_s"] > 0 and "责任规则" in d["why"]


def test_a_more_specific_rule_without_units_falls_back_and_says_why(world):
    d = _ask(world, category="E0404").json()  # gas leak → gas, then fire, then the '*' rule → urban_management
    assert d["unit_type"] == "urban_management" and d["chosen"]["unit_id"] == world.units[0]
    assert any("'gas'" in t for t in d["tried"]) and any("'fire'" in t for t in d["tried"])


def test_nobody_responsible_is_a_409_with_the_reasons(world):
    r = _ask(world, category="C0101")  # community level: property, then community_office — neither exists yet
    assert r.status_code == 409, r.text
    body = r.json()
    assert body["field"] == "category" and "property" in body["message"] and "community_office" in body["message"]


def test_jurisdictions_nested_and_overlapping(world):
    _, community = _community_of(world, world.grid_a)
    _, other_community = _community_of(world, _grid_at(world, world.point_other))
    # the office of another community, right next to the point, does not cover it
    _add_unit(world, "community_office", "其他社区居委会", (world.point_a[0] + 0.0002, world.point_a[1]),
              other_community)
    own = _add_unit(world, "community_office", "本社区居委会", community.representative_point().coords[0], community)
    # a citywide office (no jurisdiction) next to the point: the community's own office is inner, so it wins
    _add_unit(world, "community_office", "市级值班室", (world.point_a[0], world.point_a[1] + 0.0001))
    d = _ask(world, category="C0101").json()
    assert d["unit_type"] == "community_office" and d["chosen"]["unit_id"] == own
    assert [c["unit_id"] for c in d["candidates"]] == [own]
    # two property companies whose 小区 overlap around the point: both are candidates, the nearer by road wins
    x, y = world.point_a
    box_w = shapely.box(x - 0.004, y - 0.002, x + 0.001, y + 0.002)
    box_e = shapely.box(x - 0.001, y - 0.002, x + 0.004, y + 0.002)
    far = _add_unit(world, "property", "西区物业", (x - 0.0035, y), box_w)
    near = _add_unit(world, "property", "东区物业", (x + 0.0005, y), box_e)
    d = _ask(world, category="C0101").json()
    assert d["unit_type"] == "property"
    ids = [c["unit_id"] for c in d["candidates"]]
    assert set(ids) == {far, near}
    costs = [c["eta_s"] for c in d["candidates"]]
    assert costs == sorted(costs) and d["chosen"]["unit_id"] == near


def _grid_at(world, point) -> int:
    with transaction(session_factory(world.engine)) as s:
        from patrol.cases.places import locate

        return locate(s, *point).grid_id


def test_dispatch_without_a_unit_chooses_the_responsible_one_and_excludes_who_returned_it(world):
    case = world.report(category="B0109")
    world.act("sup", case["id"], "register")
    out = world.act("sup", case["id"], "dispatch")
    assert out["unit_id"] == world.units[1]  # power
    world.act("dept2", case["id"], "return", note="路灯归路灯所管，不归供电所")
    again = world.act("sup", case["id"], "dispatch")
    assert again["unit_id"] == world.units[0]  # the '*' department rule: urban management leads
    with transaction(session_factory(world.engine)) as s:
        notes = list(s.scalars(select(CaseEvent.note).where(CaseEvent.case_id == case["id"],
                                                            CaseEvent.action == "dispatch")
                               .order_by(CaseEvent.id)))
    assert len(notes) == 2 and all("自动派遣" in n for n in notes) and "B0109" in notes[0] and "B0109" not in notes[1]


def test_the_cached_index_follows_a_moved_unit(world):
    before = _ask(world, category="B0109").json()["chosen"]
    with transaction(session_factory(world.engine)) as s:
        u = s.get(ResponsibleUnit, world.units[1])
        u.geom = ewkt([shapely.Point(*world.point_a)])[0]
    after = _ask(world, category="B0109").json()["chosen"]
    assert after["unit_id"] == world.units[1]
    assert after["distance_m"] < 1.0 < before["distance_m"]


def test_bad_input_is_a_clear_4xx(world):
    r = _ask(world, category="NOPE")
    assert r.status_code == 422 and r.json()["field"] == "category"
    r = _ask(world, category="B0109", point=(7.0, 43.0))  # at sea, outside every community
    assert r.status_code == 422 and r.json()["field"] == "lat" and "nearest grid" in r.json()["message"]
    r = _ask(world, category="B0109", point=(7.42, 95))
    assert r.status_code == 422 and r.json()["field"] == "lat"
    r = _ask(world, category="B0109", level="street")
    assert r.status_code == 422 and r.json()["field"] == "level"
    assert world.client.get("/api/v1/routing/responsible",
                            params={"lon": 7.42, "lat": 43.73, "category": "B0109"}).status_code == 401


def test_a_workers_day_in_walking_order(world):
    c = world.client
    made = [world.report(category="C0102", point=p) for p in points_in_grid_a(world, 4)]
    for case in made[:3]:
        world.act("worker_a", case["id"], "register")
        world.act("worker_a", case["id"], "dispatch")  # grid level: to the grid's worker
    r = c.get(f"/api/v1/workers/{world.users['worker_a']}/route", headers=world.h("worker_a"),
              params={"lon": world.point_a[0], "lat": world.point_a[1]})
    assert r.status_code == 200, r.text
    d = r.json()
    kinds = {s["kind"] for s in d["stops"]}
    assert "handle" in kinds and {s["case_id"] for s in d["stops"]} >= {m["id"] for m in made[:3]}
    assert [s["order"] for s in d["stops"]] == list(range(1, len(d["stops"]) + 1))
    assert d["route"]["type"] == "LineString" and d["length_m"] > 0
    assert abs(sum(s["leg_m"] for s in d["stops"]) - d["length_m"]) < 1.0
    assert _metres(d["route"]["coordinates"][0], world.point_a) < 60
    assert c.get(f"/api/v1/workers/{world.users['worker_a']}/route", headers=world.h("worker_b")).status_code == 403
    assert c.get(f"/api/v1/workers/{world.users['worker_a']}/route",
                 headers=world.h("sup_other")).status_code == 403
    empty = c.get(f"/api/v1/workers/{world.users['worker_b']}/route", headers=world.h("admin")).json()
    assert empty["empty"] is True and empty["stops"] == [] and empty["route"] is None


def points_in_grid_a(world, n: int) -> list[tuple[float, float]]:
    """``n`` points spread over worker A's grid (a golden-ratio walk over its box, kept when inside)."""
    with transaction(session_factory(world.engine)) as s:
        wkb = s.scalar(select(func.ST_AsBinary(Grid.geom)).where(Grid.id == world.grid_a))
    grid = shapely.from_wkb(bytes(wkb)).buffer(-0.0002)
    x0, y0, x1, y1 = grid.bounds
    out, k = [], 0
    while len(out) < n:
        k += 1
        p = shapely.Point(x0 + (x1 - x0) * ((k * 0.618) % 1), y0 + (y1 - y0) * ((k * 0.382) % 1))
        if grid.contains(p):
            out.append((p.x, p.y))
    return out


def test_the_cases_map_draws_a_cases_dispatch_route(world):
    case = world.report(category="E0404")  # gas leak → urban management (the '*' department rule here)
    world.act("sup", case["id"], "register")
    world.act("sup", case["id"], "dispatch")
    c = world.client
    c.cookies.set("gridpatrol_token", world.tokens["sup"])
    try:
        page = c.get("/maps/cases", params={"case": case["id"]})
        plain = c.get("/maps/cases")
    finally:
        c.cookies.clear()
    assert page.status_code == 200 and plain.status_code == 200
    assert '"10 8"' in page.text and '"10 8"' not in plain.text  # the dashed route layer
    assert c.get("/maps/cases", params={"case": case["id"]}, follow_redirects=False).status_code == 303


def test_without_roads_routing_is_409_but_dispatch_falls_back_to_straight_line(world):
    with transaction(session_factory(world.engine)) as s:
        s.execute(delete(RoadSegment))
    r = _ask(world, category="B0109")
    assert r.status_code == 409 and r.json()["field"] == "roads"
    case = world.report(category="E0402")  # burst pipe → water → '*' → urban management
    world.act("sup", case["id"], "register")
    out = world.act("sup", case["id"], "dispatch")
    assert out["unit_id"] == world.units[0]
    with transaction(session_factory(world.engine)) as s:
        note = s.scalar(select(CaseEvent.note).where(CaseEvent.case_id == case["id"],
                                                     CaseEvent.action == "dispatch"))
        assert "直线距离" in note
        assert s.scalar(select(Case.unit_id).where(Case.id == case["id"])) == world.units[0]
