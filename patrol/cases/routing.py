"""Who must handle a case, and the nearest of them by road; a grid worker's walking route for the day.

1. **Responsibility** (:mod:`patrol.cases.responsibility`): the rules for the case's category at its level are tried
   from the most specific. A rule names a unit type; the units of that type whose jurisdiction covers the point are the
   candidates (a unit without a jurisdiction serves the whole city). **Nested jurisdictions**: when one candidate's
   jurisdiction lies inside another's, the inner one is responsible (a subdistrict's 城管 squad before the city's
   brigade; a citywide unit only when no local one covers the point). **Overlapping** jurisdictions that are not
   nested: every such unit is a candidate and the nearest by road wins; equal costs go to the smaller jurisdiction,
   then the lower id. No candidate for any rule → :class:`NobodyResponsible` (409) with the reason for each rule.
   Units that already returned the case (不属于本单位) are left out when it is dispatched again.
2. **Nearest by road** (:mod:`geo.network`): the road graph of the city and a :class:`geo.network.FacilityIndex`
   per unit type and profile are built once per process and kept while the roads and units stay the same; a
   moved, added or removed unit updates one row. Drive units are ranked by travel time, walking ones by length.
   A point off the network or on a piece no candidate reaches falls back to straight-line distance, flagged.
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import threading
from dataclasses import dataclass, field

import numpy as np
import pyproj
import shapely
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from geo.errors import GeoValidationError
from geo.network import NOMINAL_SPEED_KMH, WALK_SPEED_KMH, FacilityIndex, RoadGraph, order_stops
from patrol.cases.places import locate, metres, nearest_grid
from patrol.cases.responsibility import GRID_WORKER, Rule, all_rules, rules_for
from patrol.cases.tasks import worker_stops
from patrol.core.errors import Conflict, InvalidInput
from patrol.core.frames import read_frame
from patrol.core.models import Category, City, GpsFix, Grid, Patrol, ResponsibleUnit, RoadSegment, User

WEIGHT = {"drive": "time", "walk": "length"}


class NobodyResponsible(Conflict):
    """No unit covers the point for any rule that applies (409)."""


class NoRoads(Conflict):
    """Routing needs the city's roads and there are none (409)."""


@dataclass
class Candidate:
    unit_id: int
    name: str
    type: str
    distance_m: float
    eta_s: float
    fallback: str | None = None
    reason: str | None = None

    def as_dict(self) -> dict:
        return {"unit_id": self.unit_id, "name": self.name, "type": self.type,
                "distance_m": round(self.distance_m, 1), "eta_s": round(self.eta_s, 1),
                "fallback": self.fallback, "reason": self.reason}


