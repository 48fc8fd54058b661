"""names of derived communities in Chinese: older versions named the communities they drew ``社区 01 (derived)`` and
their grids ``社区 01 (derived) 第1网格``; today's name says ``（自动划分）`` (geo.city.DERIVED_LABEL). A data migration:
it runs once, when the database is upgraded, and a database without such names is not changed.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 05:55:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

OLD_LABEL = " (derived)"
NEW_LABEL = "（自动划分）"  # geo.city.DERIVED_LABEL (migrations do not import the spatial core)
#: the tables whose ``name`` may carry the old label (a draft plan's grids copy the names of the grids)
TABLES = ("subdistrict", "community", "grid", "grid_plan_grid")


def upgrade() -> None:
    for table in TABLES:
        op.execute(sa.text(f"UPDATE {table} SET name = REPLACE(name, :old, :new) WHERE name LIKE :pattern")
                   .bindparams(old=OLD_LABEL, new=NEW_LABEL, pattern=f"%{OLD_LABEL}%"))


def downgrade() -> None:
    pass  # the English mark is not written back
