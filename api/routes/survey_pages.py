"""The supervisor's field-survey report page (/surveys) and its CSV: inspections done vs planned per grid and
checklist, failed items by type, households overdue for a visit — one month, in the reader's scope.

The page is built from the very services behind ``/api/v1/surveys/report/{inspections,findings,visits}``
(:func:`patrol.surveys.inspections.inspection_report`, :func:`patrol.surveys.inspections.findings_report`,
:func:`patrol.surveys.residents.visits_report`), so it shows exactly what the API returns and obeys the same scopes:
admins and planners every grid, a supervisor her community, a grid worker her grids, a department 403. Opened in a
browser it authenticates with the login cookie like /dashboard; without one it sends the user to /login and back.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from api.csv_safe import csv_response
from api.deps import PageActorDep, SessionDep, SettingsDep
from maps import surveys as page
from patrol.analytics.map_frames import category_labels
from patrol.cases.worktime import month_bounds
from patrol.core.models import Grid
from patrol.surveys import checklists as cl
from patrol.surveys import inspections as ins
from patrol.surveys import residents as res

router = APIRouter(tags=["surveys"])


@router.get("/surveys", response_class=HTMLResponse,
            summary="Field-survey reports for supervisors: inspections vs plan, failed items, overdue visits "
                    "(?format=csv: the inspections table)")
def surveys_page(actor: PageActorDep, session: SessionDep, settings: SettingsDep,
                 lang: Annotated[Literal["zh", "en"] | None, Query(description="zh (default) or en")] = None,
                 month: Annotated[str | None, Query(description="YYYY-MM (default: this month, city time)")] = None,
                 format: Annotated[Literal["html", "csv"], Query(description="csv: table 1, one row per grid and "
                                                                             "checklist")] = "html",
                 headers: Annotated[Literal["zh", "en", "keys"] | None, Query(
                     description="CSV column names: zh, en or keys (default: the page's language)")] = None
                 ) -> Response:
    language: str = lang or settings.lang  # the query's Literal, or the configured default
    label, _, _ = month_bounds(month, settings.timezone)  # 422 for a malformed month, before any work
    today = res.local_today(settings)
    # this month's plan is pro-rated to the days elapsed (按已过天数折算); a past month's is whole
    inspections = ins.prorate(ins.inspection_report(session, actor, label, timezone=settings.timezone), today)
    names = dict(session.execute(select(Grid.id, Grid.name).where(
        Grid.id.in_({r["grid_id"] for r in inspections["rows"]} or {-1}))).all())
    if format == "csv":
        return csv_response(page.inspections_csv(inspections, lang=language, grid_names=names),
                            f"inspections_{label}.csv", header_mode=headers or language)
    findings = ins.findings_report(session, actor, label, timezone=settings.timezone)
    current = f"{today:%Y-%m}"
    # the visits report refuses a month that has not begun; the page says so instead of failing as a whole
    visits = res.visits_report(session, actor, month=label, settings=settings, today=today) \
        if label <= current else None
    if visits is not None:
        names |= dict(session.execute(select(Grid.id, Grid.name).where(
            Grid.id.in_({r["grid_id"] for r in visits["rows"]} - set(names) or {-1}))).all())
    return HTMLResponse(page.surveys_page(
        inspections=inspections, findings=findings, visits=visits, current_month=current, lang=language,
        checklists_loaded=bool(cl.latest_checklists(session)), grid_names=names,
        category_labels=category_labels(session, language)))
