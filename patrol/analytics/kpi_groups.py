"""The groups a KPI table lists (:func:`group_keys`: every grid / community / subdistrict / unit of the filtered
area, with labels and households) and the subdistrict of each case (:func:`with_subdistricts`), read from the
database for :mod:`patrol.analytics.kpis`."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from patrol.analytics.kpis_fast import place_clauses
from patrol.core.models import Building, Category, Community, Grid, ResponsibleUnit, Subdistrict, User


def group_keys(session: Session, by: str | None, *, community_id, grid_id, unit_id, category, community_ids=None
            ) -> tuple[list, dict, dict | int | None]:
    """(group keys to list, labels {key: (code, name)}, households) for the grouping and filters;
    ``community_ids`` restricts to a set of communities (a subdistrict's)."""
    def area_households(where: list) -> int:
        return int(session.scalar(select(func.coalesce(func.sum(Building.households), 0)).where(*where)) or 0)

    if by is None:
        where = place_clauses(Building, community_id=community_id, community_ids=community_ids, grid_id=grid_id)
        return [], {}, area_households(where)
    if by in ("grid", "community"):
        return _area_groups(session, by, community_id, grid_id, community_ids)
    if by == "subdistrict":
        return _subdistrict_groups(session, community_id, grid_id, community_ids)
    if by == "worker":
        return _worker_groups(session, community_id, grid_id, community_ids)
    if by == "unit":
        stmt = select(ResponsibleUnit.id, ResponsibleUnit.type, ResponsibleUnit.name).order_by(ResponsibleUnit.id)
        if unit_id is not None:
            stmt = stmt.where(ResponsibleUnit.id == unit_id)
        rows = session.execute(stmt).all()
        return [r[0] for r in rows], {r[0]: (r[1], r[2]) for r in rows}, None
    rows = session.execute(select(Category.code, Category.name_zh)).all()
    return ([category] if category is not None else []), {r[0]: (r[0], r[1]) for r in rows}, None


def _area_groups(session: Session, by: str, community_id, grid_id, community_ids
                 ) -> tuple[list, dict, dict | int | None]:
    """The grids or communities of the filtered area, their labels and households."""
    model, fk = (Grid, Building.grid_id) if by == "grid" else (Community, Building.community_id)
    stmt = select(model.id, model.code, model.name).order_by(model.id)
    com_col = Grid.community_id if by == "grid" else Community.id
    if community_id is not None:
        stmt = stmt.where(com_col == community_id)
    if community_ids is not None:
        stmt = stmt.where(com_col.in_(sorted(community_ids) or [-1]))
    if grid_id is not None:
        stmt = stmt.where(Grid.id == grid_id) if by == "grid" else stmt.where(
            Community.id.in_(select(Grid.community_id).where(Grid.id == grid_id)))
    rows = session.execute(stmt).all()
    counted = dict(session.execute(select(fk, func.sum(Building.households)).where(fk.is_not(None))
                                   .group_by(fk)).all())
    households = {k: int(v or 0) for k, v in counted.items()} | {r[0]: int(counted.get(r[0]) or 0) for r in rows}
    return [r[0] for r in rows], {r[0]: (r[1], r[2]) for r in rows}, households


def _subdistrict_groups(session: Session, community_id, grid_id, community_ids
                        ) -> tuple[list, dict, dict | int | None]:
    """The subdistricts of the filtered area (those of its communities), their labels and households."""
    stmt = select(Subdistrict.id, Subdistrict.code, Subdistrict.name).order_by(Subdistrict.id)
    if community_id is not None or community_ids is not None or grid_id is not None:
        coms = select(Community.subdistrict_id)
        if community_id is not None:
            coms = coms.where(Community.id == community_id)
        if community_ids is not None:
            coms = coms.where(Community.id.in_(sorted(community_ids) or [-1]))
        if grid_id is not None:
            coms = coms.where(Community.id.in_(select(Grid.community_id).where(Grid.id == grid_id)))
        stmt = stmt.where(Subdistrict.id.in_(coms))
    rows = session.execute(stmt).all()
    counted = dict(session.execute(select(Community.subdistrict_id, func.sum(Building.households))
                                   .join(Community, Community.id == Building.community_id)
                                   .group_by(Community.subdistrict_id)).all())
    households = {k: int(v or 0) for k, v in counted.items()} | {r[0]: int(counted.get(r[0]) or 0) for r in rows}
    return [r[0] for r in rows], {r[0]: (r[1], r[2]) for r in rows}, households


def _worker_groups(session: Session, community_id, grid_id, community_ids) -> tuple[list, dict, dict | int | None]:
    """The grid workers of the filtered area's grids (a worker: the user a grid's ``worker_id`` points at), labelled
    (user name, display name), with the households of their grids."""
    stmt = select(Grid.id, Grid.worker_id).where(Grid.worker_id.is_not(None))
    if community_id is not None:
        stmt = stmt.where(Grid.community_id == community_id)
    if community_ids is not None:
        stmt = stmt.where(Grid.community_id.in_(sorted(community_ids) or [-1]))
    if grid_id is not None:
        stmt = stmt.where(Grid.id == grid_id)
    grid_worker = dict(session.execute(stmt).all())
    counted = dict(session.execute(select(Building.grid_id, func.sum(Building.households))
                                   .where(Building.grid_id.in_(sorted(grid_worker) or [-1]))
                                   .group_by(Building.grid_id)).all())
    households: dict[int, int] = {}
    for g, w in grid_worker.items():
        households[w] = households.get(w, 0) + int(counted.get(g) or 0)
    rows = session.execute(select(User.id, User.username, User.display_name)
                           .where(User.id.in_(sorted(households) or [-1])).order_by(User.username)).all()
    return [r[0] for r in rows], {r[0]: (r[1], r[2]) for r in rows}, households


def with_workers(session: Session, cases: pd.DataFrame) -> pd.DataFrame:
    """``cases`` with the ``worker_id`` of the grid worker walking each case's grid (None without one)."""
    of = dict(session.execute(select(Grid.id, Grid.worker_id)).all())
    ids = [None if g is None or pd.isna(g) else of.get(int(g)) for g in cases["grid_id"]]
    return cases.assign(worker_id=pd.Series(ids, index=cases.index, dtype=object))


def with_subdistricts(session: Session, cases: pd.DataFrame) -> pd.DataFrame:
    """``cases`` with the ``subdistrict_id`` of each case's community."""
    of = dict(session.execute(select(Community.id, Community.subdistrict_id)).all())
    ids = [None if c is None or pd.isna(c) else of.get(int(c)) for c in cases["community_id"]]
    return cases.assign(subdistrict_id=pd.Series(ids, index=cases.index, dtype=object))
