"""summary tables of the case loop for the dashboards at city scale (issue 23). (Reserved: filled in by the KPI
summaries work of issue 23.)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 15:31:00
"""

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
