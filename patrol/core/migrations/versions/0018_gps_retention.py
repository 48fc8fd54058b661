"""GPS fixes at city scale (issue 23): partitions by month on PostgreSQL and per worker-day summaries, so raw fixes
older than the retention window can be dropped. (Reserved: filled in by the GPS retention work of issue 23.)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 15:32:00
"""

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
