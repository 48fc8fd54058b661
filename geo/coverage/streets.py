"""Preparing a community for coverage: walkable streets clipped to grids and cut into pieces, building
outlines, the constants of the method, and the input checks. Done once; every measurement reuses it."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from geo.assign import PolygonIndex, assign_points, build_polygon_index
from geo.crs import WGS84, metric_crs_for_bounds
from geo.errors import ProblemList

#: Default distance (m) within which a patrol track covers a street piece or a building.
DISTANCE_M = 25.0
#: Default longest street piece (m); a boundary between covered and uncovered is placed to within half of it.
STEP_M = 1.0
#: OSM ``highway`` values that are not walkable streets (see the module docstring).
EXCLUDED_HIGHWAYS: frozenset[str] = frozenset(
    {
        "motorway",
        "motorway_link",
        "trunk",
        "trunk_link",
        "proposed",
        "construction",
        "abandoned",
        "razed",
        "raceway",
        "bus_guideway",
        "busway",
        "escape",
    }
)

# Track pieces are at most this share of the distance long: shorter pieces tighten the search bound.
TRACK_PIECE_SHARE = 0.25
# Building outline pieces are at most this long (m), for the same reason.
OUTLINE_PIECE_M = 5.0
# Grid lookups of track pieces: buckets of this side (m), at most this many (see _fine_index).
GRID_BUCKET_M = 10.0
GRID_BUCKETS = 1_000_000
#: Microseconds per second: per-grid sums are kept in integer microseconds (metres), so that adding partial
#: sums in any order gives the same total.
US_PER_S = 1_000_000


@dataclass(frozen=True, eq=False)
class Targets:
    """What the tracks are measured against, in the metric CRS: street pieces and building outlines.

    This is the part of :class:`CoverageBase` that a Dask worker needs.
    """

    crs: pyproj.CRS
    #: Street pieces, in order along each clipped street part: midpoint (n, 2), length (m), part.
    mid: np.ndarray
    length: np.ndarray
    part: np.ndarray
    #: Building outline pieces: ends (m, 2) each, half length, building position.
    outline_a: np.ndarray
    outline_b: np.ndarray
    outline_half: np.ndarray
    outline_building: np.ndarray
    n_buildings: int
    #: Buildings (metric polygons) for tracks running inside a footprint; None without buildings.
    building_index: PolygonIndex | None
    #: Grids (metric polygons) for distance and time patrolled.
    grid_index: PolygonIndex
    grid_geoms: np.ndarray


@dataclass(frozen=True, eq=False)
class CoverageBase:
    """Streets, buildings and grids prepared by :func:`prepare_coverage`; reuse it for every period."""

    targets: Targets
    #: Grid codes, in grid position order.
    codes: np.ndarray
    #: CRS of the outputs (that of the streets given).
    out_crs: pyproj.CRS
    #: Clipped street parts (metric LineStrings), and the grid position and street row of each.
    parts: np.ndarray
    part_grid: np.ndarray
    part_street: np.ndarray
    #: Walkable streets: osm_id, name, highway (index = street row).
    streets: pd.DataFrame
    #: Per street piece: start and end (n, 2); whether the start is a vertex of the street.
    start: np.ndarray
    end: np.ndarray
    at_vertex: np.ndarray
    #: Buildings: id, grid position (-1 outside every grid), geometry in ``out_crs``.
    building_ids: np.ndarray
    building_grid: np.ndarray
    building_geoms: gpd.GeoSeries


def prepare_coverage(
    grids: gpd.GeoDataFrame,
    streets: gpd.GeoDataFrame,
    *,
    buildings: gpd.GeoDataFrame | None = None,
    code: str = "code",
    building_id: str = "osm_id",
    step_m: float = STEP_M,
    exclude_highways: Iterable[str] = EXCLUDED_HIGHWAYS,
    metric_crs: pyproj.CRS | str | None = None,
) -> CoverageBase:
    """Clip walkable streets to grids and cut them into short pieces, once for many coverage measurements.

    Parameters
    ----------
    grids
        Grid polygons with a unique ``code`` column; any CRS.
    streets
        Street lines with a ``highway`` column (as :func:`geo.osm.read_osm` gives them); any CRS. Streets
        outside every grid are left out.
    buildings
        Optional footprints with a ``building_id`` column. A building belongs to the grid holding its
        representative point (the lowest grid position on a shared edge, see :mod:`geo.assign`); buildings in
        no grid are left out.
    code, building_id
        Column names.
    step_m
        Longest street piece (m); see the error bound in the module docstring. The number of pieces, hence
        time and memory, grows as ``1 / step_m`` (Liechtenstein's 1,050 km of walkable streets make 1.08
        million 1 m pieces).
    exclude_highways
        ``highway`` values that are not walkable; :data:`EXCLUDED_HIGHWAYS` by default.
    metric_crs
        CRS to measure in, in metres; by default the UTM zone of the streets
        (:func:`geo.crs.metric_crs_for_bounds`).

    Returns
    -------
    CoverageBase

    Raises
    ------
    GeoValidationError
        For a frame that is not a GeoDataFrame or has no CRS, a missing column, duplicate or missing grid
        codes, non-polygonal grids or buildings, non-linear streets, or a ``step_m`` that is not a positive
        number; all problems together, each naming its argument.
    """
    _check_prepare_inputs(grids, streets, buildings, code, building_id, step_m)
    out_crs = pyproj.CRS(streets.crs)
    crs = _measuring_crs(grids, streets, metric_crs)
    street_table, street_geoms = _walkable(streets, set(exclude_highways), crs)
    grid_geoms = np.asarray(grids.geometry.to_crs(crs).array)

    parts, part_grid, part_street = _clip(street_geoms, grid_geoms)
    pieces = _street_pieces(parts, float(step_m))
    grid_index = _fine_index(grid_geoms)
    outline, building_index, ids, b_grid, b_geoms = _prepared_buildings(
        buildings, building_id, crs, out_crs, grid_index
    )

    targets = Targets(
        crs=crs, mid=pieces["mid"], length=pieces["length"], part=pieces["part"],
        outline_a=outline[0], outline_b=outline[1], outline_half=outline[2], outline_building=outline[3],
        n_buildings=int(ids.size), building_index=building_index, grid_index=grid_index,
        grid_geoms=grid_geoms,
    )
    return CoverageBase(
        targets=targets, codes=grids[code].to_numpy(), out_crs=out_crs,
        parts=parts, part_grid=part_grid, part_street=part_street, streets=street_table,
        start=pieces["start"], end=pieces["end"], at_vertex=pieces["at_vertex"],
        building_ids=ids, building_grid=b_grid, building_geoms=b_geoms,
    )


def _check_prepare_inputs(
    grids: gpd.GeoDataFrame,
    streets: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame | None,
    code: str,
    building_id: str,
    step_m: float,
) -> None:
    """Raise every problem of :func:`prepare_coverage`'s arguments together."""
    problems = ProblemList()
    _check_frame(grids, "grids", [code], problems)
    _check_frame(streets, "streets", ["highway"], problems)
    if buildings is not None:
        _check_frame(buildings, "buildings", [building_id], problems)
    _check_positive("step_m", step_m, problems)
    if not problems:
        _check_types(grids, "grids", {"Polygon", "MultiPolygon"}, problems)
        _check_types(streets, "streets", {"LineString", "MultiLineString"}, problems)
        if buildings is not None:
            _check_types(buildings, "buildings", {"Polygon", "MultiPolygon"}, problems)
    if isinstance(grids, gpd.GeoDataFrame) and code in grids.columns:
        codes = grids[code]
        if codes.isna().any():
            problems.add("missing_code", f"grids has missing values in {code!r}", field=code)
        duplicated = codes[codes.duplicated()].unique()
        if duplicated.size:
            problems.add(
                "duplicate_code",
                f"grids has duplicate codes in {code!r}: {', '.join(map(str, duplicated[:5]))}",
                field=code,
            )
    problems.raise_if_any()


