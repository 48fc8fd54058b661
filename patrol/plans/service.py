"""Versioned grid plans (网格调整方案): draft, edit, validate, see the impact, publish with an effective date, roll back.

The ``grid`` table always holds the grids **in force**; every other module reads it. A plan (:class:`GridPlan`) is a
version of the whole grid layer in ``grid_plan_grid``:

- **baseline**: the first time plans are used, the grids in force are recorded as a published plan, so history
  starts somewhere. When the grids were changed outside plans since (``grids generate --replace``, a grids layer
  import), the next plan operation records them again as a new baseline.
- **draft**: a copy of the grids in force that a planner edits — split a grid along a line, merge grids, move the
  boundary between two neighbours, reshape a grid (its neighbours in the community lose what it gains and take
  what it gives up), set a grid's geometry / name / worker, or replace everything with an uploaded layer
  (GeoPackage, GeoJSON, zipped Shapefile). Edits are done in the city's metric CRS.
- **validate**: :func:`geo.grids.check.check_grids` on the draft (gaps, overlaps, slivers, grids leaving their
  community, buildings cut or in no grid, households out of range, multipart grids, duplicate codes, invalid
  geometries), every problem at once with its place in WGS-84.
- **impact**: per grid, before and after: households, buildings, street length, open cases, cases of the last 90
  days, worker; and GeoJSON of what moves (areas, buildings, open cases).
- **publish**: in one transaction: refused (409) while validation finds a fatal problem; ``grid`` is updated in
  place by code (same code → same row id), new codes are inserted, and grids whose code disappears are deleted
  once nothing points at them any more. Then:

  * buildings are placed again by their representative point;
  * **open cases** move to the grid now holding their point, with a ``regrid`` event in their timeline
    ("网格调整 A → B"); an open case assigned to its old grid's worker follows the new grid's worker when that
    grid has one and it is someone else;
  * pending 回头看 revisits move with their case's point, to the new grid and its worker;
  * **closed cases** (closed, rejected, duplicate) are history: they keep their grid while its code survives
    (same row, possibly a new shape), and only when their grid is deleted do they move to the grid now holding
    their point (no timeline event). The grid a case had when it was reported is always recoverable from the
    plans (:func:`grid_at`);
  * patrols of a deleted grid keep no grid (``grid_id`` NULL, as the foreign key says);
  * the plan in force before becomes ``superseded``; :func:`grid_version` changes, so the per-process caches of
    :mod:`patrol.cases.batch` (point location) and :mod:`patrol.analytics.service` (coverage) are rebuilt.

- **history**: a plan is in force from the moment it was published (``published_at``) until the next one; a case
  reported before the first plan had the baseline's grids. ``effective_from`` is the official date the planner
  gives (today or earlier; scheduling a future date is not supported: publish on that day).
- **rollback**: publishes a copy of the plan in force before the current one, as a new plan, so history stays
  linear (rolling back twice returns to where one started). It takes the same path as publishing but is not
  refused for validation problems: those grids were in force before.
"""

from __future__ import annotations

import datetime as dt
import io
import multiprocessing
import re
import tempfile
import zipfile
from functools import lru_cache
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from shapely.geometry import shape
from sqlalchemy import delete, func, insert, literal, select, text, update
from sqlalchemy.orm import Session

from geo.city import as_multipolygon
from geo.grids.check import FATAL, check_grids, problem_location
from patrol.core.auth import Actor
from patrol.core.dialect import at_point
from patrol.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from patrol.core.frames import ewkt, read_frame
from patrol.cases.lifecycle import CLOSED, OPEN
from patrol.core.models import (
    Building,
    Case,
    CaseEvent,
    City,
    Community,
    Grid,
    GridPlan,
    GridPlanGrid,
    Revisit,
    RoadSegment,
    Subdistrict,
    User,
)
from patrol.core.settings import Settings
from patrol.cases.worktime import local_today

PLANNERS = ("planner", "admin")
RECENT_DAYS = 90
FORMATS = {"gpkg": ("application/geopackage+sqlite3", ".gpkg"), "geojson": ("application/geo+json", ".geojson"),
           "shp": ("application/zip", ".zip")}
_CODE = re.compile(r"[0-9]{15}")
_TINY_M2 = 0.01  # pieces and holes this small (m²) left by floating-point noise in edits are dropped
# check_grids problem kinds → the GridCheck count they belong to (to tell errors from warnings)
_KIND_COUNT = {"gap": "gaps", "overlap": "overlaps", "building_in_no_grid": "buildings_in_no_grid",
               "building_in_several_grids": "buildings_in_several_grids",
               "grid_outside_community": "grids_outside_community", "duplicate_code": "duplicate_codes",
               "invalid_geometry": "invalid_geometries", "sliver": "slivers", "building_cut": "buildings_cut",
               "households_out_of_range": "households_out_of_range", "multipart_grid": "multipart_grids"}


# ---------------------------------------------------------------------------------------------- basics


def require_planner(actor: Actor) -> None:
    if actor.role not in PLANNERS:
        raise Forbidden(f"a {actor.role} cannot work on grid plans; planners and admins do", field="role")


def grid_version(session: Session) -> int | None:
    """One cheap signal that changes whenever the grids in force change through plans (publish, rollback, a new
    baseline): the id of the latest non-draft plan. Caches keyed by grid count and last id add it, because a
    publish updates grids in place."""
    return session.scalar(select(func.max(GridPlan.id)).where(GridPlan.status != "draft"))


def _city(session: Session) -> City:
    city = session.scalars(select(City).limit(1)).first()
    if city is None:
        raise NotFound("no city imported yet: run `gridpatrol import FILE.osm.pbf` first")
    return city


@lru_cache(maxsize=16)
def _transformer(src: int, dst: int) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(src, dst, always_xy=True)


def _project(geom: shapely.Geometry, src: int, dst: int) -> shapely.Geometry:
    tr = _transformer(src, dst)
    return shapely.transform(geom, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))


def _today(settings: Settings) -> dt.date:
    return local_today(settings.timezone)


def _plan(session: Session, plan_id: int, *, draft: bool = False, lock: bool = False) -> GridPlan:
    stmt = select(GridPlan).where(GridPlan.id == plan_id)
    if lock and session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    plan = session.scalars(stmt).first()
    if plan is None:
        raise NotFound(f"no grid plan {plan_id}", field="plan_id")
    if draft and plan.status != "draft":
        raise Conflict(f"plan {plan_id} is {plan.status}: only a draft can be changed; open a new draft "
                       "(POST /api/v1/plans, or `gridpatrol plans new`)", field="plan_id")
    return plan


