"""Hotspots and emerging hot spots counted in SQL by the stored H3 cell (issue 23, ``fast_reads``) answer exactly
what the original path (every point read and located in Python) answers: every measure, both weights, resolutions
8, 9 and 10 (only 9 takes the SQL path; the others must fall back), an admin and a supervisor, on both databases."""

from __future__ import annotations

import datetime as dt
import uuid

import numpy as np
import pytest
from sqlalchemy import insert, select

from patrol.analytics import cell_counts
from patrol.analytics import service as svc
from patrol.core.auth import SYSTEM, actor_for, get_user
from patrol.core.db import session_factory, transaction
from patrol.core.models import Case, Category, Grid
from patrol.core.settings import Settings
from tests.conftest import shared_scope

pytestmark = pytest.mark.db

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
MEASURES = ("cases", "overdue", "reworked", "reopened")


@pytest.fixture(scope=shared_scope)
def spread(world) -> None:
    """300 cases over the world's grids in the last ten weeks: statuses, deadlines past and ahead, late closings,
    reworks and reopens, six categories (severities), two channels."""
    rng = np.random.default_rng(23)
    with transaction(session_factory(world.engine)) as s:
        grids = s.execute(select(Grid.id, Grid.community_id, Grid.geom.ST_Centroid().ST_X(),
                                 Grid.geom.ST_Centroid().ST_Y())).all()
        cats = list(s.scalars(select(Category.code).where(Category.active).order_by(Category.code).limit(6)))
        rows = []
        for i in range(300):
            gid, com, x, y = grids[int(rng.integers(len(grids)))]
            status = ("reported", "dispatched", "handled", "closed", "closed", "suspended")[i % 6]
            at = NOW - dt.timedelta(hours=float(rng.uniform(1, 70 * 24)))
            rows.append({
                "client_id": str(uuid.uuid4()), "category_code": cats[i % len(cats)], "status": status,
                "level": "community", "channel": ("patrol", "12345")[i % 2], "community_id": com, "grid_id": gid,
                "geom": f"SRID=4326;POINT({x + rng.normal(0, 0.002)!r} {y + rng.normal(0, 0.002)!r})",
                "reported_at": at, "deadline_at": at + dt.timedelta(hours=float(rng.uniform(2, 400))),
                "updated_at": at, "closed_on_time": bool(rng.random() < 0.6) if status == "closed" else None,
                "rework_count": int(rng.random() < 0.2), "reopened_count": int(rng.random() < 0.1)})
        s.execute(insert(Case), rows)


def _both(world, monkeypatch, fn, who: str = "admin", **kw) -> tuple[dict, dict]:
    """``fn`` with fast reads on (the points never read at resolution 9) and off."""
    out = []
    for fast in (True, False):
        cell_counts.clear_cache()
        with monkeypatch.context() as m, session_factory(world.engine)() as s:
            if fast and kw.get("resolution") == 9:
                m.setattr(svc, "case_points", _never)
            actor = SYSTEM if who == "admin" else actor_for(s, get_user(s, who))
            out.append(fn(s, actor, Settings(fast_reads=fast), **kw))
    return out[0], out[1]


def _never(*args, **kw):
    raise AssertionError("the fast path read the points")


@pytest.mark.parametrize("resolution", [8, 9, 10])
@pytest.mark.parametrize("measure", MEASURES)
def test_hotspots_are_the_same_counted_in_sql(world, spread, monkeypatch, measure, resolution):
    start, end = (NOW - dt.timedelta(days=80)).date(), (NOW + dt.timedelta(days=1)).date()
    kw = {"start": start, "end": end, "resolution": resolution, "measure": measure}
    for weight in ("count", "severity") if measure == "cases" else ("count",):
        fast, slow = _both(world, monkeypatch, svc.hotspots, **kw, weight=weight)
        assert fast == slow
        assert fast["summary"]["points"] > 0
    fast, slow = _both(world, monkeypatch, svc.hotspots, "sup", **kw, channel="12345")
    assert fast == slow


@pytest.mark.parametrize("resolution", [8, 9, 10])
@pytest.mark.parametrize("measure", MEASURES)
def test_emerging_is_the_same_in_one_query(world, spread, monkeypatch, measure, resolution):
    kw = {"resolution": resolution, "measure": measure, "now": NOW}
    for step, steps in (("week", 10), ("day", 5)) if resolution == 9 else (("week", 10),):
        fast, slow = _both(world, monkeypatch, svc.emerging, **kw, step=step, steps=steps)
        assert fast == slow
        assert fast["summary"]["points"] > 0 or step == "day"
    fast, slow = _both(world, monkeypatch, svc.emerging, "sup", **kw, step="week", steps=10)
    assert fast == slow


def test_the_cell_frame_is_kept_and_still_right(world, spread):
    cell_counts.clear_cache()
    start, end = (NOW - dt.timedelta(days=80)).date(), (NOW + dt.timedelta(days=1)).date()
    with session_factory(world.engine)() as s:
        first = svc.hotspots(s, SYSTEM, Settings(), start=start, end=end)
        assert len(cell_counts._cache) == 1
        again = svc.hotspots(s, SYSTEM, Settings(), start=start, end=end)
    assert first == again
