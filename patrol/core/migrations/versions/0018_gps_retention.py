"""GPS fixes at city scale (issue 23): on PostgreSQL ``gps_fix`` becomes a table partitioned by month on ``time``
(primary key (id, time), a DEFAULT partition so no fix is ever refused, the existing rows copied into monthly
partitions); SpatiaLite keeps the plain table. Both get a BRIN (SpatiaLite: b-tree) index on ``time`` and the per
worker-day summaries ``patrol_day`` that outlive the raw fixes (patrol.field.retention, patrol.field.gps_days).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 15:32:00
"""
import datetime as dt

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

COLUMNS = "id, patrol_id, time, accuracy_m, flag, geom"


def _months(conn, table: str) -> list[dt.date]:
    lo, hi = conn.execute(sa.text(f"SELECT min(time AT TIME ZONE 'UTC'), max(time AT TIME ZONE 'UTC') "
                                  f"FROM {table}")).one()
    if lo is None:
        return []
    out, m = [], dt.date(lo.year, lo.month, 1)
    while m <= hi.date():
        out.append(m)
        m = dt.date(m.year + (m.month == 12), m.month % 12 + 1, 1)
    return out


def _partition_gps_fix() -> None:
    conn = op.get_bind()
    op.execute("ALTER TABLE gps_fix RENAME TO gps_fix_plain")
    for old in ("pk_gps_fix", "uq_gps_fix_patrol_id_time", "fk_gps_fix_patrol_id_patrol"):
        op.execute(f"ALTER TABLE gps_fix_plain RENAME CONSTRAINT {old} TO {old}_plain")
    for old in ("idx_gps_fix_geom", "ix_gps_fix_patrol_id"):
        op.execute(f"ALTER INDEX {old} RENAME TO {old}_plain")
    op.execute("""
        CREATE TABLE gps_fix (
            id integer NOT NULL DEFAULT nextval('gps_fix_id_seq'::regclass),
            patrol_id integer NOT NULL,
            time timestamp with time zone NOT NULL,
            accuracy_m double precision,
            flag varchar(20),
            geom geometry(POINT, 4326) NOT NULL,
            CONSTRAINT pk_gps_fix PRIMARY KEY (id, time),
            CONSTRAINT uq_gps_fix_patrol_id_time UNIQUE (patrol_id, time),
            CONSTRAINT fk_gps_fix_patrol_id_patrol FOREIGN KEY (patrol_id) REFERENCES patrol (id) ON DELETE CASCADE
        ) PARTITION BY RANGE (time)""")
    op.execute("ALTER SEQUENCE gps_fix_id_seq OWNED BY gps_fix.id")
    op.execute("CREATE INDEX idx_gps_fix_geom ON gps_fix USING gist (geom)")
    op.execute("CREATE INDEX ix_gps_fix_patrol_id ON gps_fix (patrol_id)")
    op.execute("CREATE INDEX ix_gps_fix_time ON gps_fix USING brin (time)")
    op.execute("CREATE TABLE gps_fix_default PARTITION OF gps_fix DEFAULT")
    for m in _months(conn, "gps_fix_plain"):
        nxt = dt.date(m.year + (m.month == 12), m.month % 12 + 1, 1)
        op.execute(f"CREATE TABLE gps_fix_y{m:%Y}m{m:%m} PARTITION OF gps_fix "
                   f"FOR VALUES FROM ('{m:%Y-%m-%d} 00:00+00') TO ('{nxt:%Y-%m-%d} 00:00+00')")
    op.execute(f"INSERT INTO gps_fix ({COLUMNS}) SELECT {COLUMNS} FROM gps_fix_plain")
    op.execute("DROP TABLE gps_fix_plain")


