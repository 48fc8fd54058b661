"""the times of field work and readable buildings: when a case, a step or a 回头看 happened on the phone
(``reported_at`` / ``at`` / ``done_at``) next to when the server received it (``received_at``), the device clock's skew
and a flag when the device time was not believable; the photo as uploaded (kept for evidence) and where its capture
time and place came from; a building's readable label (address, name, or road + nearest number)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 03:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

_TIMES = ('patrol_case', 'case_event')


def upgrade() -> None:
    # new all-NULL columns: a plain ALTER TABLE ADD COLUMN on both databases (never a table rebuild on SQLite)
    for table in _TIMES:
        op.add_column(table, sa.Column('received_at', sa.DateTime(timezone=True), nullable=True))
        op.add_column(table, sa.Column('clock_skew_s', sa.Integer(), nullable=True))
        op.add_column(table, sa.Column('time_flag', sa.String(length=20), nullable=True))
    op.add_column('revisit', sa.Column('received_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('photo', sa.Column('original', sa.LargeBinary(), nullable=True))
    op.add_column('photo', sa.Column('taken_source', sa.String(length=10), nullable=True))
    op.add_column('building', sa.Column('label', sa.String(length=300), nullable=True))


def downgrade() -> None:
    op.drop_column('building', 'label')
    op.drop_column('photo', 'taken_source')
    op.drop_column('photo', 'original')
    op.drop_column('revisit', 'received_at')
    for table in reversed(_TIMES):
        for column in ('time_flag', 'clock_skew_s', 'received_at'):
            op.drop_column(table, column)
