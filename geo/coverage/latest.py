"""When each street run and building was last covered by a patrol track."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from geo.coverage.measure import in_box, run_frame, street_runs
from geo.coverage.streets import (
    DISTANCE_M,
    OUTLINE_PIECE_M,
    TRACK_PIECE_SHARE,
    US_PER_S,
    CoverageBase,
    Targets,
    check_measure_args,
)
from geo.coverage.track import (
    Track,
    build_track,
    check_unsplit,
    dask_parts,
    is_dask,
    latest_near,
    near_track,
    partition_track,
    shipped,
)
from geo.errors import GeoValidationError


@dataclass(frozen=True)
class LastCovered:
    """Result of :func:`last_covered`: street runs and buildings with ``last_covered`` (UTC, NaT if never)."""

    streets: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame


# --- last covered -------------------------------------------------------------------------------------------


def last_covered(
    base: CoverageBase,
    fixes: Any,
    *,
    distance_m: float = DISTANCE_M,
    visited: Mapping[Any, datetime] | pd.Series | None = None,
    period: tuple[datetime, datetime] | None = None,
    by: str = "patrol_id",
    time: str = "time",
    lon: str = "lon",
    lat: str = "lat",
    flag: str | None = "flag",
) -> LastCovered:
    """When a patrol track last came within ``distance_m`` of each street run and building.

    The time of a track piece is the time interpolated between its fixes at the middle of the piece (pieces
    are at most ``distance_m / 4`` long, a few seconds of walking); the last-covered time of a street piece or
    a building is the latest time of the track pieces within ``distance_m`` of it, NaT when none is, and its
    patrol the patrol of that track piece. Street runs are maximal stretches of a clipped street part last
    covered by the same patrol (or never); a run's time is the earliest last-covered time of its pieces, so
    all of the run was covered at or after it. To list the blind spots not covered for more than N days::

        stale = result.streets[~(result.streets.last_covered >= now - pd.Timedelta(days=N))]

    Parameters
    ----------
    base, fixes, distance_m, period, by, time, lon, lat, flag
        As for :func:`grid_coverage` (pass several weeks of fixes, per patrol or per day).
    visited
        Building id → time of a visit (e.g. a household visit), counted as covering the building then.

    Returns
    -------
    LastCovered
        ``streets`` with ``code``, ``osm_id``, ``name``, ``highway``, ``last_covered`` (datetime64 UTC, NaT if
        never), ``patrol`` (the ``by`` value, None if never), ``length_m`` and a LineString; ``buildings``
        with ``building_id``, ``code``, ``last_covered``, ``patrol`` (None when never, or when a visit was
        later) and the footprint; both in the CRS of the streets given.

    Raises
    ------
    GeoValidationError
        As for :func:`grid_coverage`, and for visit times that are not timezone-aware.
    """
    check_measure_args(distance_m, period)
    options: dict[str, Any] = {"period": period, "by": by, "time": time, "lon": lon, "lat": lat, "flag": flag}
    piece_m = float(distance_m) * TRACK_PIECE_SHARE
    if is_dask(fixes):
        street, building = _dask_latest(base.targets, fixes, float(distance_m), piece_m, options)
    else:
        track = build_track(fixes, base.targets.crs, piece_m=piece_m, **options)
        street, building = _latest_times(base.targets, track, float(distance_m))
    building = building.later(_Latest(_visit_times(base, visited), np.full(base.building_ids.size, None)))
    code = pd.factorize(street.patrol, use_na_sentinel=True)[0]
    runs = street_runs(base, code)
    # A run is last covered by one patrol; its time is the earliest among its pieces, so every part of the run
    # was covered at or after it.
    with np.errstate(invalid="ignore"):
        first_time = np.minimum.reduceat(street.time, runs["first"]) if runs["first"].size else np.empty(0)
    streets = run_frame(
        base, runs, {"last_covered": _as_utc(first_time), "patrol": street.patrol[runs["first"]]}
    )
    buildings = gpd.GeoDataFrame(
        {
            "building_id": base.building_ids,
            "code": base.codes[base.building_grid] if base.codes.size else base.building_grid,
            "last_covered": _as_utc(building.time),
            "patrol": building.patrol,
        },
        geometry=base.building_geoms.to_numpy(),
        crs=base.out_crs,
    )
    return LastCovered(streets, buildings)


@dataclass(frozen=True, eq=False)
class _Latest:
    """Per street piece or building: latest time (s since 1970, NaN if never) and the patrol key then."""

    time: np.ndarray
    patrol: np.ndarray

    @classmethod
    def never(cls, n: int) -> _Latest:
        return cls(np.full(n, np.nan), np.full(n, None, dtype=object))

    def later(self, other: _Latest) -> _Latest:
        """Elementwise the later of the two (``self`` on ties)."""
        take = other.time > self.time
        take |= np.isnan(self.time) & ~np.isnan(other.time)
        return _Latest(np.where(take, other.time, self.time), np.where(take, other.patrol, self.patrol))


def _latest_times(targets: Targets, track: Track, distance: float) -> tuple[_Latest, _Latest]:
    """When a track piece last came within ``distance`` of each street piece and building, and its patrol.

    Track pieces are taken in batches from the latest; a street piece is dated by the first batch that covers
    it (with the latest time of that batch's pieces near it) and not looked at again.
    """
    street = _Latest.never(targets.mid.shape[0])
    building = _Latest.never(targets.n_buildings)
    if track.size == 0:
        return street, building
    when = (track.ta + track.tb) / 2
    key = track.patrols[track.patrol]
    order = np.argsort(-when, kind="stable")
    batches = np.array_split(order, max(1, min(64, track.size // 50_000)))
    todo = in_box(targets.mid, track, distance)
    o_mid = (targets.outline_a + targets.outline_b) / 2
    o_todo = (
        in_box(o_mid, track, distance + OUTLINE_PIECE_M) if targets.n_buildings else np.empty(0, np.int64)
    )
    o_half = float(targets.outline_half.max(initial=0.0))
    outline = _Latest.never(o_mid.shape[0])
    for batch in batches:
        part = _subset(track, batch)
        tree = cKDTree(part.mid, balanced_tree=False, compact_nodes=False)
        hit = near_track(tree, part, targets.mid[todo], distance)
        found = todo[hit]
        t, piece = latest_near(tree, part, when[batch], targets.mid[found], distance)
        street.time[found], street.patrol[found] = t, key[batch][piece]
        todo = todo[~hit]
        if o_todo.size:
            ends = (targets.outline_a[o_todo], targets.outline_b[o_todo])
            hit = near_track(tree, part, o_mid[o_todo], distance, ends=ends, half=o_half)
            found = o_todo[hit]
            ends = (targets.outline_a[found], targets.outline_b[found])
            t, piece = latest_near(tree, part, when[batch], o_mid[found], distance, ends=ends, half=o_half)
            outline.time[found], outline.patrol[found] = t, key[batch][piece]
            o_todo = o_todo[~hit]
        if todo.size == 0 and o_todo.size == 0:
            break
    if targets.n_buildings:
        # Per building, the latest of its outline pieces and of the track pieces inside its footprint.
        assert targets.building_index is not None
        inside = targets.building_index.query_xy(*track.mid.T)
        owner = np.concatenate((targets.outline_building, inside[inside >= 0]))
        times = np.concatenate((outline.time, when[inside >= 0]))
        keys = np.concatenate((outline.patrol, key[inside >= 0]))
        dated = ~np.isnan(times)
        owner, times, keys = owner[dated], times[dated], keys[dated]
        order = np.lexsort((times, owner))
        owner, times, keys = owner[order], times[order], keys[order]
        last = np.flatnonzero(np.r_[owner[1:] != owner[:-1], True]) if owner.size else owner
        building.time[owner[last]] = times[last]
        building.patrol[owner[last]] = keys[last]
    return street, building


def _subset(track: Track, rows: np.ndarray) -> Track:
    return Track(
        track.a[rows], track.b[rows], track.ta[rows], track.tb[rows], track.patrol[rows], track.patrols
    )


def _visit_times(base: CoverageBase, visited: Mapping[Any, datetime] | pd.Series | None) -> np.ndarray:
    out = np.full(base.building_ids.size, np.nan)
    if visited is None:
        return out
    series = visited if isinstance(visited, pd.Series) else pd.Series(dict(visited), dtype=object)
    if len(series) == 0:
        return out
    aware = [isinstance(v, datetime) and v.utcoffset() is not None for v in series.to_numpy()]
    if not all(aware):
        bad = series.to_numpy()[~np.asarray(aware)][0]
        raise GeoValidationError(
            f"visited must map building ids to timezone-aware datetimes, got {bad!r}", field="visited"
        )
    when = pd.to_datetime(series, utc=True)
    seconds = when.dt.as_unit("us").astype("int64").to_numpy() / US_PER_S
    latest = pd.Series(seconds, index=series.index).groupby(level=0).max()
    return latest.reindex(base.building_ids).to_numpy(dtype=float)


def _as_utc(seconds: np.ndarray) -> pd.Series:
    us = np.where(np.isnan(seconds), np.iinfo(np.int64).min, np.round(seconds * US_PER_S)).astype(np.int64)
    values = pd.to_datetime(us, unit="us", utc=True)
    return pd.Series(values).where(~np.isnan(seconds))


def _latest_partition(
    part: pd.DataFrame, targets: Targets, distance: float, piece_m: float, options: dict
) -> Any:
    track = partition_track(part, targets.crs, piece_m, options)
    return (*_latest_times(targets, track, distance), track.patrols)


def _dask_latest(
    targets: Targets, fixes: Any, distance: float, piece_m: float, options: dict
) -> tuple[_Latest, _Latest]:
    parts = dask_parts(fixes, _latest_partition, shipped(targets), distance, piece_m, options)
    check_unsplit([p[2] for p in parts], options["by"])
    street, building = _Latest.never(targets.mid.shape[0]), _Latest.never(targets.n_buildings)
    for s, b, _ in parts:
        street, building = street.later(s), building.later(b)
    return street, building
