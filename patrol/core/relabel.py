"""Names written by older versions in English: communities the software drew were named ``社区 01 (derived)`` and
their grids ``社区 01 (derived) 第1网格``. Today's name says ``（自动划分）`` (geo.city.DERIVED_LABEL); this rewrite
brings an existing database's names up to date when it is opened (run after the migrations, idempotent: a database
without such names is not written to)."""

from __future__ import annotations

from sqlalchemy import Connection, text

#: geo.city.DERIVED_LABEL (not imported: opening a database should not load geopandas; a test keeps them equal)
DERIVED_LABEL = "（自动划分）"
OLD_LABEL = " (derived)"
#: the tables whose ``name`` may carry the old label (a draft plan's grids copy the names of the grids)
TABLES = ("subdistrict", "community", "grid", "grid_plan_grid")


def relabel_derived(connection: Connection) -> int:
    """Replace the old English mark in every name; the number of rows rewritten."""
    changed = 0
    for table in TABLES:
        result = connection.execute(
            text(f"UPDATE {table} SET name = REPLACE(name, :old, :new) WHERE name LIKE :pattern"),  # noqa: S608
            {"old": OLD_LABEL, "new": DERIVED_LABEL, "pattern": f"%{OLD_LABEL}%"})
        changed += result.rowcount or 0
    return changed
