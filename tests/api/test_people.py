"""The people around the grid on both databases: a 楼栋长 (bldg_a) reports and visits only in her 微网格 and reads no
register data beyond its buildings; a 网格长 (lead_a) reads and acts on her grid's cases and register, not another
grid's; micro-grids through the API, the CLI and the plans; the demo's step."""

from __future__ import annotations

import uuid

import geopandas as gpd
import numpy as np
import pytest
import shapely
from sqlalchemy import select

from geo.grids.micro import group_buildings
from patrol.core.db import session_factory, transaction
from patrol.core.models import Building, Grid, GridPlan, MicroGrid, ResidentAudit, User
from patrol.core.settings import Settings
from patrol.people.microgrids import copy_to_plan, put_in_force
from patrol.simulate.people_microgrids import microgrids_and_leads
from tests.api.test_cli import run


@pytest.fixture(scope="module")
def place(world) -> dict:
    """Grid A's buildings: one of bldg_a's micro-grid and one of grid A outside it; grid B's building."""
    with transaction(session_factory(world.engine)) as s:
        outside = s.scalar(select(Building.id).where(Building.grid_id == world.grid_a,
                                                     Building.id.not_in(world.micro_buildings))
                           .order_by(Building.id))
        in_b = s.scalar(select(Building.id).where(Building.grid_id == world.grid_b).order_by(Building.id))
    return {"mine": world.micro_buildings[0], "outside": outside, "grid_b": in_b}


def _household(world, building: int, name: str) -> tuple[int, int]:
    c, h = world.client, world.h("sup")
    r = c.post("/api/v1/households", headers=h, json={"building_id": building, "room": f"{uuid.uuid4().hex[:5]}室"})
    assert r.status_code == 201, r.text
    hid = r.json()["id"]
    r = c.post(f"/api/v1/households/{hid}/residents", headers=h, json={"name": name, "birth_year": 1940,
                                                                       "phone": "13812345678"})
    assert r.status_code == 201, r.text
    return hid, r.json()["id"]


def test_a_building_lead_reports_only_in_her_micro_grid(world, place):
    c, h = world.client, world.h("bldg_a")
    mine = c.post("/api/v1/cases", headers=h, json={"client_id": str(uuid.uuid4()), "category": "C0103",
                                                     "lon": world.point_micro[0], "lat": world.point_micro[1],
                                                     "building_id": place["mine"]})
    assert mine.status_code == 201, mine.text
    assert mine.json()["status"] == "reported" and mine.json()["channel"] == "patrol"  # 待立案 like a worker's
    outside = c.post("/api/v1/cases", headers=h, json={"client_id": str(uuid.uuid4()), "category": "C0103",
                                                        "lon": world.point_a[0], "lat": world.point_a[1]})
    assert outside.status_code == 403 and outside.json()["field"] == "lat"
    named = c.post("/api/v1/cases", headers=h, json={"client_id": str(uuid.uuid4()), "category": "C0103",
                                                      "lon": world.point_a[0], "lat": world.point_a[1],
                                                      "building_id": place["outside"]})
    assert named.status_code == 403 and named.json()["field"] == "building_id"
    batch = c.post("/api/v1/cases/batch", headers=h, json={"cases": [
        {"client_id": str(uuid.uuid4()), "category": "C0103", "lon": world.point_a[0], "lat": world.point_a[1]},
        {"client_id": str(uuid.uuid4()), "category": "C0103", "lon": world.point_micro[0],
         "lat": world.point_micro[1]}]})
    assert [r["status"] for r in batch.json()["results"]] == [403, 201], batch.text
    # 我的: her reports; the case list holds nothing else; she supplements her own and does nothing more
    case_id = mine.json()["id"]
    ids = {f["properties"]["id"] for f in c.get("/api/v1/cases", headers=h, params={"limit": 500}).json()["features"]}
    assert case_id in ids and len(ids) == 2
    assert {x["id"] for x in c.get("/api/v1/field/my-reports", headers=h).json()["items"]} == ids
    world.act("bldg_a", case_id, "supplement", note="楼道里又有电动车充电")
    world.act("bldg_a", case_id, "register", expect=403)
    assert c.get(f"/api/v1/cases/{case_id}", headers=world.h("worker_a")).status_code == 200  # her grid's worker
    file = c.get(f"/api/v1/desk/cases/{mine.json()['number']}", headers=world.h("sup")).json()
    assert any("楼栋长" in str(e) for e in file["timeline"]), file["timeline"]  # her post beside her name


