"""``gridpatrol assess``: 考核 scorecards and the 月报 (issue 22).

    gridpatrol assess scorecard [--month YYYY-MM] [--by worker|grid|community|grid_lead] [--community C]
                                [--subdistrict S] [--rules FILE] [--format table|csv]
    gridpatrol assess report (--community C | --subdistrict S) [--month YYYY-MM] --out FILE.xlsx
    gridpatrol assess rules check FILE       every problem of a 考核细则, or "ok" with its items
    gridpatrol assess rules show             the rules in force (the setting or the sample)
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import click

from api.cli.context import Group, open_database
from patrol.analytics import monthly_report as MR
from patrol.analytics import scorecard as SC
from patrol.analytics.scorecard_export import table
from patrol.analytics.scorecard_rules import load_rules
from patrol.core.auth import SYSTEM
from patrol.core.errors import InvalidInput


@click.group(cls=Group)
def assess() -> None:
    """考核 scorecards and the 月报 (issue 22)."""


@assess.command("scorecard", help="the month's scorecards ranked (a table, or CSV with --format csv)")
@click.option("--month", metavar="YYYY-MM", help="the month (default: this month, so far)")
@click.option("--by", type=click.Choice(SC.BY), default="worker", show_default=True)
@click.option("--community", metavar="CODE|NAME", help="only this community")
@click.option("--subdistrict", metavar="CODE|NAME", help="only this subdistrict (街道)")
@click.option("--rules", "rules_file", metavar="FILE", help="score by this 考核细则 (YAML) instead of the setting's")
@click.option("--format", "fmt", type=click.Choice(["table", "csv"]), default="table", show_default=True)
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
def scorecard(month: str | None, by: str, community: str | None, subdistrict: str | None, rules_file: str | None,
              fmt: str, lang: str) -> None:
    db = open_database()
    rules = SC.rules_for(db.settings, rules_file)
    with db.sessions() as session:
        out = SC.scorecards(session, SYSTEM, db.settings, month=month, by=by, community=community,
                            subdistrict=subdistrict, rules=rules, trend=False)
    head, rows = table(out, lang)
    if fmt == "csv":
        w = csv.writer(sys.stdout)
        w.writerow(head)
        w.writerows(rows)
        return
    if not rows:
        print(f"{out['month']}: nobody to assess (no grid has a grid worker or grid lead here)")
        return
    print(f"{out['rules']['name'][lang]} · {out['month']} (as of {out['as_of']}) · by {by}")
    short = [head[0], head[1], head[2], *head[-3:]]
    widths = [max(len(str(x)) for x in col) for col in zip(short, *[[r[0], r[1], r[2], *r[-3:]] for r in rows],
                                                          strict=True)]
    print("  ".join(str(h).ljust(w) for h, w in zip(short, widths, strict=True)))
    for r in rows:
        cells = [r[0], r[1], r[2], *r[-3:]]
        print("  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip())


@assess.command("report", help="the 月报 of a community or a subdistrict as an Excel workbook")
@click.option("--community", metavar="CODE|NAME")
@click.option("--subdistrict", metavar="CODE|NAME")
@click.option("--month", metavar="YYYY-MM", help="the month (default: this month, so far)")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="the .xlsx file to write")
def report(community: str | None, subdistrict: str | None, month: str | None, out_path: Path) -> None:
    if out_path.suffix.lower() != ".xlsx":
        raise InvalidInput(f"--out must name an .xlsx file, got {out_path.name}", field="out")
    db = open_database()
    with db.sessions() as session:
        data = MR.monthly_report(session, SYSTEM, db.settings, month=month, community=community,
                                 subdistrict=subdistrict)
    out_path.write_bytes(MR.workbook_bytes(data))
    print(f"{out_path}: 月报 {data['scope']['name']} {data['month']} — {len(data['workers'])} workers, "
          f"{len(data['grids'])} grids, {len(data['overdue'])} overdue cases")


@assess.group("rules", cls=Group, help="the 考核细则 (YAML): check a file, show the rules in force")
def rules_group() -> None:
    pass


@rules_group.command("check", help="check a 考核细则 file: every problem, or ok")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def rules_check(path: Path) -> None:
    rules = load_rules(path)  # a bad file: every problem on a line of its own, exit 1
    print(f"{path}: ok — {len(rules.items)} items, {rules.max_points:g} points; 优秀 ≥ {rules.excellent:g}"
          f"{'' if rules.excellent_top is None else f' (top {rules.excellent_top})'}, 合格 ≥ {rules.passing:g}")


@rules_group.command("show", help="the rules in force: the setting's file or the sample shipped")
def rules_show() -> None:
    db = open_database()
    rules = SC.rules_for(db.settings)
    print(f"{rules.name_zh} ({rules.source})")
    for it in rules.items:
        how = (f"target {it.target:g}{' pro-rated' if it.prorate else ''}" if it.type == "target"
               else f"linear {it.zero:g} → {it.full:g}")
        print(f"  {it.id}\t{it.weight:g}\t{it.measure}\t{how}\t{it.label_zh}")
