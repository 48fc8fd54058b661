"""Input checks of the hotspot statistics: each adds what is wrong to a ProblemList (raised together)."""

from __future__ import annotations

import math

import numpy as np
from scipy import sparse

from geo.errors import ProblemList

TRANSFORMS = ("B", "R")


#: Spatial weights: a scipy sparse matrix (any format; checked ones come back as CSR).
Weights = sparse.spmatrix | sparse.sparray


def check_float_array(value: object, name: str, problems: ProblemList) -> np.ndarray | None:
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        problems.add("type", f"{name} must be numbers, got {type(value)}", field=name)
        return None


def check_values(value: object, name: str, problems: ProblemList, *, min_n: int) -> np.ndarray | None:
    arr = check_float_array(value, name, problems)
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


def check_weights(W: object, n: int, problems: ProblemList) -> sparse.csr_matrix | None:
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


def check_transform(transform: object, problems: ProblemList) -> str:
    tr = str(transform).upper()
    if tr not in TRANSFORMS:
        problems.add("value", f"transform must be 'B' or 'R', got {transform!r}", field="transform")
        return "B"
    return tr


def check_self_weight(star: object, n: int, problems: ProblemList) -> bool | float | np.ndarray:
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


def check_count(value: object, name: str, problems: ProblemList) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
        problems.add("value", f"{name} must be a non-negative integer, got {value!r}", field=name)
        return 0
    return int(value)


def check_level(value: object, name: str, problems: ProblemList) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = math.nan
    if not 0 < number < 1:
        problems.add("value", f"{name} must be a level between 0 and 1, got {value!r}", field=name)
        return 0.05
    return number


def check_bounds(bounds: object, problems: ProblemList) -> tuple[float, float, float, float] | None:
    try:
        box = tuple(float(v) for v in bounds)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        box = ()
    if len(box) != 4 or not all(math.isfinite(v) for v in box) or not (box[0] < box[2] and box[1] < box[3]):
        problems.add("bounds", "bounds must be (minx, miny, maxx, maxy) with minx < maxx and miny < maxy, "
                     f"got {bounds!r}", field="bounds")
        return None
    return box


def check_probabilities(p: object, name: str, problems: ProblemList) -> np.ndarray:
    arr = check_float_array(p, name, problems)
    if arr is None:
        return np.zeros(0)
    with np.errstate(invalid="ignore"):
        bad = ~np.isnan(arr) & ((arr < 0) | (arr > 1))
    if bad.any():
        problems.add("value", f"{name} has {int(bad.sum())} values outside [0, 1], e.g. "
                     f"{arr[bad].ravel()[0]!r}",
                     field=name)
    return arr


def set_diagonal(m: sparse.csr_matrix, values: np.ndarray) -> sparse.csr_matrix:
    """A copy of ``m`` whose diagonal is ``values`` (zeros are left out of the structure)."""
    n = m.shape[0]
    out = m - sparse.diags(m.diagonal(), format="csr", shape=(n, n))
    out = out + sparse.diags(np.asarray(values, dtype=float), format="csr", shape=(n, n))
    out = sparse.csr_matrix(out)
    out.eliminate_zeros()
    out.sort_indices()
    return out
