"""The command line on both databases: end to end as a user runs it (subprocess, ``gridpatrol(...)``), and in
process through Click's runner (``run(...)``, much faster) for the rest."""

from __future__ import annotations

import os
import subprocess
import sys

import click
import pyogrio
import pytest
import shapely
from click.testing import CliRunner, Result

from api.cli import cli
from tests.conftest import shared_file


def gridpatrol(url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "GRIDPATROL_DATABASE_URL": url}
    return subprocess.run([sys.executable, "-m", "api.cli", *args], capture_output=True, text=True, env=env,
                          timeout=300, check=False)


def run(url: str | None, *args: str, stdin: str | None = None) -> Result:
    """``gridpatrol ARGS --database URL`` in this process (the global option after the subcommand, as users type
    it); an exception that escaped the CLI's own error handling fails the test."""
    result = CliRunner().invoke(cli, [*args, *(["--database", url] if url else [])], input=stdin)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


@pytest.mark.slow
def test_import_liechtenstein_generate_and_check_grids(fresh_url, tmp_path):
    path = shared_file("osm/liechtenstein_2015.osm.pbf")
    r = gridpatrol(fresh_url, "import", str(path))
    assert r.returncode == 0, r.stderr
    assert "communities 社区: 11" in r.stdout and "buildings 楼栋: 8994" in r.stdout

    r = gridpatrol(fresh_url, "grids", "generate", "--households", "300-500")
    assert r.returncode == 0, r.stderr
    r = gridpatrol(fresh_url, "grids", "check")
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    for line in ("gaps: 0", "overlaps: 0", "buildings in no grid: 0", "buildings in several grids: 0"):
        assert line in out, out

    gpkg = tmp_path / "grids.gpkg"
    r = gridpatrol(fresh_url, "export", "grids", str(gpkg))
    assert r.returncode == 0, r.stderr
    exported = pyogrio.read_dataframe(gpkg)
    assert len(exported) > 11 and exported["code"].str.len().eq(15).all()
    assert exported.crs.to_epsg() == 4326


def test_bad_file_exits_non_zero_with_one_line_and_changes_nothing(fresh_url, tmp_path):
    bad = tmp_path / "city.osm.pbf"
    bad.write_bytes(b"\x00garbage")
    r = gridpatrol(fresh_url, "import", str(bad))
    assert r.returncode == 1
    assert r.stderr.strip().splitlines()[0].startswith("gridpatrol: error: cannot import city.osm.pbf")
    assert "Traceback" not in r.stderr
    info = gridpatrol(fresh_url, "info")
    assert "buildings 楼栋: 0" in info.stdout


def test_grids_before_any_city_is_a_clear_error(fresh_url):
    r = run(fresh_url, "grids", "generate")
    assert r.exit_code == 1 and r.stderr.startswith("gridpatrol: error: ") and "gridpatrol import" in r.stderr


def test_wrong_household_range_is_rejected_by_the_parser(fresh_url):
    r = gridpatrol(fresh_url, "grids", "generate", "--households", "500-300")
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.splitlines() == [("gridpatrol: error: Invalid value for '--households': expected 0 < MIN ≤ MAX, "
                                      "got '500-300' (see gridpatrol grids generate --help)")]


@pytest.mark.parametrize(("args", "message"), [
    (["grids", "generate", "--households", "300"],
     ("Invalid value for '--households': expected MIN-MAX such as 300-500, got '300' "
      "(see gridpatrol grids generate --help)")),
    (["userz", "list"], "No such command 'userz' (see gridpatrol --help)"),
    (["users", "add", "li"], ("Missing option '--role'. Choose from: grid_worker, supervisor, subdistrict, department, "
                              "planner, admin, grid_lead, building_lead (see gridpatrol users add --help)")),
    (["export", "streets", "out.gpkg"],
     ("Invalid value for 'LAYER': 'streets' is not one of "
      "'subdistricts', 'communities', 'grids', 'buildings', 'roads' (see gridpatrol export --help)")),
    (["plans", "validate", "first"],
     "Invalid value for 'PLAN': 'first' is not a valid integer (see gridpatrol plans validate --help)"),
    (["info", "--database"], "Option '--database' requires an argument (see gridpatrol info --help)"),
])
def test_a_usage_error_is_one_line_and_exit_2(args, message):
    r = CliRunner().invoke(cli, args)
    assert (r.exit_code, r.stdout, r.stderr) == (2, "", f"gridpatrol: error: {message}\n")


