"""Households per building, estimated from footprint area, number of levels and building type.

Grids are sized in households (a social-governance grid holds a few hundred), but open building data rarely
says how many homes a building has. The estimate is floor(footprint m² × levels ÷ m² per dwelling), with
OpenStreetMap ``building=*`` values deciding what is residential and how many levels to assume when none are
tagged.
"""

from __future__ import annotations

from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
from pyproj import CRS

from geo.errors import GeoValidationError, Problem, ProblemList

#: Gross floor area per dwelling, m² (a typical Chinese flat including its share of stairs and walls).
DWELLING_M2 = 90.0
#: Footprints smaller than this (m²) hold no household: sheds, kiosks, mapping slivers.
MIN_FOOTPRINT_M2 = 30.0

#: Levels assumed by ``building=*`` type when the levels tag is missing or unusable.
DEFAULT_LEVELS: Mapping[str, float] = {
    "house": 2.0,
    "detached": 2.0,
    "semidetached_house": 2.0,
    "terrace": 2.0,
    "bungalow": 2.0,
    "residential": 4.0,
    "apartments": 4.0,
    "dormitory": 4.0,
    # OSM's "yes" means "a building, type unknown"; most such buildings are homes.
    "yes": 2.0,
}
#: Levels assumed for a type missing from ``DEFAULT_LEVELS``.
FALLBACK_LEVELS = 1.0

#: ``building=*`` values counted as homes. Everything else (garage, shed, industrial, commercial, retail,
#: school, church, barn, stable, roof, …) holds no household.
RESIDENTIAL_TYPES: frozenset[str] = frozenset(
    {
        "yes",
        "house",
        "detached",
        "semidetached_house",
        "terrace",
        "bungalow",
        "residential",
        "apartments",
        "dormitory",
        "farm",
        "cabin",
        "houseboat",
        "static_caravan",
    }
)

# A leading number: "3", "2.5", "3;4" (OSM multi-value), " 4 " — but not "ground" or "".
_LEADING_NUMBER = r"^\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+))"
# floor() of a ratio that should be an integer (90 m² ÷ 90 m²) can land just below it in floating point.
_FLOOR_EPS = 1e-9


def parse_levels(values: npt.ArrayLike) -> np.ndarray:
    """Parse building level counts such as OpenStreetMap ``building:levels`` values.

    Parameters
    ----------
    values
        Numbers or strings; a string gives its leading number (``"3"`` → 3, ``"2.5"`` → 2.5, ``"3;4"`` → 3).

    Returns
    -------
    numpy.ndarray of float
        One value per input, NaN where nothing parses (``None``, ``""``, ``"ground"``). Zero and negative
        numbers are returned as parsed; callers decide what they mean.
    """
    series = pd.Series(np.asarray(values, dtype=object).ravel(), dtype=object)
    numeric = pd.to_numeric(series, errors="coerce")
    texts = series[numeric.isna() & series.map(lambda v: isinstance(v, str))]
    if not texts.empty:
        numeric.loc[texts.index] = pd.to_numeric(
            texts.astype(str).str.extract(_LEADING_NUMBER, expand=False), errors="coerce"
        )
    out = numeric.to_numpy(dtype=float, na_value=np.nan)
    return np.where(np.isfinite(out), out, np.nan)


