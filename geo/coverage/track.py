"""Patrol tracks as short pieces with times, the nearness search of pieces against a track, and running
the same per-partition work on dask frames."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from scipy.spatial import cKDTree

from geo.coverage.streets import (
    US_PER_S,
    Targets,
    split_segments,
)
from geo.crs import WGS84
from geo.errors import GeoValidationError
from geo.tracks import track_vertices

# --- tracks -------------------------------------------------------------------------------------------------

# Candidate track pieces fetched per street piece at first; multiplied by 4 while some may be missing.
_FIRST_K = 4
_MAX_K = 256
# Metres of slack in the search bounds, far above floating-point error: the decision for a query then only
# depends on the exact distance to each track piece, never on which candidates a search happened to look at.
_SLACK = 1e-6
# Consecutive query points searched as one group first (see _settle_groups), and the largest group radius
# used, as a share of the distance (wider groups settle too rarely to pay).
_GROUP = 8
_GROUP_RADIUS_SHARE = 0.25


@dataclass(frozen=True, eq=False)
class Track:
    """Track pieces in the metric CRS: ends, times (s since 1970, UTC) and patrol of each."""

    a: np.ndarray
    b: np.ndarray
    ta: np.ndarray
    tb: np.ndarray
    patrol: np.ndarray
    patrols: np.ndarray  # the patrol keys, in line order

    @property
    def size(self) -> int:
        return int(self.ta.size)

    @cached_property
    def mid(self) -> np.ndarray:
        return (self.a + self.b) / 2

    @cached_property
    def length(self) -> np.ndarray:
        return np.hypot(*(self.b - self.a).T)

    @cached_property
    def half_max(self) -> float:
        return float(self.length.max(initial=0.0)) / 2

    def lines(self, first: int, end: int) -> Track:
        """The pieces of lines [first, end) (line positions, as in ``patrol``): exactly the track those lines'
        fixes alone give."""
        lo, hi = np.searchsorted(self.patrol, [first, end])
        return Track(
            self.a[lo:hi], self.b[lo:hi], self.ta[lo:hi], self.tb[lo:hi], self.patrol[lo:hi] - first,
            self.patrols[first:end],
        )


def build_track(
    fixes: pd.DataFrame,
    crs: pyproj.CRS,
    *,
    piece_m: float,
    period: tuple[datetime, datetime] | None,
    by: str,
    time: str,
    lon: str,
    lat: str,
    flag: str | None,
) -> Track:
    """Lines of :func:`geo.tracks.tracks_to_lines` in ``crs``, cut into pieces of at most ``piece_m``, with
    fix times (from :func:`geo.tracks.track_vertices`: the same vertices, without building the lines)."""
    frame = with_lon_lat(fixes, lon, lat)
    if period is not None:
        t = pd.to_datetime(frame[time], utc=True)
        start, end = (pd.Timestamp(v) for v in period)
        frame = frame[((t >= start) & (t < end) | t.isna()).to_numpy()]  # missing times: for tracks_to_lines
    lon_deg, lat_deg, t_us, line_of, patrols = track_vertices(
        frame, by=by, time=time, lon=lon, lat=lat, flag=flag
    )
    return track_from_vertices(lon_deg, lat_deg, t_us, line_of, patrols, crs, piece_m=piece_m)


def track_from_vertices(
    lon_deg: np.ndarray,
    lat_deg: np.ndarray,
    t_us: np.ndarray,
    line_of: np.ndarray,
    patrols: np.ndarray,
    crs: pyproj.CRS,
    *,
    piece_m: float,
) -> Track:
    """The :class:`Track` of vertices as :func:`geo.tracks.track_vertices` returns them (see :func:`build_track`).

    Pieces are in line order and never join two lines, so the pieces of a run of lines are a slice of the
    track (:meth:`Track.lines`)."""
    if patrols.size == 0:
        empty = np.empty((0, 2))
        return Track(
            empty, empty, np.empty(0), np.empty(0), np.empty(0, dtype=np.int64), np.empty(0, dtype=object)
        )
    times = t_us / US_PER_S
    x, y = pyproj.Transformer.from_crs(WGS84, crs, always_xy=True).transform(lon_deg, lat_deg)
    xy = np.column_stack((x, y))
    # np.take / np.compress: row gathers of (n, 2) arrays by fancy indexing are ten times slower.
    same = np.flatnonzero(line_of[1:] == line_of[:-1])
    a, b = np.take(xy, same, axis=0), np.take(xy, same + 1, axis=0)
    ta, tb, patrol = times[same], times[same + 1], line_of[same]
    seg, k, n = split_segments(a, b, piece_m)
    f0 = k / n
    piece_a = np.take(b - a, seg, axis=0)
    piece_a *= f0[:, None]
    piece_a += np.take(a, seg, axis=0)
    piece_ta = (tb - ta)[seg]
    piece_ta *= f0
    piece_ta += ta[seg]
    # A piece that is not the last of its segment ends where the next one starts (the same arithmetic,
    # ``a + (k + 1) / n * (b - a)``); the last one ends at the segment's end.
    last = np.flatnonzero(k + 1 == n)
    piece_b = np.empty_like(piece_a)
    piece_b[:-1] = piece_a[1:]
    piece_b[last] = np.take(b, seg[last], axis=0)
    piece_tb = np.empty_like(piece_ta)
    piece_tb[:-1] = piece_ta[1:]
    piece_tb[last] = tb[seg[last]]
    return Track(piece_a, piece_b, piece_ta, piece_tb, patrol[seg].astype(np.int64), patrols)


def with_lon_lat(fixes: pd.DataFrame, lon: str, lat: str) -> pd.DataFrame:
    """``fixes`` with ``lon``/``lat`` columns, taken from a point geometry in WGS-84 when missing."""
    if (lon in fixes.columns and lat in fixes.columns) or not isinstance(fixes, gpd.GeoDataFrame):
        return fixes
    if fixes.crs is None:
        raise GeoValidationError("fixes has no lon/lat columns and its geometry has no CRS", field="fixes")
    points = fixes.geometry.to_crs(WGS84)
    kinds = shapely.get_type_id(np.asarray(points.array))
    if ((kinds != 0) & (kinds != -1)).any():
        raise GeoValidationError("fixes geometry must be points", field="fixes")
    frame = pd.DataFrame(fixes.drop(columns=fixes.geometry.name))
    frame[lon] = shapely.get_x(np.asarray(points.array))
    frame[lat] = shapely.get_y(np.asarray(points.array))
    return frame


# --- nearness -----------------------------------------------------------------------------------------------


def _rows(array: np.ndarray, which: np.ndarray) -> np.ndarray:
    """``array[which]`` for an (n, 2) array: np.take gathers rows about ten times faster than indexing."""
    return np.take(array, which, axis=0)


def _point_segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Planar distance from each point ``p[i]`` to the segment ``a[i]``–``b[i]`` (a point when a == b)."""
    ab = b - a
    ap = p - a
    denom = np.einsum("ij,ij->i", ab, ab)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(denom > 0, np.einsum("ij,ij->i", ap, ab) / denom, 0.0)
    np.clip(t, 0.0, 1.0, out=t)
    return np.hypot(*(ap - t[:, None] * ab).T)


