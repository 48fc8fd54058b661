"""Fixtures shared by the whole suite.

Database tests run on both SpatiaLite and PostGIS (``backend`` parameter). PostGIS comes from
``GRIDPATROL_TEST_POSTGRES_URL`` (``make test`` starts a throwaway cluster and sets it), its streaming standby (the
read-replica tests) from ``GRIDPATROL_TEST_REPLICA_URL``. When
``GRIDPATROL_REQUIRE_ALL_DATABASES`` is set or ``CI`` is true, a missing database fails the run instead of skipping.

``make test`` runs the suite in a random order (pytest-randomly; ``--randomly-seed=N`` repeats one) in two
pytest-xdist workers, one test file per worker at a time (``--dist loadfile``, so module fixtures are built once; see
``shared_scope`` for what that asks of the tests; the long files first, some split by database: LONG_FILES):
everything a test creates must be private to its process — PostgreSQL databases have random names, SpatiaLite files
live in the worker's own ``tmp_path``, servers take a free port.
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from patrol.core.db import create_postgis_database, drop_postgis_database, make_engine
from patrol.core.migrate import upgrade

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
BACKENDS = ["spatialite", "postgis"]


def _cheap_password_hashing() -> None:
    """Hash passwords in the test processes with argon2id at a low cost (1 pass over 1 MiB, one lane).

    Production's default cost (64 MiB, 3 passes, 4 lanes) is ~0.2 s of CPU per hash or check, paid once per login;
    the suite hashes ~700 passwords (each simulated month creates ~80 users) and checks ~200 logins: 165 s of CPU,
    a quarter of the whole run. The code path is the same — real argon2id hashes (same salt and hash lengths) checked
    by the real verify — only the cost parameters written in the hash differ, and verify reads them from the hash.
    Subprocesses (the CLI tests) keep the production cost.
    """
    import dataclasses

    import argon2
    from argon2.profiles import RFC_9106_LOW_MEMORY

    import patrol.core.auth

    if not isinstance(patrol.core.auth._hasher, argon2.PasswordHasher):
        raise TypeError("patrol.core.auth._hasher is no longer an argon2 PasswordHasher: update tests/conftest.py")
    cheap = dataclasses.replace(RFC_9106_LOW_MEMORY, time_cost=1, memory_cost=1024, parallelism=1)
    patrol.core.auth._hasher = argon2.PasswordHasher.from_parameters(cheap)


_cheap_password_hashing()


@event.listens_for(Engine, "connect")
def _no_fsync_per_sqlite_commit(dbapi_conn, record) -> None:
    """SQLite files of the test processes with ``synchronous=NORMAL`` (the default is FULL): in WAL mode a commit
    then no longer waits for an fsync of the write-ahead log; it is as atomic and as safe against a killed process
    (what the fault-injection tests do) — only an operating-system crash or a power cut could lose the last commits,
    which no test can see. The throwaway PostGIS cluster runs with ``fsync=off`` for the same reason. A commit took
    1.5 ms on this machine idle and 6.8 ms with eight sessions running (0.02 ms without the fsync); every request
    that writes commits once (the SpatiaLite half of tests/api/test_plans.py: 203 commits; a simulated month commits
    only a few times). Servers started as subprocesses keep the production setting.
    """
    if isinstance(dbapi_conn, sqlite3.Connection):
        dbapi_conn.execute("PRAGMA synchronous=NORMAL")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--fresh-fixtures", action="store_true",
        help="build the module-scoped fixtures (the API tests' world and what hangs on it) again for every test: "
             "each test then runs as if alone, which shows a test that depends on another test's writes")


def shared_scope(fixture_name: str, config: pytest.Config) -> str:
    """Scope of the fixtures that a test module shares (``@pytest.fixture(scope=shared_scope)``): ``"module"``, so
    that an expensive world is built once per file, or ``"function"`` under ``--fresh-fixtures``.

    Tests that share a fixture must not depend on each other's writes (``make test`` runs them in a random order):
    each test sets up what it asserts on and asserts on differences or on things that only it creates. Run a file
    with ``--fresh-fixtures`` (and ``-p randomly``) to check.
    """
    return "function" if config.getoption("fresh_fixtures") else "module"


#: Seconds that the longest test files took in one full run (pytest --junitxml summed per file by
#: scripts/test_times.py; files of 40 s or more; measured 2026-12-05 with other sessions at work, load average 7-11, so
#: several times an idle machine's and only their order counts). ``make test`` starts them first, so that the two
#: workers end together instead of one of them running a long file alone at the end while the other core idles.
#: Refresh it from test-output/junit.xml, which ``make test`` writes.
LONG_FILES = {
    "api/test_cli": 600, "api/test_own_city": 429, "api/test_route_matrix": 417, "api/test_plans": 374,
    "browser/test_desk_e2e": 225, "browser/test_no_english": 185, "api/test_fault_injection": 185,
    "db/test_kpi_summaries": 173, "api/test_fuzz": 172, "api/test_demo_month": 166, "db/test_import": 158,
    "api/test_authority": 138, "browser/test_pages": 137, "db/test_official_city": 128, "browser/test_planner": 124,
    "api/test_ogc": 123, "unit/test_grids_liechtenstein": 95, "db/test_basemap_layers": 87,
    "api/test_publication": 87, "api/test_roles": 85, "api/test_cli_first_steps": 85, "unit/test_network": 74,
    "db/test_layer_import": 73, "db/test_dask_analytics": 72, "browser/test_field_app": 72, "api/test_contract": 70,
    "browser/test_basemap": 67, "db/test_db_copy": 60, "browser/test_csp": 59, "api/test_desk_queues": 58,
    "api/test_road_routing": 56, "api/test_simulate": 55, "api/test_input_bounds": 53, "api/test_upload_safety": 50,
    "api/test_privacy": 50, "db/test_building_labels": 48, "api/test_wire": 48, "db/test_replica": 46,
    "browser/test_map_pages": 44, "api/test_history_import": 44, "api/test_export_stream": 42,
    "browser/test_field_surveys": 42, "browser/test_people_micro": 42, "api/test_residents": 41,
}
#: Long files whose tests on SpatiaLite and those on PostGIS are two units of work (one worker may run one while
#: the other runs the other): their shared fixtures are per database anyway, or they have none.
BY_DATABASE = {
    "api/test_fault_injection", "api/test_demo_month", "browser/test_desk_e2e", "api/test_route_matrix",
    "db/test_layer_import", "api/test_simulate", "api/test_cli", "api/test_residents", "api/test_fuzz",
    "api/test_publication", "api/test_upload_safety", "api/test_cli_first_steps", "db/test_building_labels",
    "api/test_own_city", "db/test_official_city", "api/test_road_routing", "api/test_basemap_config", "api/test_tiles",
    "api/test_deliberation",
}


def _weight(scope: str) -> int:
    return LONG_FILES.get(scope.split("::")[0].removeprefix("tests/").removesuffix(".py"), 0)


@pytest.hookimpl(optionalhook=True)  # the hook exists when pytest-xdist is loaded
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """``--dist loadfile`` as ``make test`` runs it: a test file is one unit of work for a worker (its module fixtures
    are built once), except that a file of BY_DATABASE is two, its SpatiaLite and its PostGIS tests; and the units
    start longest first (LONG_FILES), not in xdist's order (most tests first, which put the long files with one or
    two tests last: one worker ran them alone while the other core idled)."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class LongestFileFirst(LoadFileScheduling):
        _ordered = False

        def _split_scope(self, nodeid: str) -> str:
            file = nodeid.split("::", 1)[0]
            if file.removeprefix("tests/").removesuffix(".py") in BY_DATABASE and nodeid.endswith("]"):
                params = nodeid[nodeid.rindex("[") + 1:-1].split("-")
                database = next((b for b in BACKENDS if b in params), None)
                if database is not None:
                    return f"{file}::{database}"
            return file

        def _assign_work_unit(self, node) -> None:
            if not self._ordered:  # the first assignment: the queue is complete
                queue = sorted(self.workqueue.items(), key=lambda unit: -_weight(unit[0]))
                self.workqueue.clear()
                self.workqueue.update(queue)
                self._ordered = True
            super()._assign_work_unit(node)

    return LongestFileFirst(config, log)


