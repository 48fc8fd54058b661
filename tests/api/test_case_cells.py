"""``patrol_case.h3_9`` (issue 23) equals the H3 resolution-9 cell of the case's point after every path that inserts a
case or moves its point, on SpatiaLite and PostGIS: a report (ORM), a batch (Core bulk insert), a hotline import and
push (Core bulk, in tests/api/test_hotline.py), a history import (Core on the table, tests/api/test_history_import.py),
a Core ``insert(Case)`` without the column, an ORM move of the point, and the backfill a COPY load calls."""

from __future__ import annotations

import uuid

import pytest
import shapely
from alembic import command
from sqlalchemy import func, insert, select, update

from geo.cells.ids import h3_ids
from patrol.core.cells import backfill, point_h3, point_xy
from patrol.core.db import session_factory, transaction
from patrol.core.frames import ewkt
from patrol.core.migrate import alembic_config, upgrade
from patrol.core.models import Case

pytestmark = pytest.mark.db


def mismatches(engine) -> list[tuple]:
    """The cases whose stored cell is not the cell of their point (with the cell it should be)."""
    with session_factory(engine)() as s:
        rows = s.execute(select(Case.id, Case.h3_9, func.ST_X(Case.geom), func.ST_Y(Case.geom))).all()
    want = h3_ids([r[2] for r in rows], [r[3] for r in rows])
    return [(*r, w) for r, w in zip(rows, want, strict=True) if r[1] != w]


def _case_row(world, **kw) -> dict:
    with session_factory(world.engine)() as s:
        template = s.scalars(select(Case).limit(1)).one()
        base = {c: getattr(template, c) for c in ("category_code", "status", "level", "channel", "community_id",
                                                  "grid_id", "reported_at", "deadline_at", "updated_at")}
    return {**base, "client_id": str(uuid.uuid4()), **kw}


def test_every_insert_path_stores_the_cell_of_the_point(world):
    made = world.report()  # the ORM (patrol.cases.service.create_case)
    r = world.client.post("/api/v1/cases/batch", headers=world.h("worker_a"), json={"cases": [
        {"client_id": str(uuid.uuid4()), "category": "C0102", "lon": world.point_a[0] + 0.0003 * k,
         "lat": world.point_a[1], "description": "楼道堆放杂物"} for k in range(3)]})
    assert r.status_code == 200, r.text
    lon, lat = world.point_b
    with transaction(session_factory(world.engine)) as s:  # a Core insert that does not name the column
        s.execute(insert(Case), [_case_row(world, geom=ewkt([shapely.Point(lon, lat)])[0])])
    with session_factory(world.engine)() as s:
        case = s.get(Case, made["id"])
        assert case.h3_9 == h3_ids([made["lon"]], [made["lat"]])[0]
    assert mismatches(world.engine) == []


def test_moving_a_point_moves_its_cell(world):
    made = world.report()
    with transaction(session_factory(world.engine)) as s:
        case = s.get(Case, made["id"])
        case.geom = ewkt([shapely.Point(*world.point_b)])[0]
    with session_factory(world.engine)() as s:
        assert s.get(Case, made["id"]).h3_9 == h3_ids([world.point_b[0]], [world.point_b[1]])[0]
    assert mismatches(world.engine) == []


def test_migration_0016_fills_the_cells_of_the_cases_already_there(world):
    world.report()
    cfg = alembic_config()
    with world.engine.begin() as connection:  # a database from before the column: 0016 down, then up again
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0015")
    upgrade(world.engine)
    with session_factory(world.engine)() as s:
        assert s.scalar(select(func.count()).where(Case.h3_9.is_(None))) == 0
    assert mismatches(world.engine) == []


def test_backfill_fills_what_a_load_without_sqlalchemy_left_empty(world):
    made = [world.report()["id"] for _ in range(2)]
    with world.engine.begin() as conn:
        conn.execute(update(Case).where(Case.id.in_(made)).values(h3_9=None))
    with world.engine.begin() as conn:
        assert backfill(conn, batch=1) == 2  # batches of one: the loop goes on by id
    assert mismatches(world.engine) == []


@pytest.mark.parametrize("value", ["SRID=4326;POINT(7.42 43.73)", "POINT (7.42 43.73)",
                                   shapely.Point(7.42, 43.73), shapely.to_wkb(shapely.Point(7.42, 43.73)),
                                   shapely.to_wkb(shapely.Point(7.42, 43.73), hex=True)])
def test_every_shape_of_a_point_is_read(value):
    assert point_xy(value) == (7.42, 43.73)
    assert point_h3(value) == h3_ids([7.42], [43.73])[0]


def test_no_point_no_cell():
    assert point_h3(None) is None and point_h3("POINT EMPTY") is None
