"""The field app's server side over HTTP on both databases: GET /api/v1/field/today and photos attached by the
client id of a queued transition. Each test has a world of its own: they assert on a pristine day (nothing reported,
nothing walked) and one deletes the roads."""

from __future__ import annotations

import datetime as dt
import io
import re
import time
import uuid
from zoneinfo import ZoneInfo

import pytest
import shapely
import shapely.geometry
from PIL import Image
from sqlalchemy import delete, func, select

from patrol.core.db import session_factory, transaction
from patrol.core.models import Building, Grid, Photo, Revisit, RoadSegment
from tests.api.conftest import own_world

pytestmark = pytest.mark.db
world = pytest.fixture(name="world")(own_world)
UTC = dt.UTC
TODAY = "/api/v1/field/today"


def _today(world, who="worker_a", **params) -> dict:
    r = world.client.get(TODAY, headers=world.h(who), params=params)
    assert r.status_code == 200, r.text
    return r.json()


def _jpeg(colour=(30, 160, 60)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), colour).save(out, "JPEG")
    return out.getvalue()


def _grid_polygon(world, grid_id: int):
    with transaction(session_factory(world.engine)) as s:
        return shapely.from_wkb(bytes(s.scalar(select(func.ST_AsBinary(Grid.geom)).where(Grid.id == grid_id))))


def test_categories_carry_pinyin_and_her_most_used_come_first(world):
    before = _today(world)["categories"]
    assert [c["code"] for c in before] == sorted(c["code"] for c in before)  # nothing reported yet: by code
    assert all(c["uses"] == 0 for c in before)
    # 毁绿种菜 (C0101 in patrol/data/categories.csv): hui lü zhong cai, ü written v as on a keyboard
    green = next(c for c in before if c["code"] == "C0101")
    assert green["name_zh"] == "毁绿种菜" and (green["pinyin"], green["initials"]) == ("huilvzhongcai", "hlzc")
    # 电动车违规充电/私拉电线充电: the slash is dropped, every character keeps its letters
    ev = next(c for c in before if c["name_zh"] == "电动车违规充电/私拉电线充电")
    assert ev["pinyin"] == "diandongcheweiguichongdiansiladianxianchongdian"
    assert ev["initials"] == "ddcwgcdsldxcd"
    for c in before:
        assert c["pinyin"].isascii() and c["pinyin"] == c["pinyin"].lower() and " " not in c["pinyin"]
        assert len(c["initials"]) == len(c["name_zh"].replace("/", ""))
        assert set(c) >= {"code", "name_zh", "name_en", "major_zh", "major_en", "level", "deadline_hours",
                          "severity", "pinyin", "initials", "uses"}
    for _ in range(2):
        world.report(category="C0101", description="绿地里种了菜")
    world.report("worker_b", category="B0101", point=world.point_b)  # city-wide use breaks the ties after hers
    after = _today(world)["categories"]
    assert after[0]["code"] == "C0101" and after[0]["uses"] == 2
    assert after[1]["code"] == "B0101" and after[1]["uses"] == 0
    assert [c["code"] for c in after[2:]] == sorted(c["code"] for c in after[2:])
    assert _today(world, "worker_b")["categories"][0]["code"] == "B0101"