def test_a_building_lead_visits_and_reads_the_register_of_her_buildings_only(world, place):
    c, h = world.client, world.h("bldg_a")
    hers, her_resident = _household(world, place["mine"], "楼内居民")
    other, other_resident = _household(world, place["outside"], "楼外居民")
    ok = c.post("/api/v1/visits", headers=h, json={"client_id": str(uuid.uuid4()), "building_id": place["mine"],
                                                   "household_id": hers})
    assert ok.status_code == 201, ok.text
    refused = c.post("/api/v1/visits", headers=h, json={"client_id": str(uuid.uuid4()),
                                                        "building_id": place["outside"]})
    assert refused.status_code == 403 and refused.json()["field"] == "building_id"
    listed = c.get("/api/v1/households", headers=h).json()
    assert {x["id"] for x in listed} == {x["id"] for x in listed if x["building_id"] in world.micro_buildings}
    assert hers in {x["id"] for x in listed} and other not in {x["id"] for x in listed}
    assert c.get(f"/api/v1/residents/{her_resident}", headers=h).json()["name"] == "楼内居民"
    r = c.get(f"/api/v1/residents/{other_resident}", headers=h)
    assert r.status_code == 403 and "楼外居民" not in r.text
    assert c.get(f"/api/v1/households/{other}", headers=h).status_code == 403
    assert all(x["building_id"] in world.micro_buildings for x in c.get("/api/v1/needs", headers=h).json())
    with transaction(session_factory(world.engine)) as s:  # her read was audited
        assert s.scalar(select(ResidentAudit.id).where(ResidentAudit.actor == "building_lead:bldg_a",
                                                       ResidentAudit.resident_id == her_resident)) is not None
    # her phone: her micro-grid and its buildings, not the grid
    today = c.get("/api/v1/field/today", headers=h).json()
    assert {b["id"] for b in today["buildings"]} == set(world.micro_buildings)
    assert [f["properties"]["code"] for f in today["grids"]["features"]] == [world.micro_code]
    assert today["user"]["post"] == "楼栋长" and today["tasks"]["stops"] == []
    assert c.get("/api/v1/analytics/kpis", headers=h).status_code == 403  # no figures
    assert c.get("/desk", headers=h, follow_redirects=False).headers["location"] == "/app/"


def test_a_grid_lead_reads_and_acts_in_her_grids_only(world, place):
    c, h = world.client, world.h("lead_a")
    a = world.report("worker_a")
    b = world.report("worker_b", point=world.point_b)
    assert c.get(f"/api/v1/cases/{a['id']}", headers=h).status_code == 200
    r = c.get(f"/api/v1/cases/{b['id']}", headers=h)
    assert r.status_code == 403 and r.json()["field"] == "case_id"
    world.act("lead_a", a["id"], "register")
    world.act("lead_a", b["id"], "register", expect=403)
    done = world.act("lead_a", a["id"], "dispatch")
    assert done["status"] == "dispatched"
    world.act("lead_a", a["id"], "accept", expect=403)  # she leads the worker, she does not handle
    hid, rid = _household(world, place["outside"], "网格A居民")
    assert c.get(f"/api/v1/residents/{rid}", headers=h).json()["name"] == "网格A居民"
    hb = c.post("/api/v1/households", headers=world.h("sup"), json={"building_id": place["grid_b"], "room": "1室"})
    assert c.get(f"/api/v1/households/{hb.json()['id']}", headers=h).status_code == 403
    assert {x["grid_id"] for x in c.get("/api/v1/households", headers=h).json()} == {world.grid_a}
    queues = c.get("/api/v1/desk/queues", headers=h).json()
    assert queues["role"] == "grid_lead" and {q["name"] for q in queues["queues"]} >= {"to_register", "to_close"}
    assert c.get("/api/v1/analytics/kpis", headers=h).status_code == 200  # her one grid's figures
    grid_b = c.get("/api/v1/analytics/kpis", headers=h, params={"grid": _code(world, world.grid_b)})
    assert grid_b.status_code == 403 and grid_b.json()["field"] == "grid"


