"""微网格 in the database: generated from the buildings of a grid (:mod:`geo.grids.micro`), imported (GeoJSON or a CSV
of buildings → micro-grid), exported as GeoJSON, listed, given a 楼栋长, and versioned with the grid plans.

Versions: the rows with ``plan_id`` None are in force (what a 楼栋长's scope reads, :func:`patrol.core.auth.actor_for`);
a draft plan gets its own copy when it is made (:func:`copy_to_plan`), which the planner edits (regenerate, move a
building between micro-grids), and publishing the plan puts its micro-grids in force (:func:`put_in_force`: the rows
in force replaced, each matched to the grid of its code, leaders kept).

Who: planners and admins generate, import and edit; everyone with a scope on grids reads the micro-grids of her
scope (:func:`readable_grids`); a 楼栋长 her own."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from geo.grids.micro import DEFAULT_RANGE, group_buildings, hull_of, micro_code, micro_name
from patrol.core.auth import Actor
from patrol.core.errors import Forbidden, InvalidInput, NotFound
from patrol.core.frames import ewkt, read_frame
from patrol.core.models import (
    Building,
    City,
    Community,
    Grid,
    GridPlan,
    GridPlanGrid,
    MicroGrid,
    MicroGridBuilding,
    User,
)

EDITORS = ("admin", "planner")
MAX_IMPORT_ROWS = 50_000


def require_editor(actor: Actor) -> None:
    if actor.role not in EDITORS:
        raise Forbidden(f"micro-grids are drawn by planners and admins, not a {actor.role}", field="role")


def _epsg(session: Session) -> int:
    city = session.scalars(select(City).limit(1)).first()
    if city is None or not city.metric_epsg:
        raise InvalidInput("the city has no metric CRS yet: import a city first", field="city")
    return int(city.metric_epsg)


def _draft(session: Session, plan_id: int | None) -> None:
    if plan_id is None:
        return
    plan = session.get(GridPlan, plan_id)
    if plan is None:
        raise NotFound(f"no plan {plan_id}", field="plan")
    if plan.status != "draft":
        raise InvalidInput(f"plan {plan_id} is {plan.status}: only a draft's micro-grids are edited", field="plan")


def _grid_areas(session: Session, plan_id: int | None, codes: Iterable[str] | None) -> gpd.GeoDataFrame:
    """The grids (code, id, community_id, geometry) in force, or of the draft ``plan_id``."""
    if plan_id is None:
        where = [Grid.code.in_(list(codes))] if codes is not None else []
        return read_frame(session, [Grid.code, Grid.id, Grid.community_id], Grid.geom, where=where,
                          order_by=[Grid.code])
    where = [GridPlanGrid.plan_id == plan_id, *([GridPlanGrid.code.in_(list(codes))] if codes is not None else [])]
    frame = read_frame(session, [GridPlanGrid.code, GridPlanGrid.community_id], GridPlanGrid.geom, where=where,
                       order_by=[GridPlanGrid.code])
    ids = dict(session.execute(select(Grid.code, Grid.id)).all())
    frame["id"] = [ids.get(c) for c in frame["code"]]
    return frame


# ---------------------------------------------------------------------------------------------- generating


def generate(session: Session, actor: Actor, *, grids: list[str] | None = None, community: str | None = None,
             plan_id: int | None = None, households_range: tuple[int, int] = DEFAULT_RANGE,
             simulated: bool = False) -> list[dict]:
    """Micro-grids for the grids named (codes), or those of ``community`` (code or name), or every grid; in force
    (``plan_id`` None) or in a draft. A grid's micro-grids are replaced; a 楼栋长 keeps the micro-grid of the same
    code. Returns one summary per grid: ``{grid, micro_grids, households, buildings}``."""
    require_editor(actor)
    _draft(session, plan_id)
    codes = _grid_codes(session, grids, community)
    areas = _grid_areas(session, plan_id, codes)
    if grids and len(areas) < len(set(grids)):
        missing = sorted(set(grids) - set(areas["code"]))
        raise InvalidInput(f"no grid coded {', '.join(missing)}", field="grids")
    epsg = _epsg(session)
    metric = areas.to_crs(epsg)
    buildings = read_frame(session, [Building.id, Building.households], Building.geom,
                           order_by=[Building.id]).to_crs(epsg)
    grid_of = _grid_of_buildings(buildings, metric)
    out = []
    for i, code in enumerate(metric["code"]):
        mine = buildings[grid_of == i]
        plan = group_buildings(mine, code, households_range=households_range, grid_area=metric.geometry.iloc[i])
        rows = plan.frame.to_crs(4326)
        leaders = _clear(session, plan_id, [code])
        gid = _int(metric["id"].iloc[i])
        made = [MicroGrid(plan_id=plan_id, code=r.code, name=r.name, grid_code=code, grid_id=gid,
                          households=int(r.households), simulated=simulated, leader_id=leaders.get(r.code),
                          geom=g) for r, g in zip(rows.itertuples(), ewkt(rows.geometry), strict=True)]
        session.add_all(made)
        session.flush()  # once per grid: the micro-grids' ids for their buildings
        ids = mine["id"].to_numpy()
        session.add_all(MicroGridBuilding(micro_grid_id=m.id, building_id=int(ids[p]))
                        for m, members in zip(made, rows["buildings"], strict=True) for p in members)
        out.append({"grid": code, "micro_grids": len(rows), "households": int(mine["households"].sum()),
                    "buildings": len(mine)})
    session.flush()
    return out


def _int(v: Any) -> int | None:
    return None if v is None or pd.isna(v) else int(v)


def _grid_codes(session: Session, grids: list[str] | None, community: str | None) -> list[str] | None:
    if grids:
        return [g.strip() for g in grids]
    if community:
        com = session.scalars(select(Community).where((Community.code == community)
                                                      | (Community.name == community))).first()
        if com is None:
            raise InvalidInput(f"no community coded or named {community!r}", field="community")
        return list(session.scalars(select(Grid.code).where(Grid.community_id == com.id)))
    return None


def _grid_of_buildings(buildings: gpd.GeoDataFrame, grids: gpd.GeoDataFrame) -> np.ndarray:
    """The position in ``grids`` of the grid holding each building's representative point (-1: none)."""
    out = np.full(len(buildings), -1, dtype=np.int64)
    if len(buildings) == 0 or len(grids) == 0:
        return out
    pts = shapely.point_on_surface(buildings.geometry.to_numpy())
    b, g = shapely.STRtree(grids.geometry.to_numpy()).query(pts, predicate="within")
    out[b[::-1]] = g[::-1]  # the first grid wins on a shared edge
    return out


