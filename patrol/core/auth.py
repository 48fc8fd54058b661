"""Who is asking: users with passwords (argon2) and JWT bearer tokens, Open311 API keys, and each role's scope.

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
from pathlib import Path

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session

from patrol.core.errors import Conflict, InvalidInput, NotFound, Unauthorized
from patrol.core.models import ROLES, ApiKey, Community, Grid, ResponsibleUnit, Subdistrict, User
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

    @property
    def is_staff(self) -> bool:
        return self.role in ("supervisor", "subdistrict", "admin")


SYSTEM = Actor(label="system", role="admin")


def hash_password(password: str) -> str:
    if len(password) < 8:
        raise InvalidInput("a password needs at least 8 characters", field="password")
    return _hasher.hash(password)


def verify_password(password: str, hashed: str | None) -> bool:
    if not hashed:
        return False
    try:
        return _hasher.verify(hashed, password)
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
                subdistrict: str | None = None, email: str | None = None, simulated: bool = False) -> User:
    """Add a user; ``community`` is a community code or name (supervisors), ``subdistrict`` a subdistrict code or
    name (subdistrict users, 街道), ``grids`` grid codes (grid workers)."""
    if role not in ROLES:
        raise InvalidInput(f"unknown role {role!r}; roles: {', '.join(ROLES)}", field="role")
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
                password_hash=hash_password(password) if password else None, simulated=simulated)
    session.add(user)
    session.flush()
    for code in grids or []:
        grid = session.scalars(select(Grid).where(Grid.code == code)).first()
        if grid is None:
            raise InvalidInput(f"no grid coded {code!r}", field="grids")
        grid.worker_id = user.id
        if user.community_id is None:
            user.community_id = grid.community_id
    session.flush()
    return user


def authenticate(session: Session, username: str, password: str) -> User:
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None or not user.active or not verify_password(password, user.password_hash):
        raise Unauthorized("wrong username or password", field="username")
    return user


def issue_token(user: User, settings: Settings, *, kind: str = "access", now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now(dt.UTC)
    life = dt.timedelta(hours=settings.token_hours) if kind == "access" else dt.timedelta(days=settings.refresh_days)
    claims = {"sub": str(user.id), "role": user.role, "kind": kind, "iat": now, "exp": now + life}
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


def user_from_token(session: Session, token: str, settings: Settings, *, kind: str = "access") -> User:
    return _usable(session.get(User, int(_claims(token, settings, kind)["sub"])))


def actor_from_token(session: Session, token: str, settings: Settings) -> Actor:
    """The actor of an access token: the user and her grids in one query (this runs on every request)."""
    uid = int(_claims(token, settings, "access")["sub"])
    rows = session.execute(select(User, Grid.id).outerjoin(Grid, Grid.worker_id == User.id)
                           .where(User.id == uid)).all()
    user = _usable(rows[0][0] if rows else None)
    return _actor(session, user, frozenset(g for _, g in rows if g is not None))


def actor_for(session: Session, user: User) -> Actor:
    return _actor(session, user, frozenset(session.scalars(select(Grid.id).where(Grid.worker_id == user.id))))


def _actor(session: Session, user: User, grids: frozenset[int]) -> Actor:
    communities: frozenset[int] = frozenset()
    if user.role == "subdistrict" and user.subdistrict_id is not None:
        communities = frozenset(session.scalars(select(Community.id).where(
            Community.subdistrict_id == user.subdistrict_id)))
    return Actor(label=f"{user.role}:{user.username}", role=user.role, user_id=user.id,
                 community_id=user.community_id, unit_id=user.unit_id, grid_ids=grids,
                 subdistrict_id=user.subdistrict_id, community_ids=communities)


def create_api_key(session: Session, name: str) -> str:
    """A new Open311 key; the key itself is returned once, only its hash is stored."""
    key = "gp_" + secrets.token_urlsafe(24)
    session.add(ApiKey(name=name, key_hash=_digest(key)))
    session.flush()
    return key


def actor_for_key(session: Session, key: str | None) -> Actor:
    if not key:
        raise Unauthorized("an api_key is required to file requests", field="api_key")
    found = session.scalars(select(ApiKey).where(ApiKey.key_hash == _digest(key), ApiKey.active)).first()
    if found is None:
        raise Unauthorized("unknown api_key", field="api_key")
    return Actor(label=f"open311:{found.name}", role="open311", api_key_id=found.id)


def get_user(session: Session, username: str) -> User:
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFound(f"no user {username!r}", field="username")
    return user


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
