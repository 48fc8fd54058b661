"""Who reads and writes the volunteer teams and the 网格服务专员 / 双报到 roster of a community.

- read: admins (every community), a supervisor (her community), a subdistrict user (her 街道's communities), a 网格长
  (``grid_lead``: the communities of the grids she leads, read-only), the operator at the command line;
- write (teams, members, tasks, the roster, service records): admins, the community's supervisor, its subdistrict's
  users, the command line;
- personal data: a team member's or a service member's phone is shown to the community's supervisor (its desk) and
  the command line only; the households paired with a service member only where the residents register allows it
  (:mod:`patrol.surveys.residents.access`), every read audited there. Everyone else sees names and counts.
Every other role (grid workers, departments, planners, 楼栋长) is refused."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from patrol.core.auth import Actor
from patrol.core.errors import Forbidden, InvalidInput, NotFound
from patrol.core.models import Community, Grid
from patrol.surveys.residents.access import CLI_ROLE

READ_ROLES = ("admin", "supervisor", "subdistrict", "grid_lead", CLI_ROLE)
WRITE_ROLES = ("admin", "supervisor", "subdistrict", CLI_ROLE)
REFUSED = ("the volunteer teams and the service roster are for the community's desk (supervisor), its subdistrict, "
           "the 网格长 of its grids (read-only) and admins")


def communities_read(session: Session, actor: Actor) -> list[int] | None:
    """The ids of the communities ``actor`` may read (None: every one); Forbidden for a role that reads none."""
    if actor.role in ("admin", CLI_ROLE):
        return None
    if actor.role == "supervisor" and actor.community_id is not None:
        return [actor.community_id]
    if actor.role == "subdistrict" and actor.community_ids:
        return sorted(actor.community_ids)
    if actor.role == "grid_lead":
        ids = set(session.scalars(select(Grid.community_id).where(Grid.id.in_(sorted(actor.grid_ids) or [-1]))))
        if actor.community_id is not None:
            ids.add(actor.community_id)
        if ids:
            return sorted(ids)
    raise Forbidden(f"{REFUSED}; a {actor.role} has none", field="role")


def community_of(session: Session, community_id: int) -> Community:
    c = session.get(Community, community_id)
    if c is None:
        raise NotFound(f"no community {community_id}", field="community")
    return c


def require_read(session: Session, actor: Actor, community_id: int | None) -> None:
    """403 unless ``actor`` reads the community (a team or member without a community: admins only)."""
    allowed = communities_read(session, actor)
    if allowed is None:
        return
    if community_id is None or community_id not in allowed:
        raise Forbidden(f"community {community_id} is outside your scope: {REFUSED}", field="community")


def require_write(session: Session, actor: Actor, community_id: int | None) -> None:
    """403 unless ``actor`` may change the community's teams and roster (a 网格长 reads only)."""
    if actor.role not in WRITE_ROLES:
        communities_read(session, actor)  # 403 with the general reason for a role that reads nothing either
        raise Forbidden(f"a {actor.role} reads the teams and the roster but does not change them", field="role")
    require_read(session, actor, community_id)


def sees_phones(actor: Actor, community_id: int | None) -> bool:
    """Whether ``actor`` reads the phones of the community's volunteers and service members (its desk only)."""
    if actor.role == CLI_ROLE:
        return True
    return actor.role == "supervisor" and community_id is not None and actor.community_id == community_id


def resolve_community(session: Session, value: str | None) -> int | None:
    """A community given by code or name (None for none); an unknown or ambiguous one is an InvalidInput."""
    if value is None or not str(value).strip():
        return None
    text = str(value).strip()
    found = session.scalars(select(Community.id).where((Community.code == text) | (Community.name == text))).all()
    if len(found) != 1:
        raise InvalidInput(f"no single community coded or named {text!r}", field="community")
    return int(found[0])


def default_community(session: Session, actor: Actor, community_id: int | None) -> int:
    """The community a page or a month view is about: the one asked for (checked), else the caller's first."""
    if community_id is not None:
        community_of(session, community_id)
        require_read(session, actor, community_id)
        return community_id
    allowed = communities_read(session, actor)
    if allowed is None:
        first = session.scalar(select(Community.id).order_by(Community.code, Community.id).limit(1))
        if first is None:
            raise NotFound("no community yet: import a city first", field="community")
        return int(first)
    return allowed[0]
