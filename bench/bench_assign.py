"""Bulk point-in-polygon: geo.assign (bucket raster + exact GEOS test near edges) next to geopandas.sjoin and
a plain shapely STRtree query, on 1M random points over Liechtenstein.

Polygons (UTM 32N): ``voronoi`` — 10,000 Voronoi cells of random seeds in the country, clipped to its border
(7 vertices each); ``tessellation`` — the real building tessellation of geo.grids (8,994 cells, 46 vertices
each), the cells grids are built from. Points are uniform in the polygons' bounding box (about half fall
outside the country). Every method must give the same polygon per point: the lowest position among those that
cover it, -1 for none (sjoin and the STRtree give all pairs; the lowest is kept, which is part of their
timing). Goal: ours (build + query) ≥ 5× faster than sjoin. Wall and CPU time (``time.process_time``) are
both printed: on a shared machine the CPU ratio is the steadier one.

Run ``python bench/bench_assign.py [--points N] [--polygons voronoi,tessellation] [--repeat R]`` or ``make
bench``.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

import geo.assign
from geo.assign import assign_points, build_polygon_index

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "osm" / "liechtenstein_2015.osm.pbf"
METRIC = "EPSG:32632"


CPU: dict[str, float] = {}  # best CPU time (time.process_time) per method, next to the wall clock


def _best(func: Callable[[], Any], repeat: int, name: str = "") -> tuple[float, Any]:
    times, cpu, result = [], [], None
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        result = func()
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    CPU[name] = min(cpu)
    return min(times), result


def _voronoi(country: shapely.Geometry, n: int, rng: np.random.Generator) -> np.ndarray:
    minx, miny, maxx, maxy = country.bounds
    seeds = np.empty((0, 2))
    while len(seeds) < n:
        xy = rng.uniform((minx, miny), (maxx, maxy), (n, 2))
        seeds = np.concatenate((seeds, xy[shapely.contains_xy(country, xy[:, 0], xy[:, 1])]))
    cells = shapely.voronoi_polygons(shapely.multipoints(seeds[:n]), extend_to=country.envelope)
    return shapely.intersection(shapely.get_parts(cells), country)


def _polygons(kind: str, city: Any, country: shapely.Geometry) -> np.ndarray:
    if kind == "voronoi":
        return _voronoi(country, 10_000, np.random.default_rng(1))
    if kind == "tessellation":
        from geo.grids.tessellation import building_tessellation

        cells = building_tessellation(country, city.buildings.to_crs(METRIC).geometry)
        return np.asarray(cells.array)
    raise SystemExit(f"unknown polygons {kind!r}: voronoi or tessellation")


def _lowest(n: int, which: np.ndarray, poly: np.ndarray) -> np.ndarray:
    out = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(out, which, poly)
    out[out == np.iinfo(np.int64).max] = -1
    return out


def run(kind: str, city: Any, country: shapely.Geometry, n_points: int, repeat: int) -> None:
    t = time.perf_counter()
    polygons = _polygons(kind, city, country)
    made = time.perf_counter() - t
    polys = gpd.GeoDataFrame(geometry=polygons, crs=METRIC)
    rng = np.random.default_rng(2)
    minx, miny, maxx, maxy = polys.total_bounds
    x, y = rng.uniform(minx, maxx, n_points), rng.uniform(miny, maxy, n_points)
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y), crs=METRIC)
    vertices = shapely.get_num_coordinates(polygons).mean()
    print(
        f"\n{kind}: {len(polygons):,} polygons, {geo.assign.THREADS} thread(s), "
        f"{geo.assign.BUCKETS_PER_POLYGON} buckets per polygon ({vertices:.0f} vertices on average, "
        f"made in {made:.1f} s), "
        f"{n_points:,} random points"
    )

    build, index = _best(lambda: build_polygon_index(polys), repeat, "ours: build")
    query, ours = _best(lambda: index.query(points), repeat, "ours: query, points (built once)")
    query_xy, ours_xy = _best(lambda: index.query_xy(x, y), repeat, "ours: query, x/y arrays")
    one_call, ours_once = _best(lambda: assign_points(points, polys), repeat, "ours: build + query (one call)")
    threads, geo.assign.THREADS = geo.assign.THREADS, 1
    try:
        one_thread, ours_single = _best(lambda: assign_points(points, polys), repeat, "ours: build + query, 1 thread")
    finally:
        geo.assign.THREADS = threads

    def sjoin() -> np.ndarray:
        joined = gpd.sjoin(points, polys, predicate="intersects", how="left")
        right = joined["index_right"].to_numpy()
        found = ~np.isnan(right)
        return _lowest(n_points, joined.index.to_numpy()[found], right[found].astype(np.int64))

    sjoin_s, theirs = _best(sjoin, repeat, "geopandas.sjoin + lowest")

    def strtree() -> np.ndarray:
        tree = shapely.STRtree(polygons)
        which, poly = tree.query(points.geometry.array, predicate="intersects")
        return _lowest(n_points, which, poly)

    strtree_s, tree_result = _best(strtree, repeat, "shapely STRtree + lowest")

    same = all(np.array_equal(ours, other) for other in (ours_xy, ours_once, ours_single, theirs, tree_result))
    near = index.boundary_share
    print(
        f"index: {index.shape[0]} × {index.shape[1]} buckets of {index.cell:.1f} m, {near:.1%} touched by an "
        f"edge; {(ours >= 0).mean():.1%} of the points in a polygon; "
        f"identical assignment: {'yes' if same else 'NO'}"
    )
    rows = [
        ("ours: build + query (one call)", one_call),
        ("ours: build + query, 1 thread", one_thread),
        ("ours: build", build),
        ("ours: query, points (built once)", query),
        ("ours: query, x/y arrays", query_xy),
        ("geopandas.sjoin + lowest", sjoin_s),
        ("shapely STRtree + lowest", strtree_s),
    ]
    sjoin_cpu = CPU["geopandas.sjoin + lowest"]
    print(f"{'method':<36}{'time':>10}{'sjoin / this':>14}{'CPU time':>12}{'sjoin / this':>14}")
    for name, seconds in rows:
        print(
            f"{name:<36}{seconds:>8.3f} s{sjoin_s / seconds:>13.1f}×{CPU[name]:>10.3f} s"
            f"{sjoin_cpu / CPU[name]:>13.1f}×"
        )
    if not same:
        raise SystemExit("assignments differ")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument(
        "--polygons", default="voronoi,tessellation", help="comma-separated: voronoi, tessellation"
    )
    parser.add_argument("--repeat", type=int, default=3, help="best of R runs per method")
    parser.add_argument("--buckets-per-polygon", type=int, default=geo.assign.BUCKETS_PER_POLYGON,
                        help="geo.assign.BUCKETS_PER_POLYGON for this run (tuning)")
    args, _ = parser.parse_known_args(argv)  # bench/run.py leaves its own arguments (bench names) in sys.argv
    geo.assign.BUCKETS_PER_POLYGON = args.buckets_per_polygon
    print(f"load average at start: {' '.join(f'{v:.2f}' for v in os.getloadavg())} (2 cores, shared)")
    if not DATA.exists():
        print(f"skipped: {DATA} not found")
        return
    from geo.osm import read_osm

    city = read_osm(DATA)
    country = city.boundaries.loc[city.boundaries["admin_level"] == 2].to_crs(METRIC).geometry.iloc[0]
    for kind in args.polygons.split(","):
        run(kind.strip(), city, country, args.points, args.repeat)


if __name__ == "__main__":
    main()
