"""Morphological tessellation: the part of an area nearer to each building than to any other.

The method is momepy's ``Tessellation`` (Fleischmann et al. 2020, "Morphological tessellation as a way of partitioning
space", *Computers, Environment and Urban Systems* 80): shrink each footprint a little so neighbouring footprints do
not share points, put points along every footprint outline, take the Voronoi diagram of all points and dissolve the
cells by building. Grids are then unions of whole cells, so a grid boundary does not cut a building (unless
footprints overlap or cross the area's boundary).

Robustness: seed points are deduplicated on a 1 mm grid and jittered by at most 0.01 mm (seeded, so the result is
deterministic) because GEOS returns self-intersecting cells around cocircular points; cells are dissolved with a
coverage union, falling back to a snapped overlay union for groups where that fails.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from geo.errors import ProblemList
from geo.grids._validate import check_area, check_frame

#: Default inward buffer of footprints (metres) and spacing of points along their outlines (metres).
SHRINK_M = 0.4
SEGMENT_M = 4.0
# Seed points closer than this (metres) are one point: GEOS refuses exact duplicates and is fragile near them.
_SNAP_M = 1e-3
# Largest shift (metres) of a seed point, to avoid degenerate Voronoi vertices; far below _SNAP_M.
_JITTER_M = 1e-5
# Closest point spacing (metres) along the outline of a building that nearly touches another.
_MIN_SEGMENT_M = 1.0
# Grid (metres) of the snap-and-union fallback used when the cells are not an exact coverage.
_FALLBACK_GRID_M = 1e-6
# Relative area difference above which a coverage union is judged to have failed.
_AREA_RTOL = 1e-9


def building_tessellation(
    area: BaseGeometry, buildings: gpd.GeoSeries, *, shrink_m: float = SHRINK_M, segment_m: float = SEGMENT_M
) -> gpd.GeoSeries:
    """Divide ``area`` into one cell per building: the points nearer to that footprint than to any other.

    Parameters
    ----------
    area
        Polygon or MultiPolygon to divide, in the same projected CRS as ``buildings``.
    buildings
        Footprints (Polygon / MultiPolygon) in a projected metric CRS.
    shrink_m
        Inward buffer applied to each footprint before placing points (metres), so that terraced houses sharing a
        wall still get a boundary between them.
    segment_m
        Largest distance between two points along a shrunk outline (metres). Footprints closer than this to
        another get denser points (down to 1 m), so that the cell boundary between them follows the gap.

    Returns
    -------
    geopandas.GeoSeries
        Cells with the index and CRS of ``buildings``. Every point of ``area`` lies in exactly one cell (up to
        floating-point noise on shared edges) and each footprint lies within its own cell (to within the 0.01 mm
        jitter), except where footprints overlap each other or leave ``area``. A building outside ``area`` or with
        a missing geometry gets an empty cell; an exact duplicate of another footprint keeps only a small cell
        around an interior point. Pieces of a cell cut off from its building by a narrow neck of ``area`` go to
        the neighbouring cell they share most boundary with. No buildings gives an empty result.

    Raises
    ------
    GeoValidationError
        If ``area`` is not a valid polygonal geometry, ``buildings`` is not a GeoSeries in a projected CRS, or an
        option is out of range.
    """
    _check_inputs(area, buildings, shrink_m=shrink_m, segment_m=segment_m)
    footprints = np.asarray(buildings.array)
    cells = voronoi_cells(area, footprints, shrink_m=shrink_m, segment_m=segment_m)
    return gpd.GeoSeries(tidy_cells(cells, area, footprints), index=buildings.index, crs=buildings.crs)


def dissolve_cells(cells: gpd.GeoSeries, labels: np.ndarray | pd.Series) -> gpd.GeoSeries:
    """Union the cells that share a label; cells that tile the plane give polygons that tile it too.

    Parameters
    ----------
    cells
        Polygons forming a coverage (edge-to-edge, no overlaps), e.g. from :func:`building_tessellation`.
    labels
        One label per cell (same length as ``cells``, positional). Missing labels are not allowed.

    Returns
    -------
    geopandas.GeoSeries
        One (Multi)Polygon per label, indexed by the sorted labels, in the CRS of ``cells``. Shared edges vanish
        because the union is a coverage union; a group whose coverage union fails (cells that do not match exactly)
        is unioned again after snapping to a 1e-6 m grid instead.
    """
    problems = ProblemList()
    check_frame(cells, name="cells", problems=problems, series=True)
    labels = np.asarray(labels)
    if labels.shape != (len(cells),):
        problems.add("labels", f"'labels' should have one value per cell ({len(cells)}), got shape {labels.shape}",
                     field="labels")
    elif pd.isna(labels).any():
        problems.add("labels", "'labels' has missing values", field="labels")
    problems.raise_if_any()
    keys, geoms = union_by_label(np.asarray(cells.array), labels)
    return gpd.GeoSeries(geoms, index=pd.Index(keys, name="label"), crs=cells.crs)


def voronoi_cells(area: BaseGeometry, footprints: np.ndarray, *, shrink_m: float, segment_m: float) -> np.ndarray:
    """Unclipped cells (object array aligned with ``footprints``); they cover at least the envelope of ``area``.

    Unlike clipped cells, these share exact vertices with their neighbours everywhere, so unions of them stay exact;
    :func:`generate_grids` unions first and clips once per grid.
    """
    n = len(footprints)
    cells = np.full(n, None, dtype=object)
    xy, owner = _seed_points(footprints, shrink_m=shrink_m, segment_m=segment_m)
    if len(xy) == 0:
        return cells
    # Footprint outlines put many points on common circles (a lattice of equal boxes is the extreme case), where
    # GEOS returns self-intersecting cells; moving each point by at most 0.01 mm breaks those ties.
    xy = xy + np.random.default_rng(0).uniform(-_JITTER_M, _JITTER_M, xy.shape)
    diagram = shapely.voronoi_polygons(shapely.multipoints(xy), extend_to=area, ordered=True)
    parts = shapely.get_parts(diagram)
    if len(parts) != len(xy):  # ordered=True promises one cell per input point; anything else is a GEOS bug
        raise RuntimeError(f"Voronoi diagram returned {len(parts)} cells for {len(xy)} points")
    keys, merged = union_by_label(parts, owner)
    cells[keys] = merged
    return cells


def tidy_cells(cells: np.ndarray, area: BaseGeometry, footprints: np.ndarray) -> np.ndarray:
    """Clip unclipped cells to ``area`` and hand pieces cut off from their building to a neighbouring cell."""
    return merge_fragments(clip_cells(cells, area), footprints, np.arange(len(footprints)))


def clip_cells(cells: np.ndarray, area: BaseGeometry) -> np.ndarray:
    """Intersect cells with ``area``; only those not already inside it pay for an overlay. Keeps polygons only."""
    out = np.array(cells, dtype=object)
    present = ~shapely.is_missing(out)
    out[~present] = shapely.Polygon()
    shapely.prepare(area)
    inside = np.zeros(len(out), dtype=bool)
    inside[present] = shapely.contains_properly(area, out[present])
    todo = present & ~inside
    out[todo] = polygonal(shapely.intersection(out[todo], area))
    return out


def polygonal(geoms: np.ndarray) -> np.ndarray:
    """Drop the lines and points an overlay can leave beside the polygons; empty input gives an empty polygon."""
    out = np.array(geoms, dtype=object)
    mixed = np.flatnonzero(shapely.get_type_id(out) == shapely.GeometryType.GEOMETRYCOLLECTION)
    for i in mixed:  # rare: only where a cell touches the area boundary in a point or along a line
        polys = [p for p in shapely.get_parts(out[i]) if p.geom_type in ("Polygon", "MultiPolygon")]
        out[i] = shapely.union_all(polys) if polys else shapely.Polygon()
    return out


def merge_fragments(shapes: np.ndarray, anchors: np.ndarray, anchor_owner: np.ndarray) -> np.ndarray:
    """Give each stray part of a shape to the neighbouring shape it shares the longest edge with.

    A part is stray when it touches none of its shape's anchors (its buildings): clipping a cell or grid to a
    community with a narrow neck leaves such pieces beyond the neck, cut off from the buildings they belong to.
    Parts with no neighbouring anchored shape (an exclave of the community with no buildings) stay where they are,
    as do the parts of a shape that has no anchored part at all.

    Parameters
    ----------
    shapes
        (Multi)Polygons forming a coverage; positions are owner numbers.
    anchors, anchor_owner
        Geometries (footprints or points) and the position in ``shapes`` each belongs to.

    Returns
    -------
    numpy.ndarray
        New shapes, same length; only shapes that lost or gained a part are rebuilt.
    """
    parts, owner = shapely.get_parts(shapes, return_index=True)
    if len(np.unique(owner)) == len(parts):  # every shape is in one piece: the usual case
        return shapes
    tree = shapely.STRtree(parts)
    hit_anchor, hit_part = tree.query(anchors, predicate="intersects")
    own = anchor_owner[hit_anchor] == owner[hit_part]
    anchored = np.zeros(len(parts), dtype=bool)
    anchored[hit_part[own]] = True
    owner_anchored = np.bincount(owner[anchored], minlength=len(shapes)) > 0
    stray = np.flatnonzero(~anchored & owner_anchored[owner])
    if len(stray) == 0:
        return shapes
    new_owner = owner.copy()
    left, right = tree.query(parts[stray], predicate="intersects")
    left = stray[left]
    usable = anchored[right] & (owner[right] != owner[left])
    left, right = left[usable], right[usable]
    shared = shapely.length(shapely.intersection(parts[left], parts[right]))
    for i in np.lexsort((-shared, left)):  # per stray part, the longest shared edge comes first
        if shared[i] > 0.01 and new_owner[left[i]] == owner[left[i]]:
            new_owner[left[i]] = owner[right[i]]
    changed = np.unique(np.concatenate([owner[new_owner != owner], new_owner[new_owner != owner]]))
    out = np.array(shapes, dtype=object)
    for k in changed:
        out[k] = shapely.union_all(parts[new_owner == k])
    return out


def union_by_label(geoms: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Coverage-union ``geoms`` per label; return ``(sorted unique labels, unions)``.

    Groups are padded with ``None`` into one 2-D array per size class (sizes within a factor of two) so GEOS does
    the per-group unions in a few vectorised calls rather than one Python call per group.
    """
    order = np.argsort(labels, kind="stable")
    keys, starts, counts = np.unique(np.asarray(labels)[order], return_index=True, return_counts=True)
    sorted_geoms = np.asarray(geoms, dtype=object)[order]
    out = np.empty(len(keys), dtype=object)
    size_class = np.ceil(np.log2(counts)).astype(int)
    for cls in np.unique(size_class):
        rows = np.flatnonzero(size_class == cls)
        width = int(counts[rows].max())
        filled = np.arange(width)[None, :] < counts[rows][:, None]
        block = np.full((len(rows), width), None, dtype=object)
        block[filled] = sorted_geoms[(starts[rows][:, None] + np.arange(width)[None, :])[filled]]
        out[rows] = _coverage_union_rows(block)
    return keys, out


