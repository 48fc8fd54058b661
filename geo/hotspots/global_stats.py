"""Global spatial autocorrelation: General G and Moran's I with normal-approximation inference."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import sparse, stats

from geo.errors import ProblemList
from geo.hotspots.checks import (
    Weights,
    check_transform,
    check_values,
    check_weights,
)
from geo.hotspots.gi import gi_weights


@dataclass(frozen=True)
class GlobalResult:
    """A global autocorrelation statistic with its normal-approximation inference.

    ``value`` the statistic, ``expected`` / ``variance`` its moments under the null, ``z`` the z-score and
    ``p`` its two-sided normal p-value.
    """

    value: float
    expected: float
    variance: float
    z: float
    p: float


def general_g(y: npt.ArrayLike, W: Weights) -> GlobalResult:
    """Getis & Ord's (1992) General G, ``sum_ij w_ij y_i y_j / sum_{i != j} y_i y_j``, with binary weights.

    Moments under normality are those of Getis & Ord (1992) as implemented by ``esda.G`` (whose ``p_norm`` is
    the one-sided ``p / 2``). A value above ``expected`` means high values cluster.
    """
    problems = ProblemList()
    values = check_values(y, "y", problems, min_n=4)
    m = check_weights(W, len(values) if values is not None else 0, problems)
    problems.raise_if_any()
    assert values is not None and m is not None
    w, _ = gi_weights(m, False, "B")
    n = len(values)
    s0, s1, s2 = _s012(w)
    expected = s0 / (n * (n - 1))
    y1, y2, y3, y4 = (float((values**k).sum()) for k in (1, 2, 3, 4))
    b0 = (n * n - 3 * n + 3) * s1 - n * s2 + 3 * s0 * s0
    b1 = -((n * n - n) * s1 - 2 * n * s2 + 6 * s0 * s0)
    b2 = -(2 * n * s1 - (n + 3) * s2 + 6 * s0 * s0)
    b3 = 4 * (n - 1) * s1 - 2 * (n + 1) * s2 + 8 * s0 * s0
    b4 = s1 - s2 + s0 * s0
    eg2 = (b0 * y2**2 + b1 * y4 + b2 * y1**2 * y2 + b3 * y1 * y3 + b4 * y1**4) / (
        (y1**2 - y2) ** 2 * n * (n - 1) * (n - 2) * (n - 3))
    variance = eg2 - expected**2
    value = float(values @ (w @ values)) / (y1**2 - y2)
    z = (value - expected) / math.sqrt(variance)
    return GlobalResult(value, expected, variance, z, float(2 * stats.norm.sf(abs(z))))


def moran_i(y: npt.ArrayLike, W: Weights, *, transform: str = "R") -> GlobalResult:
    """Moran's I, ``n / S0 * z'Wz / z'z`` with ``z = y - mean(y)``, and its moments under normality.

    ``E[I] = -1 / (n - 1)``; ``V[I] = (n² S1 - n S2 + 3 S0²) / ((n² - 1) S0²) - E[I]²`` (Cliff & Ord 1981), as
    ``esda.Moran`` (``p`` equals its two-sided ``p_norm``). ``transform`` ``"R"`` (default) or ``"B"``.
    """
    problems = ProblemList()
    values = check_values(y, "y", problems, min_n=3)
    m = check_weights(W, len(values) if values is not None else 0, problems)
    tr = check_transform(transform, problems)
    problems.raise_if_any()
    assert values is not None and m is not None
    w, _ = gi_weights(m, False, tr)
    n = len(values)
    dev = values - values.mean()
    s0, s1, s2 = _s012(w)
    value = n / s0 * float(dev @ (w @ dev)) / float(dev @ dev)
    expected = -1.0 / (n - 1)
    variance = (n * n * s1 - n * s2 + 3 * s0 * s0) / ((n - 1) * (n + 1) * s0 * s0) - expected**2
    z = (value - expected) / math.sqrt(variance)
    return GlobalResult(value, expected, variance, z, float(2 * stats.norm.sf(abs(z))))


def _s012(w: sparse.csr_matrix) -> tuple[float, float, float]:
    s0 = float(w.sum())
    sym = w + w.T
    s1 = float(sym.multiply(sym).sum()) / 2.0
    s2 = float(((np.asarray(w.sum(axis=1)).ravel() + np.asarray(w.sum(axis=0)).ravel()) ** 2).sum())
    return s0, s1, s2
