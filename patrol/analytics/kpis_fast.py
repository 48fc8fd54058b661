"""The KPIs' sums read from the summary table ``case_kpi_fact`` (:mod:`patrol.analytics.summaries`) in one SQL
aggregate, for the dashboards at city scale (issue 23). :func:`patrol.analytics.kpis.kpis` uses it when
``settings.fast_reads`` is on; the results are those of the pandas path (``load_frames`` + ``compute_kpis``):

* the SQL reads the *simple* cases (and those without events): for them each per-case feature of
  :func:`patrol.analytics.kpis._features` is a condition on the stored instants and the case's current columns,
  equal to the pandas one (the derivations are in the comments below);
* the other cases (reopened, closed / rated / suspended twice, more than two handles / escalations / urges, a
  status history that leaves a final status: ≈ a few percent) are computed by the pandas path on their events
  only, and added;
* the working hours are the stored per-case values (computed by the same calendar code); those not stored yet are
  computed for the cases closed in the period and added. Sums of hours are equal to rounding (the additions come in
  another order: ≤ 1e-9 relative).

Relevance (which cases a group lists) is that of ``load_frames``: an event, report, deadline or closure in the
period, or open now.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import pandas as pd
from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    false,
    func,
    literal,
    literal_column,
    not_,
    or_,
    select,
    text,
    true,
    union,
)
from sqlalchemy.orm import Session, aliased

from patrol.analytics.case_hours import calendar_key, case_hours
from patrol.cases.lifecycle import OPEN, RUNNING, SELF_HANDLED
from patrol.cases.worktime import WorkCalendar
from patrol.core.models import Case, CaseEvent, CaseKpiDay, CaseKpiFact, Community, Grid

__all__ = ["F", "fast_sums", "features", "key_expr", "place_clauses", "place_filters", "snapshot_features",
           "surely_relevant", "with_the_rest"]

F = aliased(CaseKpiFact, name="f")
_OPEN = sorted(OPEN)
_RUNNING = sorted(RUNNING)


def _in(col, s: dt.datetime | None, e: dt.datetime | None) -> ColumnElement[bool]:
    """``col`` in [s, e); without bounds (a case's whole life: :mod:`patrol.analytics.kpi_days_sql`), set."""
    if s is None or e is None:
        return col.is_not(None)
    return and_(col.is_not(None), col >= s, col < e)


def _before(col, e: dt.datetime | None) -> ColumnElement[bool]:
    return col.is_not(None) if e is None else and_(col.is_not(None), col < e)


def _n(cond) -> ColumnElement:
    return func.sum(case((cond, 1), else_=0))


def key_expr(by: str | None):
    if by is None:
        return literal("all"), []
    if by == "subdistrict":
        return Community.subdistrict_id, [(Community, Community.id == Case.community_id)]
    if by == "worker":
        return Grid.worker_id, [(Grid, Grid.id == Case.grid_id)]
    col = {"grid": Case.grid_id, "community": Case.community_id, "unit": Case.unit_id,
           "category": Case.category_code, "channel": Case.channel}[by]
    return col, []


def place_filters(*, community_id: int | None = None, grid_id: int | None = None,
                  community_ids: Iterable[int] | None = None) -> tuple[list, list, list]:
    """The KPIs' place filters as (conditions on the cases, the same on the fact rows' copy of the case's place,
    migration 0019, and on the per-day sums' key, migration 0021): the copy lets a community's or grid's facts be
    read from one index."""
    chosen = None if community_ids is None else sorted(community_ids)
    case_, fact, day = (place_clauses(model, community_id=community_id, community_ids=chosen, grid_id=grid_id)
                        for model in (Case, CaseKpiFact, CaseKpiDay))
    return case_, fact, day


def place_clauses(model: Any, *, community_id: int | None = None, community_ids: Iterable[int] | None = None,
                  grid_id: int | None = None) -> list[ColumnElement[bool]]:
    """A community (or a set of them: none matches nothing) and a grid as conditions on ``model``'s
    ``community_id`` / ``grid_id`` columns (cases, fact or day rows, buildings)."""
    out: list[ColumnElement[bool]] = []
    if community_id is not None:
        out.append(model.community_id == community_id)
    if community_ids is not None:
        out.append(model.community_id.in_(sorted(community_ids) or [-1]))
    if grid_id is not None:
        out.append(model.grid_id == grid_id)
    return out


def _candidates(s: dt.datetime, e: dt.datetime, where: Sequence, place: tuple[list, list, list]):
    """Ids of the cases that may be relevant, each from an index: an event since ``s`` (the fact's last step),
    a report, deadline or closure in the period, open now — every arm within the place (the cases' arms with the
    other filters too)."""
    case_place, fact_place = place[:2]
    return union(
        select(CaseKpiFact.case_id.label("id")).where(CaseKpiFact.last_at >= s, CaseKpiFact.first_at < e,
                                                      *fact_place),
        select(Case.id).where(Case.reported_at >= s, Case.reported_at < e, *where, *case_place),
        select(Case.id).where(Case.deadline_at >= s, Case.deadline_at < e, *where, *case_place),
        select(Case.id).where(Case.closed_at >= s, Case.closed_at < e, *where, *case_place),
        select(Case.id).where(Case.status.in_(_OPEN), *where, *case_place),
    ).subquery("cand")


def surely_relevant(s: dt.datetime, e: dt.datetime) -> ColumnElement[bool]:
    """The case is relevant to [s, e) without probing its steps: a report, deadline or closure in it, or open."""
    return or_(_in(Case.reported_at, s, e), _in(Case.deadline_at, s, e), _in(Case.closed_at, s, e),
               Case.status.in_(_OPEN))


def features(s: dt.datetime | None, e: dt.datetime | None, now: dt.datetime | None, fresh,
             surely: ColumnElement[bool] | None, window: tuple[dt.datetime, dt.datetime] | None
             ) -> dict[str, ColumnElement]:
    """Per simple case, each feature of ``kpis._features`` as an SQL condition (summed per group). ``surely``: the
    case is relevant to the snapshot's ``window`` without probing its steps (see :func:`fast_sums`). Without
    bounds (``s``, ``e`` None): the features of a period that holds the case's whole life, without the snapshot
    (``now`` None): the per-day sums of :mod:`patrol.analytics.kpi_days_sql`."""
    received = _in(Case.reported_at, s, e)
    handled = or_(_in(F.handle_first_at, s, e), _in(F.handle_last_at, s, e))  # ≤ 2 handles: the first or the last
    closed = _in(F.close_at, s, e)  # ≤ 1 close
    closed_col = _in(Case.closed_at, s, e)
    # status at e: the final status once reached (it is the last run), else suspended inside the one suspension
    final_end = _before(F.final_at, e)
    susp_end = and_(_before(F.susp_at, e), F.unsusp_at.is_(None) if e is None else or_(F.unsusp_at.is_(None),
                                                                                         F.unsusp_at >= e))
    rated = _in(F.rate_at, s, e)  # ≤ 1 rating and no reopen: it is the latest, its score is the case's rating
    sums = {
        "received": _n(received),
        "self_handled": _n(and_(received, Case.channel == SELF_HANDLED)),
        "handled_in_p": _n(handled),
        "settled_in_grid_rate_num": _n(and_(handled, Case.level == "grid")),
        "registered": _n(_in(F.register_at, s, e)),
        "rejected": _n(_in(F.reject_at, s, e)),
        "merged": _n(_in(F.merge_at, s, e)),
        "closed": _n(closed),
        "escalated": _n(or_(_in(F.escalate_first_at, s, e), _in(F.escalate_last_at, s, e))),
        "suspended": _n(_in(F.suspend_at, s, e)),
        "urges": func.sum(case((_in(F.urge_first_at, s, e), 1), else_=0)
                          + case((and_(F.urge_n == 2, _in(F.urge_last_at, s, e)), 1), else_=0)),
        "urged": _n(or_(_in(F.urge_first_at, s, e), _in(F.urge_last_at, s, e))),
        "closure_rate_num": _n(and_(_in(F.register_at, s, e), final_end, F.final_status == "closed")),
        "on_time_closed": _n(and_(closed_col, Case.closed_on_time.is_(True))),
        "late_closed": _n(and_(closed_col, Case.closed_on_time.is_(False))),
        "due_unclosed": _n(and_(_in(Case.deadline_at, s, e), not_(or_(final_end, susp_end)), not_(closed_col))),
        "rework_rate_num": _n(and_(closed, _before(F.rework_at, e))),
        "reopen_rate_num": func.sum(literal(0)),  # no reopen in a simple case
        "rated": _n(and_(rated, Case.rating.is_not(None))),
        "satisfied": _n(and_(rated, Case.rating >= 4)),
        "dissatisfied": _n(and_(rated, Case.rating <= 2)),
        "ratings_unknown": _n(and_(rated, Case.rating.is_(None))),
        "handle_hours_sum": func.sum(case((and_(closed, fresh, F.handle_before_close_at.is_not(None)),
                                           func.coalesce(F.handle_hours, 0.0)), else_=0.0)),
        "handle_n": _n(and_(closed, F.handle_before_close_at.is_not(None))),
        "close_hours_sum": func.sum(case((and_(closed, fresh), func.coalesce(F.close_hours, 0.0)), else_=0.0)),
        "close_n": _n(closed),
    }
    if now is None:
        return sums
    return {**sums, **snapshot_features(now, surely, window)}


def snapshot_features(now: dt.datetime, surely: ColumnElement[bool], window: tuple[dt.datetime, dt.datetime]
                      ) -> dict[str, ColumnElement]:
    """open_now and overdue_now: the status at now from the stored runs (without a step by now, the case's status,
    reported by now), counted for the cases relevant to ``window``."""
    final_now = and_(F.final_at.is_not(None), F.final_at <= now)
    susp_now = and_(F.susp_at.is_not(None), F.susp_at <= now, or_(F.unsusp_at.is_(None), F.unsusp_at > now))
    stepped = and_(F.first_at.is_not(None), F.first_at <= now)
    fallback = and_(F.first_at.is_(None) | (F.first_at > now), Case.reported_at <= now)
    late = and_(Case.deadline_at.is_not(None), Case.deadline_at < now)
    return {
        "open_now": _snapshot(case((final_now, false()), (susp_now, true()), (stepped, true()),
                                   (fallback, Case.status.in_(_OPEN)), else_=false()), surely, *window),
        "overdue_now": _snapshot(case((final_now, false()), (susp_now, false()), (stepped, late),
                                      (fallback, and_(Case.status.in_(_RUNNING), late)), else_=false()),
                                 surely, *window),
    }


def _snapshot(flag, surely: ColumnElement[bool], s: dt.datetime, e: dt.datetime) -> ColumnElement:
    """Count ``flag`` (open / overdue now) for the relevant cases only: the only features a case that merely spans
    the period (a step before it and one after, none in it) could count. The step probe runs only when the flag
    holds and nothing else makes the case relevant: about never."""
    return _n(case((not_(flag), false()), (surely, true()), (_probe(s, e), true()), else_=false()))


def _probe(s: dt.datetime, e: dt.datetime) -> ColumnElement[bool]:
    """The case has a step in [s, e): an index probe per case. ``OFFSET 0`` keeps PostgreSQL from turning it into a
    hashed subplan that reads every step of the period (it would, as one arm of an OR)."""
    return select(literal(1)).where(CaseEvent.case_id == Case.id, CaseEvent.at >= s, CaseEvent.at < e) \
        .offset(literal_column("0")).exists()


def _source(session: Session, s: dt.datetime, e: dt.datetime, where: Sequence, place: tuple[list, list, list]
            ) -> tuple[Any, list]:
    """The FROM of the sums (cases with their facts) and the conditions that keep the candidates from indexes,
    read by primary key on PostgreSQL (joined, it would plan a read of every case). A year of a whole 5M-case
    district (≈ 1.2M candidates) took 41.6 s this way and 47.7 s as one pass over both tables: at that size the
    sums need a pre-aggregated table (the README's "City scale" says which)."""
    frm = Case.__table__.outerjoin(F, F.case_id == Case.id)
    cand = _candidates(s, e, where, place)
    if session.get_bind().dialect.name == "postgresql":
        return frm, [Case.id == func.any(func.array(select(cand.c.id).scalar_subquery()))]
    return cand.join(Case, Case.id == cand.c.id).outerjoin(F, F.case_id == Case.id), []


def fast_sums(session: Session, *, by: str | None, start: dt.datetime, end: dt.datetime, now: dt.datetime,
              cal: WorkCalendar, where: Sequence, slow: Callable[[list], pd.DataFrame],
              place: tuple[list, list, list] = ([], [], []), window: tuple[dt.datetime, dt.datetime] | None = None
              ) -> pd.DataFrame:
    """The summed features per raw group key (column ``key``; the others as ``kpis._features``) of the cases the
    filters ``where`` and ``place`` (:func:`place_filters`) keep, relevant to [start, end) (UTC) or open at ``now``.
    ``slow(where)`` is the pandas path (load_frames + the features summed per key, as a frame with a ``key``
    column) for the non-simple cases. The place filters the candidates only: repeated on the joined cases, it
    would lead PostgreSQL to read all of a community's cases (≈ 1M at 5M) instead of the ≈ 20k candidates of a
    month by their primary key. ``window``: the span whose
    relevance the snapshot counts (a trend's whole span, as ``compute_trend`` loads it; default the period)."""
    s, e = start, end
    key, joins = key_expr(by)
    # Relevance is that of load_frames: a report, deadline or closure in the period, open now, or a step in it. A
    # case whose steps span the period (one before, one after) without one in it counts zero in every feature but
    # the snapshot, so the WHERE keeps every spanning case without probing, and the snapshot probes (_snapshot).
    ws, we = window or (s, e)
    surely = surely_relevant(ws, we)
    relevant = or_(surely_relevant(s, e), and_(F.last_at >= s, F.first_at < e), surely,
                   and_(F.last_at >= ws, F.first_at < we))
    fresh = F.hours_cal == calendar_key(cal)
    simple = or_(F.case_id.is_(None), F.simple.is_(True))
    frm, scope = _source(session, ws, we, where, place)
    for model, on in joins:
        frm = frm.outerjoin(model, on)
    feats = features(s, e, now, fresh, surely, (ws, we))
    stmt = (select(key.label("key"), *(v.label(k) for k, v in feats.items())).select_from(frm)
            .where(relevant, simple, *where, *scope).group_by(key))
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL jit = off"))  # compiling the ~30 sums costs more than it saves
    rows = session.execute(stmt).all()
    return with_the_rest(session, [pd.DataFrame([tuple(r) for r in rows], columns=["key", *feats])], by=by,
                         start=s, end=e, cal=cal, where=where, place=place, slow=slow, window=(ws, we))


def with_the_rest(session: Session, parts: list[pd.DataFrame], *, by: str | None, start: dt.datetime,
                  end: dt.datetime, cal: WorkCalendar, where: Sequence, place: tuple[list, list, list],
                  slow: Callable[[list], pd.DataFrame], window: tuple[dt.datetime, dt.datetime] | None = None
                  ) -> pd.DataFrame:
    """``parts`` (the simple cases' sums), the working hours not stored yet, and the non-simple cases through the
    pandas path ``slow``, as one frame of per-key rows. The non-simple cases handed to it are those of the place
    (a partial index) that may be relevant to ``window`` (default the period): steps around it, or a report,
    deadline or closure in it, or open — the pandas path then probes each for a step in the window (at 5M, the
    district's 14k non-simple cases probed step by step took 0.35 s of a year's KPIs)."""
    lo, hi = window or (start, end)
    complex_ = (select(CaseKpiFact.case_id).join(Case, Case.id == CaseKpiFact.case_id)
                .where(CaseKpiFact.simple.is_(False), *place[1],
                       or_(and_(CaseKpiFact.last_at >= lo, CaseKpiFact.first_at < hi), surely_relevant(lo, hi))))
    parts = [*parts, _stale_hours(session, by, [*where, *place[0]], start, end, cal),
             slow([*where, *place[0], Case.id.in_(complex_)])]
    kept = [p for p in parts if len(p)]
    if not kept:
        return pd.DataFrame(columns=list(dict.fromkeys(c for p in parts for c in p.columns)))
    return pd.concat(kept, ignore_index=True)


def _stale(key: str) -> ColumnElement[bool]:
    """Hours missing or for another calendar, as three ranges of the index (hours_cal, close_at): ``<>`` would not
    use it."""
    return or_(F.hours_cal.is_(None), F.hours_cal < key, F.hours_cal > key)


def _stale_hours(session: Session, by: str | None, where: Sequence, s: dt.datetime, e: dt.datetime,
                 cal: WorkCalendar) -> pd.DataFrame:
    """The working hours of the simple cases closed in the period whose hours are not stored (for this calendar):
    computed here as the pandas path does (the sums only; the counts come from the SQL). A close in the period
    makes a case relevant; these few facts are found from the index (hours_cal, close_at)."""
    key, joins = key_expr(by)
    stmt = (select(key.label("key"), Case.reported_at, F.register_at, F.handle_before_close_at, F.close_at,
                   F.suspend_at, F.resume_at).select_from(F).join(Case, Case.id == F.case_id))
    for model, on in joins:
        stmt = stmt.outerjoin(model, on)
    stmt = stmt.where(*where, F.simple.is_(True), _in(F.close_at, s, e), _stale(calendar_key(cal)))
    out = []
    for k, rep, reg, hdl, close, sus, res in session.execute(stmt).all():
        hh, ch = case_hours(cal, rep, reg, hdl, close, sus, res)
        out.append((k, hh or 0.0, ch))
    return pd.DataFrame(out, columns=["key", "handle_hours_sum", "close_hours_sum"])
