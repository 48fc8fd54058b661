"""The workload pass of :mod:`geo.grids.balance`: single boundary buildings moved (or two swapped) between
neighbouring grids while that lowers the weighted sum of squared grid loads, without taking a grid's households
further out of range or disconnecting it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from geo.grids.bisection import group_centres, range_violation

# Donor grids whose connectivity is tested per move of the workload pass before it gives up.
_TRIES_PER_MOVE = 40
#: Price of one more adjacency edge cut by a move of the workload pass, in units of the mean weighted load of a
#: building: the compactness term that keeps boundaries short unless the loads are clearly uneven.
CUT_PENALTY = 0.25
#: Tolerance (households, load units) below which a gain or an excess counts as none.
EPS = 1e-9


def even_out(
    labels: np.ndarray,
    fixed: np.ndarray,
    graph: sparse.csr_matrix,
    pts: np.ndarray,
    hh: np.ndarray,
    loads: np.ndarray,
    w: np.ndarray,
    low: float,
    high: float,
) -> None:
    """Move single boundary buildings, or swap two across a boundary, (in place) while the weighted sum of squared
    grid loads falls.

    A step never takes a grid's households further out of range and never disconnects a grid; it must lower the
    loads' objective by more than :data:`CUT_PENALTY` prices the adjacency edges it adds to the cut (a step that
    shortens the boundary earns nothing, so compactness only brakes). Single moves are tried first, swaps (which
    even loads when the household range leaves no room to move one building) only when no move helps. Each step
    strictly lowers ``objective + penalty x cut edges``, so the loop ends.
    """
    k = len(fixed)
    coo = graph.tocoo()
    state = _Loads(
        graph=graph, rows=coo.row.astype(np.int64), cols=coo.col.astype(np.int64), labels=labels, fixed=fixed,
        hh=hh, loads=loads, w=w, low=low, high=high, pts=pts,
        totals=np.bincount(labels, weights=hh, minlength=k),
        load=np.column_stack([np.bincount(labels, weights=loads[:, t], minlength=k) for t in range(loads.shape[1])]),
        penalty=CUT_PENALTY * float((loads @ w).mean()),
    )
    for _ in range(2 * len(labels)):
        if not (state.move() or state.swap()):
            return


@dataclass
class _Loads:
    """State of the workload pass: labels, households and load totals per grid, all updated in place."""

    graph: sparse.csr_matrix
    rows: np.ndarray
    cols: np.ndarray
    labels: np.ndarray
    fixed: np.ndarray
    hh: np.ndarray
    loads: np.ndarray
    w: np.ndarray
    low: float
    high: float
    pts: np.ndarray
    totals: np.ndarray
    load: np.ndarray
    penalty: float

    def _counts(self) -> tuple[np.ndarray, np.ndarray]:
        """Sorted keys ``building * k + grid`` and how many neighbours the building has in that grid."""
        return np.unique(self.rows * len(self.fixed) + self.labels[self.cols], return_counts=True)

    def _lookup(self, keys: np.ndarray, counts: np.ndarray, building: np.ndarray, grid: np.ndarray) -> np.ndarray:
        wanted = building * len(self.fixed) + grid
        at = np.minimum(np.searchsorted(keys, wanted), max(len(keys) - 1, 0))
        return np.where(keys[at] == wanted, counts[at], 0) if len(keys) else np.zeros(len(wanted), np.int64)

    def _boundary(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every (building, its grid, a neighbouring grid) once, between grids that may change."""
        k = len(self.fixed)
        g, h = self.labels[self.rows], self.labels[self.cols]
        cand = (g != h) & ~self.fixed[g] & ~self.fixed[h]
        key = np.unique(self.rows[cand] * k + h[cand])
        i = key // k
        return i, self.labels[i], key % k

    def _in_range(self, g: np.ndarray, h: np.ndarray, shift: np.ndarray) -> np.ndarray:
        """Whether moving ``shift`` households from grid g to grid h takes neither further out of range."""
        lo, hi = self.low, self.high
        before = range_violation(self.totals[g], lo, hi) + range_violation(self.totals[h], lo, hi)
        after = range_violation(self.totals[g] - shift, lo, hi) + range_violation(self.totals[h] + shift, lo, hi)
        return after <= before + EPS

    def _connected(self, members: np.ndarray) -> bool:
        return len(members) > 0 and connected_components(self.graph[members][:, members], directed=False)[0] == 1

    def _apply(self, i: int, g: int, h: int) -> None:
        self.labels[i] = h
        self.totals[g] -= self.hh[i]
        self.totals[h] += self.hh[i]
        self.load[g] -= self.loads[i]
        self.load[h] += self.loads[i]

    def move(self) -> bool:
        """Move the one boundary building that lowers the objective most; return whether one moved."""
        i, g, h = self._boundary()
        if len(i) == 0:
            return False
        li = self.loads[i]
        gain = -(2.0 * li * (self.load[h] - self.load[g] + li)) @ self.w
        keys, counts = self._counts()
        cut = self._lookup(keys, counts, i, g) - self._lookup(keys, counts, i, h)
        score = gain - self.penalty * np.maximum(cut, 0)
        ok = self._in_range(g, h, self.hh[i]) & (gain > EPS) & (score > EPS)
        if not ok.any():
            return False
        centres = group_centres(self.labels, self.pts, len(self.fixed))
        reach = np.linalg.norm(self.pts[i] - centres[h], axis=1) - np.linalg.norm(self.pts[i] - centres[g], axis=1)
        for c in np.flatnonzero(ok)[np.lexsort((i[ok], reach[ok], -score[ok]))][:_TRIES_PER_MOVE]:
            rest = np.flatnonzero(self.labels == g[c])
            if self._connected(rest[rest != i[c]]):
                self._apply(int(i[c]), int(g[c]), int(h[c]))
                return True
        return False

    def swap(self) -> bool:
        """Exchange the pair of boundary buildings of two neighbouring grids that lowers the objective most."""
        i, g, h = self._boundary()
        if len(i) == 0:
            return False
        side = pd.DataFrame({"i": i, "g": g, "h": h})
        pairs = side.merge(side.rename(columns={"i": "j", "g": "h", "h": "g"}), on=["g", "h"])
        pairs = pairs[pairs["g"] < pairs["h"]]
        if pairs.empty:
            return False
        i, j, g, h = (pairs[c].to_numpy() for c in ("i", "j", "g", "h"))
        d = self.loads[i] - self.loads[j]
        gain = (2.0 * d * (self.load[g] - self.load[h]) - 2.0 * d * d) @ self.w
        keys, counts = self._counts()
        touching = np.asarray(self.graph[i, j]).ravel() != 0
        cut = (self._lookup(keys, counts, i, g) - self._lookup(keys, counts, i, h)
               + self._lookup(keys, counts, j, h) - self._lookup(keys, counts, j, g) + 2 * touching)
        score = gain - self.penalty * np.maximum(cut, 0)
        ok = self._in_range(g, h, self.hh[i] - self.hh[j]) & (gain > EPS) & (score > EPS)
        if not ok.any():
            return False
        for c in np.flatnonzero(ok)[np.lexsort((j[ok], i[ok], -score[ok]))][:_TRIES_PER_MOVE]:
            a, b, ga, hb = int(i[c]), int(j[c]), int(g[c]), int(h[c])
            new_g = np.append(np.flatnonzero(self.labels == ga), b)
            new_h = np.append(np.flatnonzero(self.labels == hb), a)
            if self._connected(new_g[new_g != a]) and self._connected(new_h[new_h != b]):
                self._apply(a, ga, hb)
                self._apply(b, hb, ga)
                return True
        return False

