"""The responsibility table: parsing with every problem reported, and which rule is tried first."""

from __future__ import annotations

import pytest

from patrol.cases.responsibility import Rule, default_csv, parse_rules
from patrol.core.errors import ImportFailed

HEADER = "category,level,unit_type,priority,profile,note_zh\n"


def test_shipped_table_parses_and_covers_every_level_with_a_catch_all():
    rules = parse_rules(default_csv())
    catch_all = {r.level for r in rules if r.category == "*"}
    assert catch_all == {"grid", "community", "department"}


def test_every_bad_row_is_reported_at_once():
    text = HEADER + ("B01*,department,water,1,drive,\n"
                     "B*9,department,water,1,drive,\n"
                     "B0109,street,power,x,car,\n"
                     "B01*,department,water,2,drive,\n"
                     "NOPE,grid,grid_worker,1,walk,\n")
    with pytest.raises(ImportFailed) as e:
        parse_rules(text, categories={"B0109", "B0101"})
    details = "\n".join(e.value.details)
    for expected in ("line 3: category: 'B*9' may only end with *", "line 4: level", "line 4: priority",
                     "line 4: profile", "line 5: duplicate rule", "line 6: category: unknown code 'NOPE'"):
        assert expected in details


def test_specificity_orders_code_then_longer_prefix_then_star():
    code = "B0109"
    rules = [Rule("*", "department", "urban_management", 9, "drive", None),
             Rule("B01*", "department", "water", 1, "drive", None),
             Rule("B0109", "department", "power", 1, "drive", None),
             Rule("B*", "department", "roads", 1, "drive", None),
             Rule("E01*", "department", "sanitation", 1, "drive", None)]
    ranked = sorted((r for r in rules if r.specificity(code) is not None), key=lambda r: -r.specificity(code))
    assert [r.unit_type for r in ranked] == ["power", "water", "roads", "urban_management"]
