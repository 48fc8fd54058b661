"""12345 work orders in: each order (a row of the platform's export, or a pushed JSON object) becomes a
:class:`~patrol.core.models.HotlineOrder`, upserted by its order number (工单编号).

- Its address (事发地址) matched ONE building (:func:`geo.addresses.decide`): the order is ``placed`` at once, its
  case created — channel ``12345``, ``source="12345"`` + ``source_ref`` = the order number, reported at 受理时间,
  the deadline 办理时限, the caller as contact, located at the building's representative point.
- It matched none, or several too close to tell apart: the order is ``pending`` (待定位), with its best candidates,
  in the desk's queue until a supervisor places it (:func:`place_order`).
- Re-importing updates by order number: a changed description / deadline / category / contact updates the order and
  its case (a 补充 step on the case records it); nothing new: ``unchanged``; never a second case.

A file is all or nothing: every row is checked first; any refused row refuses the file (nothing written), and the
per-row report says which and why (:class:`ReportRow`).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import shapely
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from geo.addresses import AddressIndex, decide
from patrol.cases import service as svc
from patrol.cases.reference import ensure_categories
from patrol.cases.worktime import calendar
from patrol.core.auth import Actor
from patrol.core.errors import Conflict, GridPatrolError, InvalidInput, NotFound
from patrol.core.models import Building, Case, Category, HotlineOrder
from patrol.core.settings import Settings
from patrol.core.time import now_utc
from patrol.intake.addresses import building_index
from patrol.intake.hotline import bulk
from patrol.intake.hotline.mapping import Mapping, missing_columns, parse_deadline, parse_time
from patrol.intake.hotline.records import (
    CHANNEL,
    FIELDS,
    IMPORT_ACTOR,
    OUTCOMES,
    REPORT_HEADER,
    SOURCE,
    OrderIn,
    ReportRow,
    case_client_id,
)

# ------------------------------------------------------------------------------------------------ reading rows

def parse_row(mapping: Mapping, row: dict[str, str], add_working_hours: Callable | None = None
              ) -> tuple[OrderIn | None, list[str]]:
    """A file row as an order, or the problems with it (each naming the column)."""
    c = mapping.columns

    def get(name: str) -> str:
        return (row.get(c[name]) or "").strip() if name in c else ""

    problems: list[str] = []
    order_no, address, when = get("order_no"), get("address"), get("received_at")
    if not order_no:
        problems.append(f"{c['order_no']}: empty")
    if not address:
        problems.append(f"{c['address']}: empty")
    received = parse_time(when, mapping.received_formats, mapping.zone) if when else None
    if received is None:
        problems.append(f"{c['received_at']}: {when!r} is not a time in {' / '.join(mapping.received_formats)}"
                        if when else f"{c['received_at']}: empty")
    deadline = None
    if get("deadline"):  # checked even when 受理时间 is wrong: every problem of the row at once
        base = received or dt.datetime(2000, 1, 3, tzinfo=dt.UTC)
        deadline = parse_deadline(get("deadline"), mapping, base, add_working_hours)
        if deadline is None:
            problems.append(f"{c['deadline']}: {get('deadline')!r} is neither a time nor an amount (72, 72小时, "
                            "3天, 5个工作日)")
    elif received is not None and mapping.deadline_hours is not None:
        deadline = received + dt.timedelta(hours=mapping.deadline_hours)
    phone = get("contact_phone")
    if phone and not all(ch.isdigit() or ch in "+- ()" for ch in phone):
        problems.append(f"{c['contact_phone']}: {phone!r} is not a phone number")
    if problems or received is None:
        return None, problems
    text = get("category") or None
    return OrderIn(order_no, received, address, deadline, mapping.category_of(text), text, get("description") or None,
                   get("subdistrict") or None, get("urgency") or None, get("contact_name") or None, phone or None,
                   row), []


# ------------------------------------------------------------------------------------------- the address index
# (patrol.intake.addresses.building_index: the city's buildings, cached per map version)

def building_point(session: Session, building_id: int) -> tuple[float, float]:
    """A point inside the building (WGS-84 lon, lat); 404 naming ``building_id`` when there is no such building."""
    wkb = session.scalar(select(func.ST_AsBinary(Building.geom)).where(Building.id == building_id))
    if wkb is None:
        raise NotFound(f"no building {building_id}", field="building_id")
    p = shapely.from_wkb(bytes(wkb)).representative_point()
    return p.x, p.y


# ------------------------------------------------------------------------------------------------- placing

def _case_of(session: Session, order: HotlineOrder) -> Case | None:
    return session.get(Case, order.case_id) if order.case_id is not None else None


def place_order(session: Session, actor: Actor, settings: Settings, order: HotlineOrder, *,
                building_id: int | None = None, lon: float | None = None, lat: float | None = None,
                level: str | None = None) -> Case:
    """Create the case of ``order`` at a building (its representative point) or at a point (WGS-84); the order is
    ``placed``. The actor's scope applies (a supervisor places in her community only: 403 on ``lat``)."""
    if order.case_id is not None:
        raise Conflict(f"order {order.order_no} is placed already", field="order_no")
    if building_id is not None:
        lon, lat = building_point(session, building_id)
    elif lon is None or lat is None:
        raise InvalidInput("give building_id, or lon and lat", field="building_id")
    made = svc.create_case(
        session, actor, settings, client_id=case_client_id(order.order_no),
        category=order.category_code or bulk.OTHER, lon=lon, lat=lat, description=order.description,
        address=order.address, building_id=building_id, channel=CHANNEL,
        contact={"name": order.contact_name, "phone": order.contact_phone},
        now=order.received_at, deadline_at=order.deadline_at)
    case = made.case
    case.source, case.source_ref = SOURCE, order.order_no
    if level is not None:
        case.level = level
    order.state, order.case_id, order.updated_at = "placed", case.id, now_utc()
    session.flush()
    return case


