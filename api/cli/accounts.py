"""Who may use the system: ``users add|list`` and ``apikeys add`` (Open311 clients)."""

from __future__ import annotations

import getpass
import sys

import click
from sqlalchemy import select

from api.cli.context import Group, open_database
from patrol.core.auth import create_api_key, create_user
from patrol.core.db import transaction
from patrol.core.errors import InvalidInput
from patrol.core.models import ROLES, Grid, Subdistrict, User

USERS_HEADER = "id\tusername\tname\trole\tcommunity\tsubdistrict\tunit\tgrids\temail\tsimulated"


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
def users_add(username: str, role: str, name: str | None, password: str | None, password_stdin: bool,
              community: str | None, subdistrict: str | None, email: str | None, unit: int | None,
              grids: str | None) -> None:
    sessions = open_database().sessions
    password = _password(username, password, password_stdin)
    codes = [g for g in (grids or "").split(",") if g]
    with transaction(sessions) as session:
        user = create_user(session, username=username, role=role, password=password, display_name=name,
                           community=community, unit_id=unit, grids=codes, subdistrict=subdistrict, email=email)
        print(f"added {user.role} {user.username} (id {user.id})" + (f", grids {', '.join(codes)}" if codes else ""))


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
                  f"\t{u.email or '-'}\t{'yes' if u.simulated else 'no'}")


@click.group(cls=Group, help="Open311 API keys")
def apikeys() -> None:
    pass


@apikeys.command("add", help="create an API key for an Open311 client; it is printed only once")
@click.argument("name")
def apikeys_add(name: str) -> None:
    sessions = open_database().sessions
    with transaction(sessions) as session:
        key = create_api_key(session, name)
    print(key)
    print(f"(the Open311 api_key for {name}; it is shown only now)", file=sys.stderr)
