"""No English on a Chinese page: every page a user meets, opened in Chinese (the default) in a real Chromium,
shows no English word outside an explicit allow-list — its visible text (``document.body.innerText``), its title
and the ``title``/``placeholder``/``aria-label``/``alt`` attributes a screen reader or a tooltip shows. An English
word is a run of ASCII letters (and digits) with three letters or more; allowed are units, KPI and format
abbreviations, brand names, the words of names that come from the data (OpenStreetMap streets, buildings, shops and
places; users' display names; case numbers are digits) — see :data:`ALLOWED` and :func:`data_words` — and commands
to type (``<code>``). Then a spot check in English: the same pages with ``?lang=en`` say their headings in English.

Also here, as they need the same browser and server: /docs and /redoc render with no network (Chromium with every
request that is not to 127.0.0.1 aborted, and the pages' real Content-Security-Policy): Swagger UI lists every
tag group and every operation of /openapi.json (scrolled through: it renders a long list windowed), ReDoc its sections.

One module-scoped server over a simulated Monaco month, one browser, one login per role (admin for the dashboard, the
maps, the planner and the surveys; the community supervisor for the desk; a grid worker for the phone app).
Screenshots: test-output/i18n/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from patrol.core.db import session_factory, transaction
from patrol.core.models import (
    Building,
    Case,
    Category,
    Community,
    Grid,
    ResponsibleUnit,
    RoadSegment,
    Shop,
    Subdistrict,
    User,
)
from patrol.field.day import pinyin_of
from patrol.simulate.month import DEMO_PASSWORD
from tests.browser.conftest import ARGS, chromium_path, serve, simulated_city

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "i18n"
TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9]*")  # Open311 is one word


def words(text: str) -> set[str]:
    """The English words of ``text``: runs of ASCII letters (digits inside kept) with three letters or more."""
    return {t for t in TOKEN.findall(text) if sum(c.isalpha() for c in t) >= 3}

#: words a Chinese page may show: units, abbreviations, formats, brand and product names, the other language's
#: switch; matched case-sensitively as whole words
ALLOWED = frozenset({
    # the switch to the other language, brands and products, map credits
    "English", "OpenStreetMap", "Leaflet", "OSM", "CARTO", "Esri", "Open311", "API", "GeoJSON", "GeoPackage",
    "CSV", "PDF", "SVG", "PNG", "JPEG", "WGS", "EPSG", "UTC", "GPS", "SOS", "QR", "ReDoc", "Swagger", "Shapefile",
    # KPI and analysis abbreviations used in Chinese practice as they are
    "KPI", "Gi", "FDR", "Mann", "Kendall", "H3",
    # units, keys
    "km", "min", "kWh", "Ctrl",
})


def data_words(engine: Any) -> frozenset[str]:
    """Every word of the names that come from the data (streets, buildings, shops, places, units, users)."""
    columns = (RoadSegment.name, Building.name, Shop.name, Community.name, Grid.name, Subdistrict.name,
               ResponsibleUnit.name, User.display_name, Building.label, Building.address, Shop.address)
    found: set[str] = set()
    with transaction(session_factory(engine)) as s:
        for column in columns:
            for value in s.scalars(select(column).where(column.is_not(None)).distinct()):
                found.update(words(str(value)))
        # the categories' pinyin initials, the phone's search hint (hlzc for 毁绿种菜): Chinese, not English
        for name in s.scalars(select(Category.name_zh)):
            found.add(pinyin_of(name)[1])
    return frozenset(found)


#: the text a person sees or hears on the page, attributes included; a command to type (<code>, <kbd>) is left out
VISIBLE = """() => {
  let body = document.body ? document.body.innerText : '';
  for (const el of document.querySelectorAll('code, kbd')) body = body.split(el.innerText).join(' ');
  const parts = [document.title, body];
  for (const el of document.querySelectorAll('[title],[placeholder],[aria-label],img[alt]')) {
    if (el.closest('[hidden]') || el.closest('svg') || el.tagName === 'svg') continue;
    for (const a of ['title', 'placeholder', 'aria-label', 'alt']) {
      const v = el.getAttribute(a);
      if (v) parts.push(v);
    }
  }
  return parts.join('\\n');
}"""


def english_words(text: str, allowed: frozenset[str]) -> list[str]:
    return sorted(w for w in words(text) if w not in allowed)


@pytest.fixture(scope="module")
def site(tmp_path_factory, monaco_model) -> Iterator[dict[str, Any]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('i18n') / 'i18n.db'}"
    settings, engine = simulated_city(url, monaco_model, cases=120)
    with transaction(session_factory(engine)) as s:
        # the supervisor of the community with the most cases, and its case with the longest history
        community = s.scalar(select(Case.community_id).group_by(Case.community_id)
                             .order_by(func.count().desc(), Case.community_id).limit(1))
        sup = s.scalar(select(User.username).where(User.role == "supervisor", User.community_id == community))
        worker = s.scalar(select(User.username).where(User.role == "grid_worker").order_by(User.username))
        number = s.scalar(select(Case.number).where(Case.community_id == community, Case.status == "closed")
                          .order_by(Case.id).limit(1))
    with serve(settings) as base:
        yield {"base": base, "engine": engine, "sup": sup, "worker": worker, "number": number,
               "allowed": ALLOWED | data_words(engine)}
    engine.dispose()


@pytest.fixture(scope="module")
def browser(site) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=ARGS)
        yield b
        b.close()


def _context(browser: Any, base: str, *, phone: bool = False) -> Any:
    """A context that reaches 127.0.0.1 only (the blocked requests kept in ``context.blocked``)."""
    size = {"width": 360, "height": 740} if phone else {"width": 1366, "height": 768}
    context = browser.new_context(bypass_csp=True, viewport=size, locale="en-US")  # an English browser: pages say zh
    context.blocked = []

    def offline(route: Any) -> None:
        if route.request.url.startswith(base):
            route.continue_()
        else:
            context.blocked.append(route.request.url)
            route.abort()

    context.route("**/*", offline)
    return context


def _login(page: Any, base: str, user: str) -> None:
    page.goto(f"{base}/login?next=/desk")
    page.fill("#u", user)
    page.fill("#p", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/desk**")


def _settle(page: Any) -> None:
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(300)  # a last render after the data arrived (not a timing assertion)


def _look(page: Any, name: str, allowed: frozenset[str], found: dict[str, list[str]]) -> str:
    _settle(page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))
    text = page.evaluate(VISIBLE)
    words = english_words(text, allowed)
    if words:
        found[name] = words
    return text


#: the desk-side pages in Chinese, opened as admin ({number}: a case number of the data)
ADMIN_PAGES = ("/", "/dashboard", "/maps/cases", "/maps/heat", "/maps/hotspots", "/maps/coverage", "/maps/grids",
               "/planner", "/surveys", "/r/")  # /r/: the residents' public report page (h5)
SUPERVISOR_PAGES = ("/desk", "/desk/cases/{number}", "/desk/cases/{number}/print")
PHONE_TABS = ("map", "tasks", "inspect", "report", "visit", "sync")


def test_every_page_in_chinese_shows_no_english(site, browser):
    base, allowed = site["base"], site["allowed"]
    found: dict[str, list[str]] = {}
    # -- the login page, and a wrong password on it
    context = _context(browser, base)
    page = context.new_page()
    page.goto(f"{base}/login")
    page.fill("#u", "admin")
    page.fill("#p", "not-the-password")
    page.click("button[type=submit]")
    page.wait_for_function("document.getElementById('err').textContent.length > 0")
    assert page.inner_text("#err") == "用户名或密码错误"
    _look(page, "login", allowed, found)
    # -- admin: the dashboard, the maps, the planner, the surveys
    _login(page, base, "admin")
    for path in ADMIN_PAGES:
        page.goto(f"{base}{path}")
        _look(page, "admin" + path.replace("/", "-").rstrip("-"), allowed, found)
    context.close()
    # -- the supervisor: the desk, a case, its print
    context = _context(browser, base)
    page = context.new_page()
    _login(page, base, site["sup"])
    for path in SUPERVISOR_PAGES:
        page.goto(f"{base}{path.format(number=site['number'])}")
        _look(page, "sup" + path.replace("/", "-").replace("{number}", "case"), allowed, found)
    context.close()
    # -- a grid worker: the phone app, each of its tabs
    context = _context(browser, base, phone=True)
    page = context.new_page()
    page.goto(f"{base}/app/")
    page.wait_for_selector("#login:not([hidden])")
    _look(page, "app-login", allowed, found)
    page.fill("#login-user", site["worker"])
    page.fill("#login-pass", DEMO_PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#shell:not([hidden])")
    for tab in PHONE_TABS:
        page.click(f"a[data-tab={tab}]")
        _look(page, f"app-{tab}", allowed, found)
    context.close()
    assert not found, "English words on Chinese pages: " + "; ".join(f"{k}: {v}" for k, v in found.items())


def test_spot_check_in_english(site, browser):
    base = site["base"]
    context = _context(browser, base)
    page = context.new_page()
    _login(page, base, site["sup"])
    page.goto(f"{base}/desk?lang=en")
    _settle(page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "en-desk.png"))
    assert "Queues" in page.inner_text("body") and "待办" not in page.inner_text("header")
    page.goto(f"{base}/dashboard?lang=en")
    _settle(page)
    page.screenshot(path=str(SHOTS / "en-dashboard.png"))
    assert "dashboard" in page.inner_text("body").lower() and "看板" not in page.inner_text("body")
    # an error from the API in the page's language: the desk's helper sends it
    answer = page.evaluate("fetch('/api/v1/cases/999999999', {headers: {'Accept-Language': 'en', "
                           "Authorization: 'Bearer ' + localStorage.getItem('gridpatrol.token')}}).then(r => r.json())")
    assert answer["code"] == "not_found" and answer["message"].isascii()
    context.close()


#: the rows of Swagger UI's list in the DOM now: ['tag', name] or ['op', method, path] — from 150 rows (tags and
#: operations) on, only those near the viewport are there, so :func:`_swagger_rows` scrolls the page through
SWAGGER_ROWS = """() => Array.from(document.querySelectorAll('.opblock-tag, .opblock')).map(el =>
  el.matches('.opblock-tag') ? ['tag', el.getAttribute('data-tag')]
  : ['op', el.querySelector('.opblock-summary-method').innerText.toLowerCase(),
     el.querySelector('.opblock-summary-path').getAttribute('data-path')])"""


def _swagger_rows(page: Any) -> tuple[list[str], set[tuple[str, str]]]:
    """The tag groups (in order) and the operations (method, path) Swagger UI renders, scrolling the page to its end:
    from 150 rows on (tags and operations) it renders only the rows near the viewport (a windowed list)."""
    tags: list[str] = []
    ops: set[tuple[str, str]] = set()
    for _ in range(400):
        for row in page.evaluate(SWAGGER_ROWS):
            if row[0] == "tag" and row[1] not in tags:
                tags.append(row[1])
            elif row[0] == "op":
                ops.add((row[1], row[2]))
        if page.evaluate("() => scrollY + innerHeight >= document.documentElement.scrollHeight - 2"):
            break
        page.mouse.wheel(0, 500)
        page.wait_for_timeout(50)
    return tags, ops


def _spec_rows(spec: dict[str, Any]) -> tuple[list[str], set[tuple[str, str]]]:
    tags: list[str] = []
    ops: set[tuple[str, str]] = set()
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            ops.add((method, path))
            tags += [t for t in op.get("tags") or ["default"] if t not in tags]
    return tags, ops


@pytest.mark.parametrize("path, selector", [("/docs", ".opblock"), ("/redoc", "[data-section-id]")])
def test_api_docs_render_offline(site, browser, path, selector):
    base = site["base"]
    context = browser.new_context(viewport={"width": 1366, "height": 768})  # the real policy (no bypass_csp)
    blocked: list[str] = []
    errors: list[str] = []

    def offline(route: Any) -> None:
        if route.request.url.startswith(base):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    context.route("**/*", offline)
    page = context.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{base}{path}")
    # (no wait_for_function: under the page's real policy an evaluated string is refused)
    page.wait_for_selector(selector, timeout=90_000)  # Swagger UI builds ~200 operations: slow on a busy machine
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"docs{path.replace('/', '-')}.png"))
    if path == "/docs":  # every tag group and every operation of the spec, as the page is scrolled through
        tags, ops = _swagger_rows(page)
        spec_tags, spec_ops = _spec_rows(context.request.get(f"{base}/openapi.json").json())
        assert len(ops) > 20
        assert tags == spec_tags
        assert ops == spec_ops, sorted(spec_ops ^ ops)
        assert ("get", "/api/v1/cases") in ops
    else:
        assert len(page.query_selector_all(selector)) > 20  # ReDoc's sections
        assert "/api/v1/cases" in page.inner_text("body")
    assert not blocked, blocked  # nothing asked of another host
    assert not [e for e in errors if "Content Security Policy" in e], errors
    context.close()
