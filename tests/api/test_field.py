"""Patrols, GPS fixes, visits, photos and Open311, and the field-survey part of the phone's day (checklists, shops,
inspections and visits due), over HTTP on both databases."""

from __future__ import annotations

import datetime as dt
import io
import socket
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from zoneinfo import ZoneInfo

import httpx
import pytest
import uvicorn
from PIL import Image
from sqlalchemy import func, select

from api.app import create_app
from patrol.core.db import session_factory, transaction
from patrol.core.models import Building, Case, Photo
from tests.conftest import shared_scope

UTC = dt.UTC
TODAY = "/api/v1/field/today"


def jpeg_with_gps(lat=(43, 44, 6.0), lon=(7, 25, 12.0)) -> bytes:
    img = Image.new("RGB", (64, 48), (200, 80, 40))
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = "2026:11:20 09:15:00"  # DateTimeOriginal
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: lat, 3: "E", 4: lon})
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def test_patrol_fixes_flag_spikes_and_retries_do_not_duplicate(world):
    c, h = world.client, world.h("worker_a")
    cid = str(uuid.uuid4())
    p = c.post("/api/v1/patrols", headers=h, json={"client_id": cid})
    assert p.status_code == 201 and c.post("/api/v1/patrols", headers=h, json={"client_id": cid}).status_code == 200
    pid = p.json()["id"]
    t0 = dt.datetime.now(UTC) - dt.timedelta(minutes=30)
    x, y = world.point_a
    # walking east at ~4 km/h: 1e-4° lon ≈ 8 m every 7 s; fix 5 is a 2 km spike, fix 7 has 150 m accuracy
    fixes = [{"time": (t0 + dt.timedelta(seconds=7 * i)).isoformat(), "lon": x + 1e-4 * i, "lat": y, "accuracy": 8}
             for i in range(10)]
    fixes[5]["lat"] = y + 0.018
    fixes[7]["accuracy"] = 150
    r = c.post(f"/api/v1/patrols/{pid}/fixes", headers=h, json={"fixes": fixes})
    assert r.json() == {"stored": 10, "duplicates": 0, "flagged": 2}
    again = c.post(f"/api/v1/patrols/{pid}/fixes", headers=h, json={"fixes": fixes[:4]})
    assert again.json() == {"stored": 0, "duplicates": 4, "flagged": 0}
    future = [{"time": (dt.datetime.now(UTC) + dt.timedelta(hours=1)).isoformat(), "lon": x, "lat": y}]
    assert c.post(f"/api/v1/patrols/{pid}/fixes", headers=h, json={"fixes": future}).json()["flagged"] == 1
    bad = c.post(f"/api/v1/patrols/{pid}/fixes", headers=h, json={"fixes": [{**fixes[0], "lat": 95}]})
    assert bad.status_code == 422 and bad.json()["field"].startswith("fixes.0")
    assert c.post(f"/api/v1/patrols/{pid}/fixes", headers=world.h("worker_b"),
                  json={"fixes": fixes}).status_code == 403
    s = c.post(f"/api/v1/patrols/{pid}/end", headers=h).json()
    assert s["flagged"] == {"speed": 1, "accuracy": 1, "future": 1} and s["fixes"] == 11
    # the 8 usable fixes span x … x + 9e-4° of longitude: 9 × 8.04 m at 43.7° N (the spike adds nothing)
    assert s["length_m"] == pytest.approx(9 * 8.04, rel=0.01)
    assert len(s["track"]["coordinates"]) == 8


def test_visit_check_in_is_idempotent_and_scoped(world):
    with transaction(session_factory(world.engine)) as s:
        mine = s.scalar(select(Building.id).where(Building.grid_id == world.grid_a).limit(1))
        other = s.scalar(select(Building.id).where(Building.grid_id == world.grid_b).limit(1))
    body = {"client_id": str(uuid.uuid4()), "building_id": mine, "note": "独居老人，身体好"}
    c, h = world.client, world.h("worker_a")
    assert c.post("/api/v1/visits", headers=h, json=body).status_code == 201
    assert c.post("/api/v1/visits", headers=h, json=body).status_code == 200
    assert c.post("/api/v1/visits", headers=h, json={**body, "client_id": str(uuid.uuid4()),
                                                     "building_id": other}).status_code == 403


