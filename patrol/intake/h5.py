"""The residents' H5 pages (扫码上报 ``/r/`` and the follow-up ``/r/f/<token>``): what they read and write, without
any web framework (the routes are :mod:`api.routes.public`).

- **Reporting.** A resident picks one of a short list of words (``patrol/data/resident_categories.csv``: key,
  Chinese, English, the taxonomy code it maps to), places the problem (GPS, a pin, or the sticker's building / place:
  :mod:`patrol.intake.links`), describes it, adds up to three photos and, if she likes, her phone for the call-back
  (回访). The report becomes a case through :func:`patrol.cases.service.create_case` at ``reported`` (待立案: staff
  register or reject it), channel ``resident``, reported by :data:`RESIDENT` (role ``resident``: the case loop lets
  that role report and nothing else — it reads no case and takes no action). A retry with the same ``client_id``
  answers the same case and link.
- **The private link.** Its token is ``HMAC(secret key, client_id)``: a retry gets the same link back although only
  its sha256 is stored (``Case.follow_token_hash``), and staff who see a case's client id cannot make the link
  without the server's key.
- **Following.** The state in plain words, a public timeline (what was done and when — 已受理, 已立案, 已派遣至 <the
  kind of unit>, 已处置, 已核查, 已结案 — never a staff name or note), the after-photos (the ``handle`` steps'
  photos, stripped of metadata and stamped again without the worker's name) and, once closed, one rating per
  closure (1–5 and 问题解决了吗?): a rating ≤ 2 reopens the case through the ``rate`` rule (再接单).
- Rating and attaching her photos act on the one case her token (or her report) proved is hers, as
  :func:`own_case_actor` — the same construction the Open311 rating uses.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import shapely
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from patrol.cases import service as svc
from patrol.cases.images import inspect
from patrol.cases.lifecycle import CLOSED, Status
from patrol.cases.numbers import case_number
from patrol.cases.photos import public_copy, store_photo
from patrol.core.auth import Actor, secret_key
from patrol.core.errors import Conflict, InvalidInput, NotFound
from patrol.core.models import Building, Case, CaseEvent, Category, Community, Grid, Photo, ResponsibleUnit
from patrol.core.settings import Settings
from patrol.core.time import iso, now_utc
from patrol.intake.links import ReportPlace, follow_url, token_hash

CATEGORIES_CSV = Path(__file__).resolve().parents[1] / "data" / "resident_categories.csv"

#: who reports through the H5 page: may report, nothing else (patrol.cases.authority reads nothing for this role)
RESIDENT = Actor(label="居民", role="resident")

PHOTOS_MAX = 3
DESCRIPTION_MAX = 1000
DESCRIPTION_MIN = 4  # without a photo, at least this many characters say what is wrong
COMMENT_MAX = 500
_PHONE = re.compile(r"^\+?[0-9]{5,20}$")
_PHONE_SEPARATORS = re.compile(r"[\s\-()（）]")
#: the steps whose photos the resident sees as the result (处置后照片)
AFTER_STEPS = frozenset({"handle", "task_handle"})


def own_case_actor() -> Actor:
    """The resident acting on the one case her token (or her report just now) proved is hers: the case loop's
    ``rate`` and photo checks are scoped by role, so she passes them as the system would — callers check the case
    first and call nothing else with it."""
    return Actor(label=RESIDENT.label, role="admin")


# ---------------------------------------------------------------------------------------------- words


TEXT: dict[str, dict[str, str]] = {
    "zh": {
        "category": "请选择问题类型",
        "location": "请定位：打开定位或在地图上点选位置",
        "outside": "该位置不在本市任何网格或社区内，请在地图上重新选择",
        "description": f"请用至少 {DESCRIPTION_MIN} 个字描述问题，或拍一张照片",
        "description_long": f"描述最多 {DESCRIPTION_MAX} 个字",
        "phone": "电话号码格式不对（5–20 位数字）",
        "photos": f"最多上传 {PHOTOS_MAX} 张照片",
        "photo": "第 {n} 张照片无法使用：{why}",
        "not_found": "链接有误或已失效，请核对您保存的链接",
        "not_closed": "案件办结后才能评价",
        "rated": "本次办结已经评价过了，谢谢",
        "rating": "请选择 1–5 分的评价",
        "comment": f"意见最多 {COMMENT_MAX} 个字",
        "client_id": "提交编号有误，请刷新页面后重试",
        "too_many_ip": "提交太频繁，请 {n} 分钟后再试",
        "too_many_phone": "该电话号码提交太频繁，请 {n} 分钟后再试",
    },
    "en": {
        "category": "Choose what kind of problem it is",
        "location": "Give the place: turn on location or tap the map",
        "outside": "That place lies outside every grid and community of the city; choose it again on the map",
        "description": f"Describe the problem in at least {DESCRIPTION_MIN} characters, or add a photo",
        "description_long": f"The description has at most {DESCRIPTION_MAX} characters",
        "phone": "The phone number is not valid (5–20 digits)",
        "photos": f"At most {PHOTOS_MAX} photos",
        "photo": "Photo {n} cannot be used: {why}",
        "not_found": "This link is wrong or no longer valid; check the link you saved",
        "not_closed": "The case can be rated once it is closed",
        "rated": "This closure has been rated already, thank you",
        "rating": "Choose a rating from 1 to 5",
        "comment": f"The comment has at most {COMMENT_MAX} characters",
        "client_id": "The submission id is not valid; reload the page and try again",
        "too_many_ip": "Too many reports from here; try again in {n} minutes",
        "too_many_phone": "Too many reports with this phone number; try again in {n} minutes",
    },
}


def said(lang: str, key: str, **kw: Any) -> str:
    """A message of the resident's pages in ``lang`` (zh unless en)."""
    return TEXT["en" if lang == "en" else "zh"][key].format(**kw)


