"""The city's lists for 研判 and 议事, as data: the 诉求清单 (demand lists) a 研判 sorts a case into, and the
kinds of 议事 meeting.

``patrol/data/demand_lists.csv`` (code, name_zh, name_en, categories) holds the seed's five lists
(春光山色's 五类诉求清单: 党建, 民政, 安全生产, 环境卫生, 物业管理) and 其他. ``categories`` are
category-code prefixes separated by spaces (``E04``: every 突发事件; ``C0105``: one category). The
list a 研判 suggests for a case is the one with the longest prefix of its category code, else
``other`` (which every file must have).

``patrol/data/meeting_kinds.csv`` (code, name_zh, name_en) holds the kinds of meeting the seeds
name: 问需会, 流动民主日, 网格协商议事会, 居民议事会, 民主议事会, 小马扎议事会 and the 三会
(听证会, 协调会, 评议会).

A city replaces either with a file of the same columns named by the settings
``demand_lists_file`` / ``meeting_kinds_file`` (``GRIDPATROL_DEMAND_LISTS_FILE`` …);
``gridpatrol meetings lists`` shows what is in force and ``gridpatrol meetings lists --check FILE``
checks a file (every bad row reported at once, like ``categories load``).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from patrol.core.errors import ImportFailed
from patrol.core.settings import Settings

#: the demand list a case falls into when no prefix matches
FALLBACK = "other"
_CODE = re.compile(r"^[a-z][a-z0-9_]{0,19}$")
_PREFIX = re.compile(r"^[A-Z][0-9A-Z]{0,9}$")


@dataclass(frozen=True)
class Entry:
    code: str
    name_zh: str
    name_en: str
    prefixes: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {"code": self.code, "zh": self.name_zh, "en": self.name_en, "categories": list(self.prefixes)}


def _rows(text: str, source: str, columns: tuple[str, ...]) -> tuple[list[tuple[int, dict[str, str]]], list[str]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in columns if c not in (reader.fieldnames or [])]
    if missing:
        raise ImportFailed(f"{source}: missing columns {', '.join(missing)}", field="file",
                           details=[f"expected columns: {', '.join(columns)}"])
    rows, problems, seen = [], [], set()
    for line, raw in enumerate(reader, start=2):
        row = {c: (raw.get(c) or "").strip() for c in columns}
        if not _CODE.match(row["code"]):
            problems.append(f"line {line}: code: {row['code']!r} is not a lower-case key of at most 20 letters, "
                            "digits and _")
        elif row["code"] in seen:
            problems.append(f"line {line}: code: duplicate {row['code']!r}")
        seen.add(row["code"])
        for c in ("name_zh", "name_en"):
            if not row[c]:
                problems.append(f"line {line}: {c}: empty")
        rows.append((line, row))
    if not rows:
        problems.append("no rows in the file")
    return rows, problems


def parse_demand_lists(text: str, *, source: str = "demand_lists.csv") -> tuple[Entry, ...]:
    """Parse and check a 诉求清单 CSV; ImportFailed lists every bad row (a prefix in two lists, no ``other`` …)."""
    rows, problems = _rows(text, source, ("code", "name_zh", "name_en", "categories"))
    owner: dict[str, str] = {}
    out = []
    for line, row in rows:
        prefixes = tuple(p for p in re.split(r"[\s;,]+", row["categories"]) if p)
        for p in prefixes:
            if not _PREFIX.match(p):
                problems.append(f"line {line}: categories: {p!r} is not a category code or prefix (e.g. E04, C0105)")
            elif p in owner:
                problems.append(f"line {line}: categories: {p} is already in the list {owner[p]!r}")
            owner.setdefault(p, row["code"])
        out.append(Entry(row["code"], row["name_zh"], row["name_en"], prefixes))
    if rows and FALLBACK not in {e.code for e in out}:
        problems.append(f"no list coded {FALLBACK!r} (where a case goes when no prefix matches)")
    if problems:
        raise ImportFailed(f"{source}: {len(problems)} problems", field="file", details=problems)
    return tuple(out)


def parse_meeting_kinds(text: str, *, source: str = "meeting_kinds.csv") -> tuple[Entry, ...]:
    """Parse and check a CSV of meeting kinds (code, name_zh, name_en)."""
    rows, problems = _rows(text, source, ("code", "name_zh", "name_en"))
    if problems:
        raise ImportFailed(f"{source}: {len(problems)} problems", field="file", details=problems)
    return tuple(Entry(r["code"], r["name_zh"], r["name_en"]) for _, r in rows)


@lru_cache(maxsize=16)
def _read(path: str | None, shipped: str, kind: str) -> tuple[Entry, ...]:
    if path:
        p = Path(path)
        if not p.is_file():
            raise ImportFailed(f"no such file: {p} (setting {kind}_file)", field="file")
        text, source = p.read_text(encoding="utf-8"), p.name
    else:
        text, source = resources.files("patrol").joinpath(f"data/{shipped}").read_text(encoding="utf-8"), shipped
    return parse_demand_lists(text, source=source) if kind == "demand_lists" else \
        parse_meeting_kinds(text, source=source)


def demand_lists(settings: Settings) -> tuple[Entry, ...]:
    """The 诉求清单 in force (the settings' file, else the shipped one)."""
    return _read(settings.demand_lists_file, "demand_lists.csv", "demand_lists")


def meeting_kinds(settings: Settings) -> tuple[Entry, ...]:
    """The kinds of 议事 meeting in force."""
    return _read(settings.meeting_kinds_file, "meeting_kinds.csv", "meeting_kinds")


def suggest(entries: tuple[Entry, ...], category: str) -> str:
    """The demand list of a case of ``category``: the list with the longest prefix of the code, else ``other``."""
    best, length = FALLBACK, 0
    for e in entries:
        for p in e.prefixes:
            if category.startswith(p) and len(p) > length:
                best, length = e.code, len(p)
    return best


def name_of(entries: tuple[Entry, ...], code: str | None, lang: str = "zh") -> str | None:
    """An entry's name in ``lang`` (the code itself when the list no longer has it)."""
    if code is None:
        return None
    e = next((e for e in entries if e.code == code), None)
    return code if e is None else e.name_zh if lang == "zh" else e.name_en
