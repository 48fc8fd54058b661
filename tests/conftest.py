"""Fixtures shared by the whole suite.

Database tests run on both SpatiaLite and PostGIS (``backend`` parameter). PostGIS comes from
``GRIDPATROL_TEST_POSTGRES_URL`` (``make test`` starts a throwaway cluster and sets it). When
``GRIDPATROL_REQUIRE_ALL_DATABASES`` is set or ``CI`` is true, a missing database fails the run instead of skipping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from patrol.db import create_postgis_database, drop_postgis_database, make_engine
from patrol.migrate import upgrade

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
BACKENDS = ["spatialite", "postgis"]


def shared_file(relative: str) -> Path:
    """A file of the shared real-data folder, or a skip saying why it is not there."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"real data not available here: {path} (tests with real data need ../shared/data)")
    return path


def _require_all() -> bool:
    return bool(os.environ.get("GRIDPATROL_REQUIRE_ALL_DATABASES")) or os.environ.get("CI", "").lower() == "true"


def _postgres_url() -> str:
    url = os.environ.get("GRIDPATROL_TEST_POSTGRES_URL")
    if not url:
        message = "PostGIS not configured: set GRIDPATROL_TEST_POSTGRES_URL (make test does)"
        if _require_all():
            pytest.fail(message)
        pytest.skip(message)
    return url


def _fresh_postgres_database(base_url: str) -> str:
    return create_postgis_database(base_url, f"gp_{uuid.uuid4().hex[:12]}")


@pytest.fixture(scope="session")
def monaco_model():
    """Monaco read from the shared real data (buildings, streets, quarters), once per run."""
    from patrol.importing import read_city

    return read_city(shared_file("osm/monaco.osm.pbf"))


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="session")
def engine(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """One migrated database per backend for the whole run."""
    if backend == "spatialite":
        url = f"sqlite:///{tmp_path_factory.mktemp('spatialite') / 'test.db'}"
        eng = make_engine(url)
        upgrade(eng)
        yield eng
        eng.dispose()
    else:
        url = _fresh_postgres_database(_postgres_url())
        eng = make_engine(url)
        upgrade(eng)
        yield eng
        eng.dispose()
        drop_postgis_database(url)


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session inside a transaction that is rolled back after the test (commits become savepoints)."""
    connection = engine.connect()
    outer = connection.begin()
    sess = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield sess
    finally:
        sess.close()
        outer.rollback()
        connection.close()


@pytest.fixture
def fresh_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """URL of a new, empty (unmigrated) database of the backend, for end-to-end CLI and API tests."""
    if backend == "spatialite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
    else:
        url = _fresh_postgres_database(_postgres_url())
        yield url
        drop_postgis_database(url)
