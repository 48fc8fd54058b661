"""SIMULATED residents' orders for the demo month: requests from the H5 page (扫码上报, channel ``resident``) and
12345 hotline work orders (channel ``12345``, each with a work-order number such as ``GD2026120500123`` as its
``source_ref``), so the 接诉即办 panel and the channel filters have something to show.

They go through the real case loop (:func:`patrol.simulate.loop.walk`) like the grid workers' cases, with one
difference: the desk answers a resident's order (registers or rejects it) within a few working hours of receipt —
about 90 % within the 2-hour 响应 window, the rest later the same or the next day. A resident rates about 97 % of
the closed ones (the loop's shares: 99 % satisfied) and says whether it was solved (``resident_solved``: yes after a
5, mostly yes after a 4, less often after a 3, no after a low rating: :data:`SOLVED`). Their phone numbers use the
unissued prefix 100.

The grids of the demo's stories (the flooded one, the disputed one) are left out, so their colours stay what the
stories make them. Labelled like the rest: ``simulated`` and "(模拟)" in the description.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from patrol.cases import service as svc
from patrol.cases.channels import HOTLINE, RESIDENT
from patrol.cases.worktime import calendar
from patrol.core.auth import SYSTEM
from patrol.core.errors import GridPatrolError
from patrol.core.frames import read_frame
from patrol.core.models import Building, Case, Category
from patrol.core.settings import Settings
from patrol.simulate.loop import Cast, Plan, Walk, walk

#: what residents ask about (the categories of the demo), with weights
CATEGORIES = {"C0103": 6, "C0101": 4, "C0104": 5, "B0109": 4, "C0102": 3, "E0101": 2}
#: the share of 12345 orders among the residents' orders (the rest came through the H5 page)
HOTLINE_SHARE = 0.6
#: working hours from receipt to the desk's first answer: in the window (≤ 2 h) mostly, else later
IN_TIME, LATE = (0.1, 1.8), (2.5, 9.0)
IN_TIME_SHARE = 0.9
#: the share of orders the resident calls solved, by her rating (Beijing reports 解决率 in the low 90s)
SOLVED = {5: 1.0, 4: 0.85, 3: 0.4}


def order_number(at: dt.datetime, seq: int, tz: ZoneInfo) -> str:
    """A 12345 work-order number as the platforms print them: GD + the local day + a 5-digit sequence."""
    return f"GD{at.astimezone(tz):%Y%m%d}{seq:05d}"


def resident_orders(s: Session, rng: random.Random, settings: Settings, crew: dict[int, Cast], today: dt.date,
                    days: int, n: int, end: dt.datetime, *, avoid: set[int]) -> str:
    """``n`` residents' orders over the ``days`` up to ``end`` in grids not in ``avoid``; a progress line."""
    tz = ZoneInfo(settings.timezone)
    codes = [c for c in CATEGORIES if s.get(Category, c) is not None]
    b = read_frame(s, [Building.id, Building.grid_id, Building.label], Building.geom,
                   where=[Building.grid_id.is_not(None)])
    b = b[b["grid_id"].isin([g for g in crew if g not in avoid])].reset_index(drop=True)
    if b.empty or not codes:
        return "simulated residents' orders: no grids or categories"
    pts = b.geometry.representative_point()
    cal = calendar(settings)
    made = {HOTLINE: 0, RESIDENT: 0}
    seq = 0
    for _ in range(n):
        i = rng.randrange(len(b))
        day = today - dt.timedelta(days=rng.randrange(0, days))
        at = dt.datetime.combine(day, dt.time(rng.randrange(8, 20), rng.randrange(60)), tzinfo=tz)
        if at >= end:
            continue
        channel = HOTLINE if rng.random() < HOTLINE_SHARE else RESIDENT
        code = rng.choices(codes, [CATEGORIES[c] for c in codes])[0]
        name = s.get(Category, code).name_zh
        where = "12345工单" if channel == HOTLINE else "居民扫码上报"
        try:
            case = svc.create_case(s, SYSTEM, settings, client_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                                   category=code, lon=pts.iloc[i].x, lat=pts.iloc[i].y, channel=channel,
                                   description=f"{name}（{where}）(模拟)", address=b["label"].iloc[i],
                                   contact={"phone": f"100{rng.randrange(10**8):08d}"}, now=at).case
        except GridPatrolError:
            continue
        case.simulated = True
        if channel == HOTLINE:
            seq += 1
            case.source, case.source_ref = HOTLINE, order_number(at, seq, tz)
        cast = crew[int(b["grid_id"].iloc[i])]
        respond = IN_TIME if rng.random() < IN_TIME_SHARE else LATE
        walk(Walk(s, settings, cal, case, crew.get(case.grid_id or -1, cast), rng, end),
             Plan(respond_hours=respond))
        if case.rating is not None:  # 解决了吗: a 5 yes; a 4 mostly (satisfied with the answer, not all solved)
            case.resident_solved = rng.random() < SOLVED.get(case.rating, 0.0)
        made[channel] += 1
    s.flush()
    rated = s.scalars(select(Case.rating).where(Case.channel.in_((HOTLINE, RESIDENT)), Case.simulated,
                                                 Case.rating.is_not(None))).all()
    return (f"simulated residents' orders: {made[HOTLINE]} 12345 work orders, {made[RESIDENT]} from the H5 page; "
            f"{len(rated)} rated")
