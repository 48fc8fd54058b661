"""Analytics endpoints on both databases: KPIs per grid as the role allows, CSV, trend, bad input."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import func, select

from patrol.core.db import session_factory, transaction
from patrol.core.models import Grid
from tests.conftest import shared_scope

pytestmark = pytest.mark.db


def _grid_code(world, grid_id: int) -> str:
    with transaction(session_factory(world.engine)) as s:
        return s.scalar(select(Grid.code).where(Grid.id == grid_id))


def _row(rows: list[dict], key: int) -> dict:
    found = [r for r in rows if r["key"] == key]
    assert len(found) == 1, rows
    return found[0]


def test_kpis_per_grid_count_what_the_loop_did(world):
    c = world.client
    before = c.get("/api/v1/analytics/kpis", headers=world.h("admin"), params={"by": "grid"}).json()
    received0 = _row(before["rows"], world.grid_a)["received"]
    closed0 = _row(before["rows"], world.grid_a)["closed"]
    a = world.report()
    world.report()
    world.act("worker_a", a["id"], "register")
    world.act("worker_a", a["id"], "dispatch")
    world.act("worker_a", a["id"], "accept")
    world.act("worker_a", a["id"], "handle")
    world.act("worker_a", a["id"], "verify")
    world.act("sup", a["id"], "close")
    after = c.get("/api/v1/analytics/kpis", headers=world.h("admin"), params={"by": "grid"}).json()
    row = _row(after["rows"], world.grid_a)
    assert row["received"] == received0 + 2
    assert row["closed"] == closed0 + 1
    assert row["closure_rate_den"] >= 1 and 0 < row["closure_rate"] <= 1
    assert row["code"] == _grid_code(world, world.grid_a)
    assert row["warning"] in {"green", "yellow", "orange", "red"}


def test_scope_of_each_role(world):
    c = world.client
    code_a, code_b = _grid_code(world, world.grid_a), _grid_code(world, world.grid_b)
    mine = c.get("/api/v1/analytics/kpis", headers=world.h("worker_a"), params={"by": "grid"})
    assert mine.status_code == 200 and [r["key"] for r in mine.json()["rows"]] == [world.grid_a]
    other = c.get("/api/v1/analytics/kpis", headers=world.h("worker_a"), params={"grid": code_b})
    assert other.status_code == 403 and other.json()["field"] == "grid"
    sup = c.get("/api/v1/analytics/kpis", headers=world.h("sup"), params={"by": "grid"}).json()["rows"]
    assert world.grid_a in {r["key"] for r in sup}
    assert c.get("/api/v1/analytics/kpis", headers=world.h("sup_other"), params={"grid": code_a}).status_code == 403
    assert c.get("/api/v1/analytics/kpis", params={"by": "grid"}).status_code == 401


def test_csv_trend_and_bad_input(world):
    c = world.client
    world.report()
    world.report()
    r = c.get("/api/v1/analytics/kpis", headers=world.h("admin"),
              params={"by": "community", "format": "csv", "headers": "keys"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text.lstrip("\ufeff"))))
    assert rows and {"received", "closure_rate", "on_time_rate", "warning"} <= set(rows[0])
    t = c.get("/api/v1/analytics/kpis/trend", headers=world.h("sup"), params={"period": "week", "n": 3}).json()
    assert len(t["rows"]) == 3 and t["rows"][-1]["received"] >= 2
    bad = c.get("/api/v1/analytics/kpis", headers=world.h("admin"), params={"by": "street"})
    assert bad.status_code == 422 and bad.json()["field"] == "by"
    back = c.get("/api/v1/analytics/kpis", headers=world.h("admin"),
                 params={"start": "2026-05-02", "end": "2026-05-01"})
    assert back.status_code == 422 and back.json()["field"] == "end"
    empty = c.get("/api/v1/analytics/kpis", headers=world.h("admin"),
                  params={"by": "overall", "start": "2001-01-01", "end": "2001-02-01"}).json()["rows"]
    assert empty[0]["received"] == 0 and empty[0]["closure_rate"] is None


@pytest.fixture(scope=shared_scope)
def cluster(world) -> None:
    """Twelve C0104 cases reported this week in a 30 m patch of grid A and one in grid B: the only C0104 cases of
    the world (no other test reports that category), shared by the hotspot tests that only read them."""
    x, y = world.point_a
    for k in range(12):
        world.report(category="C0104", point=(x + (k % 4) * 1e-5, y + (k // 4) * 1e-5))
    world.report("worker_b", category="C0104", point=world.point_b)


def _cell_with(features: list[dict], point) -> dict:
    import shapely

    p = shapely.Point(point)
    found = [f for f in features if shapely.geometry.shape(f["geometry"]).covers(p)]
    assert len(found) == 1
    return found[0]["properties"]


def test_hotspots_find_the_cluster_in_every_kind_of_cell(world, cluster):
    c = world.client
    for params in ({"cells": "h3", "resolution": 10}, {"cells": "fishnet", "size_m": 100}, {"cells": "grid"}):
        r = c.get("/api/v1/analytics/hotspots", headers=world.h("admin"), params={**params, "category": "C0104"})
        assert r.status_code == 200, r.text
        fc = r.json()
        assert fc["summary"]["points"] == 13 and fc["summary"]["message"] is None
        assert sum(f["properties"]["count"] for f in fc["features"]) == 13
        hot = _cell_with(fc["features"], world.point_a)
        assert hot["count"] >= 12 and hot["bin"] >= 2 and hot["label_zh"].startswith("热点")
        assert hot["z"] > 2.5 and hot["p_fdr"] < 0.05
        assert all(-3 <= f["properties"]["bin"] <= 3 for f in fc["features"])


def test_emerging_hotspot_of_a_cluster_that_appeared_this_week(world, cluster):
    r = world.client.get("/api/v1/analytics/emerging", headers=world.h("admin"),
                         params={"cells": "h3", "resolution": 10, "category": "C0104", "steps": 4})
    assert r.status_code == 200, r.text
    fc = r.json()
    cell = _cell_with(fc["features"], world.point_a)
    assert cell["counts"][:-1] == [0, 0, 0] and cell["counts"][-1] >= 12
    assert cell["pattern"] == "New Hot Spot" and cell["code"] == 1


def test_hotspots_empty_state_scope_and_bad_input(world):
    c = world.client
    empty = c.get("/api/v1/analytics/hotspots", headers=world.h("admin"),
                  params={"start": "2001-01-01", "end": "2001-02-01"}).json()
    assert empty["summary"]["points"] == 0 and "no cases" in empty["summary"]["message"]
    assert all(f["properties"]["bin"] == 0 for f in empty["features"])
    mine = c.get("/api/v1/analytics/hotspots", headers=world.h("worker_a"), params={"cells": "grid"}).json()
    assert [f["properties"]["id"] for f in mine["features"]] == [world.grid_a]
    bad = c.get("/api/v1/analytics/hotspots", headers=world.h("admin"), params={"cells": "h3", "resolution": 3})
    assert bad.status_code == 422 and bad.json()["field"] == "resolution"
    bad = c.get("/api/v1/analytics/hotspots", headers=world.h("admin"), params={"measure": "noise"})
    assert bad.status_code == 422 and bad.json()["field"] == "measure"


def _walk_a_street_of_grid_a(world) -> float:
    """Worker A walks the longest street piece inside grid A (a fix every ~8 m); returns its length in m."""
    import datetime as dt
    import uuid

    import geopandas as gpd
    import shapely
    from sqlalchemy import func

    from patrol.core.models import RoadSegment

    with transaction(session_factory(world.engine)) as s:
        grid = shapely.from_wkb(bytes(s.scalar(select(func.ST_AsBinary(Grid.geom)).where(Grid.id == world.grid_a))))
        lines = [shapely.from_wkb(bytes(w)) for w in s.scalars(select(func.ST_AsBinary(RoadSegment.geom)))]
    pieces = [p for g in shapely.intersection(lines, grid) for p in getattr(g, "geoms", [g])
              if isinstance(p, shapely.LineString) and not p.is_empty]
    metric = gpd.GeoSeries(pieces, crs=4326).to_crs(32632)
    k = int(metric.length.to_numpy().argmax())
    line, length = metric.iloc[k], float(metric.length.iloc[k])
    pts = gpd.GeoSeries([line.interpolate(d) for d in range(0, int(length), 8)], crs=32632).to_crs(4326)
    c, h = world.client, world.h("worker_a")
    pid = c.post("/api/v1/patrols", headers=h, json={"client_id": str(uuid.uuid4())}).json()["id"]
    t0 = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=20)
    fixes = [{"time": (t0 + dt.timedelta(seconds=6 * i)).isoformat(), "lon": p.x, "lat": p.y, "accuracy": 5}
             for i, p in enumerate(pts)]
    assert c.post(f"/api/v1/patrols/{pid}/fixes", headers=h, json={"fixes": fixes}).status_code == 200
    c.post(f"/api/v1/patrols/{pid}/end", headers=h)
    return length


def test_coverage_of_a_patrolled_street_and_blind_spots(world):
    length = _walk_a_street_of_grid_a(world)
    code = _grid_code(world, world.grid_a)
    import datetime as dt
    from zoneinfo import ZoneInfo

    since = (dt.datetime.now(ZoneInfo("Asia/Shanghai")) - dt.timedelta(days=2)).date().isoformat()
    r = world.client.get("/api/v1/analytics/coverage", headers=world.h("sup"),
                         params={"grid": code, "blind_days": 7, "start": since})
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["fixes"] > 3 and d["message"] is None
    row = next(g for g in d["grids"] if g["id"] == world.grid_a)
    # the walked street is covered end to end (its length, within the 1 m pieces), nearby streets may be too
    assert row["covered_m"] >= length - 2 and row["covered_m"] <= row["street_m"]
    assert 0 < row["coverage_pct"] <= 100 and row["track_m"] >= length - 10
    covered = [f for f in d["streets"]["features"] if f["properties"]["covered"]]
    uncovered = [f for f in d["streets"]["features"] if not f["properties"]["covered"]]
    assert covered and abs(sum(f["properties"]["length_m"] for f in covered) - row["covered_m"]) < 1
    blind = d["blind_spots"]
    assert blind["street_m"] == pytest.approx(sum(f["properties"]["length_m"] for f in uncovered), abs=1)
    assert blind["buildings"] == sum(not f["properties"]["covered"] for f in d["buildings"]["features"])
    other = world.client.get("/api/v1/analytics/coverage", headers=world.h("worker_b"), params={"grid": code})
    assert other.status_code == 403
    bad = world.client.get("/api/v1/analytics/coverage", headers=world.h("sup"), params={"distance_m": 0})
    assert bad.status_code == 422 and bad.json()["field"] == "distance_m"
    quiet = world.client.get("/api/v1/analytics/coverage", headers=world.h("sup"),
                             params={"grid": code, "start": "2001-01-01", "end": "2001-01-02"}).json()
    assert quiet["fixes"] == 0 and "no patrol tracks" in quiet["message"]
    assert next(g for g in quiet["grids"] if g["id"] == world.grid_a)["covered_m"] == 0


def test_map_clusters_add_up_to_the_cases_in_view(world):
    from patrol.cases import service as svc
    from patrol.core.auth import actor_for
    from patrol.core.models import Case, User

    world.report(category="C0109")
    world.report("worker_b", category="C0109", point=world.point_b)
    with transaction(session_factory(world.engine)) as s:
        admin = actor_for(s, s.get(User, world.users["admin"]))
        total = s.scalar(select(func.count(Case.id)))
        late = svc.case_clusters(s, admin, svc.CaseFilter(overdue=True), 17, few=0)
        clustered = svc.case_clusters(s, admin, svc.CaseFilter(), 10, few=0)
        listed = svc.case_clusters(s, admin, svc.CaseFilter(), 17, few=0)
        capped = svc.case_clusters(s, admin, svc.CaseFilter(), 17, few=0, max_cases=total - 1)
    assert clustered["total"] == total and sum(c["count"] for c in clustered["clusters"]) == total
    assert 1 <= len(clustered["clusters"]) < total and not clustered["cases"]
    assert all(sum(c["statuses"].values()) == c["count"] for c in clustered["clusters"])
    assert sum(c["overdue"] for c in clustered["clusters"]) == late["total"]
    assert len(listed["cases"]) == total and not listed["clusters"]
    assert capped["clusters"] and not capped["cases"]  # too many to list even zoomed in: still clusters


def test_channels_filter_kpis_cases_maps_and_exports(world):
    """channel= on the KPIs (and by=channel, named in words), the cases API and its export, the hot spots; the
    接诉即办 rates count the residents' channels only; an unknown channel is a 422 naming the field."""
    c, admin = world.client, world.h("admin")
    world.report()  # a grid worker's report: channel patrol
    overall = c.get("/api/v1/analytics/kpis", headers=admin, params={"by": "overall"}).json()["rows"][0]
    chans = c.get("/api/v1/analytics/kpis", headers=admin, params={"by": "channel", "lang": "zh"}).json()["rows"]
    assert sum(r["received"] for r in chans) == overall["received"]
    assert _row(chans, "patrol")["name"] == "巡查上报" and _row(chans, "patrol")["received"] >= 1
    en = c.get("/api/v1/analytics/kpis", headers=admin, params={"by": "channel", "lang": "en"})
    assert _row(en.json()["rows"], "patrol")["name"] == "Patrol"
    only = c.get("/api/v1/analytics/kpis", headers=admin, params={"by": "overall", "channel": "patrol,staff"})
    assert only.json()["rows"][0]["received"] == sum(r["received"] for r in chans if r["key"] in ("patrol", "staff"))
    feats = c.get("/api/v1/cases", headers=admin, params={"channel": "patrol"}).json()["features"]
    assert feats and {f["properties"]["channel"] for f in feats} == {"patrol"}
    assert c.get("/api/v1/cases", headers=admin, params={"channel": "12345"}).json()["numberMatched"] == 0
    export = c.get("/api/v1/cases/export", headers=admin, params={"channel": "patrol", "format": "csv"})
    rows = list(csv.DictReader(io.StringIO(export.text.lstrip("\ufeff"))))
    assert rows and {r["来源"] for r in rows} == {"巡查上报"} and {r["来源代码"] for r in rows} == {"patrol"}
    hot = c.get("/api/v1/analytics/hotspots", headers=admin, params={"channel": "12345"}).json()
    assert hot["summary"]["points"] == 0
    for path in ("/api/v1/cases", "/api/v1/cases/export", "/api/v1/analytics/kpis", "/api/v1/analytics/hotspots"):
        bad = c.get(path, headers=admin, params={"channel": "fax"})
        assert bad.status_code == 422 and bad.json()["field"] == "channel", path
    resp = c.get("/api/v1/kpis/responsiveness", headers=admin, params={"by": "channel"}).json()
    assert [r["key"] for r in resp["rows"]] == ["resident", "12345", "open311"]
    assert resp["weights"] == {"response": 0.10, "resolution": 0.45, "satisfaction": 0.45}
    assert resp["rates"]["satisfied_order_rate"]["zh"] == "满意工单率"
    refused = c.get("/api/v1/kpis/responsiveness", headers=admin, params={"channel": "patrol"})
    assert refused.status_code == 422 and refused.json()["field"] == "channel"


