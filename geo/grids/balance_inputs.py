"""Input checks of :func:`geo.grids.balance.propose` and the community context they build (one pass, every
problem collected)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from scipy import sparse
from shapely.geometry.base import BaseGeometry

from geo.errors import GeoValidationError, ProblemList
from geo.grids._validate import check_area, check_frame, check_households, check_range
from geo.grids.check import check_grids
from geo.grids.partition import check_buildings

#: Weights of the load terms evened out among the re-partitioned grids (each term relative to its mean per grid).
DEFAULT_WEIGHTS: Mapping[str, float] = {"households": 1.0, "workload": 1.0, "street_m": 0.5}
# Findings of check_grids that make the current grids unusable as a starting point.
_FATAL_KINDS = frozenset({"gap", "overlap", "building_in_no_grid", "building_in_several_grids",
                          "grid_outside_community", "duplicate_code", "invalid_geometry"})
#: Digits of district (6) + street (3) + community (3) in a 15-digit grid code.
CODE_PREFIX_DIGITS = 12
#: Largest grid sequence number (the last 3 digits of a code).
SEQ_MAX = 999


@dataclass
class BalanceContext:
    """Everything about the community that every cluster needs."""

    community: BaseGeometry
    crs: object
    footprints: np.ndarray
    points: np.ndarray
    households: np.ndarray
    integer_households: bool
    workload: np.ndarray | None
    streets: np.ndarray | None
    old_of: np.ndarray  # position of each building's current grid
    old_geoms: np.ndarray
    old_hh: np.ndarray
    old_rest: np.ndarray  # households per old grid without buildings above the maximum
    shared: sparse.csr_matrix  # boundary length shared by two old grids (metres)
    low: float
    high: float
    weights: dict[str, float]



# --- input checks -------------------------------------------------------------------------------------------------


def prepare_context(
    community: BaseGeometry,
    buildings: gpd.GeoDataFrame,
    grids: gpd.GeoDataFrame,
    households_range: object,
    workload: object,
    streets: object,
    weights: object,
    tolerance_m2: float,
    code_prefix: object,
    next_seq: object,
) -> tuple[BalanceContext, np.ndarray, pd.Index]:
    """Check :func:`geo.grids.balance.propose`'s arguments (every problem raised together) and build the
    community context; also returns the grid codes (str) and the building index."""
    problems = ProblemList()
    area_ok = check_area(community, name="community", problems=problems)
    b_ok = check_frame(buildings, name="buildings", problems=problems, columns=("households",))
    g_ok = check_frame(grids, name="grids", problems=problems, columns=("code",))
    low, high = check_range(households_range, problems=problems)
    hh = np.zeros(0)
    if b_ok and "households" in buildings.columns:
        hh = check_households(buildings["households"], name="households", problems=problems)
    if b_ok:
        # Checked on its own (_check_buildings skips the outside test after any problem), and only in a metric CRS:
        # footprints in degrees would all be "outside" a community in metres.
        found = ProblemList()
        metric = buildings.crs is not None and pyproj.CRS.from_user_input(buildings.crs).is_projected
        check_buildings(buildings, community if area_ok and metric else None, found)
        problems.problems.extend(found.problems)
    work = _check_workload(buildings, workload, problems) if b_ok else None
    street_geoms = _check_streets(streets, problems)
    if b_ok and g_ok:
        for name, layer in (("grids", grids), ("streets", streets)):
            if isinstance(layer, gpd.GeoDataFrame | gpd.GeoSeries) and layer.crs is not None and \
                    buildings.crs is not None and layer.crs != buildings.crs:
                problems.add("crs", f"{name!r} is in {layer.crs.name!r} but 'buildings' in {buildings.crs.name!r}",
                             field=name)
    if g_ok and "code" in grids.columns:
        codes = grids["code"]
        if codes.isna().any():
            problems.add("code", f"{int(codes.isna().sum())} grids have no code", field="code")
    w = _check_weights(weights, problems)
    _check_code_parts(code_prefix, next_seq, problems)
    if not tolerance_m2 >= 0:
        problems.add("option", f"tolerance_m2 should be >= 0 m², got {tolerance_m2!r}", field="tolerance_m2")
    problems.raise_if_any()
    _check_tiling(community, buildings, grids, tolerance_m2)
    old_geoms = np.asarray(grids.geometry.array)
    footprints = np.asarray(buildings.geometry.array)
    points = shapely.point_on_surface(footprints)
    old_of = _locate(points, old_geoms)
    over = hh > high
    ctx = BalanceContext(
        community=community, crs=buildings.crs, footprints=footprints, points=shapely.get_coordinates(points),
        households=hh, integer_households=pd.api.types.is_integer_dtype(buildings["households"].dtype),
        workload=work, streets=street_geoms, old_of=old_of, old_geoms=old_geoms,
        old_hh=np.bincount(old_of, weights=hh, minlength=len(old_geoms)),
        old_rest=np.bincount(old_of, weights=np.where(over, 0.0, hh), minlength=len(old_geoms)),
        shared=_shared_boundaries(old_geoms), low=low, high=high, weights=w,
    )
    return ctx, grids["code"].astype(str).to_numpy(dtype=object), buildings.index


def _check_workload(buildings: gpd.GeoDataFrame, workload: object, problems: ProblemList) -> np.ndarray | None:
    if workload is None:
        if "workload" not in buildings.columns:
            return None
        values = buildings["workload"]
    elif isinstance(workload, str):
        if workload not in buildings.columns:
            problems.add("column", f"'buildings' has no workload column {workload!r}", field="workload")
            return None
        values = buildings[workload]
    elif isinstance(workload, pd.Series):
        values = workload.reindex(buildings.index).fillna(0)
    else:
        problems.add("type", f"workload should be a column name or a Series, got {type(workload)}", field="workload")
        return None
    numbers = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(numbers) | (numbers < 0)
    if bad.any():
        problems.add("workload", f"workload has {int(bad.sum())} missing, non-numeric or negative values",
                     field="workload")
    return np.where(bad, 0.0, numbers)


def _check_streets(streets: object, problems: ProblemList) -> np.ndarray | None:
    if streets is None:
        return None
    if isinstance(streets, gpd.GeoDataFrame):
        series = streets.geometry
    elif isinstance(streets, gpd.GeoSeries):
        series = streets
    else:
        problems.add("type", f"'streets' should be a GeoDataFrame or GeoSeries, got {type(streets)}", field="streets")
        return None
    check_frame(series, name="streets", problems=problems, series=True)
    geoms = np.asarray(series.array)
    geoms = geoms[~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)]
    lines = np.isin(shapely.get_type_id(geoms), [shapely.GeometryType.LINESTRING,
                                                 shapely.GeometryType.MULTILINESTRING])
    if not lines.all():
        problems.add("type", f"'streets' has {int((~lines).sum())} geometries that are not lines", field="streets")
    return geoms[lines]


def _check_weights(weights: object, problems: ProblemList) -> dict[str, float]:
    if weights is None:
        return dict(DEFAULT_WEIGHTS)
    if not isinstance(weights, Mapping):
        problems.add("weights", f"weights should be a mapping, got {type(weights)}", field="weights")
        return dict(DEFAULT_WEIGHTS)
    out = {}
    for name, value in weights.items():
        if name not in DEFAULT_WEIGHTS:
            problems.add("weights", f"unknown weight {name!r}: use {sorted(DEFAULT_WEIGHTS)}", field="weights")
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
        if not (math.isfinite(number) and number >= 0):
            problems.add("weights", f"weight {name!r} should be a number >= 0, got {value!r}", field="weights")
            continue
        out[name] = number
    return out


def _check_code_parts(code_prefix: object, next_seq: object, problems: ProblemList) -> None:
    if code_prefix is not None and not (isinstance(code_prefix, str) and len(code_prefix) == CODE_PREFIX_DIGITS
                                        and code_prefix.isdigit()):
        problems.add("code", f"code_prefix should be {CODE_PREFIX_DIGITS} digits, got {code_prefix!r}",
                     field="code_prefix")
    if next_seq is not None and (isinstance(next_seq, bool) or not isinstance(next_seq, int | np.integer)
                                 or not 1 <= next_seq <= SEQ_MAX):
        problems.add("code", f"next_seq should be an integer 1..{SEQ_MAX}, got {next_seq!r}", field="next_seq")


def _check_tiling(community: BaseGeometry, buildings: gpd.GeoDataFrame, grids: gpd.GeoDataFrame,
                  tolerance_m2: float) -> None:
    """Reject current grids that do not tile the community or do not hold every building exactly once."""
    communities = gpd.GeoDataFrame({"community_id": ["community"]}, geometry=[community], crs=buildings.crs)
    layer = gpd.GeoDataFrame({"code": grids["code"].to_numpy(), "community_id": "community"},
                             geometry=grids.geometry.to_numpy(), crs=grids.crs)
    found = check_grids(communities, layer, buildings[[buildings.geometry.name]], tolerance_m2=tolerance_m2)
    fatal = [p for p in found.problems if p.kind in _FATAL_KINDS]
    if fatal:
        raise GeoValidationError(fatal)


def _locate(points: np.ndarray, geoms: np.ndarray) -> np.ndarray:
    """Position of the grid holding each point: the one whose interior holds it, else the one whose edge does."""
    tree = shapely.STRtree(geoms)
    out = np.full(len(points), -1, dtype=np.int64)
    touch_pt, touch_grid = tree.query(points, predicate="intersects")
    out[touch_pt[::-1]] = touch_grid[::-1]  # any touching grid, the first one winning
    in_pt, in_grid = tree.query(points, predicate="within")
    out[in_pt] = in_grid
    return out


def _shared_boundaries(geoms: np.ndarray) -> sparse.csr_matrix:
    """Symmetric matrix of the boundary length (metres) two grids share; zero for corner contacts."""
    n = len(geoms)
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    length = shapely.length(shapely.intersection(shapely.boundary(geoms[left]), geoms[right]))
    touching = length > 0.01
    left, right, length = left[touching], right[touching], length[touching]
    return sparse.csr_matrix((np.concatenate([length, length]), (np.concatenate([left, right]),
                                                                 np.concatenate([right, left]))), shape=(n, n))
