"""Chinese addresses → buildings: normalise what a caller said (事发地址 of a 12345 order, a history row's address)
and find the building it names, with a confidence score.

- :func:`normalise` — full-width → half-width, accents dropped (Bühel → buhel, ß → ss), lower case, Chinese numerals
  → digits (十二号 → 12号, 一百零五室 → 105室, 二〇五 → 205, 两 → 2), 號 → 号, 幢/座/N号楼 → N栋, 第 before a number
  dropped, the province / city / district prefix dropped (北京市朝阳区…; never 小区/社区/园区), spaces and punctuation
  dropped;
- :func:`parse` — the tokens of a normalised address: subdistrict (…街道), community (…社区), road, house number (号),
  栋, 单元, 室, 层, and whether vague words (附近, 门口, 对面, 旁边 …) were said;
- :class:`AddressIndex` — built once from the city's buildings (:class:`BuildingAddress` rows) and road names, then
  :meth:`AddressIndex.match` gives the best :class:`Match` es, best first, each with a score in [0, 1];
- :func:`decide` — the one building an order is placed at, or None (no match, or several too close to tell apart:
  the order waits in the desk's 待定位 queue).

Scores (see :data:`SCORES`): road and number exact 1.0; the road with one typo (one edit: a swapped, dropped, added
or changed letter) 0.9, two typos 0.72 (longer names only), a homophone of a Chinese road (same pinyin) 0.95, a known
road written inside other words 0.85; the number given but not on that road: its base number (12 for 12a) 0.7, else
the road's nearest numbers 0.45; no number: the road's addressed buildings 0.55, those only labelled after the road
0.5 (待定位 with candidates); an estate's 栋 said as stored (幸福里小区3栋) 1.0. A community or subdistrict named in the
address that is not the building's costs 0.25 / 0.1; vague words multiply by 0.95. Without a road, a building's or
estate's name said exactly scores 0.9.

Pure: no database, no web; the loader from the database is :func:`patrol.intake.addresses.building_index`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from rapidfuzz import process
from rapidfuzz.distance import OSA

#: a match at least this good is taken when no other candidate is within :data:`MARGIN` of it
ACCEPT = 0.8
MARGIN = 0.15

#: the score of a building for each way the address can name it (module docstring)
SCORES = {
    "exact": 1.0, "homophone": 0.95, "typo1": 0.9, "typo2": 0.72, "inside": 0.85,
    "base_number": 0.7, "near_number": 0.45, "road_only": 0.55, "road_unnumbered": 0.5, "name": 0.9,
    "other_community": 0.25, "other_subdistrict": 0.1, "vague": 0.95,
}
#: words that say "near there", not a place: dropped, the score multiplied by SCORES["vague"]
VAGUE_WORDS = ("附近", "门口", "对面", "旁边", "周边", "一带", "边上", "路口", "后面", "前面", "楼下", "隔壁", "左右",
               "斜对过", "对过", "那边", "这边")
_VAGUE = re.compile("|".join(sorted(VAGUE_WORDS, key=len, reverse=True)))
#: how many buildings of one road a number-less address lists as candidates
ROAD_CANDIDATES = 5

_CN_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4,
              "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_CN_RUN = re.compile("第?([〇零一二两三四五六七八九十百千]+)(?=[号栋单元室层楼户])")
_ACCENTED = re.compile("[\u00c0-\u024f\u1e00-\u1eff]+")  # Latin letters with accents (ü, ã, ç …)
_PUNCT = re.compile(r"[\s,，.。、;；:：()（）\[\]【】\-—–_/#'\"“”‘’·]+")
_CJK = re.compile(r"[\u4e00-\u9fff]")
# the administrative prefix: province, city, district / county (not 小区, 社区, 园区, 校区, 景区, 片区, 厂区 …)
_PROVINCE = re.compile(r"^[\u4e00-\u9fff]{2,7}?(?:省|自治区)")
_CITY = re.compile(r"^[\u4e00-\u9fff]{2,7}?市(?!场)")
_DISTRICT = re.compile(r"^[\u4e00-\u9fff]{1,5}?(?<![小社园校景片厂营矿街])(?:区|县)")
_SUBDISTRICT = re.compile(r"^(.{1,10}?)(?:街道办事处|街道办|街道)")
_COMMUNITY = re.compile(r"^(.{1,12}?)(?:社区居委会|居委会|社区)")
_ROOM = re.compile(r"(\d+)(?:室|户)")
_UNIT = re.compile(r"(\d+)单元")
_BLOCK = re.compile(r"(\d+[a-z]?)栋")
_FLOOR = re.compile(r"(\d+)(?:层|楼)")
_NUMBER = re.compile(r"(\d+[a-z]?)号")
_TRAILING_NUMBER = re.compile(r"(\d+[a-z]?)$")


def _cn_number(run: str) -> str:
    """十二 → 12, 一百零五 → 105, 两百 → 200, 二〇五 → 205 (digit by digit when no 十/百/千)."""
    if not any(u in run for u in _CN_UNITS):
        return "".join(str(_CN_DIGITS[c]) for c in run)
    total, digit = 0, 0
    for c in run:
        if c in _CN_UNITS:
            total += (digit or 1) * _CN_UNITS[c]
            digit = 0
        else:
            digit = _CN_DIGITS[c]
    return str(total + digit)


def _unaccent(m: re.Match[str]) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", m.group(0)) if not unicodedata.combining(c))


def _drop_admin_prefix(s: str) -> str:
    for pattern in (_PROVINCE, _CITY):
        s = pattern.sub("", s, count=1)
    m = _DISTRICT.match(s)
    if m and len(s) > m.end():
        s = s[m.end():]
    return s


def normalise(text: str | None) -> str:
    """``text`` in a form two spellings of one address share."""
    if not text:
        return ""
    s = unicodedata.normalize("NFKC", text).casefold()
    if not s.isascii():
        s = _ACCENTED.sub(_unaccent, s)
    s = s.replace("號", "号").replace("幢", "栋").replace("座", "栋")
    s = _CN_RUN.sub(lambda m: _cn_number(m.group(1)), s)
    s = re.sub(r"第(?=\d)", "", s)
    s = re.sub(r"(\d+[a-z]?)号楼", r"\1栋", s)
    s = _PUNCT.sub("", s)
    return _drop_admin_prefix(s)


@dataclass(frozen=True)
class Parsed:
    """The tokens of one address (normalised texts; None where the address does not say)."""

    road: str | None = None
    number: str | None = None
    block: str | None = None        # 栋
    unit: str | None = None         # 单元
    room: str | None = None         # 室
    floor: str | None = None        # 层
    community: str | None = None    # the text before 社区 (or a known community's name found in the address)
    subdistrict: str | None = None  # the text before 街道 (or a known subdistrict's name)
    rest: str = ""                  # what follows the house number (a shop's name, a description)
    vague: bool = False             # 附近, 门口, 对面 … was said


def _take(pattern: re.Pattern[str], s: str) -> tuple[str | None, str]:
    m = pattern.search(s)
    if not m:
        return None, s
    return m.group(1), s[:m.start()] + s[m.end():]


def parse(text: str | None, *, communities: re.Pattern[str] | None = None,
          subdistricts: re.Pattern[str] | None = None) -> Parsed:
    """The tokens of ``text`` (normalised first). ``communities`` / ``subdistricts``: patterns of known names followed
    by 社区 / 街道 (:class:`AddressIndex` passes its own), found anywhere in the address."""
    s = normalise(text)
    s, said = _VAGUE.subn("", s)
    vague = said > 0
    sub = com = None
    if subdistricts is not None and (m := subdistricts.search(s)):
        sub, s = m.group(1), s[:m.start()] + s[m.end():]
    elif m := _SUBDISTRICT.match(s):
        sub, s = m.group(1), s[m.end():]
    if communities is not None and (m := communities.search(s)):
        com, s = m.group(1), s[:m.start()] + s[m.end():]
    elif m := _COMMUNITY.match(s):
        com, s = m.group(1), s[m.end():]
    room, s = _take(_ROOM, s)
    unit, s = _take(_UNIT, s)
    block, s = _take(_BLOCK, s)
    floor, s = _take(_FLOOR, s)
    number, rest = None, ""
    if m := _NUMBER.search(s):
        number, rest, s = m.group(1), s[m.end():], s[:m.start()]
    elif m := _TRAILING_NUMBER.search(s):
        number, s = m.group(1), s[:m.start()]
    return Parsed(road=s or None, number=number, block=block, unit=unit, room=room, floor=floor, community=com,
                  subdistrict=sub, rest=rest, vague=vague)


@lru_cache(maxsize=65536)
def fold(road: str) -> str:
    """A road's key for typo matching: the normalised text, Chinese characters as toneless pinyin (homophones meet)."""
    if not _CJK.search(road):
        return road
    from pypinyin import lazy_pinyin  # imported on first use: it loads its dictionaries (~2 s)

    return "".join(lazy_pinyin(road))


