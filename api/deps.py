"""FastAPI dependencies: settings, the database session (one transaction per request)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session

from patrol.core.auth import Actor, actor_from_token
from patrol.core.errors import Unauthorized
from patrol.core.settings import Settings

# GETs that write as they read: personal-data reads are audited, reading a case escalates it when overdue
WRITING_READS = ("/api/v1/field/", "/api/v1/households", "/api/v1/residents", "/api/v1/needs", "/api/v1/cases/")


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request. Requests that may write take SQLite's write lock when they begin (queueing
    behind other writers) rather than failing when they first write; PostgreSQL ignores the option."""
    factory = request.app.state.session_factory
    with factory() as session, session.begin():
        if request.method not in ("GET", "HEAD") or request.url.path.startswith(WRITING_READS):
            session.connection(execution_options={"sqlite_immediate": True})
        yield session


def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings


# scope="function": the transaction commits before the response is sent, so a client never sees a 2xx for a write
# that did not land (the default scope would commit after sending).
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]


_bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


COOKIE = "gridpatrol_token"


def get_actor(request: Request, session: SessionDep,
              settings: Annotated[Settings, Depends(get_app_settings)],
              token: Annotated[str | None, Depends(_bearer)]) -> Actor:
    """The logged-in user and her scope; 401 without a valid token. The token comes from ``Authorization: Bearer``,
    or — for GET pages opened in a browser (maps, dashboard) — from the ``gridpatrol_token`` cookie set by /login
    (never for writes, so a cookie cannot be used to forge a change)."""
    if not token and request.method in ("GET", "HEAD"):
        token = request.cookies.get(COOKIE)
    if not token:
        raise Unauthorized("log in first: POST /api/v1/auth/token, then send 'Authorization: Bearer <token>'",
                           field="authorization")
    return actor_from_token(session, token, settings)


ActorDep = Annotated[Actor, Depends(get_actor)]
