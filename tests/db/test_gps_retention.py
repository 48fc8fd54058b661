"""GPS fixes at city scale (issue 23) on both databases: monthly partitions (PostgreSQL), per worker-day summaries
equal to a recomputation from the raw fixes, and retention — coverage, the day's track map and the scorecards'
figures the same before and after the raw fixes are dropped; the ``gridpatrol gps`` commands."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from zoneinfo import ZoneInfo

import geopandas as gpd
import pytest
import shapely
from click.testing import CliRunner
from sqlalchemy import delete, func, insert, select, text

from api.cli import cli
from patrol.analytics import gps_retain
from patrol.analytics import map_frames as mf
from patrol.analytics import service as svc
from patrol.analytics.gps_days import FIX_COLUMNS, raw_fixes, summarise_day, summarise_days, summary_row
from patrol.analytics.scorecard_data import grid_figures, month_of
from patrol.city.zone import city_timezone
from patrol.core.auth import SYSTEM, create_user
from patrol.core.db import make_engine, session_factory, transaction
from patrol.core.errors import Conflict, InvalidInput
from patrol.core.frames import ewkt
from patrol.core.models import GpsFix, Grid, Patrol, PatrolDay, RoadSegment
from patrol.core.settings import Settings, get_settings
from patrol.field.retention import (
    cutoff_of,
    drop_raw,
    ensure_partitions,
    forget_partitions,
    partition_default,
    partitions,
)

OLD, OLDER, RECENT = 140, 141, 3  # days ago (local) of the walks; retention 100 days drops the first two
KEEP = 100


def _walk(s, grid: Grid, k: int) -> list[shapely.Point]:
    """Points every 8 m along the k-th longest street piece inside the grid (WGS-84)."""
    area = shapely.from_wkb(bytes(s.scalar(select(func.ST_AsBinary(Grid.geom)).where(Grid.id == grid.id))))
    lines = [shapely.from_wkb(bytes(w)) for w in s.scalars(select(func.ST_AsBinary(RoadSegment.geom)))]
    pieces = [p for g in shapely.intersection(lines, area) for p in getattr(g, "geoms", [g])
              if isinstance(p, shapely.LineString) and not p.is_empty]
    metric = gpd.GeoSeries(pieces, crs=4326).to_crs(32632)
    line = metric.iloc[int(metric.length.to_numpy().argsort()[::-1][k])]
    return list(gpd.GeoSeries([line.interpolate(d) for d in range(0, int(line.length), 8)], crs=32632).to_crs(4326))


def _patrol(s, worker: int, grid: Grid, day: dt.date, tz: str, k: int, *, hour: int = 10, flag_at: int | None = None):
    t0 = dt.datetime.combine(day, dt.time(hour), ZoneInfo(tz)).astimezone(dt.UTC)
    pts = _walk(s, grid, k)
    p = Patrol(client_id=str(uuid.uuid4()), worker_id=worker, grid_id=grid.id, started_at=t0,
               ended_at=t0 + dt.timedelta(seconds=6 * len(pts)), simulated=False)
    s.add(p)
    s.flush()
    times = [t0 + dt.timedelta(seconds=6 * i) for i in range(len(pts))]
    ensure_partitions(s, times[0], times[-1] + dt.timedelta(seconds=1))
    s.execute(insert(GpsFix), [{"patrol_id": p.id, "time": t, "accuracy_m": 5.0, "geom": g,
                                "flag": "jump" if i == flag_at else None}
                               for i, (t, g) in enumerate(zip(times, ewkt(pts), strict=True))])
    return p.id


@pytest.fixture
def walked(monaco_city_url):
    """Two workers of two grids of one community walking on two old days and a recent one."""
    forget_partitions()
    engine = make_engine(monaco_city_url)
    sessions = session_factory(engine)
    with transaction(sessions) as s:
        tz = city_timezone(s) or "Asia/Shanghai"
        grids = s.scalars(select(Grid).order_by(Grid.code)).all()
        com = next(c for c in sorted({g.community_id for g in grids})
                   if sum(g.community_id == c for g in grids) >= 2)
        a, b = [g for g in grids if g.community_id == com][:2]
        wa = create_user(s, username="gps_a", role="grid_worker", password=None, grids=[a.code]).id
        wb = create_user(s, username="gps_b", role="grid_worker", password=None, grids=[b.code]).id
        today = dt.datetime.now(ZoneInfo(tz)).date()
        for ago in (OLDER, OLD, RECENT):
            day = today - dt.timedelta(days=ago)
            _patrol(s, wa, a, day, tz, 0, flag_at=5)
            _patrol(s, wa, a, day, tz, 1, hour=14)
            _patrol(s, wb, b, day, tz, 0)
    settings = Settings(database_url=monaco_city_url, tiles=None, timezone=tz, gps_retention_days=KEEP)
    yield {"engine": engine, "sessions": sessions, "settings": settings, "tz": tz, "today": today, "grids": (a, b),
           "workers": (wa, wb), "community": com}
    engine.dispose()


def _coverage(w, settings: Settings, **kw) -> dict:
    today = w["today"]
    with w["sessions"]() as s:
        return svc.coverage(s, SYSTEM, settings, start=today - dt.timedelta(days=OLDER + 1),
                            end=today - dt.timedelta(days=RECENT - 1), **kw)


def _comparable(cov: dict) -> dict:
    return {k: cov[k] for k in ("grids", "streets", "buildings", "fixes")}


def _tracks(w, settings: Settings, day: dt.date) -> list:
    with w["sessions"]() as s:
        frame = mf.track_frame(s, svc.Scope(), day=day, worker_id=None, tz=w["tz"], fast_reads=settings.fast_reads)
    return [(r["patrol"], r["worker"], r["started"], r["ended"], r["length_m"], r["geometry"].wkt)
            for r in frame.to_dict("records")]


def _scorecard(w, settings: Settings) -> dict:
    day = w["today"] - dt.timedelta(days=OLD)
    with w["sessions"]() as s:
        figs = grid_figures(s, settings, [g.id for g in w["grids"]], month_of(f"{day:%Y-%m}", settings, w["today"]),
                            now=dt.datetime.now(dt.UTC), measures={"street_coverage", "patrol_days"})
    return {g: dict(f) for g, f in figs.items()}


def test_partitions_hold_the_fixes_by_month(walked, backend):
    """PostgreSQL: one partition per month the fixes fall in, none in the DEFAULT partition; a fix of a month with
    no partition yet lands in DEFAULT and moves into the month's partition once it is made. SpatiaLite: one plain
    table, no partitions."""
    with transaction(walked["sessions"]) as s:
        names = partitions(s)
        if backend != "postgis":
            assert names == []
            return
        months = {f"gps_fix_y{t:%Y}m{t:%m}" for t in s.scalars(select(GpsFix.time))}
        assert months <= set(names)
        placed = dict(s.execute(text("SELECT tableoid::regclass::text, count(*) FROM gps_fix GROUP BY 1")).all())
        assert "gps_fix_default" not in placed and sum(placed.values()) == s.scalar(select(func.count(GpsFix.id)))
        pid = s.scalar(select(Patrol.id).limit(1))
        far = dt.datetime(2031, 3, 4, 5, tzinfo=dt.UTC)
        s.execute(insert(GpsFix), [{"patrol_id": pid, "time": far, "geom": "SRID=4326;POINT(7.42 43.73)"}])
        assert s.scalar(text("SELECT count(*) FROM gps_fix_default")) == 1
        forget_partitions()
        ensure_partitions(s, far, far + dt.timedelta(hours=1))
        assert s.scalar(text("SELECT count(*) FROM gps_fix_default")) == 0
        assert s.scalar(text("SELECT count(*) FROM gps_fix_y2031m03")) == 1
        # rows that came in through the parent with no month (a db copy) get their month's partition
        s.execute(text("ALTER TABLE gps_fix DETACH PARTITION gps_fix_y2031m03"))
        s.execute(text("INSERT INTO gps_fix SELECT * FROM gps_fix_y2031m03"))
        s.execute(text("DROP TABLE gps_fix_y2031m03"))
        assert s.scalar(text("SELECT count(*) FROM gps_fix_default")) == 1
        assert partition_default(s) == ["gps_fix_y2031m03"]
        assert s.scalar(text("SELECT count(*) FROM gps_fix_default")) == 0
        s.rollback()


def test_summaries_equal_a_recomputation_from_the_raw_fixes(walked):
    w = walked
    done = gps_retain.summarise(w["sessions"], w["settings"])
    assert done.days == 3 and done.rows == 6  # two workers (one grid each) on three days
    again = gps_retain.summarise(w["sessions"], w["settings"])
    assert again.days == 0 and again.rows == 0  # idempotent
    with w["sessions"]() as s:
        base = svc.coverage_base(s, svc.Scope())
        rows = s.scalars(select(PatrolDay).order_by(PatrolDay.day, PatrolDay.worker_id)).all()
        assert {r.worker_id for r in rows} == set(w["workers"])
        for r in rows:
            grid = s.get(Grid, r.grid_id)
            start = dt.datetime.combine(r.day, dt.time(), ZoneInfo(w["tz"])).astimezone(dt.UTC)
            fixes = raw_fixes(s, [grid.id], start, start + dt.timedelta(days=1), r.worker_id)
            fresh = summary_row(base, fixes[FIX_COLUMNS])
            assert r.fixes == fresh["fixes"] == len(fixes) and r.patrols == fresh["patrols"]
            assert json.loads(r.covered) == json.loads(fresh["covered"]) and json.loads(r.covered)["grids"]
            assert json.loads(r.lines) == json.loads(fresh["lines"])
            assert r.distance_m == pytest.approx(fresh["distance_m"]) and r.walked_s == fresh["walked_s"]
            assert r.first_at == fixes["time"].min() and r.last_at == fixes["time"].max()
        # a late fix makes its day pending again, and summarising it again gives the same row counts
        assert summarise_day(s, base, rows[0].day, w["tz"]) == 2


SUMMARY_COLUMNS = ("patrols", "fixes", "first_at", "last_at", "walked_s", "distance_m", "coverage_m", "lines",
                   "covered")


def test_many_days_summarised_at_once_equal_the_reference_per_worker_day(walked):
    """summarise_days reads all the days in one query and measures every worker-day in one pass (here two
    consecutive days and one far off): every column equals summary_row of that worker-day's raw fixes alone,
    exactly; in batches of one day the rows are the same."""
    w = walked
    days = [w["today"] - dt.timedelta(days=ago) for ago in (OLDER, OLD, RECENT)]
    with pytest.raises(InvalidInput) as exc:
        gps_retain.summarise(w["sessions"], w["settings"], batch_days=0)
    assert exc.value.field == "batch_days"
    with transaction(w["sessions"]) as s:
        base = svc.coverage_base(s, svc.Scope())
        assert summarise_days(s, base, days, w["tz"]) == 6
        rows = s.execute(select(PatrolDay, func.ST_AsBinary(PatrolDay.track)).order_by(PatrolDay.day,
                                                                                         PatrolDay.worker_id)).all()
        assert [r.day for r, _ in rows] == sorted(days * 2)
        for r, wkb in rows:
            start = dt.datetime.combine(r.day, dt.time(), ZoneInfo(w["tz"])).astimezone(dt.UTC)
            fixes = raw_fixes(s, [r.grid_id], start, start + dt.timedelta(days=1), r.worker_id)
            ref = summary_row(base, fixes[FIX_COLUMNS])
            assert {k: getattr(r, k) for k in SUMMARY_COLUMNS} == {k: ref[k] for k in SUMMARY_COLUMNS}
            assert shapely.from_wkb(bytes(wkb)).wkb == shapely.from_wkt(ref["track"].split(";", 1)[1]).wkb
        batched = [(r.day, r.worker_id, *(getattr(r, k) for k in SUMMARY_COLUMNS)) for r, _ in rows]
        s.execute(delete(PatrolDay))
    gps_retain.summarise(w["sessions"], w["settings"], batch_days=1)
    with w["sessions"]() as s:
        one_by_one = [(r.day, r.worker_id, *(getattr(r, k) for k in SUMMARY_COLUMNS))
                      for r in s.scalars(select(PatrolDay).order_by(PatrolDay.day, PatrolDay.worker_id))]
    assert one_by_one == batched


def test_coverage_tracks_and_scorecards_the_same_before_and_after_dropping_raw_fixes(walked):
    w = walked
    raw = w["settings"].model_copy(update={"fast_reads": False})
    before = _coverage(w, raw)
    grid_only = _coverage(w, raw, grid=w["grids"][0].code)
    old_day = w["today"] - dt.timedelta(days=OLD)
    tracks, cards = _tracks(w, raw, old_day), _scorecard(w, raw)
    assert before["fixes"] > 0 and any(g["covered_m"] > 0 for g in before["grids"]) and len(tracks) == 3
    gps_retain.summarise(w["sessions"], w["settings"])
    # fast reads: the summarised days from the summaries, the same figures and pieces
    assert _comparable(_coverage(w, w["settings"])) == _comparable(before)
    assert _tracks(w, w["settings"], old_day) == tracks and _scorecard(w, w["settings"]) == cards

    done, dropped = gps_retain.retain(w["sessions"], w["settings"], today=w["today"])
    assert dropped.days and (dropped.partitions or dropped.rows)
    cutoff = cutoff_of(w["today"], KEEP, w["tz"])
    with w["sessions"]() as s:
        assert s.scalar(select(func.count(GpsFix.id)).where(GpsFix.time < cutoff)) == 0
        assert s.scalar(select(func.count(GpsFix.id))) > 0  # the recent day's
        assert s.scalar(select(func.count(PatrolDay.id)).where(PatrolDay.raw_dropped.is_(True))) == 4
    for settings in (raw, w["settings"]):  # with fast reads off too: the dropped days have only their summaries
        assert _comparable(_coverage(w, settings)) == _comparable(before)
        assert _comparable(_coverage(w, settings, grid=w["grids"][0].code)) == _comparable(grid_only)
        assert _tracks(w, settings, old_day) == tracks and _scorecard(w, settings) == cards
    with pytest.raises(InvalidInput) as exc:
        _coverage(w, raw, distance_m=30)
    assert exc.value.field == "distance_m"
    # idempotent: nothing more to summarise or drop
    done, dropped = gps_retain.retain(w["sessions"], w["settings"], today=w["today"])
    assert done.days == 0 and not dropped.partitions and dropped.rows == 0


def test_retention_refuses_days_without_a_summary(walked):
    w = walked
    with transaction(w["sessions"]) as s, pytest.raises(Conflict) as exc:
        drop_raw(s, cutoff_of(w["today"], KEEP, w["tz"]), w["tz"])
    assert exc.value.field == "days" and "without a summary" in exc.value.message
    with w["sessions"]() as s:
        assert s.scalar(select(func.count(GpsFix.id))) > 0


def test_the_gps_commands(walked):
    w = walked
    url = w["settings"].database_url
    runner = CliRunner(env={"GRIDPATROL_TIMEZONE": w["tz"], "GRIDPATROL_GPS_RETENTION_DAYS": str(KEEP)})
    get_settings.cache_clear()  # the commands read the environment above
    r = runner.invoke(cli, ["gps", "summarise", "--database", url])
    assert r.exit_code == 0, r.output
    assert "summarised 3 day(s)" in r.output and "6 worker-day row(s)" in r.output
    tomorrow = (w["today"] + dt.timedelta(days=1)).isoformat()
    r = runner.invoke(cli, ["gps", "summarise", "--through", tomorrow, "--database", url])
    assert r.exit_code != 0 and "--through must be a finished day" in r.output
    assert len(r.output.strip().splitlines()) == 1
    r = runner.invoke(cli, ["gps", "retain", "--database", url])
    assert r.exit_code == 0, r.output
    assert "raw fixes kept from" in r.output and ("dropped 1 monthly" in r.output or "dropped 2 monthly" in r.output
                                                   or "deleted" in r.output)
    r = runner.invoke(cli, ["gps", "retain", "--database", url])
    assert r.exit_code == 0 and "nothing to drop" in r.output
    get_settings.cache_clear()
    r = runner.invoke(cli, ["gps", "retain", "--database", url], env={"GRIDPATROL_GPS_RETENTION_DAYS": "10"})
    assert r.exit_code == 1 and r.output.strip() == (
        "gridpatrol: error: invalid setting GRIDPATROL_GPS_RETENTION_DAYS: Input should be greater than or equal to 90")
    get_settings.cache_clear()
