"""The patrol coverage map ("不留死角"): grids by street coverage, streets and buildings patrolled or not, and
patrol tracks. See :mod:`maps.analytics` for tiles and datums."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import folium
import geopandas as gpd
import pandas as pd
from folium.map import CustomPane

from geo.errors import ProblemList
from maps.analytics.common import (
    HIGHLIGHT,
    LINES,
    POLYGONS,
    check_numbers,
    check_options,
    fill_swatch,
    finish,
    finish_empty,
    labels_of,
    new_map,
    to_datum,
)
from maps.leaflet import (
    Legend,
    checked_frame,
    constant,
    display_frame,
    feature_collection,
    legend_row,
    line_row,
    number,
    pane,
    tooltip,
)
from maps.templating import esc

__all__ = ["COVERAGE_BINS", "COVERAGE_STYLES", "coverage_map"]

COVERAGE_BINS: tuple[tuple[float, str], ...] = (
    (20.0, "#f2f0f7"),
    (40.0, "#cbc9e2"),
    (60.0, "#9e9ac8"),
    (80.0, "#756bb1"),
    (100.0, "#54278f"),
)
"""Upper bound (exclusive, 100 inclusive) of each coverage class in percent, and its fill (ColorBrewer
Purples, so red / green streets and blue tracks stay readable on top)."""
_NO_COVERAGE_COLOUR = "#e5e7eb"

COVERAGE_STYLES: dict[str, dict[str, Any]] = {
    "covered_street": {"color": "#16a34a", "weight": 2, "opacity": 0.9},
    "uncovered_street": {"color": "#dc2626", "weight": 5, "opacity": 0.95, "lineCap": "round"},
    "covered_building": {"color": "#6b7280", "weight": 0.6, "fillColor": "#d1d5db", "fillOpacity": 0.8},
    "blind_building": {"color": "#7c2d12", "weight": 1.5, "fillColor": "#f97316", "fillOpacity": 0.95},
    "track": {"color": "#2563eb", "weight": 3.5, "opacity": 0.85},
    "coverage_grid": {"color": "#ffffff", "weight": 1.5, "opacity": 1.0, "fillOpacity": 0.6},
}
"""Leaflet path styles: streets patrolled (thin green) or not (bold red), buildings, tracks, grid outlines."""


def coverage_map(
    grids: gpd.GeoDataFrame,
    segments: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame | None = None,
    tracks: gpd.GeoDataFrame | None = None,
    *,
    lang: str = "zh",
    tiles: str | None = "OpenStreetMap",
    tile_attribution: str | None = None,
    datum: str = "wgs84",
    static_prefix: str = "/static",
) -> folium.Map:
    """Patrol coverage ("不留死角"): grids by street coverage, streets and buildings patrolled or not, tracks.

    Parameters
    ----------
    grids
        Polygons: ``code``, ``coverage_pct`` (0–100; missing when the grid has no street); optional ``name``,
        ``building_pct``. As :func:`geo.coverage.grid_coverage` returns them, with their geometry.
    segments
        LineStrings of street runs with ``covered`` (bool): uncovered ones are drawn bold red, covered thin
        green; optional ``name``, ``code`` in the tooltip.
    buildings
        Optional polygons with ``covered`` (bool): blind spots (not covered) in orange, the others grey.
    tracks
        Optional LineStrings of the patrols shown (one worker and day, say), drawn blue; optional
        ``worker``, ``started``, ``ended`` (shown as given: convert them to local time first), ``length_m``.

    Raises
    ------
    GeoValidationError
        Listing every missing column, missing CRS, wrong geometry type or coverage outside 0–100, each naming
        its argument (``grids``, ``segments``, ``buildings``, ``tracks``).
    """
    labels = labels_of(lang)
    check_options(datum, tiles, tile_attribution)
    grids, segments, buildings, tracks = _checked_frames(grids, segments, buildings, tracks, datum)
    frames = [f for f in (grids, segments, buildings, tracks) if f is not None and len(f)]
    m = new_map(frames[0] if frames else grids, tiles, tile_attribution)
    if not frames:
        return finish_empty(m, labels, static_prefix)
    for name, z_index in {"grids": 410, "buildings": 420, "streets": 430, "tracks": 440}.items():
        m.add_child(CustomPane(pane(name), z_index=z_index, pointer_events=False))

    legend = [f"<h4>{esc(labels['coverage_title'])}</h4>"]
    if len(grids):
        legend += _add_grids(m, grids, labels)
    legend += _add_streets(m, segments, labels)
    if buildings is not None:
        legend += _add_buildings(m, buildings, labels)
    if tracks is not None:
        legend += _add_tracks(m, tracks, labels)
    m.add_child(Legend("\n".join(legend)))
    m.add_child(folium.LayerControl(collapsed=False))
    return finish(m, static_prefix)


def _checked_frames(
    grids: Any, segments: Any, buildings: Any, tracks: Any, datum: str
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame | None, gpd.GeoDataFrame | None]:
    """The four frames checked together (one GeoValidationError lists every problem), moved to ``datum``."""
    problems = ProblemList()
    grids = checked_frame(grids, "grids", ("code", "coverage_pct"), problems, POLYGONS)
    segments = checked_frame(segments, "segments", ("covered",), problems, LINES)
    if buildings is not None:
        buildings = checked_frame(buildings, "buildings", ("covered",), problems, POLYGONS)
    if tracks is not None:
        tracks = checked_frame(tracks, "tracks", (), problems, LINES)
    if not problems:
        check_numbers(
            grids["coverage_pct"], "grids.coverage_pct", problems, low=0, high=100, allow_missing=True
        )
    problems.raise_if_any()
    return (
        to_datum(grids, datum),
        to_datum(segments, datum),
        None if buildings is None else to_datum(buildings, datum),
        None if tracks is None else to_datum(tracks, datum),
    )


def _add_grids(m: folium.Map, grids: gpd.GeoDataFrame, labels: Mapping[str, str]) -> list[str]:
    """Adds the grids filled by coverage class; returns their legend rows."""
    classes = [_coverage_class(v) for v in grids["coverage_pct"]]
    display = grids.assign(
        gp_fill=[_NO_COVERAGE_COLOUR if c is None else COVERAGE_BINS[c][1] for c in classes],
        coverage_pct=[_percent(v, labels) for v in grids["coverage_pct"]],
    )
    if "building_pct" in display:
        display["building_pct"] = [_percent(v, labels) for v in display["building_pct"]]
    fields = {
        "code": labels["code"],
        "name": labels["name"],
        "coverage_pct": labels["coverage"],
        "building_pct": labels["building_coverage"],
    }
    display, shown = display_frame(display, fields, labels)
    m.add_child(
        folium.GeoJson(
            feature_collection(display, {**shown, "gp_fill": ""}),
            name=f"{labels['coverage_grids']} ({len(grids):,})",
            style_function=lambda f: {
                **COVERAGE_STYLES["coverage_grid"],
                "fillColor": f["properties"]["gp_fill"],
            },
            highlight_function=constant(HIGHLIGHT),
            tooltip=tooltip(shown),
            pane=pane("grids"),
        )
    )
    return _grids_legend(classes, labels)


def _grids_legend(classes: list[int | None], labels: Mapping[str, str]) -> list[str]:
    """Rows of the coverage classes, highest first, with their grid counts; grids without streets last."""
    counts = pd.Series([c for c in classes if c is not None], dtype=object).value_counts()
    rows = [f'<div class="gp-sub">{esc(labels["coverage"])}</div>']
    for i, (high, colour) in reversed(list(enumerate(COVERAGE_BINS))):
        low = 0 if i == 0 else COVERAGE_BINS[i - 1][0]
        rows.append(
            legend_row(
                fill_swatch({**COVERAGE_STYLES["coverage_grid"], "fillColor": colour, "color": "#d1d5db"}),
                f"{low:.0f}–{high:.0f}%",
                int(counts.get(i, 0)),
            )
        )
    missing = sum(c is None for c in classes)
    if missing:
        rows.append(legend_row(f"background: {_NO_COVERAGE_COLOUR}", labels["no_streets"], missing))
    return rows


def _add_streets(m: folium.Map, segments: gpd.GeoDataFrame, labels: Mapping[str, str]) -> list[str]:
    """Adds the patrolled and the unpatrolled streets as two layers; returns their legend rows."""
    fields = {"name": labels["name"], "code": labels["code"]}
    rows = []
    for covered, key in ((True, "streets_covered"), (False, "streets_uncovered")):
        style = COVERAGE_STYLES["covered_street" if covered else "uncovered_street"]
        n = _covered_part(m, segments, covered, fields, labels, key, style, "streets")
        swatch = f"border-top-width: {style['weight']}px; border-top-color: {style['color']}"
        rows.append(line_row(swatch, labels[key], n))
    return rows


def _add_buildings(m: folium.Map, buildings: gpd.GeoDataFrame, labels: Mapping[str, str]) -> list[str]:
    """Adds the blind-spot and the patrolled buildings as two layers; returns their legend rows."""
    fields = {"name": labels["name"], "use": labels["use"]}
    rows = []
    for covered, key in ((False, "buildings_blind"), (True, "buildings_covered")):
        style = COVERAGE_STYLES["covered_building" if covered else "blind_building"]
        n = _covered_part(m, buildings, covered, fields, labels, key, style, "buildings")
        swatch = f"background: {style['fillColor']}; border: 1px solid {style['color']}"
        rows.append(legend_row(swatch, labels[key], n))
    return rows


def _add_tracks(m: folium.Map, tracks: gpd.GeoDataFrame, labels: Mapping[str, str]) -> list[str]:
    """Adds the tracks (when there are any) with worker, time and length; returns their legend row."""
    display = tracks.assign(gp_time=[_period(a, b) for a, b in _columns(tracks, "started", "ended")])
    if "length_m" in display:
        display["length_m"] = [_length(v) for v in display["length_m"]]
    fields = {"worker": labels["worker"], "gp_time": labels["time"], "length_m": labels["length"]}
    if "started" not in tracks and "ended" not in tracks:
        del fields["gp_time"]
    display, shown = display_frame(display, fields, labels)
    track = COVERAGE_STYLES["track"]
    if len(tracks):
        m.add_child(
            folium.GeoJson(
                feature_collection(display, shown),
                name=f"{labels['tracks']} ({len(tracks):,})",
                style_function=constant(track),
                highlight_function=constant({"weight": 6}),
                tooltip=tooltip(shown) if shown else None,
                pane=pane("tracks"),
            )
        )
    swatch = f"border-top-width: 3px; border-top-color: {track['color']}"
    return [line_row(swatch, labels["tracks"], len(tracks))]


def _covered_part(
    m: folium.Map,
    frame: gpd.GeoDataFrame,
    covered: bool,
    fields: Mapping[str, str],
    labels: Mapping[str, str],
    key: str,
    style: Mapping[str, Any],
    pane_name: str,
) -> int:
    """Adds the rows of ``frame`` whose ``covered`` equals ``covered`` as one layer; returns their number."""
    part = frame.loc[frame["covered"].fillna(False).astype(bool) == covered]
    if len(part):
        display, shown = display_frame(part, fields, labels)
        m.add_child(
            folium.GeoJson(
                feature_collection(display, shown),
                name=f"{labels[key]} ({len(part):,})",
                style_function=constant(style),
                tooltip=tooltip(shown) if shown else None,
                pane=pane(pane_name),
            )
        )
    return len(part)


def _coverage_class(value: Any) -> int | None:
    """The index in :data:`COVERAGE_BINS` of a percentage; None when missing (a grid without streets)."""
    x = number(value)
    if x is None:
        return None
    return next(i for i, (high, _) in enumerate(COVERAGE_BINS) if x < high or high == 100.0)


def _columns(frame: pd.DataFrame, *names: str) -> Iterable[tuple[Any, ...]]:
    """Rows of the ``names`` columns of ``frame``; a column it lacks gives None."""
    columns = [frame[n] if n in frame else pd.Series([None] * len(frame), index=frame.index) for n in names]
    return zip(*columns, strict=True)


def _percent(value: Any, labels: Mapping[str, str]) -> str:
    x = number(value)
    return labels["no_streets"] if x is None else f"{x:.1f}%"


def _length(value: Any) -> str | None:
    """A length in metres for people: "850 m", "1.25 km"."""
    x = number(value)
    if x is None:
        return None
    return f"{x / 1000:.2f} km" if x >= 1000 else f"{x:.0f} m"


def _period(start: Any, end: Any) -> str | None:
    """"start–end" as minutes, the end without its date when on the same day; one of them if only one."""

    def fmt(t: Any) -> str | None:
        if t is None or (not isinstance(t, str) and pd.isna(t)):
            return None
        try:
            return pd.Timestamp(t).strftime("%Y-%m-%d %H:%M")
        except (TypeError, ValueError):
            return str(t)

    a, b = fmt(start), fmt(end)
    if a and b:
        return f"{a}–{b[11:]}" if a[:10] == b[:10] else f"{a}–{b}"
    return a or b
