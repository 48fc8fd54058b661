"""Routing on the road network: the nearest responsible unit by road, its route, and the order of stops.

OpenStreetMap roads come as whole ways (``geo.osm.read_osm``), not split at junctions.
:meth:`RoadGraph.from_lines` nodes them: a vertex shared by two or more ways (exactly the same coordinates, as
OSM ways share node ids) or a way's end becomes a graph node, and ways are split there into edges. Two ways
that cross without a shared vertex (a bridge) stay unconnected, as they should.

Points (case reports, units) are not on nodes: they are snapped to the nearest *edge* and kept at their
fraction along it. A unit's Dijkstra starts from a virtual source spliced into its edge, and a point is
reached from the ends of its edge, so distances are exact along the road and need neither a nearest-node
approximation nor an edited graph.

:class:`FacilityIndex` runs one Dijkstra per unit up front (scipy's C implementation) and keeps the distance
and predecessor rows; after that a query is a lookup plus a few array operations, and a route is read back
from the predecessors. Adding, removing or moving one unit recomputes its row only.

All coordinates are in the metric CRS of the roads; distances are metres, times seconds.

Profiles
--------
``"walk"``
    Every ``highway`` class except those in :data:`WALK_EXCLUDED` (motorways, trunk roads, roads under
    construction or only proposed), both directions whatever ``oneway`` says, at :data:`WALK_SPEED_KMH`.
``"drive"``
    Only the motorised classes of :data:`DRIVE_SPEEDS_KMH`, at the speed listed there; ``oneway`` ways only in
    their geometry direction (``read_osm`` has already reversed ``oneway=-1`` ways). Tracks, paths, footways,
    cycleways, pedestrian streets, steps and bridleways are left out: they are closed to cars or unfit for
    them.

Direction
---------
A :class:`FacilityIndex` measures ``"from_facility"`` (default: the unit drives to the case) or
``"to_facility"`` (the point travels to the unit). On the walk profile both are the same; on the drive profile
one-way streets make them differ.
"""

from geo.network.facilities import FacilityIndex, NearestFacilities, Route
from geo.network.graph import RoadGraph, Snap, StopMatrix
from geo.network.profiles import (
    DEFAULT_MAX_SNAP_M,
    DIRECTIONS,
    DRIVE_SPEEDS_KMH,
    FALLBACK_STRAIGHT_LINE,
    NOMINAL_SPEED_KMH,
    PROFILES,
    REASON_OFF_NETWORK,
    REASON_UNREACHABLE,
    UNREACHABLE_PENALTY,
    WALK_EXCLUDED,
    WALK_SPEED_KMH,
    WEIGHTS,
)
from geo.network.tour import order_stops, tour_cost

__all__ = [
    "DEFAULT_MAX_SNAP_M",
    "DIRECTIONS",
    "DRIVE_SPEEDS_KMH",
    "FALLBACK_STRAIGHT_LINE",
    "NOMINAL_SPEED_KMH",
    "PROFILES",
    "REASON_OFF_NETWORK",
    "REASON_UNREACHABLE",
    "UNREACHABLE_PENALTY",
    "WALK_EXCLUDED",
    "WALK_SPEED_KMH",
    "WEIGHTS",
    "FacilityIndex",
    "NearestFacilities",
    "RoadGraph",
    "Route",
    "Snap",
    "StopMatrix",
    "order_stops",
    "tour_cost",
]
