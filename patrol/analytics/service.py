"""Analytics as the supervisor asks for them: KPIs, coverage and hotspots, restricted to what the actor may see.

The computations are elsewhere (:mod:`patrol.analytics.kpis`, :mod:`geo.coverage`, :mod:`geo.hotspots`); this module
decides the scope (a supervisor sees her community, a subdistrict user (街道) the communities of her subdistrict, a
department its unit, a grid worker her grids, admins and planners the city) and feeds the pure functions from the
database.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import warnings
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import shapely.geometry
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from geo import cells as C
from geo.coverage import grid_coverage, last_covered, prepare_coverage
from geo.hotspots import GetisOrdStar, emerging_hotspots
from patrol.analytics import cell_counts
from patrol.analytics import kpis as K
from patrol.analytics.gps_days import coverage_of, plan_days, raw_fixes
from patrol.analytics.periods import half_open, last_periods
from patrol.cases.channels import check_channels
from patrol.cases.overdue import is_overdue
from patrol.cases.views import check_route_reader
from patrol.core.auth import Actor
from patrol.core.errors import Forbidden, InvalidInput
from patrol.core.frames import read_frame
from patrol.core.models import (
    Building,
    Case,
    Category,
    City,
    Community,
    Grid,
    RoadSegment,
    Subdistrict,
    Visit,
)
from patrol.core.settings import Settings
from patrol.core.time import now_utc
from patrol.plans.service import grid_version


@dataclass(frozen=True)
class Scope:
    community_id: int | None = None
    grid_id: int | None = None
    unit_id: int | None = None
    #: a set of communities (a subdistrict's: her own as a 街道 user, or the one filtered by an admin); None: no
    #: such restriction
    community_ids: frozenset[int] | None = None

    def community_clauses(self, column) -> list:
        """WHERE clauses restricting ``column`` (a community id column) to this scope's community or communities."""
        out = []
        if self.community_id is not None:
            out.append(column == self.community_id)
        if self.community_ids is not None:
            out.append(column.in_(sorted(self.community_ids) or [-1]))
        return out


def resolve_scope(session: Session, actor: Actor, *, community: str | None = None, grid: str | None = None,
                  unit_id: int | None = None, subdistrict: str | None = None) -> Scope:
    """Community / grid given by code (or id), subdistrict by code or name, checked against the actor's scope;
    403 outside it."""
    community_id = _community_id(session, community) if community else None
    grid_id = _grid_id(session, grid) if grid else None
    sub_id = subdistrict_id(session, subdistrict) if subdistrict else None
    in_sub = None if sub_id is None else frozenset(
        session.scalars(select(Community.id).where(Community.subdistrict_id == sub_id)))
    role = actor.role
    if role in ("admin", "planner"):
        return Scope(community_id, grid_id, unit_id, in_sub)
    if role == "subdistrict":
        if sub_id not in (None, actor.subdistrict_id):
            raise Forbidden("that subdistrict is not yours", field="subdistrict")
        return _subdistrict_scope(session, actor, community_id, grid_id, unit_id)
    if in_sub is not None and role == "supervisor" and actor.community_id not in in_sub:
        raise Forbidden("your community is not in that subdistrict", field="subdistrict")
    if in_sub is not None and role in ("grid_worker", "grid_lead"):
        raise Forbidden("a grid worker (网格长: the grids she leads) sees the figures of her own grids",
                        field="subdistrict")
    if role == "supervisor":
        if community_id not in (None, actor.community_id):
            raise Forbidden("that community is outside your scope", field="community")
        if grid_id is not None and session.scalar(select(Grid.community_id).where(Grid.id == grid_id)) \
                != actor.community_id:
            raise Forbidden("that grid is outside your community", field="grid")
        return Scope(actor.community_id, grid_id, unit_id)
    if role == "department":
        if unit_id not in (None, actor.unit_id):
            raise Forbidden("that unit is not yours", field="unit_id")
        return Scope(community_id, grid_id, actor.unit_id, in_sub)
    if role == "grid_lead" and grid_id is None and _leads_whole_community(session, actor):
        return Scope(actor.community_id, None, None)  # a 网格长 of every grid of her community: its figures
    if role in ("grid_worker", "grid_lead"):  # a 网格长 reads each grid she leads like its worker
        if grid_id is None and len(actor.grid_ids) == 1:
            grid_id = next(iter(actor.grid_ids))
        if grid_id is None or grid_id not in actor.grid_ids:
            raise Forbidden("a grid worker sees the figures of her own grid: give grid=<your grid code>",
                            field="grid")
        return Scope(None, grid_id, None)
    raise Forbidden(f"a {role} cannot read analytics", field="role")  # a 楼栋长 among them


