"""The case desk's queues (待办): the caller's queues with counts, a queue's rows (filtered, sorted, paged on the
server), bulk 立案 / 不予立案 / 派遣, the units one may dispatch to, live count updates (Server-Sent Events), and the
/desk page."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from anyio import to_thread
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from sqlalchemy import select

from api.deps import ActorDep, PageActorDep, SessionDep, SettingsDep
from api.schemas.desk import BulkIn, BulkOut, QueuePageOut, QueueQuery, QueuesOut, UnitOut
from maps.desk.queues import queues_page
from patrol.cases import queues as Q
from patrol.cases.lifecycle import ACTIONS
from patrol.core.auth import Actor
from patrol.core.errors import Forbidden
from patrol.core.models import ResponsibleUnit, User
from patrol.core.settings import Settings

router = APIRouter(prefix="/api/v1/desk", tags=["desk"])
pages = APIRouter(tags=["desk"])

#: how often the live stream looks at the database, and how often it sends a keep-alive comment (s)
POLL_SECONDS = 3.0
KEEPALIVE_SECONDS = 15.0
#: the counts are recomputed at least this often even when nothing changed (time alone makes cases overdue)
RECOUNT_SECONDS = 60.0


def _queues(session, actor: Actor, settings: Settings) -> dict[str, Any]:
    counts = Q.counts(session, actor, settings)
    return {"role": actor.role, "near_deadline_fraction": settings.near_deadline_fraction,
            "queues": [{"name": q.name, "label_zh": q.label_zh, "label_en": q.label_en, "count": counts[q.name],
                        "bulk": Q.bulk_actions(actor, q)} for q in Q.queues_of(actor)],
            "filters": Q.filter_options(session, actor)}


@router.get("/queues", summary="My queues (待办) with their labels and counts", response_model=QueuesOut,
            response_model_exclude_unset=True)
def queues(actor: ActorDep, session: SessionDep, settings: SettingsDep) -> dict:
    return _queues(session, actor, settings)


@router.get("/queues/{queue}", summary="One queue's cases: filtered, sorted and paged on the server",
            response_model=QueuePageOut, response_model_exclude_unset=True)
def queue_rows(queue: str, actor: ActorDep, session: SessionDep, settings: SettingsDep,
               query: Annotated[QueueQuery, Query()]) -> dict:
    flt = Q.QueueFilter(grid=query.grid, category=query.category, channel=query.channel, community=query.community,
                        start=query.start, end=query.end)
    return Q.queue_page(session, actor, settings, queue[:40], flt, sort=query.sort, order=query.order,
                        limit=query.limit, offset=query.offset)


@router.post("/bulk", summary="立案 / 不予立案 / 派遣 a selection of cases: each in its own savepoint, one result each",
             response_model=BulkOut, response_model_exclude_unset=True)
def bulk(body: BulkIn, actor: ActorDep, session: SessionDep, settings: SettingsDep) -> dict:
    results = Q.bulk(session, actor, settings, body.action, body.cases, note=body.note, unit_id=body.unit_id)
    done = sum(r["ok"] for r in results)
    return {"action": body.action, "done": done, "refused": len(results) - done, "results": results}


@router.get("/units", summary="The responsible units a case can be dispatched to", response_model=list[UnitOut])
def units(actor: ActorDep, session: SessionDep) -> list[dict]:
    if actor.role not in Q.desk_roles() or actor.role == "department":
        raise Forbidden(f"a {actor.role} does not dispatch cases", field="role")
    return [{"id": i, "name": n, "type": t} for i, n, t in session.execute(
        select(ResponsibleUnit.id, ResponsibleUnit.name, ResponsibleUnit.type).order_by(ResponsibleUnit.name))]


# ---------------------------------------------------------------------------------------------- live updates


def _poll(factory, actor: Actor, settings: Settings, last: tuple | None, force: bool) -> tuple[tuple, dict | None]:
    """One look at the database in a short session of its own: the scope's fingerprint, and the counts when it
    changed (or ``force``)."""
    with factory() as session:
        sig = Q.scope_signature(session, actor)
        if sig == last and not force:
            return sig, None
        return sig, Q.counts(session, actor, settings)


def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


async def _stream(request: Request, actor: Actor, settings: Settings, seconds: float) -> AsyncIterator[str]:
    factory = request.app.state.session_factory
    started = last_beat = last_count = time.monotonic()
    sig: tuple | None = None
    sent: dict | None = None
    yield "retry: 3000\n\n"
    while time.monotonic() - started < seconds:
        now = time.monotonic()
        force = now - last_count >= RECOUNT_SECONDS
        sig, fresh = await to_thread.run_sync(_poll, factory, actor, settings, sig, force)
        if fresh is not None:
            last_count = now
            if fresh != sent:
                sent = fresh
                yield _sse("counts", fresh)
                last_beat = now
        if now - last_beat >= KEEPALIVE_SECONDS:
            last_beat = now
            yield ": keepalive\n\n"
        if await request.is_disconnected():
            return
        await asyncio.sleep(min(POLL_SECONDS, max(0.0, seconds - (time.monotonic() - started))))


@router.get("/events", summary="Live counts of my queues (Server-Sent Events: `event: counts`); the stream ends "
                               "after GRIDPATROL_SSE_SECONDS and the browser reconnects",
            response_class=StreamingResponse)
def events(request: Request, actor: ActorDep, settings: SettingsDep,
           seconds: Annotated[float | None, Query(gt=0, le=3600, description="end the stream sooner (s)")] = None,
           ) -> StreamingResponse:
    Q.queues_of(actor)  # 403 for a role without queues, before the stream starts
    length = min(seconds or settings.sse_seconds, settings.sse_seconds)
    return StreamingResponse(_stream(request, actor, settings, length), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


# ---------------------------------------------------------------------------------------------- the page


def _name(session, actor: Actor) -> str:
    user = session.get(User, actor.user_id) if actor.user_id is not None else None
    return user.display_name if user is not None else actor.label


@pages.get("/desk", response_class=HTMLResponse, summary="The case desk: my queues (待办)")
def desk_page(actor: PageActorDep, session: SessionDep, settings: SettingsDep,
              lang: Annotated[Literal["zh", "en"] | None, Query()] = None) -> Response:
    if actor.role in ("grid_worker", "building_lead"):
        return RedirectResponse("/app/", status_code=303)  # a grid worker (and a 楼栋长) works on her phone
    if actor.role not in Q.desk_roles():
        return RedirectResponse(f"/dashboard?lang={lang or settings.lang}", status_code=303)
    return HTMLResponse(queues_page(
        lang or settings.lang, actions_zh={n: a.label_zh for n, a in ACTIONS.items()}, role=actor.role,
        who=_name(session, actor), near_deadline_fraction=settings.near_deadline_fraction,
        timezone=settings.timezone))
