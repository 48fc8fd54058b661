"""The field-worker app's day in one response (GET /api/v1/field/today): her grids and buildings, the categories
she reports most with their pinyin for search, her stops in walking order with what she may do at each, what she
has walked and covered today and the patrol still open; for field surveys the active checklists in full, the shops of
her grids, the inspections and the household visits that are due. The phone caches it for offline use, so that she
can inspect, and visit, in a stairwell with no signal."""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache
from zoneinfo import ZoneInfo

import pandas as pd
import shapely
import shapely.geometry
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from geo.coverage import grid_coverage
from geo.tracks import track_length_m
from patrol.analytics.service import Scope, coverage_base, feature_collection
from patrol.cases.authority import allowed_actions
from patrol.cases.categories import active_categories
from patrol.cases.places import to_point
from patrol.cases.reads import case_dict
from patrol.cases.routing import NoRoads, worker_day
from patrol.cases.tasks import worker_grids, worker_stops
from patrol.cases.worktime import local_today
from patrol.city.labels import display_label, label_column, labels_of
from patrol.core.auth import Actor
from patrol.core.errors import Forbidden, InvalidInput
from patrol.core.models import (
    Building,
    Case,
    Category,
    Community,
    GpsFix,
    Grid,
    MicroGrid,
    MicroGridBuilding,
    Patrol,
    User,
)
from patrol.core.settings import Settings
from patrol.core.time import iso, now_utc
from patrol.surveys.checklists import definition_of, latest_checklists
from patrol.surveys.inspections import due_inspections
from patrol.surveys.residents import due_visits
from patrol.surveys.shops import shops_of

#: The actions a stop of each kind offers (revisits are recorded through POST /api/v1/revisits/{id}).
STOP_ACTIONS = {"handle": ("accept", "handle", "persuade_fail"), "verify": ("verify", "rework"), "revisit": ()}
USES_DAYS = 90
COVER_DISTANCE_M = 25.0


def field_today(session: Session, actor: Actor, settings: Settings, *, lat: float | None = None,
                lon: float | None = None) -> dict:
    """Everything a grid worker's phone needs for today (see the module docstring); a 楼栋长's lighter day
    (:func:`building_lead_today`); 403 for other roles."""
    if actor.role == "building_lead" and actor.user_id is not None:
        return building_lead_today(session, actor, settings)
    if actor.role != "grid_worker" or actor.user_id is None:
        raise Forbidden(f"the field app is for grid workers and 楼栋长, not a {actor.role}", field="role")
    if (lat is None) != (lon is None):
        raise InvalidInput("give both lat and lon for the start, or neither", field="lat" if lat is None else "lon")
    start = to_point(lon, lat) if lat is not None else None
    user = session.get(User, actor.user_id)
    zone = ZoneInfo(settings.timezone)
    now = now_utc()
    today = local_today(settings.timezone, now)
    day_start = dt.datetime.combine(today, dt.time(), tzinfo=zone)
    day_end = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    grid_ids = worker_grids(session, actor.user_id)
    covered, walked = _covered(session, actor.user_id, grid_ids, day_start, day_end)
    return {
        "user": {"id": user.id, "username": user.username, "display_name": user.display_name, "role": user.role},
        "date": today.isoformat(),
        "timezone": settings.timezone,
        "grids": _grids(session, grid_ids),
        "buildings": _buildings(session, grid_ids),
        "categories": _categories(session, actor.user_id, now),
        "tasks": _tasks(session, actor, today, start, now),
        "covered": covered,
        "walked_m": walked,
        "open_patrol": _open_patrol(session, actor.user_id, day_start, day_end),
        **_surveys(session, actor, settings, grid_ids, today),
    }


