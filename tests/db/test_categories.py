"""Loading and replacing the category taxonomy (both databases)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from patrol.cases.categories import default_csv, load_categories, load_categories_file
from patrol.core.errors import ImportFailed
from patrol.core.models import Category

HEADER = "code,name_zh,name_en,kind,major_zh,major_en,level,deadline_hours,severity,revisit_days\n"


def test_shipped_taxonomy_loads(session):
    n = load_categories(session)
    assert n == default_csv().count("\n") - 1
    lamp = session.scalars(select(Category).where(Category.name_zh.like("%路灯%"))).first()
    assert lamp is not None and lamp.deadline_hours > 0 and lamp.level in {"grid", "community", "department"}
    assert session.scalar(select(func.count()).select_from(Category).where(Category.kind == "component")) > 10


def test_replacing_deactivates_missing_and_updates_existing(session, tmp_path):
    load_categories(session)
    f = tmp_path / "city.csv"
    row = "C0101,毁绿种菜,Vegetables planted on public green,event,社区事项,Community,community,40,1,7\n"
    f.write_text(HEADER + row, encoding="utf-8")
    assert load_categories_file(session, f) == 1
    active = session.scalars(select(Category.code).where(Category.active)).all()
    assert active == ["C0101"]
    assert session.get(Category, "C0101").deadline_hours == 40
    assert session.scalar(select(func.count()).select_from(Category)) > 1  # kept, only deactivated


def test_bad_rows_are_all_reported_and_nothing_is_loaded(session, tmp_path):
    f = tmp_path / "bad.csv"
    f.write_text(HEADER + "X1,名,Name,thing,大,Big,street,-2,9,7\nX1,名,Name,event,大,Big,grid,abc,1,7\n",
                 encoding="utf-8")
    with pytest.raises(ImportFailed) as err:
        load_categories_file(session, f)
    text = "\n".join(err.value.details)
    for expected in ("line 2: kind", "line 2: level", "line 2: deadline_hours", "line 2: severity",
                     "line 3: deadline_hours", "line 3: code: duplicate"):
        assert expected in text
    assert session.scalar(select(func.count()).select_from(Category)) == 0


def test_missing_columns_are_named(session, tmp_path):
    f = tmp_path / "short.csv"
    f.write_text("code,name_zh\nA,甲\n", encoding="utf-8")
    with pytest.raises(ImportFailed, match="missing columns name_en"):
        load_categories_file(session, f)
