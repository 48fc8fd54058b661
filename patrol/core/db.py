"""Engines and sessions for the two supported databases: SpatiaLite (embedded default) and PostGIS (production)."""

from __future__ import annotations

import ctypes
import functools
import importlib.util
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from geoalchemy2.admin.dialects.sqlite import load_spatialite
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from patrol.core.errors import ConfigurationError

#: Python packages whose wheels bundle their own PROJ, GDAL, GEOS or SQLite (in ``<package>.libs/``).
BUNDLING_PACKAGES = ("pyproj", "pyogrio", "shapely")


@functools.cache
def bind_bundled_libraries() -> list[str]:
    """Load the native libraries that pyproj, pyogrio and shapely bundle — each bound to itself — before SpatiaLite
    is ever loaded; returns the names loaded.

    Why: SQLite loads an extension with ``dlopen(RTLD_NOW | RTLD_GLOBAL)``, so mod_spatialite puts the system's
    PROJ (9.1), GEOS and SQLite into the process's global symbol scope. A wheel's PROJ (pyproj's 9.5, under another
    file name) loaded *after* that resolves its C++ vtables, typeinfo and functions to the system copy first
    (``LD_DEBUG=bindings`` shows ``libproj-1eb8c554.so … to /lib/x86_64-linux-gnu/libproj.so.25``): objects made by
    one PROJ are destroyed by the other, and the process dies at exit with ``double free or corruption`` (GDAL in
    pyogrio segfaults the same way). Loaded first with ``RTLD_NOW | RTLD_LOCAL``, every bundled library binds its
    symbols to itself at once and stays out of the global scope, whatever is imported later; the packages then
    reuse these loaded copies (same file, same soname). Costs a few milliseconds, without importing the packages.
    """
    loaded: list[str] = []
    for package in BUNDLING_PACKAGES:
        spec = importlib.util.find_spec(package)
        if spec is None or spec.origin is None:
            continue
        todo = sorted((Path(spec.origin).parent.parent / f"{package}.libs").glob("*.so*"))
        while todo:  # in dependency order: a library loads once the bundled ones it needs are loaded
            left = []
            for lib in todo:
                try:
                    ctypes.CDLL(str(lib), mode=os.RTLD_NOW | os.RTLD_LOCAL)
                    loaded.append(lib.name)
                except OSError:
                    left.append(lib)
            if len(left) == len(todo):
                break  # not loadable here (another platform's wheel): nothing to bind
            todo = left
    return loaded


def make_engine(url: str, *, spatialite_library: str = "mod_spatialite", echo: bool = False) -> Engine:
    """Create an engine for ``url``; for SQLite, every connection loads SpatiaLite and enforces foreign keys."""
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        bind_bundled_libraries()
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
