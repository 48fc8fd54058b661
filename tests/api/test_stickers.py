"""QR stickers and public cards on both databases: the API in and out of scope (PDF pages, links that scan back to
the grid's buildings with a point inside each, SVG cards with the worker's work phone), and the command line."""

from __future__ import annotations

import csv
import io
import math
import xml.etree.ElementTree as ET
import zipfile

import pypdfium2 as pdfium
import shapely
import zxingcpp
from sqlalchemy import func, select

from api.cli import main as cli_main
from patrol.core.db import session_factory, transaction
from patrol.core.models import Building, Community, Grid
from patrol.intake.links import parse_report_query

SVG = "{http://www.w3.org/2000/svg}"


def grid_a(world) -> tuple[str, str, str, dict[int, shapely.Geometry]]:
    """Grid A's code, name, community code and its buildings (id → footprint)."""
    with transaction(session_factory(world.engine)) as s:
        g = s.get(Grid, world.grid_a)
        rows = s.execute(select(Building.id, func.ST_AsBinary(Building.geom)).where(Building.grid_id == g.id)).all()
        return g.code, g.name, s.get(Community, g.community_id).code, {
            int(i): shapely.from_wkb(bytes(w)) for i, w in rows}


def svg_texts(data: bytes) -> tuple[list[str], list[str]]:
    root = ET.fromstring(data)
    assert root.get("width") == "210mm"
    return ([t.text or "" for t in root.iter(f"{SVG}text")],
            [g.get("data-url") for g in root.iter(f"{SVG}g") if g.get("class") == "qr"])


def test_building_sheet_of_a_grid_in_scope_scans_back_to_its_buildings(world):
    code, _, _, buildings = grid_a(world)
    assert buildings
    r = world.client.get("/api/v1/stickers", params={"kind": "buildings", "grid": code}, headers=world.h("sup"))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf" and r.content.startswith(b"%PDF")
    assert r.headers["content-disposition"] == f'attachment; filename="stickers-buildings-{code}.pdf"'
    doc = pdfium.PdfDocument(r.content)
    assert len(doc) == int(r.headers["x-pages"]) == math.ceil(len(buildings) / 12)
    assert int(r.headers["x-items"]) == len(buildings)
    image = doc[0].render(scale=200 / 72).to_pil()
    links = [x.text for x in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)]
    assert len(links) == min(12, len(buildings))
    for link in links:
        assert link.startswith(world.settings.public_url.rstrip("/") + "/r/?")
        place = parse_report_query(link.split("?", 1)[1])
        assert place.grid_code == code and place.building_id in buildings
        # the point locates the report without GPS: it lies in the building's footprint
        assert buildings[place.building_id].buffer(1e-7).contains(shapely.Point(place.lon, place.lat))


def test_out_of_scope_and_unknown_selections_are_refused(world):
    code, _, com_code, _ = grid_a(world)
    for who in ("sup_other", "subd_other", "worker_a", "dept1"):
        r = world.client.get("/api/v1/stickers", params={"kind": "grids", "grid": code}, headers=world.h(who))
        assert r.status_code == 403 and r.json()["code"] == "forbidden", (who, r.text)
    r = world.client.get("/api/v1/stickers", params={"kind": "cards", "community": com_code},
                         headers=world.h("sup_other"))
    assert r.status_code == 403 and r.json()["field"] == "community"
    r = world.client.get("/api/v1/stickers", params={"grid": "999999999999999"}, headers=world.h("admin"))
    assert r.status_code == 404 and r.json()["field"] == "grid"
    r = world.client.get("/api/v1/stickers", params={"grid": code, "per_page": 5}, headers=world.h("admin"))
    assert r.status_code == 422 and r.json()["field"] == "per_page"
    r = world.client.get("/api/v1/stickers", params={"grid": code, "lang": "zh"}, headers=world.h("sup_other"))
    assert r.json()["message"] == "所选网格或社区不在您的管辖范围内"
    r = world.client.get("/api/v1/stickers", params={"grid": code, "per_page": 5, "lang": "zh"},
                         headers=world.h("admin"))
    assert r.json()["message"].startswith("不支持的每页数量")


