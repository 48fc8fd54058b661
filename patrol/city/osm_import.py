"""Import a city into the database: OpenStreetMap files, and the layers planners and surveying bureaus deliver.

All-or-nothing: the file is read, checked and assembled in memory first, every problem reported together; the
database is written in one transaction only when nothing is wrong, so a failed import leaves it unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from geo.city import CityModel, assemble_city
from geo.errors import GeoValidationError
from geo.labels import building_labels
from geo.osm import read_osm
from geo.validation import summarize_problems
from patrol.cases.reference import ensure_reference_tables
from patrol.city.basemap_layers import MAP_AREA_KINDS, write_map_areas
from patrol.city.map_version import bump
from patrol.city.rows import insert_chunked, plain
from patrol.core.errors import Conflict, ImportFailed
from patrol.core.frames import ewkt
from patrol.core.models import Building, City, Community, Grid, MapArea, RoadSegment, Subdistrict


@dataclass
class ImportSummary:
    city: str
    metric_epsg: int | None
    subdistricts: int
    communities: int
    buildings: int
    buildings_in_communities: int
    households: int
    roads: int
    road_km: float
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        crs = f"EPSG:{self.metric_epsg}" if self.metric_epsg else "not chosen yet: the first layer import chooses it"
        head = f"city: {self.city} (metric CRS {crs})" if self.city else (
            "city: none yet — `gridpatrol city create --name NAME --district-code NNNNNN` and import its layers "
            "(`gridpatrol import FILE --layer subdistricts` …), or `gridpatrol import FILE.osm.pbf`")
        return [
            head,
            f"subdistricts 街道: {self.subdistricts}",
            f"communities 社区: {self.communities}",
            (f"buildings 楼栋: {self.buildings} ({self.buildings_in_communities} inside communities), "
             f"households 户 (estimated): {self.households}"),
            f"road segments 道路: {self.roads} ({self.road_km:.1f} km)",
            *[f"note: {n}" for n in self.notes],
        ]


def read_city(path: str | Path, **options) -> CityModel:
    """Read and assemble a city from an ``.osm.pbf`` file; raise ImportFailed listing every problem class."""
    try:
        osm = read_osm(path)
        model = assemble_city(osm.buildings, osm.roads, osm.boundaries, **options)
    except GeoValidationError as exc:
        raise ImportFailed(f"cannot import {Path(path).name}", details=summarize_problems(exc.problems)) from exc
    model.areas = osm.areas
    if osm.repaired_buildings:
        model.notes.append(f"{osm.repaired_buildings} broken building outlines were repaired (make_valid)")
    return model


def city_exists(session: Session) -> City | None:
    return session.scalars(select(City).limit(1)).first()


def clear_city(session: Session) -> None:
    """Delete the city's spatial data (grids, buildings, roads, communities, subdistricts, the city row)."""
    session.execute(update(Building).values(grid_id=None))
    for model in (Grid, Building, RoadSegment, MapArea, Community, Subdistrict, City):
        session.execute(delete(model))


def store_city(session: Session, model: CityModel, *, source: str, district_code: str = "000000",
               replace: bool = False, progress: bool = False) -> ImportSummary:
    """Write an assembled city. Refuses to overwrite an existing city unless ``replace``; the caller commits."""
    existing = city_exists(session)
    # the map version never goes back (tile URLs ?v=N are cached for a year): a replaced city continues it
    version = (existing.map_version or 0) + 1 if existing is not None else 1
    if existing is not None:
        if not replace:
            raise Conflict(f"this database already holds a city ({existing.name}); pass --replace to replace it")
        clear_city(session)
    session.add(City(name=model.name, metric_epsg=int(model.metric_crs.to_epsg()), district_code=district_code,
                     source=source, map_version=version))
    sub_ids = _insert_areas(session, Subdistrict, model.subdistricts, {})
    com_ids = _insert_areas(session, Community, model.communities,
                            {"subdistrict_id": lambda row: sub_ids[int(row["subdistrict"])]})
    _insert_buildings(session, model.buildings, com_ids, city_labels(model), progress=progress)
    _insert_roads(session, model.roads, progress=progress)
    if model.areas is not None:
        for kind in MAP_AREA_KINDS:
            write_map_areas(session, kind, model.areas[model.areas["kind"] == kind], replace=True)
    session.flush()
    ensure_reference_tables(session)
    bump(session)
    return summarize(session, model.notes)


