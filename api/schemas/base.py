"""The base of every response model, and generic GeoJSON / OGC shapes.

A route's ``response_model`` documents its answer in /docs and checks it on the way out. The services build plain
dicts; :class:`Out` validates them after FastAPI's own JSON encoding (datetimes as ISO 8601 text), keeps any field a
model does not name yet (``extra="allow"``: a response never loses a field clients read), and the routes set
``response_model_exclude_unset=True`` so an answer has exactly the keys the service gave — no ``null`` is added for
an optional field the service left out.
"""

from __future__ import annotations

from typing import Any

from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, ConfigDict, model_validator


class Out(BaseModel):
    model_config = ConfigDict(extra="allow")

    @model_validator(mode="before")
    @classmethod
    def _json_ready(cls, data: Any) -> Any:
        # services return datetimes, dates and tuples; the JSON answer always had them as text and lists
        return jsonable_encoder(data) if isinstance(data, dict) else data


class Geometry(Out):
    type: str
    coordinates: Any = None
    geometries: list[Any] | None = None


class Feature(Out):
    type: str = "Feature"
    id: int | str | None = None
    geometry: Geometry | None = None
    properties: dict[str, Any] | None = None


class Link(Out):
    href: str
    rel: str | None = None
    type: str | None = None
    title: str | None = None


class FeatureCollection(Out):
    """A GeoJSON FeatureCollection (RFC 7946), with OGC API Features' paging members when paged."""

    type: str = "FeatureCollection"
    features: list[Feature]
    numberMatched: int | None = None
    numberReturned: int | None = None
    links: list[Link] | None = None
