"""FastAPI dependencies: settings, the database session (one transaction per request), the caller (API token or,
for pages, the login cookie), and the reporting period shared by the analytics API and the map pages."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Query, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from maps.login import local_path
from patrol.cases.worktime import local_today
from patrol.core.auth import Actor, actor_from_token
from patrol.core.errors import InvalidInput, Unauthorized
from patrol.core.replica import POSITION_COOKIE, ReadReplica, insert_position, valid_lsn, wrote
from patrol.core.settings import Settings

# GETs that write as they read: personal-data reads are audited, reading a case escalates it when overdue
WRITING_READS = ("/api/v1/field/", "/api/v1/households", "/api/v1/residents", "/api/v1/needs", "/api/v1/cases/",
                 "/api/v1/desk/cases/", "/api/v1/volunteers/month", "/desk/people")


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request, begun at the request's first statement — not before: a slow client still
    sending its body, or a caller not yet authenticated, holds no connection and no lock (handlers that read the
    body themselves take :data:`RawBodyDep` / :data:`FormDep` before anything that queries). Requests that may write
    begin IMMEDIATE, taking SQLite's write lock at that first statement (queueing behind other writers) rather than
    failing when they first write; PostgreSQL ignores the option."""
    factory = request.app.state.session_factory
    writing = request.method not in ("GET", "HEAD") or request.url.path.startswith(WRITING_READS)
    replica: ReadReplica | None = getattr(request.app.state, "replica", None)
    with factory(bind=request.app.state.writing_engine) if writing else factory() as session:
        with session.begin():
            yield session
            remember = writing and replica is not None and wrote(session)
        if remember:  # read-your-writes: the position this write's commit reached (api.middleware.ReadYourWrites)
            request.state.write_position = insert_position(session)


def get_read_session(request: Request, primary: Annotated[Session, Depends(get_session, scope="function")]
                     ) -> Iterator[Session]:
    """The session of read-only work (dashboards, KPIs, maps, analytics, exports, tiles, OGC / Open311 reads): on
    the read replica when one is configured (``read_database_url``), has replayed the caller's own last write (the
    WAL position in her :data:`POSITION_COOKIE`) and answers; else the request's primary session — the same
    session as :data:`SessionDep`'s, so without a replica nothing changes. ``request.state.read_source`` says which
    (``replica``, ``primary-behind``, ``primary-down``; the ``X-Read-Source`` header)."""
    replica: ReadReplica | None = getattr(request.app.state, "replica", None)
    if replica is None:
        yield primary
        return
    position = valid_lsn(request.cookies.get(POSITION_COOKIE))
    session, source = replica.session(request.app.state.session_factory, position)
    request.state.read_source = source
    if session is None:
        yield primary
        return
    with session:
        yield session


async def read_raw_body(request: Request) -> bytes:
    """The request body, read before any dependency that opens the transaction (declare it first)."""
    return await request.body()


async def read_form(request: Request) -> FormData:
    """The form body (urlencoded or multipart), read before any dependency that opens the transaction."""
    return await request.form()


RawBodyDep = Annotated[bytes, Depends(read_raw_body)]
FormDep = Annotated[FormData, Depends(read_form)]


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


# scope="function": the transaction commits before the response is sent, so a client never sees a 2xx for a write
# that did not land (the default scope would commit after sending).
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
#: read-only work: the replica's session, or the primary's (see :func:`get_read_session`)
ReadSessionDep = Annotated[Session, Depends(get_read_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]


_bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)
#: the bearer token of the request, if any (a route that decides itself what to do without one)
BearerDep = Annotated[str | None, Depends(_bearer)]


COOKIE = "gridpatrol_token"


def get_actor(request: Request, session: SessionDep,
              settings: Annotated[Settings, Depends(get_app_settings)],
              token: Annotated[str | None, Depends(_bearer)]) -> Actor:
    """The logged-in user and her scope; 401 without a valid token. The token comes from ``Authorization: Bearer``,
    or — for GET pages opened in a browser (maps, dashboard) — from the ``gridpatrol_token`` cookie set by
    ``POST /login`` (HttpOnly; never for writes, so a cookie cannot be used to forge a change)."""
    if not token and request.method in ("GET", "HEAD"):
        token = request.cookies.get(COOKIE)
    if not token:
        raise Unauthorized("log in first: POST /api/v1/auth/token, then send 'Authorization: Bearer <token>'",
                           field="authorization")
    return actor_from_token(session, token, settings)


ActorDep = Annotated[Actor, Depends(get_actor)]


def get_optional_actor(request: Request, session: SessionDep, settings: SettingsDep,
                       token: Annotated[str | None, Depends(_bearer)]) -> Actor | None:
    """The logged-in user on a public route, or None for an anonymous caller (or one whose token is not valid: a
    public route answers them as it answers everyone)."""
    try:
        return get_actor(request, session, settings, token)
    except Unauthorized:
        return None


OptionalActorDep = Annotated[Actor | None, Depends(get_optional_actor)]


class LoginRequired(Exception):
    """A page was opened without a valid login cookie: :func:`api.errors.install_error_handlers` answers every such
    page with one redirect to /login and back to ``target`` (the path and query that was asked for)."""

    def __init__(self, target: str) -> None:
        super().__init__(target)
        self.target = target


def get_page_actor(request: Request, session: SessionDep, settings: SettingsDep, token: BearerDep) -> Actor:
    """The caller of an HTML page (maps, dashboard, planner, /surveys): like :func:`get_actor` (cookie or bearer
    token), but without a valid login it raises :class:`LoginRequired`, which redirects to /login instead of a 401."""
    try:
        return get_actor(request, session, settings, token)
    except Unauthorized:
        raise LoginRequired(request.url.path + (f"?{request.url.query}" if request.url.query else "")) from None


PageActorDep = Annotated[Actor, Depends(get_page_actor)]


Period = Annotated[dt.date | None, Query(description="first day (local), default: the first of this month")]
PeriodEnd = Annotated[dt.date | None, Query(description="day after the last (local), default: tomorrow")]


def local_days(settings: Settings, start: dt.date | None, end: dt.date | None) -> tuple[dt.date, dt.date]:
    """The reporting period [start, end) in local calendar days: by default from the first of this month to
    tomorrow (today in the city's timezone included); 422 on ``end`` when it is not after ``start``."""
    today = local_today(settings.timezone)
    start = start or today.replace(day=1)
    end = end or today + dt.timedelta(days=1)
    if end <= start:
        raise InvalidInput(f"end ({end}) must be after start ({start})", field="end")
    return start, end


def login_redirect(target: str) -> str:
    """The /login URL that sends the user back to ``target`` after logging in (a path of this site only)."""
    return f"/login?next={quote(local_path(target))}"
