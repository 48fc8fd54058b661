"""The district the scale generator fills (:mod:`patrol.simulate.scale`): the real city imported and gridded, its
simulated people, and everything read once from them as numpy arrays — buildings to place cases at, who acts on
each grid's and community's cases, the categories, and the walks along each grid's real streets."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from pyproj import Transformer
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from patrol.cases.categories import load_categories
from patrol.city.gridding import generate_city_grids
from patrol.city.households import grid_households
from patrol.city.osm_import import city_exists, read_city, store_city
from patrol.core.auth import create_user
from patrol.core.db import transaction
from patrol.core.errors import InvalidInput
from patrol.core.frames import ewkt, read_frame
from patrol.core.models import (
    Building,
    CaseEvent,
    Category,
    City,
    Community,
    GpsFix,
    Grid,
    Patrol,
    Photo,
    ResponsibleUnit,
    RoadSegment,
    Subdistrict,
    User,
)
from patrol.core.models import Case as CaseRow
from patrol.core.settings import Settings
from patrol.simulate import scale_cases as sc
from patrol.simulate.logins import DEMO_PASSWORD
from patrol.simulate.month import CATEGORIES, UNIT_TYPES
from patrol.simulate.names import NameMaker

STEP_M = 6.0  # a fix every 5 s at 1.2 m/s
FIX_EVERY_S = 5
LEVEL_INDEX = {"grid": 0, "community": 1, "department": 2}


def ensure_city(factory: sessionmaker[Session], settings: Settings, osm: Path, name: str) -> None:
    """Import the city from ``osm`` with its categories and grids, unless the database holds a city already."""
    with factory() as s:
        if city_exists(s) is not None:
            return
    if not osm.is_file():
        raise InvalidInput(f"OpenStreetMap extract not found: {osm} (give --osm FILE)", field="osm")
    model = read_city(osm, name=name, dwelling_m2=settings.dwelling_m2)
    with transaction(factory) as s:
        store_city(s, model, source=f"osm:{osm.name}", district_code=settings.district_code, progress=True)
        load_categories(s)
        generate_city_grids(s, households_range=grid_households(s, settings), progress=True)


def ensure_people(factory: sessionmaker[Session], rng: random.Random) -> None:
    """The district's simulated people, unless simulated users exist: an admin, one grid worker per grid
    (``w`` + grid code), a supervisor (``sup<id>``) and a community office unit with its user (``office<id>``) per
    community, a 街道 user per subdistrict (``street<id>``), and the demo's department units
    (:data:`patrol.simulate.month.UNIT_TYPES`, ``dept_<type>``). The usernames carry ids or full codes: a city of
    several subdistricts repeats the short codes the demo's usernames use."""
    with transaction(factory) as s:
        if s.scalar(select(func.count()).select_from(User).where(User.simulated)):
            return
        names = NameMaker(rng)
        admin = create_user(s, username="admin", role="admin", password=DEMO_PASSWORD,
                            display_name="管理员 (模拟)", simulated=True)
        for g in s.scalars(select(Grid).order_by(Grid.code)).all():
            create_user(s, username=f"w{g.code}", role="grid_worker", password=None,
                        display_name=names.labelled(), grids=[g.code], simulated=True)
        for sub in s.scalars(select(Subdistrict).order_by(Subdistrict.id)).all():
            create_user(s, username=f"street{sub.id}", role="subdistrict", password=None,
                        display_name=names.labelled("街道办"), subdistrict=sub.code, simulated=True)
        _offices(s, names)
        _departments(s, names, rng)
        # one hash of the demo password for all (hashing is slow on purpose; the password is the same anyway)
        s.execute(update(User).where(User.simulated, User.password_hash.is_(None))
                  .values(password_hash=admin.password_hash))


def _offices(s: Session, names: NameMaker) -> None:
    for c in s.scalars(select(Community).order_by(Community.id)).all():
        create_user(s, username=f"sup{c.id}", role="supervisor", password=None,
                    display_name=names.labelled(), community=c.name, simulated=True)
        poly = shapely.from_wkb(bytes(s.scalar(select(func.ST_AsBinary(Community.geom))
                                               .where(Community.id == c.id)) or b""))
        u = ResponsibleUnit(type="community_office", name=f"{c.name}居委会 (模拟)",
                            geom=ewkt([poly.representative_point()])[0], jurisdiction=ewkt([poly])[0])
        s.add(u)
        s.flush()
        create_user(s, username=f"office{c.id}", role="department", password=None,
                    display_name=names.labelled("居委会"), unit_id=u.id, simulated=True)