def _leads_whole_community(session: Session, actor: Actor) -> bool:
    """Whether a 网格长 leads every grid of her community (then its figures are hers without ``grid=``)."""
    if actor.community_id is None or len(actor.grid_ids) < 2:
        return False
    return set(session.scalars(select(Grid.id).where(Grid.community_id == actor.community_id))) == set(actor.grid_ids)


def _subdistrict_scope(session: Session, actor: Actor, community_id: int | None, grid_id: int | None,
                       unit_id: int | None) -> Scope:
    """A subdistrict user's scope: the communities of her 街道 (403 for a community or grid outside)."""
    if community_id is not None and community_id not in actor.community_ids:
        raise Forbidden("that community is outside your subdistrict", field="community")
    if grid_id is not None and session.scalar(select(Grid.community_id).where(Grid.id == grid_id)) \
            not in actor.community_ids:
        raise Forbidden("that grid is outside your subdistrict", field="grid")
    return Scope(community_id, grid_id, unit_id, actor.community_ids)


def _community_id(session: Session, value: str) -> int:
    found = session.scalar(select(Community.id).where((Community.code == value) | (Community.name == value)))
    if found is None and value.isdigit():
        found = session.scalar(select(Community.id).where(Community.id == int(value)))
    if found is None:
        raise InvalidInput(f"no community {value!r} (give its code or name)", field="community")
    return found


def subdistrict_id(session: Session, value: str) -> int:
    """The subdistrict coded or named ``value`` (or with that id); 422 when there is none."""
    found = session.scalar(select(Subdistrict.id).where((Subdistrict.code == value) | (Subdistrict.name == value)))
    if found is None and value.isdigit():
        found = session.scalar(select(Subdistrict.id).where(Subdistrict.id == int(value)))
    if found is None:
        raise InvalidInput(f"no subdistrict {value!r} (give its code or name)", field="subdistrict")
    return found


def _grid_id(session: Session, value: str) -> int:
    found = session.scalar(select(Grid.id).where(Grid.code == value))
    if found is None and value.isdigit():
        found = session.scalar(select(Grid.id).where(Grid.id == int(value)))
    if found is None:
        raise InvalidInput(f"no grid {value!r} (give its code)", field="grid")
    return found


def thresholds(settings: Settings) -> dict:
    """The default 黄橙红 thresholds, overridden per KPI by ``settings.kpi_thresholds``."""
    return {**K.DEFAULT_THRESHOLDS, **K.parse_thresholds(settings.kpi_thresholds)} if settings.kpi_thresholds \
        else dict(K.DEFAULT_THRESHOLDS)


def kpi_table(session: Session, actor: Actor, settings: Settings, *, by: str | None, start: dt.date | dt.datetime,
              end: dt.date | dt.datetime, community: str | None = None, grid: str | None = None,
              unit_id: int | None = None, category: str | None = None, include_simulated: bool = True,
              now: dt.datetime | None = None, subdistrict: str | None = None, channel: str | None = None,
              lang: str = "zh") -> list[dict]:
    scope = resolve_scope(session, actor, community=community, grid=grid, unit_id=unit_id, subdistrict=subdistrict)
    df = K.kpis(session, by=by, start=start, end=end, now=now, community_id=scope.community_id,
                grid_id=scope.grid_id, unit_id=scope.unit_id, category=category,
                include_simulated=include_simulated, settings=settings, thresholds=thresholds(settings),
                community_ids=scope.community_ids, channels=channel, lang=lang)
    return K.kpi_records(df)


def kpi_trend(session: Session, actor: Actor, settings: Settings, *, period: str, n: int,
              community: str | None = None, grid: str | None = None, unit_id: int | None = None,
              category: str | None = None, include_simulated: bool = True,
              now: dt.datetime | None = None, subdistrict: str | None = None,
              channel: str | None = None) -> list[dict]:
    scope = resolve_scope(session, actor, community=community, grid=grid, unit_id=unit_id, subdistrict=subdistrict)
    df = K.kpi_trend(session, period=period, n=n, now=now, community_id=scope.community_id, grid_id=scope.grid_id,
                     unit_id=scope.unit_id, category=category, include_simulated=include_simulated,
                     settings=settings, thresholds=thresholds(settings), community_ids=scope.community_ids,
                     channels=channel)
    return K.kpi_records(df)


