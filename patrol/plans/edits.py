"""Editing a draft: split a grid along a line, merge grids, move the boundary between two neighbours, reshape a
grid (its neighbours in the community lose what it gains and take what it gives up), set or add one grid, delete
one. Edits are made in the city's metric CRS; shapes come and go as GeoJSON in WGS-84."""

from __future__ import annotations

from collections.abc import Collection

import shapely
from sqlalchemy import select
from sqlalchemy.orm import Session

from geo.area_codes import format_problem
from geo.city import as_multipolygon
from patrol.city.gridding import city_of
from patrol.core.auth import Actor
from patrol.core.dialect import at_point
from patrol.core.errors import InvalidInput, NotFound
from patrol.core.frames import ewkt
from patrol.core.models import Community, GridPlanGrid, User
from patrol.plans.base import (
    default_name,
    metric_epsg,
    metric_shape,
    next_code,
    plan_row,
    require_planner,
)
from patrol.plans.geometry import cut, parse_geometry, project, stored, tidy


def _rows(session: Session, plan_id: int, codes: list[str], epsg: int
          ) -> dict[str, tuple[GridPlanGrid, shapely.Geometry]]:
    """The plan's grids of ``codes`` with their geometries in the metric CRS; 404 naming a missing code."""
    found = {}
    for code in codes:
        row = session.scalars(select(GridPlanGrid).where(GridPlanGrid.plan_id == plan_id,
                                                         GridPlanGrid.code == code)).first()
        if row is None:
            raise NotFound(f"plan {plan_id} has no grid {code!r}", field="code")
        found[code] = (row, metric_shape(session, GridPlanGrid.geom, GridPlanGrid.id == row.id, epsg))
    return found


def _community_rows(session: Session, plan_id: int, community_id: int | None, epsg: int,
                    exclude: set[str]) -> dict[str, tuple[GridPlanGrid, shapely.Geometry]]:
    rows = session.scalars(select(GridPlanGrid).where(GridPlanGrid.plan_id == plan_id,
                                                      GridPlanGrid.community_id == community_id)).all()
    return _rows(session, plan_id, [r.code for r in rows if r.code not in exclude], epsg)


def split_grid(session: Session, actor: Actor, plan_id: int, code: str, line: object) -> dict:
    """Cut grid ``code`` in two along ``line`` (GeoJSON LineString, WGS-84). The larger piece keeps the code,
    name and worker; the other becomes a new grid with the community's next free code and no worker yet."""
    require_planner(actor)
    plan_row(session, plan_id, draft=True)
    epsg = metric_epsg(session)
    cut_line = project(parse_geometry(line, field="line", kinds=("LineString",)), 4326, epsg)
    row, geom = _rows(session, plan_id, [code], epsg)[code]
    if not geom.is_valid:
        raise InvalidInput(f"grid {code} has an invalid geometry ({shapely.is_valid_reason(geom)}): fix it first",
                           field="code")
    pieces = cut(geom, cut_line)
    if len(pieces) < 2:
        raise InvalidInput(f"the line does not cut grid {code} in two: draw it across the grid, from one edge to "
                           "the other", field="line")
    if len(pieces) > 2:
        raise InvalidInput(f"the line cuts grid {code} into {len(pieces)} pieces: draw a line that crosses it "
                           "once", field="line")
    keep, new = sorted(pieces, key=lambda p: -p.area)
    row.geom = stored(keep, epsg)
    new_code = next_code(session, plan_id, code, row.community_id)
    added = GridPlanGrid(plan_id=plan_id, code=new_code, name=default_name(session, row.community_id, new_code),
                         community_id=row.community_id, worker_id=None,
                         geom=stored(new, epsg))
    session.add(added)
    session.flush()
    return {"codes": [code, new_code], "area_m2": [round(keep.area, 1), round(new.area, 1)]}


def merge_grids(session: Session, actor: Actor, plan_id: int, codes: list[str]) -> dict:
    """Merge grids of one community into the first of ``codes`` (which keeps its code, name and worker)."""
    require_planner(actor)
    plan_row(session, plan_id, draft=True)
    if len(codes) < 2 or len(set(codes)) != len(codes):
        raise InvalidInput("merge needs at least two different grid codes", field="codes")
    epsg = metric_epsg(session)
    rows = _rows(session, plan_id, list(codes), epsg)
    communities = {r.community_id for r, _ in rows.values()}
    if len(communities) > 1:
        raise InvalidInput("only grids of the same community can be merged: a grid cannot leave its community",
                           field="codes")
    merged = tidy(shapely.union_all([g for _, g in rows.values()]))
    first = rows[codes[0]][0]
    first.geom = stored(merged, epsg)
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
    plan_row(session, plan_id, draft=True)
    if len(codes) != 2 or codes[0] == codes[1]:
        raise InvalidInput("move-boundary needs the codes of two neighbouring grids", field="codes")
    epsg = metric_epsg(session)
    cut_line = project(parse_geometry(line, field="line", kinds=("LineString",)), 4326, epsg)
    rows = _rows(session, plan_id, list(codes), epsg)
    (ra, a), (rb, b) = rows[codes[0]], rows[codes[1]]
    if ra.community_id != rb.community_id:
        raise InvalidInput("the two grids are in different communities", field="codes")
    pieces = cut(shapely.union_all([a, b]), cut_line)
    if len(pieces) < 2:
        raise InvalidInput(f"the line does not cross grids {codes[0]} and {codes[1]}: draw the new boundary from "
                           "one edge of the pair to the other", field="line")
    to_a = [p for p in pieces if p.intersection(a).area >= p.intersection(b).area]
    to_b = [p for p in pieces if p.intersection(a).area < p.intersection(b).area]
    if not to_a or not to_b:
        raise InvalidInput("the new boundary would leave one of the grids empty", field="line")
    new_a, new_b = tidy(shapely.union_all(to_a)), tidy(shapely.union_all(to_b))
    ra.geom = stored(new_a, epsg)
    rb.geom = stored(new_b, epsg)
    session.flush()
    return {"codes": list(codes), "area_m2": [round(new_a.area, 1), round(new_b.area, 1)],
            "moved_m2": round(new_a.symmetric_difference(a).area, 1)}


