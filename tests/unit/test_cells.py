"""Tests of geo.cells: fishnets and H3 cells, counting points in cells, and spatial weights.

References are independent implementations: geopandas' sjoin for counting, h3's own per-point functions for
H3, and libpysal (``Queen`` / ``Rook.from_dataframe``, ``lat2W``, ``DistanceBand``) for weights.
"""

from __future__ import annotations

import warnings

import geopandas as gpd
import h3
import numpy as np
import pytest
import shapely
from libpysal import weights as lw
from scipy import sparse

from geo.cells import (
    FishnetSpec,
    IslandWarning,
    contiguity,
    count_points,
    distance_band,
    fishnet,
    h3_neighbours,
    hexagons,
    islands,
    lattice,
    row_standardise,
)
from geo.errors import GeoValidationError
from tests.conftest import shared_file

UTM = "EPSG:32650"  # UTM 50N (Qingdao); any metric CRS will do
QINGDAO = (120.38, 36.06)


@pytest.fixture(autouse=True)
def _quiet_islands():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IslandWarning)
        yield


def columbus() -> gpd.GeoDataFrame:
    # Planar coordinates although the file claims EPSG:4326: never reproject it.
    return gpd.read_file(shared_file("reference/columbus.geojson"))


def same_weights(ours: sparse.spmatrix, theirs: sparse.spmatrix) -> None:
    assert ours.shape == theirs.shape
    assert abs(sparse.csr_matrix(ours) - sparse.csr_matrix(theirs)).max() == pytest.approx(0.0, abs=1e-12)


def random_points(n: int, bounds: tuple[float, float, float, float], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.uniform(bounds[0], bounds[2], n), rng.uniform(bounds[1], bounds[3], n)])


# --- fishnet and counting -----------------------------------------------------------------------------------


def test_fishnet_cells_ids_and_spec():
    net = fishnet((1000.0, 2000.0, 1250.0, 2100.0), 50.0, UTM)
    spec = net.attrs["fishnet"]
    assert spec == FishnetSpec(1000.0, 2000.0, 50.0, 2, 5)
    assert len(net) == 10 and net.crs == UTM
    assert net["cell"].tolist() == list(range(10))
    assert net["row"].tolist() == [0] * 5 + [1] * 5
    # cell 7 = row 1, col 2: x 1100–1150, y 2050–2100
    assert net.geometry.iloc[7].bounds == (1100.0, 2050.0, 1150.0, 2100.0)
    assert np.allclose(net.area, 2500.0)
    # bounds not a multiple of the size: one more partial column / row, starting at minx, miny
    assert fishnet((0, 0, 101, 99), 50, UTM).attrs["fishnet"].ncols == 3


def test_fishnet_counts_match_sjoin_including_weights_and_a_selection():
    bounds = (500_000.0, 3_990_000.0, 520_000.0, 4_000_000.0)
    net = fishnet(bounds, 500.0, UTM)
    xy = random_points(20_000, (499_000.0, 3_989_000.0, 521_000.0, 4_001_000.0), seed=1)  # some outside
    severity = np.random.default_rng(2).integers(1, 4, len(xy)).astype(float)
    pts = gpd.GeoDataFrame({"severity": severity}, geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=UTM)

    joined = gpd.sjoin(pts, net[["cell", "geometry"]], predicate="within")
    expected = np.bincount(joined["cell"], minlength=len(net))
    expected_w = np.bincount(joined["cell"], weights=joined["severity"], minlength=len(net))

    counts = count_points(pts, net)
    assert counts.dtype == np.int64
    assert np.array_equal(counts, expected)
    assert np.allclose(count_points(pts, net, weights="severity"), expected_w)
    assert np.allclose(count_points(xy, net, weights=severity), expected_w)
    # a selection of rows (e.g. cells inside a city) keeps the fast path and stays positional
    part = net[net["row"] % 3 == 1].iloc[::-1]
    assert np.array_equal(count_points(pts, part), expected[part["cell"].to_numpy()])
    # the same cells without the fishnet attrs go through the STRtree and agree
    plain = gpd.GeoDataFrame(geometry=net.geometry.to_numpy(), crs=UTM)
    assert np.array_equal(count_points(pts, plain), expected)


def test_fishnet_edges_and_reprojection():
    net = fishnet((0.0, 0.0, 100.0, 100.0), 50.0, UTM)
    # on the shared vertical edge x=50 -> the cell to the right; the outer north-east corner is in the last
    # cell; just outside, or NaN, is not counted
    xy = np.array([[50.0, 10.0], [100.0, 100.0], [0.0, 0.0], [100.0001, 10.0], [np.nan, 1.0]])
    assert count_points(xy, net).tolist() == [1, 1, 0, 1]
    # points in another CRS are reprojected to the cells' CRS
    lon, lat = QINGDAO
    local = gpd.GeoSeries([shapely.Point(lon, lat)], crs=4326).to_crs(UTM)[0]
    box = fishnet((local.x - 100, local.y - 100, local.x + 100, local.y + 100), 100.0, UTM)
    assert count_points(gpd.GeoSeries([shapely.Point(lon, lat)], crs=4326), box).tolist() == [0, 0, 0, 1]


