"""考核 scorecards and 月报 (issue 22, assessment): the HTTP API and the desk pages.

- ``GET /api/v1/scorecards?month=YYYY-MM&by=worker|grid|community|grid_lead&community=…&subdistrict=…`` (JSON or
  ``format=csv``), ``GET /api/v1/scorecards/workers/{username}`` (one worker's card),
  ``GET /api/v1/scorecards/rules`` (the 考核细则 in force);
- ``GET /api/v1/reports/monthly.xlsx?community=…|subdistrict=…&month=…`` (the 月报 workbook);
- ``GET /desk/scorecards`` (考核) and ``GET /desk/reports/monthly`` (the printable 月报).
Who sees what: :mod:`patrol.analytics.scorecard`."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.csv_safe import HeaderMode, csv_response
from api.deps import ActorDep, PageActorDep, ReadSessionDep, SettingsDep
from api.error_texts import localise, request_lang
from api.schemas.assessment import RulesOut, ScorecardsOut
from maps.desk import scorecards as pages
from patrol.analytics import monthly_report as MR
from patrol.analytics import scorecard as SC
from patrol.analytics.scorecard_export import card_csv
from patrol.core.errors import InvalidInput

router = APIRouter(tags=["assessment"])
By = Literal["worker", "grid", "community", "grid_lead"]
Month = Annotated[str | None, Query(description="the month, YYYY-MM (default: this month, so far)",
                                    max_length=7)]
CommunityQ = Annotated[str | None, Query(description="community code or name", max_length=200)]
SubdistrictQ = Annotated[str | None, Query(description="subdistrict (街道) code or name", max_length=200)]


@router.get("/api/v1/scorecards", summary="考核: the month's scorecards ranked by worker / grid / community / "
                                          "grid lead, with each item's figure and points, 优秀 marks and the trend "
                                          "(or CSV with format=csv)",
            response_model=ScorecardsOut, response_model_exclude_unset=True)
def scorecards(actor: ActorDep, session: ReadSessionDep, settings: SettingsDep, month: Month = None, by: By = "worker",
               community: CommunityQ = None, subdistrict: SubdistrictQ = None, trend: bool = True,
               format: Literal["json", "csv"] = "json", headers: HeaderMode = "zh"):
    out = SC.scorecards(session, actor, settings, month=month, by=by, community=community, subdistrict=subdistrict,
                        trend=trend and format == "json")
    if format == "csv":
        return csv_response(card_csv(out, headers), f"scorecards_{by}_{out['month']}.csv")
    return out


@router.get("/api/v1/scorecards/rules", summary="The 考核细则 in force (items, weights, scoring, grades)",
            response_model=RulesOut, response_model_exclude_unset=True)
def rules(actor: ActorDep, session: ReadSessionDep, settings: SettingsDep):
    SC.visible_grids(session, actor)  # the same readers as the scorecards
    return SC.rules_for(settings).to_dict()


@router.get("/api/v1/scorecards/workers/{username}", summary="One grid worker's card for the month, ranked among "
                                                             "her community's workers, with the trend",
            response_model=ScorecardsOut, response_model_exclude_unset=True)
def worker_card(username: str, actor: ActorDep, session: ReadSessionDep, settings: SettingsDep, month: Month = None):
    return SC.worker_card(session, actor, settings, username, month=month)


@router.get("/api/v1/reports/monthly.xlsx", summary="月报: the month's workbook of a community or a subdistrict "
                                                    "(指标, 排名, 超期, 调解/民情, charts)",
            response_class=Response)
def monthly_xlsx(actor: ActorDep, session: ReadSessionDep, settings: SettingsDep, month: Month = None,
                 community: CommunityQ = None, subdistrict: SubdistrictQ = None):
    report = MR.monthly_report(session, actor, settings, month=month, community=community, subdistrict=subdistrict)
    data = MR.workbook_bytes(report)
    name = f"monthly_{report['scope']['code']}_{report['month']}.xlsx"
    return Response(data, media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/desk/scorecards", response_class=HTMLResponse, include_in_schema=False)
def scorecards_page(request: Request, actor: PageActorDep, session: ReadSessionDep, settings: SettingsDep,
                    month: Month = None, by: By = "worker", community: CommunityQ = None,
                    subdistrict: SubdistrictQ = None,
                    worker: Annotated[str | None, Query(max_length=80)] = None) -> Response:
    lang = request_lang(request)
    if actor.role not in SC.READERS:
        return RedirectResponse(f"/dashboard?lang={lang}", status_code=303)
    error = None
    try:
        out = SC.scorecards(session, actor, settings, month=month, by=by, community=community,
                            subdistrict=subdistrict)
    except InvalidInput as exc:
        if exc.field != "month":
            raise
        error = localise(exc.code, exc.message, exc.field, lang)
        out = SC.scorecards(session, actor, settings, by=by, community=community, subdistrict=subdistrict)
    card = SC.worker_card(session, actor, settings, worker, month=out["month"]) if worker else None
    return HTMLResponse(pages.render_scorecards(out, card=card, lang=lang, actor_label=actor.label,
                                                community=community, subdistrict=subdistrict, error=error,
                                                monthly=actor.role in MR.READERS))


@router.get("/desk/reports/monthly", response_class=HTMLResponse, include_in_schema=False)
def monthly_page(request: Request, actor: PageActorDep, session: ReadSessionDep, settings: SettingsDep,
                 month: Month = None, community: CommunityQ = None, subdistrict: SubdistrictQ = None) -> Response:
    lang = request_lang(request)
    if actor.role not in MR.READERS:
        return RedirectResponse(f"/desk/scorecards?lang={lang}", status_code=303)
    report = MR.monthly_report(session, actor, settings, month=month, community=community, subdistrict=subdistrict,
                               with_map=True)
    return HTMLResponse(pages.render_monthly(report, lang=lang, actor_label=actor.label))
