"""Kernel density (quartic or Gaussian) on a raster: the heat surface of a map."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from scipy import signal

from geo.errors import ProblemList, positive_number
from geo.hotspots.checks import (
    check_bounds,
    check_float_array,
)

KERNELS = ("quartic", "gaussian")
#: A Gaussian kernel is cut off at this many bandwidths (standard deviations).
GAUSSIAN_CUTOFF = 4.0
#: A density raster with more cells than this is refused rather than exhausting memory.
MAX_RASTER_CELLS = 100_000_000


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
    xs, ys, ws, h, cell, box = _check_density_inputs(x, y, weights, bandwidth_m, cell_m, bounds, kernel)
    ncols = max(1, math.ceil((box[2] - box[0]) / cell))
    nrows = max(1, math.ceil((box[3] - box[1]) / cell))
    minx, _, _, maxy = box
    col = np.floor((xs - minx) / cell)
    row = np.floor((maxy - ys) / cell)
    inside = (col >= 0) & (col < ncols) & (row >= 0) & (row < nrows)
    flat = row[inside].astype(np.int64) * ncols + col[inside].astype(np.int64)
    binned = np.bincount(flat, weights=None if ws is None else ws.ravel()[inside], minlength=nrows * ncols)
    binned = binned.astype(float).reshape(nrows, ncols)
    k = _kernel(kernel, h, cell)
    density = signal.fftconvolve(binned, k, mode="same") if binned.any() else np.zeros_like(binned)
    np.maximum(density, 0.0, out=density)  # FFT round-off leaves tiny negatives where there are no points
    return DensityRaster(density, (cell, 0.0, minx, 0.0, -cell, maxy))


def _check_density_inputs(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    weights: npt.ArrayLike | None,
    bandwidth_m: float,
    cell_m: float,
    bounds: tuple[float, float, float, float],
    kernel: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, float, float, tuple[float, float, float, float]]:
    """Points (flattened), weights, bandwidth and cell (m) and bounds, every problem raised together."""
    problems = ProblemList()
    xs = check_float_array(x, "x", problems)
    ys = check_float_array(y, "y", problems)
    h = positive_number(bandwidth_m, "bandwidth_m", problems)
    cell = positive_number(cell_m, "cell_m", problems)
    box = check_bounds(bounds, problems)
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
            ws = check_float_array(weights, "weights", problems)
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
    return xs, ys, ws, h, cell, box


def _kernel(kernel: str, h: float, cell: float) -> np.ndarray:
    """The kernel on a (2r+1) x (2r+1) cell stencil, normalised to integrate to 1 over the plane (per m²)."""
    reach = h if kernel == "quartic" else GAUSSIAN_CUTOFF * h
    r = math.floor(reach / cell)
    offsets = np.arange(-r, r + 1) * cell
    d2 = offsets[:, None] ** 2 + offsets[None, :] ** 2
    if kernel == "quartic":
        k = np.where(d2 < h * h, (1 - d2 / (h * h)) ** 2, 0.0)
    else:
        k = np.where(d2 <= reach * reach, np.exp(-d2 / (2 * h * h)), 0.0)
    k /= k.sum() * cell * cell
    return k
