"""Layers that planners and surveying bureaus deliver: subdistricts, communities, grids, buildings, responsible
units, road centre lines (:mod:`geo.roads`) and the basemap's water and green areas.

:func:`read_layer` reads a GeoJSON / GeoPackage / (zipped) Shapefile (those only: see :mod:`geo.intake`);
:func:`prepare_layer` checks it completely — missing columns, geometry type, validity, CRS, features outside the
city, bad values — and returns it in WGS-84 with the canonical columns, or raises one :class:`GeoValidationError`
holding every problem found.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from geo._checks import Kind, duplicate_code, missing_column
from geo.area_codes import GB_DIGITS, format_problem, prefix_problem
from geo.city import as_multipolygon
from geo.crs import DATUMS, WGS84, transform_geometry_to_wgs84
from geo.errors import GeoValidationError, Problem
from geo.intake import Limits, read_delivered
from geo.roads import LINES, finish_roads, road_value_problems
from geo.validation import validate_geometries

POLYGONS = frozenset({"Polygon", "MultiPolygon"})


@dataclass(frozen=True)
class LayerSpec:
    """What a delivered layer must hold: geometry types and columns (canonical name → accepted spellings)."""

    types: frozenset[str]
    required: tuple[str, ...]
    optional: tuple[str, ...]


LAYER_KINDS: dict[str, LayerSpec] = {
    "subdistricts": LayerSpec(POLYGONS, ("name",), ("code",)),
    "communities": LayerSpec(POLYGONS, ("name",), ("code", "subdistrict")),
    "grids": LayerSpec(POLYGONS, (), ("code", "name", "community")),
    "buildings": LayerSpec(POLYGONS, (), ("name", "use", "levels", "households", "households_estimated", "residents",
                                       "address", "osm_id", "housenumber")),
    "units": LayerSpec(POLYGONS | {"Point"}, ("type", "name"), ("phone",)),
    # centre lines for routing and the basemap (geo.roads), water and green areas for the basemap only
    "roads": LayerSpec(LINES, (), ("name", "class", "oneway")),
    "water": LayerSpec(POLYGONS, (), ("name",)),
    "green": LayerSpec(POLYGONS, (), ("name",)),
}
#: A grid plan uploaded to replace a draft's grids (checked as ``grids``): every grid needs its code, and may name
#: its community by id and its worker.
GRID_PLAN = LayerSpec(POLYGONS, ("code",), ("name", "community", "community_id", "worker_id"))
#: The column naming a feature's parent (its code or name), by layer kind: ``--parent-column`` maps onto it.
PARENT_COLUMN: dict[str, str] = {"communities": "subdistrict", "grids": "community"}
#: How far, m, a delivered feature may reach beyond the city area before it is ``outside_city``.
OUTSIDE_CITY_M = 100.0

# Column names as bureaus spell them (case-insensitive) → canonical names.
ALIASES: dict[str, str] = {
    "名称": "name", "name_zh": "name", "mc": "name",
    "编码": "code", "代码": "code", "bm": "code", "grid_code": "code", "wgbm": "code",
    "街道": "subdistrict", "street": "subdistrict", "subdistrict_name": "subdistrict",
    "社区": "community", "community_code": "community", "community_name": "community",
    "用途": "use", "building": "use", "type_use": "use",
    "层数": "levels", "floors": "levels", "building:levels": "levels", "building_levels": "levels",
    "户数": "households", "hh": "households",
    "人口": "residents", "population": "residents",
    "地址": "address", "addr": "address",
    "类型": "type", "unit_type": "type",
    "电话": "phone", "tel": "phone", "telephone": "phone",
    "门牌号": "housenumber", "门牌": "housenumber", "addr:housenumber": "housenumber", "housenumbe": "housenumber",
    "道路等级": "class", "等级": "class", "highway": "class", "fclass": "class", "road_class": "class",
    "单行": "oneway", "单向": "oneway", "道路名称": "name", "路名": "name",
    "comm_id": "community_id", "community_": "community_id", "社区id": "community_id",  # DBF names stop at 10
    "worker": "worker_id", "网格员id": "worker_id",
}


def read_layer(path: str | Path, *, layer: str | None = None, kind: str | None = None,
               limits: Limits | None = None) -> gpd.GeoDataFrame:
    """Read one layer of a GeoPackage, GeoJSON or (zipped) Shapefile; a multi-layer file (GeoPackage) needs ``layer``
    unless a layer is named ``kind``. The format is the file name's, checked against its content, and GDAL reads it
    in a child process with that driver only and with ``limits`` (:func:`geo.intake.read_delivered`).

    Raises
    ------
    GeoValidationError
        ``unreadable`` when the file is missing, not one of those formats or GDAL cannot open it, ``no_such_layer``
        for a layer name the file does not hold (the message lists those it does).
    """
    return read_delivered(path, layer=layer, kind=kind, limits=limits)


def prepare_layer(
    gdf: gpd.GeoDataFrame,
    kind: str,
    *,
    city_area: shapely.Geometry | None = None,
    metric_crs: pyproj.CRS | int | None = None,
    datum: str = "wgs84",
    tolerance_m: float = OUTSIDE_CITY_M,
    spec: LayerSpec | None = None,
    crs_allowed: Collection[int] | None = None,
    columns: Mapping[str, str] | None = None,
    crs: str | int | None = None,
    code_scheme: str | None = None,
    district_code: str | None = None,
) -> gpd.GeoDataFrame:
    """Check a delivered layer completely and return it in WGS-84 with canonical columns.

    Parameters
    ----------
    gdf
        The layer as read.
    kind
        A key of :data:`LAYER_KINDS` (subdistricts, communities, grids, buildings, units, roads, water, green).
    city_area
        The city's area in WGS-84; a feature farther than ``tolerance_m`` from it is ``outside_city``.
    metric_crs
        The city's projected CRS (needed with ``city_area``; chosen from the layer when None).
    datum
        ``wgs84``, or ``gcj02`` / ``bd09`` for lon/lat digitised on Chinese map SDKs (converted here).
    tolerance_m
        How far, m, a feature may reach beyond the city area.
    spec
        What the layer must hold when it differs from the kind's (e.g. :data:`GRID_PLAN`, checked as ``grids``).
    crs_allowed
        EPSG codes the layer may be delivered in (``wrong_crs`` otherwise); any CRS when None.
    columns, crs
        Canonical column → the file's column holding it (``--code-column`` …; one it lacks is ``missing_column``);
        the CRS of a file that declares none (a .shp without .prj; a file declaring another is ``wrong_crs``).
    code_scheme, district_code
        How the city codes its areas (:mod:`geo.area_codes`; None is ``gb``) and its district: codes checked.

    Returns
    -------
    GeoDataFrame
        EPSG:4326, columns ``row`` (1-based row number in the file), the kind's canonical columns present in
        the file (missing optional ones as nulls), and ``geometry``: MultiPolygon for areal kinds; for ``units``
        a Point, with a ``jurisdiction`` MultiPolygon column (the polygon delivered, its point being a
        representative point inside it); for ``roads`` one LineString a row (a MultiLineString's parts keep its
        ``row``) with ``name``, ``highway``, ``oneway`` and ``given_class`` (:func:`geo.roads.finish_roads`).

    Raises
    ------
    GeoValidationError
        Every problem found: ``empty_layer``, ``missing_column``, ``unknown_crs``, ``wrong_crs``, ``empty_geometry``,
        ``wrong_geometry_type``, ``invalid_geometry``, ``outside_city``, ``bad_value``, ``duplicate_code``.
    """
    spec = spec or LAYER_KINDS.get(kind)
    if spec is None or kind not in LAYER_KINDS:
        raise GeoValidationError(f"unknown layer kind {kind!r}; use one of {', '.join(LAYER_KINDS)}", field="layer")
    if datum not in DATUMS:
        raise GeoValidationError(f"datum must be one of {', '.join(DATUMS)}, got {datum!r}", field="datum")
    if gdf.empty:
        raise GeoValidationError(Problem(Kind.EMPTY_LAYER, "the layer has no features", field="file"))
    gdf, problems = _given_columns_and_crs(gdf, spec, columns or {}, crs)
    frame = _canonical_columns(gdf, spec)
    frame["row"] = np.arange(1, len(frame) + 1)
    problems += [missing_column(c, _columns(gdf)) for c in spec.required if c not in frame.columns]
    problems += in_lonlat(validate_geometries(frame, id_column="row", allowed_types=set(spec.types)), frame.crs)
    problems += code_problems(frame, kind, code_scheme, district_code)
    problems += _value_problems(frame, kind, spec)
    if frame.crs is None:
        raise GeoValidationError(problems)
    if crs_allowed is not None:
        problems[:0] = _crs_problems(pyproj.CRS(frame.crs), crs_allowed)
    frame = _to_wgs84(frame, datum, problems)
    if city_area is not None:
        problems += _outside_city(frame, city_area, metric_crs, tolerance_m)
    if problems:
        raise GeoValidationError(problems)
    return _finish(frame, kind, spec)


def _to_wgs84(frame: gpd.GeoDataFrame, datum: str, problems: list[Problem]) -> gpd.GeoDataFrame:
    """The layer in WGS-84, from lon/lat digitised on Chinese map SDKs (``datum``) when asked (a problem is added
    when the layer is projected: the datum applies to lon/lat)."""
    crs = pyproj.CRS(frame.crs)
    frame = frame.to_crs(WGS84)
    if datum == "wgs84":
        return frame
    if not crs.is_geographic:
        problems.append(Problem(Kind.DATUM_MISMATCH, f"--datum {datum} applies to longitude/latitude layers; this "
                                                  f"one is in {crs.name}", field="datum"))
        return frame
    return frame.set_geometry(transform_geometry_to_wgs84(np.asarray(frame.geometry.array), datum), crs=WGS84)


def column_mapping(kind: str, *, code: str | None = None, name: str | None = None, parent: str | None = None,
                   households: str | None = None, **more: str | None) -> dict[str, str]:
    """The ``columns`` argument of :func:`prepare_layer` from the import's column flags: ``parent`` is the
    ``subdistrict`` column of communities and the ``community`` column of grids; ``more`` canonical names as they
    are. A parent column for a kind without parents is refused (``GeoValidationError``, field ``parent_column``)."""
    mapping = {"code": code, "name": name, "households": households, **more}
    if parent is not None:
        if kind not in PARENT_COLUMN:
            raise GeoValidationError(f"--parent-column applies to {' and '.join(PARENT_COLUMN)} layers, not {kind}",
                                     field="parent_column")
        mapping[PARENT_COLUMN[kind]] = parent
    return {k: v for k, v in mapping.items() if v is not None}


def _given_columns_and_crs(gdf: gpd.GeoDataFrame, spec: LayerSpec, columns: Mapping[str, str],
                           crs: str | int | None) -> tuple[gpd.GeoDataFrame, list[Problem]]:
    """Rename the file's columns named in ``columns`` onto ours (dropping any other column that would take the same
    canonical name) and give a file without a CRS ``crs``."""
    problems: list[Problem] = []
    present = {str(c).strip().lower(): c for c in gdf.columns if c != gdf.geometry.name}
    wanted = set(spec.required) | set(spec.optional)
    renames: dict[object, str] = {}
    for canonical, column in columns.items():
        found = present.get(str(column).strip().lower())
        if found is None:
            problems.append(Problem(Kind.MISSING_COLUMN, f"the layer has no {column!r} column to read {canonical} "
                                                         f"from (columns: {_columns(gdf)})", field=f"{canonical}"))
        elif canonical in wanted:
            renames[found] = canonical
    taken = set(renames.values())
    drop = [c for k, c in present.items() if c not in renames and (k in taken or ALIASES.get(k) in taken)]
    gdf = gdf.drop(columns=drop).rename(columns=renames)
    if crs is not None:
        try:
            given = pyproj.CRS.from_user_input(crs)
        except pyproj.exceptions.CRSError:
            problems.append(Problem(Kind.UNKNOWN_CRS, f"--crs {crs}: not a CRS pyproj knows (e.g. EPSG:4490)",
                                    field="crs"))
            return gdf, problems
        if gdf.crs is None:
            gdf = gdf.set_crs(given)
        elif not pyproj.CRS(gdf.crs).equals(given, ignore_axis_order=True):
            problems.append(Problem(Kind.WRONG_CRS, f"the file declares its CRS ({gdf.crs.name}); --crs {crs} is only "
                                                    "for files without one: leave it out", field="crs"))
    return gdf, problems


def code_problems(frame: gpd.GeoDataFrame, kind: str, code_scheme: str | None,
                  district_code: str | None) -> list[Problem]:
    """``bad_value`` for each code that is not well formed for its level (:mod:`geo.area_codes`): a subdistrict's
    9-digit code must also start with the city's district code."""
    if "code" not in frame.columns or kind not in GB_DIGITS:
        return []
    problems = []
    for row, value in zip(frame["row"], [code_text(v) for v in frame["code"]], strict=True):
        if value is None:
            continue
        wrong = format_problem(value, kind, code_scheme)
        if wrong is None and kind == "subdistricts":
            wrong = prefix_problem(value, None, kind, code_scheme, district=district_code)
        if wrong is not None:
            problems.append(Problem(Kind.BAD_VALUE, wrong, int(row), "code"))
    return problems


