"""The 12345 hotline exchange from the command line (一个门进、一个门出):

- ``gridpatrol hotline import FILE.csv|FILE.xlsx --mapping hotline.yaml`` — work orders in;
- ``gridpatrol hotline export --since … --out FILE`` — the 办理结果 file back;
- ``gridpatrol hotline feedback FILE`` — the hotline's 回访 results as the residents' ratings;
- ``gridpatrol hotline simulate --orders N --out FILE`` — a simulated export (labelled) from the city's addresses.
"""

from __future__ import annotations

from pathlib import Path

import click

from api.cli.context import Group, open_database


@click.group(cls=Group, help="the 12345 hotline's work orders: import, results back, 回访 feedback")
def hotline() -> None:
    pass


@hotline.command("simulate", help="write a SIMULATED 12345 export (labelled 模拟) built from the city's real building "
                                  "addresses with typos, Chinese numerals, extra words and missing numbers")
@click.option("--orders", "n", type=click.IntRange(min=1), required=True, help="how many work orders")
@click.option("--seed", type=int, default=0, show_default=True, help="random seed (same seed, same file)")
@click.option("--noise", type=click.FloatRange(0, 1), default=0.3, show_default=True,
              help="share of orders whose address gets noise")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="FILE.csv or FILE.xlsx")
@click.option("--truth", type=click.Path(dir_okay=False, path_type=Path),
              help="also write 工单编号 → building id (empty: deliberately vague) to this .csv/.xlsx")
def hotline_simulate(n: int, seed: int, noise: float, out: Path, truth: Path | None) -> None:
    from patrol.simulate.hotline import simulated_orders, write_orders, write_truth

    for path, name in ((out, "out"), (truth, "truth")):
        if path is not None and path.suffix.lower() not in (".csv", ".xlsx"):
            raise click.BadParameter(f"{path.name}: write .csv or .xlsx", param_hint=f"--{name}")
    sessions = open_database().sessions
    with sessions() as s:
        rows, known = simulated_orders(s, n, seed=seed, noise=noise)
    write_orders(rows, out)
    if truth is not None:
        write_truth(known, truth)
    vague = sum(1 for v in known.values() if v is None)
    click.echo(f"{len(rows)} simulated orders written to {out} ({vague} deliberately without a house number)")
