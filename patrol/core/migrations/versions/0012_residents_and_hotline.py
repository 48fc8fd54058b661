"""residents and the 12345 hotline: a case's source system and its number there (a 12345 work order, a history
row), the resident's private follow-up link (its hash), whether she says it was solved, an index for filters by
channel, the hotline's work orders (the 待定位 queue), the audit of reads of a case's contact, a grid worker's
work phone for her public card, and what an API key opens (Open311 or the hotline)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 10:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('hotline_order',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_no', sa.String(length=80), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deadline_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('category_code', sa.String(length=20), nullable=True),
    sa.Column('category_text', sa.String(length=200), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('address', sa.String(length=300), nullable=True),
    sa.Column('subdistrict_text', sa.String(length=200), nullable=True),
    sa.Column('urgency', sa.String(length=20), nullable=True),
    sa.Column('contact_name', sa.String(length=200), nullable=True),
    sa.Column('contact_phone', sa.String(length=40), nullable=True),
    sa.Column('match_score', sa.Float(), nullable=True),
    sa.Column('candidates', sa.Text(), nullable=True),
    sa.Column('subdistrict_id', sa.Integer(), nullable=True),
    sa.Column('community_id', sa.Integer(), nullable=True),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('raw', sa.Text(), nullable=True),
    sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("state IN ('pending', 'placed')", name=op.f('ck_hotline_order_state')),
    sa.ForeignKeyConstraint(['case_id'], ['patrol_case.id'], name=op.f('fk_hotline_order_case_id_patrol_case'),
                            ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['category_code'], ['category.code'],
                            name=op.f('fk_hotline_order_category_code_category')),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], name=op.f('fk_hotline_order_community_id_community'),
                            ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['subdistrict_id'], ['subdistrict.id'],
                            name=op.f('fk_hotline_order_subdistrict_id_subdistrict'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hotline_order')),
    sa.UniqueConstraint('case_id', name=op.f('uq_hotline_order_case_id')),
    sa.UniqueConstraint('order_no', name=op.f('uq_hotline_order_order_no'))
    )
    op.create_index(op.f('ix_hotline_order_community_id'), 'hotline_order', ['community_id'], unique=False)
    op.create_index(op.f('ix_hotline_order_received_at'), 'hotline_order', ['received_at'], unique=False)
    op.create_index(op.f('ix_hotline_order_state'), 'hotline_order', ['state'], unique=False)
    op.create_index(op.f('ix_hotline_order_subdistrict_id'), 'hotline_order', ['subdistrict_id'], unique=False)
    op.add_column('patrol_case', sa.Column('source', sa.String(length=40), nullable=True))
    op.add_column('patrol_case', sa.Column('source_ref', sa.String(length=80), nullable=True))
    op.add_column('patrol_case', sa.Column('follow_token_hash', sa.String(length=64), nullable=True))
    op.add_column('patrol_case', sa.Column('resident_solved', sa.Boolean(), nullable=True))
    op.create_index('ix_patrol_case_channel_reported_at', 'patrol_case', ['channel', 'reported_at'], unique=False)
    op.create_index(op.f('ix_patrol_case_follow_token_hash'), 'patrol_case', ['follow_token_hash'], unique=True)
    op.create_index('ix_patrol_case_source_source_ref', 'patrol_case', ['source', 'source_ref'], unique=True)
    op.add_column('resident_audit', sa.Column('case_id', sa.Integer(), nullable=True))
    op.create_index(op.f('ix_resident_audit_case_id'), 'resident_audit', ['case_id'], unique=False)
    op.add_column('app_user', sa.Column('work_phone', sa.String(length=40), nullable=True))
    op.add_column('api_key', sa.Column('scope', sa.String(length=20), server_default='open311', nullable=False))


def downgrade() -> None:
    op.drop_column('api_key', 'scope')
    op.drop_column('app_user', 'work_phone')
    op.drop_index(op.f('ix_resident_audit_case_id'), table_name='resident_audit')
    with op.batch_alter_table('resident_audit') as batch:
        batch.drop_column('case_id')
    op.drop_index('ix_patrol_case_source_source_ref', table_name='patrol_case')
    op.drop_index(op.f('ix_patrol_case_follow_token_hash'), table_name='patrol_case')
    op.drop_index('ix_patrol_case_channel_reported_at', table_name='patrol_case')
    for column in ('resident_solved', 'follow_token_hash', 'source_ref', 'source'):
        op.drop_column('patrol_case', column)
    op.drop_index(op.f('ix_hotline_order_subdistrict_id'), table_name='hotline_order')
    op.drop_index(op.f('ix_hotline_order_state'), table_name='hotline_order')
    op.drop_index(op.f('ix_hotline_order_received_at'), table_name='hotline_order')
    op.drop_index(op.f('ix_hotline_order_community_id'), table_name='hotline_order')
    op.drop_table('hotline_order')
