"""The 12345 exchange over HTTP.

For a hotline platform that pushes (``X-API-Key`` of scope ``hotline``: ``gridpatrol apikeys add NAME --scope
hotline``; such a key opens nothing else, and no other key opens these):

- ``POST /api/v1/hotline/orders`` — one work order or a list, idempotent by order number (工单编号); a list is all or
  nothing (every problem named at once);
- ``GET /api/v1/hotline/results?since=&until=`` — the 办理结果 of the 12345 cases closed in the period;
- ``POST /api/v1/hotline/feedback`` — 回访 results as the residents' ratings (不满意 reopens: 再接单).

For the desk (staff login): ``GET /api/v1/desk/unlocated`` (待定位, the orders in the caller's scope no building was
found for), ``POST /api/v1/hotline/orders/{order_no}/place`` and the page ``/desk/unlocated``.

``GET /api/v1/hotline/photos/{id}?s=`` serves an after-photo of a 12345 case to whoever holds the signed link the
results carry (never a photo of a sensitive category, never one of another case's steps).
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from typing import Annotated, Any, Literal

import shapely
from fastapi import APIRouter, Body, Header, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.basemap import page_tiles
from api.deps import ActorDep, PageActorDep, SessionDep, SettingsDep
from api.schemas.hotline import (
    ORDER_EXAMPLE,
    PUSH_MAX,
    HotlineFeedbackIn,
    HotlineOrderIn,
    HotlinePlacedOut,
    HotlinePlaceIn,
    HotlinePushOut,
    HotlineResultOut,
    HotlineUnlocatedPageOut,
)
from maps.desk.unlocated import unlocated_page
from patrol.cases.lifecycle import ACTIONS
from patrol.cases.photos import public_copy
from patrol.cases.reference import ensure_categories
from patrol.cases.worktime import calendar
from patrol.core.auth import Actor, actor_for_key
from patrol.core.errors import InvalidInput, NotFound
from patrol.core.models import Building, Case, Category, Community, HotlineOrder
from patrol.core.settings import Settings
from patrol.intake.hotline import orders as O
from patrol.intake.hotline import unlocated as U
from patrol.intake.hotline.mapping import Mapping, load_mapping, parse_deadline
from patrol.intake.hotline.results import Feedback, apply_feedback, results, signed_photo

router = APIRouter(prefix="/api/v1/hotline", tags=["hotline"])
desk = APIRouter(prefix="/api/v1/desk", tags=["desk"])
pages = APIRouter(tags=["desk"])

KeyHeader = Annotated[str | None, Header(alias="X-API-Key", description="an API key of scope hotline")]
KEY_ERRORS: dict[int | str, dict[str, Any]] = {401: {"description": "no key, or an unknown / revoked / expired one"},
                                               403: {"description": "a key of another scope (open311)"},
                                               422: {"description": "a field is wrong: {code, message, field}"}}


@cache
def _mapping(path: str | None) -> Mapping:
    return load_mapping(path)


def _platform(session: Session, key: str | None) -> Actor:
    """The platform of a hotline key, acting on its orders' cases as the system does (its key kept on them)."""
    actor = actor_for_key(session, key, scope="hotline")
    return Actor(label=actor.label, role="admin", api_key_id=actor.api_key_id)


def _order_in(m: Mapping, o: HotlineOrderIn, at: str, add_working_hours: Any) -> tuple[O.OrderIn | None, list[str]]:
    received = (o.received_at if o.received_at.tzinfo else o.received_at.replace(tzinfo=m.zone)).astimezone(dt.UTC)
    problems = []
    deadline = None
    if o.deadline:
        deadline = parse_deadline(o.deadline, m, received, add_working_hours)
        if deadline is None:
            problems.append(f"{at}.deadline: {o.deadline!r} is neither an ISO time nor an amount (72, 72小时, 3天)")
    elif m.deadline_hours is not None:
        deadline = received + dt.timedelta(hours=m.deadline_hours)
    code = o.category_code or m.category_of(o.category)
    if problems:
        return None, problems
    return O.OrderIn(o.order_no.strip(), received, o.address.strip(), deadline, code, o.category, o.description,
                     o.subdistrict, o.urgency, o.contact_name, o.contact_phone, o.model_dump(mode="json")), []


def _listed(body: Any) -> list:
    return body if isinstance(body, list) else [body]


@router.post("/orders", summary="Push 12345 work orders (one or a list; idempotent by 工单编号; a list is all or "
                                "nothing)", response_model=HotlinePushOut, responses=KEY_ERRORS)
