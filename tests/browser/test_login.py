"""The login page in a real Chromium: a wrong password and a throttled user name show the server's message; logging in
sets the login cookie HttpOnly (no script can read it) and keeps the bearer token for the pages' scripts; the log-out
link ends the session on the server and clears both. Screenshots: test-output/maps/login-*.png."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from patrol.simulate.month import DEMO_PASSWORD
from tests.browser.conftest import ARGS, chromium_path, serve, simulated_city

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "maps"


@pytest.fixture(scope="module")
def base(tmp_path_factory, monaco_model) -> Iterator[str]:
    url = f"sqlite:///{tmp_path_factory.mktemp('login') / 'login.db'}"
    settings, engine = simulated_city(url, monaco_model, cases=40)
    with serve(settings) as served:
        yield served
    engine.dispose()


@pytest.fixture
def page(base) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=ARGS)
        context = browser.new_context(bypass_csp=True, viewport={"width": 1366, "height": 768}, locale="zh-CN")
        pg = context.new_page()
        pg.set_default_timeout(20_000)
        yield pg
        browser.close()


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"login-{name}.png"))


def _submit(page: Any, user: str, password: str) -> None:
    page.fill("#u", user)
    page.fill("#p", password)
    page.click("button[type=submit]")


def test_login_sets_an_httponly_cookie_and_logout_ends_the_session(page, base):
    page.goto(f"{base}/dashboard")
    assert "/login" in page.url
    _submit(page, "admin", "not the password!")
    page.wait_for_function("document.getElementById('err').textContent.length > 0")
    assert page.inner_text("#err") == "用户名或密码错误"  # the page's language
    _shot(page, "wrong-password")
    _submit(page, "admin", DEMO_PASSWORD)
    page.wait_for_url(f"{base}/dashboard")
    cookie = next(c for c in page.context.cookies() if c["name"] == "gridpatrol_token")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/"
    assert "gridpatrol_token" not in page.evaluate("document.cookie")  # no script can read it
    token = page.evaluate("localStorage.getItem('gridpatrol.token')")
    assert token == cookie["value"]
    me = httpx.get(f"{base}/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["username"] == "admin"
    # log out from the dashboard's header: back at /login, the session is over on the server, nothing is kept
    page.click("#logout")
    page.wait_for_url(f"{base}/login")
    deadline = time.monotonic() + 10
    while (status := httpx.get(f"{base}/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
           .status_code) == 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert status == 401
    assert page.evaluate("localStorage.getItem('gridpatrol.token')") is None
    assert not [c for c in page.context.cookies() if c["name"] == "gridpatrol_token"]
    page.goto(f"{base}/dashboard")
    assert "/login" in page.url
    # and logging in again right away works (the log-out's answer cannot clear the new cookie)
    _submit(page, "admin", DEMO_PASSWORD)
    page.wait_for_url(f"{base}/dashboard")
    assert [c for c in page.context.cookies() if c["name"] == "gridpatrol_token"]


def test_a_throttled_user_name_is_told_when_to_try_again(page, base):
    page.goto(f"{base}/login?lang=en")
    for i in range(5):  # a name of its own: the other test's admin is not locked out, whatever the order
        _submit(page, "planner-nobody", f"wrong guess {i}!")
        page.wait_for_function("document.getElementById('err').textContent.length > 0")
        assert page.inner_text("#err") == "Wrong user name or password"
        page.evaluate("document.getElementById('err').textContent = ''")
    _submit(page, "planner-nobody", "wrong guess 5!")
    page.wait_for_function("document.getElementById('err').textContent.length > 0")
    assert page.inner_text("#err") == "Too many failed logins; try again in 15 minutes"
    assert "/login" in page.url
    _shot(page, "throttled")
