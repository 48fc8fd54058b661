"""The notification bell in a real Chromium: the desk frame (maps/templates/desk_base.html) with bell.js mounted,
served next to the real app (uvicorn over the case-loop world); a dispatch to the user's unit shows as an unread
count, the panel links the case by its number, "全部已读" clears it. Screenshots: test-output/desk/bell-*.png."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from maps.desk.common import frame
from maps.templating import environment
from tests.api.conftest import build_world
from tests.browser.conftest import ARGS, chromium_path, serve

pytestmark = pytest.mark.browser
SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "desk"

PAGE = """{% extends "desk_base.html" %}{% block title %}Bell{% endblock %}
{% block main %}<p>…</p><script>window.GRIDPATROL = {lang: '{{ lang }}', labels: {}};</script>
<script type="module">import { mountBell } from '/static/js/desk/bell.js'; window.bell = mountBell();</script>
{% endblock %}"""


@pytest.fixture(scope="module")
def served(tmp_path_factory, monaco_model):
    with build_world("spatialite", tmp_path_factory.mktemp("bell"), monaco_model) as world, \
            serve(world.settings) as base:
        yield world, base


def open_desk(p: Any, base: str, token: str, lang: str) -> Any:
    browser = p.chromium.launch(executable_path=chromium_path(), args=ARGS)
    context = browser.new_context(bypass_csp=True, viewport={"width": 1366, "height": 768}, locale="zh-CN")
    html = environment().from_string(PAGE).render(**frame(lang, active="desk"))
    context.route(f"{base}/desk-frame?*", lambda route: route.fulfill(body=html, content_type="text/html"))
    context.add_init_script(f"localStorage.setItem('gridpatrol.token', {token!r})")
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto(f"{base}/desk-frame?lang={lang}")
    return page


def test_the_bell_counts_lists_links_and_marks_read(served):
    from playwright.sync_api import sync_playwright

    world, base = served
    r = world.report()
    world.act("sup", r["id"], "register")
    world.act("sup", r["id"], "dispatch", unit_id=world.units[0], note="请今天处理")
    unread = world.client.get("/api/v1/notices/count", headers=world.h("dept1")).json()["unread"]
    assert unread >= 1
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        page = open_desk(p, base, world.tokens["dept1"], "zh")
        page.wait_for_function(f"document.querySelector('#bell .badge')?.textContent === '{unread}'")
        button = page.locator("#bell > button")
        assert "未读" in button.get_attribute("aria-label")
        button.focus()
        page.keyboard.press("Enter")  # the keyboard opens it
        link = page.locator(f"#bell-panel a[href^='/desk/cases/{r['number']}']")
        link.wait_for()
        assert link.get_attribute("href") == f"/desk/cases/{r['number']}?lang=zh"
        assert "新派遣案件" in link.inner_text() and "请今天处理" in page.locator("#bell-panel").inner_text()
        assert page.locator("#bell-panel li.unread").count() >= 1
        page.screenshot(path=str(SHOTS / "bell-open-zh.png"))
        page.keyboard.press("Escape")
        assert page.locator("#bell-panel").is_hidden()
        button.click()
        page.locator("#bell-panel .read-all").click()
        page.wait_for_function("document.querySelector('#bell .badge').hidden")
        page.wait_for_function("!document.querySelector('#bell-panel li.unread')")  # the list refilled: all read
        assert page.locator("#bell-panel li.read").count() >= 1
        assert page.errors == []
        english = open_desk(p, base, world.tokens["dept2"], "en")
        english.wait_for_function("document.querySelector('#bell > button')?.getAttribute('aria-label')")
        assert "unread" in english.locator("#bell > button").get_attribute("aria-label")
        english.locator("#bell > button").click()
        english.locator("#bell-panel li").first.wait_for()
        english.screenshot(path=str(SHOTS / "bell-open-en.png"))
        assert english.errors == []
    assert world.client.get("/api/v1/notices/count", headers=world.h("dept1")).json()["unread"] == 0
