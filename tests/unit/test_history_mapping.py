"""The history import's mapping file is checked as a whole (every problem at once), its times are read in the
source's zone and its coordinates converted from the CRS or datum it names."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyproj
import pytest

from geo.crs import wgs84_to_gcj02
from patrol.core.errors import ImportFailed
from patrol.intake.history import Outcome, coordinates, parse_times
from patrol.intake.history_mapping import load_mapping, parse_mapping


def test_the_shipped_la_mapping_is_valid():
    m = load_mapping("patrol/data/history/la311.yaml")
    assert (m.source, m.id, m.timezone, m.outside, m.unlocated) == ("la311", "SRNumber", "America/Los_Angeles",
                                                                    "skip", "skip")
    assert m.status.lookup(" closed ") == "closed" and m.channel.lookup("Call") == "12345"
    assert m.channel.lookup("Carrier pigeon") == "history" and m.category.lookup("Graffiti Removal") == "E0203"


def test_every_problem_of_a_mapping_at_once():
    with pytest.raises(ImportFailed) as err:
        parse_mapping({"source": "x", "colour": "red", "timezone": "Mars/Olympus",
                       "times": {"formats": "%d.%m.%Y", "closed": "C"},
                       "location": {"lon": "X", "outside": "drop", "datum": "gcj03"},
                       "status": {"column": "S", "values": {"Done": "finished"}},
                       "channel": {"values": {"Call": "phone"}},
                       "categories": [{"code": "Z1", "name_zh": "其他", "level": "street", "deadline_hours": "-2"}]})
    details = "\n".join(err.value.details)
    for expected in ("id: required", "colour: unknown key", "timezone: 'Mars/Olympus' is not a time zone",
                     "times.reported: required", "lon and lat go together", "location.outside: 'drop'",
                     "location.datum: 'gcj03'", "status.values: 'Done' → 'finished'", "category: required",
                     "channel.values: 'Call' → 'phone'", "categories[0].name_en: required",
                     "categories[0].level: 'street'", "categories[0].deadline_hours: '-2'"):
        assert expected in details, expected
    assert len(err.value.details) == 13


def test_times_in_the_sources_zone():
    got = parse_times(pd.Series(["12/31/2017 11:59:58 PM", "2020-01-01 00:05:00", "", "31/31/2017",
                                 "2018-03-11 02:30:00"]),
                      ("%m/%d/%Y %I:%M:%S %p", "%Y-%m-%d %H:%M:%S"), "America/Los_Angeles")
    assert got.iloc[0] == pd.Timestamp("2018-01-01 07:59:58", tz="UTC")
    assert got.iloc[1] == pd.Timestamp("2020-01-01 08:05:00", tz="UTC")
    assert pd.isna(got.iloc[2]) and pd.isna(got.iloc[3])
    assert got.iloc[4] == pd.Timestamp("2018-03-11 10:00:00", tz="UTC")  # no 02:30 that night: 03:00 PDT
    iso = parse_times(pd.Series(["2024-05-01T08:00:00+08:00", "2024-05-01 09:00"]), (), "Asia/Shanghai")
    assert list(iso) == [pd.Timestamp("2024-05-01 00:00", tz="UTC"), pd.Timestamp("2024-05-01 01:00", tz="UTC")]


def test_coordinates_from_chinese_web_maps_and_projected_columns():
    gcj = wgs84_to_gcj02(121.4737, 31.2304)  # a point in Shanghai as AMap shows it
    frame = pd.DataFrame({"X": [f"{gcj[0]!r}", "", "abc", "0"], "Y": [f"{gcj[1]!r}", "", "31", "0"]})
    base = {"source": "s", "id": "id", "times": {"reported": "t"}, "status": {"column": "s", "default": "closed"},
            "category": {"default": "E0101"}}
    out = Outcome()
    m = parse_mapping({**base, "location": {"lon": "X", "lat": "Y", "datum": "gcj02"}})
    x, y = coordinates(frame, {"X": "X", "Y": "Y"}, m, None, np.arange(4) + 2, ["a", "b", "c", "d"], out)
    assert (x[0], y[0]) == pytest.approx((121.4737, 31.2304), abs=1e-6)
    assert np.isnan(x[1:]).all() and np.isnan(y[1:]).all()  # empty, not a number, and the "0, 0" placeholder
    assert [(p["row"], p["id"]) for p in out.problems] == [(4, "c")]
    # x/y in a CGCS2000 3° Gauss–Krüger zone (EPSG:4547, CM 114°E) → lon/lat
    gk = pyproj.Transformer.from_crs(4326, 4547, always_xy=True).transform(113.9, 22.5)
    m = parse_mapping({**base, "location": {"lon": "X", "lat": "Y", "crs": "EPSG:4547"}})
    frame = pd.DataFrame({"X": [str(gk[0])], "Y": [str(gk[1])]})
    x, y = coordinates(frame, {"X": "X", "Y": "Y"}, m, None, np.array([2]), ["a"], Outcome())
    assert (x[0], y[0]) == pytest.approx((113.9, 22.5), abs=1e-7)
