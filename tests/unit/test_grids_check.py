"""Grid layer checks on hand-built layers with known faults (geo.grids.check)."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import MultiPolygon, Polygon, box

from geo.errors import GeoValidationError
from geo.grids.check import GridCheck, check_grids, format_check, problem_location

CRS = "EPSG:32650"


def _communities() -> gpd.GeoDataFrame:
    """A: 200 m x 100 m; B: two separate 50 m squares east of it."""
    b = MultiPolygon([box(300, 0, 350, 50), box(400, 0, 450, 50)])
    return gpd.GeoDataFrame({"community_id": ["A", "B"]}, geometry=[box(0, 0, 200, 100), b], crs=CRS)


def _grids(**replace: Polygon | MultiPolygon) -> gpd.GeoDataFrame:
    """Good grids: A1 and A2 halve A; B1 is the west part of B, B2 the east part."""
    shapes = {"A1": box(0, 0, 100, 100), "A2": box(100, 0, 200, 100), "B1": box(300, 0, 350, 50),
              "B2": box(400, 0, 450, 50)}
    shapes.update(replace)
    codes = {"A1": "110105001001001", "A2": "110105001001002", "B1": "110105001002001", "B2": "110105001002002"}
    return gpd.GeoDataFrame(
        {"code": [codes[k] for k in shapes], "community_id": [k[0] for k in shapes]},
        geometry=list(shapes.values()), index=list(shapes), crs=CRS,
    )


def _buildings(*extra: tuple[str, Polygon, int]) -> gpd.GeoDataFrame:
    rows = [("h1", box(10, 10, 30, 30), 300), ("h2", box(150, 60, 170, 80), 320), ("h3", box(310, 10, 320, 20), 350),
            ("h4", box(410, 10, 420, 20), 310), *extra]
    return gpd.GeoDataFrame(
        {"households": [r[2] for r in rows]}, geometry=[r[1] for r in rows], index=[r[0] for r in rows], crs=CRS
    )


def _only(check: GridCheck, kind: str) -> list[object]:
    return [p.feature_id for p in check.problems if p.kind == kind]


def test_good_layers_pass() -> None:
    check = check_grids(_communities(), _grids(), _buildings(), households_range=(300, 500))
    assert check.ok
    assert check.problems == []
    assert (check.n_grids, check.n_communities) == (4, 2)
    assert "Grid check OK: 4 grids in 2 communities" in format_check(check)


def test_gap_is_found_with_its_community_and_location() -> None:
    check = check_grids(_communities(), _grids(A2=box(100, 0, 190, 100)), _buildings())
    assert check.gaps == 1
    assert _only(check, "gap") == ["A"]
    message = next(p.message for p in check.problems if p.kind == "gap")
    assert "1000.0 m²" in message and "(195.0, 50.0)" in message
    assert not check.ok


def test_overlap_is_found_with_both_grids() -> None:
    check = check_grids(_communities(), _grids(A1=box(0, 0, 110, 100)), _buildings())
    assert check.overlaps == 1
    assert _only(check, "overlap") == [("110105001001001", "110105001001002")]
    assert check.gaps == 0
    assert not check.ok


def test_overlap_below_tolerance_is_ignored() -> None:
    check = check_grids(_communities(), _grids(A1=box(0, 0, 100.001, 100)), _buildings(), tolerance_m2=1.0)
    assert check.overlaps == 0
    assert check.ok


def test_building_in_no_grid() -> None:
    grids = _grids(A2=box(100, 0, 190, 100))
    check = check_grids(_communities(), grids, _buildings(("lost", box(192, 40, 198, 60), 0)))
    assert check.buildings_in_no_grid == 1
    assert _only(check, "building_in_no_grid") == ["lost"]


def test_building_on_a_shared_edge_is_in_several_grids() -> None:
    check = check_grids(_communities(), _grids(), _buildings(("edge", box(90, 40, 110, 60), 0)))
    assert check.buildings_in_several_grids == 1
    assert _only(check, "building_in_several_grids") == ["edge"]
    assert not check.ok


def test_building_cut_by_a_grid_line_is_a_warning() -> None:
    check = check_grids(_communities(), _grids(), _buildings(("cut", box(90, 40, 130, 60), 0)))
    assert check.buildings_cut == 1
    assert _only(check, "building_cut") == ["cut"]
    assert check.ok


def test_duplicate_code() -> None:
    grids = _grids()
    grids.loc["A2", "code"] = grids.loc["A1", "code"]
    check = check_grids(_communities(), grids, _buildings())
    assert check.duplicate_codes == 1
    assert _only(check, "duplicate_code") == ["110105001001001"]
    assert not check.ok


def test_missing_code_is_reported_by_grid_label() -> None:
    grids = _grids()
    grids.loc["B2", "code"] = None
    check = check_grids(_communities(), grids, _buildings())
    assert check.duplicate_codes == 1
    assert _only(check, "duplicate_code") == ["B2"]


def test_grid_outside_its_community() -> None:
    check = check_grids(_communities(), _grids(A2=box(100, 0, 250, 100)), _buildings())
    assert check.grids_outside_community == 1
    assert _only(check, "grid_outside_community") == ["110105001001002"]
    assert not check.ok


def test_grid_naming_an_unknown_community() -> None:
    grids = _grids()
    grids.loc["B2", "community_id"] = "Z"
    check = check_grids(_communities(), grids, _buildings())
    assert _only(check, "grid_outside_community") == ["110105001002002"]
    assert check.gaps == 1  # B's east part now has no grid
    assert _only(check, "gap") == ["B"]


def test_multipart_grid_is_a_warning() -> None:
    grids = _grids().drop(index="B2")
    grids.loc["B1", "geometry"] = MultiPolygon([box(300, 0, 350, 50), box(400, 0, 450, 50)])
    check = check_grids(_communities(), grids, _buildings(), households_range=(300, 700))
    assert check.multipart_grids == 1
    assert _only(check, "multipart_grid") == ["110105001002001"]
    assert check.ok


def test_households_out_of_range_is_a_warning() -> None:
    check = check_grids(_communities(), _grids(), _buildings(("big", box(40, 40, 60, 60), 250)),
                        households_range=(300, 500))
    assert check.households_out_of_range == 1
    assert _only(check, "households_out_of_range") == ["110105001001001"]
    assert check.ok
    report = format_check(check)
    assert "households out of range: 1 (warning)" in report
    assert "550 households" in report


def test_format_lists_errors_and_caps_problems() -> None:
    grids = _grids(A2=box(100, 0, 190, 100), A1=box(0, 0, 110, 100))
    report = format_check(check_grids(_communities(), grids, _buildings()), max_problems=1)
    assert report.startswith("Grid check FAILED")
    assert "gaps: 1 (error)" in report and "overlaps: 1 (error)" in report
    assert "... and 1 more problems" in report


def test_invalid_grid_geometry_is_fatal() -> None:
    bowtie = Polygon([(0, 0), (100, 100), (100, 0), (0, 100)])
    check = check_grids(_communities(), _grids(A1=bowtie), _buildings())
    assert check.invalid_geometries == 1
    assert _only(check, "invalid_geometry") == ["110105001001001"]
    assert not check.ok


def test_inputs_that_cannot_be_checked_raise() -> None:
    with pytest.raises(GeoValidationError) as err:
        check_grids(_communities(), _grids().drop(columns="code"), _buildings().to_crs("EPSG:4326"))
    fields = {p.field for p in err.value.problems}
    assert {"grids", "buildings"} <= fields
    with pytest.raises(GeoValidationError) as err:
        check_grids(_communities(), _grids(), _buildings().drop(columns="households"), households_range=(1, 2))
    assert err.value.problems[0].field == "buildings"


# --- slivers ------------------------------------------------------------------------------------------------------


def _with_strip(width: float) -> gpd.GeoDataFrame:
    """A2 ends ``width`` m short of A's east edge; a third grid A3 is the strip left over."""
    grids = _grids(A2=box(100, 0, 200 - width, 100))
    strip = gpd.GeoDataFrame({"code": ["110105001001003"], "community_id": ["A"]},
                             geometry=[box(200 - width, 0, 200, 100)], index=["A3"], crs=CRS)
    return gpd.GeoDataFrame(pd.concat([grids, strip]), crs=CRS)


