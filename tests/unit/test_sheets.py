"""The QR sticker sheets and public cards, without a database: pages and cells, every QR decoded back to its link
(the PDF rendered with PDFium and read with ZXing; the SVG's modules compared with segno's encoding), sizes."""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET

import pypdfium2 as pdfium
import pytest
import segno
import zxingcpp

from patrol.core.errors import InvalidInput
from patrol.intake import sheets as sh
from patrol.intake.links import ReportPlace, parse_report_query, report_url

SVG = "{http://www.w3.org/2000/svg}"
BASE = "https://grid.example.cn"


def building(i: int) -> sh.Sticker:
    place = ReportPlace(building_id=1000 + i, grid_code=f"330212001001{i % 3:03d}", lon=121.5 + i / 1000, lat=29.87)
    return sh.Sticker(report_url(BASE, place), f"中山东路{i}号", ("第一网格 · 和平社区",))


def qrs(page) -> list[sh.QR]:
    return [op for op in page if isinstance(op, sh.QR)]


def test_stickers_fill_pages_and_every_pdf_qr_scans_back_to_its_building():
    stickers = [building(i) for i in range(25)]
    sheet = sh.sticker_sheet(stickers, per_page=12)
    assert [len(qrs(p)) for p in sheet.pages] == [12, 12, 1] and sheet.items == 25
    pdf = sh.sheet_pdf(sheet, "buildings")
    assert pdf.startswith(b"%PDF")
    doc = pdfium.PdfDocument(pdf)
    assert len(doc) == 3
    assert doc[0].get_size() == pytest.approx((595.3, 841.9), abs=0.5)  # A4 in points
    image = doc[0].render(scale=200 / 72).to_pil()
    read = {r.text for r in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)}
    assert read == {s.url for s in stickers[:12]}
    for i in range(12):
        place = parse_report_query(stickers[i].url.split("?", 1)[1])
        assert place == ReportPlace(1000 + i, f"330212001001{i % 3:03d}", round(121.5 + i / 1000, 6), 29.87)
    assert all(q.size >= sh.MIN_QR_MM for p in sheet.pages for q in qrs(p))
    cut = [op for op in sheet.pages[0] if isinstance(op, sh.Line)]
    assert len(cut) == 2 * (3 + 1) + 2 * (4 + 1) + 2 * 5 + 3 * 4  # margin ticks, then inner crosses


def _modules(group: ET.Element) -> list[list[bool]]:
    n = int(group.find(f"{SVG}rect").get("width"))
    grid = [[False] * n for _ in range(n)]
    for x, y, w in re.findall(r"M(\d+) (\d+)h(\d+)v1h-\d+z", group.find(f"{SVG}path").get("d")):
        for c in range(int(x), int(x) + int(w)):
            grid[int(y)][c] = True
    return grid


def test_svg_page_is_a4_xml_whose_qr_modules_are_segnos_encoding_of_the_link():
    stickers = [building(i) for i in range(3)]
    [svg] = sh.sheet_svg(sh.sticker_sheet(stickers, per_page=4))
    root = ET.fromstring(svg.encode("utf-8"))
    assert (root.get("width"), root.get("height"), root.get("viewBox")) == ("210mm", "297mm", "0 0 210 297")
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "中山东路1号" in texts and texts.count("扫码反映问题 · 无需下载APP") == 3
    groups = [g for g in root.iter(f"{SVG}g") if g.get("class") == "qr"]
    assert [g.get("data-url") for g in groups] == [s.url for s in stickers]
    for g in groups:
        want = [[bool(v) for v in row] for row in
                segno.make_qr(g.get("data-url"), error="q", boost_error=False).matrix_iter(scale=1, border=4)]
        assert _modules(g) == want
        assert all(not v for v in want[0] + want[3] + [row[0] for row in want])  # the quiet zone is white
        scale = float(re.search(r"scale\(([\d.]+)\)", g.get("transform")).group(1))
        assert scale * len(want) >= sh.MIN_QR_MM