def _serialize(session: Session) -> None:
    """One plan writer at a time on PostgreSQL (a transaction-scoped advisory lock); SQLite serializes writers."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(7342019)"))


def _in_force(session: Session) -> GridPlan | None:
    return session.scalars(select(GridPlan).where(GridPlan.status == "published")
                           .order_by(GridPlan.published_at.desc(), GridPlan.id.desc()).limit(1)).first()


def _plan_frame(session: Session, plan_id: int) -> gpd.GeoDataFrame:
    c = GridPlanGrid
    return read_frame(session, [c.id, c.code, c.name, c.community_id, c.worker_id], c.geom,
                      where=[c.plan_id == plan_id], order_by=[c.code])


def _grid_frame(session: Session) -> gpd.GeoDataFrame:
    return read_frame(session, [Grid.id, Grid.code, Grid.name, Grid.community_id, Grid.worker_id], Grid.geom,
                      order_by=[Grid.code])


def _copy_grids(session: Session, plan_id: int) -> None:
    """The grids in force into plan ``plan_id`` (geometries copied by the database, bit for bit)."""
    session.execute(insert(GridPlanGrid).from_select(
        ["plan_id", "code", "name", "community_id", "worker_id", "geom"],
        select(literal(plan_id), Grid.code, Grid.name, Grid.community_id, Grid.worker_id, Grid.geom)))


def _copy_plan(session: Session, source_id: int, plan_id: int) -> None:
    c = GridPlanGrid
    session.execute(insert(GridPlanGrid).from_select(
        ["plan_id", "code", "name", "community_id", "worker_id", "geom"],
        select(literal(plan_id), c.code, c.name, c.community_id, c.worker_id, c.geom).where(c.plan_id == source_id)))


def _same_grids(a: gpd.GeoDataFrame, b: gpd.GeoDataFrame) -> bool:
    if len(a) != len(b) or list(a["code"]) != list(b["code"]):
        return False
    if list(a["community_id"]) != list(b["community_id"]):
        return False
    return bool(np.all(shapely.equals_exact(a.geometry.to_numpy(), b.geometry.to_numpy(), tolerance=1e-9)))


def ensure_baseline(session: Session, actor: Actor | None = None, *, now: dt.datetime | None = None
                    ) -> GridPlan | None:
    """The plan in force, recording the grids in force as a published baseline plan first when there is no plan
    yet or they were changed outside plans since. None when the city has no grids and no plans."""
    current = _in_force(session)
    grids = _grid_frame(session)
    if current is not None and _same_grids(grids, _plan_frame(session, current.id)):
        return current
    if current is None and grids.empty:
        return None
    now = now or dt.datetime.now(dt.UTC)
    first = current is None and session.scalar(select(func.count(GridPlan.id))) == 0
    plan = GridPlan(name="baseline" if first else "grids changed outside plans", status="published",
                    based_on_id=current.id if current else None, created_by=actor.user_id if actor else None,
                    created_at=now, published_at=now, published_by=actor.user_id if actor else None,
                    note="the grids in force when plans were first used" if first
                    else "recorded automatically: the grids were regenerated or imported outside plans")
    session.add(plan)
    session.flush()
    _copy_grids(session, plan.id)
    if current is not None:
        current.status = "superseded"
    session.flush()
    return plan


def plan_dict(session: Session, plan: GridPlan) -> dict:
    n = session.scalar(select(func.count(GridPlanGrid.id)).where(GridPlanGrid.plan_id == plan.id)) or 0
    return {"id": plan.id, "name": plan.name, "status": plan.status, "based_on": plan.based_on_id,
            "created_by": plan.created_by, "created_at": _iso(plan.created_at),
            "published_at": _iso(plan.published_at), "published_by": plan.published_by,
            "effective_from": plan.effective_from.isoformat() if plan.effective_from else None,
            "note": plan.note, "grids": int(n)}


def _iso(t: dt.datetime | None) -> str | None:
    if t is None:
        return None
    return (t if t.tzinfo else t.replace(tzinfo=dt.UTC)).isoformat()


# ---------------------------------------------------------------------------------------------- plans


def list_plans(session: Session, actor: Actor) -> list[dict]:
    require_planner(actor)
    plans = session.scalars(select(GridPlan).order_by(GridPlan.id.desc())).all()
    return [plan_dict(session, p) for p in plans]


def get_plan(session: Session, actor: Actor, plan_id: int) -> GridPlan:
    require_planner(actor)
    return _plan(session, plan_id)


def create_draft(session: Session, actor: Actor, *, name: str | None = None, note: str | None = None,
                 now: dt.datetime | None = None) -> GridPlan:
    """A new draft holding a copy of the grids in force."""
    require_planner(actor)
    _serialize(session)
    now = now or dt.datetime.now(dt.UTC)
    base = ensure_baseline(session, actor, now=now)
    if base is None:
        raise Conflict("the city has no grids yet: draw them first (gridpatrol grids generate)", field="plan")
    plan = GridPlan(name=name or f"draft {now.date().isoformat()}", status="draft", based_on_id=base.id,
                    created_by=actor.user_id, created_at=now, note=note)
    session.add(plan)
    session.flush()
    _copy_grids(session, plan.id)
    session.flush()
    return plan


def delete_draft(session: Session, actor: Actor, plan_id: int) -> None:
    require_planner(actor)
    plan = _plan(session, plan_id, draft=True)
    session.execute(delete(GridPlanGrid).where(GridPlanGrid.plan_id == plan.id))
    session.delete(plan)
    session.flush()


def plan_geojson(session: Session, actor: Actor, plan_id: int) -> dict:
    """The plan's grids as a GeoJSON FeatureCollection (WGS-84) with the plan's metadata in ``plan``."""
    plan = get_plan(session, actor, plan_id)
    frame = _plan_frame(session, plan.id)
    workers = dict(session.execute(select(User.id, User.display_name)).all())
    features = []
    for row, g in zip(frame.itertuples(index=False), frame.geometry, strict=True):
        features.append({"type": "Feature", "id": row.code, "geometry": shapely.geometry.mapping(g),
                         "properties": {"code": row.code, "name": row.name, "community_id": _int(row.community_id),
                                        "worker_id": _int(row.worker_id),
                                        "worker": workers.get(_int(row.worker_id))}})
    return {"type": "FeatureCollection", "plan": plan_dict(session, plan), "features": features}


def _int(v) -> int | None:
    return None if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA else int(v)


# ---------------------------------------------------------------------------------------------- editing a draft


def _geometry(value: object, *, field: str, kinds: tuple[str, ...]) -> shapely.Geometry:
    """A GeoJSON geometry given in WGS-84 longitude/latitude, of one of ``kinds``."""
    try:
        geom = shape(value)  # type: ignore[arg-type]
    except (AttributeError, KeyError, TypeError, ValueError, IndexError, shapely.errors.ShapelyError):
        raise InvalidInput(f"{field} must be a GeoJSON geometry ({' or '.join(kinds)}) in WGS-84 "
                           "longitude/latitude", field=field) from None
    if geom.geom_type not in kinds:
        raise InvalidInput(f"{field} must be a {' or '.join(kinds)}, got a {geom.geom_type}", field=field)
    if geom.is_empty:
        raise InvalidInput(f"{field} is empty", field=field)
    minx, miny, maxx, maxy = geom.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise InvalidInput(f"{field} must be in WGS-84 longitude/latitude (EPSG:4326); got coordinates up to "
                           f"({maxx:g}, {maxy:g})", field=field)
    return geom


def _rows(session: Session, plan_id: int, codes: list[str], epsg: int) -> dict[str, tuple[GridPlanGrid, object]]:
    """The plan's grids of ``codes`` with their geometries in the metric CRS; 404 naming a missing code."""
    found = {}
    for code in codes:
        row = session.scalars(select(GridPlanGrid).where(GridPlanGrid.plan_id == plan_id,
                                                         GridPlanGrid.code == code)).first()
        if row is None:
            raise NotFound(f"plan {plan_id} has no grid {code!r}", field="code")
        wkb = session.scalar(select(func.ST_AsBinary(GridPlanGrid.geom)).where(GridPlanGrid.id == row.id))
        found[code] = (row, _project(shapely.from_wkb(bytes(wkb)), 4326, epsg))
    return found


def _community_rows(session: Session, plan_id: int, community_id: int | None, epsg: int,
                    exclude: set[str]) -> dict[str, tuple[GridPlanGrid, object]]:
    rows = session.scalars(select(GridPlanGrid).where(GridPlanGrid.plan_id == plan_id,
                                                      GridPlanGrid.community_id == community_id)).all()
    return _rows(session, plan_id, [r.code for r in rows if r.code not in exclude], epsg)


def _tidy(geom: shapely.Geometry) -> shapely.MultiPolygon:
    """Valid polygonal parts without the specks and pinholes floating-point noise leaves behind."""
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
    parts = []
    for p in shapely.get_parts(geom):
        if p.geom_type != "Polygon" or p.area <= _TINY_M2:
            continue
        holes = [h for h in p.interiors if shapely.Polygon(h).area > _TINY_M2]
        parts.append(shapely.Polygon(p.exterior, holes))
    return shapely.MultiPolygon(parts)


def _store(session: Session, row: GridPlanGrid, geom_metric: shapely.Geometry, epsg: int) -> None:
    row.geom = ewkt([as_multipolygon(_project(geom_metric, epsg, 4326))])[0]


def _extend(line: shapely.LineString, metres: float = 1.0) -> shapely.LineString:
    """The line with both end segments lengthened a little, so a line drawn to a boundary crosses it."""
    coords = np.asarray(line.coords, dtype=float)
    if len(coords) < 2:
        return line
    for end, prev in ((0, 1), (-1, -2)):
        d = coords[end] - coords[prev]
        n = float(np.hypot(*d))
        if n > 0:
            coords[end] = coords[end] + d / n * metres
    return shapely.LineString(coords)


def _cut(geom: shapely.Geometry, line: shapely.LineString) -> list[shapely.Polygon]:
    from shapely.ops import split

    pieces = [p for p in shapely.get_parts(split(geom, _extend(line))) if p.geom_type == "Polygon"]
    return [p for p in pieces if p.area > _TINY_M2]


def _next_code(session: Session, plan_id: int, code: str, community_id: int | None) -> str:
    """The next free code of the community: its 12-digit stem and a sequence not used by any grid in force, in
    this plan or in any plan before (a code never names two different grids in the history)."""
    stem = code[:12] if _CODE.fullmatch(code or "") else None
    if stem is None:
        com = session.get(Community, community_id) if community_id is not None else None
        if com is None:
            raise InvalidInput(f"grid {code!r} has no community to number a new grid in", field="code")
        street = session.scalar(select(Subdistrict.code).where(Subdistrict.id == com.subdistrict_id))
        stem = f"{_city(session).district_code}{street}{com.code}"
    used = set(session.scalars(select(GridPlanGrid.code).where(GridPlanGrid.code.like(f"{stem}%"))))
    used |= set(session.scalars(select(Grid.code).where(Grid.code.like(f"{stem}%"))))
    seqs = {int(c[12:]) for c in used if len(c) == 15 and c[12:].isdigit()}
    n = max(seqs, default=0) + 1
    if n > 999:
        n = next((i for i in range(1, 1000) if i not in seqs), 0)
        if not n:
            raise Conflict(f"community {stem} has no free grid code left", field="code")
    return f"{stem}{n:03d}"


