"""Rebalance a community's existing grids: fix the grids whose households left the range, change as little else as
possible, and keep the codes.

:func:`propose` works in five steps:

1. **What must change.** Every grid whose household total is outside ``households_range`` is affected, except a
   grid whose only households are in buildings above the maximum (it cannot be fixed by redrawing lines). Affected
   grids that touch form a *cluster*.
2. **As few neighbours as needed.** A cluster whose household total no number of grids can share out in range
   (e.g. one grid of 200 on its own) takes in one in-range neighbour at a time, the one that brings the cluster's
   mean grid size nearest the middle of the range (then the one sharing the longest boundary), until it can be
   re-partitioned in range or it covers the community. Every other grid is kept exactly: same code, same geometry.
3. **Re-partition the cluster from its buildings.** The cluster's area (the union of its old grids) is divided by
   the building tessellation of :mod:`geo.grids.tessellation`, so new grids tile that area exactly and no grid
   boundary cuts a footprint. Candidates are tried in order of least disruption and the first that puts every grid in
   range wins: the old grids *repaired* by moving boundary buildings (:func:`geo.grids.bisection.rebalance`), then a
   fresh recursive bisection (:func:`geo.grids.partition.partition_households`' machinery) into the old number of grids,
   into the number :func:`~geo.grids.partition.group_count` would choose, and into any other feasible number.
   A cluster that cannot be put in range is still re-partitioned when that lowers its total distance from the
   range; otherwise its old grids are kept.
4. **Even workloads.** A local search moves single boundary buildings between the cluster's new grids, or swaps
   two across a boundary when the range leaves no room for a move, while that lowers the weighted sum of squared
   grid loads (households, cases of the last 90 days, street length, each relative to its mean per grid; see
   ``weights``). A step never takes a grid's households further out of range and never disconnects a grid; each
   adjacency edge it adds to the cut between grids costs :data:`CUT_PENALTY` (compactness as a brake, never a
   reason to unbalance), and among equal gains the building nearest the receiving grid moves first. Being local,
   it evens loads between neighbouring grids but cannot spread a tight cluster of cases over distant grids.
5. **Codes.** New grids of a cluster are matched to its old grids by maximum household overlap (Hungarian
   assignment, :func:`scipy.optimize.linear_sum_assignment`; overlapping area breaks ties) and inherit their codes;
   extra grids get the next sequence numbers of the 15-digit scheme of :mod:`geo.grids.codes`; codes of old grids
   left without a match are retired, never reused.

Impossible cases give a best effort, never an error: a building above the maximum stays one grid of its own (with
the zero-household buildings the contiguity repair gives it), a community whose total is below the minimum stays as
it is (or becomes one grid), and ``stats["out_of_range"]`` lists the codes of every grid still out of range.
"""


from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.optimize import linear_sum_assignment
from scipy.sparse.csgraph import connected_components
from shapely.geometry.base import BaseGeometry

from geo.errors import ProblemList
from geo.grids.balance_inputs import (
    CODE_PREFIX_DIGITS,
    DEFAULT_WEIGHTS,
    SEQ_MAX,
    BalanceContext,
    prepare_context,
)
from geo.grids.bisection import (
    BisectionSetting,
    bisect,
    range_violation,
    rebalance,
    repair_contiguity,
)
from geo.grids.codes import reading_order
from geo.grids.partition import building_adjacency, group_count
from geo.grids.tessellation import (
    SEGMENT_M,
    SHRINK_M,
    merge_fragments,
    polygonal,
    tidy_cells,
    union_by_label,
    voronoi_cells,
)
from geo.grids.workload import CUT_PENALTY, EPS, even_out


