"""The city's buildings as an address index (:class:`geo.addresses.AddressIndex`) for placing 12345 orders and
history rows that carry an address instead of coordinates.

Each building gives its address (OSM ``addr:street`` + ``addr:housenumber`` as imported, or a layer's address
column; ``housenumber`` when stored alone), its name, its label, its community's and subdistrict's names; a
building without an address but labelled after the road it stands on (``X 12号附近``, ``X 第3栋``) is a candidate of
that road when an address names the road without a number. The street segments' names are the roads recognised.

The index is built once per database and map version (every change of what the basemap draws — an OSM or layer
import, new labels — bumps it, see :mod:`patrol.city.map_version`) and kept in this process.
"""

from __future__ import annotations

import re
import threading

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from geo.addresses import AddressIndex, BuildingAddress
from patrol.city import map_version
from patrol.core.models import Building, City, Community, RoadSegment, Subdistrict

#: labels that name the road a building stands on (geo.labels: "near" and "road" labels)
_ROAD_LABEL = re.compile(r"^(?P<road>.+?) (?:\S+号附近|第\d+栋)$")

_lock = threading.Lock()
_cache: dict[tuple, AddressIndex] = {}


def _fingerprint(session: Session) -> tuple:
    """What the cached index depends on: the database, its map version, its city and its buildings."""
    bind = session.get_bind()
    city = session.execute(select(City.id, City.imported_at).limit(1)).first()
    count, top = session.execute(select(func.count(Building.id), func.max(Building.id))).one()
    return (str(bind.engine.url), map_version.current(session), tuple(city) if city else None, count, top)


def building_index(session: Session) -> AddressIndex:
    """The address index of the city in ``session``'s database (cached per map version)."""
    key = _fingerprint(session)
    with _lock:
        if key in _cache:
            return _cache[key]
    index = load_index(session)
    with _lock:
        _cache.clear()  # one city per process at a time; a new version replaces the old
        _cache[key] = index
    return index


def load_index(session: Session) -> AddressIndex:
    """The address index read from the database now (no cache)."""
    roads = {n for n in session.scalars(select(RoadSegment.name).where(RoadSegment.name.is_not(None)).distinct())}
    com, sub = aliased(Community), aliased(Subdistrict)
    rows = session.execute(
        select(Building.id, Building.address, Building.housenumber, Building.name, Building.label, com.name, sub.name)
        .outerjoin(com, com.id == Building.community_id).outerjoin(sub, sub.id == com.subdistrict_id)
        .order_by(Building.id))
    out = []
    for bid, address, number, name, label, community, subdistrict in rows:
        road = None
        if not address and label and (m := _ROAD_LABEL.match(label)) and m["road"] in roads:
            road = m["road"]
        out.append(BuildingAddress(bid, address=address, road=road, housenumber=number if address else None,
                                   name=name, community=community, subdistrict=subdistrict, label=label))
    return AddressIndex.build(out, roads=sorted(roads))
