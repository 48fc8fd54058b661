"""Light on the wire, without a database: the compressing middleware (api/compression.py) on a small ASGI app — what
is compressed and how, that a stream stays a stream (a Server-Sent Event or a CSV chunk reaches the client before the
next one is written), content ETags and 304 — and the content-hashed URLs of maps/fingerprint.py on files of a
temporary folder: a changed file gets a new URL, a page's import map reaches every module it can load."""

from __future__ import annotations

import json
import re
import zlib
from pathlib import Path

import anyio
import brotli
import pytest
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route

from api.compression import Compress, ContentETag, negotiate
from api.middleware import SecurityHeaders
from api.static import HashedStaticFiles
from maps.fingerprint import IMMUTABLE, AssetIndex

BIG = {"rows": [{"name": f"楼栋 {i}", "households": i % 40} for i in range(400)]}
PAGE = "<!doctype html><title>t</title><script>var a = 1;</script>" + "<p>网格</p>" * 500


def _app(gate: dict | None = None) -> Starlette:
    async def events():
        yield "retry: 3000\n\n"
        yield 'event: counts\ndata: {"todo": 3}\n\n'
        await gate["seen"].wait()  # written only after the client has the first event
        yield 'event: counts\ndata: {"todo": 4}\n\n'

    async def rows():
        for i in range(3):
            yield ("id,name\n" if i == 0 else "") + "".join(f"{i}-{n},网格{n}\n" for n in range(300))
            if gate is not None:
                await gate[f"chunk{i}"].wait()

    routes = [
        Route("/big", lambda r: JSONResponse(BIG)),
        Route("/small", lambda r: JSONResponse({"ok": True})),
        Route("/png", lambda r: Response(b"\x89PNG" + bytes(4000), media_type="image/png")),
        Route("/page", lambda r: Response(PAGE, media_type="text/html; charset=utf-8")),
        Route("/events", lambda r: StreamingResponse(events(), media_type="text/event-stream")),
        Route("/export", lambda r: StreamingResponse(rows(), media_type="text/csv; charset=utf-8")),
    ]
    return Starlette(routes=routes)


def _wrapped(app) -> Compress:
    return Compress(ContentETag(SecurityHeaders(app)))


def test_accept_encoding_is_negotiated_with_its_weights():
    assert negotiate("gzip, deflate, br, zstd") == "br"
    assert negotiate("gzip") == "gzip"
    assert negotiate("br;q=0, gzip;q=0.5") == "gzip"
    assert negotiate("*") == "br" and negotiate("*;q=0") is None
    assert negotiate("") is None and negotiate("identity") is None and negotiate("deflate") is None


def test_text_is_compressed_small_and_binary_answers_are_not():
    with TestClient(_wrapped(_app())) as c:
        br = c.get("/big", headers={"accept-encoding": "gzip, br"})
        assert br.headers["content-encoding"] == "br" and br.headers["vary"] == "Accept-Encoding"
        assert br.json() == BIG  # decoded by the client
        raw = c.get("/big", headers={"accept-encoding": "gzip"})
        assert raw.headers["content-encoding"] == "gzip" and raw.json() == BIG
        assert br.headers["etag"].startswith('W/"')  # no longer the exact bytes of the body it was made from
        plain = c.get("/big", headers={"accept-encoding": "identity"})
        assert "content-encoding" not in plain.headers and plain.headers["vary"] == "Accept-Encoding"
        assert int(br.headers["content-length"]) < int(plain.headers["content-length"]) / 4
        small = c.get("/small", headers={"accept-encoding": "br"})
        assert "content-encoding" not in small.headers and small.json() == {"ok": True}
        png = c.get("/png", headers={"accept-encoding": "br"})
        assert "content-encoding" not in png.headers and "vary" not in png.headers and len(png.content) == 4004
        head = c.head("/big", headers={"accept-encoding": "br"})
        assert "content-encoding" not in head.headers


