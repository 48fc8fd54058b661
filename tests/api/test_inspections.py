"""Checklists and inspections over HTTP (and the CLI) on both databases: versions, inspections whose failed items
open cases due by a rectification deadline, idempotent retries, photos, scope, reports and the due list."""

from __future__ import annotations

import datetime as dt
import io
import math
import uuid

import pytest
from PIL import Image
from sqlalchemy import func, select, update

from api.cli import main as cli_main
from patrol.cases import service as svc
from patrol.core.auth import SYSTEM, actor_for, create_user
from patrol.core.db import session_factory, transaction
from patrol.core.frames import read_frame
from patrol.core.models import Building, Case, Grid, Inspection, InspectionFinding, Photo
from patrol.surveys import inspections as ins
from patrol.surveys import shops as sh
from patrol.surveys.checklists import load_builtin_checklists
from tests.api.conftest import PASSWORD, ROLE_USERS
from tests.conftest import shared_scope

SH = dt.timezone(dt.timedelta(hours=8))
SHIPPED = ("construction_site", "fire_lane", "shop_safety", "stairwell_fire")
STAIRWELL_USES = ("residential", "apartments", "house", "dormitory", "yes")
PASS = {"clutter": True, "ebike_charging": True, "ebikes_indoor": 0, "extinguisher": True,
        "extinguisher_state": "ok", "hydrant_box": "ok", "emergency_light": True, "exits_clear": True}


@pytest.fixture(scope=shared_scope)
def lists(world) -> dict[str, dict]:
    """The shipped checklists loaded in the world: code → summary (id of the version in force)."""
    with transaction(session_factory(world.engine)) as s:
        load_builtin_checklists(s)
    r = world.client.get("/api/v1/checklists", headers=world.h("worker_a"))
    assert r.status_code == 200
    return {c["code"]: c for c in r.json()}


def buildings(world, grid_id: int, n: int = 1) -> list[int]:
    with transaction(session_factory(world.engine)) as s:
        ids = list(s.scalars(select(Building.id).where(Building.grid_id == grid_id, Building.households > 0,
                                                       Building.use.in_(STAIRWELL_USES))
                             .order_by(Building.id).limit(n)))
    assert len(ids) == n
    return ids


def inspect(world, who: str, expect: int | None = 201, **body):
    body.setdefault("client_id", str(uuid.uuid4()))
    r = world.client.post("/api/v1/inspections", headers=world.h(who), json=body)
    if expect is not None:
        assert r.status_code == expect, r.text
    return r


def jpeg() -> bytes:
    img = Image.new("RGB", (40, 30), (30, 120, 200))
    exif = Image.Exif()
    exif.get_ifd(0x8825).update({1: "N", 2: (43, 44, 6.0), 3: "E", 4: (7, 25, 12.0)})
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def at(t: str) -> dt.datetime:
    return dt.datetime.fromisoformat(t)


# ---------------------------------------------------------------------------------------------- the loop


