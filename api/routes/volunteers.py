"""Volunteer teams, 网格服务专员 and 双报到 members (issue 22, volunteers): the HTTP API and the /desk/people page.

In the caller's scope (:mod:`patrol.people.volunteer_access`): a supervisor her community, a subdistrict user her
街道's communities, a 网格长 her grids' communities (read-only), admins all; phones for the community's desk only; the
households paired with a member only where the residents register allows (audited)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from api.deps import ActorDep, PageActorDep, RawBodyDep, SessionDep, SettingsDep
from api.schemas.volunteers import (
    ActiveIn,
    MonthOut,
    PairingEndIn,
    PairingIn,
    PairingOut,
    RosterImportOut,
    ServiceMemberIn,
    ServiceMemberOut,
    ServiceRecordIn,
    ServiceRecordOut,
    TaskIn,
    TaskOut,
    TeamIn,
    TeamMemberIn,
    TeamMemberOut,
    TeamOut,
)
from maps.desk.people import people_page_html
from patrol.people import roster, services, teams
from patrol.people.force import people_page
from patrol.people.volunteer_access import READ_ROLES

api = APIRouter(prefix="/api/v1/volunteers", tags=["volunteers"])
pages = APIRouter(tags=["volunteers"])

Community = Annotated[int | None, Query(description="a community id (default: every community in your scope)")]
Month = Annotated[str | None, Query(description="YYYY-MM (default: this month in the city)", max_length=7)]


# ---------------------------------------------------------------------------------------------- teams


@api.get("/teams", summary="Volunteer teams in my scope with their members and open tasks",
            response_model=list[TeamOut], response_model_exclude_unset=True)
def list_teams(actor: ActorDep, session: SessionDep, community_id: Community = None,
               kind: Annotated[str | None, Query(max_length=20)] = None) -> list[dict]:
    return teams.list_teams(session, actor, community_id=community_id, kind=kind)


@api.post("/teams", status_code=201, summary="Create a volunteer team (和事佬调解队, 平安志愿者 …)",
             response_model=TeamOut, response_model_exclude_unset=True)
def create_team(body: TeamIn, actor: ActorDep, session: SessionDep) -> dict:
    return teams.create_team(session, actor, community_id=body.community_id, name=body.name, kind=body.kind,
                             note=body.note)


@api.post("/teams/{team_id}/members", status_code=201, summary="Add a member: a user or a person (name, phone)",
             response_model=TeamMemberOut, response_model_exclude_unset=True)
def add_member(team_id: int, body: TeamMemberIn, actor: ActorDep, session: SessionDep) -> dict:
    return teams.add_member(session, actor, team_id, name=body.name, phone=body.phone,
                            role_in_team=body.role_in_team, username=body.username)


@api.patch("/teams/{team_id}/members/{member_id}", summary="A member leaves (active false) or comes back",
              response_model=TeamMemberOut, response_model_exclude_unset=True)
def member_active(team_id: int, member_id: int, body: ActiveIn, actor: ActorDep, session: SessionDep) -> dict:
    return teams.set_member_active(session, actor, team_id, member_id, body.active)


@api.post("/teams/{team_id}/tasks", status_code=201, summary="Give the team a task (optionally for a case)",
             response_model=TaskOut, response_model_exclude_unset=True)
def add_task(team_id: int, body: TaskIn, actor: ActorDep, session: SessionDep) -> dict:
    return teams.add_task(session, actor, team_id, title=body.title, due_on=body.due_on, case=body.case,
                          note=body.note)


@api.post("/tasks/{task_id}/done", summary="Mark a team task done", response_model=TaskOut,
             response_model_exclude_unset=True)
def task_done(task_id: int, actor: ActorDep, session: SessionDep) -> dict:
    return teams.finish_task(session, actor, task_id)


# ---------------------------------------------------------------------------------------------- the roster


@api.get("/members", summary="The 网格服务专员 / 双报到 roster in my scope, with pledges",
            response_model=list[ServiceMemberOut], response_model_exclude_unset=True)
def list_members(actor: ActorDep, session: SessionDep, community_id: Community = None,
                 kind: Annotated[str | None, Query(max_length=20)] = None,
                 active: Annotated[bool | None, Query(description="active members only (default)")] = True
                 ) -> list[dict]:
    return roster.list_members(session, actor, community_id=community_id, kind=kind, active=active)


@api.post("/members", status_code=201, summary="Add a member to the roster",
             response_model=ServiceMemberOut, response_model_exclude_unset=True)
def create_member(body: ServiceMemberIn, actor: ActorDep, session: SessionDep) -> dict:
    return roster.create_member(session, actor, body.model_dump())


@api.post("/members/import", summary="Import a roster CSV (text/csv): all or nothing, 422 listing every problem",
             openapi_extra={"requestBody": {"required": True, "content": {"text/csv": {"schema": {
                 "type": "string"}}}}},
             response_model=RosterImportOut, response_model_exclude_unset=True)
async def import_members(raw: RawBodyDep, actor: ActorDep, session: SessionDep) -> dict:
    summary = roster.import_roster(session, actor, roster.read_roster(raw, "the roster"), source="the roster")
    return {"rows": summary.rows, "created": summary.created, "updated": summary.updated}


@api.patch("/members/{member_id}", summary="A member leaves the roster (active false) or comes back",
              response_model=ServiceMemberOut, response_model_exclude_unset=True)
def member_on_roster(member_id: int, body: ActiveIn, actor: ActorDep, session: SessionDep) -> dict:
    return roster.set_active(session, actor, member_id, body.active)


@api.post("/members/{member_id}/pairings", status_code=201,
             summary="Pair a member with a household of the register (the community's supervisor; audited)",
             response_model=PairingOut, response_model_exclude_unset=True)
def pair(member_id: int, body: PairingIn, request: Request, actor: ActorDep, session: SessionDep,
         settings: SettingsDep) -> dict:
    return services.pair(session, actor, settings, member_id, body.household_id, since=body.since,
                         via=request.url.path)


@api.post("/pairings/{pairing_id}/end", summary="End a pairing", response_model=PairingOut,
             response_model_exclude_unset=True)
def end_pairing(pairing_id: int, body: PairingEndIn, actor: ActorDep, session: SessionDep,
                settings: SettingsDep) -> dict:
    return services.end_pairing(session, actor, settings, pairing_id, until=body.until)


@api.post("/members/{member_id}/services", status_code=201,
             summary="Record a service (201; 200 with the first record when the client_id was seen before)",
             response_model=ServiceRecordOut, response_model_exclude_unset=True)
def record(member_id: int, body: ServiceRecordIn, response: Response, actor: ActorDep, session: SessionDep,
           settings: SettingsDep) -> dict:
    out, created = services.record_service(session, actor, settings, member_id, on=body.on, kind=body.kind,
                                           hours=body.hours, note=body.note, household_id=body.household_id,
                                           client_id=body.client_id)
    if not created:
        response.status_code = 200
    return {**out, "created": created}


@api.get("/month", summary="A community's services this month: per member, who has none, the pairings "
                              "(households only where the register allows; audited)",
            response_model=MonthOut, response_model_exclude_unset=True)
def month(request: Request, actor: ActorDep, session: SessionDep, settings: SettingsDep,
          community_id: Community = None, month: Month = None) -> dict:
    return services.month_view(session, actor, settings, community_id=community_id, month=month,
                               via=request.url.path)


# ---------------------------------------------------------------------------------------------- the page


@pages.get("/desk/people", response_class=HTMLResponse, summary="网格力量: a community's people, teams and services")
def desk_people(request: Request, actor: PageActorDep, session: SessionDep, settings: SettingsDep,
                community_id: Community = None, month: Month = None,
                lang: Annotated[Literal["zh", "en"] | None, Query()] = None) -> Response:
    if actor.role not in READ_ROLES:  # grid workers and 楼栋长 work on their phones; other roles have the dashboard
        phone = actor.role in ("grid_worker", "building_lead")
        target = "/app/" if phone else f"/dashboard?lang={lang or settings.lang}"
        return RedirectResponse(target, status_code=303)
    data = people_page(session, actor, settings, community_id=community_id, month=month, via=request.url.path)
    return HTMLResponse(people_page_html(lang or settings.lang, data, role=actor.role))


#: what api/app.py includes: the API and the page (one include line there)
router = APIRouter()
router.include_router(api)
router.include_router(pages)
