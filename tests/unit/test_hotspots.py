"""Tests of geo.hotspots: Getis-Ord Gi / Gi*, FDR, Gi_Bin, global G / Moran's I, Mann–Kendall, emerging hot
spots and kernel density.

References: the values pinned in ../shared/data/reference/hotspot_reference_values.json (esda's own test suite
and esda-computed vectors for Columbus), esda.G_Local run here on the same data,
scipy.stats.false_discovery_control and kendalltau, a slow pairwise Mann–Kendall, and the exact
conditional-permutation distribution where it can be enumerated.
"""

from __future__ import annotations

import json
import math
import warnings

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pytest
from esda.getisord import G_Local
from libpysal import weights as lw
from scipy import sparse, stats

from geo.cells import IslandWarning, contiguity, count_points, distance_band, h3_neighbours, hexagons, lattice
from geo.errors import GeoValidationError
from geo.hotspots import (
    GetisOrdStar,
    classify_emerging,
    emerging_hotspots,
    fdr,
    general_g,
    getis_ord,
    gi_bin,
    kernel_density,
    mann_kendall,
    moran_i,
    pattern_name,
)
from tests.conftest import shared_file, shared_scope

TOY_POINTS = np.array([(10, 10), (20, 10), (40, 10), (15, 20), (30, 20), (30, 30)], dtype=float)
TOY_Y = np.array([2, 3, 3.2, 5, 8, 7])


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IslandWarning)
        # esda's crand warns about the future default of its ``alternative``
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", category=UserWarning, module="libpysal")  # islands, components
        warnings.filterwarnings("ignore", category=RuntimeWarning, module="esda")  # its 0/0 for islands
        warnings.filterwarnings("ignore", message=r"Gi\* requested", category=UserWarning)  # esda, star + "R"
        yield


@pytest.fixture(scope=shared_scope)
def reference() -> dict:
    return json.loads(shared_file("reference/hotspot_reference_values.json").read_text())


@pytest.fixture(scope=shared_scope)
def columbus() -> gpd.GeoDataFrame:
    # Planar coordinates although the file claims EPSG:4326: never reproject it.
    return gpd.read_file(shared_file("reference/columbus.geojson"))


def esda_w(xy: np.ndarray, threshold: float) -> lw.W:
    return lw.DistanceBand(xy, threshold, silence_warnings=True)


# --- reference values ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["transform=B,star=False", "transform=B,star=True", "transform=R,star=False",
                                 "transform=R,star=True"])
def test_toy_vectors_match_the_reference(reference, key):
    toy = reference["toy_6_points"]
    assert np.array_equal(toy["points"], TOY_POINTS) and np.array_equal(toy["y"], TOY_Y)
    transform = key.split(",")[0].split("=")[1]
    star = key.endswith("star=True")
    result = getis_ord(TOY_Y, distance_band(TOY_POINTS, 15), star=star, transform=transform)
    expected = toy["full_vectors_esda_computed"][key]
    assert pytest.approx(expected["Gs"], abs=1e-6) == result.G
    assert result.z == pytest.approx(expected["Zs"], abs=1e-6)
    assert pytest.approx(expected["EGs"], abs=1e-6) == result.EG
    assert result.star is star and result.transform == transform


