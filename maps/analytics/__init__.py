"""Analysis maps for supervisors: case heat, hot spots, patrol coverage, all cases by bounding box, grids.

Renders only, like :mod:`maps.overview` (both build on :mod:`maps.leaflet`): the frames come from a
read model in EPSG:4326 (other CRSs are reprojected, rows without geometry skipped) and the thresholds that
decide what is hot, covered or overdue were applied before. Every map has a legend, a layer control and a
scale bar; an empty frame gives a "no data" notice instead of a blank map. Everything the page loads comes
from ``static_prefix`` (``maps/static``: the vendored Leaflet and plugins, ``js/gridpatrol-cases.js``), so the
maps work without internet; only an external basemap's tiles are remote.

Basemaps and datums
-------------------
``tiles`` is ``"gridpatrol"`` (our own vector tiles from the app's ``/tiles/``, drawn by ``js/basemap.js``; what
the app's pages use by default), a folium tile name (default ``"OpenStreetMap"``), a URL template (then
``tile_attribution`` is required) or ``None`` for a plain background. AMap (Gaode) and Tencent tiles are drawn in
GCJ-02: pass ``datum="gcj02"`` with them and every coordinate drawn (layers, bounds, a route, and the cases fetched by
:func:`cases_map`, converted in the browser) is shifted from WGS-84 with :func:`geo.crs.wgs84_to_gcj02`;
otherwise everything lands 300–500 m off the streets. Tooltips still show the data, not shifted coordinates.

Modules
-------
``common`` labels, datums, option checks and the base map shared by the maps; ``heat`` :func:`heatmap_map`;
``hotspots`` :func:`hotspot_map`; ``coverage`` :func:`coverage_map`; ``cases`` :func:`cases_map`; ``grids``
:func:`grids_map`. Everything public is importable from ``maps.analytics`` itself.
"""

from maps.analytics.cases import OTHER_STATUS_COLOUR, OVERDUE_COLOUR, SHARE_COLOURS, STATUS_COLOURS, cases_map
from maps.analytics.common import DATUMS, LABELS
from maps.analytics.coverage import COVERAGE_BINS, coverage_map
from maps.analytics.grids import GRID_LABELS_MIN_ZOOM, grids_map
from maps.analytics.heat import CLOSED_STATUSES, HEAT_FLOOR, HEAT_GRADIENT, HEAT_OPTIONS, heatmap_map
from maps.analytics.hotspots import BIN_COLOURS, PATTERN_COLOURS, hotspot_map

__all__ = [
    "BIN_COLOURS",
    "CLOSED_STATUSES",
    "COVERAGE_BINS",
    "DATUMS",
    "GRID_LABELS_MIN_ZOOM",
    "HEAT_FLOOR",
    "HEAT_GRADIENT",
    "HEAT_OPTIONS",
    "LABELS",
    "OTHER_STATUS_COLOUR",
    "OVERDUE_COLOUR",
    "PATTERN_COLOURS",
    "SHARE_COLOURS",
    "STATUS_COLOURS",
    "cases_map",
    "coverage_map",
    "grids_map",
    "heatmap_map",
    "hotspot_map",
]
