"""The SQL that keeps ``case_map_cell`` (the cases map's clusters of final cases, per cell of the base zoom) right, for
both databases: the cell index of a row (the same expression as the map's live query, so the stored index is the
one the live query computes), the rebuild's SELECT and the triggers on ``patrol_case`` (PostgreSQL: statement-level
with transition tables; SQLite: row-level). Plain strings, no database or web imports; used by migration 0020 and by
:mod:`patrol.cases.map_cells`.

Why the stored index answers every zoom up to :data:`BASE_ZOOM` exactly: the map's cell at zoom z is
``360 / 2^(z+2)`` degrees, so ``cell_z = cell_B * 2^(B-z)`` exactly in floating point, and
``fl((x+180) / cell_z) = fl((x+180) / cell_B) / 2^(B-z)`` exactly (scaling by a power of two commutes with
rounding); ``floor(a / 2^k) = floor(floor(a) / 2^k)`` for a real ``a`` ≥ 0. So the zoom-z index is the stored
index divided by ``2^(B-z)`` in integers (``x + 180`` and ``y + 90`` are ≥ 0, so truncation is floor).
"""

from __future__ import annotations

#: the zoom whose cell index is stored; zooms above it are read live (zoomed in, a view holds few cases)
BASE_ZOOM = 15
#: the cell of :data:`BASE_ZOOM` in degrees, as the map computes it: 360 / 2^z / (256 / 64); exact in binary
BASE_CELL = 360.0 / (2 ** BASE_ZOOM) / 4.0
#: the final statuses (:data:`patrol.cases.lifecycle.CLOSED`): a case in one is never overdue
FINAL = ("closed", "duplicate", "rejected")
#: the key columns besides the cell: 0 stands for none (ids start at 1; the scopes use -1 for "nothing")
KEYS = ("community_id", "grid_id", "unit_id")
COLUMNS = ("gx", "gy", "status", *KEYS, "n", "sx", "sy")
PK = ("gx", "gy", "status", *KEYS)

_F = ", ".join(f"'{s}'" for s in FINAL)
_CELL = repr(BASE_CELL)  # 0.00274658203125: the exact decimal of the binary value


def cell_index(expr: str, dialect: str) -> str:
    """SQL: the base zoom's cell index of a coordinate expression already shifted positive (``x + 180``), computed
    as :func:`patrol.cases.reads.case_clusters` computes it on that database."""
    if dialect == "postgresql":
        return f"CAST(floor(({expr}) / CAST({_CELL} AS double precision)) AS integer)"
    return f"CAST(({expr}) / {_CELL} AS INTEGER)"


def key_exprs(alias: str, dialect: str) -> list[str]:
    """SQL of the key (:data:`PK`) of a ``patrol_case`` row under ``alias`` (a table alias or NEW / OLD)."""
    return [cell_index(f"ST_X({alias}.geom) + 180", dialect), cell_index(f"ST_Y({alias}.geom) + 90", dialect),
            f"{alias}.status", *(f"COALESCE({alias}.{k}, 0)" for k in KEYS)]


def counted(alias: str) -> str:
    """SQL: the row is counted in the summary (a final status and a point)."""
    return f"{alias}.status IN ({_F}) AND {alias}.geom IS NOT NULL"


def rebuild_select(dialect: str) -> str:
    """SELECT of every summary row (columns :data:`COLUMNS`) from ``patrol_case``."""
    keys = ", ".join(f"{e} AS {k}" for e, k in zip(key_exprs("c", dialect), PK, strict=True))
    return (f"SELECT {keys}, COUNT(*), SUM(ST_X(c.geom)), SUM(ST_Y(c.geom)) FROM patrol_case c "
            f"WHERE {counted('c')} GROUP BY {', '.join(PK)}")


def _changed(o: str, n: str) -> str:
    cols = ["status", *KEYS]
    return (" OR ".join(f"{o}.{c} IS NOT {n}.{c}" for c in cols)
            + f" OR {o}.geom IS NOT {n}.geom")