def _try_place(session: Session, actor: Actor, settings: Settings, order: HotlineOrder, index: AddressIndex,
               level: str | None) -> str:
    """Match the order's address and place it when one building wins; else leave it pending with its
    candidates. Returns why it is pending ('' when placed)."""
    matches = index.match(order.address or "", top=3)
    places = bulk.places_of(session, {m.building_id for m in matches})
    order.candidates = json.dumps(bulk.candidates(matches, places), ensure_ascii=False)
    order.match_score = matches[0].score if matches else None
    chosen = decide(matches)
    why = "no building matches the address" if not matches else \
        "several buildings match the address" if chosen is None else ""
    if chosen is not None:
        try:
            with session.begin_nested():
                place_order(session, actor, settings, order, building_id=chosen, level=level)
            return ""
        except GridPatrolError as exc:
            why = f"the matched building cannot take a case: {exc.message}"
    order.state = "pending"
    order.community_id, order.subdistrict_id = bulk.desk_scope(matches, places, order.subdistrict_text,
                                                               bulk.areas(session))
    return why


# ------------------------------------------------------------------------------------------------- upserting

def _values(o: OrderIn) -> dict:
    return {k: getattr(o, k) for k in FIELDS}


def _update_case(session: Session, actor: Actor, settings: Settings, case: Case, changed: list[str],
                 order: HotlineOrder) -> None:
    """Bring a placed order's case in line with the order, and record it as a 补充 step when the case is open."""
    case.description, case.deadline_at = order.description, order.deadline_at or case.deadline_at
    case.category_code = order.category_code or case.category_code
    case.contact_name, case.contact_phone, case.address = order.contact_name, order.contact_phone, order.address
    try:
        with session.begin_nested():
            svc.transition(session, actor, settings, case.id, "supplement",
                           note=f"12345 工单 {order.order_no} 更新: {', '.join(changed)}")
    except GridPatrolError:
        pass  # a finished case takes no step; its fields follow the order all the same


def upsert(session: Session, actor: Actor, settings: Settings, o: OrderIn, index: AddressIndex | Callable,
           *, level: str | None = None) -> tuple[str, str]:
    """Insert or update one order; (outcome, why). ``index``: the address index, or a callable building it (only
    an order that must be matched builds it)."""
    order = session.scalar(select(HotlineOrder).where(HotlineOrder.order_no == o.order_no))
    if o.category_code is not None and session.get(Category, o.category_code) is None and \
            (not ensure_categories(session) or session.get(Category, o.category_code) is None):
        raise InvalidInput(f"order {o.order_no}: unknown category {o.category_code!r}", field="category")
    new = _values(o)
    raw = json.dumps(o.raw, ensure_ascii=False, default=str) if o.raw is not None else None
    if order is None:
        order = HotlineOrder(order_no=o.order_no, state="pending", raw=raw, **new)
        session.add(order)
        session.flush()
        why = _try_place(session, actor, settings, order, index() if callable(index) else index, level)
        return ("pending", why) if why else ("created", "")
    old = {k: getattr(order, k) for k in FIELDS}
    changed = [k for k in FIELDS if old[k] != new[k]]
    if not changed:
        return "unchanged", ""
    for k in changed:
        setattr(order, k, new[k])
    order.raw, order.updated_at = raw or order.raw, now_utc()
    case = _case_of(session, order)
    if case is not None:
        _update_case(session, actor, settings, case, changed, order)
        return "updated", "changed: " + ", ".join(changed)
    why = _try_place(session, actor, settings, order, index() if callable(index) else index, level) \
        if "address" in changed or "subdistrict_text" in changed else "still waiting to be placed (待定位)"
    return ("pending", "changed: " + ", ".join(changed) + "; " + why) if why else \
        ("updated", "changed: " + ", ".join(changed) + "; placed")


