"""Analytics as the supervisor asks for them: KPIs, coverage and hotspots, restricted to what the actor may see.

The computations are elsewhere (:mod:`patrol.kpis`, :mod:`geo.coverage`, :mod:`geo.hotspots`); this module decides
the scope (a supervisor sees her community, a department its unit, a grid worker her grids, admins and planners the
city) and feeds the pure functions from the database.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from patrol import kpis as K
from patrol.auth import Actor
from patrol.errors import Forbidden, InvalidInput
from patrol.models import Community, Grid
from patrol.settings import Settings


@dataclass(frozen=True)
class Scope:
    community_id: int | None = None
    grid_id: int | None = None
    unit_id: int | None = None


def resolve_scope(session: Session, actor: Actor, *, community: str | None = None, grid: str | None = None,
                  unit_id: int | None = None) -> Scope:
    """Community / grid given by code (or id), checked against the actor's scope; 403 outside it."""
    community_id = _community_id(session, community) if community else None
    grid_id = _grid_id(session, grid) if grid else None
    role = actor.role
    if role in ("admin", "planner"):
        return Scope(community_id, grid_id, unit_id)
    if role == "supervisor":
        if community_id not in (None, actor.community_id):
            raise Forbidden("that community is outside your scope", field="community")
        if grid_id is not None and session.scalar(select(Grid.community_id).where(Grid.id == grid_id)) \
                != actor.community_id:
            raise Forbidden("that grid is outside your community", field="grid")
        return Scope(actor.community_id, grid_id, unit_id)
    if role == "department":
        if unit_id not in (None, actor.unit_id):
            raise Forbidden("that unit is not yours", field="unit_id")
        return Scope(community_id, grid_id, actor.unit_id)
    if role == "grid_worker":
        if grid_id is None and len(actor.grid_ids) == 1:
            grid_id = next(iter(actor.grid_ids))
        if grid_id is None or grid_id not in actor.grid_ids:
            raise Forbidden("a grid worker sees the figures of her own grid: give grid=<your grid code>",
                            field="grid")
        return Scope(None, grid_id, None)
    raise Forbidden(f"a {role} cannot read analytics", field="role")


def _community_id(session: Session, value: str) -> int:
    found = session.scalar(select(Community.id).where((Community.code == value) | (Community.name == value)))
    if found is None and value.isdigit():
        found = session.scalar(select(Community.id).where(Community.id == int(value)))
    if found is None:
        raise InvalidInput(f"no community {value!r} (give its code or name)", field="community")
    return found


def _grid_id(session: Session, value: str) -> int:
    found = session.scalar(select(Grid.id).where(Grid.code == value))
    if found is None and value.isdigit():
        found = session.scalar(select(Grid.id).where(Grid.id == int(value)))
    if found is None:
        raise InvalidInput(f"no grid {value!r} (give its code)", field="grid")
    return found


def thresholds(settings: Settings) -> dict:
    """The default 黄橙红 thresholds, overridden per KPI by ``settings.kpi_thresholds``."""
    return {**K.DEFAULT_THRESHOLDS, **K.parse_thresholds(settings.kpi_thresholds)} if settings.kpi_thresholds \
        else dict(K.DEFAULT_THRESHOLDS)


def kpi_table(session: Session, actor: Actor, settings: Settings, *, by: str | None, start: dt.date | dt.datetime,
              end: dt.date | dt.datetime, community: str | None = None, grid: str | None = None,
              unit_id: int | None = None, category: str | None = None, include_simulated: bool = True,
              now: dt.datetime | None = None) -> list[dict]:
    scope = resolve_scope(session, actor, community=community, grid=grid, unit_id=unit_id)
    df = K.kpis(session, by=by, start=start, end=end, now=now, community_id=scope.community_id,
                grid_id=scope.grid_id, unit_id=scope.unit_id, category=category,
                include_simulated=include_simulated, settings=settings, thresholds=thresholds(settings))
    return K.kpi_records(df)


def kpi_trend(session: Session, actor: Actor, settings: Settings, *, period: str, n: int,
              community: str | None = None, grid: str | None = None, unit_id: int | None = None,
              category: str | None = None, include_simulated: bool = True,
              now: dt.datetime | None = None) -> list[dict]:
    scope = resolve_scope(session, actor, community=community, grid=grid, unit_id=unit_id)
    df = K.kpi_trend(session, period=period, n=n, now=now, community_id=scope.community_id, grid_id=scope.grid_id,
                     unit_id=scope.unit_id, category=category, include_simulated=include_simulated,
                     settings=settings, thresholds=thresholds(settings))
    return K.kpi_records(df)
