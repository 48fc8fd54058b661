"""Nearest unit by road on Heidelberg: geo.network's precomputed FacilityIndex next to per-query networkx
Dijkstra and per-query pgRouting.

50 units at random road points and 10,000 random case points (seeded) in the area of the road network (the box
of the 5th–95th percentiles of road vertices: the extract has stray ways 70 km away). Each case point gets
its road distance to all 50 units and the nearest one. gridpatrol snaps the point to its edge and looks up the
50 Dijkstra rows computed once; the baselines run one Dijkstra per query, networkx on the same graph with the
units and the point inserted into their edges, pgRouting with ``pgr_withPointsCost`` (pgr_dijkstraCost for
points part-way along edges) from the 50 units to the point. The baselines run on a sample of the queries and
are extrapolated to all of them; their answers are checked against ours (same nearest unit, every distance
within 0.5 m). Issue goal: p99 ≤ 1 ms per query after the precompute, and ≥ 100× networkx per query.

Run with ``make bench`` (starts a throwaway PostGIS) or ``GRIDPATROL_BENCH_POSTGRES_URL=… python
bench/bench_routing.py [--profiles drive,walk] [--nx-sample 200] [--pg-sample 50]``; without a PostGIS URL the
pgRouting column is skipped.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
import uuid
from collections import defaultdict
from pathlib import Path

import networkx as nx
import numpy as np
import psycopg
import shapely
from sqlalchemy.engine import make_url

from geo.crs import metric_crs_for_bounds
from geo.network import FacilityIndex, RoadGraph
from geo.osm import read_osm
from patrol.core.db import create_postgis_database, drop_postgis_database

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "osm" / "heidelberg_roads.osm.pbf"
TOL_M = 0.5
WARMUP = 100


def _road_points(g: RoadGraph, rng: np.random.Generator, k: int) -> tuple[np.ndarray, np.ndarray]:
    """k random points on the roads of the largest piece of network, uniform by length."""
    edges = np.flatnonzero(g.in_largest_component[g.edge_u] & g.in_largest_component[g.edge_v])
    e = rng.choice(edges, k, p=g.edge_length_m[edges] / g.edge_length_m[edges].sum())
    p = shapely.line_interpolate_point(g.edge_geometry[e], rng.random(k), normalized=True)
    return shapely.get_x(p), shapely.get_y(p)


def _case_points(box: tuple[float, float, float, float], rng: np.random.Generator, n: int):
    x0, y0, x1, y1 = box
    return rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)


def _road_box(roads) -> tuple[float, float, float, float]:
    """The box of the 5th–95th percentiles of road vertices: the city, not the stray ways far outside."""
    xy = shapely.get_coordinates(roads.geometry.to_numpy())
    (x0, y0), (x1, y1) = np.percentile(xy, [5, 95], axis=0)
    return float(x0), float(y0), float(x1), float(y1)


# --- networkx baseline --------------------------------------------------------------------------------------


class _NxBaseline:
    """The same graph in networkx, units inserted as nodes splitting their edges; one Dijkstra per query."""

    def __init__(self, g: RoadGraph, index: FacilityIndex) -> None:
        self.g = g
        self.w = g.weights(index.weight)
        self.chain: dict[int, list[tuple[float, object]]] = defaultdict(list)
        for i, (e, t) in enumerate(zip(index.facility_snap.edge, index.facility_snap.fraction, strict=True)):
            self.chain[int(e)].append((float(t), f"F{i}"))
        graph = nx.DiGraph()
        for e in range(g.n_edges):
            seq = [(0.0, int(g.edge_u[e]))] + sorted(self.chain.get(e, [])) + [(1.0, int(g.edge_v[e]))]
            self.chain[e] = seq
            for (t0, a), (t1, b) in itertools.pairwise(seq):
                self._arc(graph, a, b, self.w[e] * (t1 - t0))
                if not g.edge_oneway[e]:
                    self._arc(graph, b, a, self.w[e] * (t1 - t0))
        self.graph = graph
        self.search = graph.reverse(copy=False) if index.direction == "from_facility" else graph
        self.k = index.n_facilities

    @staticmethod
    def _arc(graph: nx.DiGraph, a, b, cost: float) -> None:
        if a != b and cost < graph.get_edge_data(a, b, {"weight": np.inf})["weight"]:
            graph.add_edge(a, b, weight=cost)

    def query(self, edge: int, t: float) -> np.ndarray:
        """Costs from the k units to the point at fraction t of edge (insert, Dijkstra, remove)."""
        seq = self.chain[edge]
        i = max(j for j, (tj, _) in enumerate(seq[:-1]) if tj <= t)
        (t0, a), (t1, b) = seq[i], seq[i + 1]
        w = self.w[edge]
        self.graph.add_edge(a, "P", weight=w * (t - t0))
        self.graph.add_edge("P", b, weight=w * (t1 - t))
        if not self.g.edge_oneway[edge]:
            self.graph.add_edge(b, "P", weight=w * (t1 - t))
            self.graph.add_edge("P", a, weight=w * (t - t0))
        try:
            dist = nx.single_source_dijkstra_path_length(self.search, "P")
        finally:
            self.graph.remove_node("P")
        return np.array([dist.get(f"F{f}", np.inf) for f in range(self.k)])


# --- pgRouting baseline -------------------------------------------------------------------------------------


class _PgBaseline:
    """The graph's edges in PostGIS; ``pgr_withPointsCost`` from the units to the point, a call per query."""

    def __init__(self, dsn: str, g: RoadGraph, index: FacilityIndex) -> None:
        self.conn = psycopg.connect(dsn, autocommit=True)
        self.conn.execute("CREATE EXTENSION IF NOT EXISTS pgrouting")
        self.conn.execute(
            "CREATE TABLE bench_edge (id bigint PRIMARY KEY, source bigint, target bigint, cost float8, "
            "reverse_cost float8)"
        )
        w = g.weights(index.weight)
        reverse = np.where(g.edge_oneway, -1.0, w)
        rows = zip(
            range(g.n_edges), g.edge_u.tolist(), g.edge_v.tolist(), w.tolist(), reverse.tolist(), strict=True
        )
        with (
            self.conn.cursor() as cur,
            cur.copy("COPY bench_edge (id, source, target, cost, reverse_cost) FROM STDIN") as cp,
        ):
            for row in rows:
                cp.write_row(row)
        self.conn.execute("CREATE TABLE bench_unit (pid bigint, edge_id bigint, fraction float8)")
        snap = index.facility_snap
        with self.conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO bench_unit VALUES (%s, %s, %s)",
                [
                    (i + 1, int(e), float(t))
                    for i, (e, t) in enumerate(zip(snap.edge, snap.fraction, strict=True))
                ],
            )
        self.g = g
        self.k = index.n_facilities
        # A point at fraction 0 or 1 is its vertex for pgRouting: ask for the vertex id instead.
        self.units = [
            self._vid(-(i + 1), int(e), float(t))
            for i, (e, t) in enumerate(zip(snap.edge, snap.fraction, strict=True))
        ]
        self.unit_of = {vid: i for i, vid in enumerate(self.units)}
        self.reverse = index.direction == "to_facility"

    def _vid(self, pid: int, edge: int, t: float) -> int:
        if t <= 0.0:
            return int(self.g.edge_u[edge])
        if t >= 1.0:
            return int(self.g.edge_v[edge])
        return pid

    def query(self, edge: int, t: float) -> np.ndarray:
        pid = self.k + 1
        point = self._vid(-pid, edge, t)
        points_sql = "SELECT pid, edge_id, fraction FROM bench_unit"
        if point < 0:  # (a point given at fraction 0 or 1 makes pgRouting 3.4 lose that vertex)
            points_sql += f" UNION ALL SELECT {pid}, {edge}, {t!r}::float8"
        starts, ends = ([point], self.units) if self.reverse else (self.units, [point])
        rows = self.conn.execute(
            "SELECT start_pid, end_pid, agg_cost FROM pgr_withPointsCost("
            "'SELECT id, source, target, cost, reverse_cost FROM bench_edge', "
            "%s, %s::bigint[], %s::bigint[], directed => true, driving_side => 'b')",
            (points_sql, starts, ends),
        ).fetchall()
        out = np.full(self.k, np.inf)
        for s, e, c in rows:
            unit = self.unit_of[int(e if self.reverse else s)]
            out[unit] = c
        if point in self.unit_of:  # a unit on the same vertex as the point: pgRouting leaves the pair out
            out[self.unit_of[point]] = 0.0
        return out

    def close(self) -> None:
        self.conn.close()


