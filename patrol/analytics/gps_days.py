"""Per worker-day GPS summaries (``patrol_day``, issue 23): what they hold, how they are computed from the raw fixes,
and the coverage and track reads that use them instead of the raw fixes.

A summary row is one worker's fixes of one local day for the patrols of one grid (simulated patrols apart): counts,
first and last time, time walked and geodesic distance of the lines (flagged fixes left out), the lines themselves,
and the street pieces and buildings within the coverage distance of them (:func:`geo.coverage.covered_pieces`, per
grid code, whatever grid the pieces lie in). Coverage is a union over tracks, so the rows of many days OR together
into exactly what the raw fixes of those days give — except for the one segment of a patrol that runs on across
local midnight, which a day-by-day union leaves out.

The coverage base is the caller's (``patrol.analytics.service.coverage_base``): this module imports no service.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import DateTime, Integer, delete, func, insert, select, type_coerce, update
from sqlalchemy.orm import Session

from geo.coverage import (
    DISTANCE_M,
    Coverage,
    CoverageBase,
    GroupTracks,
    coverage_from_pieces,
    covered_pieces,
    covered_pieces_by,
    grid_coverage,
)
from geo.tracks import tracks_to_lines
from patrol.core.errors import InvalidInput
from patrol.core.frames import ewkt
from patrol.core.models import GpsFix, Patrol, PatrolDay

FIX_COLUMNS = ["patrol_id", "time", "lon", "lat", "flag"]


def day_bounds(day: dt.date, tz: str) -> tuple[dt.datetime, dt.datetime]:
    """[local midnight of ``day``, of the next day) as aware UTC datetimes."""
    zone = ZoneInfo(tz)
    start = dt.datetime.combine(day, dt.time(), zone).astimezone(dt.UTC)
    return start, dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), zone).astimezone(dt.UTC)


def local_days(start: dt.datetime, end: dt.datetime, tz: str) -> list[dt.date] | None:
    """The local days making up [start, end), or None when the period does not start and end at local midnight."""
    zone = ZoneInfo(tz)
    s, e = start.astimezone(zone), end.astimezone(zone)
    if s.timetz().replace(tzinfo=None) != dt.time() or e.timetz().replace(tzinfo=None) != dt.time():
        return None
    days, d = [], s.date()
    while d < e.date():
        days.append(d)
        d += dt.timedelta(days=1)
    return days


def raw_fixes(session: Session, grid_ids: list[int], start: dt.datetime, end: dt.datetime,
              worker_id: int | None = None, include_simulated: bool = True, extra: tuple = ()) -> pd.DataFrame:
    """The raw fixes of the patrols of ``grid_ids`` in [start, end): patrol_id, time (UTC), lon, lat, flag;
    ``extra``: more WHERE clauses (a Dask task's slice of the history)."""
    where = [GpsFix.time >= start, GpsFix.time < end, Patrol.grid_id.in_(grid_ids or [-1]), *extra]
    if worker_id is not None:
        where.append(Patrol.worker_id == worker_id)
    if not include_simulated:
        where.append(Patrol.simulated.is_(False))
    rows = session.execute(select(GpsFix.patrol_id, GpsFix.time, func.ST_X(GpsFix.geom), func.ST_Y(GpsFix.geom),
                                  GpsFix.flag).join(Patrol, Patrol.id == GpsFix.patrol_id).where(*where)
                           .order_by(GpsFix.patrol_id, GpsFix.time)).all()
    frame = pd.DataFrame(rows, columns=FIX_COLUMNS)
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    return frame


# ---------------------------------------------------------------------------------------------- computing


def _day_fixes(session: Session, start: dt.datetime, end: dt.datetime) -> pd.DataFrame:
    """Every raw fix in [start, end) with its patrol's worker, grid and simulated flag (one Core query, no ORM
    rows; the frame is built column by column)."""
    # the time as the driver gives it (naive UTC on SQLite, aware on PostgreSQL): pandas makes both UTC, faster
    # than UTCDateTime's conversion row by row
    time = type_coerce(GpsFix.time, DateTime(timezone=True))
    stmt = (select(Patrol.worker_id, Patrol.grid_id, Patrol.simulated, GpsFix.patrol_id, time,
                   func.ST_X(GpsFix.geom), func.ST_Y(GpsFix.geom), GpsFix.flag)
            .join(Patrol, Patrol.id == GpsFix.patrol_id).where(GpsFix.time >= start, GpsFix.time < end)
            .order_by(GpsFix.patrol_id, GpsFix.time))
    rows = session.connection().execute(stmt).all()
    names = ["worker_id", "grid_id", "simulated", *FIX_COLUMNS]
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(names)
    frame = pd.DataFrame({n: pd.Series(c, dtype=object if n in ("grid_id", "flag") else None)
                          for n, c in zip(names, columns, strict=True)})
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    frame["grid_key"] = frame["grid_id"].fillna(-1).astype("int64")
    return frame


def summary_row(base: CoverageBase, fixes: pd.DataFrame, *, distance_m: float = DISTANCE_M) -> dict:
    """The summary columns of one group's fixes (one worker, day, grid, simulated flag): everything but the keys.

    The reference for :func:`summarise_days`, which computes the same for many groups at once."""
    lines = tracks_to_lines(fixes, by="patrol_id")
    grids, buildings = covered_pieces(base, fixes, distance_m=distance_m)
    walked = float(sum((e - s).total_seconds() for s, e in zip(lines["started"], lines["ended"], strict=True)))
    meta = [{"patrol": int(p), "started": s.isoformat(), "ended": e.isoformat(), "length_m": float(m)}
            for p, s, e, m in zip(lines["patrol_id"], lines["started"], lines["ended"], lines["length_m"],
                                  strict=True)]
    track = ewkt([shapely.MultiLineString(list(lines.geometry))])[0] if len(lines) else None
    return {"patrols": int(fixes["patrol_id"].nunique()), "fixes": len(fixes),
            "first_at": fixes["time"].min().to_pydatetime(), "last_at": fixes["time"].max().to_pydatetime(),
            "walked_s": walked, "distance_m": float(lines["length_m"].sum()), "coverage_m": float(distance_m),
            "lines": json.dumps(meta), "covered": json.dumps({"grids": grids, "buildings": buildings}),
            "track": track}


def _row_of(got: GroupTracks, stats: tuple, distance_m: float) -> dict:
    """:func:`summary_row` from one group's lines and covered pieces (the same arithmetic, hence equal values) and
    its (fixes, patrols, first time, last time)."""
    started, ended = (pd.Series(pd.to_datetime(np.asarray(v, dtype=np.int64), unit="us", utc=True))
                      for v in (got.started_us, got.ended_us))
    walked = float(sum((e - s).total_seconds() for s, e in zip(started, ended, strict=True)))
    meta = [{"patrol": int(p), "started": s.isoformat(), "ended": e.isoformat(), "length_m": float(m)}
            for p, s, e, m in zip(got.keys, started, ended, got.length_m, strict=True)]
    track = ewkt([shapely.MultiLineString(list(got.lines))])[0] if len(got.lines) else None
    n, patrols, first, last = stats
    return {"patrols": int(patrols), "fixes": int(n), "first_at": first.to_pydatetime(),
            "last_at": last.to_pydatetime(), "walked_s": walked,
            "distance_m": float(pd.Series(got.length_m, dtype="float64").sum()), "coverage_m": float(distance_m),
            "lines": json.dumps(meta), "covered": json.dumps({"grids": got.grids, "buildings": got.buildings}),
            "track": track}


def _in_days(fixes: pd.DataFrame, days: list[dt.date], tz: str) -> pd.DataFrame:
    """The fixes that fall on one of ``days`` (local), with the day's position in ``days`` as ``day_pos``."""
    bounds = np.array([[pd.Timestamp(t).value for t in day_bounds(d, tz)] for d in days],  # ns since 1970
                      dtype=np.int64).reshape(-1, 2)
    t_ns = fixes["time"].dt.as_unit("ns").astype("int64").to_numpy()
    pos = np.searchsorted(bounds[:, 0], t_ns, side="right") - 1
    inside = (pos >= 0) & (t_ns < bounds[np.clip(pos, 0, None), 1])
    out = fixes[inside].copy()
    out["day_pos"] = pos[inside]
    return out


def summarise_days(session: Session, base: CoverageBase, days: Iterable[dt.date], tz: str, *,
                   distance_m: float = DISTANCE_M, now: dt.datetime | None = None) -> int:
    """(Re)write the summaries of ``days`` from their raw fixes, for the workers that have raw fixes on a day (the
    rows of workers whose raw fixes are gone stay); returns the rows written.

    One query reads the fixes of all the days, one pass (:func:`geo.coverage.covered_pieces_by`) makes every
    worker-day's lines and covered pieces, one multi-row insert writes them: the same rows as
    :func:`summary_row` per worker-day. Consecutive days read the least."""
    days = sorted(set(days))
    if not days:
        return 0
    fixes = _in_days(_day_fixes(session, day_bounds(days[0], tz)[0], day_bounds(days[-1], tz)[1]), days, tz)
    if fixes.empty:
        return 0
    for pos, workers in fixes.groupby("day_pos")["worker_id"].unique().items():
        session.execute(delete(PatrolDay).where(PatrolDay.day == days[int(pos)],
                                                PatrolDay.worker_id.in_(sorted(int(w) for w in workers))))
    keys = ["day_pos", "worker_id", "grid_key", "simulated"]
    fixes["group"] = fixes.groupby(keys, sort=True).ngroup()
    stats = fixes.groupby("group", sort=True).agg(n=("time", "size"), patrols=("patrol_id", "nunique"),
                                                  first=("time", "min"), last=("time", "max"),
                                                  **{k: (k, "first") for k in keys})
    got = covered_pieces_by(base, fixes[[*FIX_COLUMNS, "group"]], "group", distance_m=distance_m)
    now = now or dt.datetime.now(dt.UTC)
    rows = []
    for g, st in zip(stats.index, stats.itertuples(index=False), strict=True):
        rows.append({"worker_id": int(st.worker_id), "day": days[int(st.day_pos)],
                     "grid_id": None if st.grid_key < 0 else int(st.grid_key), "simulated": bool(st.simulated),
                     "summarised_at": now, "raw_dropped": False,
                     **_row_of(got[g], (st.n, st.patrols, st.first, st.last), distance_m)})
    session.execute(insert(PatrolDay), rows)
    return len(rows)


def summarise_day(session: Session, base: CoverageBase, day: dt.date, tz: str, *,
                  distance_m: float = DISTANCE_M, now: dt.datetime | None = None) -> int:
    """(Re)write the summaries of ``day`` (:func:`summarise_days` of that day alone)."""
    return summarise_days(session, base, [day], tz, distance_m=distance_m, now=now)


def _raw_counts(session: Session, start: dt.datetime, end: dt.datetime, tz: str) -> dict[dt.date, int]:
    """Raw fixes per local day in [start, end) (counted per UTC hour in the database: whole-hour zone offsets)."""
    if session.get_bind().dialect.name == "postgresql":
        hour = func.date_trunc("hour", func.timezone("UTC", GpsFix.time))
    else:
        hour = func.substr(GpsFix.time, 1, 13)
    rows = session.execute(select(hour, func.count()).where(GpsFix.time >= start, GpsFix.time < end)
                           .group_by(hour)).all()
    zone = ZoneInfo(tz)
    out: dict[dt.date, int] = defaultdict(int)
    for h, n in rows:
        at = h if isinstance(h, dt.datetime) else dt.datetime.fromisoformat(f"{h}:00")
        out[at.replace(tzinfo=dt.UTC).astimezone(zone).date()] += int(n)
    return out


def pending_days(session: Session, tz: str, through: dt.date) -> list[dt.date]:
    """Local days up to ``through`` whose raw fixes are not summarised yet (or not all of them: late uploads)."""
    _, end = day_bounds(through, tz)
    start = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    raw = _raw_counts(session, start, end, tz)
    done = dict(session.execute(select(PatrolDay.day, func.sum(PatrolDay.fixes)).group_by(PatrolDay.day)).all())
    # a day some of whose raw fixes are gone (a dropped month holds its first hours) keeps its summaries
    gone = set(session.scalars(select(PatrolDay.day).where(PatrolDay.raw_dropped.is_(True)).distinct()))
    return sorted(d for d, n in raw.items() if d not in gone and int(done.get(d, 0) or 0) != n)


def mark_dropped(session: Session, days: Iterable[dt.date]) -> None:
    """Record that the raw fixes of ``days`` are gone."""
    days = sorted(set(days))
    for i in range(0, len(days), 500):
        session.execute(update(PatrolDay).where(PatrolDay.day.in_(days[i:i + 500])).values(raw_dropped=True))


# ---------------------------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class DayPlan:
    """Which days of a period a read takes from the summaries and which from the raw fixes."""

    summary: list[dt.date]
    raw: list[tuple[dt.datetime, dt.datetime]]  # half-open UTC ranges


def _runs(days: list[dt.date]) -> Iterator[tuple[dt.date, dt.date]]:
    """Consecutive days as [first, after-last) ranges."""
    i = 0
    while i < len(days):
        j = i
        while j + 1 < len(days) and days[j + 1] == days[j] + dt.timedelta(days=1):
            j += 1
        yield days[i], days[j] + dt.timedelta(days=1)
        i = j + 1


def plan_days(session: Session, start: dt.datetime, end: dt.datetime, tz: str, *, fast: bool,
              distance_m: float | None = None, today: dt.date | None = None) -> DayPlan:
    """Summaries for the days whose raw fixes are gone, and with ``fast`` for every summarised past day (at the
    summaries' distance: other days of another ``distance_m`` read the raw fixes, or are refused when those are
    gone); raw fixes for the rest. A period not made of whole local days reads raw fixes only."""
    days = local_days(start, end, tz)
    if not days:
        return DayPlan([], [(start, end)])
    rows = session.execute(select(PatrolDay.day, func.max(PatrolDay.coverage_m), func.min(PatrolDay.coverage_m),
                                  func.max(PatrolDay.raw_dropped.cast(Integer)))
                           .where(PatrolDay.day >= days[0], PatrolDay.day <= days[-1])
                           .group_by(PatrolDay.day)).all()
    today = today or dt.datetime.now(ZoneInfo(tz)).date()
    summary: list[dt.date] = []
    for day, hi, lo, dropped in rows:
        same = distance_m is None or (abs(hi - distance_m) < 1e-9 and abs(lo - distance_m) < 1e-9)
        if dropped and not same:
            raise InvalidInput(f"the raw GPS fixes of {day} are gone: its coverage is kept at distance_m={hi:g} "
                               f"only, got {distance_m:g}", field="distance_m")
        if dropped or (fast and same and day < today):
            summary.append(day)
    raw_days = sorted(set(days) - set(summary))
    raw = [(day_bounds(a, tz)[0], day_bounds(b - dt.timedelta(days=1), tz)[1]) for a, b in _runs(raw_days)]
    if raw and not summary:
        raw = [(start, end)]  # exactly the original read
    return DayPlan(sorted(summary), raw)


def summary_where(grid_ids: list[int], days: list[dt.date], worker_id: int | None, include_simulated: bool) -> list:
    where = [PatrolDay.day.in_(days or [dt.date(1970, 1, 1)]), PatrolDay.grid_id.in_(grid_ids or [-1])]
    if worker_id is not None:
        where.append(PatrolDay.worker_id == worker_id)
    if not include_simulated:
        where.append(PatrolDay.simulated.is_(False))
    return where


def coverage_of(session: Session, base: CoverageBase, grid_ids: list[int], plan: DayPlan, *,
                worker_id: int | None = None, include_simulated: bool = True, distance_m: float = DISTANCE_M,
                visited: Iterable | None = None) -> tuple[Coverage, int]:
    """Coverage of the patrols of ``grid_ids`` over the plan's days (summaries) and ranges (raw fixes), and the
    number of fixes behind it."""
    if not plan.summary and len(plan.raw) == 1:  # the original read
        fixes = raw_fixes(session, grid_ids, *plan.raw[0], worker_id, include_simulated)
        return grid_coverage(base, fixes, distance_m=distance_m, visited=visited), len(fixes)
    pieces, buildings, count = [], [], 0
    for days in _chunks(plan.summary, 400):
        where = summary_where(grid_ids, days, worker_id, include_simulated)
        for covered, fixes in session.execute(select(PatrolDay.covered, PatrolDay.fixes).where(*where)):
            c = json.loads(covered)
            pieces.append(c["grids"])
            buildings.extend(c["buildings"])
            count += int(fixes)
    for s, e in plan.raw:
        fixes = raw_fixes(session, grid_ids, s, e, worker_id, include_simulated)
        count += len(fixes)
        if len(fixes):
            grids, near = covered_pieces(base, fixes, distance_m=distance_m)
            pieces.append(grids)
            buildings.extend(near)
    return coverage_from_pieces(base, pieces, buildings, visited), count


def _chunks(items: list, n: int) -> Iterator[list]:
    for i in range(0, len(items), n):
        yield items[i:i + n]


def summary_tracks(session: Session, grid_ids: list[int], day: dt.date, worker_id: int | None) -> list[dict]:
    """The day's lines from the summaries: patrol, worker id, started, ended (UTC), length_m, LineString."""
    where = summary_where(grid_ids, [day], worker_id, True)
    out = []
    for worker, lines, wkb in session.execute(select(PatrolDay.worker_id, PatrolDay.lines,
                                                     func.ST_AsBinary(PatrolDay.track)).where(*where)):
        if wkb is None:
            continue
        geoms = shapely.get_parts(shapely.from_wkb(bytes(wkb)))
        for meta, line in zip(json.loads(lines), geoms, strict=True):
            out.append({"patrol": meta["patrol"], "worker_id": worker, "length_m": meta["length_m"],
                        "started": dt.datetime.fromisoformat(meta["started"]),
                        "ended": dt.datetime.fromisoformat(meta["ended"]), "geometry": line})
    return sorted(out, key=lambda r: r["patrol"])
