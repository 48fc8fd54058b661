"""Import delivered layers — subdistricts, communities, grids, buildings, responsible units — into the city.

All-or-nothing: the layer is checked completely first (:func:`geo.layers.prepare_layer`, then the checks that need
the database: each community's subdistrict and each grid's community, by the parent it names and by where it lies
(:mod:`geo.parents`), and codes that must start with their parent's); the database is written in the caller's
transaction only when nothing is wrong. Buildings follow: after communities or grids change, every building is
placed again in the community and grid that contain its representative point. The first layer imported into a city
made by ``gridpatrol city create`` defines its area and (unless given) its metric CRS.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from geo._checks import Kind
from geo.area_codes import free_codes, grid_stem, prefix_problem, scheme_of
from geo.city import as_multipolygon
from geo.errors import GeoValidationError, Problem
from geo.grids.codes import assign_codes
from geo.households import estimate_households
from geo.layers import LAYER_KINDS, prepare_layer
from geo.parents import (
    COMMUNITY_IN_SUBDISTRICT,
    GRID_IN_COMMUNITY,
    PARENT_MISMATCH,
    containing,
    describe,
    link_parents,
)
from geo.validation import summarize_problems
from patrol.cases.reference import ensure_reference_tables
from patrol.city.basemap_layers import write_map_areas, write_roads
from patrol.city.labels import label_buildings
from patrol.city.map_version import bump
from patrol.city.official import choose_metric_crs
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


def city_area(session: Session) -> shapely.Geometry | None:
    """The city's area in WGS-84: its subdistricts and communities together with the box around its buildings and
    roads (an OSM extract has buildings beyond its boundaries); None while the city has none of those (a city just
    created: its first layer defines its area)."""
    parts = []
    for model in (Subdistrict, Community):
        frame = read_frame(session, [model.id], model.geom)
        parts += list(frame.geometry.to_numpy())
    for model in (Building, RoadSegment):
        box = extent(session, model.geom)
        if box is not None:
            parts.append(shapely.box(*box))
    return shapely.union_all(parts) if parts else None


def import_layer(session: Session, kind: str, gdf: gpd.GeoDataFrame, *, source: str, datum: str = "wgs84",
                 replace: bool = False, dwelling_m2: float = 30.0, tolerance_m: float = 100.0,
                 columns: dict[str, str] | None = None, crs: str | None = None) -> LayerImportSummary:
    """Check ``gdf`` as a layer of ``kind`` and write it; the caller commits. ``columns`` maps canonical columns
    onto the file's, ``crs`` is the CRS of a file that declares none (:func:`geo.layers.prepare_layer`). Raises
    ImportFailed listing every problem, Conflict when the layer exists and ``replace`` is false, NotFound before
    any city."""
    city = session.scalars(select(City).limit(1)).first()
    if city is None:
        raise NotFound("no city yet: run `gridpatrol city create --name NAME --district-code NNNNNN` (official "
                       "layers) or `gridpatrol import FILE.osm.pbf` first", field="file")
    try:
        layer = prepare_layer(gdf, kind, city_area=city_area(session), metric_crs=city.metric_epsg or None,
                              datum=datum, tolerance_m=tolerance_m, columns=columns, crs=crs,
                              code_scheme=city.code_scheme, district_code=city.district_code)
    except GeoValidationError as exc:
        raise _failed(source, exc.problems) from exc
    choose_metric_crs(session, city, layer)
    writer = {"subdistricts": _subdistricts, "communities": _communities, "grids": _grids, "buildings": _buildings,
              "units": _units, "roads": _roads, "water": _map_areas, "green": _map_areas}[kind]
    summary = writer(session, city, layer, source=source, replace=replace, dwelling_m2=dwelling_m2, kind=kind)
    session.flush()
    if kind not in ("units", "water", "green"):
        label_buildings(session)  # new buildings, or new grids and communities the fallback labels count within
    ensure_reference_tables(session)
    bump(session)
    return summary


#: problems listed one per line (every parent mismatch), not summarised by kind
_LISTED = (PARENT_MISMATCH, "outside_subdistricts", "outside_communities", "unknown_subdistrict", "unknown_community",
           "code_prefix")


def _failed(source: str, problems: list[Problem]) -> ImportFailed:
    listed = [p for p in problems if p.kind in _LISTED]
    details = summarize_problems([p for p in problems if p.kind not in _LISTED])
    details += [f"{p.kind}: {p.message}" for p in listed]
    return ImportFailed(f"cannot import {source}: nothing was written", details=details)


def _count(session: Session, model) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def _refuse_without_replace(session: Session, model, kind: str, replace: bool) -> int:
    existing = _count(session, model)
    if existing and not replace:
        raise Conflict(f"the city already has {existing} {kind}; pass --replace to replace them", field="replace")
    return existing


# subdistricts --------------------------------------------------------------------------------------------------


def _subdistricts(session: Session, city: City, layer: gpd.GeoDataFrame, *, source: str, replace: bool,
                  **_) -> LayerImportSummary:
    existing = _refuse_without_replace(session, Subdistrict, "subdistricts", replace)
    codes = list(layer["code"])
    free = free_codes("", {c for c in codes if c is not None})
    metric = layer.to_crs(city.metric_epsg).geometry.representative_point()
    for i in sorted((i for i, c in enumerate(codes) if c is None), key=lambda i: (-round(metric.iloc[i].y, -2),
                                                                                   metric.iloc[i].x)):
        codes[i] = next(free)
    coms = read_frame(session, [Community.id, Community.code, Community.name], Community.geom)
    new = gpd.GeoDataFrame({"id": range(len(layer)), "code": codes, "name": layer["name"]},
                           geometry=layer.geometry.to_numpy(), crs=layer.crs)
    home = containing(coms.geometry.representative_point(), new) if existing else []
    lost = [Problem("outside_subdistricts", f"community {describe(c, n)} (already imported) lies in none of the "
                    f"new subdistricts (at {p.x:.4f}, {p.y:.4f})", None, "file")
            for c, n, h, p in zip(coms["code"], coms["name"], home, coms.geometry.representative_point(),
                                  strict=True) if h is None] if existing else []
    if lost:
        raise _failed(source, lost)
    old = list(session.scalars(select(Subdistrict.id)))
    for sid in old:  # out of the way of the new codes (unique) until the communities have moved
        session.execute(update(Subdistrict).where(Subdistrict.id == sid).values(code=f"~{sid}"))
    ids = []
    for c, n, g in zip(codes, layer["name"], ewkt(layer.geometry.to_numpy()), strict=True):
        ids.append(session.execute(insert(Subdistrict).values(code=c, name=n, osm_id=None, derived=False, geom=g)
                                   .returning(Subdistrict.id)).scalar_one())
    if existing:
        session.execute(update(Community), [{"id": int(c), "subdistrict_id": ids[h]}
                                            for c, h in zip(coms["id"], home, strict=True)])
        session.execute(delete(Subdistrict).where(Subdistrict.id.in_(old)))
    notes = [f"{len(coms)} communities were placed in the new subdistricts by location"] if existing and len(coms) \
        else []
    return LayerImportSummary("subdistricts", len(layer), existing, notes)


# communities ---------------------------------------------------------------------------------------------------


def _communities(session: Session, city: City, layer: gpd.GeoDataFrame, *, source: str, replace: bool,
                 **_) -> LayerImportSummary:
    existing = _refuse_without_replace(session, Community, "communities", replace)
    subs = read_frame(session, [Subdistrict.id, Subdistrict.code, Subdistrict.name], Subdistrict.geom)
    derived = []
    if subs.empty:
        derived = _derive_subdistricts(session, city, layer, source)
        subs = read_frame(session, [Subdistrict.id, Subdistrict.code, Subdistrict.name], Subdistrict.geom)
    sub_of, problems = link_parents(layer, subs, "subdistrict", COMMUNITY_IN_SUBDISTRICT)
    street = {int(i): str(c) for i, c in zip(subs["id"], subs["code"], strict=True)}
    for row, code, sid in zip(layer["row"], layer["code"], sub_of, strict=True):
        if code is not None and sid is not None:
            parent = street[sid] if len(street[sid]) == 9 else f"{city.district_code}{street[sid]}"
            if wrong := prefix_problem(code, parent, "communities", city.code_scheme):
                problems.append(Problem("code_prefix", f"row {int(row)}: {wrong}", int(row), "code"))
    if problems:
        raise _failed(source, problems)
    grids = _count(session, Grid)
    session.execute(update(Building).values(grid_id=None, community_id=None))
    session.execute(delete(Grid))
    session.execute(delete(Community))
    metric = layer.to_crs(city.metric_epsg)
    stems = {sid: (code if len(code) == 9 or scheme_of(city.code_scheme) == "own" else "")
             for sid, code in street.items()}
    codes = _area_codes(layer, [stems[int(s)] for s in sub_of], metric)
    rows = [{"subdistrict_id": int(s), "code": c, "name": n, "osm_id": None, "derived": False, "geom": g}
            for s, c, n, g in zip(sub_of, codes, layer["name"], ewkt(layer.geometry.to_numpy()), strict=True)]
    session.execute(insert(Community), rows)
    placed = _place_buildings(session, city)
    notes = [f"{placed} buildings lie in a community"]
    if derived:
        notes.append(f"no subdistricts 街道 were imported: derived {len(derived)} from the communities "
                     f"({', '.join(derived)}); import the real ones with --layer subdistricts --replace")
    if grids:
        notes.append(f"{grids} grids were removed with the old communities: run `gridpatrol grids generate` "
                     "or import a grids layer")
    return LayerImportSummary("communities", len(layer), existing, notes)


def _derive_subdistricts(session: Session, city: City, layer: gpd.GeoDataFrame, source: str) -> list[str]:
    """Subdistricts for communities imported before any: one per 9-digit prefix of 12-digit codes (gb), else one
    named after the city; each the union of its communities (marked ``derived``). Returns their codes."""
    if layer["subdistrict"].notna().any():
        raise ImportFailed(f"cannot import {source}: nothing was written",
                           details=["no_subdistricts: the communities name their subdistricts 街道 but none are "
                                    "imported: import them first (`gridpatrol import FILE --layer subdistricts`)"],
                           field="layer")
    codes = [c if isinstance(c, str) and len(c) == 12 and c.isdigit() and scheme_of(city.code_scheme) == "gb"
             else None for c in layer["code"]]
    keys = [c[:9] if c is not None and all(x is not None for x in codes) else "001" for c in codes]
    for key in sorted(set(keys)):
        part = shapely.union_all(layer.geometry.to_numpy()[[k == key for k in keys]])
        session.execute(insert(Subdistrict).values(code=key, name=city.name if key == "001" else key, osm_id=None,
                                                   derived=True, geom=ewkt([as_multipolygon(part)])[0]))
    return sorted(set(keys))


def _area_codes(layer: gpd.GeoDataFrame, stems: list[str], metric: gpd.GeoDataFrame) -> list[str]:
    """Codes as delivered where given, else the parent's stem (its 9-digit code, or under the own scheme its code;
    else nothing: 3 digits) + the next free 3-digit number in reading order within the parent."""
    codes = list(layer["code"])
    pts = metric.geometry.representative_point()
    frame = pd.DataFrame({"stem": stems, "code": codes, "y": -pts.y.round(-2).to_numpy(), "x": pts.x.to_numpy()})
    taken = set(frame["code"].dropna())
    for stem, group in frame.groupby("stem"):
        stem = str(stem) if len(str(stem)) <= 17 else ""
        free = free_codes(stem, taken)
        for i in group[group["code"].isna()].sort_values(["y", "x"]).index:
            codes[i] = next(free)
            taken.add(codes[i])
    return codes


# grids ---------------------------------------------------------------------------------------------------------


def _grids(session: Session, city: City, layer: gpd.GeoDataFrame, *, source: str, replace: bool,
           **_) -> LayerImportSummary:
    coms = read_frame(session, [Community.id, Community.code, Community.name, Community.subdistrict_id],
                      Community.geom)
    if coms.empty:
        raise ImportFailed(f"cannot import {source}: nothing was written",
                           details=["no_communities: import the communities 社区 first "
                                    "(`gridpatrol import FILE --layer communities`)"], field="layer")
    street = dict(session.execute(select(Subdistrict.id, Subdistrict.code)).all())
    community_of, problems = resolve_communities(layer, coms)
    stem = {int(i): _stem(str(c), str(street[int(s)]), city)
            for i, c, s in zip(coms["id"], coms["code"], coms["subdistrict_id"], strict=True)}
    for row, code, cid in zip(layer["row"], layer["code"], community_of, strict=True):
        if cid is None:
            continue
        if code is None and stem[cid] is None:
            problems.append(Problem(Kind.BAD_VALUE, f"row {int(row)}: give the grid a code: its community's code is "
                                    "too long to number grids after it", int(row), "code"))
        elif code is not None and (wrong := prefix_problem(code, stem[cid], "grids", city.code_scheme)):
            problems.append(Problem("code_prefix", f"row {int(row)}: {wrong}", int(row), "code"))
    if problems:
        raise _failed(source, problems)
    existing = _refuse_without_replace(session, Grid, "grids", replace)
    session.execute(update(Building).values(grid_id=None))
    session.execute(delete(Grid))
    layer = layer.assign(community_id=community_of)
    metric = layer.to_crs(city.metric_epsg)
    codes = pd.Series(layer["code"].to_numpy(), index=layer.index, dtype=object)
    for cid, group in metric.groupby("community_id"):
        missing = group[codes[group.index].isna()]
        if missing.empty:
            continue
        fresh = assign_codes(group.drop(columns=["code"]), stem=stem[int(cid)])
        free = free_codes(str(stem[int(cid)]), set(codes.dropna()))
        for i in fresh.loc[missing.index].sort_values().index:
            codes[i] = next(free)
    names = dict(zip(coms["id"], coms["name"], strict=True))
    rows = [{"community_id": int(c), "code": code,
             "name": n if n is not None else _grid_name(names[int(c)], code), "geom": g}
            for c, code, n, g in zip(layer["community_id"], codes, layer["name"], ewkt(layer.geometry.to_numpy()),
                                     strict=True)]
    session.execute(insert(Grid), rows)
    placed = _place_buildings(session, city, communities=False)
    total = _count(session, Building)
    notes = [f"{placed} of {total} buildings lie in a grid"]
    if placed < total:
        notes.append("run `gridpatrol grids check` to see the buildings in no grid")
    return LayerImportSummary("grids", len(layer), existing, notes)


def _grid_name(community: str, code: str) -> str:
    """``某社区 第3网格`` for a code ending in its sequence, else ``某社区 网格 CODE``."""
    return f"{community} 第{int(code[-3:])}网格" if code[-3:].isdigit() else f"{community} 网格 {code}"


def _stem(community_code: str, street_code: str, city: City) -> str | None:
    try:
        return grid_stem(community_code, street_code=street_code, district=city.district_code,
                         scheme=city.code_scheme)
    except ValueError:
        return None


def resolve_communities(layer: gpd.GeoDataFrame, coms: gpd.GeoDataFrame) -> tuple[list[int | None], list[Problem]]:
    """The community of each grid of a prepared grids layer: its ``community_id`` when the layer has one (it must
    exist), else the community it names (``community``: a name, or a code unique in the city), which must be the
    one holding its representative point, else that one (:func:`geo.parents.link_parents`). Returns the ids (None
    where a problem was found) and every problem."""
    known = {int(i) for i in coms["id"]}
    ids = [plain(i) for i in (layer["community_id"] if "community_id" in layer.columns else [None] * len(layer))]
    linked, problems = link_parents(layer, coms, "community", GRID_IN_COMMUNITY)
    by_id = [i for i, cid in enumerate(ids) if cid is not None]
    problems = [p for p in problems if p.feature_id not in {int(layer["row"].iloc[i]) for i in by_id}]
    result: list[int | None] = list(linked)
    for i in by_id:
        cid = int(ids[i])
        result[i] = cid if cid in known else None
        if cid not in known:
            problems.append(Problem("unknown_community", f"community_id {cid} is not a community",
                                    int(layer["row"].iloc[i]), "community_id"))
    return result, sorted(problems, key=lambda p: p.feature_id if isinstance(p.feature_id, int) else 0)


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


def _place_buildings(session: Session, city: City, *, communities: bool = True) -> int:
    """Put every building in the community (and grid) containing its representative point; return how many
    buildings lie in a grid (``communities=False``) or in a community."""
    buildings = read_frame(session, [Building.id], Building.geom)
    if buildings.empty:
        return 0
    points = buildings.geometry.representative_point()
    grids = read_frame(session, [Grid.id], Grid.geom)
    grid_of = containing(points, grids)
    values = [{"id": int(b), "grid_id": g} for b, g in zip(buildings["id"], grid_of, strict=True)]
    placed = sum(g is not None for g in grid_of)
    if communities:
        coms = read_frame(session, [Community.id], Community.geom)
        com_of = containing(points, coms)
        for v, c in zip(values, com_of, strict=True):
            v["community_id"] = c
        placed = sum(c is not None for c in com_of)
    session.execute(update(Building), values)
    return placed
