"""Check a grid layer against its communities and buildings: gaps, overlaps, nesting, building assignment, codes.

Which findings are fatal (``GridCheck.ok`` is False):

- ``gaps``: part of a community (larger than ``tolerance_m2``) covered by none of its grids;
- ``overlaps``: two grids sharing more than ``tolerance_m2``;
- ``buildings_in_no_grid`` / ``buildings_in_several_grids``: see the assignment rule below;
- ``grids_outside_community``: a grid reaching more than ``tolerance_m2`` outside its community, or naming a
  community that does not exist;
- ``duplicate_codes``: a code used by more than one grid, or a grid without a code;
- ``invalid_geometries``: a missing or invalid grid or community geometry (checked after ``make_valid``);
- ``slivers``: a grid, or one part of a multipart grid, so thin that no disc ``sliver_width_m`` wide fits inside
  it anywhere (its negative buffer by half that width is empty) — the thin strips a careless edit leaves behind
  along a neighbour's edge. Parts of ``tolerance_m2`` or less are digitising noise and ignored; a
  ``sliver_width_m`` of 0 turns the check off.

Warnings (listed, not fatal): ``buildings_cut`` (more than ``tolerance_m2`` of a footprint outside its grid),
``households_out_of_range`` (only with ``households_range``) and ``multipart_grids``.

Assignment rule: a building belongs to the grid whose *interior* holds its representative point; a point on the outer
edge of exactly one grid (the community boundary) belongs to that grid. A point on an edge shared by two grids, or
inside two overlapping grids, cannot be attributed and counts as "in several grids".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from typing import cast

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo._checks import GRID_FINDING_COUNTS, Kind, duplicate_code, invalid_geometry, missing_geometry
from geo.errors import Problem, ProblemList
from geo.grids._validate import check_frame, check_households, check_range

_FATAL = (
    "gaps",
    "overlaps",
    "buildings_in_no_grid",
    "buildings_in_several_grids",
    "grids_outside_community",
    "duplicate_codes",
    "invalid_geometries",
    "slivers",
)
#: Names of the :class:`GridCheck` counts that are fatal (the rest are warnings).
FATAL = _FATAL
#: Each finding's kind → the :class:`GridCheck` count it adds to (to tell errors from warnings by kind).
FINDING_COUNTS = GRID_FINDING_COUNTS
_LOCATION = re.compile(r"\((-?[0-9.]+), (-?[0-9.]+)\)")


@dataclass
class GridCheck:
    """Counts of every finding of :func:`check_grids` and one :class:`Problem` per finding.

    Each problem names its feature (community id for gaps, ``(code, code)`` for overlaps, the grid code for grid
    findings, the building id for building findings) and gives a location ``(x, y)`` in the layer CRS in its message.
    """

    n_grids: int = 0
    n_communities: int = 0
    gaps: int = 0
    overlaps: int = 0
    buildings_in_no_grid: int = 0
    buildings_in_several_grids: int = 0
    grids_outside_community: int = 0
    buildings_cut: int = 0
    households_out_of_range: int = 0
    duplicate_codes: int = 0
    multipart_grids: int = 0
    invalid_geometries: int = 0
    slivers: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no fatal finding was made (see the module docstring for which are fatal)."""
        return all(getattr(self, name) == 0 for name in _FATAL)


