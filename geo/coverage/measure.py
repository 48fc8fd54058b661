"""Measuring coverage: which street pieces and buildings came within the distance of a track, per grid, and
the buffer-based reference method it is checked against."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

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
    near_track,
    partition_track,
    shipped,
    track_from_vertices,
    with_lon_lat,
)
from geo.errors import GeoValidationError
from geo.tracks import track_length_m, track_vertices, tracks_to_lines


@dataclass(frozen=True)
class Coverage:
    """Result of :func:`grid_coverage`.

    Attributes
    ----------
    grids
        One row per grid: ``code``; ``street_m`` (walkable street length in the grid), ``covered_m``,
        ``coverage_pct`` (NaN without streets); ``buildings`` (buildings whose representative point is in the
        grid), ``buildings_covered``, ``building_pct`` (NaN without buildings); ``track_m`` and ``patrol_s``
        (length and duration of the tracks inside the grid; the time between two fixes is spread evenly along
        the segment joining them).
    streets
        Street runs: maximal stretches of one clipped street part that are all covered or all not, with
        ``code``, ``osm_id``, ``name``, ``highway``, ``covered``, ``length_m`` and a LineString, in the CRS of
        the streets given. Uncovered runs are the blind spots.
    buildings
        The buildings inside grids: ``building_id``, ``code``, ``covered``, ``visited`` and the footprint.
    """

    grids: pd.DataFrame
    streets: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame


# --- measuring ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Partial:
    """What one set of tracks contributes: covered flags (OR-able) and per-grid sums (addable)."""

    street: np.ndarray
    building: np.ndarray
    track_m: np.ndarray
    patrol_s: np.ndarray
    patrols: np.ndarray

    @classmethod
    def zeros(cls, targets: Targets) -> _Partial:
        n = targets.grid_geoms.size
        return cls(
            np.zeros(targets.mid.shape[0], dtype=bool),
            np.zeros(targets.n_buildings, dtype=bool),
            np.zeros(n),
            np.zeros(n),
            np.empty(0, dtype=object),
        )

    def combine(self, other: _Partial) -> _Partial:
        return _Partial(
            self.street | other.street,
            self.building | other.building,
            self.track_m + other.track_m,
            self.patrol_s + other.patrol_s,
            np.concatenate((self.patrols, other.patrols)),
        )


def _measure(targets: Targets, track: Track, distance: float,
             boxes: tuple[_SortedPoints, _SortedPoints] | None = None) -> _Partial:
    """Covered street pieces and buildings, and distance and time per grid, for one set of track pieces."""
    if track.size == 0:
        return _Partial.zeros(targets)
    # Leaves of 32: the tree over ~2M track pieces builds ~10 % faster, searches as fast (same answers).
    tree = cKDTree(track.mid, leafsize=32, balanced_tree=False, compact_nodes=False)
    street = np.zeros(targets.mid.shape[0], dtype=bool)
    near = in_box(targets.mid, track, distance) if boxes is None else boxes[0].in_box(track, distance)
    street[near] = near_track(tree, track, np.take(targets.mid, near, axis=0), distance)
    building = _buildings_near(targets, track, tree, distance, None if boxes is None else boxes[1])
    track_m, patrol_s = _per_grid(targets, track)
    return _Partial(street, building, track_m, patrol_s, track.patrols)


def in_box(points: np.ndarray, track: Track, margin: float) -> np.ndarray:
    """Positions of the points within ``margin`` of the bounding box of the track (a cheap first cut)."""
    # Column by column: numpy reduces an (n, 2) array along axis 0 about fifteen times slower.
    lo = [min(track.a[:, i].min(), track.b[:, i].min()) - margin for i in (0, 1)]
    hi = [max(track.a[:, i].max(), track.b[:, i].max()) + margin for i in (0, 1)]
    x, y = points[:, 0], points[:, 1]
    return np.flatnonzero((x >= lo[0]) & (x <= hi[0]) & (y >= lo[1]) & (y <= hi[1]))


@dataclass(frozen=True, eq=False)
class _SortedPoints:
    """Points bucketed in bands of y and ordered along x within each band, so that :func:`in_box` for a small box
    looks at the points of a few band slices (binary searches) instead of scanning them all."""

    points: np.ndarray
    order: np.ndarray  # positions, by band then x
    xs: np.ndarray  # x in that order
    band_start: np.ndarray  # band b holds order[band_start[b]:band_start[b + 1]]
    y0: float
    band_m: float

    @classmethod
    def of(cls, points: np.ndarray, band_m: float = 50.0) -> _SortedPoints:
        y0 = float(points[:, 1].min()) if len(points) else 0.0
        band = np.floor((points[:, 1] - y0) / band_m).astype(np.int64)
        order = np.lexsort((points[:, 0], band))
        starts = np.searchsorted(band[order], np.arange(int(band.max(initial=-1)) + 2))
        return cls(points, order, points[order, 0], starts, y0, band_m)

    def in_box(self, track: Track, margin: float) -> np.ndarray:
        """The same positions, in the same (ascending) order, as ``in_box(self.points, track, margin)``."""
        lo = [min(track.a[:, i].min(), track.b[:, i].min()) - margin for i in (0, 1)]
        hi = [max(track.a[:, i].max(), track.b[:, i].max()) + margin for i in (0, 1)]
        # the band of a point is monotone in its y: every point with lo <= y <= hi lies in bands first..last
        first = max(int(np.floor((lo[1] - self.y0) / self.band_m)), 0)
        last = min(int(np.floor((hi[1] - self.y0) / self.band_m)), self.band_start.size - 2)
        parts = []
        for b in range(first, last + 1):
            s, e = int(self.band_start[b]), int(self.band_start[b + 1])
            xs = self.xs[s:e]
            parts.append(self.order[s + np.searchsorted(xs, lo[0], side="left"):
                                    s + np.searchsorted(xs, hi[0], side="right")])
        cand = np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)
        y = self.points[cand, 1]
        return np.sort(cand[(y >= lo[1]) & (y <= hi[1])])


_sorted_cache: weakref.WeakKeyDictionary[Targets, tuple[_SortedPoints, _SortedPoints]] = weakref.WeakKeyDictionary()
_sorted_lock = threading.Lock()


def _sorted_points(targets: Targets) -> tuple[_SortedPoints, _SortedPoints]:
    """Street piece midpoints and building outline piece midpoints of ``targets``, bucketed for box lookups (kept
    while ``targets`` lives: many small tracks measured against a city's pieces then skip a scan of them all; one
    big track, or a Dask task with its own copy of the targets, scans instead)."""
    with _sorted_lock:
        got = _sorted_cache.get(targets)
    if got is None:
        got = (_SortedPoints.of(targets.mid), _SortedPoints.of((targets.outline_a + targets.outline_b) / 2))
        with _sorted_lock:
            _sorted_cache[targets] = got
    return got


def _buildings_near(targets: Targets, track: Track, tree: cKDTree, distance: float,
                    outlines: _SortedPoints | None) -> np.ndarray:
    covered = np.zeros(targets.n_buildings, dtype=bool)
    if targets.n_buildings == 0:
        return covered
    if outlines is None:
        mid = (targets.outline_a + targets.outline_b) / 2
        near = in_box(mid, track, distance + OUTLINE_PIECE_M)
    else:
        mid = outlines.points
        near = outlines.in_box(track, distance + OUTLINE_PIECE_M)
    hit = near_track(
        tree,
        track,
        mid[near],
        distance,
        ends=(targets.outline_a[near], targets.outline_b[near]),
        half=float(targets.outline_half.max(initial=0.0)),
    )
    covered[targets.outline_building[near][hit]] = True
    # A track piece wholly inside a footprint (a building wider than twice the distance) is inside it.
    assert targets.building_index is not None
    inside = targets.building_index.query_xy(*track.mid.T)
    covered[inside[inside >= 0]] = True
    return covered


def _per_grid(targets: Targets, track: Track) -> tuple[np.ndarray, np.ndarray]:
    """Track length (µm) and time (µs) inside each grid; time is spread evenly along each piece.

    Each piece's share is rounded to a whole µm / µs, so the sums are exact integers (below 2**53) and the
    same in whatever order partial results are added.
    """
    n = targets.grid_geoms.size
    length = track.length
    duration = track.tb - track.ta
    ga, gb = _grids_of_ends(targets, track)
    same = (ga == gb) & (ga >= 0)
    track_m = np.bincount(ga[same], np.round(length[same] * US_PER_S), minlength=n)
    patrol_s = np.bincount(ga[same], np.round(duration[same] * US_PER_S), minlength=n)
    # Pieces crossing a grid edge (or leaving every grid): split them exactly with the grids they meet.
    cross = np.flatnonzero(~same & (length > 0))
    if cross.size:
        lines = shapely.linestrings(np.stack((track.a[cross], track.b[cross]), axis=1))
        # Polygons as the query side: GEOS prepares each grid once, instead of testing big grids unprepared.
        grid, which = shapely.STRtree(lines).query(targets.grid_geoms, predicate="intersects")
        order = np.lexsort((grid, which))
        which, grid = which[order], grid[order]
        inside = shapely.length(shapely.intersection(lines[which], targets.grid_geoms[grid]))
        piece = cross[which]
        track_m += np.bincount(grid, np.round(inside * US_PER_S), minlength=n)
        patrol_s += np.bincount(
            grid, np.round(duration[piece] * inside / length[piece] * US_PER_S), minlength=n
        )
    return track_m, patrol_s


def _grids_of_ends(targets: Targets, track: Track) -> tuple[np.ndarray, np.ndarray]:
    """The grid of each track piece's start and end; a piece that goes on where the previous one ended (the
    same point) reuses its lookup."""
    ga = targets.grid_index.query_xy(*track.a.T)
    gb = np.empty_like(ga)
    if ga.size:
        cont = np.zeros(ga.size, dtype=bool)
        cont[:-1] = (track.b[:-1, 0] == track.a[1:, 0]) & (track.b[:-1, 1] == track.a[1:, 1])
        gb[:-1][cont[:-1]] = ga[1:][cont[:-1]]
        rest = np.flatnonzero(~cont)
        gb[rest] = targets.grid_index.query_xy(track.b[rest, 0], track.b[rest, 1])
    return ga, gb


def grid_coverage(
    base: CoverageBase,
    fixes: Any,
    *,
    distance_m: float = DISTANCE_M,
    visited: Iterable[Any] | None = None,
    period: tuple[datetime, datetime] | None = None,
    by: str = "patrol_id",
    time: str = "time",
    lon: str = "lon",
    lat: str = "lat",
    flag: str | None = "flag",
) -> Coverage:
    """Share of each grid's walkable streets and buildings that patrol tracks came within ``distance_m`` of.

    Parameters
    ----------
    base
        Streets, buildings and grids from :func:`prepare_coverage`.
    fixes
        GPS fixes, one row per fix: a DataFrame with ``by``, ``time``, ``lon``, ``lat`` (and ``flag``) columns
        as :func:`geo.tracks.tracks_to_lines` reads them; a GeoDataFrame of points may give the position as
        its geometry instead of ``lon``/``lat``; or a ``dask_geopandas``/``dask.dataframe`` frame of either
        (see the module docstring).
    distance_m
        A street piece or building within this distance (m) of a track is covered.
    visited
        Building ids (values of the ``building_id`` column) to count as covered whatever the tracks, e.g. the
        households visited in the period.
    period
        (start, end): only fixes with ``start <= time < end`` are used (timezone-aware datetimes).
    by, time, lon, lat, flag
        Column names, as for :func:`geo.tracks.tracks_to_lines`; ``flag=None`` uses every fix.

    Returns
    -------
    Coverage

    Raises
    ------
    GeoValidationError
        For a ``distance_m`` that is not a positive number, a bad ``period``, the problems that
        :func:`geo.tracks.tracks_to_lines` finds in the fixes, or (dask) a patrol spread over several
        partitions.
    """
    check_measure_args(distance_m, period)
    options: dict[str, Any] = {"period": period, "by": by, "time": time, "lon": lon, "lat": lat, "flag": flag}
    piece_m = float(distance_m) * TRACK_PIECE_SHARE
    if is_dask(fixes):
        partial = _dask_measure(base.targets, fixes, float(distance_m), piece_m, options)
    else:
        track = build_track(fixes, base.targets.crs, piece_m=piece_m, **options)
        partial = _measure(base.targets, track, float(distance_m))
    return _coverage(base, partial, visited)


def _coverage(base: CoverageBase, partial: _Partial, visited: Iterable[Any] | None) -> Coverage:
    t = base.targets
    n = base.codes.size
    grid_of_piece = base.part_grid[t.part]
    street_m = np.bincount(grid_of_piece, t.length, minlength=n)
    covered_m = np.bincount(grid_of_piece, t.length * partial.street, minlength=n)
    was_visited = _visited_mask(base, visited)
    b_cov = partial.building | was_visited
    buildings = np.bincount(base.building_grid, minlength=n)
    buildings_covered = np.bincount(base.building_grid, b_cov, minlength=n).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        grids = pd.DataFrame(
            {
                "code": base.codes,
                "street_m": street_m,
                "covered_m": covered_m,
                "coverage_pct": np.where(street_m > 0, 100.0 * covered_m / street_m, np.nan),
                "buildings": buildings.astype(np.int64),
                "buildings_covered": buildings_covered,
                "building_pct": np.where(buildings > 0, 100.0 * buildings_covered / buildings, np.nan),
                "track_m": partial.track_m / US_PER_S,
                "patrol_s": partial.patrol_s / US_PER_S,
            }
        )
    runs = street_runs(base, partial.street)
    streets = run_frame(base, runs, {"covered": partial.street[runs["first"]]})
    b_frame = gpd.GeoDataFrame(
        {
            "building_id": base.building_ids,
            "code": base.codes[base.building_grid] if n else base.building_grid,
            "covered": b_cov,
            "visited": was_visited,
        },
        geometry=base.building_geoms.to_numpy(),
        crs=base.out_crs,
    )
    return Coverage(grids, streets, b_frame)


def _visited_mask(base: CoverageBase, visited: Iterable[Any] | None) -> np.ndarray:
    if visited is None:
        return np.zeros(base.building_ids.size, dtype=bool)
    wanted = pd.Index(list(visited))
    return pd.Index(base.building_ids).isin(wanted)


def street_runs(base: CoverageBase, value: np.ndarray) -> dict[str, Any]:
    """Maximal stretches of one part's pieces with equal (integer) ``value``: start, part, length, line."""
    part = base.targets.part
    n = part.size
    if n == 0:
        return {
            "first": np.empty(0, dtype=np.int64),
            "part": part,
            "length": np.empty(0),
            "geometry": np.empty(0),
        }
    same_value = value[1:] == value[:-1]
    starts = np.flatnonzero(np.r_[True, (part[1:] != part[:-1]) | ~same_value])
    mark = np.zeros(n, dtype=np.int64)
    mark[starts] = 1
    run_of = np.cumsum(mark) - 1
    length = np.add.reduceat(base.targets.length, starts)
    last = np.r_[starts[1:], n] - 1
    # Vertices of a run: its first piece's start, the street's own vertices inside it, its last piece's end.
    emit = base.at_vertex.copy()
    emit[starts] = True
    where = np.flatnonzero(emit)
    per_run = np.bincount(run_of[where], minlength=starts.size) + 1
    offset = np.cumsum(per_run) - per_run
    coords = np.empty((int(per_run.sum()), 2))
    rank = np.arange(where.size) - np.repeat(np.cumsum(per_run - 1) - (per_run - 1), per_run - 1)
    coords[offset[run_of[where]] + rank] = base.start[where]
    coords[offset + per_run - 1] = base.end[last]
    lines = shapely.linestrings(coords, indices=np.repeat(np.arange(starts.size), per_run))
    return {"first": starts, "part": part[starts], "length": length, "geometry": lines}


