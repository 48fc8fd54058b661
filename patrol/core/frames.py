"""Move layers between the database and GeoDataFrames, the same way on SpatiaLite and PostGIS.

Geometries travel as EWKT on the way in (GeoAlchemy2 wraps them in ``ST_GeomFromEWKT``) and as WKB on the way out,
decoded in one vectorised call.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import geopandas as gpd
import numpy as np
import shapely
from sqlalchemy import Select, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from geo.crs import WGS84
from patrol.core.models import SRID


def ewkt(geoms: Iterable[shapely.Geometry] | np.ndarray) -> list[str]:
    """EWKT strings with SRID 4326; 9 decimals (≈0.1 mm) keep coordinates as imported."""
    arr = np.asarray(list(geoms) if not isinstance(geoms, np.ndarray) else geoms, dtype=object)
    return [f"SRID={SRID};{w}" for w in shapely.to_wkt(arr, rounding_precision=9, trim=True)]


def read_frame(session: Session, columns: Sequence[InstrumentedAttribute], geom: InstrumentedAttribute,
               *, where: Sequence = (), order_by: Sequence = (), limit: int | None = None,
               offset: int = 0) -> gpd.GeoDataFrame:
    """Rows of one table as a GeoDataFrame in WGS-84; ``columns`` become columns named by their key."""
    stmt: Select = select(*columns, func.ST_AsBinary(geom).label("_wkb")).where(*where).order_by(*order_by)
    if limit is not None:
        stmt = stmt.limit(limit).offset(offset)
    rows = session.execute(stmt).all()
    names = [c.key for c in columns]
    data = {n: [r[i] for r in rows] for i, n in enumerate(names)}
    wkb = np.array([bytes(r[-1]) if r[-1] is not None else None for r in rows], dtype=object)
    return gpd.GeoDataFrame(data, geometry=shapely.from_wkb(wkb), crs=WGS84)
