"""Grids for a city that has none: contiguous, compact groups of buildings with a household total in a range.

:func:`partition_households` is the numeric core (points, weights, an adjacency graph); :func:`generate_grids` is the
geometry adapter that builds the graph from a building tessellation and returns grid polygons. The same pair derives
communities one level up (e.g. 1500–3000 households) where the source data has no community boundaries.

The partition is a recursive bisection by straight cuts, as in recursive coordinate bisection for mesh partitioning
(Berger & Bokhari 1987, "A partitioning strategy for nonuniform problems on multiprocessors", *IEEE Trans. Computers*
36(5)), with several cut directions tried per split, followed by two local repairs: contiguity, then household range.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.spatial import Delaunay, QhullError
from shapely.geometry.base import BaseGeometry

from geo.errors import ProblemList
from geo.grids._validate import check_area, check_frame, check_households, check_range
from geo.grids.bisection import BisectionSetting, bisect, rebalance, repair_contiguity
from geo.grids.codes import reading_order
from geo.grids.tessellation import (
    SEGMENT_M,
    SHRINK_M,
    merge_fragments,
    polygonal,
    tidy_cells,
    union_by_label,
    voronoi_cells,
)

# With a choice of group counts, aim for a mean this fraction of (max - min) below the maximum, so that buildings
# (which come in lumps of up to a few hundred households) can be shuffled without overfilling a group.
_HEADROOM = 0.25
# Two cells are neighbours when they share at least this much boundary (metres); corner contacts do not count.
_MIN_SHARED_M = 0.01


@dataclass(frozen=True)
class GridPartition:
    """Result of :func:`generate_grids`.

    Attributes
    ----------
    assignment
        Grid number (0..k-1) of every building, indexed by building id.
    grids
        One row per grid: ``grid_no``, ``households``, ``n_buildings`` and the polygon; same CRS as the buildings.
        Grid numbers follow reading order (north to south, west to east), the order codes are given in.
    """

    assignment: pd.Series
    grids: gpd.GeoDataFrame



# --- the geometry adapter -----------------------------------------------------------------------------------------


def generate_grids(
    community: BaseGeometry, buildings: gpd.GeoDataFrame, *, households_range: tuple[float, float] = (300, 500)
) -> GridPartition:
    """Partition a community's buildings into grids and draw grid polygons that tile the community.

    Parameters
    ----------
    community
        Polygon or MultiPolygon in the buildings' projected CRS.
    buildings
        Footprints with a numeric ``households`` column (0 for garages, shops, ...); the index is the building id.
        Every building's representative point must lie in ``community`` (assign buildings to communities first).
    households_range
        ``(min, max)`` households per grid; 300–500 is the usual urban standard.

    Returns
    -------
    GridPartition
        Every building in exactly one grid; each grid is the union of its buildings' tessellation cells clipped to
        the community, so the grids cover it without gaps or overlaps and no grid boundary cuts a footprint (unless
        footprints overlap or cross the community boundary). A grid is in one piece unless the community itself is
        (an exclave goes with the grid of its nearest buildings). A community without buildings gives one grid
        equal to it with 0 households. See :func:`partition_households` for how the household range is met.
        Households totals are integers when the ``households`` column is.

    Raises
    ------
    GeoValidationError
        For a non-polygonal or invalid community, buildings that are not a GeoDataFrame in a projected CRS, bad or
        missing households, duplicate ids, missing geometries, or buildings outside the community (one problem
        per building, with its id).
    """
    low, high = _check_generate_inputs(community, buildings, households_range)
    if len(buildings) == 0:
        return _single_empty_grid(community, buildings)
    footprints = np.asarray(buildings.geometry.array)
    households = buildings["households"].to_numpy(dtype=float)
    unclipped = voronoi_cells(community, footprints, shrink_m=SHRINK_M, segment_m=SEGMENT_M)
    cells = gpd.GeoSeries(tidy_cells(unclipped, community, footprints), crs=buildings.crs)
    points = shapely.get_coordinates(shapely.point_on_surface(footprints))
    labels = partition_households(
        points, households, adjacency=building_adjacency(cells), households_range=(low, high)
    )
    # Union the unclipped cells (which match vertex for vertex) and clip each grid once, so grids meet exactly.
    present = ~shapely.is_missing(unclipped)
    keys, merged = union_by_label(unclipped[present], labels[present])
    shapes = np.full(labels.max() + 1, shapely.Polygon(), dtype=object)
    shapes[keys] = polygonal(shapely.intersection(merged, community))
    shapes = merge_fragments(shapes, footprints, labels)
    renumber = _reading_numbers(shapes)
    labels = renumber[labels]
    shapes[renumber] = shapes.copy()
    return _partition_result(buildings, households, labels, shapes)


def building_adjacency(cells: gpd.GeoSeries) -> sparse.csr_matrix:
    """Adjacency of cells that share a boundary of positive length (more than 1 cm).

    Parameters
    ----------
    cells
        Polygons in a projected metric CRS, e.g. from :func:`building_tessellation`; missing or empty cells have no
        neighbours. Overlapping cells count as neighbours.

    Returns
    -------
    scipy.sparse.csr_matrix
        Symmetric ``n x n`` matrix (``int8``, 1 for neighbours, zero diagonal), positional in ``cells``.
    """
    problems = ProblemList()
    check_frame(cells, name="cells", problems=problems, series=True)
    problems.raise_if_any()
    geoms = np.asarray(cells.array)
    n = len(geoms)
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    shared = shapely.length(shapely.intersection(geoms[left], geoms[right]))
    touching = shared > _MIN_SHARED_M
    return _symmetric(left[touching], right[touching], n)


# --- the numeric core ---------------------------------------------------------------------------------------------


def partition_households(
    points: np.ndarray,
    households: np.ndarray,
    *,
    adjacency: sparse.spmatrix | sparse.sparray | None = None,
    households_range: tuple[float, float] = (300, 500),
) -> np.ndarray:
    """Group buildings into contiguous groups whose household totals fall in ``households_range``.

    Parameters
    ----------
    points
        ``(n, 2)`` building locations in metres (a projected CRS).
    households
        ``(n,)`` non-negative households per building. Buildings with 0 (garages, shops) still join a group, so
        groups stay contiguous, but weigh nothing.
    adjacency
        ``n x n`` sparse matrix, non-zero where two buildings are neighbours (e.g. :func:`building_adjacency`).
        Without it, the Delaunay triangulation of ``points`` stands in, which knows nothing of rivers or roads.
    households_range
        ``(min, max)`` households per group.

    Returns
    -------
    numpy.ndarray
        Group label ``0..k-1`` (int) per building.

    Notes
    -----
    The number of groups k is the smallest whose mean ``total / k`` is in range and at least a quarter of the range
    below the maximum (so lumpy buildings can still be balanced); if no k has its mean in range, k is
    ``ceil(total / max)``. A total not above the maximum gives a single group, even below the minimum.

    A building with more households than the maximum becomes a group of its own (it cannot be split), and the other
    buildings are partitioned without it.

    The set is split recursively: k into ``k // 2`` and the rest, by a straight cut tried in 12 directions at the
    positions where the cumulative households make both sides feasible for their share of groups. Cuts that leave
    both sides connected are preferred, then cuts that keep each side's mean near the overall mean, then those that
    cut the fewest adjacency edges (a proxy for the shortest boundary). Afterwards, detached pieces of a group move
    to the neighbouring group they share most edges with, and single buildings move across group boundaries while
    that reduces the total distance of the group totals from the range and keeps both groups connected. A range
    that cannot be met by such single moves (a group needing households that only a non-neighbour can give, or
    buildings too lumpy) is left as close as it got. No randomness: equal input gives equal output.
    """
    pts, hh, low, high, graph = _check_partition_inputs(points, households, adjacency, households_range)
    n = len(hh)
    labels = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return labels
    oversized = np.flatnonzero(hh > high)
    labels[oversized] = np.arange(len(oversized))
    rest = np.flatnonzero(hh <= high)
    if len(rest):
        k = group_count(float(hh[rest].sum()), low, high)
        tiny = 1e-6 * max(1.0, float(hh.mean()))  # zero-household buildings still need a place in the order
        setting = BisectionSetting(pts, hh, hh + tiny, graph, low, high, float(hh[rest].sum()) / k)
        bisect(setting, rest, k, len(oversized), labels)
    fixed = np.zeros(labels.max() + 1, dtype=bool)
    fixed[: len(oversized)] = True
    repair_contiguity(labels, hh, graph, fixed, high)
    rebalance(labels, pts, hh, graph, fixed, low, high)
    return np.unique(labels, return_inverse=True)[1].astype(np.int64)


def group_count(total: float, low: float, high: float) -> int:
    """Number of groups for ``total`` households; see :func:`partition_households` for the rule."""
    if total <= high:
        return 1
    fewest, most = math.ceil(total / high), math.floor(total / low) if low > 0 else math.inf
    if fewest > most:
        return fewest
    roomy = math.ceil(total / (high - _HEADROOM * (high - low)))
    return int(min(max(fewest, roomy), most))




def _symmetric(left: np.ndarray, right: np.ndarray, n: int) -> sparse.csr_matrix:
    """Symmetric 0/1 ``int8`` matrix with an edge for every (left, right) pair, no self-loops."""
    keep = left != right
    rows = np.concatenate([left[keep], right[keep]])
    cols = np.concatenate([right[keep], left[keep]])
    matrix = sparse.csr_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(n, n))
    matrix.data[:] = 1  # duplicate pairs were summed
    return matrix


def _proximity_graph(points: np.ndarray) -> sparse.csr_matrix:
    """Delaunay neighbours of the points; coincident points are chained; a degenerate set becomes a path."""
    n = len(points)
    unique, first, inverse = np.unique(points, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    order = np.argsort(inverse, kind="stable")
    same = inverse[order][1:] == inverse[order][:-1]
    left, right = [order[:-1][same]], [order[1:][same]]
    if len(unique) >= 3:
        try:
            simplices = Delaunay(unique).simplices
            for a, b in ((0, 1), (1, 2), (2, 0)):
                left.append(first[simplices[:, a]])
                right.append(first[simplices[:, b]])
        except QhullError:  # all points on a line: neighbours along it
            path = np.lexsort((unique[:, 1], unique[:, 0]))
            left.append(first[path[:-1]])
            right.append(first[path[1:]])
    elif len(unique) == 2:
        left.append(first[:1])
        right.append(first[1:])
    return _symmetric(np.concatenate(left), np.concatenate(right), n)


def _check_partition_inputs(
    points: object, households: object, adjacency: sparse.spmatrix | sparse.sparray | None, households_range: object
) -> tuple[np.ndarray, np.ndarray, float, float, sparse.csr_matrix]:
    problems = ProblemList()
    pts = np.asarray(points, dtype=float)
    if pts.ndim != 2 or pts.shape[1] != 2:
        problems.add("points", f"'points' should have shape (n, 2), got {pts.shape}", field="points")
    elif not np.isfinite(pts).all():
        problems.add("points", "'points' has missing or infinite coordinates", field="points")
    hh = check_households(np.asarray(households).ravel(), name="households", problems=problems)
    if pts.ndim == 2 and len(hh) != len(pts):
        problems.add("households", f"'households' has {len(hh)} values for {len(pts)} points", field="households")
    low, high = check_range(households_range, problems=problems)
    n = len(hh)
    if adjacency is not None and (not sparse.issparse(adjacency) or adjacency.shape != (n, n)):
        problems.add("adjacency", f"'adjacency' should be a sparse {n} x {n} matrix", field="adjacency")
    problems.raise_if_any()
    if adjacency is None:
        graph = _proximity_graph(pts)
    else:
        coo = sparse.coo_matrix(adjacency)
        nonzero = coo.data != 0
        graph = _symmetric(coo.row[nonzero], coo.col[nonzero], n)
    return pts, hh, low, high, graph


def _check_generate_inputs(
    community: BaseGeometry, buildings: gpd.GeoDataFrame, households_range: object
) -> tuple[float, float]:
    problems = ProblemList()
    check_area(community, name="community", problems=problems)
    usable = check_frame(buildings, name="buildings", problems=problems, columns=("households",))
    low, high = check_range(households_range, problems=problems)
    if usable and "households" in buildings.columns:
        check_households(buildings["households"], name="households", problems=problems)
    if usable:
        check_buildings(buildings, community, problems)
    problems.raise_if_any()
    return low, high


def check_buildings(buildings: gpd.GeoDataFrame, community: object, problems: ProblemList) -> None:
    """Add duplicate ids, missing geometries and buildings outside ``community`` to ``problems``."""
    if not buildings.index.is_unique:
        dupes = buildings.index[buildings.index.duplicated()].unique()
        problems.add("duplicate_id", f"building ids are not unique: {list(dupes[:10])}", field="buildings")
    geoms = np.asarray(buildings.geometry.array)
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    for building_id in buildings.index[missing]:
        problems.add("missing_geometry", "building has no geometry", feature_id=building_id, field="geometry")
    if not isinstance(community, BaseGeometry) or problems:
        return
    points = shapely.point_on_surface(geoms)
    shapely.prepare(community)
    outside = ~shapely.covers(community, points)
    for building_id, point in zip(buildings.index[outside], points[outside], strict=True):
        problems.add("building_outside_community",
                     f"representative point ({point.x:.1f}, {point.y:.1f}) is outside the community",
                     feature_id=building_id, field="geometry")


def _reading_numbers(shapes: np.ndarray) -> np.ndarray:
    """New number of each grid: its rank in reading order (rows from north to south, west to east in a row)."""
    points = shapely.get_coordinates(shapely.point_on_surface(shapes))
    if len(points) != len(shapes):  # an empty grid polygon (cannot normally happen): keep the numbering
        return np.arange(len(shapes))
    return reading_order(points, areas=shapely.area(shapes))


def _partition_result(
    buildings: gpd.GeoDataFrame, households: np.ndarray, labels: np.ndarray, shapes: np.ndarray
) -> GridPartition:
    k = len(shapes)
    totals = np.bincount(labels, weights=households, minlength=k)
    if pd.api.types.is_integer_dtype(buildings["households"].dtype):
        totals = totals.round().astype(np.int64)
    grids = gpd.GeoDataFrame(
        {
            "grid_no": np.arange(k),
            "households": totals,
            "n_buildings": np.bincount(labels, minlength=k),
        },
        geometry=gpd.GeoSeries(shapes, crs=buildings.crs),
        crs=buildings.crs,
    )
    assignment = pd.Series(labels, index=buildings.index, name="grid_no")
    return GridPartition(assignment=assignment, grids=grids)


def _single_empty_grid(community: BaseGeometry, buildings: gpd.GeoDataFrame) -> GridPartition:
    return _partition_result(
        buildings, np.zeros(0), np.zeros(0, dtype=np.int64), np.array([community], dtype=object)
    )
