"""What OGC API Features publishes: a registry of public, non-personal feature collections and how to read them.

What is public follows :mod:`patrol.publication.policy`: the grids carry no worker, the cases no personal field and
no sensitive category.

Each collection is a :class:`CollectionSpec`: its properties (and their JSON types), the properties that can be used
as equality filters, a ``read`` function returning one :class:`~patrol.city.read_models.Page`, and its extent. The
layers are read through :func:`patrol.city.read_models.layer_page`; the cases through
:func:`patrol.cases.service.case_query` and ``case_dict``, keeping only the whitelisted, non-personal fields. Add a
collection with ``REGISTRY.add(spec)``; collections that exist per row of some table (e.g. one per grid plan) with
``REGISTRY.add_provider(fn)``, where ``fn(session)`` yields specs and is called on every request.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from geo.crs import WGS84
from patrol.cases.service import CaseFilter, case_dict, case_query, now_utc
from patrol.city.read_models import Page, layer_page
from patrol.core.auth import SYSTEM
from patrol.core.dialect import bbox_filter
from patrol.core.dialect import extent as table_extent
from patrol.core.errors import NotFound
from patrol.core.frames import read_frame
from patrol.core.models import Building, Case, Community, Grid, GridPlan, GridPlanGrid
from patrol.publication import policy

Interval = tuple[dt.datetime | None, dt.datetime | None]
BBox = tuple[float, float, float, float]


@dataclass(frozen=True)
class ItemQuery:
    """What a client asked for: ``filters`` are equality filters on queryables (values already typed); ``interval``
    is a closed time interval, either end open (None)."""

    bbox: BBox | None = None
    limit: int | None = None
    offset: int = 0
    filters: dict[str, object] = field(default_factory=dict)
    interval: Interval | None = None


@dataclass(frozen=True)
class CollectionSpec:
    id: str
    title: str
    description: str
    properties: dict[str, str]  # property → JSON type: integer, number, string, boolean, date-time
    queryables: tuple[str, ...]  # properties usable as ``?name=value`` filters
    read: Callable[[Session, ItemQuery], Page]
    extent: Callable[[Session], BBox | None]
    temporal: Callable[[Session], Interval | None] | None = None  # set when ``datetime`` filters the items
    keywords: tuple[str, ...] = ()


class Registry:
    """The published collections: fixed ones, then those listed by providers, in the order they were added."""

    def __init__(self) -> None:
        self._fixed: dict[str, CollectionSpec] = {}
        self._providers: list[Callable[[Session], Iterable[CollectionSpec]]] = []

    def add(self, spec: CollectionSpec) -> CollectionSpec:
        if spec.id in self._fixed:
            raise ValueError(f"collection {spec.id!r} registered twice")
        self._fixed[spec.id] = spec
        return spec

    def add_provider(self, provider: Callable[[Session], Iterable[CollectionSpec]]) -> None:
        self._providers.append(provider)

    def all(self, session: Session) -> dict[str, CollectionSpec]:
        out = dict(self._fixed)
        for provider in self._providers:
            for spec in provider(session):
                out.setdefault(spec.id, spec)
        return out

    def get(self, session: Session, collection_id: str) -> CollectionSpec:
        spec = self._fixed.get(collection_id) or self.all(session).get(collection_id)
        if spec is None:
            raise NotFound(f"no collection {collection_id!r}; see /ogc/collections", field="collectionId")
        return spec

    def queryables(self) -> dict[str, str]:
        """Every queryable of the fixed collections with its type (to document the items operation)."""
        return {q: s.properties[q] for s in self._fixed.values() for q in s.queryables}


def feature_page(session: Session, spec: CollectionSpec, query: ItemQuery) -> Page:
    """One page of a collection, with exactly the published properties (integers as ints, missing as None)."""
    page = spec.read(session, query)
    return Page(_published(page.frame, spec.properties), page.total, page.limit, page.offset)


def feature(session: Session, spec: CollectionSpec, feature_id: int) -> gpd.GeoDataFrame:
    """The one feature ``feature_id`` of a collection as a one-row frame; NotFound when it is not there."""
    frame = feature_page(session, spec, ItemQuery(filters={"id": feature_id}, limit=1)).frame
    if frame.empty:
        raise NotFound(f"no feature {feature_id} in collection {spec.id!r}", field="featureId")
    return frame


def _published(frame: gpd.GeoDataFrame, properties: dict[str, str]) -> gpd.GeoDataFrame:
    out = frame[[*properties, frame.geometry.name]].copy()
    for name, kind in properties.items():
        if kind == "integer":  # pandas turns an int column holding None into floats
            out[name] = pd.Series([None if pd.isna(v) else int(v) for v in out[name]], index=out.index, dtype=object)
    return out


# ---------------------------------------------------------------------------------------------- the layers


def _layer(name: str) -> Callable[[Session, ItemQuery], Page]:
    def read(session: Session, q: ItemQuery) -> Page:
        return layer_page(session, name, bbox=q.bbox, limit=q.limit, offset=q.offset, filters=dict(q.filters))

    return read


def _table_extent(geom: InstrumentedAttribute) -> Callable[[Session], BBox | None]:
    return lambda session: table_extent(session, geom)


# ---------------------------------------------------------------------------------------------- the cases

CASE_PROPERTIES = {"id": "integer", "category": "string", "status": "string", "level": "string",
                   "channel": "string", "reported_at": "date-time", "deadline_at": "date-time",
                   "closed_at": "date-time", "grid_id": "integer", "community_id": "integer", "overdue": "boolean"}
_CASE_COLUMNS = {"id": Case.id, "level": Case.level, "channel": Case.channel, "grid_id": Case.grid_id,
                 "community_id": Case.community_id}


def _public_cases() -> ColumnElement[bool]:
    """The cases OGC API Features publishes (every channel, no sensitive category), as a WHERE clause."""
    return Case.category_code.not_in(policy.ogc_excluded_categories())


def _read_cases(session: Session, q: ItemQuery) -> Page:
    """Cases through the case loop's own query (as the system, so every channel), reduced to CASE_PROPERTIES: never
    contact details, reporters, descriptions, addresses or floors; never a sensitive category (the publication
    policy: their point is where a vulnerable resident lives, and a bbox filter on it would be an oracle)."""
    now = now_utc()
    f = dict(q.filters)
    stmt = case_query(session, SYSTEM, CaseFilter(
        bbox=q.bbox, category=f.pop("category", None),
        status=[f.pop("status")] if "status" in f else None, overdue=f.pop("overdue", None)), now=now)
    stmt = stmt.where(*(_CASE_COLUMNS[k] == v for k, v in f.items()),
                      _public_cases())
    if q.interval is not None:
        start, end = q.interval
        if start is not None:
            stmt = stmt.where(Case.reported_at >= start)
        if end is not None:
            stmt = stmt.where(Case.reported_at <= end)
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    if q.limit is not None:
        stmt = stmt.limit(q.limit).offset(q.offset)
    rows = session.execute(stmt).all()
    dicts = [case_dict(case, now=now) for case, _ in rows]
    data = {k: [d[k] for d in dicts] for k in CASE_PROPERTIES}
    wkb = np.array([bytes(w) for _, w in rows], dtype=object)
    return Page(gpd.GeoDataFrame(data, geometry=shapely.from_wkb(wkb), crs=WGS84), int(total), q.limit, q.offset)


def _case_times(session: Session) -> Interval | None:
    first, last = session.execute(select(func.min(Case.reported_at), func.max(Case.reported_at))
                                  .where(_public_cases())).one()
    if first is None:
        return None
    return tuple(t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t.astimezone(dt.UTC) for t in (first, last))


# ---------------------------------------------------------------------------------------------- the registry

REGISTRY = Registry()
REGISTRY.add(CollectionSpec(
    "communities", "Communities 社区", "Community boundaries with their buildings and households.",
    {"id": "integer", "code": "string", "name": "string", "derived": "boolean", "subdistrict_id": "integer",
     "buildings": "integer", "households": "integer", "households_estimated": "boolean"},
    ("code", "name", "subdistrict_id"), _layer("communities"), _table_extent(Community.geom),
    keywords=("community", "社区")))
REGISTRY.add(CollectionSpec(
    "grids", "Grids 网格", "The grids in force: 15-digit code, community, buildings and households (no workers).",
    {"id": "integer", "code": "string", "name": "string", "community_id": "integer", "buildings": "integer",
     "households": "integer", "households_estimated": "boolean"},
    ("code", "community_id"), _layer("grids"), _table_extent(Grid.geom), keywords=("grid", "网格")))
REGISTRY.add(CollectionSpec(
    "buildings", "Buildings 楼栋", "Building footprints with use, levels and households (no residents, no address).",
    {"id": "integer", "name": "string", "use": "string", "levels": "number", "households": "integer",
     "grid_id": "integer", "community_id": "integer"},
    ("use", "grid_id", "community_id"), _layer("buildings"), _table_extent(Building.geom),
    keywords=("building", "楼栋")))
REGISTRY.add(CollectionSpec(
    "cases", "Cases 案件", "Where and when problems were reported, their category and state; no personal data "
    "(no reporter, contact, description or address) and no case of a category about persons (disputes, welfare "
    "visits, homes). datetime filters reported_at.",
    CASE_PROPERTIES, ("category", "status", "level", "channel", "grid_id", "community_id", "overdue"),
    _read_cases, lambda session: table_extent(session, Case.geom, _public_cases()), temporal=_case_times,
    keywords=("case", "案件")))


# ---------------------------------------------------------------------------------------------- grid plans

PLAN_GRID_PROPERTIES = {"id": "integer", "code": "string", "name": "string", "community_id": "integer"}


def _plan_grids(plan_id: int) -> Callable[[Session, ItemQuery], Page]:
    """The grids of one plan (a draft, the plan in force or a past one), as QGIS reads them to compare versions."""

    def read(session: Session, q: ItemQuery) -> Page:
        where = [GridPlanGrid.plan_id == plan_id]
        if q.bbox is not None:
            where.append(bbox_filter(session, GridPlanGrid.id, GridPlanGrid.geom, q.bbox))
        where += [getattr(GridPlanGrid, k) == v for k, v in q.filters.items()]
        total = session.scalar(select(func.count(GridPlanGrid.id)).where(*where)) or 0
        frame = read_frame(session, [GridPlanGrid.id, GridPlanGrid.code, GridPlanGrid.name, GridPlanGrid.community_id],
                           GridPlanGrid.geom, where=where, order_by=[GridPlanGrid.id], limit=q.limit, offset=q.offset)
        return Page(frame, int(total), q.limit, q.offset)

    return read


def _plan_extent(plan_id: int) -> Callable[[Session], BBox | None]:
    def extent(session: Session) -> BBox | None:
        frame = _plan_grids(plan_id)(session, ItemQuery()).frame
        return None if frame.empty else tuple(float(v) for v in frame.total_bounds)

    return extent


def _plan_collections(session: Session) -> Iterable[CollectionSpec]:
    """One collection per grid plan: ``plan-<id>-grids``."""
    for plan in session.scalars(select(GridPlan).order_by(GridPlan.id)):
        yield CollectionSpec(
            f"plan-{plan.id}-grids", f"Grids of plan #{plan.id} ({plan.status}) 网格方案",
            f"The grids of plan #{plan.id} {plan.name or ''} — {plan.status}"
            + (f", effective from {plan.effective_from.isoformat()}" if plan.effective_from else "") + ".",
            PLAN_GRID_PROPERTIES, ("code", "community_id"), _plan_grids(plan.id), _plan_extent(plan.id),
            keywords=("grid plan", "网格方案"))


REGISTRY.add_provider(_plan_collections)
