"""The Content-Security-Policy the pages carry (api/middleware.py ``page_policy``), as Chromium enforces it: every
page — dashboard, desk, case page and 派遣单, the maps, planner, survey report, overview, login, the phone app —
loads and runs under it with no violation and no script error. The other browser tests open their contexts with
``bypass_csp`` because Playwright's string predicates are evaluated with ``eval``, which the policy forbids; this one
does not, and uses only navigation, selectors and CDP evaluation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from patrol.core.db import session_factory
from patrol.core.models import Case, Grid, User
from patrol.simulate.month import DEMO_PASSWORD
from tests.browser.conftest import ARGS, chromium_path, serve, simulated_city

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def served(tmp_path_factory, monaco_model) -> Iterator[dict[str, Any]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('csp') / 'csp.db'}"
    settings, engine = simulated_city(url, monaco_model, cases=40, sse_seconds=5, tiles="gridpatrol")
    with session_factory(engine)() as s:
        number = s.scalars(select(Case.number).where(Case.number.is_not(None)).order_by(Case.id)).first()
        worker = s.scalar(select(User.username).join(Grid, Grid.worker_id == User.id).order_by(Grid.id).limit(1))
        grid = s.scalar(select(Grid.code).order_by(Grid.id).limit(1))
    with serve(settings) as base:
        yield {"base": base, "number": number, "worker": worker, "grid": grid}
    engine.dispose()


def _browser_page(p, base: str) -> Any:
    browser = p.chromium.launch(executable_path=chromium_path(), args=ARGS)
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    context.route("**/*", lambda r: r.continue_() if r.request.url.startswith(base) else r.abort())
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.violations, page.errors = [], []
    page.on("console", lambda m: page.violations.append(m.text)
            if "Content Security Policy" in m.text or "Refused to" in m.text else None)
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    return browser, page


def test_every_page_runs_under_its_policy(served):
    from playwright.sync_api import sync_playwright

    base, number = served["base"], served["number"]
    pages = {  # path → a selector that only the page's scripts produce
        "/dashboard": "#cards .card",
        "/desk": "#tabs [role=tab]",
        "/desk/unlocated": "#orders .order, #orders .empty",
        "/desk/people": "body[data-ready='1']",
        "/desk/meetings": "body[data-ready='1']",  # 研判议事: server-rendered, its script sends the forms
        f"/desk/cases/{number}": "#timeline li",
        f"/desk/cases/{number}/print": ".sign",
        "/maps/cases": ".leaflet-container",
        "/maps/heat": ".leaflet-container",
        "/maps/hotspots": ".leaflet-container",
        "/maps/coverage": ".leaflet-container",
        "/maps/grids": ".leaflet-container path",
        "/planner": ".gp-basemap canvas[data-state]",  # our basemap, drawn by a module
        "/surveys": "table, .empty",
        "/": ".gp-basemap canvas[data-state=drawn]",  # and on a folium page
        "/r/": "body[data-ready='1']",  # h5: the residents' report page
        f"/r/?g={served['grid']}": ".gp-basemap canvas[data-state]",  # a grid's sticker: Leaflet loaded on demand
        "/r/f/no-such-link": "#missing",
    }
    with sync_playwright() as p:
        browser, page = _browser_page(p, base)
        page.goto(f"{base}/dashboard")
        page.fill("#u", "admin")
        page.fill("#p", DEMO_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/dashboard")
        for path, selector in pages.items():
            answer = page.goto(f"{base}{path}")
            assert "script-src 'self'" in answer.headers["content-security-policy"], path
            assert "'unsafe-eval'" not in answer.headers["content-security-policy"]
            page.wait_for_selector(selector, state="attached")
            page.wait_for_timeout(300)
        assert page.violations == [], page.violations
        assert page.errors == [], page.errors
        browser.close()

        browser, phone = _browser_page(p, base)  # the grid worker's app: login, its shell and its modules
        phone.goto(f"{base}/app/")
        phone.wait_for_selector("#login:not([hidden])")
        phone.fill("#login-user", served["worker"])
        phone.fill("#login-pass", DEMO_PASSWORD)
        phone.click("#login-form button[type=submit]")
        phone.wait_for_selector("#shell:not([hidden])")
        phone.wait_for_timeout(500)
        assert phone.violations == [], phone.violations
        assert phone.errors == [], phone.errors
        browser.close()


def test_an_injected_inline_script_would_not_run(served):
    """The policy lists the hashes of the page's own inline scripts only: a script that is not in the page as sent
    (e.g. one that got in through a stored value) is refused by the browser."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser, page = _browser_page(p, served["base"])
        page.goto(f"{served['base']}/login")
        page.wait_for_selector("#u")
        ran = page.evaluate("""() => { const s = document.createElement('script');
            s.textContent = 'window.__injected = true'; document.body.appendChild(s); return !!window.__injected; }""")
        assert ran is False
        assert any("Content Security Policy" in v for v in page.violations)
        browser.close()
