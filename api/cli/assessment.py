"""``gridpatrol assess``: 考核 scorecards and the 月报 (issue 22)."""

from __future__ import annotations

import click

from api.cli.context import Group


@click.group(cls=Group)
def assess() -> None:
    """考核 scorecards and the 月报 (issue 22)."""
