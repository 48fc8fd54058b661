"""The case page's read model and pages (/api/v1/desk/cases/{number}, /desk/cases/{number}, …/print) on both
databases: names instead of ids, exactly the allowed actions, duplicates within 30 m, earlier cases at the building,
dispatch candidates ranked by road, the countdown's colours, 404 / 403, and a 派遣单 without personal data."""

from __future__ import annotations

import datetime as dt
import math
import uuid

import pytest
import shapely
from sqlalchemy import select

from patrol.cases import service as svc
from patrol.cases.authority import allowed_actions
from patrol.cases.casefile import find_case
from patrol.cases.overdue import deadline_colour
from patrol.core.auth import SYSTEM, actor_from_token, create_user
from patrol.core.db import session_factory, transaction
from patrol.core.frames import ewkt
from patrol.core.models import Building, Case, Community, Grid, ResponsibleUnit, Subdistrict, User
from tests.api.conftest import PASSWORD

pytestmark = pytest.mark.db


def _new(world, state_path=(), *, category="C0103", point=None, who="worker_a", **extra) -> dict:
    c = world.report(who, category, point=point, **extra)
    for action in state_path:
        body = {"unit_id": world.units[0]} if action == "dispatch" else {}
        world.act("admin", c["id"], action, **body)
    return c


def _file(world, number: str, who: str = "sup", expect: int = 200, **params) -> dict:
    r = world.client.get(f"/api/v1/desk/cases/{number}", headers=world.h(who), params=params)
    assert r.status_code == expect, r.text
    return r.json()


def _offset(point, east_m: float) -> tuple[float, float]:
    lon, lat = point
    return lon + east_m / (111_320 * math.cos(math.radians(lat))), lat


def _token_of(world, username: str) -> str:
    r = world.client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def test_names_not_ids(world):
    c = _new(world, ("register", "dispatch"), description="楼道里充电")
    f = _file(world, c["number"])
    with transaction(session_factory(world.engine)) as s:
        grid = s.get(Grid, world.grid_a)
        com = s.get(Community, grid.community_id)
        sub = s.get(Subdistrict, com.subdistrict_id)
        unit = s.get(ResponsibleUnit, world.units[0])
        worker = s.get(User, world.users["worker_a"])
        admin = s.get(User, world.users["admin"])
        names = (grid.name, com.name, sub.name, unit.name, worker.display_name, admin.display_name)
    assert f["number"] == c["number"] and f["category"]["zh"] and f["category"]["en"]
    assert f["place"]["grid"]["name"] == names[0] and f["place"]["grid"]["code"] == grid.code
    assert f["place"]["community"]["name"] == names[1] and f["place"]["subdistrict"]["name"] == names[2]
    assert f["handler"] == names[3]
    steps = {s["action"]: s for s in f["timeline"]}
    assert steps["report"]["actor"] == names[4] and steps["dispatch"]["actor"] == names[5]
    assert steps["dispatch"]["unit"] == names[3]
    assert f["place"]["grid"]["outline"]["type"] in ("Polygon", "MultiPolygon")
    # no foreign key is handed over as a field (ids appear only as the opaque keys of the case, steps, photos)
    flat = str(f)
    for key in ("grid_id", "community_id", "unit_id", "actor_id", "assignee_id", "reporter_id", "building_id"):
        assert f"'{key}'" not in flat
    assert "contact" not in flat


def test_system_steps_and_automatic_dispatch_reasons(world):
    c = _new(world, ("register",), category="B0109")  # street lamp: department level, power
    world.act("sup", c["id"], "dispatch")  # no unit: the responsibility rules choose, and say why
    f = _file(world, c["number"])
    auto = [s for s in f["timeline"] if s["action"] == "dispatch"][0]
    assert auto["note"].startswith("自动派遣") and auto["auto"] is True
    with transaction(session_factory(world.engine)) as s:
        svc.transition(s, SYSTEM, world.settings, c["id"], "suspend", note="待材料")
    f = _file(world, c["number"])
    assert f["timeline"][-1]["actor"] == "系统"
    assert f["clock"]["suspended"] is True and f["clock"]["colour"] == "stopped"
    assert f["clock"]["remaining_hours"] is not None and f["clock"]["hours_left"] is None


