"""``gridpatrol meetings``: 研判 and 协商议事 meetings (issue 22)."""

from __future__ import annotations

import click

from api.cli.context import Group


@click.group(cls=Group)
def meetings() -> None:
    """研判 and 协商议事 meetings (issue 22)."""