@dataclass
class Decision:
    category: str
    level: str
    rule: Rule | None
    candidates: list[Candidate] = field(default_factory=list)
    route: dict | None = None  # GeoJSON LineString, WGS-84
    worker: dict | None = None  # for grid-level cases: the grid's worker
    tried: list[str] = field(default_factory=list)

    @property
    def chosen(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None

    def why(self) -> str:
        """One line for the case's timeline, in Chinese as people read it there: which rule (its category and what
        it says; its level and unit type are codes), which unit, how far, of how many."""
        rule = f"责任规则 {self.rule.category}" + (f"（{self.rule.note_zh}）" if self.rule.note_zh else "")
        if self.worker is not None:
            return f"{rule}：本网格网格员 {self.worker['name']}"
        c = self.chosen
        how = "直线距离（无道路可达）" if c.fallback else "道路最近"
        return (f"{rule}：{c.name}，{how} {c.distance_m:.0f} 米，约 {c.eta_s / 60:.0f} 分钟，"
                f"{len(self.candidates)} 个候选单位")

    def as_dict(self) -> dict:
        return {
            "category": self.category, "level": self.level,
            "rule": None if self.rule is None else {
                "category": self.rule.category, "level": self.rule.level, "unit_type": self.rule.unit_type,
                "priority": self.rule.priority, "profile": self.rule.profile, "note_zh": self.rule.note_zh},
            "unit_type": None if self.rule is None else self.rule.unit_type,
            "chosen": None if self.chosen is None else self.chosen.as_dict(),
            "candidates": [c.as_dict() for c in self.candidates],
            "worker": self.worker, "route": self.route, "tried": self.tried, "why": self.why(),
        }


# ---------------------------------------------------------------------------------------------- caches


@dataclass
class _Network:
    signature: tuple
    crs: pyproj.CRS
    to_metric: pyproj.Transformer
    to_wgs84: pyproj.Transformer
    graphs: dict[str, RoadGraph] = field(default_factory=dict)
    indexes: dict[tuple[str, str], tuple[list[tuple], FacilityIndex]] = field(default_factory=dict)


_cache: dict[str, _Network] = {}
_lock = threading.Lock()


def _key(session: Session) -> str:
    return session.get_bind().url.render_as_string(hide_password=False)


def _network(session: Session) -> _Network:
    """The city's roads, read again only when they changed (count, last id, total length, or the map version that
    every import bumps: roads replaced by as many of the same length reuse SQLite's ids)."""
    sig = tuple(session.execute(select(func.count(RoadSegment.id), func.max(RoadSegment.id),
                                       func.sum(RoadSegment.length_m))).one())
    if not sig[0]:
        raise NoRoads("no roads imported: import the city (gridpatrol import) before routing", field="roads")
    epsg, version = session.execute(select(City.metric_epsg, City.map_version).limit(1)).one()
    key = _key(session)
    with _lock:
        net = _cache.get(key)
        if net is None or net.signature != (sig, epsg, version):
            crs = pyproj.CRS.from_epsg(epsg)
            net = _Network((sig, epsg, version), crs, pyproj.Transformer.from_crs(4326, crs, always_xy=True),
                           pyproj.Transformer.from_crs(crs, 4326, always_xy=True))
            _cache[key] = net
        return net


def graph(session: Session, profile: str) -> tuple[_Network, RoadGraph]:
    net = _network(session)
    with _lock:
        g = net.graphs.get(profile)
    if g is None:
        roads = read_frame(session, [RoadSegment.id, RoadSegment.highway, RoadSegment.oneway], RoadSegment.geom)
        try:
            g = RoadGraph.from_lines(roads.to_crs(net.crs), profile=profile)
        except GeoValidationError as exc:  # e.g. an imported road layer of footways only: nothing to drive on
            raise NoRoads(f"no roads of the {profile} profile: {exc}", field="roads") from exc
        with _lock:
            net.graphs[profile] = g
    return net, g


def _units_index(session: Session, unit_type: str, profile: str) -> tuple[_Network, list[int], FacilityIndex]:
    """The FacilityIndex of every unit of a type; rows of moved, added or removed units are refreshed alone."""
    net, g = graph(session, profile)
    units = read_frame(session, [ResponsibleUnit.id], ResponsibleUnit.geom,
                       where=[ResponsibleUnit.type == unit_type], order_by=[ResponsibleUnit.id])
    x, y = net.to_metric.transform(units.geometry.x.to_numpy(), units.geometry.y.to_numpy())
    now = [(int(i), float(a), float(b)) for i, a, b in zip(units["id"], x, y, strict=True)]
    with _lock:  # one writer at a time: the index is updated in place
        cached = net.indexes.get((unit_type, profile))
        if cached is not None and cached[1] is not None and set(cached[0]) != set(now) and now:
            # a shallow copy: add/remove/move rebind its arrays, so readers of the old index are undisturbed
            rows, index = list(cached[0]), copy.copy(cached[1])
            new = {i: (a, b) for i, a, b in now}
            for pos in range(len(rows) - 1, -1, -1):  # removals from the end so positions stay valid
                if rows[pos][0] not in new:
                    index.remove(pos)
                    del rows[pos]
            for pos, (i, a, b) in enumerate(rows):
                if new[i] != (a, b):
                    index.move(pos, *new[i])
                    rows[pos] = (i, *new[i])
            known = {r[0] for r in rows}
            for i, a, b in now:
                if i not in known:
                    index.add(a, b)
                    rows.append((i, a, b))
            cached = (rows, index)
        elif cached is None or not now:
            cached = (now, FacilityIndex.build(g, x, y, weight=WEIGHT[profile]) if now else None)
        net.indexes[(unit_type, profile)] = cached
    return net, [r[0] for r in cached[0]], cached[1]


def clear_cache() -> None:
    with _lock:
        _cache.clear()


# ---------------------------------------------------------------------------------------------- responsibility


def responsible(session: Session, *, lon: float, lat: float, category: str, level: str | None = None,
                grid_id: int | None = None, exclude_units: tuple[int, ...] = (),
                allow_straight_line: bool = False, with_route: bool = True) -> Decision:
    """Who must handle a case of ``category`` at (lon, lat) (WGS-84) at ``level`` (default: the category's), and the
    nearest responsible unit by road with its route. Raises NobodyResponsible (409) with the reason for every rule
    tried; NoRoads (409) when the city has no roads, unless ``allow_straight_line``."""
    cat = session.get(Category, category)
    if cat is None or not cat.active:
        raise InvalidInput(f"unknown category {category!r}; see GET /api/v1/categories", field="category")
    if level is not None and level not in ("grid", "community", "department"):
        raise InvalidInput(f"level must be grid, community or department, got {level!r}", field="level")
    if grid_id is None:
        place = locate(session, lon, lat)
        if place.community_id is None and place.grid_id is None:
            near = nearest_grid(session, lon, lat)
            where = f"; the nearest grid is {near[0]}, {near[1]:.0f} m away" if near else ""
            raise InvalidInput(f"the point ({lon:.6f}, {lat:.6f}) lies outside the city's communities{where}",
                               field="lat")
        grid_id = place.grid_id
    level = level or (cat.level if grid_id is not None or cat.level != "grid" else "community")
    decision = Decision(category, level, None)
    point = shapely.Point(lon, lat)
    for rule in rules_for(session, category, level):
        if rule.unit_type == GRID_WORKER:
            worker = session.execute(select(User.id, User.display_name, User.username).join(
                Grid, Grid.worker_id == User.id).where(Grid.id == grid_id)).first() if grid_id else None
            if worker is None:
                decision.tried.append(f"{rule.label()}: " + ("the point is in no grid" if grid_id is None
                                                             else "the grid has no worker"))
                continue
            decision.rule = rule
            decision.worker = {"user_id": worker[0], "name": worker[1] or worker[2], "grid_id": grid_id}
            return decision
        units = _covering(session, rule.unit_type, point, exclude_units)
        if not units:
            decision.tried.append(f"{rule.label()}: no unit of type {rule.unit_type!r} covers this point"
                                  + (" (units that returned the case are left out)" if exclude_units else ""))
            continue
        decision.rule = rule
        decision.candidates, decision.route = _rank(session, rule, units, lon, lat, allow_straight_line,
                                                    with_route)
        return decision
    raise NobodyResponsible(f"nobody is responsible for {category} at level {level} here: "
                            + "; ".join(decision.tried or ["no responsibility rule applies"]),
                            field="category", details=decision.tried)


def _covering(session: Session, unit_type: str, point: shapely.Point, exclude: tuple[int, ...]) -> list[dict]:
    """Units of ``unit_type`` whose jurisdiction covers the point (or that have none), innermost ones only."""
    covers = func.ST_Intersects(ResponsibleUnit.jurisdiction, func.ST_GeomFromText(point.wkt, 4326))
    if session.get_bind().dialect.name == "sqlite":
        covers = covers == 1
    rows = session.execute(
        select(ResponsibleUnit.id, ResponsibleUnit.name, func.ST_AsBinary(ResponsibleUnit.jurisdiction))
        .where(ResponsibleUnit.type == unit_type,
               ResponsibleUnit.id.not_in(exclude or (-1,)),
               or_(ResponsibleUnit.jurisdiction.is_(None), covers))
        .order_by(ResponsibleUnit.id)).all()
    units = [{"id": int(i), "name": n, "area": None if w is None else shapely.from_wkb(bytes(w))} for i, n, w in rows]
    polys = [u["area"] for u in units if u["area"] is not None]
    inner = []
    for u in units:
        a = u["area"]
        if a is None:
            outer = bool(polys)
        else:
            outer = any(b is not a and b.area < a.area and a.covers(b) for b in polys)
        if not outer:
            inner.append(u)
    for u in inner:
        u["size"] = u["area"].area if u["area"] is not None else float("inf")
    return inner


def _rank(session: Session, rule: Rule, units: list[dict], lon: float, lat: float, allow_straight_line: bool,
          with_route: bool) -> tuple[list[Candidate], dict | None]:
    try:
        net, ids, index = _units_index(session, rule.unit_type, rule.profile)
    except NoRoads:
        if not allow_straight_line:
            raise
        return _straight(session, rule, units, lon, lat), None
    x, y = net.to_metric.transform(lon, lat)
    pos = {uid: k for k, uid in enumerate(ids)}
    mask = np.zeros(len(ids), dtype=bool)
    mask[[pos[u["id"]] for u in units]] = True
    ans = index.query([x], [y], candidates=mask)
    out = []
    for u in units:
        k = pos[u["id"]]
        out.append((float(ans.cost[0, k]), u["size"], u["id"],
                    Candidate(u["id"], u["name"], rule.unit_type, float(ans.distance_m[0, k]), float(ans.eta_s[0, k]),
                              ans.fallback[0], ans.reason[0])))
    out.sort(key=lambda t: t[:3])
    candidates = [t[3] for t in out]
    route = None
    if with_route:
        r = index.route(x, y, pos[candidates[0].unit_id])
        lons, lats = net.to_wgs84.transform(r.coords[:, 0], r.coords[:, 1])
        route = {"type": "LineString", "coordinates": [[round(a, 7), round(b, 7)] for a, b in zip(lons, lats,
                                                                                                  strict=True)],
                 "properties": {"length_m": round(r.length_m, 1), "eta_s": round(r.time_s, 1),
                                "fallback": r.fallback, "profile": rule.profile}}
    return candidates, route


def _straight(session: Session, rule: Rule, units: list[dict], lon: float, lat: float) -> list[Candidate]:
    pts = {int(i): shapely.from_wkb(bytes(w)) for i, w in session.execute(
        select(ResponsibleUnit.id, func.ST_AsBinary(ResponsibleUnit.geom))
        .where(ResponsibleUnit.id.in_([u["id"] for u in units])))}
    speed = NOMINAL_SPEED_KMH[rule.profile] / 3.6  # m/s
    out = []
    for u in units:
        d = metres(lon, lat, pts[u["id"]].x, pts[u["id"]].y)
        out.append((d, u["size"], u["id"], Candidate(u["id"], u["name"], rule.unit_type, d, d / speed,
                                                      "straight_line", "no_roads")))
    out.sort(key=lambda t: t[:3])
    return [t[3] for t in out]


# ---------------------------------------------------------------------------------------------- a worker's day


def order_walk(session: Session, stops: list[tuple[float, float]], *,
               start: tuple[float, float] | None = None) -> tuple[list[int], dict | None, float, list[dict]]:
    """Order stops (lon, lat) into a short walking route from ``start``: (order of the stops, GeoJSON LineString
    of the whole walk, its length m, the legs). Distances on the walk network; off-network stops go straight."""
    if not stops:
        return [], None, 0.0, []
    net, g = graph(session, "walk")
    pts = ([start] if start else []) + stops
    lon = np.array([p[0] for p in pts])
    lat = np.array([p[1] for p in pts])
    x, y = net.to_metric.transform(lon, lat)
    index = FacilityIndex.build(g, x, y, weight="length")
    cost = index.query(x, y).cost.T  # cost[i, j]: from stop i to stop j
    cost = np.where(np.isfinite(cost), cost, np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :]) * 2)
    np.fill_diagonal(cost, 0.0)
    order = order_stops(cost, start=0 if start else None)
    coords: list[list[float]] = []
    legs, total = [], 0.0
    for a, b in itertools.pairwise(order):
        r = index.route(x[b], y[b], a)
        lons, lats = net.to_wgs84.transform(r.coords[:, 0], r.coords[:, 1])
        leg = [[round(p, 7), round(q, 7)] for p, q in zip(lons, lats, strict=True)]
        coords += leg if not coords else leg[1:]
        legs.append({"from": a, "to": b, "length_m": round(r.length_m, 1), "fallback": r.fallback})
        total += r.length_m
    stop_order = [i - 1 for i in order if i != 0] if start else list(order)
    line = {"type": "LineString", "coordinates": coords} if len(coords) >= 2 else None
    return stop_order, line, total, legs


