"""The H3 cell of each point, for storing with a row on insert (``patrol_case.h3_9``, issue 23)."""

from __future__ import annotations

from collections.abc import Sequence

import h3
import numpy as np

#: the resolution stored with every case (≈0.11 km² cells): the hotspot maps' default
STORED_RESOLUTION = 9


def h3_ids(lon: Sequence[float] | np.ndarray, lat: Sequence[float] | np.ndarray,
           resolution: int = STORED_RESOLUTION) -> list[str | None]:
    """The H3 cell id (text, as :func:`geo.cells.hexagons` names cells) of each lon/lat point; ``None`` where a
    coordinate is missing or not finite."""
    out: list[str | None] = []
    for x, y in zip(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float), strict=True):
        out.append(h3.latlng_to_cell(float(y), float(x), resolution)
                   if np.isfinite(x) and np.isfinite(y) and -90 <= y <= 90 and -180 <= x <= 180 else None)
    return out
