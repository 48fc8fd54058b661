"""Many case reports in one request: a phone syncing its offline queue, or another system forwarding reports.

Each report is checked on its own and answered on its own (201 created, 200 already known by its ``client_id`` — to
the one who reported it; 409 without the case's id to anyone else —, or a 4xx error with the field; a ``channel`` is
refused with 422: the server sets it from the caller as for a single report), as
:func:`patrol.cases.service.create_case` would answer it alone; the accepted ones are written in one transaction.
To make this fast the work is set-based: one query for the known client ids, one for the nearby open and recently
closed cases (duplicate and recurrence hints), two bulk inserts, and points are located in memory against the
communities, grids and buildings (:mod:`geo.assign` indexes, kept per process while those layers stay the same).
A point on a shared edge goes to the lowest id, as in :func:`patrol.cases.service.locate`.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass

import numpy as np
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from geo.assign import PolygonIndex, build_polygon_index
from patrol.cases.numbers import assign_numbers
from patrol.cases.places import nearby, to_point
from patrol.cases.reference import ensure_categories
from patrol.cases.service import parse_client_id
from patrol.cases.times import occurrence
from patrol.cases.worktime import calendar
from patrol.core.auth import Actor
from patrol.core.errors import Conflict, Forbidden, GridPatrolError, InvalidInput
from patrol.core.frames import read_frame
from patrol.core.models import Building, Case, CaseEvent, Category, Community, Grid
from patrol.core.settings import Settings
from patrol.core.time import now_utc
from patrol.people.scope import FIELD_ROLES, in_micro_grid
from patrol.plans.service import grid_version

MAX_BATCH = 500
#: fields of a case's history that a report cannot set (each once ignored without a word), and what to do instead
HISTORY_FIELDS = {
    "reported_at": "send occurred_at (when it happened on the phone) with sent_at, or import a history with "
                   "gridpatrol cases import-history",
    "status": "a report starts at reported; import a history with its states with gridpatrol cases import-history",
    "closed_at": "import a history with its closing times with gridpatrol cases import-history",
}


@dataclass
class _Layer:
    ids: np.ndarray
    index: PolygonIndex | None

    def locate(self, x: np.ndarray, y: np.ndarray) -> list[int | None]:
        if self.index is None:
            return [None] * len(x)
        pos = self.index.query_xy(x, y)
        return [int(self.ids[p]) if p >= 0 else None for p in pos]


_layers: dict[tuple, dict[str, _Layer]] = {}
_lock = threading.Lock()


def _located(session: Session) -> dict[str, _Layer]:
    sig = tuple(session.execute(select(func.count(m.id), func.max(m.id))).one() for m in (Community, Grid, Building))
    # a published grid plan updates grids in place (same count and ids): its version is part of the key
    key = (session.get_bind().url.render_as_string(hide_password=False), sig, grid_version(session))
    with _lock:
        found = _layers.get(key)
    if found is not None:
        return found
    out = {}
    for name, model in (("community", Community), ("grid", Grid), ("building", Building)):
        frame = read_frame(session, [model.id], model.geom, order_by=[model.id])
        out[name] = _Layer(frame["id"].to_numpy(), build_polygon_index(frame.geometry) if len(frame) else None)
    with _lock:
        if len(_layers) > 8:
            _layers.clear()
        _layers[key] = out
    return out


def _error(exc: GridPatrolError) -> dict:
    return {"code": exc.code, "message": exc.message, "field": exc.field}


def _reported_by(actor: Actor, reporter_id: int | None, api_key_id: int | None) -> bool:
    """Was a stored case reported by ``actor`` (the same API key, or the same user)?"""
    if actor.api_key_id is not None:
        return api_key_id == actor.api_key_id
    return reporter_id is not None and reporter_id == actor.user_id


def _check_item(actor: Actor, item: dict, cat: Category | None, point: tuple[float, float], grid: int | None,
                community: int | None, existing_buildings: set[int]) -> None:
    """Raise the error a single report of ``item`` would get: category, location, the actor's area, building, sizes."""
    if cat is None or not cat.active:
        raise InvalidInput(f"unknown category {item.get('category')!r}; see GET /api/v1/categories",
                           field="category")
    if grid is None and community is None:
        raise InvalidInput(f"the point ({point[0]:.6f}, {point[1]:.6f}) lies outside every grid and community",
                           field="lat")
    if actor.role in ("grid_worker", "grid_lead") and grid not in actor.grid_ids:
        raise Forbidden("the point lies outside your grids", field="lat")
    if actor.role == "supervisor" and community != actor.community_id:
        raise Forbidden("the point lies outside your community", field="lat")
    if actor.role == "subdistrict" and community not in actor.community_ids:
        raise Forbidden("the point lies outside your subdistrict's communities", field="lat")
    if item.get("building_id") is not None and item["building_id"] not in existing_buildings:
        raise InvalidInput(f"no building {item['building_id']}", field="building_id")
    for name, limit in (("description", 4000), ("address", 300), ("floor", 20), ("unit_no", 20)):
        if item.get(name) is not None and len(str(item[name])) > limit:
            raise InvalidInput(f"{name} is longer than {limit} characters", field=name)