def _default_name(session: Session, community_id: int | None, code: str) -> str:
    com = session.get(Community, community_id) if community_id is not None else None
    seq = int(code[-3:]) if code[-3:].isdigit() else code
    return f"{com.name} 第{seq}网格" if com is not None else f"网格 {code}"


def split_grid(session: Session, actor: Actor, plan_id: int, code: str, line: object) -> dict:
    """Cut grid ``code`` in two along ``line`` (GeoJSON LineString, WGS-84). The larger piece keeps the code,
    name and worker; the other becomes a new grid with the community's next free code and no worker yet."""
    require_planner(actor)
    _plan(session, plan_id, draft=True)
    epsg = _city(session).metric_epsg
    cut_line = _project(_geometry(line, field="line", kinds=("LineString",)), 4326, epsg)
    row, geom = _rows(session, plan_id, [code], epsg)[code]
    if not geom.is_valid:
        raise InvalidInput(f"grid {code} has an invalid geometry ({shapely.is_valid_reason(geom)}): fix it first",
                           field="code")
    pieces = _cut(geom, cut_line)
    if len(pieces) < 2:
        raise InvalidInput(f"the line does not cut grid {code} in two: draw it across the grid, from one edge to "
                           "the other", field="line")
    if len(pieces) > 2:
        raise InvalidInput(f"the line cuts grid {code} into {len(pieces)} pieces: draw a line that crosses it "
                           "once", field="line")
    keep, new = sorted(pieces, key=lambda p: -p.area)
    _store(session, row, keep, epsg)
    new_code = _next_code(session, plan_id, code, row.community_id)
    added = GridPlanGrid(plan_id=plan_id, code=new_code, name=_default_name(session, row.community_id, new_code),
                         community_id=row.community_id, worker_id=None,
                         geom=ewkt([as_multipolygon(_project(new, epsg, 4326))])[0])
    session.add(added)
    session.flush()
    return {"codes": [code, new_code], "area_m2": [round(keep.area, 1), round(new.area, 1)]}


def merge_grids(session: Session, actor: Actor, plan_id: int, codes: list[str]) -> dict:
    """Merge grids of one community into the first of ``codes`` (which keeps its code, name and worker)."""
    require_planner(actor)
    _plan(session, plan_id, draft=True)
    if len(codes) < 2 or len(set(codes)) != len(codes):
        raise InvalidInput("merge needs at least two different grid codes", field="codes")
    epsg = _city(session).metric_epsg
    rows = _rows(session, plan_id, list(codes), epsg)
    communities = {r.community_id for r, _ in rows.values()}
    if len(communities) > 1:
        raise InvalidInput("only grids of the same community can be merged: a grid cannot leave its community",
                           field="codes")
    merged = _tidy(shapely.union_all([g for _, g in rows.values()]))
    first = rows[codes[0]][0]
    _store(session, first, merged, epsg)
    for code in codes[1:]:
        session.delete(rows[code][0])
    session.flush()
    return {"code": codes[0], "removed": list(codes[1:]), "parts": len(merged.geoms),
            "area_m2": round(merged.area, 1)}


def move_boundary(session: Session, actor: Actor, plan_id: int, codes: list[str], line: object) -> dict:
    """Move the boundary between two neighbouring grids to ``line`` (GeoJSON LineString, WGS-84, drawn across
    the two from edge to edge): together they cover what they covered before; each piece the line cuts goes to
    the grid that held most of it."""
    require_planner(actor)
    _plan(session, plan_id, draft=True)
    if len(codes) != 2 or codes[0] == codes[1]:
        raise InvalidInput("move-boundary needs the codes of two neighbouring grids", field="codes")
    epsg = _city(session).metric_epsg
    cut_line = _project(_geometry(line, field="line", kinds=("LineString",)), 4326, epsg)
    rows = _rows(session, plan_id, list(codes), epsg)
    (ra, a), (rb, b) = rows[codes[0]], rows[codes[1]]
    if ra.community_id != rb.community_id:
        raise InvalidInput("the two grids are in different communities", field="codes")
    pieces = _cut(shapely.union_all([a, b]), cut_line)
    if len(pieces) < 2:
        raise InvalidInput(f"the line does not cross grids {codes[0]} and {codes[1]}: draw the new boundary from "
                           "one edge of the pair to the other", field="line")
    to_a = [p for p in pieces if p.intersection(a).area >= p.intersection(b).area]
    to_b = [p for p in pieces if p.intersection(a).area < p.intersection(b).area]
    if not to_a or not to_b:
        raise InvalidInput("the new boundary would leave one of the grids empty", field="line")
    new_a, new_b = _tidy(shapely.union_all(to_a)), _tidy(shapely.union_all(to_b))
    _store(session, ra, new_a, epsg)
    _store(session, rb, new_b, epsg)
    session.flush()
    return {"codes": list(codes), "area_m2": [round(new_a.area, 1), round(new_b.area, 1)],
            "moved_m2": round(new_a.symmetric_difference(a).area, 1)}


def reshape_grid(session: Session, actor: Actor, plan_id: int, code: str, geometry: object) -> dict:
    """Give grid ``code`` a new shape (GeoJSON Polygon/MultiPolygon, WGS-84), kept inside its community; the
    other grids of the community lose what it gains, and each piece it gives up goes to the neighbour that
    borders it most (a piece no neighbour borders is left uncovered and validation reports the gap)."""
    require_planner(actor)
    _plan(session, plan_id, draft=True)
    epsg = _city(session).metric_epsg
    wanted = _project(_geometry(geometry, field="geometry", kinds=("Polygon", "MultiPolygon")), 4326, epsg)
    if not wanted.is_valid:
        raise InvalidInput(f"geometry is not valid: {shapely.is_valid_reason(wanted)}", field="geometry")
    row, old = _rows(session, plan_id, [code], epsg)[code]
    com = session.get(Community, row.community_id) if row.community_id is not None else None
    if com is not None:
        cwkb = session.scalar(select(func.ST_AsBinary(Community.geom)).where(Community.id == com.id))
        wanted = wanted.intersection(_project(shapely.from_wkb(bytes(cwkb)), 4326, epsg))
    new = _tidy(wanted)
    if new.is_empty:
        raise InvalidInput(f"the new shape of grid {code} lies outside its community", field="geometry")
    gained = _tidy(new.difference(old))
    lost = _tidy(old.difference(new))
    neighbours = _community_rows(session, plan_id, row.community_id, epsg, {code})
    shapes = {c: g for c, (_, g) in neighbours.items()}
    changed: set[str] = set()
    if not gained.is_empty:
        for c, g in shapes.items():
            if g.intersects(gained):
                shapes[c] = _tidy(g.difference(gained))
                changed.add(c)
    uncovered = 0.0
    for piece in lost.geoms:
        near = piece.buffer(0.5)
        best = max(shapes, key=lambda c: shapes[c].intersection(near).area, default=None)
        if best is None or shapes[best].intersection(near).area <= 0:
            uncovered += piece.area
            continue
        shapes[best] = _tidy(shapely.union_all([shapes[best], piece]))
        changed.add(best)
    _store(session, row, new, epsg)
    emptied = [c for c in changed if shapes[c].is_empty]
    for c in sorted(changed):
        if c in emptied:
            session.delete(neighbours[c][0])
        else:
            _store(session, neighbours[c][0], shapes[c], epsg)
    session.flush()
    return {"code": code, "neighbours_changed": sorted(set(changed) - set(emptied)), "removed": sorted(emptied),
            "gained_m2": round(gained.area, 1), "given_m2": round(lost.area, 1), "uncovered_m2": round(uncovered, 1)}


