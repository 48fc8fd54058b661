"""Parts of an OpenStreetMap extract into a city whose boundaries came from official layers:
``gridpatrol import FILE.osm.pbf --only buildings,roads,water,green``.

The city is kept (no boundaries, subdistricts or communities are read from the extract); only features touching the
city's area are taken. Buildings go through the buildings layer import (checked, households estimated, placed in the
existing communities and grids, labelled); roads are written exactly as the full OSM import writes them (OSM
``highway`` values as they are, one-way already oriented by :func:`geo.osm.read_osm`); water and green areas go to
``map_area``. All in the caller's transaction: one failing part leaves nothing written.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import select
from sqlalchemy.orm import Session

from geo.errors import GeoValidationError
from geo.households import parse_levels
from geo.osm import OsmCity, read_osm
from geo.validation import summarize_problems
from patrol.city.basemap_layers import write_map_areas, write_roads
from patrol.city.layer_import import city_area, import_layer
from patrol.city.map_version import bump
from patrol.core.errors import ImportFailed, InvalidInput, NotFound
from patrol.core.models import City

PARTS = ("buildings", "roads", "water", "green")


def parse_parts(text: str) -> tuple[str, ...]:
    """``buildings,roads`` → ("buildings", "roads"); InvalidInput naming the unknown parts."""
    parts = tuple(dict.fromkeys(p.strip().lower() for p in text.split(",") if p.strip()))
    unknown = [p for p in parts if p not in PARTS]
    if unknown or not parts:
        raise InvalidInput(f"--only takes parts among {','.join(PARTS)}, got {text!r}", field="only")
    return parts


def read_parts(path: str | Path) -> OsmCity:
    """Read the extract; ImportFailed listing the problems when GDAL cannot read it."""
    try:
        return read_osm(path)
    except GeoValidationError as exc:
        raise ImportFailed(f"cannot import {Path(path).name}", details=summarize_problems(exc.problems)) from exc


def import_osm_parts(session: Session, osm: OsmCity, parts: tuple[str, ...], *, replace: bool = False,
                     dwelling_m2: float = 30.0) -> list[str]:
    """Write the ``parts`` of ``osm`` that touch the city's area; the caller commits. NotFound before any city or
    any area; Conflict when a part is there already and not ``replace``. Returns the summary's lines."""
    city = session.scalars(select(City).limit(1)).first()
    if city is None:
        raise NotFound("no city yet: run `gridpatrol city create` and import its areas first, or import the whole "
                       "OpenStreetMap file without --only", field="file")
    area = city_area(session)
    if area is None:
        raise NotFound("the city has no area yet: import its subdistricts or communities first (`gridpatrol import "
                       "FILE --layer subdistricts`)", field="file")
    out = [f"from {osm.path.name}, the parts touching the city ({', '.join(parts)}):"]
    if "buildings" in parts:
        b = _touching(osm.buildings, area)
        frame = gpd.GeoDataFrame(
            {"osm_id": b["osm_id"].to_numpy(), "name": b["name"].to_numpy(), "use": b["use"].to_numpy(),
             "levels": parse_levels(b["levels"].to_numpy()), "address": b["address"].to_numpy(),
             "housenumber": b["housenumber"].to_numpy()},
            geometry=b.geometry.to_numpy(), crs=b.crs)
        summary = import_layer(session, "buildings", frame, source=osm.path.name, replace=replace,
                               dwelling_m2=dwelling_m2)
        out += [f"  {line}" for line in summary.lines()]
    if "roads" in parts:
        roads = _touching(osm.roads, area)
        replaced, notes = write_roads(session, city, roads, replace=replace)
        out += [f"  imported {len(roads)} road segments" + (f" (replacing {replaced})" if replaced else ""),
                       *[f"  note: {n}" for n in notes]]
    areas = osm.areas if osm.areas is not None else gpd.GeoDataFrame({"kind": []}, geometry=[], crs="EPSG:4326")
    for kind in ("water", "green"):
        if kind in parts:
            chosen = _touching(areas[areas["kind"] == kind], area)
            replaced = write_map_areas(session, kind, chosen, replace=replace)
            out.append(f"  imported {len(chosen)} {kind} areas" + (f" (replacing {replaced})" if replaced
                                                                            else ""))
    session.flush()
    bump(session)
    return out


def _touching(frame: gpd.GeoDataFrame, area: shapely.Geometry) -> gpd.GeoDataFrame:
    """The features of ``frame`` (WGS-84) that touch ``area``."""
    if frame.empty:
        return frame
    geoms = frame.geometry.to_numpy()
    shapely.prepare(area)
    keep = np.asarray(shapely.intersects(area, geoms), dtype=bool)
    return frame[pd.Series(keep, index=frame.index)].reset_index(drop=True)
