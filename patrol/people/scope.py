"""Where a 网格长 (``grid_lead``) and a 楼栋长 / 微网格员 (``building_lead``) may act — the rules every scope check of
the case loop, the register, visits and the phone app reads for these two roles. From the seeds (S0: 47 楼栋长 for 10
grids; S2: 网格长 leads the grid workers of several grids):

- a **网格长** leads the workers of the grids she leads (``Grid.lead_id``; :attr:`Actor.grid_ids`): she reads their
  cases, figures, coverage and register (personal data included, audited), registers / dispatches / verifies / closes
  grid-level cases of her grids and has desk queues for them; she does not walk patrols or urge;
- a **楼栋长** is a light account scoped to her 微网格 (:attr:`Actor.micro_grid_ids`, :attr:`Actor.building_ids`): she
  reports only inside it (at one of its buildings, or a point within its geometry), checks in visits only at its
  buildings, reads her own reports and visits and the register of her buildings — nothing beyond them; no desk, no
  dashboard, no analytics, no action on cases beyond reporting and supplementing her own reports.

This module imports only the core, so that the case loop and the register can ask it without a cycle."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from patrol.core.auth import Actor
from patrol.core.dialect import at_point
from patrol.core.models import Grid, MicroGrid, MicroGridBuilding, User

GRID_LEAD = "grid_lead"
BUILDING_LEAD = "building_lead"
#: the roles whose reports come from the field (channel ``patrol``): the grid worker, her 网格长 and a 楼栋长 — one
#: intake, 待立案 like any report, the reporter (and her post) on the case's timeline
FIELD_ROLES = ("grid_worker", GRID_LEAD, BUILDING_LEAD)
#: the roles of the people around the grid, in words
ROLE_WORDS = {GRID_LEAD: ("网格长", "grid lead"), BUILDING_LEAD: ("楼栋长", "building lead")}


def in_micro_grid(session: Session, actor: Actor, lon: float, lat: float, building_id: int | None = None) -> bool:
    """Whether a report at (lon, lat), or at ``building_id``, lies inside one of ``actor``'s micro-grids in force:
    the building is one of hers, or the point lies within a micro-grid's geometry."""
    if building_id is not None and building_id in actor.building_ids:
        return True
    if not actor.micro_grid_ids:
        return False
    found = session.scalar(select(MicroGrid.id).where(MicroGrid.id.in_(sorted(actor.micro_grid_ids)),
                                                      at_point(session, MicroGrid.id, MicroGrid.geom, lon, lat))
                           .limit(1))
    return found is not None


def scope_words(session: Session, user: User) -> str:
    """What a 网格长 leads or a 楼栋长 looks after, in words (``users list``): "网格长 of 3 grids: A, B, C" /
    "楼栋长 of 微网格 X (5 buildings)"; "" for other roles."""
    if user.role == GRID_LEAD:
        codes = list(session.scalars(select(Grid.code).where(Grid.lead_id == user.id).order_by(Grid.code)))
        return f"网格长 of {len(codes)} grid(s): {', '.join(codes)}" if codes else "网格长 of no grid"
    if user.role == BUILDING_LEAD:
        rows = session.execute(select(MicroGrid.id, MicroGrid.code, MicroGrid.name).where(
            MicroGrid.leader_id == user.id, MicroGrid.plan_id.is_(None)).order_by(MicroGrid.code)).all()
        if not rows:
            return "楼栋长 of no micro-grid"
        n = session.scalar(select(func.count(MicroGridBuilding.id)).where(
            MicroGridBuilding.micro_grid_id.in_([r[0] for r in rows])))
        return f"楼栋长 of 微网格 {', '.join(f'{r[1]} {r[2]}' for r in rows)} ({n} buildings)"
    return ""
