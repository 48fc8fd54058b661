"""Who may use the system: ``users add|list|passwd|disable|enable|logout|audit`` and ``apikeys add|list|revoke``
(Open311 clients)."""

from __future__ import annotations

import datetime as dt
import getpass
import sys

import click
from sqlalchemy import select

from api.cli.context import Group, open_database
from patrol.core.auth import KEY_SCOPES, create_api_key, create_user, get_user, revoke_api_key
from patrol.core.db import transaction
from patrol.core.errors import InvalidInput
from patrol.core.logins import failures
from patrol.core.models import ROLES, ApiKey, Grid, Subdistrict, User
from patrol.core.sessions import change_password, revoke_user, set_active
from patrol.people.scope import scope_words

USERS_HEADER = "id\tusername\tname\trole\tcommunity\tsubdistrict\tunit\tgrids\temail\tsimulated\tpost\tscope"


@click.group(cls=Group, help="users and roles")
def users() -> None:
    pass


def _password(username: str, given: str | None, from_stdin: bool) -> str:
    """The password from --password-stdin, --password, or a prompt when a person is at the terminal."""
    if from_stdin:
        given = sys.stdin.readline().rstrip("\n")
    elif given is None and sys.stdin.isatty():
        given = getpass.getpass(f"password for {username}: ")
    if not given:
        raise InvalidInput("give a password: --password, --password-stdin, or type it when asked", field="password")
    return given


@users.command("add", help="add a user (asks for the password when none is given)")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--name", help="display name, e.g. 王芳")
@click.option("--password", help="(visible in the shell history; prefer --password-stdin or the prompt)")
@click.option("--password-stdin", is_flag=True, help="read the password from standard input")
@click.option("--community", help="community code or name (supervisors)")
@click.option("--subdistrict", help="subdistrict (街道) code or name (subdistrict users: every community of it)")
@click.option("--email", help="e-mail address (for notifications)")
@click.option("--unit", type=int, help="responsible unit id (department users)")
@click.option("--grids", help="comma-separated grid codes the worker walks (grid workers)")
@click.option("--lead-grids", help="comma-separated codes of the grids a 网格长 leads (grid leads)")
@click.option("--micro-grid", help="the code of the micro-grid (微网格) a 楼栋长 looks after (building leads)")
@click.option("--post", help="her post in words (职务): 楼栋长, 微网格员, 平安志愿者, 网格长 …")
def users_add(username: str, role: str, name: str | None, password: str | None, password_stdin: bool,
              community: str | None, subdistrict: str | None, email: str | None, unit: int | None,
              grids: str | None, lead_grids: str | None, micro_grid: str | None, post: str | None) -> None:
    sessions = open_database().sessions
    password = _password(username, password, password_stdin)
    codes = [g for g in (grids or "").split(",") if g]
    leads = [g.strip() for g in (lead_grids or "").split(",") if g.strip()]
    with transaction(sessions) as session:
        user = create_user(session, username=username, role=role, password=password, display_name=name,
                           community=community, unit_id=unit, grids=codes, subdistrict=subdistrict, email=email,
                           lead_grids=leads, micro_grid=micro_grid, post=post)
        print(f"added {user.role} {user.username} (id {user.id})" + (f", grids {', '.join(codes)}" if codes else "")
              + (f", leads grids {', '.join(leads)}" if leads else "")
              + (f", micro-grid {micro_grid}" if micro_grid else ""))


@users.command("list", help="list users, one per line under a header row (tab-separated)")
def users_list() -> None:
    sessions = open_database().sessions
    print(USERS_HEADER)
    with sessions() as session:
        subs = dict(session.execute(select(Subdistrict.id, Subdistrict.code)).all())
        for u in session.scalars(select(User).order_by(User.role, User.username)):
            codes = list(session.scalars(select(Grid.code).where(Grid.worker_id == u.id).order_by(Grid.code)))
            print(f"{u.id}\t{u.username}\t{u.display_name}\t{u.role}\t{u.community_id or '-'}"
                  f"\t{subs.get(u.subdistrict_id or -1) or '-'}\t{u.unit_id or '-'}\t{','.join(codes) or '-'}"
                  f"\t{u.email or '-'}\t{'yes' if u.simulated else 'no'}\t{u.post or '-'}"
                  f"\t{scope_words(session, u) or '-'}")


@users.command("set-work-phone", help="the work phone on a grid worker's public card (网格员公示牌); '' clears it")
@click.argument("username")
@click.argument("phone")
def users_set_work_phone(username: str, phone: str) -> None:
    phone = " ".join(phone.split())
    if phone and (len(phone) > 40 or not all(c.isdigit() or c in " +-()" for c in phone)):
        raise InvalidInput(f"not a phone number: {phone!r} (digits, spaces, + - and brackets)", field="phone")
    sessions = open_database().sessions
    with transaction(sessions) as session:
        get_user(session, username).work_phone = phone or None
    print(f"work phone of {username}: {phone or 'none'}")


