"""desk indexes: composite and partial indexes for the case desk's queues at 200,000 cases (issue 17's bench)

Plain CREATE INDEX on both databases (never a table rebuild on SQLite); the partial index has the same WHERE on
PostgreSQL and SQLite. Measured before and after in docs-snippets/queues-bench.txt.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 02:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

UNRATED = sa.text("status = 'closed' AND rating IS NULL")


def upgrade() -> None:
    # a community's queues (社区, 街道): its cases in one status, in deadline order (即将超期, 已超期 ranges)
    op.create_index('ix_patrol_case_community_id_status_deadline_at', 'patrol_case',
                    ['community_id', 'status', 'deadline_at'])
    # every community's (admin): a status in deadline order; the level of a status (升级到社区 / 街道)
    op.create_index('ix_patrol_case_status_deadline_at', 'patrol_case', ['status', 'deadline_at'])
    op.create_index('ix_patrol_case_status_level', 'patrol_case', ['status', 'level'])
    # 待评价/回访: the closed cases without a rating, a small part of the closed ones
    op.create_index('ix_patrol_case_unrated_community_id_reported_at', 'patrol_case',
                    ['community_id', 'reported_at'], postgresql_where=UNRATED, sqlite_where=UNRATED)
    op.create_index('ix_patrol_case_unrated_reported_at', 'patrol_case', ['reported_at'],
                    postgresql_where=UNRATED, sqlite_where=UNRATED)
    # 被退回 (the events that brought a case to a status, latest last) and 已督办 (the urged cases)
    op.create_index('ix_case_event_case_id_to_status_id', 'case_event', ['case_id', 'to_status', 'id'])
    op.create_index('ix_case_event_action_case_id', 'case_event', ['action', 'case_id'])


def downgrade() -> None:
    op.drop_index('ix_case_event_action_case_id', table_name='case_event')
    op.drop_index('ix_case_event_case_id_to_status_id', table_name='case_event')
    op.drop_index('ix_patrol_case_unrated_reported_at', table_name='patrol_case')
    op.drop_index('ix_patrol_case_unrated_community_id_reported_at', table_name='patrol_case')
    op.drop_index('ix_patrol_case_status_level', table_name='patrol_case')
    op.drop_index('ix_patrol_case_status_deadline_at', table_name='patrol_case')
    op.drop_index('ix_patrol_case_community_id_status_deadline_at', table_name='patrol_case')