def test_toy_pinned_scalars(reference):
    pinned = reference["toy_6_points"]["pinned_by_esda_tests"]
    w = distance_band(TOY_POINTS, 15)
    for key, star, transform in [
        ("G_Local(B).Zs[0]", False, "B"),
        ("G_Local(R).Zs[0]", False, "R"),
        ("G_Local(B,star=True).Zs[0]", True, "B"),
        ("G_Local(R,star=True).Zs[0]", True, "R"),
    ]:
        z0 = getis_ord(TOY_Y, w, star=star, transform=transform).z[0]
        assert z0 == pytest.approx(pinned[key], abs=1e-6)
    g = general_g(TOY_Y, w)
    full = reference["toy_6_points"]["global_G_esda_computed"]
    assert g.value == pytest.approx(pinned["G.G"], abs=1e-6)
    assert (g.value, g.expected, g.z) == pytest.approx((full["G"], full["EG"], full["z_norm"]), abs=1e-9)
    assert g.p / 2 == pytest.approx(full["p_norm"], abs=1e-9)  # esda's G.p_norm is one-sided
    # Pseudo p-values depend on the generator (ours is numpy's, esda's its own): same distribution, not draws.
    # Point 0 has 2 neighbours among 5 others; 9 of the 10 possible pairs sum to at least the observed 3 + 5,
    # so the exact directed p-value is 0.1 (+1/(P+1) for the observed value).
    sim = getis_ord(TOY_Y, w, star=False, transform="B", permutations=999, seed=10)
    assert sim.p_sim[0] == pytest.approx(pinned["G_Local(B,seed=10).p_sim[0]"], abs=0.03)
    assert sim.p_z_sim[0] == pytest.approx(pinned["G_Local(B,seed=10).p_z_sim[0]"], abs=0.03)
    many = getis_ord(TOY_Y, w, star=False, transform="B", permutations=50_000, seed=10)
    assert many.p_sim[0] == pytest.approx(0.1 + 1 / 50_001, abs=0.004)


@pytest.mark.parametrize("key", ["G_Local transform=B,star=True", "G_Local transform=B,star=False",
                                 "G_Local transform=R,star=True"])
def test_columbus_crime_gi_matches_the_reference(reference, columbus, key):
    expected = reference["columbus_crime"][key]
    transform = key.split("transform=")[1][0]
    star = key.endswith("star=True")
    w = contiguity(columbus, kind="queen")  # our contiguity, not libpysal's
    result = getis_ord(columbus["CRIME"], w, star=star, transform=transform)
    by_id = dict(zip(columbus["POLYID"].astype(int), result.z, strict=True))
    assert len(expected["POLYID"]) == 49
    assert [by_id[int(i)] for i in expected["POLYID"]] == pytest.approx(expected["Zs"], abs=1e-6)
    gs = dict(zip(columbus["POLYID"].astype(int), result.G, strict=True))
    assert [gs[int(i)] for i in expected["POLYID"]] == pytest.approx(expected["Gs"], abs=1e-6)


def test_columbus_moran(reference, columbus):
    ref = reference["columbus_crime"]
    result = moran_i(columbus["CRIME"], contiguity(columbus, kind="queen"))
    assert result.value == pytest.approx(ref["moran_I_row_standardized"], abs=1e-9)
    assert result.expected == pytest.approx(ref["moran_EI"], abs=1e-12)
    assert result.z == pytest.approx(ref["moran_z_norm"], abs=1e-6)
    assert result.p == pytest.approx(ref["moran_p_norm"], rel=1e-6)  # esda's Moran p_norm is two-sided


# --- against esda directly ----------------------------------------------------------------------------------


def random_case(seed: int, n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 100, (n, 2))
    xy[0] = (500.0, 500.0)  # an island for the distance band
    return xy, rng.gamma(1.5, 4.0, n)


@pytest.mark.parametrize("transform", ["B", "R"])
@pytest.mark.parametrize("star", [True, False])
def test_same_as_esda_on_a_distance_band(transform, star):
    xy, y = random_case(5)
    ours = getis_ord(y, distance_band(xy, 9.0), star=star, transform=transform)
    theirs = G_Local(y, esda_w(xy, 9.0), transform=transform, star=star, permutations=0)
    assert np.array_equal(np.isnan(ours.z), np.isnan(theirs.Zs))
    ok = ~np.isnan(theirs.Zs)
    assert np.abs(ours.z - theirs.Zs)[ok].max() < 1e-9
    assert np.abs(ours.G - theirs.Gs).max() < 1e-12
    assert np.abs(ours.VG - theirs.VGs)[ok].max() < 1e-12
    assert np.abs(ours.p_norm - theirs.p_norm)[ok].max() < 1e-9
    assert np.allclose(ours.p[ok], 2 * theirs.p_norm[ok])


