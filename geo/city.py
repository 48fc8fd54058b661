"""Assemble a city's hierarchy — subdistricts → communities → buildings, plus roads — from raw layers.

Pure: takes GeoDataFrames in WGS-84, returns GeoDataFrames in WGS-84 and the metric CRS used for the metric work.
Where the source has no community boundaries (small OSM extracts), communities are *derived* by partitioning the
buildings by households (the same partitioner that draws grids, one level up) and flagged ``derived``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from geo.crs import WGS84, metric_crs_for_bounds
from geo.errors import GeoValidationError, Problem
from geo.grids.codes import reading_order
from geo.grids.partition import generate_grids
from geo.households import estimate_households, parse_levels

# Weihai's standard: a community normally has at most 3,000 households (2,330 on average).
COMMUNITY_HOUSEHOLDS = (1500, 3000)
# Levels 2–4 are countries and provinces: never a subdistrict or community of one city.
MIN_LOCAL_LEVEL = 5


@dataclass
class CityModel:
    """A city ready to be stored. Index of each frame = its row number; ``subdistrict`` / ``community`` columns
    refer to those row numbers (``<NA>`` when a building lies in no community)."""

    name: str
    metric_crs: pyproj.CRS
    subdistricts: gpd.GeoDataFrame
    communities: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    roads: gpd.GeoDataFrame
    notes: list[str] = field(default_factory=list)
    #: water and green areas for the basemap (kind, name, geometry in WGS-84), when the source has them
    areas: gpd.GeoDataFrame | None = None


def choose_levels(levels: pd.Series) -> tuple[int | None, int | None]:
    """Pick (subdistrict, community) ``admin_level`` values: the community level is the deepest local level with at
    least two areas, the subdistrict level the next shallower local level present."""
    counts = levels[levels >= MIN_LOCAL_LEVEL].value_counts().sort_index()
    deep = [lvl for lvl, n in counts.items() if n >= 2]
    if not deep:
        return None, None
    community = int(max(deep))
    shallower = [int(lvl) for lvl in counts.index if lvl < community]
    return (max(shallower) if shallower else None), community


def assemble_city(
    buildings: gpd.GeoDataFrame,
    roads: gpd.GeoDataFrame,
    boundaries: gpd.GeoDataFrame,
    *,
    name: str | None = None,
    subdistrict_level: int | None = None,
    community_level: int | None = None,
    dwelling_m2: float = 90.0,
    community_households: tuple[int, int] = COMMUNITY_HOUSEHOLDS,
    crs_system: str = "utm",
) -> CityModel:
    """Build the hierarchy of one city.

    Parameters
    ----------
    buildings, roads, boundaries
        WGS-84 layers as :func:`geo.osm.read_osm` returns them (``boundaries`` has ``name``, ``admin_level``).
    subdistrict_level, community_level
        OSM ``admin_level`` of subdistricts (街道) and communities (社区); chosen by :func:`choose_levels` when None.
    dwelling_m2
        Gross floor area of one dwelling (m²) for household estimates.
    community_households
        Household range of derived communities, when the source has no community boundaries.
    """
    if buildings.empty:
        raise GeoValidationError(Problem("no_buildings", "the source has no buildings: nothing to build a city from"))
    crs = metric_crs_for_bounds(tuple(buildings.total_bounds), system=crs_system)
    notes: list[str] = []
    auto_sub, auto_com = choose_levels(boundaries["admin_level"]) if not boundaries.empty else (None, None)
    sub_level = subdistrict_level if subdistrict_level is not None else auto_sub
    com_level = community_level if community_level is not None else auto_com
    _check_level("community_level", community_level, boundaries)
    _check_level("subdistrict_level", subdistrict_level, boundaries)

    b = _prepare_buildings(buildings.to_crs(crs), dwelling_m2)
    r = roads.to_crs(crs)
    r["length_m"] = r.geometry.length
    city_name = name or _city_name(boundaries, fallback="city")

    if com_level is None:
        subs, coms = _derived_areas(b, r, city_name, community_households, crs, notes)
    else:
        subs, coms = _source_areas(boundaries, com_level, sub_level, city_name, crs, notes)

    subs["code"] = _codes(subs)
    coms["code"] = ""
    for idx in coms.groupby("subdistrict").groups.values():
        coms.loc[idx, "code"] = _codes(coms.loc[idx]).to_numpy()
    b["community"] = _assign(b.geometry.representative_point(), coms)
    loose = int(b["community"].isna().sum())
    if loose:
        notes.append(f"{loose} of {len(b)} buildings lie outside every community: kept, but in no community or grid")
    return CityModel(
        name=city_name,
        metric_crs=crs,
        subdistricts=subs.to_crs(WGS84),
        communities=coms.to_crs(WGS84),
        buildings=b.to_crs(WGS84),
        roads=r.to_crs(WGS84),
        notes=notes,
    )


def _derived_areas(
    b: gpd.GeoDataFrame,
    r: gpd.GeoDataFrame,
    city_name: str,
    community_households: tuple[int, int],
    crs: pyproj.CRS,
    notes: list[str],
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """One derived subdistrict and communities derived from the buildings, when the source has no community
    boundaries (metric CRS)."""
    area = _footprint_area(b, r)
    subs = _frame([{"name": city_name, "osm_id": None, "derived": True}], [area], crs)
    coms = _derive_communities(area, b, community_households, crs)
    coms["subdistrict"] = 0
    notes.append(f"the source has no community boundaries: {len(coms)} communities derived from buildings "
                 f"({community_households[0]}–{community_households[1]} households each), flagged derived")
    return subs, coms


def _source_areas(
    boundaries: gpd.GeoDataFrame,
    com_level: int,
    sub_level: int | None,
    city_name: str,
    crs: pyproj.CRS,
    notes: list[str],
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Subdistricts and communities from the source's boundaries (metric CRS); communities outside every
    subdistrict are left out (with a note), subdistricts without communities dropped and renumbered."""
    coms = _areas_at(boundaries, com_level, crs)
    if sub_level is not None and (boundaries["admin_level"] == sub_level).any():
        subs = _areas_at(boundaries, sub_level, crs)
    else:
        subs = _frame([{"name": city_name, "osm_id": None, "derived": True}],
                      [shapely.union_all(coms.geometry.to_numpy())], crs)
        notes.append("the source has no subdistrict boundaries: one subdistrict derived from the communities")
    coms["subdistrict"] = _assign(coms.geometry.representative_point(), subs)
    outside = coms["subdistrict"].isna()
    if outside.any():
        notes.append(f"{int(outside.sum())} communities lie outside every subdistrict and were left out: "
                     + ", ".join(coms.loc[outside, "name"]))
        coms = coms[~outside].reset_index(drop=True)
    coms["subdistrict"] = coms["subdistrict"].astype(np.int64)
    used = sorted(coms["subdistrict"].unique())
    remap = {old: new for new, old in enumerate(used)}
    subs = subs.iloc[used].reset_index(drop=True)
    coms["subdistrict"] = coms["subdistrict"].map(remap)
    return subs, coms


