"""The hot spot map: cells coloured by Getis-Ord Gi* confidence bin and, switchable, by emerging hot spot
pattern, each with its own legend. See :mod:`maps.analytics` for tiles and datums."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import folium
import geopandas as gpd
import pandas as pd
from folium.map import CustomPane

from geo.errors import ProblemList
from geo.hotspots import NO_PATTERN, pattern_name
from maps.analytics.common import (
    HIGHLIGHT,
    POLYGONS,
    check_numbers,
    check_options,
    finish,
    finish_empty,
    labels_of,
    new_map,
    plain,
    to_datum,
)
from maps.leaflet import (
    LayerLegend,
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

__all__ = ["BIN_COLOURS", "PATTERN_COLOURS", "hotspot_map"]

BIN_COLOURS: dict[int, str] = {
    3: "#d62f27",
    2: "#ed7551",
    1: "#fab984",
    0: "#d4d4d4",
    -1: "#c0ccbe",
    -2: "#849eba",
    -3: "#4575b5",
}
"""Fill of each Gi_Bin, ArcGIS's Hot Spot Analysis palette (not significant: light grey, faint)."""

_HOT_PATTERN_COLOURS = (
    "#ff1f1f",
    "#e8590c",
    "#99000d",
    "#cb181d",
    "#fc9272",
    "#fdbb84",
    "#c51b7d",
    "#8c6d31",
)
_COLD_PATTERN_COLOURS = (
    "#1f5bff",
    "#1c7ed6",
    "#08306b",
    "#2171b5",
    "#9ecae1",
    "#a5d8ff",
    "#6a51a3",
    "#35978f",
)
PATTERN_COLOURS: dict[str, str] = {
    **{pattern_name(i + 1): c for i, c in enumerate(_HOT_PATTERN_COLOURS)},
    **{pattern_name(-(i + 1)): c for i, c in enumerate(_COLD_PATTERN_COLOURS)},
    NO_PATTERN: "#d4d4d4",
}
"""Fill of each emerging hot spot pattern: reds for hot, blues for cold, magenta / purple for oscillating."""


def hotspot_map(
    cells: gpd.GeoDataFrame,
    *,
    lang: str = "zh",
    tiles: str | None = "OpenStreetMap",
    tile_attribution: str | None = None,
    datum: str = "wgs84",
    emerging: Sequence[Any] | pd.Series | None = None,
    static_prefix: str = "/static",
) -> folium.Map:
    """Cells coloured by Getis-Ord Gi* confidence bin, and optionally by emerging hot spot pattern.

    Parameters
    ----------
    cells
        Polygons, one row per cell: ``bin`` (Gi_Bin, an integer −3 … +3, see :func:`geo.hotspots.gi_bin`),
        ``count``, ``z``, ``p_fdr``; optional ``pattern`` (an emerging hot spot pattern per cell).
    emerging
        Patterns per cell, aligned with the rows of ``cells``: ArcGIS names (``"New Hot Spot"`` …
        ``"No Pattern Detected"``, :func:`geo.hotspots.pattern_name`) or their codes −8 … 8, e.g.
        ``EmergingHotspots.pattern``. Overrides a ``pattern`` column. A missing value means no pattern.

    The bins layer is shown with its legend; the pattern layer (when there are patterns) is off at first and
    its legend appears when it is switched on. Tooltips give the count, z, p and both classes.

    Raises
    ------
    GeoValidationError
        Naming ``cells`` / ``cells.<column>`` (missing column or CRS, not polygons, a bin outside −3 … 3, an
        unknown pattern) or ``emerging`` (wrong length).
    """
    labels = labels_of(lang)
    check_options(datum, tiles, tile_attribution)
    cells, bins, patterns = _checked_cells(cells, emerging, datum)
    m = new_map(cells, tiles, tile_attribution)
    if not len(cells):
        return finish_empty(m, labels, static_prefix)
    m.add_child(CustomPane(pane("cells"), z_index=410, pointer_events=False))

    display, shown = _cells_display(cells, bins, patterns, labels)
    name = f"{labels['hotspots']} ({len(cells):,})"
    bins_layer = _cells_layer(display, shown, "gp_bin", name, _bin_style, show=True)
    m.add_child(bins_layer)
    m.add_child(LayerLegend(bins_layer, _bins_legend(bins, labels)))
    if patterns is not None and len(patterns):
        name = labels["emerging"]
        pattern_layer = _cells_layer(display, shown, "gp_pattern", name, _pattern_style, show=False)
        m.add_child(pattern_layer)
        m.add_child(LayerLegend(pattern_layer, _patterns_legend(patterns, labels)))
    m.add_child(folium.LayerControl(collapsed=False))
    return finish(m, static_prefix)


def _checked_cells(
    cells: Any, emerging: Sequence[Any] | pd.Series | None, datum: str
) -> tuple[gpd.GeoDataFrame, pd.Series, pd.Series | None]:
    """``cells`` (with ``emerging`` as its ``pattern`` column) in ``datum``, their bins as integers and their
    pattern names (None without patterns); GeoValidationError listing every problem."""
    problems = ProblemList()
    if emerging is not None and isinstance(cells, gpd.GeoDataFrame):
        emerging = list(emerging)
        if len(emerging) != len(cells):
            problems.add(
                "length",
                f"'emerging' should have one pattern per row of 'cells' ({len(cells)}), got {len(emerging)}",
                field="emerging",
            )
        else:
            cells = cells.assign(pattern=emerging)
    cells = checked_frame(cells, "cells", ("bin", "count", "z", "p_fdr"), problems, POLYGONS)
    bins, patterns = pd.Series(dtype=float), None
    if not problems:
        bins = check_numbers(cells["bin"], "cells.bin", problems, low=-3, high=3, integer=True)
        patterns = _patterns(cells["pattern"], problems) if "pattern" in cells else None
    problems.raise_if_any()
    return to_datum(cells, datum), bins.astype(int), patterns


