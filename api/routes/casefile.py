"""The case page (/desk/cases/{number}) and its printable 派遣单, and the two reads the page makes: the case file
(``GET /api/v1/desk/cases/{number}``) and a road route from a unit for drawing (``…/route?unit=``). Actions go
through the case API (``POST /api/v1/cases/{id}/actions/{action}``, tasks, photos): one implementation."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse
from sqlalchemy import func, select

from api.basemap import page_tiles
from api.deps import ActorDep, PageActorDep, SessionDep, SettingsDep
from api.schemas.desk_case import CaseFileOut, RouteOut
from maps.desk import casefile as page
from patrol.cases import routing
from patrol.cases import service as svc
from patrol.cases.casefile import case_file, find_case
from patrol.cases.lifecycle import ACTIONS
from patrol.core.errors import Forbidden, InvalidInput, NotFound
from patrol.core.models import Case, City, ResponsibleUnit, User

router = APIRouter(tags=["desk"])
Lang = Annotated[Literal["zh", "en"] | None, Query(description="zh (default) or en")]
ACTIONS_ZH = {name: a.label_zh for name, a in ACTIONS.items()}


@router.get("/api/v1/desk/cases/{number}", summary="The case page's read model: a case by its number with names, "
                                                   "clock, timeline, gallery, tasks, neighbours and allowed actions",
            response_model=CaseFileOut, response_model_exclude_unset=True)
def desk_case(number: str, actor: ActorDep, session: SessionDep, settings: SettingsDep) -> dict:
    # like GET /api/v1/cases/{id}: an overdue case is escalated before it is read, so the actions offered are those
    # the service will accept (it escalates before it acts)
    svc.escalate_if_overdue(session, find_case(session, actor, number), settings)
    return case_file(session, actor, settings, number)


@router.get("/api/v1/desk/cases/{number}/route", summary="The road route from a unit to the case (GeoJSON "
                                                         "LineString, WGS-84) for drawing a dispatch choice",
            response_model=RouteOut, response_model_exclude_unset=True)
def desk_case_route(number: str, actor: ActorDep, session: SessionDep,
                    unit: Annotated[int, Query(description="the unit's key, as the case file lists it")]) -> dict:
    case = find_case(session, actor, number)
    if session.get(ResponsibleUnit, unit) is None:
        raise InvalidInput(f"no responsible unit {unit}", field="unit")
    x, y = session.execute(select(func.ST_X(Case.geom), func.ST_Y(Case.geom)).where(Case.id == case.id)).one()
    route = routing.route_from_unit(session, unit, float(x), float(y))
    if route is None:
        raise InvalidInput(f"no responsible unit {unit}", field="unit")
    return route


@router.get("/desk/cases/{number}", response_class=HTMLResponse, summary="The case page (案件详情)")
def desk_case_page(number: str, actor: PageActorDep, session: SessionDep, settings: SettingsDep,
                   lang: Lang = None) -> HTMLResponse:
    lang_ = lang or settings.lang
    try:
        find_case(session, actor, number)
    except (NotFound, Forbidden) as e:
        return HTMLResponse(page.missing_page(lang_, number, forbidden=isinstance(e, Forbidden)),
                            status_code=403 if isinstance(e, Forbidden) else 404)
    return HTMLResponse(page.case_page(lang_, number, ACTIONS_ZH,
                                       tiles=page_tiles(session, settings),
                                       datum=settings.tiles_datum, timezone=settings.timezone,
                                       role=actor.role, user=_display_name(session, actor.user_id) or actor.label))


def _display_name(session: SessionDep, user_id: int | None) -> str | None:
    return None if user_id is None else session.scalar(select(User.display_name).where(User.id == user_id))


@router.get("/desk/cases/{number}/print", response_class=HTMLResponse, summary="The printable 派遣单 (A4)")
def desk_case_print(number: str, actor: PageActorDep, session: SessionDep, settings: SettingsDep,
                    lang: Lang = None) -> HTMLResponse:
    lang_ = lang or settings.lang
    try:
        data = case_file(session, actor, settings, number, with_actions=False)
    except (NotFound, Forbidden) as e:
        return HTMLResponse(page.missing_page(lang_, number, forbidden=isinstance(e, Forbidden)),
                            status_code=403 if isinstance(e, Forbidden) else 404)
    city = session.scalar(select(City.name).limit(1))
    return HTMLResponse(page.print_page(lang_, data, ACTIONS_ZH, city=city, timezone=settings.timezone))
