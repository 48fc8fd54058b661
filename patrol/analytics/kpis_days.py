"""The KPIs of a long period from the per-day sums ``case_kpi_day`` (PostgreSQL, migration 0021): a district's year
reads a few tens of thousands of day rows instead of a million cases. Equal to the facts' path
(:func:`patrol.analytics.kpis_fast.fast_sums`) and so to the pandas one:

For a period [s, e) of whole local days and a simple case whose span (first to last instant: steps, reported,
deadline, closed) lies inside it, every feature is that of its whole life (each "in the period" holds exactly
when the instant exists; ``final_at < e`` when there is one), which is what a day row sums for the cases whose span
begins that day. So the sums are

* the day rows of [s, e) (the cases whose span begins in the period),
* minus those cases' whole-life features for the ones whose span reaches past ``e``, plus the live features
  (:func:`patrol.analytics.kpis_fast.features` at [s, e)) of every case whose span straddles ``s`` or ``e``: both
  sets from the GiST index on ``tstzrange(span_lo, span_hi, '[]')``, a few thousand cases at a bound;
* the snapshot (open / overdue now) of the simple cases not final by now (an index on ``final_at``);
* the working hours not stored yet and the non-simple cases, as the facts' path adds them.

A case whose span holds no instant of the period counts nothing but the snapshot, and the snapshot is counted
apart: the relevance of ``load_frames`` needs no test here. The path is taken for periods of at least
:data:`MIN_DAYS` days on whole local days of the day rows' time zone, with no filter but the place, grouped by
nothing, community, grid, subdistrict or worker, and when every day row of the period holds working hours of the
current calendar only; else ``None`` (the caller reads the facts).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import DateTime, Select, and_, cast, func, inspect, literal, or_, select, text
from sqlalchemy.orm import Session
from sqlalchemy.sql.util import ClauseAdapter

from patrol.analytics.case_hours import calendar_key
from patrol.analytics.kpis_fast import F, features, key_expr, snapshot_features, surely_relevant, with_the_rest
from patrol.cases.worktime import WorkCalendar
from patrol.core.models import DAY_SUMS, Case, CaseKpiDay, CaseKpiDayMeta, Community, Grid

__all__ = ["MIN_DAYS", "day_sums"]

#: the shortest period read from the day rows: below it the straddling cases are as many as the period's own
MIN_DAYS = 45
D = CaseKpiDay
_BY = (None, "community", "grid", "subdistrict", "worker")


def _local_day(at: dt.datetime, tz: str) -> dt.date | None:
    local = at.astimezone(ZoneInfo(tz))
    return local.date() if local.time() == dt.time() else None


def _day_key(by: str | None):
    """The group key on the day rows (0 is "none") and the joins it needs."""
    if by is None:
        return literal("all"), []
    if by == "community":
        return func.nullif(D.community_id, 0), []
    if by == "grid":
        return func.nullif(D.grid_id, 0), []
    if by == "subdistrict":
        return Community.subdistrict_id, [(Community, Community.id == D.community_id)]
    return Grid.worker_id, [(Grid, Grid.id == D.grid_id)]


def _frame(session: Session, stmt, names: list[str]) -> pd.DataFrame:
    return pd.DataFrame([tuple(r) for r in session.execute(stmt).all()], columns=["key", *names])


def _grouped(by: str | None, sums: list, *where) -> Select:
    """``sums`` of the simple cases (with their fact rows) that ``where`` keeps, per group key."""
    key, joins = key_expr(by)
    frm = Case.__table__.join(F, F.case_id == Case.id)
    for model, on in joins:
        frm = frm.outerjoin(model, on)
    return select(key.label("key"), *sums).select_from(frm).where(F.simple.is_(True), *where).group_by(key)


def day_sums(session: Session, *, by: str | None, start: dt.datetime, end: dt.datetime, now: dt.datetime,
             cal: WorkCalendar, where: Sequence, place: tuple[list, list, list],
             window: tuple[dt.datetime, dt.datetime] | None, slow: Callable[[list], pd.DataFrame]
             ) -> pd.DataFrame | None:
    """The summed features per raw group key, as :func:`patrol.analytics.kpis_fast.fast_sums` returns them, or
    ``None`` when the period or the filters do not suit the day rows (see the module's docstring)."""
    if (session.get_bind().dialect.name != "postgresql" or where or by not in _BY
            or (window is not None and tuple(window) != (start, end)) or end - start < dt.timedelta(days=MIN_DAYS)):
        return None
    tz = session.scalar(select(CaseKpiDayMeta.tz).limit(1))
    if tz != cal.timezone:
        return None
    first, stop = _local_day(start, tz), _local_day(end, tz)
    if first is None or stop is None:
        return None
    key = calendar_key(cal)
    in_days = [D.day >= first, D.day < stop, *place[2]]
    if session.scalar(select(func.count()).select_from(D).where(
            *in_days, D.cal_lo.is_not(None), or_(D.cal_lo != key, D.cal_hi != key))):
        return None  # hours stored for another calendar: the facts' path computes them
    session.execute(text("SET LOCAL jit = off"))
    dkey, joins = _day_key(by)
    frm = D.__table__
    for model, on in joins:
        frm = frm.outerjoin(model, on)
    days = _frame(session, select(dkey.label("key"), *(func.sum(getattr(D, n)).label(n) for n in DAY_SUMS))
                  .select_from(frm).where(*in_days).group_by(dkey), list(DAY_SUMS))
    on_f = ClauseAdapter(inspect(F).selectable)
    fact_place = [on_f.traverse(c) for c in place[1]]  # the place on the alias ``f`` the features read
    span = func.tstzrange(F.span_lo, F.span_hi, "[]")
    crosses_start = and_(span.op("@>")(cast(literal(start), DateTime(timezone=True))), F.span_lo < start)
    crosses_end = and_(span.op("@>")(cast(literal(end), DateTime(timezone=True))), F.span_lo < end)
    not_final = or_(F.final_at.is_(None), F.final_at > now)
    # one pass over the cases of the three sets (two GiST probes and the index on final_at), each sum filtered
    sets = {"live": (features(start, end, None, F.hours_cal == key, None, None), or_(crosses_start, crosses_end)),
            "counted": (features(None, None, None, F.hours_cal.is_not(None), None, None),
                        and_(crosses_end, F.span_lo >= start)),
            "snapshot": (snapshot_features(now, surely_relevant(start, end), (start, end)), not_final)}
    cols = [f"{part}.{name}" for part, (feats, _) in sets.items() for name in feats]
    sums = [expr.filter(cond).label(f"{part}.{name}")  # type: ignore[attr-defined]
            for part, (feats, cond) in sets.items() for name, expr in feats.items()]
    rows = _frame(session, _grouped(by, sums, or_(crosses_start, crosses_end, not_final), *fact_place), cols)
    parts = [days]
    for part, (feats, _) in sets.items():
        frame = rows[["key", *(f"{part}.{n}" for n in feats)]].rename(columns=lambda c: c.split(".")[-1])
        values = frame[list(feats)].fillna(0).infer_objects()  # a filtered sum over no row is NULL
        frame[list(feats)] = -values if part == "counted" else values
        parts.append(frame)
    return with_the_rest(session, parts, by=by, start=start, end=end, cal=cal, where=where, place=place, slow=slow)
