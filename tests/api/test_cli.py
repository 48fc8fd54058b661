"""The command line end to end, as a user runs it (subprocess), on both databases."""

from __future__ import annotations

import os
import subprocess
import sys

import pyogrio
import pytest
import shapely

from tests.conftest import shared_file


def gridpatrol(url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "GRIDPATROL_DATABASE_URL": url}
    return subprocess.run([sys.executable, "-m", "api.cli", *args], capture_output=True, text=True, env=env,
                          timeout=300, check=False)


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
    r = gridpatrol(fresh_url, "grids", "generate")
    assert r.returncode == 1 and "gridpatrol import" in r.stderr and "Traceback" not in r.stderr


def test_wrong_household_range_is_rejected_by_the_parser(fresh_url):
    r = gridpatrol(fresh_url, "grids", "generate", "--households", "500-300")
    assert r.returncode == 2 and "MIN ≤ MAX" in r.stderr


def test_layer_import_all_or_nothing_from_the_command_line(fresh_url, tmp_path):
    assert gridpatrol(fresh_url, "import", str(shared_file("osm/monaco.osm.pbf"))).returncode == 0
    assert gridpatrol(fresh_url, "grids", "generate").returncode == 0
    grids = tmp_path / "grids.geojson"
    assert gridpatrol(fresh_url, "export", "grids", str(grids)).returncode == 0
    before = gridpatrol(fresh_url, "grids", "check").stdout

    frame = pyogrio.read_dataframe(grids)
    x0, y0, x1, y1 = frame.geometry.iloc[0].bounds
    frame.loc[0, "geometry"] = shapely.MultiPolygon([shapely.Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1)])])
    frame.to_file(tmp_path / "bad.shp")
    (tmp_path / "bad.prj").unlink()
    r = gridpatrol(fresh_url, "import", str(tmp_path / "bad.shp"), "--layer", "grids", "--replace")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert lines[0] == "gridpatrol: error: cannot import bad.shp: nothing was written"
    assert [ln.split(":")[0].strip(" -") for ln in lines[1:]] == ["unknown_crs", "invalid_geometry"]
    assert gridpatrol(fresh_url, "grids", "check").stdout == before

    r = gridpatrol(fresh_url, "import", str(tmp_path / "nothing.gpkg"), "--layer", "units")
    assert r.returncode == 1 and "no such file" in r.stderr

    r = gridpatrol(fresh_url, "import", str(grids), "--layer", "grids", "--replace")
    assert r.returncode == 0, r.stderr
    assert f"imported {len(frame)} grids (replacing {len(frame)})" in r.stdout
    assert gridpatrol(fresh_url, "grids", "check").stdout == before


def test_users_apikeys_and_escalate_from_the_command_line(fresh_url):
    assert gridpatrol(fresh_url, "import", str(shared_file("osm/monaco.osm.pbf"))).returncode == 0
    assert gridpatrol(fresh_url, "grids", "generate").returncode == 0
    assert gridpatrol(fresh_url, "categories", "load").returncode == 0
    from patrol.core.db import make_engine, session_factory
    from patrol.core.models import Grid

    engine = make_engine(fresh_url)
    with session_factory(engine)() as s:
        grid = s.query(Grid).order_by(Grid.code).first().code
    engine.dispose()
    env = {**os.environ, "GRIDPATROL_DATABASE_URL": fresh_url}
    r = subprocess.run([sys.executable, "-m", "api.cli", "users", "add", "wang", "--role", "grid_worker",
                        "--name", "王芳", "--grids", grid, "--password-stdin"], input="long enough pw\n",
                       capture_output=True, text=True, env=env, check=False)
    assert r.returncode == 0 and f"grids {grid}" in r.stdout, r.stderr
    dup = gridpatrol(fresh_url, "users", "add", "wang", "--role", "planner", "--password", "long enough pw")
    assert dup.returncode == 1 and "exists already" in dup.stderr
    short = gridpatrol(fresh_url, "users", "add", "li", "--role", "planner", "--password", "short")
    assert short.returncode == 1 and "8 characters" in short.stderr
    listed = gridpatrol(fresh_url, "users", "list")
    assert "wang\t王芳\tgrid_worker" in listed.stdout and grid in listed.stdout
    key = gridpatrol(fresh_url, "apikeys", "add", "12345 hotline")
    assert key.returncode == 0 and key.stdout.strip().startswith("gp_")
    esc = gridpatrol(fresh_url, "escalate")
    assert esc.returncode == 0 and esc.stdout.startswith("escalated 0 overdue cases")


def test_responsibility_table_from_the_command_line(fresh_url, tmp_path):
    assert "the shipped one applies" in gridpatrol(fresh_url, "responsibility", "list").stdout
    bad = tmp_path / "rules.csv"
    bad.write_text("category,level,unit_type\nB0109,street,power\n", encoding="utf-8")
    r = gridpatrol(fresh_url, "responsibility", "load", str(bad))
    assert r.returncode == 1 and "nothing loaded" in r.stderr and "line 2: level" in r.stderr
    good = tmp_path / "ours.csv"
    good.write_text("category,level,unit_type,priority,profile\n*,grid,grid_worker,1,walk\n"
                    "*,community,community_office,1,walk\n*,department,urban_management,1,drive\n", encoding="utf-8")
    r = gridpatrol(fresh_url, "responsibility", "load", str(good))
    assert r.returncode == 0 and "loaded 3 responsibility rules" in r.stdout
    listed = gridpatrol(fresh_url, "responsibility", "list").stdout.splitlines()
    assert len(listed) == 3 and listed[0].startswith("*\tcommunity\tcommunity_office")
