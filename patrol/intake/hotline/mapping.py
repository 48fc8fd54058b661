"""The hotline mapping file (YAML): how a 12345 platform's export reads as our work orders, and how our results and
its 回访 file are laid out. Data, not code: a city edits it for its platform's headers. The sample shipped with the
software (``patrol/data/hotline_mapping.yaml``) explains every key in its comment header.

:func:`load_mapping` validates the whole file and reports EVERY problem at once (unknown keys, missing required
columns, unknown category codes, bad time formats, a bad timezone) as one :class:`InvalidInput` whose ``details``
list them; :func:`missing_columns` checks a file's header against it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from patrol.cases.categories import default_csv, parse_categories
from patrol.core.errors import InvalidInput

#: our fields of a work order → the platform's column (the sample's defaults); the first three are required
ORDER_FIELDS: dict[str, str] = {
    "order_no": "工单编号", "received_at": "受理时间", "address": "事发地址", "contact_name": "诉求人",
    "contact_phone": "联系电话", "description": "诉求内容", "category": "诉求分类", "subdistrict": "所属街道",
    "deadline": "办理时限", "urgency": "紧急程度",
}
REQUIRED = ("order_no", "received_at", "address")
#: the 办理结果 file we write back
RESULT_FIELDS: dict[str, str] = {"order_no": "工单编号", "result": "办理结果", "closed_at": "办结时间",
                                 "unit": "办理单位", "photos": "现场照片"}
#: the 回访 file we read
FEEDBACK_FIELDS: dict[str, str] = {"order_no": "工单编号", "satisfaction": "回访结果", "solved": "是否解决",
                                   "at": "回访时间"}
#: 回访结果 → the resident's rating (1–5): 满意 5, 基本满意 4, 不满意 2 (≤ 2 reopens the case: 再接单)
SATISFACTION: dict[str, int] = {"满意": 5, "非常满意": 5, "基本满意": 4, "一般": 3, "不满意": 2, "非常不满意": 1}
LEVELS = ("grid", "community", "department")
DEADLINE_UNITS = ("hours", "days", "working_days")
DEFAULT_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M")
TOP_KEYS = ("timezone", "columns", "formats", "deadline_unit", "categories", "defaults", "results", "feedback")


@dataclass(frozen=True)
class Mapping:
    """A validated mapping. ``columns``: our field → the file's header (absent fields are not read)."""

    columns: dict[str, str]
    timezone: str = "Asia/Shanghai"
    received_formats: tuple[str, ...] = DEFAULT_FORMATS
    deadline_formats: tuple[str, ...] = DEFAULT_FORMATS
    deadline_unit: str = "hours"
    categories: dict[str, str] = field(default_factory=dict)
    default_category: str = "C0115"
    level: str | None = None
    deadline_hours: float | None = None
    results: dict[str, str] = field(default_factory=lambda: dict(RESULT_FIELDS))
    feedback: dict[str, str] = field(default_factory=lambda: dict(FEEDBACK_FIELDS))

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def category_of(self, text: str | None) -> str:
        """Our category code for a 诉求分类 text: the mapped one (exact, then the longest mapped text it contains,
        e.g. ``城市管理-噪音扰民`` → 噪音扰民), else the default."""
        if not text:
            return self.default_category
        text = text.strip()
        if text in self.categories:
            return self.categories[text]
        inside = [k for k in self.categories if k and k in text]
        return self.categories[max(inside, key=len)] if inside else self.default_category


def sample_text() -> str:
    """The sample mapping shipped with the software."""
    return resources.files("patrol").joinpath("data/hotline_mapping.yaml").read_text(encoding="utf-8")


def known_codes() -> set[str]:
    return {row["code"] for row in parse_categories(default_csv())}


def load_mapping(path: str | Path | None = None, *, text: str | None = None,
                 codes: set[str] | None = None) -> Mapping:
    """The mapping in ``path`` (or ``text``; neither: the shipped sample), validated against the category codes
    ``codes`` (default: the shipped categories). Every problem at once: InvalidInput(field="mapping", details=…)."""
    where = str(path) if path is not None else "the mapping"
    if text is None:
        if path is None:
            text = sample_text()
        else:
            try:
                text = Path(path).read_text(encoding="utf-8-sig")
            except OSError as exc:
                raise InvalidInput(f"{where}: cannot read it ({exc.strerror})", field="mapping") from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{where}: not YAML ({str(exc).splitlines()[0]})", field="mapping") from None
    if not isinstance(doc, dict):
        raise InvalidInput(f"{where}: a YAML mapping of keys is expected ({', '.join(TOP_KEYS)})", field="mapping")
    problems: list[str] = []
    mapping = _build(doc, problems, codes if codes is not None else known_codes())
    if problems or mapping is None:
        raise InvalidInput(f"{where}: {len(problems)} problem(s) in the mapping", field="mapping", details=problems)
    return mapping


def _section(doc: dict, key: str, allowed: tuple[str, ...] | None, problems: list[str]) -> dict:
    value = doc.get(key) or {}
    if not isinstance(value, dict):
        problems.append(f"{key}: a mapping of keys is expected, got {type(value).__name__}")
        return {}
    if allowed is not None:
        problems.extend(f"{key}.{k}: unknown key; keys: {', '.join(allowed)}" for k in value if k not in allowed)
    return {k: v for k, v in value.items() if allowed is None or k in allowed}


