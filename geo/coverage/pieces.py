"""What a set of tracks covered, kept apart from the prepared base so it can be stored and reused: per grid, the
covered street pieces as runs of offsets within that grid's pieces, the covered buildings, and the distance and
time patrolled in whole µm / µs (exact sums in any order).

Offsets within a grid do not depend on which other grids a base was prepared with: a grid's street pieces are
the walkable streets clipped to that grid, in street order, cut into ``step_m`` pieces (see
:mod:`geo.coverage.streets`). A base prepared for a whole city and one prepared for a single community therefore
agree on every grid they share, as long as the streets are given in the same order. Coverage is a union over
tracks, so the pieces of many days (or workers) OR together: :func:`coverage_from_pieces` gives exactly what
:func:`geo.coverage.grid_coverage` gives for all their fixes at once — except where one patrol's track crosses
a boundary between the pieces' periods (the one segment joining the last fix before it to the first after).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from geo.coverage.measure import Coverage, _coverage, _measure, _Partial
from geo.coverage.streets import DISTANCE_M, TRACK_PIECE_SHARE, CoverageBase, check_measure_args
from geo.coverage.track import build_track
from geo.errors import GeoValidationError

#: One grid's covered pieces: ``n`` (the grid's street pieces, to detect a changed base), ``runs`` (flat list of
#: [first, end) offsets of covered pieces), ``track_um`` and ``patrol_us`` (integers).
GridPieces = dict[str, Any]


def _blocks(base: CoverageBase) -> tuple[np.ndarray, np.ndarray]:
    """First piece and piece count of each grid position (pieces are ordered by grid)."""
    piece_grid = base.part_grid[base.targets.part]
    n = base.codes.size
    first = np.searchsorted(piece_grid, np.arange(n), side="left")
    last = np.searchsorted(piece_grid, np.arange(n), side="right")
    return first, last - first


def covered_pieces(base: CoverageBase, fixes: Any, *, distance_m: float = DISTANCE_M, period: Any = None,
                   by: str = "patrol_id", time: str = "time", lon: str = "lon", lat: str = "lat",
                   flag: str | None = "flag") -> tuple[dict[str, GridPieces], list[Any]]:
    """Per grid code, what the tracks of ``fixes`` covered (only grids with something), and the ids of the
    buildings they came near. Arguments as for :func:`geo.coverage.grid_coverage` (in-memory frames only)."""
    check_measure_args(distance_m, period)
    track = build_track(fixes, base.targets.crs, piece_m=float(distance_m) * TRACK_PIECE_SHARE, period=period,
                        by=by, time=time, lon=lon, lat=lat, flag=flag)
    partial = _measure(base.targets, track, float(distance_m))
    first, count = _blocks(base)
    out: dict[str, GridPieces] = {}
    for g in range(base.codes.size):
        block = partial.street[first[g]:first[g] + count[g]]
        um, us = int(partial.track_m[g]), int(partial.patrol_s[g])
        if not (block.any() or um or us):
            continue
        edges = np.flatnonzero(np.diff(np.r_[0, block.astype(np.int8), 0]))
        out[str(base.codes[g])] = {"n": int(count[g]), "runs": edges.tolist(), "track_um": um, "patrol_us": us}
    return out, base.building_ids[partial.building].tolist()


def coverage_from_pieces(base: CoverageBase, pieces: Iterable[dict[str, GridPieces]],
                         buildings: Iterable[Any] = (), visited: Iterable[Any] | None = None) -> Coverage:
    """The :class:`geo.coverage.Coverage` of the union of stored pieces (grids of ``base`` only) and the covered
    buildings (those of ``base``), as :func:`geo.coverage.grid_coverage` reports it.

    Raises GeoValidationError when a grid's piece count differs from the base's (streets or grids changed
    since the pieces were measured)."""
    partial = _Partial.zeros(base.targets)
    first, count = _blocks(base)
    pos = {str(c): i for i, c in enumerate(base.codes)}
    track_m, patrol_s = partial.track_m.copy(), partial.patrol_s.copy()
    street = partial.street.copy()
    for by_grid in pieces:
        for code, p in by_grid.items():
            g = pos.get(str(code))
            if g is None:
                continue
            if int(p["n"]) != int(count[g]):
                raise GeoValidationError(f"grid {code} has {int(count[g])} street pieces now, {p['n']} when its "
                                         "coverage was stored (streets or grids changed)", field="pieces")
            runs = np.asarray(p["runs"], dtype=np.int64).reshape(-1, 2) + first[g]
            for a, b in runs:
                street[a:b] = True
            track_m[g] += p["track_um"]
            patrol_s[g] += p["patrol_us"]
    building = np.asarray(pd.Index(base.building_ids).isin(list(buildings)), dtype=bool)
    total = _Partial(street, building, track_m, patrol_s, np.empty(0, dtype=object))
    return _coverage(base, total, visited)
