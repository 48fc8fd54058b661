"""The demo's people of the grid (issue 22), labelled simulated: 楼栋长 and their 微网格, volunteer teams and
网格服务专员, an assessed case and a 议事 meeting with a vote, a mediation, needs answered. Runs after the simulated
month and surveys (it works on their cases, workers and register); each step is idempotent on its own marker."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from sqlalchemy.orm import Session, sessionmaker

from patrol.core.db import transaction
from patrol.core.settings import Settings

#: the steps in order: each takes (session, settings) and returns a progress line, or None when it had nothing to do
#: (already present). Each part of issue 22 appends its own step here.
Step = Callable[[Session, Settings], str | None]


def steps() -> list[Step]:
    """The steps, imported when the demo runs (the simulation modules import much of patrol)."""
    from patrol.simulate.people_mediation import mediation_step
    from patrol.simulate.people_meetings import simulate_deliberation
    from patrol.simulate.people_microgrids import microgrids_and_leads
    from patrol.simulate.people_rules import mediation_committees
    from patrol.simulate.people_volunteers import simulate_volunteers

    return [microgrids_and_leads, mediation_committees, simulate_volunteers, simulate_deliberation, mediation_step]


def simulate_people(factory: sessionmaker[Session], settings: Settings) -> Iterator[str]:
    """Run every step, each in its own transaction; yields progress lines."""
    for step in steps():
        with transaction(factory) as session:
            line = step(session, settings)
        if line:
            yield line
