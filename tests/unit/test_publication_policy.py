"""The publication policy as data: generalised points, status texts, sensitive categories."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

from patrol.cases.lifecycle import Status
from patrol.publication import policy

CATEGORIES = Path(__file__).parents[2] / "patrol" / "data" / "categories.csv"


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    return math.hypot((a[0] - b[0]) * 111_320 * math.cos(math.radians(a[1])), (a[1] - b[1]) * 111_320)


@pytest.mark.parametrize("point", [(7.4213371, 43.7384512), (116.397128, 39.916527), (-0.1275, 51.5072),
                                   (121.4737, 31.2304)])
def test_a_point_is_generalised_to_its_cell_centre_within_the_cell(point):
    g = policy.generalise(*point)
    assert _metres(point, g) <= policy.GENERALISE_M / math.sqrt(2) + 1  # at most half the cell's diagonal
    assert policy.generalise(*g) == g  # a cell centre is its own centre
    d = 40 / 111_320  # every point within 40 m of a centre has that one public point
    near = [(g[0] + i * d / math.cos(math.radians(g[1])), g[1] + j * d) for i in (-1, 0, 1) for j in (-1, 0, 1)]
    assert {policy.generalise(*p) for p in near} == {g}
    nudged = (point[0] + 1e-6, point[1] - 1e-6)  # a point a few centimetres away lands on the same point, or next door
    assert _metres(policy.generalise(*nudged), g) in (0.0, pytest.approx(policy.GENERALISE_M, rel=0.02))


def test_every_status_has_a_public_text_in_both_languages():
    assert set(policy.STATUS_TEXT) == set(Status)
    assert all(" / " in text for text in policy.STATUS_TEXT.values())


def test_sensitive_categories_are_categories_and_hide_description_address_and_point():
    with CATEGORIES.open(encoding="utf-8") as f:
        codes = {row["code"] for row in csv.DictReader(f)}
    assert {"C0115", "C0116"} <= policy.SENSITIVE_CATEGORIES <= codes
    lon, lat, description, address = policy.public_place("C0116", 7.4213371, 43.7384512, "王阿姨 独居", "3-1-502")
    assert (lon, lat) == policy.generalise(7.4213371, 43.7384512) and description is None and address is None
    assert policy.public_place("B0109", 7.42, 43.73, "路灯不亮", "Rue X") == (7.42, 43.73, "路灯不亮", "Rue X")
