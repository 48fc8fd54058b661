"""Open311 GeoReport v2 at /open311/v2/: our categories are the services, our cases the service requests.

Reads are public and follow :mod:`patrol.publication.policy`: only cases filed through Open311, a fixed status
text instead of staff notes, sensitive categories without description or address at a generalised point; a case
outside the policy answers 404 like an unknown id. No contact details are ever published. Filing a request needs an
``api_key``. Errors use the spec's shape (a list of ``{code, description}``) in JSON or XML. Extension:
``POST requests/{id}/rating.{format}`` lets the client that filed a request rate the result (1–5; ≤ 2 reopens the
case).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any
from xml.etree import ElementTree as ET

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from api.deps import FormDep, ReadSessionDep, SessionDep, SettingsDep
from api.schemas.bounds import problem
from api.schemas.open311 import (
    CreatedServiceRequest,
    DiscoveryOut,
    Service,
    ServiceDefinitionOut,
    ServiceRequest,
)
from patrol.cases import service as svc
from patrol.cases.categories import active_categories
from patrol.cases.lifecycle import CLOSED
from patrol.core.auth import Actor, actor_for_key
from patrol.core.errors import GridPatrolError, InvalidInput
from patrol.core.models import Case, Category, ResponsibleUnit
from patrol.core.time import iso
from patrol.publication import policy

router = APIRouter(prefix="/open311/v2", tags=["open311"])
FORMATS = ("json", "xml")


class Open311Error(Exception):
    def __init__(self, status: int, description: str, fmt: str) -> None:
        self.status, self.description, self.fmt = status, description, fmt


def _fmt(fmt: str) -> str:
    if fmt not in FORMATS:
        raise Open311Error(404, f"unknown format {fmt!r}; use .json or .xml", "json")
    return fmt


def _xml(root: str, item: str, rows: list[dict]) -> Response:
    top = ET.Element(root)
    for row in rows:
        el = ET.SubElement(top, item)
        for k, v in row.items():
            child = ET.SubElement(el, k)
            if isinstance(v, list):
                for x in v:
                    ET.SubElement(child, "key" if k == "keywords" else "value").text = str(x)
            elif v is not None:
                child.text = str(v).lower() if isinstance(v, bool) else str(v)
    body = b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(top, encoding="utf-8")
    return Response(body, media_type="text/xml; charset=utf-8")


def _out(fmt: str, root: str, item: str, rows: list[dict], status: int = 200) -> Response:
    if fmt == "xml":
        r = _xml(root, item, rows)
        r.status_code = status
        return r
    return JSONResponse(rows, status_code=status)


def _error(exc: Open311Error) -> Response:
    rows = [{"code": exc.status, "description": exc.description}]
    return _out(exc.fmt, "errors", "error", rows, exc.status)


def install(app) -> None:
    @app.exception_handler(Open311Error)
    async def _open311(request: Request, exc: Open311Error) -> Response:
        return _error(exc)


def _guard(fmt: str, fn):
    try:
        return fn()
    except GridPatrolError as exc:
        description = f"{exc.field}: {exc.message}" if exc.field else exc.message
        raise Open311Error(exc.status_code if exc.status_code != 422 else 400, description, fmt) from None


@router.get("/discovery.{fmt}", summary="Discovery: where the endpoints are",
            response_model=DiscoveryOut, response_model_exclude_unset=True)
def discovery(fmt: str, request: Request) -> Response:
    fmt = _fmt(fmt)
    base = str(request.base_url).rstrip("/") + "/open311/v2/"
    doc: dict[str, Any] = {"changeset": "2026-11-23T00:00:00Z", "contact": "the city's grid governance centre",
           "key_service": "ask the centre for an api_key (gridpatrol apikeys add NAME)",
           "endpoints": [{"specification": "http://wiki.open311.org/GeoReport_v2", "url": base,
                          "changeset": "2026-11-23T00:00:00Z", "type": "production", "formats": ["application/json",
                                                                                               "text/xml"]}]}
    if fmt == "xml":
        top = ET.Element("discovery")
        for k in ("changeset", "contact", "key_service"):
            ET.SubElement(top, k).text = doc[k]
        eps = ET.SubElement(top, "endpoints")
        ep = ET.SubElement(eps, "endpoint")
        for k in ("specification", "url", "changeset", "type"):
            ET.SubElement(ep, k).text = doc["endpoints"][0][k]
        fm = ET.SubElement(ep, "formats")
        for f in doc["endpoints"][0]["formats"]:
            ET.SubElement(fm, "format").text = f
        return Response(b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(top, encoding="utf-8"),
                        media_type="text/xml; charset=utf-8")
    return JSONResponse(doc)


def _service(c: Category) -> dict:
    return {"service_code": c.code, "service_name": c.name_zh, "description": f"{c.name_en} ({c.major_en})",
            "metadata": False, "type": "realtime", "keywords": [c.name_en, c.major_zh], "group": c.major_zh}


@router.get("/services.{fmt}", summary="Services: our categories",
            response_model=list[Service], response_model_exclude_unset=True)
def services(fmt: str, session: ReadSessionDep) -> Response:
    fmt = _fmt(fmt)
    rows = [_service(c) for c in active_categories(session)]
    return _out(fmt, "services", "service", rows)


@router.get("/services/{code}.{fmt}", summary="Service definition (no extra attributes)",
            response_model=ServiceDefinitionOut, response_model_exclude_unset=True)
def service_definition(code: str, fmt: str, session: ReadSessionDep) -> Response:
    fmt = _fmt(fmt)
    c = session.get(Category, code)
    if c is None or not c.active:
        raise Open311Error(404, f"service_code {code!r} not found", fmt)
    doc = {"service_code": c.code, "attributes": []}
    if fmt == "xml":
        top = ET.Element("service_definition")
        ET.SubElement(top, "service_code").text = c.code
        ET.SubElement(top, "attributes")
        return Response(b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(top, encoding="utf-8"),
                        media_type="text/xml; charset=utf-8")
    return JSONResponse(doc)


def _rows(session: Session, pairs: Sequence[Any]) -> list[dict]:
    units = dict(session.execute(select(ResponsibleUnit.id, ResponsibleUnit.name)).all())
    cats = {c.code: c for c in session.scalars(select(Category))}
    return [_request_row(c, w, units, cats) for c, w in pairs]


def _request_row(case: Case, wkb, units: dict, cats: dict) -> dict:
    """A case as Open311 publishes it (patrol.publication.policy): a fixed status text instead of the staff's notes;
    for a sensitive category no description or address and a generalised point."""
    p = svc.shapely.from_wkb(bytes(wkb))
    cat = cats.get(case.category_code)
    lon, lat, description, address = policy.public_place(case.category_code, p.x, p.y, case.description,
                                                         case.address)
    return {
        "service_request_id": str(case.id), "status": "closed" if case.status in CLOSED else "open",
        "status_notes": policy.status_text(case.status), "service_name": cat.name_zh if cat else None,
        "service_code": case.category_code, "description": description,
        "agency_responsible": units.get(case.unit_id),
        "service_notice": f"status {case.status}, level {case.level}", "requested_datetime": iso(case.reported_at),
        "updated_datetime": iso(case.updated_at), "expected_datetime": iso(case.deadline_at),
        "address": address, "address_id": None, "zipcode": None, "lat": lat, "long": lon, "media_url": None,
    }


def _published() -> Any:
    """The cases Open311 reads may show (the policy's channels), as a WHERE clause."""
    return Case.channel.in_(policy.open311_channels())


def _date(value: str | None, name: str, fmt: str) -> dt.datetime | None:
    if not value:
        return None
    try:
        t = dt.datetime.fromisoformat(value)
    except ValueError:
        raise Open311Error(400, f"{name}: not a W3C date-time: {value!r}", fmt) from None
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


@router.get("/requests.{fmt}", summary="Service requests (newest first; default the last 90 days, at most 1000)",
            response_model=list[ServiceRequest], response_model_exclude_unset=True)
def requests_(fmt: str, session: ReadSessionDep, service_request_id: str | None = None, service_code: str | None = None,
              start_date: str | None = None, end_date: str | None = None, status: str | None = None) -> Response:
    fmt = _fmt(fmt)
    stmt = select(Case, func.ST_AsBinary(Case.geom)).where(_published())
    if service_request_id:
        try:
            ids = [int(x) for x in service_request_id.split(",")]
            if any(problem(i) for i in ids):
                raise ValueError
        except ValueError:
            raise Open311Error(400, "service_request_id: comma-separated numbers expected", fmt) from None
        stmt = stmt.where(Case.id.in_(ids))
    else:
        start = _date(start_date, "start_date", fmt)
        end = _date(end_date, "end_date", fmt)
        if start is None and end is None:
            start = svc.now_utc() - dt.timedelta(days=90)
        if start is not None:
            stmt = stmt.where(Case.reported_at >= start)
        if end is not None:
            stmt = stmt.where(Case.reported_at <= end)
        if service_code:
            stmt = stmt.where(Case.category_code.in_(service_code.split(",")))
        if status:
            wanted = set(status.split(","))
            if not wanted <= {"open", "closed"}:
                raise Open311Error(400, "status: open and/or closed", fmt)
            if wanted == {"open"}:
                stmt = stmt.where(Case.status.not_in(tuple(CLOSED)))
            elif wanted == {"closed"}:
                stmt = stmt.where(Case.status.in_(tuple(CLOSED)))
    rows = session.execute(stmt.order_by(Case.reported_at.desc(), Case.id.desc()).limit(1000)).all()
    return _out(fmt, "service_requests", "request", _rows(session, rows))


@router.get("/requests/{request_id}.{fmt}", summary="One service request",
            response_model=list[ServiceRequest], response_model_exclude_unset=True)
def request_one(request_id: str, fmt: str, session: ReadSessionDep) -> Response:
    fmt = _fmt(fmt)
    if not request_id.isdigit() or problem(request_id, whole=True):
        raise Open311Error(404, f"service_request_id {request_id!r} not found", fmt)
    row = session.execute(select(Case, func.ST_AsBinary(Case.geom))
                          .where(Case.id == int(request_id), _published())).first()
    if row is None:
        raise Open311Error(404, f"service_request_id {request_id} not found", fmt)
    return _out(fmt, "service_requests", "request", _rows(session, [row]))


def _fields(form: FormData) -> dict[str, str]:
    """The text fields of a form-encoded request (GeoReport v2 sends no files; one sent is ignored)."""
    return {k: v for k, v in form.multi_items() if isinstance(v, str)}


# the lengths a GeoReport form's fields may have: the description (with media_url and the attribute[...] values
# appended) as a case's description, the rest as names, codes, e-mails and phones
DESCRIPTION_MAX, FIELD_MAX, ATTRIBUTES_MAX = 4000, 300, 50


def _bounded(form: dict[str, str], fmt: str) -> dict[str, str]:
    """``form`` when its fields keep their lengths; 400 naming the first one that does not."""
    if sum(k.startswith("attribute[") for k in form) > ATTRIBUTES_MAX:
        raise Open311Error(400, f"attribute: at most {ATTRIBUTES_MAX} attributes", fmt)
    for name, value in form.items():
        limit = DESCRIPTION_MAX if name in ("description", "media_url") else FIELD_MAX
        if len(name) > FIELD_MAX or len(value) > limit:
            raise Open311Error(400, f"{name[:FIELD_MAX]}: at most {limit} characters", fmt)
        if "\x00" in name or "\x00" in value:
            raise Open311Error(400, f"{name[:FIELD_MAX].replace(chr(0), '')}: must not contain NUL characters", fmt)
    return form


def _float(form: dict[str, str], name: str, fmt: str) -> float | None:
    value = form.get(name)
    if value in (None, ""):
        return None
    try:
        return float(value)
    except ValueError:
        raise Open311Error(400, f"{name}: not a number: {value!r}", fmt) from None


@router.post("/requests.{fmt}", summary="File a service request (form-encoded, api_key required)",
             response_model=list[CreatedServiceRequest], response_model_exclude_unset=True)
async def create_request(fmt: str, raw_form: FormDep, session: SessionDep, settings: SettingsDep) -> Response:
    fmt = _fmt(fmt)
    form = _bounded(_fields(raw_form), fmt)
    actor = _guard(fmt, lambda: actor_for_key(session, form.get("api_key")))
    code = form.get("service_code")
    if not code:
        raise Open311Error(400, "service_code: required", fmt)
    lat, lon = _float(form, "lat", fmt), _float(form, "long", fmt)
    if lat is None or lon is None:
        if form.get("address_string") or form.get("address_id"):
            raise Open311Error(400, "lat/long: required; this endpoint does not geocode address_string", fmt)
        raise Open311Error(400, "lat/long: a location is required", fmt)
    media = form.get("media_url")
    description = form.get("description") or None
    if media:
        description = f"{description or ''}\nmedia: {media}".strip()
    attrs = {k: v for k, v in form.items() if k.startswith("attribute[")}
    if attrs:
        description = f"{description or ''}\n" + "; ".join(f"{k[10:-1]}={v}" for k, v in attrs.items())
    if description and len(description) > DESCRIPTION_MAX:
        raise Open311Error(400, f"description: at most {DESCRIPTION_MAX} characters with media_url and the "
                                "attributes", fmt)
    name = " ".join(x for x in (form.get("first_name"), form.get("last_name")) if x) or None
    client_id = form.get("client_id") or str(uuid.uuid4())
    result = _guard(fmt, lambda: svc.create_case(
        session, actor, settings, client_id=client_id, category=code, lon=lon, lat=lat,
        crs=form.get("crs") or "wgs84", description=description, address=form.get("address_string") or None,
        channel="open311", contact={"name": name, "email": form.get("email"), "phone": form.get("phone")}))
    row = {"service_request_id": str(result.case.id), "service_notice": "received; a grid worker checks it on site",
           "account_id": None}
    return _out(fmt, "service_requests", "request", [row], 201 if result.created else 200)


@router.post("/requests/{request_id}/rating.{fmt}", summary="Extension: rate a closed request (1–5)",
             response_model=list[ServiceRequest], response_model_exclude_unset=True)
async def rate_request(request_id: str, fmt: str, raw_form: FormDep, session: SessionDep,
                       settings: SettingsDep) -> Response:
    fmt = _fmt(fmt)
    form = _bounded(_fields(raw_form), fmt)
    actor = _guard(fmt, lambda: actor_for_key(session, form.get("api_key")))
    case = session.get(Case, int(request_id)) if request_id.isdigit() else None
    if case is None or not policy.open311_publishable(case.channel):
        raise Open311Error(404, f"service_request_id {request_id} not found", fmt)
    if case.api_key_id != actor.api_key_id:
        raise Open311Error(403, "only the client that filed a request can rate it", fmt)
    try:
        rating = int(form.get("rating", ""))
    except ValueError:
        raise Open311Error(400, "rating: a whole number from 1 to 5", fmt) from None
    resident = Actor(label=actor.label, role="admin", api_key_id=actor.api_key_id)

    def rate():
        if case.status != "closed":
            raise InvalidInput(f"the request is {case.status}; it can be rated once closed", field="rating")
        return svc.transition(session, resident, settings, case.id, "rate", rating=rating,
                              note=form.get("comment") or None)

    done = _guard(fmt, rate)
    wkb = session.scalar(select(func.ST_AsBinary(Case.geom)).where(Case.id == case.id))
    return _out(fmt, "service_requests", "request", _rows(session, [(done, wkb)]))