def test_failed_items_open_cases_due_by_the_rectification_deadline_and_a_retry_changes_nothing(world, lists):
    (b,) = buildings(world, world.grid_a)
    t = (dt.datetime.now(SH) - dt.timedelta(hours=1)).replace(microsecond=0)
    photo = str(uuid.uuid4())
    answers = {**PASS, "clutter": False, "clutter_photo": [photo], "ebike_charging": False,
               "extinguisher_state": "expired", "hydrant_box": "none", "remarks": "3楼平台堆放纸箱"}
    body = {"client_id": str(uuid.uuid4()), "checklist_id": lists["stairwell_fire"]["id"], "building_id": b,
            "time": t.isoformat(), "answers": answers}
    r = inspect(world, "worker_a", **body)
    out = r.json()
    assert out["failed"] == 3 and out["client_id"] == body["client_id"]
    findings = {f["item"]: f for f in out["findings"]}
    assert {k: f["category"] for k, f in findings.items()} == {"clutter": "C0102", "ebike_charging": "C0103",
                                                                "extinguisher_state": "E0601"}
    for item, days in (("clutter", 3), ("ebike_charging", 1), ("extinguisher_state", 7)):
        f = findings[item]
        assert at(f["deadline_at"]) == t + dt.timedelta(days=days)  # 限期整改: the inspection's date + N days
        case = world.client.get(f"/api/v1/cases/{f['case_id']}", headers=world.h("worker_a")).json()
        assert case["channel"] == "inspection" and case["status"] == "reported"
        assert at(case["deadline_at"]) == t + dt.timedelta(days=days) and at(case["reported_at"]) == t
        assert case["building_id"] == b and case["grid_id"] == world.grid_a
        assert case["client_id"] == ins.finding_case_client_id(body["client_id"], item)  # the same on any retry
    clutter_case = world.client.get(f"/api/v1/cases/{findings['clutter']['case_id']}",
                                    headers=world.h("worker_a")).json()
    assert clutter_case["description"] == "楼道消防安全检查 · 楼道内无杂物堆放"

    with transaction(session_factory(world.engine)) as s:
        cases_before = s.scalar(select(func.count(Case.id)))
    again = inspect(world, "worker_a", expect=200, **body)
    assert again.json() == out
    with transaction(session_factory(world.engine)) as s:
        assert s.scalar(select(func.count(Case.id))) == cases_before
        assert s.scalar(select(func.count(Inspection.id)).where(Inspection.client_id == body["client_id"])) == 1
        assert s.scalar(select(func.count(InspectionFinding.id)).where(
            InspectionFinding.inspection_id == out["id"])) == 3
    other = inspect(world, "worker_b", expect=409, **body)  # someone else's client id
    assert other.json()["field"] == "client_id"

    # the rectification goes round the usual loop; closing it schedules the 回头看 revisit
    cid = findings["clutter"]["case_id"]
    for action in ("register", "dispatch", "accept", "handle", "verify"):
        world.act("worker_a", cid, action)
    closed = world.act("worker_a", cid, "close")
    assert closed["status"] == "closed" and closed["closed_on_time"] is True
    assert len(closed["revisits"]) == 1 and closed["revisits"][0]["done_at"] is None
    closed_on = at(closed["closed_at"]).astimezone(SH).date()
    assert dt.date.fromisoformat(closed["revisits"][0]["due_on"]) == closed_on + dt.timedelta(days=7)

    detail = world.client.get(f"/api/v1/inspections/{out['id']}", headers=world.h("worker_a")).json()
    assert detail["answers"] == answers and detail["checklist"] == "stairwell_fire" and detail["building_id"] == b
    assert {f["item"]: f["case_status"] for f in detail["findings"]} == {
        "clutter": "closed", "ebike_charging": "reported", "extinguisher_state": "reported"}
    assert detail["photos"] == [] and detail["photos_missing"] == [photo]


def test_targets_scope_and_bad_inspections(world, lists):
    (a,) = buildings(world, world.grid_a)
    (b,) = buildings(world, world.grid_b)
    stair, site = lists["stairwell_fire"]["id"], lists["construction_site"]["id"]
    base = {"checklist_id": stair, "building_id": a, "answers": PASS}
    cases = [  # (who, change, status, field)
        ("worker_a", {"shop_code": "S00000000"}, 422, "shop_code"),
        ("worker_a", {"building_id": None}, 422, "building_id"),
        ("worker_a", {"building_id": 99999999}, 422, "building_id"),
        ("worker_a", {"checklist_id": 99999999}, 422, "checklist_id"),
        ("worker_a", {"building_id": b}, 403, "building_id"),  # grid B is not hers
        ("sup_other", {}, 403, "building_id"),  # another community
        ("admin", {}, 403, "role"),  # admins do not inspect
        ("worker_a", {"time": (dt.datetime.now(SH) + dt.timedelta(hours=2)).isoformat()}, 422, "time"),
        ("worker_a", {"time": "2026-01-05T10:00:00"}, 422, "time"),  # no timezone
        ("worker_a", {"client_id": "not-a-uuid"}, 422, "client_id"),
        ("worker_a", {"checklist_id": site, "building_id": None, "place_name": "工地"}, 422, "lat"),
        ("worker_a", {"checklist_id": site, "building_id": None, "place_name": "海上", "lon": 7.0, "lat": 43.0}, 422,
         "lat"),
    ]
    for who, change, status, field in cases:
        r = inspect(world, who, expect=None, **{**base, **change})
        assert r.status_code == status, (who, change, r.text)
        assert r.json()["field"] == field, (change, r.json())
    bad = inspect(world, "worker_a", expect=422, **{**base, "answers": {**PASS, "clutter": "是", "hydrant_box": "x",
                                                                         "colour": 1}})
    assert bad.json()["field"] == "answers" and bad.json()["details"] == [
        "answers.colour: unknown item (not in stairwell_fire)", 'answers.clutter: expected true or false, got "是"',
        'answers.hydrant_box: "x" is not one of ok, damaged, none']
    # the supervisor inspects anywhere in her community (grid B too), the worker a place in her grid
    assert inspect(world, "sup", **{**base, "building_id": b}).json()["failed"] == 0
    x, y = world.point_a
    place = inspect(world, "worker_a", checklist_id=site, place_name="海景花园二期工地", lon=x, lat=y,
                    answers={"hoarding": True, "dust_control": True, "wheel_washing": True, "spoil_on_road": True,
                             "night_work": True, "noise_complaints": 0, "safety_signs": True,
                             "site_photo": [str(uuid.uuid4())]}).json()
    got = world.client.get(f"/api/v1/inspections/{place['id']}", headers=world.h("sup")).json()
    assert got["place_name"] == "海景花园二期工地" and got["grid_id"] == world.grid_a
    assert got["lon"] == pytest.approx(x) and got["lat"] == pytest.approx(y)


