"""The import-order crash (issue 19): a script that opened SpatiaLite and then imported pyproj, pyogrio or the
analytics died at exit with ``double free or corruption`` / a segfault, because SQLite loads mod_spatialite with
RTLD_GLOBAL and the wheels' own PROJ / GDAL then bound to the system's copies. ``make_engine`` now binds the bundled
libraries to themselves first (patrol.core.db.bind_bundled_libraries). Each script runs in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

OPEN_SPATIALITE = """
    from sqlalchemy import text
    from patrol.core.db import make_engine
    engine = make_engine("sqlite:///{db}")
    with engine.connect() as conn:
        print(conn.execute(text("SELECT spatialite_version(), proj_version()")).all())
"""

SCRIPTS = {
    "analytics": """
        import patrol.analytics.service
        import pyproj
        print(pyproj.Transformer.from_crs(4326, 32632, always_xy=True).transform(9.5, 47.1))
    """,
    "pyogrio": """
        import geopandas, pyogrio, shapely
        frame = geopandas.GeoDataFrame({{"a": [1]}}, geometry=[shapely.Point(9.5, 47.1)], crs=4326)
        frame.to_crs(32632).to_file("{out}", driver="GPKG")
        print(pyogrio.read_dataframe("{out}").crs)
    """,
}


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_spatialite_first_then_the_geo_wheels_exits_cleanly(name, tmp_path):
    code = textwrap.dedent(OPEN_SPATIALITE) + textwrap.dedent(SCRIPTS[name])
    code = code.format(db=tmp_path / "t.db", out=tmp_path / "out.gpkg")
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
    assert run.returncode == 0, (run.returncode, run.stderr[-2000:])
    assert "double free" not in run.stderr and "invalid pointer" not in run.stderr
    assert "Rel. " in run.stdout  # SpatiaLite answered with its PROJ
    assert ("32632" in run.stdout or "UTM" in run.stdout) if name == "pyogrio" else "(" in run.stdout.splitlines()[-1]


def test_the_bundled_libraries_are_bound_before_spatialite():
    from patrol.core.db import bind_bundled_libraries

    loaded = bind_bundled_libraries()
    assert any(n.startswith("libproj") for n in loaded)  # pyproj's PROJ
    assert any(n.startswith("libgdal") for n in loaded)  # pyogrio's GDAL
