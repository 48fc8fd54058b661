"""Sessions and accounts on both databases: refresh-token rotation, reuse detection, the absolute lifetime, logout
(API, ``users logout``, disabling a user), access tokens of an ended session refused, login throttling per user name
and per address with 429 + Retry-After, the audit of failures (no passwords), the dummy hash for unknown users, the
password policy, API key expiry / revocation / last use, and the login cookie set by the server.

Each test makes its own users and logs in from an address of its own (``TestClient(..., client=(address, port))``),
so that the throttling counts of one test never reach another's.
"""

from __future__ import annotations

import datetime as dt
import itertools
import uuid

import jwt
import pytest
from argon2 import PasswordHasher
from click.testing import CliRunner, Result
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.cli import cli
from patrol.core import auth
from patrol.core.auth import actor_for_key, create_api_key, create_user
from patrol.core.db import session_factory, transaction
from patrol.core.errors import InvalidInput, TooManyAttempts, Unauthorized
from patrol.core.logins import throttle
from patrol.core.models import ApiKey, LoginAttempt, RefreshToken, User
from patrol.core.passwords import password_problem
from patrol.core.sessions import RefreshReused, rotate, start_session, token_digest
from patrol.core.settings import Settings
from tests.conftest import ENGLISH

PASSWORD = "a long pass phrase 7"
_addresses = itertools.count(1)


def client_from(world, address: str | None = None, **kwargs) -> TestClient:
    """A client of the world's app calling from an address of its own (no lifespan: the world's app runs)."""
    kwargs.setdefault("headers", ENGLISH)
    return TestClient(world.client.app, client=(address or f"10.9.{next(_addresses) % 250}.{uuid.uuid4().int % 250}",
                                                40000), **kwargs)


def new_user(world, role: str = "planner", password: str = PASSWORD) -> str:
    name = f"u{uuid.uuid4().hex[:10]}"
    with transaction(session_factory(world.engine)) as s:
        create_user(s, username=name, role=role, password=password)
    return name


def log_in(client: TestClient, name: str, password: str = PASSWORD, expect: int = 200) -> dict:
    r = client.post("/api/v1/auth/token", data={"username": name, "password": password})
    assert r.status_code == expect, r.text
    return r.json()


def bearer(tokens: dict) -> dict:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def gridpatrol(world, *args: str, stdin: str | None = None) -> Result:
    result = CliRunner().invoke(cli, [*args, "--database", world.url], input=stdin)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def rows(world, model, *where) -> list:
    with session_factory(world.engine)() as s:
        return list(s.scalars(select(model).where(*where)))


# ---------------------------------------------------------------------------------------------- refresh tokens


def test_a_refresh_rotates_the_token_and_only_its_hash_is_stored(world):
    c = client_from(world)
    name = new_user(world)
    first = log_in(c, name)
    assert first["refresh_token"].startswith("rt_")
    r = c.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 200, r.text
    second = r.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert c.get("/api/v1/auth/me", headers=bearer(second)).json()["username"] == name
    old, new = (rows(world, RefreshToken, RefreshToken.token_hash == token_digest(t["refresh_token"]))[0]
                for t in (first, second))
    assert old.family == new.family and old.used_at is not None and old.replaced_by == new.id
    assert new.used_at is None and new.revoked_at is None
    assert new.absolute_expires_at == old.absolute_expires_at  # the session's lifetime does not grow
    stored = rows(world, RefreshToken, RefreshToken.family == old.family)
    assert all(first["refresh_token"] not in str(vars(t)) and second["refresh_token"] not in str(vars(t))
               for t in stored)


def test_a_reused_refresh_token_ends_the_whole_session(world):
    c = client_from(world)
    name = new_user(world)
    first = log_in(c, name)
    given = c.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}).json()
    # the owner moves on (the token given is used): the old one is no lost answer any more
    second = c.post("/api/v1/auth/refresh", json={"refresh_token": given["refresh_token"]}).json()
    reuse = c.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reuse.status_code == 401 and reuse.json()["field"] == "refresh_token"
    assert "used already" in reuse.json()["message"]
    # the thief's copy and the owner's newer token are both dead now, and so is the session's access token
    again = c.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert again.status_code == 401 and "ended" in again.json()["message"]
    me = c.get("/api/v1/auth/me", headers=bearer(second))
    assert me.status_code == 401 and "session has ended" in me.json()["message"]
    assert all(t.revoked_at is not None for t in rows(world, RefreshToken, RefreshToken.user_id == first["user_id"]))
    # another login of the same user is untouched
    other = log_in(c, name)
    assert c.get("/api/v1/auth/me", headers=bearer(other)).status_code == 200


