"""Read a city from an OpenStreetMap ``.osm.pbf`` file with GDAL's OSM driver (bundled in pyogrio's wheels).

Each class of feature is read with its own ``where`` filter: read unfiltered, the driver drops the boundary relations
of the ``multipolygons`` layer. Some OSM multipolygons are broken rings; they are read leniently and repaired.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from geo.errors import GeoValidationError, Problem
from geo.validation import repair_polygons

_TAG = re.compile(r'"((?:[^"\\]|\\.)*)"=>"((?:[^"\\]|\\.)*)"')
ONEWAY_TRUE = {"yes", "true", "1"}
#: Water and green areas for the basemap: (column of GDAL's multipolygons layer, values) → map_area kind.
#: ``waterway=riverbank`` is not a column of that layer: it is matched in ``other_tags``.
AREA_TAGS: dict[str, dict[str, tuple[str, ...]]] = {
    "water": {"natural": ("water",), "landuse": ("reservoir", "basin")},
    "green": {"leisure": ("park", "garden"), "natural": ("wood",),
              "landuse": ("grass", "meadow", "forest", "recreation_ground", "village_green")},
}
_RIVERBANK = '"waterway"=>"riverbank"'


@dataclass
class OsmCity:
    """Raw layers read from one OSM file, in WGS-84."""

    path: Path
    buildings: gpd.GeoDataFrame  # osm_id, name, use, levels, address, street, housenumber, unit, ref, geometry
    roads: gpd.GeoDataFrame  # osm_id, name, highway, oneway, geometry (LineString, oriented for one-way)
    boundaries: gpd.GeoDataFrame  # osm_id, name, admin_level (int), geometry (MultiPolygon)
    repaired_buildings: int = 0
    areas: gpd.GeoDataFrame | None = None  # kind ('water' | 'green'), name, geometry (MultiPolygon): the basemap's


def parse_tags(other_tags: str | None) -> dict[str, str]:
    """Parse GDAL's ``other_tags`` HSTORE-like text (``"k"=>"v","k2"=>"v2"``) into a dict."""
    if not other_tags or not isinstance(other_tags, str):
        return {}
    return {k.replace('\\"', '"'): v.replace('\\"', '"') for k, v in _TAG.findall(other_tags)}


def _tag_columns(other_tags: pd.Series, *keys: str) -> list[pd.Series]:
    """Columns of the given tags, parsing each row's ``other_tags`` once."""
    parsed = other_tags.map(parse_tags)
    return [parsed.map(lambda d, k=k: d.get(k)) for k in keys]


def _osm_ids(df: pd.DataFrame) -> pd.Series:
    # Closed ways carry osm_way_id, relations osm_id: relations are stored negative so both fit one column.
    way = pd.to_numeric(df.get("osm_way_id"), errors="coerce") if "osm_way_id" in df else None
    rel = pd.to_numeric(df["osm_id"], errors="coerce")
    ids = -rel if way is None else way.fillna(-rel)
    return ids.astype("Int64")


def _read(path: Path, layer: str, where: str) -> gpd.GeoDataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # GDAL's notes on unclosed rings; repaired below
        return pyogrio.read_dataframe(path, layer=layer, where=where, on_invalid="ignore")


def read_osm(path: str | Path) -> OsmCity:
    """Read buildings, highways and administrative boundaries of an ``.osm.pbf`` file.

    Raises
    ------
    GeoValidationError
        When the file is missing or GDAL cannot read it as OSM data.
    """
    path = Path(path)
    if not path.is_file():
        raise GeoValidationError(Problem("unreadable", f"no such file: {path}", field="path"))
    try:
        # buildings, water and green in one pass over the file (a second read of the layer would cost as much)
        raw_polygons = _read(path, "multipolygons", f"building IS NOT NULL OR {_area_filter()}")
        raw_roads = _read(path, "lines", "highway IS NOT NULL")
        raw_bounds = _read(path, "multipolygons", "boundary = 'administrative' AND admin_level IS NOT NULL")
    except Exception as exc:  # GDAL's errors are plain exceptions with its own text
        raise GeoValidationError(Problem("unreadable", f"GDAL cannot read {path.name} as OSM data: {exc}")) from exc
    is_building = raw_polygons["building"].notna()
    buildings, repaired = _buildings(raw_polygons[is_building])
    return OsmCity(path, buildings, _roads(raw_roads), _boundaries(raw_bounds), repaired,
                   areas=_areas(raw_polygons[~is_building]))


