"""Grid plans over HTTP on both databases (Monaco with grids, the `world` fixture): roles, drafts and edits,
validation and impact against independent counts, download/upload round trips and upload errors, a publish that
moves open cases (and what follows them), the grid a case had when reported, a refused publish, and a rollback.

Each test has a world of its own (a publish changes the grids in force for whatever runs after it); the publishing
tests start from the ``moved`` draft, and the rollback publishes it first."""

from __future__ import annotations

import datetime as dt
import io
import json
import uuid
import zipfile

import geopandas as gpd
import numpy as np
import pytest
import shapely
import shapely.affinity
from shapely.geometry import mapping, shape
from shapely.ops import polylabel
from sqlalchemy import select

from patrol.core.models import City
from tests.api.conftest import own_world

world = pytest.fixture(name="world")(own_world)
ROLES_DENIED = ("worker_a", "sup", "dept1")


# ---------------------------------------------------------------------------------------------- helpers


def _epsg(world) -> int:
    with world.engine.connect() as conn:
        return int(conn.execute(select(City.metric_epsg)).scalar_one())


def _draft(world, who: str = "planner") -> int:
    r = world.client.post("/api/v1/plans", headers=world.h(who), json={"name": f"test {uuid.uuid4().hex[:6]}"})
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "draft"
    return r.json()["id"]


def _plan(world, pid: int) -> dict:
    r = world.client.get(f"/api/v1/plans/{pid}", headers=world.h("planner"))
    assert r.status_code == 200, r.text
    return r.json()


def _shapes(world, pid: int) -> dict[str, shapely.Geometry]:
    return {f["properties"]["code"]: shape(f["geometry"]) for f in _plan(world, pid)["features"]}


def _grids_in_force(world) -> dict[str, dict]:
    r = world.client.get("/api/v1/grids", params={"limit": 5000}, headers=world.h("planner"))  # staff see workers
    assert r.status_code == 200, r.text
    return {f["properties"]["code"]: f for f in r.json()["features"]}


def _validation(world, pid: int) -> dict:
    r = world.client.get(f"/api/v1/plans/{pid}/validation", headers=world.h("planner"))
    assert r.status_code == 200, r.text
    return r.json()


def _to_metric(world, geom):
    return gpd.GeoSeries([geom], crs=4326).to_crs(_epsg(world)).iloc[0]


def _to_wgs(world, geom):
    return gpd.GeoSeries([geom], crs=_epsg(world)).to_crs(4326).iloc[0]


def _code_of(world, grid_id: int) -> str:
    return next(c for c, f in _grids_in_force(world).items() if f["properties"]["id"] == grid_id)


def _case(world, cid: int) -> dict:
    r = world.client.get(f"/api/v1/cases/{cid}", headers=world.h("admin"))
    assert r.status_code == 200, r.text
    return r.json()


def _upload(world, pid: int, name: str, data: bytes, who: str = "planner"):
    return world.client.post(f"/api/v1/plans/{pid}/upload", headers=world.h(who), files={"file": (name, data)})


# ---------------------------------------------------------------------------------------------- roles


def test_only_planners_and_admins_work_on_plans(world):
    for who in ("planner", "admin"):
        assert world.client.get("/api/v1/plans", headers=world.h(who)).status_code == 200
    pid = _draft(world, "admin")
    for who in ROLES_DENIED:
        for method, url in (("get", "/api/v1/plans"), ("post", "/api/v1/plans"), ("get", f"/api/v1/plans/{pid}"),
                            ("get", f"/api/v1/plans/{pid}/validation"), ("get", f"/api/v1/plans/{pid}/impact"),
                            ("post", f"/api/v1/plans/{pid}/publish"), ("post", "/api/v1/plans/rollback"),
                            ("get", f"/api/v1/plans/{pid}/download")):
            r = getattr(world.client, method)(url, headers=world.h(who))
            assert r.status_code == 403, (who, url, r.text)
            assert r.json()["field"] == "role"
    assert world.client.get("/api/v1/plans").status_code == 401
    assert world.client.post(f"/api/v1/plans/{pid}/publish").status_code == 401
    assert world.client.delete(f"/api/v1/plans/{pid}", headers=world.h("worker_a")).status_code == 403
    assert world.client.delete(f"/api/v1/plans/{pid}", headers=world.h("planner")).status_code == 204
    assert world.client.get(f"/api/v1/plans/{pid}", headers=world.h("planner")).status_code == 404