def _cells_display(
    cells: gpd.GeoDataFrame, bins: pd.Series, patterns: pd.Series | None, labels: Mapping[str, str]
) -> tuple[gpd.GeoDataFrame, dict[str, str]]:
    """The cells with tooltip text (confidence, count, z, p, pattern) and the style keys ``gp_bin`` and
    ``gp_pattern``; the tooltip's fields (column -> label)."""
    display = cells.assign(
        gp_bin=bins,
        confidence=[labels[f"bin_{b}"] for b in bins],
        count=[plain(v) for v in cells["count"]],
        z=[_decimal(v, 2) for v in cells["z"]],
        p_fdr=[_p_value(v) for v in cells["p_fdr"]],
    )
    fields = {
        "confidence": labels["confidence"],
        "count": labels["count"],
        "z": labels["z"],
        "p_fdr": labels["p"],
    }
    if patterns is not None and len(patterns):
        display = display.assign(gp_pattern=patterns, pattern=[labels[f"pattern:{p}"] for p in patterns])
        fields["pattern"] = labels["pattern"]
    return display_frame(display, fields, labels)


def _cells_layer(
    display: gpd.GeoDataFrame,
    shown: Mapping[str, str],
    style_key: str,
    name: str,
    style: Callable[[Mapping[str, Any]], dict[str, Any]],
    *,
    show: bool,
) -> folium.GeoJson:
    """The cells styled by ``style`` from their ``style_key`` property, with the tooltip ``shown``."""
    return folium.GeoJson(
        feature_collection(display, {**shown, style_key: ""}),
        name=name,
        show=show,
        style_function=style,
        highlight_function=constant(HIGHLIGHT),
        tooltip=tooltip(shown),
        pane=pane("cells"),
    )


def _bins_legend(bins: pd.Series, labels: Mapping[str, str]) -> str:
    counts = bins.value_counts()
    rows = [
        f"<h4>{esc(labels['hotspot_title'])}</h4>",
        *(
            legend_row(_swatch(BIN_COLOURS[b], b == 0), labels[f"bin_{b}"], int(counts.get(b, 0)))
            for b in (3, 2, 1, 0, -1, -2, -3)
        ),
    ]
    return "\n".join(rows)


def _patterns_legend(patterns: pd.Series, labels: Mapping[str, str]) -> str:
    """Rows of the patterns present: hot ones first, then cold, then no pattern."""
    counts = patterns.value_counts()
    order = [pattern_name(c) for c in (*range(1, 9), *range(-1, -9, -1), 0)]
    rows = [
        f"<h4>{esc(labels['emerging'])}</h4>",
        *(
            legend_row(_swatch(PATTERN_COLOURS[p], p == NO_PATTERN), labels[f"pattern:{p}"], int(counts[p]))
            for p in order
            if counts.get(p, 0)
        ),
    ]
    return "\n".join(rows)


def _bin_style(feature: Mapping[str, Any]) -> dict[str, Any]:
    b = feature["properties"]["gp_bin"]
    if b == 0:
        return {
            "fillColor": BIN_COLOURS[0],
            "fillOpacity": 0.15,
            "color": "#9ca3af",
            "weight": 0.4,
            "opacity": 0.6,
        }
    return {
        "fillColor": BIN_COLOURS[b],
        "fillOpacity": 0.8,
        "color": "#ffffff",
        "weight": 0.6,
        "opacity": 0.9,
    }


def _pattern_style(feature: Mapping[str, Any]) -> dict[str, Any]:
    p = feature["properties"]["gp_pattern"]
    if p == NO_PATTERN:
        return {"fillColor": PATTERN_COLOURS[p], "fillOpacity": 0.1, "color": "#9ca3af", "weight": 0.4}
    return {"fillColor": PATTERN_COLOURS[p], "fillOpacity": 0.8, "color": "#ffffff", "weight": 0.6}


def _patterns(values: pd.Series, problems: ProblemList) -> pd.Series:
    """Pattern names from names or codes; missing values become :data:`geo.hotspots.NO_PATTERN`."""
    known = {pattern_name(c) for c in range(-8, 9)}
    out: list[str] = []
    bad: list[str] = []
    for value in values:
        is_code = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            out.append(NO_PATTERN)
        elif isinstance(value, str) and value in known:
            out.append(value)
        elif is_code and float(value).is_integer() and -8 <= value <= 8:  # codes; 1.0 from a column with NaN
            out.append(pattern_name(int(value)))
        else:
            out.append(NO_PATTERN)
            bad.append(repr(value))
    if bad:
        problems.add(
            "bad_value",
            f"'cells.pattern' (or 'emerging') holds unknown patterns {', '.join(sorted(set(bad))[:5])}; "
            "expected "
            "the ArcGIS names of geo.hotspots.pattern_name ('New Hot Spot' … 'Historical Cold Spot', "
            "'No Pattern Detected') or their codes -8 … 8",
            field="cells.pattern",
        )
    return pd.Series(out, index=values.index)


def _swatch(colour: str, faint: bool) -> str:
    """A legend swatch for a cell fill (as drawn: 0.8 opaque, or faint with a grey outline)."""
    if faint:
        return f"background: {colour}55; border: 1px solid #9ca3af"
    return f"background: {colour}cc"


def _decimal(value: Any, digits: int) -> str | None:
    x = number(value)
    return None if x is None else f"{x:.{digits}f}"


def _p_value(value: Any) -> str | None:
    x = number(value)
    if x is None:
        return None
    return "< 0.001" if x < 0.001 else f"{x:.3f}"