def set_grid(session: Session, actor: Actor, plan_id: int, code: str, *, geometry: object = None,
             name: str | None = None, worker_id: int | None = None, community_id: int | None = None,
             fields: set[str] = frozenset()) -> dict:
    """Change one grid of a draft (only the ``fields`` given: geometry, name, worker_id, community_id), or add it
    when the plan has no grid ``code`` (then the geometry is required; the community defaults to the one holding
    it). The neighbours are not adjusted: use reshape for that. Validation reports what does not fit."""
    require_planner(actor)
    _plan(session, plan_id, draft=True)
    row = session.scalars(select(GridPlanGrid).where(GridPlanGrid.plan_id == plan_id,
                                                     GridPlanGrid.code == code)).first()
    geom = _geometry(geometry, field="geometry", kinds=("Polygon", "MultiPolygon")) if "geometry" in fields \
        else None
    if "worker_id" in fields and worker_id is not None:
        user = session.get(User, worker_id)
        if user is None or user.role != "grid_worker":
            raise InvalidInput(f"user {worker_id} is not a grid worker", field="worker_id")
    if "community_id" in fields and session.get(Community, community_id) is None:
        raise InvalidInput(f"no community {community_id}", field="community_id")
    if row is None:
        if not _CODE.fullmatch(code):
            raise InvalidInput(f"a grid code is 15 digits, got {code!r}", field="code")
        if geom is None:
            raise InvalidInput(f"plan {plan_id} has no grid {code}: give its geometry to add it", field="geometry")
        if "community_id" not in fields:
            p = geom.representative_point()
            community_id = session.scalar(select(Community.id).where(
                at_point(session, Community.id, Community.geom, p.x, p.y)).order_by(Community.id).limit(1))
            if community_id is None:
                raise InvalidInput("the new grid lies in no community: give community_id", field="community_id")
        row = GridPlanGrid(plan_id=plan_id, code=code, community_id=community_id,
                           name=name or _default_name(session, community_id, code),
                           worker_id=worker_id if "worker_id" in fields else None,
                           geom=ewkt([as_multipolygon(geom)])[0])
        session.add(row)
    else:
        if geom is not None:
            row.geom = ewkt([as_multipolygon(geom)])[0]
        if "name" in fields and name:
            row.name = name
        if "worker_id" in fields:
            row.worker_id = worker_id
        if "community_id" in fields:
            row.community_id = community_id
    session.flush()
    return {"code": row.code, "name": row.name, "community_id": row.community_id, "worker_id": row.worker_id}


def delete_grid(session: Session, actor: Actor, plan_id: int, code: str) -> None:
    require_planner(actor)
    _plan(session, plan_id, draft=True)
    row = session.scalars(select(GridPlanGrid).where(GridPlanGrid.plan_id == plan_id,
                                                     GridPlanGrid.code == code)).first()
    if row is None:
        raise NotFound(f"plan {plan_id} has no grid {code!r}", field="code")
    session.delete(row)
    session.flush()


# ---------------------------------------------------------------------------------------------- proposal


def _community(session: Session, key: str) -> Community:
    text = str(key).strip()
    found = []
    if text.isdigit():
        by_id = session.get(Community, int(text))
        if by_id is not None and len(text) != 3:
            return by_id
        found = list(session.scalars(select(Community).where(Community.code == text)))
        if not found and by_id is not None:
            return by_id
    if not found:
        found = list(session.scalars(select(Community).where(Community.name == text)))
    if len(found) != 1:
        raise InvalidInput(f"no single community with id, code or name {key!r}", field="community")
    return found[0]


def propose(session: Session, actor: Actor, plan_id: int, community: str, *, settings: Settings,
            now: dt.datetime | None = None) -> dict:
    """Rebalance one community of a draft with :func:`geo.grids.balance.propose` (grids out of the households
    range are redrawn, as few others as needed, codes kept where grids continue) and write the proposal into the
    draft: kept grids untouched, continued codes keep their name and worker, new grids get fresh codes (never
    used before) and no worker, retired codes leave the draft. Returns the proposal's figures."""
    from geo.errors import GeoValidationError
    from geo.grids.balance import propose as balance

    require_planner(actor)
    _plan(session, plan_id, draft=True)
    com = _community(session, community)
    now = now or dt.datetime.now(dt.UTC)
    epsg = _city(session).metric_epsg
    cwkb = session.scalar(select(func.ST_AsBinary(Community.geom)).where(Community.id == com.id))
    area = _project(shapely.from_wkb(bytes(cwkb)), 4326, epsg)
    grids = _plan_frame(session, plan_id)
    grids = grids[grids["community_id"] == com.id]
    if grids.empty:
        raise InvalidInput(f"plan {plan_id} has no grids in community {com.name}", field="community")
    grids_m = grids.to_crs(epsg)
    buildings = read_frame(session, [Building.id, Building.households], Building.geom,
                           order_by=[Building.id]).set_index("id").to_crs(epsg)
    inside = shapely.covers(area, shapely.point_on_surface(buildings.geometry.to_numpy()))
    buildings = buildings[inside]
    since = now - dt.timedelta(days=RECENT_DAYS)
    work = dict(session.execute(select(Case.building_id, func.count()).where(
        Case.reported_at >= since, Case.building_id.in_([int(i) for i in buildings.index] or [-1]))
        .group_by(Case.building_id)).all())
    buildings["workload"] = [int(work.get(int(i), 0)) for i in buildings.index]
    streets = read_frame(session, [RoadSegment.id], RoadSegment.geom).to_crs(epsg)
    codes = list(grids["code"])
    first_new = int(_next_code(session, plan_id, codes[0], com.id)[12:])
    try:
        result = balance(area, buildings, grids_m[["code", "geometry"]].reset_index(drop=True),
                         households_range=(settings.households_min, settings.households_max), workload="workload",
                         streets=streets, code_prefix=codes[0][:12] if _CODE.fullmatch(codes[0]) else None,
                         next_seq=first_new)
    except GeoValidationError as exc:
        raise InvalidInput(f"no proposal for community {com.name}: fix the draft first (see its validation): "
                           f"{exc.problems[0].message}", field="community",
                           details=[str(p) for p in exc.problems[:50]]) from exc
    rows = {r.code: r for r in session.scalars(select(GridPlanGrid).where(
        GridPlanGrid.plan_id == plan_id, GridPlanGrid.community_id == com.id))}
    proposed = set(result.grids["code"])
    for code, row in rows.items():
        if code not in proposed:
            session.delete(row)
    for rec, geom in zip(result.grids.itertuples(index=False), result.grids.geometry, strict=True):
        if bool(rec.kept):
            continue
        g = ewkt([as_multipolygon(_project(geom, epsg, 4326))])[0]
        if rec.code in rows:
            rows[rec.code].geom = g
        else:
            session.add(GridPlanGrid(plan_id=plan_id, code=rec.code, community_id=com.id, worker_id=None,
                                     name=_default_name(session, com.id, rec.code), geom=g))
    session.flush()
    return {"plan_id": plan_id, "community_id": com.id, "community": com.name, "stats": _jsonable(result.stats),
            "grids": [{"code": r.code, "households": int(r.households), "buildings": int(r.buildings),
                       "kept": bool(r.kept), "street_m": None if pd.isna(r.street_m) else round(float(r.street_m), 1),
                       "cases_90d": None if pd.isna(r.workload) else int(r.workload)}
                      for r in result.grids.itertuples(index=False)]}


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, float | np.floating):
        return None if np.isnan(value) else float(value)
    if hasattr(value, "item"):
        return value.item()
    return value


# ---------------------------------------------------------------------------------------------- validation


def validate(session: Session, actor: Actor | None, plan_id: int, *, settings: Settings,
             tolerance_m2: float = 1.0, sliver_width_m: float = 2.0) -> dict:
    """Every problem of the plan at once, each with its kind, severity, message, feature and place (WGS-84
    lon/lat): :func:`geo.grids.check.check_grids` with the configured households range."""
    from geo.errors import GeoValidationError
    from patrol.city.gridding import _buildings, _communities

    if actor is not None:
        require_planner(actor)
    plan = _plan(session, plan_id)
    if not tolerance_m2 >= 0:
        raise InvalidInput(f"tolerance_m2 must be ≥ 0 m², got {tolerance_m2}", field="tolerance_m2")
    if not sliver_width_m >= 0:
        raise InvalidInput(f"sliver_width_m must be ≥ 0 m, got {sliver_width_m}", field="sliver_width_m")
    epsg = _city(session).metric_epsg
    communities = _communities(session, epsg).rename(columns={"id": "community_id"})
    grids4326 = _plan_frame(session, plan.id)
    grids = grids4326.to_crs(epsg)
    grids["community_id"] = pd.Series([_int(v) for v in grids["community_id"]], index=grids.index, dtype=object)
    buildings = _buildings(session, epsg)
    rng = (settings.households_min, settings.households_max)
    try:
        check = check_grids(communities, grids.set_index(grids["code"].to_numpy()), buildings,
                            tolerance_m2=tolerance_m2, households_range=rng, sliver_width_m=sliver_width_m)
    except GeoValidationError as exc:
        raise InvalidInput(f"plan {plan.id} cannot be checked: {exc}", field="plan_id") from exc
    by_code = dict(zip(grids4326["code"], grids4326.geometry, strict=True))
    back = _transformer(epsg, 4326)
    problems = []
    for p in check.problems:
        where = problem_location(p)
        if where is not None:
            lon, lat = back.transform(*where)
        else:
            lon, lat = _fallback_place(session, p.feature_id, by_code)
        count = _KIND_COUNT.get(p.kind, "")
        fid = p.feature_id
        problems.append({"kind": p.kind, "severity": "error" if count in FATAL else "warning",
                         "message": p.message, "feature": list(fid) if isinstance(fid, tuple) else _plain(fid),
                         "lon": None if lon is None else round(float(lon), 7),
                         "lat": None if lat is None else round(float(lat), 7)})
    counts = {name: int(getattr(check, name)) for name in _KIND_COUNT.values()}
    return {"plan_id": plan.id, "ok": bool(check.ok), "errors": sum(counts[n] for n in FATAL),
            "warnings": sum(v for n, v in counts.items() if n not in FATAL), "counts": counts,
            "households_range": list(rng), "tolerance_m2": tolerance_m2, "sliver_width_m": sliver_width_m,
            "problems": problems}


