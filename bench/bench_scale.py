"""City-scale reads (issue 23): each endpoint of the dashboards, maps, desk, analytics and export with the real app
in-process (FastAPI TestClient, logged in as the role that uses it), p50 / p95 of the server time, warm (repeated)
and cold (database restarted and the OS page cache dropped, when permitted), **before** (``fast_reads=False``: the
original queries) and **after** (``fast_reads=True``), with the ratio and each endpoint's goal.

    # reuse a generated database (e.g. the 5M PostGIS cluster: /work/scale-pg/URL)
    python bench/bench_scale.py --url postgresql+psycopg://postgres@127.0.0.1:55500/gridpatrol \\
        --restart-cmd "/work/scale-pg/pg.sh restart"
    # generate into a new SpatiaLite file per size, then measure each
    python bench/bench_scale.py --spatialite --sizes 100000,1000000
    # no arguments (bench/run.py): a small SpatiaLite district (20,000 cases, 100,000 fixes)

"Before" paths at millions of cases can take minutes: each call has a timeout (``--timeout``; PostgreSQL also gets
it as ``statement_timeout``); a call over it is shown as "> N s" and its endpoint is not repeated in that mode.
Generating: ``gridpatrol simulate scale`` (:mod:`patrol.simulate.scale`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing as mp
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from api.app import create_app  # noqa: E402
from patrol.core.db import make_engine, session_factory  # noqa: E402
from patrol.core.migrate import upgrade  # noqa: E402
from patrol.core.models import Case, Community, GpsFix, Grid, Patrol, Subdistrict, User  # noqa: E402
from patrol.core.settings import Settings  # noqa: E402
from patrol.simulate.logins import DEMO_PASSWORD  # noqa: E402
from patrol.simulate.scale import Options, generate  # noqa: E402


@dataclass
class Endpoint:
    name: str
    role: str  # admin | supervisor | subdistrict | department
    path: str
    params: dict
    goal_s: float | None
    kind: str = "time"  # time | memory


@dataclass
class Result:
    warm: list[float] = field(default_factory=list)
    cold: float | None = None
    over: bool = False
    status: int | None = None
    rss_mb: float | None = None


def load() -> str:
    return "load {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


# ---------------------------------------------------------------------------------------------- the database


def scene(url: str) -> dict:
    """What the endpoints are asked for: the busiest community, its first grid, the day of that grid's latest
    patrol, the district's bounding box, the last full month and the last year, and the logins."""
    engine = make_engine(url)
    with session_factory(engine)() as s:
        com_id, = s.execute(select(Grid.community_id).group_by(Grid.community_id)
                            .order_by(func.count().desc(), Grid.community_id).limit(1)).one()
        com_code = s.scalar(select(Community.code).where(Community.id == com_id))
        sub_code = s.scalar(select(Subdistrict.code).join(Community, Community.subdistrict_id == Subdistrict.id)
                            .where(Community.id == com_id))
        grid_id, grid_code = s.execute(select(Grid.id, Grid.code).where(Grid.community_id == com_id)
                                       .order_by(Grid.code).limit(1)).one()
        last = s.scalar(select(func.max(Patrol.started_at)).where(Patrol.grid_id == grid_id))
        box = s.execute(select(func.min(func.ST_X(Case.geom)), func.min(func.ST_Y(Case.geom)),
                               func.max(func.ST_X(Case.geom)), func.max(func.ST_Y(Case.geom)))
                        .where(Case.id < 20_000)).one()
        users = {r.role: r.username for r in s.execute(
            select(User.role, func.min(User.username).label("username")).where(User.simulated)
            .where((User.role != "supervisor") | (User.community_id == com_id)).group_by(User.role))}
        users["department"] = s.scalar(select(User.username).where(User.username == "dept_urban_management")) \
            or users.get("department")
        n_cases = s.scalar(select(func.count()).select_from(Case))
        n_fixes = s.scalar(select(func.count()).select_from(GpsFix))
    engine.dispose()
    return {"community": com_code, "subdistrict": sub_code, "grid": grid_code, "day": last, "box": box,
            "users": users, "cases": n_cases, "fixes": n_fixes}


