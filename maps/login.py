"""The /login page: a user name and password form that asks ``/api/v1/auth/token`` for a token, keeps it for
the map pages (``localStorage`` for scripts, a cookie for page loads) and goes on to the page the user came
from.

Renders only (``templates/login.html``); the route decides the cookie's name and lifetime and checks ``next``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from maps.templating import render

DEFAULT_NEXT = "/dashboard"

LABELS = {
    "zh": {
        "title": "网格化管理 登录",
        "user": "用户名",
        "password": "密码",
        "submit": "登录",
        "failed": "登录失败",
    },
    "en": {
        "title": "gridpatrol log in",
        "user": "User name",
        "password": "Password",
        "submit": "Log in",
        "failed": "Login failed",
    },
}


def local_path(target: str | None, default: str = DEFAULT_NEXT) -> str:
    """``target`` when it is a path of this site — one ``/`` first, no backslash, no control character or space,
    no scheme or host — else ``default``: after logging in the page goes only there (no open redirect through
    ``/login?next=//evil.example``, ``/\\evil.example`` or ``https://evil.example``; browsers read a backslash as
    a slash and drop tabs and newlines from URLs)."""
    if (not target or not target.startswith("/") or target[1:2] in ("/", "\\") or "\\" in target
            or any(ord(c) < 0x21 or ord(c) == 0x7F for c in target)):
        return default
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else default


def login_page(*, lang: str, cookie: str, max_age_s: int, next_url: str) -> str:
    """The login page's HTML in ``lang`` (zh or en).

    ``cookie`` names the cookie the token is stored in for ``max_age_s`` seconds; ``next_url`` is where the
    page goes after logging in (only a path of this site, :func:`local_path`; it is written into a script as a
    JSON string, so it cannot break out of it).
    """
    if lang not in LABELS:
        raise ValueError(f"lang must be one of {', '.join(LABELS)}, got {lang!r}")
    return render(
        "login.html", lang=lang, t=LABELS[lang], cookie=cookie, max_age=int(max_age_s),
        next=local_path(next_url)
    )
