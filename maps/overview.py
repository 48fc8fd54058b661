"""The overview map: community boundaries, grids coloured by households, buildings, a legend.

Renders only. The frames come from a read model (EPSG:4326, one row per feature); this module does not know
where they come from, and the household range that counts as "normal" for a grid is a parameter, not a rule.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import folium
import geopandas as gpd
from folium.map import CustomPane, Layer
from folium.template import Template

from geo.errors import ProblemList
from maps.assets import use_local_assets
from maps.leaflet import (
    BASE_CSS,
    EMPTY_CENTER,
    HideLabelsBelow,
    Legend,
    Notice,
    Stylesheet,
    base_map,
    checked_frame,
    constant,
    display_frame,
    feature_collection,
    legend_row,
    number,
    pane,
    tooltip,
)
from maps.templating import esc

__all__ = ["EMPTY_CENTER", "LABELS", "LOAD_COLOURS", "households_class", "overview_map"]

LABELS: dict[str, dict[str, str]] = {
    "zh": {
        "legend": "图例",
        "communities": "社区",
        "grids": "网格",
        "buildings": "楼栋",
        "households": "户数",
        "community_boundary": "社区边界",
        "code": "编码",
        "name": "名称",
        "buildings_count": "楼栋数",
        "worker": "网格员",
        "unassigned": "未配备",
        "use": "用途",
        "levels": "层数",
        "load": "户数区间",
        "grid_households": "网格户数（标准 {low}–{high} 户）",
        "below": "低于 {low} 户",
        "within": "{low}–{high} 户",
        "above": "高于 {high} 户",
        "unknown": "户数不详",
        "zoom_for_buildings": "放大到 {zoom} 级及以上显示楼栋",
        "no_data": "尚无数据：请先运行 gridpatrol import …",
        "missing": "—",
    },
    "en": {
        "legend": "Legend",
        "communities": "Communities",
        "grids": "Grids",
        "buildings": "Buildings",
        "households": "Households",
        "community_boundary": "Community boundary",
        "code": "Code",
        "name": "Name",
        "buildings_count": "Buildings",
        "worker": "Grid worker",
        "unassigned": "unassigned",
        "use": "Use",
        "levels": "Levels",
        "load": "Household range",
        "grid_households": "Grid households (target {low}–{high})",
        "below": "Below {low}",
        "within": "{low}–{high}",
        "above": "Above {high}",
        "unknown": "Unknown",
        "zoom_for_buildings": "Zoom to level {zoom}+ to show buildings",
        "no_data": "No data yet: run gridpatrol import …",
        "missing": "—",
    },
}
"""UI strings by language; ``{low}``, ``{high}`` and ``{zoom}`` are filled in when the map is built."""

LOAD_COLOURS: dict[str, str] = {
    "below": "#4c9be8",  # blue: room for more households
    "within": "#2e9d5b",  # green: within the range
    "above": "#e0503a",  # red: overloaded
    "unknown": "#a3a3a3",
}
"""Fill colour of a grid by :func:`households_class`."""

COMMUNITY_STYLE = {"color": "#1e293b", "weight": 2, "opacity": 0.95, "fill": False}
GRID_STYLE = {"color": "#ffffff", "weight": 1.2, "opacity": 1.0, "fillOpacity": 0.5}
GRID_HIGHLIGHT = {"color": "#111827", "weight": 3, "fillOpacity": 0.7}
BUILDING_STYLE = {"color": "#4b5563", "weight": 0.6, "fillColor": "#6b7280", "fillOpacity": 0.85}

BUILDINGS_MIN_ZOOM = 15
"""Below this zoom the ``buildings_url`` layer stays empty (a city has too many buildings to draw at once)."""
BUILDINGS_LIMIT = 5000
"""``limit`` sent with each ``buildings_url`` request."""
LABELS_MIN_ZOOM = 13
"""Community names are hidden below this zoom, where they would cover each other."""

# Panes keep community outlines above grid fills even after a layer is switched off and on again, which
# would otherwise re-append it on top. pointer_events=False lets the mouse reach lower panes; interactive
# paths still receive events (leaflet.css gives them pointer-events: auto).
_PANES = {"grids": 410, "buildings": 420, "communities": 430}

def households_class(households: float | None, households_range: tuple[int, int]) -> str:
    """``"below"``, ``"within"`` (bounds included) or ``"above"`` the range; ``"unknown"`` when missing."""
    if households is None or (isinstance(households, float) and math.isnan(households)):
        return "unknown"
    low, high = households_range
    if households < low:
        return "below"
    return "above" if households > high else "within"


def overview_map(
    communities: gpd.GeoDataFrame,
    grids: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame | None = None,
    *,
    lang: str = "zh",
    tiles: str | None = "OpenStreetMap",
    tile_attribution: str | None = None,
    assets_prefix: str = "/static/vendor",
    buildings_url: str | None = None,
    households_range: tuple[int, int] = (300, 500),
) -> folium.Map:
    """Communities, their grids and buildings, with a legend and a layer switcher: the product's first map.

    Parameters
    ----------
    communities
        One row per community: ``name``; optional ``code``, ``households``. Polygons.
    grids
        One row per grid: ``code``, ``households``; optional ``name``, ``buildings`` (a count) and
        ``worker`` (the grid worker's display name; missing means unassigned).
    buildings
        Optional, embedded in the page: one row per building, with optional ``name``, ``use``, ``levels``,
        ``households``. For a whole city pass ``buildings_url`` instead.
    lang
        ``"zh"`` or ``"en"`` (keys of :data:`LABELS`).
    tiles, tile_attribution
        A folium tile name or URL template and its attribution; ``None`` draws on a plain grey background.
    assets_prefix
        URL under which ``maps/static/vendor`` is served (see :func:`maps.assets.use_local_assets`).
    buildings_url
        An endpoint answering ``?bbox=minx,miny,maxx,maxy&limit=N`` (degrees, EPSG:4326) with a GeoJSON
        FeatureCollection of buildings (properties as for ``buildings``). Fetched on every move at zoom
        >= :data:`BUILDINGS_MIN_ZOOM` and cleared below it.
    households_range
        ``(low, high)`` households of a normal grid; grids are coloured below / within / above it.

    Frames in another CRS are reprojected; rows with no geometry are skipped. With no communities the map
    shows a message telling how to import them.

    Raises
    ------
    GeoValidationError
        Listing every missing column, missing CRS or wrong type among the three frames.
    ValueError
        For an unknown ``lang``, a bad ``households_range``, or both ``buildings`` and ``buildings_url``.
    """
    labels = _labels(lang, households_range, buildings is not None and buildings_url is not None)
    communities, grids, buildings = _checked_frames(communities, grids, buildings)
    grids = grids.assign(
        load_class=[households_class(number(h), households_range) for h in grids["households"]]
    )
    m = base_map([communities, grids, buildings], tiles, tile_attribution)
    m.add_child(Stylesheet(BASE_CSS))
    for name, z_index in _PANES.items():
        m.add_child(CustomPane(pane(name), z_index=z_index, pointer_events=False))
    overlays = _overlays(communities, grids, buildings, buildings_url, labels)
    for layer in overlays:
        m.add_child(layer)
    if len(communities):
        m.add_child(HideLabelsBelow(LABELS_MIN_ZOOM))
        m.add_child(Legend(_legend_html(communities, grids, buildings, buildings_url, labels)))
    else:
        m.add_child(Notice(labels["no_data"]))
    if overlays:
        m.add_child(folium.LayerControl(collapsed=False))
    return use_local_assets(m, prefix=assets_prefix)


# --- inputs -------------------------------------------------------------------------------------------------


def _labels(lang: str, households_range: tuple[int, int], both_buildings: bool) -> dict[str, str]:
    """The labels of ``lang`` with the range and zoom filled in, after checking the options."""
    if lang not in LABELS:
        raise ValueError(f"'lang' should be one of {sorted(LABELS)}, got {lang!r}")
    low, high = households_range
    if not 0 <= low <= high:
        raise ValueError(
            f"'households_range' should be (low, high) with 0 <= low <= high, got {households_range!r}"
        )
    if both_buildings:
        raise ValueError(
            "pass either 'buildings' (embedded) or 'buildings_url' (fetched by bounding box), not both"
        )
    return {
        key: text.format(low=low, high=high, zoom=BUILDINGS_MIN_ZOOM) for key, text in LABELS[lang].items()
    }

def _checked_frames(
    communities: Any, grids: Any, buildings: Any
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame | None]:
    problems = ProblemList()
    communities = checked_frame(communities, "communities", ("name",), problems)
    grids = checked_frame(grids, "grids", ("code", "households"), problems)
    if buildings is not None:
        buildings = checked_frame(buildings, "buildings", (), problems)
    problems.raise_if_any()
    return communities, grids, buildings


# --- map and layers -----------------------------------------------------------------------------------------


def _overlays(
    communities: gpd.GeoDataFrame,
    grids: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame | None,
    buildings_url: str | None,
    labels: Mapping[str, str],
) -> list[Layer]:
    """The layers there is data for, in the layer switcher's order (the panes decide what is drawn on top)."""
    overlays: list[Layer] = []
    if len(communities):
        overlays.append(_communities_layer(communities, labels))
    if len(grids):
        overlays.append(_grids_layer(grids, labels))
    if buildings is not None and len(buildings):
        overlays.append(_buildings_layer(buildings, labels))
    elif buildings_url is not None:
        overlays.append(_BuildingsByBBox(buildings_url, labels))
    return overlays


def _communities_layer(communities: gpd.GeoDataFrame, labels: Mapping[str, str]) -> folium.FeatureGroup:
    fields = {"name": labels["communities"], "code": labels["code"], "households": labels["households"]}
    display, shown = display_frame(communities, fields, labels)
    group = folium.FeatureGroup(name=labels["communities"], overlay=True)
    folium.GeoJson(
        feature_collection(display, shown),
        style_function=constant(COMMUNITY_STYLE),
        tooltip=tooltip(shown),
        control=False,
        pane=pane("communities"),
    ).add_to(group)
    for name, point in zip(display["name"], communities.geometry.representative_point(), strict=True):
        folium.Marker(
            (point.y, point.x),
            icon=folium.DivIcon(
                html=f"<span>{name}</span>", icon_size=(0, 0), class_name="gp-community-label"
            ),
            interactive=False,
            keyboard=False,
        ).add_to(group)
    return group


def _grids_layer(grids: gpd.GeoDataFrame, labels: Mapping[str, str]) -> folium.GeoJson:
    """Grids filled by their ``load_class`` column (see :func:`households_class`)."""
    fields = {
        "code": labels["code"],
        "name": labels["name"],
        "households": labels["households"],
        "load": labels["load"],
        "buildings": labels["buildings_count"],
        "worker": labels["worker"],
    }
    grids = grids.assign(load=[labels[c] for c in grids["load_class"]])
    if "worker" in grids:
        grids["worker"] = grids["worker"].astype(object).where(grids["worker"].notna(), labels["unassigned"])
    display, shown = display_frame(grids, fields, labels)
    return folium.GeoJson(
        feature_collection(display, {**shown, "load_class": ""}),
        name=labels["grids"],
        style_function=lambda feature: {
            **GRID_STYLE,
            "fillColor": LOAD_COLOURS[feature["properties"]["load_class"]],
        },
        highlight_function=constant(GRID_HIGHLIGHT),
        tooltip=tooltip(shown),
        pane=pane("grids"),
    )


def _buildings_layer(buildings: gpd.GeoDataFrame, labels: Mapping[str, str]) -> folium.GeoJson:
    fields = {
        "name": labels["name"],
        "use": labels["use"],
        "levels": labels["levels"],
        "households": labels["households"],
    }
    display, shown = display_frame(buildings, fields, labels)
    return folium.GeoJson(
        feature_collection(display, shown),
        name=labels["buildings"],
        style_function=constant(BUILDING_STYLE),
        tooltip=tooltip(shown) if shown else None,
        pane=pane("buildings"),
    )


# --- legend, notice, buildings by bounding box --------------------------------------------------------------


def _legend_html(
    communities: gpd.GeoDataFrame,
    grids: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame | None,
    buildings_url: str | None,
    labels: Mapping[str, str],
) -> str:
    counts = grids["load_class"].value_counts()
    outline = (
        f"border: {COMMUNITY_STYLE['weight']}px solid {COMMUNITY_STYLE['color']}; background: transparent"
    )
    rows = [
        f"<h4>{esc(labels['legend'])}</h4>",
        legend_row(outline, labels["community_boundary"], len(communities)),
        f'<div class="gp-sub">{esc(labels["grid_households"])}</div>',
        *(
            legend_row(f"background: {LOAD_COLOURS[c]}", labels[c], int(counts.get(c, 0)))
            for c in ("below", "within", "above", "unknown")
            if c != "unknown" or counts.get(c, 0)
        ),
    ]
    building_swatch = (
        f"background: {BUILDING_STYLE['fillColor']}; border: 1px solid {BUILDING_STYLE['color']}"
    )
    if buildings is not None and len(buildings):
        rows.append(legend_row(building_swatch, labels["buildings"], len(buildings)))
    elif buildings_url is not None:
        rows.append(legend_row(building_swatch, labels["buildings"], None))
        rows.append(f'<div class="gp-hint">{esc(labels["zoom_for_buildings"])}</div>')
    return "\n".join(rows)


class _BuildingsByBBox(Layer):
    """An overlay that loads the buildings in view from ``url`` at zoom >= BUILDINGS_MIN_ZOOM."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.geoJSON(null, {
            pane: {{ this.pane|tojson }},
            style: function () { return {{ this.style|tojson }}; }
        });
        (function (layer, map) {
            var url = {{ this.url|tojson }}, minZoom = {{ this.min_zoom }}, limit = {{ this.limit }};
            var fields = {{ this.fields|tojson }}, missing = {{ this.missing|tojson }};
            var pending = null;
            function details(properties) {
                var table = L.DomUtil.create("table");
                fields.forEach(function (field) {
                    var value = properties[field[0]];
                    if (value === undefined) { return; }
                    var row = L.DomUtil.create("tr", "", table);
                    L.DomUtil.create("th", "", row).textContent = field[1];
                    L.DomUtil.create("td", "", row).textContent =
                        value === null || value === "" ? missing : String(value);
                });
                return table;
            }
            layer.options.onEachFeature = function (feature, path) {
                path.bindTooltip(function () { return details(feature.properties || {}); },
                                 {sticky: true, className: "gp-tooltip"});
            };
            function refresh() {
                if (pending) { pending.abort(); pending = null; }
                if (map.getZoom() < minZoom) { layer.clearLayers(); return; }
                if (!map.hasLayer(layer)) { return; }
                var b = map.getBounds();
                var bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]
                    .map(function (v) { return v.toFixed(6); }).join(",");
                var request = pending = new AbortController();
                fetch(url + (url.indexOf("?") < 0 ? "?" : "&") + "bbox=" + bbox + "&limit=" + limit,
                      {signal: request.signal, headers: {Accept: "application/geo+json, application/json"}})
                    .then(function (response) {
                        if (!response.ok) {
                            throw new Error("HTTP " + response.status + " from " + response.url);
                        }
                        return response.json();
                    })
                    .then(function (collection) {
                        if (pending !== request) { return; }
                        pending = null;
                        layer.clearLayers();
                        layer.addData(collection);
                    })
                    .catch(function (error) {
                        if (error.name !== "AbortError") { console.warn("buildings layer:", error); }
                    });
            }
            map.on("moveend", refresh);
            layer.on("add", refresh);
        })({{ this.get_name() }}, {{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, url: str, labels: Mapping[str, str]) -> None:
        super().__init__(name=labels["buildings"], overlay=True, control=True, show=True)
        self._name = "BuildingsByBBox"
        self.url = url
        self.min_zoom = BUILDINGS_MIN_ZOOM
        self.limit = BUILDINGS_LIMIT
        self.pane = pane("buildings")
        self.style = BUILDING_STYLE
        self.fields = [
            ["name", labels["name"]],
            ["use", labels["use"]],
            ["levels", labels["levels"]],
            ["households", labels["households"]],
        ]
        self.missing = labels["missing"]
