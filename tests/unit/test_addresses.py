"""Chinese addresses → buildings (geo/addresses.py) on a hand-built index: normalisation, tokens, scores, 待定位."""

from __future__ import annotations

import pytest

from geo.addresses import ACCEPT, AddressIndex, BuildingAddress, decide, normalise, parse
from patrol.simulate.hotline import chinese_number, typo


@pytest.mark.parametrize(("text", "expected"), [
    ("中山路十二号", "中山路12号"),
    ("中山路１２号", "中山路12号"),                      # full-width digits
    ("一百零五室", "105室"),
    ("二〇五室", "205室"),
    ("两百号", "200号"),
    ("第三栋", "3栋"),
    ("阳光小区3号楼2单元", "阳光小区3栋2单元"),          # 号楼 → 栋
    ("阳光小区3幢", "阳光小区3栋"),
    ("中山路12號", "中山路12号"),
    ("北京市朝阳区望京街道阳光社区", "望京街道阳光社区"),  # the province / city / district prefix dropped
    ("广东省深圳市南山区科技园8栋", "科技园8栋"),
    ("阳光小区5栋", "阳光小区5栋"),                      # 小区 is not a district
    ("农贸市场对面", "农贸市场对面"),                    # nor is 市场 a city
    ("Bühelstraße 29", "buhelstrasse29"),               # accents and ß, spaces
])
def test_normalise(text, expected):
    assert normalise(text) == expected


def test_parse_reads_every_token():
    p = parse("北京市朝阳区望京街道阳光社区中山路十二号三单元501室附近")
    assert (p.subdistrict, p.community, p.road, p.number, p.unit, p.room, p.vague) == \
        ("望京", "阳光", "中山路", "12", "3", "501", True)
    p = parse("Triesen社区Landstrasse １２号3单元")
    assert (p.community, p.road, p.number, p.unit, p.vague) == ("triesen", "landstrasse", "12", "3", False)
    assert parse("Rua de Dom Manuel II 51/C").number == "51c"
    assert parse("Landstrasse").number is None


@pytest.fixture(scope="module")
def index():
    return AddressIndex.build([
        BuildingAddress(1, "Landstrasse 12", community="Triesen"),
        BuildingAddress(2, "Landstrasse 12", community="Vaduz"),
        BuildingAddress(3, "Landstrasse 14", community="Vaduz"),
        BuildingAddress(4, "Landstrasse 12a", community="Vaduz"),
        BuildingAddress(5, "Bergstrasse 1", community="Vaduz"),
        BuildingAddress(6, road="中山路", housenumber="12", community="阳光社区", subdistrict="望京街道"),
        BuildingAddress(7, name="阳光小区", community="阳光社区"),
        BuildingAddress(8, "Täscherlochstrasse 76, 76a, 76b"),
        BuildingAddress(9, "幸福里小区3栋"),
        BuildingAddress(10, "幸福里小区4栋"),
        BuildingAddress(11, "中山路20号1栋"),
        BuildingAddress(12, "中山路20号2栋"),
    ], roads=["Burgstrasse"])


def placed(index, text):
    return decide(index.match(text))


def test_exact_address_with_its_community_is_placed(index):
    assert placed(index, "Triesen社区Landstrasse12号3单元") == 1
    assert placed(index, "Vaduz社区Landstrasse 12号") == 2


def test_two_buildings_with_one_address_wait_for_a_person(index):
    matches = index.match("Landstrasse 12")
    assert [m.building_id for m in matches[:2]] == [1, 2] and matches[0].score == matches[1].score == 1.0
    assert decide(matches) is None
    assert matches[0].label == "Landstrasse 12"


def test_typos_numerals_and_extra_words_still_place(index):
    assert placed(index, "Lnadstrasse十四号") == 3               # swapped letters, Chinese numerals
    assert placed(index, "Vaduz社区Bergstrase 1号门口") == 5      # dropped letter, extra word
    vague = index.match("Landstrasse 14号对面")[0]
    assert vague.building_id == 3 and ACCEPT <= vague.score < 1.0  # extra words lower the score a little


def test_homophone_of_a_chinese_road_places(index):
    assert placed(index, "望京街道阳光社区钟山路12号") == 6       # 钟山路 sounds like 中山路


def test_missing_or_unknown_number_gives_candidates_but_no_place(index):
    road_only = index.match("Landstrasse附近", top=5)
    assert {m.building_id for m in road_only} == {1, 2, 3, 4} and decide(road_only) is None
    assert all(m.score < ACCEPT for m in road_only)
    near = index.match("Landstrasse 13号")
    assert near and decide(near) is None
    assert index.match("Landstrasse 12b号")[0].building_id in (1, 2, 4)  # its base number


def test_estate_name_list_numbers_and_nothing(index):
    assert placed(index, "阳光小区3号楼2单元") == 7
    assert placed(index, "Täscherlochstrasse 76a") == 8            # one of the numbers of a list
    assert index.match("Burgstrasse 3号") == []                      # a known road with no building
    assert index.match("火星路99号") == [] and decide([]) is None


def test_simulated_noise_helpers():
    assert [chinese_number(n) for n in (7, 12, 20, 105, 148, 1010)] == ["七", "十二", "二十", "一百零五", "一百四十八",
                                                                       "一千零一十"]
    assert all(normalise(f"{chinese_number(n)}号") == f"{n}号" for n in range(1, 2000))
    import random

    rng = random.Random(3)
    spelled = {typo("Landstrasse", rng) for _ in range(30)}
    assert "Landstrasse" not in spelled and len(spelled) > 3


def test_estate_buildings_by_their_dong(index):
    assert placed(index, "幸福里小区四号楼3单元") == 10
    assert placed(index, "中山路二十号2幢附近") == 12
    both = index.match("中山路20号")
    assert {m.building_id for m in both} == {11, 12} and decide(both) is None
    assert decide(index.match("幸福里小区")) is None