def test_every_layout_keeps_the_qr_scannable_and_long_labels_fit_their_cell():
    long = sh.Sticker(report_url(BASE, ReportPlace(grid_code="330212001001001")), "宁波市海曙区中山东路一百二十八弄"
                      "新天地花园小区第十二幢东单元", ("和平社区第一网格 · 和平社区居民委员会 · 中山街道办事处",))
    for n, (cols, _rows) in sh.GRIDS.items():
        sheet = sh.sticker_sheet([long] * n, per_page=n)
        assert len(sheet.pages) == 1 and len(qrs(sheet.pages[0])) == n
        cell_w = (sh.PAGE_W - 2 * sh.MARGIN) / cols
        for op in sheet.pages[0]:
            if isinstance(op, sh.QR):
                assert op.size >= sh.MIN_QR_MM
            if isinstance(op, sh.Text):
                assert sh.text_width(op.text, op.size) <= cell_w, (n, op)
    with pytest.raises(InvalidInput) as bad:
        sh.sticker_sheet([long], per_page=5)
    assert bad.value.field == "per_page" and "12" in bad.value.message
    with pytest.raises(InvalidInput, match="nothing to print"):
        sh.sticker_sheet([], per_page=12)


def test_cards_two_a5_to_a_page_carry_the_rows_and_the_grid_qr():
    url = report_url(BASE, ReportPlace(grid_code="330212001001001"))
    rows = (("网格", "和平社区第一网格"), ("网格员", "王芳"), ("工作电话", "0574-8765 4321"), ("服务热线", "12345"))
    cards = [sh.Card(url, "网格员公示牌", rows)] * 3
    sheet = sh.card_sheet(cards, per_page=2)
    assert [len(qrs(p)) for p in sheet.pages] == [2, 1]
    doc = pdfium.PdfDocument(sh.sheet_pdf(sheet))
    assert len(doc) == 2
    text = doc[0].get_textpage().get_text_range()
    assert "王芳" in text and "0574-8765 4321" in text and "网格员公示牌" in text  # Chinese text is text, not boxes
    image = doc[1].render(scale=150 / 72).to_pil()
    assert [r.text for r in zxingcpp.read_barcodes(image)] == [url]
    assert all(math.isclose(q.size, qrs(sheet.pages[0])[0].size) and q.size >= sh.MIN_QR_MM for q in
               qrs(sheet.pages[0]))
    [one] = sh.card_sheet(cards[:1], per_page=1).pages  # a whole A4 card: the QR under the rows, larger
    assert qrs(one)[0].size > qrs(sheet.pages[0])[0].size


def test_places_come_from_csv_or_geojson_with_every_problem_at_once():
    from patrol.intake.stickers import PlacePoint, read_places

    csv_text = "名称,经度,纬度\n中山广场,121.55,29.87\n".encode("utf-8-sig")
    assert read_places(csv_text, "p.csv") == [PlacePoint("中山广场", 121.55, 29.87)]
    good = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [121.5, 29.8]},
            "properties": {"name": "公交站"}}
    area = {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": []}, "properties": {"name": "公园"}}
    far = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [221.5, 29.8]}, "properties": {}}
    doc = {"type": "FeatureCollection", "features": [good]}
    assert read_places(json.dumps(doc).encode(), "p.geojson") == [PlacePoint("公交站", 121.5, 29.8)]
    doc["features"] += [area, far]
    with pytest.raises(InvalidInput) as bad:
        read_places(json.dumps(doc).encode(), "p.geojson")
    assert bad.value.field == "places" and bad.value.details == [
        "feature 2: not a Point", "feature 3: no name", "feature 3: lon/lat must be WGS-84 degrees, got 221.5, 29.8"]
    with pytest.raises(InvalidInput, match="nothing to print"):
        read_places(b"name,lon,lat\n", "empty.csv")