@pytest.mark.parametrize("who,path", [
    ("worker_a", ()), ("worker_a", ("register",)), ("sup", ()), ("sup", ("register",)),
    ("sup", ("register", "dispatch")), ("dept1", ("register", "dispatch")), ("dept1", ("register", "dispatch",
                                                                                       "accept")),
    ("planner", ("register",)), ("admin", ("register", "dispatch", "accept", "handle", "verify", "close")),
])
def test_actions_are_exactly_the_allowed_ones(world, who, path):
    c = _new(world, path)
    f = _file(world, c["number"], who)
    with transaction(session_factory(world.engine)) as s:
        actor = actor_from_token(s, world.tokens[who], world.settings)
        expected = allowed_actions(actor, s.get(Case, c["id"]))
    assert [a["name"] for a in f["actions"]] == expected
    forms = {a["name"]: a for a in f["actions"]}
    if "reject" in forms:
        assert forms["reject"]["note_required"] is True
    if "register" in forms:
        assert forms["register"]["note_required"] is False and forms["register"]["one_click"] is True
    if "dispatch" in forms:
        assert forms["dispatch"]["units"] and forms["dispatch"]["unit_choice"] is True
    if "rate" in forms:
        assert forms["rate"]["ratings"] == [5, 4, 3, 2, 1]