def run_frame(base: CoverageBase, runs: dict[str, Any], values: dict[str, Any]) -> gpd.GeoDataFrame:
    street = base.part_street[runs["part"]]
    table = base.streets.iloc[street].reset_index(drop=True)
    frame = pd.DataFrame(
        {
            "code": base.codes[base.part_grid[runs["part"]]],
            "osm_id": table["osm_id"].to_numpy(),
            "name": table["name"].to_numpy(),
            "highway": table["highway"].to_numpy(),
            **values,
            "length_m": runs["length"],
        }
    )
    geoms = gpd.GeoSeries(runs["geometry"], crs=base.targets.crs).to_crs(base.out_crs)
    return gpd.GeoDataFrame(frame, geometry=geoms.to_numpy(), crs=base.out_crs)


def _measure_partition(
    part: pd.DataFrame, targets: Targets, distance: float, piece_m: float, options: dict
) -> _Partial:
    return _measure(targets, partition_track(part, targets.crs, piece_m, options), distance)


def _dask_measure(targets: Targets, fixes: Any, distance: float, piece_m: float, options: dict) -> _Partial:
    parts = dask_parts(fixes, _measure_partition, shipped(targets), distance, piece_m, options)
    check_unsplit([p.patrols for p in parts], options["by"])
    total = _Partial.zeros(targets)
    for p in parts:
        total = total.combine(p)
    return total


