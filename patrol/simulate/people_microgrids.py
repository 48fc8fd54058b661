"""The demo's 微网格 and the people around the grid (issue 22, people): micro-grids drawn for every grid, a simulated
楼栋长 for each, and a 网格长 leading the grids of each community — labelled simulated, with the demo's password.
Idempotent: nothing is done once a simulated 楼栋长 exists. Works on a city without a simulated month (the test
world): it needs grids and buildings only."""

from __future__ import annotations

import random

from sqlalchemy import select
from sqlalchemy.orm import Session

from patrol.core.auth import SYSTEM, create_user, hash_password
from patrol.core.models import Community, Grid, MicroGrid, User
from patrol.core.settings import Settings
from patrol.people.microgrids import generate
from patrol.simulate.logins import DEMO_PASSWORD
from patrol.simulate.names import NameMaker

SEED = 22


def microgrids_and_leads(session: Session, settings: Settings) -> str | None:
    """The step (see :mod:`patrol.simulate.people`): a progress line, or None when already done or no grid."""
    if session.scalars(select(User.id).where(User.role == "building_lead", User.simulated.is_(True))).first():
        return None
    grids = session.scalars(select(Grid).order_by(Grid.code)).all()
    if not grids:
        return None
    drawn = set(session.scalars(select(MicroGrid.grid_code).where(MicroGrid.plan_id.is_(None))))
    todo = [g.code for g in grids if g.code not in drawn]
    if todo:
        generate(session, SYSTEM, grids=todo, households_range=(settings.micro_households_min,
                                                                settings.micro_households_max), simulated=True)
    rng = random.Random(SEED)
    names = NameMaker(rng)
    hashed = hash_password(DEMO_PASSWORD)  # one argon2 hash for all of them: hundreds of 楼栋长 in a big city
    # hundreds of 楼栋长 in a big city: made in bulk (create_user's checks hold by construction: one micro-grid in
    # force each, her community its grid's)
    free = session.scalars(select(MicroGrid).where(MicroGrid.plan_id.is_(None), MicroGrid.leader_id.is_(None))
                           .order_by(MicroGrid.code)).all()
    community = {g.id: g.community_id for g in grids}
    taken = set(session.scalars(select(User.username).where(User.username.like("b%"))))
    made = [(m, User(username=f"b{m.code[-8:]}", display_name=names.labelled(), role="building_lead", post="楼栋长",
                     community_id=community.get(m.grid_id or -1), password_hash=hashed, simulated=True))
            for m in free if f"b{m.code[-8:]}" not in taken]
    session.add_all(u for _, u in made)
    session.flush()
    for m, u in made:
        m.leader_id = u.id
    leads = len(made)
    heads = 0
    for c in session.scalars(select(Community).order_by(Community.code)).all():
        codes = [g.code for g in grids if g.community_id == c.id and g.lead_id is None]
        if not codes or session.scalars(select(User.id).where(User.username == f"lead{c.code}")).first():
            continue
        u = create_user(session, username=f"lead{c.code}", role="grid_lead", password=None,
                        display_name=names.labelled(), lead_grids=codes, post="网格长", simulated=True)
        u.password_hash = hashed
        heads += 1
    session.flush()
    return (f"微网格: micro-grids for {len(grids)} grids, {leads} simulated 楼栋长 and {heads} 网格长 "
            f"(password {DEMO_PASSWORD})")
