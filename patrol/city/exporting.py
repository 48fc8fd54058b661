"""Export a layer to GeoPackage, GeoJSON or Shapefile (for planners and QGIS)."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import geopandas as gpd
from sqlalchemy.orm import Session

from patrol.city.labels import labels_of
from patrol.city.read_models import LAYERS, layer
from patrol.core.errors import InvalidInput

DRIVERS = {".gpkg": "GPKG", ".geojson": "GeoJSON", ".json": "GeoJSON", ".shp": "ESRI Shapefile"}
# GDAL's SQLite-based writers crash (SIGSEGV) in a process that holds an open SpatiaLite connection, because
# mod_spatialite and GDAL's bundled SQLite meet in one address space; they write in a child process instead.
_SQLITE_DRIVERS = {"GPKG"}


def export_layer(session: Session, name: str, path: Path) -> int:
    """Write layer ``name`` to ``path`` (format from the suffix); returns the number of features."""
    driver = DRIVERS.get(path.suffix.lower())
    if driver is None:
        raise InvalidInput(f"{path.name}: unknown format; use one of {', '.join(DRIVERS)}", field="output")
    if name not in LAYERS:
        raise InvalidInput(f"unknown layer {name!r}; layers: {', '.join(LAYERS)}", field="layer")
    frame = layer(session, name, worker_names=True)  # the operator's CLI, not a public surface
    if name == "buildings":  # what people call each building (not on the public OGC layer: it holds addresses)
        labels = labels_of(session, frame["id"])
        frame.insert(frame.columns.get_loc("address") + 1, "label", [labels.get(int(i)) for i in frame["id"]])
    write_frame(frame, path, name)
    return len(frame)


def write_frame(frame: gpd.GeoDataFrame, path: Path, name: str) -> None:
    """Write a frame in the format of ``path``'s suffix (GeoPackage in a child process, see above)."""
    driver = DRIVERS[path.suffix.lower()]
    if driver in _SQLITE_DRIVERS:
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(1) as pool:
            pool.apply(_write, (frame, str(path), driver, name))
    else:
        _write(frame, str(path), driver, name)


def _write(frame: gpd.GeoDataFrame, path: str, driver: str, name: str) -> None:
    target = Path(path)
    if target.exists():
        target.unlink()
    frame.to_file(target, driver=driver, layer=name if driver == "GPKG" else None, engine="pyogrio")