def test_photos_required_photo_rule_and_the_case_gets_the_photo(world, lists):
    (b,) = buildings(world, world.grid_a)
    stair = lists["stairwell_fire"]["id"]
    answers = {k: v for k, v in PASS.items() if k != "extinguisher_state"} | {"extinguisher": False}
    missing = inspect(world, "worker_a", expect=422, checklist_id=stair, building_id=b, answers=answers)
    assert missing.json()["details"] == ["answers.extinguisher_photo: a photo is required when extinguisher = false"]
    pid = str(uuid.uuid4())
    out = inspect(world, "worker_a", checklist_id=stair, building_id=b,
                  answers={**answers, "extinguisher_photo": [pid]}).json()
    (finding,) = out["findings"]
    assert finding["item"] == "extinguisher" and finding["case_id"] is not None
    url = f"/api/v1/inspections/{out['client_id']}/photos"
    c, h = world.client, world.h("worker_a")

    def upload(who="worker_a", item="extinguisher_photo", client_id=pid, data=None):
        return c.post(url, headers=world.h(who), data={"item": item, "client_id": client_id},
                      files={"file": ("p.jpg", data or jpeg(), "image/jpeg")})

    first = upload()
    assert first.status_code == 201, first.text
    assert first.json()["item"] == "extinguisher_photo"
    again = upload()
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    wrong_item = upload(item="clutter", client_id=str(uuid.uuid4()))
    assert wrong_item.status_code == 422 and wrong_item.json()["field"] == "item"
    assert "not a photo item" in wrong_item.json()["message"]
    not_image = upload(client_id=str(uuid.uuid4()), data=b"GIF89a not really")
    assert not_image.status_code == 422 and not_image.json()["field"] == "photo"
    assert upload(who="worker_b", client_id=str(uuid.uuid4())).status_code == 403
    unknown = c.post(f"/api/v1/inspections/{uuid.uuid4()}/photos", headers=h,
                     data={"item": "extinguisher_photo", "client_id": str(uuid.uuid4())},
                     files={"file": ("p.jpg", jpeg(), "image/jpeg")})
    assert unknown.status_code == 404

    detail = c.get(f"/api/v1/inspections/{out['id']}", headers=h).json()
    assert [p["item"] for p in detail["photos"]] == ["extinguisher_photo"] and detail["photos_missing"] == []
    served = c.get(detail["photos"][0]["url"], headers=h)
    assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
    assert len(Image.open(io.BytesIO(served.content)).getexif()) == 0  # the GPS position is gone
    thumb = c.get(detail["photos"][0]["thumbnail"], headers=h)
    assert thumb.status_code == 200 and Image.open(io.BytesIO(thumb.content)).format == "JPEG"
    assert c.get(detail["photos"][0]["url"], headers=world.h("worker_b")).status_code == 403
    # the photo's required_if refers to the item that opened the case: the case has it as its before-photo
    case = c.get(f"/api/v1/cases/{finding['case_id']}", headers=h).json()
    assert len(case["photos"]) == 1
    with transaction(session_factory(world.engine)) as s:
        assert s.scalar(select(func.count(Photo.id)).where(Photo.case_id == finding["case_id"])) == 1


