"""``gridpatrol backup OUT`` and ``gridpatrol restore IN``: a consistent copy of the whole database while the server
runs (SpatiaLite: SQLite's online backup; PostGIS: pg_dump), and the way back (patrol.core.backup)."""

from __future__ import annotations

from pathlib import Path

import click

from api.cli.context import Command, database_url
from patrol.core import backup as bk
from patrol.core.settings import get_settings


@click.command("backup", cls=Command, help="write a backup of the whole database to OUT (the server may keep running)")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
def backup(out: Path) -> None:
    result = bk.backup(database_url(get_settings()), out)
    print(f"backed up the {result.kind} database to {result.path} ({result.bytes / 1e6:.1f} MB)")


@click.command("restore", cls=Command, help="restore the database from a backup file (stop the server first)")
@click.argument("backup_file", metavar="IN", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="replace an existing SpatiaLite file")
def restore(backup_file: Path, force: bool) -> None:
    print(bk.restore(database_url(get_settings()), backup_file, force=force))
