"""Import delivered layers — communities, grids, buildings, responsible units — into the city.

All-or-nothing: the layer is checked completely first (:func:`geo.layers.prepare_layer`, then the checks that need
the database, such as a grid lying in no community); the database is written in the caller's transaction only when
nothing is wrong. Buildings follow: after communities or grids change, every building is placed again in the
community and grid that contain its representative point.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from geo.errors import GeoValidationError, Problem
from geo.grids.codes import assign_codes
from geo.households import estimate_households
from geo.layers import LAYER_KINDS, prepare_layer
from geo.validation import summarize_problems
from patrol.city.basemap_layers import ensure_metric_epsg, write_map_areas, write_roads
from patrol.city.labels import label_buildings
from patrol.city.map_version import bump
from patrol.city.rows import insert_chunked, plain
from patrol.core.dialect import extent
from patrol.core.errors import Conflict, ImportFailed, NotFound
from patrol.core.frames import ewkt, read_frame
from patrol.core.models import Building, City, Community, Grid, ResponsibleUnit, RoadSegment, Subdistrict

KINDS = tuple(LAYER_KINDS)


@dataclass
class LayerImportSummary:
    kind: str
    imported: int
    replaced: int = 0
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        head = f"imported {self.imported} {self.kind}"
        if self.replaced:
            head += f" (replacing {self.replaced})"
        return [head, *[f"note: {n}" for n in self.notes]]


def city_area(session: Session) -> shapely.Geometry:
    """The city's area in WGS-84: its subdistricts and communities together with the box around its buildings and
    roads (an OSM extract has buildings beyond its boundaries)."""
    parts = []
    for model in (Subdistrict, Community):
        frame = read_frame(session, [model.id], model.geom)
        parts += list(frame.geometry.to_numpy())
    for model in (Building, RoadSegment):
        box = extent(session, model.geom)
        if box is not None:
            parts.append(shapely.box(*box))
    if not parts:
        raise NotFound("the city has no area yet: import an OpenStreetMap file first "
                       "(`gridpatrol import FILE.osm.pbf`)")
    return shapely.union_all(parts)


def import_layer(session: Session, kind: str, gdf: gpd.GeoDataFrame, *, source: str, datum: str = "wgs84",
                 replace: bool = False, dwelling_m2: float = 30.0, tolerance_m: float = 100.0) -> LayerImportSummary:
    """Check ``gdf`` as a layer of ``kind`` and write it; the caller commits. Raises ImportFailed listing every
    problem class, Conflict when the layer exists and ``replace`` is false, NotFound before any city."""
    city = session.scalars(select(City).limit(1)).first()
    if city is None:
        raise NotFound("no city imported yet: run `gridpatrol import FILE.osm.pbf` first", field="file")
    try:
        layer = prepare_layer(gdf, kind, city_area=_area_or_none(session), metric_crs=city.metric_epsg or None,
                              datum=datum, tolerance_m=tolerance_m)
    except GeoValidationError as exc:
        raise _failed(source, exc.problems) from exc
    ensure_metric_epsg(city, layer)
    writer = {"communities": _communities, "grids": _grids, "buildings": _buildings, "units": _units,
              "roads": _roads, "water": _map_areas, "green": _map_areas}[kind]
    summary = writer(session, city, layer, source=source, replace=replace, dwelling_m2=dwelling_m2, kind=kind)
    session.flush()
    if kind not in ("units", "water", "green"):
        label_buildings(session)  # new buildings, or new grids and communities the fallback labels count within
    if kind != "units":
        bump(session)  # the basemap tiles draw it
    return summary


def _area_or_none(session: Session) -> shapely.Geometry | None:
    """The city's area, or None while it has none (a city just created: its first layer is not checked against)."""
    try:
        return city_area(session)
    except NotFound:
        return None


def _failed(source: str, problems: list[Problem]) -> ImportFailed:
    return ImportFailed(f"cannot import {source}: nothing was written", details=summarize_problems(problems))


