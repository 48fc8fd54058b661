"""GPS tracks of grid workers: flag implausible fixes, measure tracks and turn them into lines.

Phones stream fixes (time, WGS-84 lon/lat, horizontal accuracy in metres). Some are unusable: a clock set
ahead, a coarse cell-tower fix, or a multipath spike that jumps a kilometre and back. :func:`flag_fixes`
marks them without dropping anything, :func:`track_length_m` measures a polyline on the ellipsoid, and
:func:`tracks_to_lines` builds one line per patrol from the fixes that were not flagged.

Distances are geodesics on the WGS-84 ellipsoid (:class:`pyproj.Geod`), so no projection is needed and the
results hold anywhere, including across UTM zone borders.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import TypeAlias

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyproj
import shapely

from geo.errors import ProblemList

#: A fix implying a speed above this (km/h) from the previous unflagged fix is a jump. A grid worker walks or
#: rides an e-bike (legally ≤ 25 km/h in China); 50 km/h leaves room for a car or bus ride.
MAX_SPEED_KMH = 50.0
#: A fix whose reported horizontal accuracy (m) is worse than this is too coarse to place in a grid.
MAX_ACCURACY_M = 100.0
#: A fix timestamped more than this many seconds after ``now`` has a wrong clock (phone clocks drift).
FUTURE_SLACK_S = 120.0

FLAG_SPEED = "speed"
FLAG_ACCURACY = "accuracy"
FLAG_FUTURE = "future"
#: Every flag, in order of precedence: a fix failing several checks gets the first that applies.
FLAGS: tuple[str, ...] = (FLAG_FUTURE, FLAG_ACCURACY, FLAG_SPEED)

#: Timestamps: timezone-aware datetimes, or a pandas Series/Index/array of dtype ``datetime64[..., tz]``.
TimesLike: TypeAlias = (
    Sequence[datetime] | pd.Series | pd.Index | pd.api.extensions.ExtensionArray | np.ndarray
)

_GEOD = pyproj.Geod(ellps="WGS84")
_US_PER_S = 1_000_000
# Positions of offending values quoted in an error message; the rest are counted.
_MAX_QUOTED = 5


def flag_fixes(
    times: TimesLike,
    lon: npt.ArrayLike,
    lat: npt.ArrayLike,
    accuracy: npt.ArrayLike,
    *,
    now: datetime,
    max_speed_kmh: float = MAX_SPEED_KMH,
    max_accuracy_m: float = MAX_ACCURACY_M,
    future_slack_s: float = FUTURE_SLACK_S,
) -> list[str | None]:
    """Flag the GPS fixes of one track that should not be used.

    Fixes are considered in time order (ties keep their input order), whatever order they come in. A fix is
    flagged when

    - ``"future"``: its time is more than ``future_slack_s`` seconds after ``now``;
    - ``"accuracy"``: its accuracy is worse than ``max_accuracy_m``, or negative (iOS reports a negative
      accuracy for an invalid fix). An unknown accuracy (None, NaN) is not flagged;
    - ``"speed"``: reaching it from the previous *unflagged* fix needs more than ``max_speed_kmh``, measured
      as geodesic distance over elapsed time. Two fixes with the same time count as infinitely fast unless
      they are at the same point.

    Each flagged fix gets one reason, the first of ``"future"``, ``"accuracy"``, ``"speed"`` that applies.
    Flagged fixes are never used as the reference for the speed check, so a single GPS spike flags only the
    spike and not the return to the true path.

    The first usable fix in time order is the reference for the rest and is never flagged for speed. When it
    is itself a jump (a stale cold-start position with a plausible accuracy), the fixes after it are flagged
    until one is within reach of it; flag tracks per patrol, not per day, to keep such runs short.

    Parameters
    ----------
    times
        Time of each fix: timezone-aware datetimes (mixed offsets are fine), or a pandas Series, Index or
        array of dtype ``datetime64[..., tz]``. Naive datetimes and plain numpy ``datetime64`` values (which
        carry no timezone) are rejected rather than guessed at.
    lon, lat
        WGS-84 degrees of each fix.
    accuracy
        Horizontal accuracy of each fix in metres (radius, as phones report it); None/NaN when unknown.
    now
        Timezone-aware current time, the reference for ``"future"``.
    max_speed_kmh, max_accuracy_m, future_slack_s
        Thresholds; a value equal to a threshold is not flagged.

    Returns
    -------
    list of str or None
        One entry per fix in *input* order: None for a usable fix, else one of ``FLAGS``.

    Raises
    ------
    GeoValidationError
        For inputs of different lengths, a latitude outside [-90, 90], a longitude outside [-180, 180], a
        missing or naive time, a naive ``now``, an accuracy that is not a number, or a negative or NaN
        threshold; each problem names its field.
    """
    n, t_us, lons, lats, acc, now_us = _check_flag_inputs(
        times, lon, lat, accuracy, now, max_speed_kmh, max_accuracy_m, future_slack_s
    )
    if n == 0:
        return []

    flags: list[str | None] = [None] * n
    # Microseconds since 1970 stay below 2**53 until the year 2255, so the float comparison is exact.
    future = t_us > now_us + float(future_slack_s) * _US_PER_S
    with np.errstate(invalid="ignore"):
        coarse = (acc > max_accuracy_m) | (acc < 0)
    for i in np.flatnonzero(future):
        flags[i] = FLAG_FUTURE
    for i in np.flatnonzero(coarse & ~future):
        flags[i] = FLAG_ACCURACY

    # Speed: walk the remaining fixes in time order against the last unflagged one.
    order = np.argsort(t_us, kind="stable")
    _flag_speed(flags, lons, lats, t_us, order[~(future | coarse)[order]], max_speed_kmh)
    return flags


def _check_flag_inputs(
    times: TimesLike,
    lon: npt.ArrayLike,
    lat: npt.ArrayLike,
    accuracy: npt.ArrayLike,
    now: datetime,
    max_speed_kmh: float,
    max_accuracy_m: float,
    future_slack_s: float,
) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """Check :func:`flag_fixes`' arguments, raising every problem together.

    Returns the number of fixes, their times (µs since 1970, UTC), longitudes, latitudes and accuracies (m),
    and ``now`` in µs since 1970.
    """
    problems = ProblemList()
    n = _check_lengths({"times": times, "lon": lon, "lat": lat, "accuracy": accuracy}, problems)
    t_us = _utc_micros(times, "times", problems)
    lons = _coords(lon, "lon", 180.0, problems)
    lats = _coords(lat, "lat", 90.0, problems)
    acc = _accuracy(accuracy, problems)
    now_us = 0
    if _is_aware(now):
        now_us = int(pd.DatetimeIndex([now]).tz_convert("UTC").as_unit("us").asi8[0])
    else:
        problems.add("naive_datetime", f"now must be a timezone-aware datetime, got {now!r}", field="now")
    for name, value, strict in (
        ("max_speed_kmh", max_speed_kmh, True),
        ("max_accuracy_m", max_accuracy_m, False),
        ("future_slack_s", future_slack_s, False),
    ):
        _check_threshold(name, value, strict, problems)
    problems.raise_if_any()
    assert t_us is not None and acc is not None
    return n, t_us, lons, lats, acc, now_us


def _flag_speed(
    flags: list[str | None],
    lons: np.ndarray,
    lats: np.ndarray,
    t_us: np.ndarray,
    cand: np.ndarray,
    max_speed_kmh: float,
) -> None:
    """Flag ``"speed"`` among the candidate fixes ``cand`` (time order), each against the last unflagged one.

    Speeds between consecutive candidates are computed in one vectorised call; a geodesic is computed one by
    one only after a flagged fix, when the reference is no longer the previous candidate.
    """
    if cand.size < 2:
        return
    step_ok = _speed_ok(lons, lats, t_us, cand[:-1], cand[1:], max_speed_kmh)
    last = int(cand[0])
    for k in range(1, cand.size):
        i = int(cand[k])
        if last == cand[k - 1]:
            ok = bool(step_ok[k - 1])
        else:
            ok = bool(_speed_ok(lons, lats, t_us, np.array([last]), np.array([i]), max_speed_kmh)[0])
        if ok:
            last = i
        else:
            flags[i] = FLAG_SPEED


def track_length_m(lon: npt.ArrayLike, lat: npt.ArrayLike) -> float:
    """Return the geodesic length of a polyline on the WGS-84 ellipsoid.

    Parameters
    ----------
    lon, lat
        Vertices in WGS-84 degrees, in path order. Each segment is the shortest geodesic between its ends
        (so a segment may cross the antimeridian).

    Returns
    -------
    float
        Length in metres; 0.0 for fewer than two vertices.

    Raises
    ------
    GeoValidationError
        For arrays of different lengths or coordinates outside their range (or NaN); each problem names its
        field.
    """
    problems = ProblemList()
    n = _check_lengths({"lon": lon, "lat": lat}, problems)
    problems.raise_if_any()
    lons = _coords(lon, "lon", 180.0, problems)
    lats = _coords(lat, "lat", 90.0, problems)
    problems.raise_if_any()
    if n < 2:
        return 0.0
    return float(_GEOD.line_length(lons, lats))


def tracks_to_lines(
    frame: pd.DataFrame,
    *,
    by: str = "patrol_id",
    time: str = "time",
    lon: str = "lon",
    lat: str = "lat",
    flag: str | None = "flag",
) -> gpd.GeoDataFrame:
    """Build one line per track from its unflagged fixes.

    Parameters
    ----------
    frame
        One row per fix. Rows whose ``by`` value is missing belong to no track and are ignored.
    by
        Column identifying the track (a patrol).
    time
        Column of timezone-aware times (see ``times`` in :func:`flag_fixes`); fixes are joined in time order,
        ties in row order.
    lon, lat
        Columns of WGS-84 degrees.
    flag
        Column of flags as returned by :func:`flag_fixes`; a row is usable when its flag is missing (None,
        NaN). None to use every row.

    Returns
    -------
    geopandas.GeoDataFrame
        In EPSG:4326, one row per track with at least two usable fixes, sorted by ``by``, with columns
        ``by``; ``fixes`` (usable fixes in the line); ``length_m`` (geodesic length, see
        :func:`track_length_m`); ``started``, ``ended`` (first and last usable time, UTC); ``geometry`` (a
        LineString). A track whose usable fixes all sit on one point gives a zero-length line, which GEOS
        deems invalid but which records that the worker was there.

    Raises
    ------
    GeoValidationError
        For a missing column, a missing or naive time, or coordinates outside their range; each problem names
        its field (the column name).
    """
    work = _usable_fixes(frame, by=by, time=time, lon=lon, lat=lat, flag=flag)
    rows: dict[str, list] = {by: [], "fixes": [], "length_m": [], "started": [], "ended": [], "geometry": []}
    for key, group in work.groupby("key", sort=True):
        if len(group) < 2:
            continue
        x, y, t = group["x"].to_numpy(), group["y"].to_numpy(), group["t"].to_numpy()
        rows[by].append(key)
        rows["fixes"].append(len(group))
        rows["length_m"].append(float(_GEOD.line_length(x, y)))
        rows["started"].append(t[0])
        rows["ended"].append(t[-1])
        rows["geometry"].append(shapely.linestrings(x, y))

    out = pd.DataFrame(
        {
            by: pd.Series(rows[by], dtype=frame[by].dtype),
            "fixes": pd.Series(rows["fixes"], dtype="int64"),
            "length_m": pd.Series(rows["length_m"], dtype="float64"),
            "started": _from_micros(rows["started"]),
            "ended": _from_micros(rows["ended"]),
        }
    )
    return gpd.GeoDataFrame(out, geometry=gpd.GeoSeries(rows["geometry"], crs="EPSG:4326"), crs="EPSG:4326")


def track_vertices(
    frame: pd.DataFrame,
    *,
    by: str = "patrol_id",
    time: str = "time",
    lon: str = "lon",
    lat: str = "lat",
    flag: str | None = "flag",
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The vertices of the lines of :func:`tracks_to_lines`, as arrays, without building the lines.

    Same arguments, checks and errors as :func:`tracks_to_lines`; for a million fixes it is several times
    faster (no per-track loop, no geodesic lengths).

    Returns
    -------
    (x, y, t_us, line, keys)
        Per vertex, in line order and along each line: lon, lat (degrees), time (µs since 1970, UTC) and
        line position; then the ``by`` value of each line (sorted, tracks with at least two usable fixes).
    """
    keys, t_us, lons, lats = _usable_columns(frame, by=by, time=time, lon=lon, lat=lat, flag=flag)
    codes, uniques = pd.factorize(keys, sort=True)
    order = np.lexsort((t_us, codes))  # stable: ties keep row order, as tracks_to_lines does
    counts = np.bincount(codes, minlength=len(uniques))
    kept = counts >= 2
    line_of_code = np.cumsum(kept) - 1
    order = order[kept[codes[order]]]
    line_keys = pd.Series(np.asarray(uniques, dtype=object)[kept], dtype=frame[by].dtype).to_numpy()
    return lons[order], lats[order], t_us[order], line_of_code[codes[order]], line_keys


