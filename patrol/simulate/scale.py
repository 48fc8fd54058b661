"""A district's five years at city scale, SIMULATED (issue 23): ``gridpatrol simulate scale``.

Into an empty database (migrated here), on a real city — Liechtenstein or Porto from the shared OpenStreetMap
extracts, imported and gridded by the ordinary import and grid generation — it builds the people (one grid worker
per grid, a supervisor per community, 街道 users, department units with their users: the demo's
:func:`patrol.simulate.month._people`), then N cases (default 5,000,000) over ``years`` years ending now, and at
least N fixes (default 20,000,000) for the last year. Everything is labelled: ``simulated = true``, descriptions
and notes end in "(模拟)".

Cases: report times with seasonality (more in summer, fewer at weekends, working hours), channels (巡查, 自行处置,
居民扫码, 12345, …), categories weighted (community matters most often), placed at the city's real buildings,
walked through the loop vectorised (:mod:`patrol.simulate.scale_cases`: states, escalations, rework, reopen,
ratings, the ``case_event`` rows the KPIs read), with case numbers, ``h3_9`` (:func:`geo.cells.ids.h3_ids`) and a
photo row per patrol report (and the after-photo of 自行处置) pointing at one shared placeholder image (no files).
GPS: one or more patrols per worker per working day, a fix every 5 s walking (1.2 m/s) along the real streets of
her grid. Written with PostgreSQL ``COPY`` (the secondary indexes dropped and rebuilt, foreign-key triggers off for
the load) or SpatiaLite ``executemany`` (its geometry and KPI triggers and secondary indexes off for the load,
the R*Trees filled after: :mod:`patrol.simulate.bulk_lite`), in chunks of bounded size; the time of each table
is recorded.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from tqdm import tqdm

from geo.cells.ids import h3_ids
from patrol.analytics import summaries
from patrol.core.db import transaction
from patrol.core.errors import Conflict, InvalidInput
from patrol.core.models import Case, Category, City, User
from patrol.core.settings import Settings
from patrol.field import retention
from patrol.simulate import scale_cases as sc
from patrol.simulate import scale_world as sw
from patrol.simulate.bulk import Table, Writer, bulk_mode, nullable_ids

CITIES = {"liechtenstein": ("liechtenstein_2015.osm.pbf", "Liechtenstein"),
          "porto": ("porto_centre.osm.pbf", "Porto")}
#: the shared real data next to the checkout (../shared/data/osm)
OSM_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "osm"
CHUNK = 250_000
FIX_CHUNK = 1_000_000
#: a 1×1 PNG: every simulated photo row points at it (no files)
PLACEHOLDER = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                            "1f15c4890000000d49444154789c63f8cfc0f01f0005000201a5b1f2d60000000049454e44ae426082")
TABLES = ("patrol_case", "case_event", "photo", "patrol", "gps_fix")
YEAR_S = 365 * 86400


@dataclass
class Options:
    city: str = "liechtenstein"
    cases: int = 5_000_000
    fixes: int = 20_000_000
    years: float = 5.0
    seed: int = 2026
    now: dt.datetime | None = None
    osm: Path | None = None
    progress: bool = True
    #: SpatiaLite: triggers and secondary indexes off during the load, R*Trees and indexes rebuilt after
    #: (:mod:`patrol.simulate.bulk_lite`); False writes row by row through them (for comparison)
    fast_load: bool = True

    def check(self) -> None:
        if self.city not in CITIES:
            raise InvalidInput(f"unknown city {self.city!r}; cities: {', '.join(CITIES)}", field="city")
        if self.cases < 1:
            raise InvalidInput(f"--cases must be at least 1, got {self.cases}", field="cases")
        if self.fixes < 0:
            raise InvalidInput(f"--fixes must not be negative, got {self.fixes}", field="fixes")
        if not 0 < self.years <= 30:
            raise InvalidInput(f"--years must be in (0, 30], got {self.years}", field="years")


@dataclass
class Report:
    """What was generated: the rows and seconds of each table (generation included) and of the steps around."""

    tables: dict[str, Table] = field(default_factory=dict)
    steps: dict[str, float] = field(default_factory=dict)

    def lines(self) -> list[str]:
        out = [f"{name}: {sec:.1f} s" for name, sec in self.steps.items()]
        return out + [t.rate() for t in self.tables.values() if t.rows]


def _step(report: Report, name: str, fn: Callable, *args, **kw):
    t0 = time.perf_counter()
    try:
        return fn(*args, **kw)
    finally:
        report.steps[name] = report.steps.get(name, 0.0) + time.perf_counter() - t0


def generate(engine: Engine, factory: sessionmaker[Session], settings: Settings, options: Options) -> Report:
    """Build the simulated district into the (migrated) database behind ``engine``; refuse one holding cases."""
    options.check()
    report = Report()
    with factory() as s:
        n = s.scalar(select(func.count()).select_from(Case)) or 0
    if n:
        raise Conflict(f"the database already holds {n:,} cases: generate into an empty database", field="url")
    osm = options.osm or OSM_DIR / CITIES[options.city][0]
    _step(report, "city (import + grids)", sw.ensure_city, factory, settings, osm, CITIES[options.city][1])
    _step(report, "people", sw.ensure_people, factory, random.Random(options.seed))
    with factory() as s:
        world = _step(report, "reading the city", sw.read_world, s)
    now = options.now or dt.datetime.now(dt.UTC)
    now_s = int(now.timestamp())
    rng = np.random.default_rng(options.seed)
    tz = ZoneInfo(settings.timezone)
    offset = int(now.astimezone(tz).utcoffset().total_seconds())  # type: ignore[union-attr]
    writer = Writer(engine)
    try:
        with bulk_mode(writer, list(TABLES), report.steps, fast=options.fast_load):
            _cases(writer, world, report, options, rng, now_s, offset)
            start = dt.datetime.fromtimestamp(now_s - YEAR_S, dt.UTC)
            with transaction(factory) as s:
                retention.ensure_partitions(s, start - dt.timedelta(days=1), now + dt.timedelta(days=1))
            _fixes(writer, world, report, options, rng, now_s, offset)
            writer.commit()
    finally:
        writer.close()
    _finish(engine, factory, report)
    return report


def _finish(engine: Engine, factory: sessionmaker[Session], report: Report) -> None:
    """Sequences past the ids written, the summary tables (:func:`patrol.analytics.summaries.rebuild`), ANALYZE."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            for t in TABLES:
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), "  # noqa: S608
                                  f"GREATEST((SELECT max(id) FROM {t}), 1))"))
    with transaction(factory) as s:
        _step(report, "summaries.rebuild", summaries.rebuild, s)
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        _step(report, "ANALYZE", conn.execute, text("ANALYZE"))


