"""Tests of patrol.cases.images on images built in memory with Pillow."""

from __future__ import annotations

import datetime
import hashlib
import io
import random
import struct
import warnings
import zlib

import pytest
from PIL import Image, ImageCms
from PIL.PngImagePlugin import PngInfo
from PIL.TiffImagePlugin import IFDRational

from patrol.cases import images as photos
from patrol.core.errors import InvalidInput

RED, BLUE = (220, 20, 20), (20, 20, 220)
NOT_AN_IMAGE = "photo is not a JPEG, PNG or WebP image"
XMP = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/">'
       b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
       b'<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="36,3.6N"/>'
       b"</rdf:RDF></x:xmpmeta>")


def _exif(*, taken: str | None = "2024:05:17 14:03:21", offset: str | None = None,
          lat: tuple[str, tuple[int, int, int]] | None = ("N", (36, 3, 36)),
          lon: tuple[str, tuple[int, int, int]] | None = ("E", (120, 22, 48)),
          orientation: int | None = None) -> Image.Exif:
    """EXIF as a phone writes it: make and model, capture time, and a GPS IFD naming its datum."""
    exif = Image.Exif()
    exif[0x010F] = "GridCam"  # Make
    exif[0x0110] = "Patroller 7"  # Model
    if orientation is not None:
        exif[0x0112] = orientation
    exif_ifd = exif.get_ifd(0x8769)
    if taken is not None:
        exif_ifd[0x9003] = taken  # DateTimeOriginal
    if offset is not None:
        exif_ifd[0x9011] = offset  # OffsetTimeOriginal
    gps = exif.get_ifd(0x8825)
    for (ref_tag, value_tag), coordinate in (((1, 2), lat), ((3, 4), lon)):
        if coordinate is not None:
            gps[ref_tag] = coordinate[0]
            gps[value_tag] = tuple(IFDRational(part, 1) for part in coordinate[1])
    gps[18] = "WGS-84"  # GPSMapDatum: a recognisable string inside the GPS IFD
    return exif