def _usable_columns(
    frame: pd.DataFrame, *, by: str, time: str, lon: str, lat: str, flag: str | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Keys, times (µs since 1970, UTC), lon and lat of the usable fixes of ``frame``, in row order; every
    problem of the columns raised together."""
    problems = ProblemList()
    columns = [by, time, lon, lat] + ([flag] if flag is not None else [])
    for name in columns:
        if name not in frame.columns:
            problems.add("missing_column", f"frame has no column {name!r}", field=name)
    problems.raise_if_any()

    t_us = _utc_micros(frame[time], time, problems)
    lons = _coords(frame[lon], lon, 180.0, problems)
    lats = _coords(frame[lat], lat, 90.0, problems)
    problems.raise_if_any()
    assert t_us is not None

    usable = frame[by].notna().to_numpy()
    if flag is not None:
        usable = usable & frame[flag].isna().to_numpy()
    return frame[by].to_numpy()[usable], t_us[usable], lons[usable], lats[usable]


def _usable_fixes(
    frame: pd.DataFrame, *, by: str, time: str, lon: str, lat: str, flag: str | None
) -> pd.DataFrame:
    """The usable fixes of ``frame`` as columns ``key``, ``t`` (µs since 1970, UTC), ``x``, ``y`` (degrees),
    in time order (ties in row order); every problem of the columns raised together."""
    keys, t_us, lons, lats = _usable_columns(frame, by=by, time=time, lon=lon, lat=lat, flag=flag)
    work = pd.DataFrame({"key": keys, "t": t_us, "x": lons, "y": lats})
    # A stable sort by time keeps row order for ties; groupby keeps that order within each group.
    work = work.iloc[np.argsort(work["t"].to_numpy(), kind="stable")]
    return work


# --- helpers ------------------------------------------------------------------------------------------------


def _speed_ok(
    lons: np.ndarray, lats: np.ndarray, t_us: np.ndarray, start: np.ndarray, end: np.ndarray, limit: float
) -> np.ndarray:
    """Whether each move from fix ``start[k]`` to the later fix ``end[k]`` stays within ``limit`` km/h."""
    _, _, dist_m = _GEOD.inv(lons[start], lats[start], lons[end], lats[end])
    dist_m = np.asarray(dist_m, dtype=float)
    dt_s = (t_us[end] - t_us[start]).astype(float) / _US_PER_S
    with np.errstate(divide="ignore", invalid="ignore"):
        speed_kmh = np.where(dist_m > 0, dist_m / dt_s * 3.6, 0.0)  # dt = 0 and dist > 0 → inf
    return speed_kmh <= limit


def _length(values: object) -> int | None:
    """Length of a one-dimensional sequence, None for anything else (scalars, strings, nested lists)."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
        return None
    try:
        if np.ndim(values) != 1:  # type: ignore[arg-type]
            return None
    except ValueError:  # ragged nesting
        return None
    return len(values)


def _check_lengths(arrays: dict[str, object], problems: ProblemList) -> int:
    """Check that every value is a 1-D sequence of the first one's length; return that length."""
    lengths: dict[str, int] = {}
    for name, values in arrays.items():
        n = _length(values)
        if n is None:
            problems.add("invalid_shape", f"{name} must be a one-dimensional sequence", field=name)
        else:
            lengths[name] = n
    first_name = next(iter(arrays))
    if first_name in lengths:
        expected = lengths[first_name]
        for name, n in lengths.items():
            if n != expected:
                problems.add(
                    "length_mismatch", f"{name} has {n} values but {first_name} has {expected}", field=name
                )
    return lengths.get(first_name, 0)


def _check_threshold(name: str, value: float, strict: bool, problems: ProblemList) -> None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if math.isnan(number) or number < 0 or (strict and number == 0):
        bound = "> 0" if strict else ">= 0"
        problems.add("invalid_argument", f"{name} must be a number {bound}, got {value!r}", field=name)


def _positions(mask: np.ndarray) -> str:
    where = np.flatnonzero(mask)
    quoted = ", ".join(str(i) for i in where[:_MAX_QUOTED])
    more = f" and {where.size - _MAX_QUOTED} more" if where.size > _MAX_QUOTED else ""
    return f"at position{'s' if where.size > 1 else ''} {quoted}{more}"


def _coords(values: npt.ArrayLike, field: str, limit: float, problems: ProblemList) -> np.ndarray:
    """``values`` as a float array; record non-numbers and values outside [-limit, limit] (NaN included)."""
    dtype = getattr(values, "dtype", None)
    try:
        if isinstance(dtype, np.dtype) and dtype.kind in "fiu":  # plain numbers: no conversion to check
            out = np.asarray(values, dtype=float).ravel()
        else:
            series = pd.to_numeric(pd.Series(np.asarray(values, dtype=object).ravel(), dtype=object))
            out = series.to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError):
        problems.add("invalid_coordinate", f"{field} must be numbers", field=field)
        return np.full(len(np.asarray(values, dtype=object).ravel()), np.nan)
    bad = ~(np.abs(out) <= limit)
    if bad.any():
        problems.add(
            "invalid_coordinate",
            f"{field} must be within [-{limit:g}, {limit:g}] degrees; {int(bad.sum())} value(s) are not "
            f"({_positions(bad)}, e.g. {out[bad][0]!r})",
            field=field,
        )
    return out