def push_orders(body: Annotated[HotlineOrderIn | list[HotlineOrderIn], Body(examples=[ORDER_EXAMPLE])],
                session: SessionDep, settings: SettingsDep, key: KeyHeader = None) -> dict:
    actor = _platform(session, key)
    items = _listed(body)
    if len(items) > PUSH_MAX:
        raise InvalidInput(f"at most {PUSH_MAX} orders at once, got {len(items)}", field="orders")
    m = _mapping(settings.hotline_mapping)
    cal = calendar(settings)
    parsed, problems, seen = [], [], set()
    ensure_categories(session)  # a fresh database: the shipped categories first (as create_case does)
    codes = set(session.scalars(select(Category.code)))
    for i, o in enumerate(items):
        at = f"orders[{i}]" if isinstance(body, list) else "order"
        order, why = _order_in(m, o, at, cal.add_working_hours)
        if order is not None and order.category_code not in codes:
            why = [f"{at}.category_code: unknown category {order.category_code!r}"]
        if order is not None and order.order_no in seen:
            why = [f"{at}.order_no: {order.order_no} is given twice"]
        problems.extend(why)
        if order is not None and not why:
            seen.add(order.order_no)
            parsed.append(order)
    if problems:
        field = problems[0].split(":")[0].split(".")[-1]
        raise InvalidInput(f"{len(problems)} problem(s); nothing was written: {problems[0]}", field=field,
                           details=problems)
    cache_: list = []

    def index():
        if not cache_:
            cache_.append(O.building_index(session))
        return cache_[0]

    rows = []
    for order in parsed:
        result, note = O.upsert(session, actor, settings, order, index, level=m.level)
        rows.append({"order_no": order.order_no, "result": result, "why": note})
    return _answer(rows)


def _answer(rows: list[dict[str, str]]) -> dict:
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["result"]] = counts.get(r["result"], 0) + 1
    return {"results": rows, "counts": counts}


@router.get("/results", summary="The 办理结果 of the 12345 cases closed in a period",
            response_model=list[HotlineResultOut], responses=KEY_ERRORS)
def get_results(session: SessionDep, settings: SettingsDep,
                since: Annotated[dt.datetime, Query(description="closed at or after (ISO; a date: local midnight)")],
                until: Annotated[dt.datetime | None, Query(description="closed before (optional)")] = None,
                key: KeyHeader = None) -> list[dict]:
    _platform(session, key)
    zone = _mapping(settings.hotline_mapping).zone

    def utc(t: dt.datetime | None) -> dt.datetime | None:
        return None if t is None else (t if t.tzinfo else t.replace(tzinfo=zone)).astimezone(dt.UTC)

    start = utc(since)
    assert start is not None
    return [{"order_no": r.order_no, "result": r.result, "closed_at": r.closed_at, "unit": r.unit,
             "photos": r.photos} for r in results(session, settings, start, utc(until))]


@router.post("/feedback", summary="Push 回访 results (one or a list): 满意 5, 基本满意 4, 不满意 2 (reopens: 再接单); "
                                  "the same 回访 twice rates once", response_model=HotlinePushOut, responses=KEY_ERRORS)
def push_feedback(body: Annotated[HotlineFeedbackIn | list[HotlineFeedbackIn], Body()], session: SessionDep,
                  settings: SettingsDep, key: KeyHeader = None) -> dict:
    actor = _platform(session, key)
    items = _listed(body)
    if len(items) > PUSH_MAX:
        raise InvalidInput(f"at most {PUSH_MAX} results at once, got {len(items)}", field="feedback")
    rows = []
    for f in items:
        fb = Feedback(f.order_no.strip(), f.satisfaction, f.solved,
                      f.at.astimezone(dt.UTC) if f.at and f.at.tzinfo else
                      f.at.replace(tzinfo=_mapping(settings.hotline_mapping).zone).astimezone(dt.UTC)
                      if f.at else None, f.comment)
        result, why = apply_feedback(session, settings, fb, actor=actor)
        rows.append({"order_no": fb.order_no, "result": result, "why": why})
    return _answer(rows)


@router.get("/photos/{photo_id}", summary="An after-photo of a 12345 case, by the signed link in its 办理结果",
            responses={404: {"description": "unknown photo, wrong signature, or not an after-photo one may see"}})
def hotline_photo(photo_id: int, session: SessionDep, settings: SettingsDep,
                  s: Annotated[str, Query(max_length=64, description="the link's signature")] = "") -> Response:
    photo = signed_photo(session, settings, photo_id, s)
    if photo is None:
        raise NotFound("no such photo", field="photo_id")
    number = session.scalar(select(Case.number).where(Case.id == photo.case_id)) or ""
    return Response(public_copy(photo, number, settings.timezone), media_type=photo.mime,
                    headers={"Cache-Control": "private, max-age=86400"})


