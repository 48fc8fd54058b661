"""Cells for hotspot statistics: grids of cells, point counts per cell, and spatial weights between cells.

Three kinds of cells are supported, each with a fast way to count points and to find neighbours:

- a **fishnet** of metric squares (:func:`fishnet`): points are assigned by integer arithmetic, neighbours by
  index arithmetic (:func:`lattice`);
- **H3** hexagons (:func:`hexagons`, Uber's H3 grid, h3-py 4.x): points are assigned by cell id, neighbours by
  grid distance (:func:`h3_neighbours`);
- **any polygons**, e.g. the patrol grids of a community: points are assigned with a shapely STRtree,
  neighbours by shared vertices or edges (:func:`contiguity`). Points can also be neighbours of each other
  within a distance (:func:`distance_band`).

Spatial weights are ``scipy.sparse.csr_matrix`` of shape ``(n, n)``, positional in the cells (row ``i`` lists
the neighbours of cell ``i``), with a zero diagonal; :mod:`geo.hotspots` adds the self-weight of Gi* itself.
Builders warn with :class:`IslandWarning` when some cells have no neighbour; :func:`islands` lists them.

The weights agree with PySAL's ``libpysal.weights`` (``Queen``/``Rook.from_dataframe``, ``lat2W``,
``DistanceBand``) on the same input, except where documented (coincident points, polygon holes), but are built
with numpy and scipy alone.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeAlias

import geopandas as gpd
import h3
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyproj
import shapely
from scipy import sparse
from scipy.spatial import cKDTree
from shapely.geometry.base import BaseGeometry

from geo.errors import GeoValidationError, ProblemList, positive_number

WGS84 = "EPSG:4326"
#: Name of the column holding the H3 id of each cell in frames made by :func:`hexagons`.
H3_COLUMN = "h3"
#: Name of the column holding the integer id (``row * ncols + col``) of each cell in frames made by
#: :func:`fishnet`.
CELL_COLUMN = "cell"
#: ``frame.attrs`` key under which :func:`fishnet` stores its :class:`FishnetSpec`.
FISHNET_ATTR = "fishnet"
#: A fishnet or a raster with more cells than this is refused rather than exhausting memory.
MAX_CELLS = 50_000_000
KINDS = ("queen", "rook")

#: Weights: a scipy sparse matrix (any format; builders return CSR).
Weights: TypeAlias = sparse.spmatrix | sparse.sparray
PointsLike: TypeAlias = gpd.GeoSeries | gpd.GeoDataFrame | npt.ArrayLike

_MAX_QUOTED = 5


class IslandWarning(UserWarning):
    """Some cells have no neighbour under the weights just built (see :func:`islands`)."""


# --- cells --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FishnetSpec:
    """Geometry of a fishnet: square cells of ``size`` metres, ``nrows`` x ``ncols``, from ``(x0, y0)``.

    Cell ``(row, col)`` covers ``x0 + col*size <= x < x0 + (col+1)*size`` and likewise in y, row 0 being the
    southernmost row; its id is ``row * ncols + col`` (row-major, as :func:`lattice` and ``libpysal.lat2W``).
    """

    x0: float
    y0: float
    size: float
    nrows: int
    ncols: int

    def cell_of(self, x: npt.ArrayLike, y: npt.ArrayLike) -> np.ndarray:
        """Id of the cell containing each point, -1 outside the fishnet or for NaN coordinates.

        A point on a shared edge belongs to the cell above / to the right; points on the outer north and east
        edges belong to the last row / column.
        """
        xs = np.asarray(x, dtype=float)
        ys = np.asarray(y, dtype=float)
        with np.errstate(invalid="ignore"):
            fc = np.floor((xs - self.x0) / self.size)
            fr = np.floor((ys - self.y0) / self.size)
            # the outer north / east edge belongs to the last row / column
            fc = np.where(xs == self.x0 + self.ncols * self.size, self.ncols - 1, fc)
            fr = np.where(ys == self.y0 + self.nrows * self.size, self.nrows - 1, fr)
            inside = (fc >= 0) & (fc < self.ncols) & (fr >= 0) & (fr < self.nrows)
        ids = np.full(xs.shape, -1, dtype=np.int64)
        ids[inside] = fr[inside].astype(np.int64) * self.ncols + fc[inside].astype(np.int64)
        return ids


def fishnet(bounds: Sequence[float], size_m: float, crs: object) -> gpd.GeoDataFrame:
    """Square cells of ``size_m`` metres covering ``bounds`` in a metric CRS.

    Parameters
    ----------
    bounds
        ``(minx, miny, maxx, maxy)`` in ``crs``. The fishnet starts at ``(minx, miny)`` and has
        ``ceil((maxx - minx) / size_m)`` columns and ``ceil((maxy - miny) / size_m)`` rows (at least one of
        each), so it may extend past ``maxx`` / ``maxy`` by less than a cell.
    size_m
        Side of a cell in metres (CRS units).
    crs
        A projected CRS in metres, e.g. :func:`geo.crs.metric_crs_for_bounds` of the city's WGS-84 bounds.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per cell, ordered by id, with columns ``cell`` (``row * ncols + col``), ``row`` (0 = south),
        ``col`` (0 = west) and the square ``geometry``. ``frame.attrs["fishnet"]`` holds the
        :class:`FishnetSpec` that :func:`count_points` uses for integer-arithmetic counting; it survives row
        selection, so a fishnet clipped to a city (``cells[cells.intersects(city)]``) still counts fast.
        Weights for a selection: ``lattice(spec.nrows, spec.ncols)[ids][:, ids]`` with
        ``ids = cells["cell"].to_numpy()``.

    Raises
    ------
    GeoValidationError
        For malformed bounds, a non-positive size, a CRS that is missing or not projected, or more than
        ``MAX_CELLS`` cells.
    """
    problems = ProblemList()
    box = _check_bounds(bounds, problems)
    size = positive_number(size_m, "size_m", problems)
    _check_metric_crs(crs, "crs", problems)
    problems.raise_if_any()
    assert box is not None
    minx, miny, maxx, maxy = box
    ncols = max(1, math.ceil((maxx - minx) / size))
    nrows = max(1, math.ceil((maxy - miny) / size))
    if nrows * ncols > MAX_CELLS:
        raise GeoValidationError(
            f"size_m={size_m!r} over bounds {tuple(bounds)!r} gives {nrows} x {ncols} cells, more than "
            f"{MAX_CELLS:,}; use larger cells", field="size_m")
    spec = FishnetSpec(float(minx), float(miny), float(size), int(nrows), int(ncols))
    rows, cols = np.divmod(np.arange(nrows * ncols, dtype=np.int64), ncols)
    x = spec.x0 + cols * size
    y = spec.y0 + rows * size
    frame = gpd.GeoDataFrame(
        {CELL_COLUMN: rows * ncols + cols, "row": rows, "col": cols},
        geometry=shapely.box(x, y, x + size, y + size),
        crs=crs,
    )
    frame.attrs[FISHNET_ATTR] = spec
    return frame


def hexagons(area: object, resolution: int, *, rings: int = 0) -> gpd.GeoDataFrame:
    """H3 cells of ``resolution`` covering an area or the places where points are.

    Parameters
    ----------
    area
        Either polygons — a shapely Polygon / MultiPolygon in WGS-84 lon/lat, or a GeoSeries / GeoDataFrame of
        polygons in any CRS (reprojected to WGS-84 and unioned) — giving every cell whose *centre* lies inside
        (H3's polygon fill, ``h3.geo_to_cells``); or points — a GeoSeries / GeoDataFrame of points, or an
        ``(n, 2)`` array of lon/lat — giving every cell that contains at least one point. Missing and empty
        geometries and NaN coordinates are ignored.
    resolution
        H3 resolution 0–15; resolution 8 cells are ≈0.74 km² (edge ≈0.53 km), 9 ≈0.11 km², 7 ≈5.2 km².
    rings
        Also include every cell within this many steps of a cell found above (``h3.grid_disk``). Useful with
        points: Gi* needs the empty cells around the occupied ones.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per cell, sorted by id, with column ``h3`` (the cell id string) and the hexagon (pentagon)
        ``geometry`` in EPSG:4326. Cells crossing the antimeridian are not split.

    Raises
    ------
    GeoValidationError
        For a resolution outside 0–15, negative ``rings``, an area that is neither polygons nor points, or
        coordinates outside the valid lon/lat range.
    """
    problems = ProblemList()
    res = _int_in(resolution, "resolution", 0, 15, problems)
    k = _int_in(rings, "rings", 0, None, problems)
    polygon, lonlat = _area_or_points(area, problems)
    problems.raise_if_any()
    found: set[str] = set()
    if polygon is not None:
        found.update(h3.geo_to_cells(polygon, res))
    if lonlat is not None:
        found.update(h3.latlng_to_cell(lat, lon, res) for lon, lat in lonlat)
    if k:
        found = {c for cell in found for c in h3.grid_disk(cell, k)}
    ids = sorted(found)
    geoms = [shapely.Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(c)]) for c in ids]
    return gpd.GeoDataFrame({H3_COLUMN: pd.Series(ids, dtype=object)}, geometry=geoms, crs=WGS84)


# --- counting -----------------------------------------------------------------------------------------------


def count_points(
    points: PointsLike, cells: gpd.GeoDataFrame | gpd.GeoSeries, *, weights: npt.ArrayLike | str | None = None
) -> np.ndarray:
    """Number (or total weight) of points in each cell.

    The method depends on the cells:

    - a frame from :func:`fishnet` (``attrs["fishnet"]`` and a ``cell`` column, possibly a row selection):
      integer arithmetic on the coordinates, O(n); a point on a shared edge counts in the cell above / right;
    - a frame with an ``h3`` column (e.g. from :func:`hexagons`): ``h3.latlng_to_cell`` of every point at the
      cells' resolution (≈1 s per million points);
    - any other polygons: a shapely STRtree query. A point on the boundary of several cells counts once, in
      the first (lowest position) of them.

    Parameters
    ----------
    points
        A GeoSeries / GeoDataFrame of points (reprojected to the cells' CRS when both have one), or an
        ``(n, 2)`` array of coordinates in the cells' CRS (lon/lat for H3 cells). Missing and empty geometries
        and NaN coordinates are skipped; points outside every cell are not counted.
    cells
        The cells, a GeoDataFrame or GeoSeries.
    weights
        Weight of each point (e.g. the severity of a report): an array of ``n`` numbers, or the name of a
        column of ``points``. ``None`` counts points.

    Returns
    -------
    numpy.ndarray
        One value per row of ``cells``, positional: ``int64`` counts, or ``float64`` sums of weights.

    Raises
    ------
    GeoValidationError
        For points that are not points, a GeoSeries without CRS against cells with one (or the reverse),
        weights of the wrong length or not finite, or an unknown weights column.
    """
    problems = ProblemList()
    if not isinstance(cells, gpd.GeoDataFrame | gpd.GeoSeries):
        problems.add("type", f"cells should be a GeoDataFrame or GeoSeries, got {type(cells)}", field="cells")
        problems.raise_if_any()
    xy = _point_coordinates(points, cells.crs, problems)
    w = _point_weights(weights, points, len(xy), problems)
    problems.raise_if_any()
    valid = np.isfinite(xy).all(axis=1)
    n_cells = len(cells)
    spec = cells.attrs.get(FISHNET_ATTR)
    if isinstance(spec, FishnetSpec) and isinstance(cells, gpd.GeoDataFrame) and CELL_COLUMN in cells.columns:
        full = spec.cell_of(xy[:, 0], xy[:, 1])
        keep = full >= 0
        total = np.bincount(full[keep], weights=None if w is None else w[keep],
                            minlength=spec.nrows * spec.ncols)
        return total[cells[CELL_COLUMN].to_numpy(dtype=np.int64)]
    if isinstance(cells, gpd.GeoDataFrame) and H3_COLUMN in cells.columns:
        ids = [str(c) for c in cells[H3_COLUMN]]
        position = {c: i for i, c in enumerate(ids)}
        if not ids:
            return np.zeros(0, dtype=np.int64 if w is None else float)
        res = h3.get_resolution(ids[0])
        where = np.full(len(xy), -1, dtype=np.int64)
        for i in np.flatnonzero(valid):
            where[i] = position.get(h3.latlng_to_cell(xy[i, 1], xy[i, 0], res), -1)
        keep = where >= 0
        return _bincount(where[keep], None if w is None else w[keep], n_cells)
    geoms = np.asarray(cells.geometry.array if isinstance(cells, gpd.GeoDataFrame) else cells.array)
    idx = np.flatnonzero(valid)
    pts = shapely.points(xy[idx])
    point_pos, cell_pos = shapely.STRtree(geoms).query(pts, predicate="intersects")
    order = np.lexsort((cell_pos, point_pos))
    point_pos, cell_pos = point_pos[order], cell_pos[order]
    first = np.r_[True, point_pos[1:] != point_pos[:-1]] if len(point_pos) else np.zeros(0, bool)
    point_pos, cell_pos = point_pos[first], cell_pos[first]
    return _bincount(cell_pos, None if w is None else w[idx[point_pos]], n_cells)


# --- weights ------------------------------------------------------------------------------------------------


def distance_band(
    xy: npt.ArrayLike, threshold: float, *, binary: bool = True, alpha: float = -1.0
) -> sparse.csr_matrix:
    """Neighbours within a distance: ``w_ij = 1`` (or ``d_ij ** alpha``) when ``0 < |i - j| <= threshold``.

    Parameters
    ----------
    xy
        ``(n, 2)`` coordinates in a metric CRS (cell centroids, points).
    threshold
        Largest distance (CRS units) between neighbours, inclusive.
    binary
        ``True``: weight 1 for every neighbour. ``False``: ``d ** alpha`` (inverse distance for ``alpha=-1``).
    alpha
        Exponent of the distance when ``binary`` is False.

    Returns
    -------
    scipy.sparse.csr_matrix
        Symmetric ``(n, n)`` float64 weights with a zero diagonal. Distinct points at the same place are
        neighbours (libpysal's ``DistanceBand`` drops such zero-distance pairs); with ``binary=False`` they
        are rejected since their weight would be infinite. Warns with :class:`IslandWarning` for points
        without a neighbour.

    Raises
    ------
    GeoValidationError
        For coordinates that are not an ``(n, 2)`` array of finite numbers, a threshold that is not a positive
        number, or coincident points with ``binary=False``.
    """
    problems = ProblemList()
    pts = _xy_array(xy, "xy", problems)
    dist = positive_number(threshold, "threshold", problems)
    problems.raise_if_any()
    assert pts is not None
    n = len(pts)
    pairs = cKDTree(pts).query_pairs(r=dist, output_type="ndarray") if n else np.zeros((0, 2), dtype=np.int64)
    i, j = pairs[:, 0], pairs[:, 1]
    if binary:
        data = np.ones(len(i))
    else:
        d = np.hypot(*(pts[i] - pts[j]).T)
        if (d == 0).any():
            k = int(np.flatnonzero(d == 0)[0])
            raise GeoValidationError(
                f"xy has {int((d == 0).sum())} pairs of coincident points (e.g. positions {int(i[k])} and "
                f"{int(j[k])}), whose weight d ** alpha is infinite; deduplicate them or use binary=True",
                field="xy")
        data = d ** float(alpha)
    w = _symmetric(i, j, data, n)
    _warn_islands(w)
    return w


def contiguity(
    polygons: gpd.GeoSeries | gpd.GeoDataFrame | Sequence[BaseGeometry | None] | np.ndarray,
    *,
    kind: str = "queen",
    snap: float | None = None,
) -> sparse.csr_matrix:
    """Contiguity of polygons: neighbours share a vertex (``"queen"``) or an edge (``"rook"``).

    The test is on coordinates, as libpysal's ``Queen`` / ``Rook.from_dataframe`` (not a geometric predicate):
    two polygons are queen neighbours when some vertex of one has exactly the coordinates of a vertex of the
    other, and rook neighbours when some edge (two consecutive vertices of a ring, in either direction) of one
    is an edge of the other. Polygons that only touch at a point lying inside an edge of the other, or whose
    shared boundaries are digitised with different vertices, are not neighbours: clean such data first (e.g. a
    coverage from a tessellation) or pass ``snap``. Rings are taken one by one, so unlike libpysal no edge
    joins the end of one ring (or part) to the start of the next.

    Built with numpy sorting, O(V log V) in the number of vertices: 10k polygons take a fraction of a second.

    Parameters
    ----------
    polygons
        Polygons / MultiPolygons, positional; missing and empty geometries have no neighbours.
    kind
        ``"queen"`` (shared vertex) or ``"rook"`` (shared edge).
    snap
        If given, coordinates are rounded to multiples of this many CRS units before they are compared.

    Returns
    -------
    scipy.sparse.csr_matrix
        Symmetric binary ``(n, n)`` float64 weights with a zero diagonal. Warns with :class:`IslandWarning`
        for polygons without a neighbour.

    Raises
    ------
    GeoValidationError
        For an unknown ``kind``, a non-positive ``snap``, or geometries that are not polygons.
    """
    problems = ProblemList()
    kind_ = _kind(kind, problems)
    if snap is not None:
        positive_number(snap, "snap", problems)
    geoms = _polygon_array(polygons, problems)
    problems.raise_if_any()
    n = len(geoms)
    parts, part_owner = shapely.get_parts(geoms, return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    xy, ring_of = shapely.get_coordinates(rings, return_index=True)
    owner = part_owner[ring_part[ring_of]] if len(ring_of) else np.zeros(0, np.int64)
    if snap is not None:
        xy = np.round(xy / float(snap)) * float(snap)
    if kind_ == "queen":
        keys = [xy[:, 1], xy[:, 0]]
    else:
        same_ring = ring_of[1:] == ring_of[:-1]
        a, b = xy[:-1][same_ring], xy[1:][same_ring]
        owner = owner[:-1][same_ring]
        swap = (b[:, 0] < a[:, 0]) | ((b[:, 0] == a[:, 0]) & (b[:, 1] < a[:, 1]))
        lo = np.where(swap[:, None], b, a)
        hi = np.where(swap[:, None], a, b)
        real = (lo != hi).any(axis=1)
        lo, hi, owner = lo[real], hi[real], owner[real]
        keys = [hi[:, 1], hi[:, 0], lo[:, 1], lo[:, 0]]
    i, j = _pairs_sharing(keys, owner)
    w = _symmetric(i, j, np.ones(len(i)), n)
    _warn_islands(w)
    return w


def lattice(nrows: int, ncols: int, *, kind: str = "queen") -> sparse.csr_matrix:
    """Contiguity of the cells of an ``nrows`` x ``ncols`` grid, by index arithmetic.

    Cell ``(r, c)`` has id ``r * ncols + c`` (row-major, as :func:`fishnet` and ``libpysal.weights.lat2W``).
    ``"rook"`` neighbours share an edge (up to 4), ``"queen"`` also a corner (up to 8). A million cells take
    well under a second.

    Returns
    -------
    scipy.sparse.csr_matrix
        Symmetric binary ``(n, n)`` float64 weights, ``n = nrows * ncols``, zero diagonal, sorted indices.

    Raises
    ------
    GeoValidationError
        For non-positive sizes, more than ``MAX_CELLS`` cells, or an unknown ``kind``.
    """
    problems = ProblemList()
    nr = _int_in(nrows, "nrows", 1, None, problems)
    nc = _int_in(ncols, "ncols", 1, None, problems)
    kind_ = _kind(kind, problems)
    if nr * nc > MAX_CELLS:
        problems.add("size", f"nrows * ncols = {nr * nc:,} is more than {MAX_CELLS:,}", field="nrows")
    problems.raise_if_any()
    n = nr * nc
    # Neighbour offsets in increasing id order, so that each row of the CSR comes out sorted.
    steps = [(-1, 0), (0, -1), (0, 1), (1, 0)] if kind_ == "rook" else [
        (-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)]
    rows, cols = np.divmod(np.arange(n, dtype=np.int64), nc)
    neighbours = np.empty((n, len(steps)), dtype=np.int64)
    valid = np.empty((n, len(steps)), dtype=bool)
    for s, (dr, dc) in enumerate(steps):
        r, c = rows + dr, cols + dc
        valid[:, s] = (r >= 0) & (r < nr) & (c >= 0) & (c < nc)
        neighbours[:, s] = r * nc + c
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(valid.sum(axis=1), out=indptr[1:])
    indices = neighbours[valid]
    w = sparse.csr_matrix((np.ones(len(indices)), indices, indptr), shape=(n, n))
    w.has_sorted_indices = True
    _warn_islands(w)
    return w


def h3_neighbours(cells: gpd.GeoDataFrame | Iterable[str], *, k: int = 1) -> sparse.csr_matrix:
    """Neighbours among H3 cells: the other given cells within ``k`` grid steps (``h3.grid_disk``).

    Parameters
    ----------
    cells
        H3 cell ids, or a frame with an ``h3`` column (e.g. from :func:`hexagons`); all of one resolution.
    k
        Grid distance; 1 gives the (up to) 6 adjacent hexagons, 2 adds the next ring of 12.

    Returns
    -------
    scipy.sparse.csr_matrix
        Symmetric binary ``(n, n)`` float64 weights, positional in ``cells``, zero diagonal. Cells whose
        neighbours are all absent are islands (:class:`IslandWarning`).

    Raises
    ------
    GeoValidationError
        For invalid or duplicate cell ids, mixed resolutions, or ``k`` < 1.
    """
    problems = ProblemList()
    kk = _int_in(k, "k", 1, None, problems)
    ids = [str(c) for c in (cells[H3_COLUMN] if isinstance(cells, pd.DataFrame) else cells)]
    bad = [c for c in ids if not h3.is_valid_cell(c)]
    if bad:
        problems.add("h3", f"cells has {len(bad)} invalid H3 ids, e.g. {bad[:_MAX_QUOTED]!r}", field="cells")
    elif len({h3.get_resolution(c) for c in ids}) > 1:
        problems.add("h3", "cells mixes H3 resolutions; use one resolution", field="cells")
    if len(set(ids)) != len(ids):
        problems.add("h3", "cells has duplicate H3 ids", field="cells")
    problems.raise_if_any()
    position = {c: i for i, c in enumerate(ids)}
    src: list[int] = []
    dst: list[int] = []
    for i, cell in enumerate(ids):
        for other in h3.grid_disk(cell, kk):
            j = position.get(other)
            if j is not None and j > i:
                src.append(i)
                dst.append(j)
    w = _symmetric(np.asarray(src, np.int64), np.asarray(dst, np.int64), np.ones(len(src)), len(ids))
    _warn_islands(w)
    return w


def row_standardise(w: Weights) -> sparse.csr_matrix:
    """Divide every row of ``w`` by its sum, so each cell's weights sum to 1 (libpysal's transform ``"R"``).

    Rows that sum to zero (islands) stay zero. Returns a new float64 CSR matrix.
    """
    m = sparse.csr_matrix(w, dtype=float, copy=True)
    sums = np.asarray(m.sum(axis=1)).ravel()
    scale = np.divide(1.0, sums, out=np.zeros_like(sums), where=sums != 0)
    m.data *= np.repeat(scale, np.diff(m.indptr))
    return m


def islands(w: Weights) -> np.ndarray:
    """Positions of the cells without any neighbour other than themselves (no nonzero off-diagonal weight)."""
    m = sparse.csr_matrix(w, copy=True)
    m.sum_duplicates()
    m.eliminate_zeros()
    return _islands(m)


def _islands(m: sparse.csr_matrix) -> np.ndarray:
    """:func:`islands` of a canonical CSR matrix (no duplicates, no explicit zeros)."""
    return np.flatnonzero(np.diff(m.indptr) - (m.diagonal() != 0) == 0)


# --- helpers ------------------------------------------------------------------------------------------------


def _symmetric(
    i: np.ndarray, j: np.ndarray, data: np.ndarray, n: int, *, unique: bool = False
) -> sparse.csr_matrix:
    """CSR with ``data`` at ``(i, j)`` and ``(j, i)``; duplicate pairs are kept once (``unique``: there are
    none)."""
    rows = np.concatenate([i, j]).astype(np.int64, copy=False)
    cols = np.concatenate([j, i]).astype(np.int64, copy=False)
    vals = np.concatenate([data, data]).astype(float, copy=False)
    if len(rows) and not unique:
        key = rows * n + cols
        key, first = np.unique(key, return_index=True)
        rows, cols, vals = rows[first], cols[first], vals[first]
    m = sparse.csr_matrix((vals, (rows, cols)), shape=(n, n))
    m.sort_indices()
    return m


def _pairs_sharing(keys: list[np.ndarray], owner: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of distinct owners of identical keys (the keys are columns, compared exactly)."""
    if not len(owner):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    order = np.lexsort([owner, *keys])
    ks = [k[order] for k in keys]
    ow = owner[order]
    new_key = np.zeros(len(ow), dtype=bool)
    new_key[0] = True
    for k in ks:
        new_key[1:] |= k[1:] != k[:-1]
    distinct = new_key.copy()
    distinct[1:] |= ow[1:] != ow[:-1]
    ow = ow[distinct]
    group = np.cumsum(new_key)[distinct]
    src, dst = [], []
    d = 1
    while d < len(ow):
        same = group[d:] == group[:-d]
        if not same.any():
            break
        src.append(ow[:-d][same])
        dst.append(ow[d:][same])
        d += 1
    if not src:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(src), np.concatenate(dst)


def _warn_islands(w: sparse.csr_matrix) -> None:
    lonely = _islands(w)
    if len(lonely):
        shown = ", ".join(str(int(p)) for p in lonely[:_MAX_QUOTED])
        more = f" and {len(lonely) - _MAX_QUOTED} more" if len(lonely) > _MAX_QUOTED else ""
        warnings.warn(
            f"{len(lonely)} of {w.shape[0]} cells have no neighbour (positions {shown}{more}); "
            "their Gi is undefined and their Gi* uses only themselves", IslandWarning, stacklevel=3)


def _bincount(where: np.ndarray, w: np.ndarray | None, n: int) -> np.ndarray:
    return np.bincount(where, weights=w, minlength=n) if len(where) or w is None else np.zeros(n)


def _check_bounds(bounds: object, problems: ProblemList) -> tuple[float, float, float, float] | None:
    try:
        box = tuple(float(v) for v in bounds)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        box = ()
    if len(box) != 4 or not all(math.isfinite(v) for v in box):
        problems.add("bounds", f"bounds must be four finite numbers (minx, miny, maxx, maxy), got {bounds!r}",
                     field="bounds")
        return None
    if not (box[0] < box[2] and box[1] < box[3]):
        problems.add("bounds", f"bounds must satisfy minx < maxx and miny < maxy, got {bounds!r}",
                     field="bounds")
        return None
    return box  # type: ignore[return-value]


def _int_in(value: object, name: str, low: int, high: int | None, problems: ProblemList) -> int:
    ok = isinstance(value, int | np.integer) and not isinstance(value, bool)
    if ok and (value < low or (high is not None and value > high)):  # type: ignore[operator]
        ok = False
    if not ok:
        span = f"{low}–{high}" if high is not None else f">= {low}"
        problems.add("value", f"{name} must be an integer {span}, got {value!r}", field=name)
        return low
    return int(value)  # type: ignore[arg-type]


def _kind(kind: object, problems: ProblemList) -> str:
    if kind not in KINDS:
        problems.add("value", f"kind must be one of {KINDS}, got {kind!r}", field="kind")
        return "queen"
    return str(kind)


def _check_metric_crs(crs: object, name: str, problems: ProblemList) -> None:
    try:
        parsed = pyproj.CRS.from_user_input(crs)
    except pyproj.exceptions.CRSError:
        problems.add("crs", f"{name} is not a CRS: {crs!r}", field=name)
        return
    if not parsed.is_projected:
        problems.add("crs", f"{name} {parsed.name!r} is not a projected metric CRS; use "
                     "geo.crs.metric_crs_for_bounds", field=name)


def _xy_array(xy: object, name: str, problems: ProblemList) -> np.ndarray | None:
    try:
        pts = np.asarray(xy, dtype=float)
    except (TypeError, ValueError):
        problems.add("coordinates", f"{name} must be an (n, 2) array of numbers, got {type(xy)}", field=name)
        return None
    if pts.size == 0:
        return np.zeros((0, 2))
    if pts.ndim != 2 or pts.shape[1] != 2:
        problems.add("coordinates", f"{name} must have shape (n, 2), got {pts.shape}", field=name)
        return None
    if not np.isfinite(pts).all():
        bad = int((~np.isfinite(pts)).any(axis=1).sum())
        problems.add("coordinates", f"{name} has {bad} rows with NaN or infinite coordinates", field=name)
        return None
    return pts


def _polygon_array(polygons: object, problems: ProblemList) -> np.ndarray:
    if isinstance(polygons, gpd.GeoDataFrame):
        geoms = np.asarray(polygons.geometry.array)
    elif isinstance(polygons, gpd.GeoSeries):
        geoms = np.asarray(polygons.array)
    else:
        geoms = np.asarray(list(polygons), dtype=object)  # type: ignore[call-overload]
    kinds = shapely.get_type_id(geoms)
    bad = ~np.isin(kinds, [-1, 3, 6]) & ~shapely.is_empty(geoms)
    if bad.any():
        problems.add("geometry", f"polygons has {int(bad.sum())} geometries that are not polygons, at "
                     f"positions {np.flatnonzero(bad)[:_MAX_QUOTED].tolist()}", field="polygons")
    return geoms


def _area_or_points(area: object, problems: ProblemList) -> tuple[BaseGeometry | None, np.ndarray | None]:
    """Split a hexagons() area into a WGS-84 polygon and/or an (n, 2) lon/lat array."""
    if isinstance(area, BaseGeometry):
        geoms = np.asarray([area], dtype=object)
    elif isinstance(area, gpd.GeoDataFrame | gpd.GeoSeries):
        frame = area.geometry if isinstance(area, gpd.GeoDataFrame) else area
        if frame.crs is not None and not pyproj.CRS.from_user_input(frame.crs).equals(pyproj.CRS(WGS84)):
            frame = frame.to_crs(WGS84)
        geoms = np.asarray(frame.array)
    else:
        pts = _xy_array(area, "area", problems)
        if pts is not None:
            _check_lonlat(pts, "area", problems)
        return None, pts
    geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    kinds = shapely.get_type_id(geoms)
    poly = np.isin(kinds, [3, 6])
    point = np.isin(kinds, [0, 4])
    if not (poly | point).all():
        problems.add("geometry", "area must be polygons or points, got "
                     f"{sorted(set(shapely.get_type_id(geoms[~(poly | point)]).tolist()))} type ids",
                     field="area")
        return None, None
    polygon = shapely.union_all(geoms[poly]) if poly.any() else None
    lonlat = shapely.get_coordinates(geoms[point]) if point.any() else None
    for arr in (lonlat, None if polygon is None else shapely.get_coordinates(polygon)):
        if arr is not None:
            _check_lonlat(arr, "area", problems)
    return polygon, lonlat


def _check_lonlat(xy: np.ndarray, name: str, problems: ProblemList) -> None:
    bad = (np.abs(xy[:, 0]) > 180) | (np.abs(xy[:, 1]) > 90)
    if bad.any():
        problems.add("coordinates", f"{name} has {int(bad.sum())} coordinates outside lon [-180, 180] / lat "
                     f"[-90, 90], e.g. {xy[bad][0].tolist()}; H3 needs WGS-84 lon/lat", field=name)


def _point_coordinates(points: object, crs: object, problems: ProblemList) -> np.ndarray:
    if isinstance(points, gpd.GeoDataFrame | gpd.GeoSeries):
        series = points.geometry if isinstance(points, gpd.GeoDataFrame) else points
        if (series.crs is None) != (crs is None):
            problems.add("crs", f"points has CRS {series.crs!r} but cells have {crs!r}; set both",
                         field="points")
        elif series.crs is not None and not pyproj.CRS.from_user_input(series.crs).equals(
                pyproj.CRS.from_user_input(crs)):
            series = series.to_crs(crs)
        geoms = np.asarray(series.array)
        usable = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        kinds = shapely.get_type_id(geoms)
        bad = usable & (kinds != 0)
        if bad.any():
            problems.add("geometry", f"points has {int(bad.sum())} geometries that are not points, at "
                         f"positions {np.flatnonzero(bad)[:_MAX_QUOTED].tolist()}", field="points")
        xy = np.full((len(geoms), 2), np.nan)
        ok = usable & (kinds == 0)
        xy[ok] = shapely.get_coordinates(geoms[ok])
        return xy
    try:
        xy = np.asarray(points, dtype=float)
    except (TypeError, ValueError):
        problems.add("coordinates", f"points must be points or an (n, 2) array, got {type(points)}",
                     field="points")
        return np.zeros((0, 2))
    if xy.size == 0:
        return np.zeros((0, 2))
    if xy.ndim != 2 or xy.shape[1] != 2:
        problems.add("coordinates", f"points must have shape (n, 2), got {xy.shape}", field="points")
        return np.zeros((0, 2))
    return xy


def _point_weights(weights: object, points: object, n: int, problems: ProblemList) -> np.ndarray | None:
    if weights is None:
        return None
    if isinstance(weights, str):
        if not isinstance(points, pd.DataFrame) or weights not in points.columns:
            problems.add("column", f"weights names column {weights!r}, which points does not have",
                         field="weights")
            return None
        weights = points[weights]
    try:
        w = np.asarray(weights, dtype=float).ravel()
    except (TypeError, ValueError):
        problems.add("weights", f"weights must be numbers, got {type(weights)}", field="weights")
        return None
    if len(w) != n:
        problems.add("weights", f"weights has {len(w)} values for {n} points", field="weights")
        return None
    if not np.isfinite(w).all():
        problems.add("weights", f"weights has {int((~np.isfinite(w)).sum())} NaN or infinite values",
                     field="weights")
        return None
    return w