# ---------------------------------------------------------------------------------------------- drafts and edits


def test_a_draft_is_a_copy_of_the_grids_in_force_and_history_starts_with_a_baseline(world):
    pid = _draft(world)
    plan = _plan(world, pid)
    in_force = _grids_in_force(world)
    assert plan["plan"]["status"] == "draft" and plan["plan"]["grids"] == len(in_force)
    assert {f["properties"]["code"] for f in plan["features"]} == set(in_force)
    for f in plan["features"]:
        g = in_force[f["properties"]["code"]]
        assert shapely.equals_exact(shape(f["geometry"]), shape(g["geometry"]), tolerance=1e-9)
        assert (f["properties"]["worker_id"], f["properties"]["community_id"]) == \
               (g["properties"]["worker_id"], g["properties"]["community_id"])
    listed = world.client.get("/api/v1/plans", headers=world.h("planner")).json()
    baseline = [p for p in listed if p["status"] == "published"]
    assert len(baseline) == 1 and baseline[0]["name"] == "baseline"
    assert plan["plan"]["based_on"] == baseline[0]["id"]
    assert _validation(world, pid)["ok"]


def test_split_merge_and_move_boundary_keep_the_tiling(world):
    pid = _draft(world)
    before = _shapes(world, pid)
    first = _code_of(world, world.grid_b)
    for code in [first, *sorted(c for c in before if c != first)]:  # a vertical line may cross a grid twice
        grid = before[code]
        minx, miny, _, maxy = grid.bounds
        x = _to_wgs(world, polylabel(max(_to_metric(world, grid).geoms, key=lambda p: p.area), 1.0)).x
        line = {"type": "LineString", "coordinates": [[x, miny - 1e-4], [x, maxy + 1e-4]]}
        r = world.client.post(f"/api/v1/plans/{pid}/split", headers=world.h("planner"),
                              json={"code": code, "line": line})
        assert r.status_code in (200, 422), r.text
        if r.status_code == 200:
            break
        assert r.json()["field"] == "line"
    assert r.status_code == 200, r.text
    kept, new = r.json()["codes"]
    assert kept == code and new[:12] == code[:12] and new not in before
    after = _shapes(world, pid)
    assert abs(after[code].area + after[new].area - grid.area) < 1e-9
    check = _validation(world, pid)
    assert check["counts"]["gaps"] == check["counts"]["overlaps"] == check["counts"]["slivers"] == 0, check
    # a line that misses the grid is refused, naming the field
    far = {"type": "LineString", "coordinates": [[minx - 0.01, miny - 0.01], [minx - 0.005, miny - 0.01]]}
    r = world.client.post(f"/api/v1/plans/{pid}/split", headers=world.h("planner"), json={"code": code, "line": far})
    assert r.status_code == 422 and r.json()["field"] == "line"

    # move the new boundary 5 m east: both grids change together, their union stays
    shift = _to_wgs(world, shapely.affinity.translate(_to_metric(world, shapely.Point(x, miny)), 5, 0)).x - x
    moved = {"type": "LineString", "coordinates": [[x + shift, miny - 1e-4], [x + shift, maxy + 1e-4]]}
    r = world.client.post(f"/api/v1/plans/{pid}/move-boundary", headers=world.h("planner"),
                          json={"codes": [code, new], "line": moved})
    assert r.status_code == 200, r.text
    assert r.json()["moved_m2"] > 0
    shifted = _shapes(world, pid)
    assert shifted[code].symmetric_difference(after[code]).area > 0
    assert abs(_to_metric(world, shapely.union_all([shifted[code], shifted[new]])).area
               - _to_metric(world, grid).area) < 0.5
    check = _validation(world, pid)
    assert check["counts"]["gaps"] == check["counts"]["overlaps"] == 0, check

    r = world.client.post(f"/api/v1/plans/{pid}/merge", headers=world.h("planner"), json={"codes": [code, new]})
    assert r.status_code == 200, r.text
    merged = _shapes(world, pid)
    assert new not in merged
    assert _to_metric(world, merged[code].symmetric_difference(grid)).area < 0.5
    assert _validation(world, pid)["ok"]
    other = next(c for c, g in merged.items() if c[:12] != code[:12])
    r = world.client.post(f"/api/v1/plans/{pid}/merge", headers=world.h("planner"), json={"codes": [code, other]})
    assert r.status_code == 422 and r.json()["field"] == "codes"


