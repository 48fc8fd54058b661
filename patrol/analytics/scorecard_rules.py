"""The 考核细则 as data: a YAML file of scored items, weights and grades (the sample and its format:
``patrol/data/assessment.yaml``), read and validated with every problem listed at once.

:func:`load_rules` reads a file (or the sample), :func:`parse_rules` a text; both raise
:class:`patrol.core.errors.InvalidInput` on ``rules`` whose ``details`` list every problem. :func:`Item.points`
turns a figure into points."""

from __future__ import annotations

import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from patrol.core.errors import InvalidInput
from patrol.surveys.yaml_text import read_text

#: measure → (中文, English, kind): ``count`` (per grid) or ``rate``
MEASURES: dict[str, tuple[str, str, str]] = {
    "patrol_days": ("巡查天数", "patrol days", "count"),
    "street_coverage": ("街巷覆盖率", "street coverage", "rate"),
    "visits": ("走访完成率", "visits done ÷ due", "rate"),
    "inspections": ("检查完成率", "inspections done ÷ planned", "rate"),
    "found": ("主动发现数", "cases found on patrol", "count"),
    "on_time": ("按期结案率", "closed on time", "rate"),
    "self_handled_share": ("自行处置率", "handled on the spot ÷ found", "rate"),
    "rework": ("返工率", "rework rate", "rate"),
    "satisfaction": ("满意率", "satisfaction", "rate"),
    "needs_on_time": ("诉求按期答复率", "needs answered on time", "rate"),
}
SCORE_TYPES = ("target", "linear")
UNDEFINED = ("full", "zero")
GRADES = {"excellent": ("优秀", "Excellent"), "pass": ("合格", "Pass"), "fail": ("不合格", "Fail")}


