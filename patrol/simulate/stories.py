"""SIMULATED events that give the demo's month a reason for its red: a 社区 where everything is green teaches as
little as one where everything is red.

:func:`rain_backlog`: a week of heavy rain (暴雨) a few working days ago flooded the low streets of one grid; its
worker reported 道路积水 and 雨水井盖 cases, which are the drainage company's (department level, 2 and 4 working
hours), and the company, busy all over the city, handled most of them late and two not yet. The grid's 按期结案率
falls below the red threshold and two of its cases are overdue now; everything else in the grid runs as usual.

:func:`parking_dispute`: in another grid, residents asked the 社区 to remove private parking locks (地锁/私设障碍,
community level) in the busiest grid; the locks were removed in time, but the owners and their neighbours
disagree, and most of the residents asked rated the handling 3 of 5 (基本满意): the grid's 满意率 is orange.

Labelled like the rest: ``simulated`` and "(模拟)" in the description.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from patrol.cases import service as svc
from patrol.cases.worktime import calendar
from patrol.core.errors import GridPatrolError
from patrol.core.frames import read_frame
from patrol.core.models import Building, Case, Category, Grid
from patrol.core.settings import Settings
from patrol.simulate.loop import Cast, Plan, Walk, walk

#: 道路积水 and 雨水井盖: both the drainage company's (patrol/data/responsibility.csv)
RAIN_CATEGORIES = ("E0401", "B0103")
#: cases of the flooded grid: handled late, and still in the company's hands (overdue now)
LATE, STILL_OPEN = 6, 2
#: 地锁/私设障碍占道, and how many locks were removed
DISPUTE_CATEGORY, DISPUTES = "C0104", 6


def rainy_days(settings: Settings, today: dt.date) -> list[dt.date]:
    """The five working days of rain, the last of them four working days before ``today``."""
    cal = calendar(settings)
    days: list[dt.date] = []
    day = today
    skipped = 0
    while len(days) < 5:
        day -= dt.timedelta(days=1)
        if not cal.is_working_day(day):
            continue
        skipped += 1
        if skipped > 4:
            days.append(day)
    return sorted(days)


def _report(s: Session, rng: random.Random, settings: Settings, cast: Cast, gid: int, category: str,
            at: dt.datetime, what: str) -> Case | None:
    """A case of ``category`` reported by the grid's worker at ``at`` in a building of grid ``gid``."""
    b = read_frame(s, [Building.id], Building.geom, where=[Building.grid_id == gid])
    if b.empty:
        return None
    p = b.geometry.representative_point().iloc[rng.randrange(len(b))]
    cat = s.get(Category, category)
    try:
        case = svc.create_case(s, cast.worker, settings, client_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                               category=category, lon=p.x, lat=p.y, description=f"{cat.name_zh}（{what}）(模拟)",
                               now=at).case
    except GridPatrolError:
        return None
    case.simulated = True
    return case


def rain_backlog(s: Session, rng: random.Random, settings: Settings, crew: dict[int, Cast], today: dt.date,
                 end: dt.datetime) -> str:
    """The flooded grid's cases (see the module docstring); a progress line naming the grid."""
    cats = [c for c in RAIN_CATEGORIES if s.get(Category, c) is not None]
    if not cats or not crew:
        return "simulated rain: no rain categories or no grid workers"
    # the quietest grid: six late closures among few make it red (among many on-time ones only orange)
    closed = dict(s.execute(select(Case.grid_id, func.count()).where(Case.closed_at.is_not(None))
                            .group_by(Case.grid_id)).all())
    gid = min(sorted(crew), key=lambda g: closed.get(g, 0))
    cal = calendar(settings)
    days = rainy_days(settings, today)
    late = still = 0
    for k in range(LATE + STILL_OPEN):
        t = cal.add_working_hours(dt.datetime.combine(days[k % len(days)], dt.time(8, 30), tzinfo=cal.zone),
                                  rng.uniform(0.2, 6))
        case = _report(s, rng, settings, crew[gid], gid, cats[k % len(cats)], t, "暴雨后")
        if case is None:
            continue
        hold = k >= LATE
        walk(Walk(s, settings, cal, case, crew.get(case.grid_id or -1, crew[gid]), rng, end),
             Plan(hold=hold, late_hours=None if hold else rng.uniform(4, 14)))
        late += not hold and case.status == "closed"
        still += hold and case.status != "closed"
    code = s.scalar(select(Grid.code).where(Grid.id == gid))
    return (f"simulated rain: grid {code} flooded for a week ({days[0]:%m-%d}–{days[-1]:%m-%d}); the drainage "
            f"company handled {late} of its cases late and has {still} still open (overdue)")


def parking_dispute(s: Session, rng: random.Random, settings: Settings, crew: dict[int, Cast], today: dt.date,
                    end: dt.datetime, *, avoid: set[int]) -> str:
    """The disputed lock removals (see the module docstring) in the busiest grid not in ``avoid``, with as many
    3-of-5 ratings as bring its 满意率 of the month just below 80 % (orange); a progress line."""
    rated = {gid: (n, good or 0) for gid, n, good in s.execute(
        select(Case.grid_id, func.count(), func.sum(case((Case.rating >= 4, 1), else_=0)))
        .where(Case.rating.is_not(None)).group_by(Case.grid_id))}
    grids = sorted(set(crew) - avoid, key=lambda g: (-rated.get(g, (0, 0))[0], g))
    if s.get(Category, DISPUTE_CATEGORY) is None or not grids:
        return "simulated parking dispute: no category or no grid"
    gid = grids[0]
    n, good = rated.get(gid, (0, 0))
    low = next((k for k in range(DISPUTES + 1) if (good + DISPUTES - k) / (n + DISPUTES) < 0.8), DISPUTES)
    ratings = [3] * low + [rng.choice([4, 5]) for _ in range(DISPUTES - low)]
    rng.shuffle(ratings)
    cal = calendar(settings)
    done = 0
    for k, rating in enumerate(ratings):  # 10 to 25 days ago: handled, checked, closed and rated by now
        day = today - dt.timedelta(days=10 + 3 * k)
        t = cal.add_working_hours(dt.datetime.combine(day, dt.time(8, 30), tzinfo=cal.zone), rng.uniform(0.5, 4))
        made = _report(s, rng, settings, crew[gid], gid, DISPUTE_CATEGORY, t, "邻里对地锁拆除有争议")
        if made is None:
            continue
        walk(Walk(s, settings, cal, made, crew.get(made.grid_id or -1, crew[gid]), rng, end), Plan(rating=rating))
        done += made.rating is not None
    code = s.scalar(select(Grid.code).where(Grid.id == gid))
    return (f"simulated parking dispute: grid {code}, {DISPUTES} parking locks removed, {done} rated by the "
            f"residents, {low} of them 3 of 5 (基本满意)")