def _departments(s: Session, names: NameMaker, rng: random.Random) -> None:
    b = read_frame(s, [Building.id], Building.geom)
    pts = b.geometry.representative_point().sample(len(UNIT_TYPES), random_state=rng.randrange(1 << 30))
    for (kind, label), p in zip(UNIT_TYPES, pts, strict=True):
        u = ResponsibleUnit(type=kind, name=f"{label} (模拟)", geom=ewkt([p])[0])
        s.add(u)
        s.flush()
        create_user(s, username=f"dept_{kind}", role="department", password=None,
                    display_name=names.labelled(label), unit_id=u.id, simulated=True)


@dataclass
class World:
    """The city as arrays (indexes, not ids, inside the generator)."""

    b_lon: np.ndarray
    b_lat: np.ndarray
    b_id: np.ndarray
    b_grid: np.ndarray  # building → grid index
    b_com: np.ndarray  # building → community index
    b_weight: np.ndarray
    grid_id: np.ndarray
    grid_worker: np.ndarray
    grid_geom: np.ndarray  # WGS-84 shapely polygons
    com_id: np.ndarray
    actors: sc.Actors
    cat_code: np.ndarray
    cat_description: np.ndarray
    cat_level: np.ndarray
    cat_top: np.ndarray
    cat_hours: np.ndarray
    cat_weight: np.ndarray
    labels: dict[int, str]
    roads: np.ndarray  # WGS-84 shapely lines
    next_id: dict[str, int]
    metric_epsg: int

    def user_label(self, users: np.ndarray) -> np.ndarray:
        """The event's ``actor`` text of each user id (``role:username``; −1: the system)."""
        table = np.full(max(self.labels, default=0) + 2, "system", dtype=object)
        for uid, label in self.labels.items():
            table[uid] = label
        return table[np.where(users < 0, len(table) - 1, users)]


def read_world(s: Session) -> World:
    grids = s.execute(select(Grid.id, Grid.community_id, Grid.worker_id).where(Grid.worker_id.is_not(None))
                      .order_by(Grid.id)).all()
    if not grids:
        raise InvalidInput("the city has no grids with a worker: draw grids first (gridpatrol grids generate)",
                           field="city")
    coms = s.execute(select(Community.id, Community.subdistrict_id, Community.code).order_by(Community.id)).all()
    g_index = {g.id: i for i, g in enumerate(grids)}
    c_index = {c.id: i for i, c in enumerate(coms)}
    b = read_frame(s, [Building.id, Building.grid_id, Building.community_id, Building.households], Building.geom,
                   where=[Building.grid_id.in_(list(g_index))])
    pts = b.geometry.representative_point()
    gframe = read_frame(s, [Grid.id], Grid.geom, where=[Grid.id.in_(list(g_index))], order_by=[Grid.id])
    com_of_grid = np.array([c_index[g.community_id] for g in grids])
    b_grid = b["grid_id"].map(g_index).to_numpy()
    return World(
        b_lon=pts.x.to_numpy(), b_lat=pts.y.to_numpy(), b_id=b["id"].to_numpy(np.int64), b_grid=b_grid,
        b_com=com_of_grid[b_grid], b_weight=b["households"].fillna(0).to_numpy(float) + 1,
        grid_id=np.array([g.id for g in grids], np.int64), grid_worker=np.array([g.worker_id for g in grids], np.int64),
        grid_geom=gframe.geometry.to_numpy(), com_id=np.array([c.id for c in coms], np.int64),
        actors=_actors(s, grids, coms), **_categories(s), labels=_labels(s),
        roads=read_frame(s, [RoadSegment.id], RoadSegment.geom).geometry.to_numpy(), next_id=_next_ids(s),
        metric_epsg=int(s.scalar(select(City.metric_epsg)) or 3857))


def _actors(s: Session, grids, coms) -> sc.Actors:
    users = s.execute(select(User.id, User.role, User.username, User.community_id, User.unit_id,
                             User.subdistrict_id).where(User.active.is_(True)).order_by(User.id)).all()
    sup: dict[int, int] = {}
    street: dict[int, int] = {}
    dept_user: dict[int, int] = {}
    for u in users:
        if u.role == "supervisor" and u.community_id is not None:
            sup.setdefault(u.community_id, u.id)
        elif u.role == "subdistrict" and u.subdistrict_id is not None:
            street.setdefault(u.subdistrict_id, u.id)
        elif u.role == "department" and u.unit_id is not None:
            dept_user.setdefault(u.unit_id, u.id)
    units = s.execute(select(ResponsibleUnit.id, ResponsibleUnit.type).order_by(ResponsibleUnit.id)).all()
    office_unit = {}
    for u in users:
        if u.role == "department" and u.username.startswith("office") and u.username[6:].isdigit():
            office_unit[int(u.username[6:])] = u.unit_id
    depts = [u.id for u in units if u.type != "community_office" and u.id in dept_user] or [-1]
    o_units = np.array([office_unit.get(c.id, -1) for c in coms], np.int64)
    return sc.Actors(
        grid_worker=np.array([g.worker_id for g in grids], np.int64),
        com_sup=np.array([sup.get(c.id, -1) for c in coms], np.int64),
        com_office_unit=o_units,
        com_office_user=np.array([dept_user.get(int(u), -1) for u in o_units], np.int64),
        com_street=np.array([street.get(c.subdistrict_id, -1) for c in coms], np.int64),
        dept_unit=np.array(depts, np.int64), dept_user=np.array([dept_user.get(u, -1) for u in depts], np.int64))