@pytest.mark.parametrize("transform", ["B", "R"])
@pytest.mark.parametrize("star", [True, False])
def test_same_as_esda_on_queen_contiguity(columbus, transform, star):
    y = np.random.default_rng(6).poisson(4.0, len(columbus)).astype(float)
    ours = getis_ord(y, contiguity(columbus, kind="queen"), star=star, transform=transform)
    theirs = G_Local(y, lw.Queen.from_dataframe(columbus, use_index=False), transform=transform, star=star,
                     permutations=0)
    assert np.abs(ours.z - theirs.Zs).max() < 1e-9


def test_self_weight_rules_follow_esda():
    xy, y = random_case(7, n=60)
    w = distance_band(xy, 20.0)
    with_diag = (w + sparse.identity(60) * 0.5).tocsr()
    # star=False removes a diagonal; star=True keeps it; a number sets it
    assert np.allclose(getis_ord(y, with_diag, star=False).z, getis_ord(y, w, star=False).z, equal_nan=True)
    for transform in "BR":
        ours = getis_ord(y, w, star=0.5, transform=transform)
        theirs = G_Local(y, esda_w(xy, 20.0), transform=transform, star=0.5, permutations=0)
        assert np.nanmax(np.abs(ours.z - theirs.Zs)) < 1e-9
        assert np.allclose(getis_ord(y, with_diag, star=True, transform=transform).z, ours.z, equal_nan=True)
    # under "B" any positive self-weight means 1
    assert np.allclose(getis_ord(y, w, star=0.5, transform="B").z, getis_ord(y, w, transform="B").z)


def test_permutations_agree_with_esda_in_distribution_and_repeat_with_a_seed():
    xy, y = random_case(8, n=150)
    w = distance_band(xy, 12.0)
    ours = getis_ord(y, w, permutations=999, seed=42, keep_simulations=True)
    theirs = G_Local(y, esda_w(xy, 12.0), transform="B", star=True, permutations=999, seed=42, n_jobs=1)
    ok = ~np.isnan(ours.p_sim)
    assert not ok[0]  # the island has no neighbours to permute
    diff = np.abs(ours.p_sim - theirs.p_sim)[ok]
    assert diff.max() < 0.1 and diff.mean() < 0.025
    assert np.abs(ours.z_sim - theirs.z_sim)[ok].mean() < 0.1
    assert np.corrcoef(ours.z_sim[ok], ours.z[ok])[0, 1] > 0.8  # skewed values: the normal z differs
    assert ours.sim.shape == (150, 999)
    again = getis_ord(y, w, permutations=999, seed=42)
    assert np.array_equal(again.p_sim, ours.p_sim, equal_nan=True)
    other = getis_ord(y, w, permutations=999, seed=43)
    assert not np.array_equal(other.p_sim, ours.p_sim, equal_nan=True)
    # The permutation mean converges to the exact conditional mean: (y_i + k * mean of the others) / total.
    k = np.diff(ours.weights.indptr) - 1
    exact = (y + k * (y.sum() - y) / (len(y) - 1)) / y.sum()
    big = getis_ord(y, w, permutations=20_000, seed=1)
    assert np.abs(big.EG_sim - exact)[ok].max() < 0.002 * exact[ok].max()


def test_gi_star_on_a_lattice_of_a_million_cells_is_fast_and_finds_the_block():
    import time

    y = np.random.default_rng(9).poisson(2.0, 1_000_000).astype(float)
    y[500 * 1000 + 500: 500 * 1000 + 503] += 30
    w = lattice(1000, 1000)
    start = time.perf_counter()
    result = getis_ord(y, w)
    assert time.perf_counter() - start < 10.0  # ≈0.7 s alone; generous on a shared machine
    assert int(np.argmax(result.z)) == 500 * 1000 + 501


