"""A city from official area layers, without OpenStreetMap: ``gridpatrol city create`` makes the one city row (no
geometry yet), and the layer imports (:mod:`patrol.city.layer_import`) fill it in.

The metric CRS is chosen at the first layer import from the layer's extent (its UTM zone) unless given; until then
the city's ``metric_epsg`` is 0, which :func:`metric_crs_label` shows as "not chosen yet". The shipped categories and
responsibility table are loaded on first use (:func:`ensure_reference_tables`), so that a report into a fresh city
does not fail.
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass

import geopandas as gpd
import pyproj
from sqlalchemy.orm import Session

from geo.area_codes import SCHEMES
from patrol.cases.reference import ensure_reference_tables
from patrol.city.map_version import bump
from patrol.city.osm_import import city_exists, clear_city
from patrol.core.errors import Conflict, InvalidInput
from patrol.core.models import City

#: ``metric_epsg`` of a city whose metric CRS is chosen at its first layer import
UNCHOSEN = 0


@dataclass
class CreatedCity:
    name: str
    district_code: str
    timezone: str | None
    metric_epsg: int
    code_scheme: str
    categories: int
    rules: int

    def lines(self) -> list[str]:
        lines = [f"city: {self.name} (district {self.district_code}, codes: {self.code_scheme}, metric CRS "
                 f"{metric_crs_label(self.metric_epsg)}" + (f", timezone {self.timezone})" if self.timezone else ")")]
        if self.categories or self.rules:
            lines.append(f"loaded {self.categories} categories and {self.rules} responsibility rules (shipped)")
        lines.append("next: gridpatrol import FILE --layer subdistricts (then communities, grids, buildings, roads)")
        return lines


def metric_crs_label(epsg: int | None) -> str:
    return f"EPSG:{epsg}" if epsg else "not chosen yet (the first layer import chooses its UTM zone)"


def validate_city(name: str, district_code: str, timezone: str | None, metric_epsg: int | None,
                  code_scheme: str) -> None:
    """Raise InvalidInput naming the first bad argument."""
    if not name or not name.strip():
        raise InvalidInput("the city needs a name (--name)", field="name")
    if not re.fullmatch(r"[0-9]{6}", district_code or ""):
        raise InvalidInput(f"--district-code must be the 6-digit district code (e.g. 370602), got {district_code!r}",
                           field="district_code")
    if timezone is not None:
        try:
            zoneinfo.ZoneInfo(timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise InvalidInput(f"--timezone {timezone!r} is not a time zone (e.g. Asia/Shanghai)",
                               field="timezone") from exc
    if metric_epsg is not None:
        try:
            crs = pyproj.CRS.from_epsg(metric_epsg)
        except pyproj.exceptions.CRSError as exc:
            raise InvalidInput(f"--metric-epsg {metric_epsg} is not an EPSG code pyproj knows",
                               field="metric_epsg") from exc
        if not crs.is_projected:
            raise InvalidInput(f"--metric-epsg {metric_epsg} ({crs.name}) is not a projected CRS in metres "
                               "(e.g. a UTM zone such as 32650, or CGCS2000 Gauss–Krüger such as 4547)",
                               field="metric_epsg")
    if code_scheme not in SCHEMES:
        raise InvalidInput(f"--code-scheme must be one of {', '.join(SCHEMES)}, got {code_scheme!r}",
                           field="code_scheme")


def create_city(session: Session, *, name: str, district_code: str, timezone: str | None = None,
                metric_epsg: int | None = None, code_scheme: str = "gb", replace: bool = False) -> CreatedCity:
    """Create the city row (no geometry); refuse when a city exists unless ``replace`` (which deletes it with its
    areas, buildings and roads). Loads the shipped categories and responsibility table when none are loaded. The
    caller commits."""
    validate_city(name, district_code, timezone, metric_epsg, code_scheme)
    existing = city_exists(session)
    if existing is not None:
        if not replace:
            raise Conflict(f"this database already holds a city ({existing.name}); pass --replace to replace it",
                           field="replace")
        clear_city(session)
        session.flush()
    session.add(City(name=name.strip(), metric_epsg=metric_epsg or UNCHOSEN, district_code=district_code,
                     source="gridpatrol city create", timezone=timezone, code_scheme=code_scheme))
    session.flush()
    categories, rules = ensure_reference_tables(session)
    bump(session)
    return CreatedCity(name.strip(), district_code, timezone, metric_epsg or UNCHOSEN, code_scheme, categories, rules)


def choose_metric_crs(session: Session, city: City, layer: gpd.GeoDataFrame) -> int:
    """The city's metric EPSG code; at the first layer import of a created city, the UTM zone of ``layer`` (in
    WGS-84), stored on the city."""
    if not city.metric_epsg:
        crs = layer.estimate_utm_crs()
        city.metric_epsg = int(crs.to_epsg())
        session.flush()
    return int(city.metric_epsg)
