"""The sticker and follow-up links: written and read back alike, bad values named."""

from __future__ import annotations

import pytest

from patrol.core.errors import InvalidInput
from patrol.intake.links import (
    ReportPlace,
    follow_url,
    new_follow_token,
    parse_report_query,
    report_url,
    token_hash,
)


def test_sticker_link_round_trip():
    place = ReportPlace(building_id=42, grid_code="370602001001001", lon=9.521234, lat=47.141567, name="市民广场")
    url = report_url("https://grid.example.cn/", place)
    assert url.startswith("https://grid.example.cn/r/?b=42&g=370602001001001&at=9.521234%2C47.141567")
    assert parse_report_query(url) == place
    assert parse_report_query("g=A1") == ReportPlace(grid_code="A1")
    assert report_url("http://x", ReportPlace()) == "http://x/r/"


@pytest.mark.parametrize(("query", "field"), [("b=1;drop", "b"), ("at=9.5", "at"), ("at=200,10", "at"),
                                              ("at=nan,1", "at"), ("g=" + "1" * 21, "g")])
def test_bad_sticker_values_are_named(query, field):
    with pytest.raises(InvalidInput) as e:
        parse_report_query(query)
    assert e.value.field == field


def test_follow_token_is_stored_as_its_hash_only():
    token, digest = new_follow_token()
    assert len(token) >= 32 and digest == token_hash(token) and token not in digest
    assert new_follow_token()[0] != token
    assert follow_url("http://h/", token) == f"http://h/r/f/{token}"
