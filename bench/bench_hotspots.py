"""Gi* hot spots: gridpatrol (geo.cells + geo.hotspots, scipy sparse) against PySAL (libpysal weights +
esda.G_Local).

Cases: a 100 x 100 fishnet (queen lattice), 10,000 irregular Voronoi polygons ("Columbus-like" neighbourhoods,
queen contiguity from shared vertices) and a 1000 x 1000 fishnet (queen lattice, 1M cells). For each, the time
to build the weights and to compute Gi* (``star=True``, binary, analytical p-values, no permutations) on the
same Poisson counts, the ratio PySAL / ours, and the largest difference between the two sets of z-scores.

At 1M cells libpysal's ``lat2W`` + ``G_Local`` on a ``W`` take about half a minute; ``--no-esda-1m`` skips
them (the row then shows esda on a ``libpysal.graph.Graph`` built from our sparse matrix only, which is
faster).

Run alone (``python bench/bench_hotspots.py [--repeat 3] [--no-esda-1m]``) or with every benchmark from
``bench/run.py``.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable

import geopandas as gpd
import numpy as np
import shapely

from geo.cells import contiguity, lattice
from geo.hotspots import getis_ord


def _timed(fn: Callable[[], object], repeat: int = 1) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def _voronoi(n: int, seed: int) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    side = float(np.sqrt(n)) * 100.0
    points = shapely.points(rng.uniform(0, side, (n, 2)))
    box = shapely.box(0, 0, side, side)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(points), extend_to=box))
    cells = shapely.intersection(cells, box)
    return gpd.GeoDataFrame(geometry=cells, crs="EPSG:32650")


def _esda(y: np.ndarray, w: object) -> np.ndarray:
    from esda.getisord import G_Local

    return G_Local(y, w, transform="B", star=True, permutations=0).Zs


def _case(name: str, y: np.ndarray, ours_w: Callable[[], object], pysal_w: Callable[[], object] | None,
          repeat: int) -> tuple:
    t_w, w = _timed(ours_w, repeat)
    t_gi, result = _timed(lambda: getis_ord(y, w, star=True, transform="B"), repeat)
    if pysal_w is None:
        return name, len(y), t_w, t_gi, None, None, None
    p_w, pw = _timed(pysal_w)
    p_gi, z = _timed(lambda: _esda(y, pw))
    diff = float(np.nanmax(np.abs(result.z - z)))
    return name, len(y), t_w, t_gi, p_w, p_gi, diff


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3,
                        help="best of N runs for gridpatrol (PySAL runs once)")
    parser.add_argument("--no-esda-1m", action="store_true", help="skip libpysal lat2W + esda W at 1M cells")
    args = parser.parse_args(argv)

    from libpysal import weights as lw
    from libpysal.graph import Graph

    rng = np.random.default_rng(0)
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = rng.poisson(3.0, 10_000).astype(float)
        rows.append(_case("fishnet 100x100, queen lattice", y, lambda: lattice(100, 100),
                          lambda: lw.lat2W(100, 100, rook=False), args.repeat))
        polygons = _voronoi(10_000, seed=1)
        rows.append(_case("10k Voronoi polygons, queen", y, lambda: contiguity(polygons, kind="queen"),
                          lambda: lw.Queen.from_dataframe(polygons, use_index=False), args.repeat))
        y = rng.poisson(3.0, 1_000_000).astype(float)
        if args.no_esda_1m:
            rows.append(_case("fishnet 1000x1000, esda on Graph", y, lambda: lattice(1000, 1000),
                              lambda: Graph.from_sparse(lattice(1000, 1000)), args.repeat))
        else:
            rows.append(_case("fishnet 1000x1000, queen lattice", y, lambda: lattice(1000, 1000),
                              lambda: lw.lat2W(1000, 1000, rook=False), args.repeat))

    print(f"{'case':<34}{'cells':>10}{'weights':>10}{'Gi*':>8}{'total':>8}  |"
          f"{'weights':>9}{'Gi*':>8}{'total':>8}"
          f"{'ratio':>7}{'max|dz|':>10}")
    print(f"{'':<34}{'':>10}{'gridpatrol (s)':>26}  |{'libpysal + esda (s)':>25}")
    for name, n, t_w, t_gi, p_w, p_gi, diff in rows:
        ours = t_w + t_gi
        line = f"{name:<34}{n:>10,}{t_w:>10.3f}{t_gi:>8.3f}{ours:>8.3f}  |"
        if p_w is None:
            line += f"{'not run':>25}"
        else:
            theirs = p_w + p_gi
            line += f"{p_w:>9.2f}{p_gi:>8.2f}{theirs:>8.2f}{theirs / ours:>7.0f}{diff:>10.1e}"
        print(line)
    print("ratio = libpysal + esda total / gridpatrol total; "
          "max|dz| = largest difference of the Gi* z-scores")


if __name__ == "__main__":
    # bench/run.py passes the names of the benchmarks it runs (bench_…) on its command line: not our options
    main([a for a in sys.argv[1:] if not a.startswith("bench_")])
