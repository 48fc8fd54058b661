"""我的上报, duplicates before sending, 补充 (supplement) and 自行处置 (self-handled reports), on both databases: she
sees only her own reports; the duplicates offered are the case page's; a supplement changes no status, is refused
to those who may not work on the case, is idempotent by client id and carries its photos; a self-handled report
walks the loop to ``handled`` at grid level, is refused for a category that is not the grid's, and counts in the
KPIs."""

from __future__ import annotations

import datetime as dt
import io
import json
import uuid

from PIL import Image
from sqlalchemy import select

from patrol.core.db import session_factory, transaction
from patrol.core.models import CaseEvent, Photo

MINE = "/api/v1/field/my-reports"
DUPES = "/api/v1/field/duplicates"
SELF = "/api/v1/field/self-handled"


def _jpeg(colour=(200, 60, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), colour).save(out, "JPEG")
    return out.getvalue()


def _near(point, metres_east: float):
    return point[0] + metres_east / 80_000, point[1]  # ≈ 80 km per degree of longitude at Monaco


def test_my_reports_are_hers_only_newest_first_with_number_state_and_latest_step(world):
    c = world.client
    a1 = world.report("worker_a", description="第一条")
    a2 = world.report("worker_a", description="第二条")
    b1 = world.report("worker_b", point=world.point_b)
    s1 = world.report("sup")
    world.act("sup", a1["id"], "register")
    r = c.get(MINE, headers=world.h("worker_a"), params={"limit": 100})
    assert r.status_code == 200, r.text
    body = r.json()
    numbers = [i["number"] for i in body["items"]]
    assert a1["number"] in numbers and a2["number"] in numbers
    assert b1["number"] not in numbers and s1["number"] not in numbers  # never another's report
    assert numbers.index(a2["number"]) < numbers.index(a1["number"])  # newest first
    first = next(i for i in body["items"] if i["number"] == a1["number"])
    assert first["status"] == "registered" and first["latest"]["action"] == "register"
    assert first["latest"]["label_zh"] == "立案" and first["latest"]["at"]
    assert first["client_id"] == a1["client_id"] and first["category"]["zh"]
    second = next(i for i in body["items"] if i["number"] == a2["number"])
    assert second["latest"]["action"] == "report" and second["latest"]["label_zh"] == "上报"
    assert body["total"] >= 2
    # a case in her grid that she did not report is not "mine", though she can read it
    assert all(i["number"] != s1["number"] for i in body["items"])
    page = c.get(MINE, headers=world.h("worker_a"), params={"limit": 1, "offset": 1}).json()
    assert len(page["items"]) == 1 and page["items"][0]["number"] == numbers[1]
    bad = c.get(MINE, headers=world.h("worker_a"), params={"limit": 0})
    assert bad.status_code == 422 and bad.json()["field"] == "limit"
    assert c.get(MINE).status_code == 401


