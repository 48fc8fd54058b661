"""Road centre lines delivered by a surveying bureau: their class and one-way values, checked and turned into the
rows the OSM import writes (an OSM ``highway`` class, a one-way flag meaning "in the digitised direction").

Pure: :mod:`geo.layers` calls :func:`road_value_problems` while it checks a ``roads`` layer and :func:`finish_roads`
to build the result; nothing here reads files or writes the database.

Classes: an OSM ``highway`` value is kept as given; the common Chinese road classes (CJJ 37 城市道路等级 and the words
planners use) are mapped — 快速路 → motorway, 主干路 → primary, 次干路 → secondary, 支路 → tertiary, 街巷 → residential,
人行 → footway; anything else becomes ``unclassified`` and is counted in the import's summary. One-way: yes/no, 1/0,
true/false, 是/否 and ``-1`` (one-way against the digitised direction: the line is reversed, as OSM's ``oneway=-1``);
a blank cell is two-way.
"""

from __future__ import annotations

from collections import Counter

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo._checks import Kind
from geo.errors import Problem

WGS84 = "EPSG:4326"
LINES = frozenset({"LineString", "MultiLineString"})

#: ``highway`` values of OpenStreetMap accepted as they are.
OSM_HIGHWAYS: frozenset[str] = frozenset({
    "motorway", "trunk", "primary", "secondary", "tertiary", "unclassified", "residential",
    "motorway_link", "trunk_link", "primary_link", "secondary_link", "tertiary_link",
    "living_street", "service", "pedestrian", "track", "road", "busway", "bus_guideway",
    "footway", "bridleway", "steps", "corridor", "path", "cycleway", "construction", "proposed", "planned",
    "abandoned", "disused", "razed", "raceway", "escape", "emergency_bay", "rest_area", "services", "platform",
    "elevator", "crossing", "hallway", "via_ferrata", "traffic_island", "bus_stop", "ladder",
})
#: Chinese road classes → OSM ``highway``.
CHINESE_CLASSES: dict[str, str] = {
    "快速路": "motorway", "城市快速路": "motorway", "高速公路": "motorway",
    "主干路": "primary", "主干道": "primary", "城市主干路": "primary",
    "次干路": "secondary", "次干道": "secondary", "城市次干路": "secondary",
    "支路": "tertiary", "城市支路": "tertiary",
    "街巷": "residential", "巷道": "residential", "小区路": "residential", "内部道路": "service",
    "人行": "footway", "人行道": "footway", "步行道": "footway", "步行街": "pedestrian",
}
UNKNOWN_CLASS = "unclassified"
ONEWAY_YES = frozenset({"yes", "y", "true", "t", "1", "1.0", "是", "单行", "单向"})
ONEWAY_NO = frozenset({"no", "n", "false", "f", "0", "0.0", "否", "双向", ""})
ONEWAY_REVERSE = frozenset({"-1", "-1.0", "reverse"})


def _text(value: object) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def road_class(value: object) -> str | None:
    """The OSM ``highway`` class of a cell: an OSM value as given (case-insensitive), a Chinese class mapped, None
    for a value neither knows (the caller stores ``unclassified``); a blank cell is ``unclassified``."""
    text = _text(value)
    if not text:
        return UNKNOWN_CLASS
    if text.lower() in OSM_HIGHWAYS:
        return text.lower()
    return CHINESE_CLASSES.get(text)


def oneway_value(value: object) -> int | None:
    """1 (one-way along the line), 0 (both ways), -1 (one-way against it), or None for a value that is none."""
    text = _text(value).lower()
    if text in ONEWAY_YES:
        return 1
    if text in ONEWAY_NO:
        return 0
    if text in ONEWAY_REVERSE:
        return -1
    return None


def road_value_problems(frame: pd.DataFrame) -> list[Problem]:
    """``bad_value`` for each one-way cell that is not yes/no/1/0/是/否/-1 (a class is never refused: unknown
    ones become ``unclassified`` and are reported in the summary)."""
    if "oneway" not in frame.columns:
        return []
    problems = []
    for row, value in zip(frame["row"], frame["oneway"], strict=True):
        if oneway_value(value) is None:
            problems.append(Problem(Kind.BAD_VALUE, f"oneway must be yes/no/1/0/是/否 or -1, got {_text(value)!r}",
                                    int(row), "oneway"))
    return problems


def finish_roads(out: pd.DataFrame, geoms: np.ndarray) -> gpd.GeoDataFrame:
    """The checked layer as road rows in WGS-84: one LineString a row (a MultiLineString's parts each keep the
    file's row number), columns ``row``, ``name``, ``highway``, ``oneway`` (bool; a ``-1`` line reversed) and
    ``given_class`` (the file's value where it was not a known class, else None)."""
    classes = out["class"] if "class" in out.columns else pd.Series([None] * len(out))
    mapped = [road_class(v) for v in classes]
    given = [None if m is not None else _text(v) for v, m in zip(classes, mapped, strict=True)]
    oneway = [oneway_value(v) or 0 for v in (out["oneway"] if "oneway" in out.columns else [None] * len(out))]
    geoms = np.asarray(geoms, dtype=object)
    reverse = np.array([w == -1 for w in oneway], dtype=bool)
    if reverse.any():
        geoms = geoms.copy()
        geoms[reverse] = shapely.reverse(geoms[reverse])
    frame = gpd.GeoDataFrame(
        {"row": out["row"].to_numpy(), "name": out["name"].to_numpy() if "name" in out.columns else None,
         "highway": [m or UNKNOWN_CLASS for m in mapped], "oneway": [w != 0 for w in oneway],
         "given_class": given},
        geometry=list(geoms), crs=WGS84)
    parts = frame.explode(index_parts=False, ignore_index=True)
    parts = parts[parts.geometry.geom_type == "LineString"]
    return parts.reset_index(drop=True)


def class_notes(roads: pd.DataFrame) -> list[str]:
    """Lines for the import summary: the classes stored, and the file's values that became ``unclassified``."""
    counts = Counter(roads["highway"])
    notes = ["classes: " + ", ".join(f"{c} {n}" for c, n in counts.most_common())]
    unknown = Counter(v for v in roads["given_class"] if isinstance(v, str) and v)
    if unknown:
        shown = ", ".join(f"{v!r} ×{n}" for v, n in unknown.most_common(8))
        more = f" and {len(unknown) - 8} more" if len(unknown) > 8 else ""
        notes.append(f"{sum(unknown.values())} segments of unknown class stored as unclassified: {shown}{more}")
    oneway = int(np.asarray(roads["oneway"], dtype=bool).sum())
    notes.append(f"{oneway} one-way segments")
    return notes