def test_her_grid_and_its_buildings(world):
    day = _today(world)
    local = dt.datetime.now(ZoneInfo(world.settings.timezone)).date()
    assert day["date"] in (local.isoformat(), (local - dt.timedelta(days=1)).isoformat(),
                           (local + dt.timedelta(days=1)).isoformat())
    assert day["timezone"] == "Asia/Shanghai"
    assert day["user"] == {"id": world.users["worker_a"], "username": "worker_a", "display_name": "worker_a",
                           "role": "grid_worker"}
    grids = day["grids"]
    assert grids["type"] == "FeatureCollection" and [f["properties"]["id"] for f in grids["features"]] == \
        [world.grid_a]
    props = grids["features"][0]["properties"]
    poly = shapely.geometry.shape(grids["features"][0]["geometry"])
    with transaction(session_factory(world.engine)) as s:
        n, households = s.execute(select(func.count(Building.id), func.sum(Building.households))
                                  .where(Building.grid_id == world.grid_a)).one()
        grid = s.get(Grid, world.grid_a)
        code, name, community_id = grid.code, grid.name, grid.community_id
        footprints = {i: shapely.from_wkb(bytes(w)) for i, w in s.execute(
            select(Building.id, func.ST_AsBinary(Building.geom)).where(Building.grid_id == world.grid_a))}
    assert (props["code"], props["name"], props["community_id"]) == (code, name, community_id)
    assert props["community_name"] and props["buildings"] == n and props["households"] == households
    assert poly.equals_exact(_grid_polygon(world, world.grid_a), 1e-9)
    buildings = day["buildings"]
    assert n > 0 and len(buildings) == n and {b["grid_id"] for b in buildings} == {world.grid_a}
    assert sum(b["households"] for b in buildings) == households
    near_grid = poly.buffer(1e-6)  # the points are rounded to 7 decimals (≈1 cm)
    for b in buildings:
        assert set(b) == {"id", "label", "name", "address", "households", "grid_id", "lon", "lat", "ring"}
        assert b["label"] and not re.search(r"#\d", b["label"])  # a readable name, never the id
        # the outline to tap on the report's map, simplified by ≈0.5 m, in millionths of a degree from the point
        ring = shapely.Polygon([(b["lon"] + dx / 1e6, b["lat"] + dy / 1e6) for dx, dy in b["ring"]])
        assert all(isinstance(v, int) for xy in b["ring"] for v in xy)
        assert ring.is_valid and footprints[b["id"]].buffer(1e-5).contains(ring), b
        p = shapely.Point(b["lon"], b["lat"])
        assert round(b["lon"], 7) == b["lon"] and round(b["lat"], 7) == b["lat"]
        assert near_grid.contains(p), b
        assert footprints[b["id"]].buffer(1e-6).contains(p), b  # a point inside the footprint, not its centroid
    assert day["covered"] == {"type": "FeatureCollection", "features": []} and day["walked_m"] == 0.0
    assert day["open_patrol"] is None


def test_roles_and_the_start_point(world):
    c = world.client
    for who in ("sup", "planner", "admin", "dept1"):
        r = c.get(TODAY, headers=world.h(who))
        assert r.status_code == 403 and r.json()["field"] == "role", (who, r.text)
    r = c.get(TODAY)
    assert r.status_code == 401 and r.json()["field"] == "authorization"
    for params, field in (({"lat": world.point_a[1]}, "lon"), ({"lon": world.point_a[0]}, "lat"),
                          ({"lat": 95, "lon": world.point_a[0]}, "lat"), ({"lat": "north", "lon": 7.4}, "lat")):
        r = c.get(TODAY, headers=world.h("worker_a"), params=params)
        assert r.status_code == 422 and r.json()["field"] == field, (params, r.text)
    lon, lat = world.point_a
    tasks = _today(world, lat=lat, lon=lon)["tasks"]
    assert tasks["start"] == {"lon": pytest.approx(lon), "lat": pytest.approx(lat)}


def test_stops_carry_their_case_and_what_she_may_do(world):
    case = world.report(description="楼道内电动车充电", address="3号楼2单元")  # C0103, grid level
    cid = case["id"]
    world.act("worker_a", cid, "register")
    world.act("worker_a", cid, "dispatch", assignee_id=world.users["worker_a"])
    tasks = _today(world)["tasks"]
    assert set(tasks) >= {"stops", "route", "length_m", "eta_s", "empty", "message"}
    assert tasks["empty"] is False and tasks["message"] is None
    stop = next(s for s in tasks["stops"] if s["case_id"] == cid)
    assert stop["kind"] == "handle" and stop["actions"] == ["accept"]
    assert stop["status"] == "dispatched" and stop["description"] == "楼道内电动车充电"
    assert stop["address"] == "3号楼2单元" and stop["level"] == "grid" and stop["overdue"] is False
    assert stop["category"] == "C0103" and stop["category_name_zh"] and stop["category_name_en"]
    assert stop["deadline_at"] and stop["reported_at"] == case["reported_at"] and "building_id" in stop
    assert stop["order"] >= 1 and stop["lon"] == pytest.approx(world.point_a[0])
    assert tasks["route"] is None or tasks["route"]["type"] == "LineString"
    assert not any(s["case_id"] == cid for s in _today(world, "worker_b")["tasks"]["stops"])

    world.act("worker_a", cid, "accept")
    stop = next(s for s in _today(world)["tasks"]["stops"] if s["case_id"] == cid)
    assert (stop["kind"], stop["status"], stop["actions"]) == ("handle", "accepted", ["handle"])

    world.act("worker_a", cid, "handle", note="已清理")
    stops = [s for s in _today(world)["tasks"]["stops"] if s["case_id"] == cid]
    assert [(s["kind"], s["status"], s["actions"]) for s in stops] == [("verify", "handled", ["verify", "rework"])]
    assert not any(s["case_id"] == cid for s in _today(world, "worker_b")["tasks"]["stops"])

    world.act("worker_a", cid, "verify")
    world.act("worker_a", cid, "close")
    assert not any(s["case_id"] == cid for s in _today(world)["tasks"]["stops"])

    with transaction(session_factory(world.engine)) as s:  # its 回头看 falls due: recorded via /revisits, no action
        rv = s.scalars(select(Revisit).where(Revisit.case_id == cid)).one()
        rv.due_on, rid = dt.date.today() - dt.timedelta(days=2), rv.id
    stop = next(s for s in _today(world)["tasks"]["stops"] if s["case_id"] == cid)
    assert (stop["kind"], stop["revisit_id"], stop["status"], stop["actions"]) == ("revisit", rid, "closed", [])
    world.client.post(f"/api/v1/revisits/{rid}", headers=world.h("worker_a"), json={"outcome": "still_fixed"})
    assert not any(s["case_id"] == cid for s in _today(world)["tasks"]["stops"])