def _clear(session: Session, plan_id: int | None, grid_codes: list[str]) -> dict[str, int]:
    """Delete the micro-grids of these grids (in force or of the plan); returns their leaders by code."""
    where = [MicroGrid.grid_code.in_(grid_codes),
             MicroGrid.plan_id.is_(None) if plan_id is None else MicroGrid.plan_id == plan_id]
    leaders = {c: u for c, u in session.execute(select(MicroGrid.code, MicroGrid.leader_id).where(*where))
               if u is not None}
    ids = list(session.scalars(select(MicroGrid.id).where(*where)))
    if ids:
        session.execute(delete(MicroGridBuilding).where(MicroGridBuilding.micro_grid_id.in_(ids)))
        session.execute(delete(MicroGrid).where(MicroGrid.id.in_(ids)))
    return leaders


# ---------------------------------------------------------------------------------------------- reading


def readable_grids(actor: Actor, session: Session) -> list | None:
    """WHERE clauses over :class:`MicroGrid` for what ``actor`` reads: all (admin, planner), her community's,
    her subdistrict's, her grids' (grid worker, 网格长), her own (楼栋长); a department none (403)."""
    if actor.role in EDITORS or actor.role == "cli":
        return []
    if actor.role == "supervisor":
        return [MicroGrid.grid_id.in_(select(Grid.id).where(Grid.community_id == actor.community_id))]
    if actor.role == "subdistrict":
        return [MicroGrid.grid_id.in_(select(Grid.id).where(Grid.community_id.in_(sorted(actor.community_ids)
                                                                                   or [-1])))]
    if actor.role in ("grid_worker", "grid_lead"):
        return [MicroGrid.grid_id.in_(sorted(actor.grid_ids) or [-1])]
    if actor.role == "building_lead":
        return [MicroGrid.id.in_(sorted(actor.micro_grid_ids) or [-1])]
    raise Forbidden(f"a {actor.role} has no micro-grids to read", field="role")


