"""SpatiaLite bulk loading for the scale generator (:func:`patrol.simulate.bulk.bulk_mode`): the loaded tables'
triggers and secondary indexes off during the load, put back after in one pass each.

Per inserted row SpatiaLite runs its geometry triggers — a type/SRID check (``ggi_*``), a timestamp update of
``geometry_columns_time`` (``tmi_*``) and the R*Tree upkeep (``gii_*``: ``RTreeAlign`` into ``idx_<table>_<column>``)
— and migration 0017's KPI-fact trigger on ``case_event`` recomputes the case's fact row for each of its events.
With them the generator wrote ≈200 cases/s. Here the triggers and the secondary B-tree indexes are dropped for the
load (their SQL saved from ``sqlite_master``), then:

- the indexes are recreated (one sort each; a UNIQUE index checks its column again as it is built);
- the R*Tree of each spatially indexed geometry column receives the rows past the table's highest rowid before the
  load, their bounding boxes in one ``INSERT … SELECT rowid, MbrMinX(geom), …`` (SQLite's R*Tree rounds each
  double to its float32 outwards, as the trigger's ``RTreeAlign`` does: the index holds exactly what the triggers
  would have put there — tests/db/test_scale_generator.py compares both — at twice RTreeAlign's speed);
- ``geometry_columns_time.last_insert`` is set once per column, as the ``tmi_*`` triggers would have;
- the triggers are recreated from their saved SQL.

The geometry check is not re-run: the generator writes ``MakePoint(lon, lat, 4326)`` only. The KPI facts are then
recomputed by the caller (:func:`patrol.analytics.summaries.rebuild`, as on PostgreSQL). Foreign keys are off for
the load (the generator writes consistent ids), as on PostgreSQL.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, text

if TYPE_CHECKING:
    from patrol.simulate.bulk import Writer


def _objects(writer: Writer, tables: list[str]) -> list[tuple[str, str, str]]:
    """(type, name, sql) of the tables' triggers and explicitly created indexes (not the PRIMARY KEY / UNIQUE
    constraints' autoindexes, which have no SQL)."""
    rows = writer.conn.execute(text(
        "SELECT type, name, sql FROM sqlite_master WHERE type IN ('trigger', 'index') AND sql IS NOT NULL "
        "AND tbl_name IN :tables ORDER BY type DESC, name").bindparams(bindparam("tables", expanding=True)),
        {"tables": tables}).all()
    return [(r[0], r[1], r[2]) for r in rows]


def _spatial_columns(writer: Writer, tables: list[str]) -> dict[tuple[str, str], int]:
    """(table, geometry column) with a SpatiaLite spatial index → the table's highest rowid before the load."""
    rows = writer.conn.execute(text(
        "SELECT f_table_name, f_geometry_column FROM geometry_columns WHERE spatial_index_enabled = 1 "
        "AND f_table_name IN :tables").bindparams(bindparam("tables", expanding=True)), {"tables": tables}).all()
    out = {}
    for table, column in rows:
        out[(table, column)] = int(writer.conn.execute(text(f"SELECT coalesce(max(rowid), 0) FROM {table}"))  # noqa: S608
                                   .scalar() or 0)
    return out


def _pragma(writer: Writer, sql: str) -> None:
    """A PRAGMA outside any transaction (``foreign_keys`` is a no-op inside one)."""
    writer.commit()
    writer.conn.connection.driver_connection.execute(sql)


@contextmanager
def spatialite_bulk(writer: Writer, tables: list[str], steps: dict[str, float]) -> Iterator[None]:
    """The load inside: the tables' triggers and indexes dropped, foreign keys off; after it (also on error, for
    the chunks committed): indexes, R*Trees, triggers and foreign keys back."""
    saved = _objects(writer, tables)
    spatial = _spatial_columns(writer, tables)
    writer.commit()
    _pragma(writer, "PRAGMA foreign_keys = OFF")
    writer.execute("PRAGMA cache_size = -262144")  # 256 MB: the index builds below sort in memory where they can
    for kind, name, _ in saved:
        writer.execute(f'DROP {kind.upper()} "{name}"')
    writer.commit()
    try:
        yield
    except BaseException:
        writer.conn.rollback()
        raise
    finally:
        _restore(writer, saved, spatial, steps)


def _restore(writer: Writer, saved: list[tuple[str, str, str]], spatial: dict[tuple[str, str], int],
             steps: dict[str, float]) -> None:
    writer.commit()
    t0 = time.perf_counter()
    indexes = [sql for kind, _, sql in saved if kind == "index"]
    for sql in indexes:
        writer.execute(sql)
        writer.commit()
    steps[f"{len(indexes)} indexes rebuilt after the load"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    for (table, column), first in spatial.items():
        index = f"idx_{table}_{column}"
        n = writer.conn.execute(text(
            f"INSERT INTO {index} (pkid, xmin, xmax, ymin, ymax) SELECT rowid, MbrMinX({column}), "  # noqa: S608
            f"MbrMaxX({column}), MbrMinY({column}), MbrMaxY({column}) FROM {table} "
            f"WHERE rowid > :first AND {column} IS NOT NULL"), {"first": first}).rowcount
        if n:
            writer.execute("UPDATE geometry_columns_time SET last_insert = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') "
                           "WHERE lower(f_table_name) = lower(:t) AND lower(f_geometry_column) = lower(:c)",
                           t=table, c=column)
        writer.commit()
    steps[f"{len(spatial)} spatial indexes (R*Tree) filled after the load"] = time.perf_counter() - t0
    for kind, _, sql in saved:
        if kind == "trigger":
            writer.execute(sql)
    writer.execute("PRAGMA cache_size = -2000")  # SQLite's default again for the pooled connection
    writer.commit()
    _pragma(writer, "PRAGMA foreign_keys = ON")
