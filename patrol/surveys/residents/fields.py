"""The fields of the register and their limits, and the checks of households, residents and needs as they come in.

:data:`FIELD_LIMITS` is the one table of limits: the API, the CSV import and the phone's check-in all check against
it (a shared request schema can take it over as it is).
"""

from __future__ import annotations

import datetime as dt
import re

from patrol.core.errors import InvalidInput
from patrol.core.models import NEED_TYPES

OLDEST_BIRTH_YEAR = 1880
MAX_VISIT_EVERY_DAYS = 366
_PHONE = re.compile(r"^\+?[0-9][0-9 ()\-]{2,38}$")

#: Every limited field of the register: text → the most characters it may hold; a whole number → (lowest,
#: highest), where a highest of None means the current year (a birth year cannot be in the future).
FIELD_LIMITS: dict[str, int | tuple[int, int | None]] = {
    # households
    "room": 40, "head_name": 100, "phone": 40, "note": 4000, "members": (0, 100),
    # residents (their phone is "phone" too; the CSV calls it phone_resident)
    "name": 100, "birth_year": (OLDEST_BIRTH_YEAR, None), "disability": 200, "health": 4000,
    "visit_every_days": (1, MAX_VISIT_EVERY_DAYS),
    # needs
    "detail": 4000,
}


def max_chars(name: str) -> int:
    """The most characters text field ``name`` may hold."""
    limit = FIELD_LIMITS[name]
    assert isinstance(limit, int), name
    return limit


def number_range(name: str, today: dt.date | None = None) -> tuple[int, int]:
    """(lowest, highest) of whole-number field ``name`` on ``today`` (needed for the fields bounded by the year)."""
    limit = FIELD_LIMITS[name]
    assert isinstance(limit, tuple), name
    lo, hi = limit
    if hi is None:
        assert today is not None, name
        return lo, today.year
    return lo, hi


def number_kind(name: str) -> str:
    """What a whole-number field holds, for messages."""
    return "a year" if name == "birth_year" else "a whole number"


def _text(data: dict, name: str, problems: list[str], *, required: bool = False) -> str | None:
    max_len = max_chars(name)
    value = data.get(name)
    if value is None:
        if required:
            problems.append(f"{name}: required")
        return None
    if not isinstance(value, str):
        problems.append(f"{name}: expected text, got {value!r}")
        return None
    value = value.strip()
    if not value:
        if required:
            problems.append(f"{name}: required")
        return None
    if len(value) > max_len:
        problems.append(f"{name}: at most {max_len} characters, got {len(value)}")
    return value


def _phone(data: dict, name: str, problems: list[str]) -> str | None:
    value = _text(data, name, problems)
    if value is not None and not _PHONE.match(value):
        problems.append(f"{name}: {value!r} is not a phone number (digits, spaces, +, -, parentheses)")
    return value


def _int(data: dict, name: str, problems: list[str], *, today: dt.date | None = None) -> int | None:
    lo, hi = number_range(name, today)
    what = number_kind(name)
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        problems.append(f"{name}: {value!r} is not {what} from {lo} to {hi}")
        return None
    return value


def _bool(data: dict, name: str, problems: list[str]) -> bool | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, bool):
        problems.append(f"{name}: expected true or false, got {value!r}")
        return None
    return value


HOUSEHOLD_FIELDS = ("building_id", "room", "head_name", "phone", "members", "note")
RESIDENT_FIELDS = ("name", "phone", "birth_year", "disabled", "disability", "lives_alone", "health",
                   "visit_every_days")


def _unknown(data: dict, allowed: tuple[str, ...], problems: list[str]) -> None:
    for k in data:
        if k not in allowed:
            problems.append(f"{k}: not a field; fields: {', '.join(allowed)}")


def clean_household(data: dict, *, partial: bool = False) -> dict:
    """The household fields of ``data`` checked and stripped (only those given when ``partial``); InvalidInput
    with one detail per problem."""
    problems: list[str] = []
    _unknown(data, HOUSEHOLD_FIELDS, problems)
    out: dict[str, object] = {}
    if "building_id" in data or not partial:
        b = data.get("building_id")
        if isinstance(b, bool) or not isinstance(b, int):
            problems.append(f"building_id: expected a building id, got {b!r}")
        out["building_id"] = b
    if "room" in data or not partial:
        out["room"] = _text(data, "room", problems, required=True)
    for name in ("head_name", "note"):
        if name in data:
            out[name] = _text(data, name, problems)
    if "phone" in data:
        out["phone"] = _phone(data, "phone", problems)
    if "members" in data:
        out["members"] = _int(data, "members", problems)
    raise_problems("household", problems)
    return out


def clean_resident(data: dict, *, today: dt.date, partial: bool = False) -> dict:
    """The resident fields of ``data`` checked and stripped (only those given when ``partial``)."""
    problems: list[str] = []
    _unknown(data, RESIDENT_FIELDS, problems)
    out: dict[str, object] = {}
    if "name" in data or not partial:
        out["name"] = _text(data, "name", problems, required=True)
    if "phone" in data:
        out["phone"] = _phone(data, "phone", problems)
    if "birth_year" in data:
        out["birth_year"] = _int(data, "birth_year", problems, today=today)
    for name in ("disabled", "lives_alone"):
        if name in data:
            value = _bool(data, name, problems)
            out[name] = bool(value)
    if "disability" in data:
        out["disability"] = _text(data, "disability", problems)
    if "health" in data:
        out["health"] = _text(data, "health", problems)
    if "visit_every_days" in data:
        out["visit_every_days"] = _int(data, "visit_every_days", problems, today=today)
    raise_problems("resident", problems)
    return out


def clean_need(data: dict, problems: list[str] | None = None, prefix: str = "") -> dict:
    """A need ``{type, detail}``; a wrong type names the allowed ones."""
    own = problems is None
    problems = [] if problems is None else problems
    kind = data.get("type")
    if kind not in NEED_TYPES:
        problems.append(f"{prefix}type: {kind!r} is not a need type; allowed: {', '.join(NEED_TYPES)}")
    sub: list[str] = []
    detail = _text(data, "detail", sub, required=True)
    problems += [prefix + p for p in sub]
    if own:
        raise_problems("need", problems)
    return {"type": kind, "detail": detail}


def raise_problems(what: str, problems: list[str]) -> None:
    if not problems:
        return
    first = problems[0]
    if len(problems) == 1:
        raise InvalidInput(first, field=first.split(":")[0].split(".")[-1].split("[")[0], details=problems)
    raise InvalidInput(f"the {what} has {len(problems)} problems", field=first.split(":")[0].split("[")[0],
                       details=problems)