@dataclass
class Proposal:
    """Result of :func:`propose`.

    Attributes
    ----------
    grids
        One row per proposed grid, sorted by code: ``code``, ``households``, ``workload`` (cases in the last 90
        days; NaN without workload data), ``street_m`` (street length inside the grid, metres; NaN without
        streets), ``buildings`` (count), ``kept`` (True: the grid is unchanged, same code and geometry),
        ``compactness`` (Polsby-Popper, 4πA/P², 1 for a circle) and the polygon. The grids tile the community.
    assignment
        Code of every building, indexed by building id (named ``"code"``).
    stats
        ``grids``, ``households_min`` / ``_max`` / ``_mean`` / ``_cv`` (coefficient of variation, population
        standard deviation / mean), ``in_range_share``, ``out_of_range`` (codes still out of range: best effort),
        ``workload_cv`` and ``street_m_cv`` (None without that data), ``compactness_mean``, ``codes_kept``
        (old codes still in use), ``codes_new`` and ``codes_retired`` (lists of codes), ``grids_changed``
        (grids not kept), ``grids_kept``, ``households_reassigned`` (households whose building changed code),
        ``contiguous`` (every grid in one piece) and ``multipart`` (codes of grids that are not).
    """

    grids: gpd.GeoDataFrame
    assignment: pd.Series
    stats: dict



@dataclass
class _Solution:
    """A re-partition of one cluster."""

    grid_pos: np.ndarray  # old grids of the cluster
    members: np.ndarray  # building positions
    labels: np.ndarray  # new grid (0..k-1) of each member
    fixed: np.ndarray  # per new grid: a single building above the maximum
    shapes: np.ndarray  # grid polygons, one per new grid
    violation: float
    kind: str


# --- the public function ------------------------------------------------------------------------------------------


def propose(
    community: BaseGeometry,
    buildings: gpd.GeoDataFrame,
    grids: gpd.GeoDataFrame,
    *,
    households_range: tuple[float, float] = (300, 500),
    workload: str | pd.Series | None = None,
    streets: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    code_prefix: str | None = None,
    next_seq: int | None = None,
    weights: Mapping[str, float] | None = None,
    tolerance_m2: float = 1.0,
) -> Proposal:
    """Propose new grids for one community so that every grid's households are in range, changing as few as needed.

    Parameters
    ----------
    community
        Polygon or MultiPolygon in a projected metric CRS (the CRS of ``buildings``).
    buildings
        Footprints indexed by building id with a ``households`` column; every representative point must lie in
        ``community``. An optional ``workload`` column holds the cases of the last 90 days per building.
    grids
        The community's current grids: ``code`` (unique) and polygons that tile ``community`` (checked with
        :func:`geo.grids.check.check_grids`; its fatal findings are input errors).
    households_range
        ``(min, max)`` households per grid.
    workload
        Cases per building: a column name of ``buildings``, a Series indexed by building id (missing ids count
        0), or None for the ``workload`` column when there is one.
    streets
        Street centre lines in the same CRS (GeoDataFrame or GeoSeries), for ``street_m`` and as a load term.
    code_prefix, next_seq
        The first 12 digits (district, street, community) and the first sequence number of codes for extra grids.
        By default the prefix the current codes share and one more than their largest sequence number.
    weights
        Weights of the load terms ``"households"``, ``"workload"`` and ``"street_m"`` that the workload pass
        evens out (default :data:`DEFAULT_WEIGHTS`; a missing key weighs 0; terms without data are dropped).
    tolerance_m2
        Gaps and overlaps of the current grids up to this area are ignored as digitising noise.

    Returns
    -------
    Proposal
        The proposed grids (tiling the community; kept grids are the input rows unchanged), the building
        assignment and the quality figures; see the module docstring for the method and best-effort cases.

    Raises
    ------
    GeoValidationError
        One problem per issue: a bad community, frames that are not GeoDataFrames in one projected CRS, missing
        or negative households, negative or non-numeric workload, duplicate building ids, buildings outside the
        community, current grids that do not tile the community or hold every building exactly once, missing or
        duplicate codes, bad weights or code parts; and, only when extra grids are needed, codes from which no new
        code can be derived.
    """
    ctx, codes, index = prepare_context(community, buildings, grids, households_range, workload, streets, weights,
                                 tolerance_m2, code_prefix, next_seq)
    solutions = _solve_clusters(ctx)
    return _assemble(ctx, grids, codes, index, solutions, code_prefix, next_seq)


