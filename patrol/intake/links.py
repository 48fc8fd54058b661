"""The public links of the residents' side, in one place: what a QR sticker carries and the private follow-up link.

A sticker's link locates the report even without GPS, and keeps working after the city is imported again (a building
id may change, a grid code and a point do not):

- a building: ``/r/?b=<building id>&g=<grid code>&at=<lon>,<lat>`` (the building's representative point, WGS-84,
  6 decimals): the page uses the building when it still exists, else the point;
- a grid: ``/r/?g=<grid code>`` (the resident pins the place; the map opens on the grid);
- a place (a square, a park, a bus stop): ``/r/?at=<lon>,<lat>&n=<its name>&g=<grid code>``.

The follow-up link ``/r/f/<token>`` is the resident's only key to her case: 24 random url-safe bytes; only its
sha256 is stored (``Case.follow_token_hash``), so a database dump does not open anyone's case.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

from patrol.core.errors import InvalidInput

REPORT_PATH = "/r/"
FOLLOW_PATH = "/r/f/"


@dataclass(frozen=True)
class ReportPlace:
    """What a sticker's link says about where the resident stands (each part optional)."""

    building_id: int | None = None
    grid_code: str | None = None
    lon: float | None = None
    lat: float | None = None
    name: str | None = None


def report_url(base: str, place: ReportPlace) -> str:
    """The sticker link for ``place`` under ``base`` (``GRIDPATROL_PUBLIC_URL``)."""
    q: dict[str, str] = {}
    if place.building_id is not None:
        q["b"] = str(place.building_id)
    if place.grid_code:
        q["g"] = place.grid_code
    if place.lon is not None and place.lat is not None:
        q["at"] = f"{place.lon:.6f},{place.lat:.6f}"
    if place.name:
        q["n"] = place.name
    return base.rstrip("/") + REPORT_PATH + ("?" + urlencode(q) if q else "")


def parse_report_query(query: str | dict[str, str]) -> ReportPlace:
    """A sticker link's query (the string after ``?`` or a dict) back into a :class:`ReportPlace`; InvalidInput
    naming the field for a value that is not what a sticker writes."""
    if isinstance(query, str):
        query = {k: v[0] for k, v in parse_qs(urlsplit(query).query if "?" in query else query).items()}
    b = query.get("b")
    building_id = None
    if b:
        if not b.isdigit() or len(b) > 12:
            raise InvalidInput(f"b must be a building number, got {b!r}", field="b")
        building_id = int(b)
    lon = lat = None
    at = query.get("at")
    if at:
        try:
            lon, lat = (float(v) for v in at.split(","))
        except ValueError:
            raise InvalidInput(f"at must be lon,lat, got {at!r}", field="at") from None
        if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
            raise InvalidInput(f"at must be lon,lat in degrees, got {at!r}", field="at")
    grid = (query.get("g") or "").strip() or None
    if grid is not None and len(grid) > 20:
        raise InvalidInput("g must be a grid code (at most 20 characters)", field="g")
    name = (query.get("n") or "").strip()[:100] or None
    return ReportPlace(building_id, grid, lon, lat, name)


def new_follow_token() -> tuple[str, str]:
    """A new follow-up token and its hash (store the hash, give the token)."""
    token = secrets.token_urlsafe(24)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def follow_url(base: str, token: str) -> str:
    return base.rstrip("/") + FOLLOW_PATH + token
