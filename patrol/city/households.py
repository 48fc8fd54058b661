"""How many households a grid should hold in this city: the city's own range (``gridpatrol city create
--grid-households 200-400`` or ``gridpatrol city set --grid-households``, stored in ``City.grid_households_min/max``),
else the settings' (``households_min`` / ``households_max``). Grid generation, the grid check, the planner's
proposal and checks and the maps' colours all read it here, unless a command is given a range of its own.

The seeds' figures, for choosing one: Yantai 蓝海 (S0) serves 6,932 residents in 10 grids, about 690 residents a
grid; Qingdao 春光山色 (S2) has about 8,000 households and 20,000-odd residents, 2.5 residents a household, so S0's
grids hold about 690 / 2.5 ≈ 280 households; Weihai (S4) keeps a community at ≤ 3,000 households (2,330 on average),
so ten grids a community make 230–300 households a grid.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from patrol.core.errors import InvalidInput, NotFound
from patrol.core.models import City
from patrol.core.settings import Settings


def grid_households(session: Session, settings: Settings) -> tuple[int, int]:
    """The households range per grid in force: the city's, else the settings'."""
    row = session.execute(select(City.grid_households_min, City.grid_households_max).limit(1)).first()
    if row is not None and row[0] is not None and row[1] is not None:
        return int(row[0]), int(row[1])
    return settings.households_min, settings.households_max


def set_grid_households(session: Session, households: tuple[int, int] | None) -> City:
    """Store the city's range (None: back to the settings'); raises InvalidInput for a bad range, NotFound when
    there is no city yet."""
    if households is not None:
        lo, hi = households
        if not 0 < lo <= hi:
            raise InvalidInput(f"grid households: expected 0 < MIN ≤ MAX, got {lo}-{hi}", field="grid_households")
    city = session.scalars(select(City).limit(1)).first()
    if city is None:
        raise NotFound("no city in the database: gridpatrol city create (or gridpatrol import) first", field="city")
    city.grid_households_min, city.grid_households_max = households if households is not None else (None, None)
    session.flush()
    return city
