"""Engines and sessions for the two supported databases: SpatiaLite (embedded default) and PostGIS (production)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from geoalchemy2.admin.dialects.sqlite import load_spatialite
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from patrol.core.errors import ConfigurationError


def make_engine(url: str, *, spatialite_library: str = "mod_spatialite", echo: bool = False) -> Engine:
    """Create an engine for ``url``; for SQLite, every connection loads SpatiaLite and enforces foreign keys."""
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        os.environ.setdefault("SPATIALITE_LIBRARY_PATH", spatialite_library)
        engine = create_engine(url, echo=echo)
        _sqlite_transactions(engine)

        @event.listens_for(engine, "connect")
        def _connect(dbapi_conn, record):
            # init_mode WGS84 with a transaction: 0.07 s instead of 14 s for the full spatial_ref_sys table, and
            # SRID 4326 stays known (with EMPTY, metric distance queries silently return nothing).
            try:
                load_spatialite(dbapi_conn, record, init_mode="WGS84", transaction=True)
            except Exception as exc:  # the extension itself is missing or cannot load
                raise ConfigurationError(
                    f"cannot load SpatiaLite ({spatialite_library}): {exc}; install libsqlite3-mod-spatialite "
                    "and use a Python whose sqlite3 can load extensions (see README)"
                ) from exc
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.close()

        return engine
    if backend == "postgresql":
        return create_engine(url, echo=echo, pool_pre_ping=True)
    raise ConfigurationError(f"unsupported database URL {url!r}: use sqlite:///… (SpatiaLite) or postgresql+psycopg://…")


def _sqlite_transactions(engine: Engine) -> None:
    """Let SQLAlchemy, not pysqlite, issue BEGIN, so that SAVEPOINT and rollback behave (SQLAlchemy's recipe)."""

    @event.listens_for(engine, "connect")
    def _no_autobegin(dbapi_conn, record):
        dbapi_conn.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(conn):
        # A deferred transaction that reads, then writes, fails at once with "database is locked" when another
        # writer committed in between (WAL snapshot upgrade); BEGIN IMMEDIATE takes the write lock up front and
        # waits its turn instead. Asked for with the execution option ``sqlite_immediate`` (see api/deps.py).
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("sqlite_immediate") else "BEGIN")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work is committed together, or rolled back together on any error."""
    with factory() as session, session.begin():
        yield session


def create_postgis_database(base_url: str, name: str) -> str:
    """Create database ``name`` with PostGIS on the server of ``base_url`` (tests, benchmarks); returns its URL."""
    url = make_url(base_url)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    fresh = url.set(database=name)
    engine = create_engine(fresh)
    with engine.begin() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
    engine.dispose()
    return fresh.render_as_string(hide_password=False)


def drop_postgis_database(db_url: str) -> None:
    url = make_url(db_url)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
    admin.dispose()
