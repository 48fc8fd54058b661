"""Validating a plan: :func:`geo.grids.check.check_grids` on its grids against the communities and buildings,
every problem at once with its severity and its place in WGS-84."""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from geo.errors import GeoValidationError
from geo.grids.check import FATAL, FINDING_COUNTS, check_grids, problem_location
from patrol.city.gridding import building_frame, community_frame
from patrol.city.households import grid_households
from patrol.core.auth import Actor
from patrol.core.errors import InvalidInput
from patrol.core.models import Building
from patrol.core.settings import Settings
from patrol.plans.base import as_int, metric_epsg, plan_frame, plan_row, require_planner
from patrol.plans.geometry import transformer
from patrol.plans.problem_texts import describe, kind_label


def validate(session: Session, actor: Actor | None, plan_id: int, *, settings: Settings,
             tolerance_m2: float = 1.0, sliver_width_m: float = 2.0, lang: str = "en") -> dict:
    """Every problem of the plan at once, each with its kind, severity, message, feature and place (WGS-84
    lon/lat): :func:`geo.grids.check.check_grids` with the configured households range. ``message`` and ``label``
    are in ``lang`` ('en' or 'zh'), grids named and places in lon/lat (patrol.plans.problem_texts); ``detail`` is
    the check's own wording."""
    if actor is not None:
        require_planner(actor)
    plan = plan_row(session, plan_id)
    if not tolerance_m2 >= 0:
        raise InvalidInput(f"tolerance_m2 must be ≥ 0 m², got {tolerance_m2}", field="tolerance_m2")
    if not sliver_width_m >= 0:
        raise InvalidInput(f"sliver_width_m must be ≥ 0 m, got {sliver_width_m}", field="sliver_width_m")
    epsg = metric_epsg(session)
    communities = community_frame(session, epsg).rename(columns={"id": "community_id"})
    grids4326 = plan_frame(session, plan.id)
    grids = grids4326.to_crs(epsg)
    grids["community_id"] = pd.Series([as_int(v) for v in grids["community_id"]], index=grids.index, dtype=object)
    buildings = building_frame(session, epsg)
    rng = grid_households(session, settings)
    try:
        check = check_grids(communities, grids.set_index(grids["code"].to_numpy()), buildings,
                            tolerance_m2=tolerance_m2, households_range=rng, sliver_width_m=sliver_width_m)
    except GeoValidationError as exc:
        raise InvalidInput(f"plan {plan.id} cannot be checked: {exc}", field="plan_id") from exc
    by_code = dict(zip(grids4326["code"], grids4326.geometry, strict=True))
    back = transformer(epsg, 4326)
    names = {str(c): str(n) for c, n in zip(grids4326["code"], grids4326["name"], strict=True) if n}
    problems = []
    for p in check.problems:
        where = problem_location(p)
        if where is not None:
            lon, lat = back.transform(*where)
        else:
            lon, lat = _fallback_place(session, p.feature_id, by_code)
        count = FINDING_COUNTS.get(p.kind, "")
        fid = p.feature_id
        lon = None if lon is None else round(float(lon), 7)
        lat = None if lat is None else round(float(lat), 7)
        feature = list(fid) if isinstance(fid, tuple) else _plain(fid)
        problems.append({"kind": str(p.kind), "severity": "error" if count in FATAL else "warning",
                         "label": kind_label(str(p.kind), lang),
                         "message": describe(str(p.kind), p.message, feature, lon, lat, names, lang),
                         "detail": p.message, "feature": feature, "lon": lon, "lat": lat})
    counts = {name: int(getattr(check, name)) for name in FINDING_COUNTS.values()}
    return {"plan_id": plan.id, "ok": bool(check.ok), "errors": sum(counts[n] for n in FATAL),
            "warnings": sum(v for n, v in counts.items() if n not in FATAL), "counts": counts,
            "households_range": list(rng), "tolerance_m2": tolerance_m2, "sliver_width_m": sliver_width_m,
            "problems": problems}


def _plain(v):
    return v.item() if hasattr(v, "item") else v


def _fallback_place(session: Session, feature, by_code: dict) -> tuple[float | None, float | None]:
    if isinstance(feature, str) and feature in by_code and by_code[feature] is not None \
            and not by_code[feature].is_empty:
        p = by_code[feature].representative_point()
        return p.x, p.y
    if isinstance(feature, int | np.integer):
        wkb = session.scalar(select(func.ST_AsBinary(func.ST_PointOnSurface(Building.geom)))
                             .where(Building.id == int(feature)))
        if wkb is not None:
            p = shapely.from_wkb(bytes(wkb))
            return p.x, p.y
    return None, None
