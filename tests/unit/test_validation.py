"""Tests of geo.validation on small hand-built layers."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from shapely import wkt
from shapely.geometry import MultiPolygon, Point, Polygon, box

from geo.errors import GeoValidationError, Problem
from geo.validation import repair_polygons, summarize_problems, validate_geometries

BOW_TIE = Polygon([(0, 0), (2, 2), (2, 0), (0, 2)])
POLYGONAL = {"Polygon", "MultiPolygon"}
AREA = (-10.0, -10.0, 10.0, 10.0)


def _layer(crs: str | None = "EPSG:32632") -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"fid": [101, 102, 103, 104, 105, 106, 107]},
        geometry=[
            box(0, 0, 1, 1),  # fine
            BOW_TIE,
            Point(0.5, 0.5),
            None,
            Polygon(),
            box(5, 5, 50, 6),  # reaches outside AREA
            MultiPolygon([box(0, 0, 1, 1), box(2, 2, 3, 3)]),  # fine
        ],
        index=[10, 20, 30, 40, 50, 60, 70],
        crs=crs,
    )


def _by_kind(problems: list[Problem]) -> dict[str, list[object]]:
    out: dict[str, list[object]] = {}
    for p in problems:
        out.setdefault(p.kind, []).append(p.feature_id)
    return out


def test_every_problem_kind_with_its_feature_id() -> None:
    problems = validate_geometries(_layer(None), id_column="fid", allowed_types=POLYGONAL, bounds=AREA)
    assert _by_kind(problems) == {
        "unknown_crs": [None],
        "empty_geometry": [104, 105],
        "wrong_geometry_type": [103],
        "invalid_geometry": [102],
        "outside_area": [106],
    }


def test_messages_are_specific() -> None:
    problems = validate_geometries(_layer(), id_column="fid", allowed_types=POLYGONAL, bounds=AREA)
    messages = {(p.kind, p.feature_id): p.message for p in problems}
    assert messages[("invalid_geometry", 102)] == "Self-intersection[1 1]"
    assert messages[("wrong_geometry_type", 103)] == "Point, expected MultiPolygon or Polygon"
    assert messages[("empty_geometry", 104)] == "geometry is missing"
    assert messages[("empty_geometry", 105)] == "geometry is empty"
    assert "(5, 5, 50, 6)" in messages[("outside_area", 106)]


def test_index_labels_identify_features_without_id_column() -> None:
    problems = validate_geometries(_layer(), allowed_types=POLYGONAL)
    by_kind = _by_kind(problems)
    assert by_kind["invalid_geometry"] == [20]
    assert by_kind["wrong_geometry_type"] == [30]
    assert all(type(fid) is int for fid in by_kind["empty_geometry"])  # plain ints, not numpy scalars


def test_clean_layer_has_no_problems() -> None:
    layer = _layer().iloc[[0, 6]]
    assert validate_geometries(layer, id_column="fid", allowed_types=POLYGONAL, bounds=AREA) == []


def test_layer_without_crs_reported_once_and_optional() -> None:
    layer = _layer(None)
    assert [p for p in validate_geometries(layer) if p.kind == "unknown_crs"] == [
        Problem("unknown_crs", "the layer has no CRS; set it (e.g. EPSG:4326) before using it", field="crs")
    ]
    assert not [p for p in validate_geometries(layer, require_crs=False) if p.kind == "unknown_crs"]


def test_allowed_types_are_case_insensitive_and_checked() -> None:
    layer = _layer()
    assert _by_kind(validate_geometries(layer, allowed_types={"polygon", "MULTIPOLYGON"}))[
        "wrong_geometry_type"
    ] == [30]
    with pytest.raises(GeoValidationError) as info:
        validate_geometries(layer, allowed_types={"Polgon"})
    assert info.value.problems[0].field == "allowed_types"


def test_bad_arguments_are_reported_together() -> None:
    with pytest.raises(GeoValidationError) as info:
        validate_geometries(_layer(), id_column="nope", bounds=(1, 2, 0, 3))
    assert {p.field for p in info.value.problems} == {"id_column", "bounds"}
    with pytest.raises(GeoValidationError):
        validate_geometries(_layer().drop(columns="geometry"))  # type: ignore[arg-type]


def test_summarize_gives_one_line_per_kind() -> None:
    problems = validate_geometries(_layer(None), id_column="fid", allowed_types=POLYGONAL, bounds=AREA)
    lines = summarize_problems(problems)
    assert len(lines) == 5
    assert [line.split(":")[0] for line in lines] == [
        "unknown_crs",
        "empty_geometry",
        "wrong_geometry_type",
        "invalid_geometry",
        "outside_area",
    ]
    assert lines[1] == "empty_geometry: 2 features (ids 104, 105): geometry is missing"
    assert lines[3] == "invalid_geometry: 1 feature (id 102): Self-intersection[1 1]"
    assert lines[0].startswith("unknown_crs: the layer has no CRS")


def test_summarize_truncates_ids() -> None:
    problems = [
        Problem("invalid_geometry", f"Self-intersection[{i} 0]", feature_id=i) for i in (4, 17, 230, 231)
    ]
    assert summarize_problems(problems) == [
        "invalid_geometry: 4 features (ids 4, 17, 230, …): Self-intersection[4 0]"
    ]
    assert summarize_problems(problems, max_examples=5)[0].startswith(
        "invalid_geometry: 4 features (ids 4, 17, 230, 231)"
    )
    assert summarize_problems([]) == []


def test_repair_polygons_fixes_bow_tie_and_drops_non_polygons() -> None:
    overlapping_outers = wkt.loads("MULTIPOLYGON(((0 0,2 0,2 2,0 2,0 0)),((1 1,3 1,3 3,1 3,1 1)))")
    series = gpd.GeoSeries(
        [box(0, 0, 1, 1), BOW_TIE, Point(1, 1), None, Polygon(), overlapping_outers],
        index=list("abcdef"),
        crs="EPSG:32632",
    )
    repaired, n_repaired = repair_polygons(series)
    assert n_repaired == 2
    assert list(repaired.index) == ["a", "b", "f"]
    assert repaired.crs == series.crs
    assert set(repaired.geom_type) == {"MultiPolygon"}
    assert repaired.is_valid.all()
    assert repaired["b"].area == pytest.approx(2.0)  # two triangles of the bow-tie
    # Overlapping outer rings are unioned, not cut into a hole.
    assert repaired["f"].area == pytest.approx(7.0)


def test_repair_polygons_accepts_plain_arrays() -> None:
    repaired, n_repaired = repair_polygons(np.array([BOW_TIE, box(0, 0, 1, 1)], dtype=object))
    assert n_repaired == 1 and len(repaired) == 2