def test_the_coverage_json_is_what_its_response_model_gives():
    """The coverage route writes the service's answer with plain json (fast for thousands of features): the same
    JSON as validating it with CoverageOut; what json cannot write (a datetime) goes through the model."""
    import datetime as dt
    import json

    from api.routes.analytics import plain_json
    from api.schemas.analytics import CoverageOut

    content = {"start": "2026-11-01T00:00:00+08:00", "distance_m": 25.0, "fixes": 3,
               "grids": [{"code": "001", "id": 4, "street_m": 120.5, "covered_m": 60.25, "coverage_pct": 50.0}],
               "streets": {"type": "FeatureCollection", "features": [
                   {"type": "Feature",
                    "geometry": {"type": "LineString", "coordinates": ((120.1, 30.2), (120.2, 30.3))},
                    "properties": {"name": "解放路", "covered": True, "length_m": 1.5}}]},
               "buildings": {"type": "FeatureCollection", "features": []}, "message": None}
    model = CoverageOut.model_validate(content).model_dump(mode="json", exclude_unset=True)
    assert json.loads(plain_json(content, CoverageOut).body) == model
    assert model["streets"]["features"][0]["geometry"]["coordinates"] == [[120.1, 30.2], [120.2, 30.3]]
    odd = {**content, "start": dt.datetime(2026, 11, 1, tzinfo=dt.UTC)}
    out = json.loads(plain_json(odd, CoverageOut).body)
    assert out == {**model, "start": "2026-11-01T00:00:00+00:00"}