# ---------------------------------------------------------------------------------------------- hotspots

MEASURES = {
    "cases": "all cases reported",
    "overdue": "cases closed late or still open past their deadline",
    "reworked": "cases reworked at least once (核查不通过 or a low rating)",
    "reopened": "cases reopened after closure",
}
CELLS = ("h3", "fishnet", "grid")
BIN_LABELS = {3: "热点 99%", 2: "热点 95%", 1: "热点 90%", 0: "不显著", -1: "冷点 90%", -2: "冷点 95%", -3: "冷点 99%"}


@dataclass
class CellLayer:
    frame: object  # GeoDataFrame in WGS-84 with an ``id`` column
    weights: object  # scipy sparse
    counts: object  # np.ndarray
    n_points: int
    count_frame: object = None  # what geo.cells.count_points counts in (the metric fishnet keeps its spec)
    #: the cells' ids and GeoJSON geometries when kept with the frame (the fast path's cache), else made per call
    shapes: tuple | None = None


def _ids_and_geometries(layer: CellLayer) -> tuple:
    """The plain ids and GeoJSON geometry dicts of the layer's cells, in order (hoisted out of the feature loops:
    one frame lookup per cell cost more than the hot-spot test itself for 1,500 cells)."""
    if layer.shapes is not None:
        return layer.shapes
    frame = layer.frame
    return ([_plain(v) for v in frame["id"]],  # type: ignore[index]
            [shapely.geometry.mapping(g) for g in frame.geometry])  # type: ignore[attr-defined]


def case_where(scope: Scope, start: dt.datetime, end: dt.datetime, category: str | None,
                include_simulated: bool, channel: str | None = None) -> list:
    """Cases reported in [start, end) inside the scope, of a category and channels (comma-separated) if given."""
    where = [Case.reported_at >= start, Case.reported_at < end, *scope.community_clauses(Case.community_id)]
    if channel:
        where.append(Case.channel.in_(check_channels(channel)))
    for col, value in ((Case.grid_id, scope.grid_id),
                       (Case.unit_id, scope.unit_id), (Case.category_code, category or None)):
        if value is not None:
            where.append(col == value)
    if not include_simulated:
        where.append(Case.simulated.is_(False))
    return where


def check_measure(measure: str) -> None:
    if measure not in MEASURES:
        raise InvalidInput(f"measure must be one of {', '.join(MEASURES)}, got {measure!r}", field="measure")


def case_points(session: Session, scope: Scope, *, start: dt.datetime, end: dt.datetime, category: str | None,
                measure: str, include_simulated: bool, channel: str | None = None, extra: tuple = (),
                now: dt.datetime | None = None):
    """The cases of ``measure`` reported in [start, end) in the scope as WGS-84 points with their severity;
    ``extra``: more WHERE clauses (a Dask task's slice of the history); ``now``: when "overdue" is judged."""

    check_measure(measure)
    where = [*case_where(scope, start, end, category, include_simulated, channel), *extra]
    if measure == "reworked":
        where.append(Case.rework_count > 0)
    elif measure == "reopened":
        where.append(Case.reopened_count > 0)
    rows = session.execute(select(func.ST_AsBinary(Case.geom), Category.severity, Case.status, Case.deadline_at,
                                  Case.closed_on_time).join(Category, Category.code == Case.category_code)
                           .where(*where)).all()
    if measure == "overdue":  # closed late, or still running past the deadline
        now = now or now_utc()
        rows = [r for r in rows if r[4] is False or is_overdue(r[2], r[3], now)]
    geoms = shapely.from_wkb(np.array([bytes(r[0]) for r in rows], dtype=object)) if rows else []
    return gpd.GeoDataFrame({"severity": [r[1] for r in rows]}, geometry=list(geoms), crs=4326)


@dataclass(frozen=True)
class CaseQuery:
    """Which cases hotspots count, as plain values a Dask task carries to its worker (see
    :mod:`patrol.analytics.history`): ``points`` reads those of one slice of the history."""

    scope: Scope
    category: str | None
    measure: str
    include_simulated: bool
    channel: str | None = None
    now: dt.datetime | None = None

    def points(self, session: Session, start: dt.datetime, end: dt.datetime, extra: tuple = ()):
        return case_points(session, self.scope, start=start, end=end, category=self.category, measure=self.measure,
                           include_simulated=self.include_simulated, channel=self.channel, extra=extra, now=self.now)