#: the plain words of a state for the resident
STATE_TEXT: dict[str, tuple[str, str]] = {
    Status.REPORTED: ("已收到，等待社区核实立案", "Received; the community checks it"),
    Status.REGISTERED: ("已立案，正在安排处置", "Registered; being assigned"),
    Status.DISPATCHED: ("已派人处理", "Sent to be handled"),
    Status.ACCEPTED: ("处置人员已接单", "Taken on by the team"),
    Status.HANDLED: ("已处置，等待核查", "Handled; being checked"),
    Status.VERIFIED: ("已核查，即将结案", "Checked; about to be closed"),
    Status.SUSPENDED: ("暂停处理", "On hold"),
    Status.CLOSED: ("已办结", "Closed"),
    Status.REJECTED: ("不予立案", "Not taken up"),
    Status.DUPLICATE: ("与他人反映的同一问题合并处理", "Merged with a report of the same problem"),
}

#: the public timeline: an action → (Chinese, English); "{unit}" is the kind of unit it went to; others are left out
STEP_TEXT: dict[str, tuple[str, str]] = {
    "report": ("已受理", "Received"),
    "register": ("已立案", "Registered"),
    "dispatch": ("已派遣至{unit}", "Sent to {unit}"),
    "accept": ("已接单", "Taken on"),
    "whistle": ("已吹哨，相关部门协同处置", "Departments called in"),
    "escalate": ("已提交上级处理", "Passed up for handling"),
    "persuade_fail": ("劝导无效，已转城管执法", "Persuasion failed; passed to law enforcement"),
    "handle": ("已处置", "Handled"),
    "task_handle": ("相关部门已处置", "A department handled its part"),
    "verify": ("已核查", "Checked on site"),
    "rework": ("核查未通过，重新处置", "Not yet right; handled again"),
    "close": ("已结案", "Closed"),
    "reject": ("不予立案", "Not taken up"),
    "duplicate": ("已合并处理", "Merged"),
    "suspend": ("暂停处理", "Put on hold"),
    "resume": ("恢复处理", "Resumed"),
    "reopen": ("重新办理（再接单）", "Reopened (再接单)"),
    "revisit": ("回头看复查", "Revisited"),
    "rate": ("居民已评价", "Rated by the resident"),
}

