"""The 街道 (subdistrict) role: her scope is every community of her subdistrict — cases, lists, exports, KPIs by
subdistrict, workers' routes — and no further; she urges (督办) and the urges are counted. Both databases.

The world (tests/api/conftest.py) has two subdistricts: grid A's (user ``subd``) and a second one made for the test
holding the other community (user ``subd_other``, code :attr:`World.sub_other_code`)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid

from sqlalchemy import select

from patrol.core.db import session_factory, transaction
from patrol.core.models import Community, Grid, Subdistrict


def _other_community(world) -> str:
    with transaction(session_factory(world.engine)) as s:
        return s.scalar(select(Community.code).join(Subdistrict, Subdistrict.id == Community.subdistrict_id)
                        .where(Subdistrict.code == world.sub_other_code))


def _community_of(world, grid_id: int) -> str:
    with transaction(session_factory(world.engine)) as s:
        return s.scalar(select(Community.code).join(Grid, Grid.community_id == Community.id)
                        .where(Grid.id == grid_id))


def _kpis(world, who: str, expect: int = 200, **params):
    r = world.client.get("/api/v1/analytics/kpis", headers=world.h(who), params=params)
    assert r.status_code == expect, r.text
    return r.json()


def test_the_world_has_two_subdistricts(world):
    with transaction(session_factory(world.engine)) as s:
        codes = set(s.scalars(select(Subdistrict.code)))
    assert {world.sub_code, world.sub_other_code} <= codes
    assert world.sub_code != world.sub_other_code


def test_a_subdistrict_user_reads_her_communities_cases_only(world):
    mine = world.report("sup")
    theirs = world.report("sup_other", point=world.point_other)
    c = world.client
    assert c.get(f"/api/v1/cases/{mine['id']}", headers=world.h("subd")).status_code == 200
    r = c.get(f"/api/v1/cases/{theirs['id']}", headers=world.h("subd"))
    assert r.status_code == 403 and r.json()["field"] == "case_id"
    assert c.get(f"/api/v1/cases/{theirs['id']}", headers=world.h("subd_other")).status_code == 200
    assert c.get(f"/api/v1/cases/{mine['id']}", headers=world.h("subd_other")).status_code == 403
    listed = {x["id"] for x in c.get("/api/v1/cases", headers=world.h("subd"),
                                     params={"limit": 5000}).json()["features"]}
    assert mine["id"] in listed and theirs["id"] not in listed


def test_the_case_list_and_export_filter_by_subdistrict(world):
    mine = world.report("sup")
    theirs = world.report("sup_other", point=world.point_other)
    c = world.client
    for code, inside, outside in ((world.sub_code, mine, theirs), (world.sub_other_code, theirs, mine)):
        ids = {x["id"] for x in c.get("/api/v1/cases", headers=world.h("admin"),
                                      params={"subdistrict": code, "limit": 5000}).json()["features"]}
        assert inside["id"] in ids and outside["id"] not in ids
    # by name too, and in the export
    with transaction(session_factory(world.engine)) as s:
        name = s.scalar(select(Subdistrict.name).where(Subdistrict.code == world.sub_other_code))
    r = c.get("/api/v1/cases/export", headers=world.h("admin"), params={"subdistrict": name, "format": "csv",
                                                                 "headers": "keys"})
    assert r.status_code == 200, r.text
    ids = {int(row["id"]) for row in csv.DictReader(io.StringIO(r.text.lstrip("\ufeff")))}
    assert theirs["id"] in ids and mine["id"] not in ids
    # the subdistrict user's own list filtered by the other subdistrict is empty, not a leak
    other = c.get("/api/v1/cases", headers=world.h("subd"), params={"subdistrict": world.sub_other_code}).json()
    assert other["features"] == [] and other["numberMatched"] == 0


def test_a_subdistrict_user_reports_only_inside_her_communities(world):
    c = world.client
    inside = c.post("/api/v1/cases", headers=world.h("subd"), json={
        "client_id": str(uuid.uuid4()), "category": "C0103", "lon": world.point_a[0], "lat": world.point_a[1]})
    assert inside.status_code == 201, inside.text
    assert inside.json()["channel"] == "staff"
    outside = c.post("/api/v1/cases", headers=world.h("subd"), json={
        "client_id": str(uuid.uuid4()), "category": "C0103", "lon": world.point_other[0],
        "lat": world.point_other[1]})
    assert outside.status_code == 403 and outside.json()["field"] == "lat", outside.text
    batch = c.post("/api/v1/cases/batch", headers=world.h("subd"), json={"cases": [
        {"client_id": str(uuid.uuid4()), "category": "C0103", "lon": world.point_a[0], "lat": world.point_a[1]},
        {"client_id": str(uuid.uuid4()), "category": "C0103", "lon": world.point_other[0],
         "lat": world.point_other[1]}]})
    assert batch.status_code in (200, 207), batch.text
    statuses = [x["status"] for x in batch.json()["results"]]
    assert statuses == [201, 403], batch.text


def test_urge_needs_a_note_moves_the_deadline_keeps_the_status_and_the_addressee_sees_it(world):
    case = world.report("sup")
    cid = case["id"]
    world.act("sup", cid, "register")
    world.act("sup", cid, "dispatch", unit_id=world.units[0])
    r = world.client.post(f"/api/v1/cases/{cid}/actions/urge", headers=world.h("subd"), json={})
    assert r.status_code == 422 and r.json()["field"] == "note", r.text
    world.act("sup", cid, "urge", expect=403, note="请加快")
    world.act("subd_other", cid, "urge", expect=403, note="请加快")
    before = world.client.get(f"/api/v1/cases/{cid}", headers=world.h("admin")).json()
    after = world.act("subd", cid, "urge", note="请于明日前办结", hours=4)
    assert after["status"] == before["status"] == "dispatched"
    assert after["deadline_at"] != before["deadline_at"]
    new_deadline = dt.datetime.fromisoformat(after["deadline_at"])
    assert new_deadline > dt.datetime.now(dt.UTC)
    # the addressee: the department the case is dispatched to reads the urge and its note
    seen = world.client.get(f"/api/v1/cases/{cid}", headers=world.h("dept1"))
    assert seen.status_code == 200, seen.text
    urges = [e for e in seen.json()["timeline"] if e["action"] == "urge"]
    assert len(urges) == 1 and urges[0]["note"] == "请于明日前办结"
    assert urges[0]["label_zh"] == "督办"
    # without hours the deadline stays
    again = world.act("admin", cid, "urge", note="再次督办")
    assert dt.datetime.fromisoformat(again["deadline_at"]) == new_deadline and again["status"] == "dispatched"


def test_kpis_by_subdistrict_count_urges_and_keep_to_the_scope(world):
    case = world.report("sup")
    world.act("sup", case["id"], "register")
    rows = _kpis(world, "admin", by="subdistrict")["rows"]
    assert {r["code"] for r in rows} >= {world.sub_code, world.sub_other_code}
    mine_before = next(r for r in rows if r["code"] == world.sub_code)
    world.act("subd", case["id"], "urge", note="督办一次")
    world.act("subd", case["id"], "urge", note="督办两次")
    rows = _kpis(world, "admin", by="subdistrict")["rows"]
    mine = next(r for r in rows if r["code"] == world.sub_code)
    assert mine["urges"] == mine_before["urges"] + 2
    assert mine["urged"] == mine_before["urged"] + 1
    # the communities of her subdistrict, ranked like the dashboard ranks grids; the other community absent
    own = _kpis(world, "subd", by="community")["rows"]
    codes = {r["code"] for r in own}
    assert _community_of(world, world.grid_a) in codes and _other_community(world) not in codes
    assert sum(r["urges"] for r in own) == mine["urges"]
    # her own subdistrict only, by subdistrict
    assert [r["code"] for r in _kpis(world, "subd", by="subdistrict")["rows"]] == [world.sub_code]
    # outside: 403 naming the field
    assert _kpis(world, "subd", 403, subdistrict=world.sub_other_code)["field"] == "subdistrict"
    assert _kpis(world, "subd", 403, community=_other_community(world))["field"] == "community"
    assert _kpis(world, "sup_other", 403, subdistrict=world.sub_code)["field"] == "subdistrict"
    assert _kpis(world, "admin", 422, subdistrict="no-such-street")["field"] == "subdistrict"
    # an admin's subdistrict filter keeps the communities of that subdistrict only
    filtered = _kpis(world, "admin", by="community", subdistrict=world.sub_other_code)["rows"]
    assert [r["code"] for r in filtered if r["code"] is not None] == [_other_community(world)]


def test_kpi_export_by_subdistrict(world):
    r = world.client.get("/api/v1/analytics/kpis", headers=world.h("subd"),
                         params={"by": "subdistrict", "format": "csv", "headers": "keys"})
    assert r.status_code == 200, r.text
    rows = list(csv.DictReader(io.StringIO(r.text.lstrip("\ufeff"))))
    assert [row["code"] for row in rows] == [world.sub_code]
    assert "urged" in rows[0] and "urges" in rows[0]
    trend = world.client.get("/api/v1/analytics/kpis/trend", headers=world.h("admin"),
                             params={"subdistrict": world.sub_code, "n": 2})
    assert trend.status_code == 200 and len(trend.json()["rows"]) == 2


def test_a_subdistrict_user_reads_routes_of_her_workers_only(world):
    c = world.client
    assert c.get(f"/api/v1/workers/{world.users['worker_a']}/route", headers=world.h("subd")).status_code == 200
    r = c.get(f"/api/v1/workers/{world.users['worker_a']}/route", headers=world.h("subd_other"))
    assert r.status_code == 403 and r.json()["field"] == "worker_id"


def test_a_subdistrict_user_sees_counts_but_no_names(world):
    c = world.client
    r = c.get(f"/api/v1/households?grid_id={world.grid_a}", headers=world.h("subd"))
    assert r.status_code == 403 and r.json()["field"] == "role"
    assert "a subdistrict sees counts only" in r.json()["message"]
    report = c.get("/api/v1/surveys/report/visits", headers=world.h("subd"))
    assert report.status_code == 200
    grids = {row["grid_id"] for row in report.json()["rows"]}
    assert world.grid_a in grids
    with transaction(session_factory(world.engine)) as s:
        other_grids = set(s.scalars(select(Grid.id).join(Community, Community.id == Grid.community_id)
                                    .join(Subdistrict, Subdistrict.id == Community.subdistrict_id)
                                    .where(Subdistrict.code == world.sub_other_code)))
    assert other_grids and not grids & other_grids


def test_me_tells_a_subdistrict_user_her_communities(world):
    me = world.client.get("/api/v1/auth/me", headers=world.h("subd")).json()
    assert me["role"] == "subdistrict" and me["subdistrict_id"] is not None
    with transaction(session_factory(world.engine)) as s:
        expected = sorted(s.scalars(select(Community.id).where(Community.subdistrict_id == me["subdistrict_id"])))
    assert me["community_ids"] == expected and expected
