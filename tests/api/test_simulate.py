"""The demo's simulated month: labelled, through the real case loop, patrols along real streets (both databases)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from geo.tracks import flag_fixes
from patrol.cases.lifecycle import ACTIONS
from patrol.cases.service import TASK_ACTIONS
from patrol.cases.worktime import calendar
from patrol.core.db import make_engine, session_factory
from patrol.core.models import (
    Case,
    CaseEvent,
    CaseTask,
    Community,
    GpsFix,
    Patrol,
    ResponsibleUnit,
    Subdistrict,
    User,
)
from patrol.core.settings import Settings
from patrol.simulate.month import simulate_month


def assert_desk_queues(s, now: dt.datetime) -> None:
    """Cases wait in every queue of the desk at ``now`` (the end of the simulated month)."""
    open_ = ["reported", "registered", "dispatched", "accepted", "handled", "verified"]
    communities = set(s.scalars(select(Community.id)))
    for status in ("reported", "registered", "verified"):
        assert set(s.scalars(select(Case.community_id).where(Case.status == status))) == communities, status
    returned = select(CaseEvent.case_id).where(CaseEvent.action == "return")
    assert set(s.scalars(select(Case.community_id).where(Case.status == "registered", Case.id.in_(returned)))) \
        == communities
    unrated = select(Case.community_id).where(Case.status == "closed", Case.rating.is_(None))
    assert set(s.scalars(unrated)) == communities
    escalated = select(Case.community_id).where(Case.level == "community", Case.escalations > 0,
                                                Case.status.in_(open_))
    assert set(s.scalars(escalated)) == communities
    deadlines = [(c.deadline_at if c.deadline_at.tzinfo else c.deadline_at.replace(tzinfo=dt.UTC))
                 for c in s.scalars(select(Case).where(Case.status.in_(["dispatched", "accepted"]),
                                                       Case.deadline_at.is_not(None)))]
    assert any(d < now for d in deadlines), "overdue"
    cal = calendar(Settings())  # near: less than two working hours left (on a Saturday that is Monday's)
    assert any(now < d and cal.working_hours_between(now, d) < 2 for d in deadlines), "near the deadline"
    assert s.scalar(select(func.count()).select_from(Case).where(Case.level == "department",
                                                                 Case.status == "registered")) > 0
    tasks = s.scalars(select(CaseTask)).all()
    assert {"accepted", "dispatched"} <= {t.status for t in tasks}  # reported in, and still away (late)
    assert any(t.status == "dispatched" and t.report_in_by is not None and
               (t.report_in_by if t.report_in_by.tzinfo else t.report_in_by.replace(tzinfo=dt.UTC)) < now
               for t in tasks)
    urged = select(CaseEvent.case_id).where(CaseEvent.action == "urge")
    assert s.scalar(select(func.count()).select_from(Case).where(Case.id.in_(urged), Case.status.in_(open_)))
    assert s.scalar(select(func.count()).select_from(Case).where(Case.status == "dispatched", Case.rework_count > 0))
    assert s.scalar(select(func.count()).select_from(Case).where(Case.status == "accepted", Case.unit_id.is_not(None)))


def assert_month_labelled_and_in_the_loop(s, now: dt.datetime) -> None:
    """A simulated month (tests/api/test_demo_month.py builds one, on both databases, and calls this: one month
    for the two files) is labelled simulated and follows the loop: every user and case labelled, the loop's own
    actions only, every kind of step taken, cases waiting in every queue of the desk at ``now``, a 街道 user per
    subdistrict, every unit staffed, walks without jumps."""
    users = s.scalars(select(User)).all()
    assert users and all(u.simulated and ("模拟" in u.display_name) for u in users)
    cases = s.scalars(select(Case)).all()
    assert len(cases) >= 50 and all(c.simulated and "(模拟)" in c.description for c in cases)
    states = {c.status for c in cases}
    assert {"closed", "dispatched"} <= states and len(states) >= 5
    actions = set(s.scalars(select(CaseEvent.action)))
    task_actions = {f"task_{a}" for a in TASK_ACTIONS}  # a whistled department's report-in (吹哨报到)
    assert actions <= set(ACTIONS) | {"report", "reopen"} | task_actions
    assert {"register", "dispatch", "close", "urge", "whistle", "return", "rework", "task_report_in"} <= actions
    # the case desk has work in every queue: each community's, the 街道's and the departments'
    assert_desk_queues(s, now)
    streets = s.scalars(select(User).where(User.role == "subdistrict")).all()
    assert len(streets) == s.scalar(select(func.count()).select_from(Subdistrict))
    assert all(u.username.startswith("street") and "街道" in u.display_name for u in streets)
    staffed = set(s.scalars(select(User.unit_id).where(User.role == "department")))
    assert staffed == set(s.scalars(select(ResponsibleUnit.id)))
    p = s.scalars(select(Patrol).order_by(Patrol.id)).first()
    fixes = s.execute(select(GpsFix.time, func.ST_X(GpsFix.geom), func.ST_Y(GpsFix.geom))
                      .where(GpsFix.patrol_id == p.id).order_by(GpsFix.time)).all()
    times = [t if t.tzinfo else t.replace(tzinfo=dt.UTC) for t, _, _ in fixes]
    flags = flag_fixes(times, [f[1] for f in fixes], [f[2] for f in fixes], [None] * len(fixes), now=now)
    assert len(fixes) > 10 and not any(flags)  # a walk at 1.2 m/s, no jumps


def test_simulated_surveys_are_labelled_valid_and_open_rectification_cases(city_url):
    from patrol.core.models import Checklist, Household, Inspection, InspectionFinding, Resident, Shop
    from patrol.simulate.surveys import simulate_surveys
    from patrol.surveys.checklists import definition_of, validate_answers
    from patrol.surveys.residents import mask_phone

    engine = make_engine(city_url)
    factory = session_factory(engine)
    settings = Settings(database_url=city_url)
    today = dt.date(2026, 11, 23)
    list(simulate_month(factory, settings, days=2, cases=5, today=today))  # the simulated workers
    lines = list(simulate_surveys(factory, settings, today=today, buildings_per_grid=2))
    assert lines[0].startswith("checklists: 4") and any("simulated inspections" in x for x in lines)
    assert list(simulate_surveys(factory, settings)) == ["simulated field surveys already present"]
    with factory() as s:
        shops = s.scalars(select(Shop)).all()
        assert shops and all(x.simulated and "(模拟)" in x.name for x in shops)
        people = s.scalars(select(Resident)).all()
        assert people and all(r.simulated and "(模拟)" in r.name for r in people)
        assert all(r.phone is None or r.phone.startswith("100") for r in people)  # no real network's prefix
        assert mask_phone(people[0].phone or "10012345678").count("*") >= 4
        assert any(today.year - (r.birth_year or today.year) >= 80 for r in people)
        assert s.scalar(select(func.count()).select_from(Household)) > 0
        inspections = s.scalars(select(Inspection)).all()
        assert inspections and all(i.simulated for i in inspections)
        for i in inspections:  # every simulated answer set is valid for its checklist version
            import json

            assert validate_answers(definition_of(s.get(Checklist, i.checklist_id)), json.loads(i.answers)) == []
        cases = {f.case_id for f in s.scalars(select(InspectionFinding)) if f.case_id}
        assert cases, "some simulated items fail and open cases"
        for cid in cases:
            c = s.get(Case, cid)
            assert c.simulated and c.channel == "inspection" and "(模拟)" in c.description
    engine.dispose()
