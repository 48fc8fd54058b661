"""Read views of cases for the HTTP API: a case with its timeline, tasks, photos and revisits; the active
categories; the revisits in a user's scope; the table of cases a download holds; and who may read a worker's day route.

They were queries inside the route functions of ``api/routes``; here they sit with the other case services, so the
routes only adapt HTTP to them."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import shapely
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from patrol.cases import categories
from patrol.cases.authority import get_case, scope_filter
from patrol.cases.channels import label as channel_label
from patrol.cases.reads import CaseFilter, case_dict, case_query, tasks_of, timeline
from patrol.city.labels import with_building_labels
from patrol.core.auth import Actor
from patrol.core.errors import Forbidden, InvalidInput, NotFound
from patrol.core.models import Case, Category, Grid, Photo, Revisit, User
from patrol.core.time import iso
from patrol.plans.service import grid_at

#: The columns of a cases download (CSV, GeoJSON, GeoPackage), in order; the CSV adds lon and lat.
EXPORT_COLUMNS = ("id", "client_id", "category", "status", "level", "channel", "channel_label", "description",
                  "community_id",
                  "grid_id", "building_id", "building_label", "unit_id", "reported_at", "deadline_at", "handled_at",
                  "closed_at", "closed_on_time", "rating", "rework_count", "reopened_count", "escalations", "overdue",
                  "simulated")
#: The most cases one download holds.
EXPORT_MAX = 500_000


def case_view(session: Session, case: Case, *, detail: bool = False, wkb: bytes | None = None) -> dict[str, Any]:
    """A case as the API answers it: :func:`patrol.cases.service.case_dict` with its category's names and its
    point; with ``detail`` also the timeline, tasks, photos (with their URLs), revisits and the grid it had when
    reported (grid plans' history)."""
    if wkb is None:
        wkb = session.scalar(select(func.ST_AsBinary(Case.geom)).where(Case.id == case.id))
    out = case_dict(case, wkb, category=session.get(Category, case.category_code))
    with_building_labels(session, [out])
    if detail:
        out["timeline"] = timeline(session, case.id)
        out["tasks"] = tasks_of(session, case.id)
        out["photos"] = [{"id": p.id, "event_id": p.event_id, "mime": p.mime, "taken_at": iso(p.taken_at),
                          "url": f"/api/v1/photos/{p.id}", "thumbnail": f"/api/v1/photos/{p.id}/thumbnail"}
                         for p in session.scalars(select(Photo).where(Photo.case_id == case.id).order_by(Photo.id))]
        out["revisits"] = [{"id": r.id, "due_on": r.due_on.isoformat(), "done_at": iso(r.done_at),
                            "received_at": iso(r.received_at), "outcome": r.outcome}
                           for r in session.scalars(select(Revisit).where(Revisit.case_id == case.id))]
        out["reported_grid"] = grid_at(session, case)
    return out


def case_features(session: Session, actor: Actor, f: CaseFilter, *, limit: int,
                  offset: int) -> tuple[list[dict[str, Any]], int]:
    """One page of the cases in ``actor``'s scope matching ``f`` as GeoJSON features (WGS-84 points), and how many
    match in all."""
    stmt = case_query(session, actor, f)
    total = session.scalar(select(func.count()).select_from(stmt.with_only_columns(Case.id).subquery())) or 0
    features = []
    for case, wkb in session.execute(stmt.limit(limit).offset(offset)).all():
        p = shapely.from_wkb(bytes(wkb))
        features.append({"type": "Feature", "id": case.id, "geometry": {"type": "Point", "coordinates": [p.x, p.y]},
                         "properties": case_dict(case)})
    with_building_labels(session, [f["properties"] for f in features])
    return features, total


def active_categories(session: Session) -> list[dict[str, Any]]:
    """The active categories (services) by code, with their deadlines (working hours) and revisit days."""
    rows = categories.active_categories(session)
    return [{"code": c.code, "name_zh": c.name_zh, "name_en": c.name_en, "kind": c.kind, "major_zh": c.major_zh,
             "major_en": c.major_en, "level": c.level, "deadline_hours": c.deadline_hours, "severity": c.severity,
             "revisit_days": c.revisit_days} for c in rows]


def revisits_in_scope(session: Session, actor: Actor, *, pending: bool = True) -> list[dict[str, Any]]:
    """回头看 revisits of the cases in ``actor``'s scope, by due date (only those not done when ``pending``)."""
    stmt = select(Revisit).join(Case, Case.id == Revisit.case_id).where(*scope_filter(actor))
    if pending:
        stmt = stmt.where(Revisit.done_at.is_(None))
    return [{"id": r.id, "case_id": r.case_id, "grid_id": r.grid_id, "due_on": r.due_on.isoformat(),
             "done_at": iso(r.done_at), "outcome": r.outcome}
            for r in session.scalars(stmt.order_by(Revisit.due_on, Revisit.id))]


def photo_in_scope(session: Session, actor: Actor, photo_id: int) -> Photo:
    """A case photo ``actor`` may see (the one of a case in her scope); 404 otherwise."""
    photo = session.get(Photo, photo_id)
    if photo is None:
        raise NotFound(f"no photo {photo_id}", field="photo_id")
    get_case(session, actor, photo.case_id)
    return photo


def export_frame(session: Session, actor: Actor, f: CaseFilter) -> gpd.GeoDataFrame:
    """The cases in ``actor``'s scope matching ``f`` as a table of :data:`EXPORT_COLUMNS` with their points
    (EPSG:4326), at most :data:`EXPORT_MAX`."""
    rows = session.execute(case_query(session, actor, f).limit(EXPORT_MAX)).all()
    cases = with_building_labels(session, [case_dict(c) for c, _ in rows])
    for d in cases:
        d["channel_label"] = channel_label(d["channel"])
    records = [{k: d[k] for k in EXPORT_COLUMNS} for d in cases]
    points = [shapely.from_wkb(bytes(w)) for _, w in rows]
    return gpd.GeoDataFrame(records or {k: [] for k in EXPORT_COLUMNS}, geometry=points, crs=4326)


def check_route_reader(session: Session, actor: Actor, worker_id: int) -> None:
    """May ``actor`` read grid worker ``worker_id``'s day route or GPS tracks? Admins: anyone's; a grid worker: her
    own; a supervisor: a worker with a grid in her community; a subdistrict user (街道): a worker with a grid in
    one of her communities; a department: no one's (403 on ``worker_id``); everyone else: no
    (403). 422 for an unknown user."""
    if actor.role == "department":  # a unit sees the cases it must handle, not where a worker walked
        raise Forbidden("a department cannot read a grid worker's route or tracks", field="worker_id")
    if session.get(User, worker_id) is None:
        raise InvalidInput(f"no user {worker_id}", field="worker_id")
    if actor.role == "grid_worker" and actor.user_id != worker_id:
        raise Forbidden("a grid worker sees her own route only", field="worker_id")
    if actor.role == "supervisor":
        communities = set(session.scalars(select(Grid.community_id).where(Grid.worker_id == worker_id)))
        if actor.community_id not in communities:
            raise Forbidden("that worker's grids are outside your community", field="worker_id")
    elif actor.role == "subdistrict":
        communities = set(session.scalars(select(Grid.community_id).where(Grid.worker_id == worker_id)))
        if not communities & actor.community_ids:
            raise Forbidden("that worker's grids are outside your subdistrict", field="worker_id")
    elif actor.role == "grid_lead":  # 网格长: the workers of the grids she leads
        grids = set(session.scalars(select(Grid.id).where(Grid.worker_id == worker_id)))
        if not grids & actor.grid_ids:
            raise Forbidden("that worker walks none of the grids you lead", field="worker_id")
    elif actor.role not in ("admin", "grid_worker"):
        raise Forbidden(f"a {actor.role} cannot read workers' routes", field="role")
