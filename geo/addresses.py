"""Chinese addresses → buildings: normalise what a caller said (事发地址 of a 12345 order, a history row's address)
and find the building it names, with a confidence score.

INTERFACE FIRST (the lead's stub; the address helper replaces the internals, keeping these names and types):

- :func:`normalise` — full-width → half-width, Chinese numerals → digits (十二 → 12), 號 → 号, 幢/座 → 栋, spaces and
  punctuation dropped, lower case;
- :class:`AddressIndex` — built once from the city's buildings (:class:`BuildingAddress` rows), then
  :meth:`AddressIndex.match` gives the best :class:`Match` es, best first, each with a score in [0, 1];
- :func:`decide` — the one building an order is placed at, or None (no match, or several too close to tell apart:
  the order waits in the desk's 待定位 queue).

Pure: no database, no web; the loader from the database is :func:`patrol.intake.addresses.building_index`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

#: a match at least this good is taken when no other candidate is within :data:`MARGIN` of it
ACCEPT = 0.8
MARGIN = 0.15


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


@dataclass(frozen=True)
class Match:
    building_id: int
    score: float
    label: str = ""  # the building's address as the city knows it, for the desk's candidate list


def normalise(text: str | None) -> str:
    """``text`` in a form two spellings of one address share."""
    if not text:
        return ""
    s = unicodedata.normalize("NFKC", text).lower()
    s = s.replace("號", "号").replace("幢", "栋").replace("座", "栋")
    return re.sub(r"[\s,，.。、;；:：()（）\-—_/#]+", "", s)


@dataclass
class AddressIndex:
    """The buildings' addresses, ready to be matched against."""

    rows: list[BuildingAddress] = field(default_factory=list)
    _by_key: dict[str, list[int]] = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, rows: Iterable[BuildingAddress]) -> AddressIndex:
        index = cls(list(rows))
        for r in index.rows:
            for text in (r.address, f"{r.road or ''}{r.housenumber or ''}号" if r.road and r.housenumber else None):
                if text:
                    index._by_key.setdefault(normalise(text), []).append(r.building_id)
        return index

    def match(self, text: str, *, top: int = 3) -> list[Match]:
        """The best matches for ``text``, best first (at most ``top``); [] when nothing is near."""
        found = self._by_key.get(normalise(text), [])
        return [Match(b, 1.0) for b in found[:top]]


def decide(matches: list[Match], *, accept: float = ACCEPT, margin: float = MARGIN) -> int | None:
    """The building to place an order at: the best match when it scores at least ``accept`` and the next is more
    than ``margin`` behind; else None (待定位)."""
    if not matches or matches[0].score < accept:
        return None
    if len(matches) > 1 and matches[0].score - matches[1].score <= margin:
        return None
    return matches[0].building_id