def _refuse_server_fields(item: dict) -> None:
    """A report may not set its channel (the server sets it from the caller, as for a single report) nor its
    history (:data:`HISTORY_FIELDS`, once silently ignored: a history sent here lost its times)."""
    if item.get("channel") is not None:
        raise InvalidInput("channel is set by the server from who reports (patrol, staff, open311); "
                           "leave it out", field="channel")
    for name, why in HISTORY_FIELDS.items():
        if item.get(name) is not None:
            raise InvalidInput(f"{name} is not taken by a report: {why}", field=name)


def create_cases(session: Session, actor: Actor, settings: Settings, items: list[dict], *,
                 now: dt.datetime | None = None, sent_at: object = None) -> list[dict]:
    """Create the cases of ``items`` (dicts with the fields of a single report); one result per item, in order:
    ``{"client_id", "status": 201|200|4xx, "id", "possible_duplicates", "recurrence_of", "error"}``. An item's
    ``occurred_at`` (with ``sent_at``, the device clock at sending) is when it was reported (patrol.cases.times)."""
    if len(items) > MAX_BATCH:
        raise InvalidInput(f"at most {MAX_BATCH} cases per batch, got {len(items)}", field="cases")
    if actor.role in ("planner", "department"):
        raise Forbidden(f"a {actor.role} cannot report cases", field="role")
    now = now or now_utc()
    cal = calendar(settings)
    results: list[dict] = [{"client_id": None, "status": None, "id": None, "possible_duplicates": [],
                            "recurrence_of": None, "error": None} for _ in items]
    ok: list[int] = []
    xs, ys = [], []
    for i, item in enumerate(items):
        try:
            results[i]["client_id"] = parse_client_id(item.get("client_id"))
            _refuse_server_fields(item)
            x, y = to_point(item.get("lon"), item.get("lat"), item.get("crs") or "wgs84")
            results[i]["occurred"] = occurrence(item.get("occurred_at"), sent_at, settings, now=now)
        except GridPatrolError as exc:
            results[i].update(status=exc.status_code, error=_error(exc))
            continue
        ok.append(i)
        xs.append(x)
        ys.append(y)
    # retries: client ids already stored (or twice in this batch) answer 200 with the first case — to its reporter
    cids = [results[i]["client_id"] for i in ok]
    known = {cid: (case_id, _reported_by(actor, user_id, key_id)) for cid, case_id, user_id, key_id in session.execute(
        select(Case.client_id, Case.id, Case.reporter_id, Case.api_key_id).where(Case.client_id.in_(cids)))} \
        if cids else {}
    if ok:
        ensure_categories(session)  # a fresh database: the shipped categories first
    cats = {c.code: c for c in session.scalars(select(Category).where(
        Category.code.in_({str(items[i].get("category")) for i in ok})))}
    layers = _located(session)
    ax, ay = np.array(xs, dtype=float), np.array(ys, dtype=float)
    coms, grids, blds = (layers[k].locate(ax, ay) for k in ("community", "grid", "building"))
    building_ids = {items[i]["building_id"] for i in ok if items[i].get("building_id") is not None}
    existing_buildings = set(session.scalars(select(Building.id).where(Building.id.in_(building_ids)))) \
        if building_ids else set()
    fresh: list[int] = []  # positions in ok
    first_in_batch: dict[str, int] = {}
    for k, i in enumerate(ok):
        item, cid = items[i], results[i]["client_id"]
        if cid in known:
            case_id, own = known[cid]
            if own:
                results[i].update(status=200, id=case_id)
            else:  # someone else's case: refused, and nothing of it (not its id)
                exc = Conflict("this client_id belongs to another case", field="client_id")
                results[i].update(status=exc.status_code, error=_error(exc))
            continue
        if cid in first_in_batch:
            results[i].update(status=200, id=None, error=None)
            results[i]["same_as"] = first_in_batch[cid]
            continue
        try:
            _check_item(actor, item, cats.get(str(item.get("category"))), (xs[k], ys[k]), grids[k], coms[k],
                        existing_buildings)
            if actor.role == "building_lead" and not in_micro_grid(session, actor, xs[k], ys[k],
                                                                    item.get("building_id")):
                raise Forbidden("a building lead reports only in her micro-grid (微网格)", field="lat")
        except GridPatrolError as exc:
            results[i].update(status=exc.status_code, error=_error(exc))
            continue
        first_in_batch[cid] = i
        fresh.append(k)
    if fresh:
        _insert(session, actor, settings, cal, items, results, ok, fresh, cats, xs, ys, coms, grids, blds, now)
    for r in results:  # a client id repeated inside the batch answers with the case of its first occurrence
        r.pop("occurred", None)
        if "same_as" in r:
            r["id"] = results[r.pop("same_as")]["id"]
    return results