def test_a_page_unchanged_is_answered_304_with_its_own_policy():
    with TestClient(_wrapped(_app())) as c:
        first = c.get("/page", headers={"accept-encoding": "br"})
        policy = first.headers["content-security-policy"]
        assert first.headers["content-encoding"] == "br" and "sha256-" in policy
        again = c.get("/page", headers={"accept-encoding": "br", "if-none-match": first.headers["etag"]})
        assert again.status_code == 304 and again.content == b""
        assert again.headers["content-security-policy"] == policy  # the stored page keeps running its scripts
        other = c.get("/page", headers={"if-none-match": '"something-else"'})
        assert other.status_code == 200 and other.text == PAGE


async def _collect(app, path: str, encoding: str, on_body) -> tuple[dict, list[bytes]]:
    """Calls the ASGI ``app`` for GET ``path``; ``on_body(chunk, n)`` runs as each body message arrives."""
    scope = {"type": "http", "method": "GET", "path": path, "raw_path": path.encode(), "query_string": b"",
             "headers": [(b"accept-encoding", encoding.encode())], "http_version": "1.1", "scheme": "http",
             "server": ("test", 80), "client": ("test", 1), "root_path": "", "app": app}
    start: dict = {}
    bodies: list[bytes] = []

    async def receive():
        await anyio.sleep_forever()

    async def send(message):
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body":
            bodies.append(message.get("body", b""))
            await on_body(message.get("body", b""), len(bodies))

    with anyio.fail_after(10):  # a stream held by the compressor would wait here for ever
        await app(scope, receive, send)
    return start, bodies


def test_server_sent_events_reach_the_client_one_by_one_uncompressed():
    gate = {"seen": anyio.Event()}
    app = _wrapped(_app(gate))

    async def on_body(chunk: bytes, n: int) -> None:
        if b'"todo": 3' in chunk:
            gate["seen"].set()

    async def main():
        return await _collect(app, "/events", "gzip, deflate, br", on_body)

    start, bodies = anyio.run(main)
    headers = dict(start["headers"])
    assert b"content-encoding" not in headers and headers[b"content-type"].startswith(b"text/event-stream")
    assert b'"todo": 3' in bodies[1] and b'"todo": 4' in b"".join(bodies[2:])


@pytest.mark.parametrize("encoding", ["br", "gzip"])
def test_a_streamed_export_is_compressed_as_it_streams(encoding):
    """Each chunk the route writes is flushed through the compressor: the client can read it before the route
    writes the next one (the route waits for that)."""
    gate = {f"chunk{i}": anyio.Event() for i in range(3)}
    app = _wrapped(_app(gate))
    decoder = brotli.Decompressor() if encoding == "br" else zlib.decompressobj(16 + zlib.MAX_WBITS)
    seen: list[str] = []

    async def on_body(chunk: bytes, n: int) -> None:
        text = (decoder.process(chunk) if encoding == "br" else decoder.decompress(chunk)).decode()
        seen.append(text)
        if text:
            gate[f"chunk{len([s for s in seen if s]) - 1}"].set()

    async def main():
        return await _collect(app, "/export", encoding, on_body)

    start, bodies = anyio.run(main)
    assert dict(start["headers"])[b"content-encoding"] == encoding.encode()
    parts = [s for s in seen if s]
    assert len(parts) == 3 and parts[0].startswith("id,name\n0-0,网格0") and parts[2].startswith("2-0,")
    assert sum(map(len, bodies)) < sum(len(p.encode()) for p in parts) / 3


# ------------------------------------------------------------------------------------------ hashed asset URLs


def _site(tmp_path: Path) -> AssetIndex:
    (tmp_path / "js").mkdir()
    (tmp_path / "js" / "html.js").write_text("export const esc = (s) => s;\n")
    (tmp_path / "js" / "api.js").write_text("import { esc } from '/static/js/html.js';\nexport const api = esc;\n")
    (tmp_path / "js" / "page.js").write_text(
        "import {\n  api\n} from './api.js';\nconst later = () => import('./lazy.js');\n")
    (tmp_path / "js" / "lazy.js").write_text("export const lazy = 1;\n")
    (tmp_path / "js" / "classic.js").write_text("var u = new URL('html.js', document.currentScript.src);\n")
    (tmp_path / "site.css").write_text("body { color: #222; }\n" * 100)
    return AssetIndex({"/static/": tmp_path})


