"""The desk's queues (/desk) in Chromium over the demo city: a supervisor logs in, sees her tabs with count badges,
registers two reported cases in bulk and sees them move to 待派遣 with the badges updated without a reload; the
keyboard moves between tabs; the English page; a grid worker is sent to her phone app. Screenshots at 1366×768 go to
test-output/desk/queues-*.png."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from patrol.cases import service as svc
from patrol.core.auth import SYSTEM
from patrol.core.db import session_factory, transaction
from patrol.core.frames import read_frame
from patrol.core.models import Case, Community, Grid, User
from patrol.simulate.month import DEMO_PASSWORD
from tests.browser.conftest import ARGS, chromium_path, serve, simulated_city

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "desk"


@pytest.fixture(scope="module")
def desk(tmp_path_factory, monaco_model) -> Iterator[dict[str, Any]]:
    """The demo city served, with two fresh reported cases in a community that has a supervisor."""
    url = f"sqlite:///{tmp_path_factory.mktemp('desk') / 'desk.db'}"
    settings, engine = simulated_city(url, monaco_model, sse_seconds=20)
    with transaction(session_factory(engine)) as s:
        sup = s.scalars(select(User).where(User.role == "supervisor", User.simulated).order_by(User.username)).first()
        grid = s.scalars(select(Grid).where(Grid.community_id == sup.community_id).order_by(Grid.code)).first()
        worker = s.scalar(select(User.username).where(User.id == grid.worker_id))
        point = read_frame(s, [Grid.id], Grid.geom, where=[Grid.id == grid.id]).geometry.iloc[0].representative_point()
        numbers = [svc.create_case(s, SYSTEM, settings, client_id=None, category="C0103", lon=point.x, lat=point.y,
                                   address=f"测试楼 {i} 号").case.number for i in (1, 2)]
        community = s.get(Community, sup.community_id).name
        username = sup.username
    with serve(settings) as base:
        yield {"base": base, "engine": engine, "settings": settings, "sup": username, "worker": worker,
               "numbers": numbers, "community_id": sup.community_id, "community": community}
    engine.dispose()


@pytest.fixture(scope="module")
def page(desk) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    base = desk["base"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=ARGS)
        context = browser.new_context(bypass_csp=True, viewport={"width": 1366, "height": 768}, locale="zh-CN")
        context.route("**/*", lambda r: r.continue_() if r.request.url.startswith(base) else r.abort())
        pg = context.new_page()
        pg.set_default_timeout(20_000)
        pg.errors = []
        pg.on("pageerror", lambda e: pg.errors.append(str(e)))
        yield pg
        browser.close()


def _login(page: Any, base: str, user: str, target: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}{target}")
    assert "/login" in page.url
    page.fill("#u", user)
    page.fill("#p", DEMO_PASSWORD)
    page.click("button[type=submit]")


def _open(page: Any, desk: dict, target: str) -> None:
    """Log in as the supervisor (the tests may run in any order), open ``target`` and wait for the queues."""
    _login(page, desk["base"], desk["sup"], target)
    page.wait_for_url(f"{desk['base']}{target}")
    page.wait_for_function("window.gridpatrolDesk && window.gridpatrolDesk.ready")


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"queues-{name}.png"))


def _badge(page: Any, queue: str) -> int:
    return int(page.text_content(f'[data-count="{queue}"]'))


def _count(desk, status: str) -> int:
    with transaction(session_factory(desk["engine"])) as s:
        return s.scalar(select(func.count(Case.id)).where(Case.community_id == desk["community_id"],
                                                          Case.status == status))


def test_supervisor_registers_two_cases_in_bulk(page, desk):
    _open(page, desk, "/desk")
    tabs = page.locator("[role=tab]")
    assert tabs.count() == 11  # 8 of the loop, and 研判's 待研判 / 重难点 / 信访
    assert "待立案" in tabs.first.text_content()
    reported = _count(desk, "reported")
    assert _badge(page, "to_register") == reported >= 2
    page.click("#tab-to_register")
    page.wait_for_function("document.querySelector('#tab-to_register').getAttribute('aria-selected') === 'true'")
    for number in desk["numbers"]:
        page.wait_for_selector(f'a:text-is("{number}")')
        assert page.get_attribute(f'a:text-is("{number}")', "href") == f"/desk/cases/{number}?lang=zh"
    _shot(page, "supervisor")
    page.evaluate("window.__noReload = true")
    to_dispatch = _badge(page, "to_dispatch")
    for number in desk["numbers"]:
        page.check(f'input[aria-label="选择案件 {number}"]')
    assert "已选 2 件" in page.text_content("#bulkbar")
    assert page.locator("[data-bulk]").all_text_contents() == ["立案", "不予立案"]
    page.click('[data-bulk="register"]')
    page.wait_for_selector(".results li.ok")
    assert page.locator(".results li.ok").count() == 2 and page.locator(".results li.refused").count() == 0
    page.wait_for_function(f"Number(document.querySelector('[data-count=to_register]').textContent) === {reported - 2}")
    assert _badge(page, "to_dispatch") == to_dispatch + 2
    for number in desk["numbers"]:  # gone from the table (the results above it still name them)
        page.wait_for_selector(f'#table a:text-is("{number}")', state="detached")
    assert page.evaluate("window.__noReload") is True  # the same page: updated without a reload
    _shot(page, "bulk-register")
    page.click("#tab-to_dispatch")
    for number in desk["numbers"]:
        page.wait_for_selector(f'a:text-is("{number}")')
    assert "自动派遣" in page.text_content("#bulkbar")
    # the keyboard: arrow keys move between tabs
    page.focus("#tab-to_dispatch")
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.id") == "tab-returned"
    assert page.get_attribute("#tab-returned", "aria-selected") == "true"
    page.wait_for_selector(".empty, table")
    assert not page.errors, page.errors


def _report(desk) -> str:
    """A case reported in the supervisor's community by someone else: its number."""
    with transaction(session_factory(desk["engine"])) as s:
        grid = s.scalars(select(Grid).where(Grid.community_id == desk["community_id"])).first()
        point = read_frame(s, [Grid.id], Grid.geom, where=[Grid.id == grid.id]).geometry.iloc[0].representative_point()
        return svc.create_case(s, SYSTEM, desk["settings"], client_id=None, category="C0103",
                               lon=point.x, lat=point.y).case.number