def endpoints(sc: dict, tz: str) -> list[Endpoint]:
    today = dt.datetime.now(ZoneInfo(tz)).date()
    month_end = today.replace(day=1)
    month_start = (month_end - dt.timedelta(days=1)).replace(day=1)
    year_start = today - dt.timedelta(days=365)
    day = (sc["day"].astimezone(ZoneInfo(tz)).date() if sc["day"] else today - dt.timedelta(days=1))
    x0, y0, x1, y1 = sc["box"]
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    box = {12: (x0, y0, x1, y1), 15: (cx - 0.012, cy - 0.008, cx + 0.012, cy + 0.008),
           18: (cx - 0.0015, cy - 0.001, cx + 0.0015, cy + 0.001)}
    com, grid = sc["community"], sc["grid"]
    month = {"start": month_start.isoformat(), "end": month_end.isoformat()}
    year = {"start": year_start.isoformat(), "end": today.isoformat()}
    out = [
        Endpoint("KPIs community-month", "supervisor", "/api/v1/analytics/kpis",
                 {"by": "grid", "community": com, **month}, 0.3),
        Endpoint("KPIs district-year", "admin", "/api/v1/analytics/kpis", {"by": "community", **year}, 1.0),
    ]
    for z, b in box.items():
        out.append(Endpoint(f"cases map zoom {z}", "admin", "/api/v1/cases/map",
                            {"bbox": ",".join(f"{v:.6f}" for v in b), "zoom": z}, 0.3))
    out += [
        Endpoint("desk queues (supervisor)", "supervisor", "/api/v1/desk/queues", {}, 0.3),
        Endpoint("desk queue page (department)", "department", "/api/v1/desk/queues/{first}", {"limit": 50}, 0.3),
        Endpoint("hotspots H3 r9, one year", "admin", "/api/v1/analytics/hotspots",
                 {"cells": "h3", "resolution": 9, **year}, 2.0),
        Endpoint("emerging, 52 weekly steps", "admin", "/api/v1/analytics/emerging",
                 {"step": "week", "steps": 52, "cells": "h3", "resolution": 9}, 5.0),
        Endpoint("coverage one grid-day", "supervisor", "/api/v1/analytics/coverage",
                 {"grid": grid, "start": day.isoformat(), "end": (day + dt.timedelta(days=1)).isoformat()}, 0.2),
        Endpoint("coverage community-month", "supervisor", "/api/v1/analytics/coverage",
                 {"community": com, **month}, 2.0),
        Endpoint("cases export CSV, one year (peak RSS growth)", "admin", "/api/v1/cases/export",
                 {"format": "csv", "since": f"{year_start.isoformat()}T00:00:00+00:00"}, None, kind="memory"),
    ]
    return out


# ---------------------------------------------------------------------------------------------- measuring


def with_timeout(url: str, seconds: float) -> str:
    u = make_url(url)
    if u.get_backend_name() != "postgresql":
        return url
    return u.update_query_dict({"options": f"-c statement_timeout={int(seconds * 1000)}"}).render_as_string(
        hide_password=False)


class Bench:
    """The app in-process with its logins; one per child process (see :func:`child`)."""

    def __init__(self, url: str, fast: bool, timeout: float, sc: dict) -> None:
        self.settings = Settings(database_url=with_timeout(url, timeout), fast_reads=fast, tiles=None)
        self.app = create_app(self.settings)
        self.client = TestClient(self.app)
        self.client.__enter__()
        self.tokens: dict[str, str] = {}
        for role, user in sc["users"].items():
            r = self.client.post("/api/v1/auth/token", data={"username": user, "password": DEMO_PASSWORD})
            if r.status_code == 200:
                self.tokens[role] = r.json()["access_token"]

    def headers(self, ep: Endpoint) -> dict:
        return {"Authorization": f"Bearer {self.tokens.get(ep.role, '')}"}

    def path(self, ep: Endpoint) -> str:
        if "{first}" not in ep.path:
            return ep.path
        r = self.client.get("/api/v1/desk/queues", headers=self.headers(ep))
        queues = r.json().get("queues", []) if r.status_code == 200 else []
        first = max(queues, key=lambda q: q["count"])["name"] if queues else "none"
        return ep.path.replace("{first}", first)

    def call(self, ep: Endpoint, path: str) -> tuple[float, int]:
        t0 = time.perf_counter()
        resp = self.client.get(path, params=ep.params, headers=self.headers(ep))
        return time.perf_counter() - t0, resp.status_code

    def export(self, ep: Endpoint) -> tuple[float, float, int]:
        """Seconds, peak RSS growth (MB) and status of the export read to its end as a stream.

        The peak is this process's own: a forked child inherits its parent's high-water mark (``ru_maxrss``), which
        after generating a district is gigabytes and hides the export's growth, so the mark is reset first
        (``/proc/self/clear_refs``, Linux) and read from ``/proc/self/status``; ``ru_maxrss`` where that fails."""
        before = _peak_rss_kb(reset=True)
        t0 = time.perf_counter()
        with self.client.stream("GET", ep.path, params=ep.params, headers=self.headers(ep)) as r:
            for _ in r.iter_bytes():
                pass
            status = r.status_code
        rss = (_peak_rss_kb(reset=False) - before) / 1024
        return time.perf_counter() - t0, rss, status


