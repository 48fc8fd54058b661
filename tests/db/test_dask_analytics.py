"""Hotspots, emerging hotspots and coverage on Dask (patrol.analytics.history) give exactly the in-process answers,
on both databases.

Monaco (the test city: communities, grids, streets, buildings) with a SIMULATED history of 6 months: 700 cases
(a cluster in one community, a few in no community, some overdue, reworked or of severity 1–3) and 60 patrols
walking along the streets, one of them across a month boundary. The cluster is a LocalCluster of 2 in-process
workers (``processes=False``); each task opens its own engine on the committed database, as on a real cluster.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid

import numpy as np
import pytest
import shapely
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from patrol.analytics import history as H
from patrol.analytics import service as svc
from patrol.core.auth import SYSTEM, create_user
from patrol.core.db import make_engine
from patrol.core.errors import InvalidInput
from patrol.core.frames import ewkt
from patrol.core.models import Case, Community, GpsFix, Patrol, RoadSegment, User
from patrol.core.settings import Settings
from tests.conftest import CITIES, ENGLISH, drop_postgis_database, shared_scope

distributed = pytest.importorskip("distributed")

SETTINGS = Settings(timezone="Asia/Shanghai", dask_scheduler="")
START, END = dt.date(2025, 1, 1), dt.date(2025, 7, 1)
NOW = dt.datetime(2025, 6, 20, 12, tzinfo=dt.UTC)
CATEGORIES = ("B0101", "B0105", "B0204")  # severities 3, 2, 1


@pytest.fixture(scope=shared_scope)
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None)
    with cluster, distributed.Client(cluster, set_as_default=False) as c:
        yield c


def _history(session: Session, rng: np.random.Generator) -> None:
    communities = session.execute(select(Community.id, func.ST_AsBinary(Community.geom))).all()
    shapes = [(cid, shapely.from_wkb(bytes(g))) for cid, g in communities]
    t0 = dt.datetime.combine(START, dt.time(), tzinfo=dt.UTC)
    span = (dt.datetime.combine(END, dt.time(), tzinfo=dt.UTC) - t0).total_seconds()
    rows = []
    for i in range(700):
        cid, shape = shapes[0] if i % 3 == 0 else shapes[rng.integers(len(shapes))]  # a cluster in the first
        x0, y0, x1, y1 = shape.bounds
        while True:
            p = shapely.Point(rng.uniform(x0, x1), rng.uniform(y0, y1))
            if shape.contains(p):
                break
        reported = t0 + dt.timedelta(seconds=float(rng.uniform(0, span)) * (0.6 + 0.4 * (i % 2)))
        late = bool(rng.random() < 0.3)
        rows.append(Case(client_id=str(uuid.uuid4()), category_code=CATEGORIES[i % 3], status="closed",
                         level="grid", channel="patrol", geom=ewkt([p])[0],
                         community_id=None if i % 50 == 0 else cid, reported_at=reported,
                         deadline_at=reported + dt.timedelta(days=2), closed_at=reported + dt.timedelta(days=3),
                         closed_on_time=not late, rework_count=int(i % 7 == 0), simulated=True))
    session.add_all(rows)


def _patrols(session: Session, rng: np.random.Generator) -> None:
    worker = User(username="walker", display_name="walker (模拟)", role="grid_worker", simulated=True)
    session.add(worker)
    session.flush()
    roads = [shapely.from_wkb(bytes(g)) for g in session.scalars(select(func.ST_AsBinary(RoadSegment.geom)))]
    grids = svc.read_frame_grids(session, svc.Scope())
    for k in range(60):
        road = roads[int(rng.integers(len(roads)))]
        grid_id = int(grids["id"].iloc[int(shapely.distance(grids.geometry.to_numpy(), road.centroid).argmin())])
        start = (dt.datetime(2025, 1 + k % 6, 1, tzinfo=dt.UTC) + dt.timedelta(days=int(rng.integers(27))))
        if k == 0:  # across the end of January, local time (Asia/Shanghai, UTC+8)
            start = dt.datetime(2025, 1, 31, 15, 50, tzinfo=dt.UTC)
        patrol = Patrol(client_id=str(uuid.uuid4()), worker_id=worker.id, grid_id=grid_id, started_at=start,
                        simulated=True)
        session.add(patrol)
        session.flush()
        d = np.linspace(0, road.length, 40)
        pts = [road.interpolate(x) for x in d]
        session.execute(insert(GpsFix), [
            {"patrol_id": patrol.id, "time": start + dt.timedelta(seconds=30 * j),
             "flag": "jump" if j == 5 and k % 10 == 0 else None, "geom": g} for j, g in enumerate(ewkt(pts))])


@pytest.fixture(scope=shared_scope)
def world(backend, monaco_model, tmp_path_factory):
    url = CITIES.new(backend, monaco_model, tmp_path_factory.mktemp("dask") / "city.db")
    engine = make_engine(url)
    rng = np.random.default_rng(23)
    with Session(engine) as session:
        _history(session, rng)
        _patrols(session, rng)
        session.commit()
    yield url, engine
    H.dispose_engines()
    engine.dispose()
    if backend == "postgis":
        drop_postgis_database(url)


@pytest.fixture
def session(world):
    with Session(world[1]) as s:
        yield s


def runner(client, world, reads: str = "tasks") -> H.DaskRunner:
    return H.DaskRunner(client, world[0], tz=SETTINGS.timezone, reads=reads)


@pytest.mark.parametrize("options", [
    {"cells": "h3", "resolution": 9},
    {"cells": "grid", "weight": "severity", "measure": "overdue"},
    {"cells": "fishnet", "size_m": 100, "measure": "reworked", "community": "first"},
])
def test_hotspots_on_dask_equal_in_process(client, world, session, options) -> None:
    if options.get("community") == "first":
        options = {**options, "community": str(session.scalar(select(func.min(Community.id))))}
    expected = svc.hotspots(session, SYSTEM, SETTINGS, start=START, end=END, **options)
    result = svc.hotspots(session, SYSTEM, SETTINGS, start=START, end=END, **options, runner=runner(client, world))
    assert expected["summary"]["points"] > 20 and expected["summary"].get("bins")
    assert result == expected  # z, p, bins and counts of every cell


def test_hotspots_read_once_and_scattered_or_sliced_otherwise_equal_in_process(client, world, session) -> None:
    expected = svc.hotspots(session, SYSTEM, SETTINGS, start=START, end=END)
    assert svc.hotspots(session, SYSTEM, SETTINGS, start=START, end=END,
                        runner=runner(client, world, "client")) == expected
    for per_thread in (None, 1):  # every community-month; about two slices (months only, communities outnumber)
        r = H.DaskRunner(client, world[0], tz=SETTINGS.timezone, slices_per_thread=per_thread)
        assert svc.hotspots(session, SYSTEM, SETTINGS, start=START, end=END, runner=r) == expected


def test_slices_cover_the_period_once(world, session) -> None:
    s, e = svc.half_open(START, END, SETTINGS.timezone)
    query = svc.CaseQuery(svc.Scope(), None, "cases", True)
    communities = session.scalar(select(func.count()).select_from(Community)) + 1  # and "in no community"
    assert len(H.case_slices(session, query, s, e, SETTINGS.timezone)) == 6 * communities
    grouped = H.case_slices(session, query, s, e, SETTINGS.timezone, most=2 * communities)
    assert len(grouped) == 2 * communities and grouped[0].start == s and grouped[-1].end == e
    assert [p.end for p in grouped[::communities]][:-1] == [p.start for p in grouped[communities::communities]]
    assert not any(p.by_community for p in H.case_slices(session, query, s, e, SETTINGS.timezone, most=3))


def test_emerging_on_dask_equals_in_process(client, world, session) -> None:
    args = {"step": "month", "steps": 6, "now": NOW}
    expected = svc.emerging(session, SYSTEM, SETTINGS, **args)
    result = svc.emerging(session, SYSTEM, SETTINGS, **args, runner=runner(client, world))
    assert expected["summary"]["points"] > 200 and expected["summary"].get("patterns")
    assert result == expected  # the counts of every step and the pattern of every cell
    weekly = {"step": "week", "steps": 9, "now": dt.datetime(2025, 3, 5, tzinfo=dt.UTC), "cells": "grid"}
    assert svc.emerging(session, SYSTEM, SETTINGS, **weekly, runner=runner(client, world)) == \
        svc.emerging(session, SYSTEM, SETTINGS, **weekly)


@pytest.mark.parametrize("reads", H.READS)
def test_coverage_on_dask_equals_in_process(client, world, session, reads) -> None:
    expected = svc.coverage(session, SYSTEM, SETTINGS, start=START, end=END)
    result = svc.coverage(session, SYSTEM, SETTINGS, start=START, end=END, runner=runner(client, world, reads))
    assert expected["fixes"] == 60 * 40
    assert any(r["covered_m"] > 0 for r in expected["grids"])
    assert result == expected  # covered length per grid, street runs and buildings


def test_cli_writes_the_history_as_geojson_through_the_cluster(client, world, tmp_path, capsys) -> None:
    from api.cli import cli

    out = tmp_path / "hot.geojson"
    args = ["--database", world[0], "--dask", client.scheduler.address, "--out", str(out)]
    assert cli.main(["analytics", "hotspots", "--history", *args], standalone_mode=False) == 0
    printed = capsys.readouterr()
    assert "hotspots" in printed.out and str(out) in printed.out and "partitions done" in printed.err
    written = json.loads(out.read_text(encoding="utf-8"))
    assert written["type"] == "FeatureCollection" and written["summary"]["points"] == 700
    assert cli.main(["analytics", "coverage", "--start", "2025-01-01", "--end", "2025-07-01", *args],
                    standalone_mode=False) == 0
    assert json.loads(out.read_text(encoding="utf-8"))["summary"]["fixes"] == 60 * 40
    assert cli.main(["analytics", "emerging", *args[:2]], standalone_mode=False) == 2
    assert "--steps" in capsys.readouterr().err
    assert cli.main(["analytics", "hotspots", "--history", "--dask", "nowhere", *args[:2]],
                    standalone_mode=False) == 1


def test_the_api_sends_long_periods_to_the_configured_cluster(client, world, monkeypatch) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app

    with Session(world[1]) as s:
        if s.scalar(select(User.id).where(User.username == "boss")) is None:
            create_user(s, username="boss", role="admin", password="correct horse 1")
            s.commit()
    used = []
    original = H.DaskRunner.hotspot_layer

    def spy(self, *args, **kwargs):
        used.append(self.url)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(H.DaskRunner, "hotspot_layer", spy)
    settings = Settings(database_url=world[0], tiles=None, secret_key="test-secret-key-for-the-suite-0123456789",
                        timezone="Asia/Shanghai", dask_scheduler=client.scheduler.address, dask_min_days=100)
    app = create_app(settings)
    try:
        with TestClient(app, headers=ENGLISH) as c:
            token = c.post("/api/v1/auth/token", data={"username": "boss", "password": "correct horse 1"})
            auth = {"Authorization": f"Bearer {token.json()['access_token']}"}
            # resolution 8: not counted on the stored cells (resolution 9), so long periods go to the cluster
            long = c.get("/api/v1/analytics/hotspots", headers=auth,
                         params={"start": START, "end": END, "resolution": 8})
            assert long.status_code == 200, long.text
            assert used == [world[0]]  # 181 days > dask_min_days: on the cluster
            with Session(world[1]) as s:
                assert long.json() == json.loads(json.dumps(svc.hotspots(s, SYSTEM, SETTINGS, start=START, end=END,
                                                                         resolution=8)))
            short = c.get("/api/v1/analytics/hotspots", headers=auth,
                          params={"start": START, "end": "2025-02-01", "resolution": 8})
            assert short.status_code == 200 and used == [world[0]]  # 31 days: in the server process
            stored = c.get("/api/v1/analytics/hotspots", headers=auth, params={"start": START, "end": END})
            assert stored.status_code == 200 and used == [world[0]]  # resolution 9: SQL on the stored cells
    finally:
        H.close_shared()
        app.state.engine.dispose()


def test_every_patrol_in_one_range(world, session) -> None:
    grid_ids = svc.read_frame_grids(session, svc.Scope())["id"].tolist()
    s, e = svc.half_open(START, END, SETTINGS.timezone)
    ranges = H.fix_ranges(session, grid_ids, s, e, SETTINGS.timezone)
    assert ranges[0].low is None and ranges[-1].high is None and len(ranges) == 6
    ids = session.scalars(select(Patrol.id)).all()
    assert all(sum(1 for r in ranges if (r.low or 0) <= i < (r.high or 10**12)) == 1 for i in ids)


def test_months_follow_the_local_calendar() -> None:
    s, e = svc.half_open(dt.date(2025, 1, 15), dt.date(2025, 3, 2), "Asia/Shanghai")
    cut = H.months(s, e, "Asia/Shanghai")
    assert [b.isoformat() for _, b in cut] == ["2025-01-31T16:00:00+00:00", "2025-02-28T16:00:00+00:00",
                                               "2025-03-01T16:00:00+00:00"]


def test_runner_only_for_long_periods_with_a_scheduler(session) -> None:
    assert H.runner_for(SETTINGS, session, 2000) is None
    assert H.runner_for(Settings(dask_scheduler="tcp://127.0.0.1:1"), session, 30) is None
    assert H.runner_for(Settings(dask_scheduler="tcp://127.0.0.1:1"), session, 400) is None  # unreachable
    with pytest.raises(InvalidInput, match="scheduler address"):
        H.cluster_kind("nowhere")
