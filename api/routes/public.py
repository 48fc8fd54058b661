"""The residents' public side, no login: the report page ``/r/`` (扫码上报) and the follow-up page ``/r/f/<token>``,
and the JSON they use under ``/api/v1/public/`` (categories, reports, the follow-up view, the rating, the
after-photos). Service code in :mod:`patrol.intake.h5`; pages rendered by :mod:`maps.resident`.

Guards: a per-address and a per-phone sliding-window limit (:mod:`api.ratelimit`, ``GRIDPATROL_RESIDENT_*``; 429
naming ``ip`` or ``phone`` with ``Retry-After``), a honeypot field (``website``: filled, the answer looks like a
receipt and nothing is written), photo type and size checks by content, bounded text. Nothing here shows a phone, a
staff name or a staff note (tests/api/test_publication.py, test_privacy.py).
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile

from api.basemap import page_tiles
from api.deps import FormDep, SessionDep, SettingsDep
from api.error_texts import request_lang
from api.ratelimit import SlidingWindow
from api.schemas.public import FollowOut, ReceiptOut, ResidentCategoryOut
from maps import resident as pages
from patrol.core.errors import GridPatrolError, InvalidInput, NotFound, TooManyAttempts
from patrol.core.settings import Settings
from patrol.intake import h5
from patrol.intake.links import ReportPlace, parse_report_query

router = APIRouter(tags=["residents (public)"])
Lang = Annotated[Literal["zh", "en"] | None, Query(description="zh (default) or en")]
HONEYPOT = "website"
TEXT_MAX = 2000  # any text field of the form; the service bounds each more tightly


class RatingIn(BaseModel):
    rating: int = Field(ge=1, le=5, description="1–5: 5/4 满意, 3 基本满意, 2/1 不满意 (≤ 2 reopens the case)")
    comment: str | None = Field(None, max_length=h5.COMMENT_MAX)
    solved: bool | None = Field(None, description="问题解决了吗？ (解决率)")


def _limits(request: Request, settings: Settings) -> tuple[SlidingWindow, SlidingWindow, SlidingWindow]:
    """Reports per address, reports per phone, ratings per address (made on first use, kept on the app)."""
    state = request.app.state
    if not hasattr(state, "resident_limits"):
        window = settings.resident_window_minutes * 60
        state.resident_limits = (SlidingWindow(settings.resident_ip_limit, window),
                                 SlidingWindow(settings.resident_phone_limit, window),
                                 SlidingWindow(settings.resident_ip_limit, window))
    limits: tuple[SlidingWindow, SlidingWindow, SlidingWindow] = state.resident_limits
    return limits


def _limit(window: SlidingWindow, key: str, field: str, lang: str) -> None:
    wait = window.hit(key)
    if wait is not None:
        raise TooManyAttempts(h5.said(lang, "too_many_" + field, n=max(1, math.ceil(wait / 60))),
                              retry_after=wait, field=field)


def _address(request: Request) -> str:
    return request.client.host if request.client else "?"


def _float(form: dict[str, str], name: str) -> float | None:
    value = (form.get(name) or "").strip()
    if not value:
        return None
    try:
        v = float(value)
    except ValueError:
        raise InvalidInput(f"{name} must be a number", field="location") from None
    if not math.isfinite(v):
        raise InvalidInput(f"{name} must be a number", field="location")
    return v


async def _photos(files: list[Any], settings: Settings, lang: str) -> list[bytes]:
    out = []
    for f in files:
        if not isinstance(f, UploadFile):
            continue
        data = await f.read(settings.resident_photo_max_bytes + 1)
        if data:
            out.append(data)
    if len(out) > h5.PHOTOS_MAX:
        raise InvalidInput(h5.said(lang, "photos"), field="photo")
    return out


@router.get("/api/v1/public/categories", summary="The residents' list of problems (words mapped to the taxonomy)",
            response_model=list[ResidentCategoryOut])
def public_categories(request: Request, lang: Lang = None) -> list[dict[str, str]]:
    return h5.category_list(lang or request_lang(request))


@router.post("/api/v1/public/reports", status_code=201,
             summary="A resident's report (multipart: client_id UUID, category key, lon/lat + crs or the sticker's "
                     "b/at/n, description, phone, up to 3 photos as `photo`); a retry with the same client_id "
                     "answers the same case and link", response_model=ReceiptOut)
async def public_report(request: Request, raw: FormDep, session: SessionDep, settings: SettingsDep,
                        lang: Lang = None) -> JSONResponse:
    lang_ = lang or request_lang(request)
    ip_window, phone_window, _ = _limits(request, settings)
    _limit(ip_window, _address(request), "ip", lang_)
    form = {k: v for k, v in raw.multi_items() if isinstance(v, str)}
    if any(len(v) > TEXT_MAX for v in form.values()):
        name = next(k for k, v in form.items() if len(v) > TEXT_MAX)
        raise InvalidInput(f"{name}: at most {TEXT_MAX} characters", field=name[:40])
    photos = await _photos(raw.getlist("photo"), settings, lang_)
    if form.get(HONEYPOT):
        return JSONResponse(h5.receipt_dict(settings, h5.decoy_receipt(settings)), status_code=201)
    phone = h5.clean_phone(form.get("phone"), lang_)
    place = parse_report_query({k: form[k] for k in ("b", "g", "at", "n") if form.get(k)})
    report = h5.ReportIn(client_id=form.get("client_id"), category=form.get("category"),
                         description=form.get("description"), lon=_float(form, "lon"), lat=_float(form, "lat"),
                         crs=form.get("crs") or "wgs84", phone=phone, place=place, photos=photos)
    if phone is not None and not h5.is_retry(session, report.client_id):
        _limit(phone_window, phone, "phone", lang_)
    receipt = h5.submit_report(session, settings, report, lang=lang_)
    return JSONResponse(h5.receipt_dict(settings, receipt), status_code=201 if receipt.created else 200)


@router.get("/api/v1/public/follow/{token}", summary="The follow-up view of the resident's case (state, public "
                                                     "timeline, after-photos, whether it can be rated)",
            response_model=FollowOut, response_model_exclude_unset=True)
def public_follow(token: str, request: Request, session: SessionDep, settings: SettingsDep,
                  lang: Lang = None) -> dict[str, Any]:
    return h5.follow_view(session, settings, token, lang or request_lang(request))


@router.post("/api/v1/public/follow/{token}/rating", summary="The resident rates the closed case (one rating per "
                                                             "closure; ≤ 2 reopens it: 再接单)",
             response_model=FollowOut, response_model_exclude_unset=True)
def public_rating(token: str, body: RatingIn, request: Request, session: SessionDep, settings: SettingsDep,
                  lang: Lang = None) -> dict[str, Any]:
    lang_ = lang or request_lang(request)
    _limit(_limits(request, settings)[2], _address(request), "ip", lang_)
    return h5.rate_case(session, settings, token, rating=body.rating, comment=body.comment, solved=body.solved,
                        lang=lang_)


@router.get("/api/v1/public/follow/{token}/photos/{n}", summary="An after-photo of the resident's case (no "
                                                               "metadata; stamped with time and case number)")
def public_photo(token: str, n: int, request: Request, session: SessionDep, settings: SettingsDep,
                 lang: Lang = None) -> Response:
    data, mime = h5.public_photo(session, settings, token, n, lang or request_lang(request))
    return Response(data, media_type=mime, headers={"Cache-Control": "private, max-age=3600",
                                                    "Referrer-Policy": "no-referrer"})


@router.get("/r/", response_class=HTMLResponse, summary="The residents' report page (扫码上报; a sticker's link "
                                                        "carries b, g, at, n)")
def report_page(request: Request, session: SessionDep, settings: SettingsDep, lang: Lang = None) -> HTMLResponse:
    lang_ = lang or settings.lang
    query = {k: v for k, v in request.query_params.items() if k in ("b", "g", "at", "n")}
    try:
        sticker = parse_report_query(query)
        spot = h5.sticker_place(session, sticker, lang_)
    except GridPatrolError:  # a damaged sticker link: the page still works, the resident places it herself
        sticker, spot = ReportPlace(), None
    return HTMLResponse(pages.report_page(lang_, categories=h5.category_list(lang_), spot=spot, sticker=query
                                          if spot else {}, tiles=page_tiles(session, settings),
                                          datum=settings.tiles_datum, centre=h5.city_centre(session)),
                        headers={"Referrer-Policy": "no-referrer"})


@router.get("/r/f/{token}", response_class=HTMLResponse, summary="The resident's follow-up page (private link)")
def follow_page(token: str, request: Request, session: SessionDep, settings: SettingsDep,
                lang: Lang = None) -> HTMLResponse:
    lang_ = lang or settings.lang
    headers = {"Referrer-Policy": "no-referrer", "Cache-Control": "private, no-store",
               "X-Robots-Tag": "noindex"}
    try:
        view = h5.follow_view(session, settings, token, lang_)
    except NotFound:
        return HTMLResponse(pages.missing_page(lang_), status_code=404, headers=headers)
    return HTMLResponse(pages.follow_page(lang_, token, view), headers=headers)