def _measuring_crs(
    grids: gpd.GeoDataFrame, streets: gpd.GeoDataFrame, metric_crs: pyproj.CRS | str | None
) -> pyproj.CRS:
    """``metric_crs``, or the UTM zone of the streets (of the grids when there are no streets)."""
    if metric_crs is not None:
        return pyproj.CRS(metric_crs)
    bounds = streets.to_crs(WGS84).total_bounds if len(streets) else grids.to_crs(WGS84).total_bounds
    minx, miny, maxx, maxy = (float(v) for v in bounds)
    return metric_crs_for_bounds((minx, miny, maxx, maxy))


def _walkable(
    streets: gpd.GeoDataFrame, excluded: set[str], crs: pyproj.CRS
) -> tuple[pd.DataFrame, np.ndarray]:
    """The walkable streets' attributes (``osm_id``, ``name``, ``highway``) and geometries in ``crs``."""
    walkable = streets[~streets["highway"].isin(excluded)]
    walkable = walkable[walkable.geometry.notna() & ~walkable.geometry.is_empty]
    street_table = pd.DataFrame(
        {
            "osm_id": walkable["osm_id"].to_numpy() if "osm_id" in walkable else np.arange(len(walkable)),
            "name": walkable["name"].to_numpy() if "name" in walkable else None,
            "highway": walkable["highway"].to_numpy(),
        }
    )
    return street_table, np.asarray(walkable.geometry.to_crs(crs).array)