def feature_collection(session: Session, actor: Actor, *, plan_id: int | None = None,
                       grid: str | None = None) -> dict:
    """The micro-grids (in force, or of a plan for planners) as GeoJSON: code, name, grid, households, leader (her
    display name and post — a staff account's, not personal data), building ids."""
    where = readable_grids(actor, session)
    if plan_id is not None:
        require_editor(actor)
    where = [*(where or []), MicroGrid.plan_id.is_(None) if plan_id is None else MicroGrid.plan_id == plan_id]
    if grid is not None:
        where.append(MicroGrid.grid_code == grid)
    frame = read_frame(session, [MicroGrid.id, MicroGrid.code, MicroGrid.name, MicroGrid.grid_code,
                                 MicroGrid.households, MicroGrid.leader_id, MicroGrid.simulated], MicroGrid.geom,
                       where=where, order_by=[MicroGrid.code])
    ids = [int(i) for i in frame["id"]]
    members: dict[int, list[int]] = {}
    for m, b in session.execute(select(MicroGridBuilding.micro_grid_id, MicroGridBuilding.building_id)
                                .where(MicroGridBuilding.micro_grid_id.in_(ids or [-1]))
                                .order_by(MicroGridBuilding.building_id)):
        members.setdefault(m, []).append(b)
    leaders = {u.id: u for u in session.scalars(select(User).where(User.id.in_(
        [int(x) for x in frame["leader_id"].dropna()] or [-1])))}
    features = []
    for row, geom in zip(frame.itertuples(), frame.geometry, strict=True):
        lead = leaders.get(_int(row.leader_id) or -1)
        features.append({"type": "Feature", "geometry": shapely.geometry.mapping(geom) if geom is not None else None,
                         "properties": {"code": row.code, "name": row.name, "grid_code": row.grid_code,
                                        "households": int(row.households), "simulated": bool(row.simulated),
                                        "leader": lead.display_name if lead is not None else None,
                                        "leader_username": lead.username if lead is not None else None,
                                        "leader_post": lead.post if lead is not None else None,
                                        "buildings": members.get(int(row.id), [])}})
    return {"type": "FeatureCollection", "features": features}


def summaries(session: Session, actor: Actor, *, plan_id: int | None = None, grid: str | None = None) -> list[dict]:
    """One line per micro-grid: code, name, grid, households, buildings, leader (for ``people microgrids list``)."""
    return [{k: f["properties"][k] for k in ("code", "name", "grid_code", "households", "leader", "leader_post")}
            | {"buildings": len(f["properties"]["buildings"])}
            for f in feature_collection(session, actor, plan_id=plan_id, grid=grid)["features"]]


# ---------------------------------------------------------------------------------------------- editing


def set_leader(session: Session, actor: Actor, code: str, username: str | None) -> MicroGrid:
    """Give the micro-grid in force ``code`` its 楼栋长 (a ``building_lead`` user), or none (``username`` None)."""
    if actor.role not in (*EDITORS, "supervisor", "cli"):
        raise Forbidden(f"a {actor.role} does not appoint 楼栋长", field="role")
    mg = session.scalars(select(MicroGrid).where(MicroGrid.code == code, MicroGrid.plan_id.is_(None))).first()
    if mg is None:
        raise NotFound(f"no micro-grid in force coded {code!r}", field="code")
    if actor.role == "supervisor" and session.scalar(select(Grid.community_id).where(Grid.id == mg.grid_id)) \
            != actor.community_id:
        raise Forbidden("that micro-grid is outside your community", field="code")
    if username is None:
        mg.leader_id = None
        return mg
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        raise InvalidInput(f"no user {username!r}", field="username")
    if user.role != "building_lead":
        raise InvalidInput(f"{username} is a {user.role}, not a building lead (楼栋长)", field="username")
    mg.leader_id = user.id
    session.flush()
    return mg


