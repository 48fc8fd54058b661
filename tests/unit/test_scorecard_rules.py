"""The 考核细则 as data (patrol/analytics/scorecard_rules.py): the sample loads, a bad file lists every problem, and
an item turns figures into points as documented (target pro-rated in the current month, linear both ways,
undefined figures)."""

from __future__ import annotations

import pytest

from patrol.analytics.scorecard_rules import load_rules, parse_rules
from patrol.core.errors import InvalidInput


def test_the_sample_loads_with_weights_adding_up_to_100():
    rules = load_rules()
    assert rules.max_points == 100 and len(rules.items) == 10
    assert (rules.excellent, rules.passing, rules.excellent_top) == (90, 60, 1)
    assert [rules.grade(t) for t in (95, 90, 75, 59.9)] == ["excellent", "excellent", "pass", "fail"]


def test_points_of_an_item():
    rules = parse_rules("""
name: 测试
items:
  - {id: days, label: 天数, measure: patrol_days, weight: 40, score: {type: target, target: 20, prorate: true}}
  - {id: sat, label: 满意, measure: satisfaction, weight: 40, score: {type: linear, zero: 0.8, full: 0.96}}
  - {id: rework, label: 返工, measure: rework, weight: 20, score: {type: linear, zero: 0.3, full: 0.0,
     undefined: zero}}
grades: {excellent: 90, pass: 60, excellent_top: null}
""")
    days, sat, rework = rules.items
    assert days.points(10) == 20 and days.points(25) == 40   # 40 × 10/20; capped at the weight
    assert days.points(10, share=0.5) == 40                   # half the month gone: the target is 10
    assert sat.points(0.88) == 20 and sat.points(0.5) == 0 and sat.points(None) == 40   # undefined: full
    assert rework.points(0.15) == 10 and rework.points(0.0) == 20 and rework.points(None) == 0
    assert rules.excellent_top is None


def test_a_bad_file_lists_every_problem():
    with pytest.raises(InvalidInput) as err:
        parse_rules("""
name: 坏
extra: 1
items:
  - {id: a, label: A, measure: nope, weight: 50, score: {type: linear, zero: 1, full: 1}}
  - {id: a, label: B, measure: found, weight: -1, score: {type: target}}
grades: {excellent: 50, pass: 80, excellent_top: 0}
""")
    problems = err.value.details
    assert err.value.field == "rules" and len(problems) == 8, problems
    for words in ("unknown keys extra", "items[0].measure", "zero and full must differ", "'a' is given twice",
                  "items[1].weight", "items[1].score.target", "pass (80.0) must not be above", "excellent_top"):
        assert any(words in p for p in problems), words
    with pytest.raises(InvalidInput, match="not valid YAML"):
        parse_rules("items: [")
    with pytest.raises(InvalidInput, match="add up to 100"):
        parse_rules("name: x\nitems:\n  - {id: a, label: A, measure: found, weight: 50, "
                    "score: {type: target, target: 5}}\ngrades: {excellent: 40, pass: 20}\n")
