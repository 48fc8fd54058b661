"""KPI facts at scale (issue 23, second pass) — reserved, filled by the KPI work.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05 18:30:00
"""

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
