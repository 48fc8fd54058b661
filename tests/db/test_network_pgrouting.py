"""geo.network against pgRouting, an independent Dijkstra (PostGIS only: this is a reference check).

The graph's edges are loaded into a throwaway database (id, source, target, cost, reverse_cost = -1 for
one-way edges) and pgRouting's answers are compared with ours: ``pgr_dijkstraCost`` between nodes, and
``pgr_withPointsCost`` for points part-way along edges (the end-of-edge arithmetic of FacilityIndex).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import psycopg
import pytest
import shapely
from sqlalchemy.engine import make_url

from geo.network import FacilityIndex, RoadGraph
from patrol.core.db import drop_postgis_database
from tests.conftest import _fresh_postgres_database, _postgres_url, shared_scope
from tests.unit.test_network import CITIES, TOL_M, _graph, _roads


@pytest.fixture(scope=shared_scope)
def pgrouting() -> Iterator[psycopg.Connection]:
    """A connection to a fresh database with pgRouting, dropped afterwards."""
    url = _fresh_postgres_database(_postgres_url())
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = psycopg.connect(dsn, autocommit=True)
    try:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pgrouting")
        yield conn
    finally:
        conn.close()
        drop_postgis_database(url)
        _graph.cache_clear()
        _roads.cache_clear()


def _load(conn: psycopg.Connection, g: RoadGraph, table: str) -> None:
    """The graph's edges as a pgRouting edge table (length costs; ids and nodes as they are)."""
    conn.execute(f"DROP TABLE IF EXISTS {table}")
    conn.execute(
        f"CREATE TABLE {table} (id bigint PRIMARY KEY, source bigint, target bigint, cost float8, "
        "reverse_cost float8)"
    )
    reverse = np.where(g.edge_oneway, -1.0, g.edge_length_m)
    with (
        conn.cursor() as cur,
        cur.copy(f"COPY {table} (id, source, target, cost, reverse_cost) FROM STDIN") as cp,
    ):
        for row in zip(
            range(g.n_edges),
            g.edge_u.tolist(),
            g.edge_v.tolist(),
            g.edge_length_m.tolist(),
            reverse.tolist(),
            strict=True,
        ):
            cp.write_row(row)


@pytest.mark.parametrize("city", list(CITIES))
@pytest.mark.parametrize("profile", ["walk", "drive"])
def test_node_distances_equal_pgr_dijkstra_cost(pgrouting, city: str, profile: str) -> None:
    g = _graph(city, profile)
    table = f"edges_{city}_{profile}"
    _load(pgrouting, g, table)
    rng = np.random.default_rng(17)
    sources = rng.choice(np.flatnonzero(g.in_largest_component), 15, replace=False)
    targets = rng.choice(g.n_nodes, 20, replace=False)  # anywhere: some are on other pieces
    rows = pgrouting.execute(
        "SELECT start_vid, end_vid, agg_cost "
        "FROM pgr_dijkstraCost(%s, %s::bigint[], %s::bigint[], directed => true)",
        (f"SELECT id, source, target, cost, reverse_cost FROM {table}", sources.tolist(), targets.tolist()),
    ).fetchall()
    theirs = {(int(s), int(t)): c for s, t, c in rows}
    ours = g.node_distances(sources)
    compared = 0
    for i, s in enumerate(sources.tolist()):
        for t in targets.tolist():
            expected = 0.0 if s == t else theirs.get((s, t), np.inf)  # pgRouting leaves out unreachable pairs
            assert ours[i, t] == pytest.approx(expected, abs=TOL_M), (s, t)
            compared += 1
    assert compared == 300
    assert len(theirs) >= 150  # most pairs are connected, so the check is not vacuous


@pytest.mark.parametrize(("city", "profile"), [("liechtenstein", "drive"), ("heidelberg", "walk")])
def test_facility_costs_equal_pgr_with_points_cost(pgrouting, city: str, profile: str) -> None:
    g = _graph(city, profile)
    table = f"edges_{city}_{profile}"
    _load(pgrouting, g, table)
    rng = np.random.default_rng(23)
    largest = np.flatnonzero(g.in_largest_component[g.edge_u] & g.in_largest_component[g.edge_v])
    e = rng.choice(largest, 5 + 40)
    t = rng.uniform(0.05, 0.95, e.size)
    p = shapely.line_interpolate_point(g.edge_geometry[e], t, normalized=True)
    x, y = shapely.get_x(p), shapely.get_y(p)
    index = FacilityIndex.build(g, x[:5], y[:5])
    result = index.query(x[5:], y[5:])
    snap = g.snap(x, y)
    # Points as pgRouting wants them: pid, edge, fraction from the edge's source; facilities are -1..-5.
    values = ", ".join(
        f"({i + 1}, {int(edge)}, {float(frac)!r})"
        for i, (edge, frac) in enumerate(zip(snap.edge, snap.fraction, strict=True))
    )
    points_sql = f"SELECT * FROM (VALUES {values}) AS p(pid, edge_id, fraction)"
    rows = pgrouting.execute(
        "SELECT start_pid, end_pid, agg_cost FROM pgr_withPointsCost(%s, %s, %s::bigint[], %s::bigint[], "
        "directed => true, driving_side => 'b')",
        (
            f"SELECT id, source, target, cost, reverse_cost FROM {table}",
            points_sql,
            [-(i + 1) for i in range(5)],
            [-(j + 1) for j in range(5, e.size)],
        ),
    ).fetchall()
    theirs = {(-int(s) - 1, -int(q) - 1 - 5): c for s, q, c in rows}
    routed = np.equal(result.fallback, None)
    assert routed.sum() >= 35
    for j in np.flatnonzero(routed):
        for f in range(5):
            assert result.cost[j, f] == pytest.approx(theirs.get((f, j), np.inf), abs=TOL_M), (f, j)
