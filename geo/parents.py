"""Which parent area (subdistrict of a community, community of a grid) each feature of a delivered layer belongs to,
by the parent it names (code or name) and by where it lies — and every feature where the two disagree.

A feature lies in the parent holding its representative point. When it names a parent, that parent must be the one
it lies in (``parent_mismatch`` otherwise, naming both and the point in lon/lat); when it names none, it goes to the
one it lies in, and a feature lying in none is ``outside_parents``. All in WGS-84.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np

from geo.errors import Problem

PARENT_MISMATCH = "parent_mismatch"


@dataclass(frozen=True)
class Levels:
    """How the child and parent levels are called in messages and problem kinds."""

    child: str  # "community"
    parent: str  # "subdistrict"
    parents: str  # "subdistricts"


COMMUNITY_IN_SUBDISTRICT = Levels("community", "subdistrict", "subdistricts")
GRID_IN_COMMUNITY = Levels("grid", "community", "communities")


def containing(points: gpd.GeoSeries, areas: gpd.GeoDataFrame) -> list[int | None]:
    """The ``id`` of the first area (in ``areas``' order) containing each point, or None."""
    result: list[int | None] = [None] * len(points)
    if areas.empty or points.empty:
        return result
    pt_idx, area_idx = areas.sindex.query(points.to_numpy(), predicate="within")
    ids = areas["id"].to_numpy()
    for p, a in sorted(zip(pt_idx, area_idx, strict=True), reverse=True):
        result[p] = int(ids[a])
    return result


def describe(code: object, name: object) -> str:
    """``370602001 芝罘区某街道`` — the official code and name as people read them."""
    parts = [str(v) for v in (code, name) if v is not None and str(v) != "nan" and str(v)]
    return " ".join(dict.fromkeys(parts)) or "(no code or name)"


def _keys(parents: gpd.GeoDataFrame) -> tuple[dict[str, int], set[str]]:
    """Lookup of a parent by its code or its name, and the keys several parents share (ambiguous). A code wins over
    a name spelled the same, so a name that looks like another parent's code does not take its place."""
    by_key: dict[str, int] = {}
    ambiguous: set[str] = set()
    for column in ("name", "code"):  # codes last: they replace a name spelled the same
        values = [None if v is None else str(v) for v in parents[column]]
        seen: set[str] = set()
        for pid, value in zip(parents["id"], values, strict=True):
            if value is None:
                continue
            if value in seen:
                ambiguous.add(value)
            elif column == "code":
                ambiguous.discard(value)
            seen.add(value)
            by_key[value] = int(pid)
    return by_key, ambiguous


def link_parents(layer: gpd.GeoDataFrame, parents: gpd.GeoDataFrame, column: str,
                 levels: Levels) -> tuple[list[int | None], list[Problem]]:
    """The parent id of each feature of ``layer`` (columns ``row``, ``column`` — the parent named — and optionally
    ``code`` / ``name``) among ``parents`` (``id``, ``code``, ``name``, geometry), and every problem: unknown or
    ambiguous parent named, ``parent_mismatch``, ``outside_<parents>``. None where there is a problem."""
    points = layer.geometry.representative_point()
    located = containing(points, parents)
    by_key, ambiguous = _keys(parents)
    label = {int(i): describe(c, n) for i, c, n in zip(parents["id"], parents["code"], parents["name"], strict=True)}
    codes = layer["code"] if "code" in layer.columns else [None] * len(layer)
    names = layer["name"] if "name" in layer.columns else [None] * len(layer)
    problems: list[Problem] = []
    result: list[int | None] = []
    for row, given, loc, code, name, pt in zip(layer["row"], layer[column], located, codes, names, points,
                                               strict=True):
        where = f"at {pt.x:.4f}, {pt.y:.4f}" if pt is not None and not pt.is_empty else ""
        me = f"row {int(row)} {levels.child} {describe(code, name)}"
        given = None if given is None or (isinstance(given, float) and np.isnan(given)) else str(given)
        if given is None:
            if loc is None:
                problems.append(Problem(f"outside_{levels.parents}", f"{me} lies in no {levels.parent} and names "
                                        f"none ({where})", int(row), column))
            result.append(loc)
            continue
        if given in ambiguous or given not in by_key:
            why = "several" if given in ambiguous else "no"
            problems.append(Problem(f"unknown_{levels.parent}", f"{me}: {why} {levels.parent} coded or named "
                                    f"{given!r}", int(row), column))
            result.append(None)
        elif loc != by_key[given]:
            lies = label[loc] if loc is not None else f"no {levels.parent}"
            problems.append(Problem(PARENT_MISMATCH, f"{me} names {levels.parent} {given!r} "
                                    f"({label[by_key[given]]}) but lies in {lies} ({where})", int(row), column))
            result.append(None)
        else:
            result.append(by_key[given])
    return result, problems
