"""Login sessions: refresh tokens stored hashed, rotated on every use, with reuse detection, an absolute lifetime and
revocation.

A login opens a *session* (a family of refresh tokens, ``RefreshToken.family``, random). Its first refresh token is
handed out with the access token; ``POST /api/v1/auth/refresh`` marks the presented token used and hands out the next
one of the same family — each valid ``Settings.refresh_days``, never past ``Settings.session_absolute_days`` after the
login. A refresh token is opaque (``rt_`` + 43 random characters); only its SHA-256 is stored.

Presenting a used refresh token again means two parties hold it (a copy was stolen, or a client kept an old one):
:func:`rotate` raises :class:`RefreshReused` and the caller revokes the whole family (:func:`revoke_family`), which
also ends the access tokens of that session — they carry the family as ``sid`` and :func:`patrol.core.auth.
actor_from_token` refuses them once no token of the family is left unrevoked. Logging out, an admin's ``gridpatrol
users logout NAME``, a password change and disabling a user revoke families the same way.

A lost answer is not a theft: a phone that sent its refresh and lost the network before the answer came back still
holds the used token, and its next refresh would end the session. The successor of a token is therefore derived from
it (an HMAC with the server's secret), so presenting a used token again within ``Settings.refresh_grace_s`` of its use,
while its successor is still unused, answers the same successor again (nothing new is issued: whoever holds the used
token gets the one token the first answer carried). Once the successor has been used, or after the grace, a second
use ends the session as above.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from patrol.core.auth import hash_password, issue_token, secret_key
from patrol.core.errors import Unauthorized
from patrol.core.models import RefreshToken, User
from patrol.core.settings import Settings

REFRESH_PREFIX = "rt_"


@dataclass(frozen=True)
class Issued:
    """What a login or a refresh hands out (plain values: usable after the transaction closed)."""

    access_token: str
    refresh_token: str
    expires_in: int
    role: str
    user_id: int
    session_id: str


class RefreshReused(Unauthorized):
    """A used refresh token was presented again: the caller revokes ``family`` (in a transaction of its own: this
    error rolls back the one it was raised in) and answers 401."""

    def __init__(self, family: str) -> None:
        super().__init__("this refresh token was used already, so a copy of it may be in other hands: every token of "
                         "this login has been revoked; log in again", field="refresh_token")
        self.family = family


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(session: Session, user: User, settings: Settings, *, now: dt.datetime,
                  address: str | None = None, client: str | None = None) -> Issued:
    """Open a login session for ``user`` (who has just proved who she is) and issue its first tokens; forgets her
    sessions that ended longer ago than the login audit is kept."""
    session.execute(delete(RefreshToken).where(
        RefreshToken.user_id == user.id,
        RefreshToken.absolute_expires_at < now - dt.timedelta(days=settings.login_audit_days)))
    absolute = now + dt.timedelta(days=settings.session_absolute_days)
    _, issued = _issue(session, user, settings, family=secrets.token_hex(16), absolute=absolute, now=now,
                       address=address, client=client)
    return issued


def _successor(settings: Settings, token: str) -> str:
    """The refresh token that follows ``token`` (the same every time: a retried refresh gets the same answer)."""
    mac = hmac.new(secret_key(settings).encode(), b"refresh-successor\0" + token.encode(), hashlib.sha256).digest()
    return REFRESH_PREFIX + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def _issue(session: Session, user: User, settings: Settings, *, family: str, absolute: dt.datetime,
           now: dt.datetime, address: str | None, client: str | None,
           token: str | None = None) -> tuple[RefreshToken, Issued]:
    token = token or REFRESH_PREFIX + secrets.token_urlsafe(32)
    row = RefreshToken(user_id=user.id, family=family, token_hash=token_digest(token), issued_at=now,
                       expires_at=min(now + dt.timedelta(days=settings.refresh_days), absolute),
                       absolute_expires_at=absolute, address=(address or None) and address[:64],
                       client=(client or None) and client[:200])
    session.add(row)
    session.flush()
    return row, Issued(access_token=issue_token(user, settings, sid=family, now=now), refresh_token=token,
                       expires_in=int(settings.token_hours * 3600), role=user.role, user_id=user.id,
                       session_id=family)


def find_refresh(session: Session, token: str) -> RefreshToken | None:
    return session.scalars(select(RefreshToken).where(RefreshToken.token_hash == token_digest(token))).first()


def rotate(session: Session, token: str, settings: Settings, *, now: dt.datetime) -> Issued:
    """Exchange the refresh token ``token`` for new tokens of the same session (401 on ``refresh_token`` when it is
    unknown, revoked, expired or its session past its absolute lifetime; :class:`RefreshReused` when it was used)."""
    row = find_refresh(session, token)
    if row is None:
        raise Unauthorized("unknown refresh token; log in again", field="refresh_token")
    if row.revoked_at is not None:
        raise Unauthorized("this login session has ended (logged out or revoked); log in again",
                           field="refresh_token")
    if row.used_at is not None:
        return _answer_again(session, row, token, settings, now=now)
    if now >= row.absolute_expires_at:
        raise Unauthorized(f"a login lasts at most {settings.session_absolute_days:g} days; log in again",
                           field="refresh_token")
    if now >= row.expires_at:
        raise Unauthorized("the refresh token has expired; log in again", field="refresh_token")
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        raise Unauthorized("the user no longer exists or is disabled", field="refresh_token")
    # claim the token: of two refreshes racing with the same token exactly one updates the row (the other waits for
    # the row lock on PostgreSQL, or for the write lock on SQLite, then finds it used)
    claimed = session.execute(update(RefreshToken).where(
        RefreshToken.id == row.id, RefreshToken.used_at.is_(None), RefreshToken.revoked_at.is_(None)
    ).values(used_at=now).execution_options(synchronize_session=False))
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(row)
        return _answer_again(session, row, token, settings, now=now)
    new, issued = _issue(session, user, settings, family=row.family, absolute=row.absolute_expires_at, now=now,
                         address=row.address, client=row.client, token=_successor(settings, token))
    session.execute(update(RefreshToken).where(RefreshToken.id == row.id).values(replaced_by=new.id)
                    .execution_options(synchronize_session=False))
    return issued


def _answer_again(session: Session, row: RefreshToken, token: str, settings: Settings, *,
                  now: dt.datetime) -> Issued:
    """The answer to a used token presented again: its successor once more while that is unused and the use was
    within the grace (a lost answer, or racing requests of one client); else :class:`RefreshReused`."""
    successor = session.get(RefreshToken, row.replaced_by) if row.replaced_by is not None else None
    used_at = row.used_at
    if (successor is None or used_at is None or successor.used_at is not None or successor.revoked_at is not None
            or now - used_at > dt.timedelta(seconds=settings.refresh_grace_s)):
        raise RefreshReused(row.family)
    again = _successor(settings, token)
    user = session.get(User, row.user_id)
    if successor.token_hash != token_digest(again) or user is None or not user.active:
        raise RefreshReused(row.family)
    return Issued(access_token=issue_token(user, settings, sid=row.family, now=now), refresh_token=again,
                  expires_in=int(settings.token_hours * 3600), role=user.role, user_id=user.id,
                  session_id=row.family)


def revoke_family(session: Session, family: str, *, now: dt.datetime) -> int:
    """End one login session: every token of the family is revoked; the number of tokens revoked (0: it had ended
    already)."""
    done = session.execute(update(RefreshToken).where(RefreshToken.family == family, RefreshToken.revoked_at.is_(None))
                           .values(revoked_at=now).execution_options(synchronize_session=False))
    return int(done.rowcount)  # type: ignore[attr-defined]


def revoke_user(session: Session, user_id: int, *, now: dt.datetime) -> int:
    """End every login session of a user; the number of sessions that were still open (not revoked and within
    their absolute lifetime)."""
    open_sessions = session.scalar(select(func.count(func.distinct(RefreshToken.family))).where(
        RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None), RefreshToken.absolute_expires_at > now))
    session.execute(update(RefreshToken).where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
                    .values(revoked_at=now).execution_options(synchronize_session=False))
    return int(open_sessions or 0)


def set_active(session: Session, user: User, active: bool, *, now: dt.datetime) -> int:
    """Enable or disable a user; disabling ends her sessions (the number ended)."""
    user.active = active
    return 0 if active else revoke_user(session, user.id, now=now)


def change_password(session: Session, user: User, password: str, *, now: dt.datetime) -> int:
    """Give ``user`` a new password (the policy applies: 422 on ``password``) and end her sessions (the number
    ended): whoever knew the old one is logged out."""
    user.password_hash = hash_password(password, user.username)
    return revoke_user(session, user.id, now=now)