def test_validation_reports_every_problem_at_once_with_its_place(world):
    pid = _draft(world)
    shapes = _shapes(world, pid)
    codes = sorted(shapes)
    metric = {c: _to_metric(world, g) for c, g in shapes.items()}

    def put(code, geom, **extra):
        r = world.client.put(f"/api/v1/plans/{pid}/grids/{code}", headers=world.h("planner"),
                             json={"geometry": mapping(_to_wgs(world, geom)), **extra})
        assert r.status_code == 200, r.text

    big = max(codes[3:], key=lambda c: metric[c].area)
    put(big, metric[big].buffer(-15))  # a gap all round it, with buildings in it
    minx, miny, maxx, maxy = metric[codes[0]].bounds
    put(codes[0], shapely.Polygon([(minx, miny), (maxx, maxy), (maxx, miny), (minx, maxy)]))  # a bowtie
    far = shapely.box(maxx + 5000, maxy + 5000, maxx + 5100, maxy + 5100)
    put(codes[1], shapely.union_all([metric[codes[1]], far]))  # reaches out of its community
    inner = polylabel(max(metric[codes[2]].geoms, key=lambda p: p.area), 1.0)
    strip = shapely.box(inner.x - 20, inner.y - 0.5, inner.x + 20, inner.y + 0.5)
    put(codes[2][:12] + "998", strip, community_id=_plan(world, pid)["features"][2]["properties"]["community_id"])
    check = _validation(world, pid)
    assert not check["ok"]
    for name in ("gaps", "overlaps", "invalid_geometries", "grids_outside_community", "slivers",
                 "buildings_in_no_grid", "households_out_of_range", "multipart_grids"):
        assert check["counts"][name] >= 1, (name, check["counts"])
    kinds = {p["kind"] for p in check["problems"]}
    assert {"gap", "overlap", "invalid_geometry", "grid_outside_community", "sliver", "building_in_no_grid",
            "households_out_of_range", "multipart_grid"} <= kinds
    assert check["errors"] == sum(p["severity"] == "error" for p in check["problems"])
    for p in check["problems"]:
        assert p["lon"] is not None and p["lat"] is not None, p
        assert 7.3 < p["lon"] < 7.6 and 43.6 < p["lat"] < 43.9, p  # Monaco, or the far piece nearby
    sliver = next(p for p in check["problems"] if p["kind"] == "sliver")
    assert sliver["feature"] == codes[2][:12] + "998"
    assert shape(mapping(_to_wgs(world, strip))).buffer(1e-4).contains(shapely.Point(sliver["lon"], sliver["lat"]))
    r = world.client.get(f"/api/v1/plans/{pid}/validation", headers=world.h("planner"),
                         params={"sliver_width_m": 0})
    assert r.json()["counts"]["slivers"] == 0
    assert world.client.get(f"/api/v1/plans/{pid}/impact", headers=world.h("planner")).status_code == 200
    assert world.client.delete(f"/api/v1/plans/{pid}", headers=world.h("planner")).status_code == 204


# ---------------------------------------------------------------------------------------------- files


@pytest.mark.parametrize("fmt", ["gpkg", "geojson", "shp"])
def test_download_then_upload_round_trips(world, fmt):
    pid = _draft(world)
    before = _plan(world, pid)
    r = world.client.get(f"/api/v1/plans/{pid}/download", headers=world.h("planner"), params={"format": fmt})
    assert r.status_code == 200, r.text
    name = r.headers["content-disposition"].split('filename="')[1].rstrip('"')
    assert name.endswith({"gpkg": ".gpkg", "geojson": ".geojson", "shp": ".zip"}[fmt])
    if fmt == "shp":
        assert {n.rsplit(".", 1)[1] for n in zipfile.ZipFile(io.BytesIO(r.content)).namelist()} >= \
               {"shp", "shx", "dbf", "prj"}
    up = _upload(world, pid, name, r.content)
    assert up.status_code == 200, up.text
    assert up.json()["grids"] == len(before["features"])
    after = {f["properties"]["code"]: f for f in _plan(world, pid)["features"]}
    assert set(after) == {f["properties"]["code"] for f in before["features"]}
    for f in before["features"]:
        g = after[f["properties"]["code"]]
        assert shapely.equals_exact(shape(f["geometry"]), shape(g["geometry"]), tolerance=1e-6)
        for key in ("name", "community_id", "worker_id"):
            assert g["properties"][key] == f["properties"][key], key