def _coverage_union_rows(block: np.ndarray) -> np.ndarray:
    """Coverage union of each row of ``block``; rows where it fails or goes wrong get a general union instead."""
    try:
        merged = shapely.coverage_union_all(block, axis=1)
    except shapely.errors.GEOSException:  # one bad row fails the whole call: find it row by row
        merged = np.array([_try_coverage_union(row) for row in block] + [None], dtype=object)[:-1]
    expected = np.nansum(shapely.area(block), axis=1)
    got = shapely.area(merged)
    bad = ~(np.abs(got - expected) <= _AREA_RTOL * np.maximum(expected, 1.0)) | ~shapely.is_valid(merged)
    for i in np.flatnonzero(bad):
        merged[i] = _general_union(block[i])
    return merged


def _try_coverage_union(row: np.ndarray) -> BaseGeometry | None:
    try:
        return shapely.coverage_union_all(row)
    except shapely.errors.GEOSException:
        return None


def _general_union(row: np.ndarray) -> BaseGeometry:
    """Union of cells that do not match vertex for vertex: snapped to a 1e-6 m grid, which merges the nearly equal
    vertices GEOS computes around degenerate (cocircular) Voronoi vertices; cells that are invalid even so are
    repaired first."""
    geoms = row[~shapely.is_missing(row)]
    try:
        return shapely.union_all(geoms, grid_size=_FALLBACK_GRID_M)
    except shapely.errors.GEOSException:
        geoms = np.where(shapely.is_valid(geoms), geoms, polygonal(shapely.make_valid(geoms)))
    try:
        return shapely.union_all(geoms, grid_size=_FALLBACK_GRID_M)
    except shapely.errors.GEOSException:
        return shapely.union_all(geoms)


