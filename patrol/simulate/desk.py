"""SIMULATED cases waiting in every queue of the case desk at the end of the simulated month, so that each 社区, 街道
and department of the demo has work to open: 待立案, 待派遣, 被退回, 待结案, 待评价, 升级到社区, 即将超期, 已超期,
升级到街道, 吹哨 (one department reported in, one late), 督办, 待接单, 处置中, 返工.

Every case goes through the real case loop (:func:`patrol.cases.service.transition` and
:func:`patrol.cases.service.task_action`) with simulated times, is labelled ``simulated`` and says "(模拟)", like the
rest of :mod:`patrol.simulate.month`.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Callable
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from patrol.cases import service as svc
from patrol.cases.worktime import calendar
from patrol.core.auth import Actor, actor_for
from patrol.core.errors import GridPatrolError
from patrol.core.frames import read_frame
from patrol.core.models import Building, Case, CaseTask, Category, Community, Grid, User
from patrol.core.settings import Settings

#: the queues filled in each community, in the order they are made (see :func:`_recipes`)
COMMUNITY_QUEUES = ("reported", "registered", "returned", "verified", "unrated", "escalated_community",
                    "near_deadline", "overdue", "dispatched", "accepted", "reworked")
#: the queues filled once per subdistrict (街道)
SUBDISTRICT_QUEUES = ("escalated_department", "whistle", "urged")
#: the queues whose case is due today or overdue (counted in the grid's 按期结案率 as 应结未结)
DUE_NOW = ("near_deadline", "overdue")
#: the category of the desk cases: 楼道堆放杂物, a grid-level item (so it can be escalated twice), 24 working hours
DESK_CATEGORY = "C0102"


class _Desk:
    """What a recipe needs: the session, the settings, the clock and the actors of one community."""

    def __init__(self, s: Session, settings: Settings, now: dt.datetime, worker: Actor, sup: Actor,
                 street: Actor | None, unit: int, unit2: int, dept: Callable[[int], Actor]) -> None:
        self.s, self.settings, self.now = s, settings, now
        self.worker, self.sup, self.street, self.unit, self.unit2, self.dept = (worker, sup, street, unit, unit2,
                                                                                 dept)
        self.cal = calendar(settings)

    def act(self, actor: Actor, case: Case, action: str, at: dt.datetime, **kw) -> None:
        svc.transition(self.s, actor, self.settings, case.id, action, now=at, **kw)

    def task(self, actor: Actor, case: Case, unit: int, action: str, at: dt.datetime, **kw) -> None:
        task = self.s.scalars(select(CaseTask).where(CaseTask.case_id == case.id, CaseTask.unit_id == unit)).one()
        svc.task_action(self.s, actor, self.settings, case.id, task.id, action, now=at, **kw)

    def working_hours_ago(self, hours: float) -> dt.datetime:
        """The moment ``hours`` working hours before now (searched back by quarter hours)."""
        t = self.now
        for _ in range(4 * 24 * 30):
            if self.cal.working_hours_between(t, self.now) >= hours:
                return t
            t -= dt.timedelta(minutes=15)
        return t


def desk_now(today: dt.date, tz: ZoneInfo) -> dt.datetime:
    """The end of the simulated month for the desk: now when ``today`` is today, else noon of ``today``."""
    real = dt.datetime.now(tz)
    return real if real.date() == today else dt.datetime.combine(today, dt.time(12, 0), tzinfo=tz)


#: the steps of a desk case follow each other by ten minutes, so a case reported a few hours ago is still well
#: within its deadline when the demo is opened
_M = dt.timedelta(minutes=10)


def _registered(d: _Desk, c: Case, t: dt.datetime) -> None:
    d.act(d.sup, c, "register", t + _M)


def _dispatched(d: _Desk, c: Case, t: dt.datetime) -> None:
    _registered(d, c, t)
    d.act(d.sup, c, "dispatch", t + 2 * _M, unit_id=d.unit)


def _accepted(d: _Desk, c: Case, t: dt.datetime) -> None:
    _dispatched(d, c, t)
    d.act(d.dept(d.unit), c, "accept", t + 3 * _M)


def _handled(d: _Desk, c: Case, t: dt.datetime) -> None:
    _accepted(d, c, t)
    d.act(d.dept(d.unit), c, "handle", t + 4 * _M, note="已处置 (模拟)")


def _verified(d: _Desk, c: Case, t: dt.datetime) -> None:
    _handled(d, c, t)
    d.act(d.worker, c, "verify", t + 5 * _M)


def _unrated(d: _Desk, c: Case, t: dt.datetime) -> None:
    _verified(d, c, t)
    d.act(d.sup, c, "close", t + 6 * _M)


def _returned(d: _Desk, c: Case, t: dt.datetime) -> None:
    _dispatched(d, c, t)
    d.act(d.dept(d.unit), c, "return", t + 3 * _M, note="不属于本单位职责 (模拟)")


def _reworked(d: _Desk, c: Case, t: dt.datetime) -> None:
    _handled(d, c, t)
    d.act(d.worker, c, "rework", t + 5 * _M, note="核查未通过：问题仍在 (模拟)")


def _escalated_community(d: _Desk, c: Case, t: dt.datetime) -> None:
    d.act(d.sup, c, "escalate", t + _M, note="网格难以解决，提交社区 (模拟)")


def _escalated_department(d: _Desk, c: Case, t: dt.datetime) -> None:
    while c.level != "department":
        d.act(d.sup, c, "escalate", t + _M, note="社区难以解决，提请街道协调 (模拟)")


def _near_deadline(d: _Desk, c: Case, t: dt.datetime) -> None:  # about 1 working hour of 10 left now
    _registered(d, c, t)
    d.act(d.sup, c, "dispatch", t + 2 * _M, unit_id=d.unit, hours=10)


def _overdue(d: _Desk, c: Case, t: dt.datetime) -> None:  # at the top level: the watcher cannot escalate it
    _escalated_department(d, c, t)
    d.act(d.sup, c, "dispatch", t + 2 * _M, unit_id=d.unit, hours=2)


def _whistle(d: _Desk, c: Case, t: dt.datetime) -> None:  # one department reported in, the other is late
    _registered(d, c, t)
    d.act(d.street or d.sup, c, "whistle", t + 2 * _M, units=[d.unit, d.unit2], report_in_hours=2,
          note="吹哨报到：请两部门联合处置 (模拟)")
    d.task(d.dept(d.unit), c, d.unit, "report_in", t + 3 * _M, note="已到场 (模拟)")


def _urged(d: _Desk, c: Case, t: dt.datetime) -> None:
    _dispatched(d, c, t)
    if d.street is not None:
        d.act(d.street, c, "urge", t + 3 * _M, note="请加快办理，今日内反馈 (模拟)", hours=16)


#: one way to each queue from a case reported at ``t``
RECIPES: dict[str, Callable[[_Desk, Case, dt.datetime], None]] = {
    "reported": lambda d, c, t: None, "registered": _registered, "returned": _returned, "verified": _verified,
    "unrated": _unrated, "escalated_community": _escalated_community, "near_deadline": _near_deadline,
    "overdue": _overdue, "dispatched": _dispatched, "accepted": _accepted, "reworked": _reworked,
    "escalated_department": _escalated_department, "whistle": _whistle, "urged": _urged}


def fill_desk(s: Session, rng: random.Random, settings: Settings, people: dict, today: dt.date, tz: ZoneInfo
              ) -> dict[str, int]:
    """Cases in every desk queue of every community (and the 街道 queues once per subdistrict); returns how many
    were made per queue."""
    if s.get(Category, DESK_CATEGORY) is None:
        return {}
    now = desk_now(today, tz)
    units = [u for k, u in people["units"].items() if not k.startswith("community_office:")]
    if len(units) < 2:
        return {}
    depts = {u: actor_for(s, s.scalars(select(User).where(User.unit_id == u).order_by(User.id)).first())
             for u in people["units"].values()}
    streets = {sub: actor_for(s, s.get(User, uid)) for sub, uid in people.get("streets", {}).items()}
    places = _places(s)
    closed = dict(s.execute(select(Case.grid_id, func.count()).where(Case.status == "closed")
                            .group_by(Case.grid_id)).all())
    made: dict[str, int] = {}
    seen_subdistricts: set[int] = set()
    for n, com in enumerate(s.scalars(select(Community).order_by(Community.id)).all()):
        spots = [(g, p) for g, p in places.get(com.id, []) if people["workers"].get(g) is not None]
        sup_id = people["sups"].get(com.id)
        if not spots or sup_id is None:
            continue
        queues = list(COMMUNITY_QUEUES)
        if com.subdistrict_id not in seen_subdistricts:
            seen_subdistricts.add(com.subdistrict_id)
            queues += SUBDISTRICT_QUEUES
        busiest = max(spots, key=lambda spot: closed.get(spot[0], 0))
        for queue in queues:  # each in one of the community's grids, so that no grid holds the whole desk
            # a case due now goes to the community's busiest grid, where one late case among many is one among many
            grid, point = busiest if queue in DUE_NOW else rng.choice(spots)
            desk = _Desk(s, settings, now, actor_for(s, s.get(User, people["workers"][grid])),
                         actor_for(s, s.get(User, sup_id)), streets.get(com.subdistrict_id), units[n % len(units)],
                         units[(n + 1) % len(units)], lambda u: depts[u])
            if _make(desk, rng, queue, RECIPES[queue], point):
                made[queue] = made.get(queue, 0) + 1
    return made


def _places(s: Session) -> dict[int, list[tuple[int, tuple[float, float]]]]:
    """Per community: each of its grids with a point inside a building of that grid."""
    b = read_frame(s, [Building.id, Building.grid_id], Building.geom, where=[Building.grid_id.is_not(None)])
    com_of = dict(s.execute(select(Grid.id, Grid.community_id)).all())
    seen: set[int] = set()
    out: dict[int, list[tuple[int, tuple[float, float]]]] = {}
    for gid, geom in zip(b["grid_id"], b.geometry, strict=True):
        com = com_of.get(int(gid))
        if com is not None and int(gid) not in seen:
            seen.add(int(gid))
            p = geom.representative_point()
            out.setdefault(com, []).append((int(gid), (p.x, p.y)))
    return out


def _make(d: _Desk, rng: random.Random, queue: str, recipe: Callable[[_Desk, Case, dt.datetime], None],
          point: tuple[float, float]) -> bool:
    """Report a case for ``queue`` and walk it there; False (and nothing left half-way) when the loop refused."""
    if queue == "near_deadline":
        t = d.working_hours_ago(9)
    elif queue == "overdue":
        t = d.now - dt.timedelta(days=10)
    elif queue == "whistle":  # the report-in time (2 working hours) has passed for the department still away
        t = d.working_hours_ago(4)
    else:
        t = d.now - dt.timedelta(hours=rng.uniform(2, 5))
    nested = d.s.begin_nested()
    try:
        case = svc.create_case(d.s, d.worker, d.settings, client_id=str(uuid.UUID(int=rng.getrandbits(128),
                                                                                   version=4)),
                               category=DESK_CATEGORY, lon=point[0], lat=point[1],
                               description=f"楼道堆放杂物（{LABELS[queue]}）(模拟)", now=t).case
        case.simulated = True
        recipe(d, case, t)
    except GridPatrolError:
        nested.rollback()
        return False
    nested.commit()
    return True


LABELS = {"reported": "待立案", "registered": "待派遣", "returned": "部门退回", "verified": "待结案",
          "unrated": "待回访", "escalated_community": "升级到社区", "near_deadline": "即将超期", "overdue": "已超期",
          "dispatched": "待接单", "accepted": "处置中", "reworked": "返工", "escalated_department": "提请街道协调",
          "whistle": "吹哨报到", "urged": "街道督办"}
