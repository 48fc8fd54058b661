"""Tile maths and Mapbox Vector Tile encoding for the basemap (``/tiles/{z}/{x}/{y}.pbf``): the web-mercator tile
grid (EPSG:3857, XYZ numbering as Leaflet and OSM use it), the zoom rules of what each layer draws, the tolerance a
geometry is simplified to at a zoom, and the Python encoder used where the database cannot encode (SpatiaLite).

The layers and their properties are the contract with the browser renderer (maps/field/*.js decodes them):
``water`` / ``green`` (polygons: name), ``roads`` (lines: name, class, oneway 0/1), ``buildings`` (polygons: label,
housenumber, name; from :data:`BUILDINGS_FROM`), ``communities`` / ``grids`` (polygons: name, code) and ``labels``
(points: kind 'community'|'grid', name, code). Extent :data:`EXTENT`, buffer :data:`BUFFER` tile units.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import mapbox_vector_tile
import numpy as np
import shapely

EXTENT = 4096
BUFFER = 64
MINZOOM = 10
MAXZOOM = 18
LAYERS = ("water", "green", "roads", "buildings", "communities", "grids", "labels")
PROPERTIES: dict[str, tuple[str, ...]] = {
    "water": ("name",), "green": ("name",), "roads": ("name", "class", "oneway"),
    "buildings": ("label", "housenumber", "name"), "communities": ("name", "code"), "grids": ("name", "code"),
    "labels": ("kind", "name", "code"),
}
MEDIA_TYPE = "application/vnd.mapbox-vector-tile"
#: changes when what a tile draws for the same data changes (a new layer, new zoom rules): part of the ETag
SCHEME = 1

R = 6378137.0
HALF = math.pi * R  # half the width of the mercator square, metres
MAX_LAT = 85.05112877980659

#: the road classes (OSM highway values) drawn below z13, and from z13 to z14; every road from :data:`ALL_ROADS_FROM`
MAJOR_ROADS = ("motorway", "motorway_link", "trunk", "trunk_link", "primary", "primary_link", "secondary",
               "secondary_link")
MINOR_ROADS = (*MAJOR_ROADS, "tertiary", "tertiary_link", "residential", "unclassified", "living_street",
               "pedestrian", "service")
ALL_ROADS_FROM = 15
BUILDINGS_FROM = 15
#: a water or green area is drawn when its bounding box spans this many tile units (below z13: large ones only)
AREA_MIN_UNITS = {"low": 64, "mid": 16, "high": 4}


def tile_bounds(z: int, x: int, y: int, *, buffer: float = 0) -> tuple[float, float, float, float]:
    """(minx, miny, maxx, maxy) of tile z/x/y in EPSG:3857 metres, grown by ``buffer`` tile units each side."""
    size = 2 * HALF / 2 ** z
    pad = size * buffer / EXTENT
    minx = -HALF + x * size
    maxy = HALF - y * size
    return minx - pad, maxy - size - pad, minx + size + pad, maxy + pad


def tile_lonlat(z: int, x: int, y: int, *, buffer: float = 0) -> tuple[float, float, float, float]:
    """(west, south, east, north) of tile z/x/y in WGS-84 degrees, grown by ``buffer`` tile units each side."""
    minx, miny, maxx, maxy = tile_bounds(z, x, y, buffer=buffer)
    (west, east), (south, north) = to_lonlat(np.array([minx, maxx]), np.array([miny, maxy]))
    return float(west), float(south), float(east), float(north)


def to_mercator(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """WGS-84 degrees → EPSG:3857 metres (latitudes clamped to the mercator square)."""
    lat = np.clip(lat, -MAX_LAT, MAX_LAT)
    return R * np.radians(lon), R * np.log(np.tan(np.pi / 4 + np.radians(lat) / 2))


def to_lonlat(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """EPSG:3857 metres → WGS-84 degrees."""
    return np.degrees(x / R), np.degrees(2 * np.arctan(np.exp(y / R)) - np.pi / 2)


def mercator(geoms: np.ndarray) -> np.ndarray:
    """Shapely geometries in WGS-84 → the same in EPSG:3857 (vectorised)."""
    def project(coords: np.ndarray) -> np.ndarray:
        x, y = to_mercator(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])
    return shapely.transform(geoms, project)


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The (x, y) of the tile at zoom ``z`` holding the point."""
    mx, my = to_mercator(np.array([lon]), np.array([lat]))
    n = 2 ** z
    x = int((float(mx[0]) + HALF) / (2 * HALF) * n)
    y = int((HALF - float(my[0])) / (2 * HALF) * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)


