"""The basemap as Mapbox Vector Tiles, read from what the database holds (see :mod:`geo.tiles` for the layers, their
properties and the zoom rules): on PostGIS one SQL statement per tile (``ST_AsMVTGeom`` / ``ST_AsMVT``, one layer per
subquery, concatenated), on SpatiaLite the features of the tile's box read through the spatial index and encoded in
Python (:func:`geo.tiles.encode`, the ``mapbox-vector-tile`` library). No personal data: only names and codes of
places, roads' names and classes, buildings' labels, house numbers and names.

:class:`TileCache` keeps the last :data:`CACHE_TILES` encoded tiles of a map version (and the city's bounds per
version): a tile is a function of (map version, z, x, y), and :func:`patrol.city.map_version.bump` makes a new
version whenever what the tiles draw changes.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from sqlalchemy import ColumnElement, case, func, literal_column, select, text
from sqlalchemy.orm import InstrumentedAttribute, Session

from geo import tiles as gt
from patrol.city.map_version import current
from patrol.core.dialect import envelope, extent
from patrol.core.models import Building, Community, Grid, MapArea, RoadSegment

#: encoded tiles kept in memory per process (a z16 tile is ~10–60 KB: at most ~50 MB, usually far less)
CACHE_TILES = 2048


@dataclass(frozen=True)
class Meta:
    version: int
    bounds: tuple[float, float, float, float] | None

    def as_dict(self) -> dict[str, Any]:
        return {"version": self.version, "bounds": list(self.bounds) if self.bounds else None,
                "minzoom": gt.MINZOOM, "maxzoom": gt.MAXZOOM, "layers": list(gt.LAYERS),
                "properties": {k: list(v) for k, v in gt.PROPERTIES.items()}, "extent": gt.EXTENT,
                "buffer": gt.BUFFER, "buildings_from": gt.BUILDINGS_FROM}


def city_bounds(session: Session) -> tuple[float, float, float, float] | None:
    """(west, south, east, north) of everything the basemap draws, None for an empty database."""
    boxes = [b for b in (extent(session, m.geom) for m in (Community, Grid, Building, RoadSegment, MapArea)) if b]
    if not boxes:
        return None
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def meta(session: Session) -> Meta:
    return Meta(current(session) or 0, city_bounds(session))


def tile(session: Session, z: int, x: int, y: int) -> bytes:
    """Tile z/x/y of the basemap as MVT bytes (``b""`` when it holds nothing). The caller checks it is one the city
    covers (:func:`geo.tiles.covers`); every valid tile can be asked for."""
    if session.get_bind().dialect.name == "postgresql":
        return _postgis_tile(session, z, x, y)
    return _python_tile(session, z, x, y)


# ---------------------------------------------------------------------------------------------- SpatiaLite: Python


def _area_size(geom: InstrumentedAttribute) -> ColumnElement:
    """Width + height of a geometry's bounding box in degrees (SpatiaLite)."""
    return func.MbrMaxX(geom) - func.MbrMinX(geom) + func.MbrMaxY(geom) - func.MbrMinY(geom)


def _layers(z: int) -> list[tuple[str, Any, list[ColumnElement], list[ColumnElement]]]:
    """(layer, model, property columns, conditions) of each layer drawn at zoom ``z`` (SpatiaLite; the same rules
    as :data:`_PG_LAYERS`)."""
    classes = gt.road_classes(z)
    road_where = [RoadSegment.highway.in_(classes)] if classes is not None else []
    amin = gt.area_min_degrees(z)
    out: list[tuple[str, Any, list[ColumnElement], list[ColumnElement]]] = [
        (kind, MapArea, [MapArea.name.label("name")],
         [MapArea.kind == kind, _area_size(MapArea.geom) >= amin]) for kind in ("water", "green")]
    out.append(("roads", RoadSegment, [RoadSegment.name.label("name"), RoadSegment.highway.label("class"),
                                       case((RoadSegment.oneway, 1), else_=0).label("oneway")], road_where))
    if z >= gt.BUILDINGS_FROM:
        out.append(("buildings", Building, [Building.label.label("label"), Building.housenumber.label("housenumber"),
                                            Building.name.label("name")], []))
    out += [("communities", Community, [Community.name.label("name"), Community.code.label("code")], []),
            ("grids", Grid, [Grid.name.label("name"), Grid.code.label("code")], [])]
    return out


def _in_box(session: Session, model: Any, box: tuple[float, float, float, float]) -> ColumnElement:
    """Rows whose bounding box meets ``box``, from SpatiaLite's R*Tree alone: the exact test is left to the clip
    (a large community's polygon would cost more to test than to cut)."""
    candidates = select(literal_column("rowid")).select_from(text("SpatialIndex")).where(
        literal_column("f_table_name") == model.__tablename__, literal_column("f_geometry_column") == "geom",
        literal_column("search_frame") == envelope(session, box))
    return model.id.in_(candidates)


def _python_tile(session: Session, z: int, x: int, y: int) -> bytes:
    box = gt.tile_lonlat(z, x, y, buffer=gt.BUFFER)
    layers: dict[str, tuple[np.ndarray, list[dict[str, Any]]]] = {}
    labels: list[tuple[str, np.ndarray, list[dict[str, Any]]]] = []
    for name, model, columns, where in _layers(z):
        rows = session.execute(select(*columns, func.AsBinary(model.geom))
                               .where(_in_box(session, model, box), *where)).all()
        keys = [c.key for c in columns]
        props = [dict(zip(keys, r[:-1], strict=True)) for r in rows]
        geoms = shapely.from_wkb(np.array([bytes(r[-1]) for r in rows], dtype=object))
        layers[name] = (geoms, props)
        if name in ("communities", "grids"):
            labels.append((name[:-1] if name == "grids" else "community", geoms, props))
    points, label_props = [], []
    for kind, geoms, props in labels:
        points.append(shapely.point_on_surface(geoms))
        label_props += [{"kind": kind, **p} for p in props]
    layers["labels"] = (np.concatenate(points) if points else np.empty(0, dtype=object), label_props)
    return gt.encode(z, x, y, layers)


