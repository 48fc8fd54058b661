"""reads at city scale (issue 23): the H3 resolution-9 cell of every case stored on insert (``patrol_case.h3_9``),
and the indexes the big reads need. (Filled in by the case-reads work of issue 23.)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 15:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("patrol_case") as batch:
        batch.add_column(sa.Column("h3_9", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("patrol_case") as batch:
        batch.drop_column("h3_9")
