"""The residents' public side (/r/, /api/v1/public/…) on both databases: a report becomes a case at 待立案 with channel
resident, retries do not duplicate, the honeypot writes nothing, the rate limits answer 429, bad photos and places
are refused naming the field; the follow-up shows no staff name, note or phone; a rating ≤ 2 reopens and moves
满意率; the reporter's phone is masked in desk lists, full and audited on the case page of the community's staff."""

from __future__ import annotations

import hashlib
import io
import uuid

import pytest
from PIL import Image
from sqlalchemy import func, select

from api.ratelimit import SlidingWindow
from patrol.cases import service as svc
from patrol.core.db import session_factory, transaction
from patrol.core.errors import Forbidden
from patrol.core.models import Building, Case, CaseEvent, Photo, ResidentAudit, User
from patrol.intake.h5 import RESIDENT

PHONE = "13812345678"
REPORTS = "/api/v1/public/reports"


def _jpeg(colour=(200, 60, 30), gps: bool = False) -> bytes:
    img = Image.new("RGB", (64, 48), colour)
    out = io.BytesIO()
    exif = Image.Exif()
    if gps:
        exif.get_ifd(0x8825).update({1: "N", 2: (43, 44, 6.0), 3: "E", 4: (7, 25, 12.0)})
    img.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


@pytest.fixture(autouse=True)
def _generous_limits(world):
    """Each test starts with fresh limits high enough not to matter (the limits' own test sets small ones)."""
    world.client.app.state.resident_limits = (SlidingWindow(1000, 3600), SlidingWindow(1000, 3600),
                                              SlidingWindow(1000, 3600))


def resident_case(world, *, closed: bool = False, photo: bool = False) -> str:
    """A fresh resident's report in grid A through the service (no rate limit), closed through the loop when
    asked, with an after-photo on its handle step when asked: its follow-up token."""
    from patrol.cases.photos import store_photo
    from patrol.core.auth import SYSTEM
    from patrol.intake.h5 import ReportIn, submit_report

    with transaction(session_factory(world.engine)) as s:
        got = submit_report(s, world.settings, ReportIn(
            client_id=str(uuid.uuid4()), category="streetlight", description="路灯不亮了",
            lon=world.point_a[0], lat=world.point_a[1], phone=PHONE))
        case_id = s.scalars(select(Case.id).where(Case.number == got.number)).one()
        for action in ("register", "dispatch", "accept", "handle", "verify", "close") if closed else ():
            svc.transition(s, SYSTEM, world.settings, case_id, action,
                           unit_id=world.units[0] if action == "dispatch" else None)
            if action == "handle" and photo:
                store_photo(s, SYSTEM, case_id, _jpeg((0, 90, 200)), max_bytes=10**6)
        return got.token


def _report(world, *, photos=(), lang="en", expect=201, **fields):
    data = {"client_id": str(uuid.uuid4()), "category": "streetlight", "description": "路灯连续三晚不亮",
            "lon": str(world.point_a[0]), "lat": str(world.point_a[1]), **fields}
    files = [("photo", (f"p{i}.jpg", p, "image/jpeg")) for i, p in enumerate(photos)]
    r = world.client.post(f"{REPORTS}?lang={lang}", data=data, files=files or None)
    assert r.status_code == expect, r.text
    return r.json()


def _case(world, number: str) -> Case:
    with transaction(session_factory(world.engine)) as s:
        case = s.scalars(select(Case).where(Case.number == number)).one()
        s.expunge(case)
        return case


def test_a_report_becomes_a_case_at_reported_and_a_retry_answers_the_same(world):
    cid = str(uuid.uuid4())
    first = _report(world, photos=[_jpeg(gps=True)], client_id=cid, phone="138-1234 5678")
    assert first["follow_path"] == f"/r/f/{first['token']}" and first["follow_url"].endswith(first["follow_path"])
    again = _report(world, photos=[_jpeg(gps=True)], client_id=cid, phone=PHONE, expect=200)
    assert again == first
    case = _case(world, first["number"])
    assert (case.status, case.channel, case.contact_phone) == ("reported", "resident", PHONE)
    assert case.category_code == "B0109" and case.reporter_id is None
    assert case.follow_token_hash == hashlib.sha256(first["token"].encode()).hexdigest()
    with transaction(session_factory(world.engine)) as s:
        assert s.scalar(select(func.count()).select_from(Case).where(Case.client_id == cid)) == 1
        ev = s.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)).one()
        assert ev.action == "report" and ev.actor == "居民"
        photo = s.scalars(select(Photo).where(Photo.case_id == case.id)).one()
        assert photo.event_id == ev.id and photo.exif_lat is not None  # kept for staff, not in the served copy
        # the resident actor reports and does nothing else: it reads no case and takes no action
        with pytest.raises(Forbidden):
            svc.transition(s, RESIDENT, world.settings, case.id, "register")
    # a sticker's building instead of GPS: the case is at the building, its label the place
    with transaction(session_factory(world.engine)) as s:
        b = s.scalars(select(Building).where(Building.grid_id == world.grid_a).order_by(Building.id).limit(1)).one()
        bid, label = b.id, b.name or b.label or b.address
    sticker = _report(world, lon="", lat="", b=str(bid), g="x", category="rubbish")
    placed = _case(world, sticker["number"])
    assert placed.building_id == bid and placed.grid_id == world.grid_a and placed.address == label
    page = world.client.get(f"/r/?b={bid}&g=x")
    assert page.status_code == 200 and "位置：" in page.text and "路灯不亮" in page.text