def check_grids(
    communities: gpd.GeoDataFrame,
    grids: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    *,
    tolerance_m2: float = 1.0,
    households_range: tuple[float, float] | None = None,
    sliver_width_m: float = 2.0,
) -> GridCheck:
    """Check that grids tile their communities and hold every building exactly once.

    Parameters
    ----------
    communities
        Column ``community_id`` (unique) and the community polygons, in a projected metric CRS.
    grids
        Columns ``code`` and ``community_id`` and the grid polygons, in the same CRS.
    buildings
        Footprints of every building that should be in a grid (leave out those outside all communities), indexed
        by building id, in the same CRS; a ``households`` column is needed with ``households_range``.
    tolerance_m2
        Gaps, overlaps, parts outside the community and cut-off parts of buildings up to this area (square metres)
        are ignored as digitising noise.
    households_range
        ``(min, max)`` households per grid; None skips that check.
    sliver_width_m
        A grid or a part of a multipart grid into which no disc this wide (metres) fits is a sliver (fatal);
        0 skips that check.

    Returns
    -------
    GridCheck
        Counts, problems and ``ok``; the module docstring says which findings are fatal.

    Raises
    ------
    GeoValidationError
        For inputs that cannot be checked at all: wrong types, a missing column, a CRS that is not projected or
        differs between the layers, duplicate community ids, or a negative tolerance or sliver width.
    """
    low_high = _check_inputs(communities, grids, buildings, tolerance_m2, households_range, sliver_width_m)
    result = GridCheck(n_grids=len(grids), n_communities=len(communities))
    found = ProblemList()
    community_geoms = _valid_geoms(communities, communities["community_id"], "community", found)
    grid_ids = _grid_ids(grids)
    grid_geoms = _valid_geoms(grids, grid_ids, "grid", found)
    result.invalid_geometries = len(found.problems)
    result.duplicate_codes = _check_codes(grids, grid_ids, grid_geoms, found)
    result.multipart_grids = _check_multipart(grid_ids, grid_geoms, found)
    result.slivers = _check_slivers(grid_ids, grid_geoms, sliver_width_m, tolerance_m2, found)
    by_community = pd.Series(community_geoms, index=communities["community_id"].to_numpy())
    result.gaps = _check_gaps(by_community, grids["community_id"].to_numpy(), grid_geoms, tolerance_m2, found)
    result.grids_outside_community = _check_outside(
        by_community, grids["community_id"].to_numpy(), grid_ids, grid_geoms, tolerance_m2, found
    )
    result.overlaps = _check_overlaps(grid_ids, grid_geoms, tolerance_m2, found)
    assigned, counts = _assign_buildings(buildings, grid_geoms, found)
    result.buildings_in_no_grid, result.buildings_in_several_grids = counts
    result.buildings_cut = _check_cut(buildings, assigned, grid_geoms, tolerance_m2, found)
    if low_high is not None:
        households = check_households(buildings["households"], name="households", problems=ProblemList())
        result.households_out_of_range = _check_households(assigned, households, grid_ids, grid_geoms, low_high,
                                                           found)
    result.problems = found.problems
    return result


def format_check(check: GridCheck, *, max_problems: int = 20) -> str:
    """A short English report: the verdict, every fatal count (zeros too, so a clean result says so), the non-zero
    warnings, then the first ``max_problems`` problems."""
    verdict = "OK" if check.ok else "FAILED"
    lines = [f"Grid check {verdict}: {check.n_grids} grids in {check.n_communities} communities"]
    for f in fields(check):
        value = getattr(check, f.name)
        if f.name in ("n_grids", "n_communities", "problems") or (not value and f.name not in _FATAL):
            continue
        severity = "error" if f.name in _FATAL else "warning"
        lines.append(f"  {f.name.replace('_', ' ')}: {value} ({severity})")
    shown = check.problems[:max_problems]
    lines += [f"  - {p}" for p in shown]
    if len(check.problems) > len(shown):
        lines.append(f"  ... and {len(check.problems) - len(shown)} more problems")
    return "\n".join(lines)


# --- the individual checks ----------------------------------------------------------------------------------------


def _check_gaps(
    by_community: pd.Series, grid_community: np.ndarray, grid_geoms: np.ndarray, tol: float, found: ProblemList
) -> int:
    count = 0
    for community_id, geom in by_community.items():
        covered = shapely.union_all(grid_geoms[grid_community == community_id])
        for part in shapely.get_parts(shapely.difference(geom, covered)):
            if part.geom_type == "Polygon" and part.area > tol:
                found.add(Kind.GAP, f"{part.area:.1f} m² of the community is in no grid, at {_where(part)}",
                          feature_id=community_id)
                count += 1
    return count