_AT = re.compile(r"\[(-?[0-9.]+(?:e[-+]?[0-9]+)?) (-?[0-9.]+(?:e[-+]?[0-9]+)?)\]")


def in_lonlat(problems: list[Problem], crs: object) -> list[Problem]:
    """Problems whose message gives a place as GEOS does (``Self-intersection[512957.37 2489415.16]``, in the
    layer's CRS) with the place in lon/lat instead (``Self-intersection at 114.1234, 22.3456``)."""
    if crs is None:
        return problems
    to_wgs = pyproj.Transformer.from_crs(pyproj.CRS(crs), WGS84, always_xy=True)

    def lonlat(match: re.Match[str]) -> str:
        lon, lat = to_wgs.transform(float(match.group(1)), float(match.group(2)))
        return f" at {lon:.4f}, {lat:.4f}"

    return [dataclasses.replace(p, message=_AT.sub(lonlat, p.message)) for p in problems]


def _canonical_columns(gdf: gpd.GeoDataFrame, spec: LayerSpec) -> gpd.GeoDataFrame:
    wanted = set(spec.required) | set(spec.optional)
    renames: dict[str, str] = {}
    for column in gdf.columns:
        if column == gdf.geometry.name:
            continue
        key = str(column).strip().lower()
        canonical = key if key in wanted else ALIASES.get(key)
        if canonical in wanted and canonical not in renames.values():
            renames[column] = canonical
    frame = gdf[[*renames, gdf.geometry.name]].rename(columns=renames)
    return frame.rename_geometry("geometry") if frame.geometry.name != "geometry" else frame