def _prepared_buildings(
    buildings: gpd.GeoDataFrame | None,
    building_id: str,
    crs: pyproj.CRS,
    out_crs: pyproj.CRS,
    grid_index: PolygonIndex,
) -> tuple[tuple[np.ndarray, ...], PolygonIndex | None, np.ndarray, np.ndarray, gpd.GeoSeries]:
    """Buildings inside grids: outline pieces (metric), their index, ids, grid positions and footprints in
    ``out_crs``."""
    if buildings is None or not len(buildings):
        outline = (np.empty((0, 2)), np.empty((0, 2)), np.empty(0), np.empty(0, dtype=np.int64))
        no_ids, no_grid = np.empty(0, dtype=object), np.empty(0, dtype=np.int64)
        return outline, None, no_ids, no_grid, gpd.GeoSeries([], crs=out_crs)
    present = buildings[buildings.geometry.notna() & ~buildings.geometry.is_empty]
    b_metric = np.asarray(present.geometry.to_crs(crs).array)
    b_grid = np.asarray(assign_points(shapely.point_on_surface(b_metric), grid_index))
    inside = b_grid >= 0
    present, b_metric, b_grid = present[inside], b_metric[inside], b_grid[inside]
    outline = _outline_pieces(b_metric, OUTLINE_PIECE_M)
    # Queried with the middle of every track piece: fine buckets (fewer exact tests) pay for themselves, and
    # buildings share no edges, so the closed buckets of a tessellation do not help here.
    building_index = build_polygon_index(b_metric, buckets_per_polygon=200) if b_metric.size else None
    ids = present[building_id].to_numpy()
    b_geoms = present.geometry.to_crs(out_crs).reset_index(drop=True)
    return outline, building_index, ids, b_grid, b_geoms


def _fine_index(polygons: np.ndarray) -> PolygonIndex:
    """A polygon index with buckets of about ``GRID_BUCKET_M`` (at most ``GRID_BUCKETS``, at least 4,096).

    Every end of every track piece is looked up in the grids: with the default of a few hundred buckets per
    polygon, a few large grids leave a fifth of the buckets on an edge (the slow exact test); fine buckets
    cost little to build for a handful of polygons and leave about 2 %.
    """
    present = ~(shapely.is_missing(polygons) | shapely.is_empty(polygons))
    if not present.any():
        return build_polygon_index(polygons)
    minx, miny, maxx, maxy = shapely.total_bounds(polygons[present])
    area = max(float(maxx - minx), GRID_BUCKET_M) * max(float(maxy - miny), GRID_BUCKET_M)
    # Never coarser than an index of a few thousand buckets (small scenes), never finer than needed.
    cell = min(max(GRID_BUCKET_M, math.sqrt(area / GRID_BUCKETS)), math.sqrt(area / 4096))
    return build_polygon_index(polygons, cell_size=cell, max_buckets=4 * GRID_BUCKETS)


