"""The README's history-import result, re-runnable: Los Angeles' neighborhood councils as communities, the shared LA
311 sample (27–31 December 2017) through ``gridpatrol cases import-history`` with the shipped mapping, then

- cases per local day by channel and by category (the sample spans five days, not months),
- the Gi* hot spots of the imported cases from the analytics API (``GET /api/v1/analytics/hotspots``),
- a PNG of the hot-spot map page (``/maps/hotspots``) rendered by headless Chromium → docs/img/.

Usage (from the project root): ``python scripts/history_la311.py [--out docs/img/history-la311-hotspots.png]
[--workdir DIR]``. Needs ../shared/data/la311/ and Debian's chromium. LA is not a Chinese city: it is the only real
311 history we have; its request types are mapped to the nearest of our categories (patrol/data/history/la311.yaml).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pandas as pd
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.app import create_app  # noqa: E402
from patrol.core.settings import Settings  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "la311"
MAPPING = ROOT / "patrol" / "data" / "history" / "la311.yaml"
PASSWORD = "a long pass phrase for the LA history 7"
TZ = "America/Los_Angeles"
PERIOD = {"start": "2017-12-27", "end": "2018-01-01"}
HOT = {**PERIOD, "cells": "h3", "resolution": 8}
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]


def gridpatrol(url: str, *args: str, stdin: str | None = None) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GRIDPATROL_DATABASE_URL": url}
    r = subprocess.run([sys.executable, "-m", "api.cli", *args], env=env, cwd=ROOT, input=stdin, text=True,
                       capture_output=True)
    if r.returncode:
        raise SystemExit(f"gridpatrol {' '.join(args)} failed:\n{r.stderr}")
    return r.stdout


def build(url: str) -> str:
    gridpatrol(url, "city", "create", "--name", "Los Angeles", "--district-code", "000000", "--timezone", TZ,
               "--code-scheme", "own")
    gridpatrol(url, "import", str(DATA / "la_neighborhood_councils_certified.geojson"), "--layer", "communities",
               "--code-column", "nc_id", "--name-column", "name")
    gridpatrol(url, "users", "add", "analyst", "--role", "admin", "--name", "Analyst", "--password-stdin",
               stdin=PASSWORD + "\n")
    start = time.perf_counter()
    out = gridpatrol(url, "cases", "import-history", str(DATA / "myla311_2017-12-27_to_31.csv"), "--mapping",
                     str(MAPPING))
    return f"{out.strip()} [{time.perf_counter() - start:.1f} s with the interpreter's start]"


def markdown(frame: pd.DataFrame) -> str:
    """A frame as a Markdown table (index first)."""
    head = [str(frame.index.name or frame.columns.name or "")] + [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join([str(i)] + [str(v) for v in row]) + " |" for i, row in
              zip(frame.index, frame.itertuples(index=False), strict=True)]
    return "\n".join(lines)


def tables(url: str) -> str:
    engine = create_engine(url)
    cases = pd.read_sql("SELECT c.reported_at, c.channel, c.category_code, g.name_en AS category, c.status "
                        "FROM patrol_case c JOIN category g ON g.code = c.category_code", engine)
    engine.dispose()
    day = pd.to_datetime(cases["reported_at"], utc=True, format="mixed").dt.tz_convert(TZ).dt.strftime("%a %d %b")
    order = sorted(day.unique(), key=lambda d: pd.to_datetime(d + " 2017", format="%a %d %b %Y"))
    by_channel = pd.crosstab(day.rename("day"), cases["channel"], margins=True,
                             margins_name="total").reindex(order + ["total"])
    category = (cases["category"] + " (" + cases["category_code"] + ")").rename("category")
    by_category = pd.crosstab(category, day, margins=True, margins_name="total")[order + ["total"]]
    by_category = by_category.sort_values("total", ascending=False)
    closed = (cases["status"] == "closed").mean()  # as the export says (it was made months later)
    return (f"cases per day (local, {TZ}) by channel:\n{markdown(by_channel)}\n\n"
            f"by category:\n{markdown(by_category)}\n\nclosed in the export: {closed:.1%} of {len(cases)}")


def hotspots(settings: Settings) -> tuple[str, dict]:
    with TestClient(create_app(settings)) as client:
        token = client.post("/api/v1/auth/token", data={"username": "analyst", "password": PASSWORD}).json()
        answer = client.get("/api/v1/analytics/hotspots", params=HOT,
                            headers={"Authorization": f"Bearer {token['access_token']}"})
        answer.raise_for_status()
        table = client.get("/api/v1/analytics/kpis", params={**PERIOD, "by": "overall"},
                           headers={"Authorization": f"Bearer {token['access_token']}"})
        table.raise_for_status()
    k = table.json()["rows"][0]
    kpi_text = (f"KPIs over the five days (GET /api/v1/analytics/kpis?by=overall): received {k['received']}, "
                f"registered {k['registered']}, rejected {k['rejected']}, closed {k['closed']}; 办结率 closure rate "
                f"{k['closure_rate']:.1%} ({k['closure_rate_num']}/{k['closure_rate_den']}); 按期结案率 on-time rate "
                f"{k['on_time_rate']:.1%} ({k['on_time_rate_num']}/{k['on_time_rate_den']}); mean time to closure "
                f"{k['mean_close_hours']:.1f} working hours")
    cells = pd.DataFrame([f["properties"] for f in answer.json()["features"]])
    hot = cells[cells["bin"] >= 2].sort_values("z", ascending=False)
    text = (f"Gi* on {len(cells)} H3 resolution-8 cells (FDR): {len(hot)} hot at ≥ 95 % "
            f"({int((cells['bin'] == 3).sum())} at 99 %) holding {hot['count'].sum() / cells['count'].sum():.0%} "
            f"of the {int(cells['count'].sum())} cases; cold at ≥ 95 %: {int((cells['bin'] <= -2).sum())}; "
            f"top z {hot['z'].max():.1f}")
    return kpi_text + "\n" + text, answer.json()


def screenshot(settings: Settings, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    target = f"/maps/hotspots?start={PERIOD['start']}&end={PERIOD['end']}&resolution=8&emerging=none"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 860}, locale="zh-CN")
            page.set_default_timeout(60_000)
            page.goto(base + target)
            page.fill("#u", "analyst")
            page.fill("#p", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(base + target)
            page.wait_for_function("typeof L === 'object'")
            page.wait_for_timeout(1500)
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out))
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img" / "history-la311-hotspots.png")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="use the database of an earlier run in --workdir")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="la311-"))
    work.mkdir(parents=True, exist_ok=True)
    db = work / "la311.db"
    url = f"sqlite:///{db}"
    if not (args.keep and db.exists()):
        db.unlink(missing_ok=True)
        print(build(url))
    print(tables(url))
    settings = Settings(database_url=url, secret_key="la311-history-script-secret-0123456789", timezone=TZ)
    text, _ = hotspots(settings)
    print(text)
    screenshot(settings, args.out)
    print(f"map: {args.out}")


if __name__ == "__main__":
    main()
