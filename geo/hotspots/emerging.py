"""Mann-Kendall trends per cell and ArcGIS's Emerging Hot Spot Analysis categories on a cells x time cube."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import sparse, stats

from geo.errors import ProblemList
from geo.hotspots.checks import (
    Weights,
    check_count,
    check_float_array,
    check_level,
    check_probabilities,
    check_weights,
)
from geo.hotspots.gi import bh_adjust, getis_ord, gi_weights


@dataclass(frozen=True)
class MannKendallResult:
    """Mann–Kendall trend test of each series (arrays of the input's shape without its time axis).

    Attributes
    ----------
    s
        Kendall's S, the number of increasing pairs minus decreasing pairs over all ``i < j``.
    var_s
        Variance of S under no trend, corrected for ties.
    z
        ``(S - 1) / sqrt(var_s)`` if ``S > 0``, ``(S + 1) / sqrt(var_s)`` if ``S < 0``, else 0 (continuity
        correction).
    p
        Two-sided normal p-value of ``z``.
    tau
        Kendall's tau-b of the series against time: ``S / sqrt(n0 (n0 - n1))``, ``n0 = T(T-1)/2`` and
        ``n1`` the tied pairs of values (= ``scipy.stats.kendalltau(range(T), x)``). NaN for a constant
        series.
    """

    s: np.ndarray
    var_s: np.ndarray
    z: np.ndarray
    p: np.ndarray
    tau: np.ndarray


def mann_kendall(series: npt.ArrayLike) -> MannKendallResult:
    """Mann–Kendall test for a monotonic trend (Mann 1945, *Econometrica* 13; Kendall 1975, *Rank Correlation
    Methods*), vectorised over many series.

    ``S = sum_{i<j} sign(x_j - x_i)``; with ``T`` steps and tie groups of sizes ``t``,
    ``var(S) = [T(T-1)(2T+5) - sum t(t-1)(2t+5)] / 18``. A positive significant ``z`` is an increasing trend.
    The test makes no distributional assumption but assumes no serial correlation.

    Parameters
    ----------
    series
        Values in time order along the last axis, ``(..., T)`` with ``T >= 2``, e.g. ``(n_cells, n_steps)``.

    Returns
    -------
    MannKendallResult
        Arrays of shape ``series.shape[:-1]`` (0-d for a single series).

    Raises
    ------
    GeoValidationError
        For NaN or infinite values, or fewer than 2 steps.
    """
    problems = ProblemList()
    x = check_float_array(series, "series", problems)
    if x is not None:
        if x.ndim == 0 or x.shape[-1] < 2:
            problems.add("shape", f"series needs at least 2 time steps along its last axis, got {x.shape}",
                         field="series")
        elif not np.isfinite(x).all():
            problems.add("value", f"series has {int((~np.isfinite(x)).sum())} NaN or infinite values",
                         field="series")
    problems.raise_if_any()
    assert x is not None
    shape = x.shape[:-1]
    t = x.shape[-1]
    rows = x.reshape(-1, t)
    s = np.zeros(len(rows))
    for lag in range(1, t):
        s += np.sign(rows[:, lag:] - rows[:, :-lag]).sum(axis=1)
    ordered = np.sort(rows, axis=1)
    starts = np.ones(ordered.shape, dtype=bool)
    starts[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    run = np.cumsum(starts.ravel()) - 1
    sizes = np.bincount(run).astype(float)
    run_row = np.repeat(np.arange(len(rows)), starts.sum(axis=1))
    ties = np.bincount(run_row, weights=sizes * (sizes - 1) * (2 * sizes + 5), minlength=len(rows))
    tied_pairs = np.bincount(run_row, weights=sizes * (sizes - 1) / 2, minlength=len(rows))
    var_s = (t * (t - 1) * (2 * t + 5) - ties) / 18.0
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(s > 0, (s - 1) / np.sqrt(var_s), np.where(s < 0, (s + 1) / np.sqrt(var_s), 0.0))
        n0 = t * (t - 1) / 2.0
        tau = s / np.sqrt(n0 * (n0 - tied_pairs))
    p = 2 * stats.norm.sf(np.abs(z))
    return MannKendallResult(*(a.reshape(shape) for a in (s, var_s, z, p, tau)))


# --- emerging hot spots -------------------------------------------------------------------------------------

#: Patterns of :func:`emerging_hotspots`, in ArcGIS's order; the code of a hot pattern is its position (1–8),
#: of the cold counterpart minus that, and 0 is "No Pattern Detected".
PATTERNS: tuple[str, ...] = (
    "New", "Consecutive", "Intensifying", "Persistent", "Diminishing", "Sporadic", "Oscillating",
    "Historical",
)
NO_PATTERN = "No Pattern Detected"


def pattern_name(code: int) -> str:
    """``"New Hot Spot"`` for 1 … ``"Historical Cold Spot"`` for -8, ``"No Pattern Detected"`` for 0."""
    if code == 0:
        return NO_PATTERN
    return f"{PATTERNS[abs(code) - 1]} {'Hot' if code > 0 else 'Cold'} Spot"


@dataclass(frozen=True)
class EmergingHotspots:
    """Result of :func:`emerging_hotspots` / :func:`classify_emerging`.

    Attributes
    ----------
    code
        ``int8`` per cell: 1 New, 2 Consecutive, 3 Intensifying, 4 Persistent, 5 Diminishing, 6 Sporadic,
        7 Oscillating, 8 Historical hot spot; the negative codes are the cold spots; 0 no pattern.
    z, p
        ``(n_cells, n_steps)`` Gi* z-score and the two-sided p-value significance was judged on (FDR-adjusted
        when that was asked for).
    hot, cold
        ``(n_cells, n_steps)`` significant hot / cold bins.
    trend
        Mann–Kendall test of each cell's z-score series.
    """

    code: np.ndarray
    z: np.ndarray
    p: np.ndarray
    hot: np.ndarray
    cold: np.ndarray
    trend: MannKendallResult

    @property
    def pattern(self) -> np.ndarray:
        """The ArcGIS name of each cell's pattern (:func:`pattern_name`), as an object array."""
        names = np.array([pattern_name(c) for c in range(-8, 9)], dtype=object)
        return names[self.code.astype(int) + 8]


def emerging_hotspots(
    counts: npt.ArrayLike,
    W: Weights,
    *,
    alpha: float = 0.1,
    trend_alpha: float | None = None,
    time_window: int = 0,
    fdr: bool = True,
) -> EmergingHotspots:
    """Emerging hot spot analysis of a space-time cube of counts, after ArcGIS's tool of that name.

    Gi* is computed for every bin (cell, time step) over the whole cube — one mean and variance for all bins,
    neighbours being the spatial neighbours of the cell (and the cell itself) in the same time step and in the
    ``time_window`` previous steps — then each cell's series of hot / cold bins and the Mann–Kendall trend of
    its z-scores are classified by :func:`classify_emerging`.

    Parameters
    ----------
    counts
        ``(n_cells, n_steps)`` non-negative counts, time steps in order (at least 2; the trend test and the
        90 % rules mean little with fewer than about 10).
    W
        Spatial weights between cells, ``(n_cells, n_cells)`` (binary contiguity or distance band); the
        self-weight is added here.
    alpha
        Significance level of a hot / cold bin (two-sided), 0.1 by default (90 % confidence).
    trend_alpha
        Significance level of the Mann–Kendall trend; defaults to ``alpha``.
    time_window
        Number of previous time steps in a bin's neighbourhood, 0 for the same time step only. This plays the
        part of ArcGIS's "Neighborhood Time Step" (whose exact counting we have not checked against ArcGIS).
    fdr
        Judge the bins on Benjamini–Hochberg adjusted p-values over all bins of the cube (default: our reading
        of ArcGIS's documentation, which applies an FDR correction to the bins; not checked against ArcGIS
        output), or on the raw two-sided p-values.

    Returns
    -------
    EmergingHotspots

    Raises
    ------
    GeoValidationError
        For counts that are not a 2-D array of finite non-negative numbers with a positive total and at least
        2 steps, weights of the wrong size, levels outside (0, 1), or a negative time window.
    """
    problems = ProblemList()
    cube = check_float_array(counts, "counts", problems)
    if cube is not None:
        if cube.ndim != 2 or cube.shape[1] < 2:
            problems.add("shape", f"counts must be (n_cells, n_steps), at least 2 steps, got {cube.shape}",
                         field="counts")
            cube = None
        elif not np.isfinite(cube).all() or (cube < 0).any() or cube.sum() <= 0:
            problems.add("value", "counts must be finite, non-negative and not all zero", field="counts")
            cube = None
    m = check_weights(W, cube.shape[0] if cube is not None else 0, problems)
    window = check_count(time_window, "time_window", problems)
    check_level(alpha, "alpha", problems)
    if trend_alpha is not None:
        check_level(trend_alpha, "trend_alpha", problems)
    problems.raise_if_any()
    assert cube is not None and m is not None
    n, t = cube.shape
    spatial, _ = gi_weights(m, True, "B")
    steps = sparse.diags([np.ones(t - d) for d in range(min(window, t - 1) + 1)],
                         [-d for d in range(min(window, t - 1) + 1)], shape=(t, t), format="csr")
    cube_w = sparse.kron(steps, spatial, format="csr")
    result = getis_ord(cube.T.ravel(), cube_w, star=True, transform="B")
    z = result.z.reshape(t, n).T
    p = result.p.reshape(t, n).T
    if fdr:
        p = bh_adjust(p)
    return classify_emerging(z, p, alpha=alpha, trend_alpha=trend_alpha)


def classify_emerging(
    z: npt.ArrayLike, p: npt.ArrayLike | None = None, *, alpha: float = 0.1, trend_alpha: float | None = None
) -> EmergingHotspots:
    """Classify each cell's series of Gi* z-scores into ArcGIS's 17 emerging hot spot patterns.

    A bin is *hot* when ``z > 0`` and ``p <= alpha``, *cold* when ``z < 0`` and ``p <= alpha``. The trend is
    the Mann–Kendall test of the z-score series, significant when its p-value is at most ``trend_alpha``. With
    ``T`` steps, "90 % of the steps" means at least ``0.9 T`` of them (all of them when ``T < 10``). The
    definitions of ArcGIS's Emerging Hot Spot Analysis, checked in this order (the first that holds wins):

    1. **New**: the final step is hot and no earlier step is.
    2. **Consecutive**: a single uninterrupted run of at least two hot steps ends at the final step, no step
       before the run is hot, and fewer than 90 % of the steps are hot.
    3. **Intensifying**: at least 90 % of the steps are hot, including the final one, and the z-scores have a
       significant increasing trend.
    4. **Persistent**: at least 90 % of the steps are hot, including the final one, with no significant trend.
    5. **Diminishing**: at least 90 % of the steps are hot, including the final one, and the z-scores have a
       significant decreasing trend.
    6. **Sporadic**: the final step is hot, fewer than 90 % of the steps are hot, the hot steps come on and
       off (not New nor Consecutive), and no step is cold.
    7. **Oscillating**: the final step is hot, fewer than 90 % are hot, and some earlier step is cold.
    8. **Historical**: the final step is not hot, but at least 90 % of the steps are.

    Cold spots are the same with hot and cold exchanged, and "increasing" / "decreasing" exchanged for
    Intensifying / Diminishing (an intensifying cold spot gets colder: its z-scores decrease). Anything else
    is **No Pattern Detected**. ArcGIS states "Persistent" without "including the final step"; we require it
    so that Persistent and Historical do not overlap. Where ArcGIS's texts overlap (New / Consecutive vs.
    Oscillating when the cell was cold before), the order above decides. With 10 or more steps a cell can be a
    Historical spot of one kind and end in a spot of the other kind (9 hot steps, then a cold one); it gets
    the pattern of its final step (here New Cold Spot).

    Parameters
    ----------
    z
        ``(n_cells, n_steps)`` Gi* z-scores (or ``(n_steps,)`` for one cell), time in order, ``n_steps >= 2``.
    p
        Two-sided p-values of the same shape; by default the normal ``2 * norm.sf(|z|)``.
    alpha, trend_alpha
        Significance levels of the bins and of the trend (``trend_alpha`` defaults to ``alpha``).

    Returns
    -------
    EmergingHotspots
    """
    problems = ProblemList()
    zs = check_float_array(z, "z", problems)
    a = check_level(alpha, "alpha", problems)
    ta = a if trend_alpha is None else check_level(trend_alpha, "trend_alpha", problems)
    if zs is not None and (zs.ndim not in (1, 2) or zs.shape[-1] < 2 or not np.isfinite(zs).all()):
        problems.add("shape", f"z must be (n_cells, n_steps) finite values with n_steps >= 2, got {zs.shape}",
                     field="z")
        zs = None
    ps = None
    if p is not None:
        ps = check_probabilities(p, "p", problems)
        if zs is not None and ps.shape != zs.shape:
            problems.add("shape", f"p has shape {ps.shape} but z has shape {zs.shape}", field="p")
    problems.raise_if_any()
    assert zs is not None
    single = zs.ndim == 1
    zs2 = np.atleast_2d(zs)
    ps2 = np.atleast_2d(2 * stats.norm.sf(np.abs(zs)) if ps is None else ps)
    with np.errstate(invalid="ignore"):
        sig = ps2 <= a
    hot = sig & (zs2 > 0)
    cold = sig & (zs2 < 0)
    trend = mann_kendall(zs2)
    rising = (trend.p <= ta) & (trend.z > 0)
    falling = (trend.p <= ta) & (trend.z < 0)
    hot_code = _patterns(hot, cold, rising, falling)
    cold_code = _patterns(cold, hot, falling, rising)
    historical = len(PATTERNS)
    use_cold = (hot_code == 0) | ((hot_code == historical) & (cold_code != 0))
    code = np.where(use_cold, -cold_code, hot_code).astype(np.int8)
    if single:
        return EmergingHotspots(code[0], zs2[0], ps2[0], hot[0], cold[0],
                                MannKendallResult(*(np.asarray(v[0]) for v in (trend.s, trend.var_s, trend.z,
                                                                                trend.p, trend.tau))))
    return EmergingHotspots(code, zs2, ps2, hot, cold, trend)


def _patterns(hot: np.ndarray, cold: np.ndarray, towards: np.ndarray, away: np.ndarray) -> np.ndarray:
    """Hot pattern codes 1–8 (0 for none) of every row; ``towards`` is a significant trend to hotter z."""
    t = hot.shape[1]
    n_hot = hot.sum(axis=1)
    final = hot[:, -1]
    mostly = 10 * n_hot >= 9 * t
    # length of the run of hot steps ending at the final step
    not_hot = ~hot[:, ::-1]
    run = np.where(not_hot.any(axis=1), not_hot.argmax(axis=1), t)
    earlier_cold = cold[:, :-1].any(axis=1)
    code = np.zeros(hot.shape[0], dtype=np.int8)
    rules = [
        (1, final & (n_hot == 1)),
        (2, final & (run >= 2) & (run == n_hot) & ~mostly),
        (3, final & mostly & towards),
        (4, final & mostly & ~towards & ~away),
        (5, final & mostly & away),
        (6, final & ~mostly & ~cold.any(axis=1)),
        (7, final & ~mostly & earlier_cold),
        (8, ~final & mostly),
    ]
    for value, rule in reversed(rules):
        code[rule] = value
    return code
