"""Many reports in one request (a phone's offline queue): per-item answers, idempotent, nothing half-written."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from patrol.core.db import session_factory, transaction
from patrol.core.models import Case, CaseEvent

pytestmark = pytest.mark.db


def _item(world, **kw) -> dict:
    return {"client_id": str(uuid.uuid4()), "category": "C0102", "lon": world.point_a[0],
            "lat": world.point_a[1], "description": "楼道堆放杂物", **kw}


def _counts(world, cids: list[str]) -> tuple[int, int]:
    with transaction(session_factory(world.engine)) as s:
        ids = list(s.scalars(select(Case.id).where(Case.client_id.in_(cids))))
        events = s.scalar(select(func.count()).select_from(CaseEvent).where(CaseEvent.case_id.in_(ids or [-1])))
        return len(ids), events


def test_a_batch_answers_each_report_and_a_retry_changes_nothing(world):
    c, h = world.client, world.h("worker_a")
    good = [_item(world, floor="3") for _ in range(3)]
    bad = [_item(world, category="NOPE"), _item(world, lat=95), {"client_id": "not-a-uuid", "category": "C0102"},
           _item(world, lon=world.point_b[0], lat=world.point_b[1])]
    repeated = dict(good[0])
    r = c.post("/api/v1/cases/batch", headers=h, json={"cases": [*good, *bad, repeated]})
    assert r.status_code == 200, r.text
    res = r.json()["results"]
    assert [x["status"] for x in res] == [201, 201, 201, 422, 422, 422, 403, 200]
    assert [x["error"]["field"] for x in res[3:7]] == ["category", "lat", "client_id", "lat"]
    assert res[7]["id"] == res[0]["id"] and r.json()["counts"] == {"201": 3, "422": 3, "403": 1, "200": 1}
    cids = [g["client_id"] for g in good]
    assert _counts(world, cids) == (3, 3)
    # the case is located and timed like a single report
    one = c.get(f"/api/v1/cases/{res[0]['id']}", headers=h).json()
    assert one["grid_id"] == world.grid_a and one["community_id"] is not None and one["deadline_at"]
    assert one["timeline"][0]["action"] == "report" and one["floor"] == "3"
    single = c.post("/api/v1/cases", headers=h, json=_item(world)).json()
    assert (one["grid_id"], one["community_id"], one["level"]) == \
        (single["grid_id"], single["community_id"], single["level"])
    # the retry of the whole batch: the same cases, 200 each, nothing new
    again = c.post("/api/v1/cases/batch", headers=h, json={"cases": good}).json()["results"]
    assert [x["status"] for x in again] == [200] * 3 and [x["id"] for x in again] == [x["id"] for x in res[:3]]
    assert _counts(world, cids) == (3, 3)


def test_batch_hints_duplicates_and_rejects_what_a_role_cannot_do(world):
    c = world.client
    first = c.post("/api/v1/cases/batch", headers=world.h("worker_a"),
                   json={"cases": [_item(world, category="C0105")]}).json()["results"][0]
    later = c.post("/api/v1/cases/batch", headers=world.h("worker_a"),
                   json={"cases": [_item(world, category="C0105")]}).json()["results"][0]
    assert first["id"] in later["possible_duplicates"]
    assert c.post("/api/v1/cases/batch", headers=world.h("planner"),
                  json={"cases": [_item(world)]}).status_code == 403
    too_many = c.post("/api/v1/cases/batch", headers=world.h("worker_a"), json={"cases": [_item(world)] * 501})
    assert too_many.status_code == 422
    assert c.post("/api/v1/cases/batch", json={"cases": []}).status_code == 401


def test_the_server_sets_the_channel_and_a_client_supplied_one_is_refused(world):
    c = world.client
    r = c.post("/api/v1/cases/batch", headers=world.h("worker_a"),
               json={"cases": [_item(world, channel="open311"), _item(world), _item(world, channel=None)]})
    res = r.json()["results"]
    assert [x["status"] for x in res] == [422, 201, 201], r.text
    assert res[0]["error"]["field"] == "channel" and res[0]["id"] is None
    assert _counts(world, [res[0]["client_id"]]) == (0, 0)
    single = c.post("/api/v1/cases", headers=world.h("worker_a"), json=_item(world)).json()
    got = c.get(f"/api/v1/cases/{res[1]['id']}", headers=world.h("worker_a")).json()
    assert got["channel"] == single["channel"] == "patrol"  # a grid worker's phone, as a single report
    staff = c.post("/api/v1/cases/batch", headers=world.h("sup"), json={"cases": [_item(world)]}).json()["results"]
    assert c.get(f"/api/v1/cases/{staff[0]['id']}", headers=world.h("sup")).json()["channel"] == "staff"


def test_history_fields_are_refused_not_ignored(world):
    """A report's reported_at, status and closed_at were once dropped without a word (a forwarded history lost its
    times); now each is refused by name, pointing at occurred_at or the history import, and the rest is written."""
    c = world.client
    items = [_item(world, reported_at="2025-01-02T08:00:00+08:00"), _item(world, status="closed"),
             _item(world, closed_at="2025-01-03T08:00:00+08:00"), _item(world)]
    res = c.post("/api/v1/cases/batch", headers=world.h("worker_a"), json={"cases": items}).json()["results"]
    assert [x["status"] for x in res] == [422, 422, 422, 201]
    assert [x["error"]["field"] for x in res[:3]] == ["reported_at", "status", "closed_at"]
    assert "occurred_at" in res[0]["error"]["message"] and "import-history" in res[1]["error"]["message"]
    assert _counts(world, [x["client_id"] for x in res[:3]]) == (0, 0)


@pytest.mark.parametrize("who", ["worker_b", "sup", "sup_other"])
def test_a_client_id_of_another_reporters_case_reveals_nothing(world, who):
    mine = _item(world)
    made = world.client.post("/api/v1/cases/batch", headers=world.h("worker_a"),
                             json={"cases": [mine]}).json()["results"][0]
    assert made["status"] == 201
    point = world.point_a if who == "sup" else world.point_b if who == "worker_b" else world.point_other
    theirs = {**mine, "lon": point[0], "lat": point[1]}
    r = world.client.post("/api/v1/cases/batch", headers=world.h(who), json={"cases": [theirs, _item(
        world, lon=point[0], lat=point[1])]})
    assert r.status_code == 200, r.text
    stolen, fresh = r.json()["results"]
    assert stolen == {"client_id": mine["client_id"], "status": 409, "id": None, "possible_duplicates": [],
                      "recurrence_of": None, "error": {"code": "conflict", "field": "client_id",
                                                       "message": "this client_id belongs to another case"}}
    assert fresh["status"] == 201  # the rest of the batch goes on
    again = world.client.post("/api/v1/cases/batch", headers=world.h("worker_a"), json={"cases": [mine]})
    assert again.json()["results"][0] == {**made, "status": 200, "possible_duplicates": []}
