"""A SIMULATED month of operations on the real demo city, so the API and maps have something to show.

Everything made here is labelled: users, patrols and cases carry ``simulated = True`` and the users' display names
end in "(模拟)". The streets and buildings are real (OpenStreetMap); the people, walks and cases are not. Cases go
through the real case loop (:func:`patrol.cases.service.transition`) with simulated times, so their timelines,
deadlines, escalations, reworks, ratings and revisits follow the same rules as real ones.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Callable, Iterator
from zoneinfo import ZoneInfo

import geopandas as gpd
import numpy as np
import shapely
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from patrol.cases import service as svc
from patrol.core.auth import SYSTEM, Actor, actor_for, create_user
from patrol.core.db import transaction
from patrol.core.errors import GridPatrolError
from patrol.core.frames import ewkt, read_frame
from patrol.core.models import (
    Building,
    Case,
    Category,
    City,
    Community,
    GpsFix,
    Grid,
    Patrol,
    ResponsibleUnit,
    RoadSegment,
    Subdistrict,
    User,
)
from patrol.core.settings import Settings
from patrol.simulate.desk import fill_desk

DEMO_PASSWORD = "demo-pass-2026"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ["芳", "伟", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "霞"]
UNIT_TYPES = [("urban_management", "城管中队"), ("power", "供电所"), ("water", "自来水公司"),
              ("greening", "园林绿化所"), ("sanitation", "环卫所"), ("property", "物业公司")]
# categories the simulated workers report, with weights (community items are the most frequent in the seeds)
CATEGORIES = {"C0103": 8, "C0101": 5, "C0104": 6, "B0109": 4, "C0102": 6, "B0101": 2, "E0101": 3}


def has_simulation(session: Session) -> bool:
    return session.scalar(select(func.count()).select_from(User).where(User.simulated)) > 0


def simulate_month(factory: sessionmaker[Session], settings: Settings, *, days: int = 30, cases: int = 300,
                   seed: int = 2026, today: dt.date | None = None) -> Iterator[str]:
    """Seed users, units, patrols and cases for the ``days`` before ``today``; yields progress lines."""
    rng = random.Random(seed)
    tz = ZoneInfo(settings.timezone)
    today = today or dt.datetime.now(tz).date()
    with transaction(factory) as s:
        if has_simulation(s):
            yield "simulated month already present"
            return
        people = _people(s, rng)
        yield (f"simulated users (password {DEMO_PASSWORD}): {people['n_workers']} grid workers, "
               f"{people['n_sups']} supervisors, {len(people['streets'])} subdistrict (街道) users, "
               f"{len(people['units'])} units with department users, admin")
    with transaction(factory) as s:
        n_fixes = _patrols(s, rng, people, today, days, tz)
        yield f"simulated patrols: {n_fixes} GPS fixes along real streets"
    with transaction(factory) as s:
        states = _cases(s, rng, settings, people, today, days, cases, tz)
        yield "simulated cases: " + ", ".join(f"{k} {v}" for k, v in sorted(states.items()))
    with transaction(factory) as s:
        queues = fill_desk(s, rng, settings, people, today, tz)
        yield "simulated desk queues: " + ", ".join(f"{k} {v}" for k, v in queues.items())


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN) + " (模拟)"


def _people(s: Session, rng: random.Random) -> dict:
    create_user(s, username="admin", role="admin", password=DEMO_PASSWORD, display_name="管理员 (模拟)", simulated=True)
    grids = s.scalars(select(Grid).order_by(Grid.code)).all()
    coms = s.scalars(select(Community).order_by(Community.id)).all()
    workers = {}
    for g in grids:
        u = create_user(s, username=f"w{g.code[-6:]}", role="grid_worker", password=DEMO_PASSWORD,
                        display_name=_name(rng), grids=[g.code], simulated=True)
        workers[g.id] = u.id
    sups = {}
    for c in coms:
        u = create_user(s, username=f"sup{c.code}", role="supervisor", password=DEMO_PASSWORD,
                        display_name=_name(rng), community=c.name, simulated=True)
        sups[c.id] = u.id
    b = read_frame(s, [Building.id], Building.geom)
    pts = b.geometry.representative_point().sample(len(UNIT_TYPES), random_state=rng.randrange(1 << 30))
    units = {}
    for (kind, label), p in zip(UNIT_TYPES, pts, strict=True):
        # a property company serves its own 小区 (here a simulated block of about 550 m around it), others the city
        area = shapely.MultiPolygon([shapely.box(p.x - 0.005, p.y - 0.0025, p.x + 0.005, p.y + 0.0025)])
        u = ResponsibleUnit(type=kind, name=f"{label} (模拟)", geom=ewkt([p])[0],
                            jurisdiction=ewkt([area])[0] if kind == "property" else None)
        s.add(u)
        s.flush()
        create_user(s, username=f"dept_{kind}", role="department", password=DEMO_PASSWORD,
                    display_name=f"{label}值班员 (模拟)", unit_id=u.id, simulated=True)
        units[kind] = u.id
    for c in coms:  # one community office 居委会 per community, serving its polygon
        geom = s.scalar(select(func.ST_AsBinary(Community.geom)).where(Community.id == c.id))
        poly = shapely.from_wkb(bytes(geom))
        u = ResponsibleUnit(type="community_office", name=f"{c.name}居委会 (模拟)",
                            geom=ewkt([poly.representative_point()])[0], jurisdiction=ewkt([poly])[0])
        s.add(u)
        s.flush()
        create_user(s, username=f"office{c.code}", role="department", password=DEMO_PASSWORD,
                    display_name=f"{c.name}居委会值班员 (模拟)", unit_id=u.id, simulated=True)
        units[f"community_office:{c.code}"] = u.id
    staffed = set(s.scalars(select(User.unit_id).where(User.role == "department")))
    for u in s.scalars(select(ResponsibleUnit).where(ResponsibleUnit.id.not_in(staffed)).order_by(ResponsibleUnit.id)):
        create_user(s, username=f"unit{u.id}", role="department", password=DEMO_PASSWORD,  # units loaded before
                    display_name=f"{u.name}值班员 (模拟)", unit_id=u.id, simulated=True)
        units[f"unit:{u.id}"] = u.id
    streets = {}
    for sub in s.scalars(select(Subdistrict).order_by(Subdistrict.id)):  # one 街道 user per subdistrict
        streets[sub.id] = create_user(s, username=f"street{sub.code}", role="subdistrict", password=DEMO_PASSWORD,
                                      display_name=f"{sub.name}街道 (模拟)", subdistrict=sub.code,
                                      simulated=True).id
    return {"workers": workers, "sups": sups, "units": units, "streets": streets, "n_workers": len(workers),
            "n_sups": len(sups)}


def _patrols(s: Session, rng: random.Random, people: dict, today: dt.date, days: int, tz: ZoneInfo) -> int:
    grids = read_frame(s, [Grid.id], Grid.geom)
    roads = read_frame(s, [RoadSegment.id], RoadSegment.geom)
    metric = s.scalar(select(City.metric_epsg))
    grids_m, roads_m = grids.to_crs(metric), roads.to_crs(metric)
    total = 0
    for gi, grid in grids_m.iterrows():
        gid = int(grids.loc[gi, "id"])
        worker = people["workers"].get(gid)
        idx = roads_m.sindex.query(grid.geometry, predicate="intersects")
        if worker is None or len(idx) == 0:
            continue
        inside = [g for g in shapely.intersection(roads_m.geometry.to_numpy()[idx], grid.geometry)
                  if isinstance(g, shapely.LineString) and g.length > 20]
        if not inside:
            continue
        for d in range(days, 0, -1):
            day = today - dt.timedelta(days=d)
            if day.weekday() >= 5 or rng.random() < 0.15:
                continue
            t = dt.datetime.combine(day, dt.time(9, rng.randrange(0, 50)), tzinfo=tz)
            patrol = Patrol(client_id=str(_uuid(rng)), worker_id=worker, grid_id=gid, started_at=t, simulated=True)
            s.add(patrol)
            s.flush()
            xs, ys, ts = [], [], []
            for line in rng.sample(inside, min(len(inside), rng.randrange(4, 12))):
                n = max(2, int(line.length / 25))  # a fix every ~25 m, walking at 1.2 m/s
                for k in range(n):
                    p = line.interpolate(k / (n - 1), normalized=True)
                    if xs:
                        t += dt.timedelta(seconds=float(np.hypot(p.x - xs[-1], p.y - ys[-1]) / 1.2) + 1)
                    xs.append(p.x)
                    ys.append(p.y)
                    ts.append(t)
            patrol.ended_at = t
            wgs = gpd.GeoSeries(shapely.points(np.column_stack([xs, ys])), crs=metric).to_crs(4326).to_numpy()
            rows = [{"patrol_id": patrol.id, "time": ti, "accuracy_m": round(rng.uniform(3, 15), 1), "flag": None,
                     "geom": g} for ti, g in zip(ts, ewkt(wgs), strict=True)]
            s.execute(insert(GpsFix), rows)
            total += len(rows)
    return total


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _cases(s: Session, rng: random.Random, settings: Settings, people: dict, today: dt.date, days: int, n: int,
           tz: ZoneInfo) -> dict[str, int]:
    cats = {c.code: c for c in s.scalars(select(Category).where(Category.code.in_(list(CATEGORIES))))}
    codes = [c for c in CATEGORIES if c in cats]
    weights = [CATEGORIES[c] for c in codes]
    b = read_frame(s, [Building.id, Building.grid_id], Building.geom, where=[Building.grid_id.is_not(None)])
    pts = b.geometry.representative_point()
    units = list(people["units"].values())
    states: dict[str, int] = {}
    actors = {uid: actor_for(s, s.get(User, uid)) for uid in people["workers"].values()}
    sups = {cid: actor_for(s, s.get(User, uid)) for cid, uid in people["sups"].items()}
    dept = {uid: actor_for(s, s.scalars(select(User).where(User.unit_id == uid)).first()) for uid in units}
    for _ in range(n):
        i = rng.randrange(len(b))
        gid = int(b["grid_id"].iloc[i])
        worker = actors.get(people["workers"].get(gid))
        if worker is None:
            continue
        day = today - dt.timedelta(days=rng.randrange(1, days + 1))
        t = dt.datetime.combine(day, dt.time(rng.randrange(8, 17), rng.randrange(60)), tzinfo=tz)
        p = pts.iloc[i]
        code = rng.choices(codes, weights)[0]
        try:
            made = svc.create_case(s, worker, settings, client_id=str(_uuid(rng)), category=code,
                                   lon=p.x + rng.uniform(-2e-4, 2e-4), lat=p.y + rng.uniform(-2e-4, 2e-4),
                                   description=f"{cats[code].name_zh} (模拟)", now=t)
        except GridPatrolError:
            continue
        case = made.case
        case.simulated = True
        sup = sups.get(case.community_id) or SYSTEM
        final = _walk(s, rng, settings, case, worker, sup, dept, units, t, today, tz)
        states[final] = states.get(final, 0) + 1
    s.flush()
    return states


def _walk(s: Session, rng: random.Random, settings: Settings, case: Case, worker: Actor, sup: Actor,
          dept: dict[int, Actor], units: list[int], t: dt.datetime, today: dt.date, tz: ZoneInfo) -> str:
    """Move a case along the loop with random delays, stopping at a random state."""
    end = dt.datetime.combine(today, dt.time(8, 0), tzinfo=tz)

    def step(actor: Actor, action: str, hours: float, **kw) -> bool:
        nonlocal t
        t = t + dt.timedelta(hours=hours)
        if t >= end:
            return False
        try:
            svc.transition(s, actor, settings, case.id, action, now=t, **kw)
        except GridPatrolError:  # e.g. escalated meanwhile because the deadline passed: stop here
            return False
        return True

    r = rng.random()
    if r < 0.04:
        step(sup, "reject", 1, note="不属实 (模拟)")
        return case.status
    if r < 0.10:
        return case.status  # still reported
    grid_level = case.level == "grid"
    if not step(worker if grid_level else sup, "register", rng.uniform(0.2, 2)):
        return case.status
    if rng.random() < 0.08:
        return case.status
    handler = worker
    if grid_level:
        ok = step(worker, "dispatch", 0.1)
    else:  # no unit given: the responsible one nearest by road is chosen (patrol.cases.routing), as a supervisor would
        ok = step(sup, "dispatch", rng.uniform(0.2, 3))
        handler = dept.get(case.unit_id, sup)
    if not ok or rng.random() < 0.08:
        return case.status
    _handle_and_close(rng, step, worker, sup, handler, grid_level)
    return case.status


def _handle_and_close(rng: random.Random, step: Callable[..., bool], worker: Actor, sup: Actor, handler: Actor,
                      grid_level: bool) -> None:
    """From dispatched on (maybe suspend, accept, handle, maybe rework, verify, close, maybe rate), stopping at a random
    state; ``step(actor, action, hours, **kw)`` takes one action and is False when it did not happen."""
    if rng.random() < 0.05 and step(sup, "suspend", 1, note="等待材料 (模拟)"):
        return
    late = rng.random() < 0.15
    if not step(handler, "accept", rng.uniform(0.2, 4)) or rng.random() < 0.06:
        return
    if not step(handler, "handle", rng.uniform(1, 30 if late else 6), note="已处置 (模拟)"):
        return
    reworked = rng.random() < 0.1 and step(worker, "rework", 2, note="核查未通过 (模拟)")
    if reworked and not (step(handler, "accept", 1) and step(handler, "handle", 3, note="返工完成 (模拟)")):
        return
    if rng.random() < 0.06 or not step(worker, "verify", rng.uniform(1, 8)):
        return
    closer = worker if grid_level else sup
    if not step(closer, "close", rng.uniform(0.5, 8)):
        return
    if rng.random() < 0.8:
        rating = rng.choices([5, 4, 3, 2, 1], [60, 25, 8, 5, 2])[0]
        step(sup, "rate", rng.uniform(2, 48), rating=rating, note="回访满意度 (模拟)")