#: the kind of unit a case went to (ResponsibleUnit.type), never its staff
UNIT_TYPE_TEXT: dict[str, tuple[str, str]] = {
    "urban_management": ("城管执法中队", "the urban management squad"),
    "power": ("供电部门", "the power company"), "water": ("供水部门", "the water company"),
    "gas": ("燃气公司", "the gas company"), "heating": ("供热公司", "the heating company"),
    "greening": ("园林绿化部门", "the greenery service"), "sanitation": ("环卫部门", "the sanitation service"),
    "property": ("物业公司", "the property management"), "community_office": ("社区居委会", "the community office"),
    "mediation": ("社区人民调解委员会", "the mediation committee"),
    "police": ("派出所", "the police station"), "fire": ("消防部门", "the fire service"),
    "housing": ("住建部门", "the housing department"), "roads": ("道路养护部门", "the roads service"),
    "telecom": ("通信公司", "the telecom company"), "grid_worker": ("网格员", "the grid worker"),
}
RATING_TEXT = {5: ("满意", "Satisfied"), 4: ("满意", "Satisfied"), 3: ("基本满意", "Fairly satisfied"),
               2: ("不满意", "Not satisfied"), 1: ("不满意", "Not satisfied")}


def _pick(pair: tuple[str, str], lang: str) -> str:
    return pair[1] if lang == "en" else pair[0]


# ---------------------------------------------------------------------------------------------- categories


@dataclass(frozen=True)
class ResidentCategory:
    key: str
    zh: str
    en: str
    code: str


@cache
def resident_categories() -> tuple[ResidentCategory, ...]:
    """The residents' words, in the order the page lists them (``patrol/data/resident_categories.csv``)."""
    with CATEGORIES_CSV.open(encoding="utf-8", newline="") as f:
        return tuple(ResidentCategory(r["key"], r["name_zh"], r["name_en"], r["code"]) for r in csv.DictReader(f))


def category_list(lang: str) -> list[dict[str, str]]:
    return [{"key": c.key, "name": c.en if lang == "en" else c.zh} for c in resident_categories()]


def _category(key: str | None, lang: str) -> ResidentCategory:
    found = next((c for c in resident_categories() if c.key == key), None)
    if found is None:
        raise InvalidInput(said(lang, "category"), field="category")
    return found


# ---------------------------------------------------------------------------------------------- the sticker's place


def sticker_place(session: Session, place: ReportPlace, lang: str = "zh") -> dict[str, Any] | None:
    """Where the page starts from a sticker's link: a building that still exists (its point on the building and its
    name), else the link's point (a place's name), else the grid (its centre and box, to pin in); None without any."""
    if place.building_id is not None:
        row = session.execute(select(Building.name, Building.label, Building.address,
                                     func.ST_AsBinary(func.ST_PointOnSurface(Building.geom)))
                              .where(Building.id == place.building_id)).first()
        if row is not None:
            p = shapely.from_wkb(bytes(row[3]))
            label = row[0] or row[1] or row[2] or ("楼栋" if lang != "en" else "Building")
            return {"kind": "building", "building": place.building_id, "label": label,
                    "lon": round(p.x, 7), "lat": round(p.y, 7)}
    if place.lon is not None and place.lat is not None:
        return {"kind": "place", "label": place.name or "", "lon": place.lon, "lat": place.lat}
    if place.grid_code:
        row = session.execute(select(Grid.name, func.ST_AsBinary(Grid.geom))
                              .where(Grid.code == place.grid_code)).first()
        if row is not None:
            g = shapely.from_wkb(bytes(row[1]))
            c = g.representative_point()
            return {"kind": "grid", "label": row[0], "lon": round(c.x, 7), "lat": round(c.y, 7),
                    "bounds": [round(v, 6) for v in g.bounds]}
    return None


