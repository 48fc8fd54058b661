"""Street coverage of patrol tracks ("不留死角"): geo.coverage (k-d tree over track pieces, exact
point-to-segment distances from 1 m street pieces) next to the obvious exact shapely method (buffer the track
lines by 25 m, union, intersect with the streets), on Liechtenstein's real streets and SIMULATED patrols.

The GPS fixes are simulated: random walks along the real walkable streets, a fix every 8 m (6.7 s at 1.2 m/s)
with 3 m Gaussian noise, 4 km per patrol over 30 days. Grids are the 11 communities. The shapely method took
~300 s and 4 GB for 1M fixes, so by default it runs on the first 100k fixes only (ours on both); ``--full``
runs it on all. Goals: the same covered share to 0.01 percentage point, ≥ 10× faster, 1M fixes ≤ 1.5 s.

Run ``python bench/bench_coverage.py [--fixes N] [--small N] [--full]`` or ``make bench``.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyproj
import shapely
from walks import street_graph, street_walk  # bench/walks.py (the benchmarks run as scripts from bench/)

from geo.coverage import buffer_coverage, grid_coverage, prepare_coverage

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "osm" / "liechtenstein_2015.osm.pbf"
SPACING_M, NOISE_M, PATROL_M, WALK_MS = 8.0, 3.0, 4000.0, 1.2


def simulate(lines: np.ndarray, crs: pyproj.CRS, n_fixes: int, seed: int = 2026) -> pd.DataFrame:
    """SIMULATED fixes: random walks (no immediate U-turns) on the graph of street vertices."""
    rng = np.random.default_rng(seed)
    coords, which = shapely.get_coordinates(lines, return_index=True)
    nodes, indptr, indices = street_graph(coords, which, 2)
    starts = np.flatnonzero(np.diff(indptr) > 0)
    to_wgs = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    t0 = pd.Timestamp("2026-03-01T08:00:00+08:00")
    frames, total, patrol = [], 0, 0
    while total < n_fixes:
        pts, cum = street_walk(nodes, indptr, indices, int(rng.choice(starts)), PATROL_M, rng)
        d = np.arange(rng.uniform(0, SPACING_M), cum[-1], SPACING_M)
        x = np.interp(d, cum, pts[:, 0]) + rng.normal(0, NOISE_M, d.size)
        y = np.interp(d, cum, pts[:, 1]) + rng.normal(0, NOISE_M, d.size)
        lon, lat = to_wgs.transform(x, y)
        start = t0 + pd.Timedelta(days=int(rng.integers(30)), minutes=int(rng.integers(540)))
        frames.append(
            pd.DataFrame(
                {
                    "patrol_id": patrol,
                    "time": start + pd.to_timedelta(d / WALK_MS, unit="s"),
                    "lon": lon,
                    "lat": lat,
                    "flag": None,
                }
            )
        )
        total += d.size
        patrol += 1
    return pd.concat(frames, ignore_index=True).iloc[:n_fixes]


def share(table: pd.DataFrame) -> float:
    return float(table["covered_m"].sum() / table["street_m"].sum() * 100)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixes", type=int, default=1_000_000, help="simulated fixes for ours (default 1M)")
    parser.add_argument(
        "--small", type=int, default=100_000, help="fixes for the side-by-side run (default 100k)"
    )
    parser.add_argument(
        "--full", action="store_true", help="also run the shapely method on all the fixes (slow)"
    )
    parser.add_argument("--distance", type=float, default=25.0)
    args, _ = parser.parse_known_args(argv)  # bench/run.py leaves its own arguments (bench names) in sys.argv
    if not DATA.exists():
        print(f"skipped: {DATA} not found")
        return
    from geo.osm import read_osm

    city = read_osm(DATA)
    communities = city.boundaries[city.boundaries["admin_level"] == 8][["name", "geometry"]]
    t = time.perf_counter()
    base = prepare_coverage(communities.rename(columns={"name": "code"}), city.roads)
    prepare_s = time.perf_counter() - t
    street_km = base.targets.length.sum() / 1000
    print(
        f"prepare (once per street network): {prepare_s:.2f} s — {len(base.streets):,} walkable streets, "
        f"{street_km:,.0f} km in {len(base.codes)} grids, {base.targets.length.size:,} pieces of ≤ 1 m"
    )
    t = time.perf_counter()
    fixes = simulate(base.parts, base.targets.crs, args.fixes)
    print(
        f"SIMULATED {len(fixes):,} fixes in {fixes['patrol_id'].nunique():,} patrols "
        f"({time.perf_counter() - t:.1f} s to simulate)"
    )

    sizes = sorted({min(args.small, len(fixes)), len(fixes)})
    rows = []
    cpu: dict[int, float] = {}
    for n in sizes:
        subset = fixes.iloc[:n]
        t, c = time.perf_counter(), time.process_time()
        ours = grid_coverage(base, subset, distance_m=args.distance, flag=None).grids
        ours_s = time.perf_counter() - t
        cpu[n] = time.process_time() - c
        theirs_s, theirs = None, None
        if n == sizes[0] or args.full:
            t = time.perf_counter()
            theirs = buffer_coverage(base, subset, distance_m=args.distance, flag=None)
            theirs_s = time.perf_counter() - t
        rows.append(
            (
                n,
                ours_s,
                share(ours),
                theirs_s,
                None if theirs is None else share(theirs),
                None
                if theirs is None
                else float(np.nanmax(np.abs(ours["coverage_pct"] - theirs["coverage_pct"]))),
            )
        )

    print(
        f"\n{'fixes':>10}{'ours':>10}{'+prepare':>10}{'shapely':>11}{'ours %':>10}{'shapely %':>11}"
        f"{'diff':>9}{'worst grid':>12}{'ratio':>8}{'+prepare':>10}{'ours CPU':>10}"
    )
    for n, ours_s, ours_pct, theirs_s, theirs_pct, worst in rows:
        if theirs_s is None or theirs_pct is None or worst is None:
            print(
                f"{n:>10,}{ours_s:>8.2f} s{ours_s + prepare_s:>8.2f} s{'(not run)':>11}{ours_pct:>10.3f}"
                f"{'':>50}{cpu[n]:>8.2f} s"
            )
            continue
        print(
            f"{n:>10,}{ours_s:>8.2f} s{ours_s + prepare_s:>8.2f} s{theirs_s:>9.1f} s{ours_pct:>10.3f}"
            f"{theirs_pct:>11.3f}{ours_pct - theirs_pct:>+9.3f}{worst:>12.3f}{theirs_s / ours_s:>7.0f}×"
            f"{theirs_s / (ours_s + prepare_s):>9.0f}×{cpu[n]:>8.2f} s"
        )
    print(
        "diff: ours − shapely, percentage points of the whole network; worst grid: largest |difference| of a "
        "grid's share; ratio: shapely time / ours (the shapely method is given the clipped streets for free); "
        "ours CPU: time.process_time of ours (steadier than the wall clock on a shared machine)"
    )
    print(f"load average at end: {' '.join(f'{v:.2f}' for v in os.getloadavg())} (2 cores, shared)")


if __name__ == "__main__":
    main()
