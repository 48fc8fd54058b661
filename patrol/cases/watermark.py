"""The visible watermark on served case photos, as Chinese 网格 apps stamp them: when (city time), where (lon/lat),
the grid and the worker, in a dark band at the bottom of the picture.

Stamped once, at upload (:func:`patrol.cases.photos.store_photo`): the served ``data`` and ``thumbnail`` are the
watermarked copies and ``Photo.original`` keeps the file as uploaded, for evidence. At upload rather than at serve
time because the stamp is part of the evidence as it was taken (a grid renamed or a worker moved later must not
change old photos), serving stays a plain read of bytes (no decode and re-encode on every view, cacheable), and the
cost is paid once per photo by the one request that adds it.

The text needs a CJK font: WenQuanYi Micro Hei (Debian ``fonts-wqy-microhei``) or another of :data:`FONTS`. Without
one the stamp is still drawn, with Pillow's default font and the Chinese characters left out (time and coordinates
stay), and a warning is logged once saying which package to install.
"""

from __future__ import annotations

import io
import logging
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

log = logging.getLogger(__name__)

FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
)
"""CJK fonts tried in order."""

_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}


@lru_cache
def cjk_font_path() -> str | None:
    """The first CJK font of :data:`FONTS` present, or None (warned once)."""
    for path in FONTS:
        if Path(path).is_file():
            return path
    log.warning("no CJK font for photo watermarks (install fonts-wqy-microhei): Chinese text is left out of them")
    return None


@lru_cache(maxsize=16)
def _font(size: int) -> tuple[ImageFont.FreeTypeFont | ImageFont.ImageFont, bool]:
    path = cjk_font_path()
    if path is not None:
        return ImageFont.truetype(path, size), True
    return ImageFont.load_default(size), False


def stamp(im: Image.Image, lines: list[str]) -> Image.Image:
    """``im`` (RGB or RGBA) with ``lines`` drawn in white on a translucent dark band at its bottom left; the font
    size follows the picture's width (readable on the full photo and on its 320-pixel thumbnail)."""
    lines = [line for line in lines if line]
    if not lines:
        return im
    size = max(9, round(min(im.width, 1.6 * im.height) / 34))
    font, cjk = _font(size)
    if not cjk:
        lines = [s for s in ("".join(c for c in line if c.isascii()).strip() for line in lines) if s]
    pad = max(3, size // 3)
    height = len(lines) * (size + pad) + pad
    base = im.convert("RGBA")
    band = Image.new("RGBA", base.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(band)
    draw.rectangle((0, base.height - height, base.width, base.height), fill=(0, 0, 0, 110))
    y = base.height - height + pad
    for line in lines:
        draw.text((pad * 2, y), line, font=font, fill=(255, 255, 255, 235))
        y += size + pad
    out = Image.alpha_composite(base, band)
    return out if im.mode == "RGBA" else out.convert("RGB")


def watermark(data: bytes, mime: str, lines: list[str], *, quality: int = 90) -> bytes:
    """The image ``data`` (metadata-free, upright: :func:`patrol.cases.images.strip_metadata` or ``thumbnail``) with
    the stamp of :func:`stamp`, re-encoded in ``mime`` and without metadata."""
    with Image.open(io.BytesIO(data)) as src:
        src.load()
        im = src.convert("RGBA" if src.mode in ("RGBA", "LA", "P") and mime != "image/jpeg" else "RGB")
    out = io.BytesIO()
    fmt = _FORMATS.get(mime, "JPEG")
    stamped = stamp(im, lines)
    if fmt == "PNG":
        stamped.save(out, format=fmt)
    else:
        stamped.save(out, format=fmt, quality=quality)
    return out.getvalue()