def _peak_rss_kb(reset: bool) -> int:
    """The process's peak resident set (kB): after ``reset``, the current one."""
    try:
        if reset:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    except (OSError, StopIteration, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def restart(cmd: str | None) -> bool:
    """Restart the database server and drop the OS page cache; False when the cache could not be dropped."""
    if cmd:
        subprocess.run(cmd, shell=True, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S602
    try:
        subprocess.run("sync", check=True)
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def child(url: str, fast: bool, timeout: float, sc: dict, ep: Endpoint, repeat: int, cold: bool,
          restart_cmd: str | None, q: mp.Queue) -> None:
    """One endpoint in one mode, in a process of its own (so that a call over the timeout can be killed): the cold
    call first (after the restart), then the warm ones; each result is sent as soon as it is known."""
    if cold and ep.kind == "time":
        restart(restart_cmd)
    b = Bench(url, fast, timeout, sc)
    if ep.kind == "memory":
        s, rss, status = b.export(ep)
        q.put(("export", s, rss, status))
        return
    path = b.path(ep)
    s, status = b.call(ep, path)
    q.put(("cold" if cold else "first", s, status))
    for _ in range(repeat):
        s, status = b.call(ep, path)
        q.put(("warm", s, status))
    q.put(("done",))


def measure_one(url: str, sc: dict, fast: bool, ep: Endpoint, repeat: int, timeout: float, cold: bool,
                restart_cmd: str | None) -> Result:
    res = Result()
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=child, args=(url, fast, timeout, sc, ep, repeat, cold, restart_cmd, q), daemon=True)
    p.start()
    deadline = time.monotonic() + 60  # starting the app and logging in
    while True:
        try:
            msg = q.get(timeout=max(1.0, deadline - time.monotonic() + timeout))
        except Exception:  # noqa: BLE001 - queue.Empty: the call went over the timeout
            res.over = True
            break
        if msg[0] == "done":
            break
        if msg[0] == "export":
            res.warm, res.rss_mb, res.status = [msg[1]], msg[2], msg[3]
            break
        kind, s, status = msg
        res.status = status
        if s > timeout:
            res.over = True
            break
        if kind == "cold":
            res.cold = s
        elif kind == "warm":
            res.warm.append(s)
        deadline = time.monotonic()
    if p.is_alive():
        p.kill()
    p.join()
    return res


def measure(url: str, sc: dict, fast: bool, eps: list[Endpoint], repeat: int, timeout: float, cold: bool,
            restart_cmd: str | None) -> dict[str, Result]:
    return {ep.name: measure_one(url, sc, fast, ep, repeat, timeout, cold, restart_cmd) for ep in eps}


# ---------------------------------------------------------------------------------------------- the table


def pct(values: list[float], p: float) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p * (len(v) - 1))))]


def fmt(res: Result | None, timeout: float) -> str:
    if res is None:
        return "—"
    if res.rss_mb is not None:
        return f"+{res.rss_mb:.0f} MB RSS ({res.warm[0]:.1f} s)"
    if res.over and not res.warm:
        return f"> {timeout:.0f} s"
    if not res.warm:
        return "—"
    return f"{pct(res.warm, 0.5) * 1000:.0f} / {pct(res.warm, 0.95) * 1000:.0f}" + (" (then > timeout)" if res.over
                                                                                 else "")


def cold_fmt(res: Result | None, timeout: float) -> str:
    if res is None or (res.cold is None and not res.over):
        return "—"
    return f"> {timeout:.0f} s" if res.cold is None else f"{res.cold * 1000:.0f}"


def verdict(ep: Endpoint, res: Result | None) -> str:
    if res is None or ep.goal_s is None:
        return "constant memory?" if ep.kind == "memory" else "—"
    if res.over or not res.warm:
        return "not met"
    worst = max(pct(res.warm, 0.95), res.cold or 0)
    return "met" if worst <= ep.goal_s else "not met"


