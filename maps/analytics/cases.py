"""The map of every case of a city, fetched by bounding box: clusters from the server, single cases when
zoomed in (``js/gridpatrol-cases.js``), and an optional dispatch route.

See :mod:`maps.analytics` for tiles and datums.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import folium
import geopandas as gpd
import shapely
from folium.elements import JSCSSMixin
from folium.map import CustomPane, Layer
from folium.template import Template
from shapely.geometry import box, shape
from shapely.geometry.base import BaseGeometry

from geo.errors import ProblemList
from maps.analytics.common import LINES, check_options, finish, labels_of, new_map, to_datum
from maps.leaflet import Legend, constant, dot_row, feature_collection, line_row, pane
from maps.templating import esc

__all__ = [
    "OTHER_STATUS_COLOUR",
    "OVERDUE_COLOUR",
    "ROUTE_STYLE",
    "SHARE_COLOURS",
    "STATUS_COLOURS",
    "cases_map",
]

STATUS_COLOURS: dict[str, str] = {
    "reported": "#a855f7",
    "registered": "#6366f1",
    "dispatched": "#2563eb",
    "accepted": "#0891b2",
    "handled": "#0d9488",
    "verified": "#65a30d",
    "closed": "#15803d",
    "suspended": "#d97706",
    "rejected": "#6b7280",
    "duplicate": "#9ca3af",
}
"""Fill of a case marker by status in :func:`cases_map` (red is kept for the overdue ring)."""
OTHER_STATUS_COLOUR = "#374151"
"""Fill of a case marker whose status has no colour of its own."""
OVERDUE_COLOUR = "#dc2626"
"""Ring of an overdue case marker."""
SHARE_COLOURS: tuple[tuple[float, str, str], ...] = (
    (0.0, "#16a34a", "share_none"),
    (0.1, "#ca8a04", "share_low"),
    (0.3, "#ea580c", "share_mid"),
    (1.0, "#dc2626", "share_high"),
)
"""Cluster colour by the share of its cases overdue: (upper bound, colour, label key); the first class is
exactly 0, the others run up to (excluding) their bound, the last includes 1."""

ROUTE_STYLE: dict[str, Any] = {"color": "#1d4ed8", "weight": 4, "opacity": 0.9, "dashArray": "10 8"}
"""The dispatch route: dashed dark blue."""


def cases_map(
    *,
    bounds: tuple[float, float, float, float],
    data_url: str,
    lang: str = "zh",
    tiles: str | None = "OpenStreetMap",
    tile_attribution: str | None = None,
    datum: str = "wgs84",
    route: Mapping[str, Any] | BaseGeometry | None = None,
    statuses_labels: Mapping[str, str] | None = None,
    time_zone: str | None = None,
    static_prefix: str = "/static",
) -> folium.Map:
    """Every case of a city without embedding them: the page fetches the cases in view from ``data_url``.

    ``maps/static/js/gridpatrol-cases.js`` (loaded from ``static_prefix``) asks, on load and after every move
    or zoom, ``data_url?bbox=minlon,minlat,maxlon,maxlat&zoom=Z`` (appended to a query string ``data_url``
    may already have; WGS-84 even when ``datum="gcj02"``), sending ``Authorization: Bearer <token>`` when
    ``localStorage["gridpatrol.token"]`` holds one, and draws the JSON answer::

        {"clusters": [{"lon": .., "lat": .., "count": n, "overdue": k, "statuses": {"dispatched": 3, ...}}],
         "cases": [{"id": .., "lon": .., "lat": .., "status": .., "overdue": bool, "category": ..,
                    "category_name": .., "deadline_at": iso or null, "thumbnail": url or null,
                    "number": "2026-000123", "url": "/desk/cases/2026-000123"}],
         "total": N}

    Clusters are circles sized by count and coloured by the share overdue (click: zoom in); cases are dots
    coloured by status, ringed red when overdue, with a popup (category, status, deadline, thumbnail, link).
    The server decides when to answer with clusters and when with cases (by zoom). At most one request is in
    flight; a stale answer is never drawn.

    Parameters
    ----------
    bounds
        ``(minlon, minlat, maxlon, maxlat)`` in WGS-84 that the map opens on.
    data_url
        Endpoint as above, absolute or relative to the page.
    route
        Optional dispatch route: a GeoJSON LineString (geometry or Feature dict) or a shapely line, WGS-84,
        drawn dashed.
    statuses_labels
        Display names of statuses, added to / overriding the built-in ones (``LABELS[lang]["status:…"]``).
    time_zone
        IANA zone in which popups show deadlines (e.g. ``"Asia/Shanghai"``); ``None``: the browser's own.

    Raises
    ------
    GeoValidationError
        Naming ``bounds``, ``data_url``, ``route`` or ``time_zone`` when they are malformed.
    """
    labels = labels_of(lang)
    check_options(datum, tiles, tile_attribution)
    area, line = _checked_arguments(bounds, data_url, route, time_zone)
    extent = to_datum(gpd.GeoDataFrame(geometry=[area], crs=4326), datum)
    m = new_map(extent, tiles, tile_attribution)
    statuses = {
        **{key.removeprefix("status:"): text for key, text in labels.items() if key.startswith("status:")},
        **{str(k): str(v) for k, v in (statuses_labels or {}).items()},
    }
    layer = _CasesLayer(
        data_url=data_url,
        datum=datum,
        labels=labels,
        statuses=statuses,
        lang=lang,
        time_zone=time_zone,
        static_prefix=static_prefix,
    )
    m.add_child(layer)
    if line is not None:
        _add_route(m, line, datum, labels)
    m.add_child(Legend(_cases_legend(statuses, line is not None, labels)))
    m.add_child(folium.LayerControl(collapsed=False))
    return finish(m, static_prefix)


def _checked_arguments(
    bounds: Any, data_url: Any, route: Any, time_zone: str | None
) -> tuple[BaseGeometry, BaseGeometry | None]:
    """The opening area and the route line; GeoValidationError listing every malformed argument."""
    problems = ProblemList()
    area = _bounds_box(bounds, problems)
    if not isinstance(data_url, str) or not data_url.strip():
        problems.add(
            "invalid_argument", f"'data_url' should be a non-empty URL, got {data_url!r}", field="data_url"
        )
    line = _route_line(route, problems) if route is not None else None
    if time_zone is not None:
        try:
            ZoneInfo(time_zone)
        except (ValueError, ZoneInfoNotFoundError):
            problems.add(
                "invalid_argument", f"'time_zone' is no IANA time zone: {time_zone!r}", field="time_zone"
            )
    problems.raise_if_any()
    return area, line


def _add_route(m: folium.Map, line: BaseGeometry, datum: str, labels: Mapping[str, str]) -> None:
    """The dispatch route, dashed, in its own pane above the cases."""
    route_frame = to_datum(gpd.GeoDataFrame(geometry=[line], crs=4326), datum)
    m.add_child(CustomPane(pane("route"), z_index=450, pointer_events=False))
    m.add_child(
        folium.GeoJson(
            feature_collection(route_frame, {}),
            name=labels["route"],
            style_function=constant(ROUTE_STYLE),
            pane=pane("route"),
        )
    )


def _cases_legend(statuses: Mapping[str, str], has_route: bool, labels: Mapping[str, str]) -> str:
    rows = [
        f"<h4>{esc(labels['cases'])}</h4>",
        f'<div class="gp-sub">{esc(labels["status"])}</div>',
    ]
    for status, colour in STATUS_COLOURS.items():
        rows.append(dot_row(f"background: {colour}; border: 1.5px solid #fff", statuses.get(status, status)))
    rows.append(dot_row(f"background: #fff; border: 3px solid {OVERDUE_COLOUR}", labels["overdue_ring"]))
    rows.append(f'<div class="gp-sub">{esc(labels["overdue_share"])}</div>')
    for _, colour, key in SHARE_COLOURS:
        rows.append(dot_row(f"background: {colour}", labels[key]))
    if has_route:
        route = ROUTE_STYLE
        rows.append(line_row(f"border-top: 3px dashed {route['color']}", labels["route"], None))
    rows.append(f'<div class="gp-hint">{esc(labels["cases_hint"])}</div>')
    return "\n".join(rows)


class _CasesLayer(JSCSSMixin, Layer):
    """``L.gridpatrolCases``: the layer of ``js/gridpatrol-cases.js``, loaded with its stylesheet."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.gridpatrolCases({{ this.options|tojson }});
        {% endmacro %}
        """
    )

    def __init__(
        self,
        *,
        data_url: str,
        datum: str,
        labels: Mapping[str, str],
        statuses: Mapping[str, str],
        lang: str,
        time_zone: str | None,
        static_prefix: str,
    ) -> None:
        super().__init__(name=labels["cases"], overlay=True, control=True, show=True)
        self._name = "GridpatrolCases"
        prefix = static_prefix.rstrip("/")
        self.default_js = [("gridpatrol-cases", f"{prefix}/js/gridpatrol-cases.js")]
        self.default_css = [("gridpatrol-cases-css", f"{prefix}/css/gridpatrol-cases.css")]
        keys = (
            "loading",
            "total",
            "load_failed",
            "empty",
            "status",
            "category",
            "deadline",
            "overdue",
            "timeline",
            "other_status",
            "yes",
            "no",
            "cases",
        )
        self.options = {
            "dataUrl": data_url,
            "datum": datum,
            "locale": "zh-CN" if lang == "zh" else "en-GB",
            "timeZone": time_zone,
            "labels": {key: labels[key] for key in keys},
            "statusLabels": dict(statuses),
            "statusColors": {**STATUS_COLOURS, "": OTHER_STATUS_COLOUR},
            "overdueColor": OVERDUE_COLOUR,
            "shareColors": [[bound, colour] for bound, colour, _ in SHARE_COLOURS],
            "tokenKey": "gridpatrol.token",
        }


def _bounds_box(bounds: Any, problems: ProblemList) -> BaseGeometry:
    try:
        minx, miny, maxx, maxy = (float(v) for v in bounds)
        ok = all(math.isfinite(v) for v in (minx, miny, maxx, maxy))
        ok = ok and -180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90
    except (TypeError, ValueError):
        ok = False
    if not ok:
        problems.add(
            "invalid_argument",
            f"'bounds' should be (minlon, minlat, maxlon, maxlat) in degrees with min <= max, got {bounds!r}",
            field="bounds",
        )
        return box(0, 0, 1, 1)
    return box(minx, miny, maxx, maxy)


def _route_line(route: Any, problems: ProblemList) -> BaseGeometry | None:
    geometry: Any = route
    if isinstance(route, Mapping):
        geometry = route.get("geometry") if route.get("type") == "Feature" else route
        try:
            geometry = shape(geometry)
        except (AttributeError, KeyError, TypeError, ValueError, shapely.errors.ShapelyError) as error:
            problems.add("invalid_argument", f"'route' is not a GeoJSON geometry: {error}", field="route")
            return None
    if not isinstance(geometry, BaseGeometry) or geometry.geom_type not in LINES or geometry.is_empty:
        kind = geometry.geom_type if isinstance(geometry, BaseGeometry) else type(geometry).__name__
        problems.add("geometry_type", f"'route' should be a (GeoJSON) LineString, got {kind}", field="route")
        return None
    return geometry