def _insert(session: Session, actor: Actor, settings: Settings, cal, items, results, ok, fresh, cats, xs, ys, coms,
            grids, blds, now: dt.datetime) -> None:
    hints = nearby(session, [(items[ok[k]]["category"], xs[k], ys[k]) for k in fresh],
                   settings.duplicate_radius_m, now - dt.timedelta(days=settings.recurrence_days))
    channel = "open311" if actor.api_key_id else "patrol" if actor.role in FIELD_ROLES else "staff"
    rows = []
    deadlines: dict[tuple[float, dt.datetime], dt.datetime] = {}
    for n, k in enumerate(fresh):
        i = ok[k]
        item, cat = items[i], cats[str(items[i]["category"])]
        occ = results[i]["occurred"]
        level = cat.level if grids[k] is not None or cat.level != "grid" else "community"
        key = (cat.deadline_hours, occ.at)  # the deadline counts from when it was reported on the phone
        if key not in deadlines:
            deadlines[key] = cal.add_working_hours(occ.at, cat.deadline_hours)
        duplicates, recurrent = hints[n]
        results[i].update(possible_duplicates=duplicates, recurrence_of=max(recurrent, default=None))
        rows.append({
            "client_id": results[i]["client_id"], "category_code": cat.code, "status": "reported", "level": level,
            "channel": channel, "description": item.get("description"),
            "address": item.get("address"), "geom": f"SRID=4326;POINT({xs[k]!r} {ys[k]!r})",
            "input_crs": item.get("crs") or "wgs84", "community_id": coms[k], "grid_id": grids[k],
            "building_id": item.get("building_id") or blds[k], "floor": item.get("floor"),
            "unit_no": item.get("unit_no"), "reporter_id": actor.user_id, "api_key_id": actor.api_key_id,
            "reported_at": occ.at, "deadline_at": deadlines[key], "updated_at": now, **occ.columns(),
            "recurrence_of_id": results[i]["recurrence_of"], "rework_count": 0, "reopened_count": 0,
            "escalations": 0, "simulated": False,
        })
    made = session.execute(insert(Case).returning(Case.id, Case.client_id, sort_by_parameter_order=True), rows).all()
    ids = {cid: case_id for case_id, cid in made}
    at = {results[ok[k]]["client_id"]: results[ok[k]]["occurred"].at for k in fresh}
    assign_numbers(session, [(case_id, at[cid]) for case_id, cid in made], settings.timezone)
    events = []
    for n, k in enumerate(fresh):
        i = ok[k]
        occ = results[i]["occurred"]
        results[i].update(status=201, id=ids[results[i]["client_id"]])
        events.append({"case_id": results[i]["id"], "action": "report", "from_status": None, "to_status": "reported",
                       "level": rows[n]["level"], "actor_id": actor.user_id, "actor": actor.label, "at": occ.at,
                       "note": items[i].get("description"), "geom": rows[n]["geom"], **occ.columns()})
    session.execute(insert(CaseEvent), events)
