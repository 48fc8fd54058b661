"""Travel profiles of the road network (which ``highway`` classes, at what speed) and argument checks.

The walking and driving speeds of the whole project are defined here once (:data:`WALK_SPEED_KMH`,
:data:`DRIVE_SPEEDS_KMH`, :data:`NOMINAL_SPEED_KMH`); import them from :mod:`geo.network`.

Profiles
--------
``"walk"``
    Every ``highway`` class except those in :data:`WALK_EXCLUDED` (motorways, trunk roads, roads under
    construction or only proposed), both directions whatever ``oneway`` says, at :data:`WALK_SPEED_KMH`.
``"drive"``
    Only the motorised classes of :data:`DRIVE_SPEEDS_KMH`, at the speed listed there; ``oneway`` ways only in
    their geometry direction (``read_osm`` has already reversed ``oneway=-1`` ways). Tracks, paths, footways,
    cycleways, pedestrian streets, steps and bridleways are left out: they are closed to cars or unfit for
    them.
"""

from __future__ import annotations

from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pyproj
import shapely

from geo.errors import GeoValidationError, ProblemList

PROFILES: tuple[str, ...] = ("walk", "drive")
WEIGHTS: tuple[str, ...] = ("length", "time")
DIRECTIONS: tuple[str, ...] = ("from_facility", "to_facility")

#: Walking speed (km/h) of every edge of the walk profile, unless ``speeds_kmh`` says otherwise for a class.
WALK_SPEED_KMH = 5.0
#: ``highway`` classes a person on foot cannot use (or which do not exist yet).
WALK_EXCLUDED: frozenset[str] = frozenset(
    {
        "motorway",
        "motorway_link",
        "trunk",
        "trunk_link",
        "construction",
        "proposed",
        "planned",
        "abandoned",
        "disused",
        "razed",
        "raceway",
        "bus_guideway",
        "busway",
        "escape",
        "no",
    }
)
#: ``highway`` classes of the drive profile and their speed (km/h): typical urban free-flow speeds of a car,
#: lower than the legal limits (junctions, traffic lights). A class missing here is not drivable.
DRIVE_SPEEDS_KMH: Mapping[str, float] = {
    "motorway": 100.0,
    "motorway_link": 60.0,
    "trunk": 80.0,
    "trunk_link": 50.0,
    "primary": 60.0,
    "primary_link": 50.0,
    "secondary": 50.0,
    "secondary_link": 40.0,
    "tertiary": 40.0,
    "tertiary_link": 30.0,
    "unclassified": 30.0,
    "residential": 30.0,
    "road": 30.0,
    "living_street": 10.0,
    "service": 15.0,
}
#: Speed (km/h) used to turn a straight-line distance into a time when a point cannot be routed.
NOMINAL_SPEED_KMH: Mapping[str, float] = {"walk": WALK_SPEED_KMH, "drive": 30.0}
#: A point farther than this (m) from every road is off the network: it is answered by straight-line distance.
DEFAULT_MAX_SNAP_M = 250.0
#: Unreachable pairs of :meth:`RoadGraph.distance_matrix` cost this many times their straight-line distance.
UNREACHABLE_PENALTY = 2.0

FALLBACK_STRAIGHT_LINE = "straight_line"
#: Why a point was answered by straight-line distance.
#: Farther than ``max_snap_m`` from every road of the profile.
REASON_OFF_NETWORK = "off_network"
#: No (candidate) facility reaches it: a disconnected piece of network, a one-way dead end.
REASON_UNREACHABLE = "unreachable"
#: How many offending positions a message quotes before 'and N more'.
MAX_QUOTED = 5


def profile_roads(
    lines: gpd.GeoDataFrame, profile: str, speeds: Mapping[str, float | None]
) -> tuple[dict[str, float], np.ndarray, np.ndarray, np.ndarray]:
    """Which rows of ``lines`` the profile uses, at what speed (km/h), and which are one-way.

    Returns the classes with a speed, and per row: kept (bool), class speed (km/h, NaN where not drivable) and
    one-way (bool; always False when walking).
    """
    highway = lines["highway"].astype(str).to_numpy()
    speed_of = {k: v for k, v in speeds.items() if v is not None}
    if profile == "walk":
        dropped = [k for k, v in speeds.items() if v is None]
        # A class given a speed is walkable even when WALK_EXCLUDED lists it.
        keep = (~np.isin(highway, list(WALK_EXCLUDED)) | np.isin(highway, list(speed_of))) & ~np.isin(
            highway, dropped
        )
        class_speed = np.array([speed_of.get(h, WALK_SPEED_KMH) for h in highway], dtype=float)
        oneway = np.zeros(len(lines), dtype=bool)
    else:
        keep = np.isin(highway, list(speed_of))
        class_speed = np.array([speed_of.get(h, np.nan) for h in highway], dtype=float)
        oneway = (
            lines["oneway"].fillna(False).astype(bool).to_numpy()
            if "oneway" in lines.columns
            else np.zeros(len(lines), dtype=bool)
        )
    return speed_of, keep, class_speed, oneway