def building_lead_today(session: Session, actor: Actor, settings: Settings) -> dict:
    """A 楼栋长's phone (patrol.people.scope): her micro-grids (as ``grids``, with ``micro_grid`` True) and their
    buildings, the categories to report, the vulnerable households of her buildings due a visit — no stops, no
    patrol, no inspections, no shops (she reports, visits and reads her own items)."""
    user = session.get(User, actor.user_id)
    now = now_utc()
    today = local_today(settings.timezone, now)
    return {
        "user": {"id": user.id, "username": user.username, "display_name": user.display_name, "role": user.role,
                 "post": user.post or "楼栋长"},
        "date": today.isoformat(),
        "timezone": settings.timezone,
        "grids": _micro_grids(session, sorted(actor.micro_grid_ids)),
        "buildings": _buildings(session, [], building_ids=sorted(actor.building_ids)),
        "categories": _categories(session, actor.user_id, now),
        "tasks": {"worker_id": user.id, "date": today.isoformat(), "start": None, "stops": [], "route": None,
                  "length_m": None, "eta_s": None, "empty": True, "message": None},
        "covered": {"type": "FeatureCollection", "features": []},
        "walked_m": 0.0,
        "open_patrol": None,
        "checklists": [], "shops": [], "inspections_due": [],
        "visits_due": due_visits(session, actor, today=today, settings=settings),
    }


def _micro_grids(session: Session, ids: list[int]) -> dict:
    """Her micro-grids as the phone draws grids (code, name, households, buildings, ``micro_grid`` True)."""
    n = dict(session.execute(select(MicroGridBuilding.micro_grid_id, func.count(MicroGridBuilding.id))
                             .where(MicroGridBuilding.micro_grid_id.in_(ids or [-1]))
                             .group_by(MicroGridBuilding.micro_grid_id)).all())
    rows = session.execute(select(MicroGrid.id, MicroGrid.code, MicroGrid.name, MicroGrid.households,
                                  MicroGrid.grid_code, func.ST_AsBinary(MicroGrid.geom))
                           .where(MicroGrid.id.in_(ids or [-1])).order_by(MicroGrid.code)).all()
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": i, "geometry": shapely.geometry.mapping(shapely.from_wkb(bytes(wkb)))
         if wkb is not None else None,
         "properties": {"id": i, "code": code, "name": name, "households": int(hh or 0), "buildings": int(n.get(i, 0)),
                        "grid_code": grid, "micro_grid": True}}
        for i, code, name, hh, grid, wkb in rows]}


# ---------------------------------------------------------------------------------------------- grids, buildings


def _grids(session: Session, grid_ids: list[int]) -> dict:
    stats = (select(Building.grid_id.label("grid_id"), func.count(Building.id).label("n"),
                    func.sum(Building.households).label("hh"))
             .where(Building.grid_id.in_(grid_ids or [-1])).group_by(Building.grid_id).subquery())
    rows = session.execute(
        select(Grid.id, Grid.code, Grid.name, Grid.community_id, Community.name, stats.c.n, stats.c.hh,
               func.ST_AsBinary(Grid.geom))
        .join(Community, Community.id == Grid.community_id, isouter=True)
        .join(stats, stats.c.grid_id == Grid.id, isouter=True)
        .where(Grid.id.in_(grid_ids or [-1])).order_by(Grid.id)).all()
    features = [{"type": "Feature", "id": gid,
                 "geometry": shapely.geometry.mapping(shapely.from_wkb(bytes(wkb))),
                 "properties": {"id": gid, "code": code, "name": name, "households": int(hh or 0),
                                "buildings": int(n or 0), "community_id": cid, "community_name": cname}}
                for gid, code, name, cid, cname, n, hh, wkb in rows]
    return {"type": "FeatureCollection", "features": features}


def _buildings(session: Session, grid_ids: list[int], *, building_ids: list[int] | None = None) -> list[dict]:
    """Her grids' buildings with their label, a point inside each footprint (ST_PointOnSurface on both databases)
    and the footprint's outline to tap on the report's map (``ring``: the outer ring simplified to ≈0.5 m, as
    [dx, dy] offsets from (``lon``, ``lat``) in millionths of a degree — a third of the bytes of coordinates)."""
    inside = func.ST_PointOnSurface(Building.geom)
    rows = session.execute(
        select(Building.id, label_column(), Building.name, Building.address, Building.households, Building.grid_id,
               func.ST_X(inside), func.ST_Y(inside), func.ST_AsBinary(Building.geom))
        .where(Building.grid_id.in_(grid_ids or [-1]) if building_ids is None
               else Building.id.in_(building_ids or [-1])).order_by(Building.id)).all()
    out = []
    for i, label, name, address, hh, g, x, y, wkb in rows:
        lon = None if x is None else round(float(x), 7)
        lat = None if y is None else round(float(y), 7)
        out.append({"id": i, "label": display_label(label), "name": name, "address": address,
                    "households": int(hh or 0), "grid_id": g, "lon": lon, "lat": lat, "ring": _ring(wkb, lon, lat)})
    return out