def _segment_distance(p0: np.ndarray, p1: np.ndarray, q0: np.ndarray, q1: np.ndarray) -> np.ndarray:
    """Planar distance between segments ``p0[i]``–``p1[i]`` and ``q0[i]``–``q1[i]``: 0 where they meet."""

    def orient(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
        return np.sign((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0]))

    o1, o2, o3, o4 = orient(p0, p1, q0), orient(p0, p1, q1), orient(q0, q1, p0), orient(q0, q1, p1)
    cross = (o1 * o2 <= 0) & (o3 * o4 <= 0) & ~((o1 == 0) & (o2 == 0) & (o3 == 0) & (o4 == 0))
    ends = np.minimum(
        np.minimum(_point_segment_distance(p0, q0, q1), _point_segment_distance(p1, q0, q1)),
        np.minimum(_point_segment_distance(q0, p0, p1), _point_segment_distance(q1, p0, p1)),
    )
    return np.where(cross, 0.0, ends)


def near_track(
    tree: cKDTree,
    track: Track,
    mid: np.ndarray,
    distance: float,
    *,
    ends: tuple[np.ndarray, np.ndarray] | None = None,
    half: float = 0.0,
) -> np.ndarray:
    """Whether each query (a point ``mid``, or the segment ``ends``) is within ``distance`` of a track piece.

    Exact and exhaustive: a track piece whose midpoint is farther than ``distance + half + half_max`` from the
    query's midpoint is farther than ``distance`` from it; nearer candidates are fetched (more at each round)
    until the next one would be beyond that bound, and each is measured exactly.
    """
    out = np.zeros(len(mid), dtype=bool)
    if track.size == 0 or len(mid) == 0:
        return out
    bound = distance + half + track.half_max + _SLACK
    if ends is None:
        open_ = _settle_groups(tree, mid, distance, bound, out)
    else:
        open_ = np.arange(len(mid))
    # First the nearest midpoints alone: both midpoints lie on their segments, so a pair within the distance
    # settles it; none within the bound settles it the other way.
    dist, _ = tree.query(_rows(mid, open_), k=1, distance_upper_bound=bound)
    out[open_[dist <= distance - _SLACK]] = True
    todo = open_[(dist > distance - _SLACK) & np.isfinite(dist)]
    k = _FIRST_K
    while todo.size:
        if k > _MAX_K:  # very dense tracks around a few queries: take everything within the bound
            _near_ball(tree, track, mid, distance, bound, todo, ends, out)
            break
        dist, cand = tree.query(_rows(mid, todo), k=min(k, track.size), distance_upper_bound=bound)
        dist, cand = dist.reshape(todo.size, -1), cand.reshape(todo.size, -1)
        row, col = np.nonzero(cand < track.size)
        q, j = todo[row], cand[row, col]
        if ends is None:
            d = _point_segment_distance(_rows(mid, q), _rows(track.a, j), _rows(track.b, j))
        else:
            d = _segment_distance(_rows(ends[0], q), _rows(ends[1], q), _rows(track.a, j), _rows(track.b, j))
        hit = np.zeros(todo.size, dtype=bool)
        hit[row[d <= distance]] = True
        out[todo[hit]] = True
        full = cand[:, -1] < track.size  # all k candidates within the bound: there may be more
        todo = todo[~hit & full & (cand.shape[1] < track.size)]
        k *= 4
    return out


