"""A worker's walking route: the order of stops on a cost matrix (nearest neighbour, then 2-opt and Or-opt).

The matrix usually comes from :meth:`geo.network.RoadGraph.distance_matrix` (metres or seconds).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from geo.errors import GeoValidationError, ProblemList


def tour_cost(dist: npt.ArrayLike, order: Sequence[int], *, return_to_start: bool = False) -> float:
    """Cost of visiting stops in ``order`` on ``dist``, back to the first stop when ``return_to_start``."""
    d = np.asarray(dist, dtype=float)
    idx = list(order)
    if len(idx) < 2:
        return 0.0
    legs = list(itertools.pairwise(idx)) + ([(idx[-1], idx[0])] if return_to_start else [])
    return float(sum(d[i, j] for i, j in legs))


def order_stops(
    dist: npt.ArrayLike,
    *,
    start: int | None = None,
    return_to_start: bool = False,
    improve: bool = True,
) -> list[int]:
    """Order stops for a short tour: nearest neighbour, then 2-opt and Or-opt moves until none helps.

    Parameters
    ----------
    dist
        (m, m) cost matrix, ``dist[i, j]`` from stop i to stop j (may be asymmetric, e.g. one-way streets),
        such as :attr:`StopMatrix.cost` from :meth:`RoadGraph.distance_matrix`. Must be finite and
        non-negative.
    start
        Stop to begin at; ``None`` lets the tour begin wherever is cheapest.
    return_to_start
        Close the tour back to its first stop (and count that leg).
    improve
        False to stop after nearest neighbour (tried from every start when ``start`` is None).

    Returns
    -------
    list of int
        Every stop index once, in visiting order (beginning with ``start`` when given). A heuristic: usually
        optimal for a handful of stops, within a few per cent for more.

    Raises
    ------
    GeoValidationError
        For a matrix that is not square, has NaN, infinite or negative values, or a ``start`` out of range.
    """
    d = _check_matrix(dist, start)
    m = d.shape[0]
    if m == 0:
        return []
    if m == 1:
        return [0]
    # Every variant becomes a closed tour: an open path gets a dummy stop joined at no cost (from ``start``
    # only, when it is fixed), and the tour is read from the dummy on.
    if return_to_start:
        full, dummy = d, None
    else:
        full = np.zeros((m + 1, m + 1))
        full[:m, :m] = d
        dummy = m
        if start is not None:
            full[dummy, :m] = (d.sum() + 1.0) * 2.0
            full[dummy, start] = 0.0
    firsts = range(m) if start is None else [start]
    tours = [_nearest_neighbour(d, s) + ([] if dummy is None else [dummy]) for s in firsts]
    tour = min(tours, key=lambda t: _cycle_cost(full, t))
    if improve and len(tour) >= 3:
        tour = _improve(full, tour)
    anchor = dummy if dummy is not None else start
    if anchor is not None:
        i = tour.index(anchor)
        tour = tour[i:] + tour[:i]
    if dummy is not None:
        tour = tour[1:]
    return [int(i) for i in tour]


def _nearest_neighbour(d: np.ndarray, start: int) -> list[int]:
    m = d.shape[0]
    left = np.ones(m, dtype=bool)
    left[start] = False
    tour = [start]
    for _ in range(m - 1):
        row = np.where(left, d[tour[-1]], np.inf)
        nxt = int(row.argmin())
        tour.append(nxt)
        left[nxt] = False
    return tour


def _cycle_cost(d: np.ndarray, tour: Sequence[int]) -> float:
    t = np.asarray(tour)
    return float(d[t, np.roll(t, -1)].sum())


def _improve(d: np.ndarray, tour: list[int]) -> list[int]:
    """2-opt (segment reversal, exact on asymmetric costs) and Or-opt (move 1–3 stops, either way round)."""
    eps = 1e-9 * max(float(d.max()), 1.0)
    t = list(tour)
    m = len(t)
    for _ in range(100 * m):  # each pass strictly shortens the tour; the cap only guards against float loops
        if not (_two_opt(d, t, eps) or _or_opt(d, t, eps)):
            break
    return t


def _two_opt(d: np.ndarray, t: list[int], eps: float) -> bool:
    m = len(t)
    a = np.asarray(t)
    nxt = np.roll(a, -1)
    fwd = np.concatenate([[0.0], np.cumsum(d[a, nxt])])  # fwd[k]: cost t0→…→tk
    bwd = np.concatenate([[0.0], np.cumsum(d[nxt, a])])  # the same legs travelled backwards
    for i in range(m - 1):
        for j in range(i + 2, m):
            # Reverse t[i+1..j]: legs (t_i, t_i+1) and (t_j, t_j+1) change, the inner legs flip direction.
            old = d[a[i], a[i + 1]] + d[a[j], a[(j + 1) % m]] + (fwd[j] - fwd[i + 1])
            new = d[a[i], a[j]] + d[a[i + 1], a[(j + 1) % m]] + (bwd[j] - bwd[i + 1])
            if new < old - eps:
                t[i + 1 : j + 1] = t[i + 1 : j + 1][::-1]
                return True
    return False


def _or_opt(d: np.ndarray, t: list[int], eps: float) -> bool:
    m = len(t)
    for length in (1, 2, 3):
        if length > m - 2:
            break
        for i in range(m):
            seg = [t[(i + k) % m] for k in range(length)]
            # The tour without seg, from right after it; seg goes back between rest[pos] and rest[pos + 1].
            rest = [t[(i + length + k) % m] for k in range(m - length)]
            prev, after = rest[-1], rest[0]
            removed = d[prev, seg[0]] + d[seg[-1], after] - d[prev, after]
            inner = sum(d[seg[k], seg[k + 1]] for k in range(length - 1))
            inner_rev = sum(d[seg[k + 1], seg[k]] for k in range(length - 1))
            for pos in range(m - length - 1):
                p, q = rest[pos], rest[pos + 1]
                base = -d[p, q] - removed - inner
                if base + d[p, seg[0]] + inner + d[seg[-1], q] < -eps:
                    t[:] = rest[: pos + 1] + seg + rest[pos + 1 :]
                    return True
                if length > 1 and base + d[p, seg[-1]] + inner_rev + d[seg[0], q] < -eps:
                    t[:] = rest[: pos + 1] + seg[::-1] + rest[pos + 1 :]
                    return True
    return False


def _check_matrix(dist: npt.ArrayLike, start: int | None) -> np.ndarray:
    problems = ProblemList()
    try:
        d = np.asarray(dist, dtype=float)
    except (TypeError, ValueError):
        raise GeoValidationError(
            f"dist must be a square matrix of numbers, got {type(dist).__name__}", field="dist"
        ) from None
    if d.size == 0 and d.ndim <= 2:
        d = d.reshape(0, 0)
    if d.ndim != 2 or d.shape[0] != d.shape[1]:
        problems.add(
            "invalid_shape", f"dist must be a square (m, m) matrix, got shape {d.shape}", field="dist"
        )
    elif not np.isfinite(d).all() or (d < 0).any():
        problems.add(
            "invalid_value",
            "dist must be finite and non-negative (RoadGraph.distance_matrix replaces unreachable pairs), "
            f"got {int((~np.isfinite(d)).sum())} NaN/infinite and {int((d < 0).sum())} negative values",
            field="dist",
        )
    if start is not None and (
        not isinstance(start, (int, np.integer)) or not (d.ndim == 2 and 0 <= start < d.shape[0])
    ):
        problems.add(
            "invalid_argument",
            f"start must be a stop index in [0, {d.shape[0] if d.ndim else 0}), got {start!r}",
            field="start",
        )
    problems.raise_if_any()
    return d
