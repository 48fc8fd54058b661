"""Draw grids for a city that has none, and check a city's grids.

Reads communities and buildings, runs the pure partitioner of :mod:`geo.grids` in the city's metric CRS, and writes
grids with 15-digit codes (district 6 + street 3 + community 3 + sequence 3) and each building's grid.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session
from tqdm import tqdm

from geo.area_codes import grid_stem
from geo.city import as_multipolygon
from geo.errors import GeoValidationError
from geo.grids.check import GridCheck, check_grids, format_check
from geo.grids.codes import assign_codes
from geo.grids.partition import generate_grids
from geo.parents import describe
from patrol.city.labels import label_buildings
from patrol.core.errors import Conflict, InvalidInput, NotFound
from patrol.core.frames import ewkt, read_frame
from patrol.core.models import Building, City, Community, Grid, Subdistrict


@dataclass
class GridResult:
    grids: int
    communities: int
    households_range: tuple[int, int]
    grid_households: list[int] = field(default_factory=list)

    def lines(self) -> list[str]:
        h = self.grid_households
        spread = f", households per grid {min(h)}–{max(h)}" if h else ""
        lo, hi = self.households_range
        inside = sum(lo <= x <= hi for x in h)
        return [(f"grids 网格: {self.grids} in {self.communities} communities{spread}; "
                 f"{inside} of {len(h)} within {lo}–{hi}")]


@dataclass
class CheckReport:
    check: GridCheck
    text: str

    @property
    def ok(self) -> bool:
        return bool(self.check.ok)

    @property
    def summary(self) -> str:
        c = self.check
        return (f"{c.gaps} gaps, {c.overlaps} overlaps, {c.buildings_in_no_grid} buildings in no grid, "
                f"{c.buildings_in_several_grids} in several")


def city_of(session: Session) -> City:
    """The city (there is one per database); NotFound before any import."""
    city = session.scalars(select(City).limit(1)).first()
    if city is None:
        raise NotFound("no city yet: run `gridpatrol city create --name NAME --district-code NNNNNN` (official "
                       "layers) or `gridpatrol import FILE.osm.pbf` first")
    return city


def community_frame(session: Session, crs: int) -> gpd.GeoDataFrame:
    """Every community (id, code, name, subdistrict_id, street = its subdistrict's code) in CRS ``crs``."""
    frame = read_frame(session, [Community.id, Community.code, Community.name, Community.subdistrict_id],
                       Community.geom, order_by=[Community.id])
    street = dict(session.execute(select(Subdistrict.id, Subdistrict.code)).all())
    frame["street"] = frame["subdistrict_id"].map(street)
    return frame.to_crs(crs)


def building_frame(session: Session, crs: int) -> gpd.GeoDataFrame:
    """The buildings inside communities (id, households, community_id, grid_id), indexed by id, in CRS ``crs``."""
    frame = read_frame(session, [Building.id, Building.households, Building.community_id, Building.grid_id],
                       Building.geom, where=[Building.community_id.is_not(None)], order_by=[Building.id])
    return frame.set_index("id", drop=False).to_crs(crs)


def generate_city_grids(session: Session, *, households_range: tuple[int, int] = (300, 500), replace: bool = False,
                        progress: bool = False) -> GridResult:
    """Partition every community into grids; refuses when grids exist unless ``replace``. The caller commits."""
    city = city_of(session)
    existing = session.scalar(select(func.count()).select_from(Grid)) or 0
    if existing and not replace:
        raise Conflict(f"the city already has {existing} grids; pass --replace to draw them again", field="replace")
    session.execute(update(Building).values(grid_id=None))
    session.execute(delete(Grid))
    communities = community_frame(session, city.metric_epsg)
    buildings = building_frame(session, city.metric_epsg)
    by_community = buildings.groupby("community_id")
    households: list[int] = []
    assignment: list[dict] = []
    for _, com in tqdm(communities.iterrows(), total=len(communities), desc="drawing grids", unit=" communities",
                       disable=not progress, leave=False):
        own = by_community.get_group(com["id"]) if com["id"] in by_community.groups else buildings.iloc[0:0]
        try:
            part = generate_grids(com.geometry, own[["households", "geometry"]], households_range=households_range)
            codes = assign_codes(part.grids, stem=grid_stem(str(com["code"]), street_code=str(com["street"]),
                                                            district=city.district_code, scheme=city.code_scheme))
        except (GeoValidationError, ValueError) as exc:
            problems = exc.problems if isinstance(exc, GeoValidationError) else []
            raise InvalidInput(f"cannot draw the grids of community {describe(com['code'], com['name'])}: "
                               + places_in_lonlat(str(problems[0].message if problems else exc), city.metric_epsg),
                               field="community",
                               details=[places_in_lonlat(str(p), city.metric_epsg) for p in problems[1:20]]) from exc
        grid_ids = _insert_grids(session, com, part.grids, codes, city.metric_epsg)
        households += part.grids["households"].astype(int).tolist()
        assignment += [{"id": int(b), "grid_id": grid_ids[int(g)]} for b, g in part.assignment.items()]
    if assignment:
        session.execute(update(Building), assignment)
    session.flush()
    label_buildings(session)  # the fallback labels are numbered within grids
    return GridResult(len(households), len(communities), households_range, households)


def _insert_grids(session: Session, com: pd.Series, grids: gpd.GeoDataFrame, codes: pd.Series,
                  crs: int) -> dict[int, int]:
    wgs = grids.set_crs(crs, allow_override=True).to_crs(4326)
    geoms = ewkt([as_multipolygon(g) for g in wgs.geometry])
    ids: dict[int, int] = {}
    for (_, row), code, geom in zip(grids.iterrows(), codes, geoms, strict=True):
        seq = int(code[-3:])
        rid = session.execute(
            insert(Grid).values(community_id=int(com["id"]), code=code, name=f"{com['name']} 第{seq}网格", geom=geom)
            .returning(Grid.id)
        ).scalar_one()
        ids[int(row["grid_no"])] = rid
    return ids


def check_city_grids(session: Session, *, households_range: tuple[int, int] | None = (300, 500),
                     tolerance_m2: float = 1.0) -> CheckReport:
    """Gaps, overlaps, buildings in no or several grids, grids outside their community, duplicate codes."""
    city = city_of(session)
    communities = community_frame(session, city.metric_epsg)
    # communities by their official code and name in every message, not by database id
    label = {int(i): describe(c, n) for i, c, n in zip(communities["id"], communities["code"], communities["name"],
                                                      strict=True)}
    communities["community_id"] = communities["id"].map(label)
    grids = read_frame(session, [Grid.id, Grid.code, Grid.community_id], Grid.geom).to_crs(city.metric_epsg)
    grids["community_id"] = grids["community_id"].map(lambda c: label.get(int(c), f"#{int(c)}"))
    buildings = building_frame(session, city.metric_epsg)
    per_grid = buildings.groupby("grid_id")["households"].sum()
    grids["households"] = grids["id"].map(per_grid).fillna(0).astype(np.int64)
    check = check_grids(communities, grids, buildings, tolerance_m2=tolerance_m2, households_range=households_range)
    return CheckReport(check, places_in_lonlat(format_check(check), city.metric_epsg))


_PLACE = re.compile(r"\((-?[0-9]+(?:\.[0-9]+)?), (-?[0-9]+(?:\.[0-9]+)?)\)|\[(-?[0-9.]+(?:e[-+]?[0-9]+)?) "
                    r"(-?[0-9.]+(?:e[-+]?[0-9]+)?)\]")  # ours "(x, y)", GEOS's "[x y]"


def places_in_lonlat(text: str, epsg: int) -> str:
    """The check's places — ``(358231.4, 4833127.9)``, or GEOS's ``[358231.4 4833127.9]``, in the city's metric
    CRS — as lon/lat to 4 decimals."""
    to_wgs = pyproj.Transformer.from_crs(epsg, 4326, always_xy=True)

    def lonlat(match: re.Match[str]) -> str:
        x, y = (match.group(1), match.group(2)) if match.group(1) is not None else (match.group(3), match.group(4))
        lon, lat = to_wgs.transform(float(x), float(y))
        return f"(lon/lat {lon:.4f}, {lat:.4f})"

    return _PLACE.sub(lonlat, text)