def reshape_grid(session: Session, actor: Actor, plan_id: int, code: str, geometry: object) -> dict:
    """Give grid ``code`` a new shape (GeoJSON Polygon/MultiPolygon, WGS-84), kept inside its community; the
    other grids of the community lose what it gains, and each piece it gives up goes to the neighbour that
    borders it most (a piece no neighbour borders is left uncovered and validation reports the gap)."""
    require_planner(actor)
    plan_row(session, plan_id, draft=True)
    epsg = metric_epsg(session)
    wanted = project(parse_geometry(geometry, field="geometry", kinds=("Polygon", "MultiPolygon")), 4326, epsg)
    if not wanted.is_valid:
        raise InvalidInput(f"geometry is not valid: {shapely.is_valid_reason(wanted)}", field="geometry")
    row, old = _rows(session, plan_id, [code], epsg)[code]
    com = session.get(Community, row.community_id) if row.community_id is not None else None
    if com is not None:
        wanted = wanted.intersection(metric_shape(session, Community.geom, Community.id == com.id, epsg))
    new = tidy(wanted)
    if new.is_empty:
        raise InvalidInput(f"the new shape of grid {code} lies outside its community", field="geometry")
    gained = tidy(new.difference(old))
    lost = tidy(old.difference(new))
    neighbours = _community_rows(session, plan_id, row.community_id, epsg, {code})
    shapes = {c: g for c, (_, g) in neighbours.items()}
    changed: set[str] = set()
    if not gained.is_empty:
        for c, g in shapes.items():
            if g.intersects(gained):
                shapes[c] = tidy(g.difference(gained))
                changed.add(c)
    uncovered = 0.0
    for piece in lost.geoms:
        near = piece.buffer(0.5)
        best = max(shapes, key=lambda c: shapes[c].intersection(near).area, default=None)
        if best is None or shapes[best].intersection(near).area <= 0:
            uncovered += piece.area
            continue
        shapes[best] = tidy(shapely.union_all([shapes[best], piece]))
        changed.add(best)
    row.geom = stored(new, epsg)
    emptied = [c for c in changed if shapes[c].is_empty]
    for c in sorted(changed):
        if c in emptied:
            session.delete(neighbours[c][0])
        else:
            neighbours[c][0].geom = stored(shapes[c], epsg)
    session.flush()
    return {"code": code, "neighbours_changed": sorted(set(changed) - set(emptied)), "removed": sorted(emptied),
            "gained_m2": round(gained.area, 1), "given_m2": round(lost.area, 1), "uncovered_m2": round(uncovered, 1)}


def set_grid(session: Session, actor: Actor, plan_id: int, code: str, *, geometry: object = None,
             name: str | None = None, worker_id: int | None = None, community_id: int | None = None,
             fields: Collection[str] = frozenset()) -> dict:
    """Change one grid of a draft (only the ``fields`` given: geometry, name, worker_id, community_id), or add it
    when the plan has no grid ``code`` (then the geometry is required; the community defaults to the one holding
    it). The neighbours are not adjusted: use reshape for that. Validation reports what does not fit."""
    require_planner(actor)
    plan_row(session, plan_id, draft=True)
    row = session.scalars(select(GridPlanGrid).where(GridPlanGrid.plan_id == plan_id,
                                                     GridPlanGrid.code == code)).first()
    geom = parse_geometry(geometry, field="geometry", kinds=("Polygon", "MultiPolygon")) if "geometry" in fields \
        else None
    if "worker_id" in fields and worker_id is not None:
        user = session.get(User, worker_id)
        if user is None or user.role != "grid_worker":
            raise InvalidInput(f"user {worker_id} is not a grid worker", field="worker_id")
    if "community_id" in fields and session.get(Community, community_id) is None:
        raise InvalidInput(f"no community {community_id}", field="community_id")
    if row is None:
        if wrong := format_problem(code or "", "grids", city_of(session).code_scheme):
            raise InvalidInput(wrong, field="code")
        if geom is None:
            raise InvalidInput(f"plan {plan_id} has no grid {code}: give its geometry to add it", field="geometry")
        if "community_id" not in fields:
            p = geom.representative_point()
            community_id = session.scalar(select(Community.id).where(
                at_point(session, Community.id, Community.geom, p.x, p.y)).order_by(Community.id).limit(1))
            if community_id is None:
                raise InvalidInput("the new grid lies in no community: give community_id", field="community_id")
        row = GridPlanGrid(plan_id=plan_id, code=code, community_id=community_id,
                           name=name or default_name(session, community_id, code),
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
    plan_row(session, plan_id, draft=True)
    row = session.scalars(select(GridPlanGrid).where(GridPlanGrid.plan_id == plan_id,
                                                     GridPlanGrid.code == code)).first()
    if row is None:
        raise NotFound(f"plan {plan_id} has no grid {code!r}", field="code")
    session.delete(row)
    session.flush()
