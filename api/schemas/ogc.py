"""Response models of the OGC API Features landing page, conformance and collections (items are GeoJSON).

First written from the answers the API test-suite receives, then named and reviewed. Every field is optional:
a service leaves some out in some answers, and ``response_model_exclude_unset`` keeps an answer's keys as the
service gave them; the base model also keeps any field not named here (see :mod:`api.schemas.base`)."""

from __future__ import annotations

from api.schemas.base import Out


class Spatial(Out):
    bbox: list[list[float]] | None = None
    crs: str | None = None


class Temporal(Out):
    interval: list[list[str]] | None = None
    trs: str | None = None


class Extent(Out):
    spatial: Spatial | None = None
    temporal: Temporal | None = None


class Link(Out):
    rel: str | None = None
    type: str | None = None
    title: str | None = None
    href: str | None = None


class CollectionOut(Out):
    id: str | None = None
    title: str | None = None
    description: str | None = None
    keywords: list[str] | None = None
    itemType: str | None = None
    crs: list[str] | None = None
    storageCrs: str | None = None
    extent: Extent | None = None
    links: list[Link] | None = None


class CollectionsOut(Out):
    links: list[Link] | None = None
    collections: list[CollectionOut] | None = None


class ConformanceOut(Out):
    conformsTo: list[str] | None = None


class LandingOut(Out):
    title: str | None = None
    description: str | None = None
    links: list[Link] | None = None
