"""A plan upload cannot make GDAL read anything but the file as its name says (issue 19), on both databases: an OGR
VRT under a GeoPackage, GeoJSON or Shapefile name is refused and what it points at never shows; a GeoPackage named
.json is refused without GDAL touching it and the server answers afterwards; a zip bomb or a zip member with a path
is refused before anything is unpacked; nothing changes in the draft."""

from __future__ import annotations

import io
import uuid
import zipfile
from pathlib import Path

SECRET = "SECRET-0815-resident-phone"
MIB = 1024 * 1024


def _draft(world) -> int:
    r = world.client.post("/api/v1/plans", headers=world.h("planner"), json={"name": f"safety {uuid.uuid4().hex[:6]}"})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _upload(world, pid: int, name: str, data: bytes):
    return world.client.post(f"/api/v1/plans/{pid}/upload", headers=world.h("planner"), files={"file": (name, data)})


def _download(world, pid: int, fmt: str) -> bytes:
    r = world.client.get(f"/api/v1/plans/{pid}/download", headers=world.h("planner"), params={"format": fmt})
    assert r.status_code == 200, r.text
    return r.content


def _features(world, pid: int) -> list:
    r = world.client.get(f"/api/v1/plans/{pid}", headers=world.h("planner"))
    assert r.status_code == 200, r.text
    return r.json()["features"]


def _vrt(directory: Path) -> bytes:
    csv = directory / "secret.csv"
    csv.write_text(f"code,name,WKT\n110101001001001,{SECRET},\"POLYGON ((7.42 43.73,7.43 43.73,7.43 43.74,7.42 "
                   "43.73))\"\n")
    return (f'<OGRVRTDataSource><OGRVRTLayer name="grids"><SrcDataSource>{csv}</SrcDataSource>'
            '<SrcLayer>secret</SrcLayer><GeometryField encoding="WKT" field="WKT"/></OGRVRTLayer>'
            '</OGRVRTDataSource>').encode()


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _shapefile(world, pid: int) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(_download(world, pid, "shp"))) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _refused(r, *said: str) -> str:
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["field"] == "file" and all(s in body["message"] for s in said), body
    assert SECRET not in r.text
    return body["message"]


def test_a_vrt_is_never_read_under_any_name(world, tmp_path):
    pid = _draft(world)
    before = _features(world, pid)
    vrt = _vrt(tmp_path)
    for name in ("grids.gpkg", "grids.json", "grids.geojson"):
        _refused(_upload(world, pid, name, vrt), f"{name}: the file is named", "holds XML")
    members = _shapefile(world, pid)
    shp = next(n for n in members if n.endswith(".shp"))
    _refused(_upload(world, pid, "grids.zip", _zip(members | {shp: vrt})), "holds XML")
    _refused(_upload(world, pid, "grids.zip", _zip(members | {"grids.vrt": vrt})), "not part of a Shapefile")
    assert _features(world, pid) == before
    public = world.client.get("/api/v1/grids", params={"limit": 5000})
    assert public.status_code == 200 and SECRET not in public.text


def test_a_geopackage_named_json_is_refused_and_the_server_lives_on(world):
    pid = _draft(world)
    gpkg = _download(world, pid, "gpkg")
    _refused(_upload(world, pid, "grids.json", gpkg), "the file is named .json but holds a GeoPackage")
    assert world.client.get("/api/v1/plans", headers=world.h("planner")).status_code == 200
    r = _upload(world, pid, "grids.gpkg", gpkg)
    assert r.status_code == 200, r.text
    assert r.json()["grids"] == len(_features(world, pid))


def test_a_zip_bomb_and_a_member_with_a_path_are_refused_before_unpacking(world, monkeypatch):
    pid = _draft(world)
    members = _shapefile(world, pid)
    dbf = next(n for n in members if n.endswith(".dbf"))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            if name != dbf:
                zf.writestr(name, data)
        with zf.open(dbf, "w", force_zip64=True) as out:
            for _ in range(256):
                out.write(bytes(MIB))
    assert len(buf.getvalue()) < MIB
    with_path = _zip(members | {"../../etc/grids.prj": b"x"})
    opened: list[str] = []
    real_open = zipfile.ZipFile.open

    def spy(self, member, *args, **kwargs):
        opened.append(str(member))
        return real_open(self, member, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", spy)
    _refused(_upload(world, pid, "grids.zip", buf.getvalue()), "times when unpacked", "zip bomb")
    _refused(_upload(world, pid, "grids.zip", with_path), "outside the archive")
    assert opened == []

