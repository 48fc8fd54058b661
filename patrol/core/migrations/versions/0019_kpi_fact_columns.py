"""KPI facts at scale, second pass (issue 23): ``case_kpi_fact`` gets the case's place (``community_id``,
``grid_id``), filled here and kept by the fact upsert and by a trigger on ``patrol_case`` when a case moves, so a
community's or a grid's facts are read from one index ``(community_id, last_at)`` instead of the whole district's;
a partial index on the few non-simple facts (the KPIs read their events) and one on the working hours still to
compute; and ``patrol_case`` indexes (community, reported / due / closed) for a community's cases of a period.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05 18:30:00
"""
import sqlalchemy as sa
from alembic import op

from patrol.analytics import summary_sql as S

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

COMPLEX = {"postgresql": "simple IS false", "sqlite": "simple IS 0"}
CASE_INDEXES = ("reported_at", "deadline_at", "closed_at")


def _drop_triggers(dialect: str) -> None:
    for stmt in (S.POSTGRES_DROP if dialect == "postgresql" else S.SQLITE_DROP):
        op.execute(stmt)


def _create_triggers(dialect: str, place: bool) -> None:
    for stmt in (S.postgres_triggers(place) if dialect == "postgresql" else S.sqlite_triggers(place)):
        op.execute(stmt)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.add_column("case_kpi_fact", sa.Column("community_id", sa.Integer(), nullable=True))
    op.add_column("case_kpi_fact", sa.Column("grid_id", sa.Integer(), nullable=True))
    if dialect == "postgresql":
        op.execute("UPDATE case_kpi_fact f SET community_id = c.community_id, grid_id = c.grid_id "
                   "FROM patrol_case c WHERE c.id = f.case_id")
    else:
        op.execute("UPDATE case_kpi_fact SET "
                   "community_id = (SELECT c.community_id FROM patrol_case c WHERE c.id = case_kpi_fact.case_id), "
                   "grid_id = (SELECT c.grid_id FROM patrol_case c WHERE c.id = case_kpi_fact.case_id)")
    _drop_triggers(dialect)
    _create_triggers(dialect, place=True)
    # covering on PostgreSQL (index-only scans): the candidates of a community's period read no table page
    op.create_index("ix_case_kpi_fact_community_last_at", "case_kpi_fact", ["community_id", "last_at"],
                    postgresql_include=["first_at", "case_id"])
    op.create_index("ix_case_kpi_fact_grid_last_at", "case_kpi_fact", ["grid_id", "last_at"],
                    postgresql_include=["first_at", "case_id"])
    op.create_index("ix_case_kpi_fact_complex", "case_kpi_fact", ["community_id"],
                    postgresql_where=sa.text(COMPLEX["postgresql"]), sqlite_where=sa.text(COMPLEX["sqlite"]))
    op.create_index("ix_case_kpi_fact_hours", "case_kpi_fact", ["hours_cal", "close_at"])
    for col in CASE_INDEXES:
        op.create_index(f"ix_patrol_case_community_{col}", "patrol_case", ["community_id", col],
                        postgresql_include=["id"])
    if dialect == "postgresql":
        op.execute("ANALYZE case_kpi_fact")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for col in CASE_INDEXES:
        op.drop_index(f"ix_patrol_case_community_{col}", table_name="patrol_case")
    for name in ("hours", "complex", "grid_last_at", "community_last_at"):
        op.drop_index(f"ix_case_kpi_fact_{name}", table_name="case_kpi_fact")
    # SQLite's batch mode copies the table and renames the copy: no trigger may name the table meanwhile
    _drop_triggers(dialect)
    with op.batch_alter_table("case_kpi_fact") as batch:
        batch.drop_column("grid_id")
        batch.drop_column("community_id")
    _create_triggers(dialect, place=False)