def _settle_groups(tree: cKDTree, mid: np.ndarray, distance: float, bound: float, out: np.ndarray) -> np.ndarray:
    """Decide whole groups of ``_GROUP`` consecutive query points at once where one search settles them.

    A group's points lie within ``radius`` of their centre. If the nearest track midpoint is within
    ``distance - radius`` of the centre, it is within ``distance`` of every point of the group (all covered);
    if none is within ``bound + radius``, none is within ``bound`` of any point (none covered): exactly what
    the search per point would decide. Consecutive street pieces are neighbours along a street, so most
    groups are settled by a quarter or less of the searches. Sets ``out`` for the settled points and returns
    the positions of the others.
    """
    n = len(mid)
    starts = np.arange(0, n, _GROUP)
    size = np.diff(np.r_[starts, n])
    group = np.repeat(np.arange(starts.size), size)
    centre = np.add.reduceat(mid, starts, axis=0) / size[:, None]
    radius = np.maximum.reduceat(np.hypot(*(mid - _rows(centre, group)).T), starts)
    usable = np.flatnonzero(radius <= _GROUP_RADIUS_SHARE * distance)
    dist, _ = tree.query(
        centre[usable], k=1, distance_upper_bound=bound + _GROUP_RADIUS_SHARE * distance + _SLACK
    )
    rad = radius[usable]
    covered = dist + rad <= distance - 2 * _SLACK
    settled = np.zeros(starts.size, dtype=bool)
    settled[usable[covered | (dist > bound + rad + _SLACK)]] = True
    out[np.repeat(_expand(usable[covered], starts.size), size)] = True
    return np.flatnonzero(~np.repeat(settled, size))


