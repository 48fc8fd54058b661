"""The stored H3 cell of a case (``patrol_case.h3_9``, issue 23): computed from the point on every insert and move.

The point reaches the database in several shapes: an EWKT string (``SRID=4326;POINT(x y)``, what
:func:`patrol.core.frames.ewkt` and the bulk paths write), a GeoAlchemy2 ``WKTElement`` / ``WKBElement`` or a shapely
point. :func:`point_h3` reads any of them; :func:`column_default` is the column's insert default, so every ORM insert
and every Core ``insert(Case)`` that does not give ``h3_9`` gets it from its ``geom`` parameter; the ORM's
``before_update`` hook in :mod:`patrol.core.models` recomputes it when a case's point moves. A load that bypasses
SQLAlchemy (COPY, ``INSERT … SELECT``) calls :func:`backfill` afterwards.
"""

from __future__ import annotations

import re
from typing import Any

import shapely
from sqlalchemy import Connection, text

from geo.cells.ids import STORED_RESOLUTION, h3_ids

_POINT = re.compile(r"^\s*(?:SRID=\d+;)?\s*POINT\s*Z?\s*\(\s*([-+0-9.eE]+)\s+([-+0-9.eE]+)", re.IGNORECASE)
#: rows per batch of :func:`backfill`
BATCH = 50_000


def point_xy(value: Any) -> tuple[float, float] | None:
    """lon, lat of a point as the ORM / Core is given it (EWKT / WKT text, WKT or WKB element, WKB bytes, shapely);
    ``None`` for no point."""
    if value is None:
        return None
    data = getattr(value, "data", value)  # geoalchemy2 elements keep the text / bytes in .data
    if isinstance(data, str):
        m = _POINT.match(data)
        if m:
            return float(m.group(1)), float(m.group(2))
        geom = shapely.from_wkt(data.split(";", 1)[-1]) if not _is_hex(data) else shapely.from_wkb(data)
    elif isinstance(data, bytes | bytearray | memoryview):
        geom = shapely.from_wkb(bytes(data))
    elif isinstance(data, shapely.Geometry):
        geom = data
    else:
        return None
    if geom is None or geom.is_empty or geom.geom_type != "Point":
        return None
    return float(geom.x), float(geom.y)


def _is_hex(s: str) -> bool:
    return len(s) >= 42 and all(c in "0123456789abcdefABCDEF" for c in s[:42])


def point_h3(value: Any) -> str | None:
    """The stored-resolution H3 cell of a point given in any shape :func:`point_xy` reads."""
    xy = point_xy(value)
    return None if xy is None else h3_ids([xy[0]], [xy[1]], STORED_RESOLUTION)[0]


def column_default(context: Any) -> str | None:
    """``patrol_case.h3_9``'s insert default: the cell of the row's own ``geom`` parameter (one per row, also in an
    executemany)."""
    return point_h3(context.get_current_parameters().get("geom"))


def backfill(conn: Connection, *, only_missing: bool = True, batch: int = BATCH) -> int:
    """Set ``h3_9`` of the cases that have none (every case with ``only_missing=False``), ``batch`` rows at a time
    (by id, so memory stays bounded), on SpatiaLite and PostGIS; the number of rows set. Used by migration 0016 and
    by bulk loads that write cases without SQLAlchemy (COPY)."""
    pg = conn.dialect.name == "postgresql"
    missing = " AND h3_9 IS NULL" if only_missing else ""
    last, done = 0, 0
    while True:
        rows = conn.execute(text(f"SELECT id, ST_X(geom), ST_Y(geom) FROM patrol_case WHERE id > :last{missing} "
                                 "ORDER BY id LIMIT :n"), {"last": last, "n": batch}).all()
        if not rows:
            return done
        ids = [r[0] for r in rows]
        cells = h3_ids([r[1] if r[1] is not None else float("nan") for r in rows],
                       [r[2] if r[2] is not None else float("nan") for r in rows])
        if pg:  # one statement per batch: the arrays joined back on id
            conn.execute(text("UPDATE patrol_case AS c SET h3_9 = v.h FROM unnest(CAST(:ids AS integer[]), "
                              "CAST(:hs AS varchar[])) AS v(id, h) WHERE c.id = v.id"), {"ids": ids, "hs": cells})
        else:
            conn.execute(text("UPDATE patrol_case SET h3_9 = :h WHERE id = :i"),
                         [{"h": h, "i": i} for i, h in zip(ids, cells, strict=True)])
        done += len(rows)
        last = ids[-1]