# --- stored pieces ------------------------------------------------------------------------------------------
#
# What a set of tracks covered, kept apart from the prepared base so it can be stored and reused: per grid, the
# covered street pieces as runs of offsets within that grid's pieces, the covered buildings, and the distance and
# time patrolled in whole µm / µs (exact sums in any order).
#
# Offsets within a grid do not depend on which other grids a base was prepared with: a grid's street pieces are
# the walkable streets clipped to that grid, in street order, cut into ``step_m`` pieces (see
# :mod:`geo.coverage.streets`). A base prepared for a whole city and one prepared for a single community therefore
# agree on every grid they share, as long as the streets are given in the same order. Coverage is a union over
# tracks, so the pieces of many days (or workers) OR together: :func:`coverage_from_pieces` gives exactly what
# :func:`geo.coverage.grid_coverage` gives for all their fixes at once — except where one patrol's track crosses
# a boundary between the pieces' periods (the one segment joining the last fix before it to the first after).

#: One grid's covered pieces: ``n`` (the grid's street pieces, to detect a changed base), ``runs`` (flat list of
#: [first, end) offsets of covered pieces), ``track_um`` and ``patrol_us`` (integers).
GridPieces = dict[str, Any]


def _blocks(base: CoverageBase) -> tuple[np.ndarray, np.ndarray]:
    """First piece and piece count of each grid position (pieces are ordered by grid)."""
    piece_grid = base.part_grid[base.targets.part]
    n = base.codes.size
    first = np.searchsorted(piece_grid, np.arange(n), side="left")
    last = np.searchsorted(piece_grid, np.arange(n), side="right")
    return first, last - first