def table(label: str, eps: list[Endpoint], before: dict, after: dict, timeout: float, cold_note: str) -> str:
    lines = [f"\n### {label}\n", f"warm: p50 / p95 ms over the repeats; cold: one call after {cold_note}\n",
             "| endpoint | role | goal | before warm | after warm | ratio p50 | before cold | after cold | "
             "goal met (after) |", "|---|---|---|---|---|---|---|---|---|"]
    for ep in eps:
        b, a = before.get(ep.name), after.get(ep.name)
        ratio = "—"
        if b and a and b.warm and a.warm and ep.kind == "time":
            ratio = f"{statistics.median(b.warm) / statistics.median(a.warm):.1f}×"
        elif b and a and b.over and a.warm:
            ratio = f"> {timeout / statistics.median(a.warm):.0f}×"
        goal = f"≤ {ep.goal_s * 1000:.0f} ms" if ep.goal_s else "streamed"
        status = "" if not a or a.status in (None, 200) else f" (HTTP {a.status})"
        lines.append(f"| {ep.name} | {ep.role} | {goal} | {fmt(b, timeout)} | {fmt(a, timeout)}{status} | {ratio} | "
                     f"{cold_fmt(b, timeout)} | {cold_fmt(a, timeout)} | {verdict(ep, a)} |")
    return "\n".join(lines)


def run_one(url: str, label: str, args: argparse.Namespace) -> None:
    sc = scene(url)
    tz = Settings().timezone
    eps = [e for e in endpoints(sc, tz) if not args.only or any(o in e.name for o in args.only.split(","))]
    print(f"{label}: {sc['cases']:,} cases, {sc['fixes']:,} fixes; community {sc['community']}, grid {sc['grid']}; "
          f"{load()}", flush=True)
    cold = not args.no_cold
    dropped = restart(None) if cold else False
    note = ("a database restart and the page cache dropped" if dropped else
            "a database restart (page cache NOT dropped: not permitted here)")
    if not args.restart_cmd and make_url(url).get_backend_name() == "postgresql":
        note += "; no --restart-cmd: the server was not restarted"
    results = {}
    for mode in args.modes.split(","):
        t0 = time.perf_counter()
        results[mode] = measure(url, sc, mode == "after", eps, args.repeat, args.timeout, cold, args.restart_cmd)
        print(f"  {mode}: measured in {time.perf_counter() - t0:.0f} s; {load()}", flush=True)
    print(table(f"{label} — {sc['cases']:,} cases, {sc['fixes']:,} fixes ({load()})", eps,
                results.get("before", {}), results.get("after", {}), args.timeout, note), flush=True)


def generated(url: str, cases: int, fixes: int, city: str) -> None:
    engine = make_engine(url)
    upgrade(engine)
    t0 = time.perf_counter()
    report = generate(engine, session_factory(engine), Settings(), Options(city=city, cases=cases, fixes=fixes,
                                                                           progress=False))
    engine.dispose()
    print(f"generated {cases:,} cases and {fixes:,} fixes in {time.perf_counter() - t0:.0f} s ({load()})")
    for line in report.lines():
        print("  " + line)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", help="a generated database to measure (skips generating)")
    ap.add_argument("--spatialite", action="store_true", help="generate SpatiaLite files of --sizes and measure each")
    ap.add_argument("--sizes", default="20000", help="cases per generated database, comma-separated")
    ap.add_argument("--fixes-per-case", type=float, default=4.0, help="GPS fixes generated per case")
    ap.add_argument("--city", default="liechtenstein")
    ap.add_argument("--dir", default=None, help="where the generated SpatiaLite files go (kept; default: a temp dir)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per call before it counts as '> N s'")
    ap.add_argument("--modes", default="before,after")
    ap.add_argument("--only", help="comma-separated parts of endpoint names to measure")
    ap.add_argument("--no-cold", action="store_true")
    ap.add_argument("--restart-cmd", help="shell command restarting the PostgreSQL server (cold runs)")
    args = ap.parse_args()
    if args.url:
        run_one(args.url, "given database", args)
        return
    folder = Path(args.dir or tempfile.mkdtemp(prefix="bench_scale_"))
    folder.mkdir(parents=True, exist_ok=True)
    for n in (int(v) for v in args.sizes.split(",")):
        path = folder / f"scale_{n}.db"
        url = f"sqlite:///{path}"
        if not path.exists():
            generated(url, n, int(n * args.fixes_per_case), args.city)
        run_one(url, f"SpatiaLite {n:,}", args)


if __name__ == "__main__":
    main()
