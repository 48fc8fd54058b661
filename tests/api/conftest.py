"""An app over a database holding a real small city (Monaco: 6 quarters, 1,151 buildings) with grids drawn."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from patrol.categories import load_categories
from patrol.db import make_engine, session_factory, transaction
from patrol.gridding import generate_city_grids
from patrol.importing import read_city, store_city
from patrol.migrate import upgrade
from patrol.settings import Settings
from tests.conftest import shared_file


@pytest.fixture(scope="session")
def monaco_model():
    return read_city(shared_file("osm/monaco.osm.pbf"))


@pytest.fixture
def city_url(fresh_url, monaco_model):
    engine = make_engine(fresh_url)
    upgrade(engine)
    with transaction(session_factory(engine)) as s:
        store_city(s, monaco_model, source="monaco")
        load_categories(s)
        generate_city_grids(s, households_range=(300, 500))
    engine.dispose()
    return fresh_url


@pytest.fixture
def client(city_url):
    app = create_app(Settings(database_url=city_url, tiles=None))
    with TestClient(app) as c:
        yield c
    app.state.engine.dispose()
