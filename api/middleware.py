"""Pure ASGI middleware that guards every route before any parsing: a request-body size limit, and the security
headers of every answer.

The body limit counts the bytes of the ``http.request`` messages as the route (or FastAPI's body parsing) reads
them, so an oversized body is refused with 413 ``{"code": "too_large", "field": "body"}`` as soon as its
``Content-Length`` says so — before authentication, before a database transaction is opened — or, for a body
streamed without a length, as soon as the count passes the limit. Most routes take :attr:`Settings.max_body_bytes`;
uploads take more (:func:`body_limits`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.exceptions import HTTPException

from patrol.core.replica import POSITION_COOKIE, POSITION_MAX_AGE_S
from patrol.core.settings import Settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# multipart framing around a photo: boundaries, part headers and the small form fields sent with it
MULTIPART_SLACK = 64 * 1024


def body_limits(settings: Settings) -> list[tuple[re.Pattern[str], int]]:
    """Path patterns → the largest body they accept (the first match wins; every other path: max_body_bytes)."""
    photo = settings.photo_max_bytes + MULTIPART_SLACK
    upload = settings.upload_max_bytes
    return [
        (re.compile(r"^/api/v1/cases/[^/]+/photos$"), photo),
        (re.compile(r"^/api/v1/inspections/[^/]+/photos$"), photo),
        (re.compile(r"^/api/v1/field/self-handled$"), photo + 32_768),  # the after-photo and the report
        (re.compile(r"^/api/v1/plans/[^/]+/upload$"), upload),
        # h5: a resident's report with up to three photos
        (re.compile(r"^/api/v1/public/reports$"), 3 * settings.resident_photo_max_bytes + MULTIPART_SLACK),
        (re.compile(r"^/api/v1/cases/batch$"), upload),
        (re.compile(r"^/api/v1/patrols/[^/]+/fixes$"), upload),
    ]


class BodyTooLarge(HTTPException):
    """Raised while the body is read (FastAPI passes an HTTPException through its body parsing unchanged);
    :func:`api.errors.install_error_handlers` answers it as 413 ``too_large`` on ``body``."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")


def _too_large(limit: int) -> bytes:
    return json.dumps({"code": "too_large", "message": BodyTooLarge(limit).detail, "field": "body",
                       "details": []}).encode()


class BodyLimit:
    """Answers 413 to a request whose body is larger than its route's limit (see the module's docstring)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.default = settings.max_body_bytes
        self.limits = body_limits(settings)

    def limit_for(self, path: str) -> int:
        return next((limit for pattern, limit in self.limits if pattern.match(path)), self.default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope.get("path", ""))
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await _answer_413(send, limit)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await _answer_413(send, limit)


async def _answer_413(send: Send, limit: int) -> None:
    body = _too_large(limit)
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"frame-ancestors 'none'"),
]

_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script\s*>", re.IGNORECASE | re.DOTALL)


def page_policy(body: bytes, *, tile_origins: tuple[str, ...] = (), docs: bool = False) -> str:
    """The Content-Security-Policy of an HTML page: scripts only from this site or inline ones whose SHA-256 is
    listed (each inline script of *this* page, hashed as sent — so an injected script runs nowhere), no plugins, no
    framing, forms and ``<base>`` only to this site, fetches to this site and the basemap's tile servers, images
    also from ``data:``/``blob:`` and any https host (basemap tiles, photos' thumbnails), styles inline allowed
    (Leaflet positions its panes with style attributes)."""
    hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(m).digest()).decode()}'"
                      for m in _INLINE_SCRIPT.findall(body))
    # /docs and /redoc (api/docs_pages.py) take their assets from this site too; ReDoc runs a worker from a blob
    worker = "worker-src 'self' blob:" if docs else "worker-src 'self'"
    tiles = "".join(f" {o}" for o in tile_origins)
    return ("default-src 'self'; "
            f"script-src 'self' {hashes}".rstrip() + "; "
            "style-src 'self' 'unsafe-inline'; "
            f"img-src 'self' data: blob: https:{tiles}; "
            f"connect-src 'self'{tiles}; "
            f"font-src 'self' data:; {worker}; manifest-src 'self'; object-src 'none'; "
            "base-uri 'self'; form-action 'self'; frame-ancestors 'none'")


class SecurityHeaders:
    """Adds :data:`SECURITY_HEADERS` to every HTTP answer (a header the route set itself is kept); an HTML page gets
    the full :func:`page_policy` instead of the bare ``frame-ancestors``, computed from its body (so the page's
    answer is held until its last byte — pages are small; streams such as Server-Sent Events are never HTML)."""

    def __init__(self, app: ASGIApp, tile_origins: tuple[str, ...] = ()) -> None:
        self.app = app
        self.tile_origins = tile_origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        held: dict[str, Any] = {}
        docs = scope.get("path", "") in ("/docs", "/redoc", "/docs/oauth2-redirect")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                kind = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                if kind.startswith(b"text/html"):
                    held["start"], held["body"] = message, []
                    return
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in SECURITY_HEADERS if name not in present]
                message["headers"] = headers
                await send(message)
                return
            if message["type"] == "http.response.body" and "start" in held:
                held["body"].append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                body = b"".join(held["body"])
                start = held.pop("start")
                headers = [(k, v) for k, v in start.get("headers") or [] if k.lower() != b"content-security-policy"]
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in SECURITY_HEADERS
                            if name not in present and name != b"content-security-policy"]
                policy = page_policy(body, tile_origins=self.tile_origins, docs=docs)
                headers.append((b"content-security-policy", policy.encode()))
                start["headers"] = headers
                await send(start)
                await send({"type": "http.response.body", "body": body, "more_body": False})
                return
            await send(message)

        await self.app(scope, receive, with_headers)


class ReadYourWrites:
    """The read replica's web half (:mod:`patrol.core.replica`): a response to a request that wrote carries the
    primary's WAL position after that write as the cookie :data:`POSITION_COOKIE` (HttpOnly, kept
    :data:`POSITION_MAX_AGE_S`), which :func:`api.deps.get_read_session` compares with the replica's replay
    position; a response served by a read session says where it was read (``X-Read-Source``). Installed only when a
    replica is configured. The cookie holds no secret: a forged one can only send its own reads to the primary."""

    def __init__(self, app: ASGIApp, secure: bool | None = None) -> None:
        self.app = app
        self.secure = secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        secure = self.secure if self.secure is not None else scope.get("scheme") == "https"

        async def with_position(message: Message) -> None:
            if message["type"] == "http.response.start":
                state = scope.get("state") or {}
                headers = list(message.get("headers") or [])
                if position := state.get("write_position"):
                    cookie = (f"{POSITION_COOKIE}={position}; Max-Age={POSITION_MAX_AGE_S}; Path=/; HttpOnly; "
                              f"SameSite=Lax{'; Secure' if secure else ''}")
                    headers.append((b"set-cookie", cookie.encode()))
                if source := state.get("read_source"):
                    headers.append((b"x-read-source", source.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_position)
