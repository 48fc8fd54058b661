"""Opening delivered GIS files without trusting them: GeoPackage, GeoJSON and a zipped Shapefile, nothing else.

GDAL chooses a format by a file's content, so a file named ``grids.gpkg`` that holds an OGR VRT would be read as a
VRT — which reads any local file, the database or a URL. Here the format is decided by the file's name *and* checked
against its first bytes (an SQLite header for ``.gpkg``, a JSON object for ``.geojson``/``.json``, a zip for
``.zip``, the Shapefile header for ``.shp``); a mismatch is refused before GDAL sees the file. The read then runs in a
child process (:func:`geo.sandbox.run_limited`: time and memory limits, a crash costs the child only) in which every
GDAL driver but the one expected is deregistered, so GDAL cannot open the file as anything else. A zip is checked
member by member (names, count, declared sizes, compression ratio) before anything is extracted, and extracted in
chunks with a byte cap under names the reader chooses. Paths GDAL would treat as virtual (``/vsi…``, URLs, a
``DRIVER:`` prefix, inline XML) are refused.
"""

from __future__ import annotations

import ctypes
import re
import tempfile
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import geopandas as gpd
import pyogrio

from geo._checks import Kind
from geo.errors import GeoValidationError, Problem
from geo.sandbox import LimitExceeded, run_limited

GPKG, GEOJSON, SHAPEFILE = "GPKG", "GeoJSON", "ESRI Shapefile"
#: The formats read, by file name: the GDAL driver and what the file's first bytes must be.
SUFFIXES: dict[str, tuple[str, str]] = {".gpkg": (GPKG, "gpkg"), ".geojson": (GEOJSON, "json"),
                                        ".json": (GEOJSON, "json"), ".zip": (SHAPEFILE, "zip"),
                                        ".shp": (SHAPEFILE, "shp")}
#: The members a zipped Shapefile may hold.
MEMBER_SUFFIXES = (".shp", ".shx", ".dbf", ".prj", ".cpg")
_HOLDS = {"gpkg": "a GeoPackage (an SQLite database)", "json": "GeoJSON", "zip": "a zip archive",
          "shp": "a Shapefile (.shp)", "xml": "XML (such as an OGR VRT, which is never read)",
          "array": "a JSON array (GeoJSON is an object)", "empty": "nothing", "other": "data in another format"}
_FORMATS = ("upload a GeoPackage as .gpkg, GeoJSON as .geojson or .json, or a Shapefile zipped as .zip (.shp, .shx, "
            ".dbf and .prj)")
_MIB = 1024 * 1024
_CHUNK = _MIB


@dataclass(frozen=True)
class Limits:
    """How much a delivered file may cost to read."""

    max_bytes: int = 200 * _MIB  # the file, and a zip's members uncompressed together
    max_members: int = 32  # members of a zip
    max_ratio: float = 200.0  # uncompressed / compressed size of a zip member larger than 1 MiB
    seconds: float = 120.0  # the read in the child process
    memory_bytes: int | None = 2048 * _MIB  # address space the child may add to its interpreter's


def read_upload(filename: str, data: bytes, *, layer: str | None = None, kind: str | None = None,
                limits: Limits | None = None) -> gpd.GeoDataFrame:
    """Read uploaded bytes: written to a temporary file named by this code (only the upload's suffix is kept), then
    read as :func:`read_delivered` reads a file. Raises GeoValidationError (``unreadable``, field ``file``)."""
    shown = PurePosixPath((filename or "upload").replace("\\", "/")).name or "upload"
    suffix = PurePosixPath(shown).suffix.lower()
    if suffix not in SUFFIXES or suffix == ".shp":
        raise _unreadable(f"{shown}: {_FORMATS}")
    if not data:
        raise _unreadable(f"{shown} is empty")
    with tempfile.TemporaryDirectory(prefix="gridpatrol-upload-") as tmp:
        path = Path(tmp) / f"upload{suffix}"
        path.write_bytes(data)
        return read_delivered(path, name=shown, layer=layer, kind=kind, limits=limits)


