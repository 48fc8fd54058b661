"""The raw figures of a month per grid, read from the database for the 考核 scorecards
(:mod:`patrol.analytics.scorecard`). Every measure of :data:`patrol.analytics.scorecard_rules.MEASURES` is a
numerator and a denominator per grid, so that a worker's, a 网格长's or a community's figure is the sum of its grids'
numerators over the sum of their denominators (counts have a denominator of 1 per grid: per grid there).

Definitions (P = the local calendar month [start, end); for the current month "as of" is today, else its last day):

- ``patrol_days``: distinct local days in P on which a patrol of the grid started.
- ``street_coverage``: street metres of the grid within 25 m of P's GPS tracks of its patrols ÷ its street metres
  (:func:`geo.coverage.grid_coverage`, as the coverage analytics).
- ``visits``: each household with a vulnerable resident as of the as-of day is due ⌈elapsed days ÷ its visit
  interval⌉ visits (interval: the smallest of its vulnerable residents' ``visit_every_days``, else the setting
  ``vulnerable_visit_days``); done = its household visits in P, at most its due; summed over households.
- ``inspections``: per checklist, planned and done of :func:`patrol.surveys.inspections.inspection_report`
  (pro-rated to the days elapsed in the current month), done at most planned; summed over checklists.
- ``found``: cases of the grid reported in P through a patrol, 自行处置 or an inspection (主动发现).
- ``self_handled_share``: of those, the cases handled on the spot (channel ``self_handled``) ÷ found.
- ``on_time``, ``rework``, ``satisfaction``: numerator and denominator of the KPIs ``on_time_rate``,
  ``rework_rate``, ``satisfaction_rate`` of the grid for P (:mod:`patrol.analytics.kpis`).
- ``needs_on_time``: 民情 needs of the grid's households due (``due_on``) in P up to the as-of day, answered
  (``responded_at``, local date) on or before their due date ÷ those needs.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from geo.coverage import DISTANCE_M
from patrol.analytics import kpis as K
from patrol.analytics.gps_days import coverage_of, plan_days
from patrol.analytics.service import Scope, coverage_base
from patrol.cases.channels import INSPECTION, PATROL
from patrol.cases.lifecycle import SELF_HANDLED
from patrol.cases.worktime import calendar, month_bounds
from patrol.core.auth import SYSTEM
from patrol.core.errors import InvalidInput
from patrol.core.models import (
    Building,
    Case,
    Grid,
    Household,
    HouseholdVisit,
    Patrol,
    Resident,
    ResidentNeed,
    Visit,
)
from patrol.core.settings import Settings
from patrol.surveys.inspections import inspection_report, prorate
from patrol.surveys.residents.register import vulnerability

FOUND_CHANNELS = (PATROL, SELF_HANDLED, INSPECTION)
Figures = dict[int, dict[str, list[float]]]  # grid id → measure → [numerator, denominator]


@dataclass(frozen=True)
class Month:
    """A local calendar month: its label, bounds, the as-of day and the elapsed share (1 for a past month)."""

    label: str
    start: dt.datetime
    end: dt.datetime
    as_of: dt.date
    days: int
    share: float

    @property
    def first(self) -> dt.date:
        return self.start.date()

    @property
    def until(self) -> dt.datetime:
        """The end of the as-of day (the month's end for a past month), an aware datetime."""
        return min(self.end, dt.datetime.combine(self.as_of + dt.timedelta(days=1), dt.time(),
                                                 tzinfo=self.start.tzinfo))


def month_of(label: str | None, settings: Settings, today: dt.date) -> Month:
    """The month ``label`` (YYYY-MM; None: today's) as seen on ``today``; 422 on ``month`` for a future one."""
    name, start, end = month_bounds(label, settings.timezone, today=today)
    last = (end - dt.timedelta(days=1)).date()
    if start.date() > today:
        raise InvalidInput(f"month {name} has not begun", field="month")
    as_of = min(last, today)
    return Month(name, start, end, as_of, last.day, as_of.day / last.day)


def previous(month: Month, settings: Settings, n: int = 1) -> Month:
    d = month.first
    for _ in range(n):
        d = (d - dt.timedelta(days=1)).replace(day=1)
    return month_of(f"{d:%Y-%m}", settings, month.as_of)


def _empty(grid_ids: list[int]) -> Figures:
    return {g: defaultdict(lambda: [0.0, 0.0]) for g in grid_ids}


def _patrol_days(session: Session, figs: Figures, m: Month, zone: ZoneInfo) -> None:
    rows = session.execute(select(Patrol.grid_id, Patrol.started_at).where(
        Patrol.grid_id.in_(sorted(figs) or [-1]), Patrol.started_at >= m.start, Patrol.started_at < m.until)).all()
    days: dict[int, set] = defaultdict(set)
    for gid, at in rows:
        at = at if at.tzinfo else at.replace(tzinfo=dt.UTC)
        days[gid].add(at.astimezone(zone).date())
    for g, f in figs.items():
        f["patrol_days"] = [float(len(days.get(g, ()))), 1.0]


def _coverage(session: Session, figs: Figures, m: Month, settings: Settings) -> None:
    ids = sorted(figs)
    coms = frozenset(session.scalars(select(Grid.community_id).where(Grid.id.in_(ids or [-1]))))
    try:  # the streets of the grids' communities only (kept per process: the trend's months share it)
        base = coverage_base(session, Scope(community_ids=coms))
    except InvalidInput:
        return
    plan = plan_days(session, m.start, m.until, settings.timezone, fast=settings.fast_reads, distance_m=DISTANCE_M)
    table = coverage_of(session, base, ids, plan)[0].grids
    code_of = dict(session.execute(select(Grid.id, Grid.code).where(Grid.id.in_(ids or [-1]))).all())
    by_code = {r["code"]: r for r in table.to_dict("records")}
    for g, f in figs.items():
        r = by_code.get(code_of.get(g))
        if r is not None and r["street_m"] and not math.isnan(r["street_m"]):
            f["street_coverage"] = [float(r["covered_m"]), float(r["street_m"])]


def _visits(session: Session, figs: Figures, m: Month, settings: Settings) -> None:
    every: dict[int, int] = {}
    grid_of: dict[int, int] = {}
    for r, gid in session.execute(select(Resident, Building.grid_id)
                                  .join(Household, Household.id == Resident.household_id)
                                  .join(Building, Building.id == Household.building_id)
                                  .where(Building.grid_id.in_(sorted(figs) or [-1]))).all():
        if vulnerability(r, m.as_of, settings):
            n = r.visit_every_days or settings.vulnerable_visit_days
            every[r.household_id] = min(every.get(r.household_id, n), n)
            grid_of[r.household_id] = gid
    done = dict(session.execute(
        select(HouseholdVisit.household_id, func.count(HouseholdVisit.id))
        .join(Visit, Visit.id == HouseholdVisit.visit_id)
        .where(HouseholdVisit.household_id.in_(sorted(every) or [-1]), Visit.time >= m.start, Visit.time < m.until)
        .group_by(HouseholdVisit.household_id)).all())
    elapsed = (m.as_of - m.first).days + 1
    for hid, n in every.items():
        due = math.ceil(elapsed / n)
        f = figs[grid_of[hid]]["visits"]
        f[0] += min(int(done.get(hid, 0)), due)
        f[1] += due


def _inspections(session: Session, figs: Figures, m: Month, settings: Settings) -> None:
    report = prorate(inspection_report(session, SYSTEM, m.label, timezone=settings.timezone), m.as_of)
    for r in report["rows"]:
        if r["grid_id"] in figs and r["planned"]:
            f = figs[r["grid_id"]]["inspections"]
            f[0] += min(r["done"], r["planned"])
            f[1] += r["planned"]


def _cases(session: Session, figs: Figures, m: Month, settings: Settings, now: dt.datetime) -> None:
    ids = sorted(figs)
    found = session.execute(select(Case.grid_id, Case.channel, func.count(Case.id)).where(
        Case.grid_id.in_(ids or [-1]), Case.reported_at >= m.start, Case.reported_at < m.until,
        Case.channel.in_(FOUND_CHANNELS)).group_by(Case.grid_id, Case.channel)).all()
    for g in ids:
        figs[g]["found"] = [0.0, 1.0]
        figs[g]["self_handled_share"] = [0.0, 0.0]
    for gid, channel, n in found:
        figs[gid]["found"][0] += n
        figs[gid]["self_handled_share"][1] += n
        if channel == SELF_HANDLED:
            figs[gid]["self_handled_share"][0] += n
    cases, events = K.load_frames(session, start=m.start, end=m.end, where=[Case.grid_id.in_(ids or [-1])])
    table = K.compute_kpis(cases, events, by="grid", start=m.start, end=m.end, now=min(now, m.end),
                           calendar=calendar(settings), thresholds={}, groups=ids)
    for row in K.kpi_records(table):
        if row["key"] not in figs:
            continue
        f = figs[row["key"]]
        for measure, kpi in (("on_time", "on_time_rate"), ("rework", "rework_rate"),
                             ("satisfaction", "satisfaction_rate")):
            f[measure] = [float(row[f"{kpi}_num"] or 0), float(row[f"{kpi}_den"] or 0)]


def _needs(session: Session, figs: Figures, m: Month, zone: ZoneInfo) -> None:
    rows = session.execute(select(Building.grid_id, ResidentNeed.due_on, ResidentNeed.responded_at)
                           .join(Household, Household.id == ResidentNeed.household_id)
                           .join(Building, Building.id == Household.building_id)
                           .where(Building.grid_id.in_(sorted(figs) or [-1]), ResidentNeed.due_on >= m.first,
                                  ResidentNeed.due_on <= m.as_of)).all()
    for gid, due_on, at in rows:
        f = figs[gid]["needs_on_time"]
        f[1] += 1
        if at is not None:
            at = at if at.tzinfo else at.replace(tzinfo=dt.UTC)
            f[0] += at.astimezone(zone).date() <= due_on


def grid_figures(session: Session, settings: Settings, grid_ids: list[int], month: Month, *,
                 now: dt.datetime, measures: set[str] | None = None) -> Figures:
    """Every measure's [numerator, denominator] per grid of ``grid_ids`` for ``month`` (the module docstring);
    ``measures`` limits the work to those the rules score."""
    figs = _empty(grid_ids)
    if not grid_ids:
        return figs
    want = measures or set()
    zone = ZoneInfo(settings.timezone)
    if "patrol_days" in want:
        _patrol_days(session, figs, month, zone)
    if "street_coverage" in want:
        _coverage(session, figs, month, settings)
    if "visits" in want:
        _visits(session, figs, month, settings)
    if "inspections" in want:
        _inspections(session, figs, month, settings)
    if want & {"found", "self_handled_share", "on_time", "rework", "satisfaction"}:
        _cases(session, figs, month, settings, now)
    if "needs_on_time" in want:
        _needs(session, figs, month, zone)
    return figs
