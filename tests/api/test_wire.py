"""Light on the wire over the real app, on both databases: the big answers (the worker's day, GeoJSON layers, the
coverage map, the dashboard, the desk) come compressed; the phone app's page names its files by hashed URLs that are
served immutable and that its service worker precaches, so it still opens offline; the desk's live counts stay a
stream; an unchanged page costs a 304."""

from __future__ import annotations

import json
import re

import pytest

from maps.fingerprint import IMMUTABLE

pytestmark = pytest.mark.db

BR = {"accept-encoding": "gzip, deflate, br"}


@pytest.mark.parametrize("path, who", [
    ("/api/v1/field/today", "worker_a"), ("/api/v1/buildings", "admin"), ("/maps/coverage", "admin"),
    ("/dashboard", "admin"), ("/desk", "sup")])
def test_the_big_answers_are_compressed(world, path, who):
    packed = world.client.get(path, headers={**world.h(who), **BR})
    assert packed.status_code == 200, packed.text[:300]
    assert packed.headers["content-encoding"] == "br" and "Accept-Encoding" in packed.headers["vary"]
    plain = world.client.get(path, headers={**world.h(who), "accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers
    if path.startswith("/api/"):
        assert packed.json() == plain.json()  # the client decodes it to the same document
    on_wire = int(packed.headers["content-length"])
    assert on_wire < len(plain.content) / 2, (path, on_wire, len(plain.content))
    gz = world.client.get(path, headers={**world.h(who), "accept-encoding": "gzip"})
    assert gz.headers["content-encoding"] == "gzip"


def test_an_unchanged_page_costs_a_304(world):
    first = world.client.get("/desk", headers={**world.h("sup"), **BR})
    again = world.client.get("/desk", headers={**world.h("sup"), **BR, "if-none-match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["content-security-policy"] == first.headers["content-security-policy"]


def test_the_phone_app_asks_for_hashed_immutable_files_that_its_service_worker_keeps(world):
    page = world.client.get("/app/", headers=BR)
    assert page.headers["content-encoding"] == "br" and page.headers["cache-control"] == "no-cache"
    html = page.text
    imports = json.loads(re.search(r'<script type="importmap">(.*?)</script>', html).group(1))["imports"]
    assert {"/app/app.js", "/app/state.js", "/static/js/html.js"} <= set(imports)
    linked = set(re.findall(r'(?:src|href)="(/(?:app|static)/[^"]+\?v=[0-9a-f]{8})"', html))
    assert {u.split("?")[0] for u in linked} >= {"/app/app.js", "/app/app.css",
                                                 "/static/vendor/leaflet-1.9.4/leaflet.js"}
    sw = world.client.get("/app/sw.js", headers=BR)
    shell = json.loads(re.search(r"const SHELL = (\[.*?\]);", sw.text).group(1))
    wanted = linked | set(imports.values())
    assert wanted <= set(shell), sorted(wanted - set(shell))  # offline, every file the page asks for is cached
    for url in sorted(wanted):
        r = world.client.get(url, headers=BR)
        assert r.status_code == 200 and r.headers["cache-control"] == IMMUTABLE, url
        if url.split("?")[0].endswith((".js", ".css")) and len(r.content) >= 1024:
            assert r.headers["content-encoding"] == "br", url
    plain = world.client.get("/app/app.js")
    assert plain.headers["cache-control"] == "no-cache"  # without its hash: revalidated, never kept blindly
    assert world.client.get("/app/app.js", headers={"if-none-match": plain.headers["etag"]}).status_code == 304
    icon = world.client.get(next(u for u in shell if u.startswith("/app/icon-192.png")), headers=BR)
    assert "content-encoding" not in icon.headers and icon.headers["cache-control"] == IMMUTABLE
    for path in ("/api/v1/field/today", "/app/", "/app/sw.js"):  # data and the shell's entry: never for a year
        r = world.client.get(path, headers=world.h("worker_a"))
        assert "immutable" not in r.headers.get("cache-control", ""), path


def test_live_counts_still_stream_when_the_client_accepts_compression(world, monkeypatch):
    monkeypatch.setattr(world.client.app.state.settings, "sse_seconds", 0.5)
    with world.client.stream("GET", "/api/v1/desk/events", headers={**world.h("sup"), **BR}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        assert "content-encoding" not in r.headers  # events are never held by a compressor
        text = "".join(r.iter_text())
    assert "event: counts" in text
