"""summary tables of the case loop for the dashboards at city scale (issue 23): ``case_kpi_fact``, one row per case
with the instants of the steps the KPIs read, kept by triggers on ``case_event`` (statement-level with transition
tables on PostgreSQL, row-level on SQLite) and filled here from the existing events (working hours: NULL until
``gridpatrol db rebuild-summaries`` or the first read computes them).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 15:31:00
"""
import sqlalchemy as sa
from alembic import op

from patrol.analytics import summary_sql as S

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    at = [c for c in S.COLUMNS if c.endswith("_at")]
    op.create_table(
        "case_kpi_fact",
        sa.Column("case_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("simple", sa.Boolean(), nullable=False),
        *(sa.Column(c, sa.DateTime(timezone=True), nullable=True) for c in at
          if c not in ("first_at", "last_at")),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("urge_n", sa.Integer(), nullable=False),
        sa.Column("final_status", sa.String(length=20), nullable=True),
        sa.Column("handle_hours", sa.Float(), nullable=True),
        sa.Column("close_hours", sa.Float(), nullable=True),
        sa.Column("hours_cal", sa.String(length=16), nullable=True),
        sa.PrimaryKeyConstraint("case_id"),
    )
    op.create_index("ix_case_kpi_fact_last_at", "case_kpi_fact", ["last_at"])
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for stmt in S.postgres_triggers(place=False):
            op.execute(stmt)
    else:
        for stmt in S.sqlite_triggers(place=False):
            op.execute(stmt)
    op.execute(f"INSERT INTO case_kpi_fact ({', '.join(S.COLUMNS)}) {S.fact_select('TRUE', place=False)}")


def downgrade() -> None:
    bind = op.get_bind()
    for stmt in (S.POSTGRES_DROP if bind.dialect.name == "postgresql" else S.SQLITE_DROP):
        op.execute(stmt)
    op.drop_index("ix_case_kpi_fact_last_at", table_name="case_kpi_fact")
    op.drop_table("case_kpi_fact")