def test_a_group_without_its_subcommand_shows_its_commands_and_exits_2():
    r = CliRunner().invoke(cli, ["plans"])
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr.startswith("Usage: gridpatrol plans [OPTIONS] COMMAND [ARGS]...")
    for name in ("list", "new", "validate", "publish", "rollback", "download", "upload"):
        assert f"\n  {name} " in r.stderr


def _walk(command: click.Command, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    found = [(path, command)]
    if isinstance(command, click.Group):
        ctx = click.Context(command)
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            assert sub is not None, (path, name)
            found += _walk(sub, (*path, name))
    return found


def test_every_group_and_command_has_help_and_the_global_options():
    tree = _walk(cli)
    names = {" ".join(path) for path, _ in tree}
    assert {"import", "grids generate", "grids check", "export", "categories load", "categories list",
            "responsibility load", "responsibility list", "users add", "users list", "apikeys add", "escalate",
            "plans list", "plans new", "plans validate", "plans publish", "plans rollback", "plans download",
            "plans upload", "checklists load", "checklists list", "checklists show", "shops import-osm",
            "shops list", "shops qr", "residents import", "residents due", "residents audit", "info", "serve",
            "demo", "db upgrade"} <= names
    for path, command in tree:
        assert command.help, path
        assert "--database" in [o for p in command.params for o in p.opts], path
        r = CliRunner().invoke(cli, [*path, "--help"])
        assert r.exit_code == 0 and r.stderr == "", (path, r.output)
        assert r.stdout.startswith(f"Usage: {' '.join(('gridpatrol', *path))} [OPTIONS]"), r.stdout
        assert command.help.split()[0] in r.stdout and "--database URL" in r.stdout, (path, r.stdout)
        assert r.stdout == CliRunner().invoke(cli, [*path, "-h"]).stdout


def test_the_database_option_before_and_after_the_subcommand(fresh_url, tmp_path):
    added = run(fresh_url, "users", "add", "wang", "--role", "planner", "--password-stdin", stdin="long enough pw\n")
    assert added.exit_code == 0, added.stderr
    elsewhere = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    for args in (["users", "list", "--database", fresh_url],  # after the subcommand
                 ["--database", fresh_url, "users", "list"],  # before it
                 ["users", "--database", fresh_url, "list"],  # between the group and its command
                 ["--database", elsewhere, "users", "list", "--database", fresh_url]):  # the last one given wins
        r = CliRunner().invoke(cli, args)
        assert r.exit_code == 0, (args, r.output)
        assert "\twang\twang\tplanner\t" in r.stdout, args
    assert not (tmp_path / "elsewhere.db").exists()  # never even opened
    assert "\twang\t" not in run(elsewhere, "users", "list").stdout


def test_layer_import_all_or_nothing_from_the_command_line(fresh_url, tmp_path):
    assert run(fresh_url, "import", str(shared_file("osm/monaco.osm.pbf"))).exit_code == 0
    assert run(fresh_url, "grids", "generate").exit_code == 0
    grids = tmp_path / "grids.geojson"
    assert run(fresh_url, "export", "grids", str(grids)).exit_code == 0
    before = run(fresh_url, "grids", "check").stdout

    frame = pyogrio.read_dataframe(grids)
    x0, y0, x1, y1 = frame.geometry.iloc[0].bounds
    frame.loc[0, "geometry"] = shapely.MultiPolygon([shapely.Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1)])])
    frame.to_file(tmp_path / "bad.shp")
    (tmp_path / "bad.prj").unlink()
    r = run(fresh_url, "import", str(tmp_path / "bad.shp"), "--layer", "grids", "--replace")
    assert r.exit_code == 1
    lines = r.stderr.strip().splitlines()
    assert lines[0] == "gridpatrol: error: cannot import bad.shp: nothing was written"
    assert [ln.split(":")[0].strip(" -") for ln in lines[1:]] == ["unknown_crs", "invalid_geometry"]
    assert run(fresh_url, "grids", "check").stdout == before

    r = run(fresh_url, "import", str(tmp_path / "nothing.gpkg"), "--layer", "units")
    assert r.exit_code == 1 and "no such file" in r.stderr

    r = run(fresh_url, "import", str(grids), "--layer", "grids", "--replace")
    assert r.exit_code == 0, r.stderr
    assert f"imported {len(frame)} grids (replacing {len(frame)})" in r.stdout
    assert run(fresh_url, "grids", "check").stdout == before


