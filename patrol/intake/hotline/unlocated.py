"""待定位: the 12345 orders no single building was found for, waiting for a supervisor to place them on the map.

Who sees an order: the supervisor of its community (``HotlineOrder.community_id``, when its candidates agree on
one); the subdistrict staff of its subdistrict (``subdistrict_id``, from 所属街道 or the community) and of its
communities; an order of unknown scope goes to every subdistrict's staff and the admins; admins see them all.
Placing (:func:`place`) creates the case through :func:`patrol.cases.service.create_case`, so the placer's scope
applies to the point as to any report (a supervisor places in her community only).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, false, func, or_, select, true
from sqlalchemy.orm import Session

from patrol.core.auth import Actor
from patrol.core.errors import Forbidden, NotFound
from patrol.core.models import Case, HotlineOrder
from patrol.core.settings import Settings
from patrol.intake.hotline.orders import place_order

ROLES = ("supervisor", "subdistrict", "admin")


def _scope(actor: Actor) -> ColumnElement[bool]:
    if actor.role == "admin":
        return true()
    if actor.role == "supervisor":
        return HotlineOrder.community_id == actor.community_id if actor.community_id is not None else false()
    if actor.role == "subdistrict":
        unknown = and_(HotlineOrder.community_id.is_(None), HotlineOrder.subdistrict_id.is_(None))
        mine = [HotlineOrder.subdistrict_id == actor.subdistrict_id] if actor.subdistrict_id is not None else []
        coms = [HotlineOrder.community_id.in_(sorted(actor.community_ids))] if actor.community_ids else []
        return or_(unknown, *mine, *coms)
    raise Forbidden("the 待定位 queue is for community, subdistrict and admin staff", field="role")


def count(session: Session, actor: Actor) -> int:
    return session.scalar(select(func.count()).select_from(HotlineOrder).where(
        HotlineOrder.state == "pending", _scope(actor))) or 0


def pending(session: Session, actor: Actor, *, limit: int = 200, offset: int = 0) -> list[HotlineOrder]:
    """The pending orders the actor may place, oldest first."""
    return list(session.scalars(select(HotlineOrder).where(HotlineOrder.state == "pending", _scope(actor))
                                .order_by(HotlineOrder.received_at, HotlineOrder.id).limit(limit).offset(offset)))


def get_pending(session: Session, actor: Actor, order_no: str) -> HotlineOrder:
    """The order numbered ``order_no`` if the actor may see it (404 otherwise, as for an unknown number)."""
    order = session.scalar(select(HotlineOrder).where(HotlineOrder.order_no == order_no, _scope(actor)))
    if order is None:
        raise NotFound(f"no 12345 order {order_no} in your scope", field="order_no")
    return order


def place(session: Session, actor: Actor, settings: Settings, order_no: str, *, building_id: int | None = None,
          lon: float | None = None, lat: float | None = None) -> Case:
    """Place a pending order at a building (any: the candidates are suggestions) or a point: its case is created,
    the order leaves the queue. The point must lie in the placer's scope (403 on ``lat`` otherwise)."""
    order = get_pending(session, actor, order_no)
    return place_order(session, actor, settings, order, building_id=building_id, lon=lon, lat=lat)