def _count(session: Session, model) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def _refuse_without_replace(session: Session, model, kind: str, replace: bool) -> int:
    existing = _count(session, model)
    if existing and not replace:
        raise Conflict(f"the city already has {existing} {kind}; pass --replace to replace them", field="replace")
    return existing


# communities ---------------------------------------------------------------------------------------------------


def _communities(session: Session, city: City, layer: gpd.GeoDataFrame, *, source: str, replace: bool,
                 **_) -> LayerImportSummary:
    existing = _refuse_without_replace(session, Community, "communities", replace)
    subs = read_frame(session, [Subdistrict.id, Subdistrict.code, Subdistrict.name], Subdistrict.geom)
    sub_of = _subdistrict_of(layer, subs, source)
    grids = _count(session, Grid)
    session.execute(update(Building).values(grid_id=None, community_id=None))
    session.execute(delete(Grid))
    session.execute(delete(Community))
    metric = layer.to_crs(city.metric_epsg)
    codes = _area_codes(layer, sub_of, metric)
    rows = [{"subdistrict_id": int(s), "code": c, "name": n, "osm_id": None, "derived": False, "geom": g}
            for s, c, n, g in zip(sub_of, codes, layer["name"], ewkt(layer.geometry.to_numpy()), strict=True)]
    session.execute(insert(Community), rows)
    placed = _place_buildings(session, city)
    notes = [f"{placed} buildings lie in a community"]
    if grids:
        notes.append(f"{grids} grids were removed with the old communities: run `gridpatrol grids generate` "
                     "or import a grids layer")
    return LayerImportSummary("communities", len(layer), existing, notes)


def _subdistrict_of(layer: gpd.GeoDataFrame, subs: gpd.GeoDataFrame, source: str) -> list[int]:
    """Each community's subdistrict: by the ``subdistrict`` column (name or code) or else by location."""
    points = layer.geometry.representative_point()
    by_location = _containing(points, subs)
    by_key = {str(k): int(i) for i, k in zip(subs["id"], subs["name"], strict=True)}
    by_key |= {str(k): int(i) for i, k in zip(subs["id"], subs["code"], strict=True)}
    problems, result = [], []
    for row, given, located in zip(layer["row"], layer["subdistrict"], by_location, strict=True):
        if given is not None and given not in by_key:
            problems.append(Problem("unknown_subdistrict", f"no subdistrict named or coded {given!r}", int(row),
                                    "subdistrict"))
        elif given is not None:
            result.append(by_key[given])
        elif located is not None:
            result.append(located)
        else:
            problems.append(Problem("outside_subdistricts", "the community lies in no subdistrict", int(row)))
    if problems:
        raise _failed(source, problems)
    return result


def _area_codes(layer: gpd.GeoDataFrame, parent: list[int], metric: gpd.GeoDataFrame) -> list[str]:
    """3-digit codes: as delivered where given, else the next free numbers in reading order within the parent."""
    codes = list(layer["code"])
    pts = metric.geometry.representative_point()
    frame = pd.DataFrame({"parent": parent, "code": codes, "y": -pts.y.round(-2), "x": pts.x})
    for _, group in frame.groupby("parent"):
        taken = set(group["code"].dropna())
        free = (f"{n:03d}" for n in range(1, 1000) if f"{n:03d}" not in taken)
        for i in group[group["code"].isna()].sort_values(["y", "x"]).index:
            codes[i] = next(free)
    return codes


# grids ---------------------------------------------------------------------------------------------------------


