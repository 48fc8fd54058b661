"""The city's geometry from the command line: ``import`` (OSM or a delivered layer), ``grids generate|check``,
``export``, ``info``, ``db upgrade``, ``db copy`` and ``db rebuild-summaries``."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import click
from sqlalchemy import func, select

from api.cli.context import Command, Group, open_database
from geo.crs import DATUMS
from geo.errors import GeoValidationError
from geo.layers import column_mapping, read_layer
from geo.validation import summarize_problems
from patrol.analytics.summaries import rebuild, refresh_hours
from patrol.city.exporting import export_layer
from patrol.city.gridding import check_city_grids, generate_city_grids
from patrol.city.households import grid_households
from patrol.city.labels import label_buildings, label_if_missing
from patrol.city.layer_import import import_layer
from patrol.city.osm_import import read_city, store_city, summarize
from patrol.city.osm_parts import import_osm_parts, parse_parts, read_parts
from patrol.core.db import transaction
from patrol.core.errors import GridPatrolError, ImportFailed, InvalidInput
from patrol.core.migrate import current_revision
from patrol.core.models import CaseMapCell
from patrol.core.transfer import copy_database

LAYERS_IN = ("subdistricts", "communities", "grids", "buildings", "units", "roads", "water", "green")
LAYERS_OUT = ("subdistricts", "communities", "grids", "buildings", "roads")


class HouseholdRange(click.ParamType):
    """``MIN-MAX`` households per grid, e.g. ``300-500`` → ``(300, 500)``."""

    name = "MIN-MAX"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> tuple[int, int]:
        if isinstance(value, tuple):
            return value
        try:
            lo, hi = (int(p) for p in str(value).split("-"))
        except ValueError:
            self.fail(f"expected MIN-MAX such as 300-500, got {value!r}", param, ctx)
        if not 0 < lo <= hi:
            self.fail(f"expected 0 < MIN ≤ MAX, got {value!r}", param, ctx)
        return lo, hi


HOUSEHOLDS = click.option("--households", type=HouseholdRange(),
                          help="household range per grid, e.g. 300-500 (default: the city's range, else the "
                               "settings')")


@click.group(cls=Group, help="database maintenance")
def db() -> None:
    pass


@db.command("upgrade", help="apply the migrations (also done by every command); label unlabelled buildings")
def db_upgrade() -> None:
    _, engine, sessions = open_database()
    print(f"database at revision {current_revision(engine)} ({engine.dialect.name})")
    if summary := label_if_missing(sessions):
        print("\n".join(summary.lines()))


class _TableBars:
    """One progress bar per table while ``db copy`` runs (on stderr: the report goes to stdout)."""

    def __init__(self) -> None:
        self.bar: Any = None

    def start(self, table: str, rows: int) -> None:
        self.close()
        self.bar = click.progressbar(length=rows, label=f"{table:<28}", file=sys.stderr, show_pos=True)
        self.bar.__enter__()

    def advance(self, table: str, done: int, total: int) -> None:
        self.bar.update(done - self.bar.pos)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


@db.command("copy", help="copy a whole database into an empty, migrated one: SpatiaLite → PostGIS when a "
                         "deployment outgrows SpatiaLite (e.g. sqlite:///gridpatrol.db postgresql+psycopg://"
                         "user@host/db); every table in foreign-key order, one transaction per table, geometries "
                         "as WKB, sequences reset, row counts verified")
@click.argument("source_url")
@click.argument("target_url")
def db_copy(source_url: str, target_url: str) -> None:
    bars = _TableBars()
    try:
        report = copy_database(source_url, target_url, on_table=bars.start, progress=bars.advance)
    finally:
        bars.close()
    print("\n".join(report.lines()))


@db.command("rebuild-summaries", help="rebuild the summary tables (case_kpi_fact from the cases' steps and its "
                                      "working hours; on PostgreSQL the per-day sums case_kpi_day; the cases "
                                      "map's case_map_cell): after a bulk load that turned the triggers off "
                                      "(session_replication_role = replica), or after the working calendar or the "
                                      "time zone changed")
@click.option("--hours-only", is_flag=True, help="only fill the working hours that are missing or stale")
def db_rebuild_summaries(hours_only: bool) -> None:
    settings, _, sessions = open_database()
    started = time.perf_counter()
    with transaction(sessions) as session:
        if hours_only:
            n = refresh_hours(session, settings)
            what = f"working hours of {n:,} cases filled"
        else:
            n = rebuild(session, settings)
            cells = session.scalar(select(func.count()).select_from(CaseMapCell)) or 0
            what = f"case_kpi_fact rebuilt: {n:,} cases; case_map_cell: {cells:,} rows"
    print(f"{what} in {time.perf_counter() - started:.1f} s")


@click.group(cls=Group, help="buildings 楼栋")
def buildings() -> None:
    pass


@buildings.command("label", help="give every building a readable label (address, name, road + nearest number, "
                                 "else its place in its grid); keeps labels from the import unless --all")
@click.option("--all", "overwrite", is_flag=True, help="label every building again, also those labelled at import")
def buildings_label(overwrite: bool) -> None:
    sessions = open_database().sessions
    with transaction(sessions) as session:
        summary = label_buildings(session, overwrite=overwrite)
    print("\n".join(summary.lines()))


@click.command("import", cls=Command,
               help="import a city from an OpenStreetMap .osm.pbf file, or a layer (--layer) from GeoJSON / "
                    "GeoPackage / Shapefile")
@click.argument("file")
@click.option("--layer", type=click.Choice(LAYERS_IN),
              help="import FILE as this layer of the city already imported (all-or-nothing)")
@click.option("--source-layer", help="layer name inside a multi-layer file such as a GeoPackage")
@click.option("--datum", type=click.Choice(DATUMS), default="wgs84", show_default=True,
              help="lon/lat digitised on AMap/Tencent (gcj02) or Baidu (bd09) maps are converted to WGS-84")
@click.option("--name", help="city name (default: the widest boundary's name)")
@click.option("--subdistrict-level", type=int, help="OSM admin_level of subdistricts 街道 (default: auto)")
@click.option("--community-level", type=int, help="OSM admin_level of communities 社区 (default: auto)")
@click.option("--district-code", help="6-digit district code for grid codes (default 000000)")
@click.option("--crs", metavar="EPSG:N", help="the CRS of a layer file that declares none (a .shp without .prj), "
                                             "e.g. EPSG:4490 (CGCS2000) or EPSG:4547; a file that declares one is "
                                             "reprojected from it")
@click.option("--code-column", metavar="C", help="the layer's column holding the code")
@click.option("--name-column", metavar="C", help="the layer's column holding the name")
@click.option("--parent-column", metavar="C", help="the column naming each feature's parent by code or name (a "
                                                   "community's subdistrict, a grid's community)")
@click.option("--households-column", metavar="C", help="the column holding households (buildings)")
@click.option("--replace", is_flag=True, help="replace the city (or the layer) already in the database")
@click.option("--address-column", help="buildings: the column holding the address (地址)")
@click.option("--housenumber-column", help="buildings: the column holding the house number (门牌号)")
@click.option("--class-column", help="roads: the column holding the road class (OSM highway value or 快速路/主干路/"
                                     "次干路/支路/街巷/人行)")
@click.option("--oneway-column", help="roads: the column saying one-way (yes/no/1/0/是/否; -1 against the line)")
@click.option("--only", help="OSM file into a city made from official layers: only these parts "
                             "(buildings,roads,water,green)")
def import_city(file: str, layer: str | None, source_layer: str | None, datum: str, name: str | None,
                subdistrict_level: int | None, community_level: int | None, district_code: str | None,
                crs: str | None, code_column: str | None, name_column: str | None, parent_column: str | None,
                households_column: str | None, replace: bool, only: str | None, **more: str | None) -> None:
    path = Path(file)
    if layer:
        try:
            columns = column_mapping(layer, code=code_column, name=name_column, parent=parent_column,
                                     households=households_column,
                                     **{k.removesuffix("_column"): v for k, v in more.items()})
        except GeoValidationError as exc:
            raise InvalidInput(exc.problems[0].message, field="parent_column") from exc
        return _import_layer(path, layer, source_layer=source_layer, datum=datum, replace=replace, columns=columns,
                             crs=crs)
    if path.suffix.lower() != ".pbf":
        raise InvalidInput(f"{path.name}: expected an OpenStreetMap .osm.pbf file, or give --layer "
                           f"{'|'.join(LAYERS_IN)} for a GeoJSON/GeoPackage/Shapefile layer", field="file")
    if only is not None:
        return _import_osm_parts(path, only, replace=replace)
    settings, _, sessions = open_database()
    print(f"reading {path} …")
    model = read_city(path, name=name, subdistrict_level=subdistrict_level, community_level=community_level,
                      dwelling_m2=settings.dwelling_m2)
    with transaction(sessions) as session:
        summary = store_city(session, model, source=str(path.resolve()), replace=replace,
                             district_code=district_code or settings.district_code, progress=True)
    print("\n".join(summary.lines()))


def _import_osm_parts(path: Path, only: str, *, replace: bool) -> None:
    parts = parse_parts(only)
    settings, _, sessions = open_database()
    print(f"reading {path} …")
    osm = read_parts(path)
    with transaction(sessions) as session:
        lines = import_osm_parts(session, osm, parts, replace=replace, dwelling_m2=settings.dwelling_m2)
    print("\n".join(lines))


def _import_layer(path: Path, layer: str, *, source_layer: str | None, datum: str, replace: bool,
                  columns: dict[str, str], crs: str | None) -> None:
    """All or nothing: every problem of the file is reported and nothing is written unless it is all right."""
    try:
        frame = read_layer(path, layer=source_layer, kind=layer)
    except GeoValidationError as exc:
        raise ImportFailed(f"cannot import {path.name}: nothing was written",
                           details=summarize_problems(exc.problems)) from exc
    settings, _, sessions = open_database()
    print(f"read {len(frame)} features from {path.name}; checking …")
    with transaction(sessions) as session:
        summary = import_layer(session, layer, frame, source=path.name, datum=datum, replace=replace,
                               dwelling_m2=settings.dwelling_m2, columns=columns, crs=crs)
    print("\n".join(summary.lines()))


@click.group(cls=Group, help="grids 网格")
def grids() -> None:
    pass


@grids.command("generate", help="draw grids for every community from its buildings")
@HOUSEHOLDS
@click.option("--replace", is_flag=True, help="replace existing grids")
def grids_generate(households: tuple[int, int] | None, replace: bool) -> None:
    settings, _, sessions = open_database()
    with transaction(sessions) as session:
        households = households or grid_households(session, settings)
        result = generate_city_grids(session, households_range=households, replace=replace, progress=True)
    print("\n".join(result.lines()))


@grids.command("check", help="check grids: gaps, overlaps, buildings in exactly one grid (exit 1 when fatal)")
@HOUSEHOLDS
def grids_check(households: tuple[int, int] | None) -> None:
    settings, _, sessions = open_database()
    with sessions() as session:
        households = households or grid_households(session, settings)
        report = check_city_grids(session, households_range=households)
    print(report.text)
    if not report.ok:
        raise GridPatrolError(f"grid check failed: {report.summary}")


@click.command("export", cls=Command,
               help="export a layer to GeoPackage (.gpkg), GeoJSON (.geojson) or Shapefile (.shp), in WGS-84")
@click.argument("layer", type=click.Choice(LAYERS_OUT), metavar="LAYER")
@click.argument("output")
def export(layer: str, output: str) -> None:
    sessions = open_database().sessions
    with sessions() as session:
        n = export_layer(session, layer, Path(output))
    print(f"wrote {n} {layer} to {output}")


@click.command("info", cls=Command, help="what the database holds")
def info() -> None:
    sessions = open_database().sessions
    with sessions() as session:
        print("\n".join(summarize(session).lines()))
