"""A SIMULATED month of operations on the real demo city, ending now, so the API and maps have something to show
that reads like a functioning 社区.

Everything made here is labelled: users, patrols and cases carry ``simulated = True`` and the users' display names
(generated Chinese names, :mod:`patrol.simulate.names`) end in "(模拟)". The streets and buildings are real
(OpenStreetMap); the people, walks and cases are not. Cases go through the real case loop
(:func:`patrol.cases.service.transition`) on the working-hours clock (:mod:`patrol.simulate.loop`): almost all are
closed in time, the open ones are the recent ones, and one grid has a reason to be red
(:func:`patrol.simulate.stories.rain_backlog`: the drainage company behind after a week of rain). Residents'
orders from the H5 page and the 12345 hotline come next (:mod:`patrol.simulate.residents`). Then the case
desk gets cases in every queue (:mod:`patrol.simulate.desk`).
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import geopandas as gpd
import numpy as np
import shapely
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from patrol.cases import service as svc
from patrol.cases.worktime import calendar
from patrol.core.auth import create_user
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
from patrol.field.retention import ensure_partitions
from patrol.simulate.desk import desk_now, fill_desk
from patrol.simulate.logins import DEMO_PASSWORD
from patrol.simulate.loop import Walk, crew, walk
from patrol.simulate.names import NameMaker
from patrol.simulate.residents import resident_orders
from patrol.simulate.stories import parking_dispute, rain_backlog

UNIT_TYPES = [("urban_management", "城管中队"), ("power", "供电所"), ("water", "自来水公司"),
              ("greening", "园林绿化所"), ("sanitation", "环卫所"), ("property", "物业公司")]
# categories the simulated workers report, with weights (community items are the most frequent in the seeds)
CATEGORIES = {"C0103": 8, "C0101": 5, "C0104": 6, "B0109": 4, "C0102": 6, "B0101": 2, "E0101": 3}


def has_simulation(session: Session) -> bool:
    return session.scalar(select(func.count()).select_from(User).where(User.simulated)) > 0


def simulate_month(factory: sessionmaker[Session], settings: Settings, *, days: int = 30, cases: int = 300,
                   seed: int = 2026, today: dt.date | None = None) -> Iterator[str]:
    """Seed users, units, patrols and cases for the ``days`` up to now (the end of the desk's day when ``today`` is
    not today: :func:`patrol.simulate.desk.desk_now`); yields progress lines."""
    rng = random.Random(seed)
    tz = ZoneInfo(settings.timezone)
    today = today or dt.datetime.now(tz).date()
    end = desk_now(today, tz)
    with transaction(factory) as s:
        if has_simulation(s):
            yield "simulated month already present"
            return
        people = _people(s, rng)
        yield (f"simulated users (password {DEMO_PASSWORD}): {people['n_workers']} grid workers, "
               f"{people['n_sups']} supervisors, {len(people['streets'])} subdistrict (街道) users, "
               f"{len(people['units'])} units with department users, a planner, admin")
    with transaction(factory) as s:
        n_fixes = _patrols(s, rng, people, today, days, tz, end)
        yield f"simulated patrols: {n_fixes} GPS fixes along real streets"
    with transaction(factory) as s:
        states = _cases(s, rng, settings, today, days, cases, end)
        yield "simulated cases: " + ", ".join(f"{k} {v}" for k, v in sorted(states.items()))
        casts = crew(s)
        yield rain_backlog(s, rng, settings, casts, today, end)
        flooded = set(s.scalars(select(Case.grid_id).where(Case.description.like("%暴雨后%"))))
        yield parking_dispute(s, rng, settings, casts, today, end, avoid=flooded)
        disputed = set(s.scalars(select(Case.grid_id).where(Case.description.like("%地锁拆除有争议%"))))
        yield resident_orders(s, rng, settings, casts, today, days, max(6, cases // 6), end,
                              avoid=flooded | disputed)
    with transaction(factory) as s:
        queues = fill_desk(s, rng, settings, people, today, tz)
        yield "simulated desk queues: " + ", ".join(f"{k} {v}" for k, v in queues.items())


def _people(s: Session, rng: random.Random) -> dict:
    names = NameMaker(rng)
    create_user(s, username="admin", role="admin", password=DEMO_PASSWORD, display_name="管理员 (模拟)", simulated=True)
    planner = create_user(s, username="planner", role="planner", password=DEMO_PASSWORD,
                          display_name=names.labelled("规划员"), simulated=True)
    grids = s.scalars(select(Grid).order_by(Grid.code)).all()
    coms = s.scalars(select(Community).order_by(Community.id)).all()
    workers = {}
    for g in grids:
        u = create_user(s, username=f"w{g.code[-6:]}", role="grid_worker", password=DEMO_PASSWORD,
                        display_name=names.labelled(), grids=[g.code], simulated=True)
        workers[g.id] = u.id
    sups = {}
    for c in coms:
        u = create_user(s, username=f"sup{c.code}", role="supervisor", password=DEMO_PASSWORD,
                        display_name=names.labelled(), community=c.name, simulated=True)
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
                    display_name=names.labelled(label), unit_id=u.id, simulated=True)
        units[kind] = u.id
    for c in coms:  # one community office 居委会 per community, serving its polygon
        geom = s.scalar(select(func.ST_AsBinary(Community.geom)).where(Community.id == c.id))
        poly = shapely.from_wkb(bytes(geom))
        u = ResponsibleUnit(type="community_office", name=f"{c.name}居委会 (模拟)",
                            geom=ewkt([poly.representative_point()])[0], jurisdiction=ewkt([poly])[0])
        s.add(u)
        s.flush()
        create_user(s, username=f"office{c.code}", role="department", password=DEMO_PASSWORD,
                    display_name=names.labelled("居委会"), unit_id=u.id, simulated=True)
        units[f"community_office:{c.code}"] = u.id
    staffed = set(s.scalars(select(User.unit_id).where(User.role == "department")))
    for u in s.scalars(select(ResponsibleUnit).where(ResponsibleUnit.id.not_in(staffed)).order_by(ResponsibleUnit.id)):
        create_user(s, username=f"unit{u.id}", role="department", password=DEMO_PASSWORD,  # units loaded before
                    display_name=names.labelled("值班员"), unit_id=u.id, simulated=True)
        units[f"unit:{u.id}"] = u.id
    streets = {}
    for sub in s.scalars(select(Subdistrict).order_by(Subdistrict.id)):  # one 街道 user per subdistrict
        streets[sub.id] = create_user(s, username=f"street{sub.code}", role="subdistrict", password=DEMO_PASSWORD,
                                      display_name=names.labelled("街道办"), subdistrict=sub.code,
                                      simulated=True).id
    return {"workers": workers, "sups": sups, "units": units, "streets": streets, "n_workers": len(workers),
            "n_sups": len(sups), "planner": planner.id}


def _patrols(s: Session, rng: random.Random, people: dict, today: dt.date, days: int, tz: ZoneInfo,
             end: dt.datetime) -> int:
    """A walk along the grid's streets on most working days (about 85 %), today's too once it has ended."""
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
        for d in range(days, -1, -1):
            day = today - dt.timedelta(days=d)
            if day.weekday() >= 5 or rng.random() < 0.15:
                continue
            start = dt.datetime.combine(day, dt.time(9, rng.randrange(0, 50)), tzinfo=tz)
            xs, ys, ts = _walk_streets(rng, inside, start)
            if ts[-1] >= end:  # today's walk is not over yet
                continue
            patrol = Patrol(client_id=str(_uuid(rng)), worker_id=worker, grid_id=gid, started_at=start,
                            ended_at=ts[-1], simulated=True)
            s.add(patrol)
            s.flush()
            wgs = gpd.GeoSeries(shapely.points(np.column_stack([xs, ys])), crs=metric).to_crs(4326).to_numpy()
            rows = [{"patrol_id": patrol.id, "time": ti, "accuracy_m": round(rng.uniform(3, 15), 1), "flag": None,
                     "geom": g} for ti, g in zip(ts, ewkt(wgs), strict=True)]
            ensure_partitions(s, ts[0], ts[-1] + dt.timedelta(microseconds=1))
            s.execute(insert(GpsFix), rows)
            total += len(rows)
    return total


def _walk_streets(rng: random.Random, inside: list, t: dt.datetime) -> tuple[list, list, list]:
    """Fixes every ~25 m along 4–11 of the grid's streets (metric coordinates), walking at 1.2 m/s from ``t``."""
    xs: list[float] = []
    ys: list[float] = []
    ts: list[dt.datetime] = []
    for line in rng.sample(inside, min(len(inside), rng.randrange(4, 12))):
        n = max(2, int(line.length / 25))
        for k in range(n):
            p = line.interpolate(k / (n - 1), normalized=True)
            if xs:
                t += dt.timedelta(seconds=float(np.hypot(p.x - xs[-1], p.y - ys[-1]) / 1.2) + 1)
            xs.append(p.x)
            ys.append(p.y)
            ts.append(t)
    return xs, ys, ts


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _report_time(rng: random.Random, today: dt.date, days: int, tz: ZoneInfo) -> dt.datetime:
    """When a simulated case is reported: a day of the month (weekends less often), 08:00–18:00."""
    while True:
        day = today - dt.timedelta(days=rng.randrange(0, days))
        if day.weekday() < 5 or rng.random() < 0.4:
            return dt.datetime.combine(day, dt.time(rng.randrange(8, 18), rng.randrange(60)), tzinfo=tz)


