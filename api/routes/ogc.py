"""OGC API – Features – Part 1 (Core, GeoJSON, OpenAPI 3.0) at /ogc, so QGIS and GDAL read our layers directly.

Public, read-only, JSON only (``f=json``; any ``Accept``). The collections are those of
:data:`patrol.publication.ogc.REGISTRY` (communities, grids, buildings, cases — none with personal data). Invalid
parameters answer 400 in our error shape, naming the parameter; an unknown collection or feature 404.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.deps import ReadSessionDep, SettingsDep
from api.geojson import feature_collection, page_collection
from api.schemas.base import Feature, FeatureCollection
from api.schemas.ogc import CollectionOut, CollectionsOut, ConformanceOut, LandingOut
from patrol.city.read_models import parse_bbox
from patrol.core.errors import GridPatrolError, NotFound
from patrol.publication.ogc import REGISTRY, CollectionSpec, ItemQuery, feature, feature_page

router = APIRouter(prefix="/ogc", tags=["ogc"])

JSON = "application/json"
GEOJSON = "application/geo+json"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]
DEFAULT_LIMIT = 100
ITEM_PARAMS = ("f", "bbox", "limit", "offset", "datetime")


class BadParameter(GridPatrolError):
    """An invalid query parameter: OGC API Features answers 400 (not our usual 422)."""

    status_code = 400
    code = "invalid"


def _json(body: Any, media_type: str = JSON) -> JSONResponse:
    return JSONResponse(body, media_type=media_type)


def _url(request: Request, path: str = "") -> str:
    return str(request.base_url).rstrip("/") + "/ogc" + path


def _check_format(request: Request) -> None:
    f = request.query_params.get("f")
    if f is not None and f not in ("json", "geojson"):
        raise BadParameter(f"f={f!r} is not offered; use f=json", field="f")


def _timestamp() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


# ---------------------------------------------------------------------------------------------- parameters


def _int(request: Request, name: str, default: int, minimum: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadParameter(f"{name} must be a whole number, not {raw!r}", field=name) from None
    if value < minimum:
        raise BadParameter(f"{name} must be at least {minimum}", field=name)
    return value


def _bbox(raw: str | None) -> tuple[float, float, float, float] | None:
    if raw is not None and raw.count(",") == 5:  # a 3D box: minx,miny,minz,maxx,maxy,maxz
        p = raw.split(",")
        raw = ",".join((p[0], p[1], p[3], p[4]))
    try:
        return parse_bbox(raw)
    except GridPatrolError as exc:
        raise BadParameter(exc.message, field="bbox") from None


def _instant(text: str, *, end: bool = False) -> dt.datetime | None:
    """An RFC 3339 date-time (naive means UTC), or None for an open end. A bare date (GDAL sends ``2024-05-01T``)
    stands for the whole day: its start, or with ``end`` its last microsecond."""
    text = text.strip()
    if text in ("", ".."):
        return None
    text = text.removesuffix("T")
    try:
        if len(text) == 10:
            day = dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), tzinfo=dt.UTC)
            return day + dt.timedelta(days=1, microseconds=-1) if end else day
        t = dt.datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise BadParameter(f"datetime: {text!r} is not an RFC 3339 date-time (e.g. 2024-05-01T08:00:00Z), "
                           "nor '..'", field="datetime") from None
    return t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t


def _interval(raw: str | None) -> tuple[dt.datetime | None, dt.datetime | None] | None:
    """``datetime``: an instant (a bare date: that whole day), or an interval ``a/b`` with ``..`` or nothing for an
    open end; both ends included."""
    if raw is None or raw == "":
        return None
    parts = raw.split("/")
    if len(parts) == 1:
        if parts[0].strip() == "..":
            raise BadParameter("datetime: '..' is only allowed as one end of an interval a/b", field="datetime")
        return _instant(parts[0]), _instant(parts[0], end=True)
    if len(parts) != 2:
        raise BadParameter("datetime must be an instant or an interval start/end", field="datetime")
    start, end = _instant(parts[0]), _instant(parts[1], end=True)
    if start is not None and end is not None and start > end:
        raise BadParameter("datetime: the interval ends before it starts", field="datetime")
    return (start, end) if (start, end) != (None, None) else None


def _filter_value(name: str, kind: str, raw: str) -> object:
    if kind == "integer":
        try:
            return int(raw)
        except ValueError:
            raise BadParameter(f"{name} must be a whole number, not {raw!r}", field=name) from None
    if kind == "boolean":  # GDAL sends 1 / 0
        if raw.lower() not in ("true", "false", "1", "0"):
            raise BadParameter(f"{name} must be true or false", field=name)
        return raw.lower() in ("true", "1")
    return raw


def _item_query(request: Request, spec: CollectionSpec, page_size_max: int) -> ItemQuery:
    params = request.query_params
    for name in params:
        if name not in ITEM_PARAMS and name not in spec.queryables:
            raise BadParameter(f"unknown parameter {name!r}; this collection takes {', '.join(ITEM_PARAMS)} and the "
                               f"property filters {', '.join(spec.queryables)}", field=name)
    for name in params:
        if len(params.getlist(name)) > 1:
            raise BadParameter(f"{name} given more than once", field=name)
    limit = min(_int(request, "limit", DEFAULT_LIMIT, 1), page_size_max)
    offset = _int(request, "offset", 0, 0)
    filters = {q: _filter_value(q, spec.properties[q], params[q]) for q in spec.queryables if q in params}
    interval = _interval(params.get("datetime"))
    return ItemQuery(bbox=_bbox(params.get("bbox")), limit=limit, offset=offset, filters=filters,
                     interval=interval if spec.temporal is not None else None)


# ---------------------------------------------------------------------------------------------- documents


def _iso(t: dt.datetime | None) -> str | None:
    return t.isoformat().replace("+00:00", "Z") if t is not None else None


def _collection(request: Request, session, spec: CollectionSpec) -> dict:
    base = _url(request, f"/collections/{spec.id}")
    box = spec.extent(session)
    extent: dict = {"spatial": {"bbox": [list(box)] if box else [[-180.0, -90.0, 180.0, 90.0]], "crs": CRS84}}
    if spec.temporal is not None:
        times = spec.temporal(session)
        interval = [_iso(t) for t in times] if times else [None, None]
        extent["temporal"] = {"interval": [interval], "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"}
    return {
        "id": spec.id, "title": spec.title, "description": spec.description, "keywords": list(spec.keywords),
        "itemType": "feature", "crs": [CRS84], "storageCrs": CRS84, "extent": extent,
        "links": [
            {"rel": "self", "type": JSON, "title": spec.title, "href": base},
            {"rel": "items", "type": GEOJSON, "title": f"{spec.title} as GeoJSON", "href": base + "/items"},
        ],
    }


def _schema(kind: str) -> dict:
    return {"type": "string", "format": "date-time"} if kind == "date-time" else {"type": kind}


_PARAMS = {
    "bbox": {"name": "bbox", "in": "query", "required": False, "style": "form", "explode": False,
             "description": "minlon,minlat,maxlon,maxlat in CRS84 (or 6 numbers with heights, which are ignored)",
             "schema": {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}}},
    "limit": {"name": "limit", "in": "query", "required": False, "style": "form", "explode": False,
              "description": f"page size (default {DEFAULT_LIMIT}; larger values are cut to the configured "
                             "page_size_max)", "schema": {"type": "integer", "minimum": 1, "default": DEFAULT_LIMIT}},
    "offset": {"name": "offset", "in": "query", "required": False,
               "description": "features to skip (next links set it)",
               "schema": {"type": "integer", "minimum": 0, "default": 0}},
    "datetime": {"name": "datetime", "in": "query", "required": False, "style": "form", "explode": False,
                 "description": "reported_at (cases) at an instant or in an interval a/b, ../b, a/..; a bare date is "
                                "the whole day (UTC). Collections without time ignore it.",
                 "schema": {"type": "string"}},
    "f": {"name": "f", "in": "query", "required": False, "description": "response format",
          "schema": {"type": "string", "enum": ["json"]}},
    "collectionId": {"name": "collectionId", "in": "path", "required": True, "schema": {"type": "string"}},
    "featureId": {"name": "featureId", "in": "path", "required": True, "schema": {"type": "string"}},
}


def _item_params(properties: dict[str, str], queryables: Iterable[str], temporal: bool) -> list[dict]:
    names = ("bbox", "limit", "offset", "datetime", "f") if temporal else ("bbox", "limit", "offset", "f")
    return [_PARAMS[n] for n in names] + [
        {"name": q, "in": "query", "required": False, "style": "form", "explode": False,
         "description": f"only features whose {q} equals this", "schema": _schema(properties[q])} for q in queryables]


def _api_document(request: Request, specs: Iterable[CollectionSpec]) -> dict:
    """The OpenAPI 3.0 definition of this OGC API, with one path per collection (its own filters), so that
    clients such as GDAL know which properties the server filters on."""
    error = {"description": "invalid parameter (400) or not found (404)",
             "content": {JSON: {"schema": {"$ref": "#/components/schemas/exception"}}}}

    def op(op_id: str, summary: str, media: str, schema: str, params: list[dict]) -> dict:
        return {"get": {"operationId": op_id, "summary": summary, "tags": ["ogc"], "parameters": params,
                        "responses": {"200": {"description": summary, "content": {
                            media: {"schema": {"$ref": f"#/components/schemas/{schema}"}}}},
                                      "400": error, "404": error}}}

    generic = REGISTRY.queryables()
    paths = {
        "/": op("getLandingPage", "Landing page", JSON, "document", [_PARAMS["f"]]),
        "/conformance": op("getConformanceDeclaration", "Conformance classes", JSON, "document", [_PARAMS["f"]]),
        "/api": op("getAPIDefinition", "This API definition", OPENAPI, "document", []),
        "/collections": op("getCollections", "The feature collections", JSON, "document", [_PARAMS["f"]]),
        "/collections/{collectionId}": op("describeCollection", "One feature collection", JSON, "document",
                                          [_PARAMS["collectionId"], _PARAMS["f"]]),
        "/collections/{collectionId}/items": op(
            "getFeatures", "Features of a collection", GEOJSON, "featureCollectionGeoJSON",
            [_PARAMS["collectionId"], *_item_params(generic, generic, True)]),
        "/collections/{collectionId}/items/{featureId}": op(
            "getFeature", "One feature", GEOJSON, "featureGeoJSON",
            [_PARAMS["collectionId"], _PARAMS["featureId"], _PARAMS["f"]]),
    }
    schemas: dict[str, dict] = {
        "document": {"type": "object"},
        "exception": {"type": "object", "required": ["code", "message"], "properties": {
            "code": {"type": "string"}, "message": {"type": "string"}, "field": {"type": "string", "nullable": True},
            "details": {"type": "array", "items": {"type": "string"}}}},
        "featureGeoJSON": {"type": "object", "required": ["type", "geometry", "properties"], "properties": {
            "type": {"type": "string", "enum": ["Feature"]}, "id": {"type": "integer"},
            "geometry": {"type": "object"}, "properties": {"type": "object"}}},
        "featureCollectionGeoJSON": {"type": "object", "required": ["type", "features"], "properties": {
            "type": {"type": "string", "enum": ["FeatureCollection"]},
            "features": {"type": "array", "items": {"$ref": "#/components/schemas/featureGeoJSON"}},
            "numberMatched": {"type": "integer"}, "numberReturned": {"type": "integer"},
            "timeStamp": {"type": "string", "format": "date-time"}, "links": {"type": "array"}}},
    }
    for spec in specs:
        name = spec.id.replace("-", "_")
        schemas[f"{name}Feature"] = {"allOf": [{"$ref": "#/components/schemas/featureGeoJSON"}, {
            "type": "object", "properties": {"properties": {"type": "object", "properties": {
                p: {**_schema(k), "nullable": True} for p, k in spec.properties.items()}}}}]}
        schemas[f"{name}Features"] = {"allOf": [{"$ref": "#/components/schemas/featureCollectionGeoJSON"}, {
            "type": "object", "properties": {"features": {
                "type": "array", "items": {"$ref": f"#/components/schemas/{name}Feature"}}}}]}
        paths[f"/collections/{spec.id}"] = op(f"describe_{name}", f"{spec.title}: metadata", JSON, "document",
                                              [_PARAMS["f"]])
        paths[f"/collections/{spec.id}/items"] = op(
            f"get_{name}_features", f"{spec.title}: features", GEOJSON, f"{name}Features",
            _item_params(spec.properties, spec.queryables, spec.temporal is not None))
        paths[f"/collections/{spec.id}/items/{{featureId}}"] = op(
            f"get_{name}_feature", f"{spec.title}: one feature", GEOJSON, f"{name}Feature",
            [_PARAMS["featureId"], _PARAMS["f"]])
    return {"openapi": "3.0.3",
            "info": {"title": "gridpatrol OGC API Features", "version": request.app.version,
                     "description": "Public, non-personal layers of gridpatrol as OGC API – Features – Part 1."},
            "servers": [{"url": _url(request)}], "paths": paths, "components": {"schemas": schemas}}


@router.get("", summary="OGC API Features landing page",
            response_model=LandingOut, response_model_exclude_unset=True)
def landing(request: Request) -> JSONResponse:
    _check_format(request)
    root = str(request.base_url).rstrip("/")
    return _json({
        "title": "gridpatrol OGC API Features",
        "description": "Communities, grids, buildings and cases (no personal data) as OGC API Features.",
        "links": [
            {"rel": "self", "type": JSON, "title": "this document", "href": _url(request)},
            {"rel": "service-desc", "type": OPENAPI, "title": "the definition of this API (OpenAPI 3.0)",
             "href": _url(request, "/api")},
            {"rel": "service-desc", "type": "application/vnd.oai.openapi+json;version=3.1",
             "title": "the definition of the whole gridpatrol API", "href": root + "/openapi.json"},
            {"rel": "service-doc", "type": "text/html", "title": "the API documentation", "href": root + "/docs"},
            {"rel": "conformance", "type": JSON, "title": "conformance classes", "href": _url(request, "/conformance")},
            {"rel": "data", "type": JSON, "title": "the collections", "href": _url(request, "/collections")},
        ],
    })


@router.get("/api", summary="The OpenAPI 3.0 definition of the OGC API")
def api_definition(request: Request, session: ReadSessionDep) -> JSONResponse:
    _check_format(request)
    return _json(_api_document(request, REGISTRY.all(session).values()), OPENAPI)


@router.get("/conformance", summary="Conformance classes implemented",
            response_model=ConformanceOut, response_model_exclude_unset=True)
def conformance(request: Request) -> JSONResponse:
    _check_format(request)
    return _json({"conformsTo": CONFORMANCE})


@router.get("/collections", summary="The feature collections",
            response_model=CollectionsOut, response_model_exclude_unset=True)
def collections(request: Request, session: ReadSessionDep) -> JSONResponse:
    _check_format(request)
    specs = REGISTRY.all(session).values()
    return _json({
        "links": [{"rel": "self", "type": JSON, "title": "the collections", "href": _url(request, "/collections")}],
        "collections": [_collection(request, session, s) for s in specs],
    })


@router.get("/collections/{collectionId}", summary="One feature collection",
            response_model=CollectionOut, response_model_exclude_unset=True)
def collection(collectionId: str, request: Request, session: ReadSessionDep) -> JSONResponse:
    _check_format(request)
    return _json(_collection(request, session, REGISTRY.get(session, collectionId)))


@router.get("/collections/{collectionId}/items", summary="Features of a collection (GeoJSON)",
            openapi_extra={"parameters": _item_params(REGISTRY.queryables(), REGISTRY.queryables(), True)},
            response_model=FeatureCollection, response_model_exclude_unset=True)
def items(collectionId: str, request: Request, session: ReadSessionDep,
          settings: SettingsDep) -> JSONResponse:
    spec = REGISTRY.get(session, collectionId)
    _check_format(request)
    page = feature_page(session, spec, _item_query(request, spec, settings.page_size_max))
    fc = page_collection(page, request)
    fc["timeStamp"] = _timestamp()
    fc["links"].append({"rel": "collection", "type": JSON, "title": spec.title,
                        "href": _url(request, f"/collections/{spec.id}")})
    return _json(fc, GEOJSON)


@router.get("/collections/{collectionId}/items/{featureId}", summary="One feature (GeoJSON)",
            response_model=Feature, response_model_exclude_unset=True)
def item(collectionId: str, featureId: str, request: Request,
         session: ReadSessionDep) -> JSONResponse:
    spec = REGISTRY.get(session, collectionId)
    _check_format(request)
    if not (featureId.isascii() and featureId.isdigit() and len(featureId) <= 18):
        raise NotFound(f"no feature {featureId!r} in collection {spec.id!r}", field="featureId")
    frame = feature(session, spec, int(featureId))
    body = feature_collection(frame)["features"][0]
    body["links"] = [
        {"rel": "self", "type": GEOJSON, "href": _url(request, f"/collections/{spec.id}/items/{featureId}")},
        {"rel": "collection", "type": JSON, "title": spec.title, "href": _url(request, f"/collections/{spec.id}")},
    ]
    return _json(body, GEOJSON)
