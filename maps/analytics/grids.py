"""The grids map: grid boundaries filled by whether they have a grid worker, with their codes as labels when
zoomed in. See :mod:`maps.analytics` for tiles and datums."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import folium
import geopandas as gpd
import pandas as pd
from folium.map import CustomPane

from geo.errors import ProblemList
from maps.analytics.common import (
    HIGHLIGHT,
    POLYGONS,
    check_options,
    fill_swatch,
    finish,
    finish_empty,
    labels_of,
    new_map,
    to_datum,
)
from maps.leaflet import (
    HideLabelsBelow,
    Legend,
    checked_frame,
    constant,
    display_frame,
    feature_collection,
    legend_row,
    pane,
    tooltip,
)
from maps.templating import esc

__all__ = ["GRID_LABELS_MIN_ZOOM", "GRID_STYLES", "grids_map"]

GRID_LABELS_MIN_ZOOM = 15
"""Grid codes are shown as labels from this zoom on (15-digit codes would cover each other further out)."""

GRID_STYLES: dict[str, dict[str, Any]] = {
    "assigned": {"color": "#1e3a8a", "weight": 1.5, "fillColor": "#93c5fd", "fillOpacity": 0.3},
    "unassigned": {"color": "#1e3a8a", "weight": 1.5, "fillColor": "#f59e0b", "fillOpacity": 0.5},
}
"""Grids with a grid worker (light blue) and without (amber)."""


def grids_map(
    grids: gpd.GeoDataFrame,
    *,
    lang: str = "zh",
    tiles: str | None = "OpenStreetMap",
    tile_attribution: str | None = None,
    datum: str = "wgs84",
    static_prefix: str = "/static",
) -> folium.Map:
    """Grid boundaries with their codes (as labels from zoom :data:`GRID_LABELS_MIN_ZOOM`) and grid workers.

    Parameters
    ----------
    grids
        Polygons: ``code``, ``households``, ``worker`` (display name; missing means unassigned, filled amber);
        optional ``name``.

    Raises
    ------
    GeoValidationError
        Naming ``grids`` / ``grids.<column>`` for a missing column or CRS or a geometry that is no polygon.
    """
    labels = labels_of(lang)
    check_options(datum, tiles, tile_attribution)
    problems = ProblemList()
    grids = checked_frame(grids, "grids", ("code", "households", "worker"), problems, POLYGONS)
    problems.raise_if_any()
    grids = to_datum(grids, datum)

    m = new_map(grids, tiles, tile_attribution)
    if not len(grids):
        return finish_empty(m, labels, static_prefix)
    m.add_child(CustomPane(pane("grids"), z_index=410, pointer_events=False))

    assigned = grids["worker"].notna() & (grids["worker"].astype(str).str.strip() != "")
    display = grids.assign(
        worker=grids["worker"].astype(object).where(assigned, labels["unassigned"]), gp_assigned=assigned
    )
    fields = {
        "code": labels["code"],
        "name": labels["name"],
        "households": labels["households"],
        "worker": labels["worker"],
    }
    display, shown = display_frame(display, fields, labels)
    m.add_child(
        folium.GeoJson(
            feature_collection(display, {**shown, "gp_assigned": ""}),
            name=f"{labels['grids']} ({len(grids):,})",
            style_function=lambda f: dict(
                GRID_STYLES["assigned" if f["properties"]["gp_assigned"] else "unassigned"]
            ),
            highlight_function=constant(HIGHLIGHT),
            tooltip=tooltip(shown),
            pane=pane("grids"),
        )
    )
    m.add_child(_codes_layer(display["code"], grids, labels))
    m.add_child(HideLabelsBelow(GRID_LABELS_MIN_ZOOM))
    m.add_child(Legend(_legend(assigned, labels)))
    m.add_child(folium.LayerControl(collapsed=False))
    return finish(m, static_prefix)


def _codes_layer(codes: Any, grids: gpd.GeoDataFrame, labels: Mapping[str, str]) -> folium.FeatureGroup:
    """Each grid's (escaped) code as a label at a point inside it."""
    layer = folium.FeatureGroup(name=labels["grid_codes"], overlay=True)
    for code, point in zip(codes, grids.geometry.representative_point(), strict=True):
        folium.Marker(
            (point.y, point.x),
            icon=folium.DivIcon(html=f"<span>{code}</span>", icon_size=(0, 0), class_name="gp-grid-label"),
            interactive=False,
            keyboard=False,
        ).add_to(layer)
    return layer


def _legend(assigned: pd.Series, labels: Mapping[str, str]) -> str:
    rows = [
        f"<h4>{esc(labels['grids_title'])}</h4>",
        legend_row(fill_swatch(GRID_STYLES["assigned"]), labels["assigned"], int(assigned.sum())),
        legend_row(fill_swatch(GRID_STYLES["unassigned"]), labels["not_assigned"], int((~assigned).sum())),
        f'<div class="gp-hint">{esc(labels["zoom_for_codes"].format(zoom=GRID_LABELS_MIN_ZOOM))}</div>',
    ]
    return "\n".join(rows)
