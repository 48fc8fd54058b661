"""Deliver the outbox: claim due rows in a short transaction, send outside any transaction, record the outcome.

A row is due when it is ``pending`` and its ``next_attempt_at`` has come, or ``sending`` with an expired lease (the
sender that claimed it died before recording the outcome). Claiming sets ``sending``, a lease and ``attempts + 1``;
PostgreSQL skips rows another sender holds (``FOR UPDATE SKIP LOCKED``), SQLite's write lock serialises claims.
A success is ``sent``; a failure goes back to ``pending`` with exponential backoff (30 s × 2^(attempts − 1), at
most an hour, ±10 % jitter) and the error, and is ``dead`` after ``notify_max_attempts``.

Exactly once, as far as the receiver can tell: a sender that crashed after sending but before recording it sends
the row again after the lease, with the same ``Idempotency-Key: gridpatrol-outbox-<id>`` header (webhooks) or the
same ``Message-ID`` (e-mail), so the receiver can drop the repeat.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import smtplib
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate
from urllib.parse import urlsplit

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from patrol.core.db import transaction
from patrol.core.errors import InvalidInput
from patrol.core.models import Outbox
from patrol.core.settings import Settings
from patrol.core.time import aware, now_utc

BACKOFF_BASE_S = 30.0
BACKOFF_MAX_S = 3600.0


class DeliveryError(Exception):
    """A delivery failed; the message is kept as the row's ``last_error``."""


@dataclass(frozen=True)
class Claimed:
    """An outbox row claimed for sending, copied out of the session (sending happens after its transaction)."""

    id: int
    kind: str
    address: str
    payload: str
    attempts: int


@dataclass
class PassResult:
    """What one delivery pass did."""

    sent: int = 0
    failed: int = 0
    dead: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def claimed(self) -> int:
        return self.sent + self.failed + self.dead


Sender = Callable[[Claimed, Settings], None]


# ---------------------------------------------------------------------------------------------- addresses


def check_address(kind: str, address: str) -> str:
    """The address of a new channel, checked: an e-mail address, or an http(s) URL for the webhook kinds."""
    address = address.strip()
    if kind == "email":
        local, _, domain = address.partition("@")
        if not local or "." not in domain or any(c.isspace() for c in address) or len(address) > 254:
            raise InvalidInput(f"not an e-mail address: {address!r}", field="email")
        return address
    if kind not in ("webhook", "wecom", "dingtalk"):
        raise InvalidInput(f"unknown channel kind {kind!r}: email, webhook, wecom or dingtalk", field="kind")
    parts = urlsplit(address)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInput(f"a webhook must be an http:// or https:// URL, got {address!r}", field="webhook")
    if len(address) > 500:
        raise InvalidInput("the webhook URL is longer than 500 characters", field="webhook")
    return address


# ---------------------------------------------------------------------------------------------- senders


def send_email(row: Claimed, settings: Settings) -> None:
    if not settings.smtp_host:
        raise DeliveryError("no SMTP server configured (GRIDPATROL_SMTP_HOST)")
    body = json.loads(row.payload)
    mail = EmailMessage()
    mail["From"] = settings.smtp_from
    mail["To"] = row.address
    mail["Subject"] = body["subject"]
    mail["Date"] = formatdate(localtime=False)
    domain = settings.smtp_from.rpartition("@")[2] or "gridpatrol.local"
    mail["Message-ID"] = f"<gridpatrol-outbox-{row.id}@{domain}>"
    mail.set_content(body["text"])
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.notify_timeout_seconds) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password or "")
            smtp.send_message(mail)
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"SMTP {settings.smtp_host}:{settings.smtp_port}: {exc}") from exc


def send_http(row: Claimed, settings: Settings) -> None:
    """POST the JSON payload; a 2xx is success, but a WeCom / DingTalk robot answers 200 with a non-zero
    ``errcode`` when it refused the message."""
    if urlsplit(row.address).scheme not in ("http", "https"):
        raise DeliveryError(f"not an http(s) URL: {row.address}")
    request = urllib.request.Request(row.address, data=row.payload.encode("utf-8"), method="POST", headers={
        "Content-Type": "application/json; charset=utf-8", "Idempotency-Key": f"gridpatrol-outbox-{row.id}",
        "User-Agent": "gridpatrol-notify"})
    try:
        with urllib.request.urlopen(request, timeout=settings.notify_timeout_seconds) as response:  # noqa: S310
            status, answer = response.status, response.read(65536)
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"HTTP {exc.code} from {urlsplit(row.address).netloc}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise DeliveryError(f"{urlsplit(row.address).netloc}: {getattr(exc, 'reason', exc)}") from exc
    if not 200 <= status < 300:
        raise DeliveryError(f"HTTP {status} from {urlsplit(row.address).netloc}")
    if row.kind in ("wecom", "dingtalk"):
        try:
            errcode = json.loads(answer or b"{}").get("errcode", 0)
        except (ValueError, AttributeError):
            errcode = None
        if errcode != 0:
            raise DeliveryError(f"{row.kind} robot refused the message: {answer[:300].decode('utf-8', 'replace')}")


SENDERS: dict[str, Sender] = {"email": send_email, "webhook": send_http, "wecom": send_http, "dingtalk": send_http}


# ---------------------------------------------------------------------------------------------- the pass


