"""Delivered GIS files are opened without trusting them (geo.intake, geo.sandbox): the format is the name's and must
match the content, GDAL sees only that format's driver, zips are checked before anything is unpacked, and the read
runs in a child process whose crash, hang or memory use costs the child only."""

from __future__ import annotations

import io
import os
import time
import zipfile
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
import shapely

from geo import intake
from geo.errors import GeoValidationError
from geo.intake import Limits, extract_shapefile, read_delivered, read_upload, read_with_driver
from geo.sandbox import LimitExceeded, run_limited

SECRET = "SECRET-4711-resident-phone"
MIB = 1024 * 1024


def _grids() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"code": ["110101001001001"]}, geometry=[shapely.box(7.41, 43.73, 7.42, 43.74)], crs=4326)


def _vrt(tmp_path: Path) -> bytes:
    """An OGR VRT that reads a local CSV holding the secret (GDAL reads it when nothing stops it)."""
    csv = tmp_path / "secret.csv"
    csv.write_text(f"name,WKT\n{SECRET},\"POINT (7.415 43.735)\"\n")
    return (f'<OGRVRTDataSource><OGRVRTLayer name="grids"><SrcDataSource>{csv}</SrcDataSource>'
            '<SrcLayer>secret</SrcLayer><GeometryField encoding="WKT" field="WKT"/>'
            '</OGRVRTLayer></OGRVRTDataSource>').encode()


def _message(exc: pytest.ExceptionInfo) -> str:
    return " ".join(p.message for p in exc.value.problems)


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _shapefile_members(tmp_path: Path) -> dict[str, bytes]:
    _grids().to_file(tmp_path / "g.shp")
    return {f"g{p.suffix}": p.read_bytes() for p in tmp_path.glob("g.*")}


# ---------------------------------------------------------------------------------------------- format


def test_the_test_vrt_is_real_gdal_reads_the_secret_through_it(tmp_path):
    path = tmp_path / "grids.gpkg"
    path.write_bytes(_vrt(tmp_path))
    assert SECRET in pyogrio.read_dataframe(path)["name"].tolist()


@pytest.mark.parametrize("name", ["grids.gpkg", "grids.json", "grids.geojson"])
def test_a_vrt_under_any_name_is_refused(tmp_path, name):
    with pytest.raises(GeoValidationError) as exc:
        read_upload(name, _vrt(tmp_path))
    assert exc.value.problems[0].field == "file"
    assert "holds XML" in _message(exc) and SECRET not in _message(exc)


def test_gdal_limited_to_one_driver_cannot_open_a_vrt_even_past_the_name_check(tmp_path):
    """The second wall: read_with_driver deregisters every other driver (in a child: it changes GDAL for good)."""
    path = tmp_path / "grids.gpkg"
    path.write_bytes(_vrt(tmp_path))
    for driver in (intake.GPKG, intake.GEOJSON, intake.SHAPEFILE):
        with pytest.raises(GeoValidationError) as exc:
            run_limited(read_with_driver, str(path), driver, None, None, seconds=60)
        assert exc.value.problems[0].kind == "unreadable" and SECRET not in _message(exc)
    good = tmp_path / "good.gpkg"
    _grids().to_file(good)
    assert len(run_limited(read_with_driver, str(good), intake.GPKG, None, None, seconds=60)) == 1


def test_a_geopackage_named_json_is_refused_before_gdal_sees_it(tmp_path):
    _grids().to_file(tmp_path / "g.gpkg")
    with pytest.raises(GeoValidationError) as exc:
        read_upload("grids.json", (tmp_path / "g.gpkg").read_bytes())
    assert "grids.json: the file is named .json but holds a GeoPackage" in _message(exc)


def test_virtual_paths_urls_and_driver_prefixes_are_refused(tmp_path):
    for path in ("/vsicurl/http://example.com/x.gpkg", "https://example.com/x.geojson", "GPKG:/tmp/x.gpkg:grids",
                 "<OGRVRTDataSource></OGRVRTDataSource>"):
        with pytest.raises(GeoValidationError) as exc:
            read_delivered(path)
        assert "only a plain file is read" in _message(exc)


def test_sniff():
    assert intake.sniff(b"\xef\xbb\xbf \n {\"type\"") == "json"
    assert intake.sniff(b"SQLite format 3\x00...") == "gpkg"
    assert intake.sniff(b"  <OGRVRTDataSource>") == "xml"
    assert intake.sniff(b"PK\x03\x04") == "zip"


@pytest.mark.parametrize("fmt", ["gpkg", "geojson", "shp"])
def test_sound_files_still_read(tmp_path, fmt):
    if fmt == "shp":
        name, data = "grids.zip", _zip(_shapefile_members(tmp_path))
    else:
        _grids().to_file(tmp_path / f"g.{fmt}")
        name, data = f"grids.{fmt}", (tmp_path / f"g.{fmt}").read_bytes()
    frame = read_upload(name, data)
    assert frame["code"].astype(str).tolist() == ["110101001001001"] and frame.crs.to_epsg() == 4326


