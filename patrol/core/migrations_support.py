"""What Alembic compares: our tables, not SpatiaLite's bookkeeping tables nor its R*Tree index tables."""

from __future__ import annotations

from geoalchemy2 import alembic_helpers

_SPATIALITE_TABLES = {"spatialite_history", "sql_statements_log", "SpatialIndex", "ElementaryGeometries", "KNN",
                      "KNN2", "data_licenses", "spatial_ref_sys_aux", "sqlite_sequence", "spatial_ref_sys",
                      "geometry_columns", "views_geometry_columns", "virts_geometry_columns"}


def is_gps_partition(name: str) -> bool:
    """Whether ``name`` is one of gps_fix's partitions (``gps_fix_y2026m12``, ``gps_fix_default``)."""
    return name == "gps_fix_default" or (name.startswith("gps_fix_y") and len(name) == 16 and name[13] == "m")


#: indexes made by a migration on one database only, on an expression the model cannot state (migration 0021: the
#: GiST index on the KPI facts' span, PostgreSQL)
_MIGRATION_ONLY_INDEXES = {"ix_case_kpi_fact_span"}


def include_object(obj, name, type_, reflected, compare_to):
    if type_ == "index" and name in _MIGRATION_ONLY_INDEXES:
        return False
    if type_ == "table" and name and reflected and is_gps_partition(name):
        return False  # PostgreSQL's monthly partitions of gps_fix (migration 0018): the model has the parent only
    if type_ == "table" and name and (
        name in _SPATIALITE_TABLES
        or name.startswith(("idx_", "geometry_columns_", "views_geometry_columns_", "virts_geometry_columns_"))
    ):
        return False
    return alembic_helpers.include_object(obj, name, type_, reflected, compare_to)