def no_points():
    """An empty frame of case points (a cell layer with its cells and weights, to be counted elsewhere)."""
    return gpd.GeoDataFrame({"severity": []}, geometry=[], crs=4326)


def _area(session: Session, scope: Scope):
    """The area analysed: the scope's grid, community, or the whole city's communities (WGS-84)."""

    if scope.grid_id is not None:
        wkbs = session.scalars(select(func.ST_AsBinary(Grid.geom)).where(Grid.id == scope.grid_id)).all()
    elif scope.community_id is not None or scope.community_ids is not None:
        wkbs = session.scalars(select(func.ST_AsBinary(Community.geom))
                               .where(*scope.community_clauses(Community.id))).all()
    else:
        wkbs = session.scalars(select(func.ST_AsBinary(Community.geom))).all()
    if not wkbs:
        raise InvalidInput("the city has no communities yet: import a city first", field="community")
    return shapely.union_all([shapely.from_wkb(bytes(w)) for w in wkbs])


def cell_layer(session: Session, scope: Scope, points, *, cells: str, resolution: int, size_m: float,
               weight: str) -> CellLayer:
    """The cells of the scope's area with their neighbour weights and the points counted in them."""
    _check_weight(weight)
    frame, w, metric_frame = _cells(session, scope, cells=cells, resolution=resolution, size_m=size_m)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", C.IslandWarning)
        counts = C.count_points(points, metric_frame, weights="severity" if weight == "severity" else None) \
            if len(points) else np.zeros(len(frame))
    return CellLayer(frame, w, counts, len(points), metric_frame)


def _check_weight(weight: str) -> None:
    if weight not in ("count", "severity"):
        raise InvalidInput(f"weight must be count or severity, got {weight!r}", field="weight")


def _cells(session: Session, scope: Scope, *, cells: str, resolution: int, size_m: float) -> tuple:
    """The cell frame (WGS-84, ``id``), its weights and the frame points are counted in."""
    if cells not in CELLS:
        raise InvalidInput(f"cells must be one of {', '.join(CELLS)}, got {cells!r}", field="cells")
    if cells == "h3" and not 5 <= resolution <= 12:
        raise InvalidInput(f"resolution must be 5–12 for city hotspots, got {resolution}", field="resolution")
    if cells == "fishnet" and not 25 <= size_m <= 5000:
        raise InvalidInput(f"size_m must be 25–5000, got {size_m}", field="size_m")
    area = _area(session, scope)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", C.IslandWarning)
        if cells == "h3":
            return _hexagons(area, resolution)
        if cells == "fishnet":
            epsg = session.scalar(select(City.metric_epsg))
            metric_area = gpd.GeoSeries([area], crs=4326).to_crs(epsg).iloc[0]
            net = C.fishnet(metric_area.bounds, size_m, epsg)
            metric_frame = net[net.intersects(metric_area)].reset_index(drop=True)
            frame = metric_frame.to_crs(4326).rename(columns={"cell": "id"})
        else:
            frame = metric_frame = read_frame_grids(session, scope)
        w = C.contiguity(frame.geometry, kind="queen") if len(frame) > 1 else None
    return frame, w, metric_frame


def _hexagons(area, resolution: int) -> tuple:
    frame = C.hexagons(area, resolution)
    if frame.empty:
        frame = C.hexagons(gpd.GeoSeries([area.representative_point()], crs=4326), resolution, rings=1)
    frame = frame.rename(columns={"h3": "id"}).assign(h3=lambda f: f["id"])
    return frame, C.h3_neighbours(frame["h3"].tolist()), frame


def _kept_hexagons(area, resolution: int) -> tuple:
    """What the fast path keeps per area and resolution: the cell frame, its weights, the cells' ids and GeoJSON."""
    frame, w, _ = _hexagons(area, resolution)
    return frame, w, ([_plain(v) for v in frame["id"]], [shapely.geometry.mapping(g) for g in frame.geometry])


