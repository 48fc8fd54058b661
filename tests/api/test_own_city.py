"""README "Your own city", followed literally on both databases: the shell block of that section of README.md runs
in bash as written, with only these substitutions — the layer files by the files made here, the database URL and port
by the test's, and the LON/LAT lines by points in her grid (the case at one of her buildings, she at another). Then,
beyond the README: a communities file naming the wrong 街道 for one town is refused with the mismatch listed and
changes nothing, and the city's own basemap tiles are served from the official layers.

The bureau's files are constructed from shared data (the Liechtenstein OSM extract,
../shared/data/osm/liechtenstein_2015.osm.pbf): its two districts (admin_level 6) as 街道 in CGCS2000 (EPSG:4490,
GeoPackage), five of its municipalities (admin_level 8; not Fläsch, in Switzerland) as 社区 in a 3° Gauss–Krüger zone
(EPSG:31467, CM 9°E, Shapefile), and its buildings and roads exported into the same zone as Shapefiles with Chinese
headers, road classes and one-way values; codes by the national scheme under district 370602.
"""

from __future__ import annotations

import json
import os
import re
import socket
import stat
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import mapbox_vector_tile
import numpy as np
import pyogrio
import pytest
import shapely
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.app import create_app
from api.cli.app import cli
from geo.households import estimate_households
from geo.osm import read_osm
from geo.tiles import tile_of
from patrol.core.db import make_engine, session_factory
from patrol.core.frames import read_frame
from patrol.core.models import Building, Case, Community, Grid, MapArea, RoadSegment, Subdistrict, User
from patrol.core.settings import Settings
from tests.conftest import shared_file

ROOT = Path(__file__).resolve().parents[2]
GK3 = "EPSG:31467"
CHINESE = {"motorway": "快速路", "primary": "主干路", "secondary": "次干路", "tertiary": "支路", "residential": "街巷",
           "footway": "人行"}
GRID = "370602001001001"  # the worker's grid in the README
TOWNS = ("Vaduz", "Schaan", "Planken", "Gamprin", "Schellenberg")


