"""12345 orders → buildings → cases: 100,000 SIMULATED work orders built from Liechtenstein's real building addresses
(patrol/simulate/hotline.py, 30 % with noise), matched to the city's 8,994 buildings and written as cases, on
SpatiaLite and on PostGIS — side by side with the obvious alternative, a pandas exact join of whitespace-stripped,
lower-cased addresses.

Per database: the index load (``patrol.intake.addresses.building_index``), generating the orders, matching them all
(time, orders/s, match rate, precision against the simulation's ground truth), then writing the placed ones as cases
through the hotline importer when ``patrol.intake.hotline`` is there (else ``create_case`` with channel 12345, the
order number, one transaction per 1,000) for the first ``--write`` orders (default 2,000; the full import's time is
extrapolated from them: case writes, not matching, are what takes the time).

Run with ``GRIDPATROL_BENCH_POSTGRES_URL=… python bench/bench_hotline.py [--orders N] [--write N]``
(without the URL, SpatiaLite only).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
import time
import unicodedata
import uuid
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import func, select

from geo.addresses import decide
from patrol.cases.categories import load_categories
from patrol.cases.service import create_case
from patrol.city.osm_import import read_city, store_city
from patrol.core.auth import SYSTEM
from patrol.core.db import create_postgis_database, make_engine, session_factory, transaction
from patrol.core.migrate import upgrade
from patrol.core.models import Building, Case
from patrol.core.settings import get_settings
from patrol.intake.addresses import building_index
from patrol.simulate.hotline import simulated_orders

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "osm" / "liechtenstein_2015.osm.pbf"
#: 诉求分类 → category code (the shipped hotline mapping's codes for these texts)
CODES = {"垃圾清运": "E0101", "小广告": "E0201", "路灯不亮": "B0109", "井盖缺失": "B0102", "道路积水": "E0401",
         "违章停车": "E0503", "占道经营": "E0501", "噪音扰民": "E0301", "绿化养护": "B0402", "消防通道": "C0105",
         "楼道堆物": "C0102"}


def _city(url: str, model) -> None:
    engine = make_engine(url)
    upgrade(engine)
    with transaction(session_factory(engine)) as s:
        store_city(s, model, source=str(DATA))
        load_categories(s)
    engine.dispose()


def _match(index, rows: list[dict]) -> tuple[float, dict[str, int | None]]:
    t = time.perf_counter()
    placed = {r["工单编号"]: decide(index.match(r["事发地址"])) for r in rows}
    return time.perf_counter() - t, placed


def _quality(placed: dict[str, int | None], truth: dict[str, int | None]) -> tuple[float, float, float]:
    """(placed ÷ all orders, right ÷ orders naming a building, right ÷ placed)."""
    done = [no for no, b in placed.items() if b is not None]
    right = sum(1 for no in done if truth[no] == placed[no])
    named = sum(1 for b in truth.values() if b is not None)
    return len(done) / len(placed), right / max(named, 1), right / max(len(done), 1)


def _pandas_join(session, rows: list[dict]) -> tuple[float, dict[str, int | None]]:
    """The obvious alternative: the order's address, spaces dropped and lower-cased (NFKC), joined exactly to the
    buildings' addresses written the same way (the trailing 号 dropped); a unique hit places the order."""
    t = time.perf_counter()
    b = pd.DataFrame(session.execute(select(Building.id, Building.address).where(Building.address.is_not(None))).all(),
                     columns=["building_id", "address"])
    o = pd.DataFrame({"order_no": [r["工单编号"] for r in rows], "address": [r["事发地址"] for r in rows]})

    def key(s: pd.Series) -> pd.Series:
        return s.map(lambda a: unicodedata.normalize("NFKC", a)).str.lower().str.replace(r"\s+", "", regex=True)

    b["key"] = key(b["address"])
    b = b[~b["key"].duplicated(keep=False)]
    o["key"] = key(o["address"]).str.replace(r"号$", "", regex=True)
    joined = o.merge(b[["key", "building_id"]], on="key", how="left")
    placed = {no: (None if pd.isna(bid) else int(bid)) for no, bid in zip(joined["order_no"], joined["building_id"],
                                                                          strict=True)}
    return time.perf_counter() - t, placed


