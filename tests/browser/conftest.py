"""Shared by the browser tests: Debian's Chromium, and the app served by uvicorn over a Monaco database with a
simulated month (the demo's generator), one per test module."""

from __future__ import annotations

import contextlib
import socket
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


def simulated_city(url: str, monaco_model, *, cases: int = 200, **settings_kw) -> tuple[Settings, object]:
    """Monaco with grids and a simulated month of patrols and cases in the database at ``url``.

    A new SpatiaLite file starts as a copy of the city template of this test process (tests/conftest.py CITIES:
    the same migrated city, categories and grids, built once); any other database is built here.
    """
    db = make_url(url)
    on_disk = db.get_backend_name() == "sqlite" and db.database not in (None, "", ":memory:")
    path = Path(db.database) if on_disk else None
    if path is not None and not path.exists():
        CITIES.spatialite(monaco_model, path)
        engine = make_engine(url)
    else:
        engine = make_engine(url)
        upgrade(engine)
        with transaction(session_factory(engine)) as s:
            store_city(s, monaco_model, source="monaco")
            load_categories(s)
            generate_city_grids(s, households_range=(300, 500))
    factory = session_factory(engine)
    settings_kw.setdefault("tiles", "OpenStreetMap")
    settings = Settings(database_url=url, secret_key="browser-test-secret-key-0123456789",
                        timezone="Asia/Shanghai", **settings_kw)
    for _ in simulate_month(factory, settings, cases=cases):
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