def move_building(session: Session, actor: Actor, plan_id: int | None, building_id: int, to_code: str) -> dict:
    """Move a building into micro-grid ``to_code`` (of the draft ``plan_id``, or in force for an admin): both
    micro-grids' households and hulls are redrawn. 422 when the building lies in another grid."""
    require_editor(actor)
    if plan_id is None and actor.role != "admin":
        raise Forbidden("the micro-grids in force are edited by an admin; planners edit a draft", field="plan")
    _draft(session, plan_id)
    in_plan = MicroGrid.plan_id.is_(None) if plan_id is None else MicroGrid.plan_id == plan_id
    target = session.scalars(select(MicroGrid).where(MicroGrid.code == to_code, in_plan)).first()
    if target is None:
        raise NotFound(f"no micro-grid coded {to_code!r} in this plan", field="to")
    if session.get(Building, building_id) is None:
        raise InvalidInput(f"no building {building_id}", field="building_id")
    source = session.scalars(select(MicroGrid).join(MicroGridBuilding, MicroGridBuilding.micro_grid_id == MicroGrid.id)
                             .where(MicroGridBuilding.building_id == building_id, in_plan)).first()
    if source is not None and source.grid_code != target.grid_code:
        raise InvalidInput(f"building {building_id} is in grid {source.grid_code}, micro-grid {to_code} in "
                           f"{target.grid_code}: a micro-grid keeps inside its grid", field="to")
    if source is not None:
        if source.id == target.id:
            return {"building_id": building_id, "from": source.code, "to": target.code}
        session.execute(delete(MicroGridBuilding).where(MicroGridBuilding.micro_grid_id == source.id,
                                                        MicroGridBuilding.building_id == building_id))
    session.add(MicroGridBuilding(micro_grid_id=target.id, building_id=building_id))
    session.flush()
    redraw(session, [m for m in (source, target) if m is not None])
    return {"building_id": building_id, "from": source.code if source is not None else None, "to": target.code}


def redraw(session: Session, micro_grids: list[MicroGrid]) -> None:
    """Recount the households and redraw the hull of each micro-grid from its buildings."""
    if not micro_grids:
        return
    for mg in micro_grids:
        ids = list(session.scalars(select(MicroGridBuilding.building_id)
                                   .where(MicroGridBuilding.micro_grid_id == mg.id)))
        households, geom = _drawn(session, ids)
        mg.households = households
        if geom is not None:  # an emptied micro-grid keeps its outline (0 households) until it is redrawn
            mg.geom = geom
    session.flush()


def _drawn(session: Session, building_ids: Iterable[int]) -> tuple[int, str | None]:
    """The households and the hull (EWKT, None without buildings) of a set of buildings."""
    epsg = _epsg(session)
    b = read_frame(session, [Building.id, Building.households], Building.geom,
                   where=[Building.id.in_(list(building_ids) or [-1])]).to_crs(epsg)
    hull = hull_of(list(b.geometry))
    if hull.is_empty:
        return 0, None
    return int(b["households"].sum()), ewkt([gpd.GeoSeries([hull], crs=epsg).to_crs(4326).iloc[0]])[0]


# ---------------------------------------------------------------------------------------------- import / export


