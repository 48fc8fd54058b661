"""geo.tiles: the tile grid and our vectorised MVT geometry commands, checked against the mapbox-vector-tile
library's own encoder and decoder (no database)."""

from __future__ import annotations

import mapbox_vector_tile
import numpy as np
import shapely

from geo import tiles as gt


def _library(name: str, geoms) -> dict:
    return mapbox_vector_tile.decode(mapbox_vector_tile.encode(
        [{"name": name, "features": [{"geometry": g, "properties": {}} for g in geoms]}],
        default_options={"y_coord_down": True}), default_options={"y_coord_down": True})


def _ours(name: str, kind: str, geoms) -> dict:
    tile = gt.vector_tile_pb2.tile()
    gt.add_layer(tile, name, kind, gt.commands(np.array(geoms, dtype=object), kind), [{} for _ in geoms])
    return mapbox_vector_tile.decode(tile.SerializeToString(), default_options={"y_coord_down": True})


def test_commands_decode_as_the_library_encodes():
    polygons = shapely.orient_polygons(np.array([
        shapely.from_wkt("POLYGON((0 0, 0 10, 10 10, 10 0, 0 0), (2 2, 8 2, 8 8, 2 8, 2 2))"),
        shapely.from_wkt("MULTIPOLYGON(((20 20, 20 30, 30 30, 20 20)), ((40 40, 40 50, 50 50, 40 40)))")],
        dtype=object), exterior_cw=False)
    lines = [shapely.from_wkt("MULTILINESTRING((0 0, 5 5, 5.2 5.1, 9 1), (100 100, 101 101))")]
    points = [shapely.Point(3, 4), shapely.Point(4000, 10)]
    assert _ours("a", "polygon", list(polygons)) == _library("a", polygons)
    ours = _ours("b", "line", lines)["b"]["features"][0]["geometry"]
    assert ours["coordinates"] == [[[0, 0], [5, 5], [9, 1]], [[100, 100], [101, 101]]]  # 5.2 5.1 snaps onto 5 5
    assert _ours("c", "point", points) == _library("c", points)


def test_tile_grid_and_an_encoded_tile():
    assert gt.tile_of(0.0, 0.0, 1) == (1, 1) and gt.tile_of(-179.9, 85.0, 3) == (0, 0)
    w, s, e, n = gt.tile_lonlat(16, *gt.tile_of(7.42, 43.73, 16))
    assert w <= 7.42 <= e and s <= 43.73 <= n and e - w < 0.006
    assert gt.covers((7.4, 43.72, 7.44, 43.75), 16, *gt.tile_of(7.42, 43.73, 16))
    assert not gt.covers((7.4, 43.72, 7.44, 43.75), 16, *gt.tile_of(8.42, 43.73, 16))
    assert not gt.covers((7.4, 43.72, 7.44, 43.75), 9, *gt.tile_of(7.42, 43.73, 9))  # below minzoom
    z, (x, y) = 16, gt.tile_of(7.42, 43.73, 16)
    centre = shapely.box(w, s, e, n).centroid
    road = shapely.LineString([(w - 1, centre.y), (e + 1, centre.y)])  # far beyond the tile: cut to its buffer
    data = gt.encode(z, x, y, {"roads": (np.array([road], dtype=object), [{"name": "长江路", "class": "primary",
                                                                          "oneway": 1}]),
                               "labels": (np.array([centre], dtype=object), [{"kind": "grid", "name": "一网格",
                                                                              "code": None}])})
    tile = mapbox_vector_tile.decode(data)
    assert tile["roads"]["features"][0]["properties"] == {"name": "长江路", "class": "primary", "oneway": 1}
    xs = [p[0] for p in tile["roads"]["features"][0]["geometry"]["coordinates"]]
    assert min(xs) == -gt.BUFFER and max(xs) == gt.EXTENT + gt.BUFFER
    assert tile["labels"]["features"][0]["properties"] == {"kind": "grid", "name": "一网格"}
    assert tile["labels"]["features"][0]["geometry"]["coordinates"] == [2048, 2048]
    assert gt.encode(z, x, y, {}) == b""
