"""The demo's logins, for the server's start-up lines: one simulated user of each role whose password is still the
published demo password (checked against its hash, so a demo database whose passwords were changed shows none),
and when the simulated month ended. Nothing here reads a user who is not simulated.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from patrol.core.auth import verify_password
from patrol.core.models import Case, User

#: every simulated user's password: published (README, the start-up lines), so only ever set on simulated users
DEMO_PASSWORD = "demo-pass-2026"
#: the roles shown, in this order, with where each starts
ROLES = (("admin", "/dashboard"), ("planner", "/planner"), ("supervisor", "/desk"), ("subdistrict", "/desk"),
         ("department", "/desk"), ("grid_worker", "/app/"), ("grid_lead", "/desk"), ("building_lead", "/app/"))


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: str
    name: str
    start: str


def demo_logins(session: Session) -> list[DemoLogin]:
    """Per role, the first simulated, active user (by user name; ``dept_…`` before ``office…``) who still has the
    demo password; empty for a database without simulated users."""
    out = []
    for role, start in ROLES:
        users = session.scalars(select(User).where(User.simulated.is_(True), User.active.is_(True), User.role == role)
                                .order_by(User.username.not_like("dept_%"), User.username).limit(3)).all()
        user = next((u for u in users if verify_password(DEMO_PASSWORD, u.password_hash)), None)
        if user is not None:
            out.append(DemoLogin(user.username, role, user.display_name, start))
    return out


def simulated_until(session: Session) -> dt.datetime | None:
    """The last report of the simulated month (None without one)."""
    return session.scalar(select(func.max(Case.reported_at)).where(Case.simulated.is_(True)))