def estimate_households(
    gdf_metric: gpd.GeoDataFrame,
    *,
    building_col: str = "building",
    levels_col: str = "levels",
    dwelling_m2: float = DWELLING_M2,
    default_levels: Mapping[str, float] | None = None,
    residential_types: set[str] | None = None,
    min_footprint_m2: float = MIN_FOOTPRINT_M2,
) -> pd.DataFrame:
    """Estimate the households living in each building.

    households = floor(footprint area m² × levels ÷ ``dwelling_m2``), at least 1 for a residential building
    whose footprint is at least ``min_footprint_m2``; 0 for other types and for smaller footprints.

    Levels come from ``levels_col`` when it parses to a positive number (see :func:`parse_levels`), else from
    ``default_levels`` by type. The defaults (``DEFAULT_LEVELS``) are: house, detached, semidetached_house,
    terrace, bungalow 2; residential, apartments, dormitory 4; yes (type unknown, usually a home) 2; any other
    type 1.

    Parameters
    ----------
    gdf_metric
        Buildings (polygons) in a projected CRS with metre units.
    building_col
        Column of OSM ``building=*`` values (case-insensitive); a missing value counts as ``"yes"``.
    levels_col
        Column of level counts; a layer without it uses the defaults for every building.
    dwelling_m2
        Gross floor area per dwelling, m².
    default_levels
        Levels by type, merged over ``DEFAULT_LEVELS`` (a type given here replaces the module's value).
    residential_types
        Types counted as homes; ``RESIDENTIAL_TYPES`` when None.
    min_footprint_m2
        Smallest footprint, m², that holds a household.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``gdf_metric``: ``households`` (int64, ≥ 0) and ``households_estimated`` (bool, True for
        every row, since every value here is an estimate rather than a count).

    Raises
    ------
    GeoValidationError
        When the layer has no CRS or a geographic one (areas in degrees² are meaningless), a CRS not in
        metres, no ``building_col`` column, or a non-positive ``dwelling_m2`` / negative ``min_footprint_m2``.
    """
    _check_inputs(gdf_metric, building_col, dwelling_m2, min_footprint_m2)
    types = _building_types(gdf_metric[building_col])
    residential = types.isin(RESIDENTIAL_TYPES if residential_types is None else _lower(residential_types))
    levels = _levels(gdf_metric, levels_col, types, default_levels)

    area = np.nan_to_num(gdf_metric.geometry.area.to_numpy(dtype=float), nan=0.0)
    homes = residential.to_numpy() & (area >= min_footprint_m2) & (area > 0.0)
    estimate = np.floor(area * levels / dwelling_m2 + _FLOOR_EPS)
    households = np.where(homes, np.maximum(estimate, 1.0), 0.0).astype(np.int64)
    return pd.DataFrame(
        {"households": households, "households_estimated": np.ones(len(households), dtype=bool)},
        index=gdf_metric.index,
    )


def _check_inputs(gdf: object, building_col: str, dwelling_m2: float, min_footprint_m2: float) -> None:
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise GeoValidationError(
            f"'gdf_metric' should be a GeoDataFrame, got {type(gdf)}", field="gdf_metric"
        )
    problems = ProblemList()
    problem = _crs_problem(gdf.crs)
    if problem is not None:
        problems.problems.append(problem)
    if building_col not in gdf.columns:
        problems.add("invalid_argument", f"no column {building_col!r} in the layer", field="building_col")
    if not dwelling_m2 > 0:
        problems.add(
            "invalid_argument", f"dwelling_m2 must be positive, got {dwelling_m2}", field="dwelling_m2"
        )
    if not min_footprint_m2 >= 0:
        problems.add(
            "invalid_argument",
            f"min_footprint_m2 must be zero or more, got {min_footprint_m2}",
            field="min_footprint_m2",
        )
    problems.raise_if_any()


def _crs_problem(crs: CRS | None) -> Problem | None:
    if crs is None:
        return Problem("unknown_crs", "the layer has no CRS; project it to a metric CRS first", field="crs")
    if not crs.is_projected:
        return Problem(
            "geographic_crs",
            f"areas need a projected CRS in metres, got {crs.name}; use geo.crs.metric_crs_for_bounds",
            field="crs",
        )
    units = {axis.unit_name for axis in crs.axis_info}
    if not units <= {"metre", "meter"}:
        return Problem(
            "non_metric_crs", f"the CRS {crs.name} is in {', '.join(sorted(units))}, not metres", field="crs"
        )
    return None


def _lower(values: set[str]) -> set[str]:
    return {str(v).strip().lower() for v in values}


def _building_types(values: pd.Series) -> pd.Series:
    text = values.astype("string").str.strip().str.lower()
    return text.mask(text.isna() | (text == ""), "yes").astype(object)


def _levels(
    gdf: gpd.GeoDataFrame, levels_col: str, types: pd.Series, default_levels: Mapping[str, float] | None
) -> np.ndarray:
    defaults = {**DEFAULT_LEVELS, **{k.strip().lower(): float(v) for k, v in (default_levels or {}).items()}}
    fallback = types.map(defaults).astype(float).fillna(FALLBACK_LEVELS).to_numpy()
    if levels_col not in gdf.columns:
        return fallback
    tagged = parse_levels(gdf[levels_col].to_numpy(dtype=object))
    return np.where(tagged > 0, tagged, fallback)
