"""Logging in over HTTP: the OAuth2 password flow, refreshing a token, and who the caller is."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field

from api.deps import ActorDep, SessionDep, SettingsDep
from api.schemas.cases import MeOut
from patrol.core.auth import authenticate, issue_token, user_from_token
from patrol.core.errors import Unauthorized
from patrol.core.models import User

router = APIRouter(prefix="/api/v1", tags=["auth"])


class TokenOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int
    role: str
    user_id: int


@router.post("/auth/token", tags=["auth"], summary="Log in (OAuth2 password flow)")
def login(session: SessionDep, settings: SettingsDep,
          form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> TokenOut:
    user = authenticate(session, form.username, form.password)
    return TokenOut(access_token=issue_token(user, settings), refresh_token=issue_token(user, settings, kind="refresh"),
                    expires_in=int(settings.token_hours * 3600), role=user.role, user_id=user.id)


class RefreshIn(BaseModel):
    refresh_token: str = Field(max_length=4000)


@router.post("/auth/refresh", tags=["auth"], summary="A new access token from a refresh token")
def refresh(body: RefreshIn, session: SessionDep, settings: SettingsDep) -> TokenOut:
    user = user_from_token(session, body.refresh_token, settings, kind="refresh")
    return TokenOut(access_token=issue_token(user, settings), refresh_token=issue_token(user, settings, kind="refresh"),
                    expires_in=int(settings.token_hours * 3600), role=user.role, user_id=user.id)


@router.get("/auth/me", tags=["auth"], summary="Who I am and my scope",
            response_model=MeOut, response_model_exclude_unset=True)
def me(actor: ActorDep, session: SessionDep) -> dict:
    user = session.get(User, actor.user_id)
    if user is None:  # an API key (Open311 client) is no user
        raise Unauthorized("this token belongs to no user; log in with a user name", field="authorization")
    return {"id": user.id, "username": user.username, "display_name": user.display_name, "role": actor.role,
            "community_id": actor.community_id, "unit_id": actor.unit_id, "grid_ids": sorted(actor.grid_ids),
            "subdistrict_id": actor.subdistrict_id, "community_ids": sorted(actor.community_ids)}

