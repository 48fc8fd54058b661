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

UNRATED = sa.text("rating IS NULL")


def upgrade() -> None:
    # a community's queues (社区, 街道): its cases in one status, in deadline order (即将超期 and 已超期 are ranges of
    # deadline_at; the category gives 即将超期 its threshold, so its count needs no table row)
    op.create_index('ix_patrol_case_community_status_deadline', 'patrol_case',
                    ['community_id', 'status', 'deadline_at', 'category_code'])
    # every community's (admin): the same by status
    op.create_index('ix_patrol_case_status_deadline', 'patrol_case', ['status', 'deadline_at', 'category_code'])
    # 升级到社区 / 升级到街道: the level and escalations of the open statuses
    op.create_index('ix_patrol_case_status_level', 'patrol_case', ['status', 'level', 'escalations'])
    # a department's queues (待接单, 处置中, 返工): its unit's cases in a status
    op.create_index('ix_patrol_case_unit_status', 'patrol_case', ['unit_id', 'status', 'rework_count'])
    # 待评价/回访: the cases without a rating, by status (closed) and report time. Partial on rating IS NULL only:
    # SQLite's statistics give a partial index with the status as a column a smaller estimate than the status
    # indexes (a partial index on status = 'closed' lost to them), and the WHERE holds no bound parameter
    op.create_index('ix_patrol_case_unrated_community', 'patrol_case', ['community_id', 'status', 'reported_at'],
                    postgresql_where=UNRATED, sqlite_where=UNRATED)
    op.create_index('ix_patrol_case_unrated', 'patrol_case', ['status', 'reported_at'],
                    postgresql_where=UNRATED, sqlite_where=UNRATED)
    # 被退回 (the events that brought a case to a status, latest last) and 已督办 (the urged cases)
    op.create_index('ix_case_event_case_id_to_status_id', 'case_event', ['case_id', 'to_status', 'id'])
    op.create_index('ix_case_event_action_case_id', 'case_event', ['action', 'case_id'])


def downgrade() -> None:
    op.drop_index('ix_case_event_action_case_id', table_name='case_event')
    op.drop_index('ix_case_event_case_id_to_status_id', table_name='case_event')
    op.drop_index('ix_patrol_case_unrated', table_name='patrol_case')
    op.drop_index('ix_patrol_case_unrated_community', table_name='patrol_case')
    op.drop_index('ix_patrol_case_unit_status', table_name='patrol_case')
    op.drop_index('ix_patrol_case_status_level', table_name='patrol_case')
    op.drop_index('ix_patrol_case_status_deadline', table_name='patrol_case')
    op.drop_index('ix_patrol_case_community_status_deadline', table_name='patrol_case')
