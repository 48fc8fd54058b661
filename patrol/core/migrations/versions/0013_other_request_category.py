"""the residents' 其他 (something else): category C0117 其他诉求, handled by the community, added to a database whose
categories were loaded before it shipped (a fresh database loads it from patrol/data/categories.csv)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 10:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

ROW = {"code": "C0117", "name_zh": "其他诉求", "name_en": "Other request", "kind": "event", "major_zh": "社区事务",
       "major_en": "Neighbourhood affairs", "level": "community", "deadline_hours": 40.0, "severity": 1,
       "revisit_days": 7, "active": True}


def upgrade() -> None:
    conn = op.get_bind()
    loaded = conn.execute(sa.text("SELECT count(*) FROM category")).scalar()
    there = conn.execute(sa.text("SELECT count(*) FROM category WHERE code = 'C0117'")).scalar()
    if loaded and not there:
        conn.execute(sa.text("INSERT INTO category (code, name_zh, name_en, kind, major_zh, major_en, level, "
                             "deadline_hours, severity, revisit_days, active) VALUES (:code, :name_zh, :name_en, "
                             ":kind, :major_zh, :major_en, :level, :deadline_hours, :severity, :revisit_days, "
                             ":active)"), ROW)


def downgrade() -> None:
    conn = op.get_bind()
    used = conn.execute(sa.text("SELECT count(*) FROM patrol_case WHERE category_code = 'C0117'")).scalar()
    if not used:
        conn.execute(sa.text("DELETE FROM category WHERE code = 'C0117'"))