def test_bad_input_is_refused_naming_the_field_and_writes_nothing(world):
    with transaction(session_factory(world.engine)) as s:
        before = s.scalar(select(func.count()).select_from(Case))
    bad_photo = _report(world, photos=[b"GIF89a not really a photo"], expect=422)
    assert bad_photo["field"] == "photo" and "Photo 1" in bad_photo["message"]
    outside = _report(world, lon="7.0", lat="43.0", lang="zh", expect=422)
    assert outside["field"] == "location" and "不在本市任何网格" in outside["message"]
    assert _report(world, category="nope", expect=422)["field"] == "category"
    assert _report(world, description="短", expect=422)["field"] == "description"
    assert _report(world, description="x" * 1001, expect=422)["field"] == "description"
    assert _report(world, phone="call me", expect=422)["field"] == "phone"
    assert _report(world, lon="", lat="", expect=422)["field"] == "location"
    too_many = _report(world, photos=[_jpeg((i, 0, 0)) for i in range(4)], expect=422)
    assert too_many["field"] == "photo"
    with transaction(session_factory(world.engine)) as s:
        assert s.scalar(select(func.count()).select_from(Case)) == before


def test_the_honeypot_answers_like_a_receipt_and_files_nothing(world):
    with transaction(session_factory(world.engine)) as s:
        before = s.scalar(select(func.count()).select_from(Case))
    fake = _report(world, website="http://spam.example")
    assert set(fake) == {"number", "token", "follow_url", "follow_path"} and len(fake["number"]) == 11
    with transaction(session_factory(world.engine)) as s:
        assert s.scalar(select(func.count()).select_from(Case)) == before
    assert world.client.get(fake["follow_path"]).status_code == 404


def test_rate_limits_per_address_and_per_phone(world):
    world.client.app.state.resident_limits = (SlidingWindow(3, 3600), SlidingWindow(1, 3600), SlidingWindow(1, 3600))
    _report(world, phone=PHONE)
    by_phone = _report(world, phone=PHONE, lang="zh", expect=429)
    assert by_phone["field"] == "phone" and "该电话号码提交太频繁" in by_phone["message"]
    _report(world)  # another report from the address, without a phone
    by_ip = world.client.post(REPORTS, data={"client_id": str(uuid.uuid4()), "category": "rubbish"})
    assert by_ip.status_code == 429 and by_ip.json()["field"] == "ip" and int(by_ip.headers["retry-after"]) > 0
    assert world.client.post("/api/v1/public/follow/nope/rating", json={"rating": 4}).status_code == 404
    assert world.client.post("/api/v1/public/follow/nope/rating", json={"rating": 4}).status_code == 429


def _kpi(world) -> dict:
    r = world.client.get("/api/v1/analytics/kpis", headers=world.h("admin"), params={"by": "overall"})
    assert r.status_code == 200, r.text
    return r.json()["rows"][0]


def _close_through_the_loop(world, case_id: int) -> None:
    world.act("sup", case_id, "register", note="核实属实")
    world.act("sup", case_id, "dispatch", unit_id=world.units[0], note="内部备注：请张三处理")
    world.act("dept1", case_id, "accept")
    world.act("dept1", case_id, "handle", note="已更换灯泡")
    r = world.client.post(f"/api/v1/cases/{case_id}/photos", headers=world.h("dept1"),
                          files={"file": ("after.jpg", _jpeg((10, 200, 10), gps=True), "image/jpeg")})
    assert r.status_code == 201, r.text
    world.act("worker_a", case_id, "verify", note="现场核查通过")
    world.act("sup", case_id, "close")