def worker_day(session: Session, worker_id: int, day: dt.date, *, start: tuple[float, float] | None = None) -> dict:
    """A grid worker's stops for ``day`` — cases to handle, cases to verify on site, 回头看 revisits due — in a
    short walking order from ``start`` (default: her last known GPS fix, if any), with the route."""
    worker = session.get(User, worker_id)
    if worker is None or worker.role != "grid_worker":
        raise InvalidInput(f"user {worker_id} is not a grid worker", field="worker_id")
    stops = worker_stops(session, worker_id, day)
    if start is None:
        last = session.execute(select(func.ST_AsBinary(GpsFix.geom)).join(Patrol, Patrol.id == GpsFix.patrol_id)
                               .where(Patrol.worker_id == worker_id, GpsFix.flag.is_(None))
                               .order_by(GpsFix.time.desc()).limit(1)).scalar()
        if last is not None:
            p = shapely.from_wkb(bytes(last))
            start = (p.x, p.y)
    order, line, length, legs = order_walk(session, [(s["lon"], s["lat"]) for s in stops], start=start)
    ordered = [dict(stops[i], order=k + 1) for k, i in enumerate(order)]
    for s, leg in zip(ordered, legs if start else [{"length_m": 0.0, "fallback": None}] + legs, strict=False):
        s["leg_m"], s["leg_fallback"] = leg["length_m"], leg["fallback"]
    return {"worker_id": worker_id, "name": worker.display_name or worker.username, "date": day.isoformat(),
            "start": None if start is None else {"lon": start[0], "lat": start[1]},
            "stops": ordered, "route": line, "length_m": round(length, 1),
            "eta_s": round(length / (WALK_SPEED_KMH / 3.6), 1), "empty": not stops}


def route_from_unit(session: Session, unit_id: int, lon: float, lat: float) -> dict | None:
    """The road route from a given unit to (lon, lat), on the profile its type's rules use (drive by default)."""
    unit = session.get(ResponsibleUnit, unit_id)
    if unit is None:
        return None
    profiles = {r.profile for r in all_rules(session) if r.unit_type == unit.type} or {"drive"}
    profile = "drive" if "drive" in profiles else "walk"
    net, ids, index = _units_index(session, unit.type, profile)
    x, y = net.to_metric.transform(lon, lat)
    r = index.route(x, y, ids.index(unit_id))
    lons, lats = net.to_wgs84.transform(r.coords[:, 0], r.coords[:, 1])
    return {"type": "LineString",
            "coordinates": [[round(a, 7), round(b, 7)] for a, b in zip(lons, lats, strict=True)],
            "properties": {"length_m": round(r.length_m, 1), "eta_s": round(r.time_s, 1), "fallback": r.fallback,
                           "profile": profile}}
