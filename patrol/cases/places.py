"""Where a report is: input points in WGS-84, GCJ-02 or BD-09 to WGS-84, the community / grid / building that
contains a point, the nearest grid to one outside them all, geodesic distances (m), and the open or recently closed
cases near a point (possible duplicates, recurrences).

Shared by the case service, batch ingest, routing, inspections and shops; it imports nothing else of the case loop,
so every one of them may depend on it.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from pyproj import Geod
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from geo.crs import DATUMS, to_wgs84
from patrol.cases.lifecycle import OPEN, Status
from patrol.core.dialect import at_point, bbox_filter
from patrol.core.errors import InvalidInput
from patrol.core.frames import read_frame
from patrol.core.models import Building, Case, City, Community, Grid

_geod = Geod(ellps="WGS84")


@dataclass
class Place:
    community_id: int | None
    grid_id: int | None
    building_id: int | None


def to_point(lon: float, lat: float, crs: str = "wgs84") -> tuple[float, float]:
    """WGS-84 lon/lat (degrees) from input in WGS-84, GCJ-02 or BD-09, with range checks."""
    if crs not in DATUMS:
        raise InvalidInput(f"crs must be one of {', '.join(DATUMS)}, got {crs!r}", field="crs")
    if not (isinstance(lat, int | float) and math.isfinite(lat) and -90 <= lat <= 90):
        raise InvalidInput(f"lat must be between -90 and 90, got {lat!r}", field="lat")
    if not (isinstance(lon, int | float) and math.isfinite(lon) and -180 <= lon <= 180):
        raise InvalidInput(f"lon must be between -180 and 180, got {lon!r}", field="lon")
    x, y = to_wgs84(lon, lat, crs)
    return float(x), float(y)


def locate(session: Session, lon: float, lat: float) -> Place:
    """The community, grid and building containing the point, in one round trip (lowest id on a shared edge)."""
    def first(model):
        return (select(model.id).where(at_point(session, model.id, model.geom, lon, lat))
                .order_by(model.id).limit(1).scalar_subquery())

    row = session.execute(select(first(Community), first(Grid), first(Building))).one()
    return Place(row[0], row[1], row[2])


def nearest_grid(session: Session, lon: float, lat: float) -> tuple[str, float] | None:
    """(code, distance m) of the grid nearest to the point, measured in the city's metric CRS."""
    city = session.scalars(select(City).limit(1)).first()
    grids = read_frame(session, [Grid.code], Grid.geom)
    if city is None or grids.empty:
        return None
    metric = grids.to_crs(city.metric_epsg)
    pt = gpd.GeoSeries([shapely.Point(lon, lat)], crs=4326).to_crs(city.metric_epsg).iloc[0]
    d = metric.distance(pt)
    i = int(d.to_numpy().argmin())
    return str(grids["code"].iloc[i]), float(d.iloc[i])


def metres(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """The geodesic distance (m, WGS-84 ellipsoid) between two lon/lat points (degrees)."""
    return float(_geod.inv(lon1, lat1, lon2, lat2)[2])


def nearby(session: Session, reports: list[tuple[str, float, float]], radius_m: float,
           since: dt.datetime) -> list[tuple[list[int], list[int]]]:
    """For each (category, lon, lat): the open cases of that category within ``radius_m`` (possible duplicates)
    and those closed since ``since`` (recurrence) — one query for all, through the spatial index, then geodesic
    distances in Python."""
    lon = np.array([r[1] for r in reports])
    lat = np.array([r[2] for r in reports])
    dlat = radius_m / 111_000 * 1.5
    dlon = dlat / max(math.cos(math.radians(float(np.abs(lat).max()))), 0.01)
    box = (float(lon.min() - dlon), float(lat.min() - dlat), float(lon.max() + dlon), float(lat.max() + dlat))
    rows = session.execute(
        select(Case.id, Case.category_code, Case.status, func.ST_X(Case.geom), func.ST_Y(Case.geom))
        .where(Case.category_code.in_({r[0] for r in reports}),
               or_(Case.status.in_(OPEN), and_(Case.status == Status.CLOSED, Case.closed_at >= since)),
               bbox_filter(session, Case.id, Case.geom, box))).all()
    by_cat: dict[str, list] = {}
    for row in rows:
        by_cat.setdefault(row[1], []).append(row)
    out = []
    for cat, x, y in reports:
        dup: list[int] = []
        rec: list[int] = []
        for cid, _, status, cx, cy in by_cat.get(cat, ()):
            if abs(cy - y) <= dlat and abs(cx - x) <= dlon and metres(x, y, cx, cy) <= radius_m:
                (dup if status in OPEN else rec).append(int(cid))
        out.append((sorted(dup), sorted(rec)))
    return out