def _grids(session: Session, city: City, layer: gpd.GeoDataFrame, *, source: str, replace: bool,
           **_) -> LayerImportSummary:
    coms = read_frame(session, [Community.id, Community.code, Community.name, Community.subdistrict_id],
                      Community.geom)
    community_of = _community_of(layer, coms, source)
    existing = _refuse_without_replace(session, Grid, "grids", replace)
    session.execute(update(Building).values(grid_id=None))
    session.execute(delete(Grid))
    street = dict(session.execute(select(Subdistrict.id, Subdistrict.code)).all())
    layer = layer.assign(community_id=community_of)
    metric = layer.to_crs(city.metric_epsg)
    codes = pd.Series(layer["code"].to_numpy(), index=layer.index, dtype=object)
    for cid, group in metric.groupby("community_id"):
        missing = group[codes[group.index].isna()]
        if missing.empty:
            continue
        com = coms.loc[coms["id"] == cid].iloc[0]
        fresh = assign_codes(group.drop(columns=["code"]), district=city.district_code,
                             street=int(street[int(com["subdistrict_id"])]), community=int(com["code"]))
        taken = set(codes.dropna())
        stem = fresh.iloc[0][:12]
        free = (f"{stem}{n:03d}" for n in range(1, 1000) if f"{stem}{n:03d}" not in taken)
        for i in fresh.loc[missing.index].sort_values().index:
            codes[i] = next(free)
    names = dict(zip(coms["id"], coms["name"], strict=True))
    rows = [{"community_id": int(c), "code": code,
             "name": n if n is not None else f"{names[int(c)]} 第{int(code[-3:])}网格", "geom": g}
            for c, code, n, g in zip(layer["community_id"], codes, layer["name"], ewkt(layer.geometry.to_numpy()),
                                     strict=True)]
    session.execute(insert(Grid), rows)
    placed = _place_buildings(session, city, communities=False)
    total = _count(session, Building)
    notes = [f"{placed} of {total} buildings lie in a grid"]
    if placed < total:
        notes.append("run `gridpatrol grids check` to see the buildings in no grid")
    return LayerImportSummary("grids", len(layer), existing, notes)


def _community_of(layer: gpd.GeoDataFrame, coms: gpd.GeoDataFrame, source: str) -> list[int]:
    ids, problems = resolve_communities(layer, coms)
    if problems:
        raise _failed(source, problems)
    return [int(i) for i in ids if i is not None]


def resolve_communities(layer: gpd.GeoDataFrame, coms: gpd.GeoDataFrame) -> tuple[list[int | None], list[Problem]]:
    """The community of each grid of a prepared grids layer: its ``community_id`` when the layer has one (it must
    exist), else its ``community`` (a name, or a code unique in the city), else the community holding its
    representative point. Returns the ids (None where a problem was found) and every problem."""
    located = _containing(layer.geometry.representative_point(), coms)
    known = {int(i) for i in coms["id"]}
    by_key = {str(k): int(i) for i, k in zip(coms["id"], coms["name"], strict=True)}
    by_key |= {str(k): int(i) for i, k in zip(coms["id"], coms["code"], strict=True)
               if list(coms["code"]).count(k) == 1}
    ids = layer["community_id"] if "community_id" in layer.columns else [None] * len(layer)
    problems: list[Problem] = []
    result: list[int | None] = []
    for row, cid, given, loc in zip(layer["row"], map(plain, ids), layer["community"], located, strict=True):
        if cid is not None:
            if int(cid) not in known:
                problems.append(Problem("unknown_community", f"community_id {int(cid)} is not a community", int(row),
                                        "community_id"))
            result.append(int(cid) if int(cid) in known else None)
        elif given is not None and given not in by_key:
            problems.append(Problem("unknown_community", f"no community named or coded {given!r}", int(row),
                                    "community"))
            result.append(None)
        elif given is not None:
            result.append(by_key[given])
        elif loc is not None:
            result.append(loc)
        else:
            problems.append(Problem("outside_communities", "the grid lies in no community", int(row),
                                    "community_id"))
            result.append(None)
    return result, problems


# buildings and units -------------------------------------------------------------------------------------------