def test_users_apikeys_and_escalate_from_the_command_line(fresh_url):
    assert gridpatrol(fresh_url, "import", str(shared_file("osm/monaco.osm.pbf"))).returncode == 0
    # the rest in this process (a subprocess costs ~2 s of start-up each; the import and the --password-stdin
    # login above and below are real processes)
    assert run(fresh_url, "grids", "generate").exit_code == 0
    assert run(fresh_url, "categories", "load").exit_code == 0
    from sqlalchemy import select

    from patrol.core.db import make_engine, session_factory
    from patrol.core.models import Grid, Subdistrict

    engine = make_engine(fresh_url)
    with session_factory(engine)() as s:
        grid = s.query(Grid).order_by(Grid.code).first().code
    engine.dispose()
    env = {**os.environ, "GRIDPATROL_DATABASE_URL": fresh_url}
    r = subprocess.run([sys.executable, "-m", "api.cli", "users", "add", "wang", "--role", "grid_worker",
                        "--name", "王芳", "--grids", grid, "--password-stdin"], input="long enough pw\n",
                       capture_output=True, text=True, env=env, check=False)
    assert r.returncode == 0 and f"grids {grid}" in r.stdout, r.stderr
    dup = run(fresh_url, "users", "add", "wang", "--role", "planner", "--password", "long enough pw")
    assert dup.exit_code == 1 and "exists already" in dup.stderr
    short = run(fresh_url, "users", "add", "li", "--role", "planner", "--password", "short")
    assert short.exit_code == 1 and "at least 12 characters" in short.stderr
    listed = run(fresh_url, "users", "list").stdout.splitlines()
    assert listed[0] == "id\tusername\tname\trole\tcommunity\tsubdistrict\tunit\tgrids\temail\tsimulated\tpost\tscope"
    assert len(listed) == 2
    _, *fields, community, subdistrict, unit, grids, email, simulated, post, _scope = listed[1].split("\t")
    assert post == "-"
    assert fields == ["wang", "王芳", "grid_worker"] and community.isdigit()  # the community of her grid
    assert (subdistrict, unit, grids, email, simulated) == ("-", "-", grid, "-", "no")
    # a 街道 user: her subdistrict by code or name, and an e-mail address for her notices
    with session_factory(engine)() as s:
        sub_code, sub_name = s.execute(select(Subdistrict.code, Subdistrict.name)).first()
    engine.dispose()
    for who, given in (("zhao", sub_code), ("qian", sub_name)):
        street = run(fresh_url, "users", "add", who, "--role", "subdistrict", "--subdistrict", given,
                     "--email", f"{who}@example.org", "--password", "long enough pw")
        assert street.exit_code == 0, street.stderr
    listed = run(fresh_url, "users", "list").stdout.splitlines()
    rows = {line.split("\t")[1]: line.split("\t") for line in listed}
    assert rows["zhao"][5] == rows["qian"][5] == sub_code and rows["zhao"][8] == "zhao@example.org"
    missing = run(fresh_url, "users", "add", "sun", "--role", "subdistrict", "--password", "long enough pw")
    assert missing.exit_code == 1 and "--subdistrict" in missing.stderr
    unknown = run(fresh_url, "users", "add", "sun", "--role", "subdistrict", "--subdistrict", "无此街道",
                  "--password", "long enough pw")
    assert unknown.exit_code == 1 and "无此街道" in unknown.stderr
    key = run(fresh_url, "apikeys", "add", "12345 hotline")
    assert key.exit_code == 0 and key.stdout.strip().startswith("gp_")
    esc = run(fresh_url, "escalate")
    assert esc.exit_code == 0 and esc.stdout.startswith("escalated 0 overdue cases")


def test_responsibility_table_from_the_command_line(fresh_url, tmp_path):
    assert "the shipped one applies" in run(fresh_url, "responsibility", "list").stderr
    bad = tmp_path / "rules.csv"
    bad.write_text("category,level,unit_type\nB0109,street,power\n", encoding="utf-8")
    r = run(fresh_url, "responsibility", "load", str(bad))
    assert r.exit_code == 1 and "nothing loaded" in r.stderr and "line 2: level" in r.stderr
    good = tmp_path / "ours.csv"
    good.write_text("category,level,unit_type,priority,profile\n*,grid,grid_worker,1,walk\n"
                    "*,community,community_office,1,walk\n*,department,urban_management,1,drive\n", encoding="utf-8")
    r = run(fresh_url, "responsibility", "load", str(good))
    assert r.exit_code == 0 and "loaded 3 responsibility rules" in r.stdout
    listed = run(fresh_url, "responsibility", "list").stdout.splitlines()
    assert listed[0] == "category\tlevel\tunit_type\tpriority\tprofile\tunits\tnote"
    assert len(listed) == 4 and listed[1].startswith("*\tcommunity\tcommunity_office")