@click.group(cls=Group, help="Open311 API keys")
def apikeys() -> None:
    pass


@apikeys.command("add", help="create an API key for an Open311 client or a 12345 platform; it is printed only once")
@click.argument("name")
@click.option("--days", type=click.FloatRange(min=0, min_open=True),
              help="refused after this many days (default: GRIDPATROL_API_KEY_DAYS, else never)")
@click.option("--scope", type=click.Choice(KEY_SCOPES), default="open311", show_default=True,
              help="what the key opens: Open311 GeoReport v2, or the 12345 hotline exchange")
def apikeys_add(name: str, days: float | None, scope: str) -> None:
    database = open_database()
    days = days or database.settings.api_key_days
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(days=days) if days else None
    with transaction(database.sessions) as session:
        key = create_api_key(session, name, expires_at=expires, scope=scope)
    print(key)
    what = "Open311" if scope == "open311" else "12345 hotline"
    print(f"(the {what} api_key for {name}; it is shown only now)", file=sys.stderr)


# ------------------------------------------------------------------------------------ sessions and accounts (issue 19)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@users.command("passwd", help="give a user a new password (asks for it when none is given); ends her sessions")
@click.argument("username")
@click.option("--password", help="(visible in the shell history; prefer --password-stdin or the prompt)")
@click.option("--password-stdin", is_flag=True, help="read the password from standard input")
def users_passwd(username: str, password: str | None, password_stdin: bool) -> None:
    sessions = open_database().sessions
    password = _password(username, password, password_stdin)
    with transaction(sessions) as session:
        ended = change_password(session, get_user(session, username), password, now=_now())
    print(f"new password for {username}; {ended} session{'s' * (ended != 1)} ended")


@users.command("disable", help="refuse a user's logins and end her sessions (her records stay)")
@click.argument("username")
def users_disable(username: str) -> None:
    sessions = open_database().sessions
    with transaction(sessions) as session:
        ended = set_active(session, get_user(session, username), False, now=_now())
    print(f"disabled {username}; {ended} session{'s' * (ended != 1)} ended")


@users.command("enable", help="let a disabled user log in again")
@click.argument("username")
def users_enable(username: str) -> None:
    sessions = open_database().sessions
    with transaction(sessions) as session:
        set_active(session, get_user(session, username), True, now=_now())
    print(f"enabled {username}")


@users.command("logout", help="end every login session of a user (her refresh and access tokens stop working)")
@click.argument("username")
def users_logout(username: str) -> None:
    sessions = open_database().sessions
    with transaction(sessions) as session:
        ended = revoke_user(session, get_user(session, username).id, now=_now())
    print(f"{ended} session{'s' * (ended != 1)} of {username} ended")


AUDIT_HEADER = "at (UTC)\tusername\taddress\tresult"


def _since(value: str | None) -> dt.datetime:
    if value is None:
        return _now() - dt.timedelta(days=7)
    try:
        since = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"--since: not an ISO date or time: {value!r} (e.g. 2026-12-01 or 2026-12-01T08:00)",
                           field="since") from None
    return since if since.tzinfo else since.replace(tzinfo=dt.UTC)


@users.command("audit", help="failed logins (user name as typed, client address, why), oldest first; tab-separated")
@click.option("--since", help="ISO date or time, UTC unless it says otherwise (default: 7 days ago)")
@click.option("--all", "everything", is_flag=True, help="successful logins too")
def users_audit(since: str | None, everything: bool) -> None:
    sessions = open_database().sessions
    print(AUDIT_HEADER)
    with sessions() as session:
        for a in failures(session, _since(since), everything=everything):
            print(f"{a.at:%Y-%m-%d %H:%M:%S}\t{a.username}\t{a.address}\t{'ok' if a.ok else a.reason or 'failed'}")


APIKEYS_HEADER = "id\tname\tstate\tcreated\texpires\tlast used"


def _day(when: dt.datetime | None, empty: str = "-") -> str:
    return f"{when:%Y-%m-%d %H:%M}" if when else empty


@apikeys.command("list", help="the API keys (never the keys themselves), one per line under a header row")
def apikeys_list() -> None:
    sessions = open_database().sessions
    now = _now()
    print(APIKEYS_HEADER)
    with sessions() as session:
        for k in session.scalars(select(ApiKey).order_by(ApiKey.id)):
            state = ("revoked" if not k.active else "expired" if k.expires_at and k.expires_at <= now else "active")
            print(f"{k.id}\t{k.name}\t{state}\t{_day(k.created_at)}\t{_day(k.expires_at, 'never')}"
                  f"\t{_day(k.last_used_at, 'never')}")


@apikeys.command("revoke", help="revoke an API key by name or id: its client is refused from now on")
@click.argument("name_or_id")
def apikeys_revoke(name_or_id: str) -> None:
    sessions = open_database().sessions
    with transaction(sessions) as session:
        key = revoke_api_key(session, name_or_id, now=_now())
        print(f"revoked API key {key.id} ({key.name})")
