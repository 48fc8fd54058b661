"""Simulated patrols for the coverage benchmarks (bench_coverage, bench_dask, bench_gps_retention): a random walk
along a street graph, without immediate U-turns. SIMULATED data, for measuring only."""

from __future__ import annotations

import numpy as np
from scipy import sparse


def street_graph(xy: np.ndarray, which: np.ndarray, decimals: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The street graph of the vertices ``xy`` (metric) of the lines ``which`` (shapely.get_coordinates's index):
    vertices rounded to ``decimals`` are one node, consecutive vertices of a line an edge both ways. Returns the
    nodes' coordinates and the CSR ``indptr``, ``indices``."""
    nodes, node = np.unique(np.round(xy, decimals), axis=0, return_inverse=True)
    node = node.ravel()
    same = (which[1:] == which[:-1]) & (node[1:] != node[:-1])
    a, b = node[:-1][same], node[1:][same]
    graph = sparse.csr_matrix((np.ones(2 * a.size), (np.r_[a, b], np.r_[b, a])), shape=(len(nodes),) * 2)
    return nodes, graph.indptr, graph.indices


def street_walk(nodes: np.ndarray, indptr: np.ndarray, indices: np.ndarray, start: int, length_m: float,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The vertices (metric x, y) of a walk of at least ``length_m`` from node ``start`` over the CSR graph
    ``indptr``/``indices``, and the distance walked at each vertex."""
    u, prev, path, length = start, -1, [start], 0.0
    while length < length_m:
        nb = indices[indptr[u]:indptr[u + 1]]
        nb = nb[nb != prev] if nb.size > 1 else nb
        prev, u = u, int(nb[rng.integers(nb.size)])
        length += float(np.hypot(*(nodes[u] - nodes[prev])))
        path.append(u)
    pts = nodes[path]
    return pts, np.r_[0.0, np.cumsum(np.hypot(*np.diff(pts, axis=0).T))]
