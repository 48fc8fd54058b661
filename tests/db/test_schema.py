"""The migrations produce exactly the model, on both databases, with a spatial index on every geometry."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text

from patrol.core.migrate import alembic_config, current_revision, upgrade
from patrol.core.migrations_support import include_object
from patrol.core.models import Base


def test_migrations_match_the_models(engine):
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"include_object": include_object, "compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == []


def _schema(engine: Engine) -> dict[str, dict]:
    """Every table of the database with its columns (name, type, nullability, default), indexes, unique
    constraints and foreign keys, as plain comparable values (SpatiaLite's own tables included)."""
    found: dict[str, dict] = {}
    with engine.connect() as conn:
        insp = inspect(conn)
        for table in sorted(insp.get_table_names()):
            found[table] = {
                "columns": [(c["name"], str(c["type"]), c["nullable"], str(c.get("default")))
                            for c in insp.get_columns(table)],
                "indexes": sorted((i["name"] or "", tuple(i["column_names"]), bool(i["unique"]))
                                  for i in insp.get_indexes(table)),
                "unique": sorted((u["name"] or "", tuple(u["column_names"]))
                                 for u in insp.get_unique_constraints(table)),
                "foreign_keys": sorted((f["name"] or "", tuple(f["constrained_columns"]), f["referred_table"],
                                        tuple(f["referred_columns"])) for f in insp.get_foreign_keys(table)),
            }
        if engine.dialect.name == "sqlite":
            found["<spatial indexes>"] = {"rows": sorted(tuple(r) for r in conn.execute(text(
                "SELECT f_table_name, f_geometry_column, spatial_index_enabled FROM geometry_columns")).all())}
    return found


def test_upgrade_is_idempotent(engine):
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert current_revision(engine) == head  # the session fixture migrated it
    before = _schema(engine)
    assert set(Base.metadata.tables) <= set(before)
    upgrade(engine)
    upgrade(engine)
    after = _schema(engine)
    assert current_revision(engine) == head
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [head]
    changed = sorted(t for t in set(before) | set(after) if before.get(t) != after.get(t))
    assert changed == [], f"upgrade at head changed these tables: {changed}"
    assert after == before


def test_every_geometry_has_a_spatial_index(engine):
    geometry_columns = {(t.name, c.name) for t in Base.metadata.tables.values() for c in t.columns
                        if c.type.__class__.__name__ == "Geometry"}
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.execute(text("SELECT f_table_name, f_geometry_column FROM geometry_columns "
                                     "WHERE spatial_index_enabled = 1")).all()
        else:
            rows = conn.execute(text(
                "SELECT t.relname, a.attname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
                "JOIN pg_class t ON t.oid = x.indrelid JOIN pg_am am ON am.oid = i.relam "
                "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY(x.indkey) WHERE am.amname = 'gist'"
            )).all()
    assert geometry_columns <= {(r[0], r[1]) for r in rows}
    assert len(geometry_columns) == 17  # 0018 adds patrol_day.track