def test_a_refresh_whose_answer_was_lost_is_answered_again_within_the_grace(world):
    """A phone that lost the network while its refresh was answered keeps the used token: presenting it again soon,
    before the token it was given is used, gets that same token (no new one, the session goes on)."""
    c = client_from(world)
    first = log_in(c, new_user(world))
    lost = c.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}).json()
    again = c.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert again.status_code == 200, again.text
    assert again.json()["refresh_token"] == lost["refresh_token"]
    assert c.get("/api/v1/auth/me", headers=bearer(again.json())).status_code == 200
    family = rows(world, RefreshToken, RefreshToken.token_hash == token_digest(first["refresh_token"]))[0].family
    assert len(rows(world, RefreshToken, RefreshToken.family == family)) == 2  # nothing new was issued
    third = c.post("/api/v1/auth/refresh", json={"refresh_token": again.json()["refresh_token"]})
    assert third.status_code == 200
    # after the grace a used token presented again is a reuse: the session ends
    sessions = session_factory(world.engine)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=world.settings.refresh_grace_s + 1)
    with pytest.raises(RefreshReused), transaction(sessions) as s:
        rotate(s, third.json()["refresh_token"], world.settings, now=dt.datetime.now(dt.UTC))
        rotate(s, third.json()["refresh_token"], world.settings, now=later)


def test_of_racing_refreshes_with_one_token_exactly_one_wins(world):
    from concurrent.futures import ThreadPoolExecutor

    c = client_from(world)
    token = log_in(c, new_user(world))["refresh_token"]
    sessions = session_factory(world.engine)

    def attempt(_: int) -> str:
        try:
            with transaction(sessions) as s:
                s.connection(execution_options={"sqlite_immediate": True})
                return rotate(s, token, world.settings, now=dt.datetime.now(dt.UTC)).refresh_token
        except RefreshReused:
            return "reused"

    with ThreadPoolExecutor(6) as pool:
        outcomes = set(pool.map(attempt, range(6)))
    # one successor is issued, and every racer (one client, within the grace) is answered with it: no fork
    assert len(outcomes) == 1 and outcomes.pop().startswith("rt_")
    family = rows(world, RefreshToken, RefreshToken.token_hash == token_digest(token))[0].family
    assert len(rows(world, RefreshToken, RefreshToken.family == family)) == 2


def test_a_session_ends_at_its_absolute_lifetime(world):
    settings = Settings(database_url=world.url, secret_key=world.settings.secret_key, refresh_days=10,
                        session_absolute_days=30)
    name = new_user(world)
    t0 = dt.datetime(2026, 3, 1, 8, tzinfo=dt.UTC)
    sessions = session_factory(world.engine)
    with transaction(sessions) as s:
        token = start_session(s, s.scalars(select(User).where(User.username == name)).one(), settings,
                              now=t0).refresh_token
    used = token
    for day in (9, 18, 27):  # each refresh within the 10 days of the token before
        with transaction(sessions) as s:
            token = rotate(s, token, settings, now=t0 + dt.timedelta(days=day)).refresh_token
    last = rows(world, RefreshToken, RefreshToken.token_hash == token_digest(token))[0]
    assert last.expires_at == t0 + dt.timedelta(days=30)  # not day 37: capped at the session's absolute lifetime
    with pytest.raises(Unauthorized, match="at most 30 days"), transaction(sessions) as s:
        rotate(s, token, settings, now=t0 + dt.timedelta(days=30, minutes=1))
    with pytest.raises(RefreshReused), transaction(sessions) as s:  # a used one is reuse, even past the lifetime
        rotate(s, used, settings, now=t0 + dt.timedelta(days=31))


