"""The ``gridpatrol`` root group: which module holds each command, and how the invocation ends.

Each domain module (city, cases, accounts, plans, surveys, residents, server) is imported only when one of its
commands runs or help lists it, so that ``gridpatrol escalate`` from cron does not load the planning, survey and web
code (importing all of it takes seconds). The domain modules import only :mod:`api.cli.context`; nothing imports
this module but the package, so the CLI modules have no import cycle.

Exit codes: 0 done; 1 a domain error (``gridpatrol: error: …`` and one ``  - …`` line per problem class);
2 a usage error (one ``gridpatrol: error: …`` line naming the command's ``--help``); 130 interrupted.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click
from pydantic import ValidationError

from api.cli.context import CliState, Group
from patrol.core.errors import GridPatrolError

PROG = "gridpatrol"

#: command name → "module:attribute", in the order help lists them (the README's order)
COMMANDS: dict[str, str] = {
    "city": "api.cli.official:city",
    "import": "api.cli.city:import_city",
    "grids": "api.cli.city:grids",
    "export": "api.cli.city:export",
    "buildings": "api.cli.city:buildings",
    "categories": "api.cli.cases:categories",
    "responsibility": "api.cli.cases:responsibility",
    "users": "api.cli.accounts:users",
    "apikeys": "api.cli.accounts:apikeys",
    "escalate": "api.cli.cases:escalate",
    "cases": "api.cli.cases:cases",
    "notify": "api.cli.notify:notify",
    "worker": "api.cli.notify:worker",
    "plans": "api.cli.plans:plans",
    "checklists": "api.cli.surveys:checklists",
    "shops": "api.cli.surveys:shops",
    "residents": "api.cli.residents:residents",
    "hotline": "api.cli.hotline:hotline",
    "stickers": "api.cli.stickers:stickers",
    "people": "api.cli.people:people",
    "volunteers": "api.cli.volunteers:volunteers",
    "meetings": "api.cli.meetings:meetings",
    "mediation": "api.cli.mediation:mediation",
    "assess": "api.cli.assessment:assess",
    "gps": "api.cli.gps:gps",
    "analytics": "api.cli.analytics:analytics",
    "info": "api.cli.city:info",
    "serve": "api.cli.server:serve",
    "demo": "api.cli.server:demo",
    "simulate": "api.cli.simulate:simulate",
    "db": "api.cli.city:db",
    "backup": "api.cli.backup:backup",
    "restore": "api.cli.backup:restore",
}


def usage_line(exc: click.UsageError) -> str:
    """A usage error in one line: what is wrong and where to read the command's options."""
    where = f" (see {exc.ctx.command_path} --help)" if exc.ctx is not None else ""
    message = " ".join(exc.format_message().split()).rstrip(".")  # Click lists a choice's values on lines of their own
    return f"{PROG}: error: {message}{where}"


def print_domain_error(exc: GridPatrolError) -> None:
    print(f"{PROG}: error: {exc.message}", file=sys.stderr)
    for line in exc.details:
        print(f"  - {line}", file=sys.stderr)


class RootGroup(Group):
    """The root group: loads commands lazily and turns every way an invocation can end into an exit code."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, attribute = target.split(":")
        command = getattr(importlib.import_module(module), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{target} is not a Click command")
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:  # e.g. `gridpatrol … list | head`: the reader has all it wanted
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return None

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        """Run one invocation; exit with its code (``standalone_mode``) or return it. Click's runner calls this too,
        so tests through ``CliRunner`` see the same messages and codes as a user."""
        extra.setdefault("obj", CliState())
        code = self._run(args, prog_name or PROG, complete_var, **extra)
        if standalone_mode:
            sys.exit(code)
        return code

    def _run(self, args: Any, prog_name: str, complete_var: str | None, **extra: Any) -> int:
        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as exc:  # a group without its subcommand: show what it has
            print(exc.format_message(), file=sys.stderr)
            return exc.exit_code
        except click.UsageError as exc:
            print(usage_line(exc), file=sys.stderr)
            return exc.exit_code
        except click.ClickException as exc:  # e.g. a file Click could not open
            print(f"{PROG}: error: {exc.format_message()}", file=sys.stderr)
            return exc.exit_code
        except GridPatrolError as exc:
            print_domain_error(exc)
            return 1
        except ValidationError as exc:  # a setting from the environment out of range (GRIDPATROL_…)
            bad = "; ".join(f"GRIDPATROL_{str(e['loc'][0]).upper()}: {e['msg']}" for e in exc.errors() if e["loc"])
            print(f"{PROG}: error: invalid setting {bad or exc}", file=sys.stderr)
            return 1
        except click.Abort:  # Ctrl-C (Click turns KeyboardInterrupt into Abort)
            return 130
        return result if isinstance(result, int) else 0  # Click returns the exit code of --help as an int


@click.group(cls=RootGroup, name=PROG, help="City grid governance (网格化管理).",
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 120})
def cli() -> None:
    pass


def main(argv: list[str] | None = None) -> int:
    """The console script: run ``gridpatrol`` with ``argv`` (default: the process's arguments) → exit code."""
    return cli.main(argv, prog_name=PROG, standalone_mode=False)