def test_duplicates_offered_then_supplement_adds_a_step_and_its_photo(world):
    c = world.client
    first = world.report("sup", category="C0105", description="消防通道被堵")
    world.act("sup", first["id"], "register")
    lon, lat = _near(world.point_a, 10)
    r = c.get(DUPES, headers=world.h("worker_a"), params={"category": "C0105", "lon": lon, "lat": lat})
    assert r.status_code == 200, r.text
    found = {d["number"]: d for d in r.json()["cases"]}
    assert first["number"] in found and found[first["number"]]["can_supplement"] is True
    assert 5 < found[first["number"]]["distance_m"] <= 30
    far = c.get(DUPES, headers=world.h("worker_a"), params={"category": "C0105", "lon": _near(world.point_a, 60)[0],
                                                           "lat": lat}).json()
    assert first["number"] not in {d["number"] for d in far["cases"]}
    other_cat = c.get(DUPES, headers=world.h("worker_a"), params={"category": "C0102", "lon": lon, "lat": lat})
    assert first["number"] not in {d["number"] for d in other_cat.json()["cases"]}
    unknown = c.get(DUPES, headers=world.h("worker_a"), params={"category": "NOPE", "lon": lon, "lat": lat})
    assert unknown.status_code == 422 and unknown.json()["field"] == "category"

    cid = str(uuid.uuid4())
    done = world.act("worker_a", first["id"], "supplement", note="现场又堆了杂物", client_id=cid)
    assert done["status"] == "registered"  # no change of state
    again = world.act("worker_a", first["id"], "supplement", note="现场又堆了杂物", client_id=cid)  # a retry
    photo = c.post(f"/api/v1/cases/{first['id']}/photos", headers=world.h("worker_a"),
                   files={"file": ("p.jpg", _jpeg(), "image/jpeg")}, data={"event_client_id": cid})
    assert photo.status_code == 201, photo.text
    steps = [e for e in again["timeline"] if e["action"] == "supplement"]
    assert len(steps) == 1 and steps[0]["label_zh"] == "补充" and steps[0]["note"] == "现场又堆了杂物"
    with transaction(session_factory(world.engine)) as s:
        ev = s.scalars(select(CaseEvent).where(CaseEvent.client_id == cid)).one()
        assert s.scalar(select(Photo.event_id).where(Photo.id == photo.json()["id"])) == ev.id
    # the desk's case page shows the step with its photo
    page = c.get(f"/api/v1/desk/cases/{first['number']}", headers=world.h("sup"))
    assert page.status_code == 200, page.text
    step = next(e for e in page.json()["timeline"] if e["action"] == "supplement")
    assert [p["id"] for p in step["photos"]] == [photo.json()["id"]]
    # roles: the worker of another grid, a department and a planner may not; a supervisor may
    world.act("worker_b", first["id"], "supplement", expect=403, note="x")
    world.act("dept1", first["id"], "supplement", expect=403, note="x")
    world.act("planner", first["id"], "supplement", expect=403, note="x")
    world.act("sup", first["id"], "supplement", note="社区补充")
    # a finished case takes no supplement (409 naming the action)
    world.act("sup", first["id"], "reject", expect=409, note="x")
    closed = world.report("sup", category="C0105")
    world.act("sup", closed["id"], "reject", note="不属实")
    r = c.post(f"/api/v1/cases/{closed['id']}/actions/supplement", headers=world.h("worker_a"), json={"note": "x"})
    assert r.status_code == 409 and r.json()["field"] == "action"


def _self_handled(world, who="worker_a", category="C0103", photo=True, **extra):
    report = {"client_id": str(uuid.uuid4()), "category": category, "lon": world.point_a[0],
              "lat": world.point_a[1], "description": "楼道里私拉电线充电", **extra}
    files = {"file": ("after.jpg", _jpeg((20, 120, 220)), "image/jpeg")} if photo else None
    return report, world.client.post(SELF, headers=world.h(who), data={"report": json.dumps(report)}, files=files)