def test_a_changed_file_gets_a_new_url(tmp_path):
    site = _site(tmp_path)
    before = site.url("/static/js/html.js")
    assert re.fullmatch(r"/static/js/html\.js\?v=[0-9a-f]{8}", before)
    assert site.url("/static/js/html.js") == before  # stable while the file is
    (tmp_path / "js" / "html.js").write_text("export const esc = (s) => String(s);\n")
    assert site.url("/static/js/html.js") != before
    assert site.url("/static/nothing.js") == "/static/nothing.js"  # unknown files keep their URL
    assert site.url("/static/../../etc/passwd") == "/static/../../etc/passwd"  # never outside the folder


def test_a_page_gets_hashed_links_and_an_import_map_of_everything_its_scripts_reach(tmp_path):
    site = _site(tmp_path)
    page = ('<!doctype html><head><link rel="stylesheet" href="/static/site.css">'
            '<script type="module" src="/static/js/page.js"></script>'
            '<script src="/static/js/classic.js"></script></head><body><a href="/desk">x</a></body>')
    out = site.rewrite_html(page)
    assert f'href="{site.url("/static/site.css")}"' in out and 'href="/desk"' in out
    assert f'src="{site.url("/static/js/page.js")}"' in out and "?v=" in site.url("/static/js/page.js")
    imports = json.loads(re.search(r'<script type="importmap">(.*?)</script>', out).group(1))["imports"]
    # static imports (also multi-line), a dynamic import, a module named in a classic script
    assert imports == {p: site.url(p) for p in
                       ("/static/js/api.js", "/static/js/html.js", "/static/js/lazy.js", "/static/js/page.js")}
    assert out.index('type="importmap"') < out.index('<script type="module"')  # before any module loads
    preloads = re.findall(r'<link rel="modulepreload" href="([^"]+)">', out)
    assert preloads == [site.url("/static/js/api.js"), site.url("/static/js/html.js")]  # not the lazy one
    assert site.rewrite_html(out) == out  # rewriting twice changes nothing
    (tmp_path / "js" / "html.js").write_text("export const esc = (s) => `${s}`;\n")  # a dependency changes
    again = site.rewrite_html(page)
    assert site.url("/static/js/html.js") in again and imports["/static/js/html.js"] not in again
    assert imports["/static/js/api.js"] in again  # the module importing it kept its URL: the map sends it on


def test_hashed_urls_are_immutable_and_plain_ones_revalidated(tmp_path):
    site = _site(tmp_path)
    app = Compress(Starlette(routes=[Mount("/static", HashedStaticFiles(directory=tmp_path, index=site))]))
    with TestClient(app) as c:
        hashed = c.get(site.url("/static/site.css"), headers={"accept-encoding": "gzip"})
        assert hashed.headers["cache-control"] == IMMUTABLE and hashed.headers["content-encoding"] == "gzip"
        assert hashed.text.startswith("body {")  # decoded by the client
        plain = c.get("/static/site.css")
        assert plain.headers["cache-control"] == "no-cache" and plain.headers["etag"]
        assert c.get("/static/site.css", headers={"if-none-match": plain.headers["etag"]}).status_code == 304
        stale = c.get("/static/site.css?v=00000000")
        assert stale.headers["cache-control"] == "no-cache"  # an old hash is never cached for a year
        (tmp_path / "site.css").write_text("body { color: #000; }\n" * 100)
        assert c.get(hashed.url.path + "?" + hashed.url.query.decode()).headers["cache-control"] == "no-cache"


def test_the_service_worker_changes_with_the_hash_of_any_file_it_keeps():
    """A browser installs a new service worker when its bytes change: so a file's new hash is a new worker, which
    precaches the new URL (and drops the old cache)."""
    from maps import field as F

    config = {"lang": "zh", "tiles": None, "datum": "wgs84"}
    old = F.service_worker(config, url=lambda p: f"{p}?v=00000001")
    new = F.service_worker(config, url=lambda p: f"{p}?v=00000002" if p == "/app/texts.js" else f"{p}?v=00000001")
    assert old != new and '"/app/texts.js?v=00000002"' in new and '"/app/app.js?v=00000001"' in new
    assert '"/app/"' in new and '"/app/manifest.webmanifest"' in new  # the page itself: by its plain URL
