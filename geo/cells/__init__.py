"""Cells for hotspot statistics: grids of cells, point counts per cell, and spatial weights between cells.

Three kinds of cells are supported, each with a fast way to count points and to find neighbours:

- a **fishnet** of metric squares (:func:`fishnet`): points are assigned by integer arithmetic, neighbours by
  index arithmetic (:func:`lattice`);
- **H3** hexagons (:func:`hexagons`, Uber's H3 grid, h3-py 4.x): points are assigned by cell id, neighbours by
  grid distance (:func:`h3_neighbours`);
- **any polygons**, e.g. the patrol grids of a community: points are assigned with a shapely STRtree,
  neighbours by shared vertices or edges (:func:`contiguity`). Points can also be neighbours of each other
  within a distance (:func:`distance_band`).

Spatial weights are ``scipy.sparse.csr_matrix`` of shape ``(n, n)``, positional in the cells (row ``i`` lists
the neighbours of cell ``i``), with a zero diagonal; :mod:`geo.hotspots` adds the self-weight of Gi* itself.
Builders warn with :class:`IslandWarning` when some cells have no neighbour; :func:`islands` lists them.

The weights agree with PySAL's ``libpysal.weights`` (``Queen``/``Rook.from_dataframe``, ``lat2W``,
``DistanceBand``) on the same input, except where documented (coincident points, polygon holes), but are built
with numpy and scipy alone.

Modules: :mod:`geo.cells.build` (cells and counting), :mod:`geo.cells.weights` (weights),
:mod:`geo.cells.checks` (shared types and argument checks).
"""

from __future__ import annotations

from geo.cells.build import (
    CELL_COLUMN,
    FISHNET_ATTR,
    H3_COLUMN,
    MAX_CELLS,
    WGS84,
    FishnetSpec,
    count_points,
    fishnet,
    hexagons,
)
from geo.cells.checks import PointsLike, Weights
from geo.cells.weights import (
    KINDS,
    IslandWarning,
    contiguity,
    distance_band,
    h3_neighbours,
    islands,
    lattice,
    row_standardise,
)

__all__ = [
    "CELL_COLUMN",
    "FISHNET_ATTR",
    "H3_COLUMN",
    "KINDS",
    "MAX_CELLS",
    "WGS84",
    "FishnetSpec",
    "IslandWarning",
    "PointsLike",
    "Weights",
    "contiguity",
    "count_points",
    "distance_band",
    "fishnet",
    "h3_neighbours",
    "hexagons",
    "islands",
    "lattice",
    "row_standardise",
]
