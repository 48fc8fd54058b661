"""Hotspots, emerging hotspots and coverage over the whole history on Dask, with the in-process results.

The analytics of :mod:`patrol.analytics.service` read every case or GPS fix of the period into one process. Over
years (millions of cases, tens of millions of fixes) that is slow and large; a :class:`DaskRunner` passed to
``service.hotspots`` / ``emerging`` / ``coverage`` (``runner=``) does the reading and counting on the workers of a
``distributed`` cluster instead, and everything else (scope, cells, weights, Gi*, Mann–Kendall, the GeoJSON) stays
the service's, so the answer is the same:

- hotspots: the period is cut into slices — one per community (and one for cases in no community) and calendar month,
  or runs of months so that there are about 8 slices per worker thread (a task costs a query and a round trip of
  its own) — and each task reads its slice (``service.case_points`` with the slice's WHERE) with its own engine from the
  database URL (never a session) and counts it per cell (``geo.cells.count_points``); the client adds the counts.
  Counts and severity weights are whole numbers, so the sums are exact in any order.
- emerging hotspots: the same slices, each counted per time step: a (cells × steps) cube added up, then the service
  runs Gi* and Mann–Kendall on the totals.
- coverage: the patrols of the scope's grids are cut into ranges of patrol ids, one per month of their start (each
  patrol in exactly one range: ``geo.coverage`` needs every patrol's fixes in one partition); each partition reads
  its fixes and ``geo.coverage.grid_coverage`` measures it on the workers and unions the covered pieces (OR) and
  adds distances and times (exact integers) — its own Dask path.

``reads="client"`` is the alternative measured in bench/bench_dask.py: one read in this process, then the rows
scattered to the workers in equal parts. Which cluster: :func:`open_client` (``local``: a ``LocalCluster``; an
address: a real scheduler) or :func:`shared_client` for the API (kept per server process).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from geo import cells as C
from geo.coverage import grid_coverage
from patrol.analytics.service import CaseQuery, CellLayer, fixes_frame
from patrol.core.db import make_engine
from patrol.core.errors import InvalidInput
from patrol.core.models import Case, Community, GpsFix, Patrol
from patrol.core.settings import Settings

log = logging.getLogger(__name__)

#: the topic of the progress events tasks send to the client (``Client.subscribe_topic``)
TOPIC = "gridpatrol-history"
READS = ("tasks", "client")
#: slices of cases per worker thread: enough to balance the load, few enough that a task's own cost (a query, a
#: round trip to the scheduler) stays small next to its reading and counting
SLICES_PER_THREAD = 8
Progress = Callable[[int, int], None]


# ---------------------------------------------------------------------------------------------- the cluster


def cluster_kind(address: str) -> str:
    """``local``, ``address`` (tcp://, tls://, ucx://, inproc:// or host:port) — or a 422 naming ``dask``."""
    if address == "local":
        return "local"
    if "://" in address or (":" in address and address.rsplit(":", 1)[1].isdigit()):
        return "address"
    raise InvalidInput(f"dask must be local or a scheduler address such as tcp://host:8786, got {address!r}",
                       field="dask")


def new_client(address: str, *, workers: int = 2, memory: str = "2GiB", processes: bool = True) -> Any:
    """A ``distributed.Client``: of a new ``LocalCluster`` (``local``: ``workers`` single-threaded worker
    processes of ``memory`` each, closed with the client) or connected to the scheduler at ``address``."""
    from distributed import Client, LocalCluster  # optional dependency (extra "dask"): only when asked for

    if cluster_kind(address) == "local":
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, memory_limit=memory, processes=processes,
                               dashboard_address=None)
        client = Client(cluster, set_as_default=False)
        client._gridpatrol_cluster = cluster  # closed with the client (close_client)
        return client
    return Client(address, set_as_default=False, timeout="3s")  # a scheduler on the LAN answers in ms


def close_client(client: Any) -> None:
    cluster = getattr(client, "_gridpatrol_cluster", None)
    client.close()
    if cluster is not None:
        cluster.close()


@contextmanager
def open_client(address: str, *, workers: int = 2, memory: str = "2GiB", processes: bool = True) -> Iterator[Any]:
    client = new_client(address, workers=workers, memory=memory, processes=processes)
    try:
        yield client
    finally:
        close_client(client)


_shared: dict[str, Any] = {}
_shared_lock = threading.Lock()


def shared_client(settings: Settings) -> Any:
    """The client of ``settings.dask_scheduler`` kept for this process (the API's): started on first use."""
    address = settings.dask_scheduler.strip()
    with _shared_lock:
        client = _shared.get(address)
        if client is None or client.status in ("closed", "closing"):
            client = new_client(address, workers=settings.dask_workers, memory=settings.dask_memory)
            _shared[address] = client
        return client


