"""The demo's 人民调解委员会 (issue 22, rules): one people's mediation committee per community, serving its polygon,
with a duty account (labelled simulated), so that a dispute between neighbours (C0115) the grid worker could not
settle goes to mediation at the community level (patrol/data/responsibility.csv), not to the property company."""

from __future__ import annotations

import shapely
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from patrol.core.auth import create_user
from patrol.core.frames import ewkt
from patrol.core.models import Community, ResponsibleUnit, User
from patrol.core.settings import Settings
from patrol.simulate.logins import DEMO_PASSWORD

MEDIATION = "mediation"
SIMULATED = " (模拟)"


def mediation_committees(session: Session, settings: Settings) -> str | None:
    """A mediation committee per community that has none (by name), each with a department account
    ``mediation<community code>``; None when every community has one (or there are no communities)."""
    have = set(session.scalars(select(ResponsibleUnit.name).where(ResponsibleUnit.type == MEDIATION)))
    taken = set(session.scalars(select(User.username)))
    made = 0
    for com in session.scalars(select(Community).order_by(Community.id)):
        name = f"{com.name}人民调解委员会{SIMULATED}"
        username = f"mediation{com.code}"
        if name in have or username in taken:
            continue
        area = shapely.from_wkb(bytes(session.scalar(select(func.ST_AsBinary(Community.geom))
                                                     .where(Community.id == com.id))))
        unit = ResponsibleUnit(type=MEDIATION, name=name, geom=ewkt([area.representative_point()])[0],
                               jurisdiction=ewkt([area])[0])
        session.add(unit)
        session.flush()
        create_user(session, username=username, role="department", password=DEMO_PASSWORD,
                    display_name=f"{com.name}调解员{SIMULATED}", unit_id=unit.id, simulated=True)
        made += 1
    if not made:
        return None
    return f"people's mediation committees 人民调解委员会: {made} (one per community, 邻里纠纷 goes there)"
