"""New work orders set-based: a 12345 export brings thousands of orders at a time (100,000 in the bench), and the
per-order path (:func:`patrol.intake.hotline.orders.upsert`: one ``create_case`` each, ~15 ms) would take the best
part of an hour for them. Here the orders a file brings for the first time are matched in memory, and their cases,
report steps and order rows are written with a handful of multi-row INSERTs, as the phone's batch of reports is
(:mod:`patrol.cases.batch`). The result is the one the per-order path gives: a placed order's case sits at the
matched building's representative point, in the building's community and grid, reported at 受理时间 with the
order's deadline (else the category's, in working hours from 受理时间); an order matching no building or several
waits in 待定位 with its candidates and its desk scope. Orders already known take the per-order path (an update)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import shapely
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from geo.addresses import AddressIndex, Match, decide
from patrol.cases.numbers import assign_numbers
from patrol.cases.reference import ensure_categories
from patrol.cases.worktime import WorkCalendar, calendar
from patrol.core.auth import Actor
from patrol.core.models import Building, Case, CaseEvent, Category, Community, HotlineOrder, Subdistrict
from patrol.core.settings import Settings
from patrol.core.time import now_utc
from patrol.intake.hotline.records import CHANNEL, SOURCE, OrderIn, ReportRow, case_client_id

#: the default category of an order whose 诉求分类 the mapping does not name (patrol/data/hotline_mapping.yaml)
OTHER = "C0117"
_CHUNK = 2000


@dataclass
class Place:
    community_id: int | None
    grid_id: int | None
    point: tuple[float, float]
    words: str


def _chunks(values: Sequence, n: int = _CHUNK) -> Iterable[Sequence]:
    for i in range(0, len(values), n):
        yield values[i:i + n]


def known_orders(session: Session, numbers: Sequence[str]) -> set[str]:
    """The order numbers among ``numbers`` that are in the database already."""
    found: set[str] = set()
    for part in _chunks(list(numbers)):
        found |= set(session.scalars(select(HotlineOrder.order_no).where(HotlineOrder.order_no.in_(part))))
    return found


def places_of(session: Session, ids: set[int]) -> dict[int, Place]:
    """The candidate buildings: community, grid, a point inside, and their words for the desk."""
    out: dict[int, Place] = {}
    for part in _chunks(sorted(ids)):
        rows = session.execute(select(Building.id, Building.community_id, Building.grid_id,
                                      func.ST_AsBinary(Building.geom), Building.label, Building.address,
                                      Building.name).where(Building.id.in_(part))).all()
        for bid, com, grid, wkb, label, address, name in rows:
            p = shapely.from_wkb(bytes(wkb)).representative_point()
            out[bid] = Place(com, grid, (p.x, p.y), label or address or name or "")
    return out


def _case_row(o: OrderIn, place: Place, building_id: int, cat: Category, cal: WorkCalendar, actor: Actor,
              level: str | None, now: dt.datetime) -> dict:
    lvl = level or (cat.level if place.grid_id is not None or cat.level != "grid" else "community")
    return {
        "client_id": case_client_id(o.order_no), "category_code": cat.code, "status": "reported", "level": lvl,
        "channel": CHANNEL, "description": o.description, "address": o.address,
        "geom": f"SRID=4326;POINT({place.point[0]!r} {place.point[1]!r})", "input_crs": "wgs84",
        "community_id": place.community_id, "grid_id": place.grid_id, "building_id": building_id,
        "reporter_id": actor.user_id, "api_key_id": actor.api_key_id, "contact_name": o.contact_name,
        "contact_phone": o.contact_phone, "reported_at": o.received_at, "received_at": o.received_at,
        "deadline_at": o.deadline_at or cal.add_working_hours(o.received_at, cat.deadline_hours),
        "updated_at": now, "source": SOURCE, "source_ref": o.order_no, "rework_count": 0, "reopened_count": 0,
        "escalations": 0, "simulated": False,
    }


def _order_row(o: OrderIn, now: dt.datetime) -> dict:
    raw = json.dumps(o.raw, ensure_ascii=False, default=str) if o.raw is not None else None
    return {"order_no": o.order_no, "received_at": o.received_at, "deadline_at": o.deadline_at,
            "category_code": o.category_code, "category_text": o.category_text, "description": o.description,
            "address": o.address, "subdistrict_text": o.subdistrict_text, "urgency": o.urgency,
            "contact_name": o.contact_name, "contact_phone": o.contact_phone, "raw": raw, "imported_at": now,
            "updated_at": now}


@dataclass
class Areas:
    """Subdistricts by name and each community's subdistrict: where a pending order's desk scope comes from."""

    subdistricts: dict[str, int]
    community_subdistrict: dict[int, int]


def areas(session: Session) -> Areas:
    return Areas({name: sid for name, sid in session.execute(select(Subdistrict.name, Subdistrict.id))},
                 {cid: sid for cid, sid in session.execute(select(Community.id, Community.subdistrict_id))})


def candidates(matches: list[Match], places: dict[int, Place]) -> list[dict]:
    """The candidates as stored on the order: building id, score, and the building's words."""
    return [{"building_id": m.building_id, "score": round(m.score, 3),
             "label": m.label or (places[m.building_id].words if m.building_id in places else "")}
            for m in matches]