def close_shared() -> None:
    """Close the clients :func:`shared_client` kept (and a local cluster with its client)."""
    with _shared_lock:
        for client in _shared.values():
            close_client(client)
        _shared.clear()


def runner_for(settings: Settings, session: Session, days: float) -> DaskRunner | None:
    """A runner on the configured scheduler when there is one and the period is longer than ``dask_min_days``;
    ``None`` (in-process) otherwise, and when the scheduler cannot be reached (logged: the answer is the same)."""
    if not settings.dask_scheduler.strip() or days <= settings.dask_min_days:
        return None
    try:
        client = shared_client(settings)
    except (OSError, TimeoutError) as exc:
        log.warning("Dask scheduler %s unreachable (%s): analysing in this process", settings.dask_scheduler, exc)
        return None
    return DaskRunner(client, database_url(session), tz=settings.timezone)


def database_url(session: Session) -> str:
    """The URL the tasks open their own engine with (password included: the workers need to log in)."""
    return session.get_bind().engine.url.render_as_string(hide_password=False)


# ---------------------------------------------------------------------------------------------- on the workers

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def task_engine(url: str) -> Engine:
    """One engine per database URL and worker process, kept between tasks."""
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _engines[url] = make_engine(url)
        return engine


def dispose_engines() -> None:
    """Close the engines tasks opened in this process (tests, before dropping their database)."""
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def _report(what: str) -> None:
    try:
        from distributed import get_worker

        get_worker().log_event(TOPIC, what)
    except (ImportError, ValueError):  # not on a distributed worker
        pass


@dataclass(frozen=True)
class CaseSlice:
    """Cases reported in [start, end) of one community (``community``; ``None``: in no community) or, with
    ``by_community`` false, of every community the query's scope allows."""

    start: dt.datetime
    end: dt.datetime
    community: int | None = None
    by_community: bool = False

    def clauses(self) -> tuple:
        if not self.by_community:
            return ()
        return (Case.community_id.is_(None),) if self.community is None else (Case.community_id == self.community,)


