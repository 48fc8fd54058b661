"""The register's field limits (pure): one table, applied the same by the API's checks and the CSV import's."""

from __future__ import annotations

import datetime as dt

import pytest

from patrol.core.errors import InvalidInput
from patrol.surveys.residents.fields import FIELD_LIMITS, clean_household, clean_need, clean_resident

TODAY = dt.date(2026, 6, 1)
HOUSEHOLD = {"building_id": 1, "room": "101"}
RESIDENT = {"name": "王芳"}


def _check(name: str, value: object) -> None:
    """Run the check that owns field ``name`` with ``value`` in an otherwise valid record."""
    if name == "detail":
        clean_need({"type": "other", "detail": value})
    elif name in ("room", "head_name", "note", "members") or name == "phone":
        clean_household({**HOUSEHOLD, name: value})
    else:
        clean_resident({**RESIDENT, name: value}, today=TODAY)


@pytest.mark.parametrize("name", [n for n, v in FIELD_LIMITS.items() if isinstance(v, int)])
def test_text_limits_accept_the_limit_and_refuse_one_more(name):
    limit = FIELD_LIMITS[name]

    def text(n: int) -> str:
        return "+" + "1" * (n - 1) if name == "phone" else "x" * n  # a phone is digits after an optional +

    _check(name, text(limit))
    with pytest.raises(InvalidInput) as exc:
        _check(name, text(limit + 1))
    assert f"{name}: at most {limit} characters" in exc.value.details[0]


@pytest.mark.parametrize("name", [n for n, v in FIELD_LIMITS.items() if isinstance(v, tuple)])
def test_number_limits_accept_their_range_and_refuse_outside_it(name):
    lo, hi = FIELD_LIMITS[name]
    hi = TODAY.year if hi is None else hi
    _check(name, lo)
    _check(name, hi)
    for wrong in (lo - 1, hi + 1):
        with pytest.raises(InvalidInput) as exc:
            _check(name, wrong)
        assert exc.value.details[0].startswith(f"{name}: {wrong} is not ") and f"from {lo} to {hi}" in \
            exc.value.details[0]
