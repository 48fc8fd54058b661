"""GeoJSON serialisation of read models, with paging links in the style of OGC API Features."""

from __future__ import annotations

import json
import math

import geopandas as gpd
from fastapi import Request

from patrol.city.read_models import Page


def _clean(value):
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


def feature_collection(frame: gpd.GeoDataFrame, *, id_column: str = "id") -> dict:
    props = [c for c in frame.columns if c != frame.geometry.name]
    geoms = json.loads(frame.geometry.to_json(drop_id=True))["features"] if len(frame) else []
    features = []
    for (_, row), g in zip(frame[props].iterrows(), geoms, strict=True):
        properties = {c: _clean(row[c]) for c in props}
        features.append({"type": "Feature", "id": properties.get(id_column), "geometry": g["geometry"],
                         "properties": properties})
    return {"type": "FeatureCollection", "features": features}


def page_collection(page: Page, request: Request) -> dict:
    fc = feature_collection(page.frame)
    fc["numberMatched"] = page.total
    fc["numberReturned"] = len(page.frame)
    links = [{"rel": "self", "href": str(request.url), "type": "application/geo+json"}]
    if page.limit is not None and page.offset + len(page.frame) < page.total:
        nxt = request.url.include_query_params(offset=page.offset + page.limit, limit=page.limit)
        links.append({"rel": "next", "href": str(nxt), "type": "application/geo+json"})
    if page.limit is not None and page.offset > 0:
        prev = request.url.include_query_params(offset=max(0, page.offset - page.limit), limit=page.limit)
        links.append({"rel": "prev", "href": str(prev), "type": "application/geo+json"})
    fc["links"] = links
    return fc