def speed_table(profile: str, speeds_kmh: object, problems: ProblemList) -> dict[str, float | None]:
    """The profile's speed table (km/h by ``highway`` class) with ``speeds_kmh`` applied.

    ``None`` drops a class; bad entries are added to ``problems`` and skipped.
    """
    table: dict[str, float | None] = dict(DRIVE_SPEEDS_KMH) if profile == "drive" else {}
    if speeds_kmh is None:
        return table
    if not isinstance(speeds_kmh, Mapping):
        problems.add(
            "invalid_argument",
            f"speeds_kmh must be a mapping of highway class to km/h, got {type(speeds_kmh).__name__}",
            field="speeds_kmh",
        )
        return table
    for key, value in speeds_kmh.items():
        if value is not None and not (
            isinstance(value, (int, float, np.number)) and np.isfinite(value) and value > 0
        ):
            problems.add(
                "invalid_argument",
                f"speeds_kmh[{key!r}] must be a positive number or None, got {value!r}",
                field="speeds_kmh",
            )
            continue
        table[str(key)] = None if value is None else float(value)
    return table


def check_lines(lines: object, problems: ProblemList) -> pyproj.CRS | None:
    """Add what is wrong with a road layer to ``problems``; returns its CRS (None: not a GeoDataFrame)."""
    if not isinstance(lines, gpd.GeoDataFrame):
        problems.add(
            "invalid_argument", f"lines must be a GeoDataFrame, got {type(lines).__name__}", field="lines"
        )
        return None
    crs = lines.crs
    if crs is None:
        problems.add("crs", "lines has no CRS; project it with geo.crs.metric_crs_for_bounds", field="lines")
    elif not crs.is_projected or crs.axis_info[0].unit_name not in ("metre", "meter"):
        problems.add(
            "crs",
            f"lines must be in a projected CRS in metres, got {crs.name!r} ({crs.to_string()}); "
            "project it with geo.crs.metric_crs_for_bounds",
            field="lines",
        )
    if len(lines) == 0:
        problems.add("empty", "lines has no rows", field="lines")
    if "highway" not in lines.columns:
        problems.add("missing_column", "lines has no column 'highway'", field="lines")
    if len(lines):
        kind = shapely.get_type_id(np.asarray(lines.geometry.array, dtype=object))
        bad = ~np.isin(kind, [-1, 1, 5])  # missing, LineString, MultiLineString
        if bad.any():
            problems.add(
                "invalid_geometry_type",
                f"lines must be LineStrings; {quote_positions(bad)} are not",
                field="lines",
            )
    return crs


def other_weight(weight: str) -> str:
    """The weight that is not ``weight``: ``"time"`` for ``"length"`` and vice versa."""
    return "time" if weight == "length" else "length"


def check_choice(
    value: object, choices: tuple[str, ...], name: str, problems: ProblemList | None = None
) -> None:
    """Raise (or add to ``problems``) unless ``value`` is one of ``choices``."""
    if value not in choices:
        message = f"{name} must be one of {choices}, got {value!r}"
        if problems is None:
            raise GeoValidationError(message, field=name)
        problems.add("invalid_argument", message, field=name)


def check_positive(value: object, name: str, problems: ProblemList | None = None) -> None:
    """Raise (or add to ``problems``) unless ``value`` is a finite positive number (of metres)."""
    if not (isinstance(value, (int, float, np.number)) and np.isfinite(value) and value > 0):
        message = f"{name} must be a positive number of metres, got {value!r}"
        if problems is None:
            raise GeoValidationError(message, field=name)
        problems.add("invalid_argument", message, field=name)


def points_xy(
    x: npt.ArrayLike, y: npt.ArrayLike, *, names: tuple[str, str] = ("x", "y")
) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates as two float64 1-D arrays of one length; every problem raised at once."""
    problems = ProblemList()
    arrays: dict[str, np.ndarray] = {}
    for name, values in zip(names, (x, y), strict=True):
        try:
            arr = np.atleast_1d(np.asarray(values, dtype=float))
        except (TypeError, ValueError):
            problems.add("invalid_coordinate", f"{name} must be numbers, got {values!r:.80}", field=name)
            continue
        if arr.ndim != 1:
            problems.add(
                "invalid_shape", f"{name} must be one-dimensional, got shape {arr.shape}", field=name
            )
            continue
        if not np.isfinite(arr).all():
            problems.add(
                "invalid_coordinate",
                f"{name} has NaN or infinite values at {quote_positions(~np.isfinite(arr))}",
                field=name,
            )
            continue
        arrays[name] = arr
    if len(arrays) == 2 and arrays[names[0]].size != arrays[names[1]].size:
        problems.add(
            "length_mismatch",
            f"{names[1]} has {arrays[names[1]].size} values but {names[0]} has {arrays[names[0]].size}",
            field=names[1],
        )
    problems.raise_if_any()
    return arrays[names[0]], arrays[names[1]]


def quote_positions(mask: np.ndarray, limit: int = MAX_QUOTED) -> str:
    """'positions 3, 7 and 12 more' for the True entries of ``mask``, for a message."""
    where = np.flatnonzero(mask)
    quoted = ", ".join(str(i) for i in where[:limit])
    more = f" and {where.size - limit} more" if where.size > limit else ""
    return f"position{'s' if where.size > 1 else ''} {quoted}{more}"
