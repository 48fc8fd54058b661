"""The demo's simulated month reads like a functioning 社区 (issue 21, part 7), on both databases: most grids green or
yellow, a few red for a reason (the rain story), an overdue share of the open cases in a believable range, cases
in every desk queue, and a planner who opens /planner. The figures asserted are the ones README.md's
demo section states. The same month is checked for its labels and its loop (tests/api/test_simulate.py's
assert_month_labelled_and_in_the_loop: one month built for the two files)."""

from __future__ import annotations

import collections
import datetime as dt
import re
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import create_app
from api.cli.server import startup_lines
from patrol.analytics import kpis as K
from patrol.analytics import responsiveness as R
from patrol.analytics.service import thresholds
from patrol.core.db import make_engine, session_factory
from patrol.core.models import Case, Grid, User
from patrol.core.settings import Settings
from patrol.simulate.month import DEMO_PASSWORD, simulate_month
from patrol.simulate.stories import LATE, STILL_OPEN
from tests.api.test_simulate import assert_month_labelled_and_in_the_loop

#: bounds stated in README.md (the demo): red grids (of all grids) and overdue cases (of the open ones)
RED_SHARE_MAX = 0.15
OVERDUE_SHARE = (0.03, 0.10)


def test_the_simulated_month_reads_like_a_functioning_community(city_url):
    engine = make_engine(city_url)
    factory = session_factory(engine)
    settings = Settings(database_url=city_url, timezone="Asia/Shanghai", tiles=None)
    tz = ZoneInfo(settings.timezone)
    lines = list(simulate_month(factory, settings, cases=300))
    assert any(line.startswith("simulated rain: grid") for line in lines), lines
    assert lines[0].startswith("simulated users") and "GPS fixes" in lines[1]
    assert list(simulate_month(factory, settings)) == ["simulated month already present"]
    now = dt.datetime.now(tz)
    today = now.date()
    with factory() as s:
        # the month ends today: cases were reported and steps taken in the last day, none after now
        last = max(c.reported_at for c in s.scalars(select(Case)))
        assert now - dt.timedelta(days=4) < last <= now
        # the dashboard's grid table over the simulated month (the last 30 days)
        df = K.kpis(s, by="grid", start=today - dt.timedelta(days=30), end=today + dt.timedelta(days=1), now=now,
                    settings=settings, thresholds=thresholds(settings))
        grids = df[df["key"].notna()]
        colours = collections.Counter(grids["warning"])
        n = len(grids)
        assert n == len(s.scalars(select(Grid.id)).all())
        assert 0 < colours["red"] <= RED_SHARE_MAX * n, colours
        assert colours["green"] + colours["yellow"] >= 0.75 * n, colours
        # red for a reason: the flooded grid, on its 按期结案率
        flooded = {c.grid_id for c in s.scalars(select(Case).where(Case.description.like("%暴雨后%")))}
        assert len(flooded) == 1 and len(s.scalars(select(Case).where(Case.description.like("%暴雨后%"))).all()) \
            == LATE + STILL_OPEN
        red = grids[grids["warning"] == "red"]
        # (another grid with a handful of cases can turn red on one rework or one 3-of-5 rating: min_den is 1)
        assert flooded <= set(red["key"]), red
        assert "on_time_rate" in red[red["key"].isin(flooded)]["warning_kpis"].iloc[0], red
        # the city as a whole: figures near the seeds' (96–100 % satisfied), an overdue share of the open cases
        city = K.kpis(s, by=None, start=today - dt.timedelta(days=30), end=today + dt.timedelta(days=1), now=now,
                      settings=settings).iloc[0]
        assert city["satisfaction_rate"] >= 0.94 and city["on_time_rate"] >= 0.9, city
        share = city["overdue_now"] / city["open_now"]
        assert OVERDUE_SHARE[0] <= share <= OVERDUE_SHARE[1], (city["overdue_now"], city["open_now"])
        # residents' orders (H5 and 12345, labelled), answered and rated: the 接诉即办 panel has figures
        hotline = s.scalars(select(Case).where(Case.channel == "12345")).all()
        assert hotline and all(c.simulated and "(模拟)" in c.description and c.source == "12345"
                               and re.fullmatch(r"GD\d{13}", c.source_ref or "") for c in hotline)
        assert s.scalars(select(Case.id).where(Case.channel == "resident")).first() is not None
        rates = R.responsiveness(s, by=None, start=today - dt.timedelta(days=30), end=today + dt.timedelta(days=1),
                                 now=now, settings=settings).iloc[0]
        assert rates["orders"] >= 30 and rates["rated"] > 0 and rates["answered"] > 0, rates
        assert 0.75 <= rates["response_rate"] < 1 and rates["rated_satisfaction_rate"] >= 0.9, rates
        assert rates["satisfied_order_rate"] < rates["rated_satisfaction_rate"]  # the recent ones are not rated yet
        assert_month_labelled_and_in_the_loop(s, now)  # every desk queue has cases, too
        planner = s.scalars(select(User).where(User.role == "planner")).one()
        assert planner.username == "planner" and planner.simulated and "(模拟)" in planner.display_name
        names = [u.display_name for u in s.scalars(select(User).where(User.role == "grid_worker"))]
        assert len(set(names)) == len(names)  # generated names, none given twice
    engine.dispose()
    # the server's start-up lines name the pages and the demo logins, one per role, with the demo password
    lines = startup_lines(settings, "127.0.0.1", 8000)
    assert lines[0] == "gridpatrol serves http://127.0.0.1:8000/"
    assert any(f"password {DEMO_PASSWORD}" in line for line in lines)
    shown = {line.split()[0]: line.split()[1] for line in lines if line.startswith("  ") and "→" in line}
    assert shown["admin"] == "admin" and shown["planner"] == "planner" and shown["sup001"] == "supervisor"
    assert {"subdistrict", "department", "grid_worker"} <= set(shown.values())
    app = create_app(settings)
    with TestClient(app) as client:
        r = client.post("/api/v1/auth/token", data={"username": "planner", "password": DEMO_PASSWORD})
        assert r.status_code == 200, r.text
        page = client.get("/planner", headers={"Authorization": f"Bearer {r.json()['access_token']}"},
                          follow_redirects=False)
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    app.state.engine.dispose()
