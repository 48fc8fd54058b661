"""Who is asking: users with passwords (argon2) and JWT bearer tokens, Open311 API keys, and each role's scope.

Access tokens are short-lived JWTs (``Settings.token_hours``) that name their login session (``sid``, the family of
refresh tokens in :mod:`patrol.core.sessions`); one is refused as soon as its session is revoked (logout, reuse of a
refresh token, an admin's ``users logout``, a disabled user). Passwords follow :mod:`patrol.core.passwords`.

Scopes: a grid worker sees the grids she walks (``Grid.worker_id``) and the cases assigned to her; a supervisor her
community; a subdistrict user (街道) every community of her subdistrict; a department its unit's cases and whistle
tasks; planners read; admins do everything.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import secrets
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from patrol.core.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from patrol.core.models import (
    ROLES,
    ApiKey,
    Community,
    Grid,
    MicroGrid,
    MicroGridBuilding,
    RefreshToken,
    ResponsibleUnit,
    Subdistrict,
    User,
)
from patrol.core.passwords import check_password
from patrol.core.settings import Settings

_hasher = PasswordHasher()
ALGORITHM = "HS256"


@dataclass
class Actor:
    """The authenticated caller and the scope of what she may see and do."""

    label: str
    role: str
    user_id: int | None = None
    community_id: int | None = None
    unit_id: int | None = None
    grid_ids: frozenset[int] = field(default_factory=frozenset)
    api_key_id: int | None = None
    subdistrict_id: int | None = None
    #: a subdistrict user's communities (every community of her 街道); empty for other roles
    community_ids: frozenset[int] = field(default_factory=frozenset)
    #: the login session (refresh-token family) of the access token, for logout; None for API keys and the system
    session_id: str | None = None
    #: a 楼栋长 / 微网格员 (``building_lead``): her micro-grids in force and their buildings; empty for other roles
    micro_grid_ids: frozenset[int] = field(default_factory=frozenset)
    building_ids: frozenset[int] = field(default_factory=frozenset)

    @property
    def is_staff(self) -> bool:
        return self.role in ("supervisor", "subdistrict", "admin")


SYSTEM = Actor(label="system", role="admin")


def hash_password(password: str, username: str | None = None) -> str:
    """The argon2 hash of ``password``, after :func:`patrol.core.passwords.check_password` (422 on ``password``)."""
    check_password(password, username)
    return _hasher.hash(password)


@cache
def dummy_hash() -> str:
    """The hash of a random password nobody knows, made once with the same parameters as every real one."""
    return _hasher.hash(secrets.token_urlsafe(24))


def verify_password(password: str, hashed: str | None) -> bool:
    """Whether ``password`` matches ``hashed``. Without a hash (an unknown user, a user without a password) it
    verifies against :func:`dummy_hash` all the same and answers False, so that such an answer costs as much time
    as a wrong password and does not tell which user names exist."""
    try:
        return _hasher.verify(hashed or dummy_hash(), password) and bool(hashed)
    except (VerifyMismatchError, InvalidHashError):
        return False


def secret_key(settings: Settings) -> str:
    """The token signing key: configured, or generated once and kept in ``settings.secret_file`` (mode 600)."""
    if settings.secret_key:
        return settings.secret_key
    path = Path(settings.secret_file)
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key)
    return key


def create_user(session: Session, *, username: str, role: str, password: str | None, display_name: str | None = None,
                community: str | None = None, unit_id: int | None = None, grids: list[str] | None = None,
                subdistrict: str | None = None, email: str | None = None, simulated: bool = False,
                lead_grids: list[str] | None = None, micro_grid: str | None = None, post: str | None = None) -> User:
    """Add a user; ``community`` is a community code or name (supervisors), ``subdistrict`` a subdistrict code or
    name (subdistrict users, 街道), ``grids`` grid codes (grid workers), ``lead_grids`` the grid codes a 网格长 leads
    (``grid_lead``: sets ``Grid.lead_id``, her community from the grids), ``micro_grid`` the code of the micro-grid
    in force a 楼栋长 looks after (``building_lead``: sets ``MicroGrid.leader_id``, her community from its grid);
    ``post`` her post in words (楼栋长, 微网格员, 平安志愿者 …)."""
    if role not in ROLES:
        raise InvalidInput(f"unknown role {role!r}; roles: {', '.join(ROLES)}", field="role")
    lead, micro = _people_scope(session, role, lead_grids, micro_grid)
    if session.scalars(select(User).where(User.username == username)).first() is not None:
        raise Conflict(f"user {username!r} exists already", field="username")
    community_id = None
    if community is not None:
        found = session.scalars(select(Community).where((Community.code == community) | (Community.name == community))
                                ).all()
        if len(found) != 1:
            raise InvalidInput(f"no single community coded or named {community!r}", field="community")
        community_id = found[0].id
    if role == "supervisor" and community_id is None:
        raise InvalidInput("a supervisor needs --community", field="community")
    subdistrict_id = None
    if subdistrict is not None:
        subs = session.scalars(select(Subdistrict).where((Subdistrict.code == subdistrict)
                                                         | (Subdistrict.name == subdistrict))).all()
        if len(subs) != 1:
            raise InvalidInput(f"no single subdistrict coded or named {subdistrict!r}", field="subdistrict")
        subdistrict_id = subs[0].id
    if role == "subdistrict" and subdistrict_id is None:
        raise InvalidInput("a subdistrict user needs --subdistrict", field="subdistrict")
    if role == "department" and (unit_id is None or session.get(ResponsibleUnit, unit_id) is None):
        raise InvalidInput("a department user needs --unit with the id of a responsible unit", field="unit")
    user = User(username=username, display_name=display_name or username, role=role, community_id=community_id,
                unit_id=unit_id if role == "department" else None, email=email,
                subdistrict_id=subdistrict_id if role == "subdistrict" else None,
                password_hash=hash_password(password, username) if password else None, simulated=simulated,
                post=(post or "").strip()[:40] or None)
    session.add(user)
    session.flush()
    _give_people_scope(session, user, lead, micro)
    for code in grids or []:
        grid = session.scalars(select(Grid).where(Grid.code == code)).first()
        if grid is None:
            raise InvalidInput(f"no grid coded {code!r}", field="grids")
        grid.worker_id = user.id
        if user.community_id is None:
            user.community_id = grid.community_id
    session.flush()
    return user


def _people_scope(session: Session, role: str, lead_grids: list[str] | None,
                  micro_grid: str | None) -> tuple[list[Grid], MicroGrid | None]:
    """The grids a 网格长 will lead and the micro-grid (in force) a 楼栋长 will look after, checked (422 naming the
    field): each role needs its own, and neither is given to another role."""
    if lead_grids and role != "grid_lead":
        raise InvalidInput("--lead-grids is for a grid lead (网格长, role grid_lead)", field="lead_grids")
    if micro_grid and role != "building_lead":
        raise InvalidInput("--micro-grid is for a building lead (楼栋长, role building_lead)", field="micro_grid")
    if role == "grid_lead" and not lead_grids:
        raise InvalidInput("a grid lead (网格长) needs --lead-grids: the codes of the grids she leads",
                           field="lead_grids")
    if role == "building_lead" and not micro_grid:
        raise InvalidInput("a building lead (楼栋长) needs --micro-grid: the code of her micro-grid",
                           field="micro_grid")
    lead = []
    for code in lead_grids or []:
        g = session.scalars(select(Grid).where(Grid.code == code.strip())).first()
        if g is None:
            raise InvalidInput(f"no grid coded {code!r}", field="lead_grids")
        lead.append(g)
    if len({g.community_id for g in lead}) > 1:
        raise InvalidInput("a grid lead leads grids of one community", field="lead_grids")
    micro = None
    if micro_grid:
        micro = session.scalars(select(MicroGrid).where(MicroGrid.code == micro_grid.strip(),
                                                        MicroGrid.plan_id.is_(None))).first()
        if micro is None:
            raise InvalidInput(f"no micro-grid in force coded {micro_grid!r} (gridpatrol people microgrids list)",
                               field="micro_grid")
    return lead, micro


def _give_people_scope(session: Session, user: User, lead: list[Grid], micro: MicroGrid | None) -> None:
    """The 网格长 leads ``lead``, the 楼栋长 looks after ``micro``; her community is theirs."""
    for g in lead:
        g.lead_id = user.id
    if micro is not None:
        micro.leader_id = user.id
    grid_id = lead[0].id if lead else micro.grid_id if micro is not None else None
    if user.community_id is None and grid_id is not None:
        user.community_id = session.scalar(select(Grid.community_id).where(Grid.id == grid_id))


def issue_token(user: User, settings: Settings, *, sid: str, now: dt.datetime | None = None) -> str:
    """An access token of ``user`` in the login session ``sid`` (see :mod:`patrol.core.sessions`)."""
    now = now or dt.datetime.now(dt.UTC)
    claims = {"sub": str(user.id), "role": user.role, "kind": "access", "sid": sid, "iat": now,
              "exp": now + dt.timedelta(hours=settings.token_hours)}
    return jwt.encode(claims, secret_key(settings), algorithm=ALGORITHM)


def _claims(token: str, settings: Settings, kind: str) -> dict:
    try:
        claims = jwt.decode(token, secret_key(settings), algorithms=[ALGORITHM])
    except jwt.ExpiredSignatureError:
        raise Unauthorized("the token has expired; log in again", field="authorization") from None
    except jwt.InvalidTokenError:
        raise Unauthorized("the token is not valid", field="authorization") from None
    if claims.get("kind") != kind:
        raise Unauthorized(f"expected an {kind} token", field="authorization")
    return claims


def _usable(user: User | None) -> User:
    if user is None or not user.active:
        raise Unauthorized("the user no longer exists or is disabled", field="authorization")
    return user


def actor_from_token(session: Session, token: str, settings: Settings) -> Actor:
    """The actor of an access token: the user, her grids and whether her login session is still open, in one query
    (this runs on every request; the session test is one lookup in the index of ``refresh_token.family``)."""
    claims = _claims(token, settings, "access")
    uid, sid = int(claims["sub"]), claims.get("sid")
    if not isinstance(sid, str):
        raise Unauthorized("the token names no login session; log in again", field="authorization")
    open_session = exists().where(RefreshToken.family == sid, RefreshToken.user_id == uid,
                                  RefreshToken.revoked_at.is_(None))
    rows = session.execute(select(User, Grid.id, open_session).outerjoin(Grid, Grid.worker_id == User.id)
                           .where(User.id == uid)).all()
    user = _usable(rows[0][0] if rows else None)
    if not rows[0][2]:
        raise Unauthorized("this login session has ended (logged out or revoked); log in again",
                           field="authorization")
    actor = _actor(session, user, frozenset(g for _, g, _ in rows if g is not None))
    actor.session_id = sid
    return actor


def actor_for(session: Session, user: User) -> Actor:
    return _actor(session, user, frozenset(session.scalars(select(Grid.id).where(Grid.worker_id == user.id))))


def _actor(session: Session, user: User, grids: frozenset[int]) -> Actor:
    communities: frozenset[int] = frozenset()
    micro: frozenset[int] = frozenset()
    buildings: frozenset[int] = frozenset()
    if user.role == "subdistrict" and user.subdistrict_id is not None:
        communities = frozenset(session.scalars(select(Community.id).where(
            Community.subdistrict_id == user.subdistrict_id)))
    if user.role == "grid_lead":  # 网格长: the grids she leads
        grids = frozenset(session.scalars(select(Grid.id).where(Grid.lead_id == user.id)))
    if user.role == "building_lead":  # 楼栋长: her micro-grids in force and their buildings, no grid of her own
        grids = frozenset()
        micro = frozenset(session.scalars(select(MicroGrid.id).where(MicroGrid.leader_id == user.id,
                                                                     MicroGrid.plan_id.is_(None))))
        buildings = frozenset(session.scalars(select(MicroGridBuilding.building_id).where(
            MicroGridBuilding.micro_grid_id.in_(sorted(micro) or [-1]))))
    return Actor(label=f"{user.role}:{user.username}", role=user.role, user_id=user.id,
                 community_id=user.community_id, unit_id=user.unit_id, grid_ids=grids,
                 subdistrict_id=user.subdistrict_id, community_ids=communities, micro_grid_ids=micro,
                 building_ids=buildings)


#: how precisely an API key's last use is kept: at most one write per key and minute, not one per request
KEY_USE_RESOLUTION = dt.timedelta(minutes=1)


#: what an API key can open (``ApiKey.scope``): Open311 GeoReport v2, or the 12345 platform's exchange
KEY_SCOPES = ("open311", "hotline")


def create_api_key(session: Session, name: str, *, expires_at: dt.datetime | None = None,
                   scope: str = "open311") -> str:
    """A new key for Open311 (``scope="open311"``) or a 12345 platform (``"hotline"``), refused from ``expires_at`` on
    (None: never); the key itself is returned once, only its hash is stored."""
    if scope not in KEY_SCOPES:
        raise InvalidInput(f"unknown key scope {scope!r}; scopes: {', '.join(KEY_SCOPES)}", field="scope")
    key = "gp_" + secrets.token_urlsafe(24)
    session.add(ApiKey(name=name, key_hash=_digest(key), expires_at=expires_at, scope=scope))
    session.flush()
    return key


def actor_for_key(session: Session, key: str | None, *, now: dt.datetime | None = None,
                  scope: str = "open311") -> Actor:
    """The client of ``key`` (role ``open311`` or ``hotline``, as its scope): 401 when it is unknown, revoked or
    expired, 403 when it opens another scope. Notes when it was used, to the minute (:data:`KEY_USE_RESOLUTION`)."""
    if not key:
        raise Unauthorized("an api_key is required to file requests", field="api_key")
    now = now or dt.datetime.now(dt.UTC)
    found = session.scalars(select(ApiKey).where(ApiKey.key_hash == _digest(key))).first()
    if found is None:
        raise Unauthorized("unknown api_key", field="api_key")
    if not found.active:
        raise Unauthorized("this api_key has been revoked", field="api_key")
    if found.expires_at is not None and now >= found.expires_at:
        raise Unauthorized(f"this api_key expired on {found.expires_at:%Y-%m-%d %H:%M} UTC", field="api_key")
    if (found.scope or "open311") != scope:
        raise Forbidden(f"this api_key is for {found.scope}, not {scope}", field="api_key")
    if found.last_used_at is None or now - found.last_used_at >= KEY_USE_RESOLUTION:
        found.last_used_at = now
    return Actor(label=f"{scope}:{found.name}", role=scope, api_key_id=found.id)


def revoke_api_key(session: Session, name_or_id: str, *, now: dt.datetime | None = None) -> ApiKey:
    """Revoke the key named ``name_or_id`` (or with that id); 404 when there is none, 422 when several keys have
    that name (give the id)."""
    query = select(ApiKey).where(ApiKey.name == name_or_id)
    if name_or_id.isdigit():
        query = select(ApiKey).where((ApiKey.id == int(name_or_id)) | (ApiKey.name == name_or_id))
    found = session.scalars(query).all()
    if not found:
        raise NotFound(f"no API key named {name_or_id!r}", field="name")
    if len(found) > 1:
        raise InvalidInput(f"{len(found)} API keys match {name_or_id!r}; give the id (apikeys list)", field="name")
    key = found[0]
    if key.active:
        key.active = False
        key.revoked_at = now or dt.datetime.now(dt.UTC)
    return key


def get_user(session: Session, username: str) -> User:
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFound(f"no user {username!r}", field="username")
    return user


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