def _plain(v):
    return v.item() if hasattr(v, "item") else v


def _fallback_place(session: Session, feature, by_code: dict) -> tuple[float | None, float | None]:
    if isinstance(feature, str) and feature in by_code and by_code[feature] is not None \
            and not by_code[feature].is_empty:
        p = by_code[feature].representative_point()
        return p.x, p.y
    if isinstance(feature, int | np.integer):
        wkb = session.scalar(select(func.ST_AsBinary(func.ST_PointOnSurface(Building.geom)))
                             .where(Building.id == int(feature)))
        if wkb is not None:
            p = shapely.from_wkb(bytes(wkb))
            return p.x, p.y
    return None, None


# ---------------------------------------------------------------------------------------------- impact


def _locate(points: np.ndarray, polygons: np.ndarray) -> np.ndarray:
    """Position of the polygon holding each point (its interior first, then its edge; lowest position on ties),
    or -1."""
    out = np.full(len(points), -1, dtype=np.int64)
    if len(points) == 0 or len(polygons) == 0:
        return out
    tree = shapely.STRtree(polygons)
    for predicate in ("within", "intersects"):
        todo = np.flatnonzero(out < 0)
        if not len(todo):
            break
        pi, gi = tree.query(points[todo], predicate=predicate)
        best = np.full(len(todo), np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(best, pi, gi)
        hit = best != np.iinfo(np.int64).max
        out[todo[hit]] = best[hit]
    return out


def _nearest(points: np.ndarray, polygons: np.ndarray, where: np.ndarray, max_m: float = 50.0) -> np.ndarray:
    """Like :func:`_locate`, and points in no polygon take the nearest one within ``max_m`` metres."""
    out = where.copy()
    todo = np.flatnonzero(out < 0)
    if len(todo) and len(polygons):
        tree = shapely.STRtree(polygons)
        pi, gi = tree.query_nearest(points[todo], max_distance=max_m, all_matches=False)
        out[todo[pi]] = gi
    return out


def _street_lengths(polygons: np.ndarray, roads: np.ndarray) -> np.ndarray:
    if len(polygons) == 0 or len(roads) == 0:
        return np.zeros(len(polygons))
    gi, ri = shapely.STRtree(roads).query(polygons, predicate="intersects")
    lengths = shapely.length(shapely.intersection(roads[ri], polygons[gi]))
    return np.bincount(gi, weights=lengths, minlength=len(polygons))


def impact(session: Session, actor: Actor | None, plan_id: int, *, now: dt.datetime | None = None,
           tolerance_m2: float = 1.0) -> dict:
    """Per grid, before (the grids in force) and after (the plan): households, buildings, street length (m, in
    the city's metric CRS), open cases, cases reported in the last 90 days, worker; the totals; and ``moved``,
    GeoJSON (WGS-84) of what changes hands: areas (``kind`` area, ``from``/``to`` codes), buildings and open
    cases. "Before" counts buildings and cases by the grid they point at; "after" by the grid of the plan holding
    their representative point (as publishing will place them)."""
    if actor is not None:
        require_planner(actor)
    plan = _plan(session, plan_id)
    now = now or dt.datetime.now(dt.UTC)
    epsg = _city(session).metric_epsg
    before = _grid_frame(session)
    after = _plan_frame(session, plan.id)
    before_m = _repaired(before.to_crs(epsg).geometry.to_numpy())
    after_m = _repaired(after.to_crs(epsg).geometry.to_numpy())  # a draft may hold invalid shapes still
    code_of_id = dict(zip(before["id"], before["code"], strict=True))

    buildings = read_frame(session, [Building.id, Building.households, Building.grid_id], Building.geom,
                           order_by=[Building.id])
    b_points = shapely.point_on_surface(buildings.to_crs(epsg).geometry.to_numpy())
    b_after = _locate(b_points, after_m)
    b_before_code = np.array([code_of_id.get(g) for g in buildings["grid_id"]], dtype=object)
    b_after_code = np.array([after["code"].iloc[i] if i >= 0 else None for i in b_after], dtype=object)

    rows = session.execute(select(Case.id, Case.status, Case.reported_at, Case.grid_id, func.ST_X(Case.geom),
                                  func.ST_Y(Case.geom)).order_by(Case.id)).all()
    tr = _transformer(4326, epsg)
    cx, cy = tr.transform(np.array([r[4] for r in rows], dtype=float), np.array([r[5] for r in rows], dtype=float))
    c_points = shapely.points(cx, cy) if rows else np.array([], dtype=object)
    c_after = _nearest(c_points, after_m, _locate(c_points, after_m))
    since = now - dt.timedelta(days=RECENT_DAYS)
    is_open = np.array([r[1] in OPEN for r in rows], dtype=bool)
    recent = np.array([_aware(r[2]) >= since for r in rows], dtype=bool)
    c_before_code = np.array([code_of_id.get(r[3]) for r in rows], dtype=object)
    c_after_code = np.array([after["code"].iloc[i] if i >= 0 else None for i in c_after], dtype=object)

    roads = read_frame(session, [RoadSegment.id], RoadSegment.geom).to_crs(epsg).geometry.to_numpy()
    street_before = dict(zip(before["code"], _street_lengths(before_m, roads), strict=True))
    street_after = dict(zip(after["code"], _street_lengths(after_m, roads), strict=True))
    workers = dict(session.execute(select(User.id, User.display_name)).all())
    households = buildings["households"].fillna(0).to_numpy(dtype=np.int64)

    def figures(codes: np.ndarray, code: str, street: dict, worker_id) -> dict:
        b = codes == code
        return {"households": int(households[b].sum()), "buildings": int(b.sum()),
                "street_m": round(float(street.get(code, 0.0)), 1),
                "worker_id": _int(worker_id), "worker": workers.get(_int(worker_id))}

    def cases(codes: np.ndarray, code: str) -> dict:
        c = codes == code
        return {"open_cases": int((c & is_open).sum()), "cases_90d": int((c & recent).sum())}

    before_geom = dict(zip(before["code"], before_m, strict=True))
    after_geom = dict(zip(after["code"], after_m, strict=True))
    before_worker = dict(zip(before["code"], before["worker_id"], strict=True))
    after_worker = dict(zip(after["code"], after["worker_id"], strict=True))
    out = []
    for code in sorted(set(before_geom) | set(after_geom)):
        was = None if code not in before_geom else {
            **figures(b_before_code, code, street_before, before_worker[code]), **cases(c_before_code, code)}
        now_ = None if code not in after_geom else {
            **figures(b_after_code, code, street_after, after_worker[code]), **cases(c_after_code, code)}
        if was is None:
            status = "added"
        elif now_ is None:
            status = "removed"
        else:
            moved = before_geom[code].symmetric_difference(after_geom[code]).area
            status = "changed" if moved > tolerance_m2 or was["worker_id"] != now_["worker_id"] else "unchanged"
        delta = None if was is None or now_ is None else {
            k: round(now_[k] - was[k], 1) for k in ("households", "buildings", "street_m", "open_cases", "cases_90d")}
        out.append({"code": code, "status": status, "before": was, "after": now_, "change": delta})
    totals = {
        "grids": {"before": len(before), "after": len(after)},
        "changed": sum(g["status"] != "unchanged" for g in out),
        "buildings_moving": int(np.sum(b_before_code != b_after_code)),
        "open_cases_moving": int(np.sum(is_open & (c_before_code != c_after_code))),
    }
    moved = _moved_features(epsg, before, before_m, after, after_m, buildings, b_before_code, b_after_code, rows,
                            is_open, c_before_code, c_after_code, tolerance_m2)
    return {"plan_id": plan.id, "grids": out, "totals": totals, "moved": moved}


def _repaired(geoms: np.ndarray) -> np.ndarray:
    out = np.asarray(geoms, dtype=object).copy()
    missing = shapely.is_missing(out)
    out[missing] = shapely.Polygon()
    bad = ~shapely.is_valid(out)
    out[bad] = shapely.make_valid(out[bad])
    return out


def _aware(t: dt.datetime) -> dt.datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=dt.UTC)


