""""Overdue" is one rule in three forms — SQL, Python, pandas — and they agree on every status and deadline, on
both databases; the case list's ``overdue`` filter and each case's ``overdue`` flag follow it."""

from __future__ import annotations

import datetime as dt
import itertools

import pandas as pd
from sqlalchemy import select

from patrol.cases import service as svc
from patrol.cases.lifecycle import RUNNING, Status
from patrol.cases.overdue import is_overdue, overdue_clause, overdue_mask
from patrol.core.auth import SYSTEM
from patrol.core.db import session_factory
from patrol.core.models import Case

NOW = dt.datetime(2026, 12, 4, 10, 0, tzinfo=dt.UTC)
DEADLINES = (None, NOW - dt.timedelta(hours=1), NOW, NOW + dt.timedelta(hours=1))


def test_the_three_forms_of_overdue_agree(world):
    with session_factory(world.engine)() as s:
        ids = {}
        for status, deadline in itertools.product(list(Status), DEADLINES):
            case = svc.create_case(s, SYSTEM, world.settings, client_id=None, category="C0103",
                                   lon=world.point_a[0], lat=world.point_a[1]).case
            case.status, case.deadline_at = status, deadline
            ids[case.id] = (status, deadline)
        s.flush()
        in_sql = set(s.scalars(select(Case.id).where(Case.id.in_(list(ids)), overdue_clause(NOW))))
        in_python = {i for i, (st, d) in ids.items() if is_overdue(st, d, NOW)}
        frame = pd.DataFrame([(i, st, d) for i, (st, d) in ids.items()], columns=["id", "status", "deadline_at"])
        frame["deadline_at"] = pd.to_datetime(frame["deadline_at"], utc=True)
        in_pandas = set(frame.loc[overdue_mask(frame["status"], frame["deadline_at"], NOW), "id"])
        expected = {i for i, (st, d) in ids.items() if st in RUNNING and d is not None and d < NOW}
        assert in_sql == in_python == in_pandas == expected
        assert len(expected) == len(RUNNING)  # one past deadline per running status: the rule is not empty
        # the filter and the flag of the case list read the same rule
        listed = {c.id for c, _ in s.execute(svc.case_query(s, SYSTEM, svc.CaseFilter(ids=list(ids), overdue=True),
                                                            now=NOW))}
        assert listed == expected
        assert {i for i in ids if svc.case_dict(s.get(Case, i), now=NOW)["overdue"]} == expected
        s.rollback()
