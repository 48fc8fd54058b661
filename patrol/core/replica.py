"""The read replica (issue 23): a second engine on a PostgreSQL streaming standby for the read-only work
(dashboards, KPIs, maps, analytics, exports, tiles, OGC / Open311 reads), with read-your-writes and a fallback.

**Read-your-writes, by WAL position.** A request on the primary that wrote (its transaction was given a
transaction id: ``pg_current_xact_id_if_assigned()``) records, after its commit, the primary's WAL insert position
(``pg_current_wal_insert_lsn()``: at or after the end of its commit record). The web layer hands it to the user's
browser as a small cookie (see :mod:`api.middleware`): any number of server processes read it the same way. A read
that brings a position is served by the replica only when the replica has replayed at least that far
(``pg_last_wal_replay_lsn() >= position``), else by the primary: a user always reads her own writes; everyone else
reads the replica, at most its replication lag (typically milliseconds) behind.

**Fallback.** A replica that cannot be reached or refuses the connection (down, starting, too many connections,
wrong password) is left for :data:`RETRY_SECONDS`: reads go to the primary meanwhile (a warning when it goes, one
line when it is back), never an error. A replica that fails *during* a query (it crashed mid-request) fails that
one request.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from typing import Literal

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from patrol.core.errors import ConfigurationError

log = logging.getLogger(__name__)

#: how long a replica that failed to connect is left alone before it is tried again, s
RETRY_SECONDS = 10.0
#: how long a connection attempt to the replica may take, s (then: the primary)
CONNECT_TIMEOUT_S = 2
#: a WAL position as PostgreSQL writes it: two hexadecimal halves, e.g. ``0/3000148``
LSN = re.compile(r"^[0-9A-F]{1,8}/[0-9A-F]{1,8}$")
#: the cookie that carries a user's last write position, and how long it is kept (s): longer than any lag that
#: should still be hidden from her; after it, her reads follow everyone's (the replica's)
POSITION_COOKIE = "gridpatrol_wal"
POSITION_MAX_AGE_S = 120

Source = Literal["replica", "primary-behind", "primary-down"]


def valid_lsn(value: str | None) -> str | None:
    """``value`` when it is a WAL position, else None (a cookie is user input)."""
    value = (value or "").strip().upper()
    return value if LSN.match(value) else None


def lsn_number(value: str) -> int:
    """A WAL position as one integer (for comparing two in Python)."""
    high, low = value.split("/")
    return (int(high, 16) << 32) | int(low, 16)


def wrote(session: Session) -> bool:
    """Whether the PostgreSQL transaction of ``session`` has written anything (it was given a transaction id)."""
    return bool(session.execute(text("SELECT pg_current_xact_id_if_assigned() IS NOT NULL")).scalar())


def insert_position(session: Session) -> str:
    """The primary's WAL insert position now: after a commit, at or past that commit's record."""
    return str(session.execute(text("SELECT pg_current_wal_insert_lsn()::text")).scalar())


class ReadReplica:
    """The replica's engine and its health; :meth:`session` decides, per read, replica or primary."""

    def __init__(self, url: str, primary: Engine, *, retry_seconds: float = RETRY_SECONDS) -> None:
        if primary.dialect.name != "postgresql" or make_url(url).get_backend_name() != "postgresql":
            raise ConfigurationError("read_database_url (GRIDPATROL_READ_DATABASE_URL) needs PostgreSQL for both the "
                                     "database and its replica (postgresql+psycopg://…)")
        self.url = url
        self.engine = create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": CONNECT_TIMEOUT_S},
                                    execution_options={"postgresql_readonly": True})
        self.retry_seconds = retry_seconds
        self._down_until = 0.0
        self._down = False
        self._lock = threading.Lock()

    def session(self, factory: sessionmaker[Session], position: str | None) -> tuple[Session | None, Source]:
        """A session on the replica with its connection open (and its transaction begun), or None and why not:
        ``primary-down`` (the replica cannot be reached now) or ``primary-behind`` (it has not yet replayed
        ``position``, the caller's own last write)."""
        if time.monotonic() < self._down_until:
            return None, "primary-down"
        session = factory(bind=self.engine)
        try:
            connection = session.connection()
            if position is not None:
                caught_up = connection.execute(
                    text("SELECT coalesce(pg_last_wal_replay_lsn() >= CAST(:position AS pg_lsn), false)"),
                    {"position": position}).scalar()
                if not caught_up:
                    session.close()
                    self._up()
                    return None, "primary-behind"
        except DBAPIError as exc:
            session.close()
            self._failed(exc)
            return None, "primary-down"
        self._up()
        return session, "replica"

    def _failed(self, exc: DBAPIError) -> None:
        with self._lock:
            self._down_until = time.monotonic() + self.retry_seconds
            if not self._down:
                self._down = True
                reason = str(exc.orig or exc).strip().splitlines()[0] if (exc.orig or exc) else type(exc).__name__
                log.warning("read replica unavailable (%s): reads go to the primary; trying it again every %.0f s",
                            reason, self.retry_seconds)

    def _up(self) -> None:
        if self._down:
            with self._lock:
                if self._down:
                    self._down = False
                    log.warning("read replica is back: reads go to it again")

    @property
    def down(self) -> bool:
        return self._down

    def dispose(self) -> None:
        self.engine.dispose()