def tile_range(bounds: Sequence[float], z: int) -> tuple[int, int, int, int]:
    """(xmin, ymin, xmax, ymax) of the tiles at zoom ``z`` covering ``bounds`` (west, south, east, north)."""
    west, south, east, north = bounds
    xmin, ymin = tile_of(west, north, z)
    xmax, ymax = tile_of(east, south, z)
    return xmin, ymin, xmax, ymax


def valid_tile(z: int, x: int, y: int) -> bool:
    """Whether z/x/y names a tile at all (0 ≤ x, y < 2^z)."""
    return 0 <= z <= 30 and 0 <= x < 2 ** z and 0 <= y < 2 ** z


def covers(bounds: Sequence[float] | None, z: int, x: int, y: int) -> bool:
    """Whether tile z/x/y (a zoom we serve) touches ``bounds`` (the city's extent; None: no city, no tile)."""
    if bounds is None or not MINZOOM <= z <= MAXZOOM:
        return False
    xmin, ymin, xmax, ymax = tile_range(bounds, z)
    return xmin <= x <= xmax and ymin <= y <= ymax


def tolerance(z: int) -> float:
    """The simplification tolerance at zoom ``z`` in metres: half a tile unit (what quantisation loses anyway)."""
    return 2 * HALF / 2 ** z / EXTENT / 2


def unit_degrees(z: int) -> float:
    """One tile unit at zoom ``z`` in degrees of longitude."""
    return 360.0 / 2 ** z / EXTENT


def area_min_degrees(z: int) -> float:
    """The smallest bounding box (width + height, degrees) of a water or green area drawn at zoom ``z``."""
    units = AREA_MIN_UNITS["low" if z <= 12 else "mid" if z <= 14 else "high"]
    return units * unit_degrees(z)


def road_classes(z: int) -> tuple[str, ...] | None:
    """The road classes drawn at zoom ``z``; None: every road (footways too)."""
    if z >= ALL_ROADS_FROM:
        return None
    return MAJOR_ROADS if z <= 12 else MINOR_ROADS


def to_units(geoms: np.ndarray, z: int, x: int, y: int) -> np.ndarray:
    """WGS-84 geometries → tile z/x/y's own coordinates (0–:data:`EXTENT`, y down), unrounded."""
    minx, _, maxx, maxy = tile_bounds(z, x, y)
    scale = EXTENT / (maxx - minx)

    def project(coords: np.ndarray) -> np.ndarray:
        mx, my = to_mercator(coords[:, 0], coords[:, 1])
        return np.column_stack([(mx - minx) * scale, (maxy - my) * scale])
    return shapely.transform(geoms, project)


def encode(z: int, x: int, y: int, layers: dict[str, tuple[np.ndarray, list[dict[str, Any]]]]) -> bytes:
    """One tile from WGS-84 features: ``layers`` maps a layer name to (shapely geometries, their properties). The
    geometries are brought into the tile's coordinates, clipped to the tile and its buffer, simplified by half a
    tile unit, snapped to whole units (valid, as GEOS snaps them), polygons oriented as MVT wants them, and encoded;
    layers without features are left out and an empty tile is ``b""``. Everything but the encoding is vectorised
    (shapely); the encoder writes the geometry commands and the protobuf."""
    out = []
    box = tile_lonlat(z, x, y, buffer=BUFFER)
    for name in LAYERS:
        geoms, props = layers.get(name, (np.empty(0, dtype=object), []))
        if not len(geoms):
            continue
        # cut to the tile and its buffer in WGS-84 (a box there is the same box in mercator), then project
        geoms = to_units(shapely.clip_by_rect(np.asarray(geoms, dtype=object), *box), z, x, y)
        if name != "labels":
            geoms = shapely.simplify(geoms, 0.5, preserve_topology=True)
        geoms = shapely.set_precision(geoms, 1.0)
        if name not in ("roads", "labels"):  # exterior rings clockwise on screen (y down), holes the other way
            geoms = shapely.orient_polygons(geoms, exterior_cw=False)
        keep = ~shapely.is_empty(geoms)
        features = [{"geometry": g, "properties": {k: v for k, v in p.items() if v is not None}}
                    for g, p, k in zip(geoms, props, keep, strict=True) if k]
        if features:
            out.append({"name": name, "features": features})
    if not out:
        return b""
    return mapbox_vector_tile.encode(out, default_options={
        "y_coord_down": True, "extents": EXTENT, "check_winding_order": False})
