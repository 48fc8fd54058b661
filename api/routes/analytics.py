"""Analytics endpoints: KPIs of the closed loop (and, as they land, coverage and hotspots)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from api.deps import ActorDep, SessionDep, SettingsDep
from patrol import analytics as svc
from patrol.errors import InvalidInput

router = APIRouter(prefix="/api/v1/analytics", tags=["analytics"])

Period = Annotated[dt.date | None, Query(description="first day (local), default: the first of this month")]
PeriodEnd = Annotated[dt.date | None, Query(description="day after the last (local), default: tomorrow")]


def _days(settings, start: dt.date | None, end: dt.date | None) -> tuple[dt.date, dt.date]:
    from zoneinfo import ZoneInfo

    today = dt.datetime.now(ZoneInfo(settings.timezone)).date()
    start = start or today.replace(day=1)
    end = end or today + dt.timedelta(days=1)
    if end <= start:
        raise InvalidInput(f"end ({end}) must be after start ({start})", field="end")
    return start, end


def _csv(rows: list[dict], name: str) -> Response:
    buf = io.StringIO()
    if rows:
        w = csv.DictWriter(buf, fieldnames=list(rows[0]))
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if v is None else ";".join(map(str, v)) if isinstance(v, list | tuple) else
                            v if not isinstance(v, dict) else "; ".join(f"{a}={b}" for a, b in v.items()))
                        for k, v in r.items()})
    return Response("\ufeff" + buf.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


@router.get("/kpis", summary="KPIs of the closed loop per grid / community / unit / category (办结率, 按期结案率 …)")
def kpis(actor: ActorDep, session: SessionDep, settings: SettingsDep,
         by: Literal["grid", "community", "unit", "category", "overall"] = "grid",
         start: Period = None, end: PeriodEnd = None, community: str | None = None, grid: str | None = None,
         unit_id: int | None = None, category: str | None = None, include_simulated: bool = True,
         format: Literal["json", "csv"] = "json"):
    s, e = _days(settings, start, end)
    rows = svc.kpi_table(session, actor, settings, by=None if by == "overall" else by, start=s, end=e,
                         community=community, grid=grid, unit_id=unit_id, category=category,
                         include_simulated=include_simulated)
    if format == "csv":
        return _csv(rows, f"kpis_{by}_{s}_{e}")
    return {"by": by, "start": s.isoformat(), "end": e.isoformat(), "timezone": settings.timezone, "rows": rows}


@router.get("/kpis/trend", summary="The same KPIs over the last weeks or months, for a sparkline")
def kpi_trend(actor: ActorDep, session: SessionDep, settings: SettingsDep,
              period: Literal["week", "month"] = "month", n: Annotated[int, Query(ge=1, le=60)] = 6,
              community: str | None = None, grid: str | None = None, unit_id: int | None = None,
              category: str | None = None, include_simulated: bool = True):
    rows = svc.kpi_trend(session, actor, settings, period=period, n=n, community=community, grid=grid,
                         unit_id=unit_id, category=category, include_simulated=include_simulated)
    return {"period": period, "rows": rows}
