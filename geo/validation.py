"""Checks of vector layers before they are used: geometry presence, type, validity, CRS and extent.

The checks collect every problem with the feature it belongs to, so a user can fix a file in one pass; a CLI
prints :func:`summarize_problems` (one line per kind of problem).
"""

from __future__ import annotations

from collections.abc import Iterable

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import shapely

from geo._checks import Kind, unknown_crs
from geo.errors import GeoValidationError, Problem

GEOMETRY_TYPES = frozenset(
    {
        "Point",
        "LineString",
        "LinearRing",
        "Polygon",
        "MultiPoint",
        "MultiLineString",
        "MultiPolygon",
        "GeometryCollection",
    }
)
_CANONICAL_TYPES = {name.lower(): name for name in GEOMETRY_TYPES}
_POLYGON_TYPE_ID = int(shapely.GeometryType.POLYGON)
# Geometry type names indexed by shapely's type id (0 = Point … 7 = GeometryCollection).
_TYPE_NAMES = tuple(_CANONICAL_TYPES[t.name.lower()] for t in sorted(shapely.GeometryType) if int(t) >= 0)


def validate_geometries(
    gdf: gpd.GeoDataFrame,
    *,
    id_column: str | None = None,
    allowed_types: set[str] | None = None,
    require_crs: bool = True,
    bounds: tuple[float, float, float, float] | None = None,
) -> list[Problem]:
    """Return every problem of the geometries in ``gdf``, each with its feature id.

    Parameters
    ----------
    gdf
        The layer to check.
    id_column
        Column whose values identify features in the problems; the index labels when None.
    allowed_types
        Geometry type names allowed, e.g. ``{"Polygon", "MultiPolygon"}`` (case-insensitive); any when None.
    require_crs
        Report a layer without a CRS (one ``unknown_crs`` problem, ``field="crs"``).
    bounds
        (minx, miny, maxx, maxy) in the layer's CRS; a feature with any coordinate outside is
        ``outside_area``.

    Returns
    -------
    list of Problem
        Kinds, in this order: ``unknown_crs``, ``empty_geometry`` (missing or empty), ``wrong_geometry_type``,
        ``invalid_geometry`` (the message is shapely's ``is_valid_reason``, such as
        ``Self-intersection[9.5 47.1]``), ``outside_area``. Within a kind, features keep the layer's order.
        Empty when the layer is clean.

    Raises
    ------
    GeoValidationError
        When the arguments themselves are unusable (not a GeoDataFrame, unknown ``id_column``, unknown type
        names, malformed ``bounds``).
    """
    allowed = _check_arguments(gdf, id_column, allowed_types, bounds)
    geoms = np.asarray(gdf.geometry.array, dtype=object)
    ids = (gdf[id_column] if id_column is not None else gdf.index.to_series()).to_numpy(dtype=object)
    problems: list[Problem] = []
    if require_crs and gdf.crs is None:
        problems.append(unknown_crs())

    missing = shapely.is_missing(geoms)
    blank = missing | shapely.is_empty(geoms)
    present = ~blank
    blank_messages = np.where(missing[blank], "geometry is missing", "geometry is empty")
    problems += _problems(ids, blank, Kind.EMPTY_GEOMETRY, blank_messages)

    if allowed is not None:
        type_ids = shapely.get_type_id(geoms)
        allowed_ids = [i for i, name in enumerate(_TYPE_NAMES) if name in allowed]
        wrong = present & ~np.isin(type_ids, allowed_ids)
        expected = " or ".join(sorted(allowed))
        messages = [f"{_TYPE_NAMES[i]}, expected {expected}" for i in type_ids[wrong]]
        problems += _problems(ids, wrong, Kind.WRONG_GEOMETRY_TYPE, messages)

    invalid = present & ~shapely.is_valid(geoms)
    problems += _problems(ids, invalid, Kind.INVALID_GEOMETRY, shapely.is_valid_reason(geoms[invalid]))

    if bounds is not None:
        problems += _outside(geoms, ids, present, bounds)
    return problems


def summarize_problems(problems: Iterable[Problem], *, max_examples: int = 3) -> list[str]:
    """Return one readable line per problem kind, kinds in order of first appearance.

    A line gives the number of distinct features, up to ``max_examples`` of their ids and the first message as
    an example::

        invalid_geometry: 12 features (ids 4, 17, 230, …): Self-intersection[9.5 47.1]

    Problems of the whole layer (no feature id) give their message, as in
    ``"unknown_crs: the layer has no CRS; …"``.
    """
    if max_examples < 1:
        raise GeoValidationError(f"max_examples must be at least 1, got {max_examples}", field="max_examples")
    groups: dict[str, list[Problem]] = {}
    for problem in problems:
        groups.setdefault(problem.kind, []).append(problem)
    return [_summary_line(kind, group, max_examples) for kind, group in groups.items()]


