"""A city from official layers without OpenStreetMap, from the command line, on both databases.

Hong Kong's 2001 districts and District Council constituency areas (shared data) stand in for a bureau's 街道 and
社区 layers. Their codes here are CONSTRUCTED for the test — district code 810000 (Hong Kong's region code), a
subdistrict 810000 + the district number (3 digits), a community its subdistrict + the constituency number — and the
files are written in CGCS2000 (EPSG:4490, subdistricts) and a CGCS2000 3° Gauss–Krüger zone (EPSG:4547, CM 114°E,
communities) as a surveying bureau would deliver them. DCCA_CHIN is mis-decoded in the source: DCCA_ENG is the name.
"""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from click.testing import CliRunner, Result
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.cli import cli
from patrol.city.gridding import check_city_grids
from patrol.core.db import make_engine
from patrol.core.frames import read_frame
from patrol.core.models import Category, City, Community, Grid, Subdistrict
from tests.conftest import _fresh_postgres_database, _postgres_url, drop_postgis_database, shared_file


def run(url: str, *args: str) -> Result:
    result = CliRunner().invoke(cli, [*args, "--database", url])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("official")
    districts = gpd.read_file(shared_file("china/hongkong_districts_2001.geojson"))
    dcca = gpd.read_file(shared_file("china/hongkong_dcca_2001.geojson"))
    dcca = dcca[dcca["DC"].astype(int) <= 14].reset_index(drop=True)  # Hong Kong Island's 80 (a lean test)
    dcca["geometry"] = dcca.geometry.make_valid()  # three constituencies of the source have self-crossing rings
    # constructed codes (see the module docstring)
    districts["jd_code"] = districts["DC"].map(lambda v: f"810000{int(v):03d}")
    dcca["sq_code"] = [f"810000{int(d):03d}{int(c):03d}" for d, c in zip(dcca["DC"], dcca["CA"], strict=True)]
    dcca["jd"] = dcca["DC"].map(lambda v: f"810000{int(v):03d}")
    out = {"districts": tmp / "jd.gpkg", "dcca": tmp / "sq.shp", "bad": tmp / "sq_bad.gpkg",
           "noprj": tmp / "jd_noprj.shp"}
    districts[["jd_code", "DC_ENG", "geometry"]].to_crs(4490).to_file(out["districts"])
    dcca[["sq_code", "DCCA_ENG", "jd", "geometry"]].to_crs(4547).to_file(out["dcca"])
    bad = dcca[["sq_code", "DCCA_ENG", "jd", "geometry"]].copy()
    bad.loc[[0, 7], "jd"] = "810000014"  # these two lie in Eastern and Central & Western: a wrong parent link
    bad.to_crs(4547).to_file(out["bad"])
    districts[["jd_code", "DC_ENG", "geometry"]].to_crs(4490).to_file(out["noprj"])
    out["noprj"].with_suffix(".prj").unlink()
    return out


@pytest.fixture(scope="module")
def hk(backend, tmp_path_factory, files):
    """Hong Kong made by `city create` + subdistricts + communities; the tests only read it or fail to write."""
    if backend == "spatialite":
        url = f"sqlite:///{tmp_path_factory.mktemp('hk') / 'hk.db'}"
    else:
        url = _fresh_postgres_database(_postgres_url())
    created = run(url, "city", "create", "--name", "香港", "--district-code", "810000", "--timezone", "Asia/Hong_Kong")
    assert created.exit_code == 0, created.stderr
    r = run(url, "import", str(files["districts"]), "--layer", "subdistricts", "--code-column", "jd_code",
            "--name-column", "DC_ENG")
    assert r.exit_code == 0 and "imported 18 subdistricts" in r.stdout, r.stderr
    r = run(url, "import", str(files["dcca"]), "--layer", "communities", "--code-column", "sq_code",
            "--name-column", "DCCA_ENG", "--parent-column", "jd")
    assert r.exit_code == 0 and "imported 80 communities" in r.stdout, r.stderr
    yield url, created.stdout
    if backend != "spatialite":
        drop_postgis_database(url)


def _read(url: str, *columns):
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(select(*columns)).all()
    finally:
        engine.dispose()


