"""FastAPI dependencies: settings, the database session (one transaction per request)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session

from patrol.auth import Actor, actor_from_token
from patrol.errors import Unauthorized
from patrol.settings import Settings


def get_session(request: Request) -> Iterator[Session]:
    factory = request.app.state.session_factory
    with factory() as session, session.begin():
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