def _fast_layer(session: Session, scope: Scope, where: list, *, measure: str, resolution: int,
                weight: str) -> CellLayer:
    """:func:`cell_layer` of the scope's cases counted in SQL by their stored cell (:mod:`.cell_counts`), the cell
    frame and weights kept per area and resolution."""
    _check_weight(weight)
    area = _area(session, scope)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", C.IslandWarning)
        frame, w, shapes = cell_counts.cells_of(area, resolution, lambda: _kept_hexagons(area, resolution))
    severity = weight == "severity"
    counts, n = cell_counts.h3_counts(session, [*where, *cell_counts.measure_clauses(measure, now_utc())],
                                      severity=severity)
    return CellLayer(frame, w, cell_counts.vector(frame["id"].tolist(), counts, severity=severity), n, frame,
                     shapes)


def read_frame_grids(session: Session, scope: Scope):
    where = []
    if scope.grid_id is not None:
        where.append(Grid.id == scope.grid_id)
    else:
        where.extend(scope.community_clauses(Grid.community_id))
    return read_frame(session, [Grid.id, Grid.code], Grid.geom, where=where, order_by=[Grid.id])


def hotspots(session: Session, actor: Actor, settings: Settings, *, start: dt.date | dt.datetime,
             end: dt.date | dt.datetime, cells: str = "h3", resolution: int = 9, size_m: float = 250,
             category: str | None = None, measure: str = "cases", weight: str = "count", permutations: int = 0,
             community: str | None = None, grid: str | None = None, include_simulated: bool = True,
             channel: str | None = None, runner=None) -> dict:
    """Getis-Ord Gi* hot and cold spots of cases aggregated to cells, with BH-FDR bins −3…+3, as GeoJSON;
    ``runner`` (:class:`patrol.analytics.history.DaskRunner`): count the cases on Dask, the same result."""

    scope = resolve_scope(session, actor, community=community, grid=grid)
    s, e = half_open(start, end, settings.timezone)
    if not 0 <= permutations <= 9999:
        raise InvalidInput(f"permutations must be 0–9999, got {permutations}", field="permutations")
    if runner is None and cell_counts.fast(settings.fast_reads, cells, resolution):  # SQL on stored cells
        check_measure(measure)
        layer = _fast_layer(session, scope, case_where(scope, s, e, category, include_simulated, channel),
                            measure=measure, resolution=resolution, weight=weight)
    elif runner is None:
        points = case_points(session, scope, start=s, end=e, category=category, measure=measure,
                             include_simulated=include_simulated, channel=channel)
        layer = cell_layer(session, scope, points, cells=cells, resolution=resolution, size_m=size_m,
                           weight=weight)
    else:
        check_measure(measure)
        query = CaseQuery(scope, category, measure, include_simulated, channel)
        layer = cell_layer(session, scope, no_points(), cells=cells, resolution=resolution, size_m=size_m,
                           weight=weight)
        layer = runner.hotspot_layer(session, query, layer, s, e, weight)
    y = np.asarray(layer.counts, dtype=float)
    n = len(y)
    summary = {"cells": n, "points": layer.n_points, "measure": measure, "cell_kind": cells,
               "start": s.isoformat(), "end": e.isoformat(), "fdr": True, "permutations": permutations}
    z = p = pf = bins = psim = None
    if n >= 3 and layer.weights is not None and np.ptp(y) > 0:
        gi = GetisOrdStar(permutations=permutations, seed=0).fit(y, layer.weights)
        z, p, pf, bins, psim = gi.z_, gi.p_, gi.p_fdr_, gi.bin_, gi.p_sim_
        summary["message"] = None
    else:
        summary["message"] = ("no cases in this period and area" if layer.n_points == 0 else
                              "too few cells or no variation: nothing to test")
    feats = []
    ids, geometries = _ids_and_geometries(layer)
    codes = layer.frame["code"].tolist() if "code" in layer.frame else None
    for i, geometry in enumerate(geometries):
        b = int(bins[i]) if bins is not None else 0
        props = {"id": ids[i], "count": float(y[i]),
                 "z": _num(z, i), "p": _num(p, i), "p_fdr": _num(pf, i), "p_sim": _num(psim, i),
                 "bin": b, "label_zh": BIN_LABELS[b]}
        if codes is not None:
            props["code"] = codes[i]
        feats.append({"type": "Feature", "geometry": geometry, "properties": props})
    if bins is not None:
        summary["bins"] = {str(k): int((bins == k).sum()) for k in range(-3, 4)}
    return {"type": "FeatureCollection", "features": feats, "summary": summary}