# --------------------------------------------------------------------------------------------- a whole file

@dataclass
class FileResult:
    rows: list[ReportRow]
    refused: bool

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.rows:
            out[r.result] = out.get(r.result, 0) + 1
        return out


def check_rows(mapping: Mapping, header: list[str], rows: Sequence[dict[str, str]],
               add_working_hours: Callable | None = None) -> tuple[list[tuple[int, OrderIn]], list[ReportRow],
                                                                    list[str]]:
    """Every row checked: the good orders (with their row numbers), the refused rows, and file-level problems."""
    problems = missing_columns(mapping, header)
    good: list[tuple[int, OrderIn]] = []
    refused: list[ReportRow] = []
    seen: dict[str, int] = {}
    col = mapping.columns["order_no"]
    for i, row in enumerate(rows, start=2):
        order, why = parse_row(mapping, row, add_working_hours)
        no = (row.get(col) or "").strip()
        if order is not None and order.order_no in seen:
            why = [f"{col} {order.order_no} repeats row {seen[order.order_no]}"]
            order = None
        if order is None:
            refused.append(ReportRow(i, no, "refused", "; ".join(why)))
        else:
            seen[order.order_no] = i
            good.append((i, order))
    return good, refused, problems


def import_table(session: Session, settings: Settings, mapping: Mapping, header: list[str],
                 rows: Sequence[dict[str, str]], *, actor: Actor = IMPORT_ACTOR) -> FileResult:
    """Import a whole file's rows, all or nothing: with any refused row (or a missing column) nothing is written and
    the result is ``refused`` (the good rows reported as refused too, naming the reason)."""
    cal = calendar(settings)
    good, refused, problems = check_rows(mapping, header, rows, cal.add_working_hours)
    if refused or problems:
        why = f"file refused: {len(refused)} row(s) refused" + (f"; {'; '.join(problems)}" if problems else "")
        out = refused + [ReportRow(i, o.order_no, "refused", why) for i, o in good]
        return FileResult(sorted(out, key=lambda r: r.row), True)
    cache: list[AddressIndex] = []

    def index() -> AddressIndex:
        if not cache:
            cache.append(building_index(session))
        return cache[0]

    known = bulk.known_orders(session, [o.order_no for _, o in good])
    report = bulk.import_new(session, settings, actor, [(i, o) for i, o in good if o.order_no not in known],
                             index(), level=mapping.level) if len(known) < len(good) else []
    for i, order in good:
        if order.order_no in known:
            result, why = upsert(session, actor, settings, order, index, level=mapping.level)
            report.append(ReportRow(i, order.order_no, result, why))
    return FileResult(sorted(report, key=lambda r: r.row), False)


def order_dict(order: HotlineOrder) -> dict:
    """An order as the API answers it (no personal data: contact fields are left out)."""
    cands = json.loads(order.candidates) if order.candidates else []
    return {"order_no": order.order_no, "state": order.state, "received_at": order.received_at,
            "deadline_at": order.deadline_at, "category_code": order.category_code,
            "category_text": order.category_text, "description": order.description, "address": order.address,
            "subdistrict_text": order.subdistrict_text, "urgency": order.urgency, "match_score": order.match_score,
            "candidates": cands, "case_id": order.case_id}


__all__ = ["CHANNEL", "FIELDS", "IMPORT_ACTOR", "OUTCOMES", "REPORT_HEADER", "SOURCE", "FileResult", "OrderIn",
           "ReportRow", "building_index", "building_point", "case_client_id", "check_rows",
           "import_table", "order_dict", "parse_row", "place_order", "upsert"]
