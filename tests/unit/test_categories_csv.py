"""Checks of the shipped category taxonomy (patrol/data/categories.csv), read with the csv module only.

The table is modelled on China's national digital urban-management coding (部件 components, 事件 events)
plus the community items grid workers log (C01xx); it is not the official standard, and cities replace it
with their own.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import shared_scope

CSV_PATH = Path(__file__).resolve().parents[2] / "patrol" / "data" / "categories.csv"
COLUMNS = [
    "code", "name_zh", "name_en", "kind", "major_zh", "major_en", "level", "deadline_hours", "severity",
    "revisit_days", "top_level", "persuade_first",
]  # fmt: skip
CODE = re.compile(r"^[BEC]\d{4}$")


@pytest.fixture(scope=shared_scope)
def rows() -> list[dict[str, str]]:
    with CSV_PATH.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == COLUMNS
        return list(reader)


def test_size_is_reasonable(rows: list[dict[str, str]]) -> None:
    assert 50 <= len(rows) <= 80


def test_codes_are_unique_and_well_formed(rows: list[dict[str, str]]) -> None:
    codes = [r["code"] for r in rows]
    assert [c for c, n in Counter(codes).items() if n > 1] == []
    assert [c for c in codes if not CODE.match(c)] == []


def test_enumerated_columns(rows: list[dict[str, str]]) -> None:
    assert {r["kind"] for r in rows} == {"component", "event"}
    assert {r["level"] for r in rows} == {"grid", "community", "department"}
    # B codes are components and E codes events; community items (C) may be either.
    assert {r["kind"] for r in rows if r["code"].startswith("B")} == {"component"}
    assert {r["kind"] for r in rows if r["code"].startswith("E")} == {"event"}


def test_numbers_are_in_range(rows: list[dict[str, str]]) -> None:
    for r in rows:
        assert float(r["deadline_hours"]) > 0, r["code"]
        assert int(r["severity"]) in (1, 2, 3), r["code"]
        assert int(r["revisit_days"]) >= 0, r["code"]


def test_names_are_filled(rows: list[dict[str, str]]) -> None:
    for r in rows:
        for column in ("name_zh", "name_en", "major_zh", "major_en"):
            assert r[column].strip(), (r["code"], column)
        assert re.search(r"[\u4e00-\u9fff]", r["name_zh"]), r["code"]
        assert r["name_en"].isascii(), r["code"]


def test_major_classes_follow_the_national_split(rows: list[dict[str, str]]) -> None:
    component_majors = {r["major_zh"] for r in rows if r["code"].startswith("B")}
    event_majors = {r["major_zh"] for r in rows if r["code"].startswith("E")}
    assert component_majors == {"公用设施", "道路交通", "市容环境", "园林绿化", "房屋土地", "其他设施"}
    assert event_majors == {"市容环境", "宣传广告", "施工管理", "突发事件", "街面秩序", "其他事件"}
    # The class digits of a code name one major class.
    majors_by_prefix: dict[str, set[str]] = {}
    for r in rows:
        majors_by_prefix.setdefault(r["code"][:3], set()).add(r["major_zh"])
    assert all(len(m) == 1 for m in majors_by_prefix.values())


@pytest.mark.parametrize("item", ["毁绿种菜", "电动车", "消防通道", "路灯"])
def test_seed_items_are_present(rows: list[dict[str, str]], item: str) -> None:
    assert any(item in r["name_zh"] for r in rows)


@pytest.mark.parametrize(
    ("name_zh", "hours", "severity"),
    [
        ("暴露垃圾", 4, None),
        ("道路保洁", 2, None),
        ("绿地", 40, None),
        ("私搭乱建", 160, None),
        ("道路积水", 2, 3),
        ("管道破裂", 2, 3),
        ("路灯", 24, None),
    ],
)
def test_known_deadlines(rows: list[dict[str, str]], name_zh: str, hours: int, severity: int | None) -> None:
    (row,) = [r for r in rows if r["name_zh"] == name_zh]
    assert float(row["deadline_hours"]) == hours
    if severity is not None:
        assert int(row["severity"]) == severity


def test_seed_rules_of_escalation(rows: list[dict[str, str]]) -> None:
    """Disputes and care stay with grid and community (小事不出网格，大事不出社区); street-order matters are persuaded
    first (S1: 社区工作者没有执法权); every other row leaves both columns empty."""
    by_code = {r["code"]: r for r in rows}
    assert {c for c, r in by_code.items() if r["top_level"]} == {"C0115", "C0116"}
    assert {by_code[c]["top_level"] for c in ("C0115", "C0116")} == {"community"}
    assert {c for c, r in by_code.items() if r["persuade_first"]} == {"E0501", "E0502", "E0503", "E0504"}