def read_delivered(path: str | Path, *, name: str | None = None, layer: str | None = None, kind: str | None = None,
                   limits: Limits | None = None) -> gpd.GeoDataFrame:
    """Read one layer of a GeoPackage, GeoJSON, Shapefile (.shp with its siblings) or zipped Shapefile file.

    A multi-layer file needs ``layer`` unless a layer is named ``kind``; ``name`` is the file's name in messages.

    Raises
    ------
    GeoValidationError
        ``unreadable`` (field ``file``) for a missing file, a name or content not among the formats read, a zip
        refused, a read GDAL fails or that passes the limits; ``no_such_layer`` (field ``source_layer``).
    """
    limits = limits or Limits()
    text = str(path)
    shown = name or Path(text).name
    if text.startswith(("/vsi", "<")) or "://" in text or re.match(r"^[A-Za-z][\w ]+:", text):
        raise _unreadable(f"{shown}: only a plain file is read (not a GDAL virtual path, URL or driver prefix)")
    path = Path(text)
    if not path.is_file():
        raise _unreadable(f"{shown}: no such file")
    suffix = Path(shown).suffix.lower()
    if suffix not in SUFFIXES:
        raise _unreadable(f"{shown}: {_FORMATS}")
    driver, expected = SUFFIXES[suffix]
    with path.open("rb") as head:
        holds = sniff(head.read(4096))
    if holds != expected:
        raise _unreadable(f"{shown}: the file is named {suffix} but holds {_HOLDS[holds]}; {_FORMATS}")
    if path.stat().st_size > limits.max_bytes:
        raise _unreadable(f"{shown} is larger than {limits.max_bytes // _MIB} MB")
    if expected != "zip":
        return _read_limited(path, driver, layer, kind, shown, limits)
    with tempfile.TemporaryDirectory(prefix="gridpatrol-zip-") as tmp:
        shp = extract_shapefile(path, Path(tmp), shown, limits)
        return _read_limited(shp, driver, layer, kind, shown, limits)


def sniff(head: bytes) -> str:
    """What a file's first bytes say it holds: ``gpkg``, ``zip``, ``shp``, ``json``, ``array``, ``xml``, ``empty``
    or ``other`` (keys of the descriptions in messages)."""
    if head.startswith(b"SQLite format 3\x00"):
        return "gpkg"
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if head.startswith(b"\x00\x00\x27\x0a"):
        return "shp"
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n")
    if not text:
        return "empty"
    return {b"{": "json", b"[": "array", b"<": "xml"}.get(text[:1], "other")


def extract_shapefile(zip_path: Path, target: Path, shown: str, limits: Limits) -> Path:
    """Extract the one Shapefile of a zip into ``target`` as ``layer.shp`` etc.; every member is checked first
    (name, count, declared size, compression ratio), then the Shapefile's parts are copied in chunks, each capped
    at its declared size and all at ``limits.max_bytes``. Returns the .shp path."""
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError):
        raise _unreadable(f"{shown} is not a zip file") from None
    with archive:
        members = [i for i in archive.infolist()
                   if not i.is_dir() and "__MACOSX" not in PurePosixPath(i.filename).parts]
        _check_members(members, shown, limits)
        shps = [i for i in members if i.filename.lower().endswith(".shp")]
        if len(shps) != 1:
            raise _unreadable(f"{shown} must hold exactly one Shapefile (.shp with its .shx, .dbf and .prj); it holds "
                              f"{len(shps)}")
        stem = shps[0].filename[:-4]
        budget = limits.max_bytes
        for info in members:
            if info.filename[:-4] == stem:
                budget -= _copy_member(archive, info, target / ("layer" + info.filename[-4:].lower()), budget, shown)
    shp = target / "layer.shp"
    with shp.open("rb") as head:
        holds = sniff(head.read(4096))
    if holds != "shp":
        raise _unreadable(f"{shown}: {shps[0].filename} holds {_HOLDS[holds]}, not a Shapefile")
    return shp


def _check_members(members: list[zipfile.ZipInfo], shown: str, limits: Limits) -> None:
    if len(members) > limits.max_members:
        raise _unreadable(f"{shown} holds {len(members)} files; a zipped Shapefile holds at most {limits.max_members}")
    for info in members:
        member = info.filename
        parts = PurePosixPath(member.replace("\\", "/")).parts
        if member.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", member) or ".." in parts:
            raise _unreadable(f"{shown}: the member {member!r} has a path outside the archive")
        if not member.lower().endswith(MEMBER_SUFFIXES):
            raise _unreadable(f"{shown}: the member {member!r} is not part of a Shapefile (a zip may hold only "
                              f"{', '.join(MEMBER_SUFFIXES)} files)")
        if info.file_size > _MIB and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            times = info.file_size // max(info.compress_size, 1)
            raise _unreadable(f"{shown}: the member {member!r} would grow {times} times when unpacked "
                              f"(at most {limits.max_ratio:g}); a zip bomb?")
    declared = sum(i.file_size for i in members)
    if declared > limits.max_bytes:
        raise _unreadable(f"{shown} unpacks to {declared // _MIB} MB; at most {limits.max_bytes // _MIB} MB")


