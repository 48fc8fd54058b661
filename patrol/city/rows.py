"""Writing imported rows: plain DB-API values and chunked bulk inserts, shared by the OSM and the layer import."""

from __future__ import annotations

import math

import pandas as pd
from sqlalchemy import insert
from sqlalchemy.orm import Session
from tqdm import tqdm

#: Rows per INSERT: large enough to be fast, small enough to keep one statement's parameters modest.
CHUNK = 2000


def plain(value: object) -> object:
    """A plain Python value for the DB-API: numpy scalars unwrapped, NA/NaN as None."""
    if hasattr(value, "item"):
        value = value.item()
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return value


def insert_chunked(session: Session, model: type, rows: list[dict], label: str, progress: bool) -> None:
    """Insert ``rows`` into ``model``'s table, :data:`CHUNK` rows a statement, with a progress bar named ``label``
    when ``progress``."""
    with tqdm(total=len(rows), desc=f"writing {label}", unit=" rows", disable=not progress, leave=False) as bar:
        for start in range(0, len(rows), CHUNK):
            part = rows[start:start + CHUNK]
            session.execute(insert(model), part)
            bar.update(len(part))
