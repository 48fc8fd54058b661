"""The /login page: a user name and password form that asks ``/api/v1/auth/token`` for a token, keeps it for
the map pages (``localStorage`` for scripts, a cookie for page loads) and goes on to the page the user came
from.

Renders only (``templates/login.html``); the route decides the cookie's name and lifetime and checks ``next``.
"""

from __future__ import annotations

from maps.templating import render

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


def login_page(*, lang: str, cookie: str, max_age_s: int, next_url: str) -> str:
    """The login page's HTML in ``lang`` (zh or en).

    ``cookie`` names the cookie the token is stored in for ``max_age_s`` seconds; ``next_url`` is where the
    page goes after logging in (the caller makes sure it is a local path: it is written into a script as a
    JSON string, so it cannot break out of it, but it is followed as given).
    """
    if lang not in LABELS:
        raise ValueError(f"lang must be one of {', '.join(LABELS)}, got {lang!r}")
    return render(
        "login.html", lang=lang, t=LABELS[lang], cookie=cookie, max_age=int(max_age_s), next=next_url
    )