# --- which grids change -------------------------------------------------------------------------------------------


def _solve_clusters(ctx: BalanceContext) -> list[_Solution]:
    """Grow clusters of affected grids until each is solved in range or cannot grow; return the changed ones."""
    n_grids = len(ctx.old_geoms)
    oversized_only = (ctx.old_rest <= 0) & (ctx.old_hh > ctx.high)
    affected = set(np.flatnonzero(((ctx.old_hh < ctx.low) | (ctx.old_hh > ctx.high)) & ~oversized_only).tolist())
    cache: dict[frozenset[int], _Solution] = {}
    final: dict[frozenset[int], _Solution | None] = {}
    for _ in range(n_grids + 1):
        grown = False
        for comp in _components(affected, ctx.shared):
            if comp in final:
                continue
            total = float(ctx.old_rest[list(comp)].sum())
            solution = None
            if _margin(total, ctx.low, ctx.high) >= 0:
                if comp not in cache:
                    cache[comp] = _solve(ctx, comp)
                solution = cache[comp]
                if solution.violation <= EPS:
                    final[comp] = solution
                    continue
            extra = _best_neighbour(ctx, comp, affected)
            if extra is None:  # the cluster covers its part of the community: best effort
                if solution is None:
                    solution = cache[comp] = _solve(ctx, comp)
                old = float(range_violation(ctx.old_hh[sorted(comp)], ctx.low, ctx.high).sum())
                final[comp] = solution if solution.violation < old - EPS else None
                continue
            affected |= extra
            grown = True
        if not grown:
            break
    comps = _components(affected, ctx.shared)
    return [s for c in comps if (s := final.get(c)) is not None]


def _components(affected: set[int], shared: sparse.csr_matrix) -> list[frozenset[int]]:
    """Groups of affected grids that share a boundary."""
    nodes = np.array(sorted(affected), dtype=np.int64)
    if len(nodes) == 0:
        return []
    _, comp = connected_components(shared[nodes][:, nodes], directed=False)
    return [frozenset(nodes[comp == c].tolist()) for c in range(comp.max() + 1)]


def _best_neighbour(ctx: BalanceContext, comp: frozenset[int], affected: set[int]) -> set[int] | None:
    """The grids to add to ``comp``: the neighbour (with its whole cluster, if affected) whose households bring the
    cluster's mean grid size nearest the middle of the range; ties go to the longest shared boundary."""
    nodes = np.array(sorted(comp))
    contact = np.asarray(ctx.shared[nodes].sum(axis=0)).ravel()
    contact[nodes] = 0
    neighbours = np.flatnonzero(contact > 0)
    if len(neighbours) == 0:
        return None
    total = float(ctx.old_rest[nodes].sum())
    best, best_key = None, None
    others = {g: c for c in _components(affected - comp, ctx.shared) for g in c}
    for g in neighbours:
        joining = others.get(int(g), frozenset([int(g)]))
        key = (_margin(total + float(ctx.old_rest[list(joining)].sum()), ctx.low, ctx.high), contact[g], -g)
        if best_key is None or key > best_key:
            best, best_key = set(joining), key
    return best


def _margin(total: float, low: float, high: float) -> float:
    """How far inside the range the mean grid size can be for ``total`` households (negative: how far outside)."""
    if total <= 0:
        return -low if low > 0 else 0.0
    fewest = max(1, math.ceil(total / high - EPS))
    most = math.floor(total / low + EPS) if low > 0 else fewest + 1
    if fewest <= most:
        return max(min(total / k - low, high - total / k) for k in range(fewest, min(most, fewest + 50) + 1))
    below = low - total / fewest
    above = total / most - high if most >= 1 else math.inf
    return -min(below, above)


# --- one cluster --------------------------------------------------------------------------------------------------