def summarize(session: Session, notes: list[str] | None = None) -> ImportSummary:
    city = city_exists(session)

    def count(table: type) -> int:
        return session.scalar(select(func.count()).select_from(table)) or 0

    return ImportSummary(
        city=city.name if city else "",
        metric_epsg=city.metric_epsg or None if city else None,  # None: no city, or its CRS not chosen yet
        subdistricts=count(Subdistrict),
        communities=count(Community),
        buildings=count(Building),
        buildings_in_communities=session.scalar(
            select(func.count()).select_from(Building).where(Building.community_id.is_not(None))) or 0,
        households=int(session.scalar(select(func.coalesce(func.sum(Building.households), 0))) or 0),
        roads=count(RoadSegment),
        road_km=float(session.scalar(select(func.coalesce(func.sum(RoadSegment.length_m), 0.0))) or 0.0) / 1000,
        notes=list(notes or []),
    )


def _insert_areas(session: Session, model, frame, extra: dict) -> dict[int, int]:
    ids: dict[int, int] = {}
    for (i, row), geom in zip(frame.iterrows(), ewkt(frame.geometry.to_numpy()), strict=True):
        values = {"code": row["code"], "name": row["name"], "osm_id": plain(row["osm_id"]),
                  "derived": bool(row["derived"]), "geom": geom}
        values.update({k: f(row) for k, f in extra.items()})
        obj = model(**values)
        session.add(obj)
        session.flush()
        ids[int(i)] = obj.id
    return ids


def city_labels(model: CityModel) -> pd.Series:
    """Each building's label from its OSM tags and the roads, the fallback numbered within its community (grids
    come later: drawing them labels those again)."""
    b = model.buildings.assign(group=model.buildings["community"].map(model.communities["name"]))
    return building_labels(b.to_crs(model.metric_crs), model.roads.to_crs(model.metric_crs))["label"]


def _insert_buildings(session: Session, b, com_ids: dict[int, int], labels: pd.Series, *, progress: bool) -> None:
    geoms = ewkt(b.geometry.to_numpy())
    community = [None if pd.isna(c) else com_ids[int(c)] for c in b["community"]]
    housenumbers = b["housenumber"] if "housenumber" in b.columns else [None] * len(b)
    rows = [
        {"osm_id": plain(o), "name": plain(n), "use": plain(u), "levels": plain(lv), "households": int(h),
         "households_estimated": bool(e), "address": plain(a), "housenumber": _short(plain(hn)), "label": plain(lab),
         "community_id": c, "geom": g}
        for o, n, u, lv, h, e, a, hn, lab, c, g in zip(
            b["osm_id"], b["name"], b["use"], b["levels"], b["households"], b["households_estimated"],
            b["address"], housenumbers, labels, community, geoms, strict=True)
    ]
    insert_chunked(session, Building, rows, "buildings", progress)


def _insert_roads(session: Session, r, *, progress: bool) -> None:
    geoms = ewkt(r.geometry.to_numpy())
    rows = [
        {"osm_id": plain(o), "name": plain(n), "highway": h, "oneway": bool(w), "length_m": float(m), "geom": g}
        for o, n, h, w, m, g in zip(r["osm_id"], r["name"], r["highway"], r["oneway"], r["length_m"], geoms,
                                    strict=True)
    ]
    insert_chunked(session, RoadSegment, rows, "roads", progress)


def _short(value: object, width: int = 40) -> str | None:
    """A house number as stored (``building.housenumber`` holds 40 characters)."""
    return None if value is None else str(value)[:width]
