"""Inspections (隐患排查): a checklist answered at a building, a shop or a place, its failed items opening cases to be
rectified by a deadline (限期整改), photos, the monthly reports and what is due next for the phone.

Phones work offline and retry, so an inspection is idempotent by its ``client_id``: the same inspection sent again
returns what was stored and creates nothing. The cases its findings open get client ids derived from it (UUID-5 of
the inspection's client id and the item id), so even a retry that races the first attempt cannot open a case twice.
Everything one inspection writes — the inspection, its findings, their cases — is written in the caller's
transaction: all of it or none.

Who: a grid worker inspects the targets of her grids, a supervisor those of her community; the findings' cases are
created with that same actor, so :func:`patrol.cases.service.create_case` applies its usual scope rules. Reading follows
the shops' rule (:func:`patrol.surveys.shops.may_read`): her grids, her community, or all for admins and planners.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import uuid
from zoneinfo import ZoneInfo

import shapely
from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from patrol.cases.images import inspect, strip_metadata, thumbnail
from patrol.cases.lifecycle import OPEN
from patrol.cases.photos import store_photo
from patrol.cases.places import locate, to_point
from patrol.cases.service import create_case, parse_client_id
from patrol.cases.worktime import month_bounds
from patrol.city.labels import display_label, label_column
from patrol.core.auth import Actor
from patrol.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from patrol.core.frames import ewkt
from patrol.core.models import (
    Building,
    Case,
    Checklist,
    Grid,
    Inspection,
    InspectionFinding,
    InspectionPhoto,
    Shop,
)
from patrol.core.settings import Settings
from patrol.core.time import iso, now_utc
from patrol.surveys import checklists as cl
from patrol.surveys.shops import building_place, grid_scope, may_read, parse_shop_code

FUTURE_SKEW = dt.timedelta(minutes=5)  # a phone clock may run a little ahead
DUE_LIMIT = 200


def finding_case_client_id(inspection_client_id: str, item_id: str) -> str:
    """The client id of the case a failed item opens: the same inspection retried opens the same case."""
    return str(uuid.uuid5(uuid.UUID(inspection_client_id), f"finding/{item_id}"))


# ---------------------------------------------------------------------------------------------- the target


class _Target:
    """What an inspection is about, where it is and whose it is."""

    def __init__(self, *, building_id: int | None, shop: Shop | None, place_name: str | None, grid_id: int | None,
                 community_id: int | None, lon: float, lat: float, address: str | None) -> None:
        self.building_id, self.shop, self.place_name = building_id, shop, place_name
        self.grid_id, self.community_id = grid_id, community_id
        self.lon, self.lat, self.address = lon, lat, address


def _point_on(session: Session, model, row_id: int) -> tuple[float, float]:
    geom = model.geom
    expr = func.ST_PointOnSurface(geom) if model is Building else geom
    x, y = session.execute(select(func.ST_X(expr), func.ST_Y(expr)).where(model.id == row_id)).one()
    return float(x), float(y)


def _resolve_target(session: Session, checklist: Checklist, *, building_id: int | None, shop_code: str | None,
                    place_name: str | None, lon: float | None, lat: float | None, crs: str) -> _Target:
    target = checklist.target
    given = {"building_id": building_id, "shop_code": shop_code, "place_name": place_name}
    wanted = {"building": "building_id", "shop": "shop_code", "place": "place_name"}[target]
    extra = [k for k, v in given.items() if v is not None and k != wanted]
    if extra:
        raise InvalidInput(f"checklist {checklist.code} inspects a {target}: give {wanted}, not {', '.join(extra)}",
                           field=extra[0])
    if given[wanted] is None or (target == "place" and not str(place_name).strip()):
        raise InvalidInput(f"checklist {checklist.code} inspects a {target}: {wanted} is required", field=wanted)
    if target == "building":
        b, grid_id, community_id = building_place(session, building_id)
        x, y = _point_on(session, Building, b.id)
        return _Target(building_id=b.id, shop=None, place_name=None, grid_id=grid_id, community_id=community_id,
                       lon=x, lat=y, address=b.address or b.name)
    if target == "shop":
        code = parse_shop_code(shop_code, field="shop_code")
        shop = session.scalars(select(Shop).where(Shop.code == code)).first()
        if shop is None:
            raise InvalidInput(f"no shop {code}", field="shop_code")
        if not shop.active:
            raise InvalidInput(f"shop {code} ({shop.name}) is closed (inactive)", field="shop_code")
        _, grid_id, community_id = building_place(session, shop.building_id)
        x, y = _point_on(session, Shop, shop.id)
        return _Target(building_id=shop.building_id, shop=shop, place_name=None, grid_id=grid_id,
                       community_id=community_id, lon=x, lat=y, address=f"{shop.name} {shop.address or ''}".strip())
    if lon is None or lat is None:
        raise InvalidInput(f"checklist {checklist.code} inspects a place: give lon and lat with place_name",
                           field="lat")
    name = place_name.strip()
    if len(name) > 200:
        raise InvalidInput("place_name: at most 200 characters", field="place_name")
    x, y = to_point(lon, lat, crs)
    where = locate(session, x, y)
    if where.grid_id is None:
        raise InvalidInput(f"the place ({x:.6f}, {y:.6f}) lies outside every grid", field="lat")
    community = session.scalar(select(Grid.community_id).where(Grid.id == where.grid_id))
    return _Target(building_id=None, shop=None, place_name=name, grid_id=where.grid_id, community_id=community,
                   lon=x, lat=y, address=name)


def _may_inspect(actor: Actor, t: _Target) -> None:
    if actor.role == "grid_worker":
        if t.grid_id is None or t.grid_id not in actor.grid_ids:
            raise Forbidden("the inspected target lies outside your grids", field="building_id")
    elif actor.role == "supervisor":
        if t.community_id is None or t.community_id != actor.community_id:
            raise Forbidden("the inspected target lies outside your community", field="building_id")
    else:
        raise Forbidden(f"a {actor.role} does not inspect: grid workers and supervisors do", field="role")


def _time(time: dt.datetime | None, now: dt.datetime) -> dt.datetime:
    if time is None:
        return now
    if time.tzinfo is None:
        raise InvalidInput("time needs a timezone, e.g. 2026-11-20T09:30:00+08:00", field="time")
    if time > now + FUTURE_SKEW:
        raise InvalidInput(f"time {time.isoformat()} is in the future", field="time")
    return time


# ---------------------------------------------------------------------------------------------- recording


def record_inspection(session: Session, actor: Actor, settings: Settings, *, client_id: str, checklist_id: int,
                      answers: dict, building_id: int | None = None, shop_code: str | None = None,
                      place_name: str | None = None, lon: float | None = None, lat: float | None = None,
                      crs: str = "wgs84", time: dt.datetime | None = None, note: str | None = None,
                      now: dt.datetime | None = None) -> tuple[dict, bool]:
    """Store an inspection answered against the checklist version ``checklist_id`` and open a case for each failed
    item with a category, due ``time`` + deadline_days. Returns (the result body, created); a retried client id
    returns the stored result with created False and writes nothing.

    A checklist's ``applies_to`` decides what is planned and due, not what may be inspected: a worker who finds a
    stairwell above a shop (building=retail) can still inspect it."""
    cid = parse_client_id(client_id)
    found = session.scalars(select(Inspection).where(Inspection.client_id == cid)).first()
    if found is not None:
        if found.worker_id != actor.user_id and not _readable(session, actor, found):
            raise Conflict("this client_id belongs to another inspection", field="client_id")
        return result_of(session, found), False
    checklist = session.get(Checklist, checklist_id) if isinstance(checklist_id, int) else None
    if checklist is None:
        raise InvalidInput(f"no checklist version with id {checklist_id}; see GET /api/v1/checklists",
                           field="checklist_id")
    target = _resolve_target(session, checklist, building_id=building_id, shop_code=shop_code,
                             place_name=place_name, lon=lon, lat=lat, crs=crs)
    _may_inspect(actor, target)
    now = now or now_utc()
    at = _time(time, now)
    defn = cl.definition_of(checklist)
    problems = cl.validate_answers(defn, answers)
    if problems:
        n = len(problems)
        raise InvalidInput(f"the answers have {n} problem{'s' if n != 1 else ''} ({checklist.code} "
                           f"v{checklist.version})", field="answers", details=problems)
    if note is not None and len(note) > 4000:
        raise InvalidInput("note: at most 4000 characters", field="note")
    failed = cl.failed_items(defn, answers)
    where = (lon, lat) if lon is not None and lat is not None and checklist.target != "place" else None
    stood = to_point(*where, crs) if where else (target.lon, target.lat)
    insp = Inspection(client_id=cid, checklist_id=checklist.id, worker_id=actor.user_id, grid_id=target.grid_id,
                      building_id=target.building_id, shop_id=target.shop.id if target.shop else None,
                      place_name=target.place_name, at=at, answers=json.dumps(answers, ensure_ascii=False,
                                                                              sort_keys=True),
                      failed=len(failed), note=note, geom=ewkt([shapely.Point(*stood)])[0])
    session.add(insp)
    session.flush()
    for f in failed:
        deadline = at + dt.timedelta(days=f["deadline_days"]) if f["deadline_days"] else None
        case_id = None
        if f["category"]:
            created = create_case(
                session, actor, settings, client_id=finding_case_client_id(cid, f["item"]), category=f["category"],
                lon=target.lon, lat=target.lat, description=f"{defn['title']['zh']} · {f['text']['zh']}",
                address=(target.address or None) and target.address[:300], building_id=target.building_id,
                channel="inspection", deadline_at=deadline, now=at)
            case_id = created.case.id
            deadline = deadline or created.case.deadline_at
        session.add(InspectionFinding(inspection_id=insp.id, item_id=f["item"], category_code=f["category"],
                                      case_id=case_id, deadline_at=deadline))
    session.flush()
    return result_of(session, insp), True


def result_of(session: Session, insp: Inspection) -> dict:
    """The answer to POST /inspections: ``{id, client_id, failed, findings: [{item, category, case_id,
    deadline_at}]}``."""
    findings = session.scalars(select(InspectionFinding).where(InspectionFinding.inspection_id == insp.id)
                               .order_by(InspectionFinding.id))
    return {"id": insp.id, "client_id": insp.client_id, "failed": insp.failed,
            "findings": [{"item": f.item_id, "category": f.category_code, "case_id": f.case_id,
                          "deadline_at": iso(f.deadline_at)} for f in findings]}


# ---------------------------------------------------------------------------------------------- photos


def _inspection_by_client_id(session: Session, client_id: str) -> Inspection:
    cid = parse_client_id(client_id, field="inspection_client_id")
    insp = session.scalars(select(Inspection).where(Inspection.client_id == cid)).first()
    if insp is None:
        raise NotFound(f"no inspection with client_id {cid} (send the inspection before its photos)",
                       field="inspection_client_id")
    return insp


def add_photo(session: Session, actor: Actor, settings: Settings, inspection_client_id: str, *, item: str,
              client_id: str, data: bytes) -> tuple[InspectionPhoto, bool]:
    """Attach a photo to a photo item of an inspection (checked by content, served without metadata, as case
    photos). A retried photo client id returns the stored photo. When the item — or the item its condition refers
    to — opened a case, the photo is attached to that case too (the before-photo of the rectification)."""
    insp = _inspection_by_client_id(session, inspection_client_id)
    if not (insp.worker_id == actor.user_id or (actor.role == "supervisor" and _readable(session, actor, insp))):
        raise Forbidden("photos are added by whoever made the inspection (or the community's supervisor)",
                        field="inspection_client_id")
    pid = parse_client_id(client_id)
    found = session.scalars(select(InspectionPhoto).where(InspectionPhoto.client_id == pid)).first()
    if found is not None:
        if found.inspection_id != insp.id:
            raise Conflict("this photo client_id belongs to another inspection", field="client_id")
        return found, False
    checklist = session.get(Checklist, insp.checklist_id)
    defn = cl.definition_of(checklist)
    photo_items = cl.photo_items(defn)
    if item not in photo_items:
        raise InvalidInput(f"{item!r} is not a photo item of {checklist.code} v{checklist.version} (photo items: "
                           f"{', '.join(photo_items) or 'none'})", field="item")
    info = inspect(data, max_bytes=settings.photo_max_bytes)
    same = session.scalars(select(InspectionPhoto).where(InspectionPhoto.inspection_id == insp.id,
                                                         InspectionPhoto.item_id == item,
                                                         InspectionPhoto.sha256 == info.sha256)).first()
    if same is not None:
        return same, False
    photo = InspectionPhoto(client_id=pid, inspection_id=insp.id, item_id=item, sha256=info.sha256, mime=info.mime,
                            width=info.width, height=info.height, data=strip_metadata(data), thumbnail=thumbnail(data))
    session.add(photo)
    session.flush()
    spec = photo_items[item]
    linked = {item} | {spec[k]["item"] for k in ("required_if", "show_if") if spec.get(k)}
    case_ids = session.scalars(select(InspectionFinding.case_id).where(
        InspectionFinding.inspection_id == insp.id, InspectionFinding.item_id.in_(linked),
        InspectionFinding.case_id.is_not(None)))
    for case_id in sorted(set(case_ids)):
        store_photo(session, actor, case_id, data, max_bytes=settings.photo_max_bytes, timezone=settings.timezone)
    return photo, True


def get_photo(session: Session, actor: Actor, photo_id: int) -> InspectionPhoto:
    photo = session.get(InspectionPhoto, photo_id)
    if photo is None:
        raise NotFound(f"no inspection photo {photo_id}", field="photo_id")
    get_inspection(session, actor, photo.inspection_id)
    return photo


# ---------------------------------------------------------------------------------------------- reading


def _community_of_grid(session: Session, grid_id: int | None) -> int | None:
    return session.scalar(select(Grid.community_id).where(Grid.id == grid_id)) if grid_id is not None else None


def _readable(session: Session, actor: Actor, insp: Inspection) -> bool:
    if actor.role == "grid_worker" and insp.worker_id == actor.user_id:
        return True
    return may_read(actor, insp.grid_id, _community_of_grid(session, insp.grid_id))


def get_inspection(session: Session, actor: Actor, inspection_id: int) -> Inspection:
    grid_scope(session, actor)  # departments and others: 403 before anything is looked up
    insp = session.get(Inspection, inspection_id)
    if insp is None:
        raise NotFound(f"no inspection {inspection_id}", field="inspection_id")
    if not _readable(session, actor, insp):
        raise Forbidden(f"inspection {inspection_id} is outside your scope ({actor.role})", field="inspection_id")
    return insp


def _scope_where(session: Session, actor: Actor) -> list:
    grids = grid_scope(session, actor)
    if grids is None:
        return []
    if actor.role == "grid_worker":
        return [or_(Inspection.grid_id.in_(grids or [-1]), Inspection.worker_id == actor.user_id)]
    return [Inspection.grid_id.in_(grids or [-1])]


def list_inspections(session: Session, actor: Actor, *, grid_id: int | None = None, month: str | None = None,
                     checklist: str | None = None, shop_code: str | None = None, timezone: str = "Asia/Shanghai",
                     limit: int = 1000) -> list[dict]:
    """Inspections the actor may read, newest first, filtered by grid, month (YYYY-MM, city time), checklist code
    and shop code."""
    where = _scope_where(session, actor)
    if grid_id is not None:
        grids = grid_scope(session, actor)
        if grids is not None and grid_id not in grids:
            raise Forbidden(f"grid {grid_id} is outside your scope", field="grid_id")
        where.append(Inspection.grid_id == grid_id)
    if month is not None:
        _, start, end = month_bounds(month, timezone)
        where += [Inspection.at >= start, Inspection.at < end]
    if checklist:
        where.append(Checklist.code == checklist)
    if shop_code:
        where.append(Shop.code == parse_shop_code(shop_code, field="shop_code"))
    rows = session.execute(
        select(Inspection, Checklist, Shop.code, Shop.name, func.ST_X(Inspection.geom), func.ST_Y(Inspection.geom))
        .join(Checklist, Checklist.id == Inspection.checklist_id).outerjoin(Shop, Shop.id == Inspection.shop_id)
        .where(*where).order_by(Inspection.at.desc(), Inspection.id.desc()).limit(limit)).all()
    return [_summary(i, c, code, name, x, y) for i, c, code, name, x, y in rows]


def _summary(insp: Inspection, c: Checklist, shop_code: str | None, shop_name: str | None, x, y) -> dict:
    return {"id": insp.id, "client_id": insp.client_id, "checklist_id": c.id, "checklist": c.code,
            "version": c.version, "title": {"zh": c.title_zh, "en": c.title_en}, "target": c.target,
            "building_id": insp.building_id, "shop_code": shop_code, "shop_name": shop_name,
            "place_name": insp.place_name, "grid_id": insp.grid_id, "worker_id": insp.worker_id,
            "at": iso(insp.at), "failed": insp.failed, "lon": x, "lat": y, "simulated": insp.simulated}


def inspection_detail(session: Session, insp: Inspection) -> dict:
    """One inspection: its summary, answers, findings with the current status of their cases, and photos (with
    the photo ids its answers announced that have not arrived yet)."""
    c = session.get(Checklist, insp.checklist_id)
    shop = session.get(Shop, insp.shop_id) if insp.shop_id else None
    x, y = session.execute(select(func.ST_X(Inspection.geom), func.ST_Y(Inspection.geom))
                           .where(Inspection.id == insp.id)).one()
    out = _summary(insp, c, shop.code if shop else None, shop.name if shop else None, x, y)
    defn = cl.definition_of(c)
    texts = {i["id"]: i["text"] for i in defn["items"]}
    answers = json.loads(insp.answers)
    out["answers"], out["note"] = answers, insp.note
    rows = session.execute(select(InspectionFinding, Case.status).outerjoin(Case, Case.id == InspectionFinding.case_id)
                           .where(InspectionFinding.inspection_id == insp.id).order_by(InspectionFinding.id)).all()
    out["findings"] = [{"item": f.item_id, "text": texts.get(f.item_id), "category": f.category_code,
                        "case_id": f.case_id, "case_status": status, "deadline_at": iso(f.deadline_at)}
                       for f, status in rows]
    photos = session.execute(select(InspectionPhoto.id, InspectionPhoto.client_id, InspectionPhoto.item_id,
                                    InspectionPhoto.mime).where(InspectionPhoto.inspection_id == insp.id)
                             .order_by(InspectionPhoto.id)).all()
    out["photos"] = [{"id": p, "client_id": pc, "item": item, "mime": mime, "url": f"/api/v1/inspection-photos/{p}",
                      "thumbnail": f"/api/v1/inspection-photos/{p}?thumb=1"} for p, pc, item, mime in photos]
    have = {pc for _, pc, _, _ in photos}
    announced = [str(uuid.UUID(p)) for item in cl.photo_items(defn) for p in (answers.get(item) or [])]
    out["photos_missing"] = [p for p in announced if p not in have]
    return out


# ---------------------------------------------------------------------------------------------- targets


def _building_targets(session: Session, defn: dict, grid_ids: list[int] | None):
    """Buildings a building checklist applies to: households > 0 and, with applies_to, of the uses listed."""
    where = [Building.households > 0, Building.grid_id.is_not(None)]
    uses = (defn.get("applies_to") or {}).get("building_use")
    if uses:
        where.append(Building.use.in_(uses))
    if grid_ids is not None:
        where.append(Building.grid_id.in_(grid_ids or [-1]))
    return where


def _checklist_ids(session: Session, code: str) -> list[int]:
    return list(session.scalars(select(Checklist.id).where(Checklist.code == code)))


def inspection_report(session: Session, actor: Actor, month: str | None = None, *,
                      timezone: str = "Asia/Shanghai") -> dict:
    """Per grid in scope × active checklist: planned (targets × 30 / frequency_days, rounded up; 0 without a
    frequency), done (inspections in the month) and failed (of those, inspections with a failed item).

    Targets: buildings the checklist applies to with households; active shops; for places, the distinct place
    names inspected in the grid before the month."""
    label, start, end = month_bounds(month, timezone)
    grids = grid_scope(session, actor)
    grid_rows = session.execute(select(Grid.id, Grid.code).where(
        *([Grid.id.in_(grids or [-1])] if grids is not None else [])).order_by(Grid.code)).all()
    ids = [g for g, _ in grid_rows]
    rows = []
    for c in cl.latest_checklists(session):
        defn = cl.definition_of(c)
        versions = _checklist_ids(session, c.code)
        if c.target == "building":
            targets = dict(session.execute(select(Building.grid_id, func.count(Building.id))
                                           .where(*_building_targets(session, defn, ids))
                                           .group_by(Building.grid_id)).all())
        elif c.target == "shop":
            targets = dict(session.execute(select(Building.grid_id, func.count(Shop.id))
                                           .join(Building, Building.id == Shop.building_id)
                                           .where(Shop.active, Building.grid_id.in_(ids or [-1]))
                                           .group_by(Building.grid_id)).all())
        else:
            targets = dict(session.execute(
                select(Inspection.grid_id, func.count(func.distinct(Inspection.place_name)))
                .where(Inspection.checklist_id.in_(versions), Inspection.at < start,
                       Inspection.grid_id.in_(ids or [-1]), Inspection.place_name.is_not(None))
                .group_by(Inspection.grid_id)).all())
        done = {g: (n, f or 0) for g, n, f in session.execute(
            select(Inspection.grid_id, func.count(Inspection.id),
                   func.sum(case((Inspection.failed > 0, 1), else_=0)))
            .where(Inspection.checklist_id.in_(versions), Inspection.at >= start, Inspection.at < end,
                   Inspection.grid_id.in_(ids or [-1]))
            .group_by(Inspection.grid_id)).all()}
        for g, code in grid_rows:
            n = int(targets.get(g, 0))
            planned = math.ceil(n * 30 / c.frequency_days) if c.frequency_days else 0
            d, f = done.get(g, (0, 0))
            rows.append({"grid_id": g, "grid_code": code, "checklist": c.code,
                         "title": {"zh": c.title_zh, "en": c.title_en}, "targets": n, "planned": planned,
                         "done": int(d), "failed": int(f)})
    rows.sort(key=lambda r: (r["grid_code"], r["checklist"]))
    return {"month": label, "rows": rows}


def prorate(report: dict, today: dt.date) -> dict:
    """``report`` (of :func:`inspection_report`) with each row's plan pro-rated to the days of its month elapsed
    by ``today`` (included) when the month is today's (按已过天数折算, rounded up): a month's plan is not due in
    its first days. ``planned_month`` keeps the whole month's plan; ``prorated`` is ``{"days": elapsed, "of":
    days in the month}``, or None for a past (or future) month, whose plan stays whole."""
    if report["month"] != f"{today:%Y-%m}":
        return {**report, "prorated": None, "rows": [{**r, "planned_month": r["planned"]} for r in report["rows"]]}
    days = (today.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - today.replace(day=1)
    of = days.days
    rows = [{**r, "planned_month": r["planned"], "planned": math.ceil(r["planned"] * today.day / of)}
            for r in report["rows"]]
    return {**report, "rows": rows, "prorated": {"days": today.day, "of": of}}


def findings_report(session: Session, actor: Actor, month: str | None = None, *,
                    timezone: str = "Asia/Shanghai") -> dict:
    """Per checklist item failed in the month (in the actor's scope): how often, and how many of the cases those
    findings opened are still open. Most failed first."""
    label, start, end = month_bounds(month, timezone)
    where = _scope_where(session, actor)
    open_case = func.sum(case((Case.status.in_(tuple(OPEN)), 1), else_=0))
    rows = session.execute(
        select(Checklist.code, InspectionFinding.item_id, InspectionFinding.category_code,
               func.count(InspectionFinding.id), open_case)
        .join(Inspection, Inspection.id == InspectionFinding.inspection_id)
        .join(Checklist, Checklist.id == Inspection.checklist_id)
        .outerjoin(Case, Case.id == InspectionFinding.case_id)
        .where(*where, Inspection.at >= start, Inspection.at < end)
        .group_by(Checklist.code, InspectionFinding.item_id, InspectionFinding.category_code)).all()
    texts: dict[tuple[str, str], dict] = {}
    for c in session.scalars(select(Checklist).where(Checklist.code.in_({r[0] for r in rows} or {""}))
                             .order_by(Checklist.version)):
        for item in cl.definition_of(c)["items"]:
            texts[(c.code, item["id"])] = item["text"]  # the latest version's wording wins
    out = [{"checklist": code, "item": item, "text": texts.get((code, item)), "category": cat, "failed": int(n),
            "open_cases": int(o or 0)} for code, item, cat, n, o in rows]
    out.sort(key=lambda r: (-r["failed"], r["checklist"], r["item"]))
    return {"month": label, "rows": out}


# ---------------------------------------------------------------------------------------------- due


def due_inspections(session: Session, actor: Actor, *, today: dt.date, timezone: str = "Asia/Shanghai",
                    limit: int = DUE_LIMIT) -> list[dict]:
    """What the actor should inspect next (the phone's list): the targets of her grids under every active
    checklist with a frequency, never inspected or last inspected at least ``frequency_days`` before ``today``.

    Never-inspected targets come first (``days_overdue`` None, ``last_at`` None), then the most overdue; at most
    ``limit``. ``days_overdue`` is 0 on the day an inspection falls due."""
    grids = grid_scope(session, actor)
    zone = ZoneInfo(timezone)
    out = []

    def due(last: dt.datetime | None, freq: int) -> tuple[bool, int | None]:
        if last is None:
            return True, None
        days = (today - last.astimezone(zone).date()).days
        return days >= freq, days - freq

    for c in cl.latest_checklists(session):
        if not c.frequency_days:
            continue
        defn = cl.definition_of(c)
        versions = _checklist_ids(session, c.code)
        base = {"checklist_id": c.id, "checklist_code": c.code, "title": {"zh": c.title_zh, "en": c.title_en},
                "target": c.target}
        if c.target == "building":
            pt = func.ST_PointOnSurface(Building.geom)
            rows = session.execute(select(Building.id, label_column(), Building.grid_id,
                                          func.ST_X(pt), func.ST_Y(pt))
                                   .where(*_building_targets(session, defn, grids)).order_by(Building.id)).all()
            last = dict(session.execute(select(Inspection.building_id, func.max(Inspection.at))
                                        .where(Inspection.checklist_id.in_(versions),
                                               Inspection.building_id.is_not(None))
                                        .group_by(Inspection.building_id)).all())
            for bid, label, grid, x, y in rows:
                is_due, over = due(last.get(bid), c.frequency_days)
                if is_due:
                    out.append({**base, "building_id": bid, "shop_code": None, "place_name": None, "grid_id": grid,
                                "name": display_label(label), "building_label": display_label(label),
                                "lon": x, "lat": y,
                                "last_at": iso(last.get(bid)), "days_overdue": over})
        elif c.target == "shop":
            where = [Shop.active] + ([Building.grid_id.in_(grids or [-1])] if grids is not None else [])
            rows = session.execute(select(Shop.id, Shop.code, Shop.name, Shop.building_id, Building.grid_id,
                                          func.ST_X(Shop.geom), func.ST_Y(Shop.geom))
                                   .join(Building, Building.id == Shop.building_id).where(*where)
                                   .order_by(Shop.id)).all()
            last = dict(session.execute(select(Inspection.shop_id, func.max(Inspection.at))
                                        .where(Inspection.checklist_id.in_(versions), Inspection.shop_id.is_not(None))
                                        .group_by(Inspection.shop_id)).all())
            for sid, code, name, bid, grid, x, y in rows:
                is_due, over = due(last.get(sid), c.frequency_days)
                if is_due:
                    out.append({**base, "building_id": bid, "shop_code": code, "place_name": None, "grid_id": grid,
                                "name": name, "lon": x, "lat": y, "last_at": iso(last.get(sid)),
                                "days_overdue": over})
        else:
            where = [Inspection.checklist_id.in_(versions), Inspection.place_name.is_not(None)]
            if grids is not None:
                where.append(Inspection.grid_id.in_(grids or [-1]))
            places: dict[tuple, tuple] = {}
            for name, grid, at, x, y in session.execute(
                    select(Inspection.place_name, Inspection.grid_id, Inspection.at, func.ST_X(Inspection.geom),
                           func.ST_Y(Inspection.geom)).where(*where).order_by(Inspection.at, Inspection.id)):
                places[(name, grid)] = (at, x, y)  # the latest inspection of each place
            for (name, grid), (at, x, y) in sorted(places.items(), key=lambda kv: kv[0][0]):
                is_due, over = due(at, c.frequency_days)
                if is_due:
                    out.append({**base, "building_id": None, "shop_code": None, "place_name": name, "grid_id": grid,
                                "name": name, "lon": x, "lat": y, "last_at": iso(at),
                                "days_overdue": over})
    out.sort(key=lambda r: (r["days_overdue"] is not None, -(r["days_overdue"] or 0)))
    return out[:limit]