def test_getis_ord_validation_collects_problems():
    with pytest.raises(GeoValidationError) as err:
        getis_ord([1.0, -2.0, 3.0], sparse.identity(4), transform="X", permutations=-1, star="yes")
    assert {p.field for p in err.value.problems} == {"y", "W", "transform", "permutations", "star"}
    with pytest.raises(GeoValidationError, match="sums to 0"):
        getis_ord([0, 0, 0], lattice(1, 3))


# --- FDR, bins, estimator -----------------------------------------------------------------------------------


def test_fdr_equals_scipy_exactly():
    rng = np.random.default_rng(10)
    p = np.concatenate([rng.uniform(0, 1, 500), rng.uniform(0, 0.01, 50), [0.0, 1.0, 0.03, 0.03, 0.03]])
    adjusted, significant = fdr(p, alpha=0.05)
    assert np.array_equal(adjusted, stats.false_discovery_control(p, method="bh"))
    assert np.array_equal(significant, adjusted <= 0.05)
    grid = p.reshape(5, 111)
    assert np.array_equal(fdr(grid)[0], adjusted.reshape(5, 111))
    with_nan = np.append(p, np.nan)
    assert np.array_equal(fdr(with_nan)[0][:-1], adjusted) and np.isnan(fdr(with_nan)[0][-1])
    with pytest.raises(GeoValidationError) as err:
        fdr([0.5, 1.5], alpha=2)
    assert {pr.field for pr in err.value.problems} == {"p", "alpha"}


def test_gi_bin_levels_and_fdr():
    z = np.array([-3.0, -2.0, -1.7, -1.6, 0.0, 1.6, 1.7, 1.97, 2.57, 2.58, np.nan])
    p = 2 * stats.norm.sf(np.abs(z))
    # ArcGIS's critical values: 1.645, 1.960, 2.576
    assert gi_bin(z, p, fdr=False).tolist() == [-3, -2, -1, 0, 0, 0, 1, 2, 2, 3, 0]
    adjusted = fdr(p)[0]
    expected = np.select([adjusted <= 0.01, adjusted <= 0.05, adjusted <= 0.1], [3, 2, 1], 0) * np.sign(
        np.nan_to_num(z))
    assert gi_bin(z, p, fdr=True).tolist() == expected.tolist()
    assert np.abs(gi_bin(z, p, fdr=True)).sum() < np.abs(gi_bin(z, p, fdr=False)).sum()


def test_estimator_sets_attributes():
    y = np.zeros(100)
    y[[44, 45, 54, 55]] = 10
    gi = GetisOrdStar().fit(y, lattice(10, 10))
    assert gi.bin_[44] == 3 and gi.bin_[0] == 0
    reference = getis_ord(y, lattice(10, 10))
    assert np.array_equal(gi.z_, reference.z) and np.array_equal(gi.p_, reference.p)
    assert np.array_equal(gi.p_fdr_, fdr(reference.p)[0])
    assert gi.p_sim_ is None
    sims = GetisOrdStar(permutations=99, seed=1, fdr=False).fit(y, lattice(10, 10))
    assert sims.p_sim_.shape == (100,) and sims.p_sim_[44] == pytest.approx(0.01)


# --- Mann–Kendall -------------------------------------------------------------------------------------------


def slow_mann_kendall(x: list[float]) -> tuple[float, float, float, float]:
    n = len(x)
    s = sum(np.sign(x[j] - x[i]) for i in range(n) for j in range(i + 1, n))
    ties = [x.count(v) for v in set(x)]
    var = (n * (n - 1) * (2 * n + 5) - sum(t * (t - 1) * (2 * t + 5) for t in ties)) / 18
    z = (s - 1) / math.sqrt(var) if s > 0 else (s + 1) / math.sqrt(var) if s < 0 else 0.0
    return s, var, z, 2 * (1 - stats.norm.cdf(abs(z)))