def _cpu_seconds() -> float:
    own, waited = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + waited.ru_utime + waited.ru_stime


def _timed(hook: str):
    @pytest.hookimpl(hookwrapper=True)
    def timed(item: pytest.Item):
        start = _cpu_seconds()
        yield
        item.stash[_CPU] = item.stash.get(_CPU, 0.0) + _cpu_seconds() - start
        if hook == "teardown":
            item.user_properties.append(("cpu_seconds", f"{item.stash[_CPU]:.3f}"))

    timed.__name__ = f"pytest_runtest_{hook}"
    return timed


#: CPU seconds of each test (setup + call + teardown: the test process and the subprocesses it waited for, e.g. the
#: CLI and Chromium; not the PostgreSQL server), as a ``cpu_seconds`` property in the --junitxml report that
#: ``make test`` writes: scripts/test_times.py sums it per file. Steadier than the durations on a busy machine.
_CPU = pytest.StashKey[float]()
pytest_runtest_setup = _timed("setup")
pytest_runtest_call = _timed("call")
pytest_runtest_teardown = _timed("teardown")


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


def replica_url() -> str:
    """The URL of the streaming standby of the test cluster (``make test`` starts it: ``scripts/pg.sh
    start-replica``); a skip without one, a failure when every database is required."""
    url = os.environ.get("GRIDPATROL_TEST_REPLICA_URL")
    if not url:
        message = "read replica not configured: set GRIDPATROL_TEST_REPLICA_URL (make test does)"
        if _require_all():
            pytest.fail(message)
        pytest.skip(message)
    return url


