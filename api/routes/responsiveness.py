"""接诉即办 KPIs over HTTP: 响应率, 解决率, 满意率 (both definitions) and the composite score of the residents' orders
per subdistrict / community / grid / unit / channel (:mod:`patrol.analytics.responsiveness`)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request

from api.csv_safe import HeaderMode
from api.deps import ActorDep, Period, PeriodEnd, ReadSessionDep, SettingsDep, local_days
from api.error_texts import request_lang
from api.routes.analytics import rows_csv
from api.schemas.analytics import ResponsivenessOut
from patrol.analytics import responsiveness as R
from patrol.analytics import service as svc

router = APIRouter(prefix="/api/v1/kpis", tags=["analytics"])


@router.get("/responsiveness", summary="接诉即办: 响应率, 解决率, 满意工单率 / 评价满意率 and the composite "
                                       "score of the residents' orders (H5, 12345, Open311) received in the period",
            response_model=ResponsivenessOut, response_model_exclude_unset=True)
def responsiveness(request: Request, actor: ActorDep, session: ReadSessionDep, settings: SettingsDep,
                   by: Literal["subdistrict", "community", "grid", "unit", "channel", "overall"] = "community",
                   start: Period = None, end: PeriodEnd = None,
                   channel: Annotated[str | None, Query(description="resident channels to count, comma-separated "
                                                                    "(resident, 12345, open311); default all three")]
                   = None,
                   community: str | None = None, grid: str | None = None, unit_id: int | None = None,
                   subdistrict: Annotated[str | None, Query(description="subdistrict (街道) code or name")] = None,
                   include_simulated: bool = True, format: Literal["json", "csv"] = "json",
                   headers: HeaderMode = "zh"):
    s, e = local_days(settings, start, end)
    scope = svc.resolve_scope(session, actor, community=community, grid=grid, unit_id=unit_id,
                              subdistrict=subdistrict)
    df = R.responsiveness(session, by=None if by == "overall" else by, start=s, end=e,
                          community_id=scope.community_id, grid_id=scope.grid_id, unit_id=scope.unit_id,
                          community_ids=scope.community_ids, channels=channel, include_simulated=include_simulated,
                          settings=settings, lang=request_lang(request))
    rows = R.responsiveness_records(df)
    if format == "csv":
        return rows_csv(rows, f"responsiveness_{by}_{s}_{e}", headers)
    return {"by": by, "start": s.isoformat(), "end": e.isoformat(), "timezone": settings.timezone,
            "response_hours": settings.response_hours, "weights": settings.responsiveness_weights,
            "satisfaction": settings.responsiveness_satisfaction,
            "rates": {k: {"zh": zh, "en": en} for k, (zh, en) in R.RATES.items()}, "rows": rows}