def _number_key(number: str | None) -> str | None:
    if not number:
        return None
    s = _PUNCT.sub("", unicodedata.normalize("NFKC", str(number)).casefold())
    return s or None


def _base(number: str) -> int | None:
    m = re.match(r"\d+", number)
    return int(m.group(0)) if m else None


_COMMUNITY_SUFFIX = "社区居委会|居委会|社区"
_SUBDISTRICT_SUFFIX = "街道办事处|街道办|街道"


def area_key(name: str | None, suffix: str) -> str:
    """A community's or subdistrict's name as addresses say it: normalised, without 社区 / 街道 at its end."""
    s = normalise(name)
    stripped = re.sub(f"(?:{suffix})$", "", s)
    return stripped if len(stripped) >= 2 else s


def _known(names: Iterable[str], suffix: str) -> re.Pattern[str] | None:
    keys = sorted({k for k in (area_key(n, suffix) for n in names) if len(k) >= 2}, key=len, reverse=True)
    if not keys:
        return None
    return re.compile("(" + "|".join(re.escape(k) for k in keys) + f")(?:{suffix})")


@dataclass(frozen=True)
class BuildingAddress:
    """What the city knows of a building's address (each part optional)."""

    building_id: int
    address: str | None = None      # the full address as imported (OSM addr:* joined, or a layer's column)
    road: str | None = None         # the street
    housenumber: str | None = None  # 号
    name: str | None = None         # the building's or estate's name (小区名, 3号楼 …)
    community: str | None = None    # the community (社区) it lies in
    subdistrict: str | None = None  # the subdistrict (街道)
    label: str | None = None        # what people call it (building.label), shown with a candidate


