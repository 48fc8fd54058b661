"""What people call a building: its address, its name, the road it stands on with the nearest house number, or its
place in its grid — never a database id.

Pure (geopandas/shapely): the importers and ``gridpatrol buildings label`` pass frames in and store the result in
``building.label``. The rules, first that applies:

1. **address** — house number and street (OSM ``addr:street`` + ``addr:housenumber``), with the 栋 (``building:ref``
   / ``ref``) and 单元 (``addr:unit``) where known: ``Landstrasse 12 3栋 2单元``;
2. **name** — the building's own name (``name``), with its 栋/单元 where known;
3. **near** — the nearest named road within :data:`ROAD_M` and the house number of the nearest addressed building on
   that road within :data:`NUMBER_M`: ``Landstrasse 12号附近`` (English: ``near Landstrasse 12``);
4. **road** — the nearest named road and the building's place along it, where no number is near:
   ``Landstrasse 第3栋`` (English: ``Landstrasse building 3``);
5. **fallback** — its group (grid, else community) and its place in reading order there (rows north → south, west →
   east, rows :data:`ROW_M` deep): ``社区 01 第1网格 第7栋`` (English: ``… building 7``).

Labels are stored in the Chinese form; :func:`label_in` renders one in English.
"""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.crs import metric_crs_for_bounds

KINDS = ("address", "name", "near", "road", "fallback")
#: how far the nearest named road may be for a "near" label (m)
ROAD_M = 150.0
#: how far the nearest addressed building on that road may be (m)
NUMBER_M = 400.0
#: depth of a row in reading order (m)
ROW_M = 40.0
#: the group of buildings in no grid or community
NO_GROUP = "未入网格楼栋"
_NEAR = re.compile(r"^(?P<place>.+?)号附近$")
_FALLBACK = re.compile(r"^(?P<group>.*?) ?第(?P<n>\d+)栋$")
#: a house number: 12, 12a, 3-5, 12/1 (not "1er" of "Boulevard Albert 1er", a street's own name)
_NUMBER = re.compile(r"^\d+[A-Za-z]?(?:[-/]\d+[A-Za-z]?)?$")


def split_address(address: object) -> tuple[str | None, str | None]:
    """``"Landstrasse 12a"`` → ``("Landstrasse", "12a")``; a text without a number is all street; blank → Nones."""
    if not isinstance(address, str) or not address.strip():
        return None, None
    parts = address.strip().rsplit(" ", 1)
    if len(parts) == 2 and _NUMBER.match(parts[1]):
        return parts[0].strip() or None, parts[1]
    if len(parts) == 1 and _NUMBER.match(parts[0]):
        return None, parts[0]
    return address.strip(), None


def _text(value: object) -> str | None:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    s = str(value).strip()
    return s or None


def _texts(values, index: pd.Index) -> pd.Series:
    """Clean texts (None for blank or missing) as an object column: pandas' string dtype would turn None into NaN."""
    return pd.Series([_text(v) for v in values], index=index, dtype=object)


def _suffix(ref: str | None, unit: str | None) -> str:
    parts = []
    if ref:
        parts.append(ref if ref.endswith(("栋", "幢", "号楼")) else f"{ref}栋")
    if unit:
        parts.append(unit if unit.endswith("单元") else f"{unit}单元")
    return (" " + " ".join(parts)) if parts else ""


def building_labels(buildings: gpd.GeoDataFrame, roads: gpd.GeoDataFrame) -> pd.DataFrame:
    """Label every building; returns ``label`` and ``kind`` (one of :data:`KINDS`) with the index of ``buildings``.

    ``buildings`` has a geometry and any of the columns ``street``, ``housenumber`` (else ``address``, split by
    :func:`split_address`), ``unit``, ``ref``, ``name``, ``group`` (grid or community name, for the fallback);
    ``roads`` has ``name`` and a geometry. Both in any CRS (geographic ones are projected to a metric one).
    """
    b = _metric(buildings)
    r = roads.to_crs(b.crs) if roads.crs is not None and b.crs is not None else roads
    n = len(b)
    col = {c: _texts(b[c] if c in b else [None] * n, b.index)
           for c in ("street", "housenumber", "unit", "ref", "name", "group")}
    if "address" in b and "street" not in buildings and "housenumber" not in buildings:
        split = [split_address(a) for a in b["address"]]
        col["street"] = _texts([p[0] for p in split], b.index)
        col["housenumber"] = _texts([p[1] for p in split], b.index)
    points = b.geometry.representative_point()
    label = pd.Series([None] * n, index=b.index, dtype=object)
    kind = pd.Series(["fallback"] * n, index=b.index, dtype=object)
    suffix = [_suffix(f, u) for f, u in zip(col["ref"], col["unit"], strict=True)]
    for i, (st, no, nm, sx) in enumerate(zip(col["street"], col["housenumber"], col["name"], suffix, strict=True)):
        if st and no:
            label.iat[i], kind.iat[i] = f"{st} {no}{sx}", "address"
        elif nm:
            label.iat[i], kind.iat[i] = f"{nm}{sx}", "name"
    todo = label.isna().to_numpy()
    road_name = _nearest_roads(points[todo], r, col["street"]) if todo.any() else pd.Series(dtype=object)
    if len(road_name):
        near = _near_labels(road_name, col["street"], col["housenumber"], points)
        label.loc[near.index], kind.loc[near.index] = near, "near"
        road = _road_labels(road_name[~road_name.index.isin(near.index)], points)
        label.loc[road.index], kind.loc[road.index] = road, "road"
    rest = label.isna().to_numpy()
    if rest.any():
        label.loc[rest] = _fallback_labels(points, col["group"])[rest]
    return pd.DataFrame({"label": label, "kind": kind})


