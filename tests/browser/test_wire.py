"""Light on the wire as Chromium meets it (the figures and the 3G timings are in bench/bench_wire.py, not here): the
phone app's page, modules, Leaflet and the worker's day come brotli-compressed; every file the page names carries its
hash and is cached immutable; after login the service worker answers the hashed files itself, and the app still
opens with the network gone."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from maps.fingerprint import IMMUTABLE
from patrol.core.models import Grid, User
from patrol.simulate.month import DEMO_PASSWORD
from tests.browser.conftest import phone_page, serve, simulated_city

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def served(tmp_path_factory, monaco_model) -> Iterator[dict[str, Any]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('wire') / 'wire.db'}"
    settings, engine = simulated_city(url, monaco_model, cases=40)
    from patrol.core.db import session_factory

    with session_factory(engine)() as s:
        worker = s.scalar(select(User.username).join(Grid, Grid.worker_id == User.id).order_by(Grid.id).limit(1))
    with serve(settings) as base:
        yield {"base": base, "worker": worker}
    engine.dispose()


def test_the_phone_app_comes_compressed_hashed_and_then_from_its_service_worker(served):
    base = served["base"]
    with phone_page(7.4246, 43.7384) as page:
        seen: dict[str, Any] = {}
        page.on("response", lambda r: seen.__setitem__(r.url.removeprefix(base), r))
        page.goto(f"{base}/app/")
        page.wait_for_selector("#login:not([hidden])")
        shell = seen["/app/"].all_headers()
        assert shell["content-encoding"] == "br" and shell["cache-control"] == "no-cache"
        hashed = {u: r for u, r in seen.items() if "?v=" in u}
        for name in ("/app/app.js", "/app/state.js", "/app/app.css", "/static/js/i18n.js",
                     "/static/vendor/leaflet-1.9.4/leaflet.js"):
            url = next((u for u in hashed if u.startswith(name + "?v=")), None)
            assert url, (name, sorted(seen))  # the page (or its import map) asked for it by its hash
            headers = hashed[url].all_headers()
            assert headers["cache-control"] == IMMUTABLE, url
            assert headers.get("content-encoding") == "br" and "accept-encoding" in headers["vary"].lower(), url
        assert not [u for u in seen if u.startswith("/app/") and u.endswith(".js") and "?v=" not in u
                    and u != "/app/sw.js"]  # no module fetched by its plain URL: the import map covered them all

        page.fill("#login-user", served["worker"])
        page.fill("#login-pass", DEMO_PASSWORD)
        with page.expect_response(lambda r: "/api/v1/field/today" in r.url) as today:
            page.tap("#login-form button[type=submit]")
        assert today.value.ok and today.value.all_headers()["content-encoding"] == "br"
        page.wait_for_selector("#shell:not([hidden])")
        page.wait_for_function("navigator.serviceWorker.controller !== null")

        seen.clear()
        page.reload()
        page.wait_for_selector("#shell:not([hidden])")
        modules = [r for u, r in seen.items() if u.startswith("/app/") and "?v=" in u]
        assert modules and all(r.from_service_worker for r in modules)  # the reload costs no download

        page.context.set_offline(True)
        page.reload()
        page.wait_for_selector("#shell:not([hidden])")
        assert page.inner_text("#grid-name").strip()
        page.context.set_offline(False)
        assert not page.errors, page.errors