# ------------------------------------------------------------------------------------------------ the desk

def _candidates(session: Session, orders: list[HotlineOrder]) -> dict[int, tuple[float, float]]:
    ids = {c["building_id"] for o in orders for c in O.order_dict(o)["candidates"]}
    if not ids:
        return {}
    out = {}
    for bid, wkb in session.execute(select(Building.id, func.ST_AsBinary(Building.geom)).where(Building.id.in_(ids))):
        p = shapely.from_wkb(bytes(wkb)).representative_point()
        out[bid] = (round(p.x, 6), round(p.y, 6))
    return out


def unlocated_rows(session: Session, actor: Actor, lang: str, limit: int, offset: int) -> dict:
    rows = U.pending(session, actor, limit=limit, offset=offset)
    points = _candidates(session, rows)
    names = {c.code: (c.name_zh if lang == "zh" else c.name_en) for c in session.scalars(select(Category))}
    out = []
    for o in rows:
        d = O.order_dict(o)
        cands = [{**c, "lon": points.get(c["building_id"], (None, None))[0],
                  "lat": points.get(c["building_id"], (None, None))[1]} for c in d["candidates"]
                 if c["building_id"] in points]
        out.append({"order_no": o.order_no, "received_at": o.received_at, "deadline_at": o.deadline_at,
                    "category_text": o.category_text, "category": names.get(o.category_code or ""),
                    "description": o.description, "address": o.address, "subdistrict_text": o.subdistrict_text,
                    "urgency": o.urgency, "candidates": cands})
    return {"total": U.count(session, actor), "rows": out}


@desk.get("/unlocated", summary="待定位: the 12345 orders in my scope no single building was found for",
          response_model=HotlineUnlocatedPageOut, response_model_exclude_unset=True)
def get_unlocated(actor: ActorDep, session: SessionDep, settings: SettingsDep,
                  limit: Annotated[int, Query(ge=1, le=200)] = 50, offset: Annotated[int, Query(ge=0)] = 0,
                  lang: Annotated[Literal["zh", "en"] | None, Query()] = None) -> dict:
    return unlocated_rows(session, actor, lang or settings.lang, limit, offset)


@router.post("/orders/{order_no}/place", summary="Place a 待定位 order at a building or a point: its case is created",
             response_model=HotlinePlacedOut, status_code=201)
def place(order_no: str, body: HotlinePlaceIn, actor: ActorDep, session: SessionDep, settings: SettingsDep) -> dict:
    if body.building_id is None and (body.lon is None or body.lat is None):
        raise InvalidInput("give building_id, or lon and lat", field="building_id")
    case = U.place(session, actor, settings, order_no, building_id=body.building_id, lon=body.lon, lat=body.lat)
    return {"order_no": order_no, "case_id": case.id, "case_number": case.number}


def _bounds(session: Session, actor: Actor) -> list[float] | None:
    """The extent of the caller's communities (all for an admin), WGS-84 [west, south, east, north]."""
    q = select(func.ST_AsBinary(Community.geom))
    if actor.role == "supervisor":
        q = q.where(Community.id == actor.community_id)
    elif actor.role == "subdistrict":
        q = q.where(Community.id.in_(sorted(actor.community_ids)))
    geoms = [shapely.from_wkb(bytes(w)) for w in session.scalars(q) if w is not None]
    return [round(float(v), 6) for v in shapely.total_bounds(geoms)] if geoms else None


def _page(actor: Actor, session: Session, settings: Settings, lang: str | None) -> Response:
    if actor.role not in U.ROLES:
        return RedirectResponse(f"/desk?lang={lang or settings.lang}", status_code=303)
    return HTMLResponse(unlocated_page(lang or settings.lang, {n: a.label_zh for n, a in ACTIONS.items()},
                                       tiles=page_tiles(session, settings), datum=settings.tiles_datum,
                                       timezone=settings.timezone, role=actor.role,
                                       bounds=_bounds(session, actor)))


@pages.get("/desk/unlocated", response_class=HTMLResponse, summary="待定位: place 12345 orders on the map")
def unlocated_html(actor: PageActorDep, session: SessionDep, settings: SettingsDep,
                   lang: Annotated[Literal["zh", "en"] | None, Query()] = None) -> Response:
    return _page(actor, session, settings, lang)
