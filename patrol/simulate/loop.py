"""SIMULATED cases walked through the real case loop on the working-hours clock, the way a functioning 社区 works
them: each step comes a share of the working time left before the deadline in force, so a case is registered,
dispatched, handled, verified and closed in time (按期) unless the walk is told to be late, and the walk stops at the
first step that would come after the end of the simulated month — the cases still open at the end are the recent
ones, in time. Every step goes through :func:`patrol.cases.service.transition` (its rules, deadlines, automatic
escalation and notices); a step the loop refuses ends the walk and is counted.

The shares are the demo's assumptions, chosen against the figures the seeds report (``shared/DOMAIN.md``: 解决率
98.64 %, 满意率 96–100 %): about 3 % of reports not registered (不予立案: not confirmed on site), 1.5 % suspended
(缓办), 2 % failing the on-site check once (返工), a resident's rating for about 97 % of closed cases with 99.2 %
of them satisfied (4 or 5 of 5, as 春光山色's 99.87 %) and 0.3 % dissatisfied (≤ 2, which reopens the case: it is
handled again).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from patrol.cases import service as svc
from patrol.cases.worktime import WorkCalendar
from patrol.core.auth import SYSTEM, Actor, actor_for
from patrol.core.errors import GridPatrolError
from patrol.core.models import Case, Grid, User
from patrol.core.settings import Settings
from patrol.core.time import aware

REJECT = 0.03
SUSPEND = 0.015
REWORK = 0.02
RATED = 0.97
#: a resident's score of the handling: 5 … 1 (≥ 4 satisfied: 99.2 %; ≤ 2 reopens the case: 0.3 %)
RATINGS = ((5, 80.0), (4, 19.2), (3, 0.5), (2, 0.2), (1, 0.1))
REJECT_NOTES = ("经核实不属实 (模拟)", "非本辖区事项，已告知 (模拟)")
SUSPEND_NOTES = ("等待配件到货 (模拟)", "需业主配合，已约时间 (模拟)")


@dataclass
class Cast:
    """Who acts on the cases of one grid: its worker, the community's supervisor, the department user of a unit."""

    worker: Actor
    sup: Actor
    dept: Callable[[int | None], Actor | None]
    #: grid worker user id → her actor (a case dispatched to a worker is handled by her)
    workers: dict[int, Actor] = field(default_factory=dict)


def crew(s: Session) -> dict[int, Cast]:
    """Per grid with a worker: who acts on its cases — her, her community's (first) supervisor, and the (first)
    department user of each unit."""
    users = s.scalars(select(User).where(User.active.is_(True)).order_by(User.id)).all()
    sups: dict[int, Actor] = {}
    depts: dict[int, Actor] = {}
    by_id: dict[int, User] = {u.id: u for u in users}
    for u in users:
        if u.role == "supervisor" and u.community_id is not None and u.community_id not in sups:
            sups[u.community_id] = actor_for(s, u)
        elif u.role == "department" and u.unit_id is not None and u.unit_id not in depts:
            depts[u.unit_id] = actor_for(s, u)
    workers: dict[int, Actor] = {}
    out: dict[int, Cast] = {}
    for gid, com, wid in s.execute(select(Grid.id, Grid.community_id, Grid.worker_id)
                                   .where(Grid.worker_id.is_not(None)).order_by(Grid.id)).all():
        if wid not in by_id:
            continue
        if wid not in workers:
            workers[wid] = actor_for(s, by_id[wid])
        out[gid] = Cast(worker=workers[wid], sup=sups.get(com, SYSTEM), dept=lambda u: depts.get(u or -1),
                        workers=workers)
    return out


@dataclass
class Plan:
    """How one case goes. ``late_hours``: handled that many working hours after its deadline (only a case at
    department level can be: below it the loop escalates a case whose deadline passed). ``hold``: stop once in
    the handler's hands (still being handled). ``keep_deadline``: dispatch with the deadline set at report (an
    inspection's 限期整改) rather than the category's time limit. ``rating``: the resident's score, when the story
    needs one."""

    late_hours: float | None = None
    hold: bool = False
    keep_deadline: bool = False
    rating: int | None = None
    #: a resident's order: the desk answers it (registers or rejects it) this many working hours after receipt
    #: (响应, :mod:`patrol.analytics.responsiveness`) instead of a share of the time to the deadline
    respond_hours: tuple[float, float] | None = None

    @property
    def scripted(self) -> bool:
        """A story's case: no random rejection, suspension or rework."""
        return self.late_hours is not None or self.hold or self.rating is not None


