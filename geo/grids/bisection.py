"""Recursive bisection of weighted points into contiguous groups with totals in a range, and its two repairs.

The engine under :func:`geo.grids.partition.partition_households` (a fresh partition) and
:mod:`geo.grids.balance` (re-partitioning a few grids): straight cuts in several directions per split, as in
recursive coordinate bisection (Berger & Bokhari 1987), then contiguity repair and moves of single members
between neighbouring groups until every total is inside ``[low, high]`` (households) or no move helps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components

# Cut directions tried per split, evenly spread over 180°: 12 means every 15°.
_ANGLES = 12
# Cut positions tried per direction, spread over the positions whose household split is acceptable.
_POSITIONS = 5
# Each side's mean households per group may drift this fraction of (max - min) from the overall mean.
_DRIFT = 0.125
_CONTIGUITY_ROUNDS = 20


@dataclass(frozen=True)
class BisectionSetting:
    """What every split of one partition needs to see: points (metres), households, the adjacency graph,
    the household range and the mean households per group."""

    points: np.ndarray
    households: np.ndarray
    order_weight: np.ndarray
    graph: sparse.csr_matrix
    low: float
    high: float
    mean: float


def bisect(setting: BisectionSetting, members: np.ndarray, k: int, first_label: int, labels: np.ndarray) -> None:
    """Split ``members`` into ``k`` groups labelled ``first_label..first_label+k-1`` (an explicit stack, no
    recursion)."""
    stack = [(members, k, first_label)]
    while stack:
        idx, k, first = stack.pop()
        if k == 1 or len(idx) == 1:
            labels[idx] = first
            continue
        k1 = k // 2
        side = _best_cut(setting, idx, k1, k - k1)
        stack.append((idx[~side], k - k1, first + k1))
        stack.append((idx[side], k1, first))


def _best_cut(setting: BisectionSetting, idx: np.ndarray, k1: int, k2: int) -> np.ndarray:
    """Boolean mask of ``idx`` for the side that gets ``k1`` groups.

    Cuts are ranked by (infeasibility, pieces, outside the window, edges cut, deviation from the even split).
    Counting pieces is the costly part, so candidates are visited in order of the other criteria and the search
    stops at the first one that reaches the fewest pieces any cut can leave.
    """
    pts, hh, weight = setting.points[idx], setting.households[idx], setting.order_weight[idx]
    total = float(hh.sum())
    sub = setting.graph[idx][:, idx].tocoo()
    rows, cols = sub.row[sub.row < sub.col], sub.col[sub.row < sub.col]
    feasible = (max(k1 * setting.low, total - k2 * setting.high), min(k1 * setting.high, total - k2 * setting.low))
    drift = _DRIFT * (setting.high - setting.low)
    window = (
        max(feasible[0], k1 * (setting.mean - drift), total - k2 * (setting.mean + drift)),
        min(feasible[1], k1 * (setting.mean + drift), total - k2 * (setting.mean - drift)),
    )
    target = float(weight.sum()) * k1 / (k1 + k2)
    candidates: list[tuple[tuple[float, bool, int, float, int], np.ndarray]] = []
    for a in range(_ANGLES):
        theta = math.pi * a / _ANGLES
        along = pts @ np.array([math.cos(theta), math.sin(theta)])
        across = pts @ np.array([-math.sin(theta), math.cos(theta)])
        order = np.lexsort((across, along))
        cum_hh = np.cumsum(hh[order])[:-1]  # households of side 1 when it takes order[: j + 1]
        cum_w = np.cumsum(weight[order])[:-1]
        for j in _cut_positions(cum_hh, cum_w, target, feasible, window):
            side = np.zeros(len(idx), dtype=bool)
            side[order[: j + 1]] = True
            infeasible = max(0.0, feasible[0] - cum_hh[j], cum_hh[j] - feasible[1])
            outside = not (window[0] - 1e-9 <= cum_hh[j] <= window[1] + 1e-9)
            crossing = int(np.count_nonzero(side[rows] != side[cols]))
            candidates.append(((infeasible, outside, crossing, abs(cum_w[j] - target), len(candidates)), side))
    fewest = max(2, _pieces(np.zeros(len(idx), dtype=bool), rows, cols))
    best_key, best_side = None, None
    for (infeasible, outside, crossing, deviation, n), side in sorted(candidates, key=lambda c: c[0]):
        if best_key is not None and infeasible > best_key[0]:
            break
        key = (infeasible, _pieces(side, rows, cols), outside, crossing, deviation, n)
        if best_key is None or key < best_key:
            best_key, best_side = key, side
        if key[1] <= fewest:
            break
    assert best_side is not None  # len(idx) >= 2, so every direction offers a cut
    return best_side


def _cut_positions(
    cum_hh: np.ndarray,
    cum_w: np.ndarray,
    target: float,
    feasible: tuple[float, float],
    window: tuple[float, float],
) -> np.ndarray:
    """Up to ``_POSITIONS`` cut positions: spread over the window, else over the feasible ones, else the nearest."""
    eps = 1e-9 * max(1.0, float(cum_hh[-1]) if len(cum_hh) else 1.0)
    deviation = np.abs(cum_w - target)
    for lo, hi in (window, feasible):
        pool = np.flatnonzero((cum_hh >= lo - eps) & (cum_hh <= hi + eps))
        if len(pool):
            spread = pool[np.linspace(0, len(pool) - 1, _POSITIONS).round().astype(int)]
            return np.unique(np.append(spread, pool[np.argmin(deviation[pool])]))
    return np.array([int(np.argmin(deviation))])


def _pieces(side: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> int:
    """Connected pieces left when the edges (rows, cols) that cross between the two sides are removed."""
    kept = side[rows] == side[cols]
    n = len(side)
    graph = sparse.csr_matrix((np.ones(int(kept.sum()), dtype=np.int8), (rows[kept], cols[kept])), shape=(n, n))
    return int(connected_components(graph, directed=False)[0])


# --- repairs ------------------------------------------------------------------------------------------------------


def repair_contiguity(
    labels: np.ndarray, hh: np.ndarray, graph: sparse.csr_matrix, fixed: np.ndarray, high: float
) -> None:
    """Move every detached piece of a group (in place) to the neighbouring group it shares most edges with."""
    for _ in range(_CONTIGUITY_ROUNDS):
        moved = False
        totals = np.bincount(labels, weights=hh, minlength=len(fixed))
        for g in range(len(fixed)):
            members = np.flatnonzero(labels == g)
            if len(members) < 2:
                continue
            count, piece = connected_components(graph[members][:, members], directed=False)
            if count == 1:
                continue
            piece_hh = np.bincount(piece, weights=hh[members], minlength=count)
            piece_n = np.bincount(piece, minlength=count)
            main = np.lexsort((-np.arange(count), piece_n, piece_hh))[-1]  # most households, then most buildings
            for p in range(count):
                if p == main:
                    continue
                nodes = members[piece == p]
                receiver = _receiving_group(nodes, labels, graph, totals, fixed, high, float(hh[nodes].sum()))
                if receiver is None:  # an island: nothing to attach it to, so it stays detached
                    continue
                labels[nodes] = receiver
                totals[g] -= hh[nodes].sum()
                totals[receiver] += hh[nodes].sum()
                moved = True
        if not moved:
            return


def _receiving_group(
    nodes: np.ndarray,
    labels: np.ndarray,
    graph: sparse.csr_matrix,
    totals: np.ndarray,
    fixed: np.ndarray,
    high: float,
    weight: float,
) -> int | None:
    """The neighbouring group a detached piece should join: one with room first, then most shared edges."""
    neighbours = graph[nodes].indices
    others = labels[neighbours]
    others = others[others != labels[nodes[0]]]
    if len(others) == 0:
        return None
    groups, shared = np.unique(others, return_counts=True)
    # Prefer ordinary groups over oversized single buildings, groups with room, then the longest contact.
    key = np.lexsort((-groups, shared, totals[groups] + weight <= high, ~fixed[groups]))
    return int(groups[key[-1]])


def rebalance(
    labels: np.ndarray,
    pts: np.ndarray,
    hh: np.ndarray,
    graph: sparse.csr_matrix,
    fixed: np.ndarray,
    low: float,
    high: float,
) -> None:
    """Move single boundary buildings (in place) while that lowers the total distance of group totals from range.

    Each move strictly lowers that total, so the loop ends; a move never disconnects the group giving a building.
    """
    for _ in range(len(labels) + 1):
        totals = np.bincount(labels, weights=hh, minlength=len(fixed))
        excess = np.where(fixed, 0.0, range_violation(totals, low, high))
        for g in np.argsort(-excess, kind="stable"):
            if excess[g] <= 0:
                return
            if _move_one(g, labels, pts, hh, graph, fixed, totals, low, high):
                break
        else:
            return


def _move_one(
    g: int,
    labels: np.ndarray,
    pts: np.ndarray,
    hh: np.ndarray,
    graph: sparse.csr_matrix,
    fixed: np.ndarray,
    totals: np.ndarray,
    low: float,
    high: float,
) -> bool:
    """Give away (if ``g`` is too full) or take (if too empty) one boundary building; return whether one moved."""
    coo = graph.tocoo()
    across = (labels[coo.row] == g) & (labels[coo.col] != g)  # edges from g to a neighbouring group
    inside, outside = coo.row[across], coo.col[across]
    if totals[g] > high:
        movers, donors, receivers = inside, np.full(len(inside), g), labels[outside]
    else:
        movers, donors, receivers = outside, labels[outside], np.full(len(outside), g)
    ok = (hh[movers] > 0) & ~fixed[donors] & ~fixed[receivers]
    movers, donors, receivers = movers[ok], donors[ok], receivers[ok]
    if len(movers) == 0:
        return False
    before = range_violation(totals[donors], low, high) + range_violation(totals[receivers], low, high)
    after = (range_violation(totals[donors] - hh[movers], low, high)
             + range_violation(totals[receivers] + hh[movers], low, high))
    gain = before - after
    centres = group_centres(labels, pts, len(fixed))
    # Among equal gains, move the building that sits nearest the receiving group, to keep both groups compact.
    reach = np.linalg.norm(pts[movers] - centres[receivers], axis=1) - np.linalg.norm(
        pts[movers] - centres[donors], axis=1
    )
    for i in np.lexsort((movers, reach, -gain)):
        if gain[i] <= 1e-9:
            return False
        rest = np.flatnonzero(labels == donors[i])
        rest = rest[rest != movers[i]]
        if len(rest) == 0 or connected_components(graph[rest][:, rest], directed=False)[0] == 1:
            labels[movers[i]] = receivers[i]
            return True
    return False


def range_violation(totals: np.ndarray, low: float, high: float) -> np.ndarray:
    """How far each total lies outside ``[low, high]`` (0 inside)."""
    return np.maximum(0.0, np.maximum(totals - high, low - totals))


def group_centres(labels: np.ndarray, pts: np.ndarray, k: int) -> np.ndarray:
    """(k, 2) mean position of each group's points (the origin for an empty group)."""
    counts = np.maximum(np.bincount(labels, minlength=k), 1)[:, None]
    return np.column_stack(
        [np.bincount(labels, weights=pts[:, 0], minlength=k), np.bincount(labels, weights=pts[:, 1], minlength=k)]
    ) / counts