def _layer_bytes(frame: gpd.GeoDataFrame, tmp_path, fmt: str, *, drop_prj: bool = False) -> tuple[str, bytes]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    if fmt == "geojson":
        path = tmp_path / "layer.geojson"
        frame.to_file(path, driver="GeoJSON", engine="pyogrio")
        return path.name, path.read_bytes()
    path = tmp_path / "layer.shp"
    frame.to_file(path, driver="ESRI Shapefile", engine="pyogrio")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for part in tmp_path.glob("layer.*"):
            if not (drop_prj and part.suffix == ".prj"):
                zf.write(part, part.name)
    return "layer.zip", buf.getvalue()


def test_upload_errors_are_one_clear_message_and_change_nothing(world, tmp_path):
    pid = _draft(world)
    before = _plan(world, pid)["features"]
    frame = gpd.GeoDataFrame({"code": [f["properties"]["code"] for f in before]},
                             geometry=[shape(f["geometry"]) for f in before], crs=4326)
    cases = {
        "wrong CRS": (_layer_bytes(frame.to_crs(3857), tmp_path / "a", "shp"), "crs", "EPSG:3857"),
        "no CRS": (_layer_bytes(frame.to_crs(_epsg(world)), tmp_path / "b", "shp", drop_prj=True), "crs",
                   "no CRS"),
        "no code column": (_layer_bytes(frame.rename(columns={"code": "label"}), tmp_path / "c", "geojson"),
                           "code", "no 'code' column"),
        "points": (_layer_bytes(frame.set_geometry(frame.representative_point()), tmp_path / "d", "geojson"),
                   "geometry", "Point"),
        "bad codes": (_layer_bytes(frame.assign(code="12"), tmp_path / "e", "geojson"), "code", "15 digits"),
    }
    for label, ((name, data), field, words) in cases.items():
        r = _upload(world, pid, name, data)
        assert r.status_code == 422, (label, r.text)
        body = r.json()
        assert body["field"] == field and words in body["message"], (label, body)
    r = _upload(world, pid, "grids.csv", b"code\n1\n")
    assert r.status_code == 422 and r.json()["field"] == "file"
    after = _plan(world, pid)["features"]
    assert [f["properties"] for f in after] == [f["properties"] for f in before]
    assert all(shapely.equals_exact(shape(a["geometry"]), shape(b["geometry"]), tolerance=0)
               for a, b in zip(after, before, strict=True))
    # the city's metric CRS is accepted (and stored in WGS-84)
    name, data = _layer_bytes(frame.to_crs(_epsg(world)), tmp_path / "f", "shp")
    assert _upload(world, pid, name, data).status_code == 200
    for a, b in zip(_plan(world, pid)["features"], before, strict=True):
        assert shapely.equals_exact(shape(a["geometry"]), shape(b["geometry"]), tolerance=1e-6)


def test_upload_reports_every_problem_at_once(world, tmp_path):
    """The upload goes through geo.layers.prepare_layer: a bad code on one row and a point on another are both
    reported in one answer (message and details), with the rows they are on, and nothing changes."""
    pid = _draft(world)
    before = _plan(world, pid)["features"]
    codes = [f["properties"]["code"] for f in before]
    geoms = [shape(f["geometry"]) for f in before]
    codes[0] = "12"
    geoms[1] = geoms[1].representative_point()
    frame = gpd.GeoDataFrame({"code": codes}, geometry=geoms, crs=4326)
    r = _upload(world, pid, *_layer_bytes(frame, tmp_path, "geojson"))
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["field"] == "geometry"  # the geometry problem comes first
    assert "row 2: Point, expected MultiPolygon or Polygon" in body["message"]
    assert "row 1: code must be 15 digits, got '12'" in body["message"]
    assert len(body["details"]) == 2 and body["message"].startswith("layer.geojson: 2 problems: ")
    assert [f["properties"] for f in _plan(world, pid)["features"]] == [f["properties"] for f in before]


