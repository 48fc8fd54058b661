"""The case page in Chromium (1366×768, the network closed except 127.0.0.1), over a Monaco database with a simulated
month: a supervisor registers and dispatches a reported case to the first ranked unit (its route drawn), the unit's
department user accepts and handles it with an after-photo, a return needs a reason, the English page, and the
printable 派遣单. Screenshots go to test-output/desk/case-*.png."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select

from patrol.cases import service as svc
from patrol.core.auth import SYSTEM
from patrol.core.db import session_factory, transaction
from patrol.core.frames import read_frame
from patrol.core.models import Community, Grid, ResponsibleUnit, User
from patrol.simulate.month import DEMO_PASSWORD
from tests.browser.conftest import ARGS, chromium_path, serve, simulated_city

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "desk"
VIEW = {"width": 1366, "height": 768}


@pytest.fixture(scope="module")
def desk(tmp_path_factory, monaco_model) -> Iterator[dict]:
    url = f"sqlite:///{tmp_path_factory.mktemp('desk_case') / 'desk.db'}"
    settings, engine = simulated_city(url, monaco_model, cases=120)
    with transaction(session_factory(engine)) as s:
        grid = s.scalars(select(Grid).where(Grid.worker_id.is_not(None)).order_by(Grid.code)).first()
        com = s.get(Community, grid.community_id)
        sup = s.scalars(select(User.username).where(User.role == "supervisor", User.community_id == com.id)).first()
        p = read_frame(s, [Grid.id], Grid.geom, where=[Grid.id == grid.id]).geometry.iloc[0].representative_point()
        power = s.scalars(select(ResponsibleUnit.id).where(ResponsibleUnit.type == "power")).first()
        dept = s.scalars(select(User.username).where(User.unit_id == power)).first()

        def new(description: str, path: tuple[str, ...] = ()) -> str:
            c = svc.create_case(s, SYSTEM, settings, client_id=None, category="B0109", lon=p.x, lat=p.y,
                                description=description).case
            for action in path:
                svc.transition(s, SYSTEM, settings, c.id, action, unit_id=power if action == "dispatch" else None)
            return str(c.number)

        numbers = {"loop": new("路灯不亮，夜里很黑"), "return": new("路灯杆倾斜", ("register", "dispatch")),
                   "whistle": new("路灯线路被挖断", ("register",)), "first": new("路灯闪烁"),
                   "again": new("这盏路灯一闪一闪")}
    with serve(settings) as base:
        yield {"base": base, "engine": engine, "sup": sup, "dept": dept, "numbers": numbers}
    engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=ARGS)
        yield b
        b.close()


def _page(browser, desk, user: str, target: str) -> Any:
    """A new 1366×768 page logged in as ``user`` (through /login) on ``target``; only 127.0.0.1 is reachable."""
    base = desk["base"]
    context = browser.new_context(bypass_csp=True, viewport=VIEW, locale="zh-CN")
    context.route("**/*", lambda r: r.continue_() if r.request.url.startswith(base) else r.abort())
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto(f"{base}{target}")
    assert "/login" in page.url
    page.fill("#u", user)
    page.fill("#p", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}{target}")
    page.wait_for_selector("#timeline li")
    return page


def _shot(page, name: str, full: bool = False) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"case-{name}.png"), full_page=full)


def _status(page) -> str:
    return page.locator("#case-badges .pill").first.inner_text()


def _jpeg(path: Path) -> Path:
    img = Image.new("RGB", (320, 240), (40, 120, 200))
    for x in range(80, 240):
        for y in range(60, 180):
            img.putpixel((x, y), (250, 220, 40))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85)
    path.write_bytes(buf.getvalue())
    return path


def test_supervisor_registers_and_dispatches_then_the_department_handles_with_a_photo(browser, desk, tmp_path):
    number = desk["numbers"]["loop"]
    page = _page(browser, desk, desk["sup"], f"/desk/cases/{number}")
    assert _status(page) == "待立案"
    assert page.locator("#case-number").inner_text() == number
    assert page.evaluate("document.querySelectorAll('#map path.leaflet-interactive').length") >= 1  # grid outline
    _shot(page, "reported")
    steps = page.locator("#timeline li").count()

    page.click("button[data-act=register]")
    page.wait_for_function("document.querySelector('#case-badges .pill').textContent === '已立案'")
    assert "已完成" in page.locator("#message").inner_text()
    assert page.locator("#timeline li").count() == steps + 1

    page.click("button[data-act=dispatch]")
    first = page.locator("#form input[name=unit][data-first]")
    first.check()
    page.wait_for_function("document.body.dataset.route === 'drawn'")
    assert "km" in page.locator("#route-info").inner_text() or " m" in page.locator("#route-info").inner_text()
    unit_name = page.locator("#form label.choice:has(input[data-first]) strong").inner_text()
    _shot(page, "dispatch-route")
    page.click("#action-form button[type=submit]")
    page.wait_for_function("document.querySelector('#case-badges .pill').textContent === '已派遣'")
    assert page.locator("#timeline li").count() == steps + 2
    assert unit_name in page.locator("#timeline li").last.inner_text()
    assert page.locator("button[data-act=dispatch]").count() == 0  # only what is allowed now
    _shot(page, "dispatched")
    assert page.errors == []

    dept = _page(browser, desk, desk["dept"], f"/desk/cases/{number}")
    acts = dept.locator("#actions button[data-act]").evaluate_all("bs => bs.map(b => b.dataset.act)")
    assert "accept" in acts and "register" not in acts
    dept.click("button[data-act=accept]")
    dept.wait_for_function("document.querySelector('#case-badges .pill').textContent === '处置中'")
    dept.click("button[data-act=handle]")
    dept.fill("#f-note", "已更换灯泡")
    dept.set_input_files("#f-photo", str(_jpeg(tmp_path / "after.jpg")))
    dept.click("#action-form button[type=submit]")
    dept.wait_for_function("document.querySelector('#case-badges .pill').textContent === '已处置'")
    dept.wait_for_selector("#gallery [data-side=after] img")
    assert dept.locator("#gallery [data-side=after] img").count() == 1
    dept.wait_for_function("document.querySelector('#gallery [data-side=after] img').naturalWidth > 0")
    assert "已更换灯泡" in dept.locator("#timeline").inner_text()
    _shot(dept, "handled-gallery")
    dept.locator("#gallery [data-side=after] button.thumb").first.click()
    dept.wait_for_function("document.querySelector('#viewer').open"
                           " && document.querySelector('#viewer-img').naturalWidth > 0")
    _shot(dept, "photo-enlarged")
    dept.keyboard.press("Escape")
    assert dept.errors == []


def test_a_return_needs_a_reason(browser, desk):
    number = desk["numbers"]["return"]
    page = _page(browser, desk, desk["dept"], f"/desk/cases/{number}")
    page.click("button[data-act=return]")
    page.click("#action-form button[type=submit]")
    error = page.locator("#form-error .error")
    error.wait_for()
    assert "原因" in error.inner_text() and "填写有误" in error.inner_text()
    _shot(page, "return-needs-reason")
    assert _status(page) == "已派遣"
    page.fill("#f-note", "不属于本单位职责")
    page.click("#action-form button[type=submit]")
    page.wait_for_selector("#message .ok")
    # returned: the case left the unit's hands (and its scope); the page says so and offers nothing more
    assert "已完成" in page.locator("#message").inner_text() and "不在您的范围" in page.locator("#message").inner_text()
    assert page.locator("#actions button[data-act]").count() == 0
    _shot(page, "returned")


def test_english_page_and_print_sheet(browser, desk):
    number = desk["numbers"]["loop"]
    page = _page(browser, desk, desk["sup"], f"/desk/cases/{number}?lang=en")
    assert page.locator("html").get_attribute("lang") == "en"
    text = page.locator("main").inner_text()
    assert "Timeline" in text and "Photos" in text and "Print dispatch sheet" in text
    assert "办理过程" not in text
    _shot(page, "english")
    page.goto(f"{desk['base']}/desk/cases/{number}/print")
    assert number in page.locator(".no").inner_text()
    assert page.locator("svg.sketch circle").count() == 1
    assert "接收人" in page.locator(".sign").inner_text()
    page.wait_for_function("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
    _shot(page, "print", full=True)
    page.emulate_media(media="print")
    assert page.locator(".toolbar").is_hidden()


def test_whistle_two_departments_and_one_reports_in(browser, desk):
    number = desk["numbers"]["whistle"]
    page = _page(browser, desk, desk["sup"], f"/desk/cases/{number}")
    assert page.locator("#tasks-card").is_hidden()
    page.click("button[data-act=whistle]")
    boxes = page.locator("#form input[name=units]")
    labels = page.locator("#form .boxes label")
    power = labels.filter(has_text="供电所").locator("input")
    power.check()
    other = next(i for i in range(boxes.count()) if "供电所" not in labels.nth(i).inner_text())
    boxes.nth(other).check()
    page.fill("#f-report", "2")
    _shot(page, "whistle-form")
    page.click("#action-form button[type=submit]")
    page.wait_for_function("document.querySelector('#case-badges .pill').textContent === '已派遣'")
    assert page.locator("#tasks tbody tr").count() == 2
    assert "供电所" in page.locator("#tasks").inner_text()
    dept = _page(browser, desk, desk["dept"], f"/desk/cases/{number}")
    row = dept.locator("#tasks tbody tr", has_text="供电所")
    row.locator("button[data-task-action=report_in]").click()
    dept.click("#action-form button[type=submit]")
    dept.wait_for_selector("#message .ok")
    assert "报到" in dept.locator("#message").inner_text()
    assert dept.locator("#tasks tbody tr", has_text="供电所").locator("button[data-task-action=handle]").count() == 1
    _shot(dept, "whistle-tasks")
    assert page.errors == [] and dept.errors == []


def test_duplicates_compare_and_merge(browser, desk):
    first, again = desk["numbers"]["first"], desk["numbers"]["again"]
    page = _page(browser, desk, desk["sup"], f"/desk/cases/{again}")
    row = page.locator("#duplicates tbody tr", has_text=first)
    assert "路灯闪烁" in row.inner_text()
    row.locator("button[data-compare]").click()
    compare = page.locator("#compare table.compare")
    assert again in compare.inner_text() and first in compare.inner_text()
    assert "这盏路灯一闪一闪" in compare.inner_text() and "路灯闪烁" in compare.inner_text()
    compare.scroll_into_view_if_needed()
    _shot(page, "compare")
    page.locator("#compare button[data-merge]").click()
    assert first in page.locator("#f-dup option:checked").inner_text()
    page.fill("#f-note", "同一盏路灯")
    page.click("#action-form button[type=submit]")
    page.wait_for_function("document.querySelector('#case-badges .pill').textContent === '已合并'")
    assert first in page.locator("#case-badges").inner_text()  # 已合并到 <number>, a link to that case page
    assert page.locator(f"#case-badges a[href^='/desk/cases/{first}']").count() == 1
    assert page.errors == []