def test_mann_kendall_matches_a_slow_reference_with_ties():
    rng = np.random.default_rng(11)
    series = rng.integers(0, 5, (200, 12)).astype(float)  # many ties
    series[:20] += np.arange(12)  # some trends
    series[20] = 3.0  # constant
    result = mann_kendall(series)
    for row, s, var, z, p in zip(series, result.s, result.var_s, result.z, result.p, strict=True):
        assert (s, var, z, p) == pytest.approx(slow_mann_kendall(row.tolist()), abs=1e-12)
    for row, tau in zip(series[:40], result.tau[:40], strict=True):
        expected = stats.kendalltau(np.arange(12), row).statistic
        assert (np.isnan(tau) and np.isnan(expected)) or tau == pytest.approx(expected, abs=1e-12)
    single = mann_kendall([1.0, 2.0, 3.0, 5.0, 4.0])
    assert single.s.shape == () and float(single.s) == 8.0
    with pytest.raises(GeoValidationError, match="NaN"):
        mann_kendall([1.0, np.nan, 2.0])


# --- emerging hot spots -------------------------------------------------------------------------------------

H, Z, C = 3.0, 0.0, -3.0  # a hot, a not significant (zero) and a cold z-score (alpha 0.1)
SERIES = {
    "New Hot Spot": [Z] * 9 + [H],
    "Consecutive Hot Spot": [Z] * 7 + [H] * 3,
    "Intensifying Hot Spot": [2.0 + i for i in range(10)],
    "Persistent Hot Spot": [3.0, 4.0] * 5,
    "Diminishing Hot Spot": [11.0 - i for i in range(10)],
    "Sporadic Hot Spot": [Z, H, Z, Z, H, Z, H, Z, Z, H],
    "Oscillating Hot Spot": [C, Z, H, Z, C, Z, Z, H, Z, H],
    "Historical Hot Spot": [H] * 9 + [Z],
    "No Pattern Detected": [H, H, H] + [Z] * 7,
}


@pytest.mark.parametrize("name", list(SERIES))
def test_each_emerging_pattern_on_a_constructed_series(name):
    z = np.array(SERIES[name])
    hot = classify_emerging(z, alpha=0.1)
    assert pattern_name(int(hot.code)) == name
    cold = classify_emerging(-z, alpha=0.1)
    assert pattern_name(int(cold.code)) == name.replace("Hot", "Cold")


def test_emerging_final_step_beats_historical_of_the_other_kind():
    assert classify_emerging([H] * 9 + [C]).pattern == "New Cold Spot"
    assert classify_emerging([C] * 9 + [H]).pattern == "New Hot Spot"  # not Historical Cold Spot
    assert classify_emerging([C] * 19 + [H]).pattern == "New Hot Spot"


def test_emerging_patterns_vectorised_with_names():
    z = np.array(list(SERIES.values()))
    result = classify_emerging(np.vstack([z, -z]))
    names = list(SERIES) + [n.replace("Hot", "Cold") for n in SERIES]
    assert result.pattern.tolist() == names
    assert result.hot.shape == (18, 10) and result.trend.z.shape == (18,)
    assert sorted(set(result.code.tolist())) == list(range(-8, 9))  # all 17 categories