def covered_pieces(base: CoverageBase, fixes: Any, *, distance_m: float = DISTANCE_M, period: Any = None,
                   by: str = "patrol_id", time: str = "time", lon: str = "lon", lat: str = "lat",
                   flag: str | None = "flag") -> tuple[dict[str, GridPieces], list[Any]]:
    """Per grid code, what the tracks of ``fixes`` covered (only grids with something), and the ids of the
    buildings they came near. Arguments as for :func:`geo.coverage.grid_coverage` (in-memory frames only)."""
    check_measure_args(distance_m, period)
    track = build_track(fixes, base.targets.crs, piece_m=float(distance_m) * TRACK_PIECE_SHARE, period=period,
                        by=by, time=time, lon=lon, lat=lat, flag=flag)
    return _pieces_of(base, _measure(base.targets, track, float(distance_m)), _blocks(base))


def _pieces_of(base: CoverageBase, partial: _Partial,
               blocks: tuple[np.ndarray, np.ndarray]) -> tuple[dict[str, GridPieces], list[Any]]:
    first, count = blocks
    out: dict[str, GridPieces] = {}
    # only the grids with something (in grid order): a covered piece, or distance or time patrolled
    with_piece = np.searchsorted(first, np.flatnonzero(partial.street), side="right") - 1
    busy = np.union1d(np.flatnonzero((partial.track_m != 0) | (partial.patrol_s != 0)), with_piece)
    for g in busy.astype(np.int64):
        block = partial.street[first[g]:first[g] + count[g]]
        um, us = int(partial.track_m[g]), int(partial.patrol_s[g])
        if not (block.any() or um or us):
            continue
        edges = np.flatnonzero(np.diff(np.r_[0, block.astype(np.int8), 0]))
        out[str(base.codes[g])] = {"n": int(count[g]), "runs": edges.tolist(), "track_um": um, "patrol_us": us}
    return out, base.building_ids[partial.building].tolist()


