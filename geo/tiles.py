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

import numpy as np
import shapely
from mapbox_vector_tile.Mapbox import vector_tile_pb2

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
    geometries are cut to the tile and its buffer, brought into the tile's coordinates, simplified by half a tile
    unit and polygons oriented as MVT wants them — all vectorised with shapely — then snapped to whole units and
    their MVT geometry commands computed with numpy (:func:`commands`), and the
    tile is written with the protobuf classes of ``mapbox-vector-tile`` (whose own per-vertex Python encoder takes
    3–4 times longer). Layers without features are left out; an empty tile is ``b""``."""
    tile = vector_tile_pb2.tile()
    box = tile_lonlat(z, x, y, buffer=BUFFER)
    for name in LAYERS:
        geoms, props = layers.get(name, (np.empty(0, dtype=object), []))
        if not len(geoms):
            continue
        kind = KINDS[name]
        # cut to the tile and its buffer in WGS-84 (a box there is the same box in mercator), then project
        geoms = to_units(shapely.clip_by_rect(np.asarray(geoms, dtype=object), *box), z, x, y)
        if kind != "point":
            geoms = shapely.simplify(geoms, 0.5, preserve_topology=True)
        if kind == "polygon":  # exterior rings clockwise on screen (y down), holes the other way
            geoms = shapely.orient_polygons(geoms, exterior_cw=False)
        add_layer(tile, name, kind, commands(geoms, kind), props)
    return tile.SerializeToString() if len(tile.layers) else b""


KINDS = {"water": "polygon", "green": "polygon", "roads": "line", "buildings": "polygon", "communities": "polygon",
         "grids": "polygon", "labels": "point"}
_TYPES = {"point": 1, "line": 2, "polygon": 3}
_MOVE, _LINE, _CLOSE = 1, 2, 7


def _command(cmd: int, count: int) -> int:
    return (count << 3) | cmd


def commands(geoms: np.ndarray, kind: str) -> list[list[int]]:
    """The MVT geometry commands (MoveTo / LineTo / ClosePath with zigzag-encoded deltas, the cursor carried from
    one ring or line to the next within a feature) of each geometry, snapped to whole tile units (a point that falls
    on the one before it is left out, and so is a ring or line that has too few left); ``kind`` 'polygon', 'line' or
    'point' keeps the parts of that kind. An empty list for a geometry with nothing left of its kind."""
    out: list[list[int]] = [[] for _ in range(len(geoms))]
    parts, feat = shapely.get_parts(geoms, return_index=True)
    same = shapely.get_type_id(parts) == {"point": 0, "line": 1, "polygon": 3}[kind]
    parts, feat = parts[same], feat[same]
    if kind == "polygon":
        parts, ring_of = shapely.get_rings(parts, return_index=True)
        feat = feat[ring_of]
    coords, piece = shapely.get_coordinates(parts, return_index=True)
    xy = np.rint(coords).astype(np.int64)
    counts = np.bincount(piece, minlength=len(parts))
    emit = np.ones(len(xy), dtype=bool)
    if kind == "polygon":
        emit[np.cumsum(counts)[counts > 0] - 1] = False  # a ring's closing point: ClosePath draws it
    if kind != "point":  # a point on the previous one once snapped to whole units
        emit[1:] &= ~((xy[1:] == xy[:-1]).all(axis=1) & (piece[1:] == piece[:-1]))
    counts = np.bincount(piece[emit], minlength=len(parts))
    small = counts < {"point": 1, "line": 2, "polygon": 3}[kind]
    emit &= ~small[piece]
    xy, piece = xy[emit], piece[emit]
    if not len(xy):
        return out
    owner = feat[piece]
    prev = np.vstack([[0, 0], xy[:-1]])
    prev[np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])] = 0  # each feature starts from (0, 0)
    delta = xy - prev
    zz = ((delta << 1) ^ (delta >> 63)).ravel().tolist()
    start = 0
    for k in np.flatnonzero(~small):
        n, f = int(counts[k]), int(feat[k])
        seq = zz[2 * start:2 * (start + n)]
        start += n
        if kind == "point":  # one MoveTo for all the points of a feature
            out[f] = [_command(_MOVE, (out[f][0] >> 3 if out[f] else 0) + n), *out[f][1:], *seq]
            continue
        out[f] += [_command(_MOVE, 1), seq[0], seq[1], _command(_LINE, n - 1), *seq[2:]]
        if kind == "polygon":
            out[f].append(_command(_CLOSE, 1))
    return out


def add_layer(tile: Any, name: str, kind: str, geometry: list[list[int]], props: list[dict[str, Any]]) -> None:
    keys: dict[str, int] = {}
    values: dict[tuple[type, Any], int] = {}
    layer = None
    for cmds, p in zip(geometry, props, strict=True):
        if not cmds:
            continue
        if layer is None:
            layer = tile.layers.add(name=name, version=2, extent=EXTENT)
        f = layer.features.add(type=_TYPES[kind])
        f.geometry.extend(cmds)
        for k, v in p.items():
            if v is None:
                continue
            if k not in keys:
                keys[k] = len(keys)
                layer.keys.append(k)
            if (type(v), v) not in values:
                values[(type(v), v)] = len(values)
                value = layer.values.add()
                if isinstance(v, str):
                    value.string_value = v
                elif isinstance(v, bool):
                    value.bool_value = v
                elif isinstance(v, int):
                    value.sint_value = v
                else:
                    value.double_value = float(v)
            f.tags.extend((keys[k], values[(type(v), v)]))