# ---------------------------------------------------------------------------------------------- zips


@pytest.mark.parametrize(("member", "said"), [("../g.shp", "outside the archive"),
                                              ("/etc/g.shp", "outside the archive"),
                                              ("dir/../../g.dbf", "outside the archive"),
                                              ("readme.vrt", "not part of a Shapefile")])
def test_zip_members_with_bad_names_are_refused(tmp_path, member, said):
    members = _shapefile_members(tmp_path) | {member: _vrt(tmp_path)}
    with pytest.raises(GeoValidationError) as exc:
        read_upload("grids.zip", _zip(members))
    assert said in _message(exc) and SECRET not in _message(exc)


def test_a_vrt_named_shp_inside_a_zip_is_refused(tmp_path):
    members = _shapefile_members(tmp_path) | {"g.shp": _vrt(tmp_path)}
    with pytest.raises(GeoValidationError) as exc:
        read_upload("grids.zip", _zip(members))
    assert "g.shp holds XML" in _message(exc) and SECRET not in _message(exc)


def test_too_many_members_are_refused(tmp_path):
    members = _shapefile_members(tmp_path) | {f"x{i}.prj": b"" for i in range(40)}
    with pytest.raises(GeoValidationError) as exc:
        read_upload("grids.zip", _zip(members))
    assert "at most 32" in _message(exc)


def _bomb(tmp_path: Path, size: int) -> Path:
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in _shapefile_members(tmp_path).items():
            if not name.endswith(".dbf"):
                zf.writestr(name, data)
        with zf.open("g.dbf", "w", force_zip64=True) as out:
            for _ in range(size // MIB):
                out.write(bytes(MIB))
    return path


@pytest.mark.parametrize(("limits", "said"), [(Limits(), "times when unpacked"),
                                              (Limits(max_ratio=1e9, max_bytes=20 * MIB), "unpacks to 64 MB")])
def test_a_zip_bomb_is_refused_before_anything_is_unpacked(tmp_path, monkeypatch, limits, said):
    bomb = _bomb(tmp_path, 64 * MIB)
    assert bomb.stat().st_size < MIB
    opened: list[str] = []
    real_open = zipfile.ZipFile.open
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda self, m, *a, **k: opened.append(str(m)) or real_open(
        self, m, *a, **k))
    target = tmp_path / "out"
    target.mkdir()
    with pytest.raises(GeoValidationError) as exc:
        extract_shapefile(bomb, target, "bomb.zip", limits)
    assert said in _message(exc)
    assert opened == [] and list(target.iterdir()) == []


def test_extraction_stops_at_the_byte_budget(tmp_path):
    """Past the checks of what members declare, the copy itself is capped (a member over the budget is removed)."""
    bomb = _bomb(tmp_path, 8 * MIB)
    target = tmp_path / "out"
    target.mkdir()
    with zipfile.ZipFile(bomb) as zf:
        info = zf.getinfo("g.dbf")
        with pytest.raises(GeoValidationError) as exc:
            intake._copy_member(zf, info, target / "layer.dbf", 2 * MIB, "bomb.zip")  # noqa: SLF001
    assert "more than it declares" in _message(exc) and not (target / "layer.dbf").exists()


# ---------------------------------------------------------------------------------------------- the child process


def test_a_hanging_read_is_stopped_at_the_time_limit():
    start = time.monotonic()
    with pytest.raises(LimitExceeded) as exc:
        run_limited(time.sleep, 60, seconds=3)
    assert exc.value.reason == "timeout" and time.monotonic() - start < 20


def test_a_crashing_read_costs_the_child_only():
    with pytest.raises(LimitExceeded) as exc:
        run_limited(os.abort, seconds=60)
    assert exc.value.reason == "crash"
    assert run_limited(int, "12", seconds=60) == 12


def test_a_read_past_the_memory_limit_is_stopped():
    with pytest.raises(LimitExceeded) as exc:
        run_limited(bytearray, 8 * 1024 * MIB, seconds=60, memory_bytes=256 * MIB)
    assert exc.value.reason == "memory"


def test_the_functions_own_exception_comes_back():
    with pytest.raises(ValueError, match="invalid literal"):
        run_limited(int, "x", seconds=60)


def test_a_timeout_becomes_an_unreadable_file(tmp_path):
    _grids().to_file(tmp_path / "g.gpkg")
    with pytest.raises(GeoValidationError) as exc:
        read_delivered(tmp_path / "g.gpkg", limits=Limits(seconds=0.01))
    assert "g.gpkg: reading took longer than 0.01 s" in _message(exc)
