"""Shared Leaflet / folium pieces of every map page: frame checks, the base map, GeoJSON with escaped
tooltips, legend rows, a legend and a notice control, panes, and number formatting.

Every map module (:mod:`maps.overview`, the :mod:`maps.analytics` maps) builds on these public helpers, so a
legend, a tooltip or an empty-map notice looks and escapes the same everywhere. Frames are in EPSG:4326;
coordinates are written with :data:`PRECISION` decimals.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping
from typing import Any

import folium
import geopandas as gpd
import pandas as pd
import shapely
from branca.element import MacroElement
from folium.map import Layer
from folium.template import Template

from geo.errors import ProblemList
from maps.field import own_basemap
from maps.templating import esc

__all__ = [
    "BASE_CSS",
    "EMPTY_CENTER",
    "PRECISION",
    "HideLabelsBelow",
    "LayerLegend",
    "Legend",
    "Notice",
    "Stylesheet",
    "base_map",
    "checked_frame",
    "constant",
    "count_row",
    "display_frame",
    "display_text",
    "dot_row",
    "feature_collection",
    "legend_row",
    "line_row",
    "number",
    "pane",
    "tooltip",
]

EMPTY_CENTER = (35.0, 105.0)
"""Where an empty map looks (the middle of China), at zoom 4."""
PRECISION = 6
"""Decimal degrees kept in the page: about 0.1 m."""

BASE_CSS = """
<style>
  .leaflet-container, .gp-notice { font-family: "PingFang SC", "Hiragino Sans GB", "Microsoft YaHei",
      "Noto Sans CJK SC", "WenQuanYi Micro Hei", system-ui, -apple-system, "Segoe UI", Roboto, Arial,
      sans-serif; }
  .gp-legend { background: rgba(255, 255, 255, 0.95); padding: 8px 12px; border-radius: 6px; color: #1f2937;
      box-shadow: 0 1px 5px rgba(0, 0, 0, 0.35); font-size: 13px; line-height: 1.5; min-width: 170px; }
  .gp-legend h4 { margin: 0 0 4px; font-size: 14px; font-weight: 700; }
  .gp-legend .gp-sub { margin-top: 6px; font-weight: 700; }
  .gp-legend .gp-row { display: flex; align-items: center; gap: 8px; white-space: nowrap; }
  .gp-legend .gp-count { margin-left: auto; padding-left: 10px; color: #6b7280;
      font-variant-numeric: tabular-nums; }
  .gp-legend .gp-swatch { width: 18px; height: 12px; border-radius: 2px; flex: none; box-sizing: border-box; }
  .gp-legend .gp-hint { margin-top: 6px; color: #6b7280; font-size: 12px; white-space: normal;
      max-width: 200px; }
  .gp-community-label span { position: absolute; transform: translate(-50%, -50%); white-space: nowrap;
      font-size: 15px; font-weight: 700; color: #111827; pointer-events: none;
      text-shadow: 0 0 2px #fff, 0 0 4px #fff, 0 0 6px #fff; }
  .gp-labels-hidden .gp-community-label { display: none; }
  .gp-tooltip { font-size: 13px; }
  .gp-tooltip th { font-weight: normal; color: #6b7280; padding-right: 8px; text-align: left; }
  .gp-notice { position: absolute; top: 40%; left: 50%; transform: translate(-50%, -50%); z-index: 1000;
      background: rgba(255, 255, 255, 0.96); padding: 16px 24px; border-radius: 8px; color: #1f2937;
      box-shadow: 0 2px 10px rgba(0, 0, 0, 0.3); font-size: 16px; text-align: center; }
</style>
"""
"""Legend, label, tooltip and notice styles of every map page."""


# --- inputs -------------------------------------------------------------------------------------------------


def checked_frame(
    frame: Any,
    arg: str,
    required: tuple[str, ...],
    problems: ProblemList,
    geom_types: tuple[str, ...] | None = None,
) -> Any:
    """``frame`` in EPSG:4326 without rows lacking a geometry; its problems are added to ``problems``.

    A problem names ``arg`` (or ``arg.column``) for a frame that is no GeoDataFrame, has no CRS, lacks a
    ``required`` column or, with ``geom_types`` (e.g. ``("Polygon", "MultiPolygon")``), holds another
    geometry type. With problems the frame comes back unchanged.
    """
    before = len(problems.problems)
    if not isinstance(frame, gpd.GeoDataFrame):
        problems.add("type", f"'{arg}' should be a GeoDataFrame, got {type(frame)}", field=arg)
        return frame
    if frame.crs is None:
        problems.add("crs", f"'{arg}' has no CRS; set it (EPSG:4326 for longitude/latitude)", field=arg)
    for column in required:
        if column not in frame.columns:
            problems.add("column", f"'{arg}' lacks the column {column!r}", field=f"{arg}.{column}")
    if len(problems.problems) > before:
        return frame
    if frame.crs.to_epsg() != 4326:
        frame = frame.to_crs(4326)
    present = frame.geometry.notna() & ~frame.geometry.is_empty
    frame = frame.loc[present].reset_index(drop=True)
    if geom_types is not None:
        _check_geometry_types(frame, arg, geom_types, problems)
    return frame


def _check_geometry_types(
    frame: gpd.GeoDataFrame, arg: str, geom_types: tuple[str, ...], problems: ProblemList
) -> None:
    types = frame.geom_type
    wrong = ~types.isin(list(geom_types))
    if wrong.any():
        found = sorted(set(types[wrong]))
        problems.add(
            "geometry_type",
            f"'{arg}' should hold {' or '.join(geom_types)} geometries, got {', '.join(found)} "
            f"({int(wrong.sum())} of {len(frame)} rows)",
            field=arg,
        )


# --- map and GeoJSON ----------------------------------------------------------------------------------------


class OwnBasemap(MacroElement):
    """Our own basemap (``tiles="gridpatrol"``) on a folium map: a hidden element naming the map and its
    attribution, which ``static/js/basemap-folium.js`` (added by :func:`maps.assets.use_local_assets`) finds and
    draws the vector tiles of /tiles/ under (static/js/basemap.js)."""

    _template = Template(
        """{% macro html(this, kwargs) %}<div hidden class="gp-basemap-config" data-map="{{ this._parent.get_name() }}"
 data-attribution="{{ this.attribution|e }}"></div>{% endmacro %}"""
    )

    def __init__(self, attribution: str | None) -> None:
        super().__init__()
        self._name = "OwnBasemap"
        self.attribution = attribution or ""


def base_map(
    frames: list[gpd.GeoDataFrame | None], tiles: str | None, tile_attribution: str | None
) -> folium.Map:
    """A map fitted to the first non-empty frame of ``frames``; with none, :data:`EMPTY_CENTER` at zoom 4.
    ``tiles="gridpatrol"``: our own basemap (:class:`OwnBasemap`), else a folium tile name or URL (or None)."""
    own = own_basemap(tiles)
    folium_tiles, attr = (None, None) if own else (tiles, tile_attribution)
    extent = next((f for f in frames if f is not None and len(f)), None)
    if extent is None:
        m = folium.Map(location=EMPTY_CENTER, zoom_start=4, tiles=folium_tiles, attr=attr, control_scale=True)
    else:
        minx, miny, maxx, maxy = extent.total_bounds
        m = folium.Map(
            location=((miny + maxy) / 2, (minx + maxx) / 2),
            zoom_start=14,
            tiles=folium_tiles,
            attr=attr,
            control_scale=True,
        )
        m.fit_bounds([[miny, minx], [maxy, maxx]], padding=(16, 16), max_zoom=18)
    if own:
        m.add_child(OwnBasemap(tile_attribution))
    return m


def pane(layer: str) -> str:
    """The name of the Leaflet pane of ``layer`` (panes keep the drawing order when layers are toggled)."""
    return f"gridpatrol-{layer}"


def constant(style: Mapping[str, Any]) -> Callable[[Any], dict[str, Any]]:
    """A folium style function giving every feature (a copy of) ``style``."""
    return lambda feature: dict(style)


def display_frame(
    frame: gpd.GeoDataFrame, fields: Mapping[str, str], labels: Mapping[str, str]
) -> tuple[gpd.GeoDataFrame, dict[str, str]]:
    """A copy whose ``fields`` columns hold escaped display text, and the fields it has (column -> label).

    ``labels["missing"]`` stands for a missing value.
    """
    shown = {column: label for column, label in fields.items() if column in frame.columns}
    text = {column: [display_text(value, labels["missing"]) for value in frame[column]] for column in shown}
    return frame.assign(**text), shown


def feature_collection(frame: gpd.GeoDataFrame, properties: Mapping[str, str]) -> dict[str, Any]:
    """A GeoJSON dict with only ``properties`` and coordinates rounded to :data:`PRECISION` decimals."""
    slim = gpd.GeoDataFrame(
        frame[list(properties)],
        geometry=shapely.transform(frame.geometry.values, lambda xy: xy.round(PRECISION)),
        crs=4326,
    )
    return slim.to_geo_dict(na="null")


def tooltip(fields: Mapping[str, str]) -> folium.GeoJsonTooltip:
    """A sticky tooltip table of ``fields`` (column -> label) whose values :func:`display_frame` escaped."""
    return folium.GeoJsonTooltip(
        fields=list(fields), aliases=list(fields.values()), sticky=True, class_name="gp-tooltip"
    )


# --- values -------------------------------------------------------------------------------------------------


def number(value: Any) -> float | None:
    """``value`` as a float; ``None`` for a missing value (None, NaN, NaT)."""
    return None if value is None or pd.isna(value) else float(value)


def display_text(value: Any, missing: str) -> str:
    """Display text, HTML-escaped: folium's tooltips insert property values with innerHTML."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return missing
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return f"{value:,.0f}" if float(value).is_integer() else f"{value:,}"
    return esc(str(value)) or missing


# --- legend rows --------------------------------------------------------------------------------------------


def legend_row(swatch_style: str, label: str, count: int | None) -> str:
    """A legend row: a swatch styled by ``swatch_style`` (CSS), the escaped ``label``, an optional count."""
    return _row(f'<span class="gp-swatch" style="{swatch_style}"></span>', label, count)


def line_row(style: str, label: str, count: int | None) -> str:
    """A legend row for a line style: ``style`` sets the border-top of a short horizontal line."""
    return _row(f'<span class="gp-line" style="{style}"></span>', label, count)


def dot_row(style: str, label: str) -> str:
    """A legend row for a point marker: a dot styled by ``style``."""
    return f'<div class="gp-row"><span class="gp-dot" style="{style}"></span><span>{esc(label)}</span></div>'


def count_row(label: str, count: int) -> str:
    """A legend row of a label and a count, without a swatch."""
    return f'<div class="gp-row"><span>{esc(label)}</span><span class="gp-count">{count:,}</span></div>'


def _row(symbol: str, label: str, count: int | None) -> str:
    count_html = "" if count is None else f'<span class="gp-count">{count:,}</span>'
    return f'<div class="gp-row">{symbol}<span>{esc(label)}</span>{count_html}</div>'


# --- controls -----------------------------------------------------------------------------------------------


class Stylesheet(folium.MacroElement):
    """A ``<style>`` block for the page header."""

    _template = Template("{% macro header(this, kwargs) %}{{ this.css }}{% endmacro %}")

    def __init__(self, css: str) -> None:
        super().__init__()
        self._name = "Stylesheet"
        self.css = css


class Legend(folium.MacroElement):
    """Legend HTML written into the page, then moved into a Leaflet control beside the other controls."""

    _template = Template(
        """
        {% macro html(this, kwargs) %}
        <div id="{{ this.get_name() }}" class="gp-legend">{{ this.body }}</div>
        {% endmacro %}
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.control({position: "bottomright"});
        {{ this.get_name() }}.onAdd = function () {
            var div = document.getElementById("{{ this.get_name() }}");
            L.DomEvent.disableClickPropagation(div);
            L.DomEvent.disableScrollPropagation(div);
            return div;
        };
        {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, body: str) -> None:
        super().__init__()
        self._name = "Legend"
        self.body = body


class Notice(folium.MacroElement):
    """A message over the map, for when there is nothing to draw."""

    _template = Template(
        """
        {% macro html(this, kwargs) %}
        <div class="gp-notice" role="status">{{ this.text }}</div>
        {% endmacro %}
        """
    )

    def __init__(self, text: str) -> None:
        super().__init__()
        self._name = "Notice"
        self.text = esc(text)


class HideLabelsBelow(folium.MacroElement):
    """Marks the map container ``gp-labels-hidden`` while zoomed out below ``min_zoom``; CSS hides labels."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function (map) {
            function toggle() {
                map.getContainer().classList.toggle("gp-labels-hidden", map.getZoom() < {{ this.min_zoom }});
            }
            map.on("zoomend", toggle);
            toggle();
        })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, min_zoom: int) -> None:
        super().__init__()
        self._name = "HideLabelsBelow"
        self.min_zoom = int(min_zoom)


class LayerLegend(folium.MacroElement):
    """A legend control shown only while ``layer`` is on the map (it follows the layer control's box)."""

    _template = Template(
        """
        {% macro html(this, kwargs) %}
        <div id="{{ this.get_name() }}" class="gp-legend">{{ this.body }}</div>
        {% endmacro %}
        {% macro script(this, kwargs) %}
        (function (map, layer) {
            var div = document.getElementById("{{ this.get_name() }}");
            L.DomEvent.disableClickPropagation(div);
            L.DomEvent.disableScrollPropagation(div);
            var control = L.control({position: "bottomright"});
            control.onAdd = function () { return div; };
            function sync() {
                if (map.hasLayer(layer)) { control.addTo(map); } else { control.remove(); }
            }
            layer.on("add remove", sync);
            sync();
        })({{ this._parent.get_name() }}, {{ this.layer.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, layer: Layer, body: str) -> None:
        super().__init__()
        self._name = "LayerLegend"
        self.layer = layer
        self.body = body