def _communities(url: str, prefix: str) -> gpd.GeoDataFrame:
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            return read_frame(session, [Community.code], Community.geom, where=[Community.code.like(f"{prefix}%")],
                              order_by=[Community.code])
    finally:
        engine.dispose()


def test_a_city_from_official_layers_keeps_their_codes_and_loads_the_categories(hk):
    url, created = hk
    assert "metric CRS not chosen yet" in created and "EPSG:0" not in created
    subs = dict(_read(url, Subdistrict.code, Subdistrict.name))
    assert subs["810000011"] == "Central & Western" and len(subs) == 18
    coms = {c: (n, s) for c, n, s in _read(url, Community.code, Community.name, Community.subdistrict_id)}
    assert len(coms) == 80 and all(len(c) == 12 and c.startswith("810000") for c in coms)
    sub_codes = dict(_read(url, Subdistrict.id, Subdistrict.code))
    assert all(c.startswith(sub_codes[s]) for c, (_, s) in coms.items())  # each in the subdistrict it names
    [(epsg, tz, scheme, version)] = _read(url, City.metric_epsg, City.timezone, City.code_scheme, City.map_version)
    assert epsg in (32649, 32650) and tz == "Asia/Hong_Kong" and scheme == "gb" and version >= 3
    assert len(_read(url, Category.code)) > 10  # no `categories load` needed
    info = run(url, "info").stdout
    assert f"metric CRS EPSG:{epsg}" in info and "communities 社区: 80" in info


def test_a_wrong_parent_link_refuses_the_layer_listing_every_mismatch(hk, files):
    url, _ = hk
    before = _read(url, Community.code, Community.subdistrict_id)
    r = run(url, "import", str(files["bad"]), "--layer", "communities", "--code-column", "sq_code",
            "--name-column", "DCCA_ENG", "--parent-column", "jd", "--replace")
    assert r.exit_code == 1
    lines = r.stderr.strip().splitlines()
    assert lines[0] == "gridpatrol: error: cannot import sq_bad.gpkg: nothing was written"
    mismatches = [ln for ln in lines[1:] if "parent_mismatch" in ln]
    assert len(mismatches) == 2 and len(lines) == 3
    assert re.search(r"row 1 community 810000013\d{3} Quarry Bay names subdistrict '810000014' \(810000014 Southern\) "
                     r"but lies in 810000013 Eastern \(at 114\.\d{4}, 22\.\d{4}\)", mismatches[0]), mismatches[0]
    assert "row 8 community 810000011" in mismatches[1] and "lies in 810000011 Central & Western" in mismatches[1]
    assert _read(url, Community.code, Community.subdistrict_id) == before


def test_layer_file_problems_crs_and_column_mapping(hk, files):
    url, _ = hk
    r = run(url, "import", str(files["noprj"]), "--layer", "subdistricts", "--code-column", "nope", "--replace")
    assert r.exit_code == 1
    assert "the layer has no 'nope' column to read code from (columns: jd_code, DC_ENG)" in r.stderr
    assert "unknown_crs" in r.stderr
    r = run(url, "import", str(files["dcca"]), "--layer", "communities", "--crs", "EPSG:4490", "--replace")
    assert r.exit_code == 1 and "--crs EPSG:4490 is only for files without one" in r.stderr
    r = run(url, "import", str(files["districts"]), "--layer", "subdistricts", "--parent-column", "jd")
    assert r.exit_code == 1 and "--parent-column applies to communities and grids" in r.stderr
    r = run(url, "city", "create", "--name", "x", "--district-code", "810000")
    assert r.exit_code == 1 and "already holds a city (香港); pass --replace" in r.stderr
    for args, message in ((("--district-code", "8100"), "6-digit district code"),
                          (("--district-code", "810000", "--timezone", "Mars/Olympus"), "not a time zone")):
        r = run(url, "city", "create", "--name", "x", *args, "--replace")
        assert r.exit_code == 1 and message in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert len(_read(url, Subdistrict.code)) == 18  # nothing written


