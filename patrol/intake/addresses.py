"""The city's buildings as an :class:`geo.addresses.AddressIndex` (the loader the address matcher is built from).

A minimal version for the history import; the address part (issue 18) ships the full one under the same name and
signature — when both exist, keep that one."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from geo.addresses import AddressIndex, BuildingAddress
from patrol.core.models import Building, Community


def building_index(session: Session) -> AddressIndex:
    """Every building with an address, a house number or a label, ready for :meth:`AddressIndex.match`."""
    rows = session.execute(
        select(Building.id, Building.address, Building.housenumber, Building.label, Building.name, Community.name)
        .outerjoin(Community, Community.id == Building.community_id)
        .where((Building.address.is_not(None)) | (Building.housenumber.is_not(None)) | (Building.label.is_not(None)))
    ).all()
    return AddressIndex.build(BuildingAddress(building_id=b, address=addr or label, housenumber=no, name=name,
                                              community=community) for b, addr, no, label, name, community in rows)
