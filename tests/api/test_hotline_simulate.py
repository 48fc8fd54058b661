"""``gridpatrol hotline simulate``: a labelled simulated 12345 export from Monaco's real addresses, CSV and XLSX."""

from __future__ import annotations

import csv

from openpyxl import load_workbook
from sqlalchemy import select

from patrol.core.db import make_engine
from patrol.core.models import Building
from patrol.simulate.hotline import COLUMNS
from tests.api.test_cli import run


def test_simulate_writes_a_labelled_export_and_its_truth(monaco_city_url, tmp_path):
    out, truth, xlsx = tmp_path / "orders.csv", tmp_path / "truth.csv", tmp_path / "orders.xlsx"
    r = run(monaco_city_url, "hotline", "simulate", "--orders", "40", "--seed", "5", "--noise", "0.5",
            "--out", str(out), "--truth", str(truth))
    assert r.exit_code == 0, r.output
    assert r.output.startswith("40 simulated orders written to")
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM, as Chinese Excel writes CSV
    with out.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    assert tuple(rows[0]) == COLUMNS and len(rows) == 41
    orders = [dict(zip(COLUMNS, row, strict=True)) for row in rows[1:]]
    assert all(o["诉求人"].startswith("模拟居民") and o["诉求内容"].startswith("【模拟】") and
               o["联系电话"].startswith("100") and o["工单编号"].startswith("SIM") for o in orders)
    assert len({o["工单编号"] for o in orders}) == 40

    with truth.open(encoding="utf-8-sig", newline="") as f:
        known = {row["工单编号"]: row["building_id"] for row in csv.DictReader(f)}
    assert list(known) == [o["工单编号"] for o in orders]
    engine = make_engine(monaco_city_url)
    try:
        with engine.connect() as conn:
            addressed = set(conn.scalars(select(Building.id).where(Building.address.is_not(None))))
    finally:
        engine.dispose()
    named = {o["工单编号"]: int(known[o["工单编号"]]) for o in orders if known[o["工单编号"]]}
    assert named and all(b in addressed for b in named.values())

    r = run(monaco_city_url, "hotline", "simulate", "--orders", "40", "--seed", "5", "--noise", "0.5",
            "--out", str(xlsx))
    assert r.exit_code == 0, r.output
    sheet = load_workbook(xlsx, read_only=True).active
    cells = [["" if v is None else v for v in row] for row in sheet.iter_rows(values_only=True)]
    assert cells == rows  # same seed, same orders

    r = run(monaco_city_url, "hotline", "simulate", "--orders", "4", "--out", str(tmp_path / "orders.txt"))
    assert r.exit_code == 2 and "write .csv or .xlsx" in r.output and len(r.output.strip().splitlines()) == 1
