"""Cells (a metric fishnet, H3 hexagons) and counting points in cells (fishnet, H3 or any polygons)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
import h3
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyproj
import shapely
from shapely.geometry.base import BaseGeometry

from geo.cells.checks import MAX_QUOTED, PointsLike, check_int_in, check_xy_array
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
    res = check_int_in(resolution, "resolution", 0, 15, problems)
    k = check_int_in(rings, "rings", 0, None, problems)
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


def _bincount(where: np.ndarray, w: np.ndarray | None, n: int) -> np.ndarray:
    return np.bincount(where, weights=w, minlength=n) if len(where) or w is None else np.zeros(n)


def _check_bounds(bounds: object, problems: ProblemList) -> tuple[float, float, float, float] | None:
    try:
        box = tuple(float(v) for v in bounds)  # type: ignore[attr-defined]
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
    return box


def _check_metric_crs(crs: object, name: str, problems: ProblemList) -> None:
    try:
        parsed = pyproj.CRS.from_user_input(crs)
    except pyproj.exceptions.CRSError:
        problems.add("crs", f"{name} is not a CRS: {crs!r}", field=name)
        return
    if not parsed.is_projected:
        problems.add("crs", f"{name} {parsed.name!r} is not a projected metric CRS; use "
                     "geo.crs.metric_crs_for_bounds", field=name)


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
        pts = check_xy_array(area, "area", problems)
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
                         f"positions {np.flatnonzero(bad)[:MAX_QUOTED].tolist()}", field="points")
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