def test_polygon_counts_count_a_boundary_point_once():
    a = shapely.box(0, 0, 1, 1)
    b = shapely.box(1, 0, 2, 1)
    cells = gpd.GeoSeries([a, b], crs=UTM)
    assert count_points(np.array([[1.0, 0.5], [1.5, 0.5], [5, 5]]), cells).tolist() == [1, 1]


def test_fishnet_and_count_validation_collects_problems():
    with pytest.raises(GeoValidationError) as err:
        fishnet((0, 0, -1, 1), 0, "EPSG:4326")
    fields = {p.field for p in err.value.problems}
    assert fields == {"bounds", "size_m", "crs"}
    with pytest.raises(GeoValidationError, match="more than"):
        fishnet((0, 0, 1e7, 1e7), 1.0, UTM)
    net = fishnet((0, 0, 10, 10), 5, UTM)
    with pytest.raises(GeoValidationError) as err:
        count_points(gpd.GeoSeries([shapely.box(0, 0, 1, 1)], crs=UTM), net, weights=[1.0, 2.0])
    assert {p.field for p in err.value.problems} == {"points", "weights"}


# --- H3 -----------------------------------------------------------------------------------------------------


def test_hexagons_from_polygon_and_points_and_h3_counting():
    lon, lat = QINGDAO
    area = shapely.box(lon - 0.05, lat - 0.04, lon + 0.05, lat + 0.04)
    cells = hexagons(area, 8)
    expected = sorted(h3.geo_to_cells(area, 8))
    assert cells["h3"].tolist() == expected and cells.crs == "EPSG:4326"
    first = cells.geometry.iloc[0]
    assert first.is_valid and first.contains(shapely.Point(h3.cell_to_latlng(expected[0])[::-1]))

    rng = np.random.default_rng(3)
    lonlat = np.column_stack([rng.uniform(lon - 0.06, lon + 0.06, 5000),
                              rng.uniform(lat - 0.05, lat + 0.05, 5000)])
    counts = count_points(lonlat, cells)
    ids = [h3.latlng_to_cell(y, x, 8) for x, y in lonlat]
    position = {c: i for i, c in enumerate(expected)}
    reference = np.zeros(len(expected), dtype=np.int64)
    for c in ids:
        if c in position:
            reference[position[c]] += 1
    assert np.array_equal(counts, reference)
    assert counts.sum() < len(lonlat)  # points outside the box are not counted

    occupied = hexagons(gpd.GeoSeries(gpd.points_from_xy(lonlat[:, 0], lonlat[:, 1]), crs=4326), 8)
    assert set(occupied["h3"]) == set(ids)
    padded = hexagons(lonlat[:3], 8, rings=1)
    assert set(padded["h3"]) == {c for i in ids[:3] for c in h3.grid_disk(i, 1)}


def test_h3_neighbours_match_grid_disk():
    centre = h3.latlng_to_cell(QINGDAO[1], QINGDAO[0], 9)
    ids = sorted(h3.grid_disk(centre, 3))
    w = h3_neighbours(ids)
    for i, a in enumerate(ids):
        row = set(np.flatnonzero(w[i].toarray().ravel()))
        assert row == {j for j, b in enumerate(ids) if b != a and h3.are_neighbor_cells(a, b)}
    w2 = h3_neighbours(ids, k=2)
    assert w2[ids.index(centre)].nnz == 18
    assert (w2 != w2.T).nnz == 0
    far = h3.latlng_to_cell(0.0, 0.0, 9)
    with pytest.warns(IslandWarning, match="2 of 2 cells"):
        h3_neighbours([centre, far])
    with pytest.raises(GeoValidationError, match="invalid H3"):
        h3_neighbours(["nonsense"])


# --- contiguity ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "cls"), [("queen", lw.Queen), ("rook", lw.Rook)])
def test_contiguity_matches_libpysal_on_columbus(kind, cls):
    frame = columbus()
    ours = contiguity(frame, kind=kind)
    same_weights(ours, cls.from_dataframe(frame, use_index=False).sparse)
    assert (ours != ours.T).nnz == 0 and ours.diagonal().sum() == 0


@pytest.mark.parametrize(("kind", "cls"), [("queen", lw.Queen), ("rook", lw.Rook)])
def test_contiguity_matches_libpysal_and_lattice_on_a_fishnet(kind, cls):
    net = fishnet((0, 0, 700, 500), 50, UTM)
    ours = contiguity(net, kind=kind)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        same_weights(ours, cls.from_dataframe(net, use_index=False).sparse)
    spec = net.attrs["fishnet"]
    same_weights(ours, lattice(spec.nrows, spec.ncols, kind=kind))


