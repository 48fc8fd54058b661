"""The /login page: a user name and password form that posts to ``POST /login``, which answers the tokens and sets
the login cookie (HttpOnly, for page loads); the page keeps the access token in ``localStorage`` for the pages'
scripts (their API writes send it as a bearer token) and goes on to the page the user came from. Opening the page
first ends the session this browser held (the pages' log-out links lead here; ``static/js/login.js``).

Renders only (``templates/login.html``); the routes set and clear the cookie and check ``next``.
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
        "wrong": "用户名或密码错误",
        "throttled": "登录失败次数过多，请 {n} 分钟后再试",
    },
    "en": {
        "title": "gridpatrol log in",
        "user": "User name",
        "password": "Password",
        "submit": "Log in",
        "failed": "Login failed",
        "wrong": "Wrong user name or password",
        "throttled": "Too many failed logins; try again in {n} minutes",
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


def login_page(*, lang: str, next_url: str) -> str:
    """The login page's HTML in ``lang`` (zh or en); ``next_url`` is where the page goes after logging in (only a
    path of this site, :func:`local_path`)."""
    if lang not in LABELS:
        raise ValueError(f"lang must be one of {', '.join(LABELS)}, got {lang!r}")
    return render("login.html", lang=lang, t=LABELS[lang], next=local_path(next_url))
