"""official layers and our own basemap: region codes as given (a subdistrict's 9 digits, a community's 12), the city's
own timezone and code scheme, a map version that invalidates cached tiles, a building's house number for the map,
and water and green areas to draw

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 06:50:00
"""
import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def _sqlite_code_width(old: int, new: int) -> None:
    """SQLite stores VARCHAR(3) and VARCHAR(20) alike (TEXT affinity, no length check): only the declared type in
    the schema text changes, which SQLite's own documentation allows through ``writable_schema`` for changes that do
    not touch the stored records — no table rebuild (which would drop SpatiaLite's geometry triggers)."""
    conn = op.get_bind()
    version = conn.exec_driver_sql("PRAGMA schema_version").scalar()
    conn.exec_driver_sql("PRAGMA writable_schema = ON")
    for table in ('subdistrict', 'community'):
        conn.execute(sa.text("UPDATE sqlite_master SET sql = replace(sql, :old, :new) WHERE type = 'table' "
                             "AND name = :table").bindparams(old=f"code VARCHAR({old}) NOT NULL",
                                                             new=f"code VARCHAR({new}) NOT NULL", table=table))
    conn.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    conn.exec_driver_sql("PRAGMA writable_schema = OFF")


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        for table in ('subdistrict', 'community'):
            op.alter_column(table, 'code', type_=sa.String(length=20), existing_type=sa.String(length=3),
                            existing_nullable=False)
    else:
        _sqlite_code_width(3, 20)
    op.add_column('city', sa.Column('timezone', sa.String(length=64), nullable=True))
    op.add_column('city', sa.Column('code_scheme', sa.String(length=200), nullable=True))
    op.add_column('city', sa.Column('map_version', sa.Integer(), server_default='1', nullable=False))
    op.add_column('building', sa.Column('housenumber', sa.String(length=40), nullable=True))
    op.create_geospatial_table('map_area',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('geom', Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_map_area'))
    )
    with op.batch_alter_table('map_area', schema=None) as batch_op:
        batch_op.create_geospatial_index('idx_map_area_geom', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
        batch_op.create_index(batch_op.f('ix_map_area_kind'), ['kind'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('map_area', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_map_area_kind'))
        batch_op.drop_geospatial_index('idx_map_area_geom', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('map_area')
    op.drop_column('building', 'housenumber')
    op.drop_column('city', 'map_version')
    op.drop_column('city', 'code_scheme')
    op.drop_column('city', 'timezone')
    if op.get_bind().dialect.name == 'postgresql':
        for table in ('subdistrict', 'community'):
            op.alter_column(table, 'code', type_=sa.String(length=3), existing_type=sa.String(length=20),
                            existing_nullable=False)
    else:
        _sqlite_code_width(20, 3)
