"""the case desk: the subdistrict role (街道), case numbers, notices, notification channels and the outbox

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 00:50:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

OLD_ROLES = "role IN ('grid_worker', 'supervisor', 'department', 'planner', 'admin')"
NEW_ROLES = "role IN ('grid_worker', 'supervisor', 'subdistrict', 'department', 'planner', 'admin')"


def _sqlite_app_user() -> None:
    """On SQLite, widen app_user's role CHECK and add subdistrict_id with its foreign key without recreating the
    table (which, with foreign keys on, would delete every row that refers to a user): SQLite's documented
    procedure for schema changes that leave the stored rows valid (a looser CHECK; a new all-NULL column), editing
    the stored CREATE TABLE text inside the migration's transaction."""
    bind = op.get_bind()
    bind.exec_driver_sql("ALTER TABLE app_user ADD COLUMN subdistrict_id INTEGER")
    sql = bind.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'app_user'").scalar()
    assert OLD_ROLES in sql and sql.rstrip().endswith(")"), sql
    sql = sql.replace(OLD_ROLES, NEW_ROLES).rstrip()[:-1].rstrip() + (
        ", CONSTRAINT fk_app_user_subdistrict_id_subdistrict FOREIGN KEY(subdistrict_id) "
        "REFERENCES subdistrict (id) ON DELETE SET NULL\n)")
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar()
    bind.exec_driver_sql("PRAGMA writable_schema=ON")
    bind.exec_driver_sql("UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'app_user'", (sql,))
    bind.exec_driver_sql(f"PRAGMA schema_version={int(version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema=OFF")


def _number_expr(dialect: str) -> str:
    if dialect == "sqlite":
        return "strftime('%Y', reported_at) || '-' || printf('%06d', id)"
    return "to_char(reported_at AT TIME ZONE 'UTC', 'YYYY') || '-' || lpad(id::text, 6, '0')"


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _sqlite_app_user()
    else:
        op.drop_constraint(op.f('ck_app_user_role'), 'app_user', type_='check')
        op.create_check_constraint(op.f('ck_app_user_role'), 'app_user', NEW_ROLES)
        op.add_column('app_user', sa.Column('subdistrict_id', sa.Integer(), nullable=True))
        op.create_foreign_key(op.f('fk_app_user_subdistrict_id_subdistrict'), 'app_user', 'subdistrict',
                              ['subdistrict_id'], ['id'], ondelete='SET NULL')
    op.add_column('app_user', sa.Column('email', sa.String(length=200), nullable=True))
    op.add_column('patrol_case', sa.Column('number', sa.String(length=20), nullable=True))
    op.execute(f"UPDATE patrol_case SET number = {_number_expr(dialect)}")
    op.create_index('ix_patrol_case_number', 'patrol_case', ['number'], unique=True)

    op.create_table('notice',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('body', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('dedupe_key', sa.String(length=160), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['patrol_case.id'], name=op.f('fk_notice_case_id_patrol_case'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_notice_user_id_app_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notice')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_notice_dedupe_key'))
    )
    op.create_index(op.f('ix_notice_case_id'), 'notice', ['case_id'], unique=False)
    op.create_index(op.f('ix_notice_created_at'), 'notice', ['created_at'], unique=False)
    op.create_index(op.f('ix_notice_user_id'), 'notice', ['user_id'], unique=False)

    op.create_table('notify_channel',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('address', sa.String(length=500), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('email', 'webhook', 'wecom', 'dingtalk')", name=op.f('ck_notify_channel_kind')),
    sa.CheckConstraint('user_id IS NOT NULL OR unit_id IS NOT NULL', name=op.f('ck_notify_channel_owner')),
    sa.ForeignKeyConstraint(['unit_id'], ['responsible_unit.id'], name=op.f('fk_notify_channel_unit_id_responsible_unit'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_notify_channel_user_id_app_user'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notify_channel'))
    )
    op.create_index(op.f('ix_notify_channel_unit_id'), 'notify_channel', ['unit_id'], unique=False)
    op.create_index(op.f('ix_notify_channel_user_id'), 'notify_channel', ['user_id'], unique=False)

    op.create_table('outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('notice_id', sa.Integer(), nullable=True),
    sa.Column('channel_id', sa.Integer(), nullable=True),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('address', sa.String(length=500), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('dedupe_key', sa.String(length=200), nullable=False),
    sa.CheckConstraint("status IN ('pending', 'sending', 'sent', 'dead')", name=op.f('ck_outbox_status')),
    sa.ForeignKeyConstraint(['case_id'], ['patrol_case.id'], name=op.f('fk_outbox_case_id_patrol_case'),
                            ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['channel_id'], ['notify_channel.id'], name=op.f('fk_outbox_channel_id_notify_channel'),
                            ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['notice_id'], ['notice.id'], name=op.f('fk_outbox_notice_id_notice'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_outbox_dedupe_key'))
    )
    op.create_index(op.f('ix_outbox_next_attempt_at'), 'outbox', ['next_attempt_at'], unique=False)
    op.create_index(op.f('ix_outbox_status'), 'outbox', ['status'], unique=False)


def downgrade() -> None:
    op.drop_table('outbox')
    op.drop_table('notify_channel')
    op.drop_table('notice')
    op.drop_index('ix_patrol_case_number', table_name='patrol_case')
    with op.batch_alter_table('patrol_case', schema=None) as batch_op:
        batch_op.drop_column('number')
    raise NotImplementedError("the subdistrict role cannot be removed from app_user in place")