def import_rows(session: Session, actor: Actor, data: bytes, *, fmt: str, plan_id: int | None = None) -> dict:
    """Micro-grids from a file: ``csv`` with columns ``code``, ``name`` and ``building_id`` or ``address`` (one row
    per building), or ``geojson`` (features with properties ``code`` and ``name``: the buildings whose
    representative point lies within). Replaces the micro-grids of the grids they fall in; all or nothing (422
    naming the row). Returns ``{micro_grids, buildings}``."""
    require_editor(actor)
    _draft(session, plan_id)
    groups = _csv_groups(session, data) if fmt == "csv" else _geojson_groups(session, data)
    grid_of = dict(session.execute(select(Building.id, Building.grid_id)
                                   .where(Building.id.in_([b for g in groups.values() for b in g[1]] or [-1]))).all())
    codes = dict(session.execute(select(Grid.id, Grid.code)).all())
    per_grid: dict[str, list[str]] = {}
    for code, (_, bids) in groups.items():
        grids = {grid_of.get(b) for b in bids}
        if len(grids) != 1 or None in grids:
            raise InvalidInput(f"micro-grid {code}: its buildings must lie in one grid", field="code")
        per_grid.setdefault(codes[grids.pop()], []).append(code)
    in_plan = MicroGrid.plan_id.is_(None) if plan_id is None else MicroGrid.plan_id == plan_id
    clash = session.execute(select(MicroGrid.code, MicroGrid.grid_code).where(
        in_plan, MicroGrid.code.in_(list(groups)), MicroGrid.grid_code.not_in(list(per_grid)))).first()
    if clash is not None:
        raise InvalidInput(f"micro-grid code {clash[0]} is taken by grid {clash[1]}", field="code")
    for grid_code, mcodes in per_grid.items():
        leaders = _clear(session, plan_id, [grid_code])
        gid = session.scalar(select(Grid.id).where(Grid.code == grid_code))
        for code in mcodes:
            name, bids = groups[code]
            households, geom = _drawn(session, bids)
            mg = MicroGrid(plan_id=plan_id, code=code, name=name, grid_code=grid_code, grid_id=gid,
                           leader_id=leaders.get(code), households=households, geom=geom)
            session.add(mg)
            session.flush()
            session.add_all(MicroGridBuilding(micro_grid_id=mg.id, building_id=b) for b in sorted(bids))
            session.flush()
    return {"micro_grids": len(groups), "buildings": sum(len(g[1]) for g in groups.values())}