def _write_cases(sessions, rows: list[dict], placed: dict[str, int | None]) -> tuple[float, int, str]:
    """The placed orders as cases; (seconds, cases written, how)."""
    try:
        from patrol.intake.hotline.mapping import load_mapping
        from patrol.intake.hotline.orders import import_table
    except ImportError:
        load_mapping = import_table = None
    settings = get_settings()
    t = time.perf_counter()
    if import_table is not None:
        with transaction(sessions) as s:
            result = import_table(s, settings, load_mapping(), list(rows[0]), rows)
        n = sum(v for k, v in result.counts().items() if k != "refused")
        return time.perf_counter() - t, n, "patrol.intake.hotline import_table (all orders, pending ones too)"
    with sessions() as s:
        points = dict(s.execute(select(Building.id, func.ST_AsText(func.ST_PointOnSurface(Building.geom)))
                                .where(Building.community_id.is_not(None))).all())
    zone = ZoneInfo(settings.timezone)
    n = 0
    for start in range(0, len(rows), 1000):
        with transaction(sessions) as s:
            for r in rows[start:start + 1000]:
                b = placed[r["工单编号"]]
                if b is None or b not in points:  # 待定位, or a building outside every community (no case there)
                    continue
                lon, lat = (float(v) for v in points[b][6:-1].split())
                code = next((c for k, c in CODES.items() if k in r["诉求分类"]), "C0117")
                create_case(s, SYSTEM, settings, client_id=str(uuid.uuid5(uuid.NAMESPACE_URL, r["工单编号"])),
                            category=code, lon=lon, lat=lat, description=r["诉求内容"], address=r["事发地址"],
                            building_id=b, channel="12345", contact={"phone": r["联系电话"]},
                            now=dt.datetime.fromisoformat(r["受理时间"]).replace(tzinfo=zone))
                n += 1
    return (time.perf_counter() - t, n, "create_case per placed order in a community, 1,000 per transaction "
            "(patrol.intake.hotline not on this branch)")


def run_one(name: str, url: str, n: int, write: int) -> None:
    engine = make_engine(url)
    sessions = session_factory(engine)
    with sessions() as s:
        t = time.perf_counter()
        index = building_index(s)
        t_index = time.perf_counter() - t
        t = time.perf_counter()
        rows, truth = simulated_orders(s, n, seed=18, noise=0.3)
        t_gen = time.perf_counter() - t
        t_alt, alt = _pandas_join(s, rows)
    t_match, placed = _match(index, rows)
    rate, named_rate, precision = _quality(placed, truth)
    a_rate, a_named, a_precision = _quality(alt, truth)
    print(f"\n{name}: {n:,} orders, {len({b for b in truth.values() if b})} buildings named")
    print(f"  index load            {t_index:7.2f} s")
    print(f"  generate orders       {t_gen:7.2f} s")
    print(f"  match (ours)          {t_match:7.2f} s  {n / t_match:9,.0f} orders/s  placed {rate:.1%} of all, "
          f"{named_rate:.1%} of those naming a building, precision {precision:.4f}")
    print(f"  pandas exact join     {t_alt:7.2f} s  {n / t_alt:9,.0f} orders/s  placed {a_rate:.1%} of all, "
          f"{a_named:.1%} of those naming a building, precision {a_precision:.4f}")
    print(f"  ratio: ours places {named_rate / max(a_named, 1e-9):.1f}x as many orders right, "
          f"taking {t_match / t_alt:.1f}x the time")
    t_write, written, how = _write_cases(sessions, rows[:write], placed)
    with sessions() as s:
        cases = s.scalar(select(func.count(Case.id)).where(Case.channel == "12345"))
    print(f"  write cases           {t_write:7.2f} s  {written / t_write:9,.0f} orders/s  {written:,} written "
          f"({cases:,} 12345 cases in the database) via {how}")
    full = t_index + t_match + t_write * n / max(write, 1)
    print(f"  import of all {n:,} (index + match + writes extrapolated from {write:,}): {full / 60:.1f} min, "
          f"{n / full:,.0f} orders/s; matching is {t_match / full:.1%} of it")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--write", type=int, default=2000,
                        help="write cases for the first N orders (default 2,000: case writes run at ~30/s, so all "
                             "100,000 would take an hour per database; the figure printed is extrapolated)")
    args = parser.parse_args()
    write = min(args.write, args.orders)
    model = read_city(DATA)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        _city(url, model)
        run_one("SpatiaLite", url, args.orders, write)
    base = os.environ.get("GRIDPATROL_BENCH_POSTGRES_URL")
    if base:
        url = create_postgis_database(base, f"bench_{uuid.uuid4().hex[:8]}")
        _city(url, model)
        run_one("PostGIS", url, args.orders, write)
    else:
        print("\n(PostGIS skipped: set GRIDPATROL_BENCH_POSTGRES_URL)")


if __name__ == "__main__":
    main()