def _expand(which: np.ndarray, n: int) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    mask[which] = True
    return mask


def _near_ball(
    tree: cKDTree,
    track: Track,
    mid: np.ndarray,
    distance: float,
    bound: float,
    todo: np.ndarray,
    ends: tuple[np.ndarray, np.ndarray] | None,
    out: np.ndarray,
) -> None:
    pairs = cKDTree(_rows(mid, todo)).sparse_distance_matrix(tree, bound, output_type="ndarray")
    q, j = todo[pairs["i"]], pairs["j"]
    if ends is None:
        d = _point_segment_distance(_rows(mid, q), _rows(track.a, j), _rows(track.b, j))
    else:
        d = _segment_distance(_rows(ends[0], q), _rows(ends[1], q), _rows(track.a, j), _rows(track.b, j))
    out[q[d <= distance]] = True


def latest_near(
    tree: cKDTree,
    track: Track,
    when: np.ndarray,
    mid: np.ndarray,
    distance: float,
    *,
    ends: tuple[np.ndarray, np.ndarray] | None = None,
    half: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Per query, the latest ``when`` of the track pieces within ``distance`` (NaN if none) and its piece."""
    time = np.full(len(mid), np.nan)
    piece = np.full(len(mid), -1, dtype=np.int64)
    if track.size == 0 or len(mid) == 0:
        return time, piece
    bound = distance + half + track.half_max + _SLACK
    pairs = cKDTree(mid).sparse_distance_matrix(tree, bound, output_type="ndarray")
    q, j = pairs["i"], pairs["j"]
    if ends is None:
        d = _point_segment_distance(_rows(mid, q), _rows(track.a, j), _rows(track.b, j))
    else:
        d = _segment_distance(_rows(ends[0], q), _rows(ends[1], q), _rows(track.a, j), _rows(track.b, j))
    q, j = q[d <= distance], j[d <= distance]
    order = np.lexsort((j, when[j], q))  # per query, latest last (ties: the higher piece)
    q, j = q[order], j[order]
    last = np.flatnonzero(np.r_[q[1:] != q[:-1], True]) if q.size else q
    time[q[last]] = when[j[last]]
    piece[q[last]] = j[last]
    return time, piece


# --- dask ---------------------------------------------------------------------------------------------------


def is_dask(obj: object) -> bool:
    return type(obj).__module__.startswith(("dask_geopandas", "dask.", "dask_expr"))


def shipped(targets: Targets) -> Any:
    """``targets`` scattered to the workers of the current distributed client, if any (else as is)."""
    try:
        from distributed import get_client  # lazy and optional: without distributed the targets are used as is

        client = get_client()
    except (ImportError, ValueError):
        return targets
    return client.scatter(targets, broadcast=True, hash=False)


def dask_parts(fixes: Any, func: Any, *args: Any) -> list[Any]:
    """Run ``func(partition, *args)`` on every partition; collect the one object each returns."""

    def one(part: pd.DataFrame, *a: Any) -> pd.DataFrame:
        return pd.DataFrame({"result": [func(part, *a)]}, dtype=object)

    meta = pd.DataFrame({"result": pd.Series([], dtype=object)})
    return list(fixes.map_partitions(one, *args, meta=meta).compute()["result"])


def partition_track(part: pd.DataFrame, crs: pyproj.CRS, piece_m: float, options: dict[str, Any]) -> Track:
    by = options["by"]
    if by not in part.columns and part.index.name == by:
        part = part.reset_index()
    return build_track(part, crs, piece_m=piece_m, **options)


def check_unsplit(patrols: list[np.ndarray], by: str) -> None:
    keys = pd.Series(np.concatenate(patrols) if patrols else np.empty(0, dtype=object))
    split = keys[keys.duplicated()].unique()
    if split.size:
        raise GeoValidationError(
            f"patrols {', '.join(map(str, split[:5]))} lie in several partitions; partition the fixes by "
            f"community, grid or patrol (e.g. fixes.shuffle(on={by!r}))",
            field="fixes",
        )