@dataclass(frozen=True)
class GroupTracks:
    """One group's lines (as :func:`geo.tracks.tracks_to_lines` gives them for the group's fixes alone, as arrays)
    and what they covered (as :func:`covered_pieces` gives it)."""

    keys: np.ndarray  # the ``by`` value of each line, sorted
    length_m: np.ndarray
    started_us: np.ndarray  # µs since 1970, UTC
    ended_us: np.ndarray
    lines: np.ndarray  # LineStrings in WGS-84
    grids: dict[str, GridPieces]
    buildings: list[Any]


def covered_pieces_by(base: CoverageBase, fixes: pd.DataFrame, group: str, *, distance_m: float = DISTANCE_M,
                      by: str = "patrol_id", time: str = "time", lon: str = "lon", lat: str = "lat",
                      flag: str | None = "flag") -> dict[Any, GroupTracks]:
    """Per value of the ``group`` column, the lines and covered pieces of that group's fixes — exactly what
    :func:`geo.tracks.tracks_to_lines` and :func:`covered_pieces` give for each group's fixes alone, in one pass
    (the fixes are checked, ordered and projected once; many small groups, e.g. worker-days, gain most).
    Groups whose fixes make no line get empty results."""
    check_measure_args(distance_m, None)
    gcode, groups = pd.factorize(fixes[group], sort=True)
    bcode, keys = pd.factorize(fixes[by], sort=True)
    if (gcode < 0).any():
        raise GeoValidationError(f"the {group!r} column has missing values", field=group)
    kept = bcode >= 0  # fixes of no track: ignored, as tracks_to_lines does
    cols = [time, lon, lat] + ([flag] if flag is not None else [])
    work = fixes.loc[kept, cols].reset_index(drop=True)
    work["_line"] = gcode[kept].astype(np.int64) * max(len(keys), 1) + bcode[kept]  # sorted as (group, by)
    x, y, t_us, line_of, line_keys = track_vertices(work, by="_line", time=time, lon=lon, lat=lat, flag=flag)
    line_keys = line_keys.astype(np.int64)
    track = track_from_vertices(x, y, t_us, line_of, line_keys, base.targets.crs,
                                piece_m=float(distance_m) * TRACK_PIECE_SHARE)
    firsts = np.flatnonzero(np.r_[True, line_of[1:] != line_of[:-1]]) if line_of.size else line_of
    ends = np.r_[firsts[1:], line_of.size].astype(np.int64)[:firsts.size]
    lengths = np.array([track_length_m(x[a:b], y[a:b]) for a, b in zip(firsts, ends, strict=True)])
    geoms = shapely.linestrings(np.column_stack((x, y)), indices=line_of) if line_of.size else np.empty(0)
    line_group = line_keys // max(len(keys), 1)
    bounds = np.searchsorted(line_group, np.arange(len(groups) + 1))
    blocks, boxes = _blocks(base), _sorted_points(base.targets)  # many small tracks: no scan of every piece each
    out: dict[Any, GroupTracks] = {}
    for g, value in enumerate(groups):
        lo, hi = int(bounds[g]), int(bounds[g + 1])
        part = track.lines(lo, hi)
        grids, near = _pieces_of(base, _measure(base.targets, part, float(distance_m), boxes), blocks)
        out[value] = GroupTracks(np.asarray(keys)[line_keys[lo:hi] % max(len(keys), 1)], lengths[lo:hi],
                                 t_us[firsts[lo:hi]], t_us[ends[lo:hi] - 1], geoms[lo:hi], grids, near)
    return out


