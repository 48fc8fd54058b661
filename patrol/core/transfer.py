"""``gridpatrol db copy SOURCE TARGET``: a whole database into an empty, migrated one — the way a deployment moves
from SpatiaLite to PostGIS when it outgrows the embedded database (PostGIS → SpatiaLite works the same way).

Both databases must be at this gridpatrol's Alembic head (``gridpatrol db upgrade --database URL`` first) and the
target must hold no rows; anything else is refused before a row is written. Every table of the model is copied in
foreign-key order (parents first), each in one transaction of its own: its rows are read in primary-key order in
batches and written with PostgreSQL's ``COPY … FROM STDIN`` (one statement per table; into SpatiaLite: batched
INSERTs); geometries travel as WKB (``ST_AsBinary``, then EWKB of SRID 4326 in the COPY or ``ST_GeomFromWKB(…,
4326)``: the coordinates' bytes unchanged, no text round trip) and every other value through the column's own type
(UTC timestamps, booleans, binary photos). A summary the target's triggers fill while its sources are copied
(:data:`TRIGGER_KEPT`: the cases map's ``case_map_cell``) is copied last, over what the triggers wrote. Then the
PostgreSQL sequences are set past the largest id, and the rows of every table are counted on both sides (but the
summaries the target builds for itself: :data:`NOT_COUNTED`).

A table that fails rolls back alone and stops the copy: the tables before it are in the target, the report says
which one failed and why; start again on a fresh target (``DROP DATABASE`` / a new file, ``db upgrade``).
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from alembic.script import ScriptDirectory
from geoalchemy2 import Geometry
from sqlalchemy import Connection, Engine, LargeBinary, Table, bindparam, func, insert, select, text, type_coerce
from sqlalchemy.engine import make_url

from patrol.core.db import make_engine
from patrol.core.errors import InvalidInput
from patrol.core.migrate import alembic_config, current_revision
from patrol.core.models import SRID, Base

#: rows read and written at a time
BATCH = 5000

#: progress callback: (table, rows of the table done, rows of the table)
Progress = Callable[[str, int, int], None]
#: how rows are written: ``auto`` (COPY into PostgreSQL, INSERT into SQLite), ``copy`` or ``insert``
Method = Literal["auto", "copy", "insert"]
#: tables the target's triggers fill while their sources are copied (the cases map's sums per cell): copied last,
#: over what the triggers wrote, so that they hold the source's rows exactly
TRIGGER_KEPT = ("case_map_cell",)
#: summaries the target builds for itself (PostgreSQL's per-day KPI sums and their time zone, migration 0021): not
#: copied; with ``case_kpi_fact`` (PostgreSQL keeps a row for every case, SQLite for the cases with events) not
#: counted
TARGET_BUILT = ("case_kpi_day", "case_kpi_day_meta")
NOT_COUNTED = (*TARGET_BUILT, "case_kpi_fact")
#: EWKB: the type word's flag saying an SRID follows
EWKB_SRID_FLAG = 0x20000000


@dataclass
class TableCopy:
    name: str
    source_rows: int
    target_rows: int = 0
    seconds: float = 0.0


@dataclass
class CopyReport:
    revision: str
    source: str
    target: str
    tables: list[TableCopy] = field(default_factory=list)
    sequences: int = 0
    seconds: float = 0.0

    @property
    def rows(self) -> int:
        return sum(t.target_rows for t in self.tables)

    def lines(self) -> list[str]:
        copied = [t for t in self.tables if t.source_rows]
        out = [f"{t.name}: {t.target_rows} rows ({t.seconds:.1f} s)" for t in copied]
        empty = len(self.tables) - len(copied)
        out.append(f"copied {self.rows} rows of {len(copied)} tables ({empty} empty) from {self.source} to "
                   f"{self.target} at revision {self.revision} in {self.seconds:.1f} s; {self.sequences} sequences "
                   "reset; row counts equal in every table copied")
        return out


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def check_databases(source: Engine, target: Engine) -> str:
    """The revision both are at; :class:`InvalidInput` (one readable line) when they differ from this gridpatrol's
    head or the target holds rows."""
    head = head_revision()
    for which, engine, field_name in (("source", source, "source"), ("target", target, "target")):
        revision = current_revision(engine)
        if revision is None:
            raise InvalidInput(f"the {which} database is not migrated: run `gridpatrol db upgrade --database "
                               f"{_shown(engine)}` first", field=field_name)
        if revision != head:
            raise InvalidInput(f"the {which} database is at revision {revision}, this gridpatrol at {head}: run "
                               f"`gridpatrol db upgrade --database {_shown(engine)}` first", field=field_name)
    with target.connect() as conn:
        for table in Base.metadata.sorted_tables:
            if table.name not in TARGET_BUILT and conn.execute(select(table).limit(1)).first() is not None:
                raise InvalidInput(f"the target database is not empty (table {table.name} has rows): copy into a "
                                   "new, migrated database", field="target")
    return head


def _shown(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def geometry_columns(table: Table) -> set[str]:
    return {c.name for c in table.columns if isinstance(c.type, Geometry)}


def _reader(table: Table):
    """SELECT every column, geometries as WKB, in primary-key order."""
    geoms = geometry_columns(table)
    columns = [type_coerce(func.ST_AsBinary(c), LargeBinary).label(c.name) if c.name in geoms else c
               for c in table.columns]
    return select(*columns).order_by(*table.primary_key.columns)


def _writer(table: Table):
    """INSERT of one row from parameters ``p_<column>``, geometries from WKB."""
    geoms = geometry_columns(table)
    values = {c.name: (func.ST_GeomFromWKB(bindparam(f"p_{c.name}", type_=LargeBinary), SRID) if c.name in geoms
                       else bindparam(f"p_{c.name}", type_=c.type)) for c in table.columns}
    return insert(table).values(values)


def ewkb_hex(wkb: bytes | memoryview | None) -> str | None:
    """WKB as the hexadecimal EWKB of SRID 4326 that PostGIS reads in a COPY (the SRID flag and the SRID inserted
    after the outer geometry's type: the coordinates are the same bytes)."""
    if wkb is None:
        return None
    wkb = bytes(wkb)
    order = "<" if wkb[0] == 1 else ">"
    kind = struct.unpack(order + "I", wkb[1:5])[0]
    return (wkb[:1] + struct.pack(order + "II", kind | EWKB_SRID_FLAG, SRID) + wkb[5:]).hex()


def copy_table(source: Connection, target: Engine, table: Table, total: int, progress: Progress | None,
               batch: int = BATCH, method: Method = "auto") -> int:
    """Copy the rows of ``table`` in one transaction of the target; returns the rows written. ``method``: ``copy``
    (PostgreSQL's COPY FROM STDIN, one statement per table: the default into PostGIS), ``insert`` (batched
    INSERTs, any target: the default into SpatiaLite)."""
    names = [c.name for c in table.columns]
    use_copy = method == "copy" or (method == "auto" and target.dialect.name == "postgresql")
    geoms = [i for i, c in enumerate(table.columns) if isinstance(c.type, Geometry)]
    done = 0
    with target.connect() as conn, conn.begin():
        if table.name in TRIGGER_KEPT:
            conn.execute(text(f'DELETE FROM "{table.name}"'))
        result = source.execution_options(stream_results=True, yield_per=batch).execute(_reader(table))
        if use_copy:
            columns = ", ".join(f'"{n}"' for n in names)
            cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            with cursor, cursor.copy(f'COPY "{table.name}" ({columns}) FROM STDIN') as stream:
                for rows in result.partitions(batch):
                    for row in rows:
                        values = list(row)
                        for i in geoms:
                            values[i] = ewkb_hex(values[i])
                        stream.write_row(values)
                    done += len(rows)
                    if progress:
                        progress(table.name, done, total)
            return done
        statement = _writer(table)
        for rows in result.partitions(batch):
            conn.execute(statement, [{f"p_{k}": v for k, v in zip(names, row, strict=True)} for row in rows])
            done += len(rows)
            if progress:
                progress(table.name, done, total)
    return done


def reset_sequences(target: Engine) -> int:
    """Set every PostgreSQL sequence behind an integer primary key past the largest id copied (SQLite needs
    nothing: a rowid key continues after the largest one); returns how many were set."""
    if target.dialect.name != "postgresql":
        return 0
    n = 0
    with target.begin() as conn:
        for table in Base.metadata.sorted_tables:
            keys = list(table.primary_key.columns)
            if len(keys) != 1:
                continue
            sequence = conn.execute(text("SELECT pg_get_serial_sequence(:t, :c)"),
                                    {"t": f'"{table.name}"', "c": keys[0].name}).scalar()
            if sequence is None:
                continue
            largest = conn.execute(select(func.max(keys[0]))).scalar()
            conn.execute(text("SELECT setval(CAST(:s AS regclass), :v, :called)"),
                         {"s": sequence, "v": largest or 1, "called": largest is not None})
            n += 1
    return n


def count_rows(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t.name: int(conn.execute(select(func.count()).select_from(t)).scalar() or 0)
                for t in Base.metadata.sorted_tables}


def copy_database(source_url: str, target_url: str, *, progress: Progress | None = None,
                  on_table: Callable[[str, int], None] | None = None, batch: int = BATCH,
                  method: Method = "auto") -> CopyReport:
    """Copy every table of ``source_url`` into the empty, migrated ``target_url`` (see the module's docstring);
    ``on_table(name, rows)`` is called before a table is copied, ``progress`` after each batch."""
    started = time.perf_counter()
    for which, url in (("source", source_url), ("target", target_url)):
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").is_file():
            raise InvalidInput(f"the {which} database {parsed.database or url!r} does not exist"
                               + (": create it with `gridpatrol db upgrade --database URL` first"
                                  if which == "target" else ""), field=which)
    source = make_engine(source_url)
    target = make_engine(target_url)
    try:
        revision = check_databases(source, target)
        report = CopyReport(revision, source.dialect.name, target.dialect.name)
        counts = count_rows(source)
        with source.connect() as conn:
            tables = [t for t in Base.metadata.sorted_tables if t.name not in TARGET_BUILT]
            for table in [t for t in tables if t.name not in TRIGGER_KEPT] + [t for t in tables
                                                                               if t.name in TRIGGER_KEPT]:
                entry = TableCopy(table.name, counts[table.name])
                report.tables.append(entry)
                if not entry.source_rows and table.name not in TRIGGER_KEPT:
                    continue
                if on_table:
                    on_table(table.name, entry.source_rows)
                t0 = time.perf_counter()
                try:
                    entry.target_rows = copy_table(conn, target, table, entry.source_rows, progress, batch, method)
                except Exception as exc:
                    done = [t.name for t in report.tables[:-1] if t.source_rows]
                    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
                    raise InvalidInput(f"table {table.name} failed and was rolled back ({reason}); "
                                       f"{len(done)} tables before it are in the target: start again on a new "
                                       "database", field="target") from exc
                entry.seconds = time.perf_counter() - t0
        report.sequences = reset_sequences(target)
        after = count_rows(target)
        wrong = [f"{name} {counts[name]} → {after[name]}" for name in counts
                 if counts[name] != after[name] and name not in NOT_COUNTED]
        if wrong:
            raise InvalidInput("row counts differ after the copy: " + ", ".join(wrong), field="target")
        report.seconds = time.perf_counter() - started
        return report
    finally:
        source.dispose()
        target.dispose()