def test_upload_checks_communities_and_workers_of_a_sound_layer(world, tmp_path):
    pid = _draft(world)
    before = _plan(world, pid)["features"]
    frame = gpd.GeoDataFrame({"code": [f["properties"]["code"] for f in before],
                              "community_id": [99999] + [f["properties"]["community_id"] for f in before[1:]],
                              "worker_id": [None, 99998] + [None] * (len(before) - 2)},
                             geometry=[shape(f["geometry"]) for f in before], crs=4326)
    r = _upload(world, pid, *_layer_bytes(frame, tmp_path, "geojson"))
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["field"] == "community_id"
    assert body["details"] == ["row 1: community_id 99999 is not a community",
                               "row 2: worker_id 99998 is not a grid worker"]


# ---------------------------------------------------------------------------------------------- proposal


def test_a_proposal_rebalances_one_community_in_the_draft(world):
    pid = _draft(world)
    check = _validation(world, pid)
    outside = {p["feature"] for p in check["problems"] if p["kind"] == "households_out_of_range"}
    features = _plan(world, pid)["features"]
    community = next(f["properties"]["community_id"] for f in features if f["properties"]["code"] in outside)
    r = world.client.post(f"/api/v1/plans/{pid}/propose", headers=world.h("planner"),
                          params={"community": community})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["community_id"] == community and body["stats"]["grids"] == len(body["grids"])
    proposed = {f["properties"]["code"] for f in _plan(world, pid)["features"]
                if f["properties"]["community_id"] == community}
    assert proposed == {g["code"] for g in body["grids"]}
    after = _validation(world, pid)
    assert after["ok"], [p for p in after["problems"] if p["severity"] == "error"]
    r = world.client.post(f"/api/v1/plans/{pid}/propose", headers=world.h("planner"),
                          params={"community": "no such community"})
    assert r.status_code == 422 and r.json()["field"] == "community"


# ---------------------------------------------------------------------------------------------- publishing


def test_publish_with_fatal_problems_is_refused_and_changes_nothing(world):
    pid = _draft(world)
    code = _code_of(world, world.grid_a)
    grid = _shapes(world, pid)[code]
    r = world.client.put(f"/api/v1/plans/{pid}/grids/{code}", headers=world.h("planner"),
                         json={"geometry": mapping(_to_wgs(world, _to_metric(world, grid).buffer(-10)))})
    assert r.status_code == 200, r.text
    in_force = _grids_in_force(world)
    r = world.client.post(f"/api/v1/plans/{pid}/publish", headers=world.h("planner"), json={})
    assert r.status_code == 409, r.text
    body = r.json()
    assert "gap" in body["message"] and body["details"] and "lon/lat" in body["details"][0]
    assert _plan(world, pid)["plan"]["status"] == "draft"
    assert shapely.equals_exact(shape(_grids_in_force(world)[code]["geometry"]), shape(in_force[code]["geometry"]),
                                tolerance=0)
    future = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    r = world.client.post(f"/api/v1/plans/{pid}/publish", headers=world.h("planner"), json={"effective_from": future})
    assert r.status_code == 422 and r.json()["field"] == "effective_from"
    assert world.client.delete(f"/api/v1/plans/{pid}", headers=world.h("planner")).status_code == 204


@pytest.fixture
def moved(world):
    """A draft in which grid B takes a disc around a point P deep inside grid A, with an open case at P assigned
    to A's worker and a closed case at P with its revisit pending."""
    code_a, code_b = _code_of(world, world.grid_a), _code_of(world, world.grid_b)
    a = _to_metric(world, shape(_grids_in_force(world)[code_a]["geometry"]))
    core = polylabel(max(a.geoms, key=lambda p: p.area), 0.5)
    radius = min(20.0, 0.5 * core.distance(a.boundary))
    p = _to_wgs(world, core)
    point = (p.x, p.y)
    open_case = world.report("worker_a", "C0102", point=point)["id"]
    world.act("worker_a", open_case, "register")
    world.act("worker_a", open_case, "dispatch")
    closed_case = world.report("worker_a", "C0102", point=point)["id"]
    for action in ("register", "dispatch", "accept", "handle", "verify", "close"):
        world.act("worker_a", closed_case, action)
    batch = world.client.post("/api/v1/cases/batch", headers=world.h("sup"), json={"cases": [
        {"client_id": str(uuid.uuid4()), "category": "C0102", "lon": point[0], "lat": point[1]}]})
    assert batch.status_code == 200 and batch.json()["results"][0]["status"] == 201, batch.text
    warm = batch.json()["results"][0]["id"]  # also fills the batch path's location cache with the old grids
    pid = _draft(world)
    b = _to_metric(world, _shapes(world, pid)[code_b])
    disc = core.buffer(radius).intersection(a)
    r = world.client.post(f"/api/v1/plans/{pid}/reshape", headers=world.h("planner"),
                          json={"code": code_b, "geometry": mapping(_to_wgs(world, shapely.union_all([b, disc])))})
    assert r.status_code == 200, r.text
    assert r.json()["neighbours_changed"] == [code_a]
    return {"plan": pid, "a": code_a, "b": code_b, "point": point, "disc": _to_wgs(world, disc),
            "open": open_case, "closed": closed_case, "warm": warm}


