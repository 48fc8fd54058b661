"""Codes of subdistricts (街道), communities (社区) and grids (网格) as cities deliver them, checked per level.

Two schemes, declared once per city (``gridpatrol city create --code-scheme``):

``gb`` (the default)
    The national statistical region codes (统计用区划代码): a subdistrict is 9 digits (the district's 6 + 3) or its
    3-digit street part only; a community 12 digits (its subdistrict's 9 + 3) or 3; a grid 15 digits (its
    community's 12 + 3). A longer code must start with its parent's code.
``own``
    The city's own codes: any text up to 20 characters, unique per level.

Codes are kept exactly as given. :func:`grid_stem` gives the part a community's grids share, so that generated grid
codes are that stem + a 3-digit sequence whatever the community's code looks like.
"""

from __future__ import annotations

import re

SCHEMES = ("gb", "own")
LEVELS = ("subdistricts", "communities", "grids")
MAX_LENGTH = 20
#: gb: the digit counts a code of each level may have
GB_DIGITS: dict[str, tuple[int, ...]] = {"subdistricts": (3, 9), "communities": (3, 12), "grids": (15,)}
_SINGULAR = {"subdistricts": "subdistrict", "communities": "community", "grids": "grid"}


def scheme_of(value: str | None) -> str:
    """The scheme a city's ``code_scheme`` column means (a city imported from OSM has none: ``gb``)."""
    return "own" if value == "own" else "gb"


def format_problem(code: str, level: str, scheme: str | None) -> str | None:
    """What is wrong with ``code`` as a code of ``level`` under ``scheme``, or None when it is well formed."""
    if level not in GB_DIGITS:
        raise ValueError(f"unknown level {level!r}; use one of {', '.join(LEVELS)}")
    if scheme_of(scheme) == "own":
        return None if 0 < len(code) <= MAX_LENGTH else f"code must be 1 to {MAX_LENGTH} characters, got {code!r}"
    digits = GB_DIGITS[level]
    if re.fullmatch(r"[0-9]+", code) and len(code) in digits:
        return None
    wanted = " or ".join(str(d) for d in digits)
    return (f"code must be {wanted} digits, got {code!r} (a {_SINGULAR[level]} code by the national region codes; "
            "a city with codes of its own declares them: `gridpatrol city create --code-scheme own`)")


def prefix_problem(code: str, parent_code: str | None, level: str, scheme: str | None, *,
                   district: str | None = None) -> str | None:
    """gb: a long code must start with its parent's long code (``parent_code``: a community's subdistrict's 9 digits,
    or the district + street for a 3-digit one; a grid's :func:`grid_stem`), a 9-digit subdistrict code with the
    city's ``district``. None when it does, for a 3-digit code, or under the ``own`` scheme."""
    if scheme_of(scheme) == "own" or len(code) == 3:
        return None
    if level == "subdistricts":
        parent = district if district and district != "000000" else None
    else:
        parent = parent_code if parent_code and len(parent_code) >= 9 else None
    if parent is None or code.startswith(parent):
        return None
    whose = "the city's district code" if level == "subdistricts" else f"its {_SINGULAR[_parent_level(level)]}'s code"
    return f"{_SINGULAR[level]} code {code} does not start with {whose} {parent}"


def _parent_level(level: str) -> str:
    return LEVELS[LEVELS.index(level) - 1]


def grid_stem(community_code: str, *, street_code: str, district: str, scheme: str | None) -> str:
    """What the codes of a community's grids start with: the 12-digit community code; or for a 3-digit one the
    district + street + community (15-digit grid codes as Beijing's standard has them); under ``own`` the community
    code itself (a grid code is stem + 3 digits, so the stem is at most 17 characters).

    Raises
    ------
    ValueError
        When no grid code of at most 20 characters can be made from the community code.
    """
    if scheme_of(scheme) == "own" or len(community_code) != 3:
        stem = community_code
    else:
        stem = (street_code if len(street_code) == 9 else f"{district}{street_code}") + community_code
    if len(stem) + 3 > MAX_LENGTH:
        raise ValueError(f"community code {community_code!r} is too long to number its grids after it "
                         f"(at most {MAX_LENGTH - 3} characters)")
    return stem


def free_codes(stem: str, taken: set[str]):
    """``stem`` + 001, 002, … skipping the codes in ``taken``."""
    return (f"{stem}{n:03d}" for n in range(1, 1000) if f"{stem}{n:03d}" not in taken)