def _image(size: tuple[int, int] = (64, 48), mode: str = "RGB") -> Image.Image:
    """Top half red, bottom half blue, so that a rotation shows."""
    im = Image.new("RGB", size, BLUE)
    im.paste(RED, (0, 0, size[0], size[1] // 2))
    return im.convert(mode)


def _encode(im: Image.Image, fmt: str = "JPEG", **options: object) -> bytes:
    out = io.BytesIO()
    im.save(out, format=fmt, **options)
    return out.getvalue()


def _jpeg(size: tuple[int, int] = (64, 48), exif: Image.Exif | None = None, **options: object) -> bytes:
    if exif is not None:
        options["exif"] = exif.tobytes()
    return _encode(_image(size), "JPEG", quality=95, **options)


def _png_header(width: int, height: int) -> bytes:
    """A tiny PNG declaring a huge 1-bit canvas: a decompression bomb as far as the header goes."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    body = chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00")) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


def _open(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


def _near(pixel: tuple[int, ...], expected: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], expected, strict=True))


# --- inspect ------------------------------------------------------------------------------------------------


def test_inspect_reads_capture_time_and_position():
    data = _jpeg(exif=_exif())

    info = photos.inspect(data)

    assert info.mime == "image/jpeg"
    assert (info.width, info.height) == (64, 48)
    assert info.taken_at == datetime.datetime(2024, 5, 17, 14, 3, 21)
    assert info.taken_at.tzinfo is None  # the camera's local time, as written
    assert info.lat == pytest.approx(36.06, abs=1e-6)
    assert info.lon == pytest.approx(120.38, abs=1e-6)
    assert info.sha256 == hashlib.sha256(data).hexdigest()


def test_inspect_signs_south_and_west_and_applies_the_utc_offset():
    exif = _exif(offset="-03:00", lat=("S", (34, 36, 0)), lon=("W", (58, 22, 48)))

    info = photos.inspect(_jpeg(exif=exif))

    assert info.lat == pytest.approx(-34.6, abs=1e-6)
    assert info.lon == pytest.approx(-58.38, abs=1e-6)
    tz = datetime.timezone(-datetime.timedelta(hours=3))
    assert info.taken_at == datetime.datetime(2024, 5, 17, 14, 3, 21, tzinfo=tz)
    assert info.taken_at.utcoffset() == datetime.timedelta(hours=-3)


def test_inspect_without_exif_has_no_time_or_position():
    info = photos.inspect(_jpeg())

    assert (info.taken_at, info.lon, info.lat) == (None, None, None)


@pytest.mark.parametrize(
    ("exif", "expected"),
    [
        pytest.param(_exif(taken="0000:00:00 00:00:00"), (None, 120.38, 36.06), id="blank-date"),
        pytest.param(_exif(lat=("", (36, 3, 36))), (datetime.datetime(2024, 5, 17, 14, 3, 21), None, None),
                     id="no-latitude-ref"),
        pytest.param(_exif(lat=("N", (0, 0, 0)), lon=("E", (0, 0, 0))),
                     (datetime.datetime(2024, 5, 17, 14, 3, 21), None, None), id="null-island"),
        pytest.param(_exif(lat=("N", (95, 0, 0))), (datetime.datetime(2024, 5, 17, 14, 3, 21), None, None),
                     id="latitude-out-of-range"),
    ],
)
def test_inspect_ignores_invalid_exif_values(exif, expected):
    info = photos.inspect(_jpeg(exif=exif))

    assert info.taken_at == expected[0]
    assert info.lon == (pytest.approx(expected[1], abs=1e-6) if expected[1] is not None else None)
    assert info.lat == (pytest.approx(expected[2], abs=1e-6) if expected[2] is not None else None)


def test_inspect_reports_the_upright_size_of_a_rotated_photo():
    info = photos.inspect(_jpeg((40, 20), exif=_exif(orientation=6)))

    assert (info.width, info.height) == (20, 40)


def test_png_with_alpha_is_accepted():
    data = _encode(_image(mode="RGBA"), "PNG", exif=_exif().tobytes())

    info = photos.inspect(data)

    assert (info.mime, info.width, info.height) == ("image/png", 64, 48)
    assert info.lat == pytest.approx(36.06, abs=1e-6)


def test_webp_is_accepted():
    data = _encode(_image(), "WEBP", exif=_exif().tobytes())

    info = photos.inspect(data)

    assert (info.mime, info.width, info.height) == ("image/webp", 64, 48)
    assert info.lon == pytest.approx(120.38, abs=1e-6)


# --- rejections ---------------------------------------------------------------------------------------------


def _truncated_jpeg() -> bytes:
    noise = random.Random(7).randbytes(96 * 96 * 3)  # incompressible, so the cut lands inside the scan
    data = _encode(Image.frombytes("RGB", (96, 96), noise), "JPEG", quality=95)
    return data[: len(data) // 2]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(_encode(_image(), "GIF"), f"{NOT_AN_IMAGE} (it looks like a GIF image)", id="gif"),
        pytest.param(b"lat,lon\n36.06,120.38\n", f"{NOT_AN_IMAGE} (it looks like text)", id="text"),
        pytest.param(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "it looks like a HEIC/HEIF image",
                     id="heic"),
        pytest.param(b"\x00\x01\x02\x03\xfe\xff", "(it starts with bytes 00 01 02 03 FE FF)", id="binary"),
        pytest.param(b"", "photo is empty (0 bytes)", id="empty"),
        pytest.param(_truncated_jpeg(), "photo is a damaged or incomplete JPEG image and cannot be decoded",
                     id="truncated-jpeg"),
        pytest.param(b"\xff\xd8\xff" + b"\x00" * 200,
                     "photo starts like a JPEG image but is not a valid JPEG file", id="jpeg-magic-only"),
        pytest.param(b"\xff\xd8\xff" + b"\x00" * photos.MAX_BYTES,
                     f"photo is 8.0 MB ({photos.MAX_BYTES + 3} bytes); "
                     f"the limit is 8.0 MB ({photos.MAX_BYTES} bytes)", id="oversized"),
    ],
)
def test_inspect_rejects(data, message):
    with pytest.raises(InvalidInput) as raised:
        photos.inspect(data)

    assert message in raised.value.message
    assert raised.value.field == "photo"
    assert raised.value.status_code == 422


def test_inspect_honours_a_smaller_byte_limit():
    data = _jpeg()

    assert photos.inspect(data, max_bytes=len(data)).mime == "image/jpeg"
    with pytest.raises(InvalidInput, match=rf"the limit is 0\.0 MB \({len(data) - 1} bytes\)") as raised:
        photos.inspect(data, max_bytes=len(data) - 1)
    assert raised.value.field == "photo"


def test_a_canvas_over_max_pixels_is_rejected_before_decoding():
    bomb = _png_header(8000, 7000)  # 56 MP in a few dozen bytes
    assert len(bomb) < 100

    message = r"^photo is 8000x7000 pixels \(56\.0 MP\); the limit is 50 MP$"
    for handle in (photos.inspect, photos.strip_metadata, photos.thumbnail):
        with pytest.raises(InvalidInput, match=message) as raised:
            handle(bomb)
        assert raised.value.field == "photo"


def test_pillow_decompression_bomb_error_becomes_invalid_input():
    with pytest.raises(InvalidInput, match="too many pixels to be decoded safely") as raised:
        photos.inspect(_png_header(20_000, 20_000))  # beyond Pillow's own hard limit
    assert raised.value.field == "photo"
    assert isinstance(raised.value.__cause__, Image.DecompressionBombError)


def test_pillow_decompression_bomb_warning_becomes_invalid_input_when_warnings_are_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(InvalidInput, match="too many pixels to be decoded safely") as raised:
            photos.inspect(_png_header(10_000, 10_000))  # over Pillow's warning threshold only
    assert isinstance(raised.value.__cause__, Image.DecompressionBombWarning)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\xff\xd8\xff\xe0", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "image/webp"),
    ],
)
def test_sniff_reads_magic_bytes_only(data, expected):
    assert photos.sniff(data) == expected


@pytest.mark.parametrize("data", [b"RIFF\x10\x00\x00\x00WAVEfmt ", b"\x89PNG\r\n", b"\xff\xd8", b"<svg/>"])
def test_sniff_rejects_near_misses(data):
    with pytest.raises(InvalidInput, match=r"^photo is not a JPEG, PNG or WebP image \(") as raised:
        photos.sniff(data)
    assert raised.value.field == "photo"


# --- strip_metadata -----------------------------------------------------------------------------------------


def test_strip_metadata_removes_exif_gps_xmp_and_comment_from_a_jpeg():
    data = _jpeg(exif=_exif(), xmp=XMP, comment=b"taken by worker 0042")
    assert b"WGS-84" in data and b"GridCam" in data and b"xmpmeta" in data and b"worker 0042" in data

    clean = photos.strip_metadata(data)

    for marker in (b"Exif\x00\x00", b"WGS-84", b"GridCam", b"xmpmeta", b"worker 0042"):
        assert marker not in clean
    im = _open(clean)
    assert im.format == "JPEG"
    assert len(im.getexif()) == 0
    assert len(im.getexif().get_ifd(0x8825)) == 0
    assert "xmp" not in im.info and "comment" not in im.info
    assert im.size == (64, 48)
    assert _near(im.getpixel((32, 5)), RED) and _near(im.getpixel((32, 42)), BLUE)
    info = photos.inspect(clean)
    assert (info.taken_at, info.lon, info.lat) == (None, None, None)


@pytest.mark.parametrize(
    "icc",
    [
        pytest.param(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes(), id="srgb"),
        pytest.param(b"not an ICC profile at all", id="broken"),
    ],
)
def test_strip_metadata_drops_the_icc_profile(icc):
    data = _jpeg(icc_profile=icc, comment=b"worker 0042")
    assert b"ICC_PROFILE" in data

    clean = photos.strip_metadata(data)

    assert b"ICC_PROFILE" not in clean and b"worker 0042" not in clean
    im = _open(clean)
    assert "icc_profile" not in im.info
    assert _near(im.getpixel((32, 5)), RED) and _near(im.getpixel((32, 42)), BLUE)


def test_strip_metadata_turns_an_orientation_6_jpeg_upright():
    data = _jpeg((40, 20), exif=_exif(orientation=6))  # stored lying down: red on top, blue below

    im = _open(photos.strip_metadata(data))

    assert im.size == (20, 40)
    assert len(im.getexif()) == 0  # no orientation left to apply twice
    # turned 90 degrees clockwise: what was on top is now on the right
    assert _near(im.getpixel((16, 20)), RED)
    assert _near(im.getpixel((3, 20)), BLUE)


def test_strip_metadata_keeps_png_lossless_with_alpha_and_drops_text_chunks():
    source = _image(mode="RGBA")
    source.putpixel((0, 0), (1, 2, 3, 0))
    text = PngInfo()
    text.add_text("Comment", "worker 0042 at the north gate")
    data = _encode(source, "PNG", exif=_exif().tobytes(), pnginfo=text)

    clean = photos.strip_metadata(data)

    assert b"worker 0042" not in clean and b"WGS-84" not in clean and b"eXIf" not in clean
    im = _open(clean)
    assert (im.format, im.mode, im.size) == ("PNG", "RGBA", (64, 48))
    assert len(im.getexif()) == 0
    assert im.tobytes() == source.tobytes()


def test_strip_metadata_keeps_palette_transparency():
    source = _image(mode="P")
    data = _encode(source, "PNG", transparency=0)

    im = _open(photos.strip_metadata(data))

    assert im.mode == "P" and im.info.get("transparency") == 0


def test_strip_metadata_of_a_webp_is_a_webp_without_exif():
    data = _encode(_image(), "WEBP", exif=_exif().tobytes(), xmp=XMP)
    assert b"WGS-84" in data

    clean = photos.strip_metadata(data)

    assert photos.sniff(clean) == "image/webp"
    assert b"WGS-84" not in clean and b"xmpmeta" not in clean and b"EXIF" not in clean
    im = _open(clean)
    assert im.size == (64, 48) and len(im.getexif()) == 0


def test_strip_metadata_rejects_what_inspect_rejects():
    with pytest.raises(InvalidInput, match="damaged or incomplete JPEG") as raised:
        photos.strip_metadata(_truncated_jpeg())
    assert raised.value.field == "photo"


# --- thumbnail ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "bound", "expected"), [((1000, 500), 320, (320, 160)), ((300, 900), 100, (33, 100))]
)
def test_thumbnail_fits_the_longest_side(size, bound, expected):
    small = photos.thumbnail(_jpeg(size, exif=_exif(), comment=b"worker 0042"), bound)

    assert b"worker 0042" not in small and b"WGS-84" not in small
    im = _open(small)
    assert im.format == "JPEG"
    assert im.size == expected
    assert max(im.size) <= bound
    assert len(im.getexif()) == 0


def test_thumbnail_is_upright_and_does_not_enlarge():
    im = _open(photos.thumbnail(_jpeg((40, 20), exif=_exif(orientation=6))))

    assert im.size == (20, 40)
    assert _near(im.getpixel((16, 20)), RED)


def test_thumbnail_of_a_transparent_png_is_flattened_onto_white():
    source = Image.new("RGBA", (50, 50), (0, 0, 0, 0))

    im = _open(photos.thumbnail(_encode(source, "PNG"), 20))

    assert (im.mode, im.size) == ("RGB", (20, 20))
    assert _near(im.getpixel((10, 10)), (255, 255, 255), tolerance=3)


def test_thumbnail_rejects_a_size_below_one():
    with pytest.raises(ValueError, match="at least 1 pixel"):
        photos.thumbnail(_jpeg(), 0)