# ---------------------------------------------------------------------------------------------- versions


def probe(code: str, *, extra_item: bool = False) -> str:
    text = (f"code: {code}\n"
            "title: {zh: 版本测试, en: Version probe}\n"
            "target: building\n"
            "items:\n"
            "  - {id: door, type: yesno, text: {zh: 单元门完好, en: Entrance door intact}, fail: {}}\n")
    if extra_item:
        text += "  - {id: mailbox, type: yesno, text: {zh: 信报箱完好, en: Letter boxes intact}}\n"
    return text


def test_versions_through_the_api_old_answers_stay_valid(world, lists):
    c, h = world.client, world.h("admin")
    yaml_h = {**h, "Content-Type": "application/yaml"}
    v1 = c.post("/api/v1/checklists", headers=yaml_h, content=probe("probe_api").encode())
    assert v1.status_code == 201 and v1.json()["version"] == 1 and v1.json()["created"] is True
    same = c.post("/api/v1/checklists", headers=yaml_h, content=probe("probe_api").encode())
    assert same.status_code == 200 and same.json() == {**v1.json(), "created": False}
    as_json = {"code": "probe_api", "title": {"zh": "版本测试", "en": "Version probe"}, "target": "building",
               "items": [{"id": "door", "type": "yesno", "text": {"zh": "单元门完好", "en": "Entrance door intact"},
                          "pass": True, "required": True, "fail": {}}]}
    assert c.post("/api/v1/checklists", headers=h, json=as_json).json()["created"] is False  # same content
    v2 = c.post("/api/v1/checklists", headers=yaml_h, content=probe("probe_api", extra_item=True).encode())
    assert v2.status_code == 201 and v2.json()["version"] == 2

    latest = c.get("/api/v1/checklists/probe_api", headers=h).json()
    assert latest["version"] == 2 and latest["versions"] == [1, 2] and len(latest["items"]) == 2
    old = c.get("/api/v1/checklists/probe_api", headers=h, params={"version": 1}).json()
    assert old["id"] == v1.json()["id"] and [i["id"] for i in old["items"]] == ["door"]
    listed = {x["code"]: x for x in c.get("/api/v1/checklists", headers=h).json()}
    assert listed["probe_api"]["id"] == v2.json()["id"] and listed["probe_api"]["items"] == 2
    assert c.get("/api/v1/checklists/nothing_here", headers=h).status_code == 404

    # a phone still holding version 1 sends v1-shaped answers: accepted for v1, and refused for v2
    (b,) = buildings(world, world.grid_a)
    ok = inspect(world, "worker_a", checklist_id=v1.json()["id"], building_id=b, answers={"door": False})
    assert ok.json()["failed"] == 1 and ok.json()["findings"] == [
        {"item": "door", "category": None, "case_id": None, "deadline_at": None}]  # a finding without a case
    refused = inspect(world, "worker_a", expect=422, checklist_id=v2.json()["id"], building_id=b,
                      answers={"door": False})
    assert refused.json()["details"] == ["answers.mailbox: required"]
    with transaction(session_factory(world.engine)) as s:
        assert s.get(Inspection, ok.json()["id"]).checklist_id == v1.json()["id"]

    bad = c.post("/api/v1/checklists", headers=h, json={"code": "X", "target": "tower", "title": "t",
                                                        "items": [{"id": "a", "type": "yesno", "text": "甲",
                                                                   "fail": {"category": "NOPE"}}], "extra": 1})
    assert bad.status_code == 422 and bad.json()["message"] == "checklist definition has 4 problems"
    assert [d.split(":")[0] for d in bad.json()["details"]] == ["extra", "code", "target", "items[0].fail.category"]
    syntax = c.post("/api/v1/checklists", headers=yaml_h, content=b"code: a\n  items: [\n")
    assert syntax.status_code == 422 and "line 2" in syntax.json()["message"]
    not_json = c.post("/api/v1/checklists", headers={**h, "Content-Type": "application/json"}, content=b"{code")
    assert not_json.status_code == 422 and "not valid JSON: line 1" in not_json.json()["message"]