def backoff(attempts: int, rng: random.Random | None = None) -> dt.timedelta:
    """The wait before the next try after ``attempts`` failed ones: 30 s, 60 s, 120 s … at most an hour, ±10 %."""
    base = min(BACKOFF_BASE_S * 2 ** max(attempts - 1, 0), BACKOFF_MAX_S)
    return dt.timedelta(seconds=base * (rng or random).uniform(0.9, 1.1))


def due_clause(now: dt.datetime):
    return or_((Outbox.status == "pending") & (Outbox.next_attempt_at <= now),
               (Outbox.status == "sending") & (Outbox.lease_until < now))


def claim(sessions: sessionmaker[Session], settings: Settings, now: dt.datetime, limit: int) -> list[Claimed]:
    """Claim up to ``limit`` due rows (oldest due first) in one short transaction."""
    with transaction(sessions) as session:
        # SQLite: take the write lock before reading (BEGIN IMMEDIATE), so that two senders never claim one row
        session.connection(execution_options={"sqlite_immediate": True})
        stmt = select(Outbox).where(due_clause(now)).order_by(Outbox.next_attempt_at, Outbox.id).limit(limit)
        if session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        rows = session.scalars(stmt).all()
        lease = now + dt.timedelta(seconds=settings.notify_lease_seconds)
        claimed = []
        for row in rows:
            row.status, row.lease_until, row.attempts = "sending", lease, (row.attempts or 0) + 1
            claimed.append(Claimed(row.id, row.kind, row.address, row.payload, row.attempts))
    return claimed


def _attempt(row: Claimed, settings: Settings, senders: dict[str, Sender]) -> str | None:
    sender = senders.get(row.kind)
    try:
        if sender is None:
            raise DeliveryError(f"no sender for channel kind {row.kind!r}")
        sender(row, settings)
    except DeliveryError as exc:
        return str(exc)[:2000]
    except Exception as exc:  # noqa: BLE001 - a sender's bug must not stop the pass: recorded on the row, retried
        return f"{type(exc).__name__}: {exc}"[:2000]
    return None


def record(sessions: sessionmaker[Session], settings: Settings, outcomes: list[tuple[Claimed, str | None]],
           now: dt.datetime, result: PassResult) -> None:
    """Write what happened to each claimed row; a row claimed again meanwhile (its lease expired, its attempts
    counted on) is left to the newer claim. The sent rows are marked together, a statement per attempt count."""
    sent: dict[int, list[int]] = {}
    with transaction(sessions) as session:
        for row, error in outcomes:
            if error is None:
                sent.setdefault(row.attempts, []).append(row.id)
                result.sent += 1
                continue
            result.errors.append(f"outbox {row.id}: {error}")
            if row.attempts >= settings.notify_max_attempts:
                values: dict = {"status": "dead", "lease_until": None, "last_error": error}
                result.dead += 1
            else:
                values = {"status": "pending", "lease_until": None, "last_error": error,
                          "next_attempt_at": now + backoff(row.attempts)}
                result.failed += 1
            session.execute(update(Outbox).where(Outbox.id == row.id, Outbox.status == "sending",
                                                 Outbox.attempts == row.attempts).values(**values))
        for attempts, ids in sent.items():
            session.execute(update(Outbox).where(Outbox.id.in_(ids), Outbox.status == "sending",
                                                 Outbox.attempts == attempts)
                            .values(status="sent", sent_at=now, lease_until=None, last_error=None))


def deliver(sessions: sessionmaker[Session], settings: Settings, *, now: dt.datetime | None = None,
            limit: int | None = None, senders: dict[str, Sender] | None = None) -> PassResult:
    """One delivery pass: claim the due rows, send them (``notify_threads`` at once), record the outcomes."""
    now = aware(now) if now is not None else now_utc()
    rows = claim(sessions, settings, now, limit or settings.notify_batch)
    result = PassResult()
    if not rows:
        return result
    senders = senders or SENDERS
    threads = min(settings.notify_threads, len(rows))
    if threads > 1:
        with ThreadPoolExecutor(threads) as pool:
            errors = list(pool.map(lambda r: _attempt(r, settings, senders), rows))
    else:
        errors = [_attempt(rows[0], settings, senders)]
    record(sessions, settings, list(zip(rows, errors, strict=True)), now, result)
    return result


def deliver_all(sessions: sessionmaker[Session], settings: Settings, *, now: dt.datetime | None = None,
                senders: dict[str, Sender] | None = None, max_passes: int = 1000) -> PassResult:
    """Passes until nothing is due at ``now`` (or ``max_passes``): the sum of their results."""
    total = PassResult()
    for _ in range(max_passes):
        one = deliver(sessions, settings, now=now, senders=senders)
        if not one.claimed:
            break
        total.sent, total.failed, total.dead = total.sent + one.sent, total.failed + one.failed, total.dead + one.dead
        total.errors += one.errors
    return total


def status_counts(session: Session) -> dict[str, int]:
    return {s: n for s, n in session.execute(select(Outbox.status, func.count()).group_by(Outbox.status))}


def oldest_pending(session: Session) -> dt.datetime | None:
    value = session.scalar(select(func.min(Outbox.created_at)).where(Outbox.status.in_(("pending", "sending"))))
    return aware(value) if value is not None else None
