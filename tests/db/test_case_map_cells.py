"""The cases map's summary ``case_map_cell`` (issue 23, migration 0020) on both databases: kept equal to a
recomputation from ``patrol_case`` by the triggers through Core bulk inserts, status changes (to and from a final
status), moved points, a changed grid / community / unit, deletes; equal to :func:`patrol.cases.map_cells.rebuild`;
and :func:`patrol.cases.reads.case_clusters` with ``fast`` (the summary) equal to the live query for several zooms,
bboxes, filters and actors (admin, a community supervisor, a subdistrict, a department with whistle tasks), and the
filters the summary cannot answer falling back to the live query.

A small district of its own: 700 cases spread over 0.08° × 0.05° around Shanghai, a tenth of them open, some
without a community / grid / unit, written with Core inserts (the triggers see a bulk insert).
"""

from __future__ import annotations

import datetime as dt
import math
import random
import uuid

import pytest
import shapely
from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.orm import Session

from patrol.cases import map_cells
from patrol.cases import map_cells_sql as S
from patrol.cases.reads import CaseFilter, case_clusters
from patrol.core.auth import Actor
from patrol.core.frames import ewkt
from patrol.core.models import Case, CaseMapCell, CaseTask, Category, Community, Grid, ResponsibleUnit, Subdistrict
from tests.conftest import rolled_back, shared_scope
from tests.db.test_kpis import box

NOW = dt.datetime(2025, 6, 1, 8, tzinfo=dt.UTC)
X0, Y0, X1, Y1 = 121.40, 31.18, 121.48, 31.23
STATUSES = ["closed"] * 14 + ["rejected", "duplicate", "reported", "dispatched", "handled", "suspended"]


@pytest.fixture(scope=shared_scope)
def world(engine):
    with rolled_back(engine) as s:
        yield _build(s)


