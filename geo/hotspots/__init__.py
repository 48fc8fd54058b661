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

from geo.hotspots.checks import TRANSFORMS, Weights
from geo.hotspots.density import GAUSSIAN_CUTOFF, KERNELS, MAX_RASTER_CELLS, DensityRaster, kernel_density
from geo.hotspots.emerging import (
    NO_PATTERN,
    PATTERNS,
    EmergingHotspots,
    MannKendallResult,
    classify_emerging,
    emerging_hotspots,
    mann_kendall,
    pattern_name,
)
from geo.hotspots.gi import BIN_LEVELS, GetisOrdResult, GetisOrdStar, fdr, getis_ord, gi_bin
from geo.hotspots.global_stats import GlobalResult, general_g, moran_i

__all__ = [
    "BIN_LEVELS",
    "GAUSSIAN_CUTOFF",
    "KERNELS",
    "MAX_RASTER_CELLS",
    "NO_PATTERN",
    "PATTERNS",
    "TRANSFORMS",
    "DensityRaster",
    "EmergingHotspots",
    "GetisOrdResult",
    "GetisOrdStar",
    "GlobalResult",
    "MannKendallResult",
    "Weights",
    "classify_emerging",
    "emerging_hotspots",
    "fdr",
    "general_g",
    "getis_ord",
    "gi_bin",
    "kernel_density",
    "mann_kendall",
    "moran_i",
    "pattern_name",
]