def test_impact_equals_independent_counts(world, moved):
    pid = moved["plan"]
    r = world.client.get(f"/api/v1/plans/{pid}/impact", headers=world.h("planner"))
    assert r.status_code == 200, r.text
    impact = {g["code"]: g for g in r.json()["grids"]}
    epsg = _epsg(world)
    in_force = _grids_in_force(world)
    plan = {c: _to_metric(world, g) for c, g in _shapes(world, pid).items()}
    buildings = gpd.GeoDataFrame.from_features(
        world.client.get("/api/v1/buildings", params={"limit": 5000}).json()["features"], crs=4326).to_crs(epsg)
    points = buildings.geometry.representative_point()
    roads = gpd.GeoDataFrame.from_features(
        world.client.get("/api/v1/roads", params={"limit": 5000}).json()["features"], crs=4326).to_crs(epsg)
    cases = world.client.get("/api/v1/cases", headers=world.h("admin"), params={"limit": 5000}).json()["features"]
    open_statuses = {"reported", "registered", "dispatched", "accepted", "handled", "verified", "suspended"}
    case_pts = gpd.GeoSeries([shape(f["geometry"]) for f in cases], crs=4326).to_crs(epsg)
    for code in (moved["a"], moved["b"]):
        before, after = impact[code]["before"], impact[code]["after"]
        assert impact[code]["status"] == "changed"
        props = in_force[code]["properties"]
        assert (before["buildings"], before["households"]) == (props["buildings"], props["households"])
        inside = points.within(plan[code]).to_numpy()
        assert after["buildings"] == int(inside.sum())
        assert after["households"] == int(buildings["households"].to_numpy()[inside].sum())
        assert after["street_m"] == pytest.approx(roads.geometry.intersection(plan[code]).length.sum(), abs=0.2)
        in_grid = case_pts.within(plan[code]).to_numpy()
        is_open = np.array([f["properties"]["status"] in open_statuses for f in cases])
        assert after["open_cases"] == int((in_grid & is_open).sum())
        assert after["cases_90d"] == int(in_grid.sum())
        assert before["open_cases"] == sum(f["properties"]["grid_id"] == props["id"] and
                                           f["properties"]["status"] in open_statuses for f in cases)
    assert impact[moved["a"]]["after"]["open_cases"] == impact[moved["a"]]["before"]["open_cases"] - 2
    features = r.json()["moved"]["features"]
    case_moves = {f["properties"]["id"]: f["properties"] for f in features if f["properties"]["kind"] == "case"}
    assert case_moves[moved["open"]]["from"] == moved["a"] and case_moves[moved["open"]]["to"] == moved["b"]
    assert moved["closed"] not in case_moves
    area = [f for f in features if f["properties"]["kind"] == "area"]
    assert any(f["properties"]["from"] == moved["a"] and f["properties"]["to"] == moved["b"] for f in area)


def _publish(world, moved) -> dict:
    r = world.client.post(f"/api/v1/plans/{moved['plan']}/publish", headers=world.h("planner"),
                          json={"effective_from": dt.date.today().isoformat(), "note": "grid 5 grew"})
    assert r.status_code == 200, r.text
    return r.json()