def _columns(gdf: gpd.GeoDataFrame) -> str:
    names = [str(c) for c in gdf.columns if c != gdf.geometry.name]
    return ", ".join(names) or "none"


def _crs_problems(crs: pyproj.CRS, allowed: Collection[int]) -> list[Problem]:
    """A ``wrong_crs`` problem unless the layer's CRS is one of ``allowed`` (EPSG codes; OGC:CRS84 is 4326)."""
    epsg = 4326 if crs.equals(pyproj.CRS("OGC:CRS84"), ignore_axis_order=True) else crs.to_epsg()
    if epsg in allowed:
        return []
    label = f"EPSG:{epsg}" if epsg else "a CRS without an EPSG code"
    wanted = " or ".join(f"EPSG:{e}" + (" (WGS-84)" if e == 4326 else "") for e in allowed)
    return [Problem(Kind.WRONG_CRS, f"the layer is in {label} ({crs.name}): deliver it in {wanted}; reproject it "
                                    "and try again", field="crs")]


def _value_problems(frame: gpd.GeoDataFrame, kind: str, spec: LayerSpec) -> list[Problem]:
    problems: list[Problem] = []
    rows = frame["row"].to_numpy()
    for column in ("households", "residents", "levels", "community_id", "worker_id"):
        if column in frame.columns:
            values = pd.to_numeric(frame[column], errors="coerce")
            given = frame[column].notna() & (frame[column].astype(str).str.strip() != "")
            bad = given & (values.isna() | (values < 0))
            if column != "levels":
                bad |= given & values.notna() & (values != values.round())
            problems += [Problem(Kind.BAD_VALUE, f"{column} must be a whole number ≥ 0, got {v!r}", int(r), column)
                         for r, v in zip(rows[bad.to_numpy()], frame.loc[bad, column], strict=True)]
    if kind == "roads":
        problems += road_value_problems(frame)
    for column in spec.required:
        if column in frame.columns:
            blank = frame[column].isna() | (frame[column].astype(str).str.strip() == "")
            problems += [Problem(Kind.BAD_VALUE, f"{column} is empty", int(r), column) for r in rows[blank.to_numpy()]]
    if "code" in frame.columns:
        codes = frame["code"].map(code_text)
        given = codes.notna()
        dup = given & codes.duplicated(keep=False)
        if kind == "communities" and "subdistrict" in frame.columns:
            pairs = pd.Series(list(zip(frame["subdistrict"], codes, strict=True)))
            short = codes.fillna("").str.len().to_numpy() == 3  # a street's 3-digit part repeats across streets
            dup = given.to_numpy() & np.where(short, pairs.duplicated(keep=False).to_numpy(), dup.to_numpy())
        problems += [duplicate_code(c, int(r))
                     for r, c in zip(rows[np.asarray(dup)], codes[np.asarray(dup)], strict=True)]
    return problems


