"""Field surveys from the command line: inspection checklists and street-front shops.

    gridpatrol checklists load [FILE …]     no file: the shipped checklists; prints "stairwell_fire v2 (new)"
    gridpatrol checklists list | show CODE [--version N]
    gridpatrol shops import-osm FILE.osm.pbf | list [--grid CODE] | qr CODE OUT.svg [--base-url URL]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from sqlalchemy import select

from api.cli.context import Group, grid_id_of, open_database
from patrol.core.auth import SYSTEM
from patrol.core.db import transaction
from patrol.core.errors import InvalidInput
from patrol.core.models import Grid
from patrol.surveys import checklists as cl
from patrol.surveys.shops import get_shop, import_osm_shops, list_shops, shop_qr_svg, shop_url


@click.group(cls=Group, help="inspection checklists (隐患排查表)")
def checklists() -> None:
    pass


@checklists.command("load", help="load checklist definitions (YAML/JSON; default: the 4 shipped ones); a changed "
                                 "definition becomes a new version")
@click.argument("files", nargs=-1, metavar="[FILE]...")
def checklists_load(files: tuple[str, ...]) -> None:
    """All files or none: every file is checked, and when one is invalid each of its problems is printed (prefixed
    with the file name) and nothing is loaded."""
    paths = [Path(f) for f in files] if files else cl.builtin_files()
    sessions = open_database().sessions
    lines: list[str] = []
    failures: list[tuple[Path, InvalidInput]] = []
    with transaction(sessions) as session:
        for path in paths:
            try:
                checklist, created = cl.load_file(session, path)
            except InvalidInput as exc:
                failures.append((path, exc))
                continue
            lines.append(f"{checklist.code} v{checklist.version} ({'new' if created else 'unchanged'})")
        if len(failures) == 1 and len(paths) == 1:
            raise failures[0][1]  # "bad.yaml: checklist definition has 3 problems" and the problems
        if failures:
            details = [line for path, exc in failures
                       for line in ([f"{path.name}: {d}" for d in exc.details] or [exc.message])]
            raise InvalidInput(f"{len(failures)} of {len(paths)} checklist files are invalid; nothing was loaded",
                               field="file", details=details)
    print("\n".join(lines))


CHECKLISTS_HEADER = "code\tversion\ttarget\tfrequency\titems\ttitle_zh\ttitle_en"
SHOPS_HEADER = "code\tname\tkind\tgrid\tbuilding\tlast inspection\topen findings"


@checklists.command("list", help="list the active checklists under a header row (tab-separated)")
def checklists_list() -> None:
    sessions = open_database().sessions
    with sessions() as session:
        rows = cl.latest_checklists(session)
        if not rows:
            print("no checklists yet: gridpatrol checklists load (the shipped ones) or load FILE.yaml")
            return
        print(CHECKLISTS_HEADER)
        for c in rows:
            s = cl.checklist_summary(c)
            every = f"every {c.frequency_days} d" if c.frequency_days else "no frequency"
            print(f"{c.code}\tv{c.version}\t{c.target}\t{every}\t{s['items']} items\t{c.title_zh}\t{c.title_en}")


def _item_rules(item: dict[str, Any]) -> list[str]:
    """One checklist item's rules in words: required, conditions, options, what a failure opens."""
    rules = []
    if item.get("required"):
        rules.append("required")
    for k in ("show_if", "required_if"):
        if item.get(k):
            cond = item[k]
            rules.append(f"{k} {cond['item']} " + (f"= {cond['equals']}" if "equals" in cond else f"in {cond['in']}"))
    if item.get("options"):
        rules.append("options " + "/".join(o["value"] for o in item["options"]))
    if item.get("fail"):
        f = item["fail"]
        rules.append(f"fail → {f['category'] or 'finding only'}"
                     + (f" within {f['deadline_days']} d" if f["deadline_days"] else ""))
    return rules


@checklists.command("show", help="show a checklist's items")
@click.argument("code")
@click.option("--version", type=int, help="a given version (default: the latest)")
def checklists_show(code: str, version: int | None) -> None:
    sessions = open_database().sessions
    with sessions() as session:
        c = cl.get_checklist(session, code, version)
        d = cl.definition_of(c)
        versions = cl.versions_of(session, c.code)
    print(f"{c.code} v{c.version}{'' if c.active else ' (inactive)'} — {d['title']['zh']} / {d['title']['en']}")
    print(f"target: {d['target']}; frequency: {d['frequency_days'] or '-'} days; versions: "
          f"{', '.join(map(str, versions))}")
    if d.get("applies_to"):
        print(f"applies to: building use {', '.join(d['applies_to']['building_use'])}")
    for i, item in enumerate(d["items"]):
        rules = _item_rules(item)
        print(f"  {i:2d} {item['id']:<22} {item['type']:<7} {item['text']['zh']} / {item['text']['en']}"
              + (f"  [{'; '.join(rules)}]" if rules else ""))


@click.group(cls=Group, help="street-front shops and their QR codes (一户一码)")
def shops() -> None:
    pass


@shops.command("import-osm", help="import shops, restaurants, cafés and pharmacies from an .osm.pbf into their "
                                  "buildings (re-running updates, never duplicates)")
@click.argument("file")
def shops_import(file: str) -> None:
    sessions = open_database().sessions
    with transaction(sessions) as session:
        result = import_osm_shops(session, file)
    print("\n".join(result.lines()))


@shops.command("list", help="list shops under a header row (tab-separated), then how many")
@click.option("--grid", help="grid code")
def shops_list(grid: str | None) -> None:
    sessions = open_database().sessions
    with sessions() as session:
        rows = list_shops(session, SYSTEM, grid_id=grid_id_of(session, grid))
        codes = dict(session.execute(select(Grid.id, Grid.code)).all())
    print(SHOPS_HEADER)
    for r in rows:
        print(f"{r['code']}\t{r['name']}\t{r['kind'] or '-'}\tgrid {codes.get(r['grid_id'], '-')}\t"
              f"building {r['building_id']}\tlast inspection {r['last_inspection_at'] or '-'}\t"
              f"open findings {r['open_findings']}")
    print(f"{len(rows)} shops")


@shops.command("qr", help="write a shop's printable QR sticker as SVG")
@click.argument("code")
@click.argument("output")
@click.option("--base-url", default="http://localhost:8000", show_default=True,
              help="where the field app is served")
def shops_qr(code: str, output: str, base_url: str) -> None:
    sessions = open_database().sessions
    with sessions() as session:
        shop = get_shop(session, SYSTEM, code)
        svg = shop_qr_svg(shop, base_url)
    Path(output).write_text(svg, encoding="utf-8")
    print(f"wrote the QR of {shop.code} ({shop.name}) → {shop_url(base_url, shop.code)} to {output}")