def test_a_visit_client_id_of_another_worker_is_a_conflict_that_reveals_nothing(world):
    mine, theirs = _two_buildings(world)
    hid = _household(world, "worker_a", mine, "3-101", "13800138007", 1950)
    body = {"client_id": str(uuid.uuid4()), "building_id": mine, "household_id": hid,
            "needs": [{"type": "medical", "detail": "糖尿病，需要上门送药"}]}
    c = world.client
    first = c.post("/api/v1/visits", headers=world.h("worker_a"), json=body)
    assert first.status_code == 201, first.text
    assert first.json()["household_id"] == hid and len(first.json()["needs"]) == 1
    again = c.post("/api/v1/visits", headers=world.h("worker_a"), json=body)  # her own retry: the first visit
    assert again.status_code == 200 and again.json()["needs"] == first.json()["needs"]
    # worker_b (another grid) replays her client id, with his own building: 409, nothing of the visit
    stolen = c.post("/api/v1/visits", headers=world.h("worker_b"),
                    json={"client_id": body["client_id"], "building_id": theirs})
    assert stolen.status_code == 409, stolen.text
    assert stolen.json()["field"] == "client_id" and "another visit" in stolen.json()["message"]
    for leak in ("糖尿病", str(hid), "needs", "household", str(first.json()["id"])):
        assert leak not in stolen.text


def test_photos_sniffed_exif_kept_and_stripped_when_served(world):
    case = world.report(description="楼道堆物")
    c, h = world.client, world.h("worker_a")
    data = jpeg_with_gps()
    r = c.post(f"/api/v1/cases/{case['id']}/photos", headers=h, files={"file": ("a.jpg", data, "image/jpeg")})
    assert r.status_code == 201, r.text
    ph = r.json()
    assert ph["exif_lat"] == pytest.approx(43 + 44 / 60 + 6 / 3600) and ph["exif_lon"] == pytest.approx(7.42)
    assert c.post(f"/api/v1/cases/{case['id']}/photos", headers=h,
                  files={"file": ("a.jpg", data, "image/jpeg")}).json()["id"] == ph["id"]
    served = c.get(ph["url"], headers=h)
    assert served.headers["content-type"] == "image/jpeg"
    assert len(Image.open(io.BytesIO(served.content)).getexif()) == 0 and b"Exif" not in served.content[:200]
    assert c.get(ph["url"], headers=world.h("worker_b")).status_code == 403
    text = c.post(f"/api/v1/cases/{case['id']}/photos", headers=h, files={"file": ("a.jpg", b"hello", "image/jpeg")})
    assert text.status_code == 422 and text.json()["field"] == "photo"
    big = c.post(f"/api/v1/cases/{case['id']}/photos", headers=h,
                 files={"file": ("b.jpg", data + b"\0" * world.settings.photo_max_bytes, "image/jpeg")})
    assert big.status_code == 422 and "limit" in big.json()["message"]
    detail = c.get(f"/api/v1/cases/{case['id']}", headers=h).json()
    assert [p["id"] for p in detail["photos"]] == [ph["id"]]
    with transaction(session_factory(world.engine)) as s:
        taken = s.get(Photo, ph["id"]).taken_at
        assert taken.replace(tzinfo=taken.tzinfo or UTC).astimezone(UTC) == dt.datetime(2026, 11, 20, 1, 15, tzinfo=UTC)