def emerging(session: Session, actor: Actor, settings: Settings, *, step: str = "week", steps: int = 8,
             cells: str = "h3", resolution: int = 9, size_m: float = 250, category: str | None = None,
             measure: str = "cases", community: str | None = None, grid: str | None = None,
             include_simulated: bool = True, now: dt.datetime | None = None, channel: str | None = None,
             runner=None) -> dict:
    """Emerging hot spots: Gi* per time step and the Mann–Kendall trend, one ArcGIS pattern per cell; ``runner``
    (:class:`patrol.analytics.history.DaskRunner`): count the cases on Dask, the same result."""

    if step not in ("day", "week", "month"):
        raise InvalidInput(f"step must be day, week or month, got {step!r}", field="step")
    if not 2 <= steps <= 60:
        raise InvalidInput(f"steps must be 2–60, got {steps}", field="steps")
    scope = resolve_scope(session, actor, community=community, grid=grid)
    tz = settings.timezone
    now = now or dt.datetime.now(dt.UTC)
    if step == "day":
        today = now.astimezone(ZoneInfo(tz)).date()
        bounds = [half_open(today - dt.timedelta(days=k), today - dt.timedelta(days=k - 1), tz)
                  for k in range(steps, 0, -1)]
    else:
        bounds = last_periods(step, steps, now, tz)
    if runner is None and cell_counts.fast(settings.fast_reads, cells, resolution):  # one grouped query
        layer, counts = _fast_steps(session, scope, bounds, category=category, measure=measure,
                                    include_simulated=include_simulated, channel=channel, resolution=resolution)
    elif runner is None:
        layer, counts = _steps(session, scope, bounds, category=category, measure=measure, cells=cells,
                               include_simulated=include_simulated, channel=channel, resolution=resolution,
                               size_m=size_m)
    else:
        check_measure(measure)
        query = CaseQuery(scope, category, measure, include_simulated, channel)
        layer = cell_layer(session, scope, no_points(), cells=cells, resolution=resolution, size_m=size_m,
                           weight="count")
        counts = runner.emerging_counts(session, query, layer, bounds)
    summary = {"cells": counts.shape[0], "steps": [[s.isoformat(), e.isoformat()] for s, e in bounds],
               "points": int(counts.sum()), "message": None}
    codes = names = None
    if counts.shape[0] >= 3 and layer.weights is not None and counts.sum() > 0 and np.ptp(counts) > 0:
        res = emerging_hotspots(counts, layer.weights)
        codes, names = res.code, res.pattern
        summary["patterns"] = {str(k): int(v) for k, v in zip(*np.unique(names, return_counts=True), strict=True)}
    else:
        summary["message"] = "no cases in these periods and area" if counts.sum() == 0 else "nothing to test"
    ids, geometries = _ids_and_geometries(layer)
    feats = [{"type": "Feature", "geometry": g,
              "properties": {"id": ids[i], "counts": counts[i].tolist(),
                             "code": 0 if codes is None else int(codes[i]),
                             "pattern": "No Pattern Detected" if names is None else str(names[i])}}
             for i, g in enumerate(geometries)]
    return {"type": "FeatureCollection", "features": feats, "summary": summary}


def _steps(session: Session, scope: Scope, bounds: list, *, category: str | None, measure: str, cells: str,
           include_simulated: bool, channel: str | None, resolution: int, size_m: float) -> tuple:
    """The cell layer and the counts per cell and step (columns), one read of the points per step."""
    layer = None
    cols = []
    for s, e in bounds:
        pts = case_points(session, scope, start=s, end=e, category=category, measure=measure,
                           include_simulated=include_simulated, channel=channel)
        layer = cell_layer(session, scope, pts, cells=cells, resolution=resolution, size_m=size_m,
                           weight="count") if layer is None else \
            CellLayer(layer.frame, layer.weights, _recount(layer, pts), len(pts), layer.count_frame)
        cols.append(np.asarray(layer.counts, dtype=float))
    return layer, np.column_stack(cols)


