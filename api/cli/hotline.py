"""The 12345 hotline exchange from the command line (一个门进、一个门出):

- ``gridpatrol hotline import FILE.csv|FILE.xlsx --mapping hotline.yaml`` — work orders in;
- ``gridpatrol hotline export --since … --out FILE`` — the 办理结果 file back;
- ``gridpatrol hotline feedback FILE`` — the hotline's 回访 results as the residents' ratings;
- ``gridpatrol hotline simulate --orders N --out FILE`` — a simulated export (labelled) from the city's addresses.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from sqlalchemy.orm import Session, sessionmaker

from api.cli.context import Group, open_database
from patrol.core.db import transaction
from patrol.core.errors import ImportFailed, InvalidInput
from patrol.intake.hotline.mapping import load_mapping
from patrol.intake.hotline.orders import REPORT_HEADER, FileResult, import_table
from patrol.intake.hotline.results import import_feedback, result_rows, results
from patrol.intake.hotline.tables import read_table, write_table


@click.group(cls=Group, help="the 12345 hotline's work orders: import, results back, 回访 feedback")
def hotline() -> None:
    pass


class _Refused(Exception):
    """Rolls the import's transaction back: a refused file writes nothing."""


MAPPING_HELP = "the mapping file (YAML; default: the sample shipped, patrol/data/hotline_mapping.yaml)"


def report_path(file: str, report: str | None) -> str:
    """Where the per-row report goes: ``--report``, else next to the file (``orders.csv`` → ``orders.report.csv``)."""
    return report or str(Path(file).with_suffix(".report.csv"))


def _all_or_nothing(sessions: sessionmaker[Session], run: Callable[[Session], FileResult]) -> FileResult:
    """``run`` in one transaction, rolled back when the file was refused (nothing written; be sure of it)."""
    result: FileResult | None = None
    try:
        with transaction(sessions) as session:
            result = run(session)
            if result.refused:
                raise _Refused
    except _Refused:
        pass
    assert result is not None
    return result


def _report(result: FileResult, report: str, what: str) -> None:
    """Write the per-row report (always, also when the file is refused) and say what happened in one line; a
    refused file ends the command non-zero, listing the refused rows."""
    write_table(report, REPORT_HEADER, [r.cells() for r in result.rows])
    counts = ", ".join(f"{n} {k}" for k, n in result.counts().items()) or "no rows"
    where = f"; report: {report}"
    if result.refused:
        bad = [f"row {r.row} ({r.order_no or 'no number'}): {r.why}" for r in result.rows
               if r.result == "refused" and not r.why.startswith("file refused")]
        raise ImportFailed(f"{what} refused, nothing was written ({len(bad)} row(s) refused){where}",
                           field="file", details=bad)
    click.echo(f"{what}: {counts}{where}")


@hotline.command("import", help="import 12345 work orders from a .csv (UTF-8 or GB18030) or .xlsx export: all or "
                                "nothing; re-importing updates by 工单编号. Orders whose address matches one "
                                "building become cases; the others wait in the desk's 待定位 queue.")
@click.argument("file")
@click.option("--mapping", "mapping_path", metavar="YAML", help=MAPPING_HELP)
@click.option("--report", metavar="CSV", help="write the per-row report (row, 工单编号, result, why) here; default: "
                                              "FILE.report.csv next to the file")
def import_orders(file: str, mapping_path: str | None, report: str | None) -> None:
    mapping = load_mapping(mapping_path)
    header, rows = read_table(file)
    settings, _, sessions = open_database()
    result = _all_or_nothing(sessions, lambda session: import_table(session, settings, mapping, header, rows))
    _report(result, report_path(file, report), Path(file).name)


def _day(text: str | None, option: str, zone: ZoneInfo) -> dt.datetime | None:
    if not text:
        return None
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{option} must be a date YYYY-MM-DD, got {text!r}", field=option.lstrip("-")) from None
    return dt.datetime.combine(day, dt.time(), zone).astimezone(dt.UTC)


@hotline.command("export", help="write the 办理结果 file (工单编号, 办理结果, 办结时间, 办理单位, 现场照片) of the "
                                "12345 cases closed from --since (local date) until --until (exclusive)")
@click.option("--since", required=True, metavar="YYYY-MM-DD")
@click.option("--until", metavar="YYYY-MM-DD")
@click.option("--out", required=True, metavar="FILE.csv|FILE.xlsx")
@click.option("--mapping", "mapping_path", metavar="YAML", help=MAPPING_HELP)
def export_results(since: str, until: str | None, out: str, mapping_path: str | None) -> None:
    mapping = load_mapping(mapping_path)
    if Path(out).suffix.lower() not in (".csv", ".xlsx"):
        raise InvalidInput(f"--out {out}: a .csv or .xlsx file is expected", field="out")
    start = _day(since, "--since", mapping.zone)
    assert start is not None
    end = _day(until, "--until", mapping.zone)
    settings, _, sessions = open_database()
    with sessions() as session:
        items = results(session, settings, start, end)
    header, rows = result_rows(mapping, items)
    write_table(out, header, rows)
    click.echo(f"{len(rows)} result(s) written to {out}")


@hotline.command("feedback", help="import the hotline's 回访 results (工单编号, 回访结果 满意/基本满意/不满意, "
                                  "是否解决, 回访时间) as the residents' ratings: 满意 5, 基本满意 4, "
                                  "不满意 2 (reopens the case: 再接单). All or nothing; the same 回访 twice rates "
                                  "once.")
@click.argument("file")
@click.option("--mapping", "mapping_path", metavar="YAML", help=MAPPING_HELP)
@click.option("--report", metavar="CSV", help="write the per-row report (row, 工单编号, result, why) here; default: "
                                              "FILE.report.csv next to the file")
def feedback(file: str, mapping_path: str | None, report: str | None) -> None:
    mapping = load_mapping(mapping_path)
    _, rows = read_table(file)
    settings, _, sessions = open_database()
    result = _all_or_nothing(sessions, lambda session: import_feedback(session, settings, mapping, rows))
    _report(result, report_path(file, report), Path(file).name)


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
