"""Patrol coverage, "不留死角": how much of each grid's streets and buildings the patrol tracks came near.

A street piece is *covered* when it lies within ``distance_m`` (default 25 m) of a patrol track, a building
when its footprint does (or the caller lists it as visited). Tracks are the lines of
:func:`geo.tracks.tracks_to_lines`: the usable fixes of one patrol in time order, joined by straight segments
(interpolated), flagged fixes left out. A patrol with fewer than two usable fixes has no line and covers
nothing.

Setup and use
-------------
:func:`prepare_coverage` does the work that does not depend on the tracks, once: it projects grids, streets
and buildings to a metric CRS, keeps the walkable streets, clips them to the grids (a street crossing two
grids counts in each for its part) and cuts them into pieces of at most ``step_m`` (1 m).
:func:`grid_coverage` then measures a set of fixes against it; :func:`last_covered` tells, per street run and
building, when a track last came near, so the caller can list the blind spots not covered for more than N
days.

Method and error bound
----------------------
Tracks are cut into pieces of at most ``distance_m / 4``; a k-d tree over their midpoints finds, for each
street piece, candidate track pieces, and the exact planar distance from the street piece's midpoint to each
candidate segment decides. The search is exhaustive: a track piece whose midpoint is farther than
``distance_m`` plus half the longest track piece cannot come within ``distance_m``, and the candidates are
widened until that bound is reached. So a street piece is covered exactly when its midpoint is within
``distance_m`` of the track line — not merely of a fix. Deciding each piece by its midpoint misplaces each
boundary between a covered and an uncovered stretch by at most half a piece, ``step_m / 2``; the covered
length of a grid is off by at most ``step_m / 2`` times the number of such boundaries (in practice they err
both ways and cancel: on Liechtenstein the share agrees with the exact buffer–union–intersect method,
:func:`buffer_coverage`, to about 0.01 percentage points, 1M fixes 45× faster). Buildings are decided exactly:
footprint outline segments against track segments, plus track pieces whose middle is in a footprint (where
footprints overlap, only in the first of them). Distance and time per grid: a track piece with both ends in
one grid counts wholly in it (a piece cutting a corner of a concave grid by less than ``distance_m / 4`` is
misplaced); pieces crossing a grid edge are split exactly. Lengths and distances are planar in the metric CRS
(UTM zone of the area: scale error below 0.1 % in a city).

Walkable streets
----------------
Every OSM ``highway`` except those in :data:`EXCLUDED_HIGHWAYS`: motorways and trunk roads with their links
(closed to pedestrians or without a footway), roads that do not exist yet or any more (``proposed``,
``construction``, ``abandoned``, ``razed``), and ways that are not for walking (``raceway``, ``bus_guideway``,
``busway``, ``escape``). Tracks, paths, footways, steps and service roads count.

Dask
----
:func:`grid_coverage` and :func:`last_covered` accept fixes as a ``dask_geopandas.GeoDataFrame`` (points, or
``lon``/``lat`` columns), e.g. partitioned by community. Each partition is measured with ``map_partitions``
against the prepared streets and the results are combined — covered flags of street pieces and buildings by OR
(coverage is a union over tracks), distance and time by sum, last-covered times by maximum — so the result is
exactly that of the whole frame in memory. Every patrol must lie within one partition (its line would be cut
at the partition boundary otherwise; this is checked). On a cluster, connect a client first; the prepared
streets are scattered to the workers once::

    from distributed import Client
    client = Client("tcp://scheduler:8786")      # or Client(LocalCluster()) on one machine
    fixes = dask_geopandas.read_parquet("fixes/")  # partitioned by community
    result = grid_coverage(prepared, fixes)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from scipy.spatial import cKDTree

from geo.assign import PolygonIndex, assign_points, build_polygon_index
from geo.crs import WGS84, metric_crs_for_bounds
from geo.errors import GeoValidationError, ProblemList
from geo.tracks import tracks_to_lines

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
_TRACK_PIECE_SHARE = 0.25
# Building outline pieces are at most this long (m), for the same reason.
_OUTLINE_PIECE_M = 5.0
# Candidate track pieces fetched per street piece at first; multiplied by 4 while some may be missing.
_FIRST_K = 4
_MAX_K = 256
_US = 1_000_000
# Metres of slack in the search bounds, far above floating-point error: the decision for a query then only
# depends on the exact distance to each track piece, never on which candidates a search happened to look at.
_SLACK = 1e-6


# --- prepared streets ---------------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class LastCovered:
    """Result of :func:`last_covered`: street runs and buildings with ``last_covered`` (UTC, NaT if never)."""

    streets: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame


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

    out_crs = pyproj.CRS(streets.crs)
    if metric_crs is None:
        bounds = streets.to_crs(WGS84).total_bounds if len(streets) else grids.to_crs(WGS84).total_bounds
        crs = metric_crs_for_bounds(tuple(float(v) for v in bounds))
    else:
        crs = pyproj.CRS(metric_crs)
    excluded = set(exclude_highways)
    walkable = streets[~streets["highway"].isin(excluded)]
    walkable = walkable[walkable.geometry.notna() & ~walkable.geometry.is_empty]
    street_table = pd.DataFrame(
        {
            "osm_id": walkable["osm_id"].to_numpy() if "osm_id" in walkable else np.arange(len(walkable)),
            "name": walkable["name"].to_numpy() if "name" in walkable else None,
            "highway": walkable["highway"].to_numpy(),
        }
    )
    street_geoms = np.asarray(walkable.geometry.to_crs(crs).array)
    grid_geoms = np.asarray(grids.geometry.to_crs(crs).array)

    parts, part_grid, part_street = _clip(street_geoms, grid_geoms)
    pieces = _street_pieces(parts, float(step_m))
    grid_index = build_polygon_index(grid_geoms)

    if buildings is not None and len(buildings):
        present = buildings[buildings.geometry.notna() & ~buildings.geometry.is_empty]
        b_metric = np.asarray(present.geometry.to_crs(crs).array)
        b_grid = assign_points(shapely.point_on_surface(b_metric), grid_index)
        inside = b_grid >= 0
        present, b_metric, b_grid = present[inside], b_metric[inside], b_grid[inside]
        outline = _outline_pieces(b_metric, _OUTLINE_PIECE_M)
        building_index = build_polygon_index(b_metric) if b_metric.size else None
        ids = present[building_id].to_numpy()
        b_geoms = present.geometry.to_crs(out_crs).reset_index(drop=True)
    else:
        outline = (np.empty((0, 2)), np.empty((0, 2)), np.empty(0), np.empty(0, dtype=np.int64))
        building_index, ids, b_grid = None, np.empty(0, dtype=object), np.empty(0, dtype=np.int64)
        b_geoms = gpd.GeoSeries([], crs=out_crs)

    targets = Targets(
        crs=crs,
        mid=pieces["mid"],
        length=pieces["length"],
        part=pieces["part"],
        outline_a=outline[0],
        outline_b=outline[1],
        outline_half=outline[2],
        outline_building=outline[3],
        n_buildings=int(ids.size),
        building_index=building_index,
        grid_index=grid_index,
        grid_geoms=grid_geoms,
    )
    return CoverageBase(
        targets=targets,
        codes=grids[code].to_numpy(),
        out_crs=out_crs,
        parts=parts,
        part_grid=part_grid,
        part_street=part_street,
        streets=street_table,
        start=pieces["start"],
        end=pieces["end"],
        at_vertex=pieces["at_vertex"],
        building_ids=ids,
        building_grid=b_grid,
        building_geoms=b_geoms,
    )


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


def _split(a: np.ndarray, b: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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
    seg, k, n = _split(a, b, step)
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
    seg, k, n = _split(a, b, step)
    delta = (b - a)[seg]
    pa = a[seg] + (k / n)[:, None] * delta
    pb = a[seg] + ((k + 1) / n)[:, None] * delta
    return pa, pb, np.hypot(*(b - a).T)[seg] / n / 2, who[seg].astype(np.int64)


# --- tracks -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Track:
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

    @property
    def mid(self) -> np.ndarray:
        return (self.a + self.b) / 2

    @property
    def length(self) -> np.ndarray:
        return np.hypot(*(self.b - self.a).T)

    @property
    def half_max(self) -> float:
        return float(self.length.max(initial=0.0)) / 2


def _track(
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
) -> _Track:
    """Lines of :func:`tracks_to_lines` in ``crs``, cut into pieces of at most ``piece_m``, with fix times."""
    frame = _with_lon_lat(fixes, lon, lat)
    if period is not None:
        t = pd.to_datetime(frame[time], utc=True)
        start, end = (pd.Timestamp(v) for v in period)
        frame = frame[((t >= start) & (t < end) | t.isna()).to_numpy()]  # missing times: for tracks_to_lines
    lines = tracks_to_lines(frame, by=by, time=time, lon=lon, lat=lat, flag=flag)
    empty = np.empty((0, 2))
    if len(lines) == 0:
        return _Track(
            empty, empty, np.empty(0), np.empty(0), np.empty(0, dtype=np.int64), np.empty(0, dtype=object)
        )
    coords, line_of = shapely.get_coordinates(lines.geometry.to_numpy(), return_index=True)
    times = _vertex_times(frame, lines, by=by, time=time, flag=flag)
    x, y = pyproj.Transformer.from_crs(WGS84, crs, always_xy=True).transform(coords[:, 0], coords[:, 1])
    xy = np.column_stack((x, y))
    same = line_of[1:] == line_of[:-1]
    a, b = xy[:-1][same], xy[1:][same]
    ta, tb, patrol = times[:-1][same], times[1:][same], line_of[:-1][same]
    seg, k, n = _split(a, b, piece_m)
    f0, f1 = k / n, (k + 1) / n
    delta, dt = (b - a)[seg], (tb - ta)[seg]
    last = (k + 1 == n)[:, None]
    return _Track(
        a=a[seg] + f0[:, None] * delta,
        b=np.where(last, b[seg], a[seg] + f1[:, None] * delta),
        ta=ta[seg] + f0 * dt,
        tb=np.where(last[:, 0], tb[seg], ta[seg] + f1 * dt),
        patrol=patrol[seg].astype(np.int64),
        patrols=lines[by].to_numpy(),
    )


def _with_lon_lat(fixes: pd.DataFrame, lon: str, lat: str) -> pd.DataFrame:
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


def _vertex_times(
    frame: pd.DataFrame, lines: gpd.GeoDataFrame, *, by: str, time: str, flag: str | None
) -> np.ndarray:
    """Time (s since 1970, UTC) of each vertex of ``lines``, in the order :func:`tracks_to_lines` uses."""
    usable = frame[by].notna().to_numpy()
    if flag is not None:
        usable = usable & frame[flag].isna().to_numpy()
    keys = frame[by].to_numpy()[usable]
    t_us = pd.DatetimeIndex(pd.to_datetime(frame[time], utc=True)).as_unit("us").asi8[usable]
    codes, uniques = pd.factorize(keys, sort=True)
    order = np.lexsort((t_us, codes))  # stable: ties keep row order, as tracks_to_lines does
    counts = np.bincount(codes, minlength=uniques.size)
    kept = np.repeat(counts >= 2, counts)
    times = t_us[order][kept]
    if times.size != int(lines["fixes"].sum()):  # pragma: no cover - tracks_to_lines changed its rules
        raise RuntimeError("track vertex times do not match tracks_to_lines")
    return times / _US


# --- nearness -----------------------------------------------------------------------------------------------


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


def _near(
    tree: cKDTree,
    track: _Track,
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
    # First the nearest midpoints alone: both midpoints lie on their segments, so a pair within the distance
    # settles it; none within the bound settles it the other way.
    dist, _ = tree.query(mid, k=1, distance_upper_bound=bound)
    out[dist <= distance - _SLACK] = True
    todo = np.flatnonzero((dist > distance - _SLACK) & np.isfinite(dist))
    k = _FIRST_K
    while todo.size:
        if k > _MAX_K:  # very dense tracks around a few queries: take everything within the bound
            _near_ball(tree, track, mid, distance, bound, todo, ends, out)
            break
        dist, cand = tree.query(mid[todo], k=min(k, track.size), distance_upper_bound=bound)
        dist, cand = dist.reshape(todo.size, -1), cand.reshape(todo.size, -1)
        row, col = np.nonzero(cand < track.size)
        q, j = todo[row], cand[row, col]
        if ends is None:
            d = _point_segment_distance(mid[q], track.a[j], track.b[j])
        else:
            d = _segment_distance(ends[0][q], ends[1][q], track.a[j], track.b[j])
        hit = np.zeros(todo.size, dtype=bool)
        hit[row[d <= distance]] = True
        out[todo[hit]] = True
        full = cand[:, -1] < track.size  # all k candidates within the bound: there may be more
        todo = todo[~hit & full & (cand.shape[1] < track.size)]
        k *= 4
    return out


def _near_ball(
    tree: cKDTree,
    track: _Track,
    mid: np.ndarray,
    distance: float,
    bound: float,
    todo: np.ndarray,
    ends: tuple[np.ndarray, np.ndarray] | None,
    out: np.ndarray,
) -> None:
    pairs = cKDTree(mid[todo]).sparse_distance_matrix(tree, bound, output_type="ndarray")
    q, j = todo[pairs["i"]], pairs["j"]
    if ends is None:
        d = _point_segment_distance(mid[q], track.a[j], track.b[j])
    else:
        d = _segment_distance(ends[0][q], ends[1][q], track.a[j], track.b[j])
    out[q[d <= distance]] = True


def _latest(
    tree: cKDTree,
    track: _Track,
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
        d = _point_segment_distance(mid[q], track.a[j], track.b[j])
    else:
        d = _segment_distance(ends[0][q], ends[1][q], track.a[j], track.b[j])
    q, j = q[d <= distance], j[d <= distance]
    order = np.lexsort((j, when[j], q))  # per query, latest last (ties: the higher piece)
    q, j = q[order], j[order]
    last = np.flatnonzero(np.r_[q[1:] != q[:-1], True]) if q.size else q
    time[q[last]] = when[j[last]]
    piece[q[last]] = j[last]
    return time, piece


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


def _measure(targets: Targets, track: _Track, distance: float) -> _Partial:
    """Covered street pieces and buildings, and distance and time per grid, for one set of track pieces."""
    if track.size == 0:
        return _Partial.zeros(targets)
    tree = cKDTree(track.mid, balanced_tree=False, compact_nodes=False)
    street = np.zeros(targets.mid.shape[0], dtype=bool)
    near = _in_box(targets.mid, track, distance)
    street[near] = _near(tree, track, targets.mid[near], distance)
    building = _buildings_near(targets, track, tree, distance)
    track_m, patrol_s = _per_grid(targets, track)
    return _Partial(street, building, track_m, patrol_s, track.patrols)


def _in_box(points: np.ndarray, track: _Track, margin: float) -> np.ndarray:
    """Positions of the points within ``margin`` of the bounding box of the track (a cheap first cut)."""
    lo = np.minimum(track.a.min(axis=0), track.b.min(axis=0)) - margin
    hi = np.maximum(track.a.max(axis=0), track.b.max(axis=0)) + margin
    return np.flatnonzero((points >= lo).all(axis=1) & (points <= hi).all(axis=1))


def _buildings_near(targets: Targets, track: _Track, tree: cKDTree, distance: float) -> np.ndarray:
    covered = np.zeros(targets.n_buildings, dtype=bool)
    if targets.n_buildings == 0:
        return covered
    mid = (targets.outline_a + targets.outline_b) / 2
    near = _in_box(mid, track, distance + _OUTLINE_PIECE_M)
    hit = _near(
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


def _per_grid(targets: Targets, track: _Track) -> tuple[np.ndarray, np.ndarray]:
    """Track length (µm) and time (µs) inside each grid; time is spread evenly along each piece.

    Each piece's share is rounded to a whole µm / µs, so the sums are exact integers (below 2**53) and the
    same in whatever order partial results are added.
    """
    n = targets.grid_geoms.size
    length = track.length
    duration = track.tb - track.ta
    ga = targets.grid_index.query_xy(*track.a.T)
    gb = targets.grid_index.query_xy(*track.b.T)
    same = (ga == gb) & (ga >= 0)
    track_m = np.bincount(ga[same], np.round(length[same] * _US), minlength=n)
    patrol_s = np.bincount(ga[same], np.round(duration[same] * _US), minlength=n)
    # Pieces crossing a grid edge (or leaving every grid): split them exactly with the grids they meet.
    cross = np.flatnonzero(~same & (length > 0))
    if cross.size:
        lines = shapely.linestrings(np.stack((track.a[cross], track.b[cross]), axis=1))
        which, grid = shapely.STRtree(targets.grid_geoms).query(lines, predicate="intersects")
        inside = shapely.length(shapely.intersection(lines[which], targets.grid_geoms[grid]))
        piece = cross[which]
        track_m += np.bincount(grid, np.round(inside * _US), minlength=n)
        patrol_s += np.bincount(grid, np.round(duration[piece] * inside / length[piece] * _US), minlength=n)
    return track_m, patrol_s


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
    _check_measure_args(distance_m, period)
    options = {"period": period, "by": by, "time": time, "lon": lon, "lat": lat, "flag": flag}
    piece_m = float(distance_m) * _TRACK_PIECE_SHARE
    if _is_dask(fixes):
        partial = _dask_measure(base.targets, fixes, float(distance_m), piece_m, options)
    else:
        track = _track(fixes, base.targets.crs, piece_m=piece_m, **options)
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
                "track_m": partial.track_m / _US,
                "patrol_s": partial.patrol_s / _US,
            }
        )
    runs = _runs(base, partial.street)
    streets = _run_frame(base, runs, {"covered": partial.street[runs["first"]]})
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


def _runs(base: CoverageBase, value: np.ndarray) -> dict[str, Any]:
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


def _run_frame(base: CoverageBase, runs: dict[str, Any], values: dict[str, Any]) -> gpd.GeoDataFrame:
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
    _check_measure_args(distance_m, period)
    options = {"period": period, "by": by, "time": time, "lon": lon, "lat": lat, "flag": flag}
    piece_m = float(distance_m) * _TRACK_PIECE_SHARE
    if _is_dask(fixes):
        street, building = _dask_latest(base.targets, fixes, float(distance_m), piece_m, options)
    else:
        track = _track(fixes, base.targets.crs, piece_m=piece_m, **options)
        street, building = _latest_times(base.targets, track, float(distance_m))
    building = building.later(_Latest(_visit_times(base, visited), np.full(base.building_ids.size, None)))
    code = pd.factorize(street.patrol, use_na_sentinel=True)[0]
    runs = _runs(base, code)
    # A run is last covered by one patrol; its time is the earliest among its pieces, so every part of the run
    # was covered at or after it.
    with np.errstate(invalid="ignore"):
        first_time = np.minimum.reduceat(street.time, runs["first"]) if runs["first"].size else np.empty(0)
    streets = _run_frame(
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


def _latest_times(targets: Targets, track: _Track, distance: float) -> tuple[_Latest, _Latest]:
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
    todo = _in_box(targets.mid, track, distance)
    o_mid = (targets.outline_a + targets.outline_b) / 2
    o_todo = (
        _in_box(o_mid, track, distance + _OUTLINE_PIECE_M) if targets.n_buildings else np.empty(0, np.int64)
    )
    o_half = float(targets.outline_half.max(initial=0.0))
    outline = _Latest.never(o_mid.shape[0])
    for batch in batches:
        part = _subset(track, batch)
        tree = cKDTree(part.mid, balanced_tree=False, compact_nodes=False)
        hit = _near(tree, part, targets.mid[todo], distance)
        found = todo[hit]
        t, piece = _latest(tree, part, when[batch], targets.mid[found], distance)
        street.time[found], street.patrol[found] = t, key[batch][piece]
        todo = todo[~hit]
        if o_todo.size:
            ends = (targets.outline_a[o_todo], targets.outline_b[o_todo])
            hit = _near(tree, part, o_mid[o_todo], distance, ends=ends, half=o_half)
            found = o_todo[hit]
            ends = (targets.outline_a[found], targets.outline_b[found])
            t, piece = _latest(tree, part, when[batch], o_mid[found], distance, ends=ends, half=o_half)
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


def _subset(track: _Track, rows: np.ndarray) -> _Track:
    return _Track(
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
    seconds = when.dt.as_unit("us").astype("int64").to_numpy() / _US
    latest = pd.Series(seconds, index=series.index).groupby(level=0).max()
    return latest.reindex(base.building_ids).to_numpy(dtype=float)


def _as_utc(seconds: np.ndarray) -> pd.Series:
    us = np.where(np.isnan(seconds), np.iinfo(np.int64).min, np.round(seconds * _US)).astype(np.int64)
    values = pd.to_datetime(us, unit="us", utc=True)
    return pd.Series(values).where(~np.isnan(seconds))


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
    frame = _with_lon_lat(fixes, lon, lat)
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


# --- dask ---------------------------------------------------------------------------------------------------


def _is_dask(obj: object) -> bool:
    return type(obj).__module__.startswith(("dask_geopandas", "dask.", "dask_expr"))


def _shipped(targets: Targets) -> Any:
    """``targets`` scattered to the workers of the current distributed client, if any (else as is)."""
    try:
        from distributed import get_client

        client = get_client()
    except (ImportError, ValueError):
        return targets
    return client.scatter(targets, broadcast=True, hash=False)


def _dask_parts(fixes: Any, func: Any, *args: Any) -> list[Any]:
    """Run ``func(partition, *args)`` on every partition; collect the one object each returns."""

    def one(part: pd.DataFrame, *a: Any) -> pd.DataFrame:
        return pd.DataFrame({"result": [func(part, *a)]}, dtype=object)

    meta = pd.DataFrame({"result": pd.Series([], dtype=object)})
    return list(fixes.map_partitions(one, *args, meta=meta).compute()["result"])


def _partition_track(part: pd.DataFrame, crs: pyproj.CRS, piece_m: float, options: dict[str, Any]) -> _Track:
    by = options["by"]
    if by not in part.columns and part.index.name == by:
        part = part.reset_index()
    return _track(part, crs, piece_m=piece_m, **options)


def _check_unsplit(patrols: list[np.ndarray], by: str) -> None:
    keys = pd.Series(np.concatenate(patrols) if patrols else np.empty(0, dtype=object))
    split = keys[keys.duplicated()].unique()
    if split.size:
        raise GeoValidationError(
            f"patrols {', '.join(map(str, split[:5]))} lie in several partitions; partition the fixes by "
            f"community, grid or patrol (e.g. fixes.shuffle(on={by!r}))",
            field="fixes",
        )


def _measure_partition(
    part: pd.DataFrame, targets: Targets, distance: float, piece_m: float, options: dict
) -> _Partial:
    return _measure(targets, _partition_track(part, targets.crs, piece_m, options), distance)


def _dask_measure(targets: Targets, fixes: Any, distance: float, piece_m: float, options: dict) -> _Partial:
    parts = _dask_parts(fixes, _measure_partition, _shipped(targets), distance, piece_m, options)
    _check_unsplit([p.patrols for p in parts], options["by"])
    total = _Partial.zeros(targets)
    for p in parts:
        total = total.combine(p)
    return total


def _latest_partition(
    part: pd.DataFrame, targets: Targets, distance: float, piece_m: float, options: dict
) -> Any:
    track = _partition_track(part, targets.crs, piece_m, options)
    return (*_latest_times(targets, track, distance), track.patrols)


def _dask_latest(
    targets: Targets, fixes: Any, distance: float, piece_m: float, options: dict
) -> tuple[_Latest, _Latest]:
    parts = _dask_parts(fixes, _latest_partition, _shipped(targets), distance, piece_m, options)
    _check_unsplit([p[2] for p in parts], options["by"])
    street, building = _Latest.never(targets.mid.shape[0]), _Latest.never(targets.n_buildings)
    for s, b, _ in parts:
        street, building = street.later(s), building.later(b)
    return street, building


# --- validation ---------------------------------------------------------------------------------------------


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


def _check_measure_args(distance_m: object, period: object) -> None:
    problems = ProblemList()
    _check_positive("distance_m", distance_m, problems)
    if period is not None:
        ok = isinstance(period, tuple) and len(period) == 2
        if ok:
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