def sqlite_triggers() -> list[str]:
    """Row-level triggers on ``patrol_case`` (insert, update of a counted column, delete)."""
    d = "sqlite"
    on = ", ".join(PK)

    def add(ref: str) -> str:
        return (f"INSERT INTO case_map_cell ({', '.join(COLUMNS)}) SELECT {', '.join(key_exprs(ref, d))}, 1, "
                f"ST_X({ref}.geom), ST_Y({ref}.geom) WHERE {counted(ref)} ON CONFLICT ({on}) DO UPDATE SET "
                "n = n + excluded.n, sx = sx + excluded.sx, sy = sy + excluded.sy;")

    def remove(ref: str) -> str:
        match = " AND ".join(f"{k} = {e}" for k, e in zip(PK, key_exprs(ref, d), strict=True))
        return (f"UPDATE case_map_cell SET n = n - 1, sx = sx - ST_X({ref}.geom), sy = sy - ST_Y({ref}.geom) "
                f"WHERE {counted(ref)} AND {match}; DELETE FROM case_map_cell WHERE {match} AND n <= 0;")

    cols = ", ".join(["status", "geom", *KEYS])
    return [
        f"CREATE TRIGGER case_map_cell_insert AFTER INSERT ON patrol_case FOR EACH ROW BEGIN {add('NEW')} END",
        f"CREATE TRIGGER case_map_cell_update AFTER UPDATE OF {cols} ON patrol_case FOR EACH ROW "
        f"WHEN {_changed('OLD', 'NEW')} BEGIN {remove('OLD')} {add('NEW')} END",
        f"CREATE TRIGGER case_map_cell_delete AFTER DELETE ON patrol_case FOR EACH ROW BEGIN {remove('OLD')} END",
    ]


SQLITE_DROP = [f"DROP TRIGGER IF EXISTS case_map_cell_{op}" for op in ("insert", "update", "delete")]


def _pg_delta(parts: list[tuple[int, str, str]]) -> str:
    """The upsert of the signed changes of ``parts`` ((sign, FROM clause naming the row ``r``, extra condition)),
    then the removal of the emptied rows of the cells touched. Rows go in key order (no deadlock between two
    statements)."""
    d = "postgresql"
    keys = key_exprs("r", d)
    sel = " UNION ALL ".join(
        f"SELECT {', '.join(f'{e} AS {k}' for e, k in zip(keys, PK, strict=True))}, {sign} AS dn, "
        f"{sign} * ST_X(r.geom) AS dx, {sign} * ST_Y(r.geom) AS dy FROM {src} WHERE {counted('r')}{extra}"
        for sign, src, extra in parts)
    on = ", ".join(PK)
    cells = " UNION ".join(f"SELECT {keys[0]}, {keys[1]} FROM {src} WHERE {counted('r')}{extra}"
                           for _, src, extra in parts)
    return (f"INSERT INTO case_map_cell AS m ({', '.join(COLUMNS)}) SELECT {on}, SUM(dn), SUM(dx), SUM(dy) "
            f"FROM ({sel}) d GROUP BY {on} ORDER BY {on} ON CONFLICT ({on}) DO UPDATE SET n = m.n + excluded.n, "
            "sx = m.sx + excluded.sx, sy = m.sy + excluded.sy; "
            f"DELETE FROM case_map_cell m WHERE m.n <= 0 AND (m.gx, m.gy) IN ({cells});")


def postgres_triggers() -> list[str]:
    """Statement-level triggers with transition tables: one upsert per statement however many rows it wrote; an
    update counts only the rows whose status, point or a key column changed."""
    moved = (" AND EXISTS (SELECT 1 FROM {other} x WHERE x.id = r.id AND (x.status, x.community_id, x.grid_id, "
             "x.unit_id, ST_X(x.geom), ST_Y(x.geom)) IS DISTINCT FROM (r.status, r.community_id, r.grid_id, "
             "r.unit_id, ST_X(r.geom), ST_Y(r.geom)))")
    bodies = {
        "insert": _pg_delta([(1, "new_rows r", "")]),
        "update": _pg_delta([(-1, "old_rows r", moved.format(other="new_rows")),
                             (1, "new_rows r", moved.format(other="old_rows"))]),
        "delete": _pg_delta([(-1, "old_rows r", "")]),
    }
    out = []
    for op, body in bodies.items():
        refs = {"insert": "NEW TABLE AS new_rows", "update": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
                "delete": "OLD TABLE AS old_rows"}[op]
        out.append(f"CREATE OR REPLACE FUNCTION case_map_cell_{op}() RETURNS trigger LANGUAGE plpgsql AS $$ "
                   f"BEGIN {body} RETURN NULL; END $$")
        out.append(f"CREATE TRIGGER case_map_cell_{op} AFTER {op.upper()} ON patrol_case REFERENCING {refs} "
                   f"FOR EACH STATEMENT EXECUTE FUNCTION case_map_cell_{op}()")
    return out


POSTGRES_DROP = [
    *(f"DROP TRIGGER IF EXISTS case_map_cell_{op} ON patrol_case" for op in ("insert", "update", "delete")),
    *(f"DROP FUNCTION IF EXISTS case_map_cell_{op}()" for op in ("insert", "update", "delete")),
]
