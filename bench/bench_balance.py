"""Grid rebalancing: geo.grids.balance.propose next to redrawing from scratch (geo.grids.partition.generate_grids)
and PySAL's spopt regionalisers (MaxPHeuristic, SKATER), on real OSM buildings.

Input per community (Liechtenstein 2015 municipalities, Porto centre parishes; households estimated from
footprints by ``patrol.city.osm_import.read_city``): the grids ``generate_grids`` draws (300–500 households), coded in
reading order; then two new apartment blocks (+200 households each) in its smallest grid push that grid out of
range, and every building gets Poisson cases of the last 90 days (mean 0.5 + households / 10). ``propose`` must put
every grid back in range while keeping the other grids and codes.

Cases: (1) one community of about 3,000 households (Eschen, Vitória); (2) a whole city, ``propose`` once per
community (Liechtenstein: 11 communities, ~9,000 buildings; Porto centre: 4 parishes); (3) on the same input as
(1), spopt's ``MaxPHeuristic`` (threshold = minimum households, the floor every region must reach; attributes =
standardised building x/y, so regions are compact; few iterations, it is slow) and ``Skater`` (as many regions as
``propose`` gives, attributes x/y; its floor counts buildings, not households: half the mean buildings per region,
at most the smallest island), both on the adjacency of the building tessellation (libpysal ``W``; islands joined
to their nearest building so that both solvers accept the graph). Every method's regions are drawn the same way
(tessellation cells unioned per region), and matched to the old grids by maximum household overlap (Hungarian),
which defines codes kept and households reassigned (households whose grid code changes).

Columns: in range = share of grids with 300–500 households; CV = coefficient of variation of households or cases
per grid; PP = mean Polsby-Popper compactness; multi = grids in several pieces; kept = old codes still in use;
moved = households reassigned; × ours = this method's time / propose's time. Goal: propose puts every grid in
range, keeps every old code, moves only the households of the grids it has to, and takes < 1 s per community.

Run ``python bench/bench_balance.py [--repeat R] [--maxp-iterations N] [--no-spopt]`` or ``make bench``.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.optimize import linear_sum_assignment
from scipy.sparse.csgraph import connected_components

from geo.grids.balance import cv, propose
from geo.grids.codes import assign_codes
from geo.grids.partition import building_adjacency, generate_grids
from geo.grids.tessellation import (
    SEGMENT_M,
    SHRINK_M,
    merge_fragments,
    polygonal,
    tidy_cells,
    union_by_label,
    voronoi_cells,
)

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "osm"
RANGE = (300, 500)


@dataclass
class Scenario:
    name: str
    community: shapely.Geometry
    buildings: gpd.GeoDataFrame  # households (two blocks added), workload
    grids: gpd.GeoDataFrame  # code, geometry: the grids before the new blocks
    old: np.ndarray  # old grid position of every building
    streets: gpd.GeoDataFrame
    generate_s: float


def _timed(fn: Callable[[], object], repeat: int = 1) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def _scenarios(path: Path) -> list[Scenario]:
    from patrol.city.osm_import import read_city

    model = read_city(path)
    crs = model.metric_crs
    communities = model.communities.to_crs(crs)
    buildings = model.buildings.to_crs(crs)
    roads = model.roads.to_crs(crs)
    out = []
    for number, row in communities.iterrows():
        inside = buildings.loc[buildings["community"] == number, ["households", "geometry"]].copy()
        inside.index = pd.Index([f"b{i}" for i in inside.index], name="building_id")
        area = row.geometry
        t = time.perf_counter()
        part = generate_grids(area, inside, households_range=RANGE)
        generate_s = time.perf_counter() - t
        grids = part.grids.assign(community_id=row["name"])
        grids["code"] = assign_codes(grids, district="110105", street=1, community=int(number) + 1)
        smallest = int(part.grids["households"].idxmin())
        members = part.assignment.index[part.assignment == smallest]
        inside.loc[inside.loc[members, "households"].sort_values().index[-2:], "households"] += 200
        rng = np.random.default_rng(int(number))
        inside["workload"] = rng.poisson(0.5 + inside["households"].to_numpy() / 10)
        out.append(Scenario(row["name"], area, inside, grids[["code", "geometry"]], part.assignment.to_numpy(),
                            roads[roads.intersects(area)], generate_s))
    return out


# --- measuring regions --------------------------------------------------------------------------------------------


def _measure(s: Scenario, labels: np.ndarray, shapes: np.ndarray) -> dict:
    """Quality of regions ``labels`` (0..k-1 per building) drawn as ``shapes``, matched to the old grids."""
    hh = s.buildings["households"].to_numpy(dtype=float)
    k, k_old = len(shapes), len(s.grids)
    totals = np.bincount(labels, weights=hh, minlength=k)
    cases = np.bincount(labels, weights=s.buildings["workload"].to_numpy(dtype=float), minlength=k)
    overlap = np.zeros((k_old, k))
    np.add.at(overlap, (s.old, labels), hh)
    rows, cols = linear_sum_assignment(overlap, maximize=True)
    good = overlap[rows, cols] > 0
    code_of = np.full(k, -1)
    code_of[cols[good]] = rows[good]
    moved = code_of[labels] != s.old
    area, perimeter = shapely.area(shapes), shapely.length(shapes)
    return {
        "buildings": len(hh), "grids": k,
        "in_range": int(((totals >= RANGE[0]) & (totals <= RANGE[1])).sum()),
        "hh_min": float(totals.min()), "hh_max": float(totals.max()),
        "hh": totals, "cases": cases,
        "pp": 4 * np.pi * area / np.maximum(perimeter, 1e-9) ** 2,
        "multi": int((shapely.get_num_geometries(shapes) > 1).sum()),
        "kept": int(good.sum()), "old": k_old, "moved": float(hh[moved].sum()),
    }


def _draw(s: Scenario, labels: np.ndarray) -> np.ndarray:
    """Regions as polygons, the way generate_grids draws grids: cells unioned per label, clipped once."""
    footprints = np.asarray(s.buildings.geometry.array)
    unclipped = voronoi_cells(s.community, footprints, shrink_m=SHRINK_M, segment_m=SEGMENT_M)
    present = ~shapely.is_missing(unclipped)
    keys, merged = union_by_label(unclipped[present], labels[present])
    shapes = np.full(labels.max() + 1, shapely.Polygon(), dtype=object)
    shapes[keys] = polygonal(shapely.intersection(merged, s.community))
    return merge_fragments(shapes, footprints, labels)


def _ours(s: Scenario, repeat: int) -> tuple[float, dict]:
    seconds, p = _timed(lambda: propose(s.community, s.buildings, s.grids, households_range=RANGE,
                                        streets=s.streets), repeat)
    position = pd.Index(p.grids["code"]).get_indexer(p.assignment.to_numpy())
    return seconds, _measure(s, position, p.grids.geometry.to_numpy())


def _scratch(s: Scenario) -> tuple[float, dict]:
    seconds, part = _timed(lambda: generate_grids(s.community, s.buildings, households_range=RANGE))
    return seconds, _measure(s, part.assignment.to_numpy(), part.grids.geometry.to_numpy())


def _spopt_input(s: Scenario) -> tuple[gpd.GeoDataFrame, object, np.ndarray]:
    """Tessellation cells with households and standardised x/y, libpysal weights with islands joined, and the
    size (buildings) of each connected piece of the original graph."""
    from libpysal.weights import WSP

    footprints = np.asarray(s.buildings.geometry.array)
    unclipped = voronoi_cells(s.community, footprints, shrink_m=SHRINK_M, segment_m=SEGMENT_M)
    cells = gpd.GeoSeries(tidy_cells(unclipped, s.community, footprints), crs=s.buildings.crs)
    graph = building_adjacency(cells).tolil()
    xy = shapely.get_coordinates(shapely.point_on_surface(footprints))
    pieces, piece = connected_components(graph, directed=False)
    sizes = np.bincount(piece)
    main = int(np.argmax(sizes))
    for p in range(pieces):
        if p == main:
            continue
        inner, outer = np.flatnonzero(piece == p), np.flatnonzero(piece != p)
        d = np.linalg.norm(xy[inner][:, None, :] - xy[outer][None, :, :], axis=2)
        a, b = np.unravel_index(np.argmin(d), d.shape)
        graph[inner[a], outer[b]] = graph[outer[b], inner[a]] = 1
    w = WSP(sparse.csr_matrix(graph, dtype=float)).to_W(silence_warnings=True)
    frame = gpd.GeoDataFrame(
        {"households": s.buildings["households"].to_numpy(dtype=float),
         "x": (xy[:, 0] - xy[:, 0].mean()) / xy[:, 0].std(), "y": (xy[:, 1] - xy[:, 1].mean()) / xy[:, 1].std()},
        geometry=cells.to_numpy(), crs=s.buildings.crs)
    return frame, w, sizes


def _maxp(s: Scenario, frame: gpd.GeoDataFrame, w: object, iterations: int) -> tuple[float, dict]:
    from spopt.region import MaxPHeuristic

    np.random.seed(0)  # spopt draws from numpy's global generator
    model = MaxPHeuristic(frame, w, ["x", "y"], "households", RANGE[0], 2,
                          max_iterations_construction=iterations, max_iterations_sa=iterations)
    seconds, _ = _timed(model.solve)
    labels = np.unique(np.asarray(model.labels_), return_inverse=True)[1].ravel()
    return seconds, _measure(s, labels, _draw(s, labels))


def _skater(s: Scenario, frame: gpd.GeoDataFrame, w: object, k: int, sizes: np.ndarray) -> tuple[float, dict]:
    from spopt.region import Skater

    floor = int(min(len(frame) // (2 * k), sizes.min() if len(sizes) > 1 else len(frame)))
    model = Skater(frame, w, ["x", "y"], n_clusters=k, floor=floor)
    seconds, _ = _timed(model.solve)
    labels = np.unique(np.asarray(model.labels_), return_inverse=True)[1].ravel()
    return seconds, _measure(s, labels, _draw(s, labels))


def _combine(parts: list[dict]) -> dict:
    """One row for several communities: counts summed, per-grid figures pooled."""
    out = {key: sum(p[key] for p in parts) for key in ("buildings", "grids", "in_range", "multi", "kept", "old",
                                                        "moved")}
    out["hh"] = np.concatenate([p["hh"] for p in parts])
    out["cases"] = np.concatenate([p["cases"] for p in parts])
    out["pp"] = np.concatenate([p["pp"] for p in parts])
    out["hh_min"], out["hh_max"] = float(out["hh"].min()), float(out["hh"].max())
    return out


def _line(case: str, method: str, m: dict, seconds: float, ours: float) -> str:
    return (f"{case:<32}{method:<22}{m['buildings']:>7,}{m['grids']:>6}{m['in_range'] / m['grids']:>9.0%}"
            f"{m['hh_min']:>6.0f}–{m['hh_max']:<5.0f}{cv(m['hh']):>7.2f}{cv(m['cases']):>8.2f}"
            f"{float(np.mean(m['pp'])):>6.2f}{m['multi']:>6}{m['kept']:>5}/{m['old']:<4}{m['moved']:>7,.0f}"
            f"{seconds:>9.2f}{seconds / ours:>8.1f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs of propose")
    parser.add_argument("--maxp-iterations", type=int, default=2,
                        help="construction and annealing iterations of MaxPHeuristic (it is slow)")
    parser.add_argument("--no-spopt", action="store_true", help="skip the spopt regionalisers")
    args = parser.parse_args(argv)
    cities = {"Liechtenstein": DATA / "liechtenstein_2015.osm.pbf", "Porto centre": DATA / "porto_centre.osm.pbf"}
    if not all(p.exists() for p in cities.values()):
        print(f"skipped: real data not found in {DATA}")
        return
    focus = {"Liechtenstein": "Eschen", "Porto centre": "Vitória"}
    header = (f"{'case':<32}{'method':<22}{'bldgs':>7}{'grids':>6}{'in range':>9}{'households':>12}"
              f"{'CV hh':>7}{'CV case':>8}{'PP':>6}{'multi':>6}{'kept':>10}{'moved':>7}{'time s':>9}{'× ours':>8}")
    lines = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for city, path in cities.items():
            scenarios = _scenarios(path)
            ours_parts, scratch_parts, ours_total, scratch_total = [], [], 0.0, 0.0
            for s in scenarios:
                seconds, m = _ours(s, args.repeat)
                ours_parts.append(m)
                ours_total += seconds
                scratch_s, scratch = _scratch(s)
                scratch_parts.append(scratch)
                scratch_total += scratch_s
                if s.name != focus[city]:
                    continue
                case = f"{s.name} ({s.buildings['households'].sum():,.0f} hh)"
                lines.append(_line(case, "propose", m, seconds, seconds))
                lines.append(_line(case, "generate_grids", scratch, scratch_s, seconds))
                if not args.no_spopt:
                    frame, w, sizes = _spopt_input(s)
                    maxp_s, maxp = _maxp(s, frame, w, args.maxp_iterations)
                    lines.append(_line(case, "spopt MaxPHeuristic", maxp, maxp_s, seconds))
                    skater_s, skater = _skater(s, frame, w, m["grids"], sizes)
                    lines.append(_line(case, "spopt Skater", skater, skater_s, seconds))
            case = f"{city} ({len(scenarios)} communities)"
            lines.append(_line(case, "propose per community", _combine(ours_parts), ours_total, ours_total))
            lines.append(_line(case, "generate_grids", _combine(scratch_parts), scratch_total, ours_total))
    print(header)
    print("\n".join(lines))
    print("in range: grids with 300–500 households; CV: coefficient of variation per grid; PP: mean Polsby-Popper; "
          "multi: grids in pieces; kept: old codes kept / old grids; moved: households whose code changes; "
          "× ours: time / propose time")


if __name__ == "__main__":
    # bench/run.py passes the names of the benchmarks it runs (bench_…) on its command line: not our options
    main([a for a in sys.argv[1:] if not a.startswith("bench_")])
