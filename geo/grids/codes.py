"""Grid codes: 15 digits = 6 district + 3 street (subdistrict) + 3 community + 3 sequence; or, for a community
coded otherwise (its 12-digit region code, the city's own code), that code + 3 sequence (see
:func:`geo.area_codes.grid_stem`).

This is the layout of Beijing's local standard for urban grid management: the district is its 6-digit administrative
division code, and grids are numbered within their community in reading order, rows from north to south and west to
east within a row.
"""

from __future__ import annotations

import numbers
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.errors import ProblemList
from geo.grids._validate import check_frame

_DISTRICT = re.compile(r"[0-9]{6}")
_PART_MAX = 999
_STEM_MAX = 17  # a grid code is at most 20 characters: stem + 3 digits


def grid_code(district: str, street: int, community: int, seq: int) -> str:
    """Return the 15-digit code of a grid.

    Parameters
    ----------
    district
        6-digit administrative division code of the district, e.g. ``"110105"`` (Chaoyang, Beijing).
    street, community, seq
        Street (subdistrict) number within the district, community number within the street and grid number
        within the community, each 1..999.

    Returns
    -------
    str
        ``district`` followed by the three numbers zero-padded to 3 digits, e.g. ``"110105001002003"``.

    Raises
    ------
    GeoValidationError
        Listing every bad part, each naming its field (``"district"``, ``"street"``, ``"community"``, ``"seq"``).
    """
    problems = ProblemList()
    if not isinstance(district, str) or not _DISTRICT.fullmatch(district):
        problems.add("code", f"district should be 6 digits, got {district!r}", field="district")
    for name, value in (("street", street), ("community", community), ("seq", seq)):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or not 1 <= value <= _PART_MAX:
            problems.add("code", f"{name} should be an integer 1..{_PART_MAX}, got {value!r}", field=name)
    problems.raise_if_any()
    return f"{district}{int(street):03d}{int(community):03d}{int(seq):03d}"


def reading_order(
    points: np.ndarray, *, row_height_m: float | None = None, areas: np.ndarray | None = None
) -> np.ndarray:
    """Rank of each point in reading order: rows from north to south, west to east within a row.

    Parameters
    ----------
    points
        ``(n, 2)`` x (east) / y (north) coordinates in metres, e.g. grid representative points.
    row_height_m
        Height of a row (metres). A row starts at the northernmost point not yet placed and takes every point less
        than this far south of it, so small north-south jitter does not reorder a row.
    areas
        Areas of the features (square metres); without ``row_height_m`` the row height is the square root of
        their median, i.e. the side of a typical feature.

    Returns
    -------
    numpy.ndarray
        ``rank[i]`` (0-based int) is the position of point ``i``. Without ``row_height_m`` and ``areas`` the row
        height is the side of the bounding box area shared out equally among the points.
    """
    pts = np.asarray(points, dtype=float).reshape(-1, 2)
    n = len(pts)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    height = _row_height(pts, row_height_m, areas)
    by_north = np.lexsort((pts[:, 0], -pts[:, 1]))
    row = np.empty(n, dtype=np.int64)
    current, top = -1, np.inf
    for i in by_north:  # one pass north to south; a point starts a new row once it is a row height below the top
        if pts[i, 1] <= top - height:
            current, top = current + 1, pts[i, 1]
        row[i] = current
    order = np.lexsort((-pts[:, 1], pts[:, 0], row))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    return rank


def assign_codes(grids: gpd.GeoDataFrame, *, district: str | None = None, street: int | None = None,
                 community: int | None = None, stem: str | None = None) -> pd.Series:
    """Code every grid of one community, numbering them in reading order.

    Parameters
    ----------
    grids
        The community's grids in a projected metric CRS.
    district, street, community
        See :func:`grid_code`.
    stem
        Instead of those three: what the community's grid codes start with (:func:`geo.area_codes.grid_stem`, e.g.
        the community's 12-digit region code, or its own code), followed by the 3-digit sequence.

    Returns
    -------
    pandas.Series
        Codes (str) indexed like ``grids``, named ``"code"``: 15 digits, or ``stem`` + 3 digits.

    Raises
    ------
    GeoValidationError
        For bad code parts, more than 999 grids, missing geometries or a non-projected CRS.
    """
    problems = ProblemList()
    if check_frame(grids, name="grids", problems=problems):
        if len(grids) > _PART_MAX:
            problems.add("code", f"a community can have at most {_PART_MAX} grids, got {len(grids)}", field="seq")
        geoms = np.asarray(grids.geometry.array)
        for grid_id in grids.index[shapely.is_missing(geoms) | shapely.is_empty(geoms)]:
            problems.add("missing_geometry", "grid has no geometry", feature_id=grid_id, field="geometry")
    if stem is not None and not 0 < len(stem) <= _STEM_MAX:
        problems.add("code", f"a grid code stem must be 1 to {_STEM_MAX} characters, got {stem!r}", field="stem")
    problems.raise_if_any()
    if stem is None:
        grid_code(district, street, community, 1)  # type: ignore[arg-type]  # validates the shared parts
    if len(grids) == 0:
        return pd.Series([], index=grids.index, name="code", dtype=object)
    points = shapely.get_coordinates(shapely.point_on_surface(geoms))
    rank = reading_order(points, areas=shapely.area(geoms))
    codes = [f"{stem}{int(r) + 1:03d}" if stem is not None else
             grid_code(district, street, community, int(r) + 1)  # type: ignore[arg-type]
             for r in rank]
    return pd.Series(codes, index=grids.index, name="code", dtype=object)


def _row_height(pts: np.ndarray, row_height_m: float | None, areas: np.ndarray | None) -> float:
    if row_height_m is not None:
        if not row_height_m > 0:
            problems = ProblemList()
            problems.add("option", f"row_height_m should be > 0 metres, got {row_height_m!r}", field="row_height_m")
            problems.raise_if_any()
        return float(row_height_m)
    if areas is not None and len(areas) and np.nanmedian(areas) > 0:
        return float(np.sqrt(np.nanmedian(areas)))
    width, height = np.ptp(pts, axis=0)
    if width * height > 0:
        return float(np.sqrt(width * height / len(pts)))
    return float(max(width, height) / len(pts)) or 1.0  # points on a line: one row, or one point per row
