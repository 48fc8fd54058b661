"""The area filters of a case list — grid, community, subdistrict, each a code or a name — on any pair of columns
that hold a case's community and grid: the cases themselves (:func:`patrol.cases.reads.case_query`) or a summary
keyed by them (:mod:`patrol.cases.map_cells`), so both select the same cases."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, or_, select

from patrol.core.models import Community, Grid, Subdistrict

if TYPE_CHECKING:
    from patrol.cases.reads import CaseFilter

__all__ = ["area_clauses"]


def area_clauses(f: CaseFilter, community_col: Any, grid_col: Any) -> list[ColumnElement[bool]]:
    """The conditions of ``f.grid``, ``f.community`` and ``f.subdistrict`` on ``community_col`` / ``grid_col``."""
    where: list[ColumnElement[bool]] = []
    if f.grid:
        where.append(grid_col.in_(select(Grid.id).where(Grid.code == f.grid)))
    if f.community:
        where.append(community_col.in_(select(Community.id).where(
            or_(Community.code == f.community, Community.name == f.community))))
    if f.subdistrict:
        where.append(community_col.in_(select(Community.id).join(
            Subdistrict, Subdistrict.id == Community.subdistrict_id).where(
            or_(Subdistrict.code == f.subdistrict, Subdistrict.name == f.subdistrict))))
    return where