def city_centre(session: Session) -> dict[str, float] | None:
    """Where the map opens without a sticker or GPS: the middle of the city's communities (None: no city yet)."""
    boxes = [shapely.from_wkb(bytes(w)).bounds
             for w in session.scalars(select(func.ST_AsBinary(func.ST_Envelope(Community.geom))))]
    if not boxes:
        return None
    return {"lon": round((min(b[0] for b in boxes) + max(b[2] for b in boxes)) / 2, 6),
            "lat": round((min(b[1] for b in boxes) + max(b[3] for b in boxes)) / 2, 6)}


# ---------------------------------------------------------------------------------------------- reporting


@dataclass
class ReportIn:
    """What the report form sends (the sticker's ``b``/``at``/``n`` when the resident kept the sticker's place)."""

    client_id: str | None
    category: str | None
    description: str | None = None
    lon: float | None = None
    lat: float | None = None
    crs: str = "wgs84"
    phone: str | None = None
    place: ReportPlace = field(default_factory=ReportPlace)
    photos: list[bytes] = field(default_factory=list)


@dataclass
class Receipt:
    number: str
    token: str
    created: bool


def follow_token(settings: Settings, client_id: str) -> str:
    """The private token of the report with ``client_id`` (module docstring)."""
    mac = hmac.new(secret_key(settings).encode(), b"follow:" + client_id.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:24]).decode().rstrip("=")


def clean_phone(phone: str | None, lang: str) -> str | None:
    """The phone as digits (a leading + kept), None when empty; 422 on ``phone`` when it is no phone number."""
    if phone is None or not phone.strip():
        return None
    p = _PHONE_SEPARATORS.sub("", phone.strip())
    if not _PHONE.match(p):
        raise InvalidInput(said(lang, "phone"), field="phone")
    return p


def _checked(r: ReportIn, lang: str) -> tuple[ResidentCategory, str | None, str | None]:
    """The category, the description and the phone of a report, or 422 naming the first field that is wrong; the
    photos checked by content (type and size) before anything is written."""
    cat = _category(r.category, lang)
    text = (r.description or "").strip() or None
    if text is not None and len(text) > DESCRIPTION_MAX:
        raise InvalidInput(said(lang, "description_long"), field="description")
    if not r.photos and (text is None or len(text) < DESCRIPTION_MIN):
        raise InvalidInput(said(lang, "description"), field="description")
    if len(r.photos) > PHOTOS_MAX:
        raise InvalidInput(said(lang, "photos"), field="photo")
    return cat, text, clean_phone(r.phone, lang)


def _where(session: Session, r: ReportIn, lang: str) -> tuple[float, float, str, int | None, str | None]:
    """lon, lat, crs, building and place label of a report: the resident's own point when she gave one, else the
    sticker's building or place."""
    if r.lon is not None and r.lat is not None:
        if r.crs not in ("wgs84", "gcj02"):
            raise InvalidInput("crs must be wgs84 or gcj02", field="crs")
        return r.lon, r.lat, r.crs, None, None
    spot = sticker_place(session, r.place, lang)
    if spot is None or spot["kind"] == "grid":
        raise InvalidInput(said(lang, "location"), field="location")
    return spot["lon"], spot["lat"], "wgs84", spot.get("building"), spot["label"] or None


def is_retry(session: Session, client_id: str | None) -> bool:
    """Whether a report with this client id was filed already (a retry is not counted against the limits)."""
    try:
        cid = svc.parse_client_id(client_id) if client_id else None
    except InvalidInput:
        return False
    return cid is not None and session.scalars(select(Case.id).where(Case.client_id == cid)).first() is not None