def test_versions_through_the_cli(world, lists, tmp_path, capsys):
    path = tmp_path / "probe_cli.yaml"
    path.write_text(probe("probe_cli"), encoding="utf-8")

    def run(*args) -> tuple[int, str, str]:
        code = cli_main(["--database", world.url, *args])
        out = capsys.readouterr()
        return code, out.out, out.err

    assert run("checklists", "load", str(path)) == (0, "probe_cli v1 (new)\n", "")
    assert run("checklists", "load", str(path)) == (0, "probe_cli v1 (unchanged)\n", "")
    path.write_text(probe("probe_cli", extra_item=True), encoding="utf-8")
    assert run("checklists", "load", str(path))[1] == "probe_cli v2 (new)\n"
    code, out, _ = run("checklists", "load")  # the shipped ones, loaded by the fixture already
    assert code == 0 and out.splitlines() == [f"{c} v1 (unchanged)" for c in SHIPPED]

    bad = tmp_path / "bad.yaml"
    bad.write_text("code: Bad\ntitle: 坏\ntarget: street\nitems:\n  - {id: a, type: dial, text: 甲}\n"
                   "  - {id: a, type: yesno}\n", encoding="utf-8")
    code, out, err = run("checklists", "load", str(bad))
    assert code == 1 and out == ""
    assert err.splitlines() == [
        "gridpatrol: error: bad.yaml: checklist definition has 5 problems",
        '  - code: "Bad" is not a code: 2-40 characters a-z, 0-9, _ starting with a letter',
        '  - target: unknown target "street"; targets: building, shop, place',
        '  - items[0].type: unknown item type "dial"; types: yesno, choice, number, photo, note',
        "  - items[1].id: duplicate item id 'a'",
        "  - items[1].text: missing",
    ]
    broken = tmp_path / "broken.yaml"
    broken.write_text("code: x\n  title: [\n", encoding="utf-8")
    code, _, err = run("checklists", "load", str(broken), str(path))
    assert code == 1 and "broken.yaml: checklist definition is not valid YAML: line 2" in err
    assert "nothing was loaded" in err.splitlines()[0]

    code, out, _ = run("checklists", "list")
    rows = {line.split("\t")[0]: line.split("\t") for line in out.splitlines()}
    assert rows["probe_cli"][1] == "v2" and rows["stairwell_fire"][2] == "building"
    code, out, _ = run("checklists", "show", "probe_cli", "--version", "1")
    assert code == 0 and "probe_cli v1 (inactive)" in out and "mailbox" not in out and "door" in out
    assert run("checklists", "show", "nothing")[0] == 1


# ---------------------------------------------------------------------------------------------- who may do what


def open311_and_anonymous(world, method: str, path: str, **kw) -> list[int]:
    """Status codes for an Open311 api key (as the Open311 routes take it) and for no credentials at all."""
    params = kw.pop("params", {})
    return [world.client.request(method, path, params={**params, "api_key": world.api_key}, **kw).status_code,
            world.client.request(method, path, params=params, **kw).status_code]


