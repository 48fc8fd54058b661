"""The watermark on served photos: drawn in a band at the bottom (the rest of the picture untouched), in Chinese with
the CJK font, and still drawn (ASCII only) when no CJK font is installed."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from patrol.cases import watermark as wm

LINES = ["时间 2026-12-05 09:00", "地点 7.42000°E 43.73000°N", "网格 第1网格", "人员 张三"]


def _jpeg(w: int = 800, h: int = 600) -> bytes:
    im = Image.new("RGB", (w, h), (90, 140, 200))
    out = io.BytesIO()
    im.save(out, "JPEG", quality=95)
    return out.getvalue()


def _pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=int)


def test_the_stamp_darkens_a_band_at_the_bottom_and_writes_white_text_in_it():
    plain = _jpeg()
    stamped = wm.watermark(plain, "image/jpeg", LINES)
    a, b = _pixels(plain), _pixels(stamped)
    assert a.shape == b.shape
    top, bottom = slice(0, 300), slice(500, 600)
    assert np.abs(a[top] - b[top]).mean() < 2  # the top half is the picture as it was (JPEG noise aside)
    band = b[bottom, :400]
    assert band.mean() < a[bottom, :400].mean() - 20  # darker band
    assert (band.min(axis=2) > 200).sum() > 200  # white text in it
    assert Image.open(io.BytesIO(stamped)).getexif() == {}  # no metadata comes back with it


def test_the_thumbnail_is_stamped_at_its_scale_and_png_stays_png():
    thumb = wm.watermark(_jpeg(320, 240), "image/jpeg", LINES, quality=85)
    b = _pixels(thumb)
    assert (b[180:, :200].min(axis=2) > 170).sum() > 20  # small text, softened by JPEG: lighter than the band
    rgba = Image.new("RGBA", (400, 300), (0, 0, 0, 0))
    out = io.BytesIO()
    rgba.save(out, "PNG")
    png = wm.watermark(out.getvalue(), "image/png", LINES)
    assert png.startswith(b"\x89PNG") and Image.open(io.BytesIO(png)).mode == "RGBA"


def test_without_a_cjk_font_the_stamp_keeps_the_ascii_text(monkeypatch, caplog):
    assert wm.cjk_font_path() is not None, "fonts-wqy-microhei is installed for the tests (scripts/setup.sh)"
    monkeypatch.setattr(wm, "FONTS", ("/nonexistent/font.ttc",))
    wm.cjk_font_path.cache_clear()
    wm._font.cache_clear()
    try:
        with caplog.at_level("WARNING"):
            stamped = wm.watermark(_jpeg(), "image/jpeg", LINES)
        assert "fonts-wqy-microhei" in caplog.text
        assert (_pixels(stamped)[500:, :400].min(axis=2) > 200).sum() > 50
    finally:
        wm.cjk_font_path.cache_clear()
        wm._font.cache_clear()


@pytest.mark.parametrize("lines", [[], ["", None]])
def test_no_lines_no_stamp(lines):
    im = Image.new("RGB", (50, 40), (1, 2, 3))
    assert wm.stamp(im, lines) is im