def _build(s: Session) -> dict:
    sub = Subdistrict(code="M01", name="地图街道", geom=box(X0, Y0, X1, Y1))
    s.add(sub)
    s.flush()
    coms = [Community(subdistrict_id=sub.id, code=f"M0{i}", name=f"地图{i}社区",
                      geom=box(X0 + i * 0.04, Y0, X0 + (i + 1) * 0.04, Y1)) for i in range(2)]
    s.add_all(coms)
    s.flush()
    grids = [Grid(community_id=coms[i // 2].id, code=f"999999M01M0{i}", name=f"地图{i}网格",
                  geom=box(X0 + i * 0.02, Y0, X0 + (i + 1) * 0.02, Y1)) for i in range(4)]
    units = [ResponsibleUnit(type="power", name=f"地图单位{i}", geom=ewkt([shapely.Point(X0, Y0)])[0])
             for i in range(2)]
    s.add_all([*grids, *units])
    s.add(Category(code="MAPC", name_zh="地图测试", name_en="MAPC", kind="event", major_zh="测试", major_en="Test",
                   level="grid", deadline_hours=14, severity=1, revisit_days=7))
    s.flush()
    rng = random.Random(23)
    rows = []
    for k in range(700):
        lon, lat = rng.uniform(X0, X1), rng.uniform(Y0, Y1)
        gi = min(3, int((lon - X0) / 0.02))
        status = rng.choice(STATUSES)
        rows.append({"client_id": str(uuid.uuid4()), "category_code": "MAPC", "status": status, "level": "grid",
                     "channel": "巡查", "geom": ewkt([shapely.Point(lon, lat)])[0],
                     "community_id": None if k % 17 == 0 else coms[gi // 2].id,
                     "grid_id": None if k % 13 == 0 else grids[gi].id,
                     "unit_id": None if k % 3 == 0 else units[k % 2].id,
                     "reported_at": NOW - dt.timedelta(days=k % 300),
                     "deadline_at": NOW + dt.timedelta(hours=rng.choice([-30, 30])),
                     "updated_at": NOW})
    s.execute(insert(Case), rows)
    ids = list(s.scalars(select(Case.id).where(Case.category_code == "MAPC").order_by(Case.id)))
    for cid in ids[::11]:  # whistle tasks of unit 0, on cases of both units and none
        s.add(CaseTask(case_id=cid, unit_id=units[0].id, status="open", deadline_at=NOW, report_in_by=NOW))
    s.flush()
    return {"s": s, "coms": [c.id for c in coms], "grids": grids, "units": [u.id for u in units], "sub": sub.id,
            "ids": ids}


@pytest.fixture(autouse=True)
def _summary_for_any_view(monkeypatch):
    """This district is small: let the summary answer views of any size (the default reads few cases live)."""
    monkeypatch.setattr(map_cells, "LIVE_BELOW", 0)


def _stored(s: Session) -> dict[tuple, tuple]:
    return {tuple(r[:6]): (r[6], r[7], r[8]) for r in s.execute(select(*CaseMapCell.__table__.c))}


def _recomputed(s: Session) -> dict[tuple, tuple]:
    dialect = s.get_bind().dialect.name
    return {tuple(r[:6]): (r[6], r[7], r[8]) for r in s.execute(text(S.rebuild_select(dialect)))}


def _same_cells(a: dict[tuple, tuple], b: dict[tuple, tuple]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert a[k][0] == b[k][0], k
        assert math.isclose(a[k][1], b[k][1], rel_tol=1e-12) and math.isclose(a[k][2], b[k][2], rel_tol=1e-12), k


def test_the_triggers_keep_the_summary_equal_to_a_recomputation(world):
    s = world["s"]
    assert len(_stored(s)) > 50  # the bulk insert was counted
    _same_cells(_stored(s), _recomputed(s))
    ids = world["ids"]
    final = list(s.scalars(select(Case.id).where(Case.id.in_(ids), Case.status == "closed").limit(40)))
    opened = list(s.scalars(select(Case.id).where(Case.id.in_(ids), Case.status == "reported").limit(20)))
    sp = s.begin_nested()
    s.execute(update(Case).where(Case.id.in_(final[:10])).values(status="handled"))  # a final case reopened
    s.execute(update(Case).where(Case.id.in_(opened[:10])).values(status="closed"))  # open cases closed
    s.execute(update(Case).where(Case.id.in_(final[10:20])).values(
        geom=ewkt([shapely.Point(X0 + 0.001, Y0 + 0.001)])[0]))  # moved to another cell
    s.execute(update(Case).where(Case.id.in_(final[20:25])).values(grid_id=world["grids"][0].id))
    s.execute(update(Case).where(Case.id.in_(final[25:30])).values(unit_id=None, community_id=world["coms"][1]))
    s.execute(update(Case).where(Case.id.in_(final[30:35])).values(channel="12345"))  # not a key: unchanged
    s.execute(delete(Case).where(Case.id.in_(final[35:40] + opened[10:15])))
    for cid in opened[15:20]:  # one row at a time through the ORM
        s.get(Case, cid).status = "rejected"
    s.flush()
    changed = _stored(s)
    _same_cells(changed, _recomputed(s))
    _same_cells(_stored_after_rebuild(s), changed)
    sp.rollback()


def _stored_after_rebuild(s: Session) -> dict[tuple, tuple]:
    map_cells.rebuild(s)
    return _stored(s)


def test_every_zoom_divides_the_stored_index_exactly(world):
    """The zoom-z cell of the live query is the stored base index divided by 2^(15-z), for every case."""
    s = world["s"]
    dialect = s.get_bind().dialect.name
    keys = S.key_exprs("c", dialect)
    rows = s.execute(text(f"SELECT {keys[0]}, {keys[1]}, ST_X(c.geom), ST_Y(c.geom) FROM patrol_case c "
                          "WHERE c.category_code = 'MAPC'")).all()
    for z in range(0, S.BASE_ZOOM + 1):
        cell = 360.0 / (2 ** z) / 4
        expr = ("CAST((ST_X(c.geom) + 180) / :cell AS INTEGER)" if dialect == "sqlite"
                else "floor((ST_X(c.geom) + 180) / :cell)")
        live = dict(s.execute(text(f"SELECT c.id, {expr} FROM patrol_case c WHERE c.category_code = 'MAPC'"),
                              {"cell": cell}).all())
        base = dict(s.execute(text(f"SELECT c.id, {keys[0]} FROM patrol_case c WHERE c.category_code = 'MAPC'")
                              ).all())
        assert all(int(live[i]) == base[i] // 2 ** (S.BASE_ZOOM - z) for i in live), z
    assert len(rows) == 700


def _clusters(s: Session, actor: Actor, f: CaseFilter, zoom: int, fast: bool) -> dict:
    out = case_clusters(s, actor, f, zoom, now=NOW, few=0, fast=fast)
    cl = sorted(out["clusters"], key=lambda c: (round(c["lon"], 6), round(c["lat"], 6), c["count"]))
    return {**out, "clusters": cl}


def _same_map(fast: dict, slow: dict) -> None:
    assert fast["total"] == slow["total"] and fast["cases"] == slow["cases"]
    assert len(fast["clusters"]) == len(slow["clusters"])
    for a, b in zip(fast["clusters"], slow["clusters"], strict=True):
        assert (a["count"], a["overdue"], a["statuses"]) == (b["count"], b["overdue"], b["statuses"])
        assert math.isclose(a["lon"], b["lon"], abs_tol=1e-9) and math.isclose(a["lat"], b["lat"], abs_tol=1e-9)


BOXES = [(X0 - 0.01, Y0 - 0.01, X1 + 0.01, Y1 + 0.01), (121.41, 31.19, 121.46, 31.22), (121.43, 31.2, 121.45, 31.215)]


def _actors(world) -> dict[str, Actor]:
    return {"admin": Actor(label="admin", role="admin"),
            "supervisor": Actor(label="sup", role="supervisor", community_id=world["coms"][0]),
            "subdistrict": Actor(label="street", role="subdistrict", community_ids=frozenset(world["coms"])),
            "department": Actor(label="dept", role="department", unit_id=world["units"][0])}


@pytest.mark.parametrize("who", ["admin", "supervisor", "subdistrict", "department"])
def test_fast_clusters_equal_the_live_query(world, who):
    s = world["s"]
    actor = _actors(world)[who]
    filters = [{}, {"status": ["closed", "reported"]}, {"grid": "999999M01M01"}, {"community": "M00"},
               {"subdistrict": "M01"}, {"overdue": True}, {"overdue": False}]
    for zoom, bbox in ((11, BOXES[0]), (13, BOXES[1]), (15, BOXES[2])):
        assert map_cells.answerable(actor, CaseFilter(bbox=bbox), zoom)
        for kw in filters:
            f = CaseFilter(bbox=bbox, **kw)
            fast = _clusters(s, actor, f, zoom, True)
            _same_map(fast, _clusters(s, actor, f, zoom, False))
            if not kw:
                assert fast["total"] > 0 and fast["clusters"]


def _no_live(*conds):  # pragma: no cover - never called
    raise AssertionError


def test_the_summary_answers_and_is_read(world):
    """The fast path reads the summary (a row planted there shows), so the equality above is not the live query
    twice."""
    s = world["s"]
    admin = _actors(world)["admin"]
    f = CaseFilter(bbox=BOXES[0])
    assert map_cells.answerable(admin, f, 12)
    sp = s.begin_nested()
    gx, gy = int((121.44 + 180) / S.BASE_CELL), int((31.205 + 90) / S.BASE_CELL)
    s.add(CaseMapCell(gx=gx, gy=gy, status="closed", community_id=0, grid_id=0, unit_id=0, n=1000,
                      sx=1000 * 121.44, sy=1000 * 31.205))
    s.flush()
    fast, slow = _clusters(s, admin, f, 12, True), _clusters(s, admin, f, 12, False)
    assert fast["total"] == slow["total"] + 1000
    sp.rollback()


@pytest.mark.parametrize("kw", [{"category": "MAPC"}, {"channels": ["巡查"]}, {"ids": [1, 2, 3]},
                                {"since": NOW - dt.timedelta(days=30)}, {"until": NOW}])
def test_filters_the_summary_cannot_answer_fall_back_to_the_live_query(world, kw):
    s = world["s"]
    admin = _actors(world)["admin"]
    f = CaseFilter(bbox=BOXES[0], **kw)
    assert not map_cells.answerable(admin, f, 12)
    _same_map(_clusters(s, admin, f, 12, True), _clusters(s, admin, f, 12, False))


def test_other_fallbacks(world, monkeypatch):
    s = world["s"]
    admin = _actors(world)["admin"]
    worker = Actor(label="w", role="grid_worker", grid_ids=frozenset({world["grids"][0].id}))
    assert not map_cells.answerable(admin, CaseFilter(bbox=BOXES[0]), S.BASE_ZOOM + 1)  # zoomed in past the base
    assert not map_cells.answerable(admin, CaseFilter(), 12)  # no bbox
    assert not map_cells.answerable(worker, CaseFilter(bbox=BOXES[0]), 12)  # scope by assignee / reporter
    tiny = (121.44, 31.2, 121.441, 31.201)  # no inner cell: the live query
    assert map_cells.summary_rows(s, admin, CaseFilter(bbox=tiny), 12, _no_live) is None
    monkeypatch.setattr(map_cells, "LIVE_BELOW", 5000)  # the default: 700 cases are read live
    assert map_cells.summary_rows(s, admin, CaseFilter(bbox=BOXES[0]), 12, _no_live) is None
    for actor, zoom in ((worker, 12), (admin, 16)):
        f = CaseFilter(bbox=BOXES[0])
        _same_map(_clusters(s, actor, f, zoom, True), _clusters(s, actor, f, zoom, False))