def _clip(streets: np.ndarray, grids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Street lines cut by grids: LineString parts with their grid and street positions."""
    tree = shapely.STRtree(grids)
    street_of, grid_of = tree.query(streets, predicate="intersects")
    clipped = shapely.intersection(streets[street_of], grids[grid_of])
    # Intersections may be lines, multi-lines or collections with points where a street touches a grid.
    parts, part_of = shapely.get_parts(clipped, return_index=True)
    nested = shapely.get_type_id(parts) == 7
    if nested.any():
        inner, inner_of = shapely.get_parts(parts[nested], return_index=True)
        parts = np.concatenate((parts[~nested], inner))
        part_of = np.concatenate((part_of[~nested], part_of[nested][inner_of]))
    parts, part_of = _line_parts(parts, part_of)
    order = np.lexsort((np.arange(part_of.size), street_of[part_of], grid_of[part_of]))
    parts, part_of = parts[order], part_of[order]
    return parts, grid_of[part_of].astype(np.int64), street_of[part_of].astype(np.int64)


def _line_parts(geoms: np.ndarray, owner: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """LineStrings of positive length among ``geoms`` (exploding MultiLineStrings), with their owners."""
    multi = shapely.get_type_id(geoms) == 5
    if multi.any():
        inner, inner_of = shapely.get_parts(geoms[multi], return_index=True)
        geoms = np.concatenate((geoms[~multi], inner))
        owner = np.concatenate((owner[~multi], owner[multi][inner_of]))
    keep = (shapely.get_type_id(geoms) == 1) & (shapely.length(geoms) > 0)
    return geoms[keep], owner[keep]


def split_segments(a: np.ndarray, b: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut segments ``a[i]``–``b[i]`` into equal pieces of at most ``step``.

    Returns, per piece, its segment, its number along the segment and the segment's number of pieces.
    """
    count = np.maximum(np.ceil(np.hypot(*(b - a).T) / step), 1).astype(np.int64)
    seg = np.repeat(np.arange(count.size), count)
    k = np.arange(seg.size) - np.repeat(np.cumsum(count) - count, count)
    return seg, k, count[seg]


def _street_pieces(parts: np.ndarray, step: float) -> dict[str, np.ndarray]:
    """Cut each segment of ``parts`` into equal pieces of at most ``step`` m, in order along each part."""
    coords, part_of = shapely.get_coordinates(parts, return_index=True)
    same = part_of[1:] == part_of[:-1]
    a, b, seg_part = coords[:-1][same], coords[1:][same], part_of[:-1][same]
    keep = (a != b).any(axis=1)
    a, b, seg_part = a[keep], b[keep], seg_part[keep]
    seg, k, n = split_segments(a, b, step)
    delta = (b - a)[seg]
    last = (k + 1 == n)[:, None]
    return {
        "start": a[seg] + (k / n)[:, None] * delta,
        "end": np.where(last, b[seg], a[seg] + ((k + 1) / n)[:, None] * delta),
        "mid": a[seg] + ((k + 0.5) / n)[:, None] * delta,
        "length": np.hypot(*(b - a).T)[seg] / n,
        "part": seg_part[seg].astype(np.int64),
        "at_vertex": k == 0,
    }


def _rings(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates of every ring of polygonal ``geoms`` and the ring (≥ 0) and owner of each."""
    parts, part_of = shapely.get_parts(geoms, return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    coords, ring_of = shapely.get_coordinates(rings, return_index=True)
    return coords, np.stack((ring_of, part_of[ring_part][ring_of]))


def _outline_pieces(geoms: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Footprint outline segments cut into pieces of at most ``step``: ends, half length, building."""
    if geoms.size == 0:
        return np.empty((0, 2)), np.empty((0, 2)), np.empty(0), np.empty(0, dtype=np.int64)
    coords, (ring, owner) = _rings(geoms)
    same = ring[1:] == ring[:-1]
    a, b, who = coords[:-1][same], coords[1:][same], owner[:-1][same]
    seg, k, n = split_segments(a, b, step)
    delta = (b - a)[seg]
    pa = a[seg] + (k / n)[:, None] * delta
    pb = a[seg] + ((k + 1) / n)[:, None] * delta
    return pa, pb, np.hypot(*(b - a).T)[seg] / n / 2, who[seg].astype(np.int64)


# --- input checks -------------------------------------------------------------------------------------------


def _check_frame(frame: object, name: str, columns: list[str], problems: ProblemList) -> None:
    if not isinstance(frame, gpd.GeoDataFrame):
        problems.add(
            "invalid_argument", f"{name} must be a GeoDataFrame, got {type(frame).__name__}", field=name
        )
        return
    if frame.crs is None:
        problems.add("missing_crs", f"{name} has no CRS", field=name)
    for column in columns:
        if column not in frame.columns:
            problems.add("missing_column", f"{name} has no column {column!r}", field=column)


def _check_types(frame: gpd.GeoDataFrame, name: str, allowed: set[str], problems: ProblemList) -> None:
    kinds = frame.geometry.geom_type
    bad = kinds.notna() & ~kinds.isin(allowed)
    if bad.any():
        problems.add(
            "invalid_geometry_type",
            f"{name} must hold {' or '.join(sorted(allowed))}; {int(bad.sum())} rows hold "
            f"{', '.join(sorted(set(kinds[bad])))}",
            field=name,
        )


def _check_positive(name: str, value: object, problems: ProblemList) -> None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = math.nan
    if not (math.isfinite(number) and number > 0):
        problems.add("invalid_argument", f"{name} must be a number > 0, got {value!r}", field=name)


def check_measure_args(distance_m: object, period: object) -> None:
    problems = ProblemList()
    _check_positive("distance_m", distance_m, problems)
    if period is not None:
        ok = isinstance(period, tuple) and len(period) == 2
        if isinstance(period, tuple) and ok:
            start, end = period
            aware = all(isinstance(v, datetime) and v.utcoffset() is not None for v in (start, end))
            ok = aware and start < end
        if not ok:
            problems.add(
                "invalid_argument",
                f"period must be (start, end) timezone-aware datetimes with start < end, got {period!r}",
                field="period",
            )
    problems.raise_if_any()