def test_role_matrix_of_checklists_inspections_and_reports(world, lists):
    (a,) = buildings(world, world.grid_a)
    stair = lists["stairwell_fire"]["id"]
    base = inspect(world, "worker_a", checklist_id=stair, building_id=a,
                   answers={**PASS, "clutter": False, "clutter_photo": [str(uuid.uuid4())]}).json()
    definition = probe("probe_roles").encode()
    # the 街道 reads her communities', inspects none; grid A's 网格长 reads them; a 楼栋长 has no inspections
    readers = {"admin", "planner", "sup", "subd", "worker_a", "lead_a"}
    everyone_but_departments = set(ROLE_USERS) - {"dept1", "dept2", "bldg_a"}
    matrix = [
        ("list checklists", set(ROLE_USERS), lambda: ("GET", "/api/v1/checklists", {})),
        ("read a checklist", set(ROLE_USERS), lambda: ("GET", "/api/v1/checklists/stairwell_fire", {})),
        ("load a checklist", {"admin"},  # city-wide: a supervisor may not redefine it for every community
         lambda: ("POST", "/api/v1/checklists", {"content": definition,
                                                 "headers": {"Content-Type": "text/yaml"}})),
        ("inspect in grid A", {"worker_a", "sup"},
         lambda: ("POST", "/api/v1/inspections", {"json": {"client_id": str(uuid.uuid4()), "checklist_id": stair,
                                                           "building_id": a, "answers": PASS}})),
        ("list inspections", everyone_but_departments, lambda: ("GET", "/api/v1/inspections", {})),
        ("read an inspection of grid A", readers, lambda: ("GET", f"/api/v1/inspections/{base['id']}", {})),
        ("add a photo", {"worker_a", "sup"},
         lambda: ("POST", f"/api/v1/inspections/{base['client_id']}/photos",
                  {"data": {"item": "clutter_photo", "client_id": str(uuid.uuid4())},
                   "files": {"file": ("p.jpg", jpeg(), "image/jpeg")}})),
        ("inspections report", everyone_but_departments,
         lambda: ("GET", "/api/v1/surveys/report/inspections", {"params": {"month": "2026-01"}})),
        ("findings report", everyone_but_departments,
         lambda: ("GET", "/api/v1/surveys/report/findings", {"params": {"month": "2026-01"}})),
    ]
    photo_id = None
    for name, allowed, build in matrix:
        for role in ROLE_USERS:
            method, path, kw = build()
            headers = {**world.h(role), **kw.pop("headers", {})}
            r = world.client.request(method, path, headers=headers, **kw)
            if role in allowed:
                assert 200 <= r.status_code < 300, (name, role, r.text)
                if name == "add a photo":
                    photo_id = r.json()["id"]
            else:
                assert r.status_code == 403, (name, role, r.text)
                assert r.json()["code"] == "forbidden"
        method, path, kw = build()
        kw.pop("headers", None)
        assert open311_and_anonymous(world, method, path, **kw) == [401, 401], name
    for role in ROLE_USERS:
        r = world.client.get(f"/api/v1/inspection-photos/{photo_id}", headers=world.h(role))
        assert r.status_code == (200 if role in readers else 403), (role, r.status_code)
    assert open311_and_anonymous(world, "GET", f"/api/v1/inspection-photos/{photo_id}") == [401, 401]
    # lists are scoped: worker B sees none of grid A's inspections, supervisor B's community none either
    for role, sees_a in (("worker_b", False), ("sup_other", False), ("subd_other", False), ("worker_a", True),
                         ("subd", True), ("planner", True)):
        ids = {i["id"] for i in world.client.get("/api/v1/inspections", headers=world.h(role)).json()}
        assert (base["id"] in ids) is sees_a, role
    mine = world.client.get("/api/v1/inspections", headers=world.h("worker_a"), params={"grid_id": world.grid_a})
    assert base["id"] in {i["id"] for i in mine.json()} and all(i["grid_id"] == world.grid_a for i in mine.json())
    assert world.client.get("/api/v1/inspections", headers=world.h("worker_b"),
                            params={"grid_id": world.grid_a}).status_code == 403


# ---------------------------------------------------------------------------------------------- reports and due list