def _formats(value: Any, key: str, problems: list[str]) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value if isinstance(value, list) else None
    if not items or not all(isinstance(f, str) for f in items):
        problems.append(f"formats.{key}: a strftime format or a list of them, e.g. '%Y-%m-%d %H:%M:%S'")
        return DEFAULT_FORMATS
    for f in items:
        if "%" not in f or re.search(r"%[^aAbBcdfHIjmMpSUwWxXyYzZ%GuV]", f):
            problems.append(f"formats.{key}: {f!r} is not a date format (use %Y %m %d %H %M %S …)")
    return tuple(items)


def _build(doc: dict, problems: list[str], codes: set[str]) -> Mapping | None:
    problems.extend(f"{k}: unknown key; keys: {', '.join(TOP_KEYS)}" for k in doc if k not in TOP_KEYS)
    columns = {k: str(v) for k, v in _section(doc, "columns", tuple(ORDER_FIELDS), problems).items() if v}
    problems.extend(f"columns.{k}: required (the column holding {ORDER_FIELDS[k]})" for k in REQUIRED
                    if k not in columns)
    tz = str(doc.get("timezone") or "Asia/Shanghai")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(f"timezone: unknown time zone {tz!r} (e.g. Asia/Shanghai)")
    fmts = _section(doc, "formats", ("received_at", "deadline"), problems)
    received = _formats(fmts["received_at"], "received_at", problems) if "received_at" in fmts else DEFAULT_FORMATS
    deadline = _formats(fmts["deadline"], "deadline", problems) if "deadline" in fmts else DEFAULT_FORMATS
    unit = str(doc.get("deadline_unit") or "hours")
    if unit not in DEADLINE_UNITS:
        problems.append(f"deadline_unit: {unit!r}; one of {', '.join(DEADLINE_UNITS)}")
    cats = _section(doc, "categories", ("default", "map"), problems)
    default = str(cats.get("default") or "C0115")
    if default not in codes:
        problems.append(f"categories.default: unknown category code {default!r}")
    cmap = cats.get("map") or {}
    if not isinstance(cmap, dict):
        problems.append("categories.map: a mapping 诉求分类 text → category code is expected")
        cmap = {}
    cmap = {str(k).strip(): str(v) for k, v in cmap.items()}
    problems.extend(f"categories.map.{k}: unknown category code {v!r}" for k, v in cmap.items() if v not in codes)
    defaults = _section(doc, "defaults", ("level", "deadline_hours"), problems)
    level = defaults.get("level")
    if level is not None and level not in LEVELS:
        problems.append(f"defaults.level: {level!r}; one of {', '.join(LEVELS)}")
    hours = defaults.get("deadline_hours")
    if hours is not None and (isinstance(hours, bool) or not isinstance(hours, int | float) or hours <= 0):
        problems.append(f"defaults.deadline_hours: a positive number of hours, got {hours!r}")
        hours = None
    results = {**RESULT_FIELDS, **_section(doc, "results", tuple(RESULT_FIELDS), problems)}
    feedback = {**FEEDBACK_FIELDS, **_section(doc, "feedback", tuple(FEEDBACK_FIELDS), problems)}
    if problems:
        return None
    return Mapping(columns, tz, received, deadline, unit, cmap, default, level,
                   float(hours) if hours is not None else None,
                   {k: str(v) for k, v in results.items()}, {k: str(v) for k, v in feedback.items()})


def missing_columns(mapping: Mapping, header: list[str]) -> list[str]:
    """The mapped columns the file's header lacks: the required ones are problems; the optional ones too, since a
    mapping naming a column the file does not have is a mapping for another platform."""
    have = {h.strip() for h in header}
    return [f"column {col!r} ({name}) is not in the file; its columns: {', '.join(header)}"
            for name, col in mapping.columns.items() if col not in have]


_AMOUNT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(个工作日|工作日|小时|天|日|h|hours?|d|days?)?\s*$", re.IGNORECASE)


def parse_time(text: str, formats: tuple[str, ...], zone: ZoneInfo) -> dt.datetime | None:
    """A local time in one of ``formats`` (or ISO 8601) → aware UTC; None when it is none of them."""
    text = text.strip()
    for f in formats:
        try:
            return dt.datetime.strptime(text, f).replace(tzinfo=zone).astimezone(dt.UTC)
        except ValueError:
            continue
    try:
        t = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return (t if t.tzinfo else t.replace(tzinfo=zone)).astimezone(dt.UTC)


def parse_deadline(text: str, mapping: Mapping, received: dt.datetime,
                   add_working_hours: Any = None) -> dt.datetime | None:
    """办理时限: a time (in the deadline formats), or an amount — ``72`` (in ``deadline_unit``), ``72小时``, ``3天``,
    ``5个工作日`` — counted from 受理时间 (days: calendar days; working days: 8 working hours each on the city's
    working calendar, ``add_working_hours(start, hours)``). None when it is neither."""
    m = _AMOUNT.match(text)
    if m is None:
        return parse_time(text, mapping.deadline_formats, mapping.zone)
    amount, word = float(m.group(1)), (m.group(2) or "").lower()
    unit = {"小时": "hours", "h": "hours", "hour": "hours", "hours": "hours", "天": "days", "日": "days",
            "d": "days", "day": "days", "days": "days", "工作日": "working_days",
            "个工作日": "working_days"}.get(word, mapping.deadline_unit)
    if unit == "hours":
        return received + dt.timedelta(hours=amount)
    if unit == "days":
        return received + dt.timedelta(days=amount)
    if add_working_hours is None:
        return received + dt.timedelta(days=amount)
    result: dt.datetime = add_working_hours(received, amount * 8)
    return result