def _fresh_postgres_database(base_url: str) -> str:
    return create_postgis_database(base_url, f"gp_{uuid.uuid4().hex[:12]}")


def _copy_postgres_database(template_url: str) -> str:
    """A new database that is a copy of ``template_url`` (CREATE DATABASE … TEMPLATE: a file copy, ~0.2 s).

    PostgreSQL refuses while another session is connected to the template; ours are all closed, so the only one can
    be an autovacuum worker that the server is ending — hence the few retries.
    """
    url = make_url(template_url)
    name = f"gp_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        for attempt in range(5):
            try:
                with admin.connect() as conn:
                    conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{url.database}"'))
                break
            except OperationalError as exc:
                if "being accessed by other users" not in str(exc) or attempt == 4:
                    raise
                time.sleep(0.5)
    finally:
        admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


class CityTemplates:
    """Monaco as the tests start from it — migrated, stored, categories loaded, grids of 300–500 households drawn —
    built once per backend in this process and then copied for each test or module that needs a city of its own.

    Building it takes ~2 s of CPU (mostly the grid partition) and the suite needs some sixty of them; a copy is a file
    copy (SpatiaLite) or ``CREATE DATABASE … TEMPLATE`` (PostGIS). Building is deterministic (equal input gives equal
    grids), so a copy holds exactly what a fresh build would, ids and sequences included.
    """

    def __init__(self) -> None:
        self._model = None
        self._dir: Path | None = None
        self._spatialite: Path | None = None
        self._postgis: str | None = None

    @staticmethod
    def build(url: str, model) -> None:
        """Migrate the empty database at ``url`` and store Monaco with categories and grids in it."""
        from patrol.cases.categories import load_categories
        from patrol.city.gridding import generate_city_grids
        from patrol.city.osm_import import store_city
        from patrol.core.db import session_factory, transaction

        engine = make_engine(url)
        try:
            upgrade(engine)
            with transaction(session_factory(engine)) as s:
                store_city(s, model, source="monaco")
                load_categories(s)
                generate_city_grids(s, households_range=(300, 500))
        finally:
            engine.dispose()

    def _check_model(self, model) -> None:
        # One model per run (the session fixture monaco_model); a different one would need its own templates.
        if self._model is None:
            self._model = model
        elif model is not self._model:
            raise AssertionError("CityTemplates serves a single city model per test process")

    def spatialite(self, model, path: Path) -> str:
        """A copy of the SpatiaLite template at ``path`` (which must not exist yet); returns its URL."""
        self._check_model(model)
        if self._spatialite is None:
            self._dir = Path(tempfile.mkdtemp(prefix="gridpatrol-city-"))
            template = self._dir / "monaco.db"
            self.build(f"sqlite:///{template}", model)
            # The engine is disposed; fold any write-ahead log back so that the one file is the whole database.
            with sqlite3.connect(template) as conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.close()
            self._spatialite = template
        if path.exists():
            raise FileExistsError(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self._spatialite, path)
        return f"sqlite:///{path}"

    def postgis(self, model) -> str:
        """A new PostGIS database copied from the template; returns its URL (the caller drops it)."""
        self._check_model(model)
        if self._postgis is None:
            url = _fresh_postgres_database(_postgres_url())
            try:
                self.build(url, model)
            except BaseException:
                drop_postgis_database(url)
                raise
            self._postgis = url
        return _copy_postgres_database(self._postgis)

    def new(self, backend: str, model, path: Path) -> str:
        """A database of ``backend`` holding the city: at ``path`` for SpatiaLite, a new database for PostGIS."""
        return self.spatialite(model, path) if backend == "spatialite" else self.postgis(model)

    def close(self) -> None:
        if self._postgis is not None:
            drop_postgis_database(self._postgis)
            self._postgis = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = self._spatialite = None


