"""Bulk point-in-polygon: which polygon of a partition holds each of many points. Long because the index, its
rasterisation and the edge rules must be read together to see that the answer equals sjoin's.

:func:`assign_points` answers, for each point, the position of the polygon that covers it, or -1. It gives the
same answer as ``geopandas.sjoin(points, polygons, predicate="intersects")`` followed by the edge rule below,
in a fraction of the time, by rasterising the polygons once (:func:`build_polygon_index`) onto a uniform grid
of square buckets:

- Every ring is cut into pieces shorter than a bucket, and each bucket that a piece's bounding box, widened by
  a millionth of a bucket, overlaps is *touched*. This is conservative: rounding in the bucket arithmetic
  (about 1e-12 of a bucket) can never put a point into an untouched bucket that a ring crosses.
- Along the centre line of each row of buckets, the crossings of each polygon's rings are sorted and paired
  into runs (crossing parity). An untouched bucket gets the polygon whose run holds its centre (the lowest,
  where polygons overlap), or -1. This is exact: the centre is at least half a bucket from every ring, so
  rounding cannot move a crossing past it. A point in such a bucket is answered by integer arithmetic alone.
- A touched bucket lists the polygons whose rings touch it (up to four) and the lowest polygon holding it
  wholly (only where polygons overlap). A point there gets the exact GEOS test (prepared ``intersects_xy``)
  against those candidates, lowest first; buckets touched by more than four polygons use an STRtree query.
- A touched bucket is *closed* when every ring segment within two buckets of it has polygons on both sides:
  another polygon's ring holds the same segment (end points bit for bit) with its interior on the other side,
  as the cells of a tessellation share their edges. Every point of a closed bucket (that no polygon holds
  wholly) is then covered by one of its listed polygons, so a point that all of them but the last miss is in
  the last one, without a test. Segments on the tessellation's outer edge, along its streets or around an
  empty hole keep the buckets within two of them open (see ``_closed`` for why two).

So the answer does not depend on the bucket size, only the speed does. Large builds and queries use two threads
(:data:`THREADS`): shapely's vectorised predicates and numpy's loops release the GIL, so the exact tests, the
reading of point coordinates and the two halves of the build run side by side; a prepared polygon is never
tested from two threads at once (GEOS builds its index lazily, without a lock). Polygons must be valid (as for any GEOS
predicate): for a self-intersecting ring, crossing parity and GEOS may disagree about what is inside.

Edge rule
---------
A point on an edge shared by several polygons, on a shared vertex, or inside several overlapping polygons goes
to the polygon with the **lowest position** among those that *cover* it (GEOS ``covers``: the boundary
counts). A point covered by no polygon, a missing or empty point and a point with a NaN coordinate get -1.
Missing or empty polygons keep their position and cover nothing.

Coordinates are compared as they are, planar, in the CRS of the inputs (as ``sjoin`` does); points and
polygons must share it. Polygons may have holes and may overlap; a tessellation (the grids of a city) is the
case this is built for.

Dask
----
:func:`assign_points` also accepts a ``dask_geopandas.GeoDataFrame``/``GeoSeries`` of points and returns a
lazy ``dask.dataframe.Series`` (one ``map_partitions`` task per partition; the index is built once and, with a
distributed client connected, scattered to every worker). To run it on a cluster, connect a client first::

    from distributed import Client
    client = Client("tcp://scheduler:8786")   # or distributed.LocalCluster() for one machine
    cells = assign_points(points_ddf, grids).compute()
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyproj
import shapely

from geo.errors import GeoValidationError, ProblemList

if TYPE_CHECKING:  # pragma: no cover
    import dask.dataframe as dd

#: Upper bound of the number of buckets an index uses by default (int32 labels: 16 MB at this bound).
MAX_BUCKETS = 4_000_000
#: Buckets per polygon aimed at by default (before ``MAX_BUCKETS`` caps it). Fewer buckets build faster, more
#: send fewer points to the exact test. 50 gave the fastest build + query of 1M points on 10k Voronoi cells and
#: on 9k building cells (bench/bench_assign.py) once the exact tests ran on two threads and closed buckets
#: (PolygonIndex.closed) spared the last test; it was 200 before.
BUCKETS_PER_POLYGON = 50
_MIN_BUCKETS = 4_096
_Sides = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # coordinates, same ring, ring, hole
# Pieces of a ring are at most this long, in buckets (Chebyshev length): each touches at most 2 × 2 buckets.
_PIECE = 0.99
# Margin (in buckets) around each piece's bounding box, far above the rounding of bucket arithmetic (1e-12).
_MARGIN = 1e-6
_BOUNDARY = -2
#: Threads a large build or query uses (at most two; 1 keeps everything on the calling thread).
THREADS = min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1, 2)
# Work smaller than this (points, exact tests) stays on one thread: a hand-off costs tens of microseconds.
_PARALLEL_MIN = 50_000
_POOL: tuple[int, ThreadPoolExecutor] | None = None  # (pid, pool): a forked child makes its own
# Polygons listed per bucket touched by rings; buckets touched by more polygons go to the STRtree.
_SLOTS = 4


@dataclass(frozen=True, eq=False)
class PolygonIndex:
    """Polygons rasterised for fast queries: build with :func:`build_polygon_index`, reuse for many queries.

    Attributes
    ----------
    polygons
        The polygons (shapely array, prepared), in input order: their positions are the answers.
    crs
        CRS of the polygons, or None.
    origin
        (x0, y0): lower-left corner of bucket (0, 0).
    cell
        Side of a bucket, in CRS units.
    shape
        (rows, columns) of the bucket grid.
    labels
        One int32 per bucket, row-major: for a bucket no ring touches, the polygon covering it (the lowest
        position when several) or -1; for the k-th touched bucket (row-major), ``-2 - k``.
    slots
        Per touched bucket, up to four polygons whose rings touch it, ascending, -1 padded.
    whole
        Per touched bucket, the lowest polygon holding it wholly without touching it, or -1 (only where
        polygons overlap).
    overflow
        Per touched bucket, whether more than four polygons touch it (its points go to ``tree``).
    closed
        Per touched bucket, whether its listed polygons cover every point of it: no polygon holds it wholly, it
        does not overflow, and every ring segment within two buckets of it has polygons on both sides (an edge
        shared by two cells of a tessellation, not the edge of the tessellation or of a hole). A point that none of the
        bucket's polygons but the last holds is then in the last one, without the exact test.
    tree
        STRtree of the polygons, for the overflowing buckets.
    twin
        A second, separately prepared copy of ``polygons`` for the second thread of a query: made while a large
        index is built, else by the first query that runs on two threads.
    lock
        Held by each query: GEOS prepared geometries are not thread-safe (libgeos/geos#825), so two threads
        that query one index (a web server's cached layers) take turns. The polygons are the caller's
        geometries, prepared in place: an index's polygons should not be queried elsewhere at the same time.
    """

    polygons: np.ndarray
    crs: pyproj.CRS | None
    origin: tuple[float, float]
    cell: float
    shape: tuple[int, int]
    labels: np.ndarray
    slots: np.ndarray
    whole: np.ndarray
    overflow: np.ndarray
    closed: np.ndarray
    tree: shapely.STRtree
    twin: dict[str, np.ndarray] = field(default_factory=dict, repr=False)  # see _twin
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (dask ships indexes to its workers) without the lock and the second copy."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("lock", "twin")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            object.__setattr__(self, name, value)
        object.__setattr__(self, "twin", {})
        object.__setattr__(self, "lock", threading.Lock())
        # Unpickled geometries are not prepared: prepare them again.
        shapely.prepare(self.polygons[~(shapely.is_missing(self.polygons) | shapely.is_empty(self.polygons))])

    @property
    def boundary_share(self) -> float:
        """Share of the buckets that a ring touches (points there get the exact test)."""
        return float(np.count_nonzero(self.labels <= _BOUNDARY)) / max(self.labels.size, 1)

    def query_xy(self, x: npt.ArrayLike, y: npt.ArrayLike) -> np.ndarray:
        """Position of the polygon covering each point (``x[i]``, ``y[i]``), -1 for none (see the edge rule).

        Parameters
        ----------
        x, y
            Coordinates in the CRS of the polygons, one-dimensional, of equal length.

        Returns
        -------
        numpy.ndarray
            int64, one per point.

        Raises
        ------
        GeoValidationError
            For arrays that are not one-dimensional numbers or differ in length.
        """
        xs, ys = _xy_arrays(x, y)
        return _query(self, xs, ys)

    def query(self, points: gpd.GeoSeries | gpd.GeoDataFrame | npt.ArrayLike) -> np.ndarray:
        """Position of the polygon covering each point geometry, -1 for none; see :func:`assign_points`."""
        x, y, points_crs = _point_xy(points, "points", parallel=True)
        _check_crs(points_crs, self.crs, "points")
        return _query(self, x, y)


def build_polygon_index(
    polygons: gpd.GeoSeries | gpd.GeoDataFrame | npt.ArrayLike,
    *,
    cell_size: float | None = None,
    max_buckets: int = MAX_BUCKETS,
    buckets_per_polygon: int | None = None,
) -> PolygonIndex:
    """Rasterise polygons once for many :meth:`PolygonIndex.query_xy` calls.

    Parameters
    ----------
    polygons
        Polygons and multipolygons (a GeoSeries, a GeoDataFrame's geometry, or an array of shapely
        geometries). Missing or empty geometries are allowed and cover nothing.
    cell_size
        Side of a bucket in CRS units. By default about ``BUCKETS_PER_POLYGON`` buckets per polygon over the
        polygons' bounding box, at most ``max_buckets``. Smaller buckets send fewer points to the exact test
        but cost more to build (time and memory grow with the number of buckets).
    max_buckets
        Cap of the default bucket count; with an explicit ``cell_size``, the index is refused when it would
        need more than this many buckets.
    buckets_per_polygon
        The default bucket count per polygon (``BUCKETS_PER_POLYGON`` when None): more suits an index queried
        many times, or polygons that share no edges (no closed buckets).

    Returns
    -------
    PolygonIndex

    Raises
    ------
    GeoValidationError
        For geometries that are not polygonal (field ``polygons``, with the positions) or have NaN/infinite
        coordinates, a ``cell_size`` that is not a positive number, a ``max_buckets`` outside [1, 2**31), a
        ``buckets_per_polygon`` below 1, or a ``cell_size`` that needs more than ``max_buckets`` buckets.
    """
    geoms, crs = _check_index_inputs(polygons, cell_size, max_buckets, buckets_per_polygon)
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    shapely.prepare(geoms[present])
    tree = shapely.STRtree(geoms)
    if not present.any():
        return _empty_index(geoms, crs, tree)

    minx, miny, maxx, maxy = shapely.total_bounds(geoms[present])
    width, height = float(maxx - minx), float(maxy - miny)
    if cell_size is None:
        per = BUCKETS_PER_POLYGON if buckets_per_polygon is None else int(buckets_per_polygon)
        target = min(max(per * int(present.sum()), _MIN_BUCKETS), int(max_buckets))
        cell = _default_cell(width, height, target)
    else:
        cell = float(cell_size)
    # One free bucket on every side: no ring reaches the border, where points off the grid are clamped.
    x0, y0 = float(minx) - cell, float(miny) - cell
    ncols = math.floor(width / cell) + 3
    nrows = math.floor(height / cell) + 3
    if ncols * nrows > max_buckets and cell_size is not None:
        raise GeoValidationError(
            f"cell_size {cell_size!r} needs {ncols * nrows} buckets, more than max_buckets={max_buckets}; "
            "pass a larger cell_size or raise max_buckets",
            field="cell_size",
        )

    labels, slots, whole, overflow, closed, twin = _build_tables(geoms, x0, y0, 1.0 / cell, nrows, ncols, tree)
    return PolygonIndex(
        geoms, crs, (x0, y0), cell, (nrows, ncols), labels, slots, whole, overflow, closed, tree, twin
    )


def _check_index_inputs(
    polygons: gpd.GeoSeries | gpd.GeoDataFrame | npt.ArrayLike,
    cell_size: float | None,
    max_buckets: int,
    buckets_per_polygon: int | None = None,
) -> tuple[np.ndarray, pyproj.CRS | None]:
    """The polygons as an array of geometries and their CRS; every problem of the arguments raised at once."""
    problems = ProblemList()
    geoms, crs = _polygon_geometries(polygons, problems)
    if cell_size is not None and not _positive(cell_size):
        problems.add(
            "invalid_argument", f"cell_size must be a number > 0, got {cell_size!r}", field="cell_size"
        )
    integer = isinstance(max_buckets, (int, np.integer)) and not isinstance(max_buckets, bool)
    if not (integer and 1 <= max_buckets < 2**31):  # bucket numbers are int32
        problems.add(
            "invalid_argument",
            f"max_buckets must be an integer from 1 to 2**31 - 1, got {max_buckets!r}",
            field="max_buckets",
        )
    per = buckets_per_polygon
    if per is not None and not (isinstance(per, (int, np.integer)) and not isinstance(per, bool) and per >= 1):
        problems.add(
            "invalid_argument",
            f"buckets_per_polygon must be a whole number >= 1, got {per!r}",
            field="buckets_per_polygon",
        )
    problems.raise_if_any()
    return geoms, crs


def _empty_index(geoms: np.ndarray, crs: pyproj.CRS | None, tree: shapely.STRtree) -> PolygonIndex:
    """An index of polygons that are all missing or empty: one bucket, covering nothing."""
    empty = np.empty(0, dtype=np.int32)
    return PolygonIndex(
        geoms,
        crs,
        (0.0, 0.0),
        1.0,
        (1, 1),
        np.full(1, -1, np.int32),
        empty.reshape(0, _SLOTS),
        empty,
        empty.astype(bool),
        empty.astype(bool),
        tree,
    )


def assign_points(
    points: Any,
    polygons: gpd.GeoSeries | gpd.GeoDataFrame | npt.ArrayLike | PolygonIndex,
    *,
    cell_size: float | None = None,
) -> np.ndarray | dd.Series:
    """Position of the polygon covering each point, or -1.

    Identical to ``geopandas.sjoin(points, polygons, predicate="intersects", how="left")`` keeping, for each
    point, the lowest polygon position (see the edge rule in the module docstring).

    Parameters
    ----------
    points
        Point geometries: a GeoSeries, a GeoDataFrame (its active geometry), an array of shapely points, or a
        ``dask_geopandas`` GeoDataFrame/GeoSeries. Missing and empty points get -1.
    polygons
        The polygons (see :func:`build_polygon_index`), or an index already built from them (reuse it when
        assigning several batches of points to the same polygons).
    cell_size
        Bucket side for the index built here (see :func:`build_polygon_index`); ignored when ``polygons`` is
        an index.

    Returns
    -------
    numpy.ndarray or dask.dataframe.Series
        int64 positions into ``polygons``, one per point in input order. For a dask frame, a lazy Series with
        the frame's index and partitions (``.compute()`` it, on a ``distributed.Client`` if one is connected).

    Raises
    ------
    GeoValidationError
        For non-point geometries (field ``points``), points and polygons in different CRSs, and the problems
        of :func:`build_polygon_index`.
    """
    if isinstance(polygons, PolygonIndex) or _is_dask(points):
        index = (
            polygons if isinstance(polygons, PolygonIndex) else build_polygon_index(polygons, cell_size=cell_size)
        )
        return _assign_dask(points, index) if _is_dask(points) else index.query(points)
    # Cold: the points' coordinates are read on the other thread while the index is built here.
    try:  # a GeoDataFrame's rows, a GeoSeries', an array's
        big = len(points) >= _PARALLEL_MIN
    except TypeError:
        big = False
    (x, y, points_crs), index = _side_by_side(
        lambda: _point_xy(points, "points", parallel=False),
        lambda: build_polygon_index(polygons, cell_size=cell_size),
        parallel=big,
    )
    _check_crs(points_crs, index.crs, "points")
    return _query(index, x, y)


# --- threads ------------------------------------------------------------------------------------------------


def _side_by_side(first: Callable[[], Any], second: Callable[[], Any], *, parallel: bool) -> tuple[Any, Any]:
    """(first(), second()): first on a pool thread while second runs here, when ``parallel`` and THREADS > 1.

    Pool threads never wait for the pool, so two workers cannot deadlock. An exception of ``second`` wins.
    """
    if not parallel or THREADS < 2:
        return first(), second()
    global _POOL
    if _POOL is None or _POOL[0] != os.getpid():
        _POOL = (os.getpid(), ThreadPoolExecutor(max_workers=2, thread_name_prefix="geo-assign"))
    future = _POOL[1].submit(first)
    try:
        b = second()
    finally:
        wait([future])
    return future.result(), b


# --- building -----------------------------------------------------------------------------------------------


def _default_cell(width: float, height: float, target: int) -> float:
    """A bucket side giving about ``target`` buckets over a width × height box (either may be 0)."""
    if width <= 0 and height <= 0:
        return 1.0
    if width <= 0 or height <= 0:
        return max(width, height) / math.sqrt(target)
    return math.sqrt(width * height / target)


def _ring_segments(
    geoms: np.ndarray, x0: float, y0: float, inv_cell: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, _Sides]:
    """Every ring segment in bucket units: (ua, va, ub, vb, polygon position, the arguments of :func:`_two_sided`
    but the last)."""
    positions = np.arange(geoms.size)
    simple = (shapely.get_type_id(geoms) == 3) & (shapely.get_num_interior_rings(geoms) == 0)
    # Polygons without holes are one ring each: read their coordinates directly (creating ring geometries
    # costs ten times more); split the others into rings.
    coords, ring_of = shapely.get_coordinates(geoms[simple], return_index=True)
    owner_of_ring = positions[simple]
    hole = np.zeros(owner_of_ring.size, dtype=bool)
    other = ~simple & ~shapely.is_empty(geoms) & ~shapely.is_missing(geoms)
    if other.any():
        parts, part_of = shapely.get_parts(geoms[other], return_index=True)
        rings, ring_part = shapely.get_rings(parts, return_index=True)
        more, more_ring = shapely.get_coordinates(rings, return_index=True)
        coords = np.concatenate((coords, more))
        ring_of = np.concatenate((ring_of, more_ring + owner_of_ring.size))
        owner_of_ring = np.concatenate((owner_of_ring, positions[other][part_of[ring_part]]))
        hole = np.concatenate((hole, np.r_[False, ring_part[1:] == ring_part[:-1]]))  # exterior ring first
    u = (coords[:, 0] - x0) * inv_cell
    v = (coords[:, 1] - y0) * inv_cell
    same = ring_of[1:] == ring_of[:-1]
    ring = ring_of[:-1][same]
    owner = owner_of_ring[ring].astype(np.int32)
    ua, va, ub, vb = u[:-1][same], v[:-1][same], u[1:][same], v[1:][same]
    return ua, va, ub, vb, owner, (coords, same, ring, hole)


def _two_sided(
    coords: np.ndarray, same: np.ndarray, ring: np.ndarray, hole: np.ndarray, u: tuple[np.ndarray, ...]
) -> np.ndarray:
    """Per segment: whether another segment with the same end points (bit for bit) has a polygon's interior on
    the other side, so that polygons cover both sides of it. A ring's interior side follows from its orientation
    (twice its signed area, from the segments ``u`` in bucket units) and whether it is a hole; rings of no area
    count for nothing. Zero-length segments count as two-sided (the segments around them touch the same
    buckets)."""
    if ring.size == 0:
        return np.zeros(0, dtype=bool)
    ua, va, ub, vb = u
    area2 = np.bincount(ring, weights=ua * vb - ub * va, minlength=hole.size)
    left = ((area2 > 0) ^ hole)[ring]  # the interior is left of the segment as it runs
    ax, ay = coords[:-1, 0][same], coords[:-1, 1][same]
    bx, by = coords[1:, 0][same], coords[1:, 1][same]
    swap = (ax > bx) | ((ax == bx) & (ay > by))
    ax, bx = np.where(swap, bx, ax), np.where(swap, ax, bx)
    ay, by = np.where(swap, by, ay), np.where(swap, ay, by)
    side = np.where(left ^ swap, 1, 2).astype(np.int8)  # 1: interior left of the canonical direction, 2: right
    side[(np.abs(area2) <= 1e-12)[ring]] = 0
    # Group equal segments by a hash of their coordinates' bits (pandas' hash table: no sort), then check
    # that every group's members really are equal; a collision (never seen) falls back to sorting.
    bits = [np.ascontiguousarray(c).view(np.uint64) for c in (ax, ay, bx, by)]
    key = bits[0].copy()
    for b, prime in zip(bits[1:], (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9), strict=True):
        key *= np.uint64(0x100000001B3)
        key ^= b * np.uint64(prime)
    group, firsts = pd.factorize(key)
    head = np.empty(firsts.size, dtype=np.int64)
    head[group] = np.arange(group.size)  # one member of each group, to compare the others with
    if not all(np.array_equal(c[head[group]], c) for c in (ax, ay, bx, by)):
        group = np.unique(np.stack((ax, ay, bx, by)), axis=1, return_inverse=True)[1].ravel()
    covered = [np.bincount(group, weights=side == k, minlength=group.max() + 1) > 0 for k in (1, 2)]
    out = (covered[0] & covered[1])[group]
    return out | ((ax == bx) & (ay == by))


def _touched_pairs(
    ua: np.ndarray, va: np.ndarray, ub: np.ndarray, vb: np.ndarray, owner: np.ndarray, ncols: int
) -> tuple[np.ndarray, np.ndarray]:
    """(bucket, polygon) for every bucket a ring may touch, conservatively; few duplicates left.

    Segments are cut into pieces shorter than a bucket; each piece marks the buckets its bounding box, widened
    by ``_MARGIN``, overlaps (at most 2 × 2).
    """
    steps = np.ceil(np.maximum(np.abs(ub - ua), np.abs(vb - va)) * (1.0 / _PIECE)).astype(np.int64)
    pu0, pv0, pu1, pv1, poly = ua, va, ub, vb, owner
    long = np.flatnonzero(steps > 1)
    if long.size:
        # Cut the long segments; their pieces follow the short segments (order only matters for the repeats).
        count = steps[long]
        seg = np.repeat(long, count)
        k = np.arange(seg.size) - np.repeat(np.cumsum(count) - count, count)
        n = steps[seg]
        t0, t1 = k / n, (k + 1) / n
        du, dv = (ub - ua)[seg], (vb - va)[seg]
        base_u, base_v = ua[seg], va[seg]
        short = steps <= 1
        pu0 = np.concatenate((ua[short], base_u + t0 * du))
        pu1 = np.concatenate((ub[short], base_u + t1 * du))
        pv0 = np.concatenate((va[short], base_v + t0 * dv))
        pv1 = np.concatenate((vb[short], base_v + t1 * dv))
        poly = np.concatenate((owner[short], owner[seg]))
    # Bucket numbers fit int32 (the grid has at most max_buckets buckets); coordinates are >= 1 bucket.
    i_lo = (np.minimum(pu0, pu1) - _MARGIN).astype(np.int32)
    i_hi = (np.maximum(pu0, pu1) + _MARGIN).astype(np.int32)
    j_lo = (np.minimum(pv0, pv1) - _MARGIN).astype(np.int32)
    j_hi = (np.maximum(pv0, pv1) + _MARGIN).astype(np.int32)
    wide, tall = i_hi > i_lo, j_hi > j_lo
    both = wide & tall
    j_lo *= ncols
    j_hi *= ncols
    base = j_lo + i_lo
    # Consecutive pieces of a ring mostly touch the same bucket: drop those repeats before the slot passes.
    repeat = np.zeros(base.size, dtype=bool)
    repeat[1:] = (base[1:] == base[:-1]) & (poly[1:] == poly[:-1])
    buckets = np.concatenate(
        (base[~repeat], j_lo[wide] + i_hi[wide], j_hi[tall] + i_lo[tall], j_hi[both] + i_hi[both])
    )
    polys = np.concatenate((poly[~repeat], poly[wide], poly[tall], poly[both]))
    return buckets, polys


def _fill_slots(cid: np.ndarray, polys: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``_SLOTS`` distinct polygons per touched bucket (ascending, -1 padded) and an overflow flag."""
    columns = []
    for _ in range(_SLOTS):
        column = np.full(count, -1, dtype=np.int32)
        if cid.size:
            column[cid] = polys  # one of the polygons of each bucket wins …
            other = column[cid] != polys  # … and the others wait for the next column
            cid, polys = cid[other], polys[other]
        columns.append(column)
    overflow = np.zeros(count, dtype=bool)
    overflow[cid] = True
    # Ascending, -1 last: a sorting network of four columns (np.sort along rows of four is far slower).
    big = np.iinfo(np.int32).max
    for column in columns:
        column[column < 0] = big
    for i, j in ((0, 1), (2, 3), (0, 2), (1, 3), (1, 2)):
        low = np.minimum(columns[i], columns[j])
        np.maximum(columns[i], columns[j], out=columns[j])
        columns[i] = low
    slots = np.stack(columns, axis=1)
    slots[slots == big] = -1
    return slots, overflow


def _runs(
    ua: np.ndarray, va: np.ndarray, ub: np.ndarray, vb: np.ndarray, owner: np.ndarray, nrows: int, ncols: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs of bucket centres inside each polygon, by ring-crossing parity along the rows' centre lines.

    Returns (first bucket, end bucket, polygon) of each run, as flat row-major positions. Row j (centre line
    v = j + 0.5) is crossed by a segment when min(va, vb) <= j + 0.5 < max(va, vb), so horizontal segments
    never cross and a vertex on a centre line counts once; a crossing at u separates the centres left of it
    from the buckets from column ceil(u - 0.5) on. Crossings are sorted by (polygon, row, that column) and
    paired.

    The parity of a centre is exact where the polygon's rings do not touch its bucket: a crossing computed in
    floating point lies on its segment within 1e-12 buckets of the true one, so every centre between the two
    lies in a bucket that the segment touches.
    """
    vmin, vmax = np.minimum(va, vb), np.maximum(va, vb)
    r0 = np.ceil(vmin - 0.5).astype(np.int64)
    rows = np.maximum(np.ceil(vmax - 0.5).astype(np.int64) - r0, 0)
    crossing = np.flatnonzero(rows > 0)
    count = rows[crossing]
    seg = np.repeat(crossing, count)
    row = np.arange(seg.size) - np.repeat(np.cumsum(count) - count, count) + r0[seg]
    slope = (ub[crossing] - ua[crossing]) / (vb[crossing] - va[crossing])
    ucross = ua[seg] + (row + 0.5 - va[seg]) * np.repeat(slope, count)
    ucross = np.clip(ucross, np.minimum(ua, ub)[seg], np.maximum(ua, ub)[seg])
    col = np.ceil(ucross - 0.5).astype(np.int64)
    # Crossings in the same gap between two centres bound the same centres, so their order does not matter.
    key = np.sort((owner[seg].astype(np.int64) * nrows + row) * (ncols + 1) + col)
    start, end = key[0::2], key[1::2]
    poly_row, c0 = np.divmod(start, ncols + 1)
    c1 = end % (ncols + 1)
    poly, row = np.divmod(poly_row, nrows)
    keep = c1 > c0
    return (row * ncols + c0)[keep], (row * ncols + c1)[keep], poly[keep].astype(np.int32)


def _swept_runs(
    ua: np.ndarray, va: np.ndarray, ub: np.ndarray, vb: np.ndarray, owner: np.ndarray, nrows: int, ncols: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The runs (:func:`_runs`) and, per bucket, how many runs hold its centre (depth) and the sum of their
    polygon positions + 1: the polygon itself where the depth is 1. Both are swept along the rows in one int64
    difference array, the depth in the high 32 bits (a carry from the sum only ever raises a depth that is
    already above 1). Exact for the buckets that no ring touches."""
    size = nrows * ncols
    start, end, poly = _runs(ua, va, ub, vb, owner, nrows, ncols)
    step = poly.astype(np.int64) + (1 + (1 << 32))
    swept = np.zeros(size + 1, dtype=np.int64)
    np.add.at(swept, start, step)
    np.add.at(swept, end, -step)
    np.cumsum(swept, out=swept)
    return start, end, poly, swept[:size]


def _closed(
    ua: np.ndarray, va: np.ndarray, ub: np.ndarray, vb: np.ndarray, owner: np.ndarray, one: np.ndarray,
    touched: np.ndarray, before: np.ndarray, nrows: int, ncols: int,
) -> np.ndarray:
    """Per touched bucket: no one-sided segment (``one``) within two buckets of it (see PolygonIndex.closed).

    Why not only the buckets one-sided segments touch: a bucket B is listed for a piece p whose bounding box
    overlaps it, though p itself may pass up to 1.4 buckets away. Say B holds a point b that no polygon covers.
    If B also holds a covered point c, the last covered point on the way from c to b lies on a one-sided segment
    (uncovered points lie just beyond it), inside B: that segment's piece marks B. Otherwise take b in p's box;
    the last covered point X on the way from p to b (p's points are covered) lies on a one-sided segment and in
    p's box, which is under one bucket wide: X's bucket, marked by that segment, is at most one row and one
    column from B. Two, here, is one more than needed.
    """
    closed = np.ones(int(before[-1]), dtype=bool)
    if not one.any():  # one-sided segments are few: a tessellation's outer edge, empty holes
        return closed
    near = np.unique(_touched_pairs(ua[one], va[one], ub[one], vb[one], owner[one], ncols)[0])
    rows, cols = np.divmod(near, ncols)
    for dr in range(-2, 3):
        for dc in range(-2, 3):
            r, c = rows + dr, cols + dc
            ok = (r >= 0) & (r < nrows) & (c >= 0) & (c < ncols)
            flat = r[ok] * ncols + c[ok]
            closed[before[flat[touched[flat]]]] = False
    return closed


def _build_tables(
    geoms: np.ndarray, x0: float, y0: float, inv_cell: float, nrows: int, ncols: int, tree: shapely.STRtree
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """labels per bucket, and per touched bucket: slots, the lowest polygon holding it whole, overflow, closed;
    and the twin (see PolygonIndex)."""
    size = nrows * ncols
    ua, va, ub, vb, owner, sides = _ring_segments(geoms, x0, y0, inv_cell)

    def touched_tables() -> tuple[np.ndarray, ...]:
        t_bucket, t_poly = _touched_pairs(ua, va, ub, vb, owner, ncols)
        touched = np.zeros(size, dtype=bool)
        touched[t_bucket] = True
        before = np.zeros(size + 1, dtype=np.int32)  # touched buckets before each position
        np.cumsum(touched, out=before[1:])
        return (touched, before, *_fill_slots(before[t_bucket], t_poly, int(before[-1])))

    # The runs and their sweep (the centres) and which segments are shared on the other thread, the touched
    # buckets here.
    # With many polygons, the copy of them for a second query thread is made there too (PolygonIndex.twin).
    parallel = ua.size >= _PARALLEL_MIN // 4 and THREADS > 1
    (start, end, poly, swept, two_sided, twin), (touched, before, slots, overflow) = _side_by_side(
        lambda: (
            *_swept_runs(ua, va, ub, vb, owner, nrows, ncols),
            _two_sided(*sides, (ua, va, ub, vb)),
            _prepared_copy(geoms) if parallel else None,
        ),
        touched_tables,
        parallel=parallel,
    )
    closed = _closed(ua, va, ub, vb, owner, ~two_sided, touched, before, nrows, ncols)
    count = int(before[-1])
    # Depth 1: 2**32 <= swept < 2 * 2**32; the low 32 bits are then the polygon + 1 (int32 cast keeps them).
    labels = swept.astype(np.int32)
    labels -= 1
    labels[(swept < (1 << 32)) | (swept >= (2 << 32))] = -1
    deep = np.flatnonzero((swept >= (2 << 32)) & ~touched)
    if deep.size:  # overlapping polygons: exact test at the centres (far from every ring)
        rows, cols = np.divmod(deep, ncols)
        centres = shapely.points(x0 + (cols + 0.5) / inv_cell, y0 + (rows + 0.5) / inv_cell)
        labels[deep] = _lowest_covering(tree, centres)

    # A touched bucket whose centre is in a run of a polygon whose rings do not touch it lies wholly inside
    # that polygon (only where polygons overlap): that polygon covers every point of the bucket.
    big = np.iinfo(np.int32).max
    whole = np.full(count, big, dtype=np.int32)
    first, last = before[start], before[end]
    n = (last - first).astype(np.int64)
    cid = np.repeat(first.astype(np.int64), n) + np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
    who = np.repeat(poly, n)
    listed = (np.take(slots, cid, axis=0) == who[:, None]).any(axis=1) | overflow[cid]
    np.minimum.at(whole, cid[~listed], who[~listed])
    whole[whole == big] = -1
    labels[touched] = _BOUNDARY - np.arange(count, dtype=np.int32)
    # Every point of such a bucket is covered by one of its listed polygons (see PolygonIndex.closed).
    closed &= (whole < 0) & ~overflow
    return labels, slots, whole, overflow, closed, {} if twin is None else {"polygons": twin}


# --- querying -----------------------------------------------------------------------------------------------


def _lowest_covering(tree: shapely.STRtree, points: np.ndarray) -> np.ndarray:
    """For each point geometry, the lowest position of a tree geometry that it intersects, -1 for none."""
    out = np.full(points.size, np.iinfo(np.int64).max, dtype=np.int64)
    if points.size:
        which, poly = tree.query(points, predicate="intersects")
        np.minimum.at(out, which, poly)
    out[out == np.iinfo(np.int64).max] = -1
    return out


def _bucket_of(index: PolygonIndex, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Flat bucket of each point; points off the grid (and NaN) go to a border bucket, outside any polygon."""
    nrows, ncols = index.shape
    x0, y0 = index.origin
    inv = 1.0 / index.cell
    u = x - x0
    u *= inv
    v = y - y0
    v *= inv
    # fmax/fmin send NaN to 0 as well; truncation equals floor on the non-negative values left.
    col = np.fmin(np.fmax(u, 0.0, out=u), ncols - 1, out=u).astype(np.int64)
    row = np.fmin(np.fmax(v, 0.0, out=v), nrows - 1, out=v).astype(np.int64)
    row *= ncols
    row += col
    return row


def _query(index: PolygonIndex, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Many points: two halves on two threads, each testing its own copy of the polygons (a prepared polygon is
    never used by two threads at once); the crowded buckets' points then go to the STRtree here. One query at a
    time per index (its lock)."""
    with index.lock:
        return _query_locked(index, x, y)


def _query_locked(index: PolygonIndex, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    if x.size < 2 * _PARALLEL_MIN or THREADS < 2:
        out, crowded = _query_part(index, index.polygons, x, y)
    else:
        half = x.size // 2
        (a, crowded_a), (b, crowded_b) = _side_by_side(
            lambda: _query_part(index, _twin(index), x[:half], y[:half]),
            lambda: _query_part(index, index.polygons, x[half:], y[half:]),
            parallel=True,
        )
        out, crowded = np.concatenate((a, b)), np.concatenate((crowded_a, crowded_b + half))
    if crowded.size:
        out[crowded] = _lowest_covering(index.tree, shapely.points(x[crowded], y[crowded]))
    return out


def _twin(index: PolygonIndex) -> np.ndarray:
    """A second, separately prepared copy of the index's polygons (coordinates bit for bit), made once."""
    if "polygons" not in index.twin:
        index.twin["polygons"] = _prepared_copy(index.polygons)
    return index.twin["polygons"]


def _prepared_copy(geoms: np.ndarray) -> np.ndarray:
    twin = shapely.transform(geoms, lambda coords: coords)
    shapely.prepare(twin[~(shapely.is_missing(twin) | shapely.is_empty(twin))])
    return twin


def _query_part(
    index: PolygonIndex, polygons: np.ndarray, x: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The answers for points off crowded buckets, and the positions of those in crowded buckets (left to do)."""
    if x.size == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    out = index.labels[_bucket_of(index, x, y)].astype(np.int64)
    near = np.flatnonzero(out <= _BOUNDARY)
    if near.size == 0:
        return out, near
    cid = _BOUNDARY - out[near]
    many = index.overflow[cid]
    crowded = near[many]
    near, cid = near[~many], cid[~many]
    big = np.iinfo(np.int64).max
    best = index.whole[cid].astype(np.int64)
    best[best < 0] = big
    todo = np.arange(near.size)
    for k in range(_SLOTS):
        cand = index.slots[cid[todo], k].astype(np.int64)
        test = (cand >= 0) & (cand < best[todo])
        todo, cand = todo[test], cand[test]
        if todo.size == 0:
            break
        # The last polygon of a closed bucket holds the points that the ones before it do not.
        bucket = cid[todo]
        last = index.closed[bucket]
        if k + 1 < _SLOTS:
            last &= index.slots[bucket, k + 1] < 0
        best[todo[last]] = cand[last]
        todo, cand = todo[~last], cand[~last]
        pts = near[todo]
        hit = shapely.intersects_xy(polygons[cand], x[pts], y[pts])
        best[todo[hit]] = cand[hit]
        todo = todo[~hit]  # slots ascend: the first hit is the lowest
    best[best == big] = -1
    out[near] = best
    return out, crowded


def _coordinates(geoms: np.ndarray, parallel: bool) -> tuple[np.ndarray, np.ndarray]:
    """x and y of point geometries; NaN for missing and empty geometries and for any other kind."""
    try:  # get_x / get_y give NaN for missing points and for other kinds …
        both = parallel and geoms.size >= _PARALLEL_MIN
        return _side_by_side(lambda: shapely.get_x(geoms), lambda: shapely.get_y(geoms), parallel=both)
    except shapely.errors.GEOSException:  # … but raise for empty points
        usable = ~shapely.is_empty(geoms)
        x = np.full(geoms.size, np.nan)
        y = np.full(geoms.size, np.nan)
        x[usable], y[usable] = shapely.get_x(geoms[usable]), shapely.get_y(geoms[usable])
        return x, y


def _assign_dask(points: Any, index: PolygonIndex) -> dd.Series:
    import dask_geopandas  # lazy: dask is optional and slow to import; only dask callers pay for it

    if isinstance(points, dask_geopandas.GeoDataFrame):
        points = points.geometry
    if index.crs is not None and points.crs is not None and not pyproj.CRS(points.crs).equals(index.crs):
        raise GeoValidationError(
            f"points are in {pyproj.CRS(points.crs).to_string()} but the polygons in {index.crs.to_string()}",
            field="points",
        )
    meta = pd.Series(dtype="int64", name="polygon")
    return points.map_partitions(_assign_partition, _shipped(index), meta=meta)


def _shipped(index: PolygonIndex) -> Any:
    """``index`` scattered to the workers of the current distributed client, if any (else as is)."""
    try:
        from distributed import get_client  # lazy and optional: without distributed the index is used as is

        client = get_client()
    except (ImportError, ValueError):
        return index
    return client.scatter(index, broadcast=True, hash=False)


def _assign_partition(part: gpd.GeoSeries, index: PolygonIndex) -> pd.Series:
    return pd.Series(index.query(part), index=part.index, dtype="int64", name="polygon")


# --- validation ---------------------------------------------------------------------------------------------


def _is_dask(obj: object) -> bool:
    module = type(obj).__module__
    return module.startswith(("dask_geopandas", "dask.", "dask_expr"))


def _positive(value: object) -> bool:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return math.isfinite(number) and number > 0


def _geometry_array(
    values: object, field: str, problems: ProblemList
) -> tuple[np.ndarray, pyproj.CRS | None]:
    if isinstance(values, gpd.GeoDataFrame):
        values = values.geometry
    if isinstance(values, gpd.GeoSeries):
        return np.asarray(values.array, dtype=object), values.crs
    if isinstance(values, (str, bytes)) or np.ndim(values) != 1:  # type: ignore[arg-type]
        problems.add(
            "invalid_shape", f"{field} must be a one-dimensional sequence of geometries", field=field
        )
        return np.empty(0, dtype=object), None
    arr = np.asarray(values, dtype=object)
    ok = np.fromiter((v is None or isinstance(v, shapely.Geometry) for v in arr), bool, arr.size)
    if not ok.all():
        problems.add(
            "invalid_geometry",
            f"{field} must hold shapely geometries; {_positions(~ok)} hold {type(arr[~ok][0]).__name__}",
            field=field,
        )
        return np.empty(0, dtype=object), None
    return arr, None


def _polygon_geometries(values: object, problems: ProblemList) -> tuple[np.ndarray, pyproj.CRS | None]:
    geoms, crs = _geometry_array(values, "polygons", problems)
    kinds = shapely.get_type_id(geoms)
    polygonal = np.isin(kinds, (-1, 3, 6)) | shapely.is_empty(geoms)
    if not polygonal.all():
        bad = shapely.get_type_id(geoms[~polygonal][0])
        names = ("Point", "LineString", "LinearRing", "Polygon", "MultiPoint", "MultiLineString")
        problems.add(
            "invalid_geometry_type",
            f"polygons must be Polygon or MultiPolygon; {_positions(~polygonal)} are not "
            f"(e.g. {names[bad] if bad < len(names) else 'GeometryCollection'})",
            field="polygons",
        )
    elif geoms.size:
        coords = shapely.get_coordinates(geoms)
        if not np.isfinite(coords).all():
            nonfinite = ~np.isfinite(shapely.bounds(geoms)).all(axis=1) & ~shapely.is_empty(geoms)
            nonfinite &= ~shapely.is_missing(geoms)
            problems.add(
                "invalid_coordinate",
                f"polygons must have finite coordinates; {_positions(nonfinite)} do not",
                field="polygons",
            )
    return geoms, crs


def _point_xy(values: object, field: str, *, parallel: bool) -> tuple[np.ndarray, np.ndarray, pyproj.CRS | None]:
    """x and y of point geometries (NaN for missing or empty ones) and their CRS; non-points raise."""
    problems = ProblemList()
    geoms, points_crs = _geometry_array(values, field, problems)
    problems.raise_if_any()
    x, y = _coordinates(geoms, parallel)
    # Only a geometry without coordinates can be something else than a point: look up kinds there alone.
    ok = np.ones(geoms.size, dtype=bool)
    suspect = np.flatnonzero(np.isnan(x))
    ok[suspect] = shapely.get_type_id(geoms[suspect]) <= 0  # Point, or missing (-1)
    if not ok.all():
        problems.add(
            "invalid_geometry_type", f"{field} must be points; {_positions(~ok)} are not", field=field
        )
    problems.raise_if_any()
    return x, y, points_crs


def _check_crs(points_crs: pyproj.CRS | None, crs: pyproj.CRS | None, field: str) -> None:
    if crs is not None and points_crs is not None and not pyproj.CRS(points_crs).equals(crs):
        problems = ProblemList()
        problems.add(
            "crs_mismatch",
            f"{field} are in {pyproj.CRS(points_crs).to_string()} but the polygons in {crs.to_string()}",
            field=field,
        )
        problems.raise_if_any()


def _xy_arrays(x: npt.ArrayLike, y: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    problems = ProblemList()
    arrays = {}
    for name, values in (("x", x), ("y", y)):
        try:
            arr = np.asarray(values, dtype=float)
        except (TypeError, ValueError):
            problems.add("invalid_coordinate", f"{name} must be numbers", field=name)
            continue
        if arr.ndim != 1:
            problems.add(
                "invalid_shape", f"{name} must be one-dimensional, got shape {arr.shape}", field=name
            )
            continue
        arrays[name] = arr
    if len(arrays) == 2 and arrays["x"].size != arrays["y"].size:
        problems.add(
            "length_mismatch", f"y has {arrays['y'].size} values but x has {arrays['x'].size}", field="y"
        )
    problems.raise_if_any()
    return arrays["x"], arrays["y"]


def _positions(mask: np.ndarray, limit: int = 5) -> str:
    where = np.flatnonzero(mask)
    quoted = ", ".join(str(i) for i in where[:limit])
    more = f" and {where.size - limit} more" if where.size > limit else ""
    return f"position{'s' if where.size > 1 else ''} {quoted}{more}"
