"""responsibility: category x level -> unit type

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 13:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('responsibility',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=20), nullable=False),
    sa.Column('level', sa.String(length=20), nullable=False),
    sa.Column('unit_type', sa.String(length=40), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('profile', sa.String(length=10), nullable=False),
    sa.Column('note_zh', sa.String(length=200), nullable=True),
    sa.CheckConstraint("level IN ('grid', 'community', 'department')", name=op.f('ck_responsibility_level')),
    sa.CheckConstraint("profile IN ('walk', 'drive')", name=op.f('ck_responsibility_profile')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_responsibility')),
    sa.UniqueConstraint('category', 'level', 'unit_type', name=op.f('uq_responsibility_category_level_unit_type'))
    )


def downgrade() -> None:
    op.drop_table('responsibility')
