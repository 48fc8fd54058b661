"""Scopes (issue 19): who may see a grid worker's GPS tracks and day route — over HTTP on both databases.

A department sees the cases it must handle, never where a worker walked; a supervisor the workers of her community;
a grid worker herself; an admin everyone."""

from __future__ import annotations

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from patrol.core.db import session_factory, transaction
from patrol.core.models import Grid
from tests.conftest import shared_scope

UTC = dt.UTC


@pytest.fixture(scope=shared_scope)
def walked(world) -> tuple[str, str]:
    """worker_a walks a street of her grid (10 fixes, ~8 m apart): the local day of the walk and her grid's code."""
    c, h = world.client, world.h("worker_a")
    pid = c.post("/api/v1/patrols", headers=h, json={"client_id": str(uuid.uuid4())}).json()["id"]
    t0 = dt.datetime.now(UTC) - dt.timedelta(minutes=20)
    x, y = world.point_a
    fixes = [{"time": (t0 + dt.timedelta(seconds=7 * i)).isoformat(), "lon": x + 1e-4 * i, "lat": y, "accuracy": 8}
             for i in range(10)]
    assert c.post(f"/api/v1/patrols/{pid}/fixes", headers=h, json={"fixes": fixes}).json()["stored"] == 10
    assert c.post(f"/api/v1/patrols/{pid}/end", headers=h).status_code == 200
    with transaction(session_factory(world.engine)) as s:
        code = s.scalar(select(Grid.code).where(Grid.id == world.grid_a))
    return t0.astimezone(ZoneInfo(world.settings.timezone)).date().isoformat(), code


def _page(world, who: str, params: dict):
    """The coverage map as ``who`` opens it in a browser (pages read the login cookie)."""
    world.client.cookies.set("gridpatrol_token", world.tokens[who])
    try:
        return world.client.get("/maps/coverage", params=params, follow_redirects=False)
    finally:
        world.client.cookies.clear()


def _reads(world, day: str, who: str, grid: str | None = None) -> dict[str, object]:
    """The answers to ``who`` for worker_a's track on the coverage map, her coverage and her day route (in
    ``who``'s own scope, or in ``grid``)."""
    c, wid = world.client, world.users["worker_a"]
    where = {"grid": grid} if grid else {}
    return {
        "map": _page(world, who, {"worker_id": wid, "day": day, **where}),
        "coverage": c.get("/api/v1/analytics/coverage", headers=world.h(who),
                          params={"worker_id": wid, "start": day, **where}),
        "route": c.get(f"/api/v1/workers/{wid}/route", headers=world.h(who), params={"date": day}),
    }


@pytest.mark.parametrize("who", ["dept1", "sup_other", "worker_b"])
def test_no_one_outside_her_scope_reads_a_workers_track(world, walked, who):
    day, _ = walked
    for what, r in _reads(world, day, who).items():  # in her own scope: the worker is refused, not the area
        assert r.status_code == 403, (what, r.text)
        assert r.json()["field"] == "worker_id" and "worker_a" not in r.text, (what, r.text)


@pytest.mark.parametrize("who", ["sup", "worker_a", "admin"])
def test_her_supervisor_herself_and_an_admin_read_her_track(world, walked, who):
    day, code = walked
    reads = _reads(world, day, who, grid=code if who == "admin" else None)
    for what, r in reads.items():
        assert r.status_code == 200, (what, r.text)
    assert "worker_a" in reads["map"].text  # the track is drawn, with her name
    assert reads["coverage"].json()["fixes"] >= 10


def test_a_department_sees_no_ones_tracks_of_a_day(world, walked):
    day, code = walked
    r = _page(world, "dept1", {"day": day})
    assert r.status_code == 403 and r.json()["field"] == "day" and "worker_a" not in r.text
    # the coverage map without tracks is still hers to see
    assert _page(world, "dept1", {"grid": code}).status_code == 200
    # a grid worker's map of a day shows her own tracks only: worker_b's shows none of worker_a's
    mine = _page(world, "worker_b", {"day": day})
    assert mine.status_code == 200 and "worker_a" not in mine.text