# ---------------------------------------------------------------------------------------------- cases


def report_times(rng: np.random.Generator, n: int, now_s: int, years: float, offset: int) -> np.ndarray:
    """``n`` sorted report times (epoch s) over ``years`` before ``now_s``: weighted by month (summer +35 %,
    winter −35 %), weekday (Saturday 0.6, Sunday 0.5), local hour (working hours) and a growth of 8 % a year."""
    start = now_s - int(years * YEAR_S)
    hours = np.arange(start // 3600, now_s // 3600 + 1, dtype=np.int64)
    local = (hours * 3600 + offset).astype("datetime64[s]")
    month = local.astype("datetime64[M]").astype(np.int64) % 12 + 1
    weekday = (local.astype("datetime64[D]").astype(np.int64) + 3) % 7  # 0 = Monday
    hour = (hours * 3600 + offset) // 3600 % 24
    w = 1 + 0.35 * np.cos(2 * np.pi * (month - 7) / 12)
    w *= np.where(weekday == 5, 0.6, np.where(weekday == 6, 0.5, 1.0))
    w *= HOUR_PROFILE[hour]
    w *= 1.08 ** ((hours - hours[0]) / 8766)
    pick = rng.choice(len(hours), size=n, p=w / w.sum())
    t = hours[pick] * 3600 + rng.integers(0, 3600, n)
    t = np.minimum(np.maximum(t, start), now_s - 1)
    return np.sort(t)


HOUR_PROFILE = np.array([0.05, 0.03, 0.02, 0.02, 0.03, 0.08, 0.2, 0.5, 1.0, 1.3, 1.3, 1.2, 0.8, 0.9, 1.2, 1.3, 1.2,
                         1.0, 0.7, 0.5, 0.4, 0.3, 0.2, 0.1])


def _case_tables() -> dict[str, Table]:
    times = frozenset({"reported_at", "deadline_at", "handled_at", "closed_at", "updated_at", "received_at", "at",
                       "taken_at", "created_at"})
    return {
        "patrol_case": Table("patrol_case", [
            "id", "client_id", "number", "category_code", "status", "level", "channel", "description", "geom",
            "input_crs", "community_id", "grid_id", "building_id", "reporter_id", "unit_id", "assignee_id",
            "reported_at", "deadline_at", "remaining_hours", "handled_at", "closed_at", "closed_on_time", "rating",
            "rework_count", "reopened_count", "escalations", "duplicate_of_id", "updated_at", "simulated",
            "received_at", "source", "source_ref", "h3_9"], times, point="geom"),
        "case_event": Table("case_event", ["id", "case_id", "action", "from_status", "to_status", "level",
                                           "actor_id", "actor", "at", "note", "unit_id", "received_at"], times),
        "photo": Table("photo", ["id", "case_id", "event_id", "sha256", "mime", "width", "height", "taken_at",
                                 "taken_source", "data", "thumbnail", "created_at"], times),
    }


def _cases(writer: Writer, world: sw.World, report: Report, options: Options, rng: np.random.Generator,
           now_s: int, offset: int) -> None:
    tables = _case_tables()
    report.tables.update(tables)
    with tables["patrol_case"].timed():
        t0 = report_times(rng, options.cases, now_s, options.years, offset)
    ids = {"case": world.next_id["patrol_case"], "event": world.next_id["case_event"],
           "photo": world.next_id["photo"]}
    bars = {name: tqdm(total=options.cases if name == "patrol_case" else None, desc=name, unit=" rows",
                       disable=not options.progress, position=i, leave=True) for i, name in enumerate(tables)}
    for lo in range(0, options.cases, CHUNK):
        chunk_t = t0[lo:lo + CHUNK]
        with tables["patrol_case"].timed():
            chunk, place = sw.case_chunk(world, chunk_t, rng)
            events = sc.walk_chunk(chunk, world.actors, rng)
            ev, state = sc.cut(events, len(chunk_t), now_s)
            rows = _case_rows(world, chunk, place, state, ids["case"], offset, rng)
            writer.write(tables["patrol_case"], rows)
        with tables["case_event"].timed():
            erows = _event_rows(world, chunk, ev, ids, place["cat"])
            writer.write(tables["case_event"], erows)
        with tables["photo"].timed():
            prows = _photo_rows(chunk, ev, erows, ids)
            writer.write(tables["photo"], prows)
            writer.commit()
        for name, r in (("patrol_case", rows), ("case_event", erows), ("photo", prows)):
            bars[name].update(len(r["id"]))
        ids["case"] += len(chunk_t)
    for b in bars.values():
        b.close()


def _uuids(rng: np.random.Generator, n: int) -> list[str]:
    raw = rng.integers(0, 256, (n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    return [str(uuid.UUID(bytes=b.tobytes())) for b in raw]


def _case_rows(world: sw.World, c: sc.Chunk, place: dict[str, np.ndarray], st: pd.DataFrame, first: int,
               offset: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    n = len(c.t0)
    ids = np.arange(first, first + n, dtype=np.int64)
    year = ((c.t0 + offset).astype("datetime64[s]").astype("datetime64[Y]").astype(np.int64) + 1970)
    status = st["status"].to_numpy()
    closed = status == "closed"
    on_time = st["on_time"].to_numpy()
    hotline = c.channel == "12345"

    def when(col: str, mask: np.ndarray | None = None) -> np.ndarray:
        v = st[col].to_numpy().astype(np.int64)
        ok = v >= 0 if mask is None else (v >= 0) & mask
        out = np.full(n, None, dtype=object)
        out[ok] = v[ok]
        return out

    return {
        "id": ids, "client_id": np.array(_uuids(rng, n), dtype=object),
        "number": np.array([f"{y}-{i:06d}" for y, i in zip(year.tolist(), ids.tolist(), strict=True)], dtype=object),
        "category_code": world.cat_code[place["cat"]], "status": status,
        "level": np.array(sc.LEVELS, dtype=object)[st["level"].to_numpy().astype(int)], "channel": c.channel,
        "description": world.cat_description[place["cat"]], "lon": place["lon"], "lat": place["lat"],
        "input_crs": np.full(n, "wgs84", dtype=object), "community_id": world.com_id[c.com],
        "grid_id": world.grid_id[c.grid], "building_id": place["building"],
        "reporter_id": nullable_ids(place["reporter"]),
        "unit_id": nullable_ids(st["unit"].to_numpy().astype(np.int64)),
        "assignee_id": nullable_ids(st["assignee"].to_numpy().astype(np.int64)),
        "reported_at": c.t0, "deadline_at": when("deadline", status != "suspended"),
        "remaining_hours": np.where(status == "suspended", c.deadline_s / 3600 / sc.WALL_PER_WORK_HOUR * 0.8, np.nan),
        "handled_at": when("handled"), "closed_at": when("closed", closed),
        "closed_on_time": _maybe(on_time == 1, closed & (on_time >= 0)),
        "rating": nullable_ids(st["rating"].to_numpy().astype(np.int64)),
        "rework_count": st["rework"].to_numpy().astype(np.int64),
        "reopened_count": st["reopen"].to_numpy().astype(np.int64),
        "escalations": st["esc"].to_numpy().astype(np.int64),
        "duplicate_of_id": nullable_ids(np.where((status == "duplicate") & (ids > first), ids - 1, -1)),
        "updated_at": st["t"].to_numpy().astype(np.int64), "simulated": np.ones(n, dtype=bool),
        "received_at": c.t0, "source": _maybe(np.full(n, "12345", dtype=object), hotline),
        "source_ref": np.array([f"GD{i:010d}" if h else None for i, h in zip(ids.tolist(), hotline.tolist(),
                                                                             strict=True)], dtype=object),
        "h3_9": np.array(h3_ids(place["lon"], place["lat"], 9), dtype=object),
    }


def _maybe(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``values`` where ``mask``, else None (NULL), as an object array."""
    out = np.full(len(values), None, dtype=object)
    out[mask] = values[mask]
    return out


def _event_rows(world: sw.World, c: sc.Chunk, ev: dict[str, np.ndarray], ids: dict[str, int], cats: np.ndarray
                ) -> dict[str, np.ndarray]:
    n = len(ev["case"])
    event_ids = np.arange(ids["event"], ids["event"] + n, dtype=np.int64)
    ids["event"] += n
    actions = np.array([a for a, _ in sc.ACTIONS], dtype=object)
    statuses = np.array([s for _, s in sc.ACTIONS], dtype=object)
    label = world.user_label(ev["actor"])
    report = (ev["code"] == sc.CODE["report"]) & (ev["actor"] < 0)
    label[report] = c.channel[ev["case"][report]]
    notes = np.array([sc.NOTES.get(a) for a in actions], dtype=object)[ev["code"]]
    reports = ev["code"] == sc.CODE["report"]
    notes[reports] = world.cat_description[cats[ev["case"][reports]]]
    from_status = _maybe(statuses[np.maximum(ev["from"], 0)], ev["from"] >= 0)
    return {"id": event_ids, "case_id": ids["case"] + ev["case"], "action": actions[ev["code"]],
            "from_status": from_status, "to_status": statuses[ev["code"]],
            "level": np.array(sc.LEVELS, dtype=object)[ev["level"].astype(int)],
            "actor_id": nullable_ids(ev["actor"]), "actor": label, "at": ev["t"], "note": notes,
            "unit_id": nullable_ids(ev["unit"]), "received_at": ev["t"]}


def _photo_rows(c: sc.Chunk, ev: dict[str, np.ndarray], erows: dict[str, np.ndarray], ids: dict[str, int]
                ) -> dict[str, np.ndarray]:
    """A before-photo on each patrol report (and 自行处置's), an after-photo on 自行处置's handling."""
    by_worker = np.isin(c.channel[ev["case"]], ["patrol", "self_handled"])
    before = by_worker & (ev["code"] == sc.CODE["report"])
    after = (c.channel[ev["case"]] == "self_handled") & (ev["code"] == sc.CODE["handle"])
    pick = np.flatnonzero(before | after)
    n = len(pick)
    blob = np.empty(n, dtype=object)
    blob[:] = [PLACEHOLDER] * n
    sha = hashlib.sha256(PLACEHOLDER).hexdigest()
    out = {"id": np.arange(ids["photo"], ids["photo"] + n, dtype=np.int64), "case_id": erows["case_id"][pick],
           "event_id": erows["id"][pick], "sha256": np.full(n, sha, dtype=object),
           "mime": np.full(n, "image/png", dtype=object), "width": np.ones(n, np.int64),
           "height": np.ones(n, np.int64), "taken_at": ev["t"][pick], "taken_source": np.full(n, "device", object),
           "data": blob, "thumbnail": blob, "created_at": ev["t"][pick]}
    ids["photo"] += n
    return out


# ---------------------------------------------------------------------------------------------- GPS


def _fixes(writer: Writer, world: sw.World, report: Report, options: Options, rng: np.random.Generator,
           now_s: int, offset: int) -> None:
    times = frozenset({"started_at", "ended_at"})
    patrols = Table("patrol", ["id", "client_id", "worker_id", "grid_id", "started_at", "ended_at", "simulated"],
                    times)
    fixes = Table("gps_fix", ["id", "patrol_id", "time", "accuracy_m", "flag", "geom"], frozenset({"time"}),
                  point="geom")
    report.tables.update({"patrol": patrols, "gps_fix": fixes})
    if options.fixes == 0:
        return
    with patrols.timed():
        tours = sw.street_tours(world)
        plan = sw.patrol_plan(world, tours, rng, options.fixes, now_s, offset, world.next_id["patrol"])
        writer.write(patrols, {"id": plan["id"], "client_id": np.array(_uuids(rng, len(plan["id"])), dtype=object),
                               "worker_id": plan["worker"], "grid_id": plan["grid_id"],
                               "started_at": plan["start"], "ended_at": plan["end"],
                               "simulated": np.ones(len(plan["id"]), bool)})
        writer.commit()
    bar = tqdm(total=options.fixes, desc="gps_fix", unit=" rows", disable=not options.progress, leave=True)
    next_fix = world.next_id["gps_fix"]
    ends = np.cumsum(plan["n"])
    lo = 0
    while lo < len(plan["n"]):
        hi = int(np.searchsorted(ends, (ends[lo - 1] if lo else 0) + FIX_CHUNK, side="right"))
        hi = max(hi, lo + 1)
        with fixes.timed():
            f = sw.fixes_of(tours, plan, lo, hi, rng)
            writer.copy_fixes(fixes, f["patrol"], f["t"], f["accuracy"], f["lon"], f["lat"], next_fix)
            writer.commit()
        next_fix += len(f["t"])
        bar.update(len(f["t"]))
        lo = hi
    bar.close()


def city_name(session: Session) -> str | None:
    return session.scalar(select(City.name))


def counts(session: Session) -> dict[str, int]:
    """Rows per generated table (for the CLI's last lines)."""
    out = {}
    for t in TABLES:
        out[t] = int(session.scalar(text(f"SELECT count(*) FROM {t}")) or 0)  # noqa: S608
    out["simulated users"] = int(session.scalar(select(func.count()).select_from(User).where(User.simulated)) or 0)
    out["categories"] = int(session.scalar(select(func.count()).select_from(Category)) or 0)
    return out
