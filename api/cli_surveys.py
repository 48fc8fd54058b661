"""CLI commands for field surveys (registered by api.cli.build_parser): checklists and shops.

    gridpatrol checklists load [FILE …]     no file: the shipped checklists; prints "stairwell_fire v2 (new)"
    gridpatrol checklists list | show CODE
    gridpatrol shops import-osm FILE.osm.pbf | list [--grid CODE] | qr CODE OUT.svg
"""

from __future__ import annotations

import argparse
from pathlib import Path

from patrol.core.errors import InvalidInput


def _context(args: argparse.Namespace):
    from api.cli import _context as ctx

    return ctx(args)


def cmd_checklists_load(args: argparse.Namespace) -> None:
    """All files or none: every file is checked, and when one is invalid each of its problems is printed (prefixed
    with the file name) and nothing is loaded."""
    from patrol.surveys import checklists as cl
    from patrol.core.db import transaction

    files = [Path(f) for f in args.files] if args.files else cl.builtin_files()
    _, _, factory = _context(args)
    lines, failures = [], []
    with transaction(factory) as session:
        for path in files:
            try:
                checklist, created = cl.load_file(session, path)
            except InvalidInput as exc:
                failures.append((path, exc))
                continue
            lines.append(f"{checklist.code} v{checklist.version} ({'new' if created else 'unchanged'})")
        if len(failures) == 1 and len(files) == 1:
            raise failures[0][1]  # "bad.yaml: checklist definition has 3 problems" and the problems
        if failures:
            details = [line for path, exc in failures
                       for line in ([f"{path.name}: {d}" for d in exc.details] or [exc.message])]
            raise InvalidInput(f"{len(failures)} of {len(files)} checklist files are invalid; nothing was loaded",
                               field="file", details=details)
    print("\n".join(lines))


def cmd_checklists_list(args: argparse.Namespace) -> None:
    from patrol.surveys import checklists as cl
    _, _, factory = _context(args)
    with factory() as session:
        rows = cl.latest_checklists(session)
        if not rows:
            print("no checklists yet: gridpatrol checklists load (the shipped ones) or load FILE.yaml")
        for c in rows:
            s = cl.checklist_summary(c)
            every = f"every {c.frequency_days} d" if c.frequency_days else "no frequency"
            print(f"{c.code}\tv{c.version}\t{c.target}\t{every}\t{s['items']} items\t{c.title_zh}\t{c.title_en}")


def cmd_checklists_show(args: argparse.Namespace) -> None:
    from patrol.surveys import checklists as cl
    _, _, factory = _context(args)
    with factory() as session:
        c = cl.get_checklist(session, args.code, args.version)
        d = cl.definition_of(c)
        versions = cl.versions_of(session, c.code)
    print(f"{c.code} v{c.version}{'' if c.active else ' (inactive)'} — {d['title']['zh']} / {d['title']['en']}")
    print(f"target: {d['target']}; frequency: {d['frequency_days'] or '-'} days; versions: "
          f"{', '.join(map(str, versions))}")
    if d.get("applies_to"):
        print(f"applies to: building use {', '.join(d['applies_to']['building_use'])}")
    for i, item in enumerate(d["items"]):
        rules = []
        if item.get("required"):
            rules.append("required")
        for k in ("show_if", "required_if"):
            if item.get(k):
                cond = item[k]
                rules.append(f"{k} {cond['item']} " + (f"= {cond['equals']}" if "equals" in cond
                                                        else f"in {cond['in']}"))
        if item.get("options"):
            rules.append("options " + "/".join(o["value"] for o in item["options"]))
        if item.get("fail"):
            f = item["fail"]
            rules.append(f"fail → {f['category'] or 'finding only'}"
                         + (f" within {f['deadline_days']} d" if f["deadline_days"] else ""))
        print(f"  {i:2d} {item['id']:<22} {item['type']:<7} {item['text']['zh']} / {item['text']['en']}"
              + (f"  [{'; '.join(rules)}]" if rules else ""))


def cmd_shops_import(args: argparse.Namespace) -> None:
    from patrol.core.db import transaction
    from patrol.surveys.shops import import_osm_shops

    _, _, factory = _context(args)
    with transaction(factory) as session:
        result = import_osm_shops(session, args.file)
    print("\n".join(result.lines()))


def cmd_shops_list(args: argparse.Namespace) -> None:
    from sqlalchemy import select

    from patrol.core.auth import SYSTEM
    from patrol.core.models import Grid
    from patrol.surveys.shops import list_shops

    _, _, factory = _context(args)
    with factory() as session:
        grid_id = None
        if args.grid:
            grid_id = session.scalar(select(Grid.id).where(Grid.code == args.grid))
            if grid_id is None:
                raise InvalidInput(f"no grid coded {args.grid!r}", field="grid")
        rows = list_shops(session, SYSTEM, grid_id=grid_id)
        codes = dict(session.execute(select(Grid.id, Grid.code)).all())
    for r in rows:
        print(f"{r['code']}\t{r['name']}\t{r['kind'] or '-'}\tgrid {codes.get(r['grid_id'], '-')}\t"
              f"building {r['building_id']}\tlast inspection {r['last_inspection_at'] or '-'}\t"
              f"open findings {r['open_findings']}")
    print(f"{len(rows)} shops")


def cmd_shops_qr(args: argparse.Namespace) -> None:
    from patrol.core.auth import SYSTEM
    from patrol.surveys.shops import get_shop, shop_qr_svg, shop_url

    _, _, factory = _context(args)
    with factory() as session:
        shop = get_shop(session, SYSTEM, args.code)
        svg = shop_qr_svg(shop, args.base_url)
    Path(args.output).write_text(svg, encoding="utf-8")
    print(f"wrote the QR of {shop.code} ({shop.name}) → {shop_url(args.base_url, shop.code)} to {args.output}")


def register(sub, add) -> None:
    """Add this module's sub-commands: ``sub`` is the top-level subparsers, ``add(name, fn, help, parent)``."""
    lists = sub.add_parser("checklists", help="inspection checklists (隐患排查表)").add_subparsers(
        dest="checklists_command", required=True)
    ld = add("load", cmd_checklists_load, "load checklist definitions (YAML/JSON; default: the 4 shipped ones); "
                                          "a changed definition becomes a new version", lists)
    ld.add_argument("files", nargs="*", metavar="FILE")
    add("list", cmd_checklists_list, "list the active checklists", lists)
    show = add("show", cmd_checklists_show, "show a checklist's items", lists)
    show.add_argument("code")
    show.add_argument("--version", type=int, help="a given version (default: the latest)")

    shops = sub.add_parser("shops", help="street-front shops and their QR codes (一户一码)").add_subparsers(
        dest="shops_command", required=True)
    imp = add("import-osm", cmd_shops_import, "import shops, restaurants, cafés and pharmacies from an .osm.pbf "
                                              "into their buildings (re-running updates, never duplicates)", shops)
    imp.add_argument("file")
    ls = add("list", cmd_shops_list, "list shops", shops)
    ls.add_argument("--grid", help="grid code")
    qr = add("qr", cmd_shops_qr, "write a shop's printable QR sticker as SVG", shops)
    qr.add_argument("code")
    qr.add_argument("output")
    qr.add_argument("--base-url", default="http://localhost:8000",
                    help="where the field app is served (default http://localhost:8000)")
