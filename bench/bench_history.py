"""History import of the LA 311 sample (9,999 requests) through ``import-history`` next to a plain pandas read + insert.

For each database (SpatiaLite, and PostGIS when configured) a city of Los Angeles' 99 neighborhood councils is made
(not timed), then in one run:

- **import-history**: the shipped mapping (patrol/data/history/la311.yaml) — read, every row checked, times parsed in
  the source's zone, statuses / categories / channels mapped, points located in communities, grids and buildings,
  deadlines on the working calendar, cases + numbers + their steps (report, register, close / reject) written in
  one transaction; then the same file again (idempotent: every row compared, nothing written);
- **pandas**: ``read_csv`` + ``DataFrame.to_sql`` (executemany) of the same 9,999 rows into a plain table of text
  columns: no checks, no location, no events — the floor of any import.

Prints seconds, rows of the file per second, and the ratio import-history / pandas. Run alone
(``GRIDPATROL_BENCH_POSTGRES_URL=… python bench/bench_history.py``) or from ``bench/run.py``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pandas as pd
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from patrol.core.db import (  # noqa: E402
    create_postgis_database,
    drop_postgis_database,
    make_engine,
    session_factory,
    transaction,
)
from patrol.core.models import CaseEvent  # noqa: E402
from patrol.core.settings import get_settings  # noqa: E402
from patrol.intake.history import import_history  # noqa: E402
from patrol.intake.history_mapping import load_mapping  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "la311"
CSV = DATA / "myla311_2017-12-27_to_31.csv"
MAPPING = ROOT / "patrol" / "data" / "history" / "la311.yaml"


def _city(url: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GRIDPATROL_DATABASE_URL": url}
    for args in (["city", "create", "--name", "Los Angeles", "--district-code", "000000", "--timezone",
                  "America/Los_Angeles", "--code-scheme", "own"],
                 ["import", str(DATA / "la_neighborhood_councils_certified.geojson"), "--layer", "communities",
                  "--code-column", "nc_id", "--name-column", "name"]):
        subprocess.run([sys.executable, "-m", "api.cli", *args], env=env, cwd=ROOT, check=True, capture_output=True)


def _one(url: str) -> dict:
    _city(url)
    settings = get_settings()
    engine = make_engine(url, spatialite_library=settings.spatialite_library)
    sessions = session_factory(engine)
    mapping = load_mapping(MAPPING)
    try:
        t = time.perf_counter()
        with transaction(sessions) as s:
            out = import_history(s, settings, CSV, mapping)
        ours = time.perf_counter() - t
        with sessions() as s:
            events = s.scalar(select(func.count(CaseEvent.id)))
        t = time.perf_counter()
        with transaction(sessions) as s:
            again = import_history(s, settings, CSV, mapping)
        reimport = time.perf_counter() - t
        assert again.created == again.updated == 0 and again.unchanged == out.created
        t = time.perf_counter()
        frame = pd.read_csv(CSV, dtype=str)
        with engine.begin() as conn:
            frame.to_sql("bench_history", conn, if_exists="replace", index=False, chunksize=1000)
        plain = time.perf_counter() - t
    finally:
        engine.dispose()
    rows = len(frame)
    return {"rows": rows, "cases": out.created, "events": events, "skipped": sum(out.skipped.values()),
            "ours_s": ours, "reimport_s": reimport, "pandas_s": plain}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_known_args(argv)
    if not CSV.exists():
        print(f"skipped: {CSV} not found")
        return {}
    results = {}
    with tempfile.TemporaryDirectory() as d:
        results["spatialite"] = _one(f"sqlite:///{Path(d) / 'la311.db'}")
    base = os.environ.get("GRIDPATROL_BENCH_POSTGRES_URL") or os.environ.get("GRIDPATROL_TEST_POSTGRES_URL")
    if base:
        url = create_postgis_database(base, f"bench_{uuid.uuid4().hex[:8]}")
        try:
            results["postgis"] = _one(url)
        finally:
            drop_postgis_database(url)
    else:
        print("PostGIS skipped: set GRIDPATROL_BENCH_POSTGRES_URL")
    print(f"LA 311 sample, {CSV.name}: import-history (checked, located, cases + steps) vs pandas read_csv + to_sql")
    print(f"{'database':<11} {'rows':>6} {'cases':>6} {'events':>7} {'import s':>9} {'rows/s':>7} "
          f"{'re-import s':>12} {'pandas s':>9} {'rows/s':>7} {'ratio':>6}")
    for name, r in results.items():
        print(f"{name:<11} {r['rows']:>6} {r['cases']:>6} {r['events']:>7} {r['ours_s']:>9.2f} "
              f"{r['rows'] / r['ours_s']:>7.0f} {r['reimport_s']:>12.2f} {r['pandas_s']:>9.2f} "
              f"{r['rows'] / r['pandas_s']:>7.0f} {r['ours_s'] / r['pandas_s']:>5.1f}×")
    return results


if __name__ == "__main__":
    main()