def _sparse(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    nz = np.flatnonzero(counts)
    return nz, counts.ravel()[nz]


def count_slice(part: CaseSlice, url: str, query: CaseQuery, frame: Any, weight: str) -> tuple:
    """Task: the slice's cases counted per cell of ``frame`` → (cell positions, counts there, cases read)."""
    with Session(task_engine(url)) as session:
        points = query.points(session, part.start, part.end, part.clauses())
    counts = _count(points, frame, weight)
    _report("cases")
    return (*_sparse(counts), len(points))


def _count(points: Any, frame: Any, weight: str) -> np.ndarray:
    if not len(points):
        return np.zeros(len(frame), dtype=float if weight == "severity" else np.int64)
    return C.count_points(points, frame, weights="severity" if weight == "severity" else None)


def count_steps(part: CaseSlice, url: str, query: CaseQuery, frame: Any,
                bounds: list[tuple[dt.datetime, dt.datetime]]) -> tuple:
    """Task: the slice's cases counted per cell and time step → (flat positions in the cells × steps cube,
    counts there, cases read)."""
    cube = np.zeros((len(frame), len(bounds)), dtype=np.int64)
    n = 0
    with Session(task_engine(url)) as session:
        for k, (s, e) in enumerate(bounds):
            a, b = max(s, part.start), min(e, part.end)
            if a < b:
                points = query.points(session, a, b, part.clauses())
                cube[:, k] = _count(points, frame, "count")
                n += len(points)
    _report("cases")
    return (*_sparse(cube), n)


def count_points_part(points: Any, frame: Any, weight: str) -> tuple:
    """Task (``reads="client"``): points already read, counted per cell."""
    return (*_sparse(_count(points, frame, weight)), len(points))


@dataclass(frozen=True)
class FixRange:
    """The patrols with ids in [low, high) (an open end: ``None``)."""

    low: int | None
    high: int | None

    def clauses(self) -> tuple:
        out = []
        if self.low is not None:
            out.append(Patrol.id >= self.low)
        if self.high is not None:
            out.append(Patrol.id < self.high)
        return tuple(out)


FIX_COLUMNS = {"patrol_id": "int64", "time": "datetime64[us, UTC]", "lon": "float64", "lat": "float64",
               "flag": "object"}


def read_fixes(url: str, grid_ids: list[int], start: dt.datetime, end: dt.datetime, worker_id: int | None,
               include_simulated: bool, part: FixRange) -> pd.DataFrame:
    """Task: the fixes of the range's patrols (``service.fixes_frame``)."""
    with Session(task_engine(url)) as session:
        frame = fixes_frame(session, grid_ids, start, end, worker_id, include_simulated, part.clauses())
    _report("fixes")
    return frame.astype(FIX_COLUMNS)


# ---------------------------------------------------------------------------------------------- slicing


def months(start: dt.datetime, end: dt.datetime, tz: str) -> list[tuple[dt.datetime, dt.datetime]]:
    """[start, end) cut at the local month boundaries of ``tz`` (aware UTC datetimes)."""
    zone = ZoneInfo(tz)
    out = []
    a = start
    while a < end:
        local = a.astimezone(zone)
        nxt = (local.replace(day=1) + dt.timedelta(days=32)).replace(day=1, hour=0, minute=0, second=0,
                                                                      microsecond=0)
        b = min(end, nxt.astimezone(dt.UTC))
        out.append((a, b))
        a = b
    return out


def case_slices(session: Session, query: CaseQuery, start: dt.datetime, end: dt.datetime, tz: str,
                most: int | None = None) -> list[CaseSlice]:
    """Community × month slices of [start, end) (months only for one grid's cases); with ``most``, runs of
    consecutive months (and no community split when there are more communities than that) so that there are
    about ``most`` slices (a task has a cost of its own: a query, a round trip)."""
    scope = query.scope
    communities: list[int | None] | None = None
    if scope.community_id is not None:
        communities = [scope.community_id]
    elif scope.community_ids is not None:
        communities = sorted(scope.community_ids)
    elif scope.grid_id is None:
        communities = [*session.scalars(select(Community.id).order_by(Community.id)), None]
    if most is not None and communities is not None and len(communities) > most:
        communities = None
    spans = months(start, end, tz)
    per = 1 if most is None else max(1, -(-len(spans) * len(communities or [None]) // most))
    spans = [(spans[i][0], spans[min(i + per, len(spans)) - 1][1]) for i in range(0, len(spans), per)]
    if communities is None:
        return [CaseSlice(a, b) for a, b in spans]
    return [CaseSlice(a, b, c, True) for a, b in spans for c in communities]


def fix_ranges(session: Session, grid_ids: list[int], start: dt.datetime, end: dt.datetime,
               tz: str) -> list[FixRange]:
    """Ranges of patrol ids, one per local month in which the scope's patrols of [start, end) started (the first
    range open below, the last open above, so every patrol is in exactly one)."""
    rows = session.execute(select(Patrol.id, Patrol.started_at).where(
        Patrol.grid_id.in_(grid_ids or [-1]), Patrol.started_at >= start, Patrol.started_at < end)).all()
    if not rows:
        return [FixRange(None, None)]
    frame = pd.DataFrame(rows, columns=["id", "started"])
    local = pd.to_datetime(frame["started"], utc=True).dt.tz_convert(tz)
    month = local.dt.year * 12 + local.dt.month
    lows = sorted(set(frame.groupby(month.to_numpy())["id"].min().tolist()))
    bounds: list[int | None] = [None, *lows[1:], None]
    return [FixRange(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


# ---------------------------------------------------------------------------------------------- the runner


class DaskRunner:
    """Reads and counts the history on the workers of ``client``; ``url``: the database the tasks read.

    ``reads``: ``tasks`` (each task reads its slice with its own engine) or ``client`` (one read here, scattered;
    hotspots and coverage). ``progress(done, total)`` is called as slices finish. ``slices_per_thread``: cases
    are cut into about this many slices per worker thread (runs of months per community); ``None``: one per
    community and month.
    """

    def __init__(self, client: Any, url: str, *, tz: str = "Asia/Shanghai", reads: str = "tasks",
                 progress: Progress | None = None, slices_per_thread: int | None = SLICES_PER_THREAD) -> None:
        if reads not in READS:
            raise InvalidInput(f"reads must be one of {', '.join(READS)}, got {reads!r}", field="reads")
        self.client, self.url, self.tz, self.reads, self.progress = client, url, tz, reads, progress
        self.slices_per_thread = slices_per_thread

    def most_slices(self) -> int | None:
        """About this many slices of cases: ``slices_per_thread`` per worker thread (None: every
        community-month)."""
        if not self.slices_per_thread:
            return None
        return self.slices_per_thread * max(1, sum(self.client.nthreads().values()))

    def _gather(self, futures: list[Any], shape: tuple[int, ...], dtype: Any) -> tuple[np.ndarray, int]:
        """Add up the sparse counts the tasks return, as they finish."""
        from distributed import as_completed

        total = np.zeros(int(np.prod(shape)), dtype=dtype)
        n = 0
        with self.client.as_current():
            for done, future in enumerate(as_completed(futures), start=1):
                where, values, count = future.result()
                np.add.at(total, where, values)
                n += count
                future.release()
                if self.progress:
                    self.progress(done, len(futures))
        return total.reshape(shape), n

    def hotspot_layer(self, session: Session, query: CaseQuery, layer: CellLayer, start: dt.datetime,
                      end: dt.datetime, weight: str) -> CellLayer:
        """``layer`` with the counts of the query's cases in [start, end), counted on the cluster."""
        query = replace(query, now=query.now or dt.datetime.now(dt.UTC))
        frame = self.client.scatter(layer.count_frame, broadcast=True, hash=False)
        dtype = float if weight == "severity" else np.int64
        if self.reads == "client":
            points = query.points(session, start, end)
            parts = np.array_split(np.arange(len(points)), max(1, 4 * len(self.client.scheduler_info()["workers"])))
            data = self.client.scatter([points.iloc[p] for p in parts], hash=False)
            futures = self.client.map(count_points_part, data, frame=frame, weight=weight, pure=False)
        else:
            slices = case_slices(session, query, start, end, self.tz, self.most_slices())
            futures = self.client.map(count_slice, slices, url=self.url, query=query, frame=frame, weight=weight,
                                      pure=False)
        counts, n = self._gather(futures, (len(layer.frame),), dtype)
        return CellLayer(layer.frame, layer.weights, counts, n, layer.count_frame)

    def emerging_counts(self, session: Session, query: CaseQuery, layer: CellLayer,
                        bounds: list[tuple[dt.datetime, dt.datetime]]) -> np.ndarray:
        """The (cells × steps) counts of the query's cases in each of ``bounds``, counted on the cluster."""
        query = replace(query, now=query.now or dt.datetime.now(dt.UTC))
        frame = self.client.scatter(layer.count_frame, broadcast=True, hash=False)
        slices = case_slices(session, query, bounds[0][0], bounds[-1][1], self.tz, self.most_slices())
        futures = self.client.map(count_steps, slices, url=self.url, query=query, frame=frame, bounds=bounds,
                                  pure=False)
        cube, _ = self._gather(futures, (len(layer.frame), len(bounds)), np.int64)
        return cube.astype(float)

    def coverage(self, session: Session, base: Any, grid_ids: list[int], start: dt.datetime, end: dt.datetime, *,
                 worker_id: int | None, include_simulated: bool, distance_m: float, visited: Any) -> tuple[Any, int]:
        """``geo.coverage.grid_coverage`` of the fixes of [start, end) of these grids' patrols, measured on the
        cluster, and the number of fixes."""
        import dask
        import dask.dataframe as dd

        if self.reads == "client":
            fixes = fixes_frame(session, grid_ids, start, end, worker_id, include_simulated)
            frame = dd.from_pandas(fixes.astype(FIX_COLUMNS).set_index("patrol_id"),
                                   npartitions=max(1, 4 * len(self.client.scheduler_info()["workers"])))
            n = len(fixes)
        else:
            n = count_fixes(session, grid_ids, start, end, worker_id, include_simulated)
            ranges = fix_ranges(session, grid_ids, start, end, self.tz)
            read = dask.delayed(read_fixes, pure=False)
            parts = [read(self.url, grid_ids, start, end, worker_id, include_simulated, r) for r in ranges]
            frame = dd.from_delayed(parts, meta=pd.DataFrame({c: pd.Series(dtype=t)
                                                              for c, t in FIX_COLUMNS.items()}), verify_meta=False)
        total = frame.npartitions
        self._follow(total)
        try:
            with self.client.as_current():
                cov = grid_coverage(base, frame, distance_m=distance_m, visited=visited)
        finally:
            self._unfollow(total)
        return cov, n

    def _follow(self, total: int) -> None:
        """Report ``progress`` from the tasks' events (coverage: the partitions are read inside one compute)."""
        if self.progress is None:
            return
        seen = [0]
        progress = self.progress

        def handler(event: Any) -> None:
            seen[0] += 1
            progress(min(seen[0], total), total)

        self.client.subscribe_topic(TOPIC, handler)

    def _unfollow(self, total: int) -> None:
        if self.progress is not None:
            self.client.unsubscribe_topic(TOPIC)
            self.progress(total, total)  # events may still be on their way: the work is done


def count_fixes(session: Session, grid_ids: list[int], start: dt.datetime, end: dt.datetime, worker_id: int | None,
                include_simulated: bool) -> int:
    """How many fixes ``service.fixes_frame`` would read (the summary's ``fixes``), counted in the database."""
    where = [GpsFix.time >= start, GpsFix.time < end, Patrol.grid_id.in_(grid_ids)]
    if worker_id is not None:
        where.append(Patrol.worker_id == worker_id)
    if not include_simulated:
        where.append(Patrol.simulated.is_(False))
    return int(session.scalar(select(func.count()).select_from(GpsFix).join(Patrol, Patrol.id == GpsFix.patrol_id)
                              .where(*where)) or 0)
