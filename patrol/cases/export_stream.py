"""The cases download streamed (issue 23): the rows of :func:`patrol.cases.views.export_frame` read in chunks with a
server-side cursor (``yield_per``) and written piece by piece, so memory stays flat whatever the size — the same
bytes as the one-frame export (CSV and GeoJSON; GeoPackage the same table, written in chunks to a temp file).

Byte for byte because each chunk is a frame of the same columns *and dtypes* the whole frame would have: pandas
makes a nullable integer column float (``3.0``) and a nullable boolean one object as soon as one row of the whole
download has a null, so those columns are told beforehand, by one aggregate over the same rows
(:func:`null_columns`), and every chunk is cast alike. GDAL writes each GeoJSON feature on its own line, so the
header of the first chunk's file, the features of every chunk and the footer make the whole file.
"""

from __future__ import annotations

import multiprocessing
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from patrol.cases.channels import label as channel_label
from patrol.cases.reads import CaseFilter, case_dict, case_query
from patrol.city.labels import with_building_labels
from patrol.core.auth import Actor

#: rows per chunk (each a few MB as a frame)
CHUNK = 5_000
#: nullable columns whose pandas dtype depends on whether any row of the download has a null
NULLABLE_INT = ("community_id", "grid_id", "building_id", "unit_id", "rating")
NULLABLE_BOOL = ("closed_on_time",)


def null_columns(session: Session, actor: Actor, f: CaseFilter, limit: int) -> set[str]:
    """The nullable columns with at least one null among the rows the download holds."""
    rows = case_query(session, actor, f).limit(limit).subquery()
    cols = (*NULLABLE_INT, *NULLABLE_BOOL)
    counts = session.execute(select(func.count(), *[func.count(rows.c[c]) for c in cols])).one()
    return {c for c, n in zip(cols, counts[1:], strict=True) if n < counts[0]}


def frames(factory: Callable[[], Session], actor: Actor, f: CaseFilter, columns: tuple[str, ...], limit: int,
           chunk: int | None = None) -> Iterator[gpd.GeoDataFrame]:
    """The download as frames of at most ``chunk`` rows, dtypes as one frame of every row would have them; at
    least one (empty) frame."""
    with factory() as session:
        nulls = null_columns(session, actor, f, limit)
        q = case_query(session, actor, f).limit(limit).execution_options(yield_per=chunk or CHUNK)
        sent = False
        for part in session.execute(q).partitions():
            cases = with_building_labels(session, [case_dict(c) for c, _ in part])
            for d in cases:
                d["channel_label"] = channel_label(d["channel"])
            frame = gpd.GeoDataFrame([{k: d[k] for k in columns} for d in cases],
                                     geometry=[shapely.from_wkb(bytes(w)) for _, w in part], crs=4326)
            yield _cast(frame, nulls)
            sent = True
        if not sent:
            yield gpd.GeoDataFrame({k: [] for k in columns}, geometry=[], crs=4326)


def _cast(frame: gpd.GeoDataFrame, nulls: set[str]) -> gpd.GeoDataFrame:
    for c in NULLABLE_INT:
        if c in nulls and c in frame:
            frame[c] = frame[c].astype(float)
    for c in NULLABLE_BOOL:
        if c in nulls and c in frame:
            frame[c] = frame[c].astype(object)
    return frame


def csv_pieces(chunks: Iterator[gpd.GeoDataFrame]) -> Iterator[str]:
    """CSV text (header first, then rows; lon and lat last), as ``frame.to_csv(index=False)`` of the whole."""
    for i, frame in enumerate(chunks):
        points = list(frame.geometry)
        out = pd.DataFrame(frame.drop(columns="geometry")).assign(lon=[p.x for p in points],
                                                                  lat=[p.y for p in points])
        yield out.to_csv(index=False, header=i == 0)


def geojson_pieces(chunks: Iterator[gpd.GeoDataFrame], name: str) -> Iterator[bytes]:
    """GeoJSON bytes as GDAL writes the whole frame, chunk by chunk (GDAL writes each chunk to a temp file)."""
    footer = b"\n]\n}\n"
    first = True
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{name}.geojson"
        for frame in chunks:
            frame.to_file(path, driver="GeoJSON", engine="pyogrio")
            data = path.read_bytes()
            head_end = data.index(b'"features": [\n') + len(b'"features": [\n')
            body = data[head_end:-len(footer)] if data.endswith(footer) else b""
            if first:
                yield data[:head_end]
            elif body:
                yield b",\n"
            if body:
                yield body
            first = first and not body
        yield footer


def write_gpkg(chunks: Iterator[gpd.GeoDataFrame], path: str, name: str) -> None:
    """A GeoPackage of the chunks, appended one by one by a child process (GDAL's SQLite and SpatiaLite may not
    share a process: :mod:`patrol.city.exporting`), so neither holds more than a chunk."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        for i, frame in enumerate(chunks):
            pool.apply(_append, (frame, path, name, i > 0))


def _append(frame: gpd.GeoDataFrame, path: str, name: str, append: bool) -> None:
    frame.to_file(path, driver="GPKG", layer=name, engine="pyogrio", mode="a" if append else "w")