def test_card_svg_shows_the_worker_and_her_work_phone_unless_left_off(world):
    code, name, com_code, _ = grid_a(world)
    assert cli_main(["--database", world.url, "users", "set-work-phone", "worker_a", "0574-8765 4321"]) == 0
    r = world.client.get("/api/v1/stickers", params={"kind": "cards", "grid": code, "format": "svg"},
                         headers=world.h("subd"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    texts, urls = svg_texts(r.content)
    assert {"网格员公示牌", name, code, "worker_a", "0574-8765 4321", "12345"} <= set(texts)
    assert [parse_report_query(u.split("?", 1)[1]).grid_code for u in urls] == [code]
    r = world.client.get("/api/v1/stickers", params={"kind": "cards", "grid": code, "format": "svg", "phone": False},
                         headers=world.h("subd"))
    assert "0574-8765 4321" not in svg_texts(r.content)[0]
    r = world.client.get("/api/v1/stickers", params={"kind": "cards", "grid": code, "format": "svg", "lang": "en"},
                         headers=world.h("subd"))
    assert {"Your grid worker", "Grid worker", "Work phone", "0574-8765 4321"} <= set(svg_texts(r.content)[0])
    # a community's grid stickers one to a page: a zip of SVG pages, one grid each
    r = world.client.get("/api/v1/stickers", params={"kind": "grids", "community": com_code, "format": "svg",
                                                     "per_page": 1}, headers=world.h("planner"))
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    pages = zipfile.ZipFile(io.BytesIO(r.content))
    codes = [parse_report_query(svg_texts(pages.read(n))[1][0].split("?", 1)[1]).grid_code for n in pages.namelist()]
    assert len(codes) >= 2 and code in codes and codes == sorted(codes)


def test_cli_prints_grids_places_and_cards_and_says_what_is_wrong(world, tmp_path, capsys):
    code, _, com_code, _ = grid_a(world)
    db = ["--database", world.url]
    out = tmp_path / "grids.pdf"
    assert cli_main([*db, "stickers", "grids", "--community", com_code, "--out", str(out)]) == 0
    with transaction(session_factory(world.engine)) as s:
        n = s.scalar(select(func.count()).select_from(Grid).join(Community).where(Community.code == com_code))
    pages = math.ceil(n / 4)  # four grid stickers to a page by default
    assert capsys.readouterr().out.strip() == f"wrote {pages} page{'s' * (pages > 1)}, {n} stickers to {out}"
    assert len(pdfium.PdfDocument(out.read_bytes())) == pages
    places = tmp_path / "places.csv"
    with places.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("name", "lon", "lat"), ("公交站", *world.point_a), ("广场", *world.point_other)])
    assert cli_main([*db, "stickers", "places", "--places", str(places), "--out", str(tmp_path / "p.svg")]) == 0
    assert capsys.readouterr().out.strip() == f"wrote 1 page, 2 stickers to {tmp_path / 'p.svg'}"
    texts, urls = svg_texts((tmp_path / "p.svg").read_bytes())
    first = parse_report_query(urls[0].split("?", 1)[1])
    assert "公交站" in texts and first.name == "公交站" and first.grid_code == code
    assert (first.lon, first.lat) == (round(world.point_a[0], 6), round(world.point_a[1], 6))
    assert cli_main([*db, "stickers", "cards", "--grid", code, "--per-page", "1", "--no-phone", "--title", "网格长公示",
                     "--out", str(tmp_path / "c.svg")]) == 0
    assert "wrote 1 page, 1 card to" in capsys.readouterr().out
    texts, _ = svg_texts((tmp_path / "c.svg").read_bytes())
    assert "网格长公示" in texts and not any("0574" in t for t in texts)
    assert cli_main([*db, "stickers", "buildings", "--grid", "999999999999999", "--out", str(out)]) == 1
    assert capsys.readouterr().err.strip() == "gridpatrol: error: no grid '999999999999999'"
    places.write_text("name,lon,lat\n公交站,7.42,91\n,7.42,43.73\n", encoding="utf-8")
    assert cli_main([*db, "stickers", "places", "--places", str(places), "--out", str(out)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "gridpatrol: error: places.csv: 2 problems in the places"
    assert err[1].startswith("  - line 2: lon/lat must be WGS-84 degrees") and err[2] == "  - line 3: no name"
