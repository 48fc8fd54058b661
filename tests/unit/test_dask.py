"""geo.coverage and geo.assign on Dask frames give exactly the in-memory results.

Runs a small local distributed cluster (2 in-process workers) on a synthetic city: a 1 km lattice of streets
in UTM 32N, 16 grids, 400 buildings and 60 SIMULATED patrols walking the lattice, partitioned by community.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely

from geo.assign import assign_points
from geo.coverage import grid_coverage, last_covered, prepare_coverage
from geo.errors import GeoValidationError
from tests.conftest import shared_scope

dask_geopandas = pytest.importorskip("dask_geopandas")
distributed = pytest.importorskip("distributed")

METRIC = "EPSG:32632"
X0, Y0 = 539_000.0, 5_221_000.0
BLOCK = 50.0


@pytest.fixture(scope=shared_scope)
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    )
    with cluster, distributed.Client(cluster) as c:
        yield c


@pytest.fixture(scope=shared_scope)
def city():
    ticks = np.arange(0, 1000.1, BLOCK)
    lines = [shapely.LineString([(X0, Y0 + t), (X0 + 1000, Y0 + t)]) for t in ticks]
    lines += [shapely.LineString([(X0 + t, Y0), (X0 + t, Y0 + 1000)]) for t in ticks]
    streets = gpd.GeoDataFrame(
        {"osm_id": np.arange(len(lines)), "name": None, "highway": "residential"}, geometry=lines, crs=METRIC
    ).to_crs("EPSG:4326")
    gx, gy = np.meshgrid(np.arange(4) * 250.0, np.arange(4) * 250.0)
    cells = shapely.box(X0 + gx.ravel(), Y0 + gy.ravel(), X0 + gx.ravel() + 250, Y0 + gy.ravel() + 250)
    grids = gpd.GeoDataFrame({"code": [f"G{i:02d}" for i in range(16)]}, geometry=cells, crs=METRIC)
    bx, by = np.meshgrid(ticks[:-1] + 15, ticks[:-1] + 15)
    houses = shapely.box(X0 + bx.ravel(), Y0 + by.ravel(), X0 + bx.ravel() + 20, Y0 + by.ravel() + 20)
    buildings = gpd.GeoDataFrame({"osm_id": np.arange(houses.size)}, geometry=houses, crs=METRIC)
    base = prepare_coverage(grids, streets, buildings=buildings)
    return grids, base, simulated_fixes(np.random.default_rng(11))


def simulated_fixes(rng: np.random.Generator, patrols: int = 60) -> gpd.GeoDataFrame:
    """SIMULATED walks on the lattice: 30 blocks each, a fix every 10 m with 3 m noise, 4 communities."""
    to_wgs = pyproj.Transformer.from_crs(METRIC, "EPSG:4326", always_xy=True)
    frames = []
    steps = np.array([(1, 0), (-1, 0), (0, 1), (0, -1)])
    for p in range(patrols):
        node = rng.integers(0, 21, 2)
        path = [node]
        for _ in range(30):
            nxt = node + steps[rng.integers(4)]
            node = np.clip(nxt, 0, 20)
            path.append(node)
        pts = np.array(path, dtype=float) * BLOCK
        cum = np.r_[0.0, np.cumsum(np.hypot(*np.diff(pts, axis=0).T))]
        d = np.arange(0.0, cum[-1], 10.0)
        x = X0 + np.interp(d, cum, pts[:, 0]) + rng.normal(0, 3, d.size)
        y = Y0 + np.interp(d, cum, pts[:, 1]) + rng.normal(0, 3, d.size)
        lon, lat = to_wgs.transform(x, y)
        start = pd.Timestamp("2026-03-02T08:00:00Z") + pd.Timedelta(days=int(rng.integers(20)), minutes=p)
        frames.append(
            gpd.GeoDataFrame(
                {
                    "patrol_id": p,
                    "community": p % 4,
                    "time": start + pd.to_timedelta(d / 1.2, unit="s"),
                    "flag": None,
                },
                geometry=gpd.points_from_xy(lon, lat),
                crs="EPSG:4326",
            )
        )
    return pd.concat(frames, ignore_index=True)


def by_community(fixes: gpd.GeoDataFrame, npartitions: int = 3):
    # A sorted index never splits one value over two partitions: every patrol stays in one partition.
    return dask_geopandas.from_geopandas(fixes.set_index("community"), npartitions=npartitions)


def test_coverage_on_dask_equals_in_memory(client, city) -> None:
    _, base, fixes = city
    frame = by_community(fixes)
    assert frame.npartitions == 3
    expected = grid_coverage(base, fixes, visited=[5, 6])
    result = grid_coverage(base, frame, visited=[5, 6])
    assert 10 < expected.grids["coverage_pct"].mean() < 95
    pd.testing.assert_frame_equal(result.grids, expected.grids)
    pd.testing.assert_frame_equal(result.streets, expected.streets)
    pd.testing.assert_frame_equal(result.buildings, expected.buildings)


def test_last_covered_on_dask_equals_in_memory(client, city) -> None:
    _, base, fixes = city
    expected = last_covered(base, fixes)
    result = last_covered(base, by_community(fixes, 4))
    assert expected.streets["last_covered"].notna().any() and expected.streets["last_covered"].isna().any()
    pd.testing.assert_frame_equal(result.streets, expected.streets)
    pd.testing.assert_frame_equal(result.buildings, expected.buildings)


def test_a_patrol_split_over_partitions_is_refused(client, city) -> None:
    _, base, fixes = city
    with pytest.raises(GeoValidationError, match="several partitions") as caught:
        grid_coverage(base, dask_geopandas.from_geopandas(fixes, npartitions=3))
    assert caught.value.problems[0].field == "fixes"


def test_assignment_on_dask_equals_in_memory(client, city) -> None:
    grids, _, fixes = city
    cells = grids.to_crs("EPSG:4326")
    expected = assign_points(fixes, cells)
    lazy = assign_points(dask_geopandas.from_geopandas(fixes, npartitions=4), cells)
    result = lazy.compute()
    assert result.index.equals(fixes.index)
    assert np.array_equal(result.to_numpy(), expected)
    assert (expected >= 0).mean() > 0.9  # a few noisy fixes fall outside the city
    with pytest.raises(GeoValidationError, match="EPSG"):
        assign_points(dask_geopandas.from_geopandas(fixes.to_crs(METRIC), npartitions=2), cells)