def _accuracy(values: npt.ArrayLike, problems: ProblemList) -> np.ndarray | None:
    """Accuracy as floats, NaN where unknown; record values that are not numbers."""
    try:
        series = pd.to_numeric(pd.Series(np.asarray(values, dtype=object).ravel(), dtype=object))
        return series.to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError):
        problems.add("invalid_accuracy", "accuracy must be numbers of metres, None or NaN", field="accuracy")
        return None


def _is_missing(value: object) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # array-like element: not missing, and rejected as not a datetime
        return False


def _is_aware(value: object) -> bool:
    return isinstance(value, datetime) and not pd.isna(value) and value.utcoffset() is not None


def _utc_micros(values: TimesLike, field: str, problems: ProblemList) -> np.ndarray | None:
    """Times as int64 microseconds since the Unix epoch (UTC); record naive or missing times."""
    dtype = getattr(values, "dtype", None)
    if isinstance(dtype, pd.DatetimeTZDtype):
        index = pd.DatetimeIndex(values)
        if index.hasnans:
            problems.add(
                "missing_time", f"{field} has missing times ({_positions(index.isna())})", field=field
            )
            return None
        return index.tz_convert("UTC").as_unit("us").asi8
    if isinstance(dtype, np.dtype) and dtype.kind == "M":
        problems.add(
            "naive_datetime",
            f"{field} must be timezone-aware; numpy datetime64 values carry no timezone (localize them, e.g. "
            "pandas .dt.tz_localize('UTC'))",
            field=field,
        )
        return None
    items = np.asarray(values, dtype=object).ravel()
    missing = np.fromiter((_is_missing(v) for v in items), bool, items.size)
    naive = np.fromiter(
        (not m and not _is_aware(v) for v, m in zip(items, missing, strict=True)), bool, items.size
    )
    if missing.any():
        problems.add("missing_time", f"{field} has missing times ({_positions(missing)})", field=field)
    if naive.any():
        problems.add(
            "naive_datetime",
            f"{field} must be timezone-aware datetimes; {int(naive.sum())} are not "
            f"({_positions(naive)}, e.g. {items[naive][0]!r})",
            field=field,
        )
    if missing.any() or naive.any():
        return None
    if items.size == 0:
        return np.empty(0, dtype=np.int64)
    return pd.to_datetime(list(items), utc=True).as_unit("us").asi8


def _from_micros(values: list) -> pd.Series:
    return pd.Series(pd.to_datetime(np.asarray(values, dtype=np.int64), unit="us", utc=True))
