"""rules that match the seeds, for a database loaded before they shipped (a fresh database loads them from
patrol/data/categories.csv and responsibility.csv): 邻里纠纷 C0115 and 重点人员关怀 C0116 climb no higher than the
community (top_level), 占道经营 / 店外经营 / 乱停乱放 / 流动摊贩 E0501–E0504 are persuaded first (persuade_first), and the
responsibility rules send a dispute to the community's mediation committee or office and care to the office, never
to the property company. Rows a city has customised are left alone: a category whose name or level is not the
shipped one, and a responsibility table whose catch-all rules are not the shipped ones or that already has rules
for C0115 / C0116.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 13:10:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

#: code → (shipped name, shipped level, the new column and its value)
CATEGORIES = {
    "C0115": ("邻里纠纷", "grid", "top_level", "community"),
    "C0116": ("重点人员关怀", "grid", "top_level", "community"),
    "E0501": ("占道经营", "grid", "persuade_first", True),
    "E0502": ("店外经营", "grid", "persuade_first", True),
    "E0503": ("乱停乱放", "grid", "persuade_first", True),
    "E0504": ("流动摊贩", "grid", "persuade_first", True),
}
#: the shipped catch-all rules (category "*") before and after this revision
CATCH_ALL = {("grid", "grid_worker"), ("community", "property"), ("community", "community_office"),
             ("department", "urban_management")}
RULES = [
    ("C0115", "grid", "grid_worker", 1, "walk", "邻里纠纷：网格员就地调解（一名网格员就是一名调解员，小事不出网格）"),
    ("C0115", "community", "mediation", 1, "walk", "邻里纠纷：社区人民调解委员会调解（大事不出社区）"),
    ("C0115", "community", "community_office", 2, "walk", "邻里纠纷：无调解委员会时由社区居委会调解"),
    ("C0115", "community", "none", 3, "walk", "邻里纠纷不交物业公司或城管"),
    ("C0116", "grid", "grid_worker", 1, "walk", "重点人员关怀：本网格网格员走访"),
    ("C0116", "community", "community_office", 1, "walk", "重点人员关怀：社区居委会"),
    ("C0116", "community", "none", 2, "walk", "重点人员关怀不交物业公司"),
]


def upgrade() -> None:
    conn = op.get_bind()
    for code, (name, level, column, value) in CATEGORIES.items():
        conn.execute(sa.text(f"UPDATE category SET {column} = :value WHERE code = :code AND name_zh = :name "
                             "AND level = :level"), {"value": value, "code": code, "name": name, "level": level})
    catch_all = {tuple(r) for r in conn.execute(sa.text(
        "SELECT level, unit_type FROM responsibility WHERE category = '*'"))}
    ours = conn.execute(sa.text("SELECT count(*) FROM responsibility WHERE category IN ('C0115', 'C0116')")).scalar()
    if catch_all == CATCH_ALL and not ours:  # the shipped table (an empty one: the shipped CSV applies anyway)
        for category, level, unit_type, priority, profile, note in RULES:
            conn.execute(sa.text("INSERT INTO responsibility (category, level, unit_type, priority, profile, note_zh) "
                                 "VALUES (:c, :l, :u, :p, :pr, :n)"),
                         {"c": category, "l": level, "u": unit_type, "p": priority, "pr": profile, "n": note})


def downgrade() -> None:
    conn = op.get_bind()
    for category, level, unit_type, *_ in RULES:
        conn.execute(sa.text("DELETE FROM responsibility WHERE category = :c AND level = :l AND unit_type = :u"),
                     {"c": category, "l": level, "u": unit_type})
    conn.execute(sa.text("UPDATE category SET top_level = NULL WHERE code IN ('C0115', 'C0116')"))
    conn.execute(sa.text("UPDATE category SET persuade_first = :no WHERE code IN ('E0501', 'E0502', 'E0503', "
                         "'E0504')"), {"no": False})
