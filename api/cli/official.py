"""``gridpatrol city create``: a city from official area layers, without OpenStreetMap (its layers follow with
``gridpatrol import FILE --layer subdistricts|communities|grids|…``)."""

from __future__ import annotations

import click
from sqlalchemy import select

from api.cli.city import HouseholdRange
from api.cli.context import Group, open_database
from geo.area_codes import SCHEMES
from patrol.city.households import grid_households, set_grid_households
from patrol.city.official import create_city, metric_crs_label
from patrol.core.db import transaction
from patrol.core.errors import NotFound
from patrol.core.models import City

GRID_HOUSEHOLDS = click.option(
    "--grid-households", "grid_range", type=HouseholdRange(),
    help="households a grid should hold in this city, e.g. 200-400 (default: the settings', 300-500)")


@click.group(cls=Group, help="the city 城市: create it for official layers (no OpenStreetMap needed), its settings")
def city() -> None:
    pass


@city.command("create", help="create the city (no geometry yet): its layers follow with `gridpatrol import FILE "
                             "--layer subdistricts|communities|grids|buildings|roads`; loads the shipped categories "
                             "and responsibility table")
@click.option("--name", required=True, help="the city's (or district's) name, e.g. 芝罘区")
@click.option("--district-code", required=True, metavar="NNNNNN",
              help="6-digit administrative division code of the district, e.g. 370602")
@click.option("--timezone", help="IANA time zone (default: the settings', Asia/Shanghai)")
@click.option("--metric-epsg", type=int, metavar="N",
              help="projected CRS for metric work, e.g. 4547 (default: the UTM zone of the first layer imported)")
@click.option("--code-scheme", type=click.Choice(SCHEMES), default="gb", show_default=True,
              help="gb: national region codes (街道 9 digits, 社区 12, 网格 15, or 3-digit parts); "
                   "own: the city's own codes, up to 20 characters, unique per level")
@click.option("--replace", is_flag=True, help="replace the city already in the database (deletes its areas, "
                                              "buildings and roads)")
@GRID_HOUSEHOLDS
def city_create(name: str, district_code: str, timezone: str | None, metric_epsg: int | None, code_scheme: str,
                replace: bool, grid_range: tuple[int, int] | None) -> None:
    settings, _, sessions = open_database()
    with transaction(sessions) as session:
        created = create_city(session, name=name, district_code=district_code, timezone=timezone,
                              metric_epsg=metric_epsg, code_scheme=code_scheme, replace=replace)
        if grid_range is not None:
            set_grid_households(session, grid_range)
        lo, hi = grid_households(session, settings)
    print("\n".join(created.lines()))
    print(f"households per grid: {lo}-{hi}")


@city.command("set", help="change the city's households range per grid (used by grid generation, the grid check "
                          "and the planner unless a command gives its own)")
@GRID_HOUSEHOLDS
@click.option("--default-households", is_flag=True, help="forget the city's range: the settings' applies again")
def city_set(grid_range: tuple[int, int] | None, default_households: bool) -> None:
    if grid_range is None and not default_households:
        raise click.UsageError("nothing to change: give --grid-households MIN-MAX or --default-households")
    settings, _, sessions = open_database()
    with transaction(sessions) as session:
        set_grid_households(session, None if default_households else grid_range)
        lo, hi = grid_households(session, settings)
    print(f"households per grid: {lo}-{hi}")


@city.command("info", help="the city: name, district code, time zone, codes, metric CRS, households per grid")
def city_info() -> None:
    settings, _, sessions = open_database()
    with sessions() as session:
        row = session.scalars(select(City).limit(1)).first()
        if row is None:
            raise NotFound("no city in the database: gridpatrol city create (or gridpatrol import) first",
                           field="city")
        own = row.grid_households_min is not None and row.grid_households_max is not None
        lo, hi = grid_households(session, settings)
        print(f"city: {row.name} (district {row.district_code}, codes: {row.code_scheme or 'gb'}, metric CRS "
              f"{metric_crs_label(row.metric_epsg)}, timezone {row.timezone or settings.timezone})")
        print(f"households per grid: {lo}-{hi} ({'the city' if own else 'the settings, households_min/max'})")
