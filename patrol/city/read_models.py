"""Read models of the spatial layers for the API and the maps: GeoDataFrames with the properties users read."""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
from sqlalchemy import Integer, cast, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from patrol.core.dialect import bbox_filter
from patrol.core.errors import InvalidInput
from patrol.core.frames import read_frame
from patrol.core.models import Building, Community, Grid, RoadSegment, Subdistrict, User


@dataclass(frozen=True)
class LayerSpec:
    model: type
    columns: tuple[InstrumentedAttribute, ...]
    counted_by: InstrumentedAttribute | None = None  # building column that points at this layer


LAYERS: dict[str, LayerSpec] = {
    "subdistricts": LayerSpec(Subdistrict, (Subdistrict.id, Subdistrict.code, Subdistrict.name, Subdistrict.derived)),
    "communities": LayerSpec(Community, (Community.id, Community.code, Community.name, Community.derived,
                                         Community.subdistrict_id), Building.community_id),
    "grids": LayerSpec(Grid, (Grid.id, Grid.code, Grid.name, Grid.community_id, Grid.worker_id), Building.grid_id),
    "buildings": LayerSpec(Building, (Building.id, Building.osm_id, Building.name, Building.use, Building.levels,
                                      Building.households, Building.households_estimated, Building.address,
                                      Building.community_id, Building.grid_id)),
    "roads": LayerSpec(RoadSegment, (RoadSegment.id, RoadSegment.osm_id, RoadSegment.name, RoadSegment.highway,
                                     RoadSegment.length_m, RoadSegment.oneway)),
}


@dataclass
class Page:
    frame: gpd.GeoDataFrame
    total: int
    limit: int | None
    offset: int


def parse_bbox(text: str | None) -> tuple[float, float, float, float] | None:
    """``minlon,minlat,maxlon,maxlat`` in WGS-84 degrees, or None when absent."""
    if text is None or text == "":
        return None
    message = "bbox must be four numbers: minlon,minlat,maxlon,maxlat"
    try:
        parts = tuple(float(p) for p in text.split(","))
    except ValueError:
        raise InvalidInput(message, field="bbox") from None
    if len(parts) != 4:
        raise InvalidInput(message, field="bbox")
    minx, miny, maxx, maxy = parts
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise InvalidInput("bbox must satisfy -180 ≤ minlon ≤ maxlon ≤ 180 and -90 ≤ minlat ≤ maxlat ≤ 90",
                           field="bbox")
    return minx, miny, maxx, maxy


def layer_page(session: Session, layer: str, *, bbox: tuple | None = None, limit: int | None = None,
               offset: int = 0, filters: dict[str, int] | None = None, worker_names: bool = False) -> Page:
    """One page of a layer, filtered by bbox and by equality on id columns (e.g. ``{"community_id": 3}``).

    Grids carry their worker (``worker_id`` and the display name ``worker``) only with ``worker_names``: public
    surfaces pass :func:`patrol.publication.policy.worker_names_public`, staff pages True."""
    spec = LAYERS.get(layer)
    if spec is None:
        raise InvalidInput(f"unknown layer {layer!r}; layers: {', '.join(LAYERS)}", field="layer")
    id_col = spec.model.id
    where = [bbox_filter(session, id_col, spec.model.geom, bbox)] if bbox is not None else []
    for name, value in (filters or {}).items():
        if value is not None:
            where.append(getattr(spec.model, name) == value)
    total = session.scalar(select(func.count()).select_from(spec.model).where(*where)) or 0
    frame = read_frame(session, spec.columns, spec.model.geom, where=where, order_by=[id_col], limit=limit,
                       offset=offset)
    if spec.counted_by is not None:
        frame = _with_building_counts(session, frame, spec.counted_by)
    if layer == "grids" and not worker_names:
        frame = frame.drop(columns=["worker_id"])
    elif layer == "grids":
        workers = dict(session.execute(select(User.id, User.display_name)).all())
        frame["worker"] = frame["worker_id"].map(workers)
    return Page(frame, int(total), limit, offset)


def _with_building_counts(session: Session, frame: gpd.GeoDataFrame, key: InstrumentedAttribute) -> gpd.GeoDataFrame:
    ids = frame["id"].tolist()
    rows = session.execute(
        select(key, func.count(Building.id), func.coalesce(func.sum(Building.households), 0),
               func.max(cast(Building.households_estimated, Integer)))
        .where(key.in_(ids)).group_by(key)
    ).all() if ids else []
    counts = {r[0]: (int(r[1]), int(r[2]), bool(r[3])) for r in rows}
    empty = (0, 0, False)
    frame["buildings"] = [counts.get(i, empty)[0] for i in ids]
    frame["households"] = [counts.get(i, empty)[1] for i in ids]
    frame["households_estimated"] = [counts.get(i, empty)[2] for i in ids]
    return frame


def layer(session: Session, name: str, *, worker_names: bool = False, **filters: int) -> gpd.GeoDataFrame:
    """A whole layer (for maps and exports); grids name their workers only with ``worker_names``."""
    return layer_page(session, name, filters=filters, worker_names=worker_names).frame