def test_a_thin_grid_is_a_fatal_sliver_with_its_location() -> None:
    check = check_grids(_communities(), _with_strip(1.5), _buildings())
    assert check.slivers == 1
    assert _only(check, "sliver") == ["110105001001003"]
    problem = next(p for p in check.problems if p.kind == "sliver")
    assert "150.0 m²" in problem.message and "thinner than 2 m" in problem.message
    x, y = problem_location(problem)
    assert 198.5 <= x <= 200 and 0 <= y <= 100
    assert not check.ok
    assert "slivers: 1 (error)" in format_check(check)


def test_a_thin_part_of_a_multipart_grid_is_a_sliver() -> None:
    grids = _grids(B1=MultiPolygon([box(300, 0, 350, 50), box(400, 0, 401, 50)]), B2=box(401, 0, 450, 50))
    check = check_grids(_communities(), grids, _buildings())
    assert (check.slivers, check.multipart_grids) == (1, 1)
    assert _only(check, "sliver") == ["110105001002001"]
    assert check.gaps == 0 and check.overlaps == 0


def test_sliver_width_is_configurable_and_noise_is_ignored() -> None:
    assert check_grids(_communities(), _with_strip(3), _buildings()).slivers == 0  # 3 m wide: a narrow grid
    assert check_grids(_communities(), _with_strip(3), _buildings(), sliver_width_m=4).slivers == 1
    assert check_grids(_communities(), _with_strip(1.5), _buildings(), sliver_width_m=0).slivers == 0
    tiny = _with_strip(0.005)  # 0.5 m²: below the 1 m² tolerance
    assert check_grids(_communities(), tiny, _buildings()).slivers == 0
    with pytest.raises(GeoValidationError):
        check_grids(_communities(), _grids(), _buildings(), sliver_width_m=-1)


def test_every_problem_has_a_location_in_the_layer_crs() -> None:
    grids = _grids(A1=box(0, 0, 110, 100), B2=box(400, 0, 440, 50))
    check = check_grids(_communities(), grids, _buildings(("lost", box(442, 10, 448, 20), 0)))
    kinds = {p.kind for p in check.problems}
    assert {"overlap", "gap", "building_in_no_grid"} <= kinds
    assert all(problem_location(p) is not None for p in check.problems)
