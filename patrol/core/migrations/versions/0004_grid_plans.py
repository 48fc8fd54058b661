"""grid plans: versioned grids (draft, published, superseded) and their grids

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 15:17:27
"""
import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('grid_plan',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('based_on_id', sa.Integer(), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('published_by', sa.Integer(), nullable=True),
    sa.Column('effective_from', sa.Date(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.CheckConstraint("status IN ('draft', 'published', 'superseded')", name=op.f('ck_grid_plan_status')),
    sa.ForeignKeyConstraint(['based_on_id'], ['grid_plan.id'], name=op.f('fk_grid_plan_based_on_id_grid_plan'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['created_by'], ['app_user.id'], name=op.f('fk_grid_plan_created_by_app_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['published_by'], ['app_user.id'], name=op.f('fk_grid_plan_published_by_app_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_grid_plan'))
    )
    with op.batch_alter_table('grid_plan', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_grid_plan_published_at'), ['published_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_grid_plan_status'), ['status'], unique=False)

    op.create_geospatial_table('grid_plan_grid',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=True),
    sa.Column('worker_id', sa.Integer(), nullable=True),
    sa.Column('geom', Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], name=op.f('fk_grid_plan_grid_community_id_community'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['plan_id'], ['grid_plan.id'], name=op.f('fk_grid_plan_grid_plan_id_grid_plan'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['worker_id'], ['app_user.id'], name=op.f('fk_grid_plan_grid_worker_id_app_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_grid_plan_grid')),
    sa.UniqueConstraint('plan_id', 'code', name=op.f('uq_grid_plan_grid_plan_id_code'))
    )
    with op.batch_alter_table('grid_plan_grid', schema=None) as batch_op:
        batch_op.create_geospatial_index('idx_grid_plan_grid_geom', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
        batch_op.create_index(batch_op.f('ix_grid_plan_grid_community_id'), ['community_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_grid_plan_grid_plan_id'), ['plan_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('grid_plan_grid', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_grid_plan_grid_plan_id'))
        batch_op.drop_index(batch_op.f('ix_grid_plan_grid_community_id'))
        batch_op.drop_geospatial_index('idx_grid_plan_grid_geom', postgresql_using='gist', column_name='geom')

    op.drop_geospatial_table('grid_plan_grid')
    with op.batch_alter_table('grid_plan', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_grid_plan_status'))
        batch_op.drop_index(batch_op.f('ix_grid_plan_published_at'))

    op.drop_table('grid_plan')