def _check_outside(
    by_community: pd.Series,
    grid_community: np.ndarray,
    grid_ids: np.ndarray,
    grid_geoms: np.ndarray,
    tol: float,
    found: ProblemList,
) -> int:
    known = pd.Index(by_community.index).get_indexer(grid_community)
    for i in np.flatnonzero(known < 0):
        found.add(Kind.GRID_OUTSIDE_COMMUNITY, f"community '{_plain(grid_community[i])}' does not exist; grid at "
                  f"{_where(grid_geoms[i])}", feature_id=grid_ids[i])
    inside = np.flatnonzero(known >= 0)
    outside = shapely.difference(grid_geoms[inside], by_community.to_numpy()[known[inside]])
    area = shapely.area(outside)
    for i, part, a in zip(inside[area > tol], outside[area > tol], area[area > tol], strict=True):
        found.add(Kind.GRID_OUTSIDE_COMMUNITY, f"{a:.1f} m² outside community '{_plain(grid_community[i])}', at "
                  f"{_where(part)}", feature_id=grid_ids[i])
    return int((known < 0).sum() + (area > tol).sum())


def _check_overlaps(grid_ids: np.ndarray, grid_geoms: np.ndarray, tol: float, found: ProblemList) -> int:
    left, right = shapely.STRtree(grid_geoms).query(grid_geoms, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    shared = shapely.intersection(grid_geoms[left], grid_geoms[right])
    area = shapely.area(shared)
    big = area > tol
    for i, j, part, a in zip(left[big], right[big], shared[big], area[big], strict=True):
        found.add(Kind.OVERLAP, f"grids '{_plain(grid_ids[i])}' and '{_plain(grid_ids[j])}' share {a:.1f} m², at "
                  f"{_where(part)}", feature_id=(grid_ids[i], grid_ids[j]))
    return int(big.sum())


def _assign_buildings(
    buildings: gpd.GeoDataFrame, grid_geoms: np.ndarray, found: ProblemList
) -> tuple[np.ndarray, tuple[int, int]]:
    """Grid position of every building (-1 for none or several) and the counts (in no grid, in several)."""
    footprints = np.asarray(buildings.geometry.array)
    points = shapely.point_on_surface(footprints)
    tree = shapely.STRtree(grid_geoms)
    n = len(points)
    touch_pt, touch_grid = tree.query(points, predicate="intersects")  # boundary included
    in_pt, in_grid = tree.query(points, predicate="within")  # interior only
    n_touch = np.bincount(touch_pt, minlength=n)
    n_in = np.bincount(in_pt, minlength=n)
    assigned = np.full(n, -1, dtype=np.int64)
    single_in = n_in == 1
    assigned[in_pt[single_in[in_pt]]] = in_grid[single_in[in_pt]]
    edge_only = (n_in == 0) & (n_touch == 1)
    assigned[touch_pt[edge_only[touch_pt]]] = touch_grid[edge_only[touch_pt]]
    missing = shapely.is_missing(footprints) | shapely.is_empty(footprints)
    nowhere = np.flatnonzero((n_touch == 0) & ~missing)
    several = np.flatnonzero((n_in >= 2) | ((n_in == 0) & (n_touch >= 2)))
    for i in np.flatnonzero(missing):
        found.add(Kind.BUILDING_IN_NO_GRID, "building has no geometry", feature_id=buildings.index[i])
    for i in nowhere:
        found.add(Kind.BUILDING_IN_NO_GRID, f"building at {_where(points[i])} is in no grid",
                  feature_id=buildings.index[i])
    for i in several:
        found.add(Kind.BUILDING_IN_SEVERAL_GRIDS, f"building at {_where(points[i])} is in {max(n_in[i], n_touch[i])} "
                  "grids (on a shared edge or in an overlap)", feature_id=buildings.index[i])
    return assigned, (len(nowhere) + int(missing.sum()), len(several))


def _check_cut(
    buildings: gpd.GeoDataFrame, assigned: np.ndarray, grid_geoms: np.ndarray, tol: float, found: ProblemList
) -> int:
    footprints = np.asarray(buildings.geometry.array)
    todo = np.flatnonzero(assigned >= 0)
    shapely.prepare(grid_geoms)
    todo = todo[~shapely.contains(grid_geoms[assigned[todo]], footprints[todo])]  # cheap test first
    cut_off = shapely.difference(footprints[todo], grid_geoms[assigned[todo]])
    area = shapely.area(cut_off)
    for i, part, a in zip(todo[area > tol], cut_off[area > tol], area[area > tol], strict=True):
        found.add(Kind.BUILDING_CUT, f"{a:.1f} m² of the footprint is outside its grid, at {_where(part)}",
                  feature_id=buildings.index[i])
    return int((area > tol).sum())


def _check_households(
    assigned: np.ndarray,
    households: np.ndarray,
    grid_ids: np.ndarray,
    grid_geoms: np.ndarray,
    low_high: tuple[float, float],
    found: ProblemList,
) -> int:
    low, high = low_high
    ok = assigned >= 0
    totals = np.bincount(assigned[ok], weights=households[ok], minlength=len(grid_geoms))
    bad = np.flatnonzero((totals < low) | (totals > high))
    for i in bad:
        found.add(Kind.HOUSEHOLDS_OUT_OF_RANGE, f"{totals[i]:g} households, outside {low:g}–{high:g}; grid at "
                  f"{_where(grid_geoms[i])}", feature_id=grid_ids[i])
    return len(bad)


def _check_codes(grids: gpd.GeoDataFrame, grid_ids: np.ndarray, geoms: np.ndarray, found: ProblemList) -> int:
    codes = grids["code"]
    for i in np.flatnonzero(codes.isna().to_numpy()):
        found.add(Kind.DUPLICATE_CODE, f"grid has no code, at {_where(geoms[i])}", feature_id=grid_ids[i])
    counts = codes.dropna().value_counts(sort=False)
    repeated = counts[counts > 1]
    for code, n in repeated.items():
        where = ", ".join(_where(g) for g in geoms[(codes == code).to_numpy()])
        found.problems.append(duplicate_code(code, code, users=n, where=where))
    return int(codes.isna().sum() + len(repeated))


def _check_multipart(grid_ids: np.ndarray, geoms: np.ndarray, found: ProblemList) -> int:
    parts = shapely.get_num_geometries(geoms)
    multi = np.flatnonzero((shapely.get_type_id(geoms) == shapely.GeometryType.MULTIPOLYGON) & (parts > 1))
    for i in multi:
        found.add(Kind.MULTIPART_GRID, f"grid has {parts[i]} separate parts, at {_where(geoms[i])}",
                  feature_id=grid_ids[i])
    return len(multi)


def _check_slivers(grid_ids: np.ndarray, geoms: np.ndarray, width: float, tol: float, found: ProblemList) -> int:
    if not width > 0 or len(geoms) == 0:
        return 0
    parts, owner = shapely.get_parts(geoms, return_index=True)
    polygons = shapely.get_type_id(parts) == shapely.GeometryType.POLYGON
    parts, owner = parts[polygons], owner[polygons]
    area = shapely.area(parts)
    thin = (area > tol) & shapely.is_empty(shapely.buffer(parts, -width / 2))
    for i in np.flatnonzero(thin):
        mean_width = 2 * area[i] / max(float(shapely.length(parts[i])), 1e-9)
        found.add(Kind.SLIVER, f"a part of {area[i]:.1f} m² is thinner than {width:g} m (mean width "
                  f"{mean_width:.2f} m), at {_where(parts[i])}", feature_id=grid_ids[owner[i]])
    return int(thin.sum())


def problem_location(problem: Problem) -> tuple[float, float] | None:
    """The location ``(x, y)`` (layer CRS) a problem of :func:`check_grids` gives in its message, or None."""
    found = _LOCATION.search(problem.message.split(" at ", 1)[-1]) if " at " in problem.message else None
    if found is None:
        return None
    return float(found.group(1)), float(found.group(2))


# --- helpers ------------------------------------------------------------------------------------------------------


def _plain(value: object) -> object:
    """A numpy scalar as the Python value it holds (its repr is ``np.int64(1)``, not for people)."""
    return value.item() if isinstance(value, np.generic) else value


def _grid_ids(grids: gpd.GeoDataFrame) -> np.ndarray:
    """The grid's code where it has one, else its index label: what a person would look the grid up by."""
    codes = grids["code"].to_numpy(dtype=object)
    return np.where(pd.isna(codes), grids.index.to_numpy(dtype=object), codes)


def _valid_geoms(frame: gpd.GeoDataFrame, ids: pd.Series | np.ndarray, what: str, found: ProblemList) -> np.ndarray:
    """Geometries repaired with make_valid (missing ones become empty), reporting each that needed it."""
    geoms = np.asarray(frame.geometry.array)
    ids = np.asarray(ids, dtype=object)
    missing = shapely.is_missing(geoms)
    invalid = ~missing & ~shapely.is_valid(geoms)
    for i in np.flatnonzero(missing):
        found.problems.append(missing_geometry(what, ids[i]))
    for i in np.flatnonzero(invalid):
        reason = shapely.is_valid_reason(geoms[i])
        found.problems.append(invalid_geometry(reason, ids[i], what=what))
    out = geoms.copy()
    out[missing] = shapely.Polygon()
    out[invalid] = shapely.make_valid(geoms[invalid])
    return out


def _where(geom: shapely.Geometry) -> str:
    if geom is None or geom.is_empty:
        return "(no location)"
    point = shapely.point_on_surface(geom)
    return f"({point.x:.1f}, {point.y:.1f})"


def _check_inputs(
    communities: object, grids: object, buildings: object, tolerance_m2: float, households_range: object,
    sliver_width_m: float = 0.0,
) -> tuple[float, float] | None:
    problems = ProblemList()
    frames = (
        check_frame(communities, name="communities", problems=problems, columns=("community_id",)),
        check_frame(grids, name="grids", problems=problems, columns=("code", "community_id")),
        check_frame(buildings, name="buildings", problems=problems,
                    columns=("households",) if households_range is not None else ()),
    )
    if all(frames):  # so they are GeoDataFrames
        coms = cast(gpd.GeoDataFrame, communities)
        layers = {"communities": coms, "grids": cast(gpd.GeoDataFrame, grids),
                  "buildings": cast(gpd.GeoDataFrame, buildings)}
        for name, layer in layers.items():
            if layer.crs is not None and coms.crs is not None and layer.crs != coms.crs:
                problems.add(Kind.ARGUMENT_CRS, f"{name!r} is in {layer.crs.name!r} but 'communities' in "
                             f"{coms.crs.name!r}", field=name)
        if "community_id" in coms.columns and not coms["community_id"].is_unique:
            problems.add(Kind.DUPLICATE_ID, "communities['community_id'] is not unique", field="community_id")
    if not tolerance_m2 >= 0:
        problems.add(Kind.OPTION, f"tolerance_m2 should be >= 0 m², got {tolerance_m2!r}", field="tolerance_m2")
    if not sliver_width_m >= 0:
        problems.add(Kind.OPTION, f"sliver_width_m should be >= 0 m, got {sliver_width_m!r}", field="sliver_width_m")
    low_high = None if households_range is None else check_range(households_range, problems=problems)
    problems.raise_if_any()
    return low_high
