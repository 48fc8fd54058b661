"""The 12345 hotline exchange from the command line (一个门进、一个门出):

- ``gridpatrol hotline import FILE.csv|FILE.xlsx --mapping hotline.yaml`` — work orders in;
- ``gridpatrol hotline export --since … --out FILE`` — the 办理结果 file back;
- ``gridpatrol hotline feedback FILE`` — the hotline's 回访 results as the residents' ratings;
- ``gridpatrol hotline simulate --orders N --out FILE`` — a simulated export (labelled) from the city's addresses.
"""

from __future__ import annotations

import click

from api.cli.context import Group


@click.group(cls=Group, help="the 12345 hotline's work orders: import, results back, 回访 feedback")
def hotline() -> None:
    pass