def _check_level(name: str, level: int | None, boundaries: gpd.GeoDataFrame) -> None:
    if level is None:
        return
    present = sorted(boundaries["admin_level"].unique().tolist()) if not boundaries.empty else []
    if level not in present:
        raise GeoValidationError(Problem("no_such_level", f"no administrative boundaries at admin_level {level} "
                                         f"(the file has levels {present or 'none'})", field=name))


def _prepare_buildings(b: gpd.GeoDataFrame, dwelling_m2: float) -> gpd.GeoDataFrame:
    b = b.copy()
    estimate = estimate_households(b, building_col="use", levels_col="levels", dwelling_m2=dwelling_m2)
    b["levels"] = parse_levels(b["levels"])
    b["households"] = estimate["households"].to_numpy()
    b["households_estimated"] = estimate["households_estimated"].to_numpy()
    return b


def _city_name(boundaries: gpd.GeoDataFrame, *, fallback: str) -> str:
    if boundaries.empty:
        return fallback
    top = boundaries.sort_values("admin_level").iloc[0]
    return str(top["name"]) or fallback


def _frame(rows: list[dict], geoms: list, crs: pyproj.CRS) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(rows, geometry=[as_multipolygon(g) for g in geoms], crs=crs)


def as_multipolygon(g: shapely.Geometry) -> shapely.MultiPolygon:
    """The polygonal parts of ``g`` as one MultiPolygon (the storage type of every areal layer)."""
    if isinstance(g, shapely.Polygon):
        return shapely.MultiPolygon([g])
    if isinstance(g, shapely.MultiPolygon):
        return g
    parts = [p for p in shapely.get_parts(g) if isinstance(p, shapely.Polygon)]
    return shapely.MultiPolygon(parts)