def _moved_features(epsg, before, before_m, after, after_m, buildings, b_from, b_to, rows, is_open, c_from, c_to,
                    tol) -> dict:
    features = []
    if len(before_m) and len(after_m):
        ai, bi = shapely.STRtree(before_m).query(after_m, predicate="intersects")
        for a, b in zip(ai, bi, strict=True):
            src, dst = before["code"].iloc[b], after["code"].iloc[a]
            if src == dst:
                continue
            piece = _tidy(shapely.intersection(before_m[b], after_m[a]))
            if piece.area <= tol:
                continue
            features.append({"type": "Feature", "geometry": shapely.geometry.mapping(_project(piece, epsg, 4326)),
                             "properties": {"kind": "area", "from": src, "to": dst, "area_m2": round(piece.area, 1)}})
    changed = np.flatnonzero(b_from != b_to)
    for i in changed:
        features.append({"type": "Feature", "geometry": shapely.geometry.mapping(buildings.geometry.iloc[i]),
                         "properties": {"kind": "building", "id": int(buildings["id"].iloc[i]),
                                        "from": b_from[i], "to": b_to[i],
                                        "households": int(buildings["households"].iloc[i] or 0)}})
    for i in np.flatnonzero(is_open & (c_from != c_to)):
        features.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [rows[i][4], rows[i][5]]},
                         "properties": {"kind": "case", "id": int(rows[i][0]), "status": rows[i][1],
                                        "from": c_from[i], "to": c_to[i]}})
    return {"type": "FeatureCollection", "features": features}


# ---------------------------------------------------------------------------------------------- publishing


def publish(session: Session, actor: Actor, plan_id: int, *, settings: Settings,
            effective_from: dt.date | None = None, note: str | None = None, now: dt.datetime | None = None,
            _force: bool = False) -> dict:
    """Put draft ``plan_id`` in force (see the module docstring); the caller's transaction makes it atomic.
    Raises Conflict (409) listing the problems while validation finds a fatal one."""
    require_planner(actor)
    _serialize(session)
    plan = _plan(session, plan_id, draft=True, lock=True)
    today = _today(settings)
    effective_from = effective_from or today
    if effective_from > today:
        raise InvalidInput(f"effective_from {effective_from.isoformat()} is in the future: publish the plan on "
                           "that day (scheduling is not supported)", field="effective_from")
    if not session.scalar(select(func.count(GridPlanGrid.id)).where(GridPlanGrid.plan_id == plan.id)):
        raise Conflict(f"plan {plan.id} has no grids", field="plan_id")
    now = now or dt.datetime.now(dt.UTC)
    previous = ensure_baseline(session, actor, now=now)
    report = validate(session, None, plan.id, settings=settings)
    if not report["ok"] and not _force:
        errors = [p for p in report["problems"] if p["severity"] == "error"]
        shown = [f"{p['kind']}: {p['message']} (feature {p['feature']}, lon/lat {p['lon']}, {p['lat']})"
                 for p in errors[:50]]
        raise Conflict(f"plan {plan.id} cannot be published: validation found {report['errors']} problem(s) "
                       f"({', '.join(sorted({p['kind'] for p in errors}))}); nothing was changed",
                       field="plan_id", details=shown)
    moved = _apply(session, actor, plan.id, now, effective_from)
    session.execute(update(GridPlan).where(GridPlan.status == "published", GridPlan.id != plan.id)
                    .values(status="superseded"))
    plan.status, plan.published_at, plan.published_by = "published", now, actor.user_id
    plan.effective_from = effective_from
    if note:
        plan.note = f"{plan.note}\n{note}" if plan.note else note
    session.flush()
    return {"plan": plan_dict(session, plan), "replaced": previous.id if previous else None,
            "warnings": report["warnings"], **moved}


def rollback(session: Session, actor: Actor, *, settings: Settings, note: str | None = None,
             now: dt.datetime | None = None) -> dict:
    """Publish a copy of the plan in force before the current one (a new plan, so history stays linear)."""
    require_planner(actor)
    _serialize(session)
    now = now or dt.datetime.now(dt.UTC)
    current = ensure_baseline(session, actor, now=now)
    if current is None:
        raise Conflict("there are no grid plans to roll back", field="plan")
    previous = session.scalars(select(GridPlan).where(GridPlan.status == "superseded",
                                                      GridPlan.published_at <= current.published_at,
                                                      GridPlan.id != current.id)
                               .order_by(GridPlan.published_at.desc(), GridPlan.id.desc()).limit(1)).first()
    if previous is None:
        raise Conflict(f"plan {current.id} ({current.name}) is the first plan: there is nothing to roll back to",
                       field="plan")
    copy = GridPlan(name=f"rollback to plan {previous.id} ({previous.name})"[:200], status="draft",
                    based_on_id=previous.id, created_by=actor.user_id, created_at=now,
                    note=note or f"rolled back from plan {current.id}")
    session.add(copy)
    session.flush()
    _copy_plan(session, previous.id, copy.id)
    session.flush()
    result = publish(session, actor, copy.id, settings=settings, now=now, _force=True)
    result["rolled_back_from"] = current.id
    result["restored"] = previous.id
    return result


