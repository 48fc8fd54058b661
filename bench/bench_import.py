"""Import Liechtenstein (8,994 buildings, 4,658 roads) into SpatiaLite and into PostGIS, side by side with the
obvious alternative: geopandas writing the same assembled layers (``to_file`` SpatiaLite / ``to_postgis``).

Run with ``make bench`` (starts a throwaway PostGIS) or
``GRIDPATROL_BENCH_POSTGRES_URL=… python bench/bench_import.py``.
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine

from patrol.city.osm_import import read_city, store_city
from patrol.core.db import create_postgis_database, make_engine, session_factory, transaction
from patrol.core.migrate import upgrade

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "osm" / "liechtenstein_2015.osm.pbf"


def _fresh_pg(base: str) -> str:
    return create_postgis_database(base, f"bench_{uuid.uuid4().hex[:8]}")


def _ours(url: str, model) -> float:
    engine = make_engine(url)
    upgrade(engine)
    t = time.perf_counter()
    with transaction(session_factory(engine)) as s:
        store_city(s, model, source=str(DATA))
    dt = time.perf_counter() - t
    engine.dispose()
    return dt


def _geopandas_spatialite(path: Path, model) -> float:
    t = time.perf_counter()
    for name, frame in (("building", model.buildings), ("road", model.roads)):
        frame.to_file(path, layer=name, driver="SQLite", engine="pyogrio", dataset_options={"SPATIALITE": "YES"}
                      if name == "building" else None, append=name != "building")
    return time.perf_counter() - t


def _geopandas_postgis(url: str, model) -> float:
    engine = create_engine(url)
    t = time.perf_counter()
    model.buildings.drop(columns=["community"]).to_postgis("gp_building", engine, if_exists="replace")
    model.roads.to_postgis("gp_road", engine, if_exists="replace")
    dt = time.perf_counter() - t
    engine.dispose()
    return dt


def main() -> None:
    if not DATA.exists():
        print(f"skipped: {DATA} not found")
        return
    t = time.perf_counter()
    model = read_city(DATA)
    read_s = time.perf_counter() - t
    print(f"read + assemble (shared by every target): {read_s:.2f} s — {len(model.buildings)} buildings, "
          f"{len(model.roads)} roads, {len(model.communities)} communities")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        ours = _ours(f"sqlite:///{tmp}/ours.db", model)
        theirs = _geopandas_spatialite(Path(tmp) / "gpd.sqlite", model)
        rows.append(("SpatiaLite", ours, theirs))
    pg = os.environ.get("GRIDPATROL_BENCH_POSTGRES_URL") or os.environ.get("GRIDPATROL_TEST_POSTGRES_URL")
    if pg:
        ours = _ours(_fresh_pg(pg), model)
        theirs = _geopandas_postgis(_fresh_pg(pg), model)
        rows.append(("PostGIS", ours, theirs))
    else:
        print("PostGIS: skipped (set GRIDPATROL_BENCH_POSTGRES_URL or run `make bench`)")
    print(f"{'target':<12}{'gridpatrol store':>18}{'geopandas write':>18}{'ratio':>8}   (gridpatrol also writes "
          "hierarchy, households, FKs and spatial indexes)")
    for name, ours, theirs in rows:
        print(f"{name:<12}{ours:>16.2f} s{theirs:>16.2f} s{ours / theirs:>8.2f}")
        print(f"{'':<12}whole import (read + store): {read_s + ours:.2f} s")


if __name__ == "__main__":
    main()