@pytest.fixture(scope=shared_scope)
def grid_c(world, lists):
    """A grid no other test touches, with a worker of its own and exactly known targets: three apartment buildings
    with households (targets of stairwell_fire), a church with households (not one), the rest without households;
    two open shops and a closed one."""
    with transaction(session_factory(world.engine)) as s:
        busy = {world.grid_a, world.grid_b, svc.locate(s, *world.point_other).grid_id}
        counts = s.execute(select(Building.grid_id, func.count(Building.id)).where(Building.grid_id.is_not(None))
                           .group_by(Building.grid_id)).all()
        grid_id = min(g for g, n in counts if g not in busy and n >= 6)
        grid = s.get(Grid, grid_id)
        bids = list(s.scalars(select(Building.id).where(Building.grid_id == grid_id).order_by(Building.id)))
        s.execute(update(Building).where(Building.grid_id == grid_id).values(households=0))
        s.execute(update(Building).where(Building.id.in_(bids[:3])).values(households=20, use="apartments"))
        s.execute(update(Building).where(Building.id == bids[3]).values(households=5, use="church"))
        s.execute(update(Building).where(Building.id == bids[4]).values(households=0, use="apartments"))
        user = create_user(s, username="worker_c", role="grid_worker", password=PASSWORD, grids=[grid.code])
        shops = [sh.create_shop(s, SYSTEM, name=n, kind="restaurant", building_id=bids[0]) for n in
                 ("兰州拉面", "沙县小吃", "已关门的店")]
        shops[2].active = False
        frame = read_frame(s, [Grid.id], Grid.geom, where=[Grid.id == grid_id])
        p = frame.geometry.iloc[0].representative_point()
        return {"id": grid_id, "code": grid.code, "user": user.id, "buildings": bids[:4],
                "shops": [x.code for x in shops], "point": (p.x, p.y)}


def _record(world, s, actor, checklist: dict, when: dt.datetime, answers: dict, **target) -> dict:
    result, created = ins.record_inspection(s, actor, world.settings, client_id=str(uuid.uuid4()),
                                            checklist_id=checklist["id"], answers=answers, time=when,
                                            now=when + dt.timedelta(minutes=1), **target)
    assert created
    return result


SITE_OK = {"hoarding": True, "dust_control": True, "wheel_washing": True, "spoil_on_road": True, "night_work": True,
           "noise_complaints": 0, "safety_signs": True}
SHOP_OK = {"licence_displayed": True, "outside_trading": True, "signboard": "secure", "gas_used": False,
           "extinguishers": 2, "ebike_charging": True}