def test_self_handled_ends_handled_at_grid_level_and_counts_in_kpis(world):
    c = world.client
    before = c.get("/api/v1/analytics/kpis", headers=world.h("sup")).json()["rows"][0]
    report, r = _self_handled(world, note="已拔掉电线")
    assert r.status_code == 201, r.text
    case = r.json()
    assert case["status"] == "handled" and case["level"] == "grid" and case["channel"] == "self_handled"
    assert case["assignee_id"] == world.users["worker_a"] and case["number"]
    detail = c.get(f"/api/v1/cases/{case['id']}", headers=world.h("worker_a")).json()
    steps = [(e["action"], e["from"], e["to"]) for e in detail["timeline"]]
    assert steps == [("report", None, "reported"), ("register", "reported", "registered"),
                     ("dispatch", "registered", "dispatched"), ("accept", "dispatched", "accepted"),
                     ("handle", "accepted", "handled")]
    assert all(e["note"].startswith("自行处置") for e in detail["timeline"][1:])
    handle = detail["timeline"][-1]
    assert handle["note"] == "自行处置：已拔掉电线" and handle["photos"] == [case["photo_id"]]
    # a retry (same client id, same photo) changes nothing
    again = c.post(SELF, headers=world.h("worker_a"), data={"report": json.dumps(report)},
                   files={"file": ("after.jpg", _jpeg((20, 120, 220)), "image/jpeg")})
    assert again.status_code == 200 and again.json()["id"] == case["id"]
    assert again.json()["photo_id"] == case["photo_id"]
    # the community verifies and closes it as usual; she does not check her own work
    world.act("worker_a", case["id"], "verify", expect=403)
    tasks = c.get("/api/v1/tasks", headers=world.h("worker_a")).json()
    assert case["id"] not in [t["id"] for t in tasks["verify"]]  # nor is it on her list to check
    assert "verify" in [a["name"] for a in c.get(f"/api/v1/desk/cases/{case['number']}",
                                                   headers=world.h("sup")).json()["actions"]]
    mine = c.get(MINE, headers=world.h("worker_a"), params={"limit": 100}).json()["items"]
    listed = next(i for i in mine if i["number"] == case["number"])
    assert listed["self_handled"] is True and listed["status"] == "handled"
    after = c.get("/api/v1/analytics/kpis", headers=world.h("sup")).json()["rows"][0]
    assert after["self_handled"] == before["self_handled"] + 1
    assert after["settled_in_grid_rate_num"] == before["settled_in_grid_rate_num"] + 1
    assert after["settled_in_grid_rate_den"] == before["settled_in_grid_rate_den"] + 1
    assert 0 < after["settled_in_grid_rate"] <= 1


def test_self_handled_offline_keeps_the_time_she_did_it(world):
    """自行处置 done in a dead zone three hours ago and synced now: every step is at the time she did it, the receipt
    kept next to it (patrol.cases.times)."""
    did = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=3)).replace(microsecond=0)
    _, r = _self_handled(world, occurred_at=did.isoformat())
    assert r.status_code == 201, r.text
    factory = session_factory(world.engine)
    with factory() as s:
        events = s.scalars(select(CaseEvent).where(CaseEvent.case_id == r.json()["id"]).order_by(CaseEvent.id)).all()
        assert [e.action for e in events] == ["report", "register", "dispatch", "accept", "handle"]
        assert all(e.at == did for e in events), [e.at for e in events]
        assert all(e.received_at is not None and e.received_at - did > dt.timedelta(hours=2, minutes=59)
                   for e in events)


def test_self_handled_refusals_name_the_field(world):
    _, r = _self_handled(world, category="B0109")  # 路灯: a department's
    assert r.status_code == 422 and r.json()["field"] == "category", r.text
    assert "grid" in r.json()["message"]
    _, r = _self_handled(world, photo=False)  # the after-photo is required
    assert r.status_code == 422 and r.json()["field"] == "file", r.text
    _, r = _self_handled(world, who="sup")
    assert r.status_code == 403 and r.json()["field"] == "role"
    _, r = _self_handled(world, who="worker_b")  # not her grid
    assert r.status_code == 403 and r.json()["field"] == "lat"
    r = world.client.post(SELF, headers=world.h("worker_a"), data={"report": "{\"category\": 1}"},
                          files={"file": ("after.jpg", _jpeg(), "image/jpeg")})
    assert r.status_code == 422 and r.json()["field"].startswith("report."), r.text
    # a photo that is not one: nothing is written (one transaction)
    report = {"client_id": str(uuid.uuid4()), "category": "C0103", "lon": world.point_a[0], "lat": world.point_a[1]}
    r = world.client.post(SELF, headers=world.h("worker_a"), data={"report": json.dumps(report)},
                          files={"file": ("after.jpg", b"not a photo", "image/jpeg")})
    assert r.status_code == 422, r.text
    mine = world.client.get(MINE, headers=world.h("worker_a"), params={"limit": 100}).json()["items"]
    assert report["client_id"] not in {i["client_id"] for i in mine}
