"""Where a user's or a unit's notices are also sent: add, list and remove :class:`NotifyChannel` rows."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from patrol.core.errors import InvalidInput, NotFound
from patrol.core.models import NotifyChannel, ResponsibleUnit, User
from patrol.notify.delivery import check_address


@dataclass(frozen=True)
class ChannelRow:
    id: int
    owner: str  # "user NAME" or "unit NAME"
    kind: str
    address: str
    active: bool


def add_channel(session: Session, *, kind: str, address: str, username: str | None = None,
                unit_id: int | None = None) -> NotifyChannel:
    """A channel for the user named ``username`` or the unit ``unit_id`` (exactly one of them)."""
    if (username is None) == (unit_id is None):
        raise InvalidInput("give the owner of the channel: a user or a unit (one of them)", field="user")
    address = check_address(kind, address)
    user_id = None
    if username is not None:
        user_id = session.scalar(select(User.id).where(User.username == username))
        if user_id is None:
            raise InvalidInput(f"no user {username!r}", field="user")
    elif session.get(ResponsibleUnit, unit_id) is None:
        raise InvalidInput(f"no responsible unit {unit_id}", field="unit")
    existing = session.scalars(select(NotifyChannel).where(
        NotifyChannel.user_id.is_(None) if user_id is None else NotifyChannel.user_id == user_id,
        NotifyChannel.unit_id.is_(None) if unit_id is None else NotifyChannel.unit_id == unit_id,
        NotifyChannel.kind == kind, NotifyChannel.address == address)).first()
    if existing is not None:
        existing.active = True
        return existing
    channel = NotifyChannel(user_id=user_id, unit_id=unit_id, kind=kind, address=address, active=True)
    session.add(channel)
    session.flush()
    return channel


def list_channels(session: Session) -> list[ChannelRow]:
    users = dict(session.execute(select(User.id, User.username)).all())
    units = dict(session.execute(select(ResponsibleUnit.id, ResponsibleUnit.name)).all())
    out = []
    for ch in session.scalars(select(NotifyChannel).order_by(NotifyChannel.id)):
        owner = (f"user {users.get(ch.user_id)}" if ch.user_id is not None
                 else f"unit {ch.unit_id} {units.get(ch.unit_id)}")
        out.append(ChannelRow(ch.id, owner, ch.kind, ch.address, ch.active))
    return out


def remove_channel(session: Session, channel_id: int) -> None:
    channel = session.get(NotifyChannel, channel_id)
    if channel is None:
        raise NotFound(f"no notification channel {channel_id} (see gridpatrol notify list)", field="id")
    session.delete(channel)
    session.flush()
