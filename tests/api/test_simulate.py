"""The demo's simulated month: labelled, through the real case loop, patrols along real streets (both databases)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from geo.tracks import flag_fixes
from patrol.db import make_engine, session_factory
from patrol.lifecycle import ACTIONS
from patrol.models import Case, CaseEvent, GpsFix, Patrol, User
from patrol.settings import Settings
from patrol.simulate import simulate_month


def test_simulated_month_is_labelled_and_follows_the_loop(city_url):
    engine = make_engine(city_url)
    factory = session_factory(engine)
    lines = list(simulate_month(factory, Settings(database_url=city_url), days=7, cases=70,
                                today=dt.date(2026, 11, 23)))
    assert lines[0].startswith("simulated users") and "GPS fixes" in lines[1]
    assert list(simulate_month(factory, Settings(database_url=city_url))) == ["simulated month already present"]
    with factory() as s:
        users = s.scalars(select(User)).all()
        assert users and all(u.simulated and ("模拟" in u.display_name) for u in users)
        cases = s.scalars(select(Case)).all()
        assert len(cases) >= 50 and all(c.simulated and "(模拟)" in c.description for c in cases)
        states = {c.status for c in cases}
        assert {"closed", "dispatched"} <= states and len(states) >= 5
        actions = set(s.scalars(select(CaseEvent.action)))
        assert actions <= set(ACTIONS) | {"report", "reopen"} and {"register", "dispatch", "close"} <= actions
        p = s.scalars(select(Patrol).order_by(Patrol.id)).first()
        fixes = s.execute(select(GpsFix.time, func.ST_X(GpsFix.geom), func.ST_Y(GpsFix.geom))
                          .where(GpsFix.patrol_id == p.id).order_by(GpsFix.time)).all()
        times = [t if t.tzinfo else t.replace(tzinfo=dt.UTC) for t, _, _ in fixes]
        flags = flag_fixes(times, [f[1] for f in fixes], [f[2] for f in fixes], [None] * len(fixes),
                           now=dt.datetime(2026, 11, 23, tzinfo=dt.UTC))
        assert len(fixes) > 10 and not any(flags)  # a walk at 1.2 m/s, no jumps
    engine.dispose()
