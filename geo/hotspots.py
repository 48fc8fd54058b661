"""Hotspot statistics of reports per cell: Getis-Ord Gi / Gi*, FDR, Gi_Bin, trends, emerging hot spots.

The local statistic is Getis and Ord's G (Getis & Ord 1992, "The analysis of spatial association by use of
distance statistics", *Geographical Analysis* 24(3)) in the form of Ord & Getis (1995, "Local spatial
autocorrelation statistics: distributional issues and an application", *Geographical Analysis* 27(4)): for
cell ``i`` with weights ``w_ij`` and values ``y`` (counts, or sums of severities),

    G_i = sum_j w_ij y_j / sum_{j != i} y_j            (Gi,  w_ii = 0)
    G*_i = sum_j w_ij y_j / sum_j y_j                  (Gi*, w_ii > 0: the cell is its own neighbour)

standardised under the normal approximation into a z-score. A large positive z is a hot spot (high values
surrounded by high values), a large negative z a cold spot. :func:`getis_ord` reproduces PySAL's
``esda.G_Local`` (version 2.9) to rounding: the same self-weight for Gi*, the same moments, the same
conditional randomisation for pseudo p-values (with numpy's generator instead of esda's, so pseudo p-values
agree in distribution, not draw by draw). It works on scipy sparse weights (:mod:`geo.cells`) and is
vectorised: a million cells with lattice weights take about a second.

Around it:

- :func:`fdr` — Benjamini & Hochberg (1995) adjusted p-values, as ``scipy.stats.false_discovery_control``;
- :func:`gi_bin` — the -3 … +3 confidence bins of ArcGIS's Hot Spot Analysis (``Gi_Bin``), with or w/o FDR;
- :class:`GetisOrdStar` — an estimator doing the above in one ``fit``;
- :func:`general_g`, :func:`moran_i` — the global statistics (General G, Moran's I) with normal inference;
- :func:`mann_kendall` — the Mann (1945) / Kendall (1975) trend test, vectorised over cells;
- :func:`emerging_hotspots` — ArcGIS's Emerging Hot Spot Analysis categories from a cells x time-steps cube;
- :func:`kernel_density` — a quartic (or Gaussian) kernel density raster for the heat surface of a map.

The functions are pure (numpy / scipy); inputs are checked and every problem is raised together in a
:class:`geo.errors.GeoValidationError`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple, Self

import numpy as np
import numpy.typing as npt
from scipy import signal, sparse, stats

from geo.errors import ProblemList, positive_number

#: Confidence levels of :func:`gi_bin` and their two-sided significance levels (ArcGIS Gi_Bin: 99, 95, 90 %).
BIN_LEVELS: tuple[tuple[int, float], ...] = ((3, 0.01), (2, 0.05), (1, 0.10))
TRANSFORMS = ("B", "R")
KERNELS = ("quartic", "gaussian")
#: A Gaussian kernel is cut off at this many bandwidths (standard deviations).
GAUSSIAN_CUTOFF = 4.0
#: A density raster with more cells than this is refused rather than exhausting memory.
MAX_RASTER_CELLS = 100_000_000
# Largest block of simulated values (cells x permutations x neighbours) held at once by the randomisation.
_SIM_BLOCK = 4_000_000
# Relative tolerance under which a permuted G counts as equal to the observed one (rounding of the sums).
_TIE_RTOL = 1e-12

Weights = sparse.spmatrix | sparse.sparray


# --- Getis-Ord Gi / Gi* -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GetisOrdResult:
    """Local Getis-Ord statistics, one value per cell (see :func:`getis_ord`).

    Attributes
    ----------
    G
        The statistic ``G_i`` (or ``G*_i``), a share of the total of ``y`` (``esda.G_Local.Gs``).
    EG, VG
        Its expectation and variance under the normal approximation (``EGs``, ``VGs``).
    z
        ``(G - EG) / sqrt(VG)`` (``Zs``); NaN where the variance is 0 (e.g. an island under Gi).
    p_norm
        One-sided normal p-value of ``|z|``, ``norm.sf(|z|)``, exactly as ``esda.G_Local.p_norm``.
    p
        Two-sided normal p-value, ``2 * p_norm``: what ArcGIS reports and :func:`gi_bin` expects.
    star
        Whether a self-weight was used (Gi*), and ``transform`` the weights transform applied, ``"B"`` or
        ``"R"``.
    weights
        The weights actually used: self-weight set or removed, then transformed.
    p_sim, z_sim, p_z_sim, EG_sim, VG_sim, sim
        With permutations only (else None): the pseudo p-value ``(min(M, P - M) + 1) / (P + 1)`` where ``M``
        of the ``P`` conditional permutations gave a G at least the observed one (equal up to 1e-12 relative
        counts, whatever the rounding of the sums). This is esda's "directed" p-value, one-sided: roughly half
        a two-sided one; a cell whose G is the smallest possible (e.g. no reports around it) gets the smallest
        p-value too, as in esda. Then the z-score, one-sided normal p-value, mean and variance of G over the
        permutations, and the simulated values, ``(n, P)``, when ``keep_simulations``. NaN for islands.
    """

    G: np.ndarray
    EG: np.ndarray
    VG: np.ndarray
    z: np.ndarray
    p_norm: np.ndarray
    p: np.ndarray
    star: bool
    transform: str
    weights: sparse.csr_matrix = field(repr=False)
    p_sim: np.ndarray | None = None
    z_sim: np.ndarray | None = None
    p_z_sim: np.ndarray | None = None
    EG_sim: np.ndarray | None = None
    VG_sim: np.ndarray | None = None
    sim: np.ndarray | None = field(default=None, repr=False)


def getis_ord(
    y: npt.ArrayLike,
    W: Weights,
    *,
    star: bool | float = True,
    transform: str = "B",
    permutations: int = 0,
    seed: int | np.random.Generator | None = None,
    keep_simulations: bool = False,
) -> GetisOrdResult:
    """Local Getis-Ord G of every cell: Gi* (``star=True``, default) or Gi, as ``esda.G_Local``.

    Parameters
    ----------
    y
        Non-negative value of each cell (counts, summed severities), with a positive total. Getis & Ord's G
        assumes a variable with a natural origin, so negative values are rejected.
    W
        Spatial weights, ``(n, n)`` scipy sparse matrix positional in ``y``, e.g. from :mod:`geo.cells`;
        only the structural nonzeros count. Give binary weights; the function adds or removes the self-weight
        and applies the transform itself.
    star
        ``True``: Gi*. If ``W`` has a zero diagonal, a self-weight is added first — 1 for ``transform="B"``,
        the largest weight of the row for ``"R"`` (1 for binary ``W``, so the row of ``k`` neighbours becomes
        ``1/(k+1)`` each; a row without neighbours gets no self-weight under ``"R"``); a diagonal already in
        ``W`` is kept. ``False``: Gi, any diagonal is removed. A number: that self-weight on every cell before
        the transform (so under ``"B"`` any positive number means 1). These are esda's rules.
    transform
        ``"B"``: binary, every nonzero weight becomes 1. ``"R"``: row-standardised, each row sums to 1.
    permutations
        Number of conditional permutations for pseudo p-values (0 for none; 999 is usual). For each cell the
        values of its neighbours are redrawn, without replacement, from the other ``n - 1`` cells; as in esda
        the draws of one permutation are shared by all cells (it only shifts the index past the cell itself).
    seed
        Seed or ``numpy.random.Generator`` of the permutations; the same seed gives the same pseudo p-values.
    keep_simulations
        Keep the ``(n, permutations)`` simulated G values in ``result.sim``.

    Returns
    -------
    GetisOrdResult

    Raises
    ------
    GeoValidationError
        For ``y`` that is not a 1-D array of at least 3 finite non-negative numbers with a positive total,
        weights that are not a square sparse matrix of that size or have negative weights, an unknown
        transform, a negative self-weight, or a negative number of permutations.

    Notes
    -----
    With ``S = sum_j y_j`` (without ``y_i`` for Gi), ``N = n`` (``n - 1`` for Gi), ``m`` and ``s²`` the mean
    and the population variance of those ``N`` values and ``W_i = sum_j w_ij`` (after the transform):

        E[G_i] = W_i / N
        V[G_i] = W_i (N - W_i) / (N - 1) / N² * s² / m²

    which is Ord & Getis (1995) for binary weights; for row-standardised weights it is esda's formula,
    reproduced as is. For binary weights with a self-weight of 1 the z-score equals ArcGIS's Gi* z-score
    ``(sum_j w_ij y_j - ȳ W_i) / (s sqrt((n W_i - W_i²) / (n - 1))))``, as the algebra shows.
    """
    problems = ProblemList()
    values = _values(y, "y", problems, min_n=3)
    n = len(values) if values is not None else 0
    m = _weights(W, n, problems)
    tr = _transform(transform, problems)
    self_weight = _self_weight(star, n, problems)
    perms = _count(permutations, "permutations", problems)
    if values is not None:
        if (values < 0).any():
            problems.add("value", f"y has {int((values < 0).sum())} negative values (e.g. "
                         f"{values[values < 0][0]!r}); Getis-Ord G needs non-negative values such as counts",
                         field="y")
        elif values.sum() <= 0:
            problems.add("value", "y sums to 0: there is nothing to find hot spots of", field="y")
    problems.raise_if_any()
    assert values is not None and m is not None

    w, star_used = _gi_weights(m, self_weight, tr)
    G, EG, VG, z = _gi_moments(values, w, star_used)
    p_norm = stats.norm.sf(np.abs(z))
    p = np.minimum(2.0 * p_norm, 1.0)
    extra: dict[str, np.ndarray | None] = {}
    if perms:
        extra = _conditional_randomisation(values, w, G, star_used, perms, np.random.default_rng(seed),
                                           keep_simulations)
    return GetisOrdResult(G=G, EG=EG, VG=VG, z=z, p_norm=p_norm, p=p, star=star_used, transform=tr, weights=w,
                          **extra)


def _gi_weights(
    m: sparse.csr_matrix, self_weight: bool | float | np.ndarray, tr: str
) -> tuple[sparse.csr_matrix, bool]:
    """Set or remove the self-weight as ``esda.getisord._infer_star_and_structure_w``, then transform."""
    n = m.shape[0]
    diag = m.diagonal()
    zero_diag = bool((diag == 0).all())
    if self_weight is False:
        if not zero_diag:
            m = _set_diagonal(m, np.zeros(n))
    elif self_weight is True:
        if zero_diag:
            if tr == "B":
                fill = np.ones(n)
            else:
                fill = np.asarray(m.max(axis=1).todense()).ravel() if n else np.zeros(0)
            m = _set_diagonal(m, fill)
    else:
        m = _set_diagonal(m, np.broadcast_to(np.asarray(self_weight, dtype=float), (n,)))
    star_used = bool((m.diagonal() > 0).any())
    if tr == "B":
        m.data[:] = 1.0
    else:
        sums = np.asarray(m.sum(axis=1)).ravel()
        scale = np.divide(1.0, sums, out=np.zeros_like(sums), where=sums != 0)
        m.data *= np.repeat(scale, np.diff(m.indptr))
    return m, star_used


def _gi_moments(y: np.ndarray, w: sparse.csr_matrix, star: bool) -> tuple[np.ndarray, ...]:
    """G, E[G], V[G] and z in the exact arithmetic of ``esda.G_Local.calc``."""
    remove_self = not star
    n_used = len(y) - remove_self
    total = y.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        G = (w @ y) / (total - y * remove_self)
        mean = (total - y * remove_self) / n_used
        mean_sq = ((y**2).sum() - (y**2) * remove_self) / n_used
        var = mean_sq - mean**2
        card = np.asarray(w.sum(axis=1)).ravel()
        EG = card / n_used
        VG = card * (n_used - card)
        VG /= n_used - 1
        VG *= 1 / n_used**2
        VG *= var / (mean**2)
        z = (G - EG) / np.sqrt(VG)
    return G, EG, VG, z


def _conditional_randomisation(
    y: np.ndarray,
    w: sparse.csr_matrix,
    G: np.ndarray,
    star: bool,
    permutations: int,
    rng: np.random.Generator,
    keep: bool,
) -> dict[str, np.ndarray | None]:
    """Pseudo p-values by conditional randomisation as ``esda.crand.crand``, ``alternative="directed"``."""
    n = len(y)
    total = y.sum()
    self_w = w.diagonal()
    coo = w.tocoo()
    off = coo.row != coo.col
    others = sparse.csr_matrix((coo.data[off], (coo.row[off], coo.col[off])), shape=w.shape)
    others.sort_indices()
    card = np.diff(others.indptr)
    k_max = int(card.max()) if n else 0
    ids = np.empty((permutations, k_max), dtype=np.int64)
    for r in range(permutations):
        ids[r] = rng.choice(n - 1, size=k_max, replace=False)
    p_sim = np.full(n, np.nan)
    EG_sim = np.full(n, np.nan)
    se_sim = np.full(n, np.nan)
    sims = np.full((n, permutations), np.nan) if keep else None
    for k in np.unique(card[card > 0]):
        cells = np.flatnonzero(card == k)
        draw = ids[:, :k]
        block = max(1, _SIM_BLOCK // (permutations * int(k)))
        for start in range(0, len(cells), block):
            c = cells[start:start + block]
            weights = others.data[others.indptr[c][:, None] + np.arange(k)]
            j = draw[None, :, :] + (draw[None, :, :] >= c[:, None, None])
            sim = np.einsum("cpk,ck->cp", y[j], weights)
            if star:
                sim += (self_w[c] * y[c])[:, None]
                sim /= total
            else:
                sim /= (total - y[c])[:, None]
            # a draw equal to the observed G up to summation order counts as "at least" it
            larger = (sim >= G[c, None] * (1 - _TIE_RTOL)).sum(axis=1)
            larger = np.minimum(larger, permutations - larger)
            p_sim[c] = (larger + 1.0) / (permutations + 1.0)
            EG_sim[c] = sim.mean(axis=1)
            se_sim[c] = sim.std(axis=1)
            if sims is not None:
                sims[c] = sim
    with np.errstate(divide="ignore", invalid="ignore"):
        z_sim = (G - EG_sim) / se_sim
    return {"p_sim": p_sim, "z_sim": z_sim, "p_z_sim": stats.norm.sf(np.abs(z_sim)), "EG_sim": EG_sim,
            "VG_sim": se_sim * se_sim, "sim": sims}


class GetisOrdStar:
    """Hot spot analysis with Gi*: z-scores, p-values, FDR and ArcGIS-style confidence bins in one ``fit``.

    Parameters
    ----------
    transform
        ``"B"`` (binary, default; ArcGIS's Gi* with fixed-distance or contiguity neighbours) or ``"R"``.
    permutations
        Conditional permutations for pseudo p-values; 0 (default) for the normal approximation only.
    seed
        Seed of the permutations.
    fdr
        Judge the bins on Benjamini–Hochberg adjusted p-values (default, as ArcGIS's Optimized Hot Spot
        Analysis) rather than on the raw p-values.

    Attributes
    ----------
    G_, EG_, VG_, z_, p_norm_
        As :class:`GetisOrdResult` ``G``, ``EG``, ``VG``, ``z``, ``p_norm`` (one-sided, as esda).
    p_
        Two-sided normal p-values.
    p_fdr_
        Benjamini–Hochberg adjusted ``p_`` (:func:`fdr`).
    bin_
        Confidence bins -3 … +3 (:func:`gi_bin`), on ``p_fdr_`` if ``fdr`` else on ``p_``.
    p_sim_, z_sim_
        Pseudo p-values and z-scores of the permutations, or None without permutations.
    result_
        The whole :class:`GetisOrdResult`.

    Examples
    --------
    >>> from geo.cells import lattice
    >>> y = np.zeros(100); y[[44, 45, 54, 55]] = 10
    >>> gi = GetisOrdStar().fit(y, lattice(10, 10))
    >>> int(gi.bin_[44]), int(gi.bin_[0])
    (3, 0)
    """

    def __init__(
        self, *, transform: str = "B", permutations: int = 0, seed: int | np.random.Generator | None = None,
        fdr: bool = True,
    ) -> None:
        self.transform = transform
        self.permutations = permutations
        self.seed = seed
        self.fdr = fdr

    def fit(self, y: npt.ArrayLike, W: Weights) -> Self:
        """Compute Gi* of ``y`` with weights ``W`` (see :func:`getis_ord`); returns ``self``."""
        result = getis_ord(y, W, star=True, transform=self.transform, permutations=self.permutations,
                           seed=self.seed)
        self.result_ = result
        self.G_, self.EG_, self.VG_, self.z_ = result.G, result.EG, result.VG, result.z
        self.p_norm_, self.p_ = result.p_norm, result.p
        self.p_fdr_ = fdr(result.p)[0]
        self.bin_ = gi_bin(result.z, result.p, fdr=self.fdr)
        self.p_sim_, self.z_sim_ = result.p_sim, result.z_sim
        return self


# --- multiple testing and bins ------------------------------------------------------------------------------


def fdr(p: npt.ArrayLike, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Benjamini–Hochberg false discovery rate control (Benjamini & Hochberg 1995, *JRSS B* 57(1)).

    With the ``m`` p-values sorted, ``p_(1) <= … <= p_(m)``, the adjusted value of ``p_(i)`` is
    ``min_{j >= i} min(1, p_(j) * m / j)``; rejecting the hypotheses whose adjusted value is at most ``alpha``
    keeps the expected share of false discoveries among the rejections at most ``alpha`` (for independent or
    positively dependent tests). The adjusted values equal ``scipy.stats.false_discovery_control(p)`` and R's
    ``p.adjust(p, "BH")``.

    Parameters
    ----------
    p
        p-values in [0, 1], any shape. NaNs (e.g. islands) stay NaN and are not counted in ``m``.
    alpha
        False discovery rate for the mask.

    Returns
    -------
    adjusted : numpy.ndarray
        BH-adjusted p-values, same shape as ``p``.
    significant : numpy.ndarray
        Boolean mask ``adjusted <= alpha``.
    """
    problems = ProblemList()
    ps = _probabilities(p, "p", problems)
    a = _level(alpha, "alpha", problems)
    problems.raise_if_any()
    out = _bh_adjust(ps)
    with np.errstate(invalid="ignore"):
        return out, out <= a


def _bh_adjust(ps: np.ndarray) -> np.ndarray:
    out = np.full(ps.shape, np.nan)
    flat = ps.ravel()
    finite = ~np.isnan(flat)
    vals = flat[finite]
    m = len(vals)
    if m:
        order = np.argsort(vals)
        ranked = vals[order]
        i = np.arange(1, m + 1, dtype=float)
        ranked = ranked * (m / i)
        np.minimum.accumulate(ranked[::-1], out=ranked[::-1])
        adjusted = np.empty(m)
        adjusted[order] = ranked
        out.ravel()[np.flatnonzero(finite)] = np.clip(adjusted, 0.0, 1.0)
    return out


def gi_bin(z: npt.ArrayLike, p: npt.ArrayLike, *, fdr: bool) -> np.ndarray:
    """Confidence bins of ArcGIS's Hot Spot Analysis (the ``Gi_Bin`` field): -3 … +3.

    ``+3`` / ``-3``: hot / cold spot at 99 % confidence (p <= 0.01), ``±2`` at 95 % (p <= 0.05), ``±1`` at 90
    % (p <= 0.10), ``0`` not significant; the sign is the sign of ``z``. Without FDR, with two-sided normal
    p-values, these are ArcGIS's critical z-scores ±2.576, ±1.960, ±1.645. With ``fdr=True`` the p-values are
    first adjusted by Benjamini–Hochberg over all cells (:func:`fdr`), and a cell is in bin ±3 when it is
    significant at a false discovery rate of 1 %, ±2 at 5 %, ±1 at 10 % — ArcGIS's "Apply False Discovery Rate
    (FDR) Correction", which lowers the critical p-value of each confidence level so that at most that share
    of the cells it reports are expected to be false positives.

    Parameters
    ----------
    z
        Gi* z-scores (only their sign is used).
    p
        Two-sided p-values of the same shape (:attr:`GetisOrdResult.p`, not esda's one-sided ``p_norm``).
    fdr
        Apply the Benjamini–Hochberg correction first.

    Returns
    -------
    numpy.ndarray
        ``int8`` bins, same shape as ``z``; 0 where ``z`` or ``p`` is NaN.
    """
    problems = ProblemList()
    zs = _float_array(z, "z", problems)
    ps = _probabilities(p, "p", problems)
    if zs is not None and zs.shape != ps.shape:
        problems.add("shape", f"z has shape {zs.shape} but p has shape {ps.shape}", field="p")
    problems.raise_if_any()
    assert zs is not None
    used = _bh_adjust(ps) if fdr else ps
    level = np.zeros(zs.shape, dtype=np.int8)
    with np.errstate(invalid="ignore"):
        for value, cut in reversed(BIN_LEVELS):
            level[used <= cut] = value
        return (level * np.sign(np.nan_to_num(zs))).astype(np.int8)


# --- global statistics --------------------------------------------------------------------------------------


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
    values = _values(y, "y", problems, min_n=4)
    m = _weights(W, len(values) if values is not None else 0, problems)
    problems.raise_if_any()
    assert values is not None and m is not None
    w, _ = _gi_weights(m, False, "B")
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
    values = _values(y, "y", problems, min_n=3)
    m = _weights(W, len(values) if values is not None else 0, problems)
    tr = _transform(transform, problems)
    problems.raise_if_any()
    assert values is not None and m is not None
    w, _ = _gi_weights(m, False, tr)
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


# --- trends -------------------------------------------------------------------------------------------------


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
    x = _float_array(series, "series", problems)
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
    cube = _float_array(counts, "counts", problems)
    if cube is not None:
        if cube.ndim != 2 or cube.shape[1] < 2:
            problems.add("shape", f"counts must be (n_cells, n_steps), at least 2 steps, got {cube.shape}",
                         field="counts")
            cube = None
        elif not np.isfinite(cube).all() or (cube < 0).any() or cube.sum() <= 0:
            problems.add("value", "counts must be finite, non-negative and not all zero", field="counts")
            cube = None
    m = _weights(W, cube.shape[0] if cube is not None else 0, problems)
    window = _count(time_window, "time_window", problems)
    _level(alpha, "alpha", problems)
    if trend_alpha is not None:
        _level(trend_alpha, "trend_alpha", problems)
    problems.raise_if_any()
    assert cube is not None and m is not None
    n, t = cube.shape
    spatial, _ = _gi_weights(m, True, "B")
    steps = sparse.diags([np.ones(t - d) for d in range(min(window, t - 1) + 1)],
                         [-d for d in range(min(window, t - 1) + 1)], shape=(t, t), format="csr")
    cube_w = sparse.kron(steps, spatial, format="csr")
    result = getis_ord(cube.T.ravel(), cube_w, star=True, transform="B")
    z = result.z.reshape(t, n).T
    p = result.p.reshape(t, n).T
    if fdr:
        p = _bh_adjust(p)
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
    zs = _float_array(z, "z", problems)
    a = _level(alpha, "alpha", problems)
    ta = a if trend_alpha is None else _level(trend_alpha, "trend_alpha", problems)
    if zs is not None and (zs.ndim not in (1, 2) or zs.shape[-1] < 2 or not np.isfinite(zs).all()):
        problems.add("shape", f"z must be (n_cells, n_steps) finite values with n_steps >= 2, got {zs.shape}",
                     field="z")
        zs = None
    ps = None
    if p is not None:
        ps = _probabilities(p, "p", problems)
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


# --- kernel density -----------------------------------------------------------------------------------------


class DensityRaster(NamedTuple):
    """A raster: ``values[row, col]`` with row 0 the northernmost, and the affine ``transform``.

    ``transform`` is ``(a, b, c, d, e, f)`` in the order of ``affine.Affine`` (rasterio): the top-left corner
    of cell ``(row, col)`` is at ``x = c + a * col``, ``y = f + e * row`` (``b = d = 0``, ``a = cell``,
    ``e = -cell``), so ``affine.Affine(*transform)`` accepts it as is.
    """

    values: np.ndarray
    transform: tuple[float, float, float, float, float, float]


def kernel_density(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    bandwidth_m: float,
    cell_m: float,
    bounds: tuple[float, float, float, float],
    weights: npt.ArrayLike | None = None,
    kernel: str = "quartic",
) -> DensityRaster:
    """Kernel density surface of points (e.g. reports) for a heat map, in weight per square metre.

    The quartic (biweight) kernel, as ArcGIS's Kernel Density and QGIS's heatmap (Silverman 1986, *Density
    Estimation*, eq. 4.5): ``K(d) = 3 / (pi h²) (1 - d²/h²)²`` for ``d < h``, ``h = bandwidth_m``. Or a
    Gaussian with standard deviation ``bandwidth_m``, cut off at ``GAUSSIAN_CUTOFF`` standard deviations.

    Points are binned to the raster's cells (each point moves to its cell's centre, at most ``cell_m / √2``
    away) and the binned weights are convolved with the kernel sampled at cell centres (an FFT convolution, so
    100k points on a few million cells take about a second). The sampled kernel is scaled to sum to exactly
    one point's weight, so ``values.sum() * cell_m²`` equals the total weight of the points in ``bounds``,
    less the part of kernels reaching past the edge of the raster.

    Parameters
    ----------
    x, y
        Coordinates in a metric CRS (metres).
    bandwidth_m
        Search radius of the quartic kernel, or standard deviation of the Gaussian, in metres.
    cell_m
        Side of a raster cell in metres.
    bounds
        ``(minx, miny, maxx, maxy)`` of the raster; it has ``ceil(width / cell_m)`` columns and
        ``ceil(height / cell_m)`` rows from ``(minx, maxy)``. Points outside are ignored.
    weights
        Weight of each point (e.g. severity); 1 each by default.
    kernel
        ``"quartic"`` (default) or ``"gaussian"``.

    Returns
    -------
    DensityRaster
        ``values`` (``nrows x ncols`` float64, row 0 north) and ``transform``.

    Raises
    ------
    GeoValidationError
        For coordinates or weights of different lengths or not finite, a non-positive bandwidth or cell size,
        malformed bounds, an unknown kernel, or more than ``MAX_RASTER_CELLS`` cells.
    """
    problems = ProblemList()
    xs = _float_array(x, "x", problems)
    ys = _float_array(y, "y", problems)
    h = positive_number(bandwidth_m, "bandwidth_m", problems)
    cell = positive_number(cell_m, "cell_m", problems)
    box = _bounds(bounds, problems)
    if kernel not in KERNELS:
        problems.add("value", f"kernel must be one of {KERNELS}, got {kernel!r}", field="kernel")
    ws = None
    if xs is not None and ys is not None:
        xs, ys = xs.ravel(), ys.ravel()
        if len(xs) != len(ys):
            problems.add("shape", f"x has {len(xs)} values but y has {len(ys)}", field="y")
        elif not (np.isfinite(xs).all() and np.isfinite(ys).all()):
            problems.add("value", "x and y must be finite numbers", field="x")
        if weights is not None:
            ws = _float_array(weights, "weights", problems)
            if ws is not None and (ws.ravel().shape != xs.shape or not np.isfinite(ws).all()):
                problems.add("value", f"weights must be {len(xs)} finite numbers", field="weights")
    if box is not None and not problems:
        ncols = max(1, math.ceil((box[2] - box[0]) / cell))
        nrows = max(1, math.ceil((box[3] - box[1]) / cell))
        if nrows * ncols > MAX_RASTER_CELLS:
            problems.add("size", f"bounds {bounds!r} at cell_m={cell_m!r} give {nrows} x {ncols} cells, "
                         f"more than {MAX_RASTER_CELLS:,}", field="cell_m")
    problems.raise_if_any()
    assert xs is not None and ys is not None and box is not None
    minx, _, _, maxy = box
    col = np.floor((xs - minx) / cell)
    row = np.floor((maxy - ys) / cell)
    inside = (col >= 0) & (col < ncols) & (row >= 0) & (row < nrows)
    flat = row[inside].astype(np.int64) * ncols + col[inside].astype(np.int64)
    binned = np.bincount(flat, weights=None if ws is None else ws.ravel()[inside], minlength=nrows * ncols)
    binned = binned.astype(float).reshape(nrows, ncols)
    reach = h if kernel == "quartic" else GAUSSIAN_CUTOFF * h
    r = math.floor(reach / cell)
    offsets = np.arange(-r, r + 1) * cell
    d2 = offsets[:, None] ** 2 + offsets[None, :] ** 2
    if kernel == "quartic":
        k = np.where(d2 < h * h, (1 - d2 / (h * h)) ** 2, 0.0)
    else:
        k = np.where(d2 <= reach * reach, np.exp(-d2 / (2 * h * h)), 0.0)
    k /= k.sum() * cell * cell
    density = signal.fftconvolve(binned, k, mode="same") if binned.any() else np.zeros_like(binned)
    np.maximum(density, 0.0, out=density)  # FFT round-off leaves tiny negatives where there are no points
    return DensityRaster(density, (cell, 0.0, minx, 0.0, -cell, maxy))


# --- input checks -------------------------------------------------------------------------------------------


def _float_array(value: object, name: str, problems: ProblemList) -> np.ndarray | None:
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        problems.add("type", f"{name} must be numbers, got {type(value)}", field=name)
        return None


def _values(value: object, name: str, problems: ProblemList, *, min_n: int) -> np.ndarray | None:
    arr = _float_array(value, name, problems)
    if arr is None:
        return None
    arr = arr.ravel() if arr.ndim == 2 and 1 in arr.shape else arr
    if arr.ndim != 1 or len(arr) < min_n:
        problems.add("shape", f"{name} must be a 1-D array of at least {min_n} values, got shape {arr.shape}",
                     field=name)
        return None
    if not np.isfinite(arr).all():
        problems.add("value", f"{name} has {int((~np.isfinite(arr)).sum())} NaN or infinite values, e.g. at "
                     f"position {int(np.flatnonzero(~np.isfinite(arr))[0])}", field=name)
        return None
    return arr


def _weights(W: object, n: int, problems: ProblemList) -> sparse.csr_matrix | None:
    if not (sparse.issparse(W) or isinstance(W, np.ndarray)):
        problems.add("type", f"W must be a scipy sparse matrix (see geo.cells), got {type(W)}", field="W")
        return None
    m = sparse.csr_matrix(W, dtype=float, copy=True)
    if m.shape != (n, n):
        problems.add("shape", f"W has shape {m.shape} but there are {n} values", field="W")
        return None
    m.sum_duplicates()
    m.eliminate_zeros()
    if not np.isfinite(m.data).all() or (m.data < 0).any():
        problems.add("value", "W has negative, NaN or infinite weights", field="W")
        return None
    return m


def _transform(transform: object, problems: ProblemList) -> str:
    tr = str(transform).upper()
    if tr not in TRANSFORMS:
        problems.add("value", f"transform must be 'B' or 'R', got {transform!r}", field="transform")
        return "B"
    return tr


def _self_weight(star: object, n: int, problems: ProblemList) -> bool | float | np.ndarray:
    if isinstance(star, bool | np.bool_):
        return bool(star)
    try:
        value = np.asarray(star, dtype=float)
    except (TypeError, ValueError):
        value = np.asarray(np.nan)
    wrong_shape = value.ndim > 1 or (value.ndim == 1 and len(value) != n)
    if wrong_shape or not np.isfinite(value).all() or (value < 0).any():
        problems.add("value", "star must be True, False or a non-negative self-weight (one, or one per "
                     f"cell), got {star!r}", field="star")
        return True
    return value if value.ndim else float(value)


def _count(value: object, name: str, problems: ProblemList) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
        problems.add("value", f"{name} must be a non-negative integer, got {value!r}", field=name)
        return 0
    return int(value)


def _level(value: object, name: str, problems: ProblemList) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = math.nan
    if not 0 < number < 1:
        problems.add("value", f"{name} must be a level between 0 and 1, got {value!r}", field=name)
        return 0.05
    return number


def _bounds(bounds: object, problems: ProblemList) -> tuple[float, float, float, float] | None:
    try:
        box = tuple(float(v) for v in bounds)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        box = ()
    if len(box) != 4 or not all(math.isfinite(v) for v in box) or not (box[0] < box[2] and box[1] < box[3]):
        problems.add("bounds", "bounds must be (minx, miny, maxx, maxy) with minx < maxx and miny < maxy, "
                     f"got {bounds!r}", field="bounds")
        return None
    return box  # type: ignore[return-value]


def _probabilities(p: object, name: str, problems: ProblemList) -> np.ndarray:
    arr = _float_array(p, name, problems)
    if arr is None:
        return np.zeros(0)
    with np.errstate(invalid="ignore"):
        bad = ~np.isnan(arr) & ((arr < 0) | (arr > 1))
    if bad.any():
        problems.add("value", f"{name} has {int(bad.sum())} values outside [0, 1], e.g. "
                     f"{arr[bad].ravel()[0]!r}",
                     field=name)
    return arr


def _set_diagonal(m: sparse.csr_matrix, values: np.ndarray) -> sparse.csr_matrix:
    """A copy of ``m`` whose diagonal is ``values`` (zeros are left out of the structure)."""
    n = m.shape[0]
    out = m - sparse.diags(m.diagonal(), format="csr", shape=(n, n))
    out = out + sparse.diags(np.asarray(values, dtype=float), format="csr", shape=(n, n))
    out = sparse.csr_matrix(out)
    out.eliminate_zeros()
    out.sort_indices()
    return out