def _apply(session: Session, actor: Actor, plan_id: int, now: dt.datetime, effective_from: dt.date) -> dict:
    """Write the plan's grids into ``grid`` and move everything that points at grids (see the module docstring).
    Grids that are new or change shape get ``valid_from`` = the effective date."""
    epsg = _city(session).metric_epsg
    old = _grid_frame(session)
    old_code = dict(zip(old["id"], old["code"], strict=True))
    old_worker = {int(i): _int(w) for i, w in zip(old["id"], old["worker_id"], strict=True)}
    plan_codes = select(GridPlanGrid.code).where(GridPlanGrid.plan_id == plan_id)
    pg = GridPlanGrid

    def col(c):
        return select(c).where(pg.plan_id == plan_id, pg.code == Grid.code).scalar_subquery()

    grid_table = Grid.__table__
    session.execute(grid_table.update().where(grid_table.c.code.in_(plan_codes)).values(
        geom=col(pg.geom), name=col(pg.name), worker_id=col(pg.worker_id), community_id=col(pg.community_id)))
    session.execute(insert(Grid).from_select(
        ["community_id", "code", "name", "worker_id", "geom"],
        select(pg.community_id, pg.code, pg.name, pg.worker_id, pg.geom)
        .where(pg.plan_id == plan_id, pg.code.not_in(select(Grid.code)))))
    session.flush()
    kept = set(old["code"]) & set(session.scalars(plan_codes))
    removed_ids = [int(i) for i, c in old_code.items() if c not in kept]

    new = read_frame(session, [Grid.id, Grid.code, Grid.worker_id], Grid.geom,
                     where=[Grid.code.in_(plan_codes)], order_by=[Grid.code])
    new_ids = new["id"].to_numpy(dtype=np.int64)
    new_worker = [_int(w) for w in new["worker_id"]]
    new_code = dict(zip(new["id"], new["code"], strict=True))
    polys = new.to_crs(epsg).geometry.to_numpy()
    old_geom = dict(zip(old["code"], old.geometry, strict=True))
    reshaped = [int(i) for i, c, g in zip(new["id"], new["code"], new.geometry, strict=True)
                if c not in old_geom or not shapely.equals_exact(old_geom[c], g, tolerance=0)]
    if reshaped:
        session.execute(update(Grid).where(Grid.id.in_(reshaped)).values(valid_from=effective_from))

    def grid_of(points: np.ndarray, nearest: bool = False) -> list[int | None]:
        pos = _locate(points, polys)
        if nearest:
            pos = _nearest(points, polys, pos)
        return [int(new_ids[p]) if p >= 0 else None for p in pos]

    tr = _transformer(4326, epsg)

    def points(xs, ys) -> np.ndarray:
        if not len(xs):
            return np.array([], dtype=object)
        x, y = tr.transform(np.asarray(xs, dtype=float), np.asarray(ys, dtype=float))
        return shapely.points(x, y)

    # buildings
    buildings = read_frame(session, [Building.id, Building.grid_id], Building.geom, order_by=[Building.id])
    b_new = grid_of(shapely.point_on_surface(buildings.to_crs(epsg).geometry.to_numpy()))
    b_rows = [{"id": int(b), "grid_id": g} for b, g, was in zip(buildings["id"], b_new, buildings["grid_id"],
                                                                strict=True) if _int(was) != g]
    if b_rows:
        session.execute(update(Building), b_rows)

    # cases: open ones follow their point; closed ones only when their grid is removed
    removed = set(removed_ids)
    rows = session.execute(select(Case.id, Case.status, Case.level, Case.grid_id, Case.assignee_id,
                                  func.ST_X(Case.geom), func.ST_Y(Case.geom))
                           .where((Case.status.in_(tuple(OPEN))) | (Case.grid_id.in_(removed_ids or [-1])))
                           .order_by(Case.id)).all()
    c_new = grid_of(points([r[5] for r in rows], [r[6] for r in rows]), nearest=True)
    worker_of_new = dict(zip(new_ids.tolist(), new_worker, strict=True))
    case_rows, events, open_moved, closed_moved, reassigned = [], [], 0, 0, 0
    for (cid, status, level, gid, assignee, _, _), g in zip(rows, c_new, strict=True):
        if status in CLOSED:
            if gid in removed:
                case_rows.append({"id": cid, "grid_id": g})
                closed_moved += 1
            continue
        values = {}
        if g != gid:
            values["grid_id"] = g
        before_worker = old_worker.get(gid) if gid is not None else None
        after_worker = worker_of_new.get(g) if g is not None else None
        if assignee is not None and assignee == before_worker and after_worker is not None \
                and after_worker != assignee:
            values["assignee_id"] = after_worker
        if not values:
            continue
        note = f"网格调整 {old_code.get(gid, '—') if gid else '—'} → {new_code.get(g, '—') if g else '—'}"
        if "assignee_id" in values:
            note += f"; 处置人 {assignee} → {values['assignee_id']} (the grid's worker)"
            reassigned += 1
        open_moved += "grid_id" in values
        case_rows.append({"id": cid, **values, "updated_at": now})
        events.append({"case_id": cid, "action": "regrid", "from_status": status, "to_status": status,
                       "level": level, "actor_id": actor.user_id, "actor": actor.label, "at": now, "note": note})
    if case_rows:
        for keys in {tuple(sorted(r)) for r in case_rows}:  # executemany needs the same keys in every row
            session.execute(update(Case), [r for r in case_rows if tuple(sorted(r)) == keys])
    if events:
        session.execute(insert(CaseEvent), events)

    # pending revisits follow their case's point, to the new grid and its worker
    rv = session.execute(select(Revisit.id, Revisit.grid_id, Revisit.worker_id, func.ST_X(Case.geom),
                                func.ST_Y(Case.geom)).join(Case, Case.id == Revisit.case_id)
                         .where(Revisit.done_at.is_(None)).order_by(Revisit.id)).all()
    r_new = grid_of(points([r[3] for r in rv], [r[4] for r in rv]), nearest=True)
    r_rows = []
    for (rid, gid, wid, _, _), g in zip(rv, r_new, strict=True):
        w = worker_of_new.get(g) if g is not None else None
        if g != gid:
            r_rows.append({"id": rid, "grid_id": g, "worker_id": w})
        elif wid is not None and wid == old_worker.get(gid) and w is not None and w != wid:
            r_rows.append({"id": rid, "grid_id": g, "worker_id": w})  # the grid's worker changed
    if r_rows:
        session.execute(update(Revisit), r_rows)

    if removed_ids:
        session.execute(update(Building).where(Building.grid_id.in_(removed_ids)).values(grid_id=None))
        session.execute(delete(Grid).where(Grid.id.in_(removed_ids)))
    session.flush()
    return {"grids": {"kept": len(kept), "added": len(new) - len(kept), "removed": len(removed_ids)},
            "buildings_moved": len(b_rows), "open_cases_moved": int(open_moved),
            "assignees_changed": reassigned, "closed_cases_moved": closed_moved, "revisits_moved": len(r_rows)}


# ---------------------------------------------------------------------------------------------- history


def grid_at(session: Session, case: Case) -> dict | None:
    """The grid a case had when it was reported: the grid holding its point in the plan in force at its
    ``reported_at`` (the first plan for cases older than every plan). Without plans: the grid it points at."""
    plans = session.execute(select(GridPlan.id, GridPlan.published_at).where(GridPlan.status != "draft")
                            .order_by(GridPlan.published_at, GridPlan.id)).all()
    if not plans:
        if case.grid_id is None:
            return None
        g = session.get(Grid, case.grid_id)
        return {"plan_id": None, "code": g.code, "name": g.name} if g else None
    reported = _aware(case.reported_at)
    plan_id = plans[0][0]
    for pid, at in plans:
        if at is not None and _aware(at) <= reported:
            plan_id = pid
    x, y = session.execute(select(func.ST_X(Case.geom), func.ST_Y(Case.geom)).where(Case.id == case.id)).one()
    row = session.execute(select(GridPlanGrid.code, GridPlanGrid.name).where(
        GridPlanGrid.plan_id == plan_id, at_point(session, GridPlanGrid.id, GridPlanGrid.geom, x, y))
        .order_by(GridPlanGrid.code).limit(1)).first()
    return {"plan_id": plan_id, "code": row[0] if row else None, "name": row[1] if row else None}


def case_grid_history(session: Session, actor: Actor, case_id: int) -> dict:
    """The grid a case had when reported, and the grid it has now."""
    require_planner(actor)
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(f"no case {case_id}", field="case_id")
    now = session.get(Grid, case.grid_id) if case.grid_id is not None else None
    return {"case_id": case.id, "reported_at": _iso(case.reported_at), "reported": grid_at(session, case),
            "current": {"code": now.code, "name": now.name} if now else None}


# ---------------------------------------------------------------------------------------------- files


def download(session: Session, actor: Actor, plan_id: int, fmt: str) -> tuple[bytes, str, str]:
    """The plan's grids as a file: (bytes, file name, media type). Columns code, name, community_id (``comm_id``
    in a Shapefile, whose names stop at 10 characters), worker_id; EPSG:4326. A Shapefile comes zipped."""
    from patrol.city.exporting import write_frame

    plan = get_plan(session, actor, plan_id)
    if fmt not in FORMATS:
        raise InvalidInput(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}", field="format")
    frame = _plan_frame(session, plan.id)
    out = gpd.GeoDataFrame({"code": frame["code"].astype(str), "name": frame["name"].astype(str),
                            "community_id": frame["community_id"].astype("Int64"),
                            "worker_id": frame["worker_id"].astype("Int64")},
                           geometry=frame.geometry.to_numpy(), crs=4326)
    media, suffix = FORMATS[fmt]
    stem = f"grid_plan_{plan.id}"
    with tempfile.TemporaryDirectory() as tmp:
        if fmt == "shp":
            path = Path(tmp) / f"{stem}.shp"
            write_frame(out.rename(columns={"community_id": "comm_id"}), path, stem)
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
                for part in sorted(Path(tmp).glob(f"{stem}.*")):
                    zf.write(part, part.name)
            return buf.getvalue(), f"{stem}.zip", media
        path = Path(tmp) / f"{stem}{suffix}"
        write_frame(out, path, "grids")
        return path.read_bytes(), path.name, media


_UPLOAD_SUFFIXES = (".gpkg", ".geojson", ".json", ".zip")


def read_upload(filename: str, data: bytes, *, layer: str | None = None) -> gpd.GeoDataFrame:
    """Read an uploaded GeoPackage, GeoJSON or zipped Shapefile (one clear InvalidInput when it cannot be read).
    GeoPackages are read in a child process: GDAL's SQLite and SpatiaLite must not meet in one process."""
    from geo.errors import GeoValidationError
    from geo.layers import read_layer

    name = Path(filename or "upload").name
    suffix = Path(name).suffix.lower()
    if suffix not in _UPLOAD_SUFFIXES:
        raise InvalidInput(f"{name}: upload a GeoPackage (.gpkg), GeoJSON (.geojson, .json) or a zipped Shapefile "
                           "(.zip with .shp, .shx, .dbf and .prj)", field="file")
    if not data:
        raise InvalidInput(f"{name} is empty", field="file")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"upload{suffix}"
        path.write_bytes(data)
        if suffix == ".zip":
            try:
                with zipfile.ZipFile(path) as zf:
                    members = [m for m in zf.namelist() if not m.endswith("/")]
                    shps = [m for m in members if m.lower().endswith(".shp")]
                    if len(shps) != 1:
                        raise InvalidInput(f"{name} must hold exactly one Shapefile (.shp with its .shx, .dbf and "
                                           f".prj); it holds {len(shps)}", field="file")
                    stem = shps[0][:-4]
                    target = Path(tmp) / "shp"
                    target.mkdir()
                    for m in members:
                        if m.startswith(stem) and len(m) == len(stem) + 4:
                            (target / ("layer" + m[len(stem):].lower())).write_bytes(zf.read(m))
            except zipfile.BadZipFile:
                raise InvalidInput(f"{name} is not a zip file", field="file") from None
            path = target / "layer.shp"
        try:
            if suffix == ".gpkg":
                ctx = multiprocessing.get_context("spawn")
                with ctx.Pool(1) as pool:
                    return pool.apply(_read_layer, (str(path), layer))
            return read_layer(path, layer=layer)
        except GeoValidationError as exc:
            raise InvalidInput(f"{name}: {exc.problems[0].message.replace(str(path), name)}",
                               field=exc.problems[0].field or "file") from exc


