"""Printable A4 sheets of QR stickers and grid workers' public cards (网格员公示牌), as SVG and as PDF.

The layout is computed once, in millimetres from the page's top-left corner, as a list of drawing operations per page
(:class:`Text`, :class:`QR`, :class:`Line`, :class:`Box`); two thin writers turn the same pages into SVG (one
document per page: a browser prints one SVG as one page) and into one multi-page PDF. Nothing here reads the
database: :mod:`patrol.intake.stickers` decides what is printed and passes :class:`Sticker` and :class:`Card` rows.

Print rules: A4 (210 × 297 mm), 10 mm margins, stickers on a grid of equal cells with cut marks (ticks in the margin
and small crosses where inner cuts meet); each QR keeps its 4-module quiet zone, error correction Q (a sticker on a
wall gets dirty), and is at least :data:`MIN_QR_MM` wide — a layout that would print it smaller is refused.

The PDF uses reportlab's built-in CID font ``STSong-Light`` (Adobe-GB1): no font file is shipped or embedded and
every PDF reader with Chinese support draws it (Acrobat, pdf.js, Chrome's PDFium, Poppler with its CJK fallback).
The SVG names common Chinese fonts and falls back to the system's sans-serif.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

import segno

from patrol.core.errors import InvalidInput

PAGE_W, PAGE_H = 210.0, 297.0  # A4 portrait, mm
MARGIN = 10.0
MIN_QR_MM = 25.0
PT_PER_MM = 72 / 25.4
PDF_FONT = "STSong-Light"
SVG_FONTS = "'Noto Sans CJK SC','Source Han Sans SC','WenQuanYi Micro Hei','Microsoft YaHei','PingFang SC',sans-serif"
#: stickers per page → (columns, rows)
GRIDS: dict[int, tuple[int, int]] = {1: (1, 1), 2: (1, 2), 4: (2, 2), 6: (2, 3), 8: (2, 4), 9: (3, 3), 12: (3, 4),
                                     15: (3, 5), 16: (4, 4), 20: (4, 5), 24: (4, 6)}
#: cards per page → (columns, rows): one A4 card, or two A5 cards (landscape halves of the page)
CARD_GRIDS: dict[int, tuple[int, int]] = {1: (1, 1), 2: (1, 2)}
RED = "#b71c1c"


@dataclass(frozen=True)
class Sticker:
    """One QR sticker: the link it carries, its big line (a building's label, a grid's or a place's name), smaller
    lines under it and the call to action above the code."""

    url: str
    title: str
    lines: tuple[str, ...] = ()
    heading: str = "扫码反映问题 · 无需下载APP"


@dataclass(frozen=True)
class Card:
    """A grid worker's public card: a title band, (label, value) rows, the grid's QR with its caption."""

    url: str
    title: str
    rows: tuple[tuple[str, str], ...]
    caption: str = "扫码反映问题 · 无需下载APP"
    footer: str = ""


# ---------------------------------------------------------------------------------------------- drawing operations


@dataclass(frozen=True)
class Text:
    x: float
    y: float  # baseline
    size: float  # mm (the em)
    text: str
    anchor: str = "middle"  # start | middle | end
    color: str = "#000000"


@dataclass(frozen=True)
class QR:
    x: float
    y: float
    size: float  # with the quiet zone
    matrix: tuple[tuple[bool, ...], ...]  # with the quiet zone
    url: str


@dataclass(frozen=True)
class Line:
    x1: float
    y1: float
    x2: float
    y2: float
    width: float = 0.2


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float
    h: float
    fill: str | None = None
    stroke: str | None = "#000000"
    width: float = 0.4


Op = Text | QR | Line | Box


@dataclass
class Sheet:
    """Pages of drawing operations, and how many stickers or cards are on them."""

    pages: list[list[Op]] = field(default_factory=list)
    items: int = 0


def text_width(text: str, size: float) -> float:
    """An upper estimate of a line's width (mm): CJK and full-width characters one em, others 0.6 em."""
    return size * sum(1.0 if ord(c) > 0x2E7F else 0.6 for c in text)


def fit(text: str, size: float, width: float, smallest: float) -> tuple[str, float]:
    """``text`` at the largest size ≤ ``size`` (not below ``smallest``) that fits ``width``; cut with … if even the
    smallest does not."""
    while size > smallest and text_width(text, size) > width:
        size = max(smallest, size * 0.92)
    while len(text) > 1 and text_width(text, size) > width:
        text = text[:-2] + "…" if len(text) > 2 else text[:1]
    return text, size


@functools.lru_cache(maxsize=256)
def qr_matrix(url: str) -> tuple[tuple[bool, ...], ...]:
    """The QR modules of ``url`` (error correction Q, not boosted) with the 4-module quiet zone around them."""
    code = segno.make_qr(url, error="q", boost_error=False)
    return tuple(tuple(bool(v) for v in row) for row in code.matrix_iter(scale=1, border=4))


def grid_of(per_page: int, table: dict[int, tuple[int, int]], what: str) -> tuple[int, int]:
    if per_page not in table:
        raise InvalidInput(f"{what} come {', '.join(map(str, table))} to a page, not {per_page}",
                           field="per_page")
    return table[per_page]


def _cells(cols: int, rows: int) -> list[tuple[float, float, float, float]]:
    w, h = (PAGE_W - 2 * MARGIN) / cols, (PAGE_H - 2 * MARGIN) / rows
    return [(MARGIN + c * w, MARGIN + r * h, w, h) for r in range(rows) for c in range(cols)]


def cut_marks(cols: int, rows: int) -> list[Op]:
    """Ticks in the margin on every cut line, and small crosses where inner cut lines meet."""
    w, h = (PAGE_W - 2 * MARGIN) / cols, (PAGE_H - 2 * MARGIN) / rows
    xs = [MARGIN + i * w for i in range(cols + 1)]
    ys = [MARGIN + j * h for j in range(rows + 1)]
    ops: list[Op] = []
    for x in xs:
        ops += [Line(x, 2, x, MARGIN - 2), Line(x, PAGE_H - MARGIN + 2, x, PAGE_H - 2)]
    for y in ys:
        ops += [Line(2, y, MARGIN - 2, y), Line(PAGE_W - MARGIN + 2, y, PAGE_W - 2, y)]
    for x in xs[1:-1]:
        for y in ys:
            ops.append(Line(x, y - 2, x, y + 2))
    for y in ys[1:-1]:
        for x in xs:
            ops.append(Line(x - 2, y, x + 2, y))
    return ops


# ---------------------------------------------------------------------------------------------- layouts


def _sticker(s: Sticker, x: float, y: float, w: float, h: float) -> list[Op]:
    pad = max(2.5, min(w, h) * 0.05)
    head_size = min(max(0.05 * h, 2.6), 5.0)
    title_size = min(max(0.075 * h, 3.2), 8.0)
    line_size = min(max(0.045 * h, 2.4), 4.2)
    inner = w - 2 * pad
    text_h = head_size * 1.6 + title_size * 1.5 + line_size * 1.4 * len(s.lines)
    q = min(inner, h - 2 * pad - text_h)
    if q < MIN_QR_MM:
        raise InvalidInput(f"the QR would be {q:.0f} mm wide (at least {MIN_QR_MM:.0f} mm scans reliably): "
                           "print fewer stickers to a page", field="per_page")
    cx = x + w / 2
    top = y + pad + (h - 2 * pad - q - text_h) / 2  # centre the block vertically
    heading, hs = fit(s.heading, head_size, inner, 2.2)
    ops: list[Op] = [Text(cx, top + head_size, hs, heading, color=RED)]
    qy = top + head_size * 1.6
    ops.append(QR(cx - q / 2, qy, q, qr_matrix(s.url), s.url))
    by = qy + q + title_size * 1.15
    title, ts = fit(s.title, title_size, inner, 2.6)
    ops.append(Text(cx, by, ts, title))
    by += title_size * 0.35
    for line in s.lines:
        by += line_size * 1.4
        text, ls = fit(line, line_size, inner, 2.0)
        ops.append(Text(cx, by, ls, text, color="#333333"))
    return ops


def sticker_sheet(stickers: Sequence[Sticker], per_page: int = 12) -> Sheet:
    """Stickers on A4 pages, ``per_page`` to a page, with cut marks."""
    if not stickers:
        raise InvalidInput("nothing to print: the selection holds no stickers", field="selection")
    cols, rows = grid_of(per_page, GRIDS, "stickers")
    cells = _cells(cols, rows)
    sheet = Sheet(items=len(stickers))
    for start in range(0, len(stickers), per_page):
        page: list[Op] = cut_marks(cols, rows)
        for s, (x, y, w, h) in zip(stickers[start:start + per_page], cells, strict=False):
            page += _sticker(s, x, y, w, h)
        sheet.pages.append(page)
    return sheet


def _card_rows(c: Card, x: float, y: float, width: float, size: float) -> list[Op]:
    """The card's (label, value) rows from baseline ``y`` down: a small grey label over a large value."""
    ops: list[Op] = []
    for label, value in c.rows:
        ops.append(Text(x, y, size * 0.6, label, anchor="start", color="#555555"))
        y += size * 1.1
        text, vs = fit(value, size, width, 3.0)
        ops.append(Text(x, y, vs, text, anchor="start"))
        y += size * 1.25
    return ops


def _card(c: Card, x: float, y: float, w: float, h: float) -> list[Op]:
    """A card: the title band; on a wide card the rows left and the QR right, on a tall one the QR under them."""
    pad = 8.0
    band = min(max(h * 0.12, 16.0), 28.0)
    ops: list[Op] = [Box(x + 2, y + 2, w - 4, h - 4, stroke=RED, width=0.8),
                     Box(x + 2, y + 2, w - 4, band, fill=RED, stroke=None)]
    title, ts = fit(c.title, band * 0.5, w - 2 * pad, 5.0)
    ops.append(Text(x + w / 2, y + 2 + band * 0.68, ts, title, color="#ffffff"))
    body_y = y + 2 + band + pad
    body_h = h - 4 - band - 2 * pad - (6.0 if c.footer else 0.0)
    left = x + 2 + pad
    n = max(len(c.rows), 1)
    if w >= h:
        q = min(body_h - 8.0, (w - 3 * pad) * 0.45)
        qx, qy = x + w - pad - 2 - q, body_y
        size = min(body_h / n / 2.5, 8.0)
        ops += _card_rows(c, left, body_y + size * 0.6, qx - left - pad, size)
    else:
        size = min(body_h * 0.45 / n / 2.4, 9.0)
        ops += _card_rows(c, left, body_y + size * 0.6, w - 4 - 2 * pad, size)
        q = min(w * 0.6, body_h - n * size * 2.4 - 14.0)
        qx, qy = x + (w - q) / 2, y + h - 2 - pad - (6.0 if c.footer else 0.0) - 10.0 - q
    if q < MIN_QR_MM:
        raise InvalidInput(f"the card's QR would be {q:.0f} mm wide: print fewer cards to a page", field="per_page")
    ops.append(QR(qx, qy, q, qr_matrix(c.url), c.url))
    cap, cs = fit(c.caption, min(q * 0.07, 6.0), q + 4, 2.4)
    ops.append(Text(qx + q / 2, qy + q + cs * 1.5, cs, cap, color=RED))
    if c.footer:
        foot, fs = fit(c.footer, 3.2, w - 2 * pad, 2.2)
        ops.append(Text(x + w / 2, y + h - 2 - pad / 2 - 1, fs, foot, color="#555555"))
    return ops


def card_sheet(cards: Sequence[Card], per_page: int = 2) -> Sheet:
    """Cards on A4 pages: one A4 card to a page, or two A5 cards (cut along the middle)."""
    if not cards:
        raise InvalidInput("nothing to print: the selection holds no grids", field="selection")
    cols, rows = grid_of(per_page, CARD_GRIDS, "cards")
    cells = _cells(cols, rows)
    sheet = Sheet(items=len(cards))
    for start in range(0, len(cards), per_page):
        page: list[Op] = cut_marks(cols, rows) if per_page > 1 else []
        for c, (x, y, w, h) in zip(cards[start:start + per_page], cells, strict=False):
            page += _card(c, x, y, w, h)
        sheet.pages.append(page)
    return sheet


# ---------------------------------------------------------------------------------------------- SVG


def _runs(matrix: tuple[tuple[bool, ...], ...]) -> list[tuple[int, int, int]]:
    """The dark modules as horizontal runs: (row, first column, length)."""
    out = []
    for r, row in enumerate(matrix):
        c = 0
        while c < len(row):
            if row[c]:
                start = c
                while c < len(row) and row[c]:
                    c += 1
                out.append((r, start, c - start))
            else:
                c += 1
    return out


def _qr_path(matrix: tuple[tuple[bool, ...], ...]) -> str:
    """Dark modules as one path of horizontal runs, in module units."""
    return "".join(f"M{start} {r}h{n}v1h-{n}z" for r, start, n in _runs(matrix))


def _svg_op(op: Op) -> str:
    if isinstance(op, Text):
        return (f'<text x="{op.x:.2f}" y="{op.y:.2f}" font-size="{op.size:.2f}" text-anchor="{op.anchor}" '
                f'fill="{op.color}">{escape(op.text)}</text>')
    if isinstance(op, QR):
        n = len(op.matrix)
        return (f'<g class="qr" data-url="{escape(op.url, {chr(34): "&quot;"})}" '
                f'transform="translate({op.x:.3f} {op.y:.3f}) scale({op.size / n:.5f})" shape-rendering="crispEdges">'
                f'<rect width="{n}" height="{n}" fill="#fff"/><path d="{_qr_path(op.matrix)}" fill="#000"/></g>')
    if isinstance(op, Line):
        return (f'<line x1="{op.x1:.2f}" y1="{op.y1:.2f}" x2="{op.x2:.2f}" y2="{op.y2:.2f}" stroke="#000" '
                f'stroke-width="{op.width}"/>')
    fill = op.fill or "none"
    stroke = f' stroke="{op.stroke}" stroke-width="{op.width}"' if op.stroke else ""
    return f'<rect x="{op.x:.2f}" y="{op.y:.2f}" width="{op.w:.2f}" height="{op.h:.2f}" fill="{fill}"{stroke}/>'


def page_svg(page: list[Op], title: str = "") -> str:
    """One page as a standalone SVG document, A4 in millimetres."""
    body = "\n".join(_svg_op(op) for op in page)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{PAGE_W:g}mm" height="{PAGE_H:g}mm" '
            f'viewBox="0 0 {PAGE_W:g} {PAGE_H:g}">\n<title>{escape(title)}</title>\n'
            f'<rect width="{PAGE_W:g}" height="{PAGE_H:g}" fill="#fff"/>\n'
            f'<g font-family="{SVG_FONTS}">\n{body}\n</g>\n</svg>\n')


