"""The case heat map: Leaflet.heat surfaces weighted by severity, one for all cases and one per category,
with open / closed / overdue-only switches (``js/gridpatrol-heat.js``).

See :mod:`maps.analytics` for tiles and datums.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import folium
import geopandas as gpd
import pandas as pd
from folium import plugins
from folium.elements import JSCSSMixin
from folium.map import Layer
from folium.template import Template

from geo.errors import ProblemList
from maps.analytics.common import (
    POINTS,
    check_numbers,
    check_options,
    finish,
    finish_empty,
    labels_of,
    new_map,
    plain,
    to_datum,
)
from maps.leaflet import PRECISION, Legend, checked_frame, count_row
from maps.templating import esc

__all__ = ["CLOSED_STATUSES", "HEAT_FLOOR", "HEAT_GRADIENT", "HEAT_OPTIONS", "heatmap_map"]

CLOSED_STATUSES: frozenset[str] = frozenset({"closed", "rejected", "duplicate"})
"""Default ``closed_statuses`` of :func:`heatmap_map`: the final states of ``patrol.cases.lifecycle.CLOSED``
(maps may not import ``patrol``; a caller holding that set should pass it)."""

HEAT_GRADIENT: dict[float, str] = {
    0.4: "#2563eb",
    0.6: "#06b6d4",
    0.7: "#65d80b",
    0.85: "#facc15",
    1.0: "#dc2626",
}
HEAT_OPTIONS: dict[str, Any] = {"radius": 22, "blur": 16, "min_opacity": 0.25, "max_zoom": None}
"""Leaflet.heat options. ``max_zoom`` stays unset: Leaflet.heat's option shares its name with ``L.Layer``'s,
and the layer control greys out a layer whose ``maxZoom`` is below the current zoom."""
HEAT_FLOOR = 1.0
"""Each case weighs ``weight / max weight``, summed per spot (Leaflet.heat's cells, scaled by zoom); the
heaviest spot in view is red, but it takes at least this many of the heaviest cases in one spot: a view with
only light cases stays faint (``js/gridpatrol-heat.js``)."""


def heatmap_map(
    cases: gpd.GeoDataFrame,
    *,
    lang: str = "zh",
    tiles: str | None = "OpenStreetMap",
    tile_attribution: str | None = None,
    datum: str = "wgs84",
    weight_column: str | None = "severity",
    category_labels: Mapping[Any, str] | None = None,
    closed_statuses: Collection[str] = CLOSED_STATUSES,
    static_prefix: str = "/static",
) -> folium.Map:
    """Cases as a Leaflet.heat surface weighted by severity: one layer for all cases, one per category.

    Parameters
    ----------
    cases
        Points, one row per case: ``category``, ``status``, ``overdue`` (bool) and ``weight_column``.
    weight_column
        Numeric column (≥ 0) weighting each case, default ``severity``; ``None`` weighs every case the same.
        A missing value counts as the smallest weight present.
    category_labels
        Display name of each ``category`` value (default: the value itself).
    closed_statuses
        Statuses that count as closed for the "open / closed" switches; every other status is open.
    lang, tiles, tile_attribution, datum, static_prefix
        See the module documentation; ``static_prefix`` is the URL where ``maps/static`` is served.

    The layer control lists "all cases" (shown) and each category (hidden: tick one to see it alone), then
    two switches, open and closed (both on), that filter every heat layer by status, and an "overdue only"
    switch (off).

    Raises
    ------
    GeoValidationError
        Naming ``cases`` (or ``cases.<column>``) for a missing column or CRS, a geometry that is not a point,
        or a negative or non-numeric weight.
    ValueError
        For an unknown ``lang`` or ``datum``, or a tile URL without attribution.
    """
    labels = labels_of(lang)
    cases = _checked_cases(cases, datum, tiles, tile_attribution, weight_column)
    m = new_map(cases, tiles, tile_attribution)
    if not len(cases):
        return finish_empty(m, labels, static_prefix)

    weights = _heat_weights(cases, weight_column)
    is_open = ~cases["status"].isin(list(closed_statuses))
    overdue = cases["overdue"].fillna(False).astype(bool)
    heat_layers = _heat_layers(cases, weights, is_open, overdue, category_labels, labels)
    for layer, _ in heat_layers:
        m.add_child(layer)
    switches = {
        "open": folium.FeatureGroup(f"{labels['open']} ({int(is_open.sum()):,})", show=True),
        "closed": folium.FeatureGroup(f"{labels['closed']} ({int((~is_open).sum()):,})", show=True),
        "overdue": folium.FeatureGroup(f"{labels['overdue_only']} ({int(overdue.sum()):,})", show=False),
    }
    for switch in switches.values():
        m.add_child(switch)
    m.add_child(_HeatFilter(heat_layers, switches, static_prefix))

    m.add_child(Legend(_heat_legend(cases, weight_column, is_open, overdue, labels)))
    m.add_child(folium.LayerControl(collapsed=False))
    return finish(m, static_prefix)


def _checked_cases(
    cases: Any, datum: str, tiles: Any, tile_attribution: str | None, weight_column: str | None
) -> gpd.GeoDataFrame:
    """``cases`` checked (GeoValidationError listing every problem) and moved to ``datum``."""
    check_options(datum, tiles, tile_attribution)
    required = ("category", "status", "overdue", *((weight_column,) if weight_column else ()))
    problems = ProblemList()
    cases = checked_frame(cases, "cases", required, problems, POINTS)
    if not problems and weight_column:
        check_numbers(cases[weight_column], f"cases.{weight_column}", problems, low=0.0)
    problems.raise_if_any()
    return to_datum(cases, datum)


def _heat_layers(
    cases: gpd.GeoDataFrame,
    weights: list[float],
    is_open: pd.Series,
    overdue: pd.Series,
    category_labels: Mapping[Any, str] | None,
    labels: Mapping[str, str],
) -> list[tuple[plugins.HeatMap, str]]:
    """The "all cases" layer and one per category (largest first), each with its flags (``_HeatFilter``)."""
    points = [
        [round(p.y, PRECISION), round(p.x, PRECISION), w]
        for p, w in zip(cases.geometry, weights, strict=True)
    ]
    # Per case one digit: 1 if open, + 2 if overdue (Leaflet.heat only takes [lat, lon, weight] points).
    flags = "".join(str(int(o) + 2 * int(d)) for o, d in zip(is_open, overdue, strict=True))
    layers = [(_heat_layer(points, f"{labels['all_cases']} ({len(points):,})", show=True), flags)]
    names = _category_names(cases["category"], category_labels, labels)
    for name, rows in _groups(names):
        layer = _heat_layer(
            [points[i] for i in rows],
            f"{esc(labels['category_layer'].format(name=name))} ({len(rows):,})",
            show=False,
        )
        layers.append((layer, "".join(flags[i] for i in rows)))
    return layers


def _heat_weights(cases: gpd.GeoDataFrame, weight_column: str | None) -> list[float]:
    if not weight_column:
        return [1.0] * len(cases)
    values = pd.to_numeric(cases[weight_column], errors="coerce").astype(float)
    present = values.dropna()
    if present.empty or present.max() <= 0:
        return [1.0] * len(cases)
    values = values.fillna(present.min())
    return [round(v, 4) for v in (values / present.max()).tolist()]


def _heat_layer(points: list[list[float]], name: str, *, show: bool) -> plugins.HeatMap:
    return plugins.HeatMap(points, name=name, show=show, overlay=True, gradient=HEAT_GRADIENT, **HEAT_OPTIONS)


def _heat_legend(
    cases: gpd.GeoDataFrame,
    weight_column: str | None,
    is_open: pd.Series,
    overdue: pd.Series,
    labels: Mapping[str, str],
) -> str:
    if weight_column:
        raw = pd.to_numeric(cases[weight_column], errors="coerce").dropna()
        low, high = (plain(raw.min()), plain(raw.max())) if len(raw) else ("—", "—")
        column = labels.get(f"column:{weight_column}", weight_column)
        weight = labels["heat_weight"].format(column=column, low=low, high=high)
    else:
        weight = labels["heat_equal"]
    stops = ", ".join(
        ["transparent 0%", *(f"{colour} {stop * 100:.0f}%" for stop, colour in HEAT_GRADIENT.items())]
    )
    rows = [
        f"<h4>{esc(labels['heat_title'])}</h4>",
        f'<div class="gp-ramp" style="background: linear-gradient(to right, {stops})"></div>',
        (
            f'<div class="gp-ramp-ends"><span>{esc(labels["heat_low"])}</span>'
            f"<span>{esc(labels['heat_high'])}</span></div>"
        ),
        f'<div class="gp-hint">{esc(weight)}</div>',
        f'<div class="gp-sub">{esc(labels["cases"])}</div>',
        count_row(labels["open"], int(is_open.sum())),
        count_row(labels["closed"], int((~is_open).sum())),
        count_row(labels["overdue"], int(overdue.sum())),
        f'<div class="gp-hint">{esc(labels["heat_hint"])}</div>',
    ]
    return "\n".join(rows)


class _HeatFilter(JSCSSMixin, folium.MacroElement):
    """Loads ``js/gridpatrol-heat.js``: every heat layer scales to the heaviest spot in view (at least
    :data:`HEAT_FLOOR` heaviest cases) and is filtered by the open / closed / overdue-only switches.

    Each layer comes with a string of one digit per point: 1 if the case is open, plus 2 if it is overdue.
    The switches are empty FeatureGroups, so the layer control shows them as check boxes and their add /
    remove events trigger the filter.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        L.gridpatrolHeat.filter(
            {{ this._parent.get_name() }},
            [{% for layer, flags in this.layers %}
                [L.gridpatrolHeat.autoMax({{ layer.get_name() }}, {{ this.floor }}), {{ flags|tojson }}],
            {% endfor %}],
            {{ this.switches.open.get_name() }},
            {{ this.switches.closed.get_name() }},
            {{ this.switches.overdue.get_name() }}
        );
        {% endmacro %}
        """
    )

    def __init__(
        self, layers: Sequence[tuple[Layer, str]], switches: Mapping[str, Layer], static_prefix: str
    ) -> None:
        super().__init__()
        self._name = "HeatFilter"
        self.layers = layers
        self.switches = switches
        self.floor = HEAT_FLOOR
        self.default_js = [("gridpatrol-heat", f"{static_prefix.rstrip('/')}/js/gridpatrol-heat.js")]


def _category_names(
    values: pd.Series, category_labels: Mapping[Any, str] | None, labels: Mapping[str, str]
) -> list[str]:
    names = []
    for value in values:
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            names.append(labels["uncategorised"])
        else:
            names.append(str((category_labels or {}).get(value, value)))
    return names


def _groups(names: list[str]) -> list[tuple[str, list[int]]]:
    """Row positions of each name, the largest group first (ties by name)."""
    rows: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        rows.setdefault(name, []).append(i)
    return sorted(rows.items(), key=lambda item: (-len(item[1]), item[0]))