def test_emerging_hotspots_on_a_cube():
    rng = np.random.default_rng(12)
    side, steps = 12, 12
    counts = rng.poisson(2.0, (side * side, steps)).astype(float)
    block = [r * side + c for r in range(2, 5) for c in range(2, 5)]
    late = [r * side + c for r in range(7, 10) for c in range(7, 10)]
    counts[block] += 12  # hot throughout
    counts[np.ix_(late, range(steps - 3, steps))] += 15  # appears in the last three steps
    result = emerging_hotspots(counts, lattice(side, side), alpha=0.05)
    assert result.pattern[block[4]] == "Persistent Hot Spot"
    assert result.pattern[late[4]] == "Consecutive Hot Spot"
    assert result.z.shape == (side * side, steps)
    quiet = [i for i in range(side * side) if i not in block + late and all(
        abs(i // side - j // side) > 2 or abs(i % side - j % side) > 2 for j in block + late)]
    assert (result.code[quiet] >= 0).all()  # no hot spot far from the clusters
    assert (result.code[quiet] > 0).mean() < 0.1
    windowed = emerging_hotspots(counts, lattice(side, side), alpha=0.05, time_window=1)
    assert windowed.pattern[block[4]] == "Persistent Hot Spot"


# --- kernel density -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kernel", ["quartic", "gaussian"])
def test_kernel_density_integrates_to_the_weights_and_peaks_at_the_cluster(kernel):
    rng = np.random.default_rng(13)
    centre = np.array([6_200.0, 3_700.0])
    cluster = centre + rng.normal(0, 150, (3_000, 2))
    background = rng.uniform(2_000, 8_000, (1_000, 2))
    xy = np.vstack([cluster, background])
    w = rng.integers(1, 4, len(xy)).astype(float)
    raster = kernel_density(xy[:, 0], xy[:, 1], bandwidth_m=300, cell_m=25, bounds=(0, 0, 10_000, 10_000),
                            weights=w, kernel=kernel)
    a, _, c, _, e, f = raster.transform
    assert raster.values.shape == (400, 400) and (a, c, e, f) == (25, 0, -25, 10_000)
    assert raster.values.sum() * 25 * 25 == pytest.approx(w.sum(), rel=1e-9)
    row, col = np.unravel_index(np.argmax(raster.values), raster.values.shape)
    peak = np.array([c + (col + 0.5) * a, f + (row + 0.5) * e])
    assert np.hypot(*(peak - centre)) < 100
    assert raster.values.min() >= 0


def test_kernel_density_matches_the_continuous_kernel():
    rng = np.random.default_rng(14)
    xy = rng.uniform(400, 600, (200, 2))
    raster = kernel_density(xy[:, 0], xy[:, 1], bandwidth_m=200, cell_m=5, bounds=(0, 0, 1000, 1000))
    # the quartic kernel at a cell centre, from the exact point positions
    for row, col in [(100, 100), (80, 120), (110, 60)]:
        x, y = 2.5 + col * 5, 1000 - 2.5 - row * 5
        d2 = ((xy - [x, y]) ** 2).sum(axis=1)
        exact = (3 / (math.pi * 200**2) * np.where(d2 < 200**2, (1 - d2 / 200**2) ** 2, 0)).sum()
        assert raster.values[row, col] == pytest.approx(exact, rel=0.02)


def test_kernel_density_validation_collects_problems():
    with pytest.raises(GeoValidationError) as err:
        kernel_density([0, 1], [0], bandwidth_m=0, cell_m=-1, bounds=(0, 0, 0, 0), kernel="box")
    assert {p.field for p in err.value.problems} == {"y", "bandwidth_m", "cell_m", "bounds", "kernel"}


# --- real data: illegal dumping in Los Angeles --------------------------------------------------------------


@pytest.fixture(scope=shared_scope)
def dumping() -> pd.DataFrame:
    frame = pd.read_csv(shared_file("la311/myla311_2017-12-27_to_31.csv"),
                        usecols=["RequestType", "Latitude", "Longitude", "CreatedDate"])
    frame = frame.dropna(subset=["Latitude", "Longitude"])
    assert len(frame) == 8246
    return frame[frame["RequestType"] == "Illegal Dumping Pickup"]


def test_illegal_dumping_hot_spots_in_los_angeles(dumping):
    """Illegal-dumping reports of 27–31 Dec 2017 on H3 resolution-8 cells covering LA's neighbourhood
    councils."""
    councils = gpd.read_file(shared_file("la311/la_neighborhood_councils_certified.geojson"))
    assert len(dumping) == 800
    cells = hexagons(councils, 8)
    points = gpd.GeoSeries(gpd.points_from_xy(dumping["Longitude"], dumping["Latitude"]), crs=4326)
    counts = count_points(points, cells)
    assert 700 < counts.sum() <= 800  # a few reports fall outside every council
    gi = GetisOrdStar(fdr=True).fit(counts, h3_neighbours(cells, k=1))

    hot95 = gi.bin_ >= 2
    hot99 = gi.bin_ == 3
    assert 20 <= hot95.sum() <= 120 and 10 <= hot99.sum() <= hot95.sum()
    assert (gi.bin_ < 0).sum() == 0  # sparse counts: an empty cell among empty cells is not significant
    # The densest place, found independently: the cell with most reports. The strongest hot spot is next to
    # it.
    densest = h3.cell_to_latlng(cells["h3"].iloc[int(np.argmax(counts))])
    top = h3.cell_to_latlng(cells["h3"].iloc[int(np.nanargmax(gi.z_))])
    assert h3.great_circle_distance(densest, top, unit="km") < 3.0
    # hot cells hold several times their share of the area in reports (≈23 % of reports on ≈4 % of the cells)
    assert counts[hot95].sum() / counts.sum() > 5 * hot95.mean() and hot95.mean() < 0.1

    # Summary for the README: where the hot spots are (council of each hot cell's centre).
    centres = gpd.GeoDataFrame(
        {"bin": gi.bin_, "z": gi.z_, "n": counts},
        geometry=gpd.points_from_xy(*np.array([h3.cell_to_latlng(c)[::-1] for c in cells["h3"]]).T), crs=4326)
    where = gpd.sjoin(centres[centres["bin"] >= 2], councils[["name", "geometry"]], predicate="within")
    summary = where.groupby("name").agg(cells=("z", "size"), at99=("bin", lambda b: int((b == 3).sum())),
                                        reports=("n", "sum"), max_z=("z", "max"))
    print(f"\nhot cells (FDR): {int(hot95.sum())} at >=95 %, {int(hot99.sum())} at 99 %, of {len(cells)} "
          f"cells; they hold {int(counts[hot95].sum())} of {int(counts.sum())} reports")
    print(f"top hot spot {top[0]:.4f}, {top[1]:.4f} (z={np.nanmax(gi.z_):.1f}); "
          f"densest cell {densest[0]:.4f}, {densest[1]:.4f} ({int(counts.max())} reports)")
    print(summary.sort_values("reports", ascending=False).head(10).to_string())
    assert {"SYLMAR NC", "EAST HOLLYWOOD NC"} <= set(summary.index)


def test_illegal_dumping_agrees_on_a_one_km_fishnet(dumping):
    from geo.cells import fishnet
    from geo.crs import metric_crs_for_bounds

    councils = gpd.read_file(shared_file("la311/la_neighborhood_councils_certified.geojson"))
    crs = metric_crs_for_bounds(tuple(councils.total_bounds))
    city = councils.to_crs(crs).union_all()
    net = fishnet(city.bounds, 1000.0, crs)
    net = net[net.intersects(city)]
    spec = net.attrs["fishnet"]
    ids = net["cell"].to_numpy()
    points = gpd.GeoSeries(gpd.points_from_xy(dumping["Longitude"], dumping["Latitude"]), crs=4326)
    counts = count_points(points, net)
    gi = GetisOrdStar().fit(counts, lattice(spec.nrows, spec.ncols)[ids][:, ids])
    top = gpd.GeoSeries([net.geometry.iloc[int(np.argmax(gi.z_))].centroid], crs=crs).to_crs(4326)[0]
    # same place as on the H3 grid: East Hollywood / Koreatown, around 34.08 N, 118.29 W
    assert h3.great_circle_distance((top.y, top.x), (34.08, -118.295), unit="km") < 3.0
    assert 20 <= (gi.bin_ >= 2).sum() <= 120
