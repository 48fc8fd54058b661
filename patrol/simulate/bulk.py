"""Bulk writing for the scale generator (:mod:`patrol.simulate.scale`): columns of numpy arrays into a table, as
fast as each database takes them — PostgreSQL ``COPY`` through psycopg 3 (binary for the all-numeric GPS fixes,
text otherwise), SpatiaLite ``executemany`` in one transaction per chunk (triggers and indexes off meanwhile:
:mod:`patrol.simulate.bulk_lite`).

A :class:`Table` is a table name and its columns; a chunk is a dict column → numpy array (or list) of equal
length. Times are int64 seconds since the epoch (UTC); points are two float arrays ``lon`` / ``lat`` written to
the column named by ``point``. ``None`` / NaN / a negative id (−1) in an id column mean NULL.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from patrol.simulate.bulk_lite import spatialite_bulk

PG_EPOCH = 946_684_800  # 2000-01-01 UTC in Unix seconds: PostgreSQL's binary timestamps count from there


@dataclass
class Table:
    """A table being loaded: its columns in order (``times`` hold epoch seconds, ``point`` is lon/lat), and the
    rows and seconds spent so far (generation included, by the caller's :meth:`timed`)."""

    name: str
    columns: list[str]
    times: frozenset[str] = frozenset()
    point: str | None = None
    rows: int = 0
    seconds: float = 0.0
    _started: list[float] = field(default_factory=list)

    @contextmanager
    def timed(self) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds += time.perf_counter() - t0

    def rate(self) -> str:
        speed = self.rows / self.seconds if self.seconds > 0 else float("nan")
        return f"{self.name}: {self.rows:,} rows in {self.seconds:.1f} s ({speed:,.0f} rows/s)"


def _iso(seconds: np.ndarray, sqlite: bool) -> np.ndarray:
    """Epoch seconds → the text each database stores or parses (SQLite: SQLAlchemy's naive-UTC format)."""
    out = np.datetime_as_string(seconds.astype("datetime64[s]"), unit="s").astype(object)
    if sqlite:
        return np.array([s.replace("T", " ") + ".000000" for s in out], dtype=object)
    return out + "+00"


def _ewkb_hex(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Hex EWKB of points with SRID 4326 (what PostGIS's geometry input takes in COPY text)."""
    rec = _ewkb(lon, lat)
    raw = rec.tobytes().hex()
    size = rec.dtype.itemsize * 2
    return np.array([raw[i:i + size] for i in range(0, len(raw), size)], dtype=object)


def _ewkb(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    rec = np.empty(len(lon), dtype=[("bo", "u1"), ("type", "<u4"), ("srid", "<u4"), ("x", "<f8"), ("y", "<f8")])
    rec["bo"], rec["type"], rec["srid"], rec["x"], rec["y"] = 1, 0x20000001, 4326, lon, lat
    return rec


class Writer:
    """Writes chunks into one database (PostgreSQL or SpatiaLite) over one connection."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sqlite = engine.dialect.name == "sqlite"
        self.conn: Connection = engine.connect()
        self._int8: dict[tuple[str, str], bool] = {}

    def close(self) -> None:
        self.conn.commit()
        self.conn.close()

    def commit(self) -> None:
        self.conn.commit()

    def raw(self):
        """The DB-API connection, inside a transaction (pysqlite here issues no BEGIN of its own: without one every
        row would be committed, and synced, alone)."""
        if not self.conn.in_transaction():
            self.conn.begin()
        return self.conn.connection.driver_connection

    def execute(self, sql: str, **params) -> None:
        self.conn.execute(text(sql), params)

    def write(self, table: Table, chunk: dict[str, np.ndarray]) -> None:
        n = len(next(iter(chunk.values())))
        if n == 0:
            return
        if self.sqlite:
            self._executemany(table, chunk, n)
        else:
            self._copy_text(table, chunk)
        table.rows += n

    # ------------------------------------------------------------------ SpatiaLite

    def _executemany(self, table: Table, chunk: dict[str, np.ndarray], n: int) -> None:
        cols = [c for c in table.columns if c != table.point]
        values = ["?"] * len(cols)
        data = [self._sqlite_values(table, c, chunk[c]) for c in cols]
        if table.point is not None:
            cols.append(table.point)
            values.append("MakePoint(?, ?, 4326)")
            data += [np.asarray(chunk["lon"], dtype=float).tolist(), np.asarray(chunk["lat"], dtype=float).tolist()]
        sql = f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES ({', '.join(values)})"  # noqa: S608
        raw = self.raw()
        raw.executemany(sql, zip(*data, strict=True))

    @staticmethod
    def _sqlite_values(table: Table, column: str, values) -> list:
        if column in table.times:
            arr = np.asarray(values)
            if arr.dtype == object:  # may hold None
                out = np.full(len(arr), None, dtype=object)
                ok = np.array([v is not None for v in arr], dtype=bool)
                out[ok] = _iso(arr[ok].astype("int64"), sqlite=True)
                return out.tolist()
            return _iso(arr.astype("int64"), sqlite=True).tolist()
        return _plain(values)

    # ------------------------------------------------------------------ PostgreSQL

    def _copy_text(self, table: Table, chunk: dict[str, np.ndarray]) -> None:
        cols = []
        for c in table.columns:
            if c == table.point:
                cols.append(_ewkb_hex(np.asarray(chunk["lon"], float), np.asarray(chunk["lat"], float)).tolist())
            elif c in table.times:
                cols.append(_text_times(chunk[c]))
            else:
                cols.append(_text_column(chunk[c]))
        data = "\n".join(map("\t".join, zip(*cols, strict=True))) + "\n"
        raw = self.raw()
        with raw.cursor() as cur:
            cur.execute("SET TIME ZONE 'UTC'")  # the times below are UTC without an offset
            with cur.copy(f"COPY {table.name} ({', '.join(table.columns)}) FROM STDIN") as cp:
                cp.write(data.encode())

    def is_int8(self, table: str, column: str) -> bool:
        key = (table, column)
        if key not in self._int8:
            kind = self.conn.execute(text("SELECT data_type FROM information_schema.columns WHERE table_name = :t "
                                          "AND column_name = :c"), {"t": table, "c": column}).scalar()
            self._int8[key] = kind == "bigint"
        return self._int8[key]

    def copy_fixes(self, table: Table, patrol_id: np.ndarray, seconds: np.ndarray, accuracy: np.ndarray,
                   lon: np.ndarray, lat: np.ndarray, first_id: int) -> None:
        """GPS fixes: binary COPY on PostgreSQL (every field fixed-width), executemany on SpatiaLite."""
        n = len(patrol_id)
        if n == 0:
            return
        ids = np.arange(first_id, first_id + n, dtype=np.int64)
        if self.sqlite:
            self._executemany(table, {"id": ids, "patrol_id": patrol_id, "time": seconds,
                                      "accuracy_m": accuracy, "flag": np.full(n, None, dtype=object),
                                      "lon": lon, "lat": lat}, n)
            table.rows += n
            return
        id8, pid8 = self.is_int8("gps_fix", "id"), self.is_int8("gps_fix", "patrol_id")
        rec = np.empty(n, dtype=[("nf", ">i2"), ("l0", ">i4"), ("id", ">i8" if id8 else ">i4"), ("l1", ">i4"),
                                 ("pid", ">i8" if pid8 else ">i4"), ("l2", ">i4"), ("t", ">i8"), ("l3", ">i4"),
                                 ("acc", ">f8"), ("l4", ">i4"), ("l5", ">i4"), ("bo", "u1"), ("type", "<u4"),
                                 ("srid", "<u4"), ("x", "<f8"), ("y", "<f8")])
        rec["nf"], rec["l0"], rec["id"], rec["l1"], rec["pid"] = 6, 8 if id8 else 4, ids, 8 if pid8 else 4, patrol_id
        rec["l2"], rec["t"], rec["l3"], rec["acc"], rec["l4"] = 8, (seconds - PG_EPOCH) * 1_000_000, 8, accuracy, -1
        rec["l5"], rec["bo"], rec["type"], rec["srid"], rec["x"], rec["y"] = 25, 1, 0x20000001, 4326, lon, lat
        head = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
        raw = self.raw()
        sql = "COPY gps_fix (id, patrol_id, time, accuracy_m, flag, geom) FROM STDIN (FORMAT BINARY)"
        with raw.cursor() as cur, cur.copy(sql) as cp:
            cp.write(head + rec.tobytes() + (-1).to_bytes(2, "big", signed=True))
        table.rows += n


def _plain(values) -> list:
    """Python values for executemany: numpy scalars unwrapped, −1 ids and NaN as None."""
    arr = np.asarray(values)
    if arr.dtype.kind in "iu":
        return arr.tolist()
    if arr.dtype.kind == "f":
        return [None if v != v else v for v in arr.tolist()]
    if arr.dtype.kind == "b":
        return [int(v) for v in arr.tolist()]
    return [None if v is None or (isinstance(v, float) and v != v) else v for v in arr.tolist()]


NULL = "\\N"


def _text_times(values) -> list[str]:
    """Epoch seconds (None: NULL) → ISO text in UTC for COPY."""
    arr = np.asarray(values)
    if arr.dtype != object:
        return np.datetime_as_string(arr.astype("int64").astype("datetime64[s]"), unit="s").tolist()
    ok = np.array([v is not None for v in arr], dtype=bool)
    out = np.full(len(arr), NULL, dtype=object)
    out[ok] = np.datetime_as_string(arr[ok].astype("int64").astype("datetime64[s]"), unit="s")
    return out.tolist()


def _text_column(values) -> list[str]:
    """A column as COPY text: booleans t/f, NULL for None / NaN, bytea as \\x + hex."""
    arr = np.asarray(values)
    if arr.dtype.kind == "b":
        return np.where(arr, "t", "f").tolist()
    if arr.dtype.kind == "f":
        return [NULL if v != v else repr(round(v, 6)) for v in arr.tolist()]
    if arr.dtype.kind in "iu":
        return list(map(str, arr.tolist()))
    if len(arr) and isinstance(arr[0], bytes):
        return ["\\\\x" + b.hex() for b in arr]
    return [NULL if v is None else v if isinstance(v, str) else _scalar_text(v) for v in arr.tolist()]


def _scalar_text(v) -> str:
    if isinstance(v, bool):
        return "t" if v else "f"
    if isinstance(v, float):
        return NULL if v != v else repr(v)
    return str(v)


def nullable_ids(ids: np.ndarray) -> np.ndarray:
    """Int ids with −1 for NULL → an object array with None (what both writers take as NULL)."""
    out = ids.astype(object)
    out[ids < 0] = None
    return out


@contextmanager
def bulk_mode(writer: Writer, tables: list[str], steps: dict[str, float], fast: bool = True) -> Iterator[None]:
    """While loading: on PostgreSQL, the tables' secondary indexes dropped (recreated after, one pass each) and the
    foreign-key triggers off for this session (the generator writes consistent ids); on SpatiaLite the same, and
    its geometry and KPI triggers off with the R*Trees filled after (:mod:`patrol.simulate.bulk_lite`). ``fast``
    False keeps SpatiaLite's triggers and indexes on (row by row, as any insert: the path the tests compare with)."""
    if writer.sqlite and fast:
        with spatialite_bulk(writer, tables, steps):
            yield
        return
    if writer.sqlite:
        writer.execute("PRAGMA foreign_keys = OFF")
        yield
        writer.execute("PRAGMA foreign_keys = ON")
        return
    rows = writer.conn.execute(text(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "JOIN pg_class t ON t.oid = i.indrelid "
        "WHERE t.relname = ANY(:tables) AND NOT i.indisprimary "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)"),
        {"tables": tables}).all()
    for name, _ in rows:
        writer.execute(f"DROP INDEX {name}")
    # autovacuum would scan the tables over and over while they grow; ANALYZE follows the load. A partitioned table
    # (gps_fix) takes the setting on its partitions only.
    plain = writer.conn.execute(text(
        "SELECT c.oid::regclass::text FROM pg_class c WHERE c.relname = ANY(:t) AND c.relkind = 'r' "
        "UNION SELECT i.inhrelid::regclass::text FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent "
        "WHERE p.relname = ANY(:t) AND p.relkind = 'p'"), {"t": tables}).scalars().all()
    for t in plain:
        writer.execute(f"ALTER TABLE {t} SET (autovacuum_enabled = false)")
    writer.execute("SET session_replication_role = replica")
    writer.commit()
    try:
        yield
    finally:
        writer.execute("SET session_replication_role = DEFAULT")
        writer.execute("SET maintenance_work_mem = '512MB'")
        t0 = time.perf_counter()
        for _, ddl in rows:
            writer.execute(ddl.replace(" ON ONLY ", " ON "))
            writer.commit()
        steps[f"{len(rows)} indexes rebuilt after the load"] = time.perf_counter() - t0
        for t in plain:
            writer.execute(f"ALTER TABLE {t} RESET (autovacuum_enabled)")
        writer.commit()