def test_a_subdistrict_user_sees_and_may_urge(world):
    with transaction(session_factory(world.engine)) as s:
        com = s.get(Community, s.get(Grid, world.grid_a).community_id)
        code = s.get(Subdistrict, com.subdistrict_id).code
        name = f"jd_{uuid.uuid4().hex[:6]}"
        create_user(s, username=name, role="subdistrict", password=PASSWORD, subdistrict=code)
    token = _token_of(world, name)
    c = _new(world, ("register", "dispatch"))
    r = world.client.get(f"/api/v1/desk/cases/{c['number']}", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    names = [a["name"] for a in r.json()["actions"]]
    with transaction(session_factory(world.engine)) as s:
        actor = actor_from_token(s, token, world.settings)
        assert names == allowed_actions(actor, s.get(Case, c["id"]))
    assert "urge" in names
    urge = next(a for a in r.json()["actions"] if a["name"] == "urge")
    assert urge["note_required"] and urge["hours"]
    r = world.client.post(f"/api/v1/cases/{c['id']}/actions/urge", headers={"Authorization": f"Bearer {token}"},
                          json={"note": "请加快处置", "hours": 4})
    assert r.status_code == 200, r.text
    f = _file(world, c["number"])
    assert f["urges"]["count"] == 1 and f["urges"]["items"][0]["note"] == "请加快处置"


def test_whistle_tasks_with_department_names_and_their_actions(world):
    c = _new(world, ("register",))
    world.act("sup", c["id"], "whistle", units=world.units[:2], report_in_hours=2)
    f = _file(world, c["number"], "dept1")
    assert {t["unit"] for t in f["tasks"]} == {"城管中队", "供电所"}
    mine = {t["unit"]: [a["name"] for a in t["actions"]] for t in f["tasks"]}
    assert mine == {"城管中队": ["report_in", "return"], "供电所": []}
    task = next(t for t in f["tasks"] if t["unit"] == "城管中队")
    r = world.client.post(f"/api/v1/cases/{c['id']}/tasks/{task['id']}/report_in", headers=world.h("dept1"), json={})
    assert r.status_code == 200, r.text
    t = next(t for t in _file(world, c["number"], "dept1")["tasks"] if t["unit"] == "城管中队")
    assert t["status"] == "accepted" and t["reported_in_at"] and t["late"] is False
    assert [a["name"] for a in t["actions"]] == ["handle"]


def test_duplicates_within_30_m_not_at_40(world):
    base = _offset(world.point_a, 0)
    c = _new(world, point=base, description="这一个")
    near = _new(world, point=_offset(base, 20), description="二十米外")
    far = _new(world, point=_offset(base, 40), description="四十米外")
    other_cat = _new(world, point=_offset(base, 10), category="C0101")
    f = _file(world, c["number"])
    numbers = [d["number"] for d in f["duplicates"]]
    assert near["number"] in numbers and far["number"] not in numbers and other_cat["number"] not in numbers
    assert c["number"] not in numbers
    d = next(d for d in f["duplicates"] if d["number"] == near["number"])
    assert 15 < d["distance_m"] < 25 and d["description"] == "二十米外" and d["status"] == "reported"
    # merging it goes through the case API with the other's key
    world.act("sup", near["id"], "merge", duplicate_of=c["id"], note="同一问题")
    assert near["number"] not in [d["number"] for d in _file(world, c["number"])["duplicates"]]
    assert _file(world, near["number"])["duplicate_of"] == c["number"]


def test_earlier_cases_at_the_building(world):
    with transaction(session_factory(world.engine)) as s:
        grid_geom = s.scalar(select(Grid.geom.ST_AsBinary()).where(Grid.id == world.grid_a))
        inside = shapely.from_wkb(bytes(grid_geom)).representative_point()
        b = Building(geom=ewkt([shapely.MultiPolygon([inside.buffer(0.00005)])])[0], name=None,
                     address="测试路1号", households=10)
        s.add(b)
        s.flush()
        bid = b.id
    first = _new(world, building_id=bid, description="第一次")
    second = _new(world, building_id=bid, description="第二次")
    f = _file(world, second["number"])
    assert [e["number"] for e in f["earlier"]] == [first["number"]]
    assert f["earlier"][0]["category"]["zh"] and f["earlier"][0]["status"] == "reported"
    assert f["place"]["building"]["label"] == "楼栋(无名) · 测试路1号"
    assert f["place"]["building"]["outline"]["type"] == "MultiPolygon"
    assert _file(world, first["number"])["earlier"] == []


def test_dispatch_candidates_ranked_by_road_with_route(world):
    with transaction(session_factory(world.engine)) as s:
        far = ResponsibleUnit(type="power", name="远处供电所", geom=ewkt([shapely.Point(7.44, 43.75)])[0])
        s.add(far)
        s.flush()
        far_id = far.id
    c = _new(world, ("register",), category="B0109")
    f = _file(world, c["number"])
    d = next(a for a in f["actions"] if a["name"] == "dispatch")["dispatch"]
    ids = [x["unit_id"] for x in d["candidates"]]
    assert ids[:1] == [world.units[1]] and far_id in ids
    etas = [x["eta_s"] for x in d["candidates"]]
    assert etas == sorted(etas)
    near, far_c = d["candidates"][0], next(x for x in d["candidates"] if x["unit_id"] == far_id)
    assert near["distance_m"] < far_c["distance_m"] and near["name"] == "供电所"
    assert d["route"]["type"] == "LineString" and len(d["route"]["coordinates"]) >= 2
    r = world.client.get(f"/api/v1/desk/cases/{c['number']}/route", headers=world.h("sup"),
                         params={"unit": far_id})
    assert r.status_code == 200, r.text
    assert r.json()["properties"]["length_m"] == pytest.approx(far_c["distance_m"], abs=1.0)
    r = world.client.get(f"/api/v1/desk/cases/{c['number']}/route", headers=world.h("sup"),
                         params={"unit": 987654})
    assert r.status_code == 422 and r.json()["field"] == "unit"


def test_countdown_colour_at_the_boundaries():
    assert deadline_colour(10, 10, 0.2, overdue=False) == "green"
    assert deadline_colour(4.0, 10, 0.2, overdue=False) == "green"
    assert deadline_colour(3.99, 10, 0.2, overdue=False) == "yellow"
    assert deadline_colour(2.0, 10, 0.2, overdue=False) == "yellow"
    assert deadline_colour(1.99, 10, 0.2, overdue=False) == "orange"
    assert deadline_colour(0.01, 10, 0.2, overdue=False) == "orange"
    assert deadline_colour(0.0, 10, 0.2, overdue=False) == "orange"  # a weekend before a Monday deadline
    assert deadline_colour(0.0, 10, 0.2, overdue=True) == "red"  # passed on a weekend: no working hour gone
    assert deadline_colour(None, 10, 0.2) is None
    assert deadline_colour(5.0, 10, 0.2, overdue=True) == "red"


def test_countdown_in_working_hours_and_overdue(world):
    # a department-level case (street lamp, 24 working hours): at the top level, it stays overdue (not escalated)
    c = _new(world, ("register", "dispatch"), category="B0109")
    f = _file(world, c["number"])
    assert f["clock"]["deadline_at"] and f["clock"]["total_hours"] == 24
    assert f["clock"]["hours_left"] <= 24 and f["clock"]["colour"] in ("green", "yellow", "orange", "red")
    with transaction(session_factory(world.engine)) as s:
        s.get(Case, c["id"]).deadline_at = dt.datetime.now(dt.UTC) - dt.timedelta(days=3)
    f = _file(world, c["number"], "dept1")
    assert f["clock"]["overdue"] is True and f["clock"]["colour"] == "red" and f["clock"]["hours_left"] < 0


def test_404_and_403(world):
    r = world.client.get("/api/v1/desk/cases/2026-999999", headers=world.h("sup"))
    assert r.status_code == 404 and r.json()["field"] == "number" and r.json()["code"] == "not_found"
    c = _new(world)
    r = world.client.get(f"/api/v1/desk/cases/{c['number']}", headers=world.h("sup_other"))
    assert r.status_code == 403 and r.json()["field"] == "number" and r.json()["code"] == "forbidden"
    r = world.client.get(f"/api/v1/desk/cases/{c['number']}", headers=world.h("dept2"))
    assert r.status_code == 403
    world.client.cookies.set("gridpatrol_token", world.tokens["sup_other"])
    try:
        page = world.client.get(f"/desk/cases/{c['number']}")
        assert page.status_code == 403 and "权限" in page.text
        page = world.client.get("/desk/cases/2026-999999?lang=en")
        assert page.status_code == 404 and "no case with this number" in page.text
    finally:
        world.client.cookies.clear()
    r = world.client.get(f"/desk/cases/{c['number']}", follow_redirects=False)
    assert r.status_code in (302, 303, 307) and "/login" in r.headers["location"]


def test_case_page_and_print_sheet(world):
    with transaction(session_factory(world.engine)) as s:
        made = svc.create_case(s, SYSTEM, world.settings, client_id=None, category="C0103",
                               lon=world.point_a[0], lat=world.point_a[1], description="楼道电动车充电",
                               contact={"name": "张三丰", "phone": "10012345678", "email": "zs@example.org"},
                               channel="hotline")
        svc.transition(s, SYSTEM, world.settings, made.case.id, "register")
        svc.transition(s, SYSTEM, world.settings, made.case.id, "dispatch", unit_id=world.units[0])
        number = made.case.number
    world.client.cookies.set("gridpatrol_token", world.tokens["sup"])
    try:
        page = world.client.get(f"/desk/cases/{number}")
        assert page.status_code == 200 and number in page.text and "打印派遣单" in page.text
        assert "/static/js/desk/case.js" in page.text
        sheet = world.client.get(f"/desk/cases/{number}/print")
        en = world.client.get(f"/desk/cases/{number}/print?lang=en")
    finally:
        world.client.cookies.clear()
    assert sheet.status_code == 200
    text = sheet.text
    assert number in text and "派遣单" in text and "城管中队" in text and "楼道电动车充电" in text
    assert "<svg" in text and "<circle" in text and "接收人" in text and "处置人" in text and "日期" in text
    assert "张三丰" not in text and "10012345678" not in text and "zs@example.org" not in text
    assert "<script" not in text and "@media print" in text
    assert en.status_code == 200 and "Dispatch sheet" in en.text and "Received by" in en.text


def test_cases_map_links_to_the_case_page(world):
    c = _new(world)
    r = world.client.get("/api/v1/cases/map", headers=world.h("sup"),
                         params={"bbox": ",".join(str(v) for v in (7.40, 43.72, 7.44, 43.76)), "zoom": 18})
    assert r.status_code == 200, r.text
    mine = [x for x in r.json()["cases"] if x["number"] == c["number"]]
    assert mine and mine[0]["url"] == f"/desk/cases/{c['number']}"


def test_find_case_by_number(world):
    c = _new(world)
    with transaction(session_factory(world.engine)) as s:
        actor = actor_from_token(s, world.tokens["sup"], world.settings)
        assert find_case(s, actor, c["number"]).id == c["id"]


def test_an_overdue_case_is_escalated_before_its_actions_are_offered(world):
    c = _new(world)  # grid level: the grid's worker may register it
    assert "register" in [a["name"] for a in _file(world, c["number"], "worker_a")["actions"]]
    with transaction(session_factory(world.engine)) as s:
        s.get(Case, c["id"]).deadline_at = dt.datetime.now(dt.UTC) - dt.timedelta(days=3)
    f = _file(world, c["number"], "worker_a")
    assert f["level"] == "community" and f["escalations"] == 1
    assert "register" not in [a["name"] for a in f["actions"]]  # the service would refuse it now
    assert [s["action"] for s in f["timeline"]][-1] == "escalate" and f["timeline"][-1]["actor"] == "系统"