def _categories(s: Session) -> dict[str, np.ndarray]:
    cats = s.scalars(select(Category).where(Category.active.is_(True)).order_by(Category.code)).all()
    level = np.array([LEVEL_INDEX[c.level] for c in cats])
    top = np.array([LEVEL_INDEX.get(c.top_level or "department", 2) for c in cats])
    # community matters (C…) and events are reported most; the demo's usual ones most of all
    weight = np.array([(3.0 if c.kind == "event" else 1.0) * (1 + CATEGORIES.get(c.code, 0)) for c in cats])
    return {"cat_code": np.array([c.code for c in cats], dtype=object),
            "cat_description": np.array([f"{c.name_zh} (模拟)" for c in cats], dtype=object),
            "cat_level": level, "cat_top": np.maximum(top, level),
            "cat_hours": np.array([c.deadline_hours for c in cats], float), "cat_weight": weight / weight.sum()}


def _labels(s: Session) -> dict[int, str]:
    return {u.id: f"{u.role}:{u.username}" for u in s.execute(select(User.id, User.role, User.username)).all()}


def _next_ids(s: Session) -> dict[str, int]:
    out = {}
    for name, model in (("patrol_case", CaseRow), ("case_event", CaseEvent), ("photo", Photo), ("patrol", Patrol),
                        ("gps_fix", GpsFix)):
        out[name] = int(s.scalar(select(func.max(model.id))) or 0) + 1
    return out


def case_chunk(w: World, t0: np.ndarray, rng: np.random.Generator) -> tuple[sc.Chunk, dict[str, np.ndarray]]:
    """Category, channel and place (a real building of a grid, a few metres off) of each case reported at ``t0``."""
    n = len(t0)
    cat = rng.choice(len(w.cat_code), n, p=w.cat_weight)
    names = np.array(list(sc.CHANNEL_P), dtype=object)
    channel = names[rng.choice(len(names), n, p=np.array(list(sc.CHANNEL_P.values())))]
    level0 = w.cat_level[cat]
    channel[(channel == "self_handled") & (level0 != 0)] = "patrol"  # 自行处置 only for the grid's own matters
    b = rng.choice(len(w.b_id), n, p=w.b_weight / w.b_weight.sum())
    grid, com = w.b_grid[b], w.b_com[b]
    worker, sup = w.actors.grid_worker[grid], w.actors.com_sup[com]
    reporter = np.where(np.isin(channel, ["patrol", "self_handled"]), worker,
                        np.where(np.isin(channel, ["staff", "inspection"]), sup, -1))
    chunk = sc.Chunk(t0=t0, level0=level0, top=w.cat_top[cat],
                     deadline_s=(w.cat_hours[cat] * sc.WALL_PER_WORK_HOUR * 3600).astype(np.int64), channel=channel,
                     grid=grid, com=com, dept=rng.integers(0, len(w.actors.dept_unit), n))
    place = {"cat": cat, "building": w.b_id[b], "lon": w.b_lon[b] + rng.uniform(-5e-5, 5e-5, n),
             "lat": w.b_lat[b] + rng.uniform(-5e-5, 5e-5, n), "reporter": reporter}
    return chunk, place


# ---------------------------------------------------------------------------------------------- walks


@dataclass
class Tours:
    """Per grid index, a walk along its streets (lon/lat every 6 m) inside ``lon[start:start + length]``."""

    lon: np.ndarray
    lat: np.ndarray
    start: np.ndarray
    length: np.ndarray