# --- run ----------------------------------------------------------------------------------------------------


def _timed_sample(fn, edges, fractions, ours_cost) -> dict:
    took, agree_nearest, max_diff = [], 0, 0.0
    for e, t, mine in zip(edges, fractions, ours_cost, strict=True):
        start = time.perf_counter()
        theirs = fn(int(e), float(t))
        took.append(time.perf_counter() - start)
        same_inf = np.isinf(theirs) & np.isinf(mine)
        diff = np.abs(np.where(same_inf, 0.0, theirs - np.where(same_inf, 0.0, mine)))
        max_diff = max(max_diff, float(diff.max()))
        agree_nearest += int(theirs.argmin() == mine.argmin() or abs(theirs.min() - mine.min()) <= TOL_M)
    took = np.asarray(took)
    return {
        "n": len(took),
        "mean": float(took.mean()),
        "p50": float(np.percentile(took, 50)),
        "p99": float(np.percentile(took, 99)),
        "nearest_agree": agree_nearest,
        "max_diff": max_diff,
    }


def _profile(roads, box, profile: str, args, pg_base: str | None) -> dict:
    rng = np.random.default_rng(args.seed)
    t = time.perf_counter()
    g = RoadGraph.from_lines(roads, profile=profile)
    graph_s = time.perf_counter() - t
    fx, fy = _road_points(g, rng, args.facilities)
    px, py = _case_points(box, rng, args.points)

    t = time.perf_counter()
    index = FacilityIndex.build(g, fx, fy, weight=args.weight)
    build_s = time.perf_counter() - t

    # Single queries, timed one by one (after a warm-up), then the whole batch in one call.
    for i in range(WARMUP):
        index.query(px[i], py[i])
    single = np.empty(args.points)
    for i in range(args.points):
        start = time.perf_counter()
        index.query(px[i], py[i])
        single[i] = time.perf_counter() - start
    batch_s = np.inf
    for _ in range(3):
        start = time.perf_counter()
        result = index.query(px, py)
        batch_s = min(batch_s, time.perf_counter() - start)
    routed = np.flatnonzero(np.equal(result.fallback, None))
    snap = g.snap(px[routed], py[routed], max_distance_m=index.max_snap_m)
    ours_cost = result.cost[routed]

    out = {
        "profile": profile,
        "nodes": g.n_nodes,
        "edges": g.n_edges,
        "graph_s": graph_s,
        "build_s": build_s,
        "nbytes": index.nbytes,
        "points": args.points,
        "routed": routed.size,
        "off_network": int(np.sum(result.reason == "off_network")),
        "unreachable": int(np.sum(result.reason == "unreachable")),
        "single_p50": float(np.percentile(single, 50)),
        "single_p99": float(np.percentile(single, 99)),
        "single_mean": float(single.mean()),
        "batch_s": batch_s,
        "routed_p99": float(np.percentile(single[routed], 99)) if routed.size else np.nan,
    }
    sample = rng.permutation(routed.size)
    if args.nx_sample:
        t = time.perf_counter()
        baseline = _NxBaseline(g, index)
        out["nx_setup_s"] = time.perf_counter() - t
        take = sample[: args.nx_sample]
        out["nx"] = _timed_sample(baseline.query, snap.edge[take], snap.fraction[take], ours_cost[take])
    if pg_base and args.pg_sample:
        url = create_postgis_database(pg_base, f"bench_{uuid.uuid4().hex[:8]}")
        try:
            dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
            t = time.perf_counter()
            pg = _PgBaseline(dsn, g, index)
            out["pg_setup_s"] = time.perf_counter() - t
            try:
                take = sample[: args.pg_sample]
                out["pg"] = _timed_sample(pg.query, snap.edge[take], snap.fraction[take], ours_cost[take])
            finally:
                pg.close()
        finally:
            drop_postgis_database(url)
    return out