def test_photo_attached_by_the_client_id_of_a_queued_verify(world):
    cid = world.report(description="占道堆物")["id"]
    for action in ("register", "dispatch", "accept", "handle"):
        world.act("worker_a", cid, action)
    verify_cid = str(uuid.uuid4())
    world.act("worker_a", cid, "verify", client_id=verify_cid)
    c, h = world.client, world.h("worker_a")

    def upload(data: bytes, **form):
        return c.post(f"/api/v1/cases/{cid}/photos", headers=h, data=form,
                      files={"file": ("after.jpg", data, "image/jpeg")})

    def photos() -> int:
        with transaction(session_factory(world.engine)) as s:
            return s.scalar(select(func.count(Photo.id)).where(Photo.case_id == cid))

    # errors first, so nothing is stored before the good upload
    other = world.report(description="别的案件")["id"]
    other_cid = str(uuid.uuid4())
    world.act("worker_a", other, "register", client_id=other_cid)
    timeline = c.get(f"/api/v1/cases/{cid}", headers=h).json()["timeline"]
    verify_event = next(e["id"] for e in timeline if e["action"] == "verify")
    for form in ({"event_client_id": str(uuid.uuid4())},  # unknown
                 {"event_client_id": other_cid},  # another case's event
                 {"event_client_id": "not-a-uuid"},
                 {"event_client_id": verify_cid, "event_id": str(verify_event)}):  # both
        r = upload(_jpeg((200, 10, 10)), **form)
        assert r.status_code == 422 and r.json()["field"] == "event_client_id", (form, r.text)
    assert photos() == 0

    r = upload(_jpeg(), event_client_id=verify_cid.upper())
    assert r.status_code == 201, r.text
    assert upload(_jpeg(), event_client_id=verify_cid).json()["id"] == r.json()["id"]  # a retried upload
    world.act("worker_a", cid, "close")  # a later event: the photo stays with the verify
    detail = c.get(f"/api/v1/cases/{cid}", headers=h).json()
    assert [(p["id"], p["event_id"]) for p in detail["photos"]] == [(r.json()["id"], verify_event)]
    assert next(e for e in detail["timeline"] if e["action"] == "verify")["photos"] == [r.json()["id"]]
    assert photos() == 1


def _street_in(world, grid_id: int, length_m: float = 100.0) -> list[tuple[float, float]]:
    """Points every ~7 m along the longest piece of a real street inside the grid (Monaco's own coordinates)."""
    poly = _grid_polygon(world, grid_id)
    with transaction(session_factory(world.engine)) as s:
        lines = [shapely.from_wkb(bytes(w)) for w in s.scalars(
            select(func.ST_AsBinary(RoadSegment.geom)).where(RoadSegment.highway.in_(
                ("residential", "footway", "pedestrian", "tertiary", "secondary", "living_street", "service",
                 "unclassified", "primary"))))]
    inner = poly.buffer(-0.0002)  # ~20 m inside the edge
    pieces = [g for line in lines for g in getattr(line.intersection(inner), "geoms", [line.intersection(inner)])
              if isinstance(g, shapely.LineString) and not g.is_empty]
    best = max(pieces, key=lambda g: g.length)
    step = 7 / 111_000  # degrees, roughly
    n = max(3, min(int(best.length / step), int(length_m / 7)))
    return [(p.x, p.y) for p in (best.interpolate(i * step) for i in range(n))]


