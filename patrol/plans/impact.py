"""What a plan changes: per grid, before (the grids in force) and after (the plan), households, buildings, street
length, open and recent cases and the worker; the totals; and GeoJSON of what changes hands.

"Before" counts buildings and cases by the grid they point at; "after" by the grid of the plan holding their
representative point, as publishing will place them (cases off every grid take the nearest within 50 m).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session

from patrol.cases.lifecycle import OPEN
from patrol.core.auth import Actor
from patrol.core.frames import read_frame
from patrol.core.models import Building, Case, RoadSegment, User
from patrol.plans.base import (
    RECENT_DAYS,
    as_int,
    grid_frame,
    metric_epsg,
    plan_frame,
    plan_row,
    require_planner,
)
from patrol.plans.geometry import locate, nearest, points, project, repaired, tidy

_FIGURES = ("households", "buildings", "street_m", "open_cases", "cases_90d")


@dataclass
class _Layer:
    """One side of the comparison: grids (WGS-84 frame and metric shapes), street metres and worker by code."""

    frame: gpd.GeoDataFrame
    metric: np.ndarray
    street: dict[str, float]
    worker: dict[str, object]
    shape: dict[str, shapely.Geometry]

    @classmethod
    def of(cls, frame: gpd.GeoDataFrame, epsg: int, roads: np.ndarray) -> _Layer:
        metric = repaired(frame.to_crs(epsg).geometry.to_numpy())  # a draft may hold invalid shapes still
        return cls(frame, metric, dict(zip(frame["code"], _street_lengths(metric, roads), strict=True)),
                   dict(zip(frame["code"], frame["worker_id"], strict=True)),
                   dict(zip(frame["code"], metric, strict=True)))

    def code_at(self, positions: np.ndarray) -> np.ndarray:
        return np.array([self.frame["code"].iloc[i] if i >= 0 else None for i in positions], dtype=object)


@dataclass
class _Placed:
    """Buildings and cases with the grid code they have before and after."""

    buildings: gpd.GeoDataFrame
    households: np.ndarray
    b_from: np.ndarray
    b_to: np.ndarray
    cases: Sequence[Row]
    c_from: np.ndarray
    c_to: np.ndarray
    is_open: np.ndarray
    recent: np.ndarray


def _street_lengths(polygons: np.ndarray, roads: np.ndarray) -> np.ndarray:
    """Metres of road inside each polygon (metric CRS)."""
    if len(polygons) == 0 or len(roads) == 0:
        return np.zeros(len(polygons))
    gi, ri = shapely.STRtree(roads).query(polygons, predicate="intersects")
    lengths = shapely.length(shapely.intersection(roads[ri], polygons[gi]))
    return np.bincount(gi, weights=lengths, minlength=len(polygons))


def impact(session: Session, actor: Actor | None, plan_id: int, *, now: dt.datetime | None = None,
           tolerance_m2: float = 1.0) -> dict:
    """Per grid, before (the grids in force) and after (the plan): households, buildings, street length (m, in
    the city's metric CRS), open cases, cases reported in the last 90 days, worker; the totals; and ``moved``,
    GeoJSON (WGS-84) of what changes hands: areas (``kind`` area, ``from``/``to`` codes), buildings and open
    cases. Changes of area up to ``tolerance_m2`` m² are noise."""
    if actor is not None:
        require_planner(actor)
    plan = plan_row(session, plan_id)
    now = now or dt.datetime.now(dt.UTC)
    epsg = metric_epsg(session)
    roads = read_frame(session, [RoadSegment.id], RoadSegment.geom).to_crs(epsg).geometry.to_numpy()
    before = _Layer.of(grid_frame(session), epsg, roads)
    after = _Layer.of(plan_frame(session, plan.id), epsg, roads)
    placed = _place(session, epsg, before, after, now - dt.timedelta(days=RECENT_DAYS))
    workers = dict(session.execute(select(User.id, User.display_name)).all())
    grids = [_grid_change(code, before, after, placed, workers, tolerance_m2)
             for code in sorted(set(before.frame["code"]) | set(after.frame["code"]))]
    totals = {
        "grids": {"before": len(before.frame), "after": len(after.frame)},
        "changed": sum(g["status"] != "unchanged" for g in grids),
        "buildings_moving": int(np.sum(placed.b_from != placed.b_to)),
        "open_cases_moving": int(np.sum(placed.is_open & (placed.c_from != placed.c_to))),
    }
    return {"plan_id": plan.id, "grids": grids, "totals": totals,
            "moved": _moved_features(epsg, before, after, placed, tolerance_m2)}


def _place(session: Session, epsg: int, before: _Layer, after: _Layer, since: dt.datetime) -> _Placed:
    """Every building and case with its grid code before (the grid it points at) and after (the plan's grid
    holding its point)."""
    code_of_id = dict(zip(before.frame["id"], before.frame["code"], strict=True))
    buildings = read_frame(session, [Building.id, Building.households, Building.grid_id], Building.geom,
                           order_by=[Building.id])
    b_points = shapely.point_on_surface(buildings.to_crs(epsg).geometry.to_numpy())
    rows = session.execute(select(Case.id, Case.status, Case.reported_at, Case.grid_id, func.ST_X(Case.geom),
                                  func.ST_Y(Case.geom)).order_by(Case.id)).all()
    c_points = points([r[4] for r in rows], [r[5] for r in rows], epsg)
    return _Placed(
        buildings=buildings,
        households=buildings["households"].fillna(0).to_numpy(dtype=np.int64),
        b_from=np.array([code_of_id.get(g) for g in buildings["grid_id"]], dtype=object),
        b_to=after.code_at(locate(b_points, after.metric)),
        cases=rows,
        c_from=np.array([code_of_id.get(r[3]) for r in rows], dtype=object),
        c_to=after.code_at(nearest(c_points, after.metric, locate(c_points, after.metric))),
        is_open=np.array([r[1] in OPEN for r in rows], dtype=bool),
        recent=np.array([r[2] >= since for r in rows], dtype=bool),
    )


def _figures(layer: _Layer, code: str, b_codes: np.ndarray, c_codes: np.ndarray, placed: _Placed,
             workers: dict) -> dict | None:
    """One grid's figures on one side, None when the grid is not there."""
    if code not in layer.worker:
        return None
    b, c = b_codes == code, c_codes == code
    worker = as_int(layer.worker[code])
    return {"households": int(placed.households[b].sum()), "buildings": int(b.sum()),
            "street_m": round(float(layer.street.get(code, 0.0)), 1), "worker_id": worker,
            "worker": workers.get(worker), "open_cases": int((c & placed.is_open).sum()),
            "cases_90d": int((c & placed.recent).sum())}


def _grid_change(code: str, before: _Layer, after: _Layer, placed: _Placed, workers: dict, tol: float) -> dict:
    """Grid ``code`` before and after, its status (added, removed, changed, unchanged) and the change."""
    was = _figures(before, code, placed.b_from, placed.c_from, placed, workers)
    now = _figures(after, code, placed.b_to, placed.c_to, placed, workers)
    if was is None:
        status = "added"
    elif now is None:
        status = "removed"
    else:
        moved = before.shape[code].symmetric_difference(after.shape[code]).area
        status = "changed" if moved > tol or was["worker_id"] != now["worker_id"] else "unchanged"
    delta = None if was is None or now is None else {k: round(now[k] - was[k], 1) for k in _FIGURES}
    return {"code": code, "status": status, "before": was, "after": now, "change": delta}


def _moved_features(epsg: int, before: _Layer, after: _Layer, placed: _Placed, tol: float) -> dict:
    """GeoJSON (WGS-84) of the areas, buildings and open cases that change grid."""
    features = []
    if len(before.metric) and len(after.metric):
        ai, bi = shapely.STRtree(before.metric).query(after.metric, predicate="intersects")
        for a, b in zip(ai, bi, strict=True):
            src, dst = before.frame["code"].iloc[b], after.frame["code"].iloc[a]
            if src == dst:
                continue
            piece = tidy(shapely.intersection(before.metric[b], after.metric[a]))
            if piece.area <= tol:
                continue
            features.append({"type": "Feature", "geometry": shapely.geometry.mapping(project(piece, epsg, 4326)),
                             "properties": {"kind": "area", "from": src, "to": dst, "area_m2": round(piece.area, 1)}})
    buildings, b_from, b_to = placed.buildings, placed.b_from, placed.b_to
    for i in np.flatnonzero(b_from != b_to):
        features.append({"type": "Feature", "geometry": shapely.geometry.mapping(buildings.geometry.iloc[i]),
                         "properties": {"kind": "building", "id": int(buildings["id"].iloc[i]),
                                        "from": b_from[i], "to": b_to[i],
                                        "households": int(buildings["households"].iloc[i] or 0)}})
    rows = placed.cases
    for c in map(int, np.flatnonzero(placed.is_open & (placed.c_from != placed.c_to))):
        features.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [rows[c][4], rows[c][5]]},
                         "properties": {"kind": "case", "id": int(rows[c][0]), "status": rows[c][1],
                                        "from": placed.c_from[c], "to": placed.c_to[c]}})
    return {"type": "FeatureCollection", "features": features}