def test_grids_name_their_community_get_codes_after_it_and_check_in_lonlat(hk, tmp_path):
    url, _ = hk
    coms = _communities(url, "810000")
    grids = gpd.GeoDataFrame({"sq": coms["code"]}, geometry=list(coms.geometry), crs=4326)  # a grid per community
    wrong = grids.copy()
    wrong.loc[0, "sq"] = coms["code"].iloc[1]
    wrong.to_file(tmp_path / "wrong.geojson")
    r = run(url, "import", str(tmp_path / "wrong.geojson"), "--layer", "grids", "--parent-column", "sq")
    assert r.exit_code == 1 and "parent_mismatch: row 1 grid" in r.stderr and not _read(url, Grid.code)
    grids.loc[0, "geometry"] = shapely.buffer(grids.geometry.iloc[0], 0.002)  # reaches into its neighbours
    grids.to_file(tmp_path / "grids.geojson")
    r = run(url, "import", str(tmp_path / "grids.geojson"), "--layer", "grids", "--parent-column", "sq")
    assert r.exit_code == 0, r.stderr
    codes = {c: i for c, i in _read(url, Grid.code, Grid.community_id)}
    assert set(codes) == {f"{c}001" for c in coms["code"]}  # the 12-digit community code + 001
    out = run(url, "grids", "check", "--households", "1-10").stdout
    assert "grids outside community: 1 (error)" in out and "np.int64" not in out
    places = [ln for ln in out.splitlines() if ln.startswith("  - ") and " at " in ln]
    assert places and all(re.search(r"at \(lon/lat 11[34]\.\d{4}, 22\.\d{4}\)", ln) for ln in places), places
    assert re.search(r"\(feature 810000\d{9}\)", out)  # grids by code
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            [outside] = [p for p in check_city_grids(session, households_range=None).check.problems
                         if p.kind == "grid_outside_community"]
    finally:
        engine.dispose()
    assert re.fullmatch(r"[0-9.]+ m² outside community '810000011\d{3} [A-Z][^']+', at \(\d+\.\d, \d+\.\d\)",
                        outside.message), outside.message  # the community by code and name, not database id
    assert not re.search(r"\d{5,}\.\d+[ ,]+\d{6,}\.\d", out)  # no projected metres


def test_gcj02_layer_with_adcodes_needs_the_own_scheme_and_is_shifted_to_wgs84(fresh_url, tmp_path):
    raw = gpd.read_file(shared_file("china/yantai_370600_districts_datav.json"))  # AMap (GCJ-02), adcode codes
    raw["geometry"] = raw.geometry.make_valid()  # 芝罘区's outline crosses itself once in the source
    path = tmp_path / "yantai.geojson"
    raw[["adcode", "name", "geometry"]].to_file(path)
    empty = run(fresh_url, "info").stdout
    assert empty.startswith("city: none yet — `gridpatrol city create") and "EPSG:0" not in empty
    assert run(fresh_url, "city", "create", "--name", "烟台", "--district-code", "370600").exit_code == 0
    r = run(fresh_url, "import", str(path), "--layer", "subdistricts", "--code-column", "adcode", "--datum", "gcj02")
    assert r.exit_code == 1 and "code must be 3 or 9 digits, got '370602'" in r.stderr
    r = run(fresh_url, "city", "create", "--name", "烟台", "--district-code", "370600", "--code-scheme", "own",
            "--replace")
    assert r.exit_code == 0, r.stderr
    r = run(fresh_url, "import", str(path), "--layer", "subdistricts", "--code-column", "adcode", "--datum", "gcj02")
    assert r.exit_code == 0, r.stderr
    raw = raw.set_index("adcode")
    engine = make_engine(fresh_url)
    try:
        with Session(engine) as session:
            stored = read_frame(session, [Subdistrict.code, Subdistrict.name], Subdistrict.geom).set_index("code")
    finally:
        engine.dispose()
    assert stored.loc["370602", "name"] == "芝罘区" and len(stored) == len(raw)
    shift = raw.geometry.loc[370602].centroid.x - stored.geometry.loc["370602"].centroid.x
    assert 0.003 < shift < 0.008  # GCJ-02 lies ~500 m east of WGS-84 here