def test_reject_needs_a_reason_and_badges_follow_other_users(page, desk):
    _open(page, desk, "/desk?tab=to_register")
    before = _badge(page, "to_register")
    # a case reported elsewhere (another user) shows up in the badge through the live stream
    number = _report(desk)
    page.wait_for_function(f"Number(document.querySelector('[data-count=to_register]').textContent) === {before + 1}",
                           timeout=15_000)
    page.wait_for_selector(f'a:text-is("{number}")')
    page.check(f'input[aria-label="选择案件 {number}"]')
    page.click('[data-bulk="reject"]')
    assert "不予立案须填写原因" in page.text_content("#results")
    page.fill("#reject-note", "重复上报")
    page.click('[data-bulk="reject"]')
    page.wait_for_selector(".results li.ok")
    page.wait_for_function(f"Number(document.querySelector('[data-count=to_register]').textContent) === {before}")
    assert _count(desk, "rejected") >= 1


def test_english_page(page, desk):
    number = _report(desk)
    _open(page, desk, "/desk?lang=en&tab=to_register")
    assert page.text_content("#tab-to_register").strip().startswith("To register")
    page.wait_for_selector(f'a:text-is("{number}")')
    assert page.get_attribute(f'a:text-is("{number}")', "href") == f"/desk/cases/{number}?lang=en"
    assert page.locator("[data-bulk]").all_text_contents() == ["Register", "Reject"]
    assert "Reported" in page.text_content("#table")
    assert page.get_attribute("html", "lang") == "en"
    _shot(page, "en")
    page.click("#tab-to_close")
    page.wait_for_selector(".empty, table")
    if page.locator(".empty").count():
        assert "verified on site" in page.text_content(".empty")


def test_grid_worker_is_sent_to_the_phone_app(page, desk):
    base = desk["base"]
    _login(page, base, desk["worker"], "/desk")
    page.wait_for_url(f"{base}/app/")


def test_supervisor_prints_cards_and_stickers_of_her_grid(page, desk):
    """打印二维码 on the desk: the dialog, a PDF of her grid worker's card, an SVG sheet of the grid's buildings seen
    as a printed page (readable Chinese, QR codes at least 25 mm wide: 94 px at 96 px per inch)."""
    with transaction(session_factory(desk["engine"])) as s:
        code = s.scalar(select(Grid.code).where(Grid.community_id == desk["community_id"]).order_by(Grid.code))
    _open(page, desk, "/desk")
    page.click("#print-qr")
    page.wait_for_selector("#sticker-dialog[open]")
    assert [o.strip() for o in page.locator("#sticker-dialog select[name=kind] option").all_text_contents()] == [
        "楼栋二维码（每栋一张）", "网格二维码（每个网格一张）", "网格员公示牌"]
    page.select_option("#sticker-dialog select[name=kind]", "cards")
    page.select_option("#sticker-dialog select[name=scope]", f"grid={code}")
    _shot(page, "print-dialog")
    with page.expect_download() as pdf:
        page.click('#sticker-dialog button[value="download"]')
    assert pdf.value.suggested_filename == f"stickers-cards-{code}.pdf"
    assert Path(pdf.value.path()).read_bytes()[:5] == b"%PDF-"
    page.wait_for_function("document.querySelector('.sticker-status').textContent.includes('已下载')")
    page.select_option("#sticker-dialog select[name=kind]", "buildings")
    page.check('#sticker-dialog input[value="svg"]')
    with page.expect_download() as svg:
        page.click('#sticker-dialog button[value="download"]')
    data = Path(svg.value.path()).read_bytes()
    if svg.value.suggested_filename.endswith(".zip"):  # more than one page: the first one
        import io
        import zipfile

        data = zipfile.ZipFile(io.BytesIO(data)).read("page-01.svg")
    assert not page.errors, page.errors
    sheet = page.context.new_page()
    sheet.set_viewport_size({"width": 800, "height": 1130})
    sheet.set_content(f"<!doctype html><body style='margin:0'>{data.decode('utf-8').split('?>', 1)[1]}</body>")
    boxes = [b for b in (g.bounding_box() for g in sheet.locator("g.qr").all()) if b]
    assert boxes and min(b["width"] for b in boxes) >= 94
    assert sheet.locator("text", has_text="扫码反映问题").count() == len(boxes)
    sheet.screenshot(path=str(SHOTS / "stickers-svg-page.png"))
    sheet.close()
