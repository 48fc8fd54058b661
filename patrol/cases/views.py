"""Read views of cases for the HTTP API: a case with its timeline, tasks, photos and revisits; the active
categories; the revisits in a user's scope; the table of cases a download holds; and who may read a worker's day route.

They were queries inside the route functions of ``api/routes``; here they sit with the other case services, so the
routes only adapt HTTP to them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from patrol.core.auth import Actor
from patrol.core.errors import Forbidden, InvalidInput
from patrol.core.models import Grid, User

#: The columns of a cases download (CSV, GeoJSON, GeoPackage), in order; the CSV adds lon and lat.
EXPORT_COLUMNS = ("id", "client_id", "category", "status", "level", "channel", "description", "community_id",
                  "grid_id", "building_id", "unit_id", "reported_at", "deadline_at", "handled_at", "closed_at",
                  "closed_on_time", "rating", "rework_count", "reopened_count", "escalations", "overdue",
                  "simulated")
#: The most cases one download holds.
EXPORT_MAX = 500_000


def check_route_reader(session: Session, actor: Actor, worker_id: int) -> None:
    """May ``actor`` read grid worker ``worker_id``'s day route? Admins: anyone's; a grid worker: her own; a
    supervisor: a worker with a grid in her community; everyone else: no (403). 422 for an unknown user."""
    if session.get(User, worker_id) is None:
        raise InvalidInput(f"no user {worker_id}", field="worker_id")
    if actor.role == "grid_worker" and actor.user_id != worker_id:
        raise Forbidden("a grid worker sees her own route only", field="worker_id")
    if actor.role == "supervisor":
        communities = set(session.scalars(select(Grid.community_id).where(Grid.worker_id == worker_id)))
        if actor.community_id not in communities:
            raise Forbidden("that worker's grids are outside your community", field="worker_id")
    elif actor.role not in ("admin", "grid_worker"):
        raise Forbidden(f"a {actor.role} cannot read workers' routes", field="role")
