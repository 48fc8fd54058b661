"""Who handles what: the responsibility table (category × level → unit type), loaded from a CSV like categories.

Rules are data, not code (like FixMyStreet's body × category contacts). A rule's ``category`` is a code (``B0109``),
a prefix (``B01*``) or ``*``. For a case of category *c* at level *l* the rules of level *l* that match *c* are tried
from the most specific (the code itself, then longer prefixes, then ``*``), and within one pattern by ``priority``:
the first rule for which some unit of its type covers the case's point decides. A rule of unit type ``none``
ends the list: the rules after it (less specific ones, such as ``* × community → property``) are not tried, so a
dispute between neighbours (C0115) goes to the community's mediation committee (``mediation``) or office and never
to the property company. The shipped table is ``patrol/data/responsibility.csv``; a city replaces it with
``gridpatrol responsibility FILE``.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from patrol.core.errors import ImportFailed
from patrol.core.models import LEVELS, Category, Responsibility

COLUMNS = ("category", "level", "unit_type", "priority", "profile", "note_zh")
PROFILES = ("walk", "drive")
GRID_WORKER = "grid_worker"  # the grid's worker (a user), not a responsible unit
NOBODY = "none"  # no further rule: the ones after it are not tried


@dataclass(frozen=True)
class Rule:
    category: str
    level: str
    unit_type: str
    priority: int
    profile: str
    note_zh: str | None

    def specificity(self, code: str) -> int | None:
        """How specifically this rule names ``code`` (higher wins), or None when it does not match."""
        if self.category == code:
            return 1000
        if self.category == "*":
            return 0
        if self.category.endswith("*") and code.startswith(self.category[:-1]):
            return len(self.category)
        return None

    def label(self) -> str:
        return f"{self.category} × {self.level} → {self.unit_type}"


def default_csv() -> str:
    return resources.files("patrol").joinpath("data/responsibility.csv").read_text(encoding="utf-8")


def parse_rules(text: str, *, source: str = "responsibility.csv", categories: set[str] | None = None) -> list[Rule]:
    """Parse and check a responsibility CSV; raise ImportFailed listing every bad row."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in COLUMNS[:3] if c not in (reader.fieldnames or [])]
    if missing:
        raise ImportFailed(f"{source}: missing columns {', '.join(missing)}", field="file",
                           details=[f"expected columns: {', '.join(COLUMNS)}"])
    rules, problems, seen = [], [], set()
    for line, raw in enumerate(reader, start=2):
        row = {c: (raw.get(c) or "").strip() for c in COLUMNS}
        errs = []
        pattern = row["category"]
        if not pattern:
            errs.append("category: empty (a code, a prefix ending in *, or *)")
        elif "*" in pattern[:-1]:
            errs.append(f"category: {pattern!r} may only end with *")
        elif categories is not None and "*" not in pattern and pattern not in categories:
            errs.append(f"category: unknown code {pattern!r}")
        if row["level"] not in LEVELS:
            errs.append(f"level: {row['level']!r} is not one of {', '.join(LEVELS)}")
        if not row["unit_type"]:
            errs.append("unit_type: empty")
        profile = row["profile"] or "drive"
        if profile not in PROFILES:
            errs.append(f"profile: {profile!r} is not one of {', '.join(PROFILES)}")
        try:
            priority = int(row["priority"] or 1)
        except ValueError:
            errs.append(f"priority: {row['priority']!r} is not a whole number")
            priority = 1
        key = (pattern, row["level"], row["unit_type"])
        if key in seen:
            errs.append(f"duplicate rule {pattern} × {row['level']} → {row['unit_type']}")
        seen.add(key)
        problems += [f"line {line}: {e}" for e in errs]
        rules.append(Rule(pattern, row["level"], row["unit_type"], priority, profile, row["note_zh"] or None))
    if problems:
        raise ImportFailed(f"{source}: {len(problems)} problems, nothing loaded", field="file", details=problems)
    if not rules:
        raise ImportFailed(f"{source}: no rules in the file", field="file")
    return rules


def load_rules(session: Session, text: str | None = None, *, source: str = "responsibility.csv") -> int:
    """Replace the responsibility table with the CSV's rules (default: the shipped table)."""
    codes = set(session.scalars(select(Category.code)))
    rules = parse_rules(default_csv() if text is None else text, source=source, categories=codes or None)
    session.execute(delete(Responsibility))
    session.add_all(Responsibility(category=r.category, level=r.level, unit_type=r.unit_type, priority=r.priority,
                                   profile=r.profile, note_zh=r.note_zh) for r in rules)
    session.flush()
    return len(rules)


def load_rules_file(session: Session, path: str | Path) -> int:
    path = Path(path)
    if not path.is_file():
        raise ImportFailed(f"no such file: {path}", field="file")
    return load_rules(session, path.read_text(encoding="utf-8"), source=path.name)


@lru_cache(maxsize=1)
def _shipped() -> list[Rule]:
    return parse_rules(default_csv())


def all_rules(session: Session) -> list[Rule]:
    """The rules in force: the database's table, or the shipped one while the database holds none."""
    rows = session.scalars(select(Responsibility)).all()
    if not rows:
        return _shipped()
    return [Rule(r.category, r.level, r.unit_type, r.priority, r.profile, r.note_zh) for r in rows]


def rules_for(session: Session, code: str, level: str) -> list[Rule]:
    """The rules that apply to ``code`` at ``level``, in the order they are tried."""
    matching = [(r.specificity(code), r) for r in all_rules(session) if r.level == level]
    ordered = [r for s, r in sorted(((s, r) for s, r in matching if s is not None),
                                    key=lambda sr: (-sr[0], sr[1].priority, sr[1].unit_type))]
    stop = next((i for i, r in enumerate(ordered) if r.unit_type == NOBODY), len(ordered))
    return ordered[:stop]
