"""Light on the wire: answers compressed with brotli or gzip, and a content ETag so that a page fetched again unchanged
costs a 304.

:class:`Compress` (the outermost middleware) compresses text — HTML, JSON and GeoJSON, JavaScript, CSS, SVG, CSV,
XML, the web manifest — of at least :data:`MIN_BYTES`, choosing by the request's ``Accept-Encoding`` (brotli first when
the ``brotli`` package is installed, then gzip; ``q=0`` refuses one). Images, archives, GeoPackages and anything the
route already encoded pass untouched, and so does ``text/event-stream``: Server-Sent Events are small messages that
must reach the desk the moment they are written, so they are never held by a compressor. A streamed answer of another
text type is compressed as it streams, each chunk flushed (``Z_SYNC_FLUSH`` / brotli flush), so nothing waits for the
end. Every answer of a compressible type says ``Vary: Accept-Encoding`` (compressed or not, so no cache hands a gzip
body to a client that cannot read it); a compressed answer's ``ETag`` is made weak (``W/"…"``), as it no longer names
the exact bytes. A 206 range, a 304, a HEAD and an answer with ``Cache-Control: no-transform`` are left as they are.

:class:`ContentETag` (inside :class:`Compress`, outside the security headers) gives a buffered ``GET`` answer of those
types with status 200 and no ETag of its own a strong ETag from its body and answers 304 to an ``If-None-Match`` that
names it — with the same headers, the page's Content-Security-Policy included, so the browser's stored copy keeps
working. Bodies of 128 KiB or more are compressed in a worker thread, so one big map page does not stall the server.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio.to_thread

try:  # optional: gzip only without it
    import brotli
except ImportError:  # pragma: no cover - the brotli wheel is a dependency
    brotli = None

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MIN_BYTES = 1024
"""Smaller bodies are sent as they are: the encoding's framing would eat most of the gain."""
THREAD_BYTES = 128 * 1024
BROTLI_QUALITY = 5  # per request: ~5 ms for Leaflet's 148 KB, within 10 % of the slowest setting
GZIP_LEVEL = 6

_TEXT = ("text/",)
_TYPES = frozenset({
    "application/json", "application/geo+json", "application/javascript", "application/manifest+json",
    "application/xml", "application/problem+json", "application/ld+json", "application/schema+json",
    "application/vnd.oai.openapi+json", "image/svg+xml", "application/x-ndjson",
    "application/vnd.mapbox-vector-tile",  # basemap tiles (api/routes/tiles.py): protobuf, names repeat, ~3x smaller
})
_NEVER = frozenset({"text/event-stream"})


def media_type(headers: list[tuple[bytes, bytes]]) -> str:
    kind = next((v for k, v in headers if k.lower() == b"content-type"), b"")
    return kind.decode("latin-1").partition(";")[0].strip().lower()


def compressible(kind: str) -> bool:
    """Whether a body of media type ``kind`` is worth compressing (text; never Server-Sent Events)."""
    if kind in _NEVER:
        return False
    return kind.startswith(_TEXT) or kind in _TYPES or kind.endswith(("+json", "+xml"))


def negotiate(accept_encoding: str) -> str | None:
    """The encoding to answer with for this ``Accept-Encoding``: ``br``, ``gzip`` or None (identity)."""
    offered: dict[str, float] = {}
    for part in accept_encoding.split(","):
        name, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if name:
            offered[name.strip().lower()] = q
    for encoding in (("br", "gzip") if brotli is not None else ("gzip",)):
        q = offered.get(encoding, offered.get("*", 0.0))
        if q > 0:
            return encoding
    return None


class Compressor:
    """One body's compressor: :meth:`chunk` for a part of a stream (flushed, so it can be sent at once),
    :meth:`last` for the end."""

    def __init__(self, encoding: str, *, quality: int | None = None) -> None:
        self.encoding = encoding
        if encoding == "br":
            self._br = brotli.Compressor(quality=BROTLI_QUALITY if quality is None else quality)
        else:
            self._gz = zlib.compressobj(GZIP_LEVEL if quality is None else quality, zlib.DEFLATED, 16 + zlib.MAX_WBITS)

    def chunk(self, data: bytes) -> bytes:
        if self.encoding == "br":
            return self._br.process(data) + self._br.flush()
        return self._gz.compress(data) + self._gz.flush(zlib.Z_SYNC_FLUSH)

    def last(self, data: bytes) -> bytes:
        if self.encoding == "br":
            return self._br.process(data) + self._br.finish()
        return self._gz.compress(data) + self._gz.flush()


def compress(data: bytes, encoding: str, *, quality: int | None = None) -> bytes:
    """``data`` whole in ``encoding`` (``br`` or ``gzip``)."""
    return Compressor(encoding, quality=quality).last(data)


