"""Coordinate reference systems: a metric CRS for a city, and the Chinese web-map datums GCJ-02 and BD-09.

Phones report WGS-84, but AMap/Gaode and Tencent draw in GCJ-02 (an obfuscated offset of 100–700 m inside
China) and Baidu adds BD-09 on top. Every point taken from a Chinese map SDK must go through :func:`to_wgs84`
before it is stored.

The GCJ-02 formulas are the widely published reimplementation (Krasovsky 1940 ellipsoid constants, the rough
China bounding box); they agree with independent implementations such as ``googollee/eviltransform`` to 1e-7
degrees. BD-09 uses the usual formula with x_pi = π·3000/180. An early eviltransform release used π instead;
the bd2wgs test vectors of that release (still copied around) reproduce that slip and sit 10–40 m away from
this formula.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from enum import StrEnum
from typing import TypeAlias

import numpy as np
import numpy.typing as npt
import pyproj
import shapely
from shapely.geometry.base import BaseGeometry

from geo.errors import GeoValidationError, Problem, ProblemList

WGS84 = "EPSG:4326"


class Datum(StrEnum):
    """The lon/lat datum a point or layer comes in: the one vocabulary of the project.

    ``wgs84``: GPS, OSM, Tianditu; ``gcj02``: AMap/Gaode and Tencent maps and location SDKs; ``bd09``: Baidu.
    A member is a ``str`` equal to its value, so it goes wherever the plain names went (JSON, SQL, argparse).
    """

    WGS84 = "wgs84"
    GCJ02 = "gcj02"
    BD09 = "bd09"


#: The datum names as plain strings, for ``Literal``-like choices and messages.
DATUMS: tuple[str, ...] = tuple(d.value for d in Datum)

#: Coordinates: a float or anything numpy turns into a float array. Scalars in give floats out, arrays give
#: arrays.
Coords: TypeAlias = float | npt.ArrayLike
FloatPair: TypeAlias = tuple[float, float] | tuple[np.ndarray, np.ndarray]

# Krasovsky 1940 ellipsoid, which the GCJ-02 algorithm is built on.
_GCJ_A = 6378245.0
_GCJ_EE = 0.00669342162296594323
_X_PI = math.pi * 3000.0 / 180.0

# The usual rough box: it includes parts of neighbouring countries (e.g. Singapore, Seoul), as every published
# implementation does, because the obfuscation is applied by the map providers and not by any border test.
_CHINA_LON = (72.004, 137.8347)
_CHINA_LAT = (0.8293, 55.8271)

# Iterative inverse: stop once the forward transform reproduces the input to this many degrees (≈1 mm).
_INVERSE_TOL_DEG = 1e-8
_INVERSE_MAX_ITER = 30

_CGCS2000_LON = (73.5, 136.5)
_CGCS2000_FIRST_EPSG = 4534  # "CGCS2000 / 3-degree Gauss-Kruger CM 75E"; +1 per 3° up to 4554 (CM 135E)
_CGCS2000_FIRST_CM = 75

_SYSTEMS = ("utm", "cgcs2000")
_CRS_ALIASES = {**{d.value: d for d in Datum}, "epsg:4326": Datum.WGS84}
_ACCEPTED_CRS = (Datum.WGS84.value, "EPSG:4326", Datum.GCJ02.value, Datum.BD09.value)


# --- metric CRS ---------------------------------------------------------------------------------------------


def metric_crs_for(lon: float, lat: float, *, system: str = "utm") -> pyproj.CRS:
    """Return a projected CRS in metres suited to a city centred at ``lon``/``lat``.

    Parameters
    ----------
    lon, lat
        Centre of the city in WGS-84 degrees.
    system
        ``"utm"``: the WGS-84 UTM zone (EPSG:326xx north of the equator, 327xx south), including the Norway
        (zone 32V) and Svalbard (zones 31X–37X) exceptions. ``"cgcs2000"``: the CGCS2000 3-degree
        Gauss–Krüger zone of the nearest central meridian, without a zone prefix in the easting (EPSG:4534
        "CM 75E" … EPSG:4554 "CM 135E"); only for longitudes 73.5–136.5.

    Returns
    -------
    pyproj.CRS
        A CRS whose axes are in metres; distortion stays below ≈0.1 % within a city.

    Raises
    ------
    GeoValidationError
        For a latitude outside [-90, 90], a longitude outside [-180, 180], an unknown ``system`` or a
        longitude outside the CGCS2000 zones; each problem names its field.
    """
    problems = ProblemList()
    _check_lon_lat(lon, lat, problems)
    if system not in _SYSTEMS:
        problems.add(
            "invalid_argument", f"system must be one of {', '.join(_SYSTEMS)}, got {system!r}", field="system"
        )
    problems.raise_if_any()
    if system == "utm":
        return pyproj.CRS.from_epsg(_utm_epsg(float(lon), float(lat)))
    return pyproj.CRS.from_epsg(_cgcs2000_epsg(float(lon)))


def metric_crs_for_bounds(bounds: tuple[float, float, float, float], *, system: str = "utm") -> pyproj.CRS:
    """Return :func:`metric_crs_for` the centre of ``bounds`` = (minx, miny, maxx, maxy) in WGS-84 degrees.

    A box crossing the antimeridian (minx > maxx) is rejected rather than centred on the wrong side of the
    globe.
    """
    if len(bounds) != 4:
        raise GeoValidationError(f"bounds must be (minx, miny, maxx, maxy), got {bounds!r}", field="bounds")
    minx, miny, maxx, maxy = (float(v) for v in bounds)
    if not (minx <= maxx and miny <= maxy):
        raise GeoValidationError(
            f"bounds must satisfy minx <= maxx and miny <= maxy, got {bounds!r}", field="bounds"
        )
    return metric_crs_for((minx + maxx) / 2.0, (miny + maxy) / 2.0, system=system)


def _check_lon_lat(lon: float, lat: float, problems: ProblemList) -> None:
    for name, value, limit in (("lon", lon, 180.0), ("lat", lat, 90.0)):
        try:
            number = float(value)
        except (TypeError, ValueError):
            problems.add("invalid_coordinate", f"{name} must be a number, got {value!r}", field=name)
            continue
        if not (math.isfinite(number) and -limit <= number <= limit):
            problems.add(
                "invalid_coordinate",
                f"{name} must be within [-{limit:g}, {limit:g}] degrees, got {value!r}",
                field=name,
            )


def _utm_epsg(lon: float, lat: float) -> int:
    zone = min(int((lon + 180.0) // 6.0) + 1, 60)
    if 56.0 <= lat < 64.0 and 3.0 <= lon < 12.0:
        zone = 32  # south-western Norway is widened to one zone
    elif 72.0 <= lat <= 84.0 and 0.0 <= lon < 42.0:
        # Svalbard uses only the odd zones, each widened to 12°.
        zone = 31 if lon < 9.0 else 33 if lon < 21.0 else 35 if lon < 33.0 else 37
    return (32600 if lat >= 0.0 else 32700) + zone


def _cgcs2000_epsg(lon: float) -> int:
    low, high = _CGCS2000_LON
    if not low <= lon <= high:
        raise GeoValidationError(
            Problem(
                "outside_area",
                f"CGCS2000 3-degree zones cover longitudes {low}–{high}, got {lon}; use system='utm'",
                field="lon",
            )
        )
    # floor, not round: Python rounds halves to even, which would split zone edges unpredictably.
    central_meridian = min(3 * math.floor((lon + 1.5) / 3.0), 135)
    return _CGCS2000_FIRST_EPSG + (central_meridian - _CGCS2000_FIRST_CM) // 3


# --- GCJ-02 / BD-09 -----------------------------------------------------------------------------------------


def wgs84_to_gcj02(lon: Coords, lat: Coords) -> FloatPair:
    """Convert WGS-84 degrees to GCJ-02 degrees; the identity outside the rough China box.

    Accepts scalars (returns floats) or arrays of any broadcastable shape (returns float arrays of that
    shape).
    """
    x, y, scalar = _as_arrays(lon, lat)
    dx, dy = _gcj_delta(x, y)
    return _restore(x + dx, y + dy, scalar)


def gcj02_to_wgs84(lon: Coords, lat: Coords) -> FloatPair:
    """Convert GCJ-02 degrees to WGS-84 degrees by iterating the forward transform (error < 1e-7 degree).

    The one-step inverse found in many snippets is off by up to a few metres; this one converges in 3–5
    iterations.
    """
    x, y, scalar = _as_arrays(lon, lat)
    wx, wy = _invert(_gcj_forward, x, y)
    return _restore(wx, wy, scalar)


def gcj02_to_bd09(lon: Coords, lat: Coords) -> FloatPair:
    """Convert GCJ-02 degrees to Baidu BD-09 degrees; the identity outside the rough China box."""
    x, y, scalar = _as_arrays(lon, lat)
    bx, by = _bd_forward(x, y)
    return _restore(bx, by, scalar)


def bd09_to_gcj02(lon: Coords, lat: Coords) -> FloatPair:
    """Convert Baidu BD-09 degrees to GCJ-02 degrees, iterating :func:`gcj02_to_bd09` to below 1e-7 degree."""
    x, y, scalar = _as_arrays(lon, lat)
    gx, gy = _invert(_bd_forward, x, y)
    return _restore(gx, gy, scalar)


def wgs84_to_bd09(lon: Coords, lat: Coords) -> FloatPair:
    """Convert WGS-84 degrees to Baidu BD-09 degrees (via GCJ-02)."""
    x, y, scalar = _as_arrays(lon, lat)
    bx, by = _bd_forward(*_gcj_forward(x, y))
    return _restore(bx, by, scalar)


def bd09_to_wgs84(lon: Coords, lat: Coords) -> FloatPair:
    """Convert Baidu BD-09 degrees to WGS-84 degrees (via GCJ-02, both steps iterative)."""
    x, y, scalar = _as_arrays(lon, lat)
    wx, wy = _invert(_gcj_forward, *_invert(_bd_forward, x, y))
    return _restore(wx, wy, scalar)


def to_wgs84(lon: Coords, lat: Coords, crs: Datum | str) -> FloatPair:
    """Convert coordinates given in ``crs`` to WGS-84 degrees.

    Parameters
    ----------
    lon, lat
        Degrees, scalars or arrays.
    crs
        A :class:`Datum` or its name: ``"wgs84"``/``"EPSG:4326"`` (returned unchanged), ``"gcj02"``
        (AMap/Gaode, Tencent) or ``"bd09"`` (Baidu); case-insensitive.

    Raises
    ------
    GeoValidationError
        For any other ``crs`` (field ``"crs"``).
    """
    converter = _converter_to_wgs84(crs)
    x, y, scalar = _as_arrays(lon, lat)
    if converter is None:
        return _restore(x, y, scalar)
    wx, wy = converter(x, y)
    return _restore(np.asarray(wx, dtype=float), np.asarray(wy, dtype=float), scalar)


def transform_geometry_to_wgs84(geom: BaseGeometry, crs: Datum | str) -> BaseGeometry:
    """Return ``geom`` (a shapely geometry, or an array of them) with every coordinate converted by
    :func:`to_wgs84`.

    Z values are kept unchanged. Raises :class:`GeoValidationError` for an unknown ``crs`` even if ``geom`` is
    empty.
    """
    converter = _converter_to_wgs84(crs)
    if converter is None:
        return geom

    def convert(coords: np.ndarray) -> np.ndarray:
        out = coords.copy()
        out[:, 0], out[:, 1] = converter(coords[:, 0], coords[:, 1])
        return out

    return shapely.transform(geom, convert, include_z=None)


def _converter_to_wgs84(crs: Datum | str) -> Callable[[np.ndarray, np.ndarray], FloatPair] | None:
    key = _CRS_ALIASES.get(crs.strip().lower()) if isinstance(crs, str) else None
    if key is None:
        raise GeoValidationError(
            f"crs must be one of {', '.join(_ACCEPTED_CRS)} (case-insensitive), got {crs!r}", field="crs"
        )
    return {Datum.WGS84: None, Datum.GCJ02: gcj02_to_wgs84, Datum.BD09: bd09_to_wgs84}[key]


def _as_arrays(lon: Coords, lat: Coords) -> tuple[np.ndarray, np.ndarray, bool]:
    x = np.asarray(lon, dtype=float)
    y = np.asarray(lat, dtype=float)
    scalar = x.ndim == 0 and y.ndim == 0
    x, y = np.broadcast_arrays(x, y)
    return x, y, scalar


def _restore(x: np.ndarray, y: np.ndarray, scalar: bool) -> FloatPair:
    if scalar:
        return float(x), float(y)
    return np.array(x, dtype=float), np.array(y, dtype=float)


def _in_china(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    return (lon >= _CHINA_LON[0]) & (lon <= _CHINA_LON[1]) & (lat >= _CHINA_LAT[0]) & (lat <= _CHINA_LAT[1])


def _gcj_delta(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = lon - 105.0
    y = lat - 35.0
    pi = math.pi
    common = (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    sqrt_abs_x = np.sqrt(np.abs(x))
    d_lat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x + common
    d_lat += (20.0 * np.sin(y * pi) + 40.0 * np.sin(y / 3.0 * pi)) * 2.0 / 3.0
    d_lat += (160.0 * np.sin(y / 12.0 * pi) + 320.0 * np.sin(y * pi / 30.0)) * 2.0 / 3.0
    d_lon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x + common
    d_lon += (20.0 * np.sin(x * pi) + 40.0 * np.sin(x / 3.0 * pi)) * 2.0 / 3.0
    d_lon += (150.0 * np.sin(x / 12.0 * pi) + 300.0 * np.sin(x / 30.0 * pi)) * 2.0 / 3.0

    rad_lat = lat / 180.0 * pi
    magic = 1.0 - _GCJ_EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_GCJ_A * (1.0 - _GCJ_EE)) / (magic * sqrt_magic) * pi)
    d_lon = (d_lon * 180.0) / (_GCJ_A / sqrt_magic * np.cos(rad_lat) * pi)
    inside = _in_china(lon, lat)
    return np.where(inside, d_lon, 0.0), np.where(inside, d_lat, 0.0)


def _gcj_forward(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d_lon, d_lat = _gcj_delta(lon, lat)
    return lon + d_lon, lat + d_lat


def _bd_forward(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    z = np.sqrt(lon * lon + lat * lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    # Baidu serves WGS-84 abroad, so the offset stops at the same box as GCJ-02 (as in eviltransform).
    inside = _in_china(lon, lat)
    return np.where(inside, z * np.cos(theta) + 0.0065, lon), np.where(inside, z * np.sin(theta) + 0.006, lat)


def _invert(
    forward: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]], x: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    # Fixed-point iteration: both offsets vary slowly (their derivative is ≪ 1), so this is a contraction.
    gx, gy = np.array(x, dtype=float), np.array(y, dtype=float)
    for _ in range(_INVERSE_MAX_ITER):
        fx, fy = forward(gx, gy)
        ex, ey = fx - x, fy - y
        gx -= ex
        gy -= ey
        with np.errstate(invalid="ignore"):
            err = np.nanmax(np.abs(np.concatenate([ex.ravel(), ey.ravel()])), initial=0.0)
        if err < _INVERSE_TOL_DEG:
            break
    return gx, gy
