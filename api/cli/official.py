"""``gridpatrol city create``: a city from official area layers, without OpenStreetMap (its layers follow with
``gridpatrol import FILE --layer subdistricts|communities|grids|…``)."""

from __future__ import annotations

import click

from api.cli.context import Group, open_database
from geo.area_codes import SCHEMES
from patrol.city.official import create_city
from patrol.core.db import transaction


@click.group(cls=Group, help="the city 城市: create it for official layers (no OpenStreetMap needed)")
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
def city_create(name: str, district_code: str, timezone: str | None, metric_epsg: int | None, code_scheme: str,
                replace: bool) -> None:
    sessions = open_database().sessions
    with transaction(sessions) as session:
        created = create_city(session, name=name, district_code=district_code, timezone=timezone,
                              metric_epsg=metric_epsg, code_scheme=code_scheme, replace=replace)
    print("\n".join(created.lines()))
