"""SQLite: a transaction that reads, then writes, after another writer committed fails at once ("database is
locked") unless it began IMMEDIATE — which API requests that write do (api.deps.get_session)."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import text

from patrol.core.db import make_engine, session_factory


def _setup(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'lock.db'}")
    with engine.begin() as c:
        c.execute(text("CREATE TABLE t (x INTEGER)"))
    return engine, str(tmp_path / "lock.db")


def _other_writer(path: str) -> None:
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    other.execute("INSERT INTO t VALUES (2)")
    other.close()


def test_a_deferred_read_then_write_loses_to_a_concurrent_writer(tmp_path):
    engine, path = _setup(tmp_path)
    with session_factory(engine)() as s, s.begin():
        s.execute(text("SELECT count(*) FROM t")).scalar()
        _other_writer(path)  # commits between our read and our write
        with pytest.raises(Exception, match="locked"):
            s.execute(text("INSERT INTO t VALUES (1)"))
    engine.dispose()


def test_an_immediate_transaction_holds_the_write_lock_from_its_start(tmp_path):
    engine, path = _setup(tmp_path)
    with session_factory(engine)() as s, s.begin():
        s.connection(execution_options={"sqlite_immediate": True})
        s.execute(text("SELECT count(*) FROM t")).scalar()
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            _other_writer(path)  # the other writer waits its turn (here: timeout 0, so it gives up)
        s.execute(text("INSERT INTO t VALUES (1)"))
    with engine.connect() as c:
        assert c.execute(text("SELECT x FROM t")).scalars().all() == [1]
    engine.dispose()