def desk_scope(matches: list[Match], places: dict[int, Place], subdistrict_text: str | None,
               known: Areas) -> tuple[int | None, int | None]:
    """(community, subdistrict) of a pending order on the desk: the community all its candidates lie in (when they
    agree), the subdistrict named by 所属街道, else that community's."""
    coms = {places[m.building_id].community_id for m in matches if m.building_id in places}
    community = coms.pop() if len(coms) == 1 else None
    sub = known.subdistricts.get(subdistrict_text.strip()) if subdistrict_text else None
    if sub is None and community is not None:
        sub = known.community_subdistrict.get(community)
    return community, sub


def _pending(row: dict, matches: list[Match], places: dict[int, Place], known: Areas) -> None:
    community, sub = desk_scope(matches, places, row["subdistrict_text"], known)
    row.update(state="pending", candidates=json.dumps(candidates(matches, places), ensure_ascii=False),
               match_score=matches[0].score if matches else None, community_id=community, subdistrict_id=sub)


def import_new(session: Session, settings: Settings, actor: Actor, orders: Sequence[tuple[int, OrderIn]],
               index: AddressIndex, *, level: str | None = None) -> list[ReportRow]:
    """Write orders that are not in the database yet (the caller checked), in the caller's transaction; one
    report row each (created, or pending with why)."""
    if not orders:
        return []
    now, cal = now_utc(), calendar(settings)
    ensure_categories(session)
    cats = {c.code: c for c in session.scalars(select(Category))}
    matched = [(i, o, index.match(o.address or "", top=3)) for i, o in orders]
    chosen = [decide(ms) for _, _, ms in matched]
    places = places_of(session, {m.building_id for _, _, ms in matched for m in ms})
    known = areas(session)
    order_rows, case_rows, report = [], [], []
    for (i, o, matches), building in zip(matched, chosen, strict=True):
        row = _order_row(o, now)
        place = places.get(building) if building is not None else None
        if place is not None and place.community_id is not None:
            cat = cats.get(o.category_code or OTHER) or cats[OTHER]
            case_rows.append(_case_row(o, place, building, cat, cal, actor, level, now))
            row.update(state="placed", candidates=None, match_score=matches[0].score, community_id=None,
                       subdistrict_id=None)
            report.append(ReportRow(i, o.order_no, "created"))
        else:
            _pending(row, matches, places, known)
            why = "no building matches the address" if not matches else \
                "several buildings match the address" if building is None else \
                "the matched building lies outside every community"
            report.append(ReportRow(i, o.order_no, "pending", why))
        order_rows.append(row)
    case_ids = _write_cases(session, case_rows, actor, settings)
    for row in order_rows:
        row["case_id"] = case_ids.get(row["order_no"])
    for part in _chunks(order_rows):
        session.execute(insert(HotlineOrder), list(part))
    return report


def _write_cases(session: Session, rows: list[dict], actor: Actor, settings: Settings) -> dict[str, int]:
    """The cases, their numbers and their report steps; order number → case id."""
    ids: dict[str, int] = {}
    for part in _chunks(rows):
        made = session.execute(insert(Case).returning(Case.id, Case.source_ref, sort_by_parameter_order=True),
                               list(part)).all()
        ids.update({ref: cid for cid, ref in made})
        assign_numbers(session, [(cid, r["reported_at"]) for (cid, _), r in zip(made, part, strict=True)],
                       settings.timezone)
        session.execute(insert(CaseEvent), [
            {"case_id": cid, "action": "report", "from_status": None, "to_status": "reported", "level": r["level"],
             "actor_id": actor.user_id, "actor": actor.label, "at": r["reported_at"], "note": r["description"],
             "geom": r["geom"], "received_at": r["received_at"]} for (cid, _), r in zip(made, part, strict=True)])
    return ids
