"""Logging in: throttling per user name and per client address, the audit of attempts, and a password check that
costs the same for unknown users and never runs under the database's write lock.

Every attempt is a ``LoginAttempt`` row (time, the user name as typed, the client's address, ok, why it failed; never
the password), so the counts hold across restarts and across the server's processes. Within
``Settings.login_window_minutes`` (15), ``login_max_failures_user`` (5) failures of one user name since its last
successful login, or ``login_max_failures_address`` (20) failures from one address, refuse further attempts of that
name or address with 429 and ``Retry-After`` (the seconds until the oldest counted failure leaves the window) —
without checking the password. A refused attempt is not recorded (it would extend its own block).

:func:`log_in` reads the user and the counts in a read transaction, verifies the argon2 hash (≈ 64 MiB, 0.1–0.2 s)
with no transaction open (at most :data:`HASHING` at once) — an unknown user is verified against a dummy hash, so
she costs the same — and then writes
the attempt (and, on success, the new session) in one short write transaction. Attempts racing in parallel are each
checked against the count before them, so a burst may pass the limit by the number of parallel requests.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import threading
from collections.abc import Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from patrol.core.auth import verify_password
from patrol.core.errors import TooManyAttempts, Unauthorized
from patrol.core.models import LoginAttempt, User
from patrol.core.sessions import Issued, start_session
from patrol.core.settings import Settings

NAME_MAX = 80
ADDRESS_MAX = 64
#: argon2 verifications running at once (each takes 64 MiB): a burst of logins queues instead of taking the memory
HASHING = threading.BoundedSemaphore(max(2, min(8, os.cpu_count() or 2)))


def _printable(text: str) -> str:
    """``text`` without NUL characters (PostgreSQL's text refuses them; they can be no user's name)."""
    return text.replace("\x00", "\ufffd")


def _retry_after(failures: Sequence[dt.datetime], limit: int, window: dt.timedelta, now: dt.datetime) -> int | None:
    """Seconds until fewer than ``limit`` of ``failures`` (newest first) are within ``window``, None if they are
    fewer already."""
    if len(failures) < limit:
        return None
    return max(1, math.ceil((failures[limit - 1] + window - now).total_seconds()))


def throttle(session: Session, username: str, address: str, settings: Settings, *, now: dt.datetime) -> None:
    """Raise :class:`TooManyAttempts` (429) when ``username`` or ``address`` failed too often lately."""
    window = dt.timedelta(minutes=settings.login_window_minutes)
    start = now - window
    last_ok = session.scalar(select(func.max(LoginAttempt.at)).where(
        LoginAttempt.username == username, LoginAttempt.ok, LoginAttempt.at > start))
    user_limit, address_limit = settings.login_max_failures_user, settings.login_max_failures_address
    by_name = session.scalars(select(LoginAttempt.at).where(
        LoginAttempt.username == username, LoginAttempt.ok.is_(False), LoginAttempt.at > (last_ok or start))
        .order_by(LoginAttempt.at.desc()).limit(user_limit)).all()
    by_address = session.scalars(select(LoginAttempt.at).where(
        LoginAttempt.address == address, LoginAttempt.ok.is_(False), LoginAttempt.at > start)
        .order_by(LoginAttempt.at.desc()).limit(address_limit)).all()
    wait_name = _retry_after(by_name, user_limit, window, now)
    wait_address = _retry_after(by_address, address_limit, window, now)
    if wait_name is None and wait_address is None:
        return
    wait = max(wait_name or 0, wait_address or 0)
    minutes = math.ceil(wait / 60)
    whose = "for this user name" if (wait_name or 0) >= (wait_address or 0) else "from this address"
    raise TooManyAttempts(f"too many failed logins {whose}; try again in {minutes} minute{'s' * (minutes != 1)}",
                          retry_after=wait, field="username")


def log_in(sessions: sessionmaker[Session], username: str, password: str, settings: Settings, *,
           address: str | None, client: str | None = None, now: dt.datetime | None = None) -> Issued:
    """Check ``username`` and ``password`` and open a login session: 429 when throttled, 401 on ``username`` for a
    wrong name or password or a disabled user (one message for all three); the attempt is recorded either way."""
    now = now or dt.datetime.now(dt.UTC)
    name, where = _printable(username[:NAME_MAX]), _printable((address or "unknown")[:ADDRESS_MAX])
    with sessions() as session:  # a read transaction: no write lock is held while the hash is verified
        throttle(session, name, where, settings, now=now)
        found = session.execute(select(User.id, User.password_hash, User.active)
                                .where(User.username == _printable(username))).first()
    with HASHING:
        matches = verify_password(password, found.password_hash if found is not None else None)
    ok = matches and found is not None and found.active
    reason = None if ok else ("unknown_user" if found is None else "disabled" if matches else "wrong_password")
    with sessions() as session, session.begin():
        session.connection(execution_options={"sqlite_immediate": True})
        session.add(LoginAttempt(at=now, username=name, address=where, ok=ok, reason=reason))
        kept_from = now - dt.timedelta(days=settings.login_audit_days)
        session.execute(delete(LoginAttempt).where(LoginAttempt.at < kept_from))
        user = session.get(User, found.id) if ok and found is not None else None
        issued = start_session(session, user, settings, now=now, address=where, client=client) if user else None
    if issued is None:
        raise Unauthorized("wrong username or password", field="username")
    return issued


def failures(session: Session, since: dt.datetime, *, everything: bool = False) -> list[LoginAttempt]:
    """The failed login attempts since ``since`` (with ``everything``, the successful ones too), oldest first."""
    query = select(LoginAttempt).where(LoginAttempt.at >= since).order_by(LoginAttempt.at, LoginAttempt.id)
    if not everything:
        query = query.where(LoginAttempt.ok.is_(False))
    return list(session.scalars(query))