def test_an_expired_refresh_token_is_refused(world):
    settings = Settings(database_url=world.url, secret_key=world.settings.secret_key, refresh_days=1)
    name = new_user(world)
    t0 = dt.datetime(2026, 3, 1, 8, tzinfo=dt.UTC)
    sessions = session_factory(world.engine)
    with transaction(sessions) as s:
        token = start_session(s, s.scalars(select(User).where(User.username == name)).one(), settings,
                              now=t0).refresh_token
    with pytest.raises(Unauthorized, match="expired"), transaction(sessions) as s:
        rotate(s, token, settings, now=t0 + dt.timedelta(days=1, seconds=1))


# ---------------------------------------------------------------------------------------------- logout


def test_logout_ends_the_session_its_refresh_token_and_the_cookie(world):
    c = client_from(world)
    name = new_user(world)
    tokens, kept = log_in(c, name), log_in(c, name)
    r = c.post("/api/v1/auth/logout", headers=bearer(tokens))
    assert r.status_code == 200 and r.json() == {"ended": 1}
    cleared = r.headers["set-cookie"]
    assert cleared.startswith("gridpatrol_token=") and "Max-Age=0" in cleared and "HttpOnly" in cleared
    assert c.get("/api/v1/auth/me", headers=bearer(tokens)).status_code == 401
    assert c.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).status_code == 401
    assert c.get("/api/v1/auth/me", headers=bearer(kept)).status_code == 200  # her other device is still in
    # logging out with the refresh token alone (an app whose access token expired)
    r = c.post("/api/v1/auth/logout", json={"refresh_token": kept["refresh_token"]})
    assert r.status_code == 200 and r.json() == {"ended": 1}
    assert c.get("/api/v1/auth/me", headers=bearer(kept)).status_code == 401
    assert c.post("/api/v1/auth/logout", json={"refresh_token": "rt_nonsense"}).status_code == 401
    assert c.post("/api/v1/auth/logout").status_code == 401  # neither token


def test_logout_everywhere(world):
    c = client_from(world)
    name = new_user(world)
    phone, desk, laptop = log_in(c, name), log_in(c, name), log_in(c, name)
    r = c.post("/api/v1/auth/logout", headers=bearer(phone), json={"all": True})
    assert r.status_code == 200 and r.json() == {"ended": 3}
    for tokens in (phone, desk, laptop):
        assert c.get("/api/v1/auth/me", headers=bearer(tokens)).status_code == 401
        assert c.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).status_code == 401


def test_an_admin_logs_a_user_out_and_disabling_ends_her_sessions(world):
    c = client_from(world)
    name = new_user(world)
    a, b = log_in(c, name), log_in(c, name)
    r = gridpatrol(world, "users", "logout", name)
    assert r.exit_code == 0 and r.stdout.strip() == f"2 sessions of {name} ended"
    for tokens in (a, b):
        assert c.get("/api/v1/auth/me", headers=bearer(tokens)).status_code == 401
        assert c.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).status_code == 401
    assert gridpatrol(world, "users", "logout", name).stdout.strip() == f"0 sessions of {name} ended"
    unknown = gridpatrol(world, "users", "logout", "nobody-of-that-name")
    assert unknown.exit_code == 1 and "no user 'nobody-of-that-name'" in unknown.stderr
    # disabling: her session ends and she cannot log in; enabled again, she can
    tokens = log_in(c, name)
    r = gridpatrol(world, "users", "disable", name)
    assert r.exit_code == 0 and r.stdout.strip() == f"disabled {name}; 1 session ended"
    assert c.get("/api/v1/auth/me", headers=bearer(tokens)).status_code == 401
    refused = log_in(c, name, expect=401)
    assert refused["message"] == "wrong username or password"  # the same answer as a wrong password
    assert gridpatrol(world, "users", "enable", name).exit_code == 0
    log_in(c, name)