def _unpartition_gps_fix() -> None:
    op.execute("ALTER TABLE gps_fix RENAME TO gps_fix_parted")
    for old in ("pk_gps_fix", "uq_gps_fix_patrol_id_time", "fk_gps_fix_patrol_id_patrol"):
        op.execute(f"ALTER TABLE gps_fix_parted RENAME CONSTRAINT {old} TO {old}_parted")
    for old in ("idx_gps_fix_geom", "ix_gps_fix_patrol_id", "ix_gps_fix_time"):
        op.execute(f"ALTER INDEX {old} RENAME TO {old}_parted")
    op.execute("""
        CREATE TABLE gps_fix (
            id integer NOT NULL DEFAULT nextval('gps_fix_id_seq'::regclass),
            patrol_id integer NOT NULL,
            time timestamp with time zone NOT NULL,
            accuracy_m double precision,
            flag varchar(20),
            geom geometry(POINT, 4326) NOT NULL,
            CONSTRAINT pk_gps_fix PRIMARY KEY (id),
            CONSTRAINT uq_gps_fix_patrol_id_time UNIQUE (patrol_id, time),
            CONSTRAINT fk_gps_fix_patrol_id_patrol FOREIGN KEY (patrol_id) REFERENCES patrol (id) ON DELETE CASCADE
        )""")
    op.execute("ALTER SEQUENCE gps_fix_id_seq OWNED BY gps_fix.id")
    op.execute(f"INSERT INTO gps_fix ({COLUMNS}) SELECT {COLUMNS} FROM gps_fix_parted")
    op.execute("DROP TABLE gps_fix_parted")  # its partitions with it
    op.execute("CREATE INDEX idx_gps_fix_geom ON gps_fix USING gist (geom)")
    op.execute("CREATE INDEX ix_gps_fix_patrol_id ON gps_fix (patrol_id)")


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        _partition_gps_fix()
    else:
        with op.batch_alter_table('gps_fix', schema=None) as batch_op:
            batch_op.create_index('ix_gps_fix_time', ['time'], unique=False)
    op.create_geospatial_table('patrol_day',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('worker_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('grid_id', sa.Integer(), nullable=True),
    sa.Column('simulated', sa.Boolean(), nullable=False),
    sa.Column('patrols', sa.Integer(), nullable=False),
    sa.Column('fixes', sa.Integer(), nullable=False),
    sa.Column('first_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('walked_s', sa.Float(), nullable=False),
    sa.Column('distance_m', sa.Float(), nullable=False),
    sa.Column('coverage_m', sa.Float(), nullable=False),
    sa.Column('lines', sa.Text(), nullable=False),
    sa.Column('covered', sa.Text(), nullable=False),
    sa.Column('track', Geometry(geometry_type='MULTILINESTRING', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.Column('summarised_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('raw_dropped', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['grid_id'], ['grid.id'], name=op.f('fk_patrol_day_grid_id_grid'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['worker_id'], ['app_user.id'], name=op.f('fk_patrol_day_worker_id_app_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patrol_day')),
    sa.UniqueConstraint('worker_id', 'day', 'grid_id', 'simulated', name=op.f('uq_patrol_day_worker_id_day_grid_id_simulated'))
    )
    with op.batch_alter_table('patrol_day', schema=None) as batch_op:
        batch_op.create_geospatial_index('idx_patrol_day_track', ['track'], unique=False, postgresql_using='gist', postgresql_ops={})
        batch_op.create_index(batch_op.f('ix_patrol_day_day'), ['day'], unique=False)
        batch_op.create_index(batch_op.f('ix_patrol_day_grid_id'), ['grid_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_patrol_day_worker_id'), ['worker_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('patrol_day', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patrol_day_worker_id'))
        batch_op.drop_index(batch_op.f('ix_patrol_day_grid_id'))
        batch_op.drop_index(batch_op.f('ix_patrol_day_day'))
        batch_op.drop_geospatial_index('idx_patrol_day_track', postgresql_using='gist', column_name='track')
    op.drop_geospatial_table('patrol_day')
    if op.get_bind().dialect.name == "postgresql":
        _unpartition_gps_fix()
    else:
        with op.batch_alter_table('gps_fix', schema=None) as batch_op:
            batch_op.drop_index('ix_gps_fix_time')
