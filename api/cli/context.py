"""What every ``gridpatrol`` command shares: the global options, the database they open, and the Click classes that
attach those options to every group and command.

Global options are accepted before *and* after the subcommand (``gridpatrol --database URL users list`` and
``gridpatrol users list --database URL``): the root group, every subgroup and every command declare them, and each
occurrence writes into the one :class:`CliState` shared by the whole context chain (the last one given wins).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import click
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from patrol.city.zone import with_city_timezone
from patrol.core.db import make_engine, session_factory
from patrol.core.errors import InvalidInput
from patrol.core.migrate import upgrade
from patrol.core.models import Grid
from patrol.core.settings import Settings, get_settings


@dataclass
class CliState:
    """The global options of one invocation; ``None`` means "not given" (the settings' default applies)."""

    database: str | None = None


class Database(NamedTuple):
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    if value is not None and param.name:
        setattr(ctx.ensure_object(CliState), param.name, value)
    return value


def global_options() -> list[click.Option]:
    """Fresh option objects for one command (Click parameters must not be shared between commands)."""
    return [
        click.Option(["--database"], metavar="URL", expose_value=False, callback=_remember,
                     help="database URL (default: GRIDPATROL_DATABASE_URL or sqlite:///gridpatrol.db); "
                          "accepted before or after the subcommand"),
    ]


class _GlobalOptions(click.Command):
    """What :class:`Command` and :class:`Group` add to Click's: the global options, and usage errors that know their
    command (Click's option parser raises some without one) so that the message can name its ``--help``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params.extend(global_options())

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            if exc.ctx is None:
                exc.ctx = ctx
            raise


class Command(_GlobalOptions):
    """A command that also accepts the global options."""


class Group(_GlobalOptions, click.Group):
    """A group that accepts the global options and makes its commands and subgroups do so too."""

    command_class = Command
    group_class = type  # Click: subgroups are of this same class


def state() -> CliState:
    """The global options given so far in the current invocation."""
    return click.get_current_context().ensure_object(CliState)


def database_url(settings: Settings) -> str:
    return state().database or settings.database_url


def open_database() -> Database:
    """Connect to the database of this invocation and bring its schema up to date (every command migrates first)."""
    settings = get_settings()
    engine = make_engine(database_url(settings), spatialite_library=settings.spatialite_library)
    # closed when the invocation ends, so that in-process runs (tests, Click's runner) leave no connection open
    click.get_current_context().call_on_close(engine.dispose)
    upgrade(engine)
    sessions = session_factory(engine)
    return Database(with_city_timezone(settings, sessions), engine, sessions)


def grid_id_of(session: Session, code: str | None) -> int | None:
    """The id of the grid coded ``code`` (None for no code); an unknown code is an error naming it."""
    if not code:
        return None
    grid_id = session.scalar(select(Grid.id).where(Grid.code == code))
    if grid_id is None:
        raise InvalidInput(f"no grid coded {code!r}", field="grid")
    return grid_id