def test_publish_moves_open_cases_buildings_revisits_and_routing(world, moved):
    pid, code_a, code_b = moved["plan"], moved["a"], moved["b"]
    assert _validation(world, pid)["ok"]
    buildings_in_disc = [f["properties"]["id"] for f in world.client.get(
        "/api/v1/buildings", params={"limit": 5000}).json()["features"]
        if moved["disc"].contains(shape(f["geometry"]).representative_point())]
    closed_before = _case(world, moved["closed"])
    revisit = closed_before["revisits"][0]
    result = _publish(world, moved)
    assert result["plan"]["status"] == "published" and result["open_cases_moved"] >= 2
    assert result["grids"]["removed"] == 0 and result["revisits_moved"] >= 1

    case = _case(world, moved["open"])
    assert case["grid_id"] == world.grid_b  # same row, same id: the grid keeps its code
    assert case["assignee_id"] == world.users["worker_b"]  # it was A's worker's: now B's worker's
    regrid = [e for e in case["timeline"] if e["action"] == "regrid"]
    assert len(regrid) == 1 and f"网格调整 {code_a} → {code_b}" in regrid[0]["note"]
    assert regrid[0]["label_zh"] == "网格调整"
    assert case["reported_grid"]["code"] == code_a  # the grid it had when it was reported
    closed = _case(world, moved["closed"])
    assert closed["grid_id"] == world.grid_a and not [e for e in closed["timeline"] if e["action"] == "regrid"]
    r = world.client.get("/api/v1/revisits", headers=world.h("admin"))
    pending = next(v for v in r.json() if v["id"] == revisit["id"])
    assert pending["grid_id"] == world.grid_b

    history = world.client.get(f"/api/v1/plans/cases/{moved['open']}/grid", headers=world.h("planner")).json()
    assert history["reported"]["code"] == code_a and history["current"]["code"] == code_b

    for bid in buildings_in_disc:
        b = world.client.get("/api/v1/buildings", params={"grid_id": world.grid_b, "limit": 5000}).json()
        assert bid in {f["properties"]["id"] for f in b["features"]}
    grids = _grids_in_force(world)
    assert grids[code_b]["properties"]["id"] == world.grid_b
    assert shapely.equals_exact(shape(grids[code_b]["geometry"]), _shapes(world, pid)[code_b], tolerance=0)

    tasks = world.client.get("/api/v1/tasks", headers=world.h("worker_b")).json()
    assert moved["open"] in {c["id"] for c in tasks["handle"]}
    route = world.client.get(f"/api/v1/workers/{world.users['worker_b']}/route", headers=world.h("admin"),
                             params={"date": revisit["due_on"]})
    assert route.status_code == 200, route.text
    stops = {(s["kind"], s["case_id"]) for s in route.json()["stops"]}
    assert ("handle", moved["open"]) in stops and ("revisit", moved["closed"]) in stops

    batch = world.client.post("/api/v1/cases/batch", headers=world.h("sup"), json={"cases": [
        {"client_id": str(uuid.uuid4()), "category": "C0102", "lon": moved["point"][0], "lat": moved["point"][1]}]})
    assert _case(world, batch.json()["results"][0]["id"])["grid_id"] == world.grid_b  # the cache saw the publish
    plans = world.client.get("/api/v1/plans", headers=world.h("planner")).json()
    assert [p["status"] for p in plans if p["status"] != "draft"][:2] == ["published", "superseded"]
    r = _upload(world, pid, "x.geojson", json.dumps({"type": "FeatureCollection", "features": []}).encode())
    assert r.status_code == 409  # a published plan is history


