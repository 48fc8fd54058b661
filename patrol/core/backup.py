"""Backups that restore: a consistent copy of the whole database (cases, events, photos — photos live in the
database — residents, plans, everything) while the server keeps running, and the way back.

* SpatiaLite: SQLite's online backup API (``sqlite3.Connection.backup``) copies page by page from a read
  transaction, so writers keep writing and the copy is the database as of one moment; the copy is checked with
  ``PRAGMA integrity_check``. Restoring copies the backup into the target file the same way (the server must be
  stopped: a restore replaces the database under it).
* PostGIS: ``pg_dump --format=custom`` (one consistent snapshot, no lock on writers) and ``pg_restore --clean
  --if-exists`` (its script run by psql in one transaction, less the drops of partitions' own constraints and
  indexes, which PostgreSQL refuses) into the target database, with the client tools of the server's major version.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from patrol.core.errors import ConfigurationError, InvalidInput

SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"


@dataclass
class BackupResult:
    path: Path
    bytes: int
    kind: str  # "spatialite" or "postgis"


def _sqlite_path(url: str) -> Path:
    db = make_url(url)
    if not db.database or db.database == ":memory:":
        raise InvalidInput("an in-memory database cannot be backed up", field="database")
    return Path(db.database)


def _pg_tool(name: str) -> str:
    """The PostgreSQL client tool ``name``: GRIDPATROL_PG_BIN, else the newest /usr/lib/postgresql/N/bin, else PATH."""
    configured = os.environ.get("GRIDPATROL_PG_BIN")
    candidates = [Path(configured) / name] if configured else []
    candidates += sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"),
                         key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0, reverse=True)
    for c in candidates:
        if c.exists():
            return str(c)
    found = shutil.which(name)
    if found is None:
        raise ConfigurationError(f"{name} not found: install postgresql-client (or set GRIDPATROL_PG_BIN)")
    return found


def libpq_url(url: str) -> str:
    """A SQLAlchemy PostgreSQL URL as libpq (pg_dump, psql) reads it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def backup(url: str, out: Path) -> BackupResult:
    """Write a backup of the database at ``url`` to ``out`` (which must not exist)."""
    out = Path(out)
    if out.exists():
        raise InvalidInput(f"{out} exists already; choose a new file name", field="out")
    out.parent.mkdir(parents=True, exist_ok=True)
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        src_path = _sqlite_path(url)
        if not src_path.exists():
            raise InvalidInput(f"no database file {src_path}", field="database")
        tmp = out.with_name(out.name + ".part")
        src = sqlite3.connect(src_path, timeout=60)
        dst = sqlite3.connect(tmp)
        try:
            # in one step: one read transaction, which in WAL mode never blocks the writers (copying in several
            # steps would restart whenever another connection writes, i.e. forever on a busy server)
            src.backup(dst)
            ok = dst.execute("PRAGMA integrity_check").fetchone()[0]
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        finally:
            dst.close()
            src.close()
        if ok != "ok":
            tmp.unlink(missing_ok=True)
            raise ConfigurationError(f"the backup failed its integrity check: {ok}")
        tmp.rename(out)
        return BackupResult(out, out.stat().st_size, "spatialite")
    if backend == "postgresql":
        tmp = out.with_name(out.name + ".part")
        run = subprocess.run([_pg_tool("pg_dump"), "--format=custom", "--no-owner", "--file", str(tmp),
                              "--dbname", libpq_url(url)], capture_output=True, text=True)
        if run.returncode != 0:
            tmp.unlink(missing_ok=True)
            raise ConfigurationError(f"pg_dump failed: {run.stderr.strip().splitlines()[-1] if run.stderr else ''}")
        tmp.rename(out)
        return BackupResult(out, out.stat().st_size, "postgis")
    raise InvalidInput(f"cannot back up a {backend} database", field="database")


def kind_of(path: Path) -> str:
    """What a backup file holds, from its first bytes: "spatialite" or "postgis"; 422 on anything else."""
    with open(path, "rb") as f:
        head = f.read(16)
    if head.startswith(SQLITE_MAGIC):
        return "spatialite"
    if head.startswith(PGDUMP_MAGIC):
        return "postgis"
    raise InvalidInput(f"{path} is not a gridpatrol backup (neither a SQLite file nor a pg_dump archive)",
                       field="backup")


def restore(url: str, backup_file: Path, *, force: bool = False) -> str:
    """Restore ``backup_file`` into the database at ``url``. SpatiaLite: the target file is replaced (``force`` is
    needed when it exists). PostGIS: the target database's objects are dropped and recreated from the dump."""
    backup_file = Path(backup_file)
    if not backup_file.exists():
        raise InvalidInput(f"no backup file {backup_file}", field="backup")
    kind = kind_of(backup_file)
    backend = make_url(url).get_backend_name()
    if (kind, backend) not in (("spatialite", "sqlite"), ("postgis", "postgresql")):
        raise InvalidInput(f"a {kind} backup cannot be restored into a {backend} database", field="backup")
    if backend == "sqlite":
        target = _sqlite_path(url)
        if target.exists() and not force:
            raise InvalidInput(f"{target} exists; stop the server and pass --force to replace it", field="database")
        src = sqlite3.connect(backup_file)
        if src.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            src.close()
            raise InvalidInput(f"{backup_file} fails SQLite's integrity check", field="backup")
        for suffix in ("-wal", "-shm"):
            Path(str(target) + suffix).unlink(missing_ok=True)
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=WAL")
        finally:
            dst.close()
            src.close()
        return f"restored {backup_file} into {target}"
    script = subprocess.run([_pg_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--file", "-",
                             str(backup_file)], capture_output=True, text=True)
    if script.returncode != 0:
        last = script.stderr.strip().splitlines()[-1] if script.stderr.strip() else f"exit {script.returncode}"
        raise ConfigurationError(f"pg_restore failed: {last}")
    run = subprocess.run([_pg_tool("psql"), "--quiet", "--no-psqlrc", "--single-transaction", "-v", "ON_ERROR_STOP=1",
                          "--dbname", libpq_url(url)], input=_without_partition_drops(script.stdout, url),
                         capture_output=True, text=True)
    if run.returncode != 0:
        last = run.stderr.strip().splitlines()[-1] if run.stderr.strip() else f"exit {run.returncode}"
        raise ConfigurationError(f"pg_restore failed: {last}")
    return f"restored {backup_file} into {make_url(url).render_as_string(hide_password=True)}"


def _without_partition_drops(script: str, url: str) -> str:
    """The ``--clean`` script without the statements that drop a partition's own constraints and indexes (gps_fix's
    monthly partitions): PostgreSQL refuses them, as they belong to the partitioned table, whose DROP TABLE takes
    its partitions along with them."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            parts = set(conn.execute(text("SELECT relname FROM pg_class WHERE relispartition")).scalars())
    finally:
        engine.dispose()
    if not parts:
        return script
    drop = re.compile(r"^(ALTER TABLE IF EXISTS ONLY public\.(\w+) DROP CONSTRAINT"
                      r"|DROP INDEX IF EXISTS public\.(\w+);)")
    kept = []
    for line in script.splitlines(keepends=True):
        m = drop.match(line)
        if m and (m.group(2) or m.group(3)) in parts:
            continue
        kept.append(line)
    return "".join(kept)