def sheet_svg(sheet: Sheet, title: str = "") -> list[str]:
    """One SVG document per page."""
    return [page_svg(p, title) for p in sheet.pages]


# ---------------------------------------------------------------------------------------------- PDF


def _pdf_font() -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    if PDF_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(PDF_FONT))
    return PDF_FONT


def _pdf_op(canvas, op: Op, font: str) -> None:
    from reportlab.lib.colors import HexColor

    def y(v: float) -> float:
        return (PAGE_H - v) * PT_PER_MM

    if isinstance(op, Text):
        canvas.setFillColor(HexColor(op.color))
        canvas.setFont(font, op.size * PT_PER_MM)
        draw = {"start": canvas.drawString, "middle": canvas.drawCentredString,
                "end": canvas.drawRightString}[op.anchor]
        draw(op.x * PT_PER_MM, y(op.y), op.text)
    elif isinstance(op, QR):
        m = op.size / len(op.matrix) * PT_PER_MM
        x0, y0 = op.x * PT_PER_MM, y(op.y)
        canvas.setFillColor(HexColor("#ffffff"))
        canvas.rect(x0, y0 - op.size * PT_PER_MM, op.size * PT_PER_MM, op.size * PT_PER_MM, stroke=0, fill=1)
        # the dark runs in module units under one transform, as raw operators: reportlab formats each number in
        # Python, and a QR has hundreds of runs
        runs = " ".join(f"{start} {r} {n} 1 re" for r, start, n in _runs(op.matrix))
        canvas.addLiteral(f"q 0 g {m:.5f} 0 0 {-m:.5f} {x0:.3f} {y0:.3f} cm {runs} f Q")
    elif isinstance(op, Line):
        canvas.setLineWidth(op.width * PT_PER_MM)
        canvas.setStrokeColor(HexColor("#000000"))
        canvas.line(op.x1 * PT_PER_MM, y(op.y1), op.x2 * PT_PER_MM, y(op.y2))
    else:
        if op.fill:
            canvas.setFillColor(HexColor(op.fill))
        if op.stroke:
            canvas.setStrokeColor(HexColor(op.stroke))
            canvas.setLineWidth(op.width * PT_PER_MM)
        canvas.rect(op.x * PT_PER_MM, y(op.y + op.h), op.w * PT_PER_MM, op.h * PT_PER_MM,
                    stroke=1 if op.stroke else 0, fill=1 if op.fill else 0)


def sheet_pdf(sheet: Sheet, title: str = "") -> bytes:
    """All pages as one A4 PDF."""
    from reportlab.pdfgen.canvas import Canvas

    font = _pdf_font()
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=(PAGE_W * PT_PER_MM, PAGE_H * PT_PER_MM), pageCompression=1)
    canvas.setTitle(title)
    canvas.setCreator("gridpatrol")
    for page in sheet.pages:
        for op in page:
            _pdf_op(canvas, op, font)
        canvas.showPage()
    canvas.save()
    return out.getvalue()