def _ring(wkb: bytes | None, lon: float | None, lat: float | None) -> list[list[int]] | None:
    """The outer ring of a footprint's largest part, simplified (≈0.5 m), as whole millionths of a degree (≈0.1 m)
    from (lon, lat)."""
    if wkb is None or lon is None or lat is None:
        return None
    geom = shapely.from_wkb(bytes(wkb))
    parts = getattr(geom, "geoms", [geom])
    if not parts:
        return None
    largest = max(parts, key=lambda p: p.area).simplify(0.000005, preserve_topology=True)
    if largest.is_empty:
        return None
    return [[round((x - lon) * 1e6), round((y - lat) * 1e6)] for x, y in largest.exterior.coords]


# ---------------------------------------------------------------------------------------------- field surveys


def _surveys(session: Session, actor: Actor, settings: Settings, grid_ids: list[int], today: dt.date) -> dict:
    """What the phone needs to inspect and visit offline: every active checklist in full (the form is rendered and
    validated on the phone, against the exact version it is sent with), her grids' shops (一户一码: the QR on a door
    opens the shop even with no signal), the inspections due and the vulnerable households due a visit."""
    checklists = [{**definition_of(c), "id": c.id, "version": c.version} for c in latest_checklists(session)]
    # personal data (names, masked phones): only ever her own grids' households, and only for a grid worker; the
    # read is audited by due_visits like any list read
    visits = due_visits(session, actor, today=today, settings=settings) if actor.role == "grid_worker" else []
    return {
        "checklists": checklists,
        "shops": shops_of(session, grid_ids),
        "inspections_due": due_inspections(session, actor, today=today, timezone=settings.timezone),
        "visits_due": visits,
    }


# ---------------------------------------------------------------------------------------------- categories


@lru_cache(maxsize=1024)
def pinyin_of(name: str) -> tuple[str, str]:
    """(full pinyin without tones or spaces, first letters), lowercase: 毁绿种菜 → ("huilvzhongcai", "hlzc").
    Letters and digits in the name are kept; punctuation is dropped."""
    # imported on first use: pypinyin loads its dictionaries at import (~2.5 s), which every process that imports
    # the app would otherwise pay; this is the one function-level import of the module
    from pypinyin import Style, lazy_pinyin

    def clean(parts: list[str]) -> str:
        return re.sub(r"[^a-z0-9]", "", "".join(parts).lower())

    full = clean(lazy_pinyin(name, style=Style.NORMAL))
    initials = clean(lazy_pinyin(name, style=Style.FIRST_LETTER))
    return full, initials


def _categories(session: Session, user_id: int, now: dt.datetime) -> list[dict]:
    since = now - dt.timedelta(days=USES_DAYS)
    recent = [Case.reported_at >= since]
    mine = dict(session.execute(select(Case.category_code, func.count()).where(*recent, Case.reporter_id == user_id)
                                .group_by(Case.category_code)).all())
    city = dict(session.execute(select(Case.category_code, func.count()).where(*recent)
                                .group_by(Case.category_code)).all())
    out = []
    for c in active_categories(session):
        full, initials = pinyin_of(c.name_zh)
        out.append({"code": c.code, "name_zh": c.name_zh, "name_en": c.name_en, "major_zh": c.major_zh,
                    "major_en": c.major_en, "level": c.level, "deadline_hours": c.deadline_hours,
                    "severity": c.severity, "pinyin": full, "initials": initials,
                    "uses": int(mine.get(c.code, 0)), "_city": int(city.get(c.code, 0))})
    out.sort(key=lambda c: (-c["uses"], -c["_city"], c["code"]))
    for c in out:
        del c["_city"]
    return out


# ---------------------------------------------------------------------------------------------- tasks