def test_a_new_password_ends_the_sessions_and_follows_the_policy(world):
    c = client_from(world)
    name = new_user(world)
    tokens = log_in(c, name)
    short = gridpatrol(world, "users", "passwd", name, "--password-stdin", stdin="too short\n")
    assert short.exit_code == 1 and short.stderr.strip().count("\n") == 0
    assert "at least 12 characters" in short.stderr
    common = gridpatrol(world, "users", "passwd", name, "--password-stdin", stdin="password123456\n")
    assert common.exit_code == 1 and "most common" in common.stderr
    r = gridpatrol(world, "users", "passwd", name, "--password-stdin", stdin="another long phrase 8\n")
    assert r.exit_code == 0 and r.stdout.strip() == f"new password for {name}; 1 session ended"
    assert c.get("/api/v1/auth/me", headers=bearer(tokens)).status_code == 401
    log_in(c, name, "another long phrase 8")


def test_an_access_token_without_a_session_is_refused(world):
    c = client_from(world)
    uid = world.users["planner"]
    now = dt.datetime.now(dt.UTC)
    bare = jwt.encode({"sub": str(uid), "role": "planner", "kind": "access", "iat": now,
                       "exp": now + dt.timedelta(hours=1)}, world.settings.secret_key, algorithm="HS256")
    r = c.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {bare}"})
    assert r.status_code == 401 and "no login session" in r.json()["message"]
    forged = jwt.encode({"sub": str(uid), "role": "planner", "kind": "access", "sid": "0" * 32, "iat": now,
                         "exp": now + dt.timedelta(hours=1)}, world.settings.secret_key, algorithm="HS256")
    assert c.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {forged}"}).status_code == 401


# ---------------------------------------------------------------------------------------------- throttling


def test_five_failures_lock_the_user_name_with_429_and_retry_after(world):
    name = new_user(world)
    for i in range(5):  # from five addresses: it is the user name that is counted
        log_in(client_from(world), name, f"wrong guess number {i}", expect=401)
    r = client_from(world).post("/api/v1/auth/token", data={"username": name, "password": PASSWORD})
    assert r.status_code == 429, r.text  # even the right password, until the window has passed
    body = r.json()
    assert body["code"] == "too_many_attempts" and body["field"] == "username"
    assert body["message"] == "too many failed logins for this user name; try again in 15 minutes"
    assert 0 < int(r.headers["retry-after"]) <= 15 * 60
    page = client_from(world).post("/login", data={"username": name, "password": PASSWORD})
    assert page.status_code == 429 and "set-cookie" not in page.headers
    # another user is not affected
    log_in(client_from(world), new_user(world))


def test_a_successful_login_resets_the_count_of_its_user_name(world):
    c = client_from(world)
    name = new_user(world)
    for _ in range(4):
        log_in(c, name, "not the password!", expect=401)
    log_in(c, name)
    for _ in range(4):
        log_in(c, name, "not the password!", expect=401)
    log_in(c, name)


def test_twenty_failures_lock_the_address(world):
    c = client_from(world)
    for i in range(20):  # many user names, most of them unknown
        log_in(c, f"guess{i}", "some password 123", expect=401)
    r = c.post("/api/v1/auth/token", data={"username": new_user(world), "password": PASSWORD})
    assert r.status_code == 429 and "from this address" in r.json()["message"]
    assert int(r.headers["retry-after"]) > 0
    log_in(client_from(world), new_user(world))  # another address logs in


def test_retry_after_is_when_the_oldest_counted_failure_leaves_the_window(world):
    settings = Settings(database_url=world.url, login_window_minutes=15, login_max_failures_user=3)
    name, t0 = f"x{uuid.uuid4().hex[:8]}", dt.datetime(2026, 3, 1, 8, tzinfo=dt.UTC)
    sessions = session_factory(world.engine)
    with transaction(sessions) as s:
        for minute in (0, 4, 10):
            s.add(LoginAttempt(at=t0 + dt.timedelta(minutes=minute), username=name, address="192.0.2.1", ok=False))
    with sessions() as s:
        with pytest.raises(TooManyAttempts) as blocked:
            throttle(s, name, "192.0.2.9", settings, now=t0 + dt.timedelta(minutes=12))
        assert blocked.value.retry_after == 3 * 60 and "try again in 3 minutes" in blocked.value.message
        throttle(s, name, "192.0.2.9", settings, now=t0 + dt.timedelta(minutes=15, seconds=1))  # passes