def test_contiguity_islands_snapping_and_errors():
    a = shapely.box(0, 0, 1, 1)
    b = shapely.box(1, 0, 2, 1)
    corner = shapely.box(2, 1, 3, 2)  # touches b at one corner only
    nearly = shapely.box(3.0000001, 1, 4, 2)  # misses ``corner`` by 1e-7
    geoms = [a, b, corner, nearly, None, shapely.Polygon()]
    queen = contiguity(geoms, kind="queen").toarray()
    assert queen[0, 1] == queen[1, 2] == 1 and queen[2, 3] == 0
    assert contiguity(geoms, kind="rook").toarray()[1, 2] == 0
    assert contiguity(geoms, kind="queen", snap=1e-3).toarray()[2, 3] == 1
    assert islands(queen).tolist() == [3, 4, 5]
    with pytest.warns(IslandWarning, match="3 of 6 cells"):
        contiguity(geoms)
    # a polygon in a hole touches its surroundings; multipolygon parts count for their owner
    ring = shapely.Polygon([(0, 0), (4, 0), (4, 4), (0, 4)], [[(1, 1), (3, 1), (3, 3), (1, 3)]])
    inner = shapely.box(1, 1, 3, 3)
    parts = shapely.MultiPolygon([shapely.box(10, 10, 11, 11), shapely.box(4, 0, 5, 4)])
    w = contiguity([ring, inner, parts], kind="rook").toarray()
    assert w[0, 1] == 1 and w[0, 2] == 1 and w[1, 2] == 0
    with pytest.raises(GeoValidationError) as err:
        contiguity([shapely.Point(0, 0)], kind="bishop")
    assert {p.field for p in err.value.problems} == {"kind", "polygons"}


# --- lattice, distance band, helpers ------------------------------------------------------------------------


@pytest.mark.parametrize(("nrows", "ncols"), [(1, 7), (4, 1), (2, 2), (3, 4), (6, 5)])
@pytest.mark.parametrize("rook", [True, False])
def test_lattice_matches_lat2w(nrows, ncols, rook):
    ours = lattice(nrows, ncols, kind="rook" if rook else "queen")
    same_weights(ours, lw.lat2W(nrows, ncols, rook=rook).sparse)
    assert ours.has_sorted_indices


def test_lattice_of_one_cell_is_an_island():
    # libpysal's lat2W(1, 1) has no cell at all; ours has one cell without neighbours
    w = lattice(1, 1)
    assert w.shape == (1, 1) and w.nnz == 0 and islands(w).tolist() == [0]


def test_lattice_of_a_million_cells():
    w = lattice(1000, 1000)
    # 8 neighbours inside, 5 on the edges, 3 in the corners
    assert w.nnz == 8 * 998 * 998 + 5 * 4 * 998 + 3 * 4
    assert w[1001].indices.tolist() == [0, 1, 2, 1000, 1002, 2000, 2001, 2002]


@pytest.mark.parametrize("threshold", [5.0, 12.0])
def test_distance_band_matches_libpysal(threshold):
    xy = random_points(400, (0, 0, 100, 100), seed=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        same_weights(distance_band(xy, threshold), lw.DistanceBand(xy, threshold).sparse)
        same_weights(distance_band(xy, threshold, binary=False, alpha=-2.0),
                     lw.DistanceBand(xy, threshold, binary=False, alpha=-2.0).sparse)


def test_distance_band_edge_cases():
    xy = np.array([[0.0, 0.0], [3.0, 4.0], [3.0, 4.0], [100.0, 0.0]])
    w = distance_band(xy, 5.0).toarray()  # distance exactly 5 is inside; coincident points are neighbours
    assert w[0, 1] == w[1, 2] == 1 and w[3].sum() == 0
    with pytest.raises(GeoValidationError, match="coincident"):
        distance_band(xy, 5.0, binary=False)
    with pytest.raises(GeoValidationError) as err:
        distance_band([[0.0, np.nan]], -1)
    assert {p.field for p in err.value.problems} == {"xy", "threshold"}


def test_row_standardise_and_islands():
    w = sparse.csr_matrix(np.array([[0, 1, 1, 0], [1, 0, 0, 0], [1, 0, 0, 0], [0, 0, 0, 5.0]]))
    r = row_standardise(w)
    assert np.allclose(r.toarray().sum(axis=1), [1, 1, 1, 1])
    assert np.allclose(r.toarray()[0], [0, 0.5, 0.5, 0])
    assert islands(w).tolist() == [3]  # only itself as a "neighbour"
    empty = row_standardise(sparse.csr_matrix((2, 2)))
    assert empty.nnz == 0
