"""The migrations produce exactly the model, on both databases, with a spatial index on every geometry."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from patrol.core.migrate import current_revision, upgrade
from patrol.core.migrations_support import include_object
from patrol.core.models import Base


def test_migrations_match_the_models(engine):
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"include_object": include_object, "compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == []


def test_upgrade_is_idempotent(engine):
    upgrade(engine)
    assert current_revision(engine) is not None


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
    assert len(geometry_columns) == 14
