"""Analytics endpoints on both databases: KPIs per grid as the role allows, CSV, trend, bad input."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from patrol.db import session_factory, transaction
from patrol.models import Grid

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
    r = c.get("/api/v1/analytics/kpis", headers=world.h("admin"), params={"by": "community", "format": "csv"})
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
