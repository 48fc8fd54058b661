"""The mapping file of a case-history import (``gridpatrol cases import-history FILE --mapping MAPPING.yaml``): which
column is what, and how the source's values become ours. Data, checked as a whole: every problem at once.

A mapping (YAML; column names are matched case-insensitively, so one mapping serves a source whose headers changed
case between exports)::

    source: la311                 # → patrol_case.source (with the id: unique, re-imports update)
    id: SRNumber                  # the source's own id of a row → patrol_case.source_ref
    layer: requests               # GeoPackage only: the layer to read (optional)
    timezone: America/Los_Angeles # the times' zone when they carry none (default: the city's)
    times:
      formats: ["%m/%d/%Y %I:%M:%S %p", "%Y-%m-%d %H:%M:%S"]   # tried in order; none given: ISO 8601
      reported: CreatedDate       # required
      closed: ClosedDate          # optional: when it was closed (or rejected)
      registered: …               # optional: 立案 time (else the reported time)
      handled: …                  # optional: when the work was done (else the closed time)
      updated: UpdatedDate        # optional: the last update, the closing time of a closed row that gives none
      early_close: clamp          # a closing time before the reported time: error (default) | clamp (taken as
                                  # the reported time: sources that record some closings by date only)
    location:
      lon: Longitude              # lon / lat columns, or none: the file's geometry (GeoJSON, GeoPackage)
      lat: Latitude
      crs: EPSG:4326              # the lon/lat columns' CRS (x/y in a projected CRS are fine too)
      datum: wgs84                # wgs84 | gcj02 | bd09 (lon/lat taken from Chinese web maps)
      address: Address            # used when a row has no coordinates: matched to the city's buildings
      outside: skip               # rows outside every community: error (default) | skip (listed in the report)
      unlocated: skip             # rows with no coordinates and no matched address: error (default) | skip
    status:
      column: Status
      values: {Closed: closed, Open: registered, Cancelled: rejected}
      default: registered         # optional: for values not listed (else such a row is an error)
    category:
      column: RequestType
      values: {Graffiti Removal: E0203}
      default: LA99               # optional
    channel:
      column: RequestSource       # optional; without it every case gets the default
      values: {Call: "12345", Mobile App: resident}
      default: history
    description: [RequestType]    # optional: columns joined as the case's description
    address: Address              # optional: the case's address text
    categories:                   # optional: categories this source needs that the taxonomy lacks (added if missing)
      - {code: LA99, name_zh: 其他, name_en: Other, level: department, deadline_hours: 40}
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyproj
import yaml

from patrol.cases.channels import CHANNELS, HISTORY
from patrol.core.errors import ImportFailed

#: the states a history row may be in (suspended needs a state to resume to, which no source gives)
STATUSES = ("reported", "registered", "dispatched", "accepted", "handled", "verified", "closed", "rejected",
            "duplicate")
LEVELS = ("grid", "community", "department")
_TOP = {"source", "id", "layer", "timezone", "times", "location", "status", "category", "channel", "description",
        "address", "categories"}
_TIMES = {"formats", "reported", "closed", "registered", "handled", "updated", "early_close"}
_LOCATION = {"lon", "lat", "crs", "datum", "address", "outside", "unlocated"}
_VALUES = {"column", "values", "default"}
_CATEGORY_KEYS = {"code", "name_zh", "name_en", "level", "deadline_hours", "kind", "major_zh", "major_en",
                  "severity"}


@dataclass(frozen=True)
class ValueMap:
    """Source values of one column → ours (keys compared stripped and case-insensitively)."""

    column: str | None
    values: dict[str, str]
    default: str | None

    def lookup(self, value: object) -> str | None:
        key = "" if value is None else str(value).strip().casefold()
        return self.values.get(key, self.default)


@dataclass(frozen=True)
class HistoryMapping:
    source: str
    id: str
    reported: str
    status: ValueMap
    category: ValueMap
    channel: ValueMap
    layer: str | None = None
    timezone: str | None = None
    formats: tuple[str, ...] = ()
    closed: str | None = None
    registered: str | None = None
    handled: str | None = None
    updated: str | None = None
    early_close: str = "error"
    lon: str | None = None
    lat: str | None = None
    crs: str = "EPSG:4326"
    datum: str = "wgs84"
    location_address: str | None = None
    outside: str = "error"
    unlocated: str = "error"
    description: tuple[str, ...] = ()
    address: str | None = None
    categories: tuple[dict, ...] = field(default_factory=tuple)

    def columns(self) -> dict[str, str]:
        """Every column the mapping names: what for → column name."""
        named = {"id": self.id, "times.reported": self.reported, "times.closed": self.closed,
                 "times.registered": self.registered, "times.handled": self.handled, "times.updated": self.updated,
                 "location.lon": self.lon, "location.lat": self.lat, "location.address": self.location_address,
                 "address": self.address,
                 "status.column": self.status.column, "category.column": self.category.column,
                 "channel.column": self.channel.column}
        named.update({f"description[{i}]": c for i, c in enumerate(self.description)})
        return {k: v for k, v in named.items() if v}


def _text(raw: dict, key: str, where: str, problems: list[str], *, required: bool = False) -> str | None:
    value = raw.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            problems.append(f"{where}{key}: required")
        return None
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        problems.append(f"{where}{key}: must be a text, got {type(value).__name__}")
        return None
    return str(value).strip()


def _section(raw: dict, key: str, allowed: set[str], problems: list[str]) -> dict:
    value = raw.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.append(f"{key}: must be a mapping of keys to values")
        return {}
    problems.extend(f"{key}.{k}: unknown key (keys: {', '.join(sorted(allowed))})" for k in value
                    if k not in allowed)
    return value


def _value_map(raw: dict, key: str, problems: list[str], *, allowed: tuple[str, ...] | None,
               required: bool, default: str | None = None) -> ValueMap:
    sec = _section(raw, key, _VALUES, problems)
    if required and not sec:
        problems.append(f"{key}: required (column, values, default)")
    column = _text(sec, "column", f"{key}.", problems)
    values_raw = sec.get("values") or {}
    if not isinstance(values_raw, dict):
        problems.append(f"{key}.values: must map source values to ours")
        values_raw = {}
    values = {}
    for source_value, ours in values_raw.items():
        ours_text = "" if ours is None else str(ours).strip()
        if allowed is not None and ours_text not in allowed:
            problems.append(f"{key}.values: {source_value!r} → {ours_text!r} is not one of {', '.join(allowed)}")
        values[str(source_value).strip().casefold()] = ours_text
    given_default = _text(sec, "default", f"{key}.", problems)
    if given_default is not None and allowed is not None and given_default not in allowed:
        problems.append(f"{key}.default: {given_default!r} is not one of {', '.join(allowed)}")
    if required and sec and column is None and given_default is None:
        problems.append(f"{key}.column: required (or a default for every row)")
    return ValueMap(column, values, given_default if given_default is not None else default)


def _positive(text: str) -> bool:
    try:
        return float(text) > 0
    except ValueError:
        return False


def _categories(raw: dict, problems: list[str]) -> tuple[dict, ...]:
    items = raw.get("categories") or []
    if not isinstance(items, list):
        problems.append("categories: must be a list of {code, name_zh, name_en, level, deadline_hours}")
        return ()
    out = []
    for n, item in enumerate(items):
        where = f"categories[{n}]."
        if not isinstance(item, dict):
            problems.append(f"categories[{n}]: must be a mapping")
            continue
        problems.extend(f"{where}{k}: unknown key" for k in item if k not in _CATEGORY_KEYS)
        row = {k: _text(item, k, where, problems, required=k in ("code", "name_zh", "name_en", "level",
                                                                   "deadline_hours")) for k in _CATEGORY_KEYS}
        if row["level"] is not None and row["level"] not in LEVELS:
            problems.append(f"{where}level: {row['level']!r} is not one of {', '.join(LEVELS)}")
        if row["deadline_hours"] is not None and not _positive(row["deadline_hours"]):
            problems.append(f"{where}deadline_hours: {row['deadline_hours']!r} is not a number of hours above 0")
        if row["severity"] is not None and row["severity"] not in ("1", "2", "3"):
            problems.append(f"{where}severity: {row['severity']!r} is not 1, 2 or 3")
        out.append(row)
    return tuple(out)


def _check_location(loc: dict, problems: list[str]) -> None:
    if bool(loc.get("lon")) != bool(loc.get("lat")):
        problems.append("location: lon and lat go together (or neither: the file's geometry)")
    for key in ("outside", "unlocated"):
        if loc.get(key, "error") not in ("error", "skip"):
            problems.append(f"location.{key}: {loc.get(key)!r} is not error or skip")
    if loc.get("datum", "wgs84") not in ("wgs84", "gcj02", "bd09"):
        problems.append(f"location.datum: {loc.get('datum')!r} is not wgs84, gcj02 or bd09")
    if loc.get("crs"):
        try:
            pyproj.CRS.from_user_input(str(loc["crs"]))
        except pyproj.exceptions.CRSError:
            problems.append(f"location.crs: {loc['crs']!r} is not a CRS (e.g. EPSG:4326, EPSG:4547)")


def parse_mapping(raw: Any) -> HistoryMapping:
    """A checked mapping from its parsed YAML; ImportFailed listing every problem."""
    if not isinstance(raw, dict):
        raise ImportFailed("the mapping must be a YAML mapping (source:, id:, times:, status:, category: …)",
                           field="mapping")
    problems: list[str] = [f"{k}: unknown key (keys: {', '.join(sorted(_TOP))})" for k in raw if k not in _TOP]
    source = _text(raw, "source", "", problems, required=True)
    if source and len(source) > 40:
        problems.append("source: at most 40 characters")
    id_column = _text(raw, "id", "", problems, required=True)
    tz = _text(raw, "timezone", "", problems)
    if tz:
        try:
            zoneinfo.ZoneInfo(tz)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            problems.append(f"timezone: {tz!r} is not a time zone (e.g. Asia/Shanghai)")
    times = _section(raw, "times", _TIMES, problems)
    formats = times.get("formats") or []
    if isinstance(formats, str):
        formats = [formats]
    if not isinstance(formats, list) or not all(isinstance(f, str) and "%" in f for f in formats):
        problems.append("times.formats: a list of strftime formats such as '%Y-%m-%d %H:%M:%S'")
        formats = []
    if times.get("early_close", "error") not in ("error", "clamp"):
        problems.append(f"times.early_close: {times.get('early_close')!r} is not error or clamp")
    loc = _section(raw, "location", _LOCATION, problems)
    _check_location(loc, problems)
    description = raw.get("description") or []
    if isinstance(description, str):
        description = [description]
    status = _value_map(raw, "status", problems, allowed=STATUSES, required=True)
    category = _value_map(raw, "category", problems, allowed=None, required=True)
    channel = _value_map(raw, "channel", problems, allowed=tuple(CHANNELS), required=False, default=HISTORY)
    mapping = HistoryMapping(
        source=source or "", id=id_column or "", reported=_text(times, "reported", "times.", problems,
                                                                 required=True) or "",
        status=status, category=category, channel=channel, layer=_text(raw, "layer", "", problems), timezone=tz,
        formats=tuple(formats), closed=_text(times, "closed", "times.", problems),
        registered=_text(times, "registered", "times.", problems),
        handled=_text(times, "handled", "times.", problems), updated=_text(times, "updated", "times.", problems),
        early_close=str(times.get("early_close") or "error"), lon=_text(loc, "lon", "location.", problems),
        lat=_text(loc, "lat", "location.", problems), crs=str(loc.get("crs") or "EPSG:4326"),
        datum=str(loc.get("datum") or "wgs84"), location_address=_text(loc, "address", "location.", problems),
        outside=str(loc.get("outside") or "error"), unlocated=str(loc.get("unlocated") or "error"),
        description=tuple(str(d) for d in description), address=_text(raw, "address", "", problems),
        categories=_categories(raw, problems))
    if problems:
        raise ImportFailed(f"the mapping has {len(problems)} problem(s); nothing was imported", field="mapping",
                           details=problems)
    return mapping


def load_mapping(path: str | Path) -> HistoryMapping:
    """Read and check a mapping file (ImportFailed when it is missing, not YAML, or wrong)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ImportFailed(f"cannot read the mapping {path}: {exc.strerror or exc}", field="mapping") from exc
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ImportFailed(f"the mapping {path} is not valid YAML: {' '.join(str(exc).split())}",
                           field="mapping") from exc
    return parse_mapping(raw)
