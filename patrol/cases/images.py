"""Hazard photos uploaded from grid workers' phones: check them, read when and where they were taken, and make
the clean copies that are served.

Only JPEG, PNG and WebP are accepted. The type is recognised by its magic bytes (never by the file name or
the ``Content-Type`` the client claims) and the image is then decoded in full by Pillow, so a file that merely
looks like an image is rejected. Every problem with an upload is an :class:`~patrol.core.errors.InvalidInput` on
the field ``"photo"`` (HTTP 422).

Uploads are untrusted. Besides the byte limit (:data:`MAX_BYTES`), the canvas a file declares is capped at
:data:`MAX_PIXELS` before any pixel is decoded, so a small file declaring a huge image (a decompression bomb)
never gets to allocate it. The cap is checked here instead of by lowering Pillow's process-wide
``Image.MAX_IMAGE_PIXELS``, which would change every other user of Pillow in the process; Pillow's own
``DecompressionBombError`` (and ``DecompressionBombWarning`` where warnings are errors) become
``InvalidInput`` too.

Phone photos carry the worker's position and the phone's make and model in EXIF (and often XMP). What is
served is the output of :func:`strip_metadata` or :func:`thumbnail`, which keep only the pixels.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import io
import math
import re
import struct
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageCms, ImageFile, ImageOps, UnidentifiedImageError, features

from patrol.core.errors import InvalidInput

MAX_BYTES = 8 * 1024 * 1024
"""Largest accepted upload, in bytes (a phone JPEG is 2-6 MB)."""

MAX_PIXELS = 50_000_000
"""Largest accepted canvas, width x height: a 50 MP phone camera, 150 MB once decoded as RGB."""

THUMBNAIL_SIZE = 320
JPEG_QUALITY = 90
WEBP_QUALITY = 90
THUMBNAIL_QUALITY = 85
FIELD = "photo"

JPEG, PNG, WEBP = "image/jpeg", "image/png", "image/webp"
_PILLOW_FORMAT = {JPEG: "JPEG", PNG: "PNG", WEBP: "WEBP"}  # the only plugin tried when decoding, and saving
_NAME = {JPEG: "JPEG", PNG: "PNG", WEBP: "WebP"}

# Exceptions Pillow's decoders raise on malformed input (plugins are not consistent about which one).
_DECODE_ERRORS: tuple[type[Exception], ...] = (
    OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError, ZeroDivisionError,
    struct.error,
)

# EXIF tags (CIPA DC-008).
_ORIENTATION = 0x0112
_EXIF_IFD = 0x8769
_GPS_IFD = 0x8825
_DATETIME_ORIGINAL = 0x9003
_OFFSET_TIME_ORIGINAL = 0x9011
_SUBSEC_TIME_ORIGINAL = 0x9291
_GPS_LATITUDE_REF, _GPS_LATITUDE, _GPS_LONGITUDE_REF, _GPS_LONGITUDE = 1, 2, 3, 4
_SWAPS_SIDES = {5, 6, 7, 8}  # orientations whose upright image is the stored one turned by 90 degrees

_DATETIME = re.compile(r"(\d{4})[:-](\d{2})[:-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})", re.ASCII)
_OFFSET = re.compile(r"([+-])(\d{2}):(\d{2})", re.ASCII)

# What an upload that is not an accepted image most likely is, for the error message.
_OTHER_SIGNATURES = (
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"%PDF-", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive or office document"),
)
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1"}

_HAVE_LCMS = bool(features.check_module("littlecms2"))


@dataclass(frozen=True)
class PhotoInfo:
    """What :func:`inspect` learns about an accepted photo.

    Attributes
    ----------
    mime : str
        ``image/jpeg``, ``image/png`` or ``image/webp``.
    width, height : int
        Size in pixels of the upright image, that is after the EXIF orientation is applied: the size of what
        :func:`strip_metadata` returns.
    taken_at : datetime.datetime or None
        EXIF ``DateTimeOriginal`` (with ``SubSecTimeOriginal``), the camera's local time as written: naive,
        unless ``OffsetTimeOriginal`` gives the UTC offset, in which case aware. None when absent or invalid.
    lon, lat : float or None
        EXIF GPS position in decimal degrees (WGS-84), negative west and south. Both None when the position is
        absent, incomplete, out of range, or exactly 0, 0 (what many phones write when they have no fix).
    sha256 : str
        Hex SHA-256 of the uploaded bytes, to recognise the same upload twice.
    """

    mime: str
    width: int
    height: int
    taken_at: datetime.datetime | None
    lon: float | None
    lat: float | None
    sha256: str


def sniff(data: bytes) -> str:
    """The media type of an image, from its magic bytes only.

    Parameters
    ----------
    data : bytes
        The uploaded file.

    Returns
    -------
    str
        ``image/jpeg`` (``FF D8 FF``), ``image/png`` (``89 50 4E 47 0D 0A 1A 0A``) or ``image/webp``
        (``RIFF`` <size> ``WEBP``).

    Raises
    ------
    InvalidInput
        For anything else; the message says what the file looks like instead.
    """
    head = bytes(data[:16])
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    raise InvalidInput(f"photo is not a JPEG, PNG or WebP image ({_describe(data)})", field=FIELD)


def inspect(data: bytes, *, max_bytes: int = MAX_BYTES) -> PhotoInfo:
    """Check an upload is an acceptable photo and read its size, capture time and position.

    Checks, in order: the byte size, the magic bytes (:func:`sniff`), the declared pixel count
    (:data:`MAX_PIXELS`), and that the whole image decodes. Unreadable EXIF is not an error: its fields are
    then None.

    Parameters
    ----------
    data : bytes
        The uploaded file.
    max_bytes : int, optional
        Largest accepted size in bytes, by default :data:`MAX_BYTES`.

    Returns
    -------
    PhotoInfo

    Raises
    ------
    InvalidInput
        ``field="photo"``: empty or too large, not a JPEG/PNG/WebP, too many pixels, truncated or corrupt.
    """
    size = len(data)
    if size == 0:
        raise InvalidInput("photo is empty (0 bytes)", field=FIELD)
    if size > max_bytes:
        raise InvalidInput(
            f"photo is {_megabytes(size)} ({size} bytes); "
            f"the limit is {_megabytes(max_bytes)} ({max_bytes} bytes)",
            field=FIELD,
        )
    with _opened(data) as (mime, im):
        im.load()
        exif = _exif(im)
        width, height = im.size
    if _orientation(exif) in _SWAPS_SIDES:
        width, height = height, width
    lon, lat = _position(_ifd(exif, _GPS_IFD))
    return PhotoInfo(
        mime=mime,
        width=width,
        height=height,
        taken_at=_taken_at(_ifd(exif, _EXIF_IFD)),
        lon=lon,
        lat=lat,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def strip_metadata(data: bytes) -> bytes:
    """The photo re-encoded in its own format with nothing but its pixels.

    The EXIF orientation is applied first, so the result is upright without it. EXIF (including GPS), XMP,
    comments, text chunks and the ICC profile are dropped; an image with an ICC profile is converted to sRGB
    first so that its colours survive. JPEG and WebP are re-encoded at quality 90, PNG losslessly; of an
    animated image only the first frame is kept. Palette transparency is kept.

    Parameters
    ----------
    data : bytes
        An upload :func:`inspect` accepted (checked again, except for the byte size).

    Returns
    -------
    bytes
        The clean image, of the same media type as ``data``.

    Raises
    ------
    InvalidInput
        As :func:`inspect`.
    """
    with _opened(data) as (mime, im):
        im.load()
        upright = _upright(im)
        icc = im.info.get("icc_profile")
    clean = _without_metadata(_to_srgb(upright, icc))
    options: dict[str, Any] = {}
    if mime == JPEG:
        if clean.mode not in ("L", "RGB"):
            clean = clean.convert("RGB")
        options["quality"] = JPEG_QUALITY
    elif mime == WEBP:
        if clean.mode not in ("RGB", "RGBA"):
            clean = clean.convert("RGBA" if clean.has_transparency_data else "RGB")
        options["quality"] = WEBP_QUALITY
    out = io.BytesIO()
    clean.save(out, format=_PILLOW_FORMAT[mime], **options)
    return out.getvalue()


def thumbnail(data: bytes, size: int = THUMBNAIL_SIZE) -> bytes:
    """A small upright JPEG of the photo, without metadata, for lists and map pop-ups.

    Parameters
    ----------
    data : bytes
        An upload :func:`inspect` accepted (checked again, except for the byte size).
    size : int, optional
        Longest side of the thumbnail in pixels, by default 320. Smaller photos are not enlarged.

    Returns
    -------
    bytes
        A JPEG in sRGB; transparency is flattened onto white.

    Raises
    ------
    InvalidInput
        As :func:`inspect`.
    ValueError
        If ``size`` is less than 1.
    """
    if size < 1:
        raise ValueError(f"thumbnail size must be at least 1 pixel, not {size}")
    with _opened(data) as (_, im):
        im.draft(None, (2 * size, 2 * size))  # JPEG decodes at 1/2 to 1/8 scale, still at least twice size
        im.load()
        upright = _upright(im)
        icc = im.info.get("icc_profile")
    small = _opaque(_to_srgb(upright, icc))
    small.thumbnail((size, size), Image.Resampling.LANCZOS)
    small = _without_metadata(small)
    out = io.BytesIO()
    small.save(out, format="JPEG", quality=THUMBNAIL_QUALITY)
    return out.getvalue()


@contextmanager
def _opened(data: bytes) -> Iterator[tuple[str, ImageFile.ImageFile]]:
    """Open ``data`` with the one Pillow plugin of its sniffed type; Pillow errors in the block become
    ``InvalidInput``. The pixel count is checked before the block runs."""
    mime = sniff(data)
    name = _NAME[mime]
    try:
        with Image.open(io.BytesIO(data), formats=[_PILLOW_FORMAT[mime]]) as im:
            width, height = im.size
            if width * height > MAX_PIXELS:
                raise InvalidInput(
                    f"photo is {width}x{height} pixels ({width * height / 1e6:.1f} MP); "
                    f"the limit is {MAX_PIXELS / 1e6:g} MP",
                    field=FIELD,
                )
            yield mime, im
    except InvalidInput:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InvalidInput(
            f"photo declares too many pixels to be decoded safely (the limit is {MAX_PIXELS / 1e6:g} MP)",
            field=FIELD,
        ) from exc
    except UnidentifiedImageError as exc:
        raise InvalidInput(
            f"photo starts like a {name} image but is not a valid {name} file", field=FIELD
        ) from exc
    except _DECODE_ERRORS as exc:
        raise InvalidInput(
            f"photo is a damaged or incomplete {name} image and cannot be decoded ({exc})", field=FIELD
        ) from exc


def _describe(data: bytes) -> str:
    """What a file that is not an accepted image seems to be, for an error message."""
    if not data:
        return "the file is empty"
    head = bytes(data[:64])
    for signature, what in _OTHER_SIGNATURES:
        if head.startswith(signature):
            return f"it looks like {what}"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _HEIF_BRANDS:
            return "it looks like a HEIC/HEIF image; please send JPEG instead"
        if brand in (b"avif", b"avis"):
            return "it looks like an AVIF image"
        return "it looks like a video or other ISO media file"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and all(c.isprintable() or c in "\t\r\n" for c in text):
        return "it looks like text"
    return "it starts with bytes " + " ".join(f"{b:02X}" for b in head[:8])


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def _exif(im: Image.Image) -> Image.Exif | None:
    """The image's EXIF, or None when it cannot be parsed (metadata is optional; the pixels decoded)."""
    try:
        return im.getexif()
    except _DECODE_ERRORS:
        return None