def repair_polygons(geoms: gpd.GeoSeries | npt.ArrayLike) -> tuple[gpd.GeoSeries, int]:
    """Make polygon geometries valid and return them as MultiPolygons, dropping what has no area left.

    Uses GEOS ``make_valid`` with the "structure" method: overlapping outer rings, common in broken
    OpenStreetMap multipolygons, are unioned (the "linework" method would cut their overlap out as a hole).
    Lines and points that come out of the repair, and non-polygonal inputs, are discarded.

    Parameters
    ----------
    geoms
        A GeoSeries (its CRS and index are kept) or an array of shapely geometries.

    Returns
    -------
    (GeoSeries, int)
        The MultiPolygons, with the rows whose result is missing or empty dropped (the index tells which
        survive), and how many of the surviving rows were invalid before.
    """
    series = (
        geoms if isinstance(geoms, gpd.GeoSeries) else gpd.GeoSeries(np.asarray(geoms, dtype=object).ravel())
    )
    arr = np.asarray(series.array, dtype=object)
    present = ~shapely.is_missing(arr)
    invalid = present & ~shapely.is_valid(arr)
    fixed = arr.copy()
    fixed[invalid] = shapely.make_valid(arr[invalid], method="structure", keep_collapsed=False)
    polygons = _polygonal_parts(fixed)
    keep = ~shapely.is_missing(polygons) & ~shapely.is_empty(polygons)
    result = gpd.GeoSeries(polygons[keep], index=series.index[keep], crs=series.crs, name=series.name)
    return result, int(np.count_nonzero(invalid & keep))


def _check_arguments(
    gdf: object,
    id_column: str | None,
    allowed_types: set[str] | None,
    bounds: tuple[float, float, float, float] | None,
) -> frozenset[str] | None:
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise GeoValidationError(f"'gdf' should be a GeoDataFrame, got {type(gdf)}", field="gdf")
    if gdf.active_geometry_name is None:
        raise GeoValidationError("'gdf' has no active geometry column", field="gdf")
    problems: list[Problem] = []
    if id_column is not None and id_column not in gdf.columns:
        problems.append(
            Problem(Kind.INVALID_ARGUMENT, f"no column {id_column!r} in the layer", field="id_column")
        )
    allowed = None
    if allowed_types is not None:
        unknown = sorted(t for t in allowed_types if str(t).lower() not in _CANONICAL_TYPES)
        if unknown:
            problems.append(
                Problem(
                    Kind.INVALID_ARGUMENT,
                    f"unknown geometry types {unknown}; use {', '.join(sorted(GEOMETRY_TYPES))}",
                    field="allowed_types",
                )
            )
        allowed = frozenset(_CANONICAL_TYPES[str(t).lower()] for t in allowed_types if t not in unknown)
    if bounds is not None and not _is_box(bounds):
        problems.append(
            Problem(
                Kind.INVALID_ARGUMENT, f"bounds must be (minx, miny, maxx, maxy), got {bounds!r}", field="bounds"
            )
        )
    if problems:
        raise GeoValidationError(problems)
    return allowed


def _is_box(bounds: object) -> bool:
    try:
        minx, miny, maxx, maxy = (float(v) for v in bounds)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        return False
    return minx <= maxx and miny <= maxy


def _problems(ids: np.ndarray, mask: np.ndarray, kind: str, messages: Iterable[str]) -> list[Problem]:
    """One problem per feature selected by ``mask``; ``messages`` holds one message per selected feature."""
    return [
        Problem(kind, str(message), _plain(fid)) for fid, message in zip(ids[mask], messages, strict=True)
    ]


def _outside(
    geoms: np.ndarray, ids: np.ndarray, present: np.ndarray, bounds: tuple[float, float, float, float]
) -> list[Problem]:
    minx, miny, maxx, maxy = (float(v) for v in bounds)
    extent = shapely.bounds(geoms)
    with np.errstate(invalid="ignore"):
        outside = present & (
            (extent[:, 0] < minx) | (extent[:, 1] < miny) | (extent[:, 2] > maxx) | (extent[:, 3] > maxy)
        )
    area = f"({minx:g}, {miny:g}, {maxx:g}, {maxy:g})"
    messages = [
        f"extent ({a:g}, {b:g}, {c:g}, {d:g}) reaches outside {area}" for a, b, c, d in extent[outside]
    ]
    return _problems(ids, outside, Kind.OUTSIDE_AREA, messages)


def _plain(value: object) -> object:
    # numpy scalars print as np.int64(4) in reprs and do not serialise to JSON.
    return value.item() if isinstance(value, np.generic) else value


def _summary_line(kind: str, group: list[Problem], max_examples: int) -> str:
    ids = list(dict.fromkeys(p.feature_id for p in group if p.feature_id is not None))
    example = group[0].message
    if not ids:
        return f"{kind}: {example}" if len(group) == 1 else f"{kind}: {len(group)} problems: {example}"
    shown = ", ".join(str(i) for i in ids[:max_examples]) + (", …" if len(ids) > max_examples else "")
    noun = "feature" if len(ids) == 1 else "features"
    label = "id" if len(ids) == 1 else "ids"
    return f"{kind}: {len(ids)} {noun} ({label} {shown}): {example}"


def _polygonal_parts(geoms: np.ndarray) -> np.ndarray:
    # Flatten twice: make_valid can return a GeometryCollection that holds a MultiPolygon.
    parts, index = shapely.get_parts(geoms, return_index=True)
    parts, inner = shapely.get_parts(parts, return_index=True)
    index = index[inner]
    is_polygon = (shapely.get_type_id(parts) == _POLYGON_TYPE_ID) & ~shapely.is_empty(parts)
    out = np.full(len(geoms), None, dtype=object)
    if is_polygon.any():
        shapely.multipolygons(parts[is_polygon], indices=index[is_polygon], out=out)
    return out