@dataclass(frozen=True)
class Item:
    id: str
    label_zh: str
    label_en: str
    measure: str
    weight: float
    type: str
    target: float | None = None
    prorate: bool = False
    zero: float | None = None
    full: float | None = None
    undefined: str = "full"

    def points(self, value: float | None, share: float = 1.0) -> float:
        """Points for ``value`` (None: undefined); ``share`` is the elapsed part of the month for pro-rated
        targets (1 for a finished month)."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return self.weight if self.undefined == "full" else 0.0
        if self.type == "target":
            assert self.target is not None
            target = self.target * (share if self.prorate else 1.0)
            frac = 1.0 if target <= 0 else value / target
        else:
            assert self.zero is not None and self.full is not None
            frac = (value - self.zero) / (self.full - self.zero)
        return round(self.weight * min(1.0, max(0.0, frac)), 2)

    def to_dict(self) -> dict:
        return {"id": self.id, "label": {"zh": self.label_zh, "en": self.label_en}, "measure": self.measure,
                "weight": self.weight, "type": self.type, "target": self.target, "prorate": self.prorate,
                "zero": self.zero, "full": self.full, "undefined": self.undefined}


@dataclass(frozen=True)
class Rules:
    name_zh: str
    name_en: str
    items: tuple[Item, ...]
    excellent: float
    passing: float
    excellent_top: int | None
    source: str

    @property
    def max_points(self) -> float:
        return sum(i.weight for i in self.items)

    def grade(self, total: float) -> str:
        """``excellent`` (reaches the 优秀 score; whether marked depends on ``excellent_top``), ``pass``, ``fail``."""
        return "excellent" if total >= self.excellent else "pass" if total >= self.passing else "fail"

    def to_dict(self) -> dict:
        return {"name": {"zh": self.name_zh, "en": self.name_en}, "source": self.source,
                "items": [i.to_dict() for i in self.items], "max_points": self.max_points,
                "grades": {"excellent": self.excellent, "pass": self.passing, "excellent_top": self.excellent_top}}


def _number(value: Any, where: str, problems: list[str], *, positive: bool = False) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(float(value)):
        problems.append(f"{where}: a number is needed, got {value!r}")
        return None
    if positive and value <= 0:
        problems.append(f"{where}: must be more than 0, got {value!r}")
        return None
    return float(value)


def _label(raw: Any, where: str, problems: list[str]) -> tuple[str, str]:
    if isinstance(raw, str) and raw.strip():
        return raw.strip(), raw.strip()
    if isinstance(raw, dict) and isinstance(raw.get("zh"), str) and raw["zh"].strip():
        en = raw.get("en")
        return raw["zh"].strip(), (en.strip() if isinstance(en, str) and en.strip() else raw["zh"].strip())
    problems.append(f"{where}: give a label {{zh: …, en: …}}")
    return "", ""


def _score(raw: Any, where: str, problems: list[str]) -> dict:
    if not isinstance(raw, dict):
        problems.append(f"{where}.score: a mapping {{type: target|linear, …}} is needed")
        return {}
    unknown = sorted(set(raw) - {"type", "target", "prorate", "zero", "full", "undefined"})
    if unknown:
        problems.append(f"{where}.score: unknown keys {', '.join(unknown)}")
    kind = raw.get("type")
    out: dict[str, Any] = {"type": kind, "undefined": raw.get("undefined", "full")}
    if out["undefined"] not in UNDEFINED:
        problems.append(f"{where}.score.undefined: one of {', '.join(UNDEFINED)}, got {out['undefined']!r}")
    if kind == "target":
        out["target"] = _number(raw.get("target"), f"{where}.score.target", problems, positive=True)
        prorate = raw.get("prorate", False)
        if not isinstance(prorate, bool):
            problems.append(f"{where}.score.prorate: true or false, got {prorate!r}")
        out["prorate"] = bool(prorate)
    elif kind == "linear":
        out["zero"] = _number(raw.get("zero"), f"{where}.score.zero", problems)
        out["full"] = _number(raw.get("full"), f"{where}.score.full", problems)
        if out["zero"] is not None and out["zero"] == out["full"]:
            problems.append(f"{where}.score: zero and full must differ (both {out['zero']})")
    else:
        problems.append(f"{where}.score.type: one of {', '.join(SCORE_TYPES)}, got {kind!r}")
    return out


def _item(raw: Any, i: int, seen: set[str], problems: list[str]) -> Item | None:
    where = f"items[{i}]"
    if not isinstance(raw, dict):
        problems.append(f"{where}: a mapping with id, label, measure, weight and score is needed")
        return None
    unknown = sorted(set(raw) - {"id", "label", "measure", "weight", "score"})
    if unknown:
        problems.append(f"{where}: unknown keys {', '.join(unknown)}")
    item_id = raw.get("id")
    if not isinstance(item_id, str) or not item_id.strip():
        problems.append(f"{where}.id: a short name is needed")
        item_id = ""
    elif item_id in seen:
        problems.append(f"{where}.id: {item_id!r} is given twice")
    seen.add(str(item_id))
    zh, en = _label(raw.get("label"), f"{where}.label", problems)
    measure = raw.get("measure")
    if measure not in MEASURES:
        problems.append(f"{where}.measure: one of {', '.join(MEASURES)}, got {measure!r}")
    weight = _number(raw.get("weight"), f"{where}.weight", problems, positive=True)
    score = _score(raw.get("score"), where, problems)
    if measure not in MEASURES or weight is None or score.get("type") not in SCORE_TYPES:
        return None
    return Item(id=item_id, label_zh=zh, label_en=en, measure=str(measure), weight=weight, type=score["type"],
                target=score.get("target"), prorate=score.get("prorate", False), zero=score.get("zero"),
                full=score.get("full"), undefined=score["undefined"])


def _grades(raw: Any, total: float | None, problems: list[str]) -> tuple[float, float, int | None]:
    if not isinstance(raw, dict):
        problems.append("grades: a mapping {excellent: …, pass: …, excellent_top: …} is needed")
        return 0.0, 0.0, None
    unknown = sorted(set(raw) - {"excellent", "pass", "excellent_top"})
    if unknown:
        problems.append(f"grades: unknown keys {', '.join(unknown)}")
    exc = _number(raw.get("excellent"), "grades.excellent", problems)
    ok = _number(raw.get("pass"), "grades.pass", problems)
    if exc is not None and ok is not None:
        if ok > exc:
            problems.append(f"grades: pass ({ok}) must not be above excellent ({exc})")
        if total is not None and exc > total:
            problems.append(f"grades.excellent: {exc} is more than the items' weights give ({total})")
    top = raw.get("excellent_top")
    if top is not None and (isinstance(top, bool) or not isinstance(top, int) or top < 1):
        problems.append(f"grades.excellent_top: a whole number ≥ 1 or null, got {top!r}")
        top = None
    return exc or 0.0, ok or 0.0, top


def parse_rules(text: str, source: str = "<text>") -> Rules:
    """The rules in ``text`` (YAML); InvalidInput on ``rules`` listing every problem (``details``)."""
    try:
        raw = read_text(text)
    except InvalidInput as exc:
        raise InvalidInput(f"{source}: {exc.message.replace('checklist definition', 'the 考核细则')}",
                           field="rules") from None
    problems: list[str] = []
    if not isinstance(raw, dict):
        raise InvalidInput(f"{source}: the 考核细则 must be a mapping with name, items and grades", field="rules")
    unknown = sorted(set(raw) - {"version", "name", "items", "grades"})
    if unknown:
        problems.append(f"unknown keys {', '.join(unknown)}")
    if raw.get("version", 1) != 1:
        problems.append(f"version: only 1 is known, got {raw.get('version')!r}")
    zh, en = _label(raw.get("name"), "name", problems)
    items_raw = raw.get("items")
    items: list[Item] = []
    if not isinstance(items_raw, list) or not items_raw:
        problems.append("items: a list of at least one item is needed")
    else:
        seen: set[str] = set()
        items = [it for i, r in enumerate(items_raw) if (it := _item(r, i, seen, problems)) is not None]
    total = sum(i.weight for i in items)
    complete = bool(items) and len(items) == len(items_raw or [])
    if complete and abs(total - 100) > 1e-6:
        problems.append(f"items: the weights must add up to 100, they add up to {total:g}")
    exc, ok, top = _grades(raw.get("grades"), total if complete else None, problems)
    if problems:
        first = f": {problems[0]}" if len(problems) == 1 else ""
        raise InvalidInput(f"{source}: {len(problems)} problem(s) in the 考核细则{first}", field="rules",
                           details=problems)
    return Rules(name_zh=zh, name_en=en, items=tuple(items), excellent=exc, passing=ok, excellent_top=top,
                 source=source)


def sample_text() -> str:
    return resources.files("patrol").joinpath("data/assessment.yaml").read_text(encoding="utf-8")


def load_rules(path: str | Path | None = None) -> Rules:
    """The rules of ``path`` (a YAML file), or the sample shipped when None."""
    if path is None or str(path).strip() == "":
        return parse_rules(sample_text(), "patrol/data/assessment.yaml")
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read the 考核细则 {p}: {exc.__class__.__name__}", field="rules") from None
    return parse_rules(text, str(p))
