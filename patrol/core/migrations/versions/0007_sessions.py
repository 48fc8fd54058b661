"""sessions and accounts: stored refresh tokens (rotation, reuse detection, revocation), login attempts (throttling
and the audit of failures), API key expiry, revocation time and last use

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 01:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # new all-NULL columns: a plain ALTER TABLE ADD COLUMN on both databases (never a table rebuild on SQLite)
    op.add_column('api_key', sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('api_key', sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('api_key', sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True))

    op.create_table('refresh_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('family', sa.String(length=32), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('absolute_expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('replaced_by', sa.Integer(), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('address', sa.String(length=64), nullable=True),
    sa.Column('client', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_refresh_token_user_id_app_user'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_refresh_token')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_refresh_token_token_hash'))
    )
    op.create_index(op.f('ix_refresh_token_family'), 'refresh_token', ['family'], unique=False)
    op.create_index(op.f('ix_refresh_token_user_id'), 'refresh_token', ['user_id'], unique=False)

    op.create_table('login_attempt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('username', sa.String(length=80), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('reason', sa.String(length=20), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_attempt'))
    )
    op.create_index(op.f('ix_login_attempt_at'), 'login_attempt', ['at'], unique=False)
    op.create_index('ix_login_attempt_username_at', 'login_attempt', ['username', 'at'], unique=False)
    op.create_index('ix_login_attempt_address_at', 'login_attempt', ['address', 'at'], unique=False)


def downgrade() -> None:
    op.drop_table('login_attempt')
    op.drop_table('refresh_token')
    for column in ('last_used_at', 'revoked_at', 'expires_at'):
        op.drop_column('api_key', column)
