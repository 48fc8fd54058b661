"""Migration 0015 brings a database loaded before the seeds' rules shipped to them, on both databases: the shipped
rows change (C0115 / C0116 stop at the community, E0501–E0504 are persuaded first, disputes and care have their own
responsibility rules, ending before the property company) and a row the city customised does not."""

from __future__ import annotations

from sqlalchemy import select, update

from patrol.cases.categories import load_categories
from patrol.cases.responsibility import default_csv, load_rules, rules_for
from patrol.core.db import make_engine, session_factory, transaction
from patrol.core.migrate import upgrade
from patrol.core.models import Category


def test_0015_updates_the_shipped_rows_only(fresh_url):
    engine = make_engine(fresh_url)
    try:
        upgrade(engine, "0014")
        before = "\n".join(line for line in default_csv().splitlines() if not line.startswith(("C0115", "C0116")))
        with transaction(session_factory(engine)) as s:  # as 0014 left a database loaded before this revision
            load_categories(s)
            s.execute(update(Category).values(top_level=None, persuade_first=False))
            s.execute(update(Category).where(Category.code == "E0503").values(level="community"))  # customised
            load_rules(s, before)
            assert [r.unit_type for r in rules_for(s, "C0115", "community")] == ["property", "community_office"]
        upgrade(engine)
        with session_factory(engine)() as s:
            marks = {c.code: (c.top_level, c.persuade_first) for c in s.scalars(select(Category).where(
                Category.code.in_(["C0115", "C0116", "C0117", "E0501", "E0502", "E0503", "E0504", "E0505"])))}
            assert marks == {"C0115": ("community", False), "C0116": ("community", False), "C0117": (None, False),
                             "E0501": (None, True), "E0502": (None, True), "E0503": (None, False),
                             "E0504": (None, True), "E0505": (None, False)}
            assert [r.unit_type for r in rules_for(s, "C0115", "community")] == ["mediation", "community_office"]
            assert [r.unit_type for r in rules_for(s, "C0116", "community")] == ["community_office"]
            assert [r.unit_type for r in rules_for(s, "C0103", "community")] == ["property", "community_office"]
    finally:
        engine.dispose()
