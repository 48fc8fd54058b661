"""``gridpatrol people``: 微网格 (micro-grids) and their 楼栋长, 网格长 (issue 22)."""

from __future__ import annotations

import click

from api.cli.context import Group


@click.group(cls=Group)
def people() -> None:
    """微网格 (micro-grids) and their 楼栋长, 网格长 (issue 22)."""