def test_monthly_reports_and_the_due_list_from_known_data(world, lists, grid_c):
    b1, b2, b3, church = grid_c["buildings"]
    shop1, shop2, _closed = grid_c["shops"]
    x, y = grid_c["point"]
    photo = [str(uuid.uuid4())]
    with transaction(session_factory(world.engine)) as s:
        from patrol.core.models import User

        worker = actor_for(s, s.get(User, grid_c["user"]))
        site, lane, stair, shop = (lists[k] for k in ("construction_site", "fire_lane", "stairwell_fire",
                                                      "shop_safety"))
        # May: two construction sites (the places planned for June)
        for name, day in (("东区安置房工地", 10), ("中学扩建工地", 20)):
            _record(world, s, worker, site, dt.datetime(2025, 5, day, 10, tzinfo=SH),
                    {**SITE_OK, "site_photo": photo}, place_name=name, lon=x, lat=y)
        # June (city time): 00:30 on 1 June is still 31 May in UTC, and counts for June
        _record(world, s, worker, stair, dt.datetime(2025, 6, 1, 0, 30, tzinfo=SH), PASS, building_id=b1)
        failed = _record(world, s, worker, stair, dt.datetime(2025, 6, 20, 10, tzinfo=SH),
                         {**PASS, "clutter": False, "clutter_photo": photo}, building_id=b2)
        _record(world, s, worker, stair, dt.datetime(2025, 6, 5, 10, tzinfo=SH), PASS, building_id=church)
        _record(world, s, worker, shop, dt.datetime(2025, 6, 10, 15, tzinfo=SH), SHOP_OK, shop_code=shop1)
        _record(world, s, worker, site, dt.datetime(2025, 6, 15, 9, tzinfo=SH),
                {**SITE_OK, "dust_control": False, "dust_photo": photo, "site_photo": photo},
                place_name="商业综合体工地", lon=x, lat=y)
        _record(world, s, worker, lane, dt.datetime(2025, 6, 12, 16, tzinfo=SH),
                {"lane_clear": True, "ground_locks": True, "markings": False, "hydrant": True},
                place_name="小区东门消防通道", lon=x, lat=y)
        # 1 July 00:30 city time (30 June in UTC): July
        _record(world, s, worker, stair, dt.datetime(2025, 7, 1, 0, 30, tzinfo=SH), PASS, building_id=b3)
        # the clutter case is rectified and closed in June
        case_id = failed["findings"][0]["case_id"]
        for action in ("register", "dispatch", "accept", "handle", "verify", "close"):
            svc.transition(s, SYSTEM, world.settings, case_id, action, now=dt.datetime(2025, 6, 21, 10, tzinfo=SH))

    def rows(who: str, month: str, path: str = "inspections") -> list[dict]:
        r = world.client.get(f"/api/v1/surveys/report/{path}", headers=world.h(who), params={"month": month})
        assert r.status_code == 200, r.text
        assert r.json()["month"] == month
        return r.json()["rows"]

    june = {r["checklist"]: r for r in rows("admin", "2025-06") if r["grid_id"] == grid_c["id"]}
    got = {k: (june[k]["planned"], june[k]["done"], june[k]["failed"]) for k in SHIPPED}
    assert got == {
        "stairwell_fire": (3, 3, 1),  # 3 target buildings every 30 days; the church was inspected too
        "shop_safety": (2, 1, 0),  # 2 open shops (the closed one is no target)
        "construction_site": (math.ceil(2 * 30 / 7), 1, 1),  # 2 sites known before June, every 7 days
        "fire_lane": (0, 1, 1),  # no fire lane known before June; a finding without a case still counts
    }
    assert all(june[k]["grid_code"] == grid_c["code"] for k in SHIPPED)
    may = {r["checklist"]: (r["planned"], r["done"], r["failed"]) for r in rows("admin", "2025-05")
           if r["grid_id"] == grid_c["id"]}
    assert may["construction_site"] == (0, 2, 0) and may["stairwell_fire"] == (3, 0, 0)
    july = {r["checklist"]: r for r in rows("admin", "2025-07") if r["grid_id"] == grid_c["id"]}
    assert july["stairwell_fire"]["done"] == 1 and july["construction_site"]["planned"] == math.ceil(3 * 30 / 7)
    # scope: worker A sees her grid's rows only
    assert {r["grid_id"] for r in rows("worker_a", "2025-06")} == {world.grid_a}
    bad = world.client.get("/api/v1/surveys/report/inspections", headers=world.h("admin"), params={"month": "6/2025"})
    assert bad.status_code == 422 and bad.json()["field"] == "month"

    findings = [(r["checklist"], r["item"], r["category"], r["failed"], r["open_cases"])
                for r in rows("admin", "2025-06", "findings")]
    assert findings == [("construction_site", "dust_control", "E0302", 1, 1),
                        ("fire_lane", "markings", None, 1, 0),
                        ("stairwell_fire", "clutter", "C0102", 1, 0)]  # closed in June
    texts = {r["item"]: r["text"] for r in rows("admin", "2025-06", "findings")}
    assert texts["dust_control"] == {"zh": "裸土覆盖、洒水降尘到位", "en": "Bare soil covered and sprayed against dust"}
    assert rows("worker_b", "2025-06", "findings") == []

    with transaction(session_factory(world.engine)) as s:
        from patrol.core.models import User

        worker = actor_for(s, s.get(User, grid_c["user"]))
        due = ins.due_inspections(s, worker, today=dt.date(2025, 7, 10), timezone="Asia/Shanghai")
        other = ins.due_inspections(s, actor_for(s, s.get(User, world.users["worker_a"])),
                                    today=dt.date(2025, 7, 10))
    listed = [(d["checklist_code"], d["building_id"] if d["target"] == "building" else d["shop_code"] or d["name"],
               d["days_overdue"]) for d in due if d["checklist_code"] in SHIPPED]
    assert listed == [
        ("shop_safety", shop2, None),  # never inspected: first
        ("construction_site", "东区安置房工地", 61 - 7),
        ("construction_site", "中学扩建工地", 51 - 7),
        ("construction_site", "商业综合体工地", 25 - 7),
        ("fire_lane", "小区东门消防通道", 28 - 14),
        ("stairwell_fire", b1, 39 - 30),  # inspected on 1 June city time
        ("shop_safety", shop1, 0),  # due today
    ]  # b2 (20 June) and b3 (1 July) are not due yet, the church and the closed shop are no targets
    assert all(d["grid_id"] == grid_c["id"] for d in due) and due[0]["name"] == "沙县小吃"
    assert not any(d["grid_id"] == grid_c["id"] for d in other)
