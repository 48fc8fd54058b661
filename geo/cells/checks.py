"""Types and argument checks shared by the cell builders and the weights builders."""

from __future__ import annotations

from typing import TypeAlias

import geopandas as gpd
import numpy as np
import numpy.typing as npt
from scipy import sparse

from geo.errors import ProblemList

#: Weights: a scipy sparse matrix (any format; builders return CSR).
Weights: TypeAlias = sparse.spmatrix | sparse.sparray
PointsLike: TypeAlias = gpd.GeoSeries | gpd.GeoDataFrame | npt.ArrayLike

MAX_QUOTED = 5


def check_int_in(value: object, name: str, low: int, high: int | None, problems: ProblemList) -> int:
    ok = isinstance(value, int | np.integer) and not isinstance(value, bool)
    if ok and (value < low or (high is not None and value > high)):  # type: ignore[operator]
        ok = False
    if not ok:
        span = f"{low}–{high}" if high is not None else f">= {low}"
        problems.add("value", f"{name} must be an integer {span}, got {value!r}", field=name)
        return low
    return int(value)  # type: ignore[call-overload]


def check_xy_array(xy: object, name: str, problems: ProblemList) -> np.ndarray | None:
    try:
        pts = np.asarray(xy, dtype=float)
    except (TypeError, ValueError):
        problems.add("coordinates", f"{name} must be an (n, 2) array of numbers, got {type(xy)}", field=name)
        return None
    if pts.size == 0:
        return np.zeros((0, 2))
    if pts.ndim != 2 or pts.shape[1] != 2:
        problems.add("coordinates", f"{name} must have shape (n, 2), got {pts.shape}", field=name)
        return None
    if not np.isfinite(pts).all():
        bad = int((~np.isfinite(pts)).any(axis=1).sum())
        problems.add("coordinates", f"{name} has {bad} rows with NaN or infinite coordinates", field=name)
        return None
    return pts