def _ifd(exif: Image.Exif | None, tag: int) -> Mapping[int, Any]:
    if exif is None:
        return {}
    try:
        return exif.get_ifd(tag)
    except _DECODE_ERRORS:
        return {}


def _orientation(exif: Image.Exif | None) -> int:
    value = exif.get(_ORIENTATION) if exif is not None else None
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _text(value: object) -> str:
    """An EXIF ASCII value as a string, without the NULs and blanks cameras pad with."""
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    return value.strip("\x00 \t") if isinstance(value, str) else ""


def _taken_at(exif_ifd: Mapping[int, Any]) -> datetime.datetime | None:
    """``DateTimeOriginal`` (+ ``SubSecTimeOriginal``), aware when ``OffsetTimeOriginal`` is present."""
    match = _DATETIME.fullmatch(_text(exif_ifd.get(_DATETIME_ORIGINAL)))
    if match is None:
        return None
    try:
        taken = datetime.datetime(*(int(g) for g in match.groups()))
    except ValueError:  # "0000:00:00 00:00:00" and other impossible dates
        return None
    subsec = _text(exif_ifd.get(_SUBSEC_TIME_ORIGINAL))
    if subsec.isascii() and subsec.isdigit():
        taken = taken.replace(microsecond=int(subsec[:6].ljust(6, "0")))
    offset = _OFFSET.fullmatch(_text(exif_ifd.get(_OFFSET_TIME_ORIGINAL)))
    if offset is not None and int(offset[3]) < 60:
        delta = datetime.timedelta(hours=int(offset[2]), minutes=int(offset[3]))
        with contextlib.suppress(ValueError):  # 24 hours or more
            taken = taken.replace(tzinfo=datetime.timezone(-delta if offset[1] == "-" else delta))
    return taken