def _buildings(session: Session, city: City, layer: gpd.GeoDataFrame, *, replace: bool, dwelling_m2: float,
               **_) -> LayerImportSummary:
    existing = _count(session, Building) if replace else 0
    if replace:
        session.execute(delete(Building))
    metric = layer.to_crs(city.metric_epsg)
    estimate = estimate_households(metric.assign(use=metric["use"].fillna("yes")), building_col="use",
                                   levels_col="levels", dwelling_m2=dwelling_m2)
    surveyed = (layer["households"].notna() & ~layer["households_estimated"].astype(bool)).to_numpy()
    households = np.where(surveyed, layer["households"].fillna(0).to_numpy(dtype=np.int64),
                          estimate["households"].to_numpy())
    rows = [{"osm_id": plain(o), "name": n, "use": u, "levels": plain(lv), "households": int(h),
             "households_estimated": not bool(s), "residents": plain(r), "address": a,
             "housenumber": None if plain(hn) is None else str(hn)[:40], "geom": g}
            for o, n, u, lv, h, s, r, a, hn, g in zip(
                layer["osm_id"], layer["name"], layer["use"], layer["levels"], households, surveyed,
                layer["residents"], layer["address"], layer["housenumber"], ewkt(layer.geometry.to_numpy()),
                strict=True)]
    insert_chunked(session, Building, rows, "buildings", progress=False)
    _place_buildings(session, city)
    notes = [(f"households: {int(surveyed.sum())} surveyed, {int((~surveyed).sum())} estimated from footprint × "
              f"levels ÷ {dwelling_m2:g} m²")]
    return LayerImportSummary("buildings", len(layer), existing, notes)


def _units(session: Session, city: City, layer: gpd.GeoDataFrame, *, replace: bool, **_) -> LayerImportSummary:
    existing = _count(session, ResponsibleUnit) if replace else 0
    if replace:
        session.execute(delete(ResponsibleUnit))
    jur = [None if j is None else ewkt([j])[0] for j in layer["jurisdiction"]]
    rows = [{"type": t, "name": n, "phone": p, "geom": g, "jurisdiction": j}
            for t, n, p, g, j in zip(layer["type"], layer["name"], layer["phone"], ewkt(layer.geometry.to_numpy()),
                                     jur, strict=True)]
    session.execute(insert(ResponsibleUnit), rows)
    types = layer["type"].value_counts()
    notes = ["types: " + ", ".join(f"{t} {n}" for t, n in types.items())]
    return LayerImportSummary("units", len(layer), existing, notes)


# roads, water and green (patrol.city.basemap_layers) -------------------------------------------------------------


def _roads(session: Session, city: City, layer: gpd.GeoDataFrame, *, replace: bool, **_) -> LayerImportSummary:
    replaced, notes = write_roads(session, city, layer, replace=replace)
    return LayerImportSummary("road segments", len(layer), replaced, notes)


def _map_areas(session: Session, city: City, layer: gpd.GeoDataFrame, *, replace: bool, kind: str,
               **_) -> LayerImportSummary:
    replaced = write_map_areas(session, kind, layer, replace=replace)
    return LayerImportSummary(f"{kind} areas", len(layer), replaced, ["drawn on the basemap"])


# placing buildings ---------------------------------------------------------------------------------------------


def _containing(points: gpd.GeoSeries, areas: gpd.GeoDataFrame) -> list[int | None]:
    """The ``id`` of the first area containing each point, or None."""
    result: list[int | None] = [None] * len(points)
    if areas.empty or points.empty:
        return result
    pt_idx, area_idx = areas.sindex.query(points.to_numpy(), predicate="within")
    ids = areas["id"].to_numpy()
    for p, a in sorted(zip(pt_idx, area_idx, strict=True), reverse=True):
        result[p] = int(ids[a])
    return result


def _place_buildings(session: Session, city: City, *, communities: bool = True) -> int:
    """Put every building in the community (and grid) containing its representative point; return how many
    buildings lie in a grid (``communities=False``) or in a community."""
    buildings = read_frame(session, [Building.id], Building.geom)
    if buildings.empty:
        return 0
    points = buildings.geometry.representative_point()
    grids = read_frame(session, [Grid.id], Grid.geom)
    grid_of = _containing(points, grids)
    values = [{"id": int(b), "grid_id": g} for b, g in zip(buildings["id"], grid_of, strict=True)]
    placed = sum(g is not None for g in grid_of)
    if communities:
        coms = read_frame(session, [Community.id], Community.geom)
        com_of = _containing(points, coms)
        for v, c in zip(values, com_of, strict=True):
            v["community_id"] = c
        placed = sum(c is not None for c in com_of)
    session.execute(update(Building), values)
    return placed