def _cases(s: Session, rng: random.Random, settings: Settings, today: dt.date, days: int, n: int, end: dt.datetime
           ) -> dict[str, int]:
    """``n`` cases reported by the grid workers over the month, each walked through the loop until now."""
    tz = ZoneInfo(settings.timezone)
    cats = {c.code: c for c in s.scalars(select(Category).where(Category.code.in_(list(CATEGORIES))))}
    codes = [c for c in CATEGORIES if c in cats]
    weights = [CATEGORIES[c] for c in codes]
    b = read_frame(s, [Building.id, Building.grid_id], Building.geom, where=[Building.grid_id.is_not(None)])
    pts = b.geometry.representative_point()
    casts = crew(s)
    cal = calendar(settings)
    states: dict[str, int] = {}
    refused = 0
    for _ in range(n):
        i = rng.randrange(len(b))
        t = _report_time(rng, today, days, tz)
        cast = casts.get(int(b["grid_id"].iloc[i]))
        if cast is None or t >= end or not codes:
            continue
        p = pts.iloc[i]
        code = rng.choices(codes, weights)[0]
        try:
            case = svc.create_case(s, cast.worker, settings, client_id=str(_uuid(rng)), category=code,
                                   lon=p.x + rng.uniform(-1e-4, 1e-4), lat=p.y + rng.uniform(-1e-4, 1e-4),
                                   description=f"{cats[code].name_zh} (模拟)", now=t).case
        except GridPatrolError:
            continue
        case.simulated = True
        w = Walk(s, settings, cal, case, casts.get(case.grid_id or -1, cast), rng, end)
        final = walk(w)
        refused += w.refused
        states[final] = states.get(final, 0) + 1
    if refused:
        states["(steps refused by the loop)"] = refused
    s.flush()
    return states