def header(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    return next((v for k, v in headers if k.lower() == name), None)


def add_vary(headers: list[tuple[bytes, bytes]], value: bytes = b"Accept-Encoding") -> list[tuple[bytes, bytes]]:
    vary = header(headers, b"vary")
    if vary is None:
        return [*headers, (b"vary", value)]
    names = {v.strip().lower() for v in vary.split(b",")}
    if value.lower() in names or b"*" in names:
        return headers
    return [(k, v + b", " + value if k.lower() == b"vary" else v) for k, v in headers]


def _weak(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    return [(k, b"W/" + v if k.lower() == b"etag" and not v.startswith(b"W/") else v) for k, v in headers]


def _leave_alone(scope: Scope, message: Message, headers: list[tuple[bytes, bytes]]) -> bool:
    status = message.get("status", 200)
    cache = (header(headers, b"cache-control") or b"").lower()
    return (scope.get("method") == "HEAD" or status < 200 or status in (204, 206, 304)
            or header(headers, b"content-encoding") is not None or b"no-transform" in cache)


class Compress:
    """Compresses answers for the clients that accept it (see the module's docstring)."""

    def __init__(self, app: ASGIApp, *, min_bytes: int = MIN_BYTES) -> None:
        self.app = app
        self.min_bytes = min_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        accept = header(list(scope.get("headers") or []), b"accept-encoding") or b""
        encoding = negotiate(accept.decode("latin-1"))
        state: dict[str, Any] = {"mode": "pass"}

        async def compressing(message: Message) -> None:
            kind = message["type"]
            if kind == "http.response.start":
                headers = list(message.get("headers") or [])
                if not compressible(media_type(headers)):
                    await send(message)
                    return
                message["headers"] = headers = add_vary(headers)
                if encoding is not None and message.get("status") == 304:
                    message["headers"] = _weak(headers)  # as the compressed 200 named it
                if encoding is None or _leave_alone(scope, message, headers):
                    await send(message)
                    return
                state.update(mode="hold", start=message)
                return
            if kind != "http.response.body" or state["mode"] == "pass" or encoding is None:
                await send(message)
                return
            await self._body(message, state, encoding, send)

        await self.app(scope, receive, compressing)

    async def _body(self, message: Message, state: dict[str, Any], encoding: str, send: Send) -> None:
        body, more = message.get("body", b""), message.get("more_body", False)
        if state["mode"] == "hold":  # the first body message decides
            start = state.pop("start")
            headers = start["headers"]
            length = header(headers, b"content-length")
            small = (not more and len(body) < self.min_bytes) or (
                length is not None and length.isdigit() and int(length) < self.min_bytes)
            if small:
                state["mode"] = "pass"
                await send(start)
                await send(message)
                return
            state.update(mode="stream", compressor=Compressor(encoding))
            headers = _weak([(k, v) for k, v in headers if k.lower() != b"content-length"])
            headers.append((b"content-encoding", encoding.encode()))
            if not more:
                out = await self._run(state["compressor"], body, last=True)
                headers.append((b"content-length", str(len(out)).encode()))
                start["headers"] = headers
                await send(start)
                await send({"type": "http.response.body", "body": out, "more_body": False})
                return
            start["headers"] = headers
            await send(start)
        out = await self._run(state["compressor"], body, last=not more)
        await send({"type": "http.response.body", "body": out, "more_body": more})

    @staticmethod
    async def _run(compressor: Compressor, body: bytes, *, last: bool) -> bytes:
        work = compressor.last if last else compressor.chunk
        if len(body) >= THREAD_BYTES:
            return await anyio.to_thread.run_sync(work, body)
        return work(body)


def _matches(if_none_match: bytes, etag: bytes) -> bool:
    """Weak comparison (RFC 9110 §13.1.2), as ``If-None-Match`` asks."""
    bare = etag.removeprefix(b"W/")
    return any(tag.strip() in (b"*", bare) or tag.strip().removeprefix(b"W/") == bare
               for tag in if_none_match.split(b","))


class ContentETag:
    """A strong ETag from the body of a buffered 200 answer to a GET, and 304 when the client has it already."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "GET":
            await self.app(scope, receive, send)
            return
        asked = header(list(scope.get("headers") or []), b"if-none-match")
        held: dict[str, Any] = {}

        async def tagging(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                cache = (header(headers, b"cache-control") or b"").lower()
                if (message.get("status", 200) == 200 and compressible(media_type(headers))
                        and header(headers, b"etag") is None and b"no-store" not in cache):
                    held["start"] = message
                    return
            elif message["type"] == "http.response.body" and "start" in held:
                start = held.pop("start")
                body = message.get("body", b"")
                if message.get("more_body", False):  # a stream: no tag
                    await send(start)
                    await send(message)
                    return
                etag = b'"' + hashlib.sha256(body).hexdigest()[:32].encode() + b'"'
                start["headers"] = [*start["headers"], (b"etag", etag)]
                if asked is not None and _matches(asked, etag):
                    start["status"] = 304
                    start["headers"] = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
                    await send(start)
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                    return
                await send(start)
                await send(message)
                return
            await send(message)

        await self.app(scope, receive, tagging)
