"""the cases map's clusters at city scale (issue 23, second pass): ``case_map_cell``, per cell of zoom 15's lon/lat
grid, final status, community, grid and unit, the count and the sums of lon / lat of the cases in a final status;
kept by triggers on ``patrol_case`` (statement-level with transition tables on PostgreSQL, row-level on SQLite)
and filled here from the existing cases.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05 18:30:00
"""
import sqlalchemy as sa
from alembic import op

from patrol.cases import map_cells_sql as S

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_map_cell",
        sa.Column("gx", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("gy", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("community_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("grid_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("unit_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("sx", sa.Float(), nullable=False),
        sa.Column("sy", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint(*S.PK, name="pk_case_map_cell"),
    )
    dialect = op.get_bind().dialect.name
    for stmt in (S.postgres_triggers() if dialect == "postgresql" else S.sqlite_triggers()):
        op.execute(stmt)
    op.execute(f"INSERT INTO case_map_cell ({', '.join(S.COLUMNS)}) {S.rebuild_select(dialect)}")


def downgrade() -> None:
    for stmt in (S.POSTGRES_DROP if op.get_bind().dialect.name == "postgresql" else S.SQLITE_DROP):
        op.execute(stmt)
    op.drop_table("case_map_cell")