def _area_filter() -> str:
    """The OGR SQL ``where`` matching :data:`AREA_TAGS` (quoted: ``natural`` is an SQL keyword)."""
    terms = [f'"{column}" IN ({", ".join(repr(v) for v in values)})'
             for tags in AREA_TAGS.values() for column, values in tags.items()]
    return "(" + " OR ".join([*terms, f"other_tags LIKE '%{_RIVERBANK}%'"]) + ")"


def _areas(df: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Water and green areas (kind, name, MultiPolygon); water wins where a feature is tagged as both."""
    kind = pd.Series(None, index=df.index, dtype=object)
    for name in ("green", "water"):
        for column, values in AREA_TAGS[name].items():
            if column in df.columns:
                kind[df[column].isin(values)] = name
    if "other_tags" in df.columns:
        kind[df["other_tags"].fillna("").str.contains(_RIVERBANK, regex=False)] = "water"
    geoms, _ = repair_polygons(df.geometry)
    out = gpd.GeoDataFrame({"kind": kind, "name": df.get("name")}, geometry=geoms.reindex(df.index), crs=df.crs)
    keep = out["kind"].notna() & out.geometry.notna() & ~out.geometry.is_empty
    return out[keep].reset_index(drop=True)


def _buildings(df: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, int]:
    tags = df["other_tags"] if "other_tags" in df else pd.Series(None, index=df.index, dtype=object)
    geoms, repaired = repair_polygons(df.geometry)
    street, number, levels, unit, ref, bref = _tag_columns(
        tags, "addr:street", "addr:housenumber", "building:levels", "addr:unit", "ref", "building:ref")
    address = (street.fillna("") + " " + number.fillna("")).str.strip().replace("", None)
    out = gpd.GeoDataFrame(
        {
            "osm_id": _osm_ids(df),
            "name": df.get("name"),
            "use": df["building"].astype(str),
            "levels": levels,
            "address": address,
            # the parts of the address and the 栋/单元, for the building's label (geo.labels)
            "street": street, "housenumber": number, "unit": unit, "ref": bref.fillna(ref),
        },
        geometry=geoms.reindex(df.index),
        crs=df.crs,
    )
    return out[out.geometry.notna() & ~out.geometry.is_empty].reset_index(drop=True), repaired


def _roads(df: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    tags = df["other_tags"] if "other_tags" in df else pd.Series(None, index=df.index, dtype=object)
    oneway_tag, junction = _tag_columns(tags, "oneway", "junction")
    oneway_tag = oneway_tag.fillna("").str.lower()
    roundabout = junction.fillna("").eq("roundabout")
    reverse = oneway_tag.eq("-1").to_numpy()
    oneway = oneway_tag.isin(ONEWAY_TRUE) | reverse | roundabout | df["highway"].eq("motorway")
    geoms = df.geometry.to_numpy().copy()
    if reverse.any():
        geoms[reverse] = shapely.reverse(geoms[reverse])  # one-way always means "in the digitised direction"
    return gpd.GeoDataFrame(
        {"osm_id": pd.to_numeric(df["osm_id"], errors="coerce").astype("Int64"), "name": df.get("name"),
         "highway": df["highway"].astype(str), "oneway": oneway.to_numpy()},
        geometry=geoms,
        crs=df.crs,
    )


def _boundaries(df: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    geoms, _ = repair_polygons(df.geometry)
    level = pd.to_numeric(df["admin_level"], errors="coerce")
    out = gpd.GeoDataFrame(
        {"osm_id": _osm_ids(df), "name": df["name"].fillna("").astype(str), "admin_level": level},
        geometry=geoms.reindex(df.index),
        crs=df.crs,
    )
    keep = out.geometry.notna() & ~out.geometry.is_empty & out.admin_level.notna()
    out = out[keep].reset_index(drop=True)
    out["admin_level"] = out["admin_level"].astype(np.int64)
    return out