def _position(gps: Mapping[int, Any]) -> tuple[float | None, float | None]:
    """(lon, lat) from the GPS IFD, or (None, None)."""
    lat = _coordinate(gps.get(_GPS_LATITUDE), gps.get(_GPS_LATITUDE_REF), "N", "S", 90.0)
    lon = _coordinate(gps.get(_GPS_LONGITUDE), gps.get(_GPS_LONGITUDE_REF), "E", "W", 180.0)
    if lon is None or lat is None or (lon == 0.0 and lat == 0.0):
        return None, None
    return lon, lat


def _coordinate(value: object, ref: object, positive: str, negative: str, limit: float) -> float | None:
    """Degrees, minutes, seconds (rationals) signed by their reference; None without a valid reference."""
    hemisphere = _text(ref).upper()
    parts: tuple[Any, ...] = tuple(value) if isinstance(value, tuple | list) else (value,)
    if hemisphere not in (positive, negative) or not 1 <= len(parts) <= 3:
        return None
    try:
        numbers = [float(p) for p in parts]
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if not all(math.isfinite(n) and n >= 0 for n in numbers):  # a 0 denominator reads as NaN
        return None
    degrees = sum(n / 60**i for i, n in enumerate(numbers))
    if degrees > limit:
        return None
    return -degrees if hemisphere == negative else degrees