def _copy_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, out: Path, budget: int, shown: str) -> int:
    """Copy one member in chunks; refused (and removed) past its declared size or the budget. Returns bytes written."""
    cap = min(info.file_size, budget)
    written = 0
    try:
        with archive.open(info) as src, out.open("wb") as dst:
            while chunk := src.read(_CHUNK):
                written += len(chunk)
                if written > cap:
                    raise _unreadable(f"{shown}: the member {info.filename!r} unpacks to more than it declares")
                dst.write(chunk)
    except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError, EOFError) as exc:
        out.unlink(missing_ok=True)
        raise _unreadable(f"{shown}: the member {info.filename!r} cannot be unpacked ({exc})") from None
    except GeoValidationError:
        out.unlink(missing_ok=True)
        raise
    return written


def _read_limited(path: Path, driver: str, layer: str | None, kind: str | None, shown: str,
                  limits: Limits) -> gpd.GeoDataFrame:
    try:
        return run_limited(read_with_driver, str(path), driver, layer, kind, seconds=limits.seconds,
                           memory_bytes=limits.memory_bytes)
    except LimitExceeded as exc:
        raise _unreadable(f"{shown}: {exc}") from None
    except GeoValidationError as exc:
        raise GeoValidationError([Problem(p.kind, p.message.replace(str(path), shown).replace(path.name, shown),
                                          p.feature_id, p.field) for p in exc.problems]) from None


def read_with_driver(path: str, driver: str, layer: str | None, kind: str | None) -> gpd.GeoDataFrame:
    """Read ``path`` with GDAL's ``driver`` only — every other driver is deregistered first, so this belongs in a
    child process of its own (:func:`_read_limited`)."""
    only_driver(driver)
    file = Path(path)
    try:
        layers = [str(n) for n, _ in pyogrio.list_layers(file)]
    except Exception as exc:  # GDAL raises DataSourceError, OSError or its own errors for a broken file
        raise _unreadable(f"{file.name}: {_first_line(exc)}") from exc
    if layer is None:
        if len(layers) == 1:
            layer = layers[0]
        elif kind in layers:
            layer = kind
        else:
            raise GeoValidationError(Problem(
                Kind.NO_SUCH_LAYER, f"{file.name} holds {len(layers)} layers ({', '.join(layers) or 'none'}); "
                                    "choose one with --source-layer", field="source_layer"))
    elif layer not in layers:
        raise GeoValidationError(Problem(
            Kind.NO_SUCH_LAYER, f"{file.name} has no layer {layer!r} (it has {', '.join(layers) or 'none'})",
            field="source_layer"))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return pyogrio.read_dataframe(file, layer=layer)
    except Exception as exc:
        raise _unreadable(f"{file.name}: {_first_line(exc)}") from exc


def only_driver(driver: str) -> None:
    """Deregister every GDAL driver of this process but ``driver`` (fails closed: refuses to read when it cannot)."""
    lib = _libgdal()
    lib.GDALGetDriverCount.restype = ctypes.c_int
    lib.GDALGetDriver.restype = ctypes.c_void_p
    lib.GDALGetDriver.argtypes = [ctypes.c_int]
    lib.GDALGetDriverShortName.restype = ctypes.c_char_p
    lib.GDALGetDriverShortName.argtypes = [ctypes.c_void_p]
    lib.GDALDeregisterDriver.argtypes = [ctypes.c_void_p]
    handles = [lib.GDALGetDriver(i) for i in range(lib.GDALGetDriverCount())]
    for handle in handles:
        if lib.GDALGetDriverShortName(handle).decode() != driver:
            lib.GDALDeregisterDriver(handle)
    if set(pyogrio.list_drivers()) != {driver}:
        raise _unreadable(f"GDAL's drivers could not be limited to {driver}; the file was not read")


def _libgdal() -> ctypes.CDLL:
    """The GDAL library pyogrio loaded (the same handle: dlopen of a loaded path returns it)."""
    pyogrio.list_drivers()
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                found = re.search(r"(/\S*/libgdal[^/\s]*\.so[^/\s]*)$", line.strip())
                if found:
                    return ctypes.CDLL(found.group(1))
    except OSError:
        pass
    raise _unreadable("GDAL's library was not found, so its drivers cannot be limited; the file was not read")


def _unreadable(message: str) -> GeoValidationError:
    return GeoValidationError(Problem(Kind.UNREADABLE, message, field="file"))


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__

