"""Backups that restore (``gridpatrol backup`` / ``restore``), on SpatiaLite and PostGIS: a backup taken while a
writer keeps reporting cases restores to a consistent database (every case it holds is the source's, with its
report event and photos), and a backup taken at rest restores to exactly the source, table by table."""

from __future__ import annotations

import io
import threading
import time
import uuid
from pathlib import Path

from click.testing import CliRunner
from PIL import Image
from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.engine import make_url

from api.cli import cli
from patrol.analytics import kpi_days_sql
from patrol.cases import service as svc
from patrol.cases.photos import store_photo
from patrol.core.auth import SYSTEM
from patrol.core.db import drop_postgis_database, make_engine, session_factory, transaction
from patrol.core.models import Base, Case, Grid
from patrol.core.settings import Settings

# our tables (not SpatiaLite's or PostGIS's own bookkeeping, which a restore rebuilds its own way)
OURS = frozenset(Base.metadata.tables) | {"alembic_version"}


def _tables(engine) -> dict[str, list[tuple]]:
    """Every table of ours with its rows in a stable order (geometries as WKB, compared byte for byte)."""
    out = {}
    with engine.connect() as conn:
        names = [n for n in inspect(conn).get_table_names() if n in OURS]
        for name in sorted(names):
            rows = conn.execute(text(f'SELECT * FROM "{name}"')).all()
            out[name] = sorted((tuple(r) for r in rows), key=repr)
    return out


def _point(engine) -> tuple[float, float]:
    with engine.connect() as conn:
        x, y = conn.execute(text("SELECT ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom)) FROM grid "
                                 "ORDER BY id LIMIT 1")).one()
    return float(x), float(y)


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (180, 40, 40)).save(buf, "JPEG")
    return buf.getvalue()


def _report(factory, settings: Settings, point, *, photo: bool = False) -> int:
    with transaction(factory) as s:
        case = svc.create_case(s, SYSTEM, settings, client_id=str(uuid.uuid4()), category="C0103",
                               lon=point[0], lat=point[1], description="backup test").case
        if photo:
            store_photo(s, SYSTEM, case.id, _jpeg(), max_bytes=settings.upload_max_bytes)
        return case.id


def _target(backend: str, url: str, tmp_path: Path, name: str) -> str:
    if backend == "spatialite":
        return f"sqlite:///{tmp_path / name}"
    db = make_url(url)
    admin = create_engine(db.set(database="postgres"), isolation_level="AUTOCOMMIT")
    target = f"gp_restore_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{target}"'))
    admin.dispose()
    return db.set(database=target).render_as_string(hide_password=False)


def _cli(*args: str) -> str:
    r = CliRunner().invoke(cli, list(args))
    assert r.exit_code == 0, r.output + (r.stderr if r.stderr_bytes else "")
    return r.stdout


def test_backup_during_writes_then_at_rest_restores_every_table(monaco_city_url, backend, tmp_path):
    url = monaco_city_url
    settings = Settings(database_url=url, timezone="Asia/Shanghai")
    engine = make_engine(url)
    factory = session_factory(engine)
    point = _point(engine)
    for i in range(5):
        _report(factory, settings, point, photo=i % 2 == 0)
    before = _tables(engine)["patrol_case"]

    written: list[int] = []
    stop = threading.Event()
    failures: list[BaseException] = []

    def writer() -> None:
        try:
            while not stop.is_set() and len(written) < 400:
                written.append(_report(factory, settings, point, photo=len(written) % 5 == 0))
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            failures.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    deadline = time.monotonic() + 60
    while len(written) < 10 and time.monotonic() < deadline and not failures:
        time.sleep(0.01)
    during = tmp_path / "during.backup"
    out = _cli("backup", str(during), "--database", url)
    assert "backed up" in out and during.stat().st_size > 0
    time.sleep(0.2)
    stop.set()
    thread.join(timeout=60)
    assert not failures, failures
    source = _tables(engine)
    assert set(source) == OURS  # every table of ours is compared

    target = _target(backend, url, tmp_path, "restored.db")
    try:
        _cli("restore", str(during), "--database", target)
        restored_engine = make_engine(target)
        restored = _tables(restored_engine)
        # a consistent moment while the writer was writing: more cases than before, fewer than in the end, each one
        # exactly the source's, each with its report event; every table the writer did not touch is equal
        cases = restored["patrol_case"]
        assert len(before) + 10 <= len(cases) <= len(source["patrol_case"])
        assert set(cases) <= set(source["patrol_case"])
        with restored_engine.connect() as conn:
            missing = conn.execute(text("SELECT count(*) FROM patrol_case c WHERE NOT EXISTS (SELECT 1 FROM "
                                        "case_event e WHERE e.case_id = c.id AND e.action = 'report')")).scalar()
            assert missing == 0
        # case_kpi_fact: the KPI summary rows the triggers keep with each case's steps
        written_to = ("patrol_case", "case_event", "photo", "revisit", "case_kpi_fact")
        for name in written_to:
            assert set(restored[name]) <= set(source[name]), name
        # case_kpi_day (PostgreSQL): the per-day sums of those facts, rows changed in place as cases came in
        untouched = set(source) - {*written_to, "case_kpi_day", "alembic_version"}
        for name in untouched:
            assert restored[name] == source[name], name
        kept = restored["case_kpi_day"]  # the snapshot's day sums are its facts' sums
        assert (len(kept) > 0) == (backend == "postgis")
        with restored_engine.connect() as conn, conn.begin() as tx:
            for stmt in kpi_days_sql.rebuild_sql() if backend == "postgis" else ():
                conn.execute(text(stmt))
            rebuilt = sorted((tuple(r) for r in conn.execute(text("SELECT * FROM case_kpi_day")).all()), key=repr)
            tx.rollback()
        assert rebuilt == kept
        assert len(restored["photo"]) >= 3
        restored_engine.dispose()

        # at rest: the restore is the source, every table
        rest = tmp_path / "rest.backup"
        _cli("backup", str(rest), "--database", url)
        _cli("restore", str(rest), "--force", "--database", target)
        restored_engine = make_engine(target)
        assert _tables(restored_engine) == _tables(engine)
        with transaction(session_factory(restored_engine)) as s:  # and the restored database works
            assert s.scalar(select(Case.number).where(Case.id == written[-1])) is not None
            assert s.scalar(select(Grid.id).limit(1)) is not None
        restored_engine.dispose()
    finally:
        engine.dispose()
        if backend == "postgis":
            drop_postgis_database(target)


def test_restore_refuses_what_it_cannot_restore(fresh_url, tmp_path):
    not_a_backup = tmp_path / "x.backup"
    not_a_backup.write_bytes(b"PK\x03\x04 not a database")
    r = CliRunner().invoke(cli, ["restore", str(not_a_backup), "--database", fresh_url])
    assert r.exit_code == 1 and r.stderr.startswith("gridpatrol: error: ") and "not a gridpatrol backup" in r.stderr
    r = CliRunner().invoke(cli, ["backup", str(not_a_backup), "--database", fresh_url])
    assert r.exit_code == 1 and "exists already" in r.stderr
    if fresh_url.startswith("sqlite"):
        existing = tmp_path / "existing.db"
        existing.write_bytes(b"")
        good = tmp_path / "good.backup"
        good.write_bytes(b"SQLite format 3\x00" + b"\x00" * 100)
        r = CliRunner().invoke(cli, ["restore", str(good), "--database", f"sqlite:///{existing}"])
        assert r.exit_code == 1 and "--force" in r.stderr