def _read_layer(path: str, layer: str | None) -> gpd.GeoDataFrame:
    from geo.layers import read_layer

    return read_layer(path, layer=layer, kind="grids")


def upload(session: Session, actor: Actor, plan_id: int, filename: str, data: bytes, *,
           layer: str | None = None) -> dict:
    """Replace a draft's grids with an uploaded layer, after checking it: a CRS (EPSG:4326 or the city's metric
    CRS), a ``code`` column of unique 15-digit codes, (Multi)Polygon geometries near the city, known communities
    and workers. Any problem → one InvalidInput naming it, and nothing changes."""
    require_planner(actor)
    _plan(session, plan_id, draft=True)
    frame = read_upload(filename, data, layer=layer)
    rows = _check_upload(session, Path(filename or "upload").name, frame)
    session.execute(delete(GridPlanGrid).where(GridPlanGrid.plan_id == plan_id))
    session.execute(insert(GridPlanGrid), [{"plan_id": plan_id, **r} for r in rows])
    session.flush()
    return {"plan_id": plan_id, "grids": len(rows)}


_COLUMN_ALIASES = {"community_id": ("community_id", "comm_id", "community_", "社区id"),
                   "worker_id": ("worker_id", "worker", "网格员id")}


def _check_upload(session: Session, name: str, frame: gpd.GeoDataFrame) -> list[dict]:
    from geo.layers import ALIASES

    city = _city(session)
    if frame.empty:
        raise InvalidInput(f"{name} has no features", field="file")
    allowed = {4326, int(city.metric_epsg)}
    if frame.crs is None:
        raise InvalidInput(f"{name} has no CRS (a Shapefile without its .prj?): save it in EPSG:4326 (WGS-84) or "
                           f"EPSG:{city.metric_epsg} (the city's metric CRS)", field="crs")
    crs = pyproj.CRS(frame.crs)
    epsg = crs.to_epsg()
    if crs.equals(pyproj.CRS("OGC:CRS84"), ignore_axis_order=True):
        epsg = 4326
    if epsg not in allowed:
        label = f"EPSG:{epsg}" if epsg else "a CRS without an EPSG code"
        raise InvalidInput(f"{name} is in {label} ({crs.name}): grid plans are uploaded in EPSG:4326 (WGS-84) or "
                           f"EPSG:{city.metric_epsg} (the city's metric CRS); reproject it and upload again",
                           field="crs")
    columns = {}
    for c in frame.columns:
        if c == frame.geometry.name:
            continue
        key = str(c).strip().lower()
        canonical = key if key in ("code", "name", "community") else ALIASES.get(key)
        for target, spellings in _COLUMN_ALIASES.items():
            if key in spellings:
                canonical = target
        if canonical in ("code", "name", "community", "community_id", "worker_id") and canonical not in columns:
            columns[canonical] = c
    if "code" not in columns:
        present = ", ".join(str(c) for c in frame.columns if c != frame.geometry.name) or "none"
        raise InvalidInput(f"{name} has no 'code' column (columns: {present}): every grid needs its 15-digit code",
                           field="code")
    geoms = np.asarray(frame.geometry.array, dtype=object)
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    types = np.array([None if m else g.geom_type for g, m in zip(geoms, missing, strict=True)], dtype=object)
    wrong = ~missing & ~np.isin(types, ["Polygon", "MultiPolygon"])
    if wrong.any():
        kinds = ", ".join(sorted(set(types[wrong])))
        raise InvalidInput(f"{name} holds {kinds} geometries (rows {_rows_list(wrong)}): a grid plan needs "
                           "Polygon or MultiPolygon", field="geometry")
    if missing.any():
        raise InvalidInput(f"{name} has features without geometry (rows {_rows_list(missing)})", field="geometry")
    codes = [_code_text(v) for v in frame[columns["code"]]]
    bad = np.array([c is None or not _CODE.fullmatch(c) for c in codes])
    if bad.any():
        raise InvalidInput(f"{name}: codes must be 15 digits (rows {_rows_list(bad)}, e.g. "
                           f"{codes[int(np.flatnonzero(bad)[0])]!r})", field="code")
    dup = pd.Series(codes).duplicated(keep=False).to_numpy()
    if dup.any():
        raise InvalidInput(f"{name}: code {codes[int(np.flatnonzero(dup)[0])]} is used by more than one feature "
                           f"(rows {_rows_list(dup)})", field="code")
    wgs = frame.to_crs(4326) if epsg != 4326 else frame
    minx, miny, maxx, maxy = wgs.total_bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise InvalidInput(f"{name}: the coordinates are not longitude/latitude although the file says "
                           f"{crs.name} — wrong CRS?", field="crs")
    from patrol.city.layer_import import city_area

    area = gpd.GeoSeries([city_area(session)], crs=4326).to_crs(city.metric_epsg).buffer(1000).iloc[0]
    metric = wgs.to_crs(city.metric_epsg).geometry.to_numpy()
    far = ~shapely.intersects(area, metric)
    if far.any():
        raise InvalidInput(f"{name}: rows {_rows_list(far)} lie more than 1 km from the city — wrong CRS or datum?",
                           field="crs")
    community_ids = _upload_communities(session, name, wgs, columns)
    workers = [None] * len(frame)
    if "worker_id" in columns:
        workers = [_int(pd.to_numeric(v, errors="coerce")) for v in frame[columns["worker_id"]]]
        known = set(session.scalars(select(User.id).where(User.role == "grid_worker")))
        unknown = [w for w in workers if w is not None and w not in known]
        if unknown:
            raise InvalidInput(f"{name}: worker_id {unknown[0]} is not a grid worker", field="worker_id")
    names = [None] * len(frame)
    if "name" in columns:
        names = [None if v is None or (isinstance(v, float) and np.isnan(v)) or not str(v).strip() else
                 str(v).strip()[:200] for v in frame[columns["name"]]]
    out = []
    for code, n, cid, w, g in zip(codes, names, community_ids, workers, ewkt(
            [as_multipolygon(g) for g in wgs.geometry.to_numpy()]), strict=True):
        out.append({"code": code, "name": n or _default_name(session, cid, code), "community_id": cid,
                    "worker_id": w, "geom": g})
    return out


def _upload_communities(session: Session, name: str, wgs: gpd.GeoDataFrame, columns: dict) -> list[int]:
    coms = read_frame(session, [Community.id, Community.code, Community.name], Community.geom)
    known = {int(i) for i in coms["id"]}
    if "community_id" in columns:
        ids = [_int(pd.to_numeric(v, errors="coerce")) for v in wgs[columns["community_id"]]]
        bad = np.array([i is None or i not in known for i in ids])
        if bad.any():
            raise InvalidInput(f"{name}: community_id {ids[int(np.flatnonzero(bad)[0])]!r} is not a community "
                               f"(rows {_rows_list(bad)})", field="community_id")
        return ids
    if "community" in columns:
        by_key = {str(n): int(i) for i, n in zip(coms["id"], coms["name"], strict=True)}
        codes = list(coms["code"])
        by_key |= {str(c): int(i) for i, c in zip(coms["id"], coms["code"], strict=True) if codes.count(c) == 1}
        given = [None if v is None else str(v).strip() for v in wgs[columns["community"]]]
        bad = np.array([g not in by_key for g in given])
        if bad.any():
            raise InvalidInput(f"{name}: no community named or coded {given[int(np.flatnonzero(bad)[0])]!r} "
                               f"(rows {_rows_list(bad)})", field="community")
        return [by_key[g] for g in given]
    points = shapely.point_on_surface(wgs.geometry.to_numpy())
    pos = _locate(points, coms.geometry.to_numpy())
    if (pos < 0).any():
        raise InvalidInput(f"{name}: rows {_rows_list(pos < 0)} lie in no community: add a community_id column",
                           field="community_id")
    return [int(coms["id"].iloc[p]) for p in pos]


def _rows_list(mask: np.ndarray, limit: int = 5) -> str:
    rows = [str(i + 1) for i in np.flatnonzero(mask)]
    return ", ".join(rows[:limit]) + (f" and {len(rows) - limit} more" if len(rows) > limit else "")


def _code_text(value: object) -> str | None:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None
