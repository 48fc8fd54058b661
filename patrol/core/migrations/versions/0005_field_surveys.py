"""field surveys: checklists, shops, inspections, photos, findings; households, residents, visits, needs, audit

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 16:25:01.819929
"""
import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('checklist',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('title_zh', sa.String(length=200), nullable=False),
    sa.Column('title_en', sa.String(length=200), nullable=False),
    sa.Column('target', sa.String(length=20), nullable=False),
    sa.Column('frequency_days', sa.Integer(), nullable=True),
    sa.Column('definition', sa.Text(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.CheckConstraint("target IN ('building', 'shop', 'place')", name=op.f('ck_checklist_target')),
    sa.ForeignKeyConstraint(['created_by'], ['app_user.id'], name=op.f('fk_checklist_created_by_app_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_checklist')),
    sa.UniqueConstraint('code', 'version', name=op.f('uq_checklist_code_version'))
    )
    with op.batch_alter_table('checklist', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_checklist_code'), ['code'], unique=False)

    op.create_table('resident_audit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=True),
    sa.Column('resident_id', sa.Integer(), nullable=True),
    sa.Column('via', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['app_user.id'], name=op.f('fk_resident_audit_actor_id_app_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_resident_audit'))
    )
    with op.batch_alter_table('resident_audit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_resident_audit_actor_id'), ['actor_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_resident_audit_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_resident_audit_household_id'), ['household_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_resident_audit_resident_id'), ['resident_id'], unique=False)

    op.create_table('household',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('building_id', sa.Integer(), nullable=False),
    sa.Column('room', sa.String(length=40), nullable=False),
    sa.Column('head_name', sa.String(length=100), nullable=True),
    sa.Column('phone', sa.String(length=40), nullable=True),
    sa.Column('members', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('simulated', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['building_id'], ['building.id'], name=op.f('fk_household_building_id_building'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_household')),
    sa.UniqueConstraint('building_id', 'room', name=op.f('uq_household_building_id_room'))
    )
    with op.batch_alter_table('household', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_household_building_id'), ['building_id'], unique=False)

    op.create_geospatial_table('shop',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=12), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=60), nullable=True),
    sa.Column('building_id', sa.Integer(), nullable=False),
    sa.Column('address', sa.String(length=300), nullable=True),
    sa.Column('licence_no', sa.String(length=60), nullable=True),
    sa.Column('osm_id', sa.BigInteger(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('simulated', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('geom', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.ForeignKeyConstraint(['building_id'], ['building.id'], name=op.f('fk_shop_building_id_building'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shop')),
    sa.UniqueConstraint('code', name=op.f('uq_shop_code'))
    )
    with op.batch_alter_table('shop', schema=None) as batch_op:
        batch_op.create_geospatial_index('idx_shop_geom', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
        batch_op.create_index(batch_op.f('ix_shop_building_id'), ['building_id'], unique=False)

    op.create_table('household_visit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('visit_id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['household_id'], ['household.id'], name=op.f('fk_household_visit_household_id_household'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['visit_id'], ['visit.id'], name=op.f('fk_household_visit_visit_id_visit'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_household_visit')),
    sa.UniqueConstraint('visit_id', name=op.f('uq_household_visit_visit_id'))
    )
    with op.batch_alter_table('household_visit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_household_visit_household_id'), ['household_id'], unique=False)

    op.create_geospatial_table('inspection',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.String(length=36), nullable=False),
    sa.Column('checklist_id', sa.Integer(), nullable=False),
    sa.Column('worker_id', sa.Integer(), nullable=True),
    sa.Column('grid_id', sa.Integer(), nullable=True),
    sa.Column('building_id', sa.Integer(), nullable=True),
    sa.Column('shop_id', sa.Integer(), nullable=True),
    sa.Column('place_name', sa.String(length=200), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('answers', sa.Text(), nullable=False),
    sa.Column('failed', sa.Integer(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('simulated', sa.Boolean(), nullable=False),
    sa.Column('geom', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.ForeignKeyConstraint(['building_id'], ['building.id'], name=op.f('fk_inspection_building_id_building'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['checklist_id'], ['checklist.id'], name=op.f('fk_inspection_checklist_id_checklist')),
    sa.ForeignKeyConstraint(['grid_id'], ['grid.id'], name=op.f('fk_inspection_grid_id_grid'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['shop_id'], ['shop.id'], name=op.f('fk_inspection_shop_id_shop'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['worker_id'], ['app_user.id'], name=op.f('fk_inspection_worker_id_app_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inspection')),
    sa.UniqueConstraint('client_id', name=op.f('uq_inspection_client_id'))
    )
    with op.batch_alter_table('inspection', schema=None) as batch_op:
        batch_op.create_geospatial_index('idx_inspection_geom', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
        batch_op.create_index(batch_op.f('ix_inspection_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_inspection_building_id'), ['building_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inspection_checklist_id'), ['checklist_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inspection_grid_id'), ['grid_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inspection_shop_id'), ['shop_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inspection_worker_id'), ['worker_id'], unique=False)

    op.create_table('resident',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('phone', sa.String(length=40), nullable=True),
    sa.Column('birth_year', sa.Integer(), nullable=True),
    sa.Column('disabled', sa.Boolean(), nullable=False),
    sa.Column('disability', sa.String(length=200), nullable=True),
    sa.Column('lives_alone', sa.Boolean(), nullable=False),
    sa.Column('health', sa.Text(), nullable=True),
    sa.Column('visit_every_days', sa.Integer(), nullable=True),
    sa.Column('simulated', sa.Boolean(), nullable=False),
    sa.CheckConstraint('visit_every_days IS NULL OR visit_every_days > 0', name=op.f('ck_resident_visit_every_positive')),
    sa.ForeignKeyConstraint(['household_id'], ['household.id'], name=op.f('fk_resident_household_id_household'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_resident'))
    )
    with op.batch_alter_table('resident', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_resident_household_id'), ['household_id'], unique=False)

    op.create_table('resident_need',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('visit_id', sa.Integer(), nullable=True),
    sa.Column('type', sa.String(length=20), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('open', 'in_progress', 'resolved')", name=op.f('ck_resident_need_status')),
    sa.CheckConstraint("type IN ('education', 'medical', 'housing', 'jobs', 'elderly_care', 'other')", name=op.f('ck_resident_need_type')),
    sa.ForeignKeyConstraint(['case_id'], ['patrol_case.id'], name=op.f('fk_resident_need_case_id_patrol_case'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['created_by'], ['app_user.id'], name=op.f('fk_resident_need_created_by_app_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['household_id'], ['household.id'], name=op.f('fk_resident_need_household_id_household'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['visit_id'], ['visit.id'], name=op.f('fk_resident_need_visit_id_visit'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_resident_need'))
    )
    with op.batch_alter_table('resident_need', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_resident_need_household_id'), ['household_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_resident_need_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_resident_need_type'), ['type'], unique=False)
        batch_op.create_index(batch_op.f('ix_resident_need_visit_id'), ['visit_id'], unique=False)

    op.create_table('inspection_finding',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('inspection_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.String(length=40), nullable=False),
    sa.Column('category_code', sa.String(length=20), nullable=True),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('deadline_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['patrol_case.id'], name=op.f('fk_inspection_finding_case_id_patrol_case'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['category_code'], ['category.code'], name=op.f('fk_inspection_finding_category_code_category')),
    sa.ForeignKeyConstraint(['inspection_id'], ['inspection.id'], name=op.f('fk_inspection_finding_inspection_id_inspection'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inspection_finding'))
    )
    with op.batch_alter_table('inspection_finding', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inspection_finding_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inspection_finding_category_code'), ['category_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_inspection_finding_inspection_id'), ['inspection_id'], unique=False)

    op.create_table('inspection_photo',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.String(length=36), nullable=False),
    sa.Column('inspection_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.String(length=40), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('mime', sa.String(length=20), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('thumbnail', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['inspection_id'], ['inspection.id'], name=op.f('fk_inspection_photo_inspection_id_inspection'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inspection_photo')),
    sa.UniqueConstraint('client_id', name=op.f('uq_inspection_photo_client_id'))
    )
    with op.batch_alter_table('inspection_photo', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inspection_photo_inspection_id'), ['inspection_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('inspection_photo', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inspection_photo_inspection_id'))

    op.drop_table('inspection_photo')
    with op.batch_alter_table('inspection_finding', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inspection_finding_inspection_id'))
        batch_op.drop_index(batch_op.f('ix_inspection_finding_category_code'))
        batch_op.drop_index(batch_op.f('ix_inspection_finding_case_id'))

    op.drop_table('inspection_finding')
    with op.batch_alter_table('resident_need', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_resident_need_visit_id'))
        batch_op.drop_index(batch_op.f('ix_resident_need_type'))
        batch_op.drop_index(batch_op.f('ix_resident_need_status'))
        batch_op.drop_index(batch_op.f('ix_resident_need_household_id'))

    op.drop_table('resident_need')
    with op.batch_alter_table('resident', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_resident_household_id'))

    op.drop_table('resident')
    with op.batch_alter_table('inspection', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inspection_worker_id'))
        batch_op.drop_index(batch_op.f('ix_inspection_shop_id'))
        batch_op.drop_index(batch_op.f('ix_inspection_grid_id'))
        batch_op.drop_index(batch_op.f('ix_inspection_checklist_id'))
        batch_op.drop_index(batch_op.f('ix_inspection_building_id'))
        batch_op.drop_index(batch_op.f('ix_inspection_at'))
        batch_op.drop_geospatial_index('idx_inspection_geom', postgresql_using='gist', column_name='geom')

    op.drop_geospatial_table('inspection')
    with op.batch_alter_table('household_visit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_household_visit_household_id'))

    op.drop_table('household_visit')
    with op.batch_alter_table('shop', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shop_building_id'))
        batch_op.drop_geospatial_index('idx_shop_geom', postgresql_using='gist', column_name='geom')

    op.drop_geospatial_table('shop')
    with op.batch_alter_table('household', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_household_building_id'))

    op.drop_table('household')
    with op.batch_alter_table('resident_audit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_resident_audit_resident_id'))
        batch_op.drop_index(batch_op.f('ix_resident_audit_household_id'))
        batch_op.drop_index(batch_op.f('ix_resident_audit_at'))
        batch_op.drop_index(batch_op.f('ix_resident_audit_actor_id'))

    op.drop_table('resident_audit')
    with op.batch_alter_table('checklist', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_checklist_code'))

    op.drop_table('checklist')