def submit_report(session: Session, settings: Settings, r: ReportIn, *, lang: str = "zh",
                  now: dt.datetime | None = None) -> Receipt:
    """File a resident's report (module docstring); a retry with the same ``client_id`` answers the same receipt
    (``created`` False). All or nothing: a bad photo leaves no case."""
    try:
        cid = svc.parse_client_id(r.client_id)
    except InvalidInput:
        raise InvalidInput(said(lang, "client_id"), field="client_id") from None
    existing = session.scalars(select(Case).where(Case.client_id == cid)).first()
    if existing is not None:
        if existing.channel != "resident" or existing.follow_token_hash != token_hash(follow_token(settings, cid)):
            raise Conflict("this client_id belongs to another case", field="client_id")
        return Receipt(existing.number or "", follow_token(settings, cid), False)
    cat, text, phone = _checked(r, lang)
    for n, data in enumerate(r.photos, 1):
        try:
            inspect(data, max_bytes=settings.resident_photo_max_bytes)
        except InvalidInput as exc:
            raise InvalidInput(said(lang, "photo", n=n, why=exc.message), field="photo") from None
    lon, lat, crs, building, label = _where(session, r, lang)
    try:
        created = svc.create_case(session, RESIDENT, settings, client_id=cid, category=cat.code, lon=lon, lat=lat,
                                  crs=crs, description=text, address=label, building_id=building,
                                  channel="resident", contact={"phone": phone}, now=now)
    except InvalidInput as exc:
        if exc.field in ("lat", "lon"):
            raise InvalidInput(said(lang, "outside"), field="location") from None
        raise
    case = created.case
    token = follow_token(settings, cid)
    case.follow_token_hash = token_hash(token)
    for data in r.photos:
        store_photo(session, own_case_actor(), case.id, data, max_bytes=settings.resident_photo_max_bytes,
                    timezone=settings.timezone)
    return Receipt(case.number or "", token, True)


def decoy_receipt(settings: Settings, now: dt.datetime | None = None) -> Receipt:
    """A believable answer for a filled honeypot: a number of the right shape and a link that opens nothing."""
    return Receipt(case_number(now or now_utc(), secrets.randbelow(900_000) + 100_000, settings.timezone),
                   secrets.token_urlsafe(24), True)


def receipt_dict(settings: Settings, receipt: Receipt) -> dict[str, Any]:
    return {"number": receipt.number, "token": receipt.token,
            "follow_url": follow_url(settings.public_url, receipt.token),
            "follow_path": follow_url("", receipt.token)}


# ---------------------------------------------------------------------------------------------- following


def case_by_token(session: Session, token: str, lang: str = "zh") -> Case:
    """The case of a follow-up token; 404 with the same words for any token that opens nothing."""
    if not token or len(token) > 100:
        raise NotFound(said(lang, "not_found"), field="token")
    case = session.scalars(select(Case).where(Case.follow_token_hash == token_hash(token))).first()
    if case is None:
        raise NotFound(said(lang, "not_found"), field="token")
    return case


def _rated_since_close(events: list[CaseEvent]) -> bool:
    """Whether the case was rated since its latest closure (one rating per closure)."""
    for ev in reversed(events):
        if ev.action in ("close", "rate"):
            return ev.action == "rate"
    return False


def _steps(session: Session, events: list[CaseEvent], lang: str, timezone: str) -> list[dict[str, Any]]:
    units = {u.id: u.type for u in session.scalars(select(ResponsibleUnit).where(
        ResponsibleUnit.id.in_({e.unit_id for e in events if e.unit_id is not None} or {-1})))}
    zone = ZoneInfo(timezone)
    out = []
    for ev in events:
        words = STEP_TEXT.get(ev.action)
        if words is None:
            continue
        unit_type = units.get(ev.unit_id) if ev.unit_id is not None else "grid_worker"
        unit = _pick(UNIT_TYPE_TEXT.get(unit_type or "", ("处置单位", "the responsible unit")), lang)
        out.append({"action": ev.action, "text": _pick(words, lang).format(unit=unit),
                    "at": iso(ev.at), "local": ev.at.astimezone(zone).strftime("%Y-%m-%d %H:%M")})
    return out