@dataclass(frozen=True)
class Match:
    building_id: int
    score: float
    label: str = ""  # the building's address as the city knows it, for the desk's candidate list


@dataclass
class AddressIndex:
    """The buildings' addresses, ready to be matched against."""

    rows: list[BuildingAddress] = field(default_factory=list)
    #: road key → house number key → building ids ("" holds the road's buildings without a number)
    _roads: dict[str, dict[str, list[int]]] = field(default_factory=dict, repr=False)
    _folds: list[str] = field(default_factory=list, repr=False)        # fold(road key), in the order of _fold_roads
    _fold_roads: list[str] = field(default_factory=list, repr=False)
    _names: dict[str, list[int]] = field(default_factory=dict, repr=False)
    _area: dict[int, tuple[str, str]] = field(default_factory=dict, repr=False)  # id → (community, subdistrict)
    _labels: dict[int, str] = field(default_factory=dict, repr=False)
    _communities: re.Pattern[str] | None = field(default=None, repr=False)
    _subdistricts: re.Pattern[str] | None = field(default=None, repr=False)
    _road_cache: dict[str, list[tuple[str, float]]] = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, rows: Iterable[BuildingAddress], roads: Iterable[str] = ()) -> AddressIndex:
        """The index of ``rows``; ``roads``: further road names (street segments) recognised in addresses."""
        index = cls(list(rows))
        for r in index.rows:
            road, number, block = r.road, r.housenumber, None
            if road is None and r.address and "栋" in normalise(r.address):  # 阳光小区3栋, 中山路12号3栋
                p = parse(r.address)
                road, number, block = p.road, number or p.number, p.block
            elif road is None and r.address:
                road, number = _split(r.address, number)
            if road and (key := normalise(road)):
                numbers = index._roads.setdefault(key, {})
                for part in re.split(r"[,;，；]", number or "") or [""]:
                    numbers.setdefault(_number_key(part) or "", []).append(r.building_id)
                if block:
                    numbers.setdefault(f"{_number_key(number) or ''}#{block}", []).append(r.building_id)
            if r.name and (key := normalise(r.name)):
                index._names.setdefault(key, []).append(r.building_id)
            index._area[r.building_id] = (area_key(r.community, _COMMUNITY_SUFFIX),
                                          area_key(r.subdistrict, _SUBDISTRICT_SUFFIX))
            own = f"{road} {number}" if road and number else road
            index._labels[r.building_id] = r.label or r.address or r.name or own or ""
        for name in roads:
            if key := normalise(name):
                index._roads.setdefault(key, {})
        index._fold_roads = sorted(index._roads)
        index._folds = [fold(k) for k in index._fold_roads]
        index._communities = _known({r.community for r in index.rows if r.community}, _COMMUNITY_SUFFIX)
        index._subdistricts = _known({r.subdistrict for r in index.rows if r.subdistrict}, _SUBDISTRICT_SUFFIX)
        return index

    def parse(self, text: str | None) -> Parsed:
        """The tokens of ``text``, the city's community and subdistrict names recognised wherever they stand."""
        return parse(text, communities=self._communities, subdistricts=self._subdistricts)

    def match(self, text: str, *, top: int = 3) -> list[Match]:
        """The best matches for ``text``, best first (at most ``top``); [] when nothing is near."""
        q = self.parse(text)
        scores: dict[int, float] = {}
        for road, sim in self._find_roads(q.road or ""):
            for b, s in self._on_road(road, q.number, q.block):
                scores[b] = max(scores.get(b, 0.0), sim * s)
        if not scores and q.road:
            said = [q.road + f"{q.number}号" if q.number else "", q.road + f"{q.block}栋" if q.block else "", q.road]
            for b in next((self._names[k] for k in said if k in self._names), []):
                scores[b] = SCORES["name"]
        found = []
        for b, s in scores.items():
            com, sub = self._area.get(b, ("", ""))
            if q.community and com and q.community != com:
                s -= SCORES["other_community"]
            if q.subdistrict and sub and q.subdistrict != sub:
                s -= SCORES["other_subdistrict"]
            if q.vague:
                s *= SCORES["vague"]
            if s > 0:
                found.append(Match(b, round(s, 4), self._labels.get(b, "")))
        found.sort(key=lambda m: (-m.score, m.building_id))
        return found[:top]

    def _find_roads(self, road: str) -> list[tuple[str, float]]:
        """The known roads ``road`` may mean, with how sure (1 exact … 0.72 two typos); cached per text."""
        if not road:
            return []
        if road in self._roads:
            return [(road, SCORES["exact"])]
        if road in self._road_cache:
            return self._road_cache[road]
        key = fold(road)
        allowed = 1 if len(key) < 6 else 2
        found: dict[str, float] = {}
        for _, dist, i in process.extract(key, self._folds, scorer=OSA.distance, score_cutoff=allowed, limit=8):
            name = self._fold_roads[i]
            sim = SCORES["homophone"] if dist == 0 else SCORES["typo1"] if dist == 1 else SCORES["typo2"]
            found[name] = max(found.get(name, 0.0), sim)
        if not found:
            inside = [k for k in self._fold_roads if len(k) >= 4 and k in road]
            if inside:
                found[max(inside, key=len)] = SCORES["inside"]
        result = sorted(found.items(), key=lambda kv: -kv[1])
        if len(self._road_cache) < 200_000:
            self._road_cache[road] = result
        return result

    def _on_road(self, road: str, number: str | None, block: str | None = None) -> list[tuple[int, float]]:
        """The buildings of ``road`` (or estate) for house number ``number`` and 栋 ``block`` with their score before
        the road's own."""
        numbers = self._roads.get(road, {})
        if block and (ids := numbers.get(f"{number or ''}#{block}")):
            return [(b, SCORES["exact"]) for b in ids]
        if number is None:
            numbered = sorted({b for k, ids in numbers.items() if k for b in ids})[:ROAD_CANDIDATES]
            rest = [b for b in sorted(numbers.get("", [])) if b not in numbered][:ROAD_CANDIDATES - len(numbered)]
            return [(b, SCORES["road_only"]) for b in numbered] + [(b, SCORES["road_unnumbered"]) for b in rest]
        if number in numbers:
            return [(b, SCORES["exact"]) for b in numbers[number]]
        base = _base(number)
        same_base = [b for k, ids in numbers.items() if k and _base(k) == base for b in ids]
        if same_base:
            return [(b, SCORES["base_number"]) for b in same_base]
        nearest = sorted((abs((_base(k) or 0) - (base or 0)), b) for k, ids in numbers.items() if k for b in ids)
        return [(b, SCORES["near_number"]) for _, b in nearest[:ROAD_CANDIDATES]]


def _split(address: str, number: str | None) -> tuple[str | None, str | None]:
    """A stored address as road and number: ``Landstrasse 12`` (OSM), ``中山路12号``; the number given wins."""
    a = address.strip()
    if number and a.endswith(number) and len(a) > len(number):
        return a[:-len(number)].strip() or None, number
    m = re.match(r"^(.*?)\s*(\d+[A-Za-z]?(?:\s*[-/,;]\s*\d*[A-Za-z]?)*)\s*号?$", a)
    if m and m.group(1):
        return m.group(1), number or m.group(2)
    if m:  # a number alone: no road
        return None, number or m.group(2)
    return a, number


def decide(matches: list[Match], *, accept: float = ACCEPT, margin: float = MARGIN) -> int | None:
    """The building to place an order at: the best match when it scores at least ``accept`` and the next is more
    than ``margin`` behind; else None (待定位)."""
    if not matches or matches[0].score < accept:
        return None
    if len(matches) > 1 and matches[0].score - matches[1].score <= margin:
        return None
    return matches[0].building_id