def _upright(im: Image.Image) -> Image.Image:
    """A new image with the EXIF orientation applied (a plain copy when there is none or it is unreadable)."""
    try:
        return ImageOps.exif_transpose(im)
    except _DECODE_ERRORS:
        return im.copy()


def _to_srgb(im: Image.Image, icc: object) -> Image.Image:
    """``im`` converted from its embedded ICC profile to sRGB; unchanged when that is not possible."""
    out_mode = {"RGB": "RGB", "RGBA": "RGBA", "CMYK": "RGB"}.get(im.mode)
    if not _HAVE_LCMS or not isinstance(icc, bytes) or not icc or out_mode is None:
        return im
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        converted = ImageCms.profileToProfile(im, source, ImageCms.createProfile("sRGB"), outputMode=out_mode)
    except (ImageCms.PyCMSError, *_DECODE_ERRORS):  # broken profile, or one for another colour space
        return im
    return converted if converted is not None else im


def _without_metadata(im: Image.Image) -> Image.Image:
    """Drop everything a Pillow encoder could copy from ``im.info`` (comments, ICC, EXIF...) except palette
    transparency, which belongs to the pixels. ``im`` must be a private copy: it is changed in place."""
    im.info = {key: value for key, value in im.info.items() if key == "transparency"}
    return im


def _opaque(im: Image.Image) -> Image.Image:
    """``im`` as L or RGB for JPEG, transparent pixels flattened onto white."""
    if im.mode in ("L", "RGB"):
        return im
    if im.mode == "I" or im.mode.startswith("I;16"):  # 16-bit greyscale PNG
        return im.convert("I").point(lambda v: v / 257).convert("L")
    if im.has_transparency_data:
        rgba = im.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return im.convert("RGB")
