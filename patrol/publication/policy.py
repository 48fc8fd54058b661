"""The publication policy: what every public (anonymous) surface may show, in one place.

Public surfaces are Open311 reads (``/open311/v2/requests…``), OGC API Features (``/ogc``), the public layers
(``/api/v1/communities``, ``/grids``, ``/buildings``, ``/roads``) and the overview map ``/``. Each reads this module:

- **Which cases.** Open311 lists only cases filed through Open311 (:data:`OPEN311_CHANNELS`): what residents and their
  apps filed themselves, never what grid workers, inspections or the centre recorded. A case outside the policy answers
  exactly as an unknown id (404, same message), so the API is no oracle for which ids exist. OGC API Features lists
  cases of every channel — its properties were never personal (category, state, times, grid) — but not those of a
  sensitive category (:data:`SENSITIVE_CATEGORIES`): their point is where a vulnerable resident lives, and a ``bbox``
  query on the stored point would find it even if the published point were generalised.
- **What of a case.** Never contacts, reporters, assignees or staff notes: ``status_notes`` is a fixed public text per
  status (:data:`STATUS_TEXT`, Chinese and English). For a sensitive category no description and no address, and the
  point generalised (:func:`generalise`: the centre of a ~200 m cell of a fixed latitude/longitude lattice).
- **Layers.** Worker names (and their user ids) on grids only when ``GRIDPATROL_PUBLIC_WORKER_NAMES=true``
  (:func:`worker_names_public`). Building addresses stay: they are street addresses of buildings from OSM or the
  delivered layer, not of persons; no layer holds a resident.
"""

from __future__ import annotations

import math

from patrol.cases.lifecycle import Status
from patrol.core.settings import Settings

#: Categories about persons (where one lives, what ails or divides them): never described, never at their point.
#: C0107 a leak inside a home, C0115 a dispute between neighbours, C0116 a welfare visit to a vulnerable resident,
#: E0602 an overcrowded rental flat (its tenants), C0117 a request nobody has classified yet (a resident's 其他 or a
#: 12345 order of an unmapped 诉求分类: it may be about a person until the desk re-classifies it).
SENSITIVE_CATEGORIES: frozenset[str] = frozenset({"C0107", "C0115", "C0116", "C0117", "E0602"})

#: Channels whose cases Open311 reads list (a case filed by a resident through Open311 is public by that contract).
OPEN311_CHANNELS: frozenset[str] = frozenset({"open311"})

#: Side of the cells a sensitive case's point is snapped to, metres.
GENERALISE_M = 200.0
_M_PER_DEGREE = 111_320.0

#: The public text of each status (instead of the staff's notes).
STATUS_TEXT: dict[str, str] = {
    Status.REPORTED: "已受理上报，等待核实 / Received, awaiting verification",
    Status.REGISTERED: "已立案 / Registered",
    Status.DISPATCHED: "已派遣处置单位 / Dispatched to the responsible unit",
    Status.ACCEPTED: "处置单位已接单 / Accepted by the responsible unit",
    Status.HANDLED: "已处置，等待核查 / Handled, awaiting inspection",
    Status.VERIFIED: "已核查 / Inspected",
    Status.SUSPENDED: "暂停处理 / On hold",
    Status.CLOSED: "已结案 / Closed",
    Status.REJECTED: "不予立案 / Not registered",
    Status.DUPLICATE: "重复上报，已并案 / Duplicate of another request",
}


def is_sensitive(category_code: str | None) -> bool:
    return category_code in SENSITIVE_CATEGORIES


def open311_publishable(channel: str | None) -> bool:
    """Whether Open311 reads show a case of this channel (the same rule as :func:`open311_channels` in SQL)."""
    return channel in OPEN311_CHANNELS


def open311_channels() -> tuple[str, ...]:
    """The channels for ``Case.channel.in_(…)`` in Open311 reads."""
    return tuple(sorted(OPEN311_CHANNELS))


def ogc_excluded_categories() -> tuple[str, ...]:
    """The categories OGC API Features leaves out, for ``Case.category_code.not_in(…)``."""
    return tuple(sorted(SENSITIVE_CATEGORIES))


def status_text(status: str) -> str:
    return STATUS_TEXT.get(status, "处理中 / In progress")


def generalise(lon: float, lat: float) -> tuple[float, float]:
    """The centre of the ~GENERALISE_M cell holding (lon, lat): latitude rows of GENERALISE_M, each row cut into
    cells GENERALISE_M wide at its centre latitude. Deterministic, so a case always lands on the same public point."""
    dlat = GENERALISE_M / _M_PER_DEGREE
    row = math.floor(lat / dlat)
    centre_lat = (row + 0.5) * dlat
    dlon = GENERALISE_M / (_M_PER_DEGREE * max(math.cos(math.radians(centre_lat)), 0.01))
    centre_lon = (math.floor(lon / dlon) + 0.5) * dlon
    return round(centre_lon, 6), round(centre_lat, 6)


def public_place(category_code: str | None, lon: float, lat: float, description: str | None,
                 address: str | None) -> tuple[float, float, str | None, str | None]:
    """(lon, lat, description, address) as a public surface shows them for a case of this category."""
    if is_sensitive(category_code):
        glon, glat = generalise(lon, lat)
        return glon, glat, None, None
    return lon, lat, description, address


def worker_names_public(settings: Settings) -> bool:
    """Whether public layers and the overview map name the grid workers (``GRIDPATROL_PUBLIC_WORKER_NAMES``)."""
    return bool(settings.public_worker_names)
