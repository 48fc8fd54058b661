"""12345 orders → buildings → cases: 100,000 SIMULATED work orders built from Liechtenstein's real building addresses
(patrol/simulate/hotline.py, 30 % with noise), matched to the city's 8,994 buildings and written as cases, on
SpatiaLite and on PostGIS — side by side with the obvious alternative, a pandas exact join of whitespace-stripped,
lower-cased addresses.

Per database: the index load (``patrol.intake.addresses.building_index``), generating the orders, matching them all
(time, orders/s, match rate, precision against the simulation's ground truth), then the hotline importer over all of
them in one file (``import_table``: set-based for new orders, placed ones become cases, the rest 待定位), and — the
obvious alternative for the writes — the per-order path (one ``create_case`` per placed order) over ``--per-order``
more orders.

Run with ``GRIDPATROL_BENCH_POSTGRES_URL=… python bench/bench_hotline.py [--orders N] [--write N] [--per-order N]``
(without the URL, SpatiaLite only).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import unicodedata
import uuid
from pathlib import Path

import pandas as pd
from sqlalchemy import func, select

from geo.addresses import decide
from patrol.cases.categories import load_categories
from patrol.city.osm_import import read_city, store_city
from patrol.core.db import create_postgis_database, make_engine, session_factory, transaction
from patrol.core.migrate import upgrade
from patrol.core.models import Building, Case
from patrol.core.settings import get_settings
from patrol.intake.addresses import building_index
from patrol.intake.hotline.mapping import load_mapping
from patrol.intake.hotline.orders import IMPORT_ACTOR, check_rows, import_table, upsert
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


def _write_cases(sessions, rows: list[dict]) -> tuple[float, int]:
    """The hotline importer over ``rows`` (one file, one transaction): (seconds, orders written, pending included)."""
    settings = get_settings()
    t = time.perf_counter()
    with transaction(sessions) as s:
        result = import_table(s, settings, load_mapping(), list(rows[0]), rows)
    return time.perf_counter() - t, sum(v for k, v in result.counts().items() if k != "refused")


def _per_order(sessions, rows: list[dict]) -> tuple[float, int]:
    """The obvious way to write them: the per-order path (``upsert``: one create_case per placed order), one
    transaction per 500 orders: (seconds, orders written)."""
    settings = get_settings()
    mapping = load_mapping()
    good, _, _ = check_rows(mapping, list(rows[0]), rows)
    t = time.perf_counter()
    with sessions() as s:
        index = building_index(s)
    for start in range(0, len(good), 500):
        with transaction(sessions) as s:
            for _, order in good[start:start + 500]:
                upsert(s, IMPORT_ACTOR, settings, order, index, level=mapping.level)
    return time.perf_counter() - t, len(good)


def run_one(name: str, url: str, n: int, write: int, per_order: int) -> None:
    engine = make_engine(url)
    sessions = session_factory(engine)
    with sessions() as s:
        t = time.perf_counter()
        index = building_index(s)
        t_index = time.perf_counter() - t
        t = time.perf_counter()
        rows, truth = simulated_orders(s, n + per_order, seed=18, noise=0.3)
        rows, extra = rows[:n], rows[n:]
        truth = {r["工单编号"]: truth[r["工单编号"]] for r in rows}
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
    t_write, written = _write_cases(sessions, rows[:write])
    with sessions() as s:
        cases = s.scalar(select(func.count(Case.id)).where(Case.channel == "12345"))
    print(f"  import (set-based)    {t_write:7.2f} s  {written / t_write:9,.0f} orders/s  {written:,} orders "
          f"({cases:,} placed as 12345 cases, the rest 待定位); matching is {t_match / t_write:.0%} of it")
    t_one, one = _per_order(sessions, extra)
    print(f"  per-order path        {t_one:7.2f} s  {one / t_one:9,.0f} orders/s  {one:,} more orders")
    print(f"  ratio: the set-based import writes {(written / t_write) / (one / t_one):.0f}x as many orders per "
          "second as the per-order path")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--write", type=int, default=None, help="import only the first N orders (default: all)")
    parser.add_argument("--per-order", type=int, default=1000,
                        help="orders written through the per-order path for the comparison (default 1,000)")
    args = parser.parse_args()
    write = min(args.write or args.orders, args.orders)
    model = read_city(DATA)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        _city(url, model)
        run_one("SpatiaLite", url, args.orders, write, args.per_order)
    base = os.environ.get("GRIDPATROL_BENCH_POSTGRES_URL")
    if base:
        url = create_postgis_database(base, f"bench_{uuid.uuid4().hex[:8]}")
        _city(url, model)
        run_one("PostGIS", url, args.orders, write, args.per_order)
    else:
        print("\n(PostGIS skipped: set GRIDPATROL_BENCH_POSTGRES_URL)")


if __name__ == "__main__":
    main()