def _seed_points(footprints: np.ndarray, *, shrink_m: float, segment_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Points along the shrunk outlines, snapped to 1 mm and without duplicates; return ``(xy, owner position)``."""
    present = ~shapely.is_missing(footprints) & ~shapely.is_empty(footprints)
    shapes = footprints.copy()
    shapes[~present] = None
    shrunk = shapely.buffer(shapes, -shrink_m) if shrink_m > 0 else shapes
    # A footprint thinner than 2 * shrink_m vanishes; it is still a building, so it keeps one point inside it.
    vanished = present & shapely.is_empty(shrunk)
    shrunk[vanished] = shapely.point_on_surface(shapes[vanished])
    xy, owner = shapely.get_coordinates(shapely.segmentize(shrunk, _segment_lengths(shapes, segment_m)),
                                        return_index=True)
    xy, owner = _first_of_duplicates(np.round(xy / _SNAP_M) * _SNAP_M, owner)
    # A footprint that duplicates another exactly has lost every point; its own interior point may still be free.
    lost = np.setdiff1d(np.flatnonzero(present), owner)
    if len(lost):
        extra = np.round(shapely.get_coordinates(shapely.point_on_surface(shapes[lost])) / _SNAP_M) * _SNAP_M
        xy, owner = _first_of_duplicates(np.vstack([xy, extra]), np.concatenate([owner, lost]))
    return xy, owner


def _segment_lengths(shapes: np.ndarray, segment_m: float) -> np.ndarray:
    """Point spacing per footprint: ``segment_m``, but no more than the gap to the nearest other footprint.

    Between two sparse rows of points the Voronoi boundary zigzags by about spacing² / (8 · gap), so where
    footprints nearly touch a 4 m spacing would let the boundary cut a corner off a building. Only those
    buildings pay for denser points (never below ``_MIN_SEGMENT_M``).
    """
    lengths = np.full(len(shapes), float(segment_m))
    present = np.flatnonzero(~shapely.is_missing(shapes))
    if len(present) < 2:
        return lengths
    (near_a, _), gap = shapely.STRtree(shapes[present]).query_nearest(
        shapes[present], max_distance=segment_m, exclusive=True, return_distance=True, all_matches=False
    )
    lengths[present[near_a]] = np.clip(gap, min(_MIN_SEGMENT_M, segment_m), segment_m)
    return lengths


def _first_of_duplicates(xy: np.ndarray, owner: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keep the first occurrence of each coordinate pair (a wall shared by two buildings goes to the first)."""
    if len(xy) < 2:
        return xy, owner
    order = np.lexsort((xy[:, 1], xy[:, 0]))  # stable: equal points stay in input order
    same = np.all(xy[order][1:] == xy[order][:-1], axis=1)
    keep = np.ones(len(xy), dtype=bool)
    keep[order[1:][same]] = False
    return xy[keep], owner[keep]


def _check_inputs(area: object, buildings: object, *, shrink_m: float, segment_m: float) -> None:
    problems = ProblemList()
    check_area(area, name="area", problems=problems)
    check_frame(buildings, name="buildings", problems=problems, series=True)
    if not shrink_m >= 0:
        problems.add("option", f"shrink_m should be >= 0 metres, got {shrink_m!r}", field="shrink_m")
    if not segment_m > 0:
        problems.add("option", f"segment_m should be > 0 metres, got {segment_m!r}", field="segment_m")
    problems.raise_if_any()
