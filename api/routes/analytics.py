"""Analytics endpoints: KPIs of the closed loop (and, as they land, coverage and hotspots)."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from api.csv_safe import HeaderMode, csv_response
from api.deps import ActorDep, Period, PeriodEnd, ReadSessionDep, SettingsDep, local_days
from api.error_texts import request_lang
from api.schemas.analytics import CoverageOut, KpisOut, KpiTrendOut
from api.schemas.base import FeatureCollection, Out
from patrol.analytics import cell_counts, history
from patrol.analytics import service as svc
from patrol.core.settings import Settings

router = APIRouter(prefix="/api/v1/analytics", tags=["analytics"])
Channel = Annotated[str | None, Query(description="channels, comma-separated (patrol, self_handled, resident, 12345, "
                                                  "open311, inspection, staff, history)")]

def rows_csv(rows: list[dict], name: str, header_mode: str) -> Response:
    buf = io.StringIO()
    if rows:
        w = csv.DictWriter(buf, fieldnames=list(rows[0]))
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if v is None else ";".join(map(str, v)) if isinstance(v, list | tuple) else
                            v if not isinstance(v, dict) else "; ".join(f"{a}={b}" for a, b in v.items()))
                        for k, v in r.items()})
    return csv_response("\ufeff" + buf.getvalue(), f"{name}.csv", header_mode=header_mode)


@router.get("/kpis", summary="KPIs of the closed loop per grid / community / subdistrict / unit / category / "
                             "channel / grid worker (办结率, 按期结案率, 督办 …)",
            response_model=KpisOut, response_model_exclude_unset=True)
def kpis(request: Request, actor: ActorDep, session: ReadSessionDep, settings: SettingsDep,
         by: Literal["grid", "community", "subdistrict", "unit", "category", "channel", "worker",
                     "overall"] = "grid",
         start: Period = None, end: PeriodEnd = None, community: str | None = None, grid: str | None = None,
         unit_id: int | None = None, category: str | None = None, include_simulated: bool = True,
         format: Literal["json", "csv"] = "json", headers: HeaderMode = "zh",
         subdistrict: Annotated[str | None, Query(description="subdistrict (街道) code or name")] = None,
         channel: Channel = None):
    s, e = local_days(settings, start, end)
    rows = svc.kpi_table(session, actor, settings, by=None if by == "overall" else by, start=s, end=e,
                         community=community, grid=grid, unit_id=unit_id, category=category,
                         include_simulated=include_simulated, subdistrict=subdistrict, channel=channel,
                         lang=request_lang(request))
    if format == "csv":
        return rows_csv(rows, f"kpis_{by}_{s}_{e}", headers)
    return {"by": by, "start": s.isoformat(), "end": e.isoformat(), "timezone": settings.timezone, "rows": rows}


@router.get("/kpis/trend", summary="The same KPIs over the last weeks or months, for a sparkline",
            response_model=KpiTrendOut, response_model_exclude_unset=True)
def kpi_trend(actor: ActorDep, session: ReadSessionDep, settings: SettingsDep,
              period: Literal["week", "month"] = "month",
              n: Annotated[int, Query(ge=1, le=24, description="how many periods (at most 24)")] = 6,
              community: str | None = None, grid: str | None = None, unit_id: int | None = None,
              category: str | None = None, include_simulated: bool = True,
              subdistrict: Annotated[str | None, Query(description="subdistrict (街道) code or name")] = None,
              channel: Channel = None):
    rows = svc.kpi_trend(session, actor, settings, period=period, n=n, community=community, grid=grid,
                         unit_id=unit_id, category=category, include_simulated=include_simulated,
                         subdistrict=subdistrict, channel=channel)
    return {"period": period, "rows": rows}


Cells = Literal["h3", "fishnet", "grid"]
Measure = Literal["cases", "overdue", "reworked", "reopened"]


@router.get("/hotspots", summary="Gi* hot and cold spots of cases (or of overdue / reworked / reopened ones), "
                                 "FDR-corrected bins −3…+3, as GeoJSON cells",
            response_model=FeatureCollection, response_model_exclude_unset=True)
def hotspots(actor: ActorDep, session: ReadSessionDep, settings: SettingsDep, start: Period = None,
             end: PeriodEnd = None, cells: Cells = "h3",
             resolution: Annotated[int, Query(description="H3 resolution (9 ≈ 0.1 km² cells)")] = 9,
             size_m: Annotated[float, Query(description="fishnet cell side, metres")] = 250,
             category: str | None = None, measure: Measure = "cases",
             weight: Literal["count", "severity"] = "count",
             permutations: Annotated[int, Query(ge=0, le=9999)] = 0,
             community: str | None = None, grid: str | None = None, include_simulated: bool = True,
             channel: Channel = None) -> Response:
    s, e = local_days(settings, start, end)
    out = svc.hotspots(session, actor, settings, start=s, end=e, cells=cells, resolution=resolution, size_m=size_m,
                       category=category, measure=measure, weight=weight, permutations=permutations,
                       community=community, grid=grid, include_simulated=include_simulated, channel=channel,
                       runner=_runner(settings, session, cells, resolution, (e - s).days))
    return JSONResponse(out, media_type="application/geo+json")


def _runner(settings: Settings, session: Session, cells: str, resolution: int, days: float):
    """Dask for a long period (history.runner_for), unless the cases are counted in SQL on their stored cells
    (H3 resolution 9 with fast_reads: faster than any cluster)."""
    if cell_counts.fast(settings.fast_reads, cells, resolution):
        return None
    return history.runner_for(settings, session, days)


#: days of one step of emerging hot spots, for the choice of Dask (history.runner_for)
STEP_DAYS = {"day": 1, "week": 7, "month": 30.44}


@router.get("/emerging", summary="Emerging hot spots (Gi* per step + Mann–Kendall): one ArcGIS pattern per cell",
            response_model=FeatureCollection, response_model_exclude_unset=True)
def emerging(actor: ActorDep, session: ReadSessionDep, settings: SettingsDep,
             step: Literal["day", "week", "month"] = "week", steps: Annotated[int, Query(ge=2, le=60)] = 8,
             cells: Cells = "h3", resolution: int = 9, size_m: float = 250, category: str | None = None,
             measure: Measure = "cases", community: str | None = None, grid: str | None = None,
             include_simulated: bool = True, channel: Channel = None) -> Response:
    out = svc.emerging(session, actor, settings, step=step, steps=steps, cells=cells, resolution=resolution,
                       size_m=size_m, category=category, measure=measure, community=community, grid=grid,
                       include_simulated=include_simulated, channel=channel,
                       runner=_runner(settings, session, cells, resolution, steps * STEP_DAYS[step]))
    return JSONResponse(out, media_type="application/geo+json")


@router.get("/coverage", summary="Patrol coverage per grid (不留死角): streets and buildings within D m of the tracks",
            response_model=CoverageOut, response_model_exclude_unset=True)
def coverage(actor: ActorDep, session: ReadSessionDep, settings: SettingsDep, start: Period = None,
             end: PeriodEnd = None, community: str | None = None, grid: str | None = None,
             worker_id: int | None = None,
             distance_m: Annotated[float, Query(description="covered within this many metres of a track")] = 25.0,
             blind_days: Annotated[int | None, Query(description="also list what was not covered for this many "
                                                                 "days before end")] = None,
             include_simulated: bool = True) -> Response:
    s, e = local_days(settings, start, end)
    return plain_json(svc.coverage(session, actor, settings, start=s, end=e, community=community, grid=grid,
                                   worker_id=worker_id, distance_m=distance_m, blind_days=blind_days,
                                   include_simulated=include_simulated,
                                   runner=history.runner_for(settings, session, (e - s).days)), CoverageOut)


def plain_json(content: dict, model: type[Out]) -> Response:
    """``content`` as the JSON the response model gives for it, without running it through the model when plain
    ``json`` can write it: a community-month's coverage holds thousands of GeoJSON features (~100k coordinates),
    whose validation and re-encoding took twice as long as measuring the coverage. The same bytes (tuples become
    lists either way); anything ``json`` cannot write (a datetime, a NaN) takes the model's way."""
    try:
        return JSONResponse(content)
    except (TypeError, ValueError):
        return JSONResponse(model.model_validate(content).model_dump(mode="json", exclude_unset=True))