def test_follow_up_rating_reopens_and_moves_the_satisfaction_rate(world):
    got = _report(world, phone=PHONE)
    token, case = got["token"], _case(world, got["number"])
    c = world.client
    early = c.post(f"/api/v1/public/follow/{token}/rating?lang=zh", json={"rating": 5})
    assert early.status_code == 409 and early.json()["message"] == "案件办结后才能评价"
    _close_through_the_loop(world, case.id)
    view = c.get(f"/api/v1/public/follow/{token}").json()
    texts = [s["text"] for s in view["timeline"]]
    assert texts == ["Received", "Registered", "Sent to the urban management squad", "Taken on", "Handled",
                     "Checked on site", "Closed"]
    assert view["can_rate"] and view["status"] == "closed" and len(view["after_photos"]) == 1
    with transaction(session_factory(world.engine)) as s:
        staff = [n for n in s.scalars(select(User.display_name)) if n] + list(s.scalars(select(User.username)))
    page = c.get(f"/r/f/{token}").text
    for shown in (str(view), page):
        assert PHONE not in shown and "1381234" not in shown and "张三" not in shown and "核实属实" not in shown
        assert "城管中队" not in shown  # the unit's kind, not its name
        assert not [n for n in staff if n in shown], staff
    photo = c.get(view["after_photos"][0])
    assert photo.status_code == 200 and photo.headers["content-type"] == "image/jpeg"
    assert not Image.open(io.BytesIO(photo.content)).getexif().get_ifd(0x8825)  # no GPS in the served copy
    before = _kpi(world)
    rated = c.post(f"/api/v1/public/follow/{token}/rating", json={"rating": 2, "comment": "还是不亮",
                                                                   "solved": False})
    assert rated.status_code == 200, rated.text
    assert rated.json()["status"] == "dispatched" and rated.json()["reopened"] and not rated.json()["can_rate"]
    after = _kpi(world)
    assert after["rated"] == before["rated"] + 1 and after["dissatisfied"] == before["dissatisfied"] + 1
    assert after["satisfaction_rate"] != before["satisfaction_rate"]
    reopened = _case(world, got["number"])
    assert reopened.resident_solved is False and reopened.reopened_count == 1
    assert "重新办理" in c.get(f"/r/f/{token}").text
    # closed again: one more rating for the new closure, and only one
    for who, action in (("dept1", "accept"), ("dept1", "handle"), ("worker_a", "verify"), ("sup", "close")):
        world.act(who, case.id, action)
    assert c.post(f"/api/v1/public/follow/{token}/rating", json={"rating": 5, "solved": True}).status_code == 200
    twice = c.post(f"/api/v1/public/follow/{token}/rating?lang=zh", json={"rating": 4})
    assert twice.status_code == 409 and twice.json()["field"] == "rating"
    assert _case(world, got["number"]).resident_solved is True


def test_unknown_links_say_the_link_is_wrong(world):
    real = _report(world)["token"]
    for token in ("nope", "x" * 32, real[:-1] + ("B" if real.endswith("A") else "A")):  # one character off
        page = world.client.get(f"/r/f/{token}")
        assert page.status_code == 404 and "链接有误或已失效" in page.text
        api = world.client.get(f"/api/v1/public/follow/{token}?lang=zh")
        assert api.status_code == 404 and api.json()["field"] == "token"
    assert world.client.get("/api/v1/public/categories?lang=zh").json()[0] == {"key": "streetlight",
                                                                               "name": "路灯不亮"}
    english = world.client.get("/r/?lang=en").text
    assert "Report a problem" in english and "我要反映问题" not in english and "Street light out" in english


def test_the_reporters_phone_on_the_desk(world):
    got = _report(world, phone=PHONE)
    case = _case(world, got["number"])
    c = world.client
    rows = c.get("/api/v1/desk/queues/to_register", headers=world.h("sup"), params={"limit": 200}).json()["rows"]
    row = next(r for r in rows if r["number"] == got["number"])
    assert row["phone"] == "138****5678" and row["channel"] == "resident"

    def audits() -> int:
        with transaction(session_factory(world.engine)) as s:
            return s.scalar(select(func.count()).select_from(ResidentAudit).where(ResidentAudit.case_id == case.id))

    for who, full in (("sup", True), ("admin", True), ("subd", True), ("worker_a", False)):
        n = audits()
        page = c.get(f"/api/v1/desk/cases/{got['number']}", headers=world.h(who))
        assert page.status_code == 200, (who, page.text)
        contact = page.json()["contact"]
        assert contact["phone"] == (PHONE if full else "138****5678") and contact["masked"] is not full, who
        assert audits() == n + (1 if full else 0), who
    assert c.get(f"/api/v1/desk/cases/{got['number']}", headers=world.h("sup_other")).status_code == 403
    # a 12345 order's number (工单编号) on the case page and in the lists
    with transaction(session_factory(world.engine)) as s:
        s.get(Case, case.id).source, s.get(Case, case.id).source_ref = "12345", "GD20261205000123"
    assert c.get(f"/api/v1/desk/cases/{got['number']}", headers=world.h("sup")).json()["order_no"] \
        == "GD20261205000123"
    rows = c.get("/api/v1/desk/queues/to_register", headers=world.h("sup"), params={"limit": 200}).json()["rows"]
    assert next(r for r in rows if r["number"] == got["number"])["order_no"] == "GD20261205000123"
    assert c.get(f"/api/v1/cases/{case.id}", headers=world.h("sup")).json().get("contact_phone") is None
