"""KPIs of long periods at city scale (issue 23, third pass): ``case_kpi_fact`` gets the case's span (first and last
instant, the local day of the first) and, on PostgreSQL, a row for every case (also those without events), a GiST
index on the span and the per-day sums ``case_kpi_day`` (with its time zone in ``case_kpi_day_meta``), kept by
triggers (:mod:`patrol.analytics.kpi_days_sql`). On SQLite the columns and tables exist and stay empty: its KPIs
read the facts as before.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05 22:30:00
"""
import sqlalchemy as sa
from alembic import op

from patrol.analytics import kpi_days_sql as D
from patrol.analytics import summary_sql as S
from patrol.core.models import DAY_SUMS
from patrol.core.settings import get_settings

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def _steps_nullable(nullable: bool) -> None:
    """first_at / last_at NULL for a case without steps (PostgreSQL keeps a row for it). SQLite's batch mode copies
    the table and renames the copy: no trigger may name the table meanwhile."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        for stmt in S.SQLITE_DROP:
            op.execute(stmt)
    with op.batch_alter_table("case_kpi_fact") as batch:
        for c in ("first_at", "last_at"):
            batch.alter_column(c, existing_type=sa.DateTime(timezone=True), nullable=nullable)
    if sqlite:
        for stmt in S.sqlite_triggers(place=True):
            op.execute(stmt)


def upgrade() -> None:
    with op.batch_alter_table("case_kpi_fact") as batch:
        batch.add_column(sa.Column("span_lo", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("span_hi", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("span_day", sa.Date(), nullable=True))
    _steps_nullable(True)
    op.create_table(
        "case_kpi_day",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("community_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("grid_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("cal_lo", sa.String(length=16), nullable=True),
        sa.Column("cal_hi", sa.String(length=16), nullable=True),
        *(sa.Column(n, sa.Float() if n.endswith("hours_sum") else sa.Integer(), nullable=False) for n in DAY_SUMS),
        sa.PrimaryKeyConstraint("day", "community_id", "grid_id", name="pk_case_kpi_day"),
    )
    op.create_table("case_kpi_day_meta", sa.Column("tz", sa.String(length=64), nullable=False),
                    sa.PrimaryKeyConstraint("tz", name="pk_case_kpi_day_meta"))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(sa.text("INSERT INTO case_kpi_day_meta (tz) VALUES (:tz)").bindparams(tz=get_settings().timezone))
        for stmt in D.fill_spans_sql():
            op.execute(stmt)
        for stmt in S.postgres_span_triggers():
            op.execute(stmt)
        for stmt in D.rebuild_sql():
            op.execute(stmt)
        for stmt in D.postgres_triggers():
            op.execute(stmt)
        op.execute(D.SPAN_INDEX)
    op.create_index("ix_case_kpi_fact_span_day", "case_kpi_fact", ["span_day", "community_id", "grid_id"])
    op.create_index("ix_case_kpi_fact_final_at", "case_kpi_fact", ["final_at"])


def downgrade() -> None:
    op.drop_index("ix_case_kpi_fact_final_at", table_name="case_kpi_fact")
    op.drop_index("ix_case_kpi_fact_span_day", table_name="case_kpi_fact")
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute("DROP INDEX IF EXISTS ix_case_kpi_fact_span")
        for stmt in D.POSTGRES_DROP + S.POSTGRES_SPAN_DROP + S.POSTGRES_DROP:
            op.execute(stmt)
        for stmt in S.postgres_triggers(place=True):  # 0019's
            op.execute(stmt)
        # the rows of the cases without events go: 0019 keeps rows for cases with events only
        op.execute("DELETE FROM case_kpi_fact WHERE NOT EXISTS "
                   "(SELECT 1 FROM case_event ev WHERE ev.case_id = case_kpi_fact.case_id)")
    op.drop_table("case_kpi_day_meta")
    op.drop_table("case_kpi_day")
    _steps_nullable(False)
    if postgres:
        for c in ("span_day", "span_hi", "span_lo"):
            op.drop_column("case_kpi_fact", c)
    else:  # SQLite: the triggers name the table; a batch copy would fail on them (as 0019's downgrade)
        for stmt in S.SQLITE_DROP:
            op.execute(stmt)
        with op.batch_alter_table("case_kpi_fact") as batch:
            for c in ("span_day", "span_hi", "span_lo"):
                batch.drop_column(c)
        for stmt in S.sqlite_triggers(place=True):
            op.execute(stmt)