def _tasks(session: Session, actor: Actor, today: dt.date, start: tuple[float, float] | None,
           now: dt.datetime) -> dict:
    """Her stops of the day in walking order (:func:`patrol.cases.routing.worker_day`), or numbered as found when
    the city has no roads, each with its case's details and what she may do there."""
    try:
        day = worker_day(session, actor.user_id, today, start=start)
        day["message"] = None
    except NoRoads as exc:
        stops = [{**s, "order": k + 1, "leg_m": None, "leg_fallback": None}
                 for k, s in enumerate(worker_stops(session, actor.user_id, today))]
        day = {"worker_id": actor.user_id, "date": today.isoformat(),
               "start": None if start is None else {"lon": start[0], "lat": start[1]},
               "stops": stops, "route": None, "length_m": None, "eta_s": None, "empty": not stops,
               "message": f"stops in no particular order: {exc.message}"}
    ids = {s["case_id"] for s in day["stops"]}
    cases = {c.id: (c, cat) for c, cat in session.execute(
        select(Case, Category).join(Category, Category.code == Case.category_code)
        .where(Case.id.in_(ids or [-1]))).all()}
    labels = labels_of(session, (c.building_id for c, _ in cases.values()))
    for stop in day["stops"]:
        case, cat = cases[stop["case_id"]]
        d = case_dict(case, now=now)
        stop.update({k: d[k] for k in ("status", "description", "address", "building_id", "deadline_at", "overdue",
                                       "level", "reported_at")})
        stop["building_label"] = labels.get(case.building_id) if case.building_id is not None else None
        stop["category_name_zh"], stop["category_name_en"] = cat.name_zh, cat.name_en
        stop["actions"] = _actions(actor, case, stop["kind"])
    return day


def _actions(actor: Actor, case: Case, kind: str) -> list[str]:
    """What she may do now at a stop: the actions she is allowed on the case
    (:func:`patrol.cases.authority.allowed_actions`) that fit the stop's kind."""
    fits = STOP_ACTIONS.get(kind, ())
    return [name for name in allowed_actions(actor, case) if name in fits]


# ---------------------------------------------------------------------------------------------- patrols today


def _covered(session: Session, worker_id: int, grid_ids: list[int], start: dt.datetime,
             end: dt.datetime) -> tuple[dict, float]:
    """The street pieces of her grids within 25 m of today's tracks of her patrols (GeoJSON, WGS-84), and the
    length of those tracks (unflagged fixes, m). Coverage is not built when there is no track."""
    empty = {"type": "FeatureCollection", "features": []}
    rows = session.execute(
        select(GpsFix.patrol_id, GpsFix.time, func.ST_X(GpsFix.geom), func.ST_Y(GpsFix.geom), GpsFix.flag)
        .join(Patrol, Patrol.id == GpsFix.patrol_id)
        .where(Patrol.worker_id == worker_id, GpsFix.time >= start, GpsFix.time < end)
        .order_by(GpsFix.patrol_id, GpsFix.time)).all()
    fixes = pd.DataFrame(rows, columns=["patrol_id", "time", "lon", "lat", "flag"])
    good = fixes[fixes["flag"].isna()]
    walked, tracks = 0.0, 0
    for _, g in good.groupby("patrol_id", sort=True):
        if len(g) >= 2:
            walked += track_length_m(g["lon"].to_numpy(), g["lat"].to_numpy())
            tracks += 1
    if not tracks or not grid_ids:
        return empty, round(walked, 1)
    fixes["time"] = pd.to_datetime(fixes["time"], utc=True)
    features = []
    for gid in grid_ids:
        base = coverage_base(session, Scope(grid_id=gid))
        cov = grid_coverage(base, fixes, distance_m=COVER_DISTANCE_M)
        streets = cov.streets[cov.streets["covered"].astype(bool)]
        if len(streets):
            streets = streets.to_crs(4326)
            streets = streets.set_geometry(shapely.transform(streets.geometry.to_numpy(), lambda c: c.round(7)))
            features += feature_collection(streets, ["code", "name", "highway", "length_m"])["features"]
    return {"type": "FeatureCollection", "features": features}, round(walked, 1)


def _open_patrol(session: Session, worker_id: int, start: dt.datetime, end: dt.datetime) -> dict | None:
    p = session.scalars(select(Patrol).where(Patrol.worker_id == worker_id, Patrol.ended_at.is_(None),
                                             Patrol.started_at >= start, Patrol.started_at < end)
                        .order_by(Patrol.started_at.desc(), Patrol.id.desc()).limit(1)).first()
    if p is None:
        return None
    return {"id": p.id, "client_id": p.client_id, "started_at": iso(p.started_at)}
