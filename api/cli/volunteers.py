"""``gridpatrol volunteers``: volunteer teams, 网格服务专员 and 双报到 members (issue 22)."""

from __future__ import annotations

import click

from api.cli.context import Group


@click.group(cls=Group)
def volunteers() -> None:
    """Volunteer teams, 网格服务专员 and 双报到 members (issue 22)."""
