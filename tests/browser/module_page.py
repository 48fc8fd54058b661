"""A Chromium page that imports the repository's ES modules without a server: requests to http://modules.test/ are
answered from maps/field (``/app/…``) and maps/static (``/static/…``), so a test can ``import()`` any module the
pages use and call its functions with ``page.evaluate``. Used by the JavaScript parity tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.browser.conftest import ARGS, chromium_path

ROOT = Path(__file__).resolve().parents[2]
ORIGIN = "http://modules.test"
_DIRS = {"/app/": ROOT / "maps" / "field", "/static/": ROOT / "maps" / "static"}


def _answer(route) -> None:
    path = route.request.url.removeprefix(ORIGIN).split("?")[0]
    if path == "/":
        route.fulfill(status=200, content_type="text/html", body="<!doctype html><title>modules</title>")
        return
    for prefix, folder in _DIRS.items():
        file = folder / path.removeprefix(prefix)
        if path.startswith(prefix) and file.is_file() and folder in file.resolve().parents:
            route.fulfill(status=200, content_type="text/javascript; charset=utf-8", body=file.read_text("utf-8"))
            return
    route.fulfill(status=404, body="not found")


@contextmanager
def module_page() -> Iterator:
    """Yields a blank page at http://modules.test/ whose ``errors`` collects its JavaScript errors."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=ARGS)
        page = browser.new_page()
        page.errors = []
        page.on("pageerror", lambda e: page.errors.append(str(e)))
        page.route(f"{ORIGIN}/**", _answer)
        page.goto(f"{ORIGIN}/")
        try:
            yield page
        finally:
            browser.close()
