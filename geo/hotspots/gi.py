"""Local Getis-Ord Gi / Gi* (as esda.G_Local), Benjamini-Hochberg FDR and the ArcGIS Gi_Bin bins."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Self

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
    check_self_weight,
    check_transform,
    check_values,
    check_weights,
    set_diagonal,
)

#: Confidence levels of :func:`gi_bin` and their two-sided significance levels (ArcGIS Gi_Bin: 99, 95, 90 %).
BIN_LEVELS: tuple[tuple[int, float], ...] = ((3, 0.01), (2, 0.05), (1, 0.10))


# Largest block of simulated values (cells x permutations x neighbours) held at once by the randomisation.
_SIM_BLOCK = 4_000_000
# Relative tolerance under which a permuted G counts as equal to the observed one (rounding of the sums).
_TIE_RTOL = 1e-12


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
    values, m, tr, self_weight, perms = _check_gi_inputs(y, W, transform, star, permutations)
    w, star_used = gi_weights(m, self_weight, tr)
    G, EG, VG, z = _gi_moments(values, w, star_used)
    p_norm = stats.norm.sf(np.abs(z))
    p = np.minimum(2.0 * p_norm, 1.0)
    extra: dict[str, np.ndarray | None] = {}
    if perms:
        extra = _conditional_randomisation(values, w, G, star_used, perms, np.random.default_rng(seed),
                                           keep_simulations)
    return GetisOrdResult(G=G, EG=EG, VG=VG, z=z, p_norm=p_norm, p=p, star=star_used, transform=tr, weights=w,
                          **extra)


def _check_gi_inputs(
    y: npt.ArrayLike, W: Weights, transform: str, star: bool | float, permutations: int
) -> tuple[np.ndarray, sparse.csr_matrix, str, bool | float | np.ndarray, int]:
    """Values, weights (CSR), transform, self-weight and permutations of :func:`getis_ord`, checked: every
    problem raised together."""
    problems = ProblemList()
    values = check_values(y, "y", problems, min_n=3)
    n = len(values) if values is not None else 0
    m = check_weights(W, n, problems)
    tr = check_transform(transform, problems)
    self_weight = check_self_weight(star, n, problems)
    perms = check_count(permutations, "permutations", problems)
    if values is not None:
        if (values < 0).any():
            problems.add("value", f"y has {int((values < 0).sum())} negative values (e.g. "
                         f"{values[values < 0][0]!r}); Getis-Ord G needs non-negative values such as counts",
                         field="y")
        elif values.sum() <= 0:
            problems.add("value", "y sums to 0: there is nothing to find hot spots of", field="y")
    problems.raise_if_any()
    assert values is not None and m is not None
    return values, m, tr, self_weight, perms


def gi_weights(
    m: sparse.csr_matrix, self_weight: bool | float | np.ndarray, tr: str
) -> tuple[sparse.csr_matrix, bool]:
    """Set or remove the self-weight as ``esda.getisord._infer_star_and_structure_w``, then transform."""
    n = m.shape[0]
    diag = m.diagonal()
    zero_diag = bool((diag == 0).all())
    if self_weight is False:
        if not zero_diag:
            m = set_diagonal(m, np.zeros(n))
    elif self_weight is True:
        if zero_diag:
            if tr == "B":
                fill = np.ones(n)
            else:
                fill = np.asarray(m.max(axis=1).todense()).ravel() if n else np.zeros(0)
            m = set_diagonal(m, fill)
    else:
        m = set_diagonal(m, np.broadcast_to(np.asarray(self_weight, dtype=float), (n,)))
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
    ps = check_probabilities(p, "p", problems)
    a = check_level(alpha, "alpha", problems)
    problems.raise_if_any()
    out = bh_adjust(ps)
    with np.errstate(invalid="ignore"):
        return out, out <= a


def bh_adjust(ps: np.ndarray) -> np.ndarray:
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
    zs = check_float_array(z, "z", problems)
    ps = check_probabilities(p, "p", problems)
    if zs is not None and zs.shape != ps.shape:
        problems.add("shape", f"z has shape {zs.shape} but p has shape {ps.shape}", field="p")
    problems.raise_if_any()
    assert zs is not None
    used = bh_adjust(ps) if fdr else ps
    level = np.zeros(zs.shape, dtype=np.int8)
    with np.errstate(invalid="ignore"):
        for value, cut in reversed(BIN_LEVELS):
            level[used <= cut] = value
        return (level * np.sign(np.nan_to_num(zs))).astype(np.int8)