#: The templates of this test process (an xdist worker has its own).
#: the API answers errors in Chinese unless asked otherwise (api/error_texts.py); the API tests' clients ask for
#: English, the language their assertions read (tests/api/test_error_language.py covers both)
ENGLISH = {"Accept-Language": "en"}

CITIES = CityTemplates()

#: What other templates of this process (tests/api/conftest.py WORLDS, copies of CITIES) drop at the end of the run
_AT_FINISH: list = []


def on_session_finish(close) -> None:
    """Call ``close()`` at the end of the run, before CITIES is dropped (templates built on CITIES' copies)."""
    _AT_FINISH.append(close)


def pytest_sessionfinish(session: pytest.Session) -> None:
    while _AT_FINISH:
        _AT_FINISH.pop()()
    CITIES.close()


@pytest.fixture(scope="session")
def monaco_model():
    """Monaco read from the shared real data (buildings, streets, quarters), once per run."""
    from patrol.city.osm_import import read_city

    return read_city(shared_file("osm/monaco.osm.pbf"))


@pytest.fixture
def monaco_city_url(backend: str, tmp_path: Path, monaco_model) -> Iterator[str]:
    """URL of a database of its own for this test holding Monaco with categories and grids (see CityTemplates)."""
    url = CITIES.new(backend, monaco_model, tmp_path / "city.db")
    yield url
    if backend == "postgis":
        drop_postgis_database(url)


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


class _Engines:
    """One migrated database per backend for the whole run, kept when pytest switches from one backend to the
    other (it does so once per test file under ``--dist loadfile``) and dropped at the end."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.engines: dict[str, tuple[Engine, str]] = {}

    def get(self, backend: str) -> Engine:
        if backend not in self.engines:
            if backend == "spatialite":
                url = f"sqlite:///{self.directory / 'test.db'}"
            else:
                url = _fresh_postgres_database(_postgres_url())
            eng = make_engine(url)
            self.engines[backend] = (eng, url)
            upgrade(eng)
        return self.engines[backend][0]

    def close(self) -> None:
        for backend, (eng, url) in self.engines.items():
            eng.dispose()
            if backend == "postgis":
                drop_postgis_database(url)
        self.engines.clear()


@pytest.fixture(scope="session")
def _engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Engines]:
    engines = _Engines(tmp_path_factory.mktemp("spatialite"))
    yield engines
    engines.close()


@pytest.fixture(scope="session")
def engine(backend: str, _engines: _Engines) -> Engine:
    """One migrated database per backend for the whole run."""
    return _engines.get(backend)


@contextlib.contextmanager
def rolled_back(engine: Engine) -> Iterator[Session]:
    """A session inside a transaction that is rolled back at the end (commits become savepoints): the ``session``
    fixture, and the module worlds that several tests read."""
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
def session(engine: Engine) -> Iterator[Session]:
    """A session inside a transaction that is rolled back after the test (commits become savepoints)."""
    with rolled_back(engine) as sess:
        yield sess


def new_database_url(backend: str, directory: Path) -> str:
    """URL of a new, empty (unmigrated) database of the backend, for a module's own fixture (drop a PostGIS one with
    ``drop_postgis_database`` when done)."""
    if backend == "spatialite":
        return f"sqlite:///{directory / f'{uuid.uuid4().hex[:8]}.db'}"
    return _fresh_postgres_database(_postgres_url())


@pytest.fixture
def fresh_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """URL of a new, empty (unmigrated) database of the backend, for end-to-end CLI and API tests."""
    if backend == "spatialite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
    else:
        url = _fresh_postgres_database(_postgres_url())
        yield url
        drop_postgis_database(url)
