"""The cases download streamed (issue 23, ``fast_reads``): the same bytes as the one-frame export for CSV (every
header mode) and GeoJSON, the same table for GeoPackage, over several chunks and with nullable columns that are
null in some chunks only (pandas would make them float / object in the whole frame), on both databases."""

from __future__ import annotations

import datetime as dt
import io
import uuid

import geopandas as gpd
import pytest
import shapely
from sqlalchemy import insert, select

from patrol.cases import export_stream
from patrol.core.db import session_factory, transaction
from patrol.core.models import Building, Case, Grid

pytestmark = pytest.mark.db


@pytest.fixture(scope="module")
def odd_cases(world) -> str:
    """23 cases of a category of their own: ratings, buildings, units and closed_on_time set on some rows only,
    a description a spreadsheet would run, one with a line break and a comma."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    with transaction(session_factory(world.engine)) as s:
        gid, com = s.execute(select(Grid.id, Grid.community_id).where(Grid.id == world.grid_a)).one()
        bid = s.scalar(select(Building.id).where(Building.grid_id == gid).limit(1))
        x, y = world.point_a
        s.execute(insert(Case), [{
            "client_id": str(uuid.uuid4()), "category_code": "C0106", "status": ("closed", "dispatched")[i % 2],
            "level": "community", "channel": "patrol", "community_id": com, "grid_id": gid,
            "building_id": bid if i > 15 else None, "unit_id": world.units[0] if i == 3 else None,
            "rating": 4 if i > 20 else None, "closed_on_time": (True, False, None)[i % 3] if i > 9 else True,
            "description": ("=HYPERLINK(1)", "行一\n行二, 逗号", None, "普通")[i % 4],
            "geom": f"SRID=4326;POINT({x + i * 1e-5!r} {y!r})", "reported_at": now - dt.timedelta(hours=i),
            "deadline_at": now + dt.timedelta(hours=i - 5), "updated_at": now} for i in range(23)])
    return "C0106"


def _get(world, fast: bool, **params):
    app = world.client.app
    old = app.state.settings
    app.state.settings = old.model_copy(update={"fast_reads": fast})
    try:
        r = world.client.get("/api/v1/cases/export", headers=world.h("admin"), params=params)
    finally:
        app.state.settings = old
    assert r.status_code == 200, r.text
    return r


@pytest.mark.parametrize("chunk", [5, 1000])
def test_streamed_export_is_the_same_download(world, odd_cases, monkeypatch, chunk):
    monkeypatch.setattr(export_stream, "CHUNK", chunk)
    for params in ({"format": "csv"}, {"format": "csv", "headers": "keys"}, {"format": "csv", "headers": "en"},
                   {"format": "geojson"}, {"format": "csv", "category": odd_cases},
                   {"format": "geojson", "category": odd_cases}, {"format": "geojson", "category": "C9999"},
                   {"format": "csv", "category": "C9999"}):
        fast, slow = _get(world, True, **params), _get(world, False, **params)
        assert fast.content == slow.content, params
        assert "content-length" not in fast.headers and "content-length" in slow.headers  # streamed, or not
        assert fast.headers["content-type"] == slow.headers["content-type"]
        assert fast.headers["content-disposition"] == slow.headers["content-disposition"]
    fast = _get(world, True, format="csv", category=odd_cases).text
    assert fast.count("'=HYPERLINK(1)") == 6 and ",3.0," not in fast  # made safe; no rating → none is float


def test_streamed_geopackage_holds_the_same_table(world, odd_cases, monkeypatch):
    monkeypatch.setattr(export_stream, "CHUNK", 5)
    frames = []
    for fast in (True, False):
        r = _get(world, fast, format="gpkg", category=odd_cases)
        assert r.headers["content-type"] == "application/geopackage+sqlite3"
        frames.append(gpd.read_file(io.BytesIO(r.content), engine="pyogrio"))
    assert len(frames[0]) == 23
    assert frames[0].drop(columns="geometry").equals(frames[1].drop(columns="geometry"))
    assert shapely.equals(frames[0].geometry.array, frames[1].geometry.array).all()