def label_in(label: str | None, lang: str) -> str | None:
    """A stored (Chinese) label in ``lang``: ``X 12号附近`` → ``near X 12``, ``G 第7栋`` → ``G building 7``."""
    if not label or lang != "en":
        return label
    if m := _NEAR.match(label):
        return f"near {m['place']}"
    if m := _FALLBACK.match(label):
        group = "Building" if m["group"] == NO_GROUP else m["group"]
        return f"{group} building {m['n']}" if group != "Building" else f"Building {m['n']} (no grid)"
    return label


def _metric(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    if frame.crs is None or not frame.crs.is_geographic or frame.empty:
        return frame
    return frame.to_crs(metric_crs_for_bounds(tuple(frame.total_bounds)))


def _nearest_roads(todo: gpd.GeoSeries, roads: gpd.GeoDataFrame, street: pd.Series) -> pd.Series:
    """The name of the nearest named road within :data:`ROAD_M` of each point of ``todo`` (her own ``addr:street``
    when she has one), for those that have one."""
    names = _texts(roads["name"] if "name" in roads else [None] * len(roads), roads.index)
    named = roads[names.notna().to_numpy()]
    names = names[names.notna()]
    if named.empty or todo.empty:
        return pd.Series(dtype=object)
    tree = shapely.STRtree(named.geometry.to_numpy())
    pairs = tree.query_nearest(todo.to_numpy(), max_distance=ROAD_M, all_matches=False)
    road_name = pd.Series(names.to_numpy()[pairs[1]], index=todo.index[pairs[0]], dtype=object)
    road_name = road_name[~road_name.index.duplicated()]
    own = street.reindex(todo.index)
    own = own[own.notna()]
    return pd.concat([road_name[~road_name.index.isin(own.index)], own]).astype(object)


def _near_labels(road_name: pd.Series, street: pd.Series, number: pd.Series, points: gpd.GeoSeries) -> pd.Series:
    """"Road 12号附近" for the buildings of ``road_name`` with an addressed building on that road near."""
    own = (street.notna() & number.notna()).to_numpy()
    numbered = pd.DataFrame({"street": [s.casefold() for s in street[own]], "number": number[own],
                             "x": points[own].x, "y": points[own].y})
    out = {}
    for road, idx in road_name.groupby(road_name.map(str.casefold)).groups.items():
        on_road = numbered[numbered["street"] == road]
        if on_road.empty:
            continue
        px, py = points[idx].x.to_numpy()[:, None], points[idx].y.to_numpy()[:, None]
        d = np.hypot(px - on_road["x"].to_numpy()[None, :], py - on_road["y"].to_numpy()[None, :])
        best = d.argmin(axis=1)
        ok = d[np.arange(len(idx)), best] <= NUMBER_M
        for i, b, keep in zip(idx, best, ok, strict=True):
            if keep:
                out[i] = f"{road_name[i]} {on_road['number'].iat[b]}号附近"
    return pd.Series(out, dtype=object)


def _road_labels(road_name: pd.Series, points: gpd.GeoSeries) -> pd.Series:
    """"Road 第N栋": N the building's place along the road (its buildings ordered along their main axis, from the
    west, or the north for a road running north–south)."""
    out = {}
    for _, idx in road_name.groupby(road_name.map(str.casefold)).groups.items():
        xy = np.column_stack([points[idx].x.to_numpy(), points[idx].y.to_numpy()])
        centred = xy - xy.mean(axis=0)
        axis = np.linalg.svd(centred, full_matrices=False)[2][0] if len(idx) > 1 else np.array([1.0, 0.0])
        if axis[0] < -1e-9 or (abs(axis[0]) <= 1e-9 and axis[1] > 0):
            axis = -axis  # from the west (or the north)
        order = np.lexsort((xy[:, 1], xy[:, 0], centred @ axis))
        for n, k in enumerate(order, start=1):
            out[idx[k]] = f"{road_name[idx[k]]} 第{n}栋"
    return pd.Series(out, dtype=object)


def _fallback_labels(points: gpd.GeoSeries, group: pd.Series) -> pd.Series:
    """"<group> 第N栋", N the building's place in reading order within its group (all its buildings counted)."""
    g = group.fillna(NO_GROUP)
    frame = pd.DataFrame({"group": g.to_numpy(), "row": -np.floor(points.y.to_numpy() / ROW_M),
                          "x": points.x.to_numpy(), "pos": np.arange(len(points))}, index=points.index)
    frame = frame.sort_values(["group", "row", "x", "pos"], kind="stable")
    frame["n"] = frame.groupby("group").cumcount() + 1
    return (frame["group"] + " 第" + frame["n"].astype(str) + "栋").reindex(points.index)