def _after_photos(session: Session, case: Case, events: list[CaseEvent]) -> list[int]:
    steps = [e.id for e in events if e.action in AFTER_STEPS]
    if not steps:
        return []
    return list(session.scalars(select(Photo.id).where(Photo.case_id == case.id, Photo.event_id.in_(steps),
                                                       Photo.original.is_not(None)).order_by(Photo.id)))


def follow_view(session: Session, settings: Settings, token: str, lang: str = "zh") -> dict[str, Any]:
    """What the follow-up page shows (module docstring): no staff name, note, unit name or phone."""
    case = case_by_token(session, token, lang)
    events = list(session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)
                                  .order_by(CaseEvent.at, CaseEvent.id)))
    cat = session.get(Category, case.category_code)
    rated = _rated_since_close(events)
    closed = case.status == Status.CLOSED
    photos = _after_photos(session, case, events)
    last_rating = next((e for e in reversed(events) if e.action == "rate"), None)
    # reopened by the resident's latest rating (再接单), and not closed since
    reopened = last_rating is not None and any(e.action == "reopen" and e.at == last_rating.at for e in events)
    return {
        "number": case.number, "status": case.status,
        "state": _pick(STATE_TEXT.get(case.status, ("处理中", "In progress")), lang),
        "finished": case.status in CLOSED,
        "category": (cat.name_en if lang == "en" else cat.name_zh) if cat else case.category_code,
        "description": case.description, "place": case.address,
        "reported_at": iso(case.reported_at),
        "timeline": _steps(session, events, lang, settings.timezone),
        "after_photos": [f"/api/v1/public/follow/{token}/photos/{n}" for n in range(1, len(photos) + 1)],
        "can_rate": closed and not rated, "rated": closed and rated,
        "reopened": reopened and case.status not in CLOSED,
        "resident_solved": case.resident_solved,
    }


def public_photo(session: Session, settings: Settings, token: str, n: int, lang: str = "zh") -> tuple[bytes, str]:
    """The ``n``-th after-photo (from 1) of the token's case, without metadata, stamped with its time and the case
    number only (the stored copy's stamp names the worker)."""
    case = case_by_token(session, token, lang)
    events = list(session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)))
    ids = _after_photos(session, case, events)
    if not 1 <= n <= len(ids):
        raise NotFound(said(lang, "not_found"), field="photo")
    p = session.get(Photo, ids[n - 1])
    assert p is not None
    return public_copy(p, case.number or "", settings.timezone), p.mime



def rate_case(session: Session, settings: Settings, token: str, *, rating: Any, comment: str | None = None,
              solved: bool | None = None, lang: str = "zh", now: dt.datetime | None = None) -> dict[str, Any]:
    """The resident's rating of a closed case: one per closure; ≤ 2 reopens it (再接单); ``solved`` sets
    ``resident_solved`` (解决率). Answers the follow-up view after it."""
    case = case_by_token(session, token, lang)
    try:
        score = int(rating)
    except (TypeError, ValueError):
        score = 0
    if not 1 <= score <= 5:
        raise InvalidInput(said(lang, "rating"), field="rating")
    text = (comment or "").strip() or None
    if text is not None and len(text) > COMMENT_MAX:
        raise InvalidInput(said(lang, "comment"), field="comment")
    if case.status != Status.CLOSED:
        raise Conflict(said(lang, "not_closed"), field="rating")
    events = list(session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)
                                  .order_by(CaseEvent.at, CaseEvent.id)))
    if _rated_since_close(events):
        raise Conflict(said(lang, "rated"), field="rating")
    if solved is not None:
        case.resident_solved = solved
    words = RATING_TEXT[score][0]
    svc.transition(session, own_case_actor(), settings, case.id, "rate", rating=score,
                   note=f"居民评价：{words}" + (f"。{text}" if text else ""), now=now)
    return follow_view(session, settings, token, lang)