def readme_block() -> str:
    """The shell block of README.md's section "Your own city" (the first one after its heading)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    heading = re.search(r"^#+ Your own city\s*$", text, re.M)
    assert heading, "no section 'Your own city' in README.md"
    block = re.search(r"^```sh\n(.*?)^```", text[heading.end():], re.M | re.S)
    assert block, "no ```sh block in README.md's section 'Your own city'"
    return block.group(1)


@pytest.fixture(scope="module")
def bureau_files(tmp_path_factory) -> tuple[dict[str, Path], dict[str, int]]:
    """The layers as a surveying bureau would deliver them (constructed from shared data, once per run)."""
    pbf = shared_file("osm/liechtenstein_2015.osm.pbf")
    osm = read_osm(pbf)
    out = tmp_path_factory.mktemp("bureau")
    b = osm.boundaries
    districts = b[b["admin_level"] == 6].sort_values("name").reset_index(drop=True)
    districts["BM"] = [f"370602{i + 1:03d}" for i in range(len(districts))]
    # five of the eleven municipalities (both districts), so the run stays short; Fläsch (Switzerland) never
    towns = b[(b["admin_level"] == 8) & b["name"].isin(TOWNS)].reset_index(drop=True)
    holder = gpd.sjoin(gpd.GeoDataFrame(geometry=towns.geometry.representative_point(), crs=towns.crs),
                       districts[["BM", "geometry"]], predicate="within")
    towns["JDBM"] = holder["BM"].reindex(towns.index).to_numpy()
    towns = towns.sort_values(["JDBM", "name"]).reset_index(drop=True)
    towns["BM"] = [f"{p}{k + 1:03d}" for p, k in zip(towns["JDBM"], towns.groupby("JDBM").cumcount(), strict=True)]
    files = {"subdistricts.gpkg": out / "jd.gpkg", "communities.shp": out / "sq.shp",
             "buildings.shp": out / "jz.shp", "roads.shp": out / "dl.shp", "city.osm.pbf": pbf}
    districts.rename(columns={"name": "MC"})[["BM", "MC", "geometry"]].to_crs("EPSG:4490").to_file(
        files["subdistricts.gpkg"])
    pyogrio.write_dataframe(towns.rename(columns={"name": "MC"})[["BM", "MC", "JDBM", "geometry"]].to_crs(GK3),
                            files["communities.shp"], encoding="UTF-8")
    area = shapely.union_all(towns.geometry.to_numpy())
    shapely.prepare(area)
    blds = osm.buildings[shapely.contains(area, osm.buildings.geometry.representative_point().to_numpy())]
    metric = blds.to_crs(GK3)
    households = estimate_households(metric, building_col="use", levels_col="levels", dwelling_m2=90)["households"]
    pyogrio.write_dataframe(gpd.GeoDataFrame(
        {"MPH": blds["housenumber"].to_numpy(), "DZ": blds["address"].to_numpy(), "HS": households.to_numpy()},
        geometry=metric.geometry.to_numpy(), crs=GK3), files["buildings.shp"], encoding="UTF-8")
    roads = osm.roads[shapely.intersects(area, osm.roads.geometry.to_numpy())]
    pyogrio.write_dataframe(gpd.GeoDataFrame(
        {"LM": roads["name"].to_numpy(), "DJ": [CHINESE.get(h, h) for h in roads["highway"]],
         "DX": np.where(roads["oneway"].to_numpy(dtype=bool), "是", "否")},
        geometry=roads.geometry.to_numpy(), crs="EPSG:4326").to_crs(GK3), files["roads.shp"], encoding="UTF-8")
    expected = {"buildings": len(blds), "housenumbers": int(blds["housenumber"].notna().sum()),
                "roads": len(roads), "communities": len(towns)}
    return files, expected


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _script(block: str, files: dict, url: str, port: int, points: list[tuple[float, float]] | None) -> str:
    for name, path in files.items():
        block = re.sub(rf"(?<![\w/.]){re.escape(name)}(?![\w.])", str(path), block)
    block = re.sub(r"^export GRIDPATROL_DATABASE_URL=\S+", f"export GRIDPATROL_DATABASE_URL='{url}'", block, flags=re.M)
    block = block.replace("127.0.0.1:8000", f"127.0.0.1:{port}").replace("--port 8000", f"--port {port}")
    if points is not None:
        for prefix, (lon, lat) in zip(("", "FROM_"), points, strict=True):
            block = re.sub(rf"^{prefix}LON=\S+ {prefix}LAT=\S+", f"{prefix}LON={lon:.6f} {prefix}LAT={lat:.6f}", block,
                           flags=re.M)
    return "set -euo pipefail\nset -x\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n" + block


def _wrappers(directory: Path) -> dict[str, str]:
    """``gridpatrol`` (this checkout's CLI, exec'd so the server's pid is the job's) and ``python3`` on PATH."""
    directory.mkdir(exist_ok=True)
    wrapper = directory / "gridpatrol"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m api.cli "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    python = directory / "python3"
    if not python.exists():
        python.symlink_to(sys.executable)
    return {**os.environ, "PATH": f"{directory}:{os.environ['PATH']}", "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1"}


def _run(script: str, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=600,
                          check=False)


def test_your_own_city_as_the_readme_says(fresh_url, bureau_files, tmp_path):
    files, expected = bureau_files
    block = readme_block()
    assert "city create" in block and "--layer roads" in block and "grids generate" in block
    env = _wrappers(tmp_path / "bin")
    env.pop("GRIDPATROL_DATABASE_URL", None)
    # up to the worker, then (her grid drawn) the rest with points in it; the script is the README's, cut in two
    # at the server's start so the points can be chosen where the generated grid lies
    head, tail = block.split("gridpatrol serve", 1)
    first = _run(_script(head, files, fresh_url, 0, None), tmp_path, env)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    engine = make_engine(fresh_url)
    try:
        with session_factory(engine)() as s:
            grid = s.scalars(select(Grid).where(Grid.code == GRID)).one()
            # the case at one of her buildings, she at the one farthest from it
            homes = read_frame(s, [Building.id], Building.geom, where=[Building.grid_id == grid.id])
            spots = homes.geometry.representative_point().to_numpy()
            there = spots[int(np.argmax(shapely.distance(spots[0], spots)))]
            points = [(spots[0].x, spots[0].y), (there.x, there.y)]
            _check_layers(s, expected)
            worker = s.scalars(select(User).where(User.username == "wangfang")).one()
            assert grid.worker_id == worker.id and worker.role == "grid_worker"  # the worker has her grid
        assert "gaps: 0" in first.stdout and "overlaps: 0" in first.stdout and "buildings in no grid: 0" in first.stdout
        _wrong_parent_is_refused(files["communities.shp"], fresh_url, tmp_path)
        engine.dispose()  # no connection of ours open while the server writes (SQLite)
        port = _free_port()
        exports = "".join(line + "\n" for line in head.splitlines() if line.startswith("export "))
        second = _run(_script(exports + "gridpatrol serve" + tail, files, fresh_url, port, points),
                      tmp_path, env)
        assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
        day = json.loads(second.stdout.strip().splitlines()[-1])
        with session_factory(engine)() as s:
            case = s.scalars(select(Case)).one()
            assert case.grid_id == grid.id and case.category_code == "C0102"
            assert [stop["case_id"] for stop in day["stops"]] == [case.id]
            roads = read_frame(s, [RoadSegment.id], RoadSegment.geom)
        # her walk follows the imported roads: every vertex but the ends (her point, the case) lies on one
        assert day["route"]["type"] == "LineString" and day["length_m"] > 0
        lines = shapely.MultiLineString([g for g in roads.geometry if g is not None])
        inner = [shapely.Point(c) for c in day["route"]["coordinates"][1:-1]]
        assert inner and max(lines.distance(p) for p in inner) < 1e-5  # degrees: about a metre
        _serves_tiles(fresh_url, points[0])
    finally:
        engine.dispose()


def _wrong_parent_is_refused(communities: Path, url: str, tmp_path: Path) -> None:
    """A communities file whose first town names the other 街道 is refused with the mismatch listed; nothing
    changes."""
    towns = gpd.read_file(communities)
    wrong = towns.copy()
    other = sorted(set(towns["JDBM"]) - {towns.loc[0, "JDBM"]})[0]
    wrong.loc[0, "JDBM"] = other
    path = tmp_path / "wrong_parent.shp"
    pyogrio.write_dataframe(wrong, path, encoding="UTF-8")
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            before = sorted(s.execute(select(Community.code, Community.subdistrict_id)).all())
        r = CliRunner().invoke(cli, ["import", str(path), "--layer", "communities", "--code-column", "BM",
                                     "--name-column", "MC", "--parent-column", "JDBM", "--replace",
                                     "--database", url])
        assert r.exit_code == 1 and "parent_mismatch" in r.stderr and towns.loc[0, "MC"] in r.stderr, r.stderr
        with session_factory(engine)() as s:
            assert sorted(s.execute(select(Community.code, Community.subdistrict_id)).all()) == before
    finally:
        engine.dispose()


def _serves_tiles(url: str, point: tuple[float, float]) -> None:
    """Our basemap from the official layers: her building with its house number and the named roads around it."""
    app = create_app(Settings(database_url=url, secret_key="own-city-test-secret-key-0123456789",
                              timezone="Asia/Shanghai"))
    with TestClient(app) as client:
        meta = client.get("/tiles/meta.json").json()
        w, south, e, n = meta["bounds"]
        assert w <= point[0] <= e and south <= point[1] <= n
        x, y = tile_of(point[0], point[1], 16)
        layers = _decoded(client, 16, x, y, meta["version"])
        assert len(layers["buildings"]["features"]) > 0 and {"grids", "communities", "roads"} <= set(layers)
        # the main roads of her area (the z12 tile of her building, about 7 km across; her grid lies in the hills,
        # where the z14–z16 tiles hold tracks and paths only) with their names
        x, y = tile_of(point[0], point[1], 12)
        names = {f["properties"].get("name") for f in _decoded(client, 12, x, y, meta["version"])["roads"]["features"]}
        assert names - {None}, "no named road around her building"


def _decoded(client: TestClient, z: int, x: int, y: int, version: int) -> dict:
    r = client.get(f"/tiles/{z}/{x}/{y}.pbf", params={"v": version})
    assert r.status_code == 200
    return mapbox_vector_tile.decode(r.content)


def _check_layers(s, expected: dict) -> None:
    """What the imports wrote: official codes as given, house numbers, roads with OSM classes, water and green."""
    subs = sorted(s.scalars(select(Subdistrict.code)))
    assert subs == ["370602001", "370602002"]
    coms = sorted(s.scalars(select(Community.code)))
    assert len(coms) == expected["communities"] and all(len(c) == 12 and c[:9] in subs for c in coms)
    assert s.scalar(select(func.count()).select_from(Building)) == expected["buildings"]
    assert s.scalar(select(func.count()).select_from(Building).where(Building.housenumber.is_not(None))) == \
        expected["housenumbers"]
    named = s.scalar(select(func.count()).select_from(RoadSegment).where(RoadSegment.name.is_not(None)))
    assert named > 0, "the roads lost their names (LM)"
    highways = set(s.scalars(select(RoadSegment.highway).distinct()))
    assert s.scalar(select(func.count()).select_from(RoadSegment)) == expected["roads"]
    assert {"primary", "secondary", "residential", "footway"} <= highways and not any(
        h in highways for h in CHINESE.values())
    assert s.scalar(select(func.count()).select_from(MapArea).where(MapArea.kind == "water")) > 0
    assert s.scalar(select(func.count()).select_from(MapArea).where(MapArea.kind == "green")) > 0
    grids = s.scalars(select(Grid.code)).all()
    assert grids and all(len(g) == 15 and g[:12] in coms for g in grids)
