"""The supervisor's map pages (HTML, folium + local Leaflet): cases, heat, hot spots, coverage, grids; and /login.

A page opened in the browser authenticates with the ``gridpatrol_token`` cookie that /login sets (GET only); without
it the page sends the user to /login and back. Every page reads through the same scoped services as the API.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import geopandas as gpd
import shapely
from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select

from api import map_pages as mp
from api.basemap import page_tiles, tile_attribution
from api.deps import COOKIE, PageActorDep, Period, PeriodEnd, ReadSessionDep, SessionDep, SettingsDep
from maps import analytics as M
from maps import login as login_html
from maps.analytics import page as P
from maps.dashboard import dashboard_page
from maps.planner import planner_page
from patrol.analytics import map_frames as mf
from patrol.analytics import service as svc
from patrol.cases import routing
from patrol.cases import service as case_svc
from patrol.cases.channels import check_channels
from patrol.cases.lifecycle import CLOSED
from patrol.cases.reads import CaseFilter, case_query
from patrol.cases.worktime import local_today
from patrol.city.households import grid_households
from patrol.city.read_models import layer
from patrol.core.dialect import extent
from patrol.core.errors import GridPatrolError
from patrol.core.models import Case, Grid
from patrol.plans import service as plan_svc

router = APIRouter(tags=["maps"])
Lang = Annotated[Literal["zh", "en"] | None, Query(description="zh (default) or en")]


def _html(m) -> HTMLResponse:
    return HTMLResponse(m.get_root().render())


def _opts(settings, lang, session) -> dict:
    return {"lang": lang or settings.lang, "tiles": settings.tiles or None,
            "tile_attribution": tile_attribution(session, settings), "datum": settings.tiles_datum}


def _frame(fc: dict) -> gpd.GeoDataFrame:
    feats = fc["features"]
    if not feats:
        return gpd.GeoDataFrame({"geometry": []}, geometry="geometry", crs=4326)
    return gpd.GeoDataFrame.from_features(feats, crs=4326)


Category = Annotated[str | None, Query(description="category code")]
Status = Annotated[str | None, Query(description="open (在办), overdue (当前超期), closed (已结案), or case states")]
Channel = Annotated[str | None, Query(description="where the cases came from, comma-separated (patrol, resident, "
                                                  "12345, open311, …)")]


def _frame_of(session, actor, settings, kind: str, lang: str | None, period: tuple[str, dt.date, dt.date] | None,
              **extra) -> P.PageFrame:
    key, s, e = period if period is not None else (None, None, None)
    return P.PageFrame(kind=kind, lang=lang or settings.lang, today=local_today(settings.timezone), period=key,
                       start=s, end=e, **extra)


def _finish(m, session, scope, frame: P.PageFrame, settings, *, grids: bool = True) -> HTMLResponse:
    g, c = mp.outlines(session, scope)
    P.add_outlines(m, g if grids else None, c, lang=frame.lang, datum=settings.tiles_datum)
    return _html(P.add_page_frame(m, frame))


@router.get("/maps/cases", response_class=HTMLResponse, summary="Every case: clusters from the server, cases zoomed in "
                                                                "(default: reported in the last 30 days)")
def cases_page(actor: PageActorDep, session: ReadSessionDep, settings: SettingsDep, lang: Lang = None,
               period: mp.PeriodKey = None, start: Period = None, end: PeriodEnd = None, last: mp.LastDay = None,
               status: Status = None, category: Category = None, overdue: bool | None = None,
               grid: str | None = None, community: str | None = None, channel: Channel = None,
               since: Annotated[dt.datetime | None, Query(description="as start (older links)")] = None,
               until: Annotated[dt.datetime | None, Query(description="as end (older links)")] = None,
               case: Annotated[int | None, Query(description="draw this case's dispatch route (from its unit, "
                                                             "or the responsible one nearest by road)")] = None
               ) -> Response:
    box = extent(session, Grid.geom) or (-180.0, -85.0, 180.0, 85.0)
    route = _case_route(session, actor, case) if case is not None else None
    start = start or (since.date() if since else None)
    end = end or (until.date() if until else None)
    key, s, e = mp.map_period(settings, period, start, end, last)
    if overdue and not status:
        status = "overdue"
    statuses, late = mp.status_filter(status)
    zone = ZoneInfo(settings.timezone)
    lo, hi = dt.datetime.combine(s, dt.time(), zone), dt.datetime.combine(e, dt.time(), zone)
    f = CaseFilter(grid=grid, community=community, category=category, status=statuses, overdue=late, since=lo,
                   until=hi, channels=check_channels(channel) or None)
    params = {k: v for k, v in {"status": ",".join(statuses or []), "category": category, "grid": grid,
                                 "community": community, "overdue": "true" if late else None, "channel": channel,
                                 "since": lo.isoformat(), "until": hi.isoformat()}.items() if v}
    url = "/api/v1/cases/map?" + urlencode(params)
    count = int(session.scalar(select(func.count()).select_from(case_query(session, actor, f).subquery())) or 0)
    m = M.cases_map(bounds=box, data_url=url, time_zone=settings.timezone, route=route,
                    **_opts(settings, lang, session=session))
    language = lang or settings.lang
    frame = _frame_of(session, actor, settings, "cases", lang, (key, s, e), count=count,
                      explain="no_cases" if count == 0 else None,
                      selects=[mp.category_select(session, language, category), mp.status_select(language, status),
                               mp.channel_select(language, channel)],
                      keep={"grid": grid or "", "community": community or "", "case": str(case or "")})
    scope = svc.resolve_scope(session, actor, community=community, grid=grid)
    return _finish(m, session, scope, frame, settings)


def _case_route(session, actor, case_id: int) -> dict | None:
    """The road route to a case from the unit it was dispatched to, else from the responsible unit nearest by road;
    None for grid-level cases (the grid's own worker) or when there are no roads."""
    case = case_svc.get_case(session, actor, case_id)
    p = shapely.from_wkb(bytes(session.scalar(
        select(func.ST_AsBinary(Case.geom)).where(Case.id == case.id))))
    try:
        if case.unit_id is not None:
            return routing.route_from_unit(session, case.unit_id, p.x, p.y)
        return routing.responsible(session, lon=p.x, lat=p.y, category=case.category_code, level=case.level,
                                   grid_id=case.grid_id).route
    except GridPatrolError:
        return None


@router.get("/maps/heat", response_class=HTMLResponse, summary="Heatmap of cases weighted by severity (default: "
                                                               "reported in the last 30 days)")
def heat_page(actor: PageActorDep, session: ReadSessionDep, settings: SettingsDep, lang: Lang = None,
              period: mp.PeriodKey = None, start: Period = None, end: PeriodEnd = None, last: mp.LastDay = None,
              category: Category = None, status: Status = None,
              community: str | None = None, grid: str | None = None, channel: Channel = None) -> Response:
    key, s, e = mp.map_period(settings, period, start, end, last)
    scope = svc.resolve_scope(session, actor, community=community, grid=grid)
    cases = mp.filter_cases(mf.case_frame(session, scope, start=s, end=e, category=category,
                                           tz=settings.timezone, channel=channel), status)
    language = lang or settings.lang
    labels = mf.category_labels(session, language)
    m = M.heatmap_map(cases, category_labels=labels, closed_statuses=CLOSED, **_opts(settings, lang, session=session))
    frame = _frame_of(session, actor, settings, "heat", lang, (key, s, e), count=len(cases),
                      explain="no_cases" if len(cases) == 0 else None,
                      selects=[mp.category_select(session, language, category), mp.status_select(language, status),
                               mp.channel_select(language, channel)],
                      keep={"grid": grid or "", "community": community or ""})
    return _finish(m, session, scope, frame, settings)


@router.get("/maps/hotspots", response_class=HTMLResponse, summary="Gi* hot and cold spots (default: the last 30 "
                                                                   "days), and emerging patterns")
def hotspots_page(actor: PageActorDep, session: ReadSessionDep, settings: SettingsDep, lang: Lang = None,
                  period: mp.PeriodKey = None, start: Period = None, end: PeriodEnd = None, last: mp.LastDay = None,
                  cells: Literal["h3", "fishnet", "grid"] = "h3",
                  resolution: int = 9, size_m: float = 250, category: Category = None,
                  measure: Literal["cases", "overdue", "reworked", "reopened"] = "cases",
                  emerging: Literal["week", "month", "none"] = "week", community: str | None = None,
                  grid: str | None = None, channel: Channel = None) -> Response:
    key, s, e = mp.map_period(settings, period, start, end, last)
    fc = svc.hotspots(session, actor, settings, start=s, end=e, cells=cells, resolution=resolution, size_m=size_m,
                      category=category, measure=measure, community=community, grid=grid, channel=channel)
    frame = _frame(fc)
    patterns = None
    if emerging != "none" and len(frame):
        em = svc.emerging(session, actor, settings, step=emerging, steps=8, cells=cells, resolution=resolution,
                          size_m=size_m, category=category, measure=measure, community=community, grid=grid,
                          channel=channel)
        by_id = {f["properties"]["id"]: f["properties"]["pattern"] for f in em["features"]}
        patterns = [by_id.get(i, "No Pattern Detected") for i in frame["id"]]
    m = M.hotspot_map(frame, emerging=patterns, **_opts(settings, lang, session=session))
    count = int(frame["count"].sum()) if len(frame) else 0
    significant = bool(len(frame)) and bool((frame["bin"] != 0).any())
    language = lang or settings.lang
    page = _frame_of(session, actor, settings, "hotspots", lang, (key, s, e), count=count,
                     explain="no_cases" if count == 0 else None if significant else "not_significant",
                     selects=[mp.category_select(session, language, category),
                              mp.choice_select(language, "measure", ("cases", "overdue", "reworked", "reopened"),
                                               measure),
                              mp.choice_select(language, "emerging", ("week", "month", "none"), emerging),
                              mp.channel_select(language, channel)],
                     keep={"grid": grid or "", "community": community or "",
                           "cells": cells if cells != "h3" else "",
                           "resolution": str(resolution) if resolution != 9 else "",
                           "size_m": f"{size_m:g}" if size_m != 250 else ""})
    scope = svc.resolve_scope(session, actor, community=community, grid=grid)
    return _finish(m, session, scope, page, settings)


@router.get("/maps/coverage", response_class=HTMLResponse, summary="Patrol coverage: grids, blind spots, tracks "
                                                                   "(default: the last 30 days)")
def coverage_page(actor: PageActorDep, session: ReadSessionDep, settings: SettingsDep, lang: Lang = None,
                  period: mp.PeriodKey = None, start: Period = None, end: PeriodEnd = None, last: mp.LastDay = None,
                  grid: str | None = None, community: str | None = None, worker_id: int | None = None,
                  day: Annotated[dt.date | None, Query(description="show this day's tracks (of worker_id)")] = None,
                  distance_m: float = 25.0) -> Response:
    key, s, e = mp.map_period(settings, period, start, end, last)
    whose = mf.track_reader_worker(session, actor, worker_id) if day is not None else None
    cov = svc.coverage(session, actor, settings, start=s, end=e, community=community, grid=grid,
                       worker_id=worker_id, distance_m=distance_m)
    scope = svc.resolve_scope(session, actor, community=community, grid=grid)
    grids = svc.read_frame_grids(session, scope)
    table = {g["code"]: g for g in cov["grids"]}
    grids["coverage_pct"] = [table.get(c, {}).get("coverage_pct") for c in grids["code"]]
    grids["building_pct"] = [table.get(c, {}).get("building_pct") for c in grids["code"]]
    tracks = mf.track_frame(session, scope, day=day, worker_id=whose, tz=settings.timezone,
                             fast_reads=settings.fast_reads) if day is not None else None
    m = M.coverage_map(grids, _frame(cov["streets"]), _frame(cov["buildings"]), tracks,
                       **_opts(settings, lang, session=session))
    patrolled = any((g.get("coverage_pct") or 0) > 0 or (g.get("building_pct") or 0) > 0 for g in cov["grids"])
    frame = _frame_of(session, actor, settings, "coverage", lang, (key, s, e),
                      explain=None if patrolled else "no_patrols",
                      keep={"grid": grid or "", "community": community or "",
                            "worker_id": str(worker_id or ""), "day": day.isoformat() if day else "",
                            "distance_m": f"{distance_m:g}" if distance_m != 25.0 else ""})
    return _finish(m, session, scope, frame, settings, grids=False)


@router.get("/maps/grids", response_class=HTMLResponse, summary="Grids with codes, households and workers")
def grids_page(actor: PageActorDep, session: ReadSessionDep, settings: SettingsDep, lang: Lang = None,
               community: str | None = None) -> Response:
    scope = svc.resolve_scope(session, actor, community=community)
    grids = layer(session, "grids", worker_names=True)  # a staff page: names its workers
    if scope.community_id is not None and "community_id" in grids:
        grids = grids[grids["community_id"] == scope.community_id]
    if scope.community_ids is not None and "community_id" in grids:
        grids = grids[grids["community_id"].isin(sorted(scope.community_ids))]
    if scope.grid_id is not None and "id" in grids:
        grids = grids[grids["id"] == scope.grid_id]
    m = M.grids_map(grids, **_opts(settings, lang, session=session))
    language = lang or settings.lang
    _, coms = mp.outlines(session, svc.resolve_scope(session, actor))
    t = P.PAGE_LABELS[language]
    choose = P.Select("community", t["community"],
                      [("", t["all"])] + [(str(n), str(n)) for n in coms["name"]] if len(coms) else [("", t["all"])],
                      community)
    frame = _frame_of(session, actor, settings, "grids", lang, None, selects=[choose])
    return _finish(m, session, scope, frame, settings, grids=False)


@router.get("/dashboard", response_class=HTMLResponse,
            summary="Supervisor dashboard: KPI cards, ranking, maps, downloads")
def dashboard(actor: PageActorDep, session: ReadSessionDep, settings: SettingsDep, lang: Lang = None) -> Response:
    if actor.role == "building_lead":  # a 楼栋长 has no dashboard: she works in the phone app
        return RedirectResponse("/app/", status_code=303)
    return HTMLResponse(dashboard_page(lang=lang or settings.lang, timezone=settings.timezone))


@router.get("/planner", response_class=HTMLResponse, summary="Planner's grid editor: plans, split / merge / move a "
                                                            "boundary, proposal, validation, impact, publish")
def planner(actor: PageActorDep, session: SessionDep, settings: SettingsDep, lang: Lang = None) -> Response:
    if actor.role not in plan_svc.PLANNERS:  # the plans API refuses everyone else: no editor that cannot save
        return RedirectResponse(f"/dashboard?lang={lang or settings.lang}", status_code=303)
    return HTMLResponse(planner_page(lang=lang or settings.lang, tiles=page_tiles(session, settings),
                                     datum=settings.tiles_datum,
                                     households_range=grid_households(session, settings)))


@router.get("/login", response_class=HTMLResponse, summary="Log in (the page posts to POST /login, which sets the "
                                                            "login cookie); opening it logs this browser out")
def login_page(settings: SettingsDep, lang: Lang = None, next: str = "/dashboard") -> HTMLResponse:
    target = login_html.local_path(next)
    page = HTMLResponse(login_html.login_page(lang="zh" if (lang or settings.lang) == "zh" else "en",
                                              next_url=target))
    # the pages' log-out links lead here: the cookie goes (it is HttpOnly; the page's script ends the session)
    page.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax")
    return page