def _code(world, grid_id: int) -> str:
    with transaction(session_factory(world.engine)) as s:
        return str(s.get(Grid, grid_id).code)


def test_micro_grids_over_http_in_each_scope(world):
    c = world.client
    mine = c.get("/api/v1/microgrids", headers=world.h("bldg_a")).json()["features"]
    assert [f["properties"]["code"] for f in mine] == [world.micro_code]
    assert mine[0]["properties"]["leader"] == "bldg_a" and mine[0]["properties"]["leader_post"] == "楼栋长"
    assert sorted(mine[0]["properties"]["buildings"]) == list(world.micro_buildings)
    grid_a = c.get("/api/v1/microgrids", headers=world.h("worker_a")).json()["features"]
    assert len(grid_a) >= 2 and {f["properties"]["grid_code"] for f in grid_a} == {_code(world, world.grid_a)}
    assert c.get("/api/v1/microgrids", headers=world.h("worker_b")).json()["features"] == []
    r = c.post("/api/v1/microgrids/generate", headers=world.h("planner"), json={"grids": ["nope"]})
    assert r.status_code == 403 and r.json()["field"] == "plan_id"  # planners draw in a draft
    r = c.put(f"/api/v1/microgrids/{world.micro_code}/leader", headers=world.h("admin"), json={"username": "worker_a"})
    assert r.status_code == 422 and r.json()["field"] == "username"


def test_micro_grids_follow_the_plans(world):
    """A draft gets a copy of the micro-grids in force; publishing puts the draft's in force (rolled back here, so
    that the shared world keeps its grids)."""
    factory = session_factory(world.engine)
    with factory() as s:
        plan = GridPlan(name="micro test", status="draft")
        s.add(plan)
        s.flush()
        n = copy_to_plan(s, plan.id)
        in_force = s.scalar(select(MicroGrid.id).where(MicroGrid.code == world.micro_code, MicroGrid.plan_id.is_(None)))
        copy = s.scalars(select(MicroGrid).where(MicroGrid.plan_id == plan.id, MicroGrid.code == world.micro_code)
                         ).one()
        assert n >= 2 and copy.leader_id == world.users["bldg_a"] and copy.id != in_force
        copy.name = "新名字"
        assert put_in_force(s, plan.id) == n
        now = s.scalars(select(MicroGrid).where(MicroGrid.plan_id.is_(None), MicroGrid.code == world.micro_code)
                        ).one()
        assert now.name == "新名字" and now.leader_id == world.users["bldg_a"] and now.grid_id == world.grid_a
        s.rollback()


