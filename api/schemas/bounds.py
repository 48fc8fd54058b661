"""Bounds every request's values keep, checked in one place for every route (an app-wide dependency) before any
route reads them: whole numbers within what an INTEGER column holds on both databases (32-bit signed: ids, and
offsets and limits, which no table comes near), dates within 1900–2200, finite numbers, no NUL characters in text,
query parameters of at most 1,000 characters. Outside them a value answers 422 ``invalid`` naming the parameter (or
the JSON path in the body), where it used to reach the database or the calendar arithmetic and answer 500.

A path or query parameter is checked as a whole number when the route declares it ``int`` (directly or in a query
model), so text that happens to be digits (a phone number searched for, a grid code) is not; a JSON body by its
values (every whole number, every float, and a string only when the whole string is an ISO date or date-time, so
free text that mentions a year passes)."""

from __future__ import annotations

import math
import re
import types
import typing
from collections.abc import Iterator
from typing import Any

from fastapi import Request
from pydantic import BaseModel

from patrol.core.errors import InvalidInput

INT_MIN, INT_MAX = -(2**31), 2**31 - 1
YEAR_MIN, YEAR_MAX = 1900, 2200
MAX_PARAM_CHARS = 1000  # a query parameter's text (names, codes, filters, bbox); request bodies bound their own fields
_INT = re.compile(r"^\s*[+-]?\d+\s*$")
_DATE = re.compile(r"^[+-]?(\d{4,})-\d{1,2}-\d{1,2}(?:[T ][0-9:.,]+(?:Z|[+-][0-9:]+)?)?$", re.IGNORECASE)


def problem(value: Any, whole: bool = False) -> str | None:
    """Why ``value`` (a JSON value, or a parameter's text — a whole number's when ``whole``) is out of bounds, or
    None when it is within them."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return None if INT_MIN <= value <= INT_MAX else f"must be between {INT_MIN} and {INT_MAX}"
    if isinstance(value, float):
        return None if math.isfinite(value) else "must be a finite number"
    if isinstance(value, str):
        if "\x00" in value:  # PostgreSQL's text cannot hold it (a 500 there), and no name or note needs it
            return "must not contain NUL characters"
        if whole and _INT.match(value):
            return problem(int(value))
        date = _DATE.match(value.strip())
        if date and not YEAR_MIN <= int(date.group(1)) <= YEAR_MAX:
            return f"dates must be within the years {YEAR_MIN}–{YEAR_MAX}"
    return None


def _is_int(annotation: Any) -> bool:
    if annotation is int:
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType, typing.Annotated):
        return any(_is_int(a) for a in typing.get_args(annotation))
    return False


def _whole_numbers(route: Any) -> frozenset[str]:
    """The names of the path and query parameters ``route`` declares as whole numbers."""
    names: set[str] = set()
    dependant = getattr(route, "dependant", None)
    params = [*dependant.path_params, *dependant.query_params] if dependant else []
    for param in params:
        annotation = param.field_info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names |= {f.alias or n for n, f in annotation.model_fields.items() if _is_int(f.annotation)}
        elif _is_int(annotation):
            names.add(param.alias)
    return frozenset(names)


def _walk(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _walk(item, f"{path}.{i}" if path else str(i))
    else:
        yield path, value


def _refuse(name: str, reason: str, value: Any) -> InvalidInput:
    shown = value if len(str(value)) <= 40 else f"{str(value)[:40]}…"
    return InvalidInput(f"{name}: {reason} (got {shown})", field=name)


async def check_bounds(request: Request) -> None:
    """The app-wide dependency: 422 on the first path, query or JSON-body value out of bounds."""
    whole = _whole_numbers(request.scope.get("route"))
    for name, text in [*request.path_params.items(), *request.query_params.multi_items()]:
        if len(text) > MAX_PARAM_CHARS:
            raise InvalidInput(f"{name}: at most {MAX_PARAM_CHARS} characters (got {len(text)})", field=name)
        reason = problem(text, whole=name in whole)
        if reason:
            raise _refuse(name, reason, text)
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            body = await request.json()  # FastAPI has read (and parsed) the body already: this is its cache
        except (ValueError, UnicodeDecodeError):
            return  # not JSON: the route's own validation says so
        for name, value in _walk(body, ""):
            reason = problem(value)
            if reason:
                raise _refuse(name or "body", reason, value)
