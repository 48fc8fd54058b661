"""Logging in over HTTP: the OAuth2 password flow, refreshing a token, logging out, who the caller is, and the page
login that sets the login cookie.

The login routes take no request-wide transaction (:data:`api.deps.SessionDep` would take SQLite's write lock before
the argon2 hash is verified): :func:`patrol.core.logins.log_in` reads, verifies and then writes in short transactions
of its own, and the refresh route revokes a reused token's session in a transaction that is committed even though
the answer is a 401. See :mod:`patrol.core.sessions` for how sessions work.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field

from api.deps import COOKIE, ActorDep, BearerDep, SessionDep, SettingsDep, get_actor
from api.schemas.cases import MeOut
from patrol.core.errors import Unauthorized
from patrol.core.logins import log_in
from patrol.core.models import User
from patrol.core.sessions import Issued, RefreshReused, find_refresh, revoke_family, revoke_user, rotate
from patrol.core.settings import Settings

router = APIRouter(prefix="/api/v1", tags=["auth"])
#: the page login (outside /api/v1: it answers the browser with the login cookie)
pages = APIRouter(tags=["auth"])


class TokenOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int
    role: str
    user_id: int


def _out(issued: Issued) -> TokenOut:
    return TokenOut(access_token=issued.access_token, refresh_token=issued.refresh_token,
                    expires_in=issued.expires_in, role=issued.role, user_id=issued.user_id)


def _log_in(request: Request, settings: Settings, form: OAuth2PasswordRequestForm) -> Issued:
    return log_in(request.app.state.session_factory, form.username, form.password, settings,
                  address=request.client.host if request.client else None,
                  client=request.headers.get("user-agent"))


LoginForm = Annotated[OAuth2PasswordRequestForm, Depends()]


@router.post("/auth/token", summary="Log in (OAuth2 password flow)",
             responses={429: {"description": "too many failed logins of this user name or from this address; "
                                             "Retry-After says when to try again"}})
def login(request: Request, settings: SettingsDep, form: LoginForm) -> TokenOut:
    return _out(_log_in(request, settings, form))


def _cookie_secure(request: Request, settings: Settings) -> bool:
    return settings.cookie_secure if settings.cookie_secure is not None else request.url.scheme == "https"


@pages.post("/login", summary="Log in from the login page: the tokens as from /api/v1/auth/token, "
                              "and the login cookie for opening pages (HttpOnly)")
def login_with_cookie(request: Request, response: Response, settings: SettingsDep, form: LoginForm) -> TokenOut:
    issued = _log_in(request, settings, form)
    response.set_cookie(COOKIE, issued.access_token, max_age=issued.expires_in, path="/", httponly=True,
                        samesite="lax", secure=_cookie_secure(request, settings))
    return _out(issued)


class RefreshIn(BaseModel):
    refresh_token: str = Field(max_length=4000)


@router.post("/auth/refresh", summary="New tokens from a refresh token (it is used up: keep the new "
                                      "one; presenting it again ends the session)")
def refresh(body: RefreshIn, request: Request, settings: SettingsDep) -> TokenOut:
    factory = request.app.state.session_factory
    now = dt.datetime.now(dt.UTC)
    try:
        with factory() as session, session.begin():
            session.connection(execution_options={"sqlite_immediate": True})
            issued = rotate(session, body.refresh_token, settings, now=now)
    except RefreshReused as exc:
        with factory() as session, session.begin():
            session.connection(execution_options={"sqlite_immediate": True})
            revoke_family(session, exc.family, now=now)
        raise
    return _out(issued)


class LogoutIn(BaseModel):
    refresh_token: str | None = Field(None, max_length=4000, description="the session of this refresh token; "
                                                                         "without it, the access token's")
    all: bool = Field(False, description="end every session of the user, on every device")


class LogoutOut(BaseModel):
    ended: int = Field(description="how many login sessions were ended (0: it had ended already)")


@router.post("/auth/logout", summary="Log out: end this login session (or all of the user's) and "
                                     "clear the login cookie")
def logout(request: Request, response: Response, session: SessionDep, settings: SettingsDep, token: BearerDep,
           body: LogoutIn | None = None) -> LogoutOut:
    body = body or LogoutIn()
    now = dt.datetime.now(dt.UTC)
    if body.refresh_token:
        row = find_refresh(session, body.refresh_token)
        if row is None:
            raise Unauthorized("unknown refresh token", field="refresh_token")
        user_id, family = row.user_id, row.family
    else:
        actor = get_actor(request, session, settings, token)
        if actor.user_id is None or actor.session_id is None:
            raise Unauthorized("this token belongs to no login session", field="authorization")
        user_id, family = actor.user_id, actor.session_id
    ended = revoke_user(session, user_id, now=now) if body.all else min(1, revoke_family(session, family, now=now))
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax", secure=_cookie_secure(request, settings))
    return LogoutOut(ended=ended)


@router.get("/auth/me", summary="Who I am and my scope",
            response_model=MeOut, response_model_exclude_unset=True)
def me(actor: ActorDep, session: SessionDep) -> dict:
    user = session.get(User, actor.user_id)
    if user is None:  # an API key (Open311 client) is no user
        raise Unauthorized("this token belongs to no user; log in with a user name", field="authorization")
    return {"id": user.id, "username": user.username, "display_name": user.display_name, "role": actor.role,
            "community_id": actor.community_id, "unit_id": actor.unit_id, "grid_ids": sorted(actor.grid_ids),
            "subdistrict_id": actor.subdistrict_id, "community_ids": sorted(actor.community_ids)}
