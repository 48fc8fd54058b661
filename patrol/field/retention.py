"""GPS fixes at city scale (issue 23): monthly partitions of ``gps_fix`` on PostgreSQL, and dropping the raw fixes
older than the retention window once every day of them is summarised (``patrol_day``).

On PostgreSQL ``gps_fix`` is partitioned by range of ``time``, one partition per UTC month (``gps_fix_y2026m12``)
and a DEFAULT partition that takes whatever has no month yet, so no fix is ever refused. :func:`ensure_partitions`
creates the months a batch needs (moving rows out of the default partition when some already landed there);
dropping a month is ``DETACH`` + ``DROP`` of its table — no row-by-row delete, no bloat. SpatiaLite keeps one
plain table: partitions are a no-op there and old fixes go by batched ``DELETE``.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from patrol.core.errors import Conflict
from patrol.core.migrations_support import is_gps_partition
from patrol.core.models import GpsFix, Patrol, PatrolDay

_known: set[tuple[str, dt.date]] = set()
_known_lock = threading.Lock()
DELETE_BATCH = 20_000


def month_start(t: dt.datetime | dt.date) -> dt.date:
    if isinstance(t, dt.datetime):
        t = t.astimezone(dt.UTC)
    return dt.date(t.year, t.month, 1)


def next_month(m: dt.date) -> dt.date:
    return dt.date(m.year + (m.month == 12), m.month % 12 + 1, 1)


def partition_name(m: dt.date) -> str:
    return f"gps_fix_y{m:%Y}m{m:%m}"


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _key(session: Session) -> str:
    return session.get_bind().url.render_as_string(hide_password=True)


def partitions(session: Session) -> list[str]:
    """The monthly partitions of ``gps_fix`` (PostgreSQL), oldest first; none on SpatiaLite."""
    if not _postgres(session):
        return []
    names = session.scalars(text("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                                 "WHERE i.inhparent = 'gps_fix'::regclass")).all()
    return sorted(n for n in names if is_gps_partition(n) and n != "gps_fix_default")


def ensure_partitions(session: Session, start: dt.datetime, end: dt.datetime) -> None:
    """Make sure ``gps_fix`` can take fixes with times in [start, end) (PostgreSQL: the monthly partitions).

    Cheap when the months are known to this process; rows of a new month already in the DEFAULT partition are moved
    into it."""
    if not _postgres(session) or end <= start:
        return
    key = _key(session)
    months, m = [], month_start(start)
    last = month_start(end - dt.timedelta(microseconds=1))
    while m <= last:
        months.append(m)
        m = next_month(m)
    with _known_lock:
        todo = [m for m in months if (key, m) not in _known]
    if not todo:
        return
    existing = set(partitions(session))
    for m in todo:
        if partition_name(m) not in existing:
            _create_month(session, m)
    with _known_lock:
        _known.update((key, m) for m in todo)


def _create_month(session: Session, m: dt.date) -> None:
    name, lo, hi = partition_name(m), f"{m:%Y-%m-%d} 00:00+00", f"{next_month(m):%Y-%m-%d} 00:00+00"
    bounds = f"FOR VALUES FROM ('{lo}') TO ('{hi}')"
    session.execute(text("LOCK TABLE gps_fix IN SHARE ROW EXCLUSIVE MODE"))
    if session.scalar(text("SELECT to_regclass(:n) IS NOT NULL"), {"n": name}):
        return  # another process made it meanwhile
    waiting = session.scalar(text("SELECT EXISTS (SELECT 1 FROM gps_fix_default WHERE time >= :lo AND time < :hi)"),
                             {"lo": lo, "hi": hi})
    if not waiting:
        session.execute(text(f"CREATE TABLE {name} PARTITION OF gps_fix {bounds}"))
        return
    session.execute(text(f"CREATE TABLE {name} (LIKE gps_fix INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"))
    session.execute(text(f"INSERT INTO {name} SELECT * FROM gps_fix_default WHERE time >= :lo AND time < :hi"),
                    {"lo": lo, "hi": hi})
    session.execute(text("DELETE FROM gps_fix_default WHERE time >= :lo AND time < :hi"), {"lo": lo, "hi": hi})
    session.execute(text(f"ALTER TABLE gps_fix ATTACH PARTITION {name} {bounds}"))


def partition_default(session: Session) -> list[str]:
    """Give every month found in the DEFAULT partition its own partition (moving its rows there), e.g. after a
    ``gridpatrol db copy`` into PostgreSQL wrote every fix through the parent; returns the partitions made."""
    if not _postgres(session):
        return []
    months = session.scalars(text("SELECT DISTINCT date_trunc('month', time AT TIME ZONE 'UTC')::date "
                                  "FROM gps_fix_default ORDER BY 1")).all()
    existing = set(partitions(session))
    made = []
    for m in months:
        if partition_name(m) not in existing:
            _create_month(session, m)
            made.append(partition_name(m))
    return made


def forget_partitions() -> None:
    """Forget the months known to this process (after a database was replaced, e.g. in tests)."""
    with _known_lock:
        _known.clear()


# ---------------------------------------------------------------------------------------------- dropping


@dataclass
class Dropped:
    """What :func:`drop_raw` removed: whole monthly partitions (PostgreSQL) and rows deleted."""

    cutoff: dt.datetime
    partitions: list[str] = field(default_factory=list)
    partition_rows: int = 0
    rows: int = 0
    days: list[dt.date] = field(default_factory=list)
    #: seconds spent checking that every day is summarised, and dropping
    check_s: float = 0.0
    drop_s: float = 0.0


def cutoff_of(today: dt.date, retention_days: int, tz: str) -> dt.datetime:
    """Local midnight ``retention_days`` before ``today``, in UTC: raw fixes before it are past the window."""
    day = today - dt.timedelta(days=retention_days)
    return dt.datetime.combine(day, dt.time(), ZoneInfo(tz)).astimezone(dt.UTC)


def _unsummarised(session: Session, start: dt.datetime, end: dt.datetime, tz: str, table: str = "gps_fix") -> list:
    """(worker, local day) pairs with raw fixes in [start, end) of ``table`` and no summary row."""
    if _postgres(session):
        rows = session.execute(text(
            f"SELECT DISTINCT p.worker_id, (f.time AT TIME ZONE :tz)::date FROM {table} f "
            "JOIN patrol p ON p.id = f.patrol_id WHERE f.time >= :s AND f.time < :e"),
            {"tz": tz, "s": start, "e": end}).all()
        pairs = {(int(w), d) for w, d in rows}
    else:
        hour = func.substr(GpsFix.time, 1, 13)
        pairs = {(int(w), _local_day(h, tz)) for w, h in session.execute(
            select(Patrol.worker_id, hour).join(Patrol, Patrol.id == GpsFix.patrol_id)
            .where(GpsFix.time >= start, GpsFix.time < end).distinct())}
    if not pairs:
        return []
    days = sorted({d for _, d in pairs})
    done = set(session.execute(select(PatrolDay.worker_id, PatrolDay.day).where(
        PatrolDay.day >= days[0], PatrolDay.day <= days[-1])).all())
    return sorted(p for p in pairs if p not in done)


def _refuse(missing: list) -> None:
    days = sorted({d for _, d in missing})
    shown = ", ".join(str(d) for d in days[:5]) + (" …" if len(days) > 5 else "")
    raise Conflict(f"refusing to drop the raw GPS fixes of {len(days)} day(s) without a summary ({shown}): "
                   "run gridpatrol gps summarise first", field="days")


def drop_raw(session: Session, cutoff: dt.datetime, tz: str) -> Dropped:
    """Drop the raw fixes before ``cutoff``: on PostgreSQL whole monthly partitions that end by then (DETACH +
    DROP) and the default partition's rows before it; on SpatiaLite by batched DELETE. Refuses (Conflict, nothing
    dropped) when a worker-day among them has no summary."""
    out = Dropped(cutoff)
    started = time.perf_counter()
    if _postgres(session):
        months = [n for n in partitions(session) if _end_of(n) <= cutoff]
        for name in months:
            m = _month_of(name)
            lo = dt.datetime.combine(m, dt.time(), dt.UTC)
            missing = _unsummarised(session, lo, _end_of(name), tz, name)
            if missing:
                _refuse(missing)
        first = session.scalar(text("SELECT min(time) FROM gps_fix_default WHERE time < :c"), {"c": cutoff})
        if first is not None and (missing := _unsummarised(session, first, cutoff, tz, "gps_fix_default")):
            _refuse(missing)
        days: set[dt.date] = set()
        out.check_s = time.perf_counter() - started
        for name in months:
            days |= _days_of(session, name, tz)
            out.partition_rows += int(session.scalar(text(f"SELECT count(*) FROM {name}")) or 0)
            t = time.perf_counter()
            session.execute(text(f"ALTER TABLE gps_fix DETACH PARTITION {name}"))
            session.execute(text(f"DROP TABLE {name}"))
            out.drop_s += time.perf_counter() - t
            out.partitions.append(name)
        if first is not None:
            days |= _days_of(session, "gps_fix_default", tz, cutoff)
            out.rows = session.execute(text("DELETE FROM gps_fix_default WHERE time < :c"), {"c": cutoff}).rowcount
        out.days = sorted(days)
        with _known_lock:
            _known.difference_update({k for k in _known if partition_name(k[1]) in out.partitions})
        return out
    first = session.scalar(select(GpsFix.time).where(GpsFix.time < cutoff).order_by(GpsFix.time).limit(1))
    if first is None:
        return out
    if missing := _unsummarised(session, first, cutoff, tz):
        _refuse(missing)
    out.days = sorted({_local_day(h, tz) for h in session.scalars(
        select(func.substr(GpsFix.time, 1, 13)).where(GpsFix.time < cutoff).distinct())})
    while True:
        ids = session.scalars(select(GpsFix.id).where(GpsFix.time < cutoff).limit(DELETE_BATCH)).all()
        if not ids:
            break
        out.rows += session.execute(delete(GpsFix).where(GpsFix.id.in_(ids))).rowcount
    return out


def _local_day(hour: str, tz: str) -> dt.date:
    """The local day of a SpatiaLite UTC hour bucket (``2026-12-05 07``; whole-hour zone offsets)."""
    return dt.datetime.fromisoformat(f"{hour}:00").replace(tzinfo=dt.UTC).astimezone(ZoneInfo(tz)).date()


def _month_of(name: str) -> dt.date:
    return dt.date(int(name[9:13]), int(name[14:16]), 1)


def _end_of(name: str) -> dt.datetime:
    return dt.datetime.combine(next_month(_month_of(name)), dt.time(), dt.UTC)


def _days_of(session: Session, table: str, tz: str, before: dt.datetime | None = None) -> set[dt.date]:
    cond = "WHERE time < :c" if before is not None else ""
    return set(session.scalars(text(f"SELECT DISTINCT (time AT TIME ZONE :tz)::date FROM {table} {cond}"),
                               {"tz": tz, "c": before}).all())
