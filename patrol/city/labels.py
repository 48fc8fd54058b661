"""Buildings' readable labels (``building.label``) in the database: computed by :func:`geo.labels.building_labels`
from what the database holds (name, address, roads, grid or community), for the importers, for grids drawn again and
for databases imported before labels existed (``gridpatrol buildings label``, also run by ``db upgrade``, ``serve``
and ``demo`` when some building has none).

Labels the OSM import made from richer tags (栋/单元) are kept; a fallback label (numbered within a grid) is made
again, since it depends on the grid.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import shapely
from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from geo.labels import KINDS, NO_GROUP, building_labels, label_in
from patrol.city.map_version import bump
from patrol.core.db import transaction
from patrol.core.frames import read_frame
from patrol.core.models import Building, City, Community, Grid, RoadSegment

#: what a building is called when it has no label yet (a database made before labels, before its relabel)
UNLABELLED = {"zh": "未命名楼栋", "en": "Unnamed building"}


@dataclass
class LabelSummary:
    buildings: int
    written: int
    seconds: float
    kinds: dict[str, int] = field(default_factory=dict)

    def lines(self) -> list[str]:
        share = ", ".join(f"{k} {self.kinds.get(k, 0)} ({100 * self.kinds.get(k, 0) / max(self.buildings, 1):.1f} %)"
                          for k in KINDS)
        return [f"building labels 楼栋名称: {self.written} of {self.buildings} written in {self.seconds:.1f} s",
                f"kinds: {share}"]


def display_label(label: str | None, lang: str = "zh") -> str:
    """The label as shown in ``lang``; never empty, never an id."""
    return label_in(label, lang) or UNLABELLED["en" if lang == "en" else "zh"]


def building_display(b: Building) -> str:
    """A loaded building's label as shown (its label, else name, else address; never an id)."""
    return display_label(b.label or b.name or b.address)


def missing_labels(session: Session) -> int:
    """How many buildings have no label."""
    return session.scalar(select(func.count()).select_from(Building).where(Building.label.is_(None))) or 0


def label_if_missing(sessions: sessionmaker[Session]) -> LabelSummary | None:
    """Label the buildings when some have none (a database imported before labels existed); None when all have."""
    with sessions() as session:
        if not missing_labels(session):
            return None
    with transaction(sessions) as session:
        return label_buildings(session)


def label_buildings(session: Session, *, overwrite: bool = False) -> LabelSummary:
    """Label the city's buildings: those without a label and those whose label is the fallback (numbered in their
    grid, which may have changed); every one with ``overwrite``. The caller commits."""
    started = time.perf_counter()
    city = session.scalars(select(City).limit(1)).first()
    frame = _building_frame(session)
    if city is None or frame.empty:
        return LabelSummary(len(frame), 0, time.perf_counter() - started)
    roads = read_frame(session, [RoadSegment.name], RoadSegment.geom, where=[RoadSegment.name.is_not(None)])
    metric = city.metric_epsg
    labels = building_labels(frame.to_crs(metric), roads.to_crs(metric))
    rewrite = (frame["label"].isna() | (labels["kind"] == "fallback")).to_numpy() | overwrite
    values = [{"id": int(i), "label": lab} for i, lab, old, w in
              zip(frame["id"], labels["label"], frame["label"], rewrite, strict=True) if w and lab != old]
    if values:
        session.execute(update(Building), values)
        bump(session)  # the basemap draws the labels
        session.flush()
    return LabelSummary(len(frame), len(values), time.perf_counter() - started,
                        dict(Counter(labels["kind"])))


def _building_frame(session: Session) -> gpd.GeoDataFrame:
    """Every building: id, name, address, label and its group (grid name, else community name, else none)."""
    grid_name = select(Grid.name).where(Grid.id == Building.grid_id).scalar_subquery().label("grid")
    com_name = select(Community.name).where(Community.id == Building.community_id).scalar_subquery().label("com")
    rows = session.execute(select(Building.id, Building.name, Building.address, Building.label, grid_name, com_name,
                                  func.ST_AsBinary(Building.geom)).order_by(Building.id)).all()
    frame = gpd.GeoDataFrame(
        {"id": [r[0] for r in rows], "name": [r[1] for r in rows], "address": [r[2] for r in rows],
         "label": [r[3] for r in rows], "group": [r[4] or r[5] or NO_GROUP for r in rows]},
        geometry=shapely.from_wkb([bytes(r[6]) for r in rows]), crs=4326)
    frame["label"] = frame["label"].astype(object)
    return frame


def label_column() -> ColumnElement[str | None]:
    """The building's label in SQL: its stored label, else its name, else its address (None when it has none)."""
    return func.coalesce(Building.label, Building.name, Building.address)


def labels_of(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    """The display label of each building of ``ids`` (one query)."""
    wanted = sorted({int(i) for i in ids if i is not None})
    if not wanted:
        return {}
    rows = session.execute(select(Building.id, label_column()).where(Building.id.in_(wanted))).all()
    return {int(i): display_label(lab) for i, lab in rows}


def with_building_labels(session: Session, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` (dicts with ``building_id``), each given ``building_label`` next to it (None without a building)."""
    labels = labels_of(session, (r.get("building_id") for r in rows))
    for r in rows:
        r["building_label"] = labels.get(r["building_id"]) if r.get("building_id") is not None else None
    return rows
