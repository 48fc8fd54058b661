"""微网格: the buildings of one grid grouped into micro-grids of tens of households, each looked after by a 楼栋长.

The seeds count 47 楼栋长 for 10 grids (S0: about 6,900 residents, some 2,400 households, so 240 households a grid
and some 50 households a 楼栋长); the default target is 30–80 households per micro-grid. The grouping is the grids'
own (:func:`geo.grids.partition.partition_households`: contiguous groups by recursive bisection and repairs), one
level down; each micro-grid's geometry is the hull of its buildings' footprints, a few metres wide, clipped to the
grid when the grid's area is given. Pure geometry: no database.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from geo.errors import ProblemList
from geo.grids._validate import check_frame, check_households, check_range
from geo.grids.partition import partition_households

#: households per micro-grid (S0: 47 楼栋长 for 10 grids of ~240 households each)
DEFAULT_RANGE = (30, 80)
#: the hull around a micro-grid's footprints reaches this far out (metres)
HULL_MARGIN_M = 4.0


@dataclass(frozen=True)
class MicroGridPlan:
    """The micro-grids of one grid: ``labels`` (group 0..k-1 per building, positional in the input) and ``frame``
    (one row per micro-grid: ``code``, ``name``, ``households``, ``buildings`` (positions), geometry)."""

    labels: np.ndarray
    frame: gpd.GeoDataFrame


def micro_code(grid_code: str, n: int) -> str:
    """The code of a grid's ``n``-th micro-grid (1-based): the grid's code and two digits."""
    return f"{grid_code}{n:02d}"


def micro_name(n: int) -> str:
    return f"第{n}微网格"


def group_buildings(buildings: gpd.GeoDataFrame, grid_code: str, *, households_range: tuple[float, float] =
                    DEFAULT_RANGE, grid_area: BaseGeometry | None = None) -> MicroGridPlan:
    """Micro-grids for the buildings of one grid.

    ``buildings``: footprints in a projected metric CRS with a ``households`` column (0 for a garage or shop: it
    joins a group, weighing nothing). Groups are numbered in reading order (north to south, west to east, by their
    centres) and coded :func:`micro_code`. An empty frame gives no micro-grid."""
    problems = ProblemList()
    check_frame(buildings, name="buildings", problems=problems)
    low, high = check_range(households_range, problems=problems)
    hh = check_households(buildings["households"] if "households" in buildings else np.zeros(len(buildings)),
                          name="buildings.households", problems=problems)
    problems.raise_if_any()
    crs = buildings.crs
    if len(buildings) == 0:
        return MicroGridPlan(np.zeros(0, dtype=np.int64), gpd.GeoDataFrame(
            {"code": [], "name": [], "households": [], "buildings": []}, geometry=[], crs=crs))
    geoms = np.asarray(buildings.geometry.array)
    centres = shapely.get_coordinates(shapely.point_on_surface(geoms))
    raw = partition_households(centres, hh, households_range=(low, high))
    k = int(raw.max()) + 1
    # reading order: the group whose centre lies furthest north first, then west to east
    mean = np.array([centres[raw == g].mean(axis=0) for g in range(k)])
    order = np.lexsort((mean[:, 0], -np.round(mean[:, 1] / 20.0)))
    relabel = np.empty(k, dtype=np.int64)
    relabel[order] = np.arange(k)
    labels = relabel[raw]
    rows = []
    for g in range(k):
        members = np.flatnonzero(labels == g)
        hull = shapely.convex_hull(shapely.union_all(geoms[members])).buffer(HULL_MARGIN_M)
        if grid_area is not None and not grid_area.is_empty:
            clipped = hull.intersection(grid_area)
            hull = clipped if not clipped.is_empty else hull
        rows.append({"code": micro_code(grid_code, g + 1), "name": micro_name(g + 1),
                     "households": int(hh[members].sum()), "buildings": members.tolist(), "geometry": polygons(hull)})
    return MicroGridPlan(labels, gpd.GeoDataFrame(rows, geometry="geometry", crs=crs))


def polygons(geom: BaseGeometry) -> shapely.MultiPolygon:
    """The polygonal parts of ``geom`` as one MultiPolygon (what the micro-grid column holds)."""
    parts = [p for p in shapely.get_parts(geom) if isinstance(p, shapely.Polygon) and not p.is_empty]
    if not parts:  # a collection of lines or points: their small buffer
        parts = list(shapely.get_parts(geom.buffer(HULL_MARGIN_M)))
    return shapely.MultiPolygon(parts)


def hull_of(footprints: list[BaseGeometry], grid_area: BaseGeometry | None = None) -> shapely.MultiPolygon:
    """A micro-grid's geometry from its buildings' footprints (metres), as :func:`group_buildings` draws it (after
    a building moved from one micro-grid to another, or an import)."""
    if not footprints:
        return shapely.MultiPolygon()
    hull = shapely.convex_hull(shapely.union_all(footprints)).buffer(HULL_MARGIN_M)
    if grid_area is not None and not grid_area.is_empty and not hull.intersection(grid_area).is_empty:
        hull = hull.intersection(grid_area)
    return polygons(hull)
