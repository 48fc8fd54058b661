"""The kinds of problem the layer, geometry and grid checks report, and the messages they share: defined once.

A :class:`geo.errors.Problem` carries one of these kinds; callers (the CLI's one-line summaries, the API's error
bodies, the plan validation's counts) dispatch on the kind, so its spelling is part of the contract and never
changes. :mod:`geo.layers` (delivered files), :mod:`geo.validation` (geometries of a layer) and the grid checks
(:mod:`geo.grids.check` and the argument checks of :mod:`geo.grids`) all take their kinds and shared messages from
here.
"""

from __future__ import annotations

from enum import StrEnum

from geo.errors import Problem


class Kind(StrEnum):
    """Every problem kind of the layer, geometry and grid checks (the value is what a Problem carries)."""

    # a delivered file or layer as a whole
    UNREADABLE = "unreadable"  # GDAL cannot open the file
    NO_SUCH_LAYER = "no_such_layer"  # a multi-layer file without the layer asked for
    EMPTY_LAYER = "empty_layer"
    MISSING_COLUMN = "missing_column"  # a column the layer kind requires
    UNKNOWN_CRS = "unknown_crs"  # the layer says nothing about its CRS
    WRONG_CRS = "wrong_crs"  # a CRS the caller does not accept
    DATUM_MISMATCH = "datum_mismatch"  # a Chinese datum asked for on a projected layer
    # one feature of a layer
    EMPTY_GEOMETRY = "empty_geometry"  # missing or empty
    WRONG_GEOMETRY_TYPE = "wrong_geometry_type"
    INVALID_GEOMETRY = "invalid_geometry"  # GEOS says not valid (self-intersection …)
    OUTSIDE_AREA = "outside_area"  # beyond given bounds in the layer's CRS
    OUTSIDE_CITY = "outside_city"  # farther from the city than the tolerance: a wrong CRS or datum
    BAD_VALUE = "bad_value"  # a cell that cannot be what its column means
    DUPLICATE_CODE = "duplicate_code"  # a code used twice, or a grid without a code
    # the arguments of a function (a programming or configuration error, not a file's)
    INVALID_ARGUMENT = "invalid_argument"
    ARGUMENT_TYPE = "type"  # not a GeoDataFrame / geometry of the kind expected
    ARGUMENT_CRS = "crs"  # an argument frame without a projected metric CRS, or in another CRS than its peers
    ARGUMENT_COLUMN = "column"  # an argument frame without a column the function needs
    DUPLICATE_ID = "duplicate_id"
    RANGE = "range"  # a (min, max) pair that is not one
    OPTION = "option"  # a tolerance or width out of range
    HOUSEHOLDS = "households"  # household counts that are not numbers ≥ 0
    # findings of geo.grids.check.check_grids (the counts of GridCheck name their plurals)
    GAP = "gap"
    OVERLAP = "overlap"
    BUILDING_IN_NO_GRID = "building_in_no_grid"
    BUILDING_IN_SEVERAL_GRIDS = "building_in_several_grids"
    GRID_OUTSIDE_COMMUNITY = "grid_outside_community"
    SLIVER = "sliver"
    BUILDING_CUT = "building_cut"
    HOUSEHOLDS_OUT_OF_RANGE = "households_out_of_range"
    MULTIPART_GRID = "multipart_grid"


#: check_grids finding kind → the :class:`geo.grids.check.GridCheck` count it adds to.
GRID_FINDING_COUNTS: dict[str, str] = {
    Kind.GAP: "gaps", Kind.OVERLAP: "overlaps", Kind.BUILDING_IN_NO_GRID: "buildings_in_no_grid",
    Kind.BUILDING_IN_SEVERAL_GRIDS: "buildings_in_several_grids",
    Kind.GRID_OUTSIDE_COMMUNITY: "grids_outside_community", Kind.DUPLICATE_CODE: "duplicate_codes",
    Kind.INVALID_GEOMETRY: "invalid_geometries", Kind.SLIVER: "slivers", Kind.BUILDING_CUT: "buildings_cut",
    Kind.HOUSEHOLDS_OUT_OF_RANGE: "households_out_of_range", Kind.MULTIPART_GRID: "multipart_grids",
}

#: Which field of a request or form a feature problem points at when the problem names none (for API errors).
FIELD_OF_KIND: dict[str, str] = {
    Kind.UNKNOWN_CRS: "crs", Kind.WRONG_CRS: "crs", Kind.OUTSIDE_CITY: "crs", Kind.OUTSIDE_AREA: "crs",
    Kind.EMPTY_GEOMETRY: "geometry", Kind.WRONG_GEOMETRY_TYPE: "geometry", Kind.INVALID_GEOMETRY: "geometry",
    Kind.EMPTY_LAYER: "file", Kind.UNREADABLE: "file", Kind.NO_SUCH_LAYER: "source_layer",
}


def missing_column(column: str, present: str, feature_id: object | None = None) -> Problem:
    """A required column is absent; ``present`` lists the columns there are."""
    return Problem(Kind.MISSING_COLUMN, f"the layer has no {column!r} column (columns: {present})", feature_id,
                   column)


def unknown_crs() -> Problem:
    return Problem(Kind.UNKNOWN_CRS, "the layer has no CRS; set it (e.g. EPSG:4326) before using it", field="crs")


def duplicate_code(code: object, feature_id: object, *, users: int | None = None, where: str = "") -> Problem:
    """``code`` used by more than one feature (``users`` of them when counted), at ``where`` when given."""
    used = f"used by {users} features" if users is not None else "used by more than one feature"
    return Problem(Kind.DUPLICATE_CODE, f"code {code} is {used}" + (f", at {where}" if where else ""), feature_id,
                   "code")


def invalid_geometry(reason: str, feature_id: object | None = None, *, what: str | None = None,
                     field: str | None = None) -> Problem:
    """A geometry GEOS finds invalid; ``reason`` is shapely.is_valid_reason's (``Self-intersection[9.5 47.1]``),
    the whole message unless ``what`` names the geometry (``grid``, ``'area'``)."""
    return Problem(Kind.INVALID_GEOMETRY, reason if what is None else f"{what} geometry is invalid: {reason}",
                   feature_id, field)


def missing_geometry(what: str, feature_id: object | None = None) -> Problem:
    """A feature of an argument frame without geometry (a layer's is ``empty_geometry``)."""
    return Problem(Kind.INVALID_GEOMETRY, f"{what} has no geometry", feature_id)