def _csv_groups(session: Session, data: bytes) -> dict[str, tuple[str, set[int]]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("the CSV is not UTF-8", field="file") from None
    reader = csv.DictReader(io.StringIO(text))
    cols = set(reader.fieldnames or [])
    if "code" not in cols or not cols & {"building_id", "address"}:
        raise InvalidInput("the CSV needs columns code, name and building_id or address", field="file")
    groups: dict[str, tuple[str, set[int]]] = {}
    for n, row in enumerate(reader, start=2):
        if n > MAX_IMPORT_ROWS:
            raise InvalidInput(f"at most {MAX_IMPORT_ROWS} rows", field="file")
        code = (row.get("code") or "").strip()
        if not code or len(code) > 24:
            raise InvalidInput(f"row {n}: code is empty or longer than 24 characters", field="code")
        bid = _building_of_row(session, row, n)
        groups.setdefault(code, ((row.get("name") or "").strip()[:200] or code, set()))[1].add(bid)
    if not groups:
        raise InvalidInput("the CSV has no rows", field="file")
    return groups


def _building_of_row(session: Session, row: dict, n: int) -> int:
    raw = (row.get("building_id") or "").strip()
    if raw:
        if not raw.isdigit() or session.get(Building, int(raw)) is None:
            raise InvalidInput(f"row {n}: no building {raw!r}", field="building_id")
        return int(raw)
    address = (row.get("address") or "").strip()
    found = list(session.scalars(select(Building.id).where(
        (Building.address == address) | (Building.label == address)).limit(2)))
    if len(found) != 1:
        raise InvalidInput(f"row {n}: {'no' if not found else 'more than one'} building at {address!r}",
                           field="address")
    return int(found[0])


def _geojson_groups(session: Session, data: bytes) -> dict[str, tuple[str, set[int]]]:
    try:
        frame = gpd.GeoDataFrame.from_features(json.loads(data)["features"], crs=4326)
    except (ValueError, KeyError, TypeError):
        raise InvalidInput("not a GeoJSON FeatureCollection", field="file") from None
    if "code" not in frame or frame["code"].isna().any():
        raise InvalidInput("every feature needs a property code", field="code")
    buildings = read_frame(session, [Building.id], Building.geom)
    pts = shapely.point_on_surface(buildings.geometry.to_numpy())
    groups: dict[str, tuple[str, set[int]]] = {}
    for row, geom in zip(frame.itertuples(), frame.geometry, strict=True):
        inside = shapely.within(pts, geom)
        code = str(row.code).strip()
        name = str(getattr(row, "name", "") or code)[:200]
        groups[code] = (name, {int(b) for b in buildings["id"][inside]})
        if not groups[code][1]:
            raise InvalidInput(f"micro-grid {code} holds no building", field="code")
    return groups


def export_csv(session: Session, actor: Actor, *, plan_id: int | None = None) -> str:
    """The micro-grids' buildings as the CSV :func:`import_rows` reads (code, name, building_id, address)."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["code", "name", "building_id", "address"])
    fc = feature_collection(session, actor, plan_id=plan_id)
    addresses = dict(session.execute(select(Building.id, func.coalesce(Building.label, Building.address))).all())
    for f in fc["features"]:
        p = f["properties"]
        for b in p["buildings"]:
            w.writerow([p["code"], p["name"], b, addresses.get(b) or ""])
    return out.getvalue()


# ---------------------------------------------------------------------------------------------- plans


def copy_to_plan(session: Session, plan_id: int) -> int:
    """A new draft's micro-grids: a copy of those in force (leaders, buildings and all). Returns how many."""
    n = 0
    for mg in session.scalars(select(MicroGrid).where(MicroGrid.plan_id.is_(None)).order_by(MicroGrid.id)).all():
        n += _copy(session, mg, plan_id)
    return n


def put_in_force(session: Session, plan_id: int) -> int:
    """Publishing plan ``plan_id``: its micro-grids replace those in force, each tied to the grid of its code (a
    plan without micro-grids leaves those in force alone). Returns how many are in force now."""
    rows = session.scalars(select(MicroGrid).where(MicroGrid.plan_id == plan_id).order_by(MicroGrid.id)).all()
    if not rows:
        return 0
    old = list(session.scalars(select(MicroGrid.id).where(MicroGrid.plan_id.is_(None))))
    if old:
        session.execute(delete(MicroGridBuilding).where(MicroGridBuilding.micro_grid_id.in_(old)))
        session.execute(delete(MicroGrid).where(MicroGrid.id.in_(old)))
    ids = dict(session.execute(select(Grid.code, Grid.id)).all())
    for mg in rows:
        _copy(session, mg, None, grid_id=ids.get(mg.grid_code))
    return len(rows)


def _copy(session: Session, mg: MicroGrid, plan_id: int | None, grid_id: int | None = None) -> int:
    new = MicroGrid(plan_id=plan_id, code=mg.code, name=mg.name, grid_code=mg.grid_code,
                    grid_id=grid_id if grid_id is not None else mg.grid_id, leader_id=mg.leader_id,
                    households=mg.households, simulated=mg.simulated, geom=mg.geom)
    session.add(new)
    session.flush()
    session.add_all(MicroGridBuilding(micro_grid_id=new.id, building_id=b) for b in session.scalars(
        select(MicroGridBuilding.building_id).where(MicroGridBuilding.micro_grid_id == mg.id)))
    session.flush()
    return 1


__all__ = ["DEFAULT_RANGE", "copy_to_plan", "export_csv", "feature_collection", "generate", "import_rows",
           "micro_code", "micro_name", "move_building", "put_in_force", "readable_grids", "redraw", "set_leader",
           "summaries"]
