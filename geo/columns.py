"""Before a delivered layer is checked: its columns named by the user (``--name-column MC``) and its CRS declared
when the file has none (``--crs EPSG:4490``). Pure; :func:`geo.layers.prepare_layer` does the rest."""

from __future__ import annotations

from collections.abc import Mapping

import geopandas as gpd
import pyproj

from geo._checks import Kind, missing_column
from geo.errors import GeoValidationError, Problem
from geo.layers import ALIASES


def map_columns(gdf: gpd.GeoDataFrame, columns: Mapping[str, str | None]) -> gpd.GeoDataFrame:
    """Rename the file's columns to canonical ones: ``columns`` maps a canonical name (``name``, ``class`` …) to the
    file's column (matched exactly, else case-insensitively); None entries are ignored. A column of the file that
    already bears (or is an alias of) a canonical name given here is dropped, so the one named wins.

    Raises GeoValidationError (``missing_column``) listing every named column the file lacks.
    """
    wanted = {k: v for k, v in columns.items() if v}
    if not wanted:
        return gdf
    present = [str(c) for c in gdf.columns if c != gdf.geometry.name]
    lower = {c.lower(): c for c in present}
    renames: dict[str, str] = {}
    problems: list[Problem] = []
    for canonical, given in wanted.items():
        found = given if given in present else lower.get(given.strip().lower())
        if found is None:
            problems.append(missing_column(given, ", ".join(present) or "none"))
        else:
            renames[found] = canonical
    if problems:
        raise GeoValidationError(problems)
    named = set(renames.values())
    clashing = [c for c in present if c not in renames
                and (c.strip().lower() in named or ALIASES.get(c.strip().lower()) in named)]
    return gdf.drop(columns=clashing).rename(columns=renames)


def declare_crs(gdf: gpd.GeoDataFrame, crs: str | None) -> gpd.GeoDataFrame:
    """The layer with ``crs`` (e.g. ``EPSG:4490``) set when the file has no CRS; ``crs`` for a file that has one,
    or a CRS pyproj does not know, is refused (``unknown_crs`` / ``wrong_crs``, field ``crs``)."""
    if not crs:
        return gdf
    try:
        declared = pyproj.CRS.from_user_input(crs)
    except pyproj.exceptions.CRSError as exc:
        raise GeoValidationError(Problem(Kind.UNKNOWN_CRS, f"--crs {crs}: not a CRS ({exc})", field="crs")) from exc
    if gdf.crs is not None:
        if pyproj.CRS(gdf.crs).equals(declared, ignore_axis_order=True):
            return gdf
        raise GeoValidationError(Problem(
            Kind.WRONG_CRS, f"--crs {crs} is only for files without a CRS; this one says {gdf.crs.name} "
                            f"(EPSG:{gdf.crs.to_epsg()})", field="crs"))
    return gdf.set_crs(declared)