def _areas_at(boundaries: gpd.GeoDataFrame, level: int, crs: pyproj.CRS) -> gpd.GeoDataFrame:
    sel = boundaries[boundaries["admin_level"] == level].to_crs(crs)
    out = gpd.GeoDataFrame(
        {"name": sel["name"].to_numpy(), "osm_id": sel["osm_id"].to_numpy(), "derived": False},
        geometry=[as_multipolygon(g) for g in sel.geometry], crs=crs,
    )
    return out.reset_index(drop=True)


def _assign(points: gpd.GeoSeries, areas: gpd.GeoDataFrame) -> pd.Series:
    """Row number of the area containing each point (the first, if areas overlap), ``<NA>`` for none."""
    result = pd.Series(pd.NA, index=points.index, dtype="Int64")
    if areas.empty or points.empty:
        return result
    pt_idx, area_idx = areas.sindex.query(points.to_numpy(), predicate="within")
    first = pd.Series(area_idx, index=pt_idx).groupby(level=0).min()
    result.iloc[first.index.to_numpy()] = first.to_numpy()
    return result


def _codes(areas: gpd.GeoDataFrame) -> pd.Series:
    pts = areas.geometry.representative_point()
    order = reading_order(np.column_stack([pts.x.to_numpy(), pts.y.to_numpy()]))
    return pd.Series([f"{int(o) + 1:03d}" for o in order], index=areas.index)


def _footprint_area(b: gpd.GeoDataFrame, r: gpd.GeoDataFrame, *, reach_m: float = 120.0) -> shapely.Geometry:
    """The built-up area: everything within ``reach_m`` of a building, holes filled (an extract has no boundary)."""
    pts = b.geometry.representative_point().to_numpy()
    blob = shapely.union_all(shapely.buffer(pts, reach_m, quad_segs=4))
    shells = [shapely.Polygon(p.exterior) for p in shapely.get_parts(blob) if isinstance(p, shapely.Polygon)]
    return as_multipolygon(shapely.union_all(shells).simplify(5.0))


#: the mark in the name of a community the software drew (its grids' names begin with it): 自动划分, "drawn
#: automatically"; the flag ``derived`` says the same to programs
DERIVED_LABEL = "（自动划分）"


def _derive_communities(area: shapely.Geometry, b: gpd.GeoDataFrame, households: tuple[int, int],
                        crs: pyproj.CRS) -> gpd.GeoDataFrame:
    inside = b[b.geometry.representative_point().within(area)]
    part = generate_grids(area, inside[["households", "geometry"]], households_range=households)
    geoms = [as_multipolygon(g) for g in part.grids.geometry]
    rows = [{"name": f"社区 {i + 1:02d}{DERIVED_LABEL}", "osm_id": None, "derived": True} for i in range(len(geoms))]
    return _frame(rows, geoms, crs)