def test_the_cli_makes_leads_and_lists_micro_grids(world, tmp_path):
    code_a, code_b = _code(world, world.grid_a), _code(world, world.grid_b)
    r = run(world.url, "users", "add", "lead_cli", "--role", "grid_lead", "--password", "correct horse 2",
            "--lead-grids", code_b, "--post", "网格长")
    assert r.exit_code == 0, r.output
    r = run(world.url, "users", "add", "bldg_cli", "--role", "building_lead", "--password", "correct horse 2")
    assert r.exit_code != 0 and "--micro-grid" in r.output
    r = run(world.url, "users", "add", "bldg_cli", "--role", "building_lead", "--password", "correct horse 2",
            "--micro-grid", "nope")
    assert r.exit_code != 0 and "nope" in r.output
    listed = run(world.url, "users", "list").stdout.splitlines()
    lead = next(line for line in listed if "\tlead_cli\t" in line).split("\t")
    assert lead[-2:] == ["网格长", f"网格长 of 1 grid(s): {code_b}"]
    bldg = next(line for line in listed if "\tbldg_a\t" in line).split("\t")
    assert bldg[-1].startswith(f"楼栋长 of 微网格 {world.micro_code}")
    r = run(world.url, "people", "microgrids", "list", "--grid", code_a)
    assert r.exit_code == 0 and f"{world.micro_code}\t" in r.stdout and "bldg_a (楼栋长)" in r.stdout
    out = tmp_path / "micro.csv"
    assert run(world.url, "people", "microgrids", "export", "--format", "csv", "--out", str(out)).exit_code == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "code,name,building_id,address"
    assert {ln.split(",")[2] for ln in lines if ln.startswith(world.micro_code + ",")} \
        == {str(b) for b in world.micro_buildings}
    # the export imports again, into a draft (CSV by building ids; GeoJSON by the buildings within each feature)
    plan = world.client.post("/api/v1/plans", headers=world.h("planner"), json={"name": "微网格导入"}).json()["id"]
    mine = [ln for ln in lines if ln.startswith(world.micro_code + ",")]
    (tmp_path / "one.csv").write_text("\n".join([lines[0], *(m.replace(world.micro_code, world.micro_code[:-2] + "77")
                                                             for m in mine)]), encoding="utf-8")
    r = run(world.url, "people", "microgrids", "import", str(tmp_path / "one.csv"), "--plan", str(plan))
    assert r.exit_code == 0 and f"imported 1 micro-grids with {len(mine)} buildings" in r.stdout, r.output
    listed = run(world.url, "people", "microgrids", "list", "--plan", str(plan)).stdout
    assert f"{world.micro_code[:-2]}77\t" in listed and f"{world.micro_code}\t" not in listed  # grid A's replaced
    assert f"{world.micro_code}\t" in run(world.url, "people", "microgrids", "list").stdout  # in force: unchanged
    geo = tmp_path / "micro.geojson"
    assert run(world.url, "people", "microgrids", "export", "--out", str(geo)).exit_code == 0
    r = run(world.url, "people", "microgrids", "import", str(geo), "--plan", str(plan))
    assert r.exit_code == 0 and "imported" in r.stdout, r.output
    bad = tmp_path / "bad.csv"
    bad.write_text("code,name,building_id\nX1,甲,999999999\n", encoding="utf-8")
    r = run(world.url, "people", "microgrids", "import", str(bad), "--plan", str(plan))
    assert r.exit_code != 0 and "row 2" in r.output and "999999999" in r.output
    with transaction(session_factory(world.engine)) as s:
        assert s.scalar(select(Grid.lead_id).where(Grid.code == code_b)) \
            == s.scalar(select(User.id).where(User.username == "lead_cli"))


def test_the_demo_step_makes_leads_for_every_micro_grid(world):
    factory = session_factory(world.engine)
    with factory() as s:
        line = microgrids_and_leads(s, Settings(database_url=world.url))
        assert line is not None and "楼栋长" in line
        s.flush()
        leaderless = s.scalar(select(MicroGrid.id).where(MicroGrid.plan_id.is_(None), MicroGrid.leader_id.is_(None)))
        assert leaderless is None
        assert s.scalar(select(Grid.id).where(Grid.lead_id.is_(None))) is None
        assert microgrids_and_leads(s, Settings(database_url=world.url)) is None  # idempotent
        s.rollback()


def test_group_buildings_makes_contiguous_micro_grids_in_the_range():
    rng = np.random.default_rng(7)
    pts = rng.uniform(0, 300, (80, 2))
    frame = gpd.GeoDataFrame({"households": rng.integers(0, 15, 80)},
                             geometry=[shapely.Point(*p).buffer(5) for p in pts], crs=32650)
    plan = group_buildings(frame, "G1", households_range=(30, 80))
    assert list(plan.frame["code"]) == [f"G1{n:02d}" for n in range(1, len(plan.frame) + 1)]
    assert plan.frame["households"].sum() == frame["households"].sum()
    assert all(25 <= h <= 85 for h in plan.frame["households"])  # the repairs may leave a group a little off
    assert sorted(b for bs in plan.frame["buildings"] for b in bs) == list(range(80))
    for geom, members in zip(plan.frame.geometry, plan.frame["buildings"], strict=True):
        assert geom.geom_type == "MultiPolygon" and geom.contains(shapely.union_all(frame.geometry.iloc[members]))
