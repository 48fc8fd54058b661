"""The in-app notices of the logged-in user (the desk's bell): list, unread count, mark read. Only one's own."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.deps import ActorDep, SessionDep
from api.schemas.base import Out
from patrol.core.auth import Actor
from patrol.core.errors import Forbidden, InvalidInput
from patrol.notify import inbox

router = APIRouter(prefix="/api/v1", tags=["notices"])


class NoticeOut(Out):
    id: int = Field(description="to mark it read")
    kind: str = Field(description="dispatch, whistle, return, escalate, urge, rework or near_deadline")
    title: str
    body: str | None = None
    case_number: str | None = Field(None, description="the case, e.g. 2026-000123")
    link: str | None = Field(None, description="the case page, /desk/cases/<number>")
    created_at: str
    read: bool


class CountOut(Out):
    unread: int


class ReadIn(BaseModel):
    ids: list[int] | None = Field(None, max_length=1000, description="the notices to mark read")
    all: bool = Field(False, description="mark every notice of mine read")


class ReadOut(Out):
    marked: int
    unread: int


def _me(actor: Actor) -> int:
    if actor.user_id is None:
        raise Forbidden("notices belong to users; an API key has none", field="role")
    return actor.user_id


@router.get("/notices", summary="My notices, newest first", response_model=list[NoticeOut],
            response_model_exclude_unset=True)
def notices(actor: ActorDep, session: SessionDep, unread: bool = False,
            limit: Annotated[int, Query(ge=1, le=inbox.LIMIT_MAX)] = 20) -> list[dict]:
    return inbox.my_notices(session, _me(actor), unread=unread, limit=limit)


@router.get("/notices/count", summary="How many of my notices are unread", response_model=CountOut)
def notice_count(actor: ActorDep, session: SessionDep) -> dict:
    return {"unread": inbox.unread_count(session, _me(actor))}


@router.post("/notices/read", summary="Mark my notices read (some by id, or all)", response_model=ReadOut)
def read_notices(body: ReadIn, actor: ActorDep, session: SessionDep) -> dict:
    me = _me(actor)
    if not body.all and not body.ids:
        raise InvalidInput("give ids (the notices to mark read) or all: true", field="ids")
    marked = inbox.mark_read(session, me, ids=body.ids, everything=body.all)
    return {"marked": marked, "unread": inbox.unread_count(session, me)}