def coverage_from_pieces(base: CoverageBase, pieces: Iterable[dict[str, GridPieces]],
                         buildings: Iterable[Any] = (), visited: Iterable[Any] | None = None) -> Coverage:
    """The :class:`geo.coverage.Coverage` of the union of stored pieces (grids of ``base`` only) and the covered
    buildings (those of ``base``), as :func:`geo.coverage.grid_coverage` reports it.

    Raises GeoValidationError when a grid's piece count differs from the base's (streets or grids changed
    since the pieces were measured)."""
    partial = _Partial.zeros(base.targets)
    first, count = _blocks(base)
    pos = {str(c): i for i, c in enumerate(base.codes)}
    track_m, patrol_s = partial.track_m.copy(), partial.patrol_s.copy()
    edges: list[np.ndarray] = []
    for by_grid in pieces:
        for code, p in by_grid.items():
            g = pos.get(str(code))
            if g is None:
                continue
            if int(p["n"]) != int(count[g]):
                raise GeoValidationError(f"grid {code} has {int(count[g])} street pieces now, {p['n']} when its "
                                         "coverage was stored (streets or grids changed)", field="pieces")
            edges.append(np.asarray(p["runs"], dtype=np.int64) + first[g])
            track_m[g] += p["track_um"]
            patrol_s[g] += p["patrol_us"]
    # the union of every run: +1 at each start, -1 at each end, covered where the running sum is positive
    flat = np.concatenate(edges) if edges else np.empty(0, dtype=np.int64)
    delta = np.zeros(partial.street.size + 1, dtype=np.int64)
    np.add.at(delta, flat[0::2], 1)
    np.add.at(delta, flat[1::2], -1)
    street = np.cumsum(delta[:-1]) > 0
    building = np.asarray(pd.Index(base.building_ids).isin(list(buildings)), dtype=bool)
    total = _Partial(street, building, track_m, patrol_s, np.empty(0, dtype=object))
    return _coverage(base, total, visited)