def test_the_audit_records_failures_without_passwords(world):
    address = f"198.51.100.{uuid.uuid4().int % 250}"
    c = client_from(world, address)
    name = new_user(world)
    secret_guess = f"guess-{uuid.uuid4().hex}"
    log_in(c, name, secret_guess, expect=401)
    log_in(c, f"ghost-{uuid.uuid4().hex[:6]}", secret_guess, expect=401)
    log_in(c, name)
    mine = rows(world, LoginAttempt, LoginAttempt.address == address)
    assert [(a.ok, a.reason) for a in sorted(mine, key=lambda a: a.id)] == [
        (False, "wrong_password"), (False, "unknown_user"), (True, None)]
    assert all(secret_guess not in str(vars(a)) and PASSWORD not in str(vars(a)) for a in mine)
    audit = gridpatrol(world, "users", "audit", "--since", (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
                       .isoformat())
    lines = [line for line in audit.stdout.splitlines() if address in line]
    assert audit.exit_code == 0 and audit.stdout.startswith("at (UTC)\tusername\taddress\tresult")
    assert len(lines) == 2 and lines[0].split("\t")[1:] == [name, address, "wrong_password"]
    assert secret_guess not in audit.stdout
    everything = gridpatrol(world, "users", "audit", "--all")
    assert len([line for line in everything.stdout.splitlines() if address in line]) == 3
    bad = gridpatrol(world, "users", "audit", "--since", "yesterday")
    assert bad.exit_code == 1 and "not an ISO date" in bad.stderr


def test_an_unknown_user_costs_a_hash_verification_like_a_wrong_password(world, monkeypatch):
    verified: list[str] = []
    original = PasswordHasher.verify

    def spy(self, hashed, password):
        verified.append(hashed)
        return original(self, hashed, password)

    monkeypatch.setattr(PasswordHasher, "verify", spy)
    c = client_from(world)
    log_in(c, f"nobody-{uuid.uuid4().hex[:6]}", "any password at all", expect=401)
    assert verified == [auth.dummy_hash()]
    name = new_user(world)
    log_in(c, name, "not the password!", expect=401)
    assert len(verified) == 2 and verified[1] != auth.dummy_hash() and verified[1].startswith("$argon2")
    # same answer for both, and for a name no database could hold (a NUL character)
    a = c.post("/api/v1/auth/token", data={"username": "nobody-x1", "password": "x"}).json()
    b = c.post("/api/v1/auth/token", data={"username": name, "password": "x"}).json()
    nul = c.post("/api/v1/auth/token", data={"username": "a\x00b", "password": "x"}).json()
    assert a == b == nul


# ---------------------------------------------------------------------------------------------- password policy


@pytest.mark.parametrize(("password", "username", "problem"), [
    ("demo-pass-2026", "admin", None),
    ("correct horse 1", "worker_a", None),
    ("短密码也要十二个字符才行呢", "li", None),  # 13 characters
    ("elevenchars", "li", "at least 12 characters"),
    ("x" * 129, "li", "at most 128"),
    ("password1234", "li", "most common"),
    ("Qwerty123456", "li", "most common"),
    ("1q2w3e4r5t6y", "li", "most common"),
    ("iloveyou!!2026", "li", "most common"),  # a common one with digits and signs added
    ("wangfang-2026-pw", "wangfang", "user name"),
    ("wangfang", "wangfang", "at least 12"),
])
def test_the_password_policy(password, username, problem):
    found = password_problem(password, username)
    assert (found is None) if problem is None else (problem in found), found


def test_create_user_applies_the_policy(world):
    with pytest.raises(InvalidInput) as refused, transaction(session_factory(world.engine)) as s:
        create_user(s, username="shorty", role="planner", password="short pw")
    assert refused.value.field == "password" and "12 characters" in refused.value.message
    r = gridpatrol(world, "users", "add", "lisi2026", "--role", "planner", "--password", "lisi2026-secret-pw")
    assert r.exit_code == 1 and "user name" in r.stderr and not rows(world, User, User.username == "lisi2026")


# ---------------------------------------------------------------------------------------------- API keys


def _open311(world, key: str) -> dict:
    return {"api_key": key, "service_code": "C0103", "lat": world.point_a[1], "long": world.point_a[0],
            "client_id": str(uuid.uuid4())}


def test_api_keys_expire_and_are_revoked(world):
    c = client_from(world)
    name = f"hotline {uuid.uuid4().hex[:6]}"
    past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    with transaction(session_factory(world.engine)) as s:
        live, expired = create_api_key(s, name), create_api_key(s, f"{name} old", expires_at=past)
    assert c.post("/open311/v2/requests.json", data=_open311(world, live)).status_code == 201
    r = c.post("/open311/v2/requests.json", data=_open311(world, expired))
    assert r.status_code == 401 and "expired" in r.text
    revoked = gridpatrol(world, "apikeys", "revoke", name)
    assert revoked.exit_code == 0 and revoked.stdout.startswith("revoked API key ")
    r = c.post("/open311/v2/requests.json", data=_open311(world, live))
    assert r.status_code == 401 and "revoked" in r.text
    listed = gridpatrol(world, "apikeys", "list").stdout.splitlines()
    assert listed[0] == "id\tname\tstate\tcreated\texpires\tlast used"
    mine = {line.split("\t")[1]: line.split("\t") for line in listed[1:] if name in line}
    assert mine[name][2] == "revoked" and mine[name][5] != "never"  # used once before it was revoked
    assert mine[f"{name} old"][2] == "expired" and mine[f"{name} old"][5] == "never"
    assert gridpatrol(world, "apikeys", "revoke", "no such key").exit_code == 1
    days = gridpatrol(world, "apikeys", "add", f"{name} short", "--days", "7")
    assert days.exit_code == 0 and days.stdout.startswith("gp_")
    key = rows(world, ApiKey, ApiKey.name == f"{name} short")[0]
    assert dt.timedelta(days=6.9) < key.expires_at - dt.datetime.now(dt.UTC) <= dt.timedelta(days=7)


def test_the_last_use_of_a_key_is_written_at_most_once_a_minute(world):
    sessions = session_factory(world.engine)
    t0 = dt.datetime(2026, 3, 1, 8, tzinfo=dt.UTC)
    with transaction(sessions) as s:
        key = create_api_key(s, f"app {uuid.uuid4().hex[:6]}")
    seen = []
    for seconds in (0, 30, 59, 60, 90):
        with transaction(sessions) as s:
            actor = actor_for_key(s, key, now=t0 + dt.timedelta(seconds=seconds))
        seen.append(rows(world, ApiKey, ApiKey.id == actor.api_key_id)[0].last_used_at)
    at = [t0, t0, t0, t0 + dt.timedelta(seconds=60), t0 + dt.timedelta(seconds=60)]
    assert seen == at


# ---------------------------------------------------------------------------------------------- the login cookie


def test_the_page_login_sets_an_httponly_cookie_and_the_login_page_clears_it(world):
    c = client_from(world)
    name = new_user(world)
    r = c.post("/login", data={"username": name, "password": PASSWORD})
    assert r.status_code == 200 and r.json()["access_token"] and r.json()["refresh_token"].startswith("rt_")
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"gridpatrol_token={r.json()['access_token']};")
    for part in ("HttpOnly", "Path=/", "SameSite=lax", f"Max-Age={int(world.settings.token_hours * 3600)}"):
        assert part in cookie, cookie
    assert "Secure" not in cookie  # plain http
    assert c.get("/dashboard", follow_redirects=False).status_code == 200  # the cookie opens the pages
    page = c.get("/login")
    assert page.status_code == 200 and "Max-Age=0" in page.headers["set-cookie"]
    assert "gridpatrol_token" not in page.text.split("<script")[-1]  # no script writes the cookie
    assert c.get("/dashboard", follow_redirects=False).status_code == 303
    wrong = c.post("/login", data={"username": name, "password": "wrong password!"})
    assert wrong.status_code == 401 and "set-cookie" not in wrong.headers


def test_the_cookie_is_secure_over_https(world):
    name = new_user(world)
    over_tls = client_from(world, base_url="https://testserver")
    r = over_tls.post("/login", data={"username": name, "password": PASSWORD})
    assert r.status_code == 200 and "Secure" in r.headers["set-cookie"]
