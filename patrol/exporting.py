"""Export a layer to GeoPackage, GeoJSON or Shapefile (for planners and QGIS)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from patrol.errors import InvalidInput
from patrol.queries import LAYERS, layer

DRIVERS = {".gpkg": "GPKG", ".geojson": "GeoJSON", ".json": "GeoJSON", ".shp": "ESRI Shapefile"}


def export_layer(session: Session, name: str, path: Path) -> int:
    """Write layer ``name`` to ``path`` (format from the suffix); returns the number of features."""
    driver = DRIVERS.get(path.suffix.lower())
    if driver is None:
        raise InvalidInput(f"{path.name}: unknown format; use one of {', '.join(DRIVERS)}", field="output")
    if name not in LAYERS:
        raise InvalidInput(f"unknown layer {name!r}; layers: {', '.join(LAYERS)}", field="layer")
    frame = layer(session, name)
    if path.exists():
        path.unlink()
    frame.to_file(path, driver=driver, layer=name if driver == "GPKG" else None, engine="pyogrio")
    return len(frame)
