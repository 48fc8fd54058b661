"""``gridpatrol mediation``: 调解 of dispute cases (issue 22)."""

from __future__ import annotations

import click

from api.cli.context import Group


@click.group(cls=Group)
def mediation() -> None:
    """调解 of dispute cases (issue 22)."""