def _fast_steps(session: Session, scope: Scope, bounds: list, *, category: str | None, measure: str,
                include_simulated: bool, channel: str | None, resolution: int) -> tuple:
    """:func:`_steps` in one query grouped by (step, stored cell)."""
    check_measure(measure)
    where = case_where(scope, bounds[0][0], bounds[-1][1], category, include_simulated, channel)
    area = _area(session, scope)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", C.IslandWarning)
        frame, w, shapes = cell_counts.cells_of(area, resolution, lambda: _kept_hexagons(area, resolution))
    by_step, totals = cell_counts.h3_step_counts(
        session, [*where, *cell_counts.measure_clauses(measure, now_utc())], bounds)
    position = {str(c): i for i, c in enumerate(frame["id"])}
    counts = np.zeros((len(frame), len(bounds)))
    for (k, h), n in by_step.items():
        i = position.get(h)
        if i is not None:
            counts[i, k] = n
    return CellLayer(frame, w, counts[:, -1], totals[-1], frame, shapes), counts


def _recount(layer: CellLayer, points):

    return C.count_points(points, layer.count_frame) if len(points) else np.zeros(len(layer.frame))


def _num(a, i) -> float | None:
    if a is None:
        return None
    v = float(a[i])
    return None if math.isnan(v) else round(v, 6)


def _plain(v):
    return v.item() if hasattr(v, "item") else v


# ---------------------------------------------------------------------------------------------- coverage

_coverage_cache: dict[tuple, object] = {}
_coverage_lock = threading.Lock()


def coverage_base(session: Session, scope: Scope) -> object:
    """geo.coverage.prepare_coverage of the scope's grids, walkable streets and buildings, kept per process while
    grids, roads and buildings stay the same."""
    sig = tuple(session.execute(select(func.count(m.id), func.max(m.id)).select_from(m)).one()
                for m in (Grid, RoadSegment, Building))
    # a published grid plan updates grids in place (same count and ids): its version is part of the key
    key = (session.get_bind().url.render_as_string(hide_password=False), scope.community_id, scope.community_ids,
           scope.grid_id, sig, grid_version(session))
    with _coverage_lock:
        base = _coverage_cache.get(key)
    if base is not None:
        return base
    grids = read_frame_grids(session, scope)
    if grids.empty:
        raise InvalidInput("no grids here yet: draw them first (gridpatrol grids generate)", field="grid")
    where = [Building.grid_id.in_(grids["id"].tolist())]
    buildings = read_frame(session, [Building.id], Building.geom, where=where)
    # in id order: stored coverage pieces (patrol_day) are offsets along the streets of a grid in this order
    roads = read_frame(session, [RoadSegment.osm_id, RoadSegment.name, RoadSegment.highway], RoadSegment.geom,
                       order_by=[RoadSegment.id])
    epsg = session.scalar(select(City.metric_epsg))
    base = prepare_coverage(grids, roads, buildings=buildings, code="code", building_id="id",
                            metric_crs=f"EPSG:{epsg}" if epsg else None)
    with _coverage_lock:
        if len(_coverage_cache) > 16:
            _coverage_cache.clear()
        _coverage_cache[key] = base
    return base


def fixes_frame(session: Session, grid_ids: list[int], start: dt.datetime, end: dt.datetime,
                worker_id: int | None, include_simulated: bool, extra: tuple = ()):
    """The GPS fixes of [start, end) of the patrols of these grids (of one worker if given), in patrol and time
    order, as geo.coverage reads them; ``extra``: more WHERE clauses (a Dask task's slice of the history)."""

    return raw_fixes(session, grid_ids, start, end, worker_id, include_simulated, extra)