class Walk:
    """One case on the simulated clock: ``t`` the moment of its last step, ``end`` the end of the month."""

    def __init__(self, s: Session, settings: Settings, cal: WorkCalendar, case: Case, cast: Cast,
                 rng: random.Random, end: dt.datetime) -> None:
        self.s, self.settings, self.cal, self.case, self.cast, self.rng, self.end = (s, settings, cal, case, cast,
                                                                                     rng, end)
        self.t = aware(case.reported_at)
        self.refused = False

    def within(self, lo: float, hi: float) -> dt.datetime:
        """A moment after ``t``: between ``lo`` and ``hi`` of the working time left before the deadline."""
        deadline = aware(self.case.deadline_at)
        left = self.cal.working_hours_between(self.t, deadline) if deadline else 8.0
        return self.cal.add_working_hours(self.t, max(left, 0.0) * self.rng.uniform(lo, hi))

    def after(self, lo: float, hi: float) -> dt.datetime:
        """A moment ``lo``…``hi`` working hours after ``t``."""
        return self.cal.add_working_hours(self.t, self.rng.uniform(lo, hi))

    def step(self, actor: Actor | None, action: str, at: dt.datetime, **kw) -> bool:
        """Take ``action`` at ``at``; False (and nothing done) when ``at`` is after the end or the loop refused."""
        if actor is None or at >= self.end:
            return False
        try:
            svc.transition(self.s, actor, self.settings, self.case.id, action, now=at, **kw)
        except GridPatrolError:
            self.refused = True
            return False
        self.t = at
        return True

    def handler(self) -> Actor:
        c = self.case
        if c.unit_id is not None:
            return self.cast.dept(c.unit_id) or self.cast.sup
        return self.cast.workers.get(c.assignee_id or -1, self.cast.worker)


def walk(w: Walk, plan: Plan | None = None) -> str:
    """Move ``w.case`` along the loop as :class:`Plan` says, stopping at the end of the month; its final status."""
    plan = plan or Plan()
    rng, cast, case = w.rng, w.cast, w.case
    answer = w.after(*plan.respond_hours) if plan.respond_hours else None
    if not plan.scripted and rng.random() < REJECT:
        w.step(cast.sup, "reject", answer or w.within(0.05, 0.3), note=rng.choice(REJECT_NOTES))
        return case.status
    grid_level = case.level == "grid"
    desk = cast.worker if grid_level else cast.sup
    if not w.step(desk, "register", answer or w.within(0.02, 0.15)):
        return case.status
    kw = {}
    if plan.keep_deadline and case.deadline_at is not None:
        kw["hours"] = max(1.0, w.cal.working_hours_between(w.t, aware(case.deadline_at)))
    if not w.step(desk, "dispatch", w.within(0.02, 0.15), **kw):
        return case.status
    if not plan.scripted and rng.random() < SUSPEND:
        w.step(cast.sup, "suspend", w.within(0.1, 0.3), note=rng.choice(SUSPEND_NOTES))
        return case.status
    _handle(w, plan)
    return case.status


def _handle(w: Walk, plan: Plan) -> None:
    """From dispatched: accept, handle (maybe once more after a failed check), verify, close, rating."""
    rng, cast = w.rng, w.cast
    handler = w.handler()
    if not w.step(handler, "accept", w.within(0.05, 0.2)) or plan.hold:
        return
    at = w.cal.add_working_hours(aware(w.case.deadline_at), plan.late_hours) if plan.late_hours else w.within(0.2, 0.5)
    if not w.step(handler, "handle", at, note="已处置 (模拟)"):
        return
    if not plan.scripted and rng.random() < REWORK and not (
            w.step(cast.worker, "rework", w.within(0.1, 0.3), note="核查未通过：问题仍在 (模拟)")
            and w.step(handler, "accept", w.within(0.05, 0.2))
            and w.step(handler, "handle", w.within(0.2, 0.5), note="返工完成 (模拟)")):
        return
    if not _verify_and_close(w, plan):
        return
    if plan.rating is None and rng.random() >= RATED:
        return
    rating = plan.rating or rng.choices([r for r, _ in RATINGS], [p for _, p in RATINGS])[0]
    if not w.step(cast.sup, "rate", w.after(1, 12), rating=rating, note="回访满意度 (模拟)") or rating > 2:
        return
    # 不满意: the rating reopened the case (再接单): handled again, checked, closed and asked again
    handler = w.handler()
    if (w.step(handler, "accept", w.within(0.05, 0.2)) and w.step(handler, "handle", w.within(0.2, 0.5),
                                                                   note="再次处置 (模拟)")
            and _verify_and_close(w, plan)):
        w.step(cast.sup, "rate", w.after(1, 12), rating=rng.choice([4, 5]), note="再次回访：满意 (模拟)")


def _verify_and_close(w: Walk, plan: Plan) -> bool:
    late = plan.late_hours is not None
    closer = w.cast.worker if w.case.level == "grid" else w.cast.sup
    return (w.step(w.cast.worker, "verify", w.after(0.5, 3) if late else w.within(0.2, 0.5))
            and w.step(closer, "close", w.after(0.2, 2) if late else w.within(0.1, 0.5)))
