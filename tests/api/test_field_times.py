"""Times of field work on both databases: a report, a step and a 回头看 done offline keep when they happened on the
phone (and count their deadline from it) next to when the server received them, within the bounds of
patrol.cases.times (future, too old, a phone clock off)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import update

from patrol.cases.worktime import calendar
from patrol.core.db import session_factory, transaction
from patrol.core.models import Case, Category

SH = dt.timezone(dt.timedelta(hours=8))


def _t(value: str | None) -> dt.datetime:
    assert value is not None
    return dt.datetime.fromisoformat(value)


def _stamp(t: dt.datetime) -> str:
    return t.astimezone(SH).isoformat(timespec="seconds")


def _report(world, occurred: dt.datetime | None, device_now: dt.datetime | None = None, expect: int = 201) -> dict:
    body = {"client_id": str(uuid.uuid4()), "category": "C0103", "lon": world.point_a[0], "lat": world.point_a[1]}
    if occurred is not None:
        body["occurred_at"] = _stamp(occurred)
    headers = world.h("worker_a")
    if device_now is not None:
        headers["X-Device-Time"] = _stamp(device_now)
    r = world.client.post("/api/v1/cases", headers=headers, json=body)
    assert r.status_code == expect, r.text
    return r.json()


def test_an_offline_report_keeps_when_it_happened_and_its_deadline_counts_from_then(world):
    now = dt.datetime.now(dt.UTC)
    occurred = (now - dt.timedelta(hours=8)).replace(microsecond=0)
    case = _report(world, occurred, device_now=now)
    assert _t(case["reported_at"]) == occurred and case["time_flag"] is None
    assert abs((_t(case["received_at"]) - now).total_seconds()) < 60 and abs(case["clock_skew_s"]) < 60
    with transaction(session_factory(world.engine)) as s:
        hours = s.get(Category, "C0103").deadline_hours
    assert _t(case["deadline_at"]) == calendar(world.settings).add_working_hours(occurred, hours)
    detail = world.client.get(f"/api/v1/cases/{case['id']}", headers=world.h("sup")).json()
    report = detail["timeline"][0]
    assert _t(report["at"]) == occurred and _t(report["received_at"]) == _t(case["received_at"])
    # the batch (the phone's outbox) the same way, item by item
    items = [{"client_id": str(uuid.uuid4()), "category": "C0103", "lon": world.point_a[0], "lat": world.point_a[1],
              "occurred_at": _stamp(occurred)},
             {"client_id": str(uuid.uuid4()), "category": "C0103", "lon": world.point_a[0], "lat": world.point_a[1],
              "occurred_at": "2026-12-05T09:00:00"}]  # no offset: refused, naming the field
    r = world.client.post("/api/v1/cases/batch", headers={**world.h("worker_a"), "X-Device-Time": _stamp(now)},
                          json={"cases": items})
    first, second = r.json()["results"]
    assert first["status"] == 201 and second["status"] == 422 and second["error"]["field"] == "occurred_at"
    batched = world.client.get(f"/api/v1/cases/{first['id']}", headers=world.h("sup")).json()
    assert _t(batched["reported_at"]) == occurred and _t(batched["deadline_at"]) == _t(case["deadline_at"])
    assert _t(batched["timeline"][0]["at"]) == occurred and batched["received_at"] is not None


def test_device_times_out_of_bounds_are_clamped_or_corrected_and_flagged(world):
    now = dt.datetime.now(dt.UTC)
    future = _report(world, now + dt.timedelta(hours=1))
    assert future["time_flag"] == "future" and future["reported_at"] == future["received_at"]
    old = _report(world, now - dt.timedelta(hours=world.settings.occurrence_window_hours + 5))
    assert old["time_flag"] == "too_old" and old["reported_at"] == old["received_at"]
    near = _report(world, now + dt.timedelta(seconds=30))  # within the allowance: the receipt, not flagged
    assert near["time_flag"] is None and _t(near["reported_at"]) <= _t(near["received_at"])
    # a phone two days ahead: it says the work was done "in two days minus 8 hours"; the server corrects by the skew
    ahead = dt.timedelta(days=2)
    skewed = _report(world, now + ahead - dt.timedelta(hours=8), device_now=now + ahead)
    assert skewed["time_flag"] == "skew" and abs(skewed["clock_skew_s"] - ahead.total_seconds()) < 60
    assert abs((_t(skewed["reported_at"]) - (now - dt.timedelta(hours=8))).total_seconds()) < 60
    r = world.client.post("/api/v1/cases", headers=world.h("worker_a"), json={
        "client_id": str(uuid.uuid4()), "category": "C0103", "lon": world.point_a[0], "lat": world.point_a[1],
        "occurred_at": "yesterday morning"})
    assert r.status_code == 422 and r.json()["field"] == "occurred_at"


def test_a_handle_done_before_the_deadline_offline_is_on_time_even_after_an_escalation(world):
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    at = {k: _stamp(now - dt.timedelta(hours=h)) for k, h in (("report", 4), ("desk", 3.5), ("handle", 2))}
    case = _report(world, now - dt.timedelta(hours=4))
    cid = case["id"]
    world.act("sup", cid, "register", occurred_at=at["desk"])
    world.act("sup", cid, "dispatch", assignee_id=world.users["worker_a"], occurred_at=at["desk"])
    world.act("worker_a", cid, "accept", occurred_at=at["desk"])
    # the deadline passes (1 h ago) and the sweep escalates while the handle sits in the phone's outbox
    deadline = now - dt.timedelta(hours=1)
    with transaction(session_factory(world.engine)) as s:
        s.execute(update(Case).where(Case.id == cid).values(deadline_at=deadline))
    r = world.client.post("/api/v1/escalations/run", headers=world.h("admin"))
    assert cid in r.json()["escalated"]
    # the handle done 2 h ago arrives: the escalation is undone, the handle is on time
    handled = world.act("worker_a", cid, "handle", note="已清理", occurred_at=at["handle"])
    assert handled["status"] == "handled" and handled["level"] == "grid" and handled["escalations"] == 0
    assert _t(handled["handled_at"]) == _t(at["handle"]) and _t(handled["deadline_at"]) == deadline
    step = next(e for e in handled["timeline"] if e["action"] == "handle")  # in the order things happened
    assert "自动升级已撤销" in step["note"]
    assert _t(step["at"]) == _t(at["handle"]) and _t(step["received_at"]) > _t(step["at"])
    assert [e["action"] for e in handled["timeline"]].count("escalate") == 1  # the history stays
    world.act("worker_a", cid, "verify")
    closed = world.act("sup", cid, "close")
    assert closed["closed_on_time"] is True
    # its 回头看, done offline a minute ago (after the close: the close was just now)
    rv = closed["revisits"][0]["id"]
    done_at = _stamp(dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
    r = world.client.post(f"/api/v1/revisits/{rv}", headers=world.h("worker_a"),
                          json={"outcome": "still_fixed", "occurred_at": done_at, "lon": world.point_a[0],
                                "lat": world.point_a[1]})
    assert r.status_code == 200, r.text
    assert _t(r.json()["done_at"]) == _t(done_at)
    again = world.client.get(f"/api/v1/cases/{cid}", headers=world.h("sup")).json()
    assert _t(again["revisits"][0]["received_at"]) >= _t(done_at)
    revisit = next(e for e in again["timeline"] if e["action"] == "revisit")
    assert _t(revisit["at"]) == _t(done_at) and revisit["lon"] == pytest.approx(world.point_a[0])


def test_a_handle_done_after_the_deadline_is_late_though_sent_at_once(world):
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    case = _report(world, now - dt.timedelta(hours=3))
    cid = case["id"]
    for action, extra in (("register", {}), ("dispatch", {"assignee_id": world.users["worker_a"]})):
        world.act("sup", cid, action, occurred_at=_stamp(now - dt.timedelta(hours=3)), **extra)
    world.act("worker_a", cid, "accept", occurred_at=_stamp(now - dt.timedelta(hours=3)))
    with transaction(session_factory(world.engine)) as s:
        s.execute(update(Case).where(Case.id == cid).values(deadline_at=now - dt.timedelta(hours=2)))
    # done 1 h ago (after the deadline): escalated as of then, and the handle refused as the case moved up
    r = world.client.post(f"/api/v1/cases/{cid}/actions/handle", headers=world.h("worker_a"),
                          json={"occurred_at": _stamp(now - dt.timedelta(hours=1))})
    assert r.status_code in (403, 409), r.text
    assert world.client.get(f"/api/v1/cases/{cid}", headers=world.h("sup")).json()["escalations"] == 1


def _photo(exif_time: str | None = None) -> bytes:
    import io

    from PIL import Image

    im = Image.effect_noise((640, 480), 30).convert("RGB")
    out = io.BytesIO()
    if exif_time:
        exif = Image.Exif()
        exif.get_ifd(0x8769)[0x9003] = exif_time
        im.save(out, "JPEG", quality=90, exif=exif)
    else:
        im.save(out, "JPEG", quality=90)
    return out.getvalue()


def test_a_photo_keeps_its_capture_is_served_watermarked_and_its_original_only_to_staff(world):
    import io

    import numpy as np
    from PIL import Image

    from patrol.cases.images import strip_metadata
    from patrol.core.models import Photo

    case = _report(world, None)
    plain = _photo()
    form = {"taken_at": "2026-12-05T09:00:00+08:00", "lon": str(world.point_a[0]), "lat": str(world.point_a[1]),
            "taken_source": "device"}
    r = world.client.post(f"/api/v1/cases/{case['id']}/photos", headers=world.h("worker_a"),
                          files={"file": ("a.jpg", plain, "image/jpeg")}, data=form)
    assert r.status_code == 201, r.text
    sent = r.json()
    assert _t(sent["taken_at"]) == _t(form["taken_at"]) and sent["exif_lon"] == world.point_a[0]
    # a file with EXIF: its own time wins over what the phone says
    r = world.client.post(f"/api/v1/cases/{case['id']}/photos", headers=world.h("worker_a"),
                          files={"file": ("b.jpg", _photo("2026:12:04 18:30:00"), "image/jpeg")}, data=form)
    assert _t(r.json()["taken_at"]) == dt.datetime(2026, 12, 4, 18, 30, tzinfo=SH)
    with transaction(session_factory(world.engine)) as s:
        sources = {p.id: p.taken_source for p in s.query(Photo).filter(Photo.case_id == case["id"])}
    assert sources == {sent["id"]: "device", r.json()["id"]: "exif"}
    # served: the picture with a darker band of text at its bottom; the top as it was
    served = world.client.get(sent["url"], headers=world.h("sup")).content
    a = np.asarray(Image.open(io.BytesIO(strip_metadata(plain))).convert("L"), dtype=int)
    b = np.asarray(Image.open(io.BytesIO(served)).convert("L"), dtype=int)
    assert a.shape == b.shape and np.abs(a[:200] - b[:200]).mean() < 3
    assert b[-40:, :200].mean() < a[-40:, :200].mean() - 15
    thumb = world.client.get(f"{sent['url']}/thumbnail", headers=world.h("sup")).content
    assert Image.open(io.BytesIO(thumb)).size[0] == 320
    # the original, byte for byte, to the case's staff only
    for who, status in (("sup", 200), ("admin", 200), ("worker_a", 403), ("planner", 403), ("sup_other", 403)):
        got = world.client.get(f"{sent['url']}/original", headers=world.h(who))
        assert got.status_code == status, (who, got.text)
        if status == 200:
            assert got.content == plain and "attachment" in got.headers["content-disposition"]
    assert world.client.get(f"{sent['url']}/original").status_code == 401
