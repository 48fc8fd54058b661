"""The site's own files with hashed URLs (:mod:`maps.fingerprint`): served immutable for a year when the URL carries
the file's current hash, revalidated (ETag → 304) otherwise, and compressed once per version of a file at the
encoders' highest settings (brotli 11, gzip 9: Leaflet's 148 KB become 37 KB) rather than per request; and
:class:`AssetLinks`, the middleware that gives every HTML page those URLs and its import map as it is sent."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from urllib.parse import parse_qs

import anyio.to_thread
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.staticfiles import NotModifiedResponse, StaticFiles

from api.compression import (
    MIN_BYTES,
    ASGIApp,
    Message,
    Receive,
    Scope,
    Send,
    compress,
    compressible,
    header,
    negotiate,
)
from maps.fingerprint import IMMUTABLE, SITE, AssetIndex

REVALIDATE = "no-cache"
"""A file asked for without its hash (or with an old one): the browser keeps it but asks (ETag) before each use."""


def cache_control(url_path: str, query_string: bytes | str, index: AssetIndex = SITE) -> str:
    """:data:`maps.fingerprint.IMMUTABLE` when the query's ``v`` is the file's current hash, else no-cache."""
    if isinstance(query_string, bytes):
        query_string = query_string.decode("latin-1")
    asked = parse_qs(query_string).get("v", [None])[0]
    return IMMUTABLE if asked is not None and asked == index.digest(url_path) else REVALIDATE


@lru_cache(maxsize=256)
def _packed(path: str, mtime_ns: int, size: int, encoding: str) -> bytes:
    return compress(Path(path).read_bytes(), encoding, quality=11 if encoding == "br" else 9)


def encoded(response: Response, scope: Scope) -> Response:
    """A whole file's answer in the encoding the request accepts, compressed once per version of the file; any
    other answer (a range, a 304, an image, a small file) as it is."""
    headers = Headers(scope=scope)
    encoding = negotiate(headers.get("accept-encoding", ""))
    if (not isinstance(response, FileResponse) or response.status_code != 200 or encoding is None
            or scope.get("method") != "GET" or "range" in headers or response.stat_result is None
            or response.stat_result.st_size < MIN_BYTES
            or not compressible((response.media_type or "").partition(";")[0].strip().lower())):
        return response
    stat = response.stat_result
    body = _packed(str(response.path), stat.st_mtime_ns, stat.st_size, encoding)
    kept = {k: v for k, v in response.headers.items() if k not in ("content-length", "etag", "accept-ranges")}
    return Response(body, headers={**kept, "content-encoding": encoding, "etag": f"W/{response.headers['etag']}",
                                   "vary": "Accept-Encoding"})


class HashedStaticFiles(StaticFiles):
    """A folder at ``prefix`` (``maps/static`` at /static/), with the Cache-Control of :func:`cache_control` and
    the compression of :func:`encoded`."""

    def __init__(self, *, directory: Path, prefix: str = "/static/", index: AssetIndex = SITE) -> None:
        super().__init__(directory=directory)
        self.prefix = prefix
        self.index = index

    def file_response(self, full_path, stat_result, scope, status_code: int = 200) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        relative = Path(full_path).resolve().relative_to(Path(str(self.directory)).resolve()).as_posix()
        response.headers["cache-control"] = cache_control(self.prefix + relative, scope.get("query_string", b""),
                                                          self.index)
        return response

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        return await anyio.to_thread.run_sync(encoded, response, scope)


def asset_response(request: Request, path: Path, url_path: str, media_type: str) -> Response:
    """The file ``path`` served at ``url_path`` (a route's own file, such as the phone app's), cached and compressed
    as :class:`HashedStaticFiles` does, with ETag / 304."""
    response = FileResponse(path, media_type=media_type, stat_result=path.stat())
    response.headers["cache-control"] = cache_control(url_path, request.scope.get("query_string", b""))
    asked = Headers(scope=request.scope).get("if-none-match")
    if asked and response.headers["etag"] in [t.strip().removeprefix("W/") for t in asked.split(",")]:
        return NotModifiedResponse(response.headers)
    return encoded(response, request.scope)


class AssetLinks:
    """Rewrites every HTML page as it is sent (:meth:`maps.fingerprint.AssetIndex.rewrite_html`): hashed URLs, an
    import map, module preloads. Sits inside the security headers, which then hash the import map as the page's own
    inline script."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        held: dict[str, object] = {}
        parts: list[bytes] = []

        async def rewriting(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                kind = header(headers, b"content-type") or b""
                if kind.startswith(b"text/html") and header(headers, b"content-encoding") is None:
                    held["start"] = message
                    return
            elif message["type"] == "http.response.body" and "start" in held:
                parts.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                start: Message = held.pop("start")  # type: ignore[assignment]
                text = b"".join(parts).decode("utf-8", "surrogateescape")
                body = SITE.rewrite_html(text).encode("utf-8", "surrogateescape")
                start["headers"] = [(k, v) for k, v in start.get("headers") or [] if k.lower() != b"content-length"]
                start["headers"].append((b"content-length", str(len(body)).encode()))
                await send(start)
                await send({"type": "http.response.body", "body": body, "more_body": False})
                return
            await send(message)

        await self.app(scope, receive, rewriting)