def test_rollback_restores_the_previous_grids_and_moves_the_case_back(world, moved):
    code_a, code_b = moved["a"], moved["b"]
    _publish(world, moved)
    r = world.client.post("/api/v1/plans/rollback", headers=world.h("planner"), json={"note": "back"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["rolled_back_from"] == moved["plan"] and body["plan"]["status"] == "published"
    case = _case(world, moved["open"])
    assert case["grid_id"] == world.grid_a and case["assignee_id"] == world.users["worker_a"]
    notes = [e["note"] for e in case["timeline"] if e["action"] == "regrid"]
    assert len(notes) == 2 and f"网格调整 {code_b} → {code_a}" in notes[1]
    assert case["reported_grid"]["code"] == code_a
    restored = _shapes(world, body["restored"])
    in_force = _grids_in_force(world)
    assert set(in_force) == set(restored)
    for code, geom in restored.items():
        assert shapely.equals_exact(shape(in_force[code]["geometry"]), geom, tolerance=0)
    r = world.client.get("/api/v1/revisits", headers=world.h("admin"))
    assert {v["grid_id"] for v in r.json() if v["case_id"] == moved["closed"]} == {world.grid_a}
    statuses = [p["status"] for p in world.client.get("/api/v1/plans", headers=world.h("planner")).json()
                if p["status"] != "draft"]
    assert statuses.count("published") == 1 and statuses[0] == "published"


def test_a_removed_grid_takes_its_closed_cases_along_and_comes_back_as_a_new_row(world, moved):
    code_a, code_b = moved["a"], moved["b"]
    pid = _draft(world)
    r = world.client.post(f"/api/v1/plans/{pid}/merge", headers=world.h("planner"), json={"codes": [code_b, code_a]})
    assert r.status_code == 200, r.text
    r = world.client.post(f"/api/v1/plans/{pid}/publish", headers=world.h("planner"), json={})
    assert r.status_code == 200, r.text
    assert r.json()["grids"]["removed"] == 1 and r.json()["closed_cases_moved"] >= 1
    assert code_a not in _grids_in_force(world)
    closed = _case(world, moved["closed"])
    assert closed["grid_id"] == world.grid_b  # its grid is gone: it follows its point
    assert not [e for e in closed["timeline"] if e["action"] == "regrid"]  # history is not rewritten
    assert closed["reported_grid"]["code"] == code_a
    assert _case(world, moved["open"])["grid_id"] == world.grid_b
    r = world.client.post("/api/v1/plans/rollback", headers=world.h("planner"), json={})
    assert r.status_code == 200, r.text
    restored = _grids_in_force(world)[code_a]["properties"]
    assert restored["id"] != world.grid_a and restored["worker_id"] == world.users["worker_a"]
    case = _case(world, moved["open"])
    assert case["grid_id"] == restored["id"] and case["assignee_id"] == world.users["worker_a"]
    assert _case(world, moved["closed"])["grid_id"] == world.grid_b  # closed: stays while its grid exists


def test_the_command_line(world, capsys, tmp_path):
    from api.cli import main

    db = ["--database", world.url]
    draft = _draft(world)  # the first draft records the grids in force as the baseline
    assert main([*db, "plans", "list"]) == 0
    out = capsys.readouterr().out
    assert "baseline" in out
    assert out.splitlines()[0] == "id\tstatus\tgrids\twhen\tname"
    newest = out.splitlines()[1].split("\t")
    in_force = next(line.split("\t")[0] for line in out.splitlines() if "\tpublished\t" in line)
    assert newest[:2] == [str(draft), "draft"]
    assert main([*db, "plans", "validate", in_force]) == 0
    assert "OK" in capsys.readouterr().out
    assert main([*db, "plans", "download", in_force, str(tmp_path / "plan.geojson")]) == 0
    assert (tmp_path / "plan.geojson").stat().st_size > 0
    capsys.readouterr()
    assert main([*db, "plans", "upload", in_force, str(tmp_path / "plan.geojson")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("gridpatrol: error: ") and "only a draft can be changed" in err
    assert main([*db, "plans", "publish", "999999", "--effective", "someday"]) == 1
    assert "--effective must be a date" in capsys.readouterr().err


def test_every_plan_is_an_ogc_api_features_collection(world):
    """QGIS compares versions by reading each plan's grids from OGC API Features (public, no personal fields)."""
    pid = _draft(world)
    shapes = _shapes(world, pid)
    ids = [c["id"] for c in world.client.get("/ogc/collections").json()["collections"]]
    assert f"plan-{pid}-grids" in ids and "grids" in ids
    items = world.client.get(f"/ogc/collections/plan-{pid}-grids/items", params={"limit": 5000}).json()
    assert items["numberMatched"] == len(shapes) == len(items["features"])
    assert {f["properties"]["code"] for f in items["features"]} == set(shapes)
    assert all("worker_id" not in f["properties"] for f in items["features"])
    code, geom = next(iter(shapes.items()))
    x, y = geom.representative_point().coords[0]
    box = world.client.get(f"/ogc/collections/plan-{pid}-grids/items",
                           params={"bbox": f"{x - 1e-4},{y - 1e-4},{x + 1e-4},{y + 1e-4}"}).json()
    hit = {f["properties"]["code"] for f in box["features"]}
    assert code in hit and hit == {c for c, g in shapes.items() if g.intersects(shapely.box(x - 1e-4, y - 1e-4,
                                                                                           x + 1e-4, y + 1e-4))}
    one = world.client.get(f"/ogc/collections/plan-{pid}-grids/items", params={"code": code}).json()
    assert [f["properties"]["code"] for f in one["features"]] == [code]
    assert world.client.get("/ogc/collections/plan-999999-grids/items").status_code == 404