def street_tours(w: World) -> Tours:
    """Each grid's streets (clipped to the grid) chained end to nearest start, sampled every 6 m."""
    to_wgs = Transformer.from_crs(w.metric_epsg, 4326, always_xy=True)
    grids_m = gpd.GeoSeries(w.grid_geom, crs=4326).to_crs(w.metric_epsg).to_numpy()
    lines_m = gpd.GeoSeries(w.roads, crs=4326).to_crs(w.metric_epsg).to_numpy()
    tree = shapely.STRtree(lines_m)
    lon_parts, lat_parts, start, length = [], [], [], []
    pos = 0
    for poly in grids_m:
        idx = tree.query(poly, predicate="intersects")
        inside = [g for g in shapely.get_parts(shapely.intersection(lines_m[idx], poly))
                  if isinstance(g, shapely.LineString) and g.length > 20]
        xy = _chain(inside) if inside else np.empty((0, 2))
        lon, lat = to_wgs.transform(xy[:, 0], xy[:, 1]) if len(xy) else (np.empty(0), np.empty(0))
        lon_parts.append(np.asarray(lon))
        lat_parts.append(np.asarray(lat))
        start.append(pos)
        length.append(len(xy))
        pos += len(xy)
    return Tours(np.concatenate(lon_parts), np.concatenate(lat_parts), np.array(start), np.array(length))


def _chain(lines: list) -> np.ndarray:
    """The lines walked one after the other, each from the end nearer to where the last one ended; points every
    6 m."""
    left = sorted(lines, key=lambda g: -g.length)
    out = []
    here = None
    while left:
        if here is not None:
            ends = np.array([[*g.coords[0], *g.coords[-1]] for g in left])
            d0 = np.hypot(ends[:, 0] - here[0], ends[:, 1] - here[1])
            d1 = np.hypot(ends[:, 2] - here[0], ends[:, 3] - here[1])
            i = int(np.argmin(np.minimum(d0, d1)))
            line = left.pop(i)
            if d1[i] < d0[i]:
                line = shapely.reverse(line)
        else:
            line = left.pop(0)
        dist = np.arange(0, line.length, STEP_M)
        pts = shapely.get_coordinates(shapely.line_interpolate_point(line, dist))
        out.append(pts)
        here = pts[-1]
    return np.concatenate(out)


def patrol_plan(w: World, tours: Tours, rng: np.random.Generator, n_fixes: int, now_s: int, offset: int,
                first_id: int) -> dict[str, np.ndarray]:
    """The patrols of the last year, in time order: on about 90 % of working days each worker walks k times
    (k so that a walk lasts about an hour), the fixes shared out so that they add up to ``n_fixes``."""
    walkable = np.flatnonzero(tours.length > 0)
    if len(walkable) == 0:
        raise InvalidInput("no grid has streets to walk: the city has no roads inside its grids", field="city")
    today = (now_s + offset) // 86400
    days = np.arange(today - 365, today + 1)
    days = days[(days + 3) % 7 < 5]  # Monday … Friday (1970-01-01 was a Thursday)
    per_day = int(np.clip(round(n_fixes / (len(walkable) * len(days) * 0.9 * 720)), 1, 6))
    mesh = np.meshgrid(walkable, days, np.arange(per_day), indexing="ij")
    g, d, j = (m.ravel() for m in mesh)
    present = rng.random(len(g)) < 0.9
    g, d, j = g[present], d[present], j[present]
    start = d * 86400 - offset + int(8.5 * 3600) + j * (9 * 3600 // per_day) + rng.integers(0, 1200, len(g))
    ok = start < now_s - 3 * 3600
    g, start = g[ok], start[ok]
    order = np.argsort(start, kind="stable")
    g, start = g[order], start[order]
    weight = rng.uniform(0.8, 1.2, len(g))
    n = np.floor(n_fixes * weight / weight.sum()).astype(np.int64)
    n[: n_fixes - int(n.sum())] += 1
    n = np.maximum(n, 2)
    return {"id": np.arange(first_id, first_id + len(g), dtype=np.int64), "tour": g, "grid_id": w.grid_id[g],
            "worker": w.grid_worker[g], "start": start, "n": n, "end": start + (n - 1) * FIX_EVERY_S,
            "offset": rng.integers(0, 1 << 30, len(g)) % tours.length[g]}


def fixes_of(tours: Tours, plan: dict[str, np.ndarray], lo: int, hi: int, rng: np.random.Generator
             ) -> dict[str, np.ndarray]:
    """The fixes of patrols ``lo:hi``: every 5 s a step along the tour (from the patrol's offset, round it again
    when it ends), with a metre or two of GPS noise."""
    n = plan["n"][lo:hi]
    total = int(n.sum())
    p = np.repeat(np.arange(hi - lo), n)
    k = np.arange(total) - np.repeat(np.cumsum(n) - n, n)
    g = plan["tour"][lo:hi][p]
    idx = tours.start[g] + (plan["offset"][lo:hi][p] + k) % tours.length[g]
    return {"patrol": plan["id"][lo:hi][p], "t": plan["start"][lo:hi][p] + k * FIX_EVERY_S,
            "accuracy": np.round(rng.uniform(3, 15, total), 1),
            "lon": tours.lon[idx] + rng.normal(0, 1.2e-5, total), "lat": tours.lat[idx] + rng.normal(0, 1.2e-5, total)}