def _patrol_today(world) -> tuple[dict, list[tuple[float, float]], dt.datetime]:
    """Worker A opens a patrol that started earlier today along a street of her grid: (patrol, points, start)."""
    pts = _street_in(world, world.grid_a)
    zone = ZoneInfo(world.settings.timezone)
    now = dt.datetime.now(UTC)
    midnight = dt.datetime.combine(now.astimezone(zone).date(), dt.time(), tzinfo=zone).astimezone(UTC)
    t0 = max(now - dt.timedelta(minutes=30), midnight + dt.timedelta(seconds=1))
    span = dt.timedelta(seconds=7 * len(pts))
    if t0 + span > now:  # just after local midnight: wait until the walk lies in today and in the past
        time.sleep((t0 + span - now).total_seconds() + 1)
    p = world.client.post("/api/v1/patrols", headers=world.h("worker_a"), json={"client_id": str(uuid.uuid4()),
                                                                               "started_at": t0.isoformat()}).json()
    return p, pts, t0


def _walk(world, p: dict, pts: list[tuple[float, float]], t0: dt.datetime) -> None:
    """Her fixes every 7 s along the points (none flagged)."""
    fixes = [{"time": (t0 + dt.timedelta(seconds=7 * i)).isoformat(), "lon": x, "lat": y, "accuracy": 5}
             for i, (x, y) in enumerate(pts)]
    r = world.client.post(f"/api/v1/patrols/{p['id']}/fixes", headers=world.h("worker_a"), json={"fixes": fixes})
    assert r.json()["flagged"] == 0


def test_walked_and_covered_today_and_the_open_patrol(world):
    c, h = world.client, world.h("worker_a")
    p, pts, t0 = _patrol_today(world)
    day = _today(world)
    assert day["open_patrol"] == {"id": p["id"], "client_id": p["client_id"], "started_at": p["started_at"]}
    assert day["walked_m"] == 0.0 and day["covered"]["features"] == []
    _walk(world, p, pts, t0)
    day = _today(world)
    length = c.get(f"/api/v1/patrols/{p['id']}", headers=h).json()["length_m"]
    assert day["walked_m"] > 0 and day["walked_m"] == pytest.approx(length, abs=0.2)
    covered = day["covered"]
    assert covered["type"] == "FeatureCollection" and len(covered["features"]) >= 1
    total = 0.0
    for f in covered["features"]:
        assert f["geometry"]["type"] == "LineString" and f["properties"]["length_m"] > 0
        total += f["properties"]["length_m"]
        assert shapely.geometry.shape(f["geometry"]).distance(shapely.LineString(pts)) < 0.0005
    assert total >= 0.5 * length  # she walked along the street: about that much of it is covered
    assert _today(world, "worker_b")["walked_m"] == 0.0
    c.post(f"/api/v1/patrols/{p['id']}/end", headers=h)
    assert _today(world)["open_patrol"] is None


def test_without_roads_the_stops_come_unordered_with_a_message(world):
    p, pts, t0 = _patrol_today(world)
    _walk(world, p, pts, t0)
    world.client.post(f"/api/v1/patrols/{p['id']}/end", headers=world.h("worker_a"))
    cid = world.report(description="无路可走")["id"]
    world.act("worker_a", cid, "register")
    world.act("worker_a", cid, "dispatch", assignee_id=world.users["worker_a"])
    with transaction(session_factory(world.engine)) as s:
        s.execute(delete(RoadSegment))
    day = _today(world)
    tasks = day["tasks"]
    assert tasks["route"] is None and tasks["message"] and "roads" in tasks["message"]
    assert [s["order"] for s in tasks["stops"]] == list(range(1, len(tasks["stops"]) + 1))
    stop = next(s for s in tasks["stops"] if s["case_id"] == cid)
    assert stop["kind"] == "handle" and stop["actions"] == ["accept"] and stop["status"] == "dispatched"
    assert day["walked_m"] > 0  # today's walk is still counted