def _solve(ctx: BalanceContext, comp: frozenset[int]) -> _Solution:
    """Re-partition the buildings of the old grids ``comp`` inside their union; pick the least disruptive candidate
    in range, then even the loads."""
    grid_pos = np.array(sorted(comp), dtype=np.int64)
    members = np.flatnonzero(np.isin(ctx.old_of, grid_pos))
    area = shapely.union_all(ctx.old_geoms[grid_pos])
    if len(members) == 0:
        violation = float(range_violation(np.zeros(1), ctx.low, ctx.high)[0])
        return _Solution(grid_pos, members, np.zeros(0, np.int64), np.zeros(1, bool),
                         np.array([area], dtype=object), violation, "empty")
    footprints = ctx.footprints[members]
    unclipped = voronoi_cells(area, footprints, shrink_m=SHRINK_M, segment_m=SEGMENT_M)
    cells = tidy_cells(unclipped, area, footprints)
    graph = building_adjacency(gpd.GeoSeries(cells, crs=ctx.crs))
    pts, hh = ctx.points[members], ctx.households[members]
    old_local = np.searchsorted(grid_pos, ctx.old_of[members])
    best = None
    for kind, labels, fixed in _candidates(pts, hh, graph, old_local, ctx.low, ctx.high):
        violation = _free_violation(labels, fixed, hh, ctx.low, ctx.high)
        key = (violation, kind != "repair")
        if best is None or key < best[0]:
            best = (key, kind, labels, fixed)
        if violation <= EPS:
            break
    assert best is not None
    _, kind, labels, fixed = best
    loads, w = _loads(ctx, members, cells, hh, labels, fixed)
    if loads is not None:
        even_out(labels, fixed, graph, pts, hh, loads, w, ctx.low, ctx.high)
    shapes = _shapes(unclipped, area, footprints, labels, len(fixed))
    return _Solution(grid_pos, members, labels, fixed, shapes, _free_violation(labels, fixed, hh, ctx.low, ctx.high),
                     kind)


def _candidates(
    pts: np.ndarray, hh: np.ndarray, graph: sparse.csr_matrix, old_local: np.ndarray, low: float, high: float
) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """Labellings in order of preference: the old grids repaired, then fresh bisections into feasible counts."""
    over = hh > high
    rest_total = float(hh[~over].sum())
    n_rest = int((~over).sum())
    fewest = max(1, math.ceil(rest_total / high - EPS))
    most = math.floor(rest_total / low + EPS) if low > 0 else n_rest
    feasible = [k for k in range(fewest, min(most, n_rest) + 1)]
    k_old = len(np.unique(old_local[~over]))
    if k_old in feasible or (n_rest and not feasible and k_old == group_count(rest_total, low, high)):
        yield ("repair", *_repair(pts, hh, graph, old_local, over, low, high))
    counts = []
    if k_old in feasible:
        counts.append(k_old)
    if n_rest:
        counts.append(min(group_count(rest_total, low, high), n_rest))
    middle = (low + high) / 2
    counts += sorted(feasible, key=lambda k: (abs(rest_total / k - middle), k))
    for k in dict.fromkeys(counts):
        yield ("fresh", *_fresh(pts, hh, graph, k, over, low, high))
    if not n_rest:
        yield ("fresh", *_fresh(pts, hh, graph, 0, over, low, high))


def _repair(
    pts: np.ndarray, hh: np.ndarray, graph: sparse.csr_matrix, old_local: np.ndarray, over: np.ndarray,
    low: float, high: float,
) -> tuple[np.ndarray, np.ndarray]:
    """The old grids, buildings above the maximum taken out as their own grids, then moved into range."""
    m = int(over.sum())
    labels = np.empty(len(hh), dtype=np.int64)
    labels[over] = np.arange(m)
    labels[~over] = m + np.unique(old_local[~over], return_inverse=True)[1].ravel()
    fixed = np.zeros(labels.max() + 1, dtype=bool)
    fixed[:m] = True
    repair_contiguity(labels, hh, graph, fixed, high)
    rebalance(labels, pts, hh, graph, fixed, low, high)
    return _compact(labels, fixed)


