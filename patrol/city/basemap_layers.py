"""Writing the delivered layers that are not areas of the hierarchy: road centre lines (``road_segment``, the routing
graph's input, written exactly as the OSM import writes them) and water / green areas (``map_area``, drawn by the
basemap only). The layers come checked by :func:`geo.layers.prepare_layer`; :mod:`patrol.city.layer_import` calls
these writers in the caller's transaction."""

from __future__ import annotations

import geopandas as gpd
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from geo.crs import metric_crs_for_bounds
from geo.roads import class_notes
from patrol.city.rows import insert_chunked, plain
from patrol.core.errors import Conflict
from patrol.core.frames import ewkt
from patrol.core.models import City, MapArea, RoadSegment

#: ``map_area.kind`` of the basemap layers.
MAP_AREA_KINDS = ("water", "green")


def ensure_metric_epsg(city: City, layer: gpd.GeoDataFrame) -> int:
    """The city's metric CRS, chosen from the layer's extent (its UTM zone) when the city has none yet (a city made
    by ``gridpatrol city create`` without ``--metric-epsg``)."""
    if not city.metric_epsg:
        city.metric_epsg = int(metric_crs_for_bounds(tuple(layer.total_bounds)).to_epsg())
    return int(city.metric_epsg)


def road_rows(roads: gpd.GeoDataFrame, metric_epsg: int) -> list[dict]:
    """``road_segment`` rows of WGS-84 LineStrings with ``name``, ``highway``, ``oneway`` (and ``osm_id`` when
    known); ``length_m`` measured in the city's metric CRS, as the OSM import does."""
    lengths = roads.geometry.to_crs(metric_epsg).length.to_numpy()
    osm_ids = roads["osm_id"] if "osm_id" in roads.columns else [None] * len(roads)
    return [{"osm_id": plain(o), "name": plain(n), "highway": str(h), "oneway": bool(w), "length_m": float(m),
             "geom": g}
            for o, n, h, w, m, g in zip(osm_ids, roads["name"], roads["highway"], roads["oneway"], lengths,
                                        ewkt(roads.geometry.to_numpy()), strict=True)]


def write_roads(session: Session, city: City, roads: gpd.GeoDataFrame, *, replace: bool) -> tuple[int, list[str]]:
    """Store the road segments (replacing the city's roads with ``replace``; Conflict when it has roads and not
    ``replace``). Returns how many were replaced and the summary's notes."""
    existing = session.scalar(select(func.count()).select_from(RoadSegment)) or 0
    if existing and not replace:
        raise Conflict(f"the city already has {existing} road segments; pass --replace to replace them",
                       field="replace")
    session.execute(delete(RoadSegment))
    insert_chunked(session, RoadSegment, road_rows(roads, ensure_metric_epsg(city, roads)), "roads", False)
    notes = class_notes(roads) if "given_class" in roads.columns else []
    km = float(roads.geometry.to_crs(city.metric_epsg).length.sum()) / 1000
    return existing, [f"{len(roads)} segments, {km:.1f} km (routing uses them from now on)", *notes]


def write_map_areas(session: Session, kind: str, areas: gpd.GeoDataFrame, *, replace: bool) -> int:
    """Store water or green areas (MultiPolygons, optional ``name``) for the basemap, replacing those of ``kind``
    with ``replace`` (Conflict when there are some and not ``replace``); returns how many were replaced."""
    existing = session.scalar(select(func.count()).select_from(MapArea).where(MapArea.kind == kind)) or 0
    if existing and not replace:
        raise Conflict(f"the city already has {existing} {kind} areas; pass --replace to replace them",
                       field="replace")
    session.execute(delete(MapArea).where(MapArea.kind == kind))
    names = areas["name"] if "name" in areas.columns else [None] * len(areas)
    rows = [{"kind": kind, "name": plain(n), "geom": g}
            for n, g in zip(names, ewkt(areas.geometry.to_numpy()), strict=True)]
    if rows:
        session.execute(insert(MapArea), rows)
    return existing
