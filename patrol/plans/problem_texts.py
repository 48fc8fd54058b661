"""A plan's validation problems as a planner reads them, in Chinese (the default) or English.

:func:`geo.grids.check.check_grids` words its findings for the command line, with places in the city's projected
metres (``at (358231.4, 4833127.9)``) — useless on a map page. Here each finding is said again from its kind, its
figures (read back from the check's message) and its feature: grids by name (and code), the place as longitude and
latitude (WGS-84, 5 decimals ≈ 1 m), never projected metres. The check's own message stays in the answer as
``detail`` for programs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_NUMBER = r"-?\d+(?:\.\d+)?"

#: kind → (zh, en) templates; {grid}, {grids}: the feature's grid(s) by name; {place}: lon/lat; numbers from
#: :data:`_FIGURES`
TEMPLATES: Mapping[str, tuple[str, str]] = {
    "gap": ("{area} 平方米的社区范围不属于任何网格（{place}）",
            "{area} m² of the community is in no grid ({place})"),
    "overlap": ("{grids} 重叠 {area} 平方米（{place}）", "{grids} overlap by {area} m² ({place})"),
    "building_in_no_grid": ("有一栋楼不属于任何网格（{place}）", "A building is in no grid ({place})"),
    "building_in_several_grids": ("有一栋楼同时属于 {n} 个网格（{place}）",
                                  "A building is in {n} grids at once ({place})"),
    "grid_outside_community": ("{grid}有 {area} 平方米超出所在社区（{place}）",
                               "{grid} reaches {area} m² beyond its community ({place})"),
    "sliver": ("{grid}有一块 {area} 平方米的狭长碎片，窄于 {width} 米（{place}）",
               "{grid} has a sliver of {area} m², thinner than {width} m ({place})"),
    "building_cut": ("网格边界切过一栋楼：{area} 平方米的楼面在网格外（{place}）",
                     "A grid boundary cuts a building: {area} m² of its footprint is outside the grid ({place})"),
    "households_out_of_range": ("{grid}有 {households} 户，不在 {low}–{high} 户的范围内",
                                "{grid} has {households} households, outside {low}–{high}"),
    "multipart_grid": ("{grid}分成了 {n} 块不相连的部分（{place}）", "{grid} has {n} separate parts ({place})"),
    "duplicate_code": ("网格编码重复或缺失：{grids}", "Grid code missing or used twice: {grids}"),
    "invalid_geometry": ("{grid}的图形无效（自相交或不闭合）", "{grid} has an invalid shape (self-crossing or open)"),
}

#: kind → the figures its check message holds, in order (numbers only, places excluded)
_FIGURES: Mapping[str, tuple[str, ...]] = {
    "gap": ("area",), "overlap": ("area",), "grid_outside_community": ("area",),
    "sliver": ("area", "width"), "building_cut": ("area",), "households_out_of_range": ("households", "low", "high"),
    "multipart_grid": ("n",), "building_in_several_grids": ("n",),
}
_PLACE = re.compile(rf"\(({_NUMBER}), ({_NUMBER})\)")


def figures(kind: str, message: str) -> dict[str, str]:
    """The figures of a check message (its projected places removed first), by name."""
    names = _FIGURES.get(kind, ())
    found = re.findall(rf"(?<![\w'.]){_NUMBER}", _PLACE.sub("", re.sub(r"'[^']*'", "", message)))
    if kind == "households_out_of_range":
        found = re.findall(_NUMBER, message.split("; grid at")[0])
    return {name: value for name, value in zip(names, found, strict=False)}


def place(lon: float | None, lat: float | None, lang: str) -> str:
    """A place as people can look it up: longitude and latitude (5 decimals), or 'no place'."""
    if lon is None or lat is None:
        return "位置不详" if lang == "zh" else "place unknown"
    if lang == "zh":
        return f"经度 {lon:.5f}，纬度 {lat:.5f}"
    return f"lon {lon:.5f}, lat {lat:.5f}"


def grid_label(code: Any, names: Mapping[str, str], lang: str) -> str:
    """A grid by its name (its code when it has none)."""
    code = str(code)
    name = names.get(code)
    if lang == "zh":
        return f"网格「{name}」" if name else f"网格 {code}"
    return f"grid “{name}”" if name else f"grid {code}"


def describe(kind: str, message: str, feature: Any, lon: float | None, lat: float | None,
             names: Mapping[str, str], lang: str) -> str:
    """One validation problem in ``lang`` ('zh' or 'en'): its grids by name, its place in lon/lat."""
    zh, en = TEMPLATES.get(kind, ("", ""))
    template = zh if lang == "zh" else en
    codes = [str(c) for c in feature] if isinstance(feature, list | tuple) else [str(feature)]
    grids = [grid_label(c, names, lang) for c in codes if c in names or c.isdigit()]
    joiner = "和" if lang == "zh" else " and "
    values = {"grid": grids[0] if grids else ("网格" if lang == "zh" else "a grid"),
              "grids": joiner.join(grids) if grids else ("网格" if lang == "zh" else "grids"),
              "place": place(lon, lat, lang), **{k: _tidy(v) for k, v in figures(kind, message).items()}}
    if not template:
        return (f"{kind}（{values['place']}）" if lang == "zh" else f"{kind} ({values['place']})")
    try:
        return template.format(**values)
    except KeyError:
        return f"{values['grid']}（{values['place']}）" if lang == "zh" else f"{values['grid']} ({values['place']})"


def _tidy(number: str) -> str:
    """1234.0 → 1234, 222342.8 → 222343 (whole numbers from 100 up); 12.5 stays."""
    if abs(float(number)) >= 100:
        return str(round(float(number)))
    return number[:-2] if number.endswith(".0") else number


KIND_LABELS: Mapping[str, Mapping[str, str]] = {
    "zh": {"gap": "缝隙", "overlap": "重叠", "building_in_no_grid": "楼栋无网格", "building_in_several_grids":
           "楼栋跨网格", "grid_outside_community": "超出社区", "sliver": "狭长碎片", "building_cut": "切割楼栋",
           "households_out_of_range": "户数超范围", "multipart_grid": "网格不连通", "duplicate_code": "编码重复",
           "invalid_geometry": "图形无效"},
    "en": {"gap": "Gap", "overlap": "Overlap", "building_in_no_grid": "Building in no grid",
           "building_in_several_grids": "Building in several grids", "grid_outside_community": "Outside community",
           "sliver": "Sliver", "building_cut": "Building cut", "households_out_of_range": "Households out of range",
           "multipart_grid": "Multipart grid", "duplicate_code": "Duplicate code",
           "invalid_geometry": "Invalid shape"},
}


def kind_label(kind: str, lang: str) -> str:
    return KIND_LABELS["zh" if lang == "zh" else "en"].get(kind, kind)