@pytest.fixture(scope=shared_scope)
def server(world):
    """The app served by uvicorn on a free loopback port, for clients that speak real HTTP."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(create_app(world.settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(100):
        if srv.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


def test_open311_with_the_georeport_client_and_plain_http(world, server):
    from georeport import GeoReport

    base = f"{server}/open311/v2"
    client = GeoReport(base)
    services = client.get_service_list()
    assert {"C0103", "B0109"} <= {s["service_code"] for s in services}
    assert client.get_service_definition("C0103")["service_code"] == "C0103"

    form = {"api_key": world.api_key, "service_code": "B0109", "lat": world.point_a[1], "long": world.point_a[0],
            "description": "路灯不亮", "email": "resident@example.org", "first_name": "Li"}
    created = httpx.post(f"{base}/requests.json", data=form)
    assert created.status_code == 201, created.text
    rid = created.json()[0]["service_request_id"]
    one = client.get_service_requests(service_request_id=rid)
    assert one[0]["status"] == "open" and one[0]["service_code"] == "B0109"
    assert "email" not in one[0] and "resident@example.org" not in httpx.get(f"{base}/requests.json").text
    listed = client.get_service_requests(service_code="B0109", status="open")
    assert rid in {r["service_request_id"] for r in listed}

    xml = httpx.get(f"{base}/requests/{rid}.xml")
    root = ET.fromstring(xml.content)
    assert root.tag == "service_requests" and root.find("request/service_request_id").text == rid
    assert GeoReport(base, output_format="xml").get_service_list()

    for data, status, word in (({**form, "api_key": "wrong"}, 401, "api_key"),
                               ({**form, "service_code": "NOPE"}, 400, "category"),
                               ({k: v for k, v in form.items() if k not in ("lat", "long")}, 400, "lat/long")):
        r = httpx.post(f"{base}/requests.json", data=data)
        assert r.status_code == status and word in r.json()[0]["description"], r.text
        assert r.json()[0]["code"] == status
    bad_xml = httpx.post(f"{base}/requests.xml", data={**form, "api_key": "wrong"})
    assert ET.fromstring(bad_xml.content).find("error/code").text == "401"

    # the centre handles it, the resident rates it low through the extension, and the case is reopened
    with transaction(session_factory(world.engine)) as s:
        from patrol.cases import service as svc
        from patrol.core.auth import SYSTEM

        for a in ("register", "dispatch", "accept", "handle", "verify", "close"):
            svc.transition(s, SYSTEM, world.settings, int(rid), a,
                           unit_id=world.units[0] if a == "dispatch" else None)
    assert client.get_service_requests(service_request_id=rid)[0]["status"] == "closed"
    rated = httpx.post(f"{base}/requests/{rid}/rating.json", data={"api_key": world.api_key, "rating": "1"})
    assert rated.status_code == 200 and rated.json()[0]["status"] == "open"
    with transaction(session_factory(world.engine)) as s:
        case = s.get(Case, int(rid))
        assert case.rating == 1 and case.reopened_count == 1 and case.channel == "open311"


# ---------------------------------------------------------------------------------------------- field surveys


def _today(world, who: str = "worker_a") -> dict:
    r = world.client.get(TODAY, headers=world.h(who))
    assert r.status_code == 200, r.text
    return r.json()


def _two_buildings(world) -> tuple[int, int]:
    """A building of grid_a and one of grid_b, both with households."""
    with transaction(session_factory(world.engine)) as s:
        pick = [s.scalar(select(Building.id).where(Building.grid_id == g, Building.households > 0)
                         .order_by(Building.id).limit(1)) for g in (world.grid_a, world.grid_b)]
    return pick[0], pick[1]


def _household(world, who: str, building_id: int, room: str, phone: str, birth_year: int) -> int:
    c, h = world.client, world.h(who)
    r = c.post("/api/v1/households", headers=h, json={"building_id": building_id, "room": room, "head_name": "李桂兰",
                                                      "phone": phone})
    assert r.status_code == 201, r.text
    hid = r.json()["id"]
    r = c.post(f"/api/v1/households/{hid}/residents", headers=h,
               json={"name": "李桂兰", "phone": phone, "birth_year": birth_year})
    assert r.status_code == 201, r.text
    return hid


def test_field_today_carries_checklists_shops_and_what_is_due_in_her_grids_only(world):
    import yaml

    from patrol.core.models import Checklist, ResidentAudit
    from patrol.surveys.checklists import (
        builtin_files,
        definition_of,
        latest_checklists,
        load_builtin_checklists,
        load_checklist,
    )

    factory = session_factory(world.engine)
    with transaction(factory) as s:
        load_builtin_checklists(s)
    c = world.client
    mine, other = _two_buildings(world)
    shop_a = c.post("/api/v1/shops", headers=world.h("worker_a"),
                    json={"name": "老王面馆", "kind": "restaurant", "building_id": mine}).json()["code"]
    shop_b = c.post("/api/v1/shops", headers=world.h("worker_b"),
                    json={"name": "小李超市", "building_id": other}).json()["code"]
    year = dt.datetime.now(ZoneInfo(world.settings.timezone)).year
    old = _household(world, "worker_a", mine, "1-101", "13912345678", year - 85)
    _household(world, "worker_a", mine, "1-102", "13700001111", year - 30)  # nobody vulnerable: never due
    _household(world, "worker_b", other, "2-201", "13600002222", year - 90)  # due, but in worker_b's grid

    r = c.get(TODAY, headers=world.h("worker_a"))
    assert r.status_code == 200, r.text
    day = r.json()

    # every active checklist in full, with the id of the exact version the phone answers against
    with transaction(factory) as s:
        latest = {x.code: (x.id, x.version, definition_of(x)) for x in latest_checklists(s)}
    assert set(latest) == {"stairwell_fire", "shop_safety", "construction_site", "fire_lane"}
    assert {x["code"]: (x["id"], x["version"], {k: v for k, v in x.items() if k not in ("id", "version")})
            for x in day["checklists"]} == latest
    stair = next(x for x in day["checklists"] if x["code"] == "stairwell_fire")
    assert stair["items"][0]["text"] == {"zh": "楼道内无杂物堆放", "en": "Stairwell free of stored clutter"}

    # the shops of her grids, not the neighbour's
    assert [x["code"] for x in day["shops"]] == [shop_a]
    assert set(day["shops"][0]) >= {"id", "code", "name", "kind", "building_id", "lon", "lat", "last_inspection_at",
                                    "open_findings"}
    assert day["shops"][0]["last_inspection_at"] is None

    # inspections due: her shop and her buildings (never inspected), nothing of grid_b
    due = day["inspections_due"]
    assert ("shop_safety", shop_a) in {(x["checklist_code"], x["shop_code"]) for x in due}
    assert shop_b not in {x["shop_code"] for x in due}
    with transaction(factory) as s:
        hers = set(s.scalars(select(Building.id).where(Building.grid_id == world.grid_a)))
    targets = {x["building_id"] for x in due if x["target"] == "building"}
    assert targets and targets <= hers
    assert all(x["checklist_id"] == latest[x["checklist_code"]][0] for x in due)

    # visits due: her 85-year-old only, the phone masked — and the read is in the audit trail
    assert [v["household_id"] for v in day["visits_due"]] == [old]
    (person,) = day["visits_due"][0]["residents"]
    assert person["phone"] == "139****5678" and "elderly" in person["reasons"]
    assert "13912345678" not in r.text and "13600002222" not in r.text
    with transaction(factory) as s:
        audited = s.scalars(select(ResidentAudit).where(ResidentAudit.via == TODAY)).all()
        # one row for the household, one for its resident, for worker_a; none for the households not listed
        assert sorted((a.household_id, a.resident_id is not None, a.action, a.actor_id) for a in audited) == [
            (old, False, "due", world.users["worker_a"]), (old, True, "due", world.users["worker_a"])]

    # she inspects the shop (a loose sign fails) and visits the household: both leave her lists
    shop_cl = next(x for x in day["checklists"] if x["code"] == "shop_safety")
    insp = c.post("/api/v1/inspections", headers=world.h("worker_a"), json={
        "client_id": str(uuid.uuid4()), "checklist_id": shop_cl["id"], "shop_code": shop_a,
        "answers": {"licence_displayed": True, "outside_trading": True, "signboard": "loose", "gas_used": False,
                    "extinguishers": 2, "ebike_charging": True}})
    assert insp.status_code == 201, insp.text
    visit = c.post("/api/v1/visits", headers=world.h("worker_a"),
                   json={"client_id": str(uuid.uuid4()), "building_id": mine, "household_id": old})
    assert visit.status_code == 201, visit.text
    after = _today(world)
    assert shop_a not in {x["shop_code"] for x in after["inspections_due"]}
    assert after["visits_due"] == []
    (shop,) = after["shops"]
    assert shop["last_inspection_at"] is not None and shop["open_findings"] == 1

    # a changed checklist is a new version: the phone gets it, and only it
    text = next(p for p in builtin_files() if p.name == "stairwell_fire.yaml").read_text(encoding="utf-8")
    changed = yaml.safe_load(text)
    changed["title"]["zh"] = "楼道消防安全检查（2027 版）"
    with transaction(factory) as s:
        row, created = load_checklist(s, changed)
        assert created and row.version == 2
        new_id = row.id
        assert s.scalar(select(func.count(Checklist.id)).where(Checklist.code == "stairwell_fire")) == 2
    stairs = [x for x in _today(world)["checklists"] if x["code"] == "stairwell_fire"]
    assert [(x["id"], x["version"], x["title"]["zh"]) for x in stairs] == [(new_id, 2, "楼道消防安全检查（2027 版）")]

    # the day is a grid worker's: a supervisor gets no field day (and so no one's personal data)
    assert c.get(TODAY, headers=world.h("sup")).status_code == 403


def test_only_the_worker_ends_her_patrol_her_supervisor_reads_it(world):
    c = world.client
    pid = c.post("/api/v1/patrols", headers=world.h("worker_a"), json={"client_id": str(uuid.uuid4())}).json()["id"]
    for who in ("admin", "sup", "subd"):  # they read her patrol, and ending it is hers
        assert c.get(f"/api/v1/patrols/{pid}", headers=world.h(who)).status_code == 200
        refused = c.post(f"/api/v1/patrols/{pid}/end", headers=world.h(who))
        assert refused.status_code == 403 and refused.json()["field"] == "patrol_id", (who, refused.text)
    assert c.get(f"/api/v1/patrols/{pid}", headers=world.h("sup")).json()["ended_at"] is None
    assert c.post(f"/api/v1/patrols/{pid}/end", headers=world.h("worker_a")).json()["ended_at"] is not None
