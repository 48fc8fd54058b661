"""Input checks shared by the grid modules: every problem is collected and raised together."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from shapely.geometry.base import BaseGeometry

from geo._checks import Kind, invalid_geometry
from geo.errors import ProblemList

_AREA_TYPES = ("Polygon", "MultiPolygon")


def check_projected(crs: pyproj.CRS | None, *, name: str, problems: ProblemList) -> None:
    """Add a problem unless ``crs`` is a projected (metric) CRS; ``name`` is the argument being checked."""
    if crs is None:
        problems.add(Kind.ARGUMENT_CRS, f"{name!r} has no CRS; reproject it to the city's metric CRS first", field=name)
    elif not pyproj.CRS.from_user_input(crs).is_projected:
        problems.add(Kind.ARGUMENT_CRS, f"{name!r} is in {crs.name!r}, not a projected metric CRS", field=name)


def check_frame(
    frame: object, *, name: str, problems: ProblemList, columns: tuple[str, ...] = (), series: bool = False
) -> bool:
    """Add problems for a missing GeoDataFrame / GeoSeries, CRS or column; return whether ``frame`` is usable."""
    kind = gpd.GeoSeries if series else gpd.GeoDataFrame
    if not isinstance(frame, kind):
        problems.add(Kind.ARGUMENT_TYPE, f"{name!r} should be {kind.__name__}, got {type(frame)}", field=name)
        return False
    check_projected(frame.crs, name=name, problems=problems)
    for column in columns:
        if column not in frame.columns:
            problems.add(Kind.ARGUMENT_COLUMN, f"{name!r} has no column {column!r}", field=name)
    return True


def check_area(area: object, *, name: str, problems: ProblemList) -> bool:
    """Add a problem unless ``area`` is a valid, non-empty Polygon or MultiPolygon; return whether it is."""
    if not isinstance(area, BaseGeometry) or area.geom_type not in _AREA_TYPES:
        problems.add(Kind.ARGUMENT_TYPE, f"{name!r} should be a Polygon or MultiPolygon, got {type(area)}", field=name)
        return False
    if area.is_empty:
        problems.add(Kind.EMPTY_GEOMETRY, f"{name!r} is empty", field=name)
        return False
    if not area.is_valid:
        problems.problems.append(invalid_geometry(f"{shapely.is_valid_reason(area)} (use shapely.make_valid)",
                                                  what=repr(name), field=name))
        return False
    return True


def check_range(households_range: object, *, problems: ProblemList) -> tuple[float, float]:
    """Return ``(min, max)`` households per group; add a problem unless ``0 <= min <= max`` and ``max > 0``."""
    try:
        low, high = (float(v) for v in cast(Iterable[Any], households_range))
    except (TypeError, ValueError):
        problems.add(Kind.RANGE, f"households_range should be (min, max), got {households_range!r}",
                     field="households_range")
        return 0.0, 1.0
    if not (0 <= low <= high and high > 0):
        problems.add(Kind.RANGE, f"households_range should satisfy 0 <= min <= max, max > 0; got {households_range!r}",
                     field="households_range")
        return 0.0, 1.0
    return low, high


def check_households(values: pd.Series | np.ndarray, *, name: str, problems: ProblemList) -> np.ndarray:
    """Return households as a float array; add a problem for non-numeric, missing or negative values."""
    arr = np.asarray(pd.to_numeric(pd.Series(values), errors="coerce"), dtype=float)
    bad = ~np.isfinite(arr) | (arr < 0)
    if bad.any():
        problems.add(Kind.HOUSEHOLDS, f"{name!r} has {int(bad.sum())} missing, non-numeric or negative values",
                     field=name)
        arr = np.where(bad, 0.0, arr)
    return arr