def _print(r: dict, args) -> None:
    ms = 1e3
    print(
        f"\n{r['profile']} profile: {r['nodes']:,} nodes, {r['edges']:,} edges "
        f"(graph built in {r['graph_s']:.2f} s); "
        f"{args.facilities} units, {r['points']:,} case points: {r['routed']:,} routed, {r['off_network']:,} "
        f"off the network, {r['unreachable']:,} unreachable (straight-line fallback)"
    )
    print(
        f"precompute: {r['build_s']:.2f} s ({args.facilities} Dijkstra rows), "
        f"memory {r['nbytes'] / 1e6:.1f} MB"
    )
    print(
        f"{'method':<40}{'p50 ms':>9}{'p99 ms':>9}{'mean ms':>9}{'10k queries s':>15}{'ratio':>9}"
        f"{'agree':>12}{'max|Δ| m':>10}"
    )
    ours_mean = r["single_mean"]
    print(
        f"{'gridpatrol, one query at a time':<40}{r['single_p50'] * ms:>9.3f}{r['single_p99'] * ms:>9.3f}"
        f"{ours_mean * ms:>9.3f}{ours_mean * r['points']:>15.2f}{'1':>9}{'—':>12}{'—':>10}"
    )
    per = r["batch_s"] / r["points"]
    print(f"{'  (routed points only)':<40}{'':>9}{r['routed_p99'] * ms:>9.3f}")
    print(
        f"{'gridpatrol, one batch of 10k':<40}{'—':>9}{'—':>9}{per * ms:>9.4f}{r['batch_s']:>15.2f}"
        f"{per / ours_mean:>9.2f}{'—':>12}{'—':>10}"
    )
    for key, name in (("nx", "networkx Dijkstra per query"), ("pg", "pgRouting withPointsCost per query")):
        if key not in r:
            continue
        s = r[key]
        label = f"{name} (n={s['n']})"
        print(
            f"{label:<40}{s['p50'] * ms:>9.1f}{s['p99'] * ms:>9.1f}{s['mean'] * ms:>9.1f}"
            f"{s['mean'] * r['points']:>15.0f}{s['mean'] / ours_mean:>9.0f}"
            f"{str(s['nearest_agree']) + '/' + str(s['n']):>12}{s['max_diff']:>10.1e}"
        )
    print(
        "ratio = mean time per query / gridpatrol's single-query mean; baselines are a sample, the 10k "
        "column extrapolates it; agree = same nearest unit (or a tie within 0.5 m)"
    )
    if "nx_setup_s" in r:
        print(
            f"setup not counted per query: networkx graph {r['nx_setup_s']:.2f} s"
            + (f", pgRouting tables {r['pg_setup_s']:.2f} s" if "pg_setup_s" in r else "")
        )
    ok_p99 = r["single_p99"] <= 1e-3
    line = f"goal p99 ≤ 1 ms: {'met' if ok_p99 else 'NOT met'} ({r['single_p99'] * ms:.3f} ms)"
    if "nx" in r:
        ratio = r["nx"]["mean"] / ours_mean
        line += f"; ≥ 100× networkx per query: {'met' if ratio >= 100 else 'NOT met'} ({ratio:.0f}×)"
    print(line)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", default="drive,walk", help="comma-separated: drive, walk")
    parser.add_argument("--weight", default="length", choices=["length", "time"])
    parser.add_argument("--facilities", type=int, default=50)
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--nx-sample", type=int, default=200, help="queries answered by networkx (0: skip)")
    parser.add_argument("--pg-sample", type=int, default=50, help="queries answered by pgRouting (0: skip)")
    parser.add_argument("--seed", type=int, default=0)
    args, _ = parser.parse_known_args(argv)  # bench/run.py leaves its own arguments (bench names) in sys.argv
    if not DATA.exists():
        print(f"skipped: {DATA} not found")
        return []
    pg_base = os.environ.get("GRIDPATROL_BENCH_POSTGRES_URL") or os.environ.get(
        "GRIDPATROL_TEST_POSTGRES_URL"
    )
    if not pg_base:
        print("pgRouting: skipped (set GRIDPATROL_BENCH_POSTGRES_URL or run `make bench`)")
    t = time.perf_counter()
    roads = read_osm(DATA).roads
    roads = roads.to_crs(metric_crs_for_bounds(tuple(roads.total_bounds)))
    print(f"read {DATA.name}: {len(roads):,} ways in {time.perf_counter() - t:.2f} s")
    box = _road_box(roads)
    print(
        f"case points: uniform in the {(box[2] - box[0]) / 1e3:.1f} × {(box[3] - box[1]) / 1e3:.1f} km "
        "box of "
        "the 5th–95th percentiles of road vertices"
    )
    results = []
    for profile in [p.strip() for p in args.profiles.split(",") if p.strip()]:
        r = _profile(roads, box, profile, args, pg_base)
        _print(r, args)
        results.append(r)
    return results


if __name__ == "__main__":
    main([a for a in sys.argv[1:] if not a.startswith("bench_")])
