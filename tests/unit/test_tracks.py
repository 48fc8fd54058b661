"""Tests of geo.tracks: flagging GPS fixes, geodesic track length and per-patrol lines.

Expected distances come from pyproj.Geod.fwd (a point a known distance along an azimuth) or from integrating
the meridian radius of curvature with numpy, not from the functions under test.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely

from geo.errors import GeoValidationError
from geo.tracks import (
    FLAG_ACCURACY,
    FLAG_FUTURE,
    FLAG_SPEED,
    flag_fixes,
    track_length_m,
    tracks_to_lines,
)

GEOD = pyproj.Geod(ellps="WGS84")
QINGDAO = (120.38, 36.06)
START = datetime(2024, 5, 6, 9, 0, tzinfo=timezone(timedelta(hours=8)))  # Beijing time
NOW = START + timedelta(hours=2)
STEP_S = 10.0
WALK_KMH = 5.0


def walk(n: int, *, azimuth: float = 60.0, kmh: float = WALK_KMH, step_s: float = STEP_S):
    """``n`` fixes ``step_s`` apart along a straight line from Qingdao at ``kmh``: times, lon, lat."""
    step_m = kmh / 3.6 * step_s
    lon, lat, _ = GEOD.fwd(
        np.full(n, QINGDAO[0]), np.full(n, QINGDAO[1]), np.full(n, azimuth), np.arange(n) * step_m
    )
    times = [START + timedelta(seconds=step_s * i) for i in range(n)]
    return times, np.asarray(lon), np.asarray(lat)


def flags_of(times, lon, lat, accuracy=None, **kwargs):
    if accuracy is None:
        accuracy = [5.0] * len(times)
    return flag_fixes(times, lon, lat, accuracy, now=kwargs.pop("now", NOW), **kwargs)


# --- flag_fixes ---------------------------------------------------------------------------------------------


def test_walk_at_5_kmh_is_not_flagged() -> None:
    times, lon, lat = walk(30)
    assert flags_of(times, lon, lat) == [None] * 30


def test_a_spike_is_flagged_but_not_the_return_to_the_path() -> None:
    times, lon, lat = walk(10)
    # Fix 5 jumps 2 km sideways (≈720 km/h over 10 s); fix 6 is back on the path.
    spike_lon, spike_lat, _ = GEOD.fwd(lon[5], lat[5], 150.0, 2000.0)
    lon[5], lat[5] = spike_lon, spike_lat
    assert flags_of(times, lon, lat) == [None] * 5 + [FLAG_SPEED] + [None] * 4


def test_speed_is_measured_from_the_last_unflagged_fix() -> None:
    # A two-fix excursion 2 km off the path: fix 2 is a walk away from fix 1, but fix 1 is flagged, so fix 2
    # is measured from fix 0 and flagged too; fix 3, back on the path, is fine.
    times, lon, lat = walk(4)
    lon[1], lat[1], _ = GEOD.fwd(lon[1], lat[1], 150.0, 2000.0)
    lon[2], lat[2], _ = GEOD.fwd(lon[2], lat[2], 150.0, 2000.0)
    assert flags_of(times, lon, lat) == [None, FLAG_SPEED, FLAG_SPEED, None]


def test_speed_threshold_is_configurable() -> None:
    times, lon, lat = walk(5, kmh=40.0)
    assert flags_of(times, lon, lat) == [None] * 5
    # At 30 km/h every later fix is 40 km/h away from fix 0, the only unflagged reference.
    assert flags_of(times, lon, lat, max_speed_kmh=30.0) == [None] + [FLAG_SPEED] * 4
    assert flags_of(times, lon, lat, max_speed_kmh=40.0 * (1 + 1e-9)) == [None] * 5


def test_equal_timestamps() -> None:
    times, lon, lat = walk(3)
    same_time = [times[0], times[1], times[1], times[2]]
    same_point = flags_of(same_time, [lon[0], lon[1], lon[1], lon[2]], [lat[0], lat[1], lat[1], lat[2]])
    assert same_point == [None] * 4
    # One metre apart at the same instant is infinitely fast.
    moved_lon, moved_lat, _ = GEOD.fwd(lon[1], lat[1], 0.0, 1.0)
    moved = flags_of(same_time, [lon[0], lon[1], moved_lon, lon[2]], [lat[0], lat[1], moved_lat, lat[2]])
    assert moved == [None, None, FLAG_SPEED, None]


def test_poor_accuracy_is_flagged() -> None:
    times, lon, lat = walk(4)
    assert flags_of(times, lon, lat, [5.0, 150.0, 100.0, -1.0]) == [None, FLAG_ACCURACY, None, FLAG_ACCURACY]


def test_unknown_accuracy_is_not_flagged() -> None:
    times, lon, lat = walk(4)
    assert flags_of(times, lon, lat, [np.nan, None, 8.0, float("nan")]) == [None] * 4
    assert flags_of(times, lon, lat, pd.array([None, 3.0, 150.0, None], dtype="Float64")) == [
        None,
        None,
        FLAG_ACCURACY,
        None,
    ]


def test_future_fix_is_flagged() -> None:
    times, lon, lat = walk(4)
    now = times[-1]
    times[2] = now + timedelta(hours=1)
    times[3] = now + timedelta(seconds=120)  # exactly at the slack: allowed
    assert flags_of(times, lon, lat, now=now) == [None, None, FLAG_FUTURE, None]


def test_precedence_future_then_accuracy_then_speed() -> None:
    times, lon, lat = walk(4)
    far_lon, far_lat, _ = GEOD.fwd(lon[1], lat[1], 0.0, 5000.0)
    lon[1:3], lat[1:3] = far_lon, far_lat  # fixes 1 and 2 would both be speed jumps from fix 0
    times[1] = NOW + timedelta(hours=1)  # also in the future
    assert flags_of(times, lon, lat, [5.0, 500.0, 500.0, 5.0]) == [None, FLAG_FUTURE, FLAG_ACCURACY, None]


def test_unsorted_input_gives_flags_in_input_order() -> None:
    times, lon, lat = walk(10)
    lon[5], lat[5], _ = GEOD.fwd(lon[5], lat[5], 150.0, 2000.0)
    accuracy = np.full(10, 5.0)
    accuracy[7] = 150.0
    expected = [None] * 5 + [FLAG_SPEED, None, FLAG_ACCURACY, None, None]
    for perm in (np.random.default_rng(7).permutation(10), np.arange(10)[::-1]):
        shuffled = flag_fixes([times[i] for i in perm], lon[perm], lat[perm], accuracy[perm], now=NOW)
        assert shuffled == [expected[i] for i in perm]


def test_pandas_and_mixed_timezones_agree() -> None:
    times, lon, lat = walk(6)
    lon[3], lat[3], _ = GEOD.fwd(lon[3], lat[3], 150.0, 2000.0)
    expected = [None, None, None, FLAG_SPEED, None, None]
    series = pd.Series(pd.to_datetime(times)).dt.tz_convert("UTC")
    assert flag_fixes(series, pd.Series(lon), pd.Series(lat), [5.0] * 6, now=NOW) == expected
    mixed = [t.astimezone(UTC) if i % 2 else t for i, t in enumerate(times)]
    assert flag_fixes(mixed, list(lon), list(lat), [5.0] * 6, now=NOW.astimezone(UTC)) == expected


def test_empty_input() -> None:
    assert flag_fixes([], [], [], [], now=NOW) == []


def _fields(exc: pytest.ExceptionInfo[GeoValidationError]) -> set[str | None]:
    return {p.field for p in exc.value.problems}


def test_lengths_must_match() -> None:
    times, lon, lat = walk(3)
    with pytest.raises(GeoValidationError) as exc:
        flag_fixes(times, lon[:2], lat, [5.0] * 4, now=NOW)
    assert _fields(exc) == {"lon", "accuracy"}


@pytest.mark.parametrize(
    ("field", "value"), [("lat", 90.5), ("lat", -91.0), ("lat", np.nan), ("lon", 180.01), ("lon", -200.0)]
)
def test_coordinates_must_be_in_range(field: str, value: float) -> None:
    times, lon, lat = walk(3)
    coords = {"lon": lon, "lat": lat}
    coords[field][1] = value
    with pytest.raises(GeoValidationError) as exc:
        flag_fixes(times, coords["lon"], coords["lat"], [5.0] * 3, now=NOW)
    assert _fields(exc) == {field}


def test_naive_times_are_rejected() -> None:
    times, lon, lat = walk(3)
    naive = [t.replace(tzinfo=None) for t in times]
    with pytest.raises(GeoValidationError) as exc:
        flag_fixes([times[0], *naive[1:]], lon, lat, [5.0] * 3, now=NOW)
    assert _fields(exc) == {"times"}
    with pytest.raises(GeoValidationError) as exc:
        flag_fixes(np.array(naive, dtype="datetime64[us]"), lon, lat, [5.0] * 3, now=NOW)
    assert _fields(exc) == {"times"}
    with pytest.raises(GeoValidationError) as exc:
        flag_fixes(times, lon, lat, [5.0] * 3, now=NOW.replace(tzinfo=None))
    assert _fields(exc) == {"now"}


def test_missing_time_and_bad_thresholds_are_rejected() -> None:
    times, lon, lat = walk(3)
    with pytest.raises(GeoValidationError) as exc:
        flag_fixes([times[0], None, times[2]], lon, lat, [5.0] * 3, now=NOW, max_speed_kmh=0.0)
    assert _fields(exc) == {"times", "max_speed_kmh"}


# --- track_length_m -----------------------------------------------------------------------------------------


def _meridian_arc_m(lat0: float, lat1: float) -> float:
    """Meridian arc on WGS-84 by Simpson integration of the meridian radius of curvature."""
    a, f = 6378137.0, 1 / 298.257223563
    e2 = f * (2 - f)
    phi = np.radians(np.linspace(lat0, lat1, 2001))
    m = a * (1 - e2) / (1 - e2 * np.sin(phi) ** 2) ** 1.5
    h = phi[1] - phi[0]
    return float(h / 3 * (m[0] + m[-1] + 4 * m[1:-1:2].sum() + 2 * m[2:-1:2].sum()))


def test_track_length_of_a_one_degree_meridian_arc() -> None:
    lon = [QINGDAO[0]] * 5
    lat = [36.0, 36.25, 36.5, 36.75, 37.0]
    length = track_length_m(lon, lat)
    assert length == pytest.approx(110_900.0, rel=1e-3)
    assert length == pytest.approx(_meridian_arc_m(36.0, 37.0), rel=1e-9)


def test_track_length_sums_segments_and_handles_short_tracks() -> None:
    _, lon, lat = walk(11)  # 10 steps of 5/3.6*10 m
    assert track_length_m(lon, lat) == pytest.approx(10 * WALK_KMH / 3.6 * STEP_S, rel=1e-9)
    assert track_length_m([QINGDAO[0]], [QINGDAO[1]]) == 0.0
    assert track_length_m([], []) == 0.0


def test_track_length_validates() -> None:
    with pytest.raises(GeoValidationError) as exc:
        track_length_m([1.0, 2.0], [1.0])
    assert _fields(exc) == {"lat"}
    with pytest.raises(GeoValidationError) as exc:
        track_length_m([1.0, 2.0], [1.0, 95.0])
    assert _fields(exc) == {"lat"}


# --- tracks_to_lines ----------------------------------------------------------------------------------------


def _fixes_frame() -> pd.DataFrame:
    """Patrol "A": 6 fixes (one spike, one coarse); "B": 4 fixes, heading the other way; "C": one usable."""
    a_times, a_lon, a_lat = walk(6)
    a_lon[2], a_lat[2], _ = GEOD.fwd(a_lon[2], a_lat[2], 150.0, 2000.0)
    b_times, b_lon, b_lat = walk(4, azimuth=240.0, kmh=4.0)
    frame = pd.DataFrame(
        {
            "patrol_id": ["A"] * 6 + ["B"] * 4 + ["C"] * 2,
            "time": a_times + b_times + b_times[:2],
            "lon": np.concatenate([a_lon, b_lon, b_lon[:2]]),
            "lat": np.concatenate([a_lat, b_lat, b_lat[:2]]),
            "accuracy": [5.0, 5.0, 5.0, 5.0, 300.0, 5.0] + [5.0] * 4 + [5.0, 300.0],
        }
    )
    frame["flag"] = None
    for _, group in frame.groupby("patrol_id"):
        flags = flag_fixes(group["time"], group["lon"], group["lat"], group["accuracy"], now=NOW)
        frame.loc[group.index, "flag"] = flags
    assert frame["flag"].notna().sum() == 3  # A's spike and coarse fix, C's coarse fix
    # Shuffled rows: lines must follow time, not row order.
    return frame.sample(frac=1.0, random_state=3).reset_index(drop=True)


def test_tracks_to_lines_drops_flagged_fixes() -> None:
    frame = _fixes_frame()
    lines = tracks_to_lines(frame)
    assert list(lines.columns) == ["patrol_id", "fixes", "length_m", "started", "ended", "geometry"]
    assert lines.crs == pyproj.CRS("EPSG:4326")
    assert list(lines["patrol_id"]) == ["A", "B"]  # C has one usable fix
    assert list(lines["fixes"]) == [4, 4]

    step_a = WALK_KMH / 3.6 * STEP_S
    step_b = 4.0 / 3.6 * STEP_S
    a, b = lines.iloc[0], lines.iloc[1]
    # A keeps fixes 0, 1, 3, 5 of a straight walk: 5 steps long.
    assert a["length_m"] == pytest.approx(5 * step_a, rel=1e-6)
    assert b["length_m"] == pytest.approx(3 * step_b, rel=1e-9)
    _, a_lon, a_lat = walk(6)
    expected = shapely.linestrings(a_lon[[0, 1, 3, 5]], a_lat[[0, 1, 3, 5]])
    assert a["geometry"].equals_exact(expected, tolerance=1e-12)
    assert a["started"] == pd.Timestamp(START)
    assert a["ended"] == pd.Timestamp(START + timedelta(seconds=5 * STEP_S))
    assert str(lines["started"].dt.tz) == "UTC"


def test_tracks_to_lines_custom_columns_and_no_flag_column() -> None:
    frame = _fixes_frame().rename(columns={"patrol_id": "pid", "time": "t", "lon": "x", "lat": "y"})
    lines = tracks_to_lines(frame.drop(columns="flag"), by="pid", time="t", lon="x", lat="y", flag=None)
    assert list(lines["pid"]) == ["A", "B", "C"]
    assert list(lines["fixes"]) == [6, 4, 2]


def test_tracks_to_lines_empty_and_missing_columns() -> None:
    frame = _fixes_frame()
    lines = tracks_to_lines(frame[frame["patrol_id"] == "C"])
    assert len(lines) == 0
    assert list(lines.columns) == ["patrol_id", "fixes", "length_m", "started", "ended", "geometry"]
    with pytest.raises(GeoValidationError) as exc:
        tracks_to_lines(frame.drop(columns=["flag", "lat"]))
    assert _fields(exc) == {"flag", "lat"}


def test_tracks_to_lines_rejects_naive_times() -> None:
    frame = _fixes_frame()
    frame["time"] = pd.to_datetime(frame["time"]).dt.tz_localize(None)
    with pytest.raises(GeoValidationError) as exc:
        tracks_to_lines(frame)
    assert _fields(exc) == {"time"}


def test_meridian_helper_matches_known_value() -> None:
    # Sanity check of the independent reference: equator to pole is 10 001 965.729 m on WGS-84.
    assert _meridian_arc_m(0.0, 90.0) == pytest.approx(10_001_965.729, abs=1e-3)
