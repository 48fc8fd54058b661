"""The few places where SpatiaLite and PostGIS differ, each behind one small function."""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, func, literal_column, select, text
from sqlalchemy.orm import InstrumentedAttribute, Session

from patrol.core.models import SRID


def envelope(session: Session, bbox: tuple[float, float, float, float]) -> ColumnElement:
    minx, miny, maxx, maxy = bbox
    if session.get_bind().dialect.name == "sqlite":
        return func.BuildMbr(minx, miny, maxx, maxy, SRID)
    return func.ST_MakeEnvelope(minx, miny, maxx, maxy, SRID)


def bbox_filter(session: Session, id_col: InstrumentedAttribute, geom: InstrumentedAttribute,
                bbox: tuple[float, float, float, float]) -> ColumnElement:
    """Rows whose geometry intersects ``bbox`` (WGS-84), using the spatial index on both databases."""
    env = envelope(session, bbox)
    if session.get_bind().dialect.name == "sqlite":
        # SpatiaLite's R*Tree is only used when queried explicitly through its SpatialIndex virtual table.
        table = geom.class_.__tablename__
        candidates = select(literal_column("rowid")).select_from(text("SpatialIndex")).where(
            literal_column("f_table_name") == table, literal_column("f_geometry_column") == geom.key,
            literal_column("search_frame") == env,
        )
        return and_(id_col.in_(candidates), func.ST_Intersects(geom, env) == 1)
    return func.ST_Intersects(geom, env)


def extent(session: Session, geom: InstrumentedAttribute,
           *where: ColumnElement) -> tuple[float, float, float, float] | None:
    """(minx, miny, maxx, maxy) of a geometry column in WGS-84 over the rows ``where`` selects, or None for none."""
    if session.get_bind().dialect.name == "sqlite":
        parts = (func.MbrMinX(geom), func.MbrMinY(geom), func.MbrMaxX(geom), func.MbrMaxY(geom))
    else:
        parts = (func.ST_XMin(geom), func.ST_YMin(geom), func.ST_XMax(geom), func.ST_YMax(geom))
    row = session.execute(select(func.min(parts[0]), func.min(parts[1]), func.max(parts[2]),
                                 func.max(parts[3])).where(*where)).one()
    return None if row[0] is None else tuple(float(v) for v in row)


def at_point(session: Session, id_col: InstrumentedAttribute, geom: InstrumentedAttribute, lon: float,
             lat: float) -> ColumnElement:
    """Rows whose geometry contains the point (to 1e-9°), through the spatial index on both databases."""
    eps = 1e-9
    return bbox_filter(session, id_col, geom, (lon - eps, lat - eps, lon + eps, lat + eps))


def no_jit(session: Session) -> None:
    """On PostgreSQL, no JIT compilation for the rest of the transaction: on the city-scale reads (map clusters,
    hotspot counts) compiling cost more than it saved (issue 23: 0.36 s of a 1.1 s map query, 1.55 → 1.10 s for
    emerging hot spots' grouped count, 1M cases). A no-op on SQLite."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL jit = off"))