def code_text(value: object) -> str | None:
    """A code cell as text: blank/NaN as None, a float that is a whole number without its ``.0`` (a spreadsheet
    or a DBF turned ``110101001001001`` into a float)."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def _outside_city(frame: gpd.GeoDataFrame, city_area: shapely.Geometry, metric_crs: pyproj.CRS | int | None,
                  tolerance_m: float) -> list[Problem]:
    geoms = np.asarray(frame.geometry.array, dtype=object)
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if not present.any():
        return []
    crs = pyproj.CRS(metric_crs) if metric_crs is not None else frame[present].estimate_utm_crs()
    area = gpd.GeoSeries([city_area], crs=WGS84).to_crs(crs).buffer(tolerance_m).iloc[0]
    metric = gpd.GeoSeries(geoms, crs=WGS84).to_crs(crs).to_numpy()
    shapely.prepare(area)
    outside = present & ~shapely.intersects(area, metric)
    minx, miny, maxx, maxy = shapely.bounds(city_area)
    where = f"({minx:.4f}, {miny:.4f}) – ({maxx:.4f}, {maxy:.4f})"
    problems = []
    for r, g in zip(frame["row"].to_numpy()[outside], geoms[outside], strict=True):
        p = g.representative_point()
        problems.append(Problem(Kind.OUTSIDE_CITY, f"at ({p.x:.4f}, {p.y:.4f}), more than {tolerance_m:g} m from the "
                                                f"city {where} — wrong CRS or datum?", int(r)))
    return problems


def _finish(frame: gpd.GeoDataFrame, kind: str, spec: LayerSpec) -> gpd.GeoDataFrame:
    out = pd.DataFrame({"row": frame["row"].to_numpy()})
    for column in (*spec.required, *spec.optional):
        values = frame[column] if column in frame.columns else pd.Series([None] * len(frame), index=frame.index)
        if column == "code":
            values = values.map(code_text)
        elif column in ("households", "residents", "osm_id", "community_id", "worker_id"):
            values = pd.to_numeric(values, errors="coerce").astype("Int64")
        elif column == "households_estimated":
            values = values.map(_truthy)
        elif column == "levels":
            values = pd.to_numeric(values, errors="coerce")
        else:
            values = values.map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v))
                                else str(v).strip() or None)
        out[column] = values.to_numpy()
    geoms = np.asarray(frame.geometry.array, dtype=object)
    if kind == "roads":
        return finish_roads(out, geoms)
    if kind == "units":
        polygonal = shapely.get_type_id(geoms) != int(shapely.GeometryType.POINT)
        out["jurisdiction"] = [as_multipolygon(g) if p else None for g, p in zip(geoms, polygonal, strict=True)]
        points = [g.representative_point() if p else g for g, p in zip(geoms, polygonal, strict=True)]
        return gpd.GeoDataFrame(out, geometry=points, crs=WGS84)
    # a ring valid in the file's CRS can cross itself once reprojected and rounded to the 9 decimals the database
    # keeps (patrol.core.frames.ewkt): snapped to that grid keeping it valid, and repaired if still not
    # (only those: the precision reducer also rotates and reorients rings, and a plan downloaded and uploaded again
    # must come back vertex for vertex)
    rounded = shapely.transform(geoms, lambda xy: np.round(xy, 9))
    bent = ~shapely.is_valid(rounded)
    if bent.any():
        fixed = shapely.set_precision(geoms[bent], 1e-9)
        still = ~shapely.is_valid(fixed)
        fixed[still] = shapely.make_valid(fixed[still], method="structure", keep_collapsed=False)
        geoms = geoms.copy()
        geoms[bent] = fixed
    return gpd.GeoDataFrame(out, geometry=[as_multipolygon(g) for g in geoms], crs=WGS84)


def _truthy(value: object) -> bool:
    """A yes/no cell as files spell it (1/0, true/false, yes/no, 是/否); blank is no."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return False
    return str(value).strip().lower() in {"1", "true", "t", "yes", "y", "是"}


