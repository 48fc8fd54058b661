"""Cases map summaries at scale (issue 23, second pass) — reserved, filled by the map work.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05 18:30:00
"""

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