# ---------------------------------------------------------------------------------------------- PostGIS: ST_AsMVT


#: (layer, table, property columns, condition) of each layer of the PostGIS tile; a condition's parameters come
#: from :func:`_postgis_tile`
_PG_LAYERS = (
    ("water", "map_area", "name", "kind = 'water' AND {size} >= :amin"),
    ("green", "map_area", "name", "kind = 'green' AND {size} >= :amin"),
    ("roads", "road_segment", "name, highway AS class, CASE WHEN oneway THEN 1 ELSE 0 END AS oneway",
     "(CAST(:classes AS text[]) IS NULL OR highway = ANY(CAST(:classes AS text[])))"),
    ("buildings", "building", "label, housenumber, name", ":z >= :buildings_from"),
    ("communities", "community", "name, code", ""),
    ("grids", "grid", "name, code", ""),
)
_PG_SIZE = "(ST_XMax({t}.geom) - ST_XMin({t}.geom) + ST_YMax({t}.geom) - ST_YMin({t}.geom))"


def _postgis_sql() -> str:
    parts = [_mvt_layer(name, table, columns, cond.format(size=_PG_SIZE.format(t=table)))
             for name, table, columns, cond in _PG_LAYERS]
    parts.append(_labels_layer())
    return ("WITH b AS (SELECT ST_TileEnvelope(:z, :x, :y) AS e, ST_MakeEnvelope(:w, :s, :e, :n, 4326) AS q)\n"
            "SELECT " + "\n || ".join(f"COALESCE(({p}), ''::bytea)" for p in parts))


def _postgis_tile(session: Session, z: int, x: int, y: int) -> bytes:
    box = gt.tile_lonlat(z, x, y, buffer=gt.BUFFER)
    classes = gt.road_classes(z)
    params: dict[str, Any] = {"z": z, "x": x, "y": y, "w": box[0], "s": box[1], "e": box[2], "n": box[3],
                              "amin": gt.area_min_degrees(z), "tol": gt.tolerance(z),
                              "buildings_from": gt.BUILDINGS_FROM,
                              "classes": list(classes) if classes is not None else None}
    return bytes(session.execute(text(_POSTGIS_SQL), params).scalar_one() or b"")


#: tables whose polygons are large (many vertices, bigger than a tile at high zooms): cut to the tile's box first
_LARGE = ("map_area", "community", "grid")


def _mvt_layer(name: str, table: str, columns: str, condition: str) -> str:
    where = f" AND {condition}" if condition else ""
    geom = f"ST_ClipByBox2D({table}.geom, b.q::box2d)" if table in _LARGE else f"{table}.geom"
    geom = f"ST_SimplifyPreserveTopology(ST_Transform({geom}, 3857), :tol)"
    # OFFSET 0 keeps the filter on t.geom from being pushed down, which would compute ST_AsMVTGeom twice per row
    return (f"SELECT ST_AsMVT(t, '{name}', {gt.EXTENT}, 'geom') FROM (SELECT {columns}, "
            f"ST_AsMVTGeom({geom}, b.e, {gt.EXTENT}, {gt.BUFFER}, true) AS geom "
            f"FROM {table}, b WHERE {table}.geom && b.q{where} OFFSET 0) AS t WHERE t.geom IS NOT NULL")


def _labels_layer() -> str:
    rows = " UNION ALL ".join(
        f"SELECT '{kind}' AS kind, {table}.name, {table}.code, ST_AsMVTGeom(ST_Transform(ST_PointOnSurface("
        f"{table}.geom), 3857), b.e, {gt.EXTENT}, {gt.BUFFER}, true) AS geom FROM {table}, b WHERE {table}.geom && b.q"
        for kind, table in (("community", "community"), ("grid", "grid")))
    return f"SELECT ST_AsMVT(t, 'labels', {gt.EXTENT}, 'geom') FROM ({rows} OFFSET 0) AS t WHERE t.geom IS NOT NULL"


_POSTGIS_SQL = _postgis_sql()


# ---------------------------------------------------------------------------------------------- the cache


class TileCache:
    """The last ``size`` encoded tiles, keyed by (map version, z, x, y), and the city's bounds per map version;
    thread-safe (routes run in a thread pool)."""

    def __init__(self, size: int = CACHE_TILES) -> None:
        self.size = size
        self._tiles: OrderedDict[tuple[int, int, int, int], bytes] = OrderedDict()
        self._meta: dict[int, Meta] = {}
        self._lock = threading.Lock()

    def meta(self, session: Session) -> Meta:
        version = current(session) or 0
        with self._lock:
            known = self._meta.get(version)
        if known is not None:
            return known
        found = Meta(version, city_bounds(session))
        with self._lock:
            self._meta = {version: found}
        return found

    def tile(self, session: Session, version: int, z: int, x: int, y: int) -> bytes:
        key = (version, z, x, y)
        with self._lock:
            if key in self._tiles:
                self._tiles.move_to_end(key)
                return self._tiles[key]
        data = tile(session, z, x, y)
        with self._lock:
            self._tiles[key] = data
            while len(self._tiles) > self.size:
                self._tiles.popitem(last=False)
        return data