# --- reference method ---------------------------------------------------------------------------------------


def buffer_coverage(
    base: CoverageBase,
    fixes: pd.DataFrame,
    *,
    distance_m: float = DISTANCE_M,
    by: str = "patrol_id",
    time: str = "time",
    lon: str = "lon",
    lat: str = "lat",
    flag: str | None = "flag",
) -> pd.DataFrame:
    """Covered street length per grid by the obvious exact method: buffer the track lines, union, intersect.

    Slow (minutes and gigabytes for a million fixes) and kept to check :func:`grid_coverage`. Buffers use
    GEOS' default 8 segments per quarter circle, so round ends and joins are inscribed polygons (up to 0.5 %
    of ``distance_m`` short).

    Returns
    -------
    pandas.DataFrame
        ``code``, ``street_m``, ``covered_m``, ``coverage_pct``, on the same clipped streets as ``base``.
    """
    frame = with_lon_lat(fixes, lon, lat)
    lines = tracks_to_lines(frame, by=by, time=time, lon=lon, lat=lat, flag=flag)
    metric = lines.geometry.to_crs(base.targets.crs)
    area = shapely.union_all(shapely.buffer(np.asarray(metric.array), float(distance_m)))
    n = base.codes.size
    lines_m = base.parts
    shapely.prepare(area)
    covered = shapely.length(shapely.intersection(lines_m, area))
    grid = base.part_grid
    street_m = np.bincount(grid, shapely.length(lines_m), minlength=n)
    covered_m = np.bincount(grid, covered, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        pct = np.where(street_m > 0, 100.0 * covered_m / street_m, np.nan)
    return pd.DataFrame(
        {"code": base.codes, "street_m": street_m, "covered_m": covered_m, "coverage_pct": pct}
    )