def coverage(session: Session, actor: Actor, settings: Settings, *, start: dt.date | dt.datetime,
             end: dt.date | dt.datetime, community: str | None = None, grid: str | None = None,
             worker_id: int | None = None, distance_m: float = 25.0, blind_days: int | None = None,
             include_simulated: bool = True, runner=None) -> dict:
    """Patrol coverage (不留死角) per grid for a period: street length and buildings within ``distance_m`` of the
    tracks (or visited), covered / uncovered street runs and buildings; with ``blind_days``, the streets and
    buildings not covered for more than that many days before ``end`` (looking back 90 days). ``runner``
    (:class:`patrol.analytics.history.DaskRunner`): measure the period's fixes on Dask, the same result."""

    if not 1 <= distance_m <= 500:
        raise InvalidInput(f"distance_m must be 1–500, got {distance_m}", field="distance_m")
    if blind_days is not None and not 1 <= blind_days <= 90:
        raise InvalidInput(f"blind_days must be 1–90, got {blind_days}", field="blind_days")
    if worker_id is not None:  # one worker's coverage is her track: only for those who may read it
        check_route_reader(session, actor, worker_id)
    scope = resolve_scope(session, actor, community=community, grid=grid)
    s, e = half_open(start, end, settings.timezone)
    base = coverage_base(session, scope)
    grids = read_frame_grids(session, scope)
    ids = grids["id"].tolist()
    visits = session.execute(select(Visit.building_id, Visit.time).where(Visit.time >= s, Visit.time < e)).all()
    visited = {b for b, _ in visits}
    plan = plan_days(session, s, e, settings.timezone, fast=settings.fast_reads, distance_m=distance_m)
    if plan.summary:  # some days from the per worker-day summaries (patrol.analytics.gps_days), in process
        cov, n_fixes = coverage_of(session, base, ids, plan, worker_id=worker_id, include_simulated=include_simulated,
                                   distance_m=distance_m, visited=visited)
    elif runner is None:
        fixes = fixes_frame(session, ids, s, e, worker_id, include_simulated)
        cov, n_fixes = grid_coverage(base, fixes, distance_m=distance_m, visited=visited), len(fixes)
    else:
        cov, n_fixes = runner.coverage(session, base, ids, s, e, worker_id=worker_id,
                                       include_simulated=include_simulated, distance_m=distance_m, visited=visited)
    table = cov.grids.merge(grids[["id", "code"]], on="code", how="left")
    out = {
        "start": s.isoformat(), "end": e.isoformat(), "distance_m": distance_m, "fixes": n_fixes,
        "grids": [_row(r) for r in table.to_dict("records")],
        "streets": feature_collection(cov.streets.to_crs(4326), ["code", "name", "highway", "covered", "length_m"]),
        "buildings": feature_collection(cov.buildings.to_crs(4326), ["building_id", "code", "covered", "visited"]),
        "message": None if n_fixes else "no patrol tracks in this period and area",
    }
    if blind_days is not None:
        since = e - dt.timedelta(days=90)
        old = fixes_frame(session, ids, since, e, worker_id, include_simulated)
        seen = session.execute(select(Visit.building_id, func.max(Visit.time)).where(
            Visit.time >= since, Visit.time < e).group_by(Visit.building_id)).all()
        last = last_covered(base, old, distance_m=distance_m,
                            visited={b: pd.Timestamp(t).tz_localize("UTC") if pd.Timestamp(t).tzinfo is None
                                     else pd.Timestamp(t) for b, t in seen})
        cutoff = pd.Timestamp(e - dt.timedelta(days=blind_days))
        streets = last.streets[~(last.streets["last_covered"] >= cutoff)].to_crs(4326)
        blds = last.buildings[~(last.buildings["last_covered"] >= cutoff)].to_crs(4326)
        out["blind_spots"] = {
            "days": blind_days, "street_m": round(float(streets["length_m"].sum()), 1) if len(streets) else 0.0,
            "buildings": len(blds),
            "streets": feature_collection(streets, ["code", "name", "highway", "length_m", "last_covered"]),
            "building_features": feature_collection(blds, ["building_id", "code", "last_covered"]),
        }
    return out


def _row(r: dict) -> dict:
    out = {}
    for k, v in r.items():
        if hasattr(v, "item"):
            v = v.item()
        if isinstance(v, float) and math.isnan(v):
            v = None
        elif isinstance(v, float):
            v = round(v, 3)
        out[k] = v
    return out


def feature_collection(frame: gpd.GeoDataFrame, columns: list[str]) -> dict:
    """A GeoJSON FeatureCollection of ``frame`` (already in WGS-84) with the given columns that it has as
    properties: timestamps as ISO text, NaN as null, floats to 2 decimals."""
    cols = [c for c in columns if c in frame.columns]
    feats = []
    for geom, *vals in zip(frame.geometry, *(frame[c] for c in cols), strict=True):
        props = {}
        for c, v in zip(cols, vals, strict=True):
            if isinstance(v, pd.Timestamp) or v is pd.NaT:
                v = None if pd.isna(v) else v.isoformat()
            elif hasattr(v, "item"):
                v = v.item()
            if isinstance(v, float):
                v = None if math.isnan(v) else round(v, 2)
            props[c] = v
        feats.append({"type": "Feature", "geometry": shapely.geometry.mapping(geom), "properties": props})
    return {"type": "FeatureCollection", "features": feats}
