"""The password policy (OWASP ASVS level 2, V2.1): at least 12 characters and at most 128, not one of the most common
passwords (nor one of them with digits or signs added at the end), and not the user name nor containing it.

The common passwords are ``patrol/data/common-passwords.txt``: the 1,000 most common passwords and every one of 12
characters or more among the 20,000 most common, from the list Django ships (``django/contrib/auth/common-
passwords.txt.gz``, itself from Royce Williams' list of the most frequent passwords in the Pwned Passwords set;
Django is © Django Software Foundation and individual contributors, BSD licence). Shorter ones are refused by the
length rule already; they are kept to catch "password" + digits.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from patrol.core.errors import InvalidInput

MIN_LENGTH = 12
MAX_LENGTH = 128
#: a user name this short is only refused as the whole password, not inside one ("li" is in many words)
SHORT_NAME = 3
_TRAILING = "0123456789!@#$%^&*()-_=+.,;:?/ "


@cache
def common_passwords() -> frozenset[str]:
    text = resources.files("patrol").joinpath("data/common-passwords.txt").read_text(encoding="utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip())


def password_problem(password: str, username: str | None = None) -> str | None:
    """Why ``password`` is refused, in one sentence, or None when the policy accepts it."""
    if len(password) < MIN_LENGTH:
        return f"a password needs at least {MIN_LENGTH} characters (a phrase of a few words is easiest to remember)"
    if len(password) > MAX_LENGTH:
        return f"a password may have at most {MAX_LENGTH} characters"
    lowered = password.lower()
    common = common_passwords()
    if lowered in common or lowered.rstrip(_TRAILING) in common or lowered.strip(_TRAILING) in common:
        return "this password is one of the most common ones; choose another"
    name = (username or "").strip().lower()
    if name and (lowered == name or (len(name) >= SHORT_NAME and name in lowered)):
        return "a password may not contain the user name"
    return None


def check_password(password: str, username: str | None = None) -> None:
    """Raise :class:`InvalidInput` on ``password`` when the policy refuses it."""
    problem = password_problem(password, username)
    if problem:
        raise InvalidInput(problem, field="password")
