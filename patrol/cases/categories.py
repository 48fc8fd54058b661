"""The category taxonomy (部件 components and 事件 events): loaded from a CSV, replaceable by the CLI.

The CSV shipped in ``patrol/data/categories.csv`` is modelled on China's national digital urban-management coding
plus the community items of the seeds. Cities differ, so a city replaces it with its own file of the same columns.

Two optional columns say how far a matter goes (a file without them loads as before: no limit, no persuasion step):
``top_level`` the highest level escalation may reach (``community`` for 邻里纠纷 C0115 and 重点人员关怀 C0116:
小事不出网格，大事不出社区 — never the property company or a department; empty: department) and
``persuade_first`` (``yes`` for the street-order matters 占道经营 / 店外经营 / 乱停乱放 / 流动摊贩 E0501–E0504: a grid
worker has no power of enforcement (社区工作者没有执法权, S1), so she persuades (劝导); when that fails the case goes
straight to the department level, 城管 — :mod:`patrol.cases.levels`).
"""

from __future__ import annotations

import csv
import io
from importlib import resources
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from patrol.core.errors import ImportFailed
from patrol.core.models import CATEGORY_KINDS, LEVELS, Category

COLUMNS = ("code", "name_zh", "name_en", "kind", "major_zh", "major_en", "level", "deadline_hours", "severity",
           "revisit_days")
#: optional columns (see the module's docstring)
OPTIONAL = ("top_level", "persuade_first")
YES, NO = ("yes", "true", "1", "是"), ("", "no", "false", "0", "否")


def default_csv() -> str:
    return resources.files("patrol").joinpath("data/categories.csv").read_text(encoding="utf-8")


def parse_categories(text: str, *, source: str = "categories.csv") -> list[dict]:
    """Parse and check a category CSV; raise ImportFailed listing every bad row (line number, column, problem)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise ImportFailed(f"{source}: missing columns {', '.join(missing)}", field="file",
                           details=[f"expected columns: {', '.join(COLUMNS)}"])
    rows, problems, seen = [], [], set()
    for line, raw in enumerate(reader, start=2):
        row, errs = _row(raw)
        if row["code"] in seen:
            errs.append(f"code: duplicate {row['code']!r}")
        seen.add(row["code"])
        problems += [f"line {line}: {e}" for e in errs]
        rows.append(row)
    if problems:
        raise ImportFailed(f"{source}: {len(problems)} problems, nothing loaded", field="file", details=problems)
    if not rows:
        raise ImportFailed(f"{source}: no categories in the file", field="file")
    return rows


def _row(raw: dict) -> tuple[dict, list[str]]:
    errs: list[str] = []
    row: dict = {c: (raw.get(c) or "").strip() for c in COLUMNS + OPTIONAL}
    row["top_level"] = row["top_level"] or None
    if row["top_level"] is not None and row["top_level"] not in LEVELS:
        errs.append(f"top_level: {row['top_level']!r} is not one of {', '.join(LEVELS)} (or empty: department)")
    elif row["top_level"] is not None and row["level"] in LEVELS \
            and LEVELS.index(row["top_level"]) < LEVELS.index(row["level"]):
        errs.append(f"top_level: {row['top_level']} lies below the category's level {row['level']}")
    flag = row["persuade_first"].lower()
    if flag not in YES + NO:
        errs.append(f"persuade_first: {row['persuade_first']!r} is not yes or no")
    row["persuade_first"] = flag in YES
    for c in ("code", "name_zh", "name_en", "major_zh", "major_en"):
        if not row[c]:
            errs.append(f"{c}: empty")
    if row["kind"] not in CATEGORY_KINDS:
        errs.append(f"kind: {row['kind']!r} is not one of {', '.join(CATEGORY_KINDS)}")
    if row["level"] not in LEVELS:
        errs.append(f"level: {row['level']!r} is not one of {', '.join(LEVELS)}")
    for c, cast, ok in (("deadline_hours", float, lambda v: v > 0), ("severity", int, lambda v: 1 <= v <= 3),
                        ("revisit_days", int, lambda v: v >= 0)):
        try:
            row[c] = cast(row[c] or ("7" if c == "revisit_days" else ""))
            if not ok(row[c]):
                errs.append(f"{c}: {row[c]} is out of range")
        except ValueError:
            errs.append(f"{c}: {row[c]!r} is not a number")
    return row, errs


def load_categories(session: Session, text: str | None = None, *, source: str = "categories.csv") -> int:
    """Insert or update every category of the CSV (default: the shipped one); categories not in the file are
    deactivated, not deleted, because cases may refer to them. Returns the number loaded."""
    rows = parse_categories(default_csv() if text is None else text, source=source)
    existing = {c.code: c for c in session.scalars(select(Category))}
    for row in rows:
        cat = existing.pop(row["code"], None) or Category(code=row["code"])
        for k, v in row.items():
            setattr(cat, k, v)
        cat.active = True
        session.add(cat)
    for stale in existing.values():
        stale.active = False
    session.flush()
    return len(rows)


def load_categories_file(session: Session, path: str | Path) -> int:
    path = Path(path)
    if not path.is_file():
        raise ImportFailed(f"no such file: {path}", field="file")
    return load_categories(session, path.read_text(encoding="utf-8"), source=path.name)


def active_categories(session: Session) -> list[Category]:
    """The categories a case may be reported in (``active``), by code."""
    return list(session.scalars(select(Category).where(Category.active).order_by(Category.code)))
