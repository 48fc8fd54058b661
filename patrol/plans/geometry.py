"""Geometry helpers of grid plans: GeoJSON input, reprojection, tidying edited shapes, cutting along a line, and
placing points in the grids of a plan."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pyproj
import shapely
from shapely.geometry import shape
from shapely.ops import split

from geo.city import as_multipolygon
from patrol.core.errors import InvalidInput
from patrol.core.frames import ewkt

#: Pieces and holes this small (m²) that floating-point noise leaves in edits are dropped.
TINY_M2 = 0.01


@lru_cache(maxsize=16)
def transformer(src: int, dst: int) -> pyproj.Transformer:
    """A cached always-xy transformer from EPSG ``src`` to EPSG ``dst``."""
    return pyproj.Transformer.from_crs(src, dst, always_xy=True)


def project(geom: shapely.Geometry, src: int, dst: int) -> shapely.Geometry:
    tr = transformer(src, dst)
    return shapely.transform(geom, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))


def points(xs: list[float], ys: list[float], epsg: int) -> np.ndarray:
    """Points of WGS-84 coordinates, in EPSG ``epsg``."""
    if not len(xs):
        return np.array([], dtype=object)
    x, y = transformer(4326, epsg).transform(np.asarray(xs, dtype=float), np.asarray(ys, dtype=float))
    return shapely.points(x, y)


def stored(geom_metric: shapely.Geometry, epsg: int) -> str:
    """A shape of the metric CRS as the EWKT a grid's (WGS-84 MultiPolygon) geometry column takes."""
    return ewkt([as_multipolygon(project(geom_metric, epsg, 4326))])[0]


def parse_geometry(value: object, *, field: str, kinds: tuple[str, ...]) -> shapely.Geometry:
    """A GeoJSON geometry given in WGS-84 longitude/latitude, of one of ``kinds``."""
    try:
        geom = shape(value)  # type: ignore[arg-type]
    except (AttributeError, KeyError, TypeError, ValueError, IndexError, shapely.errors.ShapelyError):
        raise InvalidInput(f"{field} must be a GeoJSON geometry ({' or '.join(kinds)}) in WGS-84 "
                           "longitude/latitude", field=field) from None
    if geom.geom_type not in kinds:
        raise InvalidInput(f"{field} must be a {' or '.join(kinds)}, got a {geom.geom_type}", field=field)
    if geom.is_empty:
        raise InvalidInput(f"{field} is empty", field=field)
    minx, miny, maxx, maxy = geom.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise InvalidInput(f"{field} must be in WGS-84 longitude/latitude (EPSG:4326); got coordinates up to "
                           f"({maxx:g}, {maxy:g})", field=field)
    return geom


def tidy(geom: shapely.Geometry) -> shapely.MultiPolygon:
    """Valid polygonal parts without the specks and pinholes floating-point noise leaves behind."""
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
    parts = []
    for p in shapely.get_parts(geom):
        if p.geom_type != "Polygon" or p.area <= TINY_M2:
            continue
        holes = [h for h in p.interiors if shapely.Polygon(h).area > TINY_M2]
        parts.append(shapely.Polygon(p.exterior, holes))
    return shapely.MultiPolygon(parts)


def repaired(geoms: np.ndarray) -> np.ndarray:
    """Missing shapes as empty polygons, invalid ones made valid (a draft may hold invalid shapes still)."""
    out = np.asarray(geoms, dtype=object).copy()
    missing = shapely.is_missing(out)
    out[missing] = shapely.Polygon()
    bad = ~shapely.is_valid(out)
    out[bad] = shapely.make_valid(out[bad])
    return out


def _extend(line: shapely.LineString, metres: float = 1.0) -> shapely.LineString:
    """The line with both end segments lengthened a little, so a line drawn to a boundary crosses it."""
    coords = np.asarray(line.coords, dtype=float)
    if len(coords) < 2:
        return line
    for end, prev in ((0, 1), (-1, -2)):
        d = coords[end] - coords[prev]
        n = float(np.hypot(*d))
        if n > 0:
            coords[end] = coords[end] + d / n * metres
    return shapely.LineString(coords)


def cut(geom: shapely.Geometry, line: shapely.LineString) -> list[shapely.Polygon]:
    """The polygon pieces of ``geom`` cut along ``line`` (lengthened 1 m at both ends), specks dropped."""
    pieces = [p for p in shapely.get_parts(split(geom, _extend(line))) if p.geom_type == "Polygon"]
    return [p for p in pieces if p.area > TINY_M2]


def locate(points: np.ndarray, polygons: np.ndarray) -> np.ndarray:
    """Position of the polygon holding each point (its interior first, then its edge; lowest position on ties),
    or -1."""
    out = np.full(len(points), -1, dtype=np.int64)
    if len(points) == 0 or len(polygons) == 0:
        return out
    tree = shapely.STRtree(polygons)
    for predicate in ("within", "intersects"):
        todo = np.flatnonzero(out < 0)
        if not len(todo):
            break
        pi, gi = tree.query(points[todo], predicate=predicate)
        best = np.full(len(todo), np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(best, pi, gi)
        hit = best != np.iinfo(np.int64).max
        out[todo[hit]] = best[hit]
    return out


def nearest(points: np.ndarray, polygons: np.ndarray, where: np.ndarray, max_m: float = 50.0) -> np.ndarray:
    """Like :func:`locate`'s ``where``, and points in no polygon take the nearest one within ``max_m`` metres."""
    out = where.copy()
    todo = np.flatnonzero(out < 0)
    if len(todo) and len(polygons):
        tree = shapely.STRtree(polygons)
        pi, gi = tree.query_nearest(points[todo], max_distance=max_m, all_matches=False)
        out[todo[pi]] = gi
    return out
