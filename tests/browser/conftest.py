"""Shared by the browser tests: Debian's Chromium, and the app served by uvicorn over a Monaco database with a
simulated month (the demo's generator), one per test module."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy.engine import make_url

from api.app import create_app
from patrol.cases.categories import load_categories
from patrol.city.gridding import generate_city_grids
from patrol.city.osm_import import store_city
from patrol.core.db import make_engine, session_factory, transaction
from patrol.core.migrate import upgrade
from patrol.core.settings import Settings
from patrol.simulate.month import simulate_month
from tests.conftest import CITIES

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# Only 127.0.0.1 resolves: tiles and anything else on the internet fail at once (works with service workers, which
# Playwright's request routing would bypass).
LOCAL_ONLY = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"


def chromium_path() -> str:
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: make test installs Debian's chromium")
    return str(CHROMIUM)


#: Settings that the simulation never reads (only the app does): a simulated month made with one value is the same
#: database as one made with another, so they share a template (see SimulatedCities).
APP_ONLY_SETTINGS = frozenset({"token_hours", "sse_seconds", "tiles"})


class SimulatedCities:
    """Simulated months of Monaco (``simulated_city`` on SpatiaLite), each built once per run and copied per module.

    The simulation is seeded (``simulate_month(seed=2026)``), so two builds with the same cases and settings give the
    same database; only "now" moves on (a copy made minutes after its build ends those minutes earlier, as a module
    fixture does for its later tests). A build takes 10–40 s of CPU and the browser modules need fifteen, with three
    case counts (40 for the small ones — once 20, 30, 40 and 60: three builds fewer; the planner, people-micro and
    subdistrict-dashboard files pass as well on 40 as on 60 — 120 and the default 200; the city dashboards ask more
    of a bigger month, so those stay); test_desk_e2e, with settings of its own, has one more. The
    two xdist workers share the builds through files in the run's base temporary folder, under a lock, so each is
    built by one process while the other waits for it or copies it.
    """

    def __init__(self) -> None:
        self.directory: Path | None = None

    def key(self, cases: int, settings_kw: dict) -> str:
        shared = sorted((k, repr(v)) for k, v in settings_kw.items() if k not in APP_ONLY_SETTINGS)
        return hashlib.sha256(repr((cases, shared)).encode()).hexdigest()[:16]

    def copy_to(self, path: Path, monaco_model, cases: int, settings_kw: dict) -> None:
        """Put at ``path`` (which must not exist) a copy of the simulated month for ``cases`` and ``settings_kw``,
        building it first if no process of this run has."""
        if self.directory is None:
            raise RuntimeError("SimulatedCities has no directory: the session fixture _simulated_cities sets it")
        template = self.directory / f"simulated-{self.key(cases, settings_kw)}.db"
        with open(template.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                if not template.exists():
                    self._build(template, monaco_model, cases, settings_kw)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        if path.exists():
            raise FileExistsError(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template, path)

    @staticmethod
    def _build(template: Path, monaco_model, cases: int, settings_kw: dict) -> None:
        building = template.with_suffix(".building")
        for leftover in template.parent.glob(building.name + "*"):
            leftover.unlink()
        url = CITIES.spatialite(monaco_model, building)
        engine = make_engine(url)
        try:
            for _ in simulate_month(session_factory(engine), _settings(url, settings_kw), cases=cases):
                pass
        finally:
            engine.dispose()
        with contextlib.closing(sqlite3.connect(building)) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        os.replace(building, template)


#: The simulated months of this run (shared by the xdist workers of one run, see SimulatedCities).
SIMULATED = SimulatedCities()


@pytest.fixture(scope="session", autouse=True)
def _simulated_cities(tmp_path_factory: pytest.TempPathFactory) -> None:
    # Under xdist the base temporary folder is <the run's folder>/popen-gwN: the run's folder is shared by its
    # workers and by no other run. Without xdist the process's own folder.
    base = tmp_path_factory.getbasetemp()
    SIMULATED.directory = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def _settings(url: str, settings_kw: dict) -> Settings:
    """The test's settings: an online basemap name unless the test asks for ``tiles`` (test_basemap: our own)."""
    return Settings(database_url=url, secret_key="browser-test-secret-key-0123456789", timezone="Asia/Shanghai",
                    **({"tiles": "OpenStreetMap"} | settings_kw))


def simulated_city(url: str, monaco_model, *, cases: int = 200, **settings_kw) -> tuple[Settings, object]:
    """Monaco with grids and a simulated month of patrols and cases in the database at ``url``.

    A new SpatiaLite file starts as a copy of the simulated month of this run for these cases and settings
    (SimulatedCities: built once, from the city template of tests/conftest.py CITIES); any other database is built
    here.
    """
    db = make_url(url)
    on_disk = db.get_backend_name() == "sqlite" and db.database not in (None, "", ":memory:")
    path = Path(db.database) if on_disk else None
    settings = _settings(url, settings_kw)
    if path is not None and not path.exists():
        SIMULATED.copy_to(path, monaco_model, cases, settings_kw)
        return settings, make_engine(url)
    engine = make_engine(url)
    upgrade(engine)
    with transaction(session_factory(engine)) as s:
        store_city(s, monaco_model, source="monaco")
        load_categories(s)
        generate_city_grids(s, households_range=(300, 500))
    for _ in simulate_month(session_factory(engine), settings, cases=cases):
        pass
    return settings, engine


@contextlib.contextmanager
def serve(settings: Settings) -> Iterator[str]:
    """The app on a free port of 127.0.0.1 in a thread; yields its base URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


PHONE = {"viewport": {"width": 360, "height": 740}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}


@contextlib.contextmanager
def phone_page(lon: float, lat: float) -> Iterator:
    """A 360×740 touch phone in Chromium (zh-CN, GPS at lon/lat, service workers on, only 127.0.0.1 reachable);
    yields its page, whose ``errors`` collects the page's JavaScript errors."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=[*ARGS, LOCAL_ONLY])
        context = browser.new_context(
            bypass_csp=True, **PHONE, locale="zh-CN", geolocation={"latitude": lat, "longitude": lon,
                                      "accuracy": 6}, permissions=["geolocation"], service_workers="allow")
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.errors = []
        page.on("pageerror", lambda e: page.errors.append(str(e)))
        yield page
        browser.close()