def _fresh(
    pts: np.ndarray, hh: np.ndarray, graph: sparse.csr_matrix, k: int, over: np.ndarray, low: float, high: float
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`geo.grids.partition.partition_households` with the number of groups ``k`` given."""
    m = int(over.sum())
    labels = np.full(len(hh), -1, dtype=np.int64)
    labels[over] = np.arange(m)
    rest = np.flatnonzero(~over)
    if len(rest) and k > 0:
        tiny = 1e-6 * max(1.0, float(hh.mean()))
        setting = BisectionSetting(pts, hh, hh + tiny, graph, low, high, float(hh[rest].sum()) / k)
        bisect(setting, rest, k, m, labels)
    fixed = np.zeros(labels.max() + 1, dtype=bool)
    fixed[:m] = True
    repair_contiguity(labels, hh, graph, fixed, high)
    rebalance(labels, pts, hh, graph, fixed, low, high)
    return _compact(labels, fixed)


def _compact(labels: np.ndarray, fixed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Renumber labels 0..k-1 without gaps, carrying the fixed flags along."""
    used, inverse = np.unique(labels, return_inverse=True)
    return inverse.ravel().astype(np.int64), fixed[used]


def _free_violation(labels: np.ndarray, fixed: np.ndarray, hh: np.ndarray, low: float, high: float) -> float:
    """Total distance from the range of the grids that are not a single building above the maximum."""
    totals = np.bincount(labels, weights=hh, minlength=len(fixed))
    return float(range_violation(totals[~fixed], low, high).sum())


# --- the workload pass --------------------------------------------------------------------------------------------


def _loads(
    ctx: BalanceContext, members: np.ndarray, cells: np.ndarray, hh: np.ndarray, labels: np.ndarray, fixed: np.ndarray
) -> tuple[np.ndarray | None, np.ndarray]:
    """Per building, each weighted load term divided by its mean per free grid; None when nothing is to even."""
    free = ~fixed[labels]
    k = int((~fixed).sum())
    if k < 2:
        return None, np.zeros(0)
    terms: dict[str, np.ndarray] = {"households": hh}
    if ctx.workload is not None:
        terms["workload"] = ctx.workload[members]
    if ctx.streets is not None:
        terms["street_m"] = _street_lengths(ctx.streets, cells)
    columns, w = [], []
    for name, values in terms.items():
        total = float(values[free].sum())
        if ctx.weights.get(name, 0.0) > 0 and total > 0:
            columns.append(values * k / total)
            w.append(ctx.weights[name])
    if not columns:
        return None, np.zeros(0)
    return np.column_stack(columns), np.asarray(w)




def _street_lengths(streets: np.ndarray, shapes: np.ndarray) -> np.ndarray:
    """Length of ``streets`` inside each of ``shapes`` (metres)."""
    out = np.zeros(len(shapes))
    if len(streets) == 0 or len(shapes) == 0:
        return out
    shape_i, street_i = shapely.STRtree(streets).query(shapes, predicate="intersects")
    lengths = shapely.length(shapely.intersection(streets[street_i], shapes[shape_i]))
    return np.bincount(shape_i, weights=lengths, minlength=len(shapes))


def _shapes(unclipped: np.ndarray, area: BaseGeometry, footprints: np.ndarray, labels: np.ndarray, k: int
            ) -> np.ndarray:
    """Grid polygons: unclipped cells unioned per label, clipped to the cluster once, stray pieces handed over."""
    present = ~shapely.is_missing(unclipped)
    keys, merged = union_by_label(unclipped[present], labels[present])
    shapes = np.full(k, shapely.Polygon(), dtype=object)
    shapes[keys] = polygonal(shapely.intersection(merged, area))
    return merge_fragments(shapes, footprints, labels)


# --- the result ---------------------------------------------------------------------------------------------------


def _assemble(
    ctx: BalanceContext,
    grids: gpd.GeoDataFrame,
    codes: np.ndarray,
    index: pd.Index,
    solutions: list[_Solution],
    code_prefix: str | None,
    next_seq: int | None,
) -> Proposal:
    n_old = len(codes)
    changed = np.zeros(n_old, dtype=bool)
    new_code_of = np.empty(len(ctx.households), dtype=object)
    kept_pos = np.ones(n_old, dtype=bool)
    rows_code, rows_geom, rows_kept = [], [], []
    unmatched_shapes: list[tuple[_Solution, int]] = []
    for sol in solutions:
        kept_pos[sol.grid_pos] = False
        changed[sol.grid_pos] = True
        owner = _match(ctx, sol)
        for j, shape in enumerate(sol.shapes):
            if owner[j] >= 0:
                rows_code.append(codes[owner[j]])
                rows_geom.append(shape)
                rows_kept.append(False)
                new_code_of[sol.members[sol.labels == j]] = codes[owner[j]]
            else:
                unmatched_shapes.append((sol, j))
    if unmatched_shapes:
        shapes = np.array([s.shapes[j] for s, j in unmatched_shapes], dtype=object)
        rank = reading_order(shapely.get_coordinates(shapely.point_on_surface(shapes)), areas=shapely.area(shapes))
        fresh = _new_codes(codes, len(shapes), code_prefix, next_seq)
        for (sol, j), r in zip(unmatched_shapes, rank, strict=True):
            rows_code.append(fresh[r])
            rows_geom.append(sol.shapes[j])
            rows_kept.append(False)
            new_code_of[sol.members[sol.labels == j]] = fresh[r]
    for p in np.flatnonzero(kept_pos):
        rows_code.append(codes[p])
        rows_geom.append(grids.geometry.iloc[p])
        rows_kept.append(True)
        new_code_of[ctx.old_of == p] = codes[p]
    assignment = pd.Series(new_code_of, index=index, name="code", dtype=object)
    out = _grid_frame(ctx, rows_code, rows_geom, rows_kept, assignment)
    stats = _stats(ctx, out, codes, assignment)
    return Proposal(grids=out, assignment=assignment, stats=stats)


def _match(ctx: BalanceContext, sol: _Solution) -> np.ndarray:
    """Old grid position inheriting each new grid's code (-1: none), by maximum household overlap."""
    k = len(sol.shapes)
    old = sol.grid_pos
    weight = np.zeros((len(old), k))
    if len(sol.members):
        old_local = np.searchsorted(old, ctx.old_of[sol.members])
        np.add.at(weight, (old_local, sol.labels), ctx.households[sol.members])
    # Overlapping area (a share of the cluster, so below one household) breaks ties and matches empty grids.
    area = np.array([[shapely.intersection(ctx.old_geoms[o], s).area for s in sol.shapes] for o in old])
    total_area = max(float(shapely.area(ctx.old_geoms[old]).sum()), 1.0)
    weight = weight + area / total_area
    rows, cols = linear_sum_assignment(weight, maximize=True)
    owner = np.full(k, -1, dtype=np.int64)
    good = weight[rows, cols] > 0
    owner[cols[good]] = old[rows[good]]
    return owner


def _new_codes(codes: np.ndarray, n: int, code_prefix: str | None, next_seq: int | None) -> list[str]:
    """``n`` new codes after the existing ones; raise when they cannot be derived."""
    problems = ProblemList()
    prefix = code_prefix
    scheme = [c for c in codes if len(c) == 15 and c.isdigit()]
    if prefix is None:
        prefixes = {c[:CODE_PREFIX_DIGITS] for c in scheme}
        if len(scheme) != len(codes) or len(prefixes) != 1:
            problems.add("code", f"{n} new grid codes are needed but the current codes do not share one 15-digit "
                         "prefix; pass code_prefix (12 digits) and next_seq", field="code_prefix")
            problems.raise_if_any()
        prefix = prefixes.pop()
    if next_seq is None:
        used = [int(c[CODE_PREFIX_DIGITS:]) for c in scheme if c.startswith(prefix)]
        next_seq = max(used, default=0) + 1
    if next_seq + n - 1 > SEQ_MAX:
        problems.add("code", f"{n} new codes from sequence {next_seq} exceed {SEQ_MAX}", field="next_seq")
    taken = set(codes)
    fresh = [f"{prefix}{s:03d}" for s in range(next_seq, next_seq + n)]
    clash = [c for c in fresh if c in taken]
    if clash:
        problems.add("code", f"new codes would repeat current ones: {clash[:5]}", field="next_seq")
    problems.raise_if_any()
    return fresh


def _grid_frame(
    ctx: BalanceContext, codes: list[str], geoms: list, kept: list[bool], assignment: pd.Series
) -> gpd.GeoDataFrame:
    geoms_arr = np.array(geoms, dtype=object)
    code_arr = np.array(codes, dtype=object)
    pos = pd.Index(code_arr).get_indexer(assignment.to_numpy())
    k = len(code_arr)
    households = np.bincount(pos, weights=ctx.households, minlength=k)
    if ctx.integer_households:
        households = households.round().astype(np.int64)
    workload = (np.bincount(pos, weights=ctx.workload, minlength=k) if ctx.workload is not None
                else np.full(k, np.nan))
    street = _street_lengths(ctx.streets, geoms_arr) if ctx.streets is not None else np.full(k, np.nan)
    area, perimeter = shapely.area(geoms_arr), shapely.length(geoms_arr)
    compactness = np.where(perimeter > 0, 4 * np.pi * area / np.maximum(perimeter, EPS) ** 2, 0.0)
    frame = gpd.GeoDataFrame(
        {"code": code_arr, "households": households, "workload": workload, "street_m": street,
         "buildings": np.bincount(pos, minlength=k), "kept": np.array(kept, dtype=bool),
         "compactness": compactness},
        geometry=gpd.GeoSeries(geoms_arr, crs=ctx.crs), crs=ctx.crs,
    )
    return frame.sort_values("code", kind="stable").reset_index(drop=True)


def _stats(ctx: BalanceContext, out: gpd.GeoDataFrame, old_codes: np.ndarray, assignment: pd.Series) -> dict:
    hh = out["households"].to_numpy(dtype=float)
    inside = (hh >= ctx.low - EPS) & (hh <= ctx.high + EPS)
    parts = shapely.get_num_geometries(out.geometry.to_numpy())
    codes_now = set(out["code"])
    old_set = set(old_codes)
    old_code_of = pd.Series(old_codes[ctx.old_of], index=assignment.index)
    moved = (old_code_of != assignment).to_numpy()
    return {
        "grids": len(out),
        "households_min": float(hh.min()) if len(hh) else 0.0,
        "households_max": float(hh.max()) if len(hh) else 0.0,
        "households_mean": float(hh.mean()) if len(hh) else 0.0,
        "households_cv": cv(hh),
        "in_range_share": float(inside.mean()) if len(hh) else 1.0,
        "out_of_range": out.loc[~inside, "code"].tolist(),
        "workload_cv": cv(out["workload"].to_numpy()) if ctx.workload is not None else None,
        "street_m_cv": cv(out["street_m"].to_numpy()) if ctx.streets is not None else None,
        "compactness_mean": float(out["compactness"].mean()) if len(out) else 0.0,
        "codes_kept": len(codes_now & old_set),
        "codes_new": sorted(codes_now - old_set),
        "codes_retired": sorted(old_set - codes_now),
        "grids_changed": int((~out["kept"]).sum()),
        "grids_kept": int(out["kept"].sum()),
        "households_reassigned": float(ctx.households[moved].sum()),
        "contiguous": bool((parts <= 1).all()),
        "multipart": out.loc[parts > 1, "code"].tolist(),
    }


def cv(values: np.ndarray) -> float:
    """Coefficient of variation (population standard deviation / mean); 0 for no values or a zero mean."""
    values = np.asarray(values, dtype=float)
    if len(values) == 0 or values.mean() == 0:
        return 0.0
    return float(values.std() / values.mean())


__all__ = ["CUT_PENALTY", "DEFAULT_WEIGHTS", "Proposal", "cv", "propose"]
