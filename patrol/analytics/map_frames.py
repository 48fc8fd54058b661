"""Frames the analysis maps draw (api/routes/maps.py): the cases of a period as points, category names, and the
patrol tracks of a day (from raw fixes, or from the per worker-day summaries once the fixes are gone) — scoped like
every analytics read (:mod:`patrol.analytics.service`)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import geopandas as gpd
import pandas as pd
import shapely
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from geo.tracks import track_length_m
from patrol.analytics.gps_days import plan_days, summary_tracks
from patrol.analytics.periods import half_open
from patrol.analytics.service import Scope, case_where, read_frame_grids
from patrol.cases.overdue import is_overdue
from patrol.cases.views import check_route_reader
from patrol.core.auth import Actor
from patrol.core.errors import Forbidden
from patrol.core.models import Case, Category, GpsFix, Patrol, User


def case_frame(session: Session, scope: Scope, *, start: dt.datetime | dt.date, end: dt.datetime | dt.date,
               category: str | None = None, tz: str = "Asia/Shanghai", include_simulated: bool = True,
               channel: str | None = None):
    """Cases reported in [start, end) in the scope (of the channels, comma-separated, if given) as points with
    category, status, severity and overdue."""

    s, e = half_open(start, end, tz)
    where = case_where(scope, s, e, category, include_simulated, channel)
    rows = session.execute(select(Case.id, Case.category_code, Case.status, Category.severity, Case.deadline_at,
                                  func.ST_X(Case.geom), func.ST_Y(Case.geom))
                           .join(Category, Category.code == Case.category_code).where(*where)).all()
    now = dt.datetime.now(dt.UTC)
    return gpd.GeoDataFrame(
        {"id": [r[0] for r in rows], "category": [r[1] for r in rows], "status": [r[2] for r in rows],
         "severity": [r[3] for r in rows],
         "overdue": [is_overdue(r[2], r[4], now) for r in rows]},
        geometry=gpd.points_from_xy([r[5] for r in rows], [r[6] for r in rows]), crs=4326)


def category_labels(session: Session, lang: str) -> dict[str, str]:
    col = Category.name_zh if lang == "zh" else Category.name_en
    return dict(session.execute(select(Category.code, col)).all())


def track_reader_worker(session: Session, actor: Actor, worker_id: int | None) -> int | None:
    """Whose tracks ``actor`` may see on a map of a day: ``worker_id``'s if she may read that worker's route
    (:func:`patrol.cases.views.check_route_reader`, else 403); without one, a grid worker her own and a supervisor
    or admin all in scope (``None``); a department or planner none (403)."""
    if worker_id is not None:
        check_route_reader(session, actor, worker_id)
        return worker_id
    if actor.role == "grid_worker":
        return actor.user_id
    if actor.role not in ("admin", "supervisor", "subdistrict", "grid_lead"):  # 网格长: her grids' workers
        raise Forbidden(f"a {actor.role} cannot see grid workers' tracks", field="day")
    return None


def track_frame(session: Session, scope: Scope, *, day: dt.date, worker_id: int | None, tz: str,
                fast_reads: bool = True):
    """The patrol tracks of a day (a worker's, or all in the scope) as LineStrings, flagged fixes left out; who
    may see which is :func:`track_reader_worker`'s to say. A summarised past day (``fast_reads``) or one whose raw
    fixes are gone draws the lines kept in its summaries (the same lines)."""

    s, e = half_open(day, day + dt.timedelta(days=1), tz)
    grid_ids = read_frame_grids(session, scope)["id"].tolist()
    if plan_days(session, s, e, tz, fast=fast_reads).summary:
        out = _summary_track_rows(session, grid_ids, day, worker_id, tz)
    else:
        out = _raw_track_rows(session, grid_ids, s, e, worker_id, tz)
    if not out:
        return gpd.GeoDataFrame({"geometry": []}, geometry="geometry", crs=4326)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=4326)


def _raw_track_rows(session: Session, grid_ids: list[int], s: dt.datetime, e: dt.datetime, worker_id: int | None,
                    tz: str) -> list[dict]:
    where = [GpsFix.time >= s, GpsFix.time < e, GpsFix.flag.is_(None), Patrol.grid_id.in_(grid_ids or [-1])]
    if worker_id is not None:
        where.append(Patrol.worker_id == worker_id)
    rows = session.execute(select(Patrol.id, func.coalesce(User.display_name, User.username), GpsFix.time,
                                  func.ST_X(GpsFix.geom), func.ST_Y(GpsFix.geom))
                           .join(Patrol, Patrol.id == GpsFix.patrol_id).join(User, User.id == Patrol.worker_id)
                           .where(*where).order_by(Patrol.id, GpsFix.time)).all()
    frame = pd.DataFrame(rows, columns=["patrol", "worker", "time", "lon", "lat"])
    out = []
    for pid, g in frame.groupby("patrol", sort=True):
        if len(g) < 2:
            continue
        times = pd.to_datetime(g["time"], utc=True).dt.tz_convert(tz)
        out.append({"patrol": int(pid), "worker": g["worker"].iloc[0],
                    "started": times.iloc[0].strftime("%H:%M"), "ended": times.iloc[-1].strftime("%H:%M"),
                    "length_m": round(track_length_m(g["lon"].to_numpy(), g["lat"].to_numpy()), 1),
                    "geometry": shapely.LineString(list(zip(g["lon"], g["lat"], strict=True)))})
    return out


def _summary_track_rows(session: Session, grid_ids: list[int], day: dt.date, worker_id: int | None,
                        tz: str) -> list[dict]:
    lines = summary_tracks(session, grid_ids, day, worker_id)
    names = dict(session.execute(select(User.id, func.coalesce(User.display_name, User.username)).where(
        User.id.in_(sorted({r["worker_id"] for r in lines}) or [-1]))).all())
    zone = ZoneInfo(tz)
    return [{"patrol": r["patrol"], "worker": names.get(r["worker_id"]),
             "started": r["started"].astimezone(zone).strftime("%H:%M"),
             "ended": r["ended"].astimezone(zone).strftime("%H:%M"),
             "length_m": round(r["length_m"], 1), "geometry": r["geometry"]} for r in lines]
