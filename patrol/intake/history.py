"""Case history import (``gridpatrol cases import-history FILE --mapping MAPPING.yaml``): a 311 / 12345-style
history (CSV, GeoJSON, GeoPackage) with its original times, statuses, categories and channels becomes cases, so
trends, emerging hotspots and KPIs work over the years before gridpatrol from day one.

How a row becomes a case (the mapping: :mod:`patrol.intake.history_mapping`):

- ``source`` + the row's id → ``patrol_case.source`` / ``source_ref`` (unique together): a re-import of the same
  file, or of a later export, updates the rows whose status or closing time changed and never duplicates;
- ``reported_at`` / ``closed_at`` as the file gives them (in the mapping's time zone when the times carry none);
  ``deadline_at`` = the category's deadline in working hours counted from ``reported_at`` on the city's calendar, so
  on-time rates mean something (the source's own deadlines are not known); ``closed_on_time`` = handled (else
  closed) at or before that deadline;
- located by point (lon / lat columns in any CRS, GCJ-02 / BD-09 lon/lat, or the file's geometry), else by the
  address matched to a building (:mod:`geo.addresses`); community, grid and building by the same in-memory polygon
  lookup the batch reports use (:mod:`geo.assign`);
- the steps that make the KPIs and the case page truthful, at the source's times: report (reported_at), register
  (the registered time, else reported_at) unless rejected, handle when a handled time is given, then close or
  reject at the closing time. A status between (dispatched, handled …) without its own time is reached at the
  registered time, with a note saying so.

All-or-nothing: every problem (row number, id, field, what is wrong) is collected before anything is written; rows
outside every community or without a place are errors unless the mapping says ``skip`` (then counted and listed in
the report). Writes are set-based: one bulk insert of the cases, one of their events, bulk updates by primary key.
"""

from __future__ import annotations

import csv
import datetime as dt
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyproj
import shapely
from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from geo.addresses import decide
from geo.assign import build_polygon_index
from geo.crs import to_wgs84
from geo.errors import GeoValidationError
from geo.layers import read_layer
from patrol.cases.lifecycle import CLOSED
from patrol.cases.numbers import case_number
from patrol.cases.reference import ensure_categories
from patrol.cases.worktime import calendar
from patrol.city import zone
from patrol.core.errors import ImportFailed
from patrol.core.frames import read_frame
from patrol.core.models import Building, Case, CaseEvent, Category, Community, Grid
from patrol.core.settings import Settings
from patrol.core.time import now_utc
from patrol.intake.addresses import building_index
from patrol.intake.history_mapping import HistoryMapping

GEO_SUFFIXES = (".geojson", ".json", ".gpkg")
MAX_LISTED = 50  # problems printed with the error; the report lists them all
#: the action recorded for reaching each status (the lifecycle's names, so the KPIs count them)
ACTION_TO = {"registered": "register", "dispatched": "dispatch", "accepted": "accept", "handled": "handle",
             "verified": "verify", "closed": "close", "rejected": "reject", "duplicate": "merge",
             "reported": "report"}


@dataclass
class Outcome:
    """What an import did (or would have done): counts, and one report row per row of the file."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    closed_from_updated: int = 0  # final rows without a closing time: the time of their last update (times.updated)
    clamped: int = 0  # closing times before the reported time taken as the reported time (times.early_close)
    skipped: Counter = field(default_factory=Counter)
    rows: list[dict] = field(default_factory=list)  # {row, id, outcome, field, message}
    problems: list[dict] = field(default_factory=list)

    def summary(self) -> str:
        skipped = sum(self.skipped.values())
        why = ", ".join(f"{n} {k}" for k, n in sorted(self.skipped.items()))
        return (f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged, {skipped} skipped"
                + (f" ({why})" if why else "")
                + (f"; {self.closed_from_updated} closing times taken from the last update"
                   if self.closed_from_updated else "")
                + (f"; {self.clamped} closing times before the reported time taken as the reported time"
                   if self.clamped else ""))


def _problem(out: Outcome, row: int, ref: object, field_name: str, message: str) -> None:
    out.problems.append({"row": row, "id": "" if ref is None else str(ref), "outcome": "error",
                         "field": field_name, "message": message})


# ---------------------------------------------------------------- reading

def _read_csv(path: Path) -> pd.DataFrame:
    for encoding in ("utf-8-sig", "gb18030"):  # Chinese exports are often GBK
        try:
            return pd.read_csv(path, dtype=str, keep_default_na=False, encoding=encoding)
        except UnicodeDecodeError:
            continue
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise ImportFailed(f"{path.name}: not a readable CSV ({' '.join(str(exc).split())})",
                               field="file") from exc
    raise ImportFailed(f"{path.name}: neither UTF-8 nor GB18030 text", field="file")


def read_history(path: str | Path, mapping: HistoryMapping) -> tuple[pd.DataFrame, np.ndarray | None, int]:
    """The file's rows as text columns, its points (lon, lat arrays in WGS-84 when the file has a geometry, else
    None) and the row number of the first row (2 for a CSV under its header, 1 for features)."""
    path = Path(path)
    if not path.is_file():
        raise ImportFailed(f"{path}: no such file", field="file")
    if path.suffix.lower() == ".csv":
        return _read_csv(path), None, 2
    if path.suffix.lower() not in GEO_SUFFIXES:
        raise ImportFailed(f"{path.name}: a history is read from .csv, .geojson, .json or .gpkg", field="file")
    try:
        gdf = read_layer(path, layer=mapping.layer)
    except GeoValidationError as exc:
        raise ImportFailed(f"{path.name}: {exc}", field="file") from exc
    if gdf.crs is not None:
        gdf = gdf.to_crs(4326)
    geom = gdf.geometry.array
    points = shapely.point_on_surface(np.asarray(geom))
    xy = np.full((len(gdf), 2), np.nan)
    has = ~(shapely.is_missing(points) | shapely.is_empty(points))
    xy[has] = shapely.get_coordinates(points[has])
    frame = pd.DataFrame({c: gdf[c].map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v))
                                        else str(v)) for c in gdf.columns if c != gdf.geometry.name})
    return frame, xy, 1


def _resolve_columns(frame: pd.DataFrame, mapping: HistoryMapping) -> dict[str, str]:
    """The file's name of every column the mapping names (case-insensitive); ImportFailed listing the missing."""
    by_lower = {str(c).strip().casefold(): c for c in frame.columns}
    found, missing = {}, []
    for what, name in mapping.columns().items():
        actual = by_lower.get(name.strip().casefold())
        if actual is None:
            missing.append(f"{what}: no column {name!r}")
        else:
            found[name] = actual
    if missing:
        raise ImportFailed(f"the file lacks {len(missing)} column(s) the mapping names; nothing was imported "
                           f"(its columns: {', '.join(map(str, frame.columns))})", field="mapping", details=missing)
    return found


# ---------------------------------------------------------------- values

def parse_times(values: pd.Series, formats: tuple[str, ...], tz: str) -> pd.Series:
    """Text → UTC timestamps (NaT where empty or unparseable): each format in turn, else ISO 8601; times without a
    zone are in ``tz`` (a time that does not exist at a DST change moves forward, an ambiguous one is standard)."""
    text = values.str.strip()
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
    zoned = text.str.contains(r"(?:Z|[+-]\d{2}:?\d{2})$", regex=True)  # the value says its offset
    for fmt in formats or ("ISO8601",):
        for has_zone in (False, True):
            todo = out.isna() & (text != "") & (zoned == has_zone)
            if not todo.any():
                continue
            parsed = pd.to_datetime(text[todo], format=fmt, errors="coerce", utc=has_zone)
            if not has_zone:
                parsed = parsed.dt.tz_localize(tz, ambiguous=np.zeros(len(parsed), dtype=bool),
                                               nonexistent="shift_forward")
            out[todo] = parsed.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
    return out


def _times(frame: pd.DataFrame, cols: dict[str, str], mapping: HistoryMapping, tz: str, rows: np.ndarray,
           refs: list[str], out: Outcome) -> dict[str, pd.Series]:
    times = {}
    for name in ("reported", "registered", "handled", "closed", "updated"):
        column = getattr(mapping, name)
        if not column:
            continue
        text = frame[cols[column]].astype(str)
        parsed = parse_times(text, mapping.formats, tz)
        bad = parsed.isna() & (text.str.strip() != "")
        for i in np.flatnonzero(bad.to_numpy()):
            _problem(out, int(rows[i]), refs[i], column, f"cannot read the time {text.iloc[i]!r}"
                     + (f" (formats: {', '.join(mapping.formats)})" if mapping.formats else " (ISO 8601)"))
        if name == "reported":
            for i in np.flatnonzero((text.str.strip() == "").to_numpy()):
                _problem(out, int(rows[i]), refs[i], column, "no reported time")
        times[name] = parsed
    closed = times.get("closed")
    if closed is not None:
        early = (closed < times["reported"]).to_numpy()
        if mapping.early_close == "clamp":  # a source that records some closings by date only
            closed[early] = times["reported"][early]
            out.clamped += int(early.sum())
            return times
        for i in np.flatnonzero(early):
            _problem(out, int(rows[i]), refs[i], mapping.closed or "",
                     "closed before it was reported (times.early_close: clamp takes the reported time)")
    return times


def _mapped(frame: pd.DataFrame, cols: dict[str, str], vmap, name: str, rows: np.ndarray, refs: list[str],
            out: Outcome, known: set[str] | None = None) -> list[str | None]:
    """Each row's value of ``vmap`` (status, category, channel); a value with no mapping and no default is a
    problem (a category may also be given as our own code)."""
    if vmap.column is None:  # one value for every row
        if known is not None and len(frame) and vmap.default not in known:
            _problem(out, int(rows[0]), None, f"{name}.default", f"{vmap.default!r} is not a category of the city")
        return [vmap.default] * len(frame)
    raw = frame[cols[vmap.column]].astype(str)
    cache: dict[str, str | None] = {}
    values: list[str | None] = []
    for i, value in enumerate(raw):
        if value not in cache:
            ours = vmap.lookup(value)
            if ours is None and known is not None and value.strip() in known:
                ours = value.strip()
            cache[value] = ours
        ours = cache[value]
        if ours is None:
            _problem(out, int(rows[i]), refs[i], vmap.column,
                     f"no {name} for {value!r} (add it to {name}.values or give {name}.default)")
        elif known is not None and ours not in known:
            _problem(out, int(rows[i]), refs[i], vmap.column,
                     f"{name} {ours!r} (for {value!r}) is not a category of the city")
        values.append(ours)
    return values


def coordinates(frame: pd.DataFrame, cols: dict[str, str], mapping: HistoryMapping, file_xy: np.ndarray | None,
                rows: np.ndarray, refs: list[str], out: Outcome) -> tuple[np.ndarray, np.ndarray]:
    """WGS-84 lon / lat of every row (NaN where the row gives none; a problem where a value is not a number or
    not a longitude/latitude after conversion), from the lon/lat columns in ``location.crs`` and ``location.datum``
    or from the file's points (``file_xy``). ``cols``: the mapping's column names → the file's."""
    if mapping.lon and mapping.lat:
        xs_text, ys_text = (frame[cols[c]].astype(str).str.strip() for c in (mapping.lon, mapping.lat))
        x = pd.to_numeric(xs_text, errors="coerce").to_numpy(dtype=float, copy=True)
        y = pd.to_numeric(ys_text, errors="coerce").to_numpy(dtype=float, copy=True)
        for i in np.flatnonzero((np.isnan(x) & (xs_text != "").to_numpy()) | (np.isnan(y) & (ys_text != "")
                                                                              .to_numpy())):
            _problem(out, int(rows[i]), refs[i], mapping.lon, f"not a coordinate: {xs_text.iloc[i]!r}, "
                                                                    f"{ys_text.iloc[i]!r}")
        crs = pyproj.CRS.from_user_input(mapping.crs)
        if not crs.equals(pyproj.CRS.from_epsg(4326)):
            x, y = pyproj.Transformer.from_crs(crs, 4326, always_xy=True).transform(x, y)
            x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    elif file_xy is not None:
        x, y = file_xy[:, 0].copy(), file_xy[:, 1].copy()
    else:
        x = y = np.full(len(frame), np.nan)
    x[(x == 0) & (y == 0)] = np.nan  # "0, 0": a placeholder for "no place" in many exports
    y[np.isnan(x)] = np.nan
    if mapping.datum != "wgs84":
        x, y = to_wgs84(x, y, mapping.datum)
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    wrong = ~np.isnan(x) & ((np.abs(x) > 180) | (np.abs(y) > 90))
    for i in np.flatnonzero(wrong):
        _problem(out, int(rows[i]), refs[i], mapping.lon or "geometry",
                 f"({x[i]:g}, {y[i]:g}) is not a longitude/latitude (a wrong location.crs?)")
    return x, y


def _by_address(session: Session, frame: pd.DataFrame, cols: dict[str, str], mapping: HistoryMapping,
                x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Place the rows without coordinates at the building their address names (when the matcher is sure);
    the building ids found (-1 for none)."""
    building = np.full(len(frame), -1)
    todo = np.flatnonzero(np.isnan(x))
    if not mapping.location_address or not len(todo):
        return building
    index = building_index(session)
    if not index.rows:
        return building
    texts = frame[cols[mapping.location_address]].astype(str)
    found: dict[int, int] = {}
    for i in todo:
        b = decide(index.match(texts.iloc[i])) if texts.iloc[i].strip() else None
        if b is not None:
            found[int(i)] = b
    if found:
        shapes = read_frame(session, [Building.id], Building.geom, where=[Building.id.in_(set(found.values()))])
        where = dict(zip(shapes["id"], shapely.point_on_surface(np.asarray(shapes.geometry.array)), strict=True))
        for i, b in found.items():
            x[i], y[i] = where[b].x, where[b].y
            building[i] = b
    return building


def _locate(session: Session, x: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """Community, grid and building id of each point (-1 for none), by in-memory polygon lookup."""
    out = {}
    for name, model in (("community", Community), ("grid", Grid), ("building", Building)):
        layer = read_frame(session, [model.id], model.geom, order_by=[model.id])
        ids = np.full(len(x), -1)
        ok = ~np.isnan(x)
        if len(layer) and ok.any():
            pos = build_polygon_index(layer.geometry).query_xy(x[ok], y[ok])
            ids[ok] = np.where(pos >= 0, layer["id"].to_numpy()[np.maximum(pos, 0)], -1)
        out[name] = ids
    return out


# ---------------------------------------------------------------- checking

@dataclass
class Prepared:
    """The rows to write, all checked: positions into the file's rows, and per kept row what the case gets."""

    keep: np.ndarray                   # positions of the rows that become (or update) cases
    rows: np.ndarray                   # the file's row number of every row
    refs: list[str]                    # every row's id in the source
    times: dict[str, list[dt.datetime | None]]
    status: list[str | None]
    category: list[str | None]
    channel: list[str | None]
    x: np.ndarray
    y: np.ndarray
    places: dict[str, np.ndarray]      # community / grid / building ids, -1 for none
    description: list[str | None]
    address: list[str | None]


def _ids(frame: pd.DataFrame, cols: dict[str, str], mapping: HistoryMapping, rows: np.ndarray,
         out: Outcome) -> list[str]:
    refs = frame[cols[mapping.id]].astype(str).str.strip().tolist()
    first: dict[str, int] = {}
    for i, ref in enumerate(refs):
        if not ref:
            _problem(out, int(rows[i]), None, mapping.id, "no id")
        elif len(ref) > 80:
            _problem(out, int(rows[i]), ref[:80], mapping.id, "an id is at most 80 characters")
        elif ref in first:
            _problem(out, int(rows[i]), ref, mapping.id, f"the same id as row {first[ref]}")
        else:
            first[ref] = int(rows[i])
    return refs


def _texts(frame: pd.DataFrame, cols: dict[str, str], columns: tuple[str, ...], limit: int) -> list[str | None]:
    if not columns:
        return [None] * len(frame)
    parts = [frame[cols[c]].astype(str).str.strip() for c in columns]
    joined = [" · ".join(p for p in values if p) for values in zip(*parts, strict=True)]
    return [t[:limit] if t else None for t in joined]


def _where(session: Session, frame: pd.DataFrame, cols: dict[str, str], mapping: HistoryMapping,
           file_xy: np.ndarray | None, rows: np.ndarray, refs: list[str], out: Outcome):
    x, y = coordinates(frame, cols, mapping, file_xy, rows, refs, out)
    by_address = _by_address(session, frame, cols, mapping, x, y)
    places = _locate(session, x, y)
    places["building"] = np.where(by_address >= 0, by_address, places["building"])
    keep = np.ones(len(frame), dtype=bool)
    for i in np.flatnonzero(np.isnan(x)):
        what = "no coordinates" + (" and no building matches its address" if mapping.location_address else "")
        if mapping.unlocated == "skip":
            keep[i] = False
            out.skipped["no_location"] += 1
            out.rows.append({"row": int(rows[i]), "id": refs[i], "outcome": "skipped",
                             "field": mapping.lon or "geometry", "message": what})
        else:
            _problem(out, int(rows[i]), refs[i], mapping.lon or "geometry",
                     what + " (location.unlocated: skip to leave such rows out)")
    for i in np.flatnonzero(~np.isnan(x) & (places["community"] < 0)):
        what = f"({x[i]:.6f}, {y[i]:.6f}) lies outside every community"
        if mapping.outside == "skip":
            keep[i] = False
            out.skipped["outside"] += 1
            out.rows.append({"row": int(rows[i]), "id": refs[i], "outcome": "skipped",
                             "field": mapping.lon or "geometry", "message": what})
        else:
            _problem(out, int(rows[i]), refs[i], mapping.lon or "geometry",
                     what + " (location.outside: skip to leave such rows out)")
    return x, y, places, keep


def check_rows(session: Session, frame: pd.DataFrame, file_xy: np.ndarray | None, first_row: int,
               mapping: HistoryMapping, tz: str, out: Outcome) -> Prepared:
    """Every row checked against the mapping and the city; problems go to ``out.problems`` (nothing written)."""
    cols = _resolve_columns(frame, mapping)
    rows = np.arange(len(frame)) + first_row
    refs = _ids(frame, cols, mapping, rows, out)
    times = _times(frame, cols, mapping, tz, rows, refs, out)
    ensure_categories(session)
    known = set(session.scalars(select(Category.code).where(Category.active))) \
        | {c["code"] for c in mapping.categories}
    status = _mapped(frame, cols, mapping.status, "status", rows, refs, out)
    category = _mapped(frame, cols, mapping.category, "category", rows, refs, out, known)
    channel = _mapped(frame, cols, mapping.channel, "channel", rows, refs, out)
    closed = times.get("closed")
    updated = times.pop("updated", None)
    if closed is not None and updated is not None:  # a final row without its closing time: the last update's
        gap = (closed.isna() & updated.notna() & pd.Series([s in CLOSED for s in status], index=closed.index))
        closed[gap] = updated[gap]
        out.closed_from_updated += int(gap.sum())
    for i, s in enumerate(status):
        if s == "closed" and (closed is None or pd.isna(closed.iloc[i])):
            _problem(out, int(rows[i]), refs[i], mapping.closed or "times.closed",
                     "closed without a closing time")
    x, y, places, keep = _where(session, frame, cols, mapping, file_xy, rows, refs, out)
    moments = {k: _moments(v) for k, v in times.items()}
    return Prepared(np.flatnonzero(keep), rows, refs, moments, status, category, channel, x, y, places,
                    _texts(frame, cols, mapping.description, 4000),
                    _texts(frame, cols, (mapping.address,) if mapping.address else (), 300))


# ---------------------------------------------------------------- writing

def _add_categories(session: Session, mapping: HistoryMapping) -> None:
    have = set(session.scalars(select(Category.code)))
    new = [c for c in mapping.categories if c["code"] not in have]
    if new:
        session.execute(insert(Category), [{
            "code": c["code"], "name_zh": c["name_zh"], "name_en": c["name_en"], "kind": c.get("kind") or "event",
            "major_zh": c.get("major_zh") or "其他事件", "major_en": c.get("major_en") or "Other events",
            "level": c["level"], "deadline_hours": float(c["deadline_hours"]),
            "severity": int(c.get("severity") or 1), "revisit_days": 7, "active": True} for c in new])


def _moments(series: pd.Series) -> list[dt.datetime | None]:
    return [None if pd.isna(v) else v.to_pydatetime() for v in series]


def _at(moments: list[dt.datetime | None] | None, i: int) -> dt.datetime | None:
    return None if moments is None else moments[i]


@dataclass
class _Row:
    status: str
    reported: dt.datetime
    registered: dt.datetime
    handled: dt.datetime | None
    closed: dt.datetime | None
    deadline: dt.datetime

    @property
    def handled_at(self) -> dt.datetime | None:
        return self.handled or (self.closed if self.status == "closed" else None)

    @property
    def on_time(self) -> bool | None:
        done = self.handled_at
        return None if self.status != "closed" or done is None else done <= self.deadline


def _steps(r: _Row, level: str, actor: str, note: str) -> list[dict]:
    """The events of a new case: report, register, (a step to an intermediate status), handle, close / reject."""
    def ev(action: str, frm: str | None, to: str, at: dt.datetime, text: str | None = None) -> dict:
        return {"action": action, "from_status": frm, "to_status": to, "level": level, "actor_id": None,
                "actor": actor, "at": at, "note": text}

    steps = [ev("report", None, "reported", r.reported, note)]
    if r.status == "reported":
        return steps
    if r.status in ("rejected", "duplicate"):
        return steps + [ev(ACTION_TO[r.status], "reported", r.status, r.closed or r.reported)]
    steps.append(ev("register", "reported", "registered", r.registered))
    at = r.registered
    if r.handled is not None and r.status in ("handled", "verified", "closed"):
        steps.append(ev("handle", "registered", "handled", r.handled))
        at = r.handled
    last = steps[-1]["to_status"]
    if r.status == "closed":
        steps.append(ev("close", last, "closed", r.closed or at))
    elif r.status != last:
        steps.append(ev(ACTION_TO[r.status], last, r.status, at,
                        f"历史导入: 来源状态为 {r.status}, 此步时间不详"))  # the source gives no time for it
    return steps


def _row(p: Prepared, i: int, deadline_of, hours: dict[str, float]) -> _Row:
    reported = _at(p.times["reported"], i)
    assert reported is not None  # checked
    return _Row(p.status[i] or "reported", reported, _at(p.times.get("registered"), i) or reported,
                _at(p.times.get("handled"), i), _at(p.times.get("closed"), i),
                deadline_of(reported, hours[p.category[i] or ""]))


def write_rows(session: Session, settings: Settings, p: Prepared, mapping: HistoryMapping, tz: str,
               out: Outcome, now: dt.datetime) -> None:
    """Insert the new cases and update the changed ones (in the caller's transaction)."""
    _add_categories(session, mapping)
    cats = {c.code: c for c in session.scalars(select(Category))}
    hours = {code: c.deadline_hours for code, c in cats.items()}
    cal = calendar(settings.model_copy(update={"timezone": tz}))
    memo: dict[tuple, dt.datetime] = {}

    def deadline_of(at: dt.datetime, h: float) -> dt.datetime:
        if (at, h) not in memo:
            memo[(at, h)] = cal.add_working_hours(at, h)
        return memo[(at, h)]

    existing = {ref: (cid, status, closed) for cid, ref, status, closed in session.execute(
        select(Case.id, Case.source_ref, Case.status, Case.closed_at).where(Case.source == mapping.source))}
    new, changed = [], []
    for i in p.keep:
        ref = p.refs[i]
        row = _row(p, int(i), deadline_of, hours)
        if ref in existing:
            cid, status, closed = existing[ref]
            if status == row.status and closed == row.closed:
                out.unchanged += 1
                out.rows.append({"row": int(p.rows[i]), "id": ref, "outcome": "unchanged", "field": "",
                                 "message": ""})
            else:
                changed.append((int(i), cid, status, row))
        else:
            new.append((int(i), row))
    actor = f"history:{mapping.source}"
    if new:
        _insert(session, p, mapping, cats, new, actor, tz, out, now)
    if changed:
        _update(session, p, mapping, cats, changed, actor, out, now)


def _level(cat: Category, grid: int) -> str:
    return cat.level if grid >= 0 or cat.level != "grid" else "community"


def _opt(value: np.integer) -> int | None:
    return int(value) if value >= 0 else None


def _insert(session: Session, p: Prepared, mapping: HistoryMapping, cats: dict[str, Category],
            new: list[tuple[int, _Row]], actor: str, tz: str, out: Outcome, now: dt.datetime) -> None:
    records = []
    for i, r in new:
        cat = cats[p.category[i] or ""]
        ref = p.refs[i]
        records.append({
            "client_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"gridpatrol:history:{mapping.source}:{ref}")),
            "category_code": cat.code, "status": r.status, "level": _level(cat, p.places["grid"][i]),
            "channel": p.channel[i], "description": p.description[i], "address": p.address[i],
            "geom": f"SRID=4326;POINT({float(p.x[i])!r} {float(p.y[i])!r})", "input_crs": mapping.datum,
            "community_id": _opt(p.places["community"][i]), "grid_id": _opt(p.places["grid"][i]),
            "building_id": _opt(p.places["building"][i]), "reported_at": r.reported, "deadline_at": r.deadline,
            "handled_at": r.handled_at, "closed_at": r.closed if r.status in CLOSED else None,
            "closed_on_time": r.on_time, "updated_at": now, "received_at": now, "rework_count": 0,
            "reopened_count": 0, "escalations": 0, "simulated": False, "source": mapping.source, "source_ref": ref})
    cases = Case.__table__  # Core statements: one executemany each, without the ORM's per-row work
    session.execute(insert(cases), records)
    ids = dict(session.execute(select(cases.c.source_ref, cases.c.id).where(
        cases.c.source == mapping.source, cases.c.number.is_(None))).all())
    made = [ids[rec["source_ref"]] for rec in records]
    session.execute(update(cases).where(cases.c.id == bindparam("b_id")).values(number=bindparam("b_number")),
                    [{"b_id": cid, "b_number": case_number(r.reported, cid, tz)}
                     for cid, (_, r) in zip(made, new, strict=True)])
    events = []
    for cid, (i, r), rec in zip(made, new, records, strict=True):
        steps = _steps(r, rec["level"], actor, p.description[i])
        steps[0]["geom"] = rec["geom"]
        events.extend({"case_id": cid, **e} for e in steps)
        out.rows.append({"row": int(p.rows[i]), "id": rec["source_ref"], "outcome": "created", "field": "",
                         "message": r.status})
    session.execute(insert(CaseEvent.__table__), [{"geom": None, **e} for e in events])
    out.created += len(made)


def _update(session: Session, p: Prepared, mapping: HistoryMapping, cats: dict[str, Category],
            changed: list[tuple[int, int, str, _Row]], actor: str, out: Outcome, now: dt.datetime) -> None:
    """A later export of the same source: the status and closing time as the file now says, and one step from the
    stored status to the new one (at the closing time for a final state, else at the import)."""
    values, events = [], []
    for i, cid, old, r in changed:
        values.append({"b_id": cid, "status": r.status, "closed_at": r.closed if r.status in CLOSED else None,
                       "handled_at": r.handled_at, "closed_on_time": r.on_time, "updated_at": now})
        if old != r.status:
            action = "reopen" if old in CLOSED and r.status not in CLOSED else ACTION_TO[r.status]
            at = (r.closed or now) if r.status in CLOSED else now
            events.append({"case_id": cid, "action": action, "from_status": old, "to_status": r.status,
                           "level": _level(cats[p.category[i] or ""], p.places["grid"][i]), "actor_id": None,
                           "actor": actor, "at": at, "note": f"重新导入 {mapping.source} 时更新",
                           "geom": None})
        out.rows.append({"row": int(p.rows[i]), "id": p.refs[i], "outcome": "updated", "field": "status",
                         "message": f"{old} → {r.status}" if old != r.status else "closing time"})
    cases = Case.__table__
    session.execute(update(cases).where(cases.c.id == bindparam("b_id")), values)
    if events:
        session.execute(insert(CaseEvent.__table__), events)
    out.updated += len(values)


def city_timezone(session: Session, settings: Settings) -> str:
    """The time zone the city keeps (:mod:`patrol.city.zone`: an explicit setting, else the city's own)."""
    if "timezone" in settings.model_fields_set:
        return settings.timezone
    return zone.city_timezone(session) or settings.timezone


def import_history(session: Session, settings: Settings, path: str | Path, mapping: HistoryMapping, *,
                   now: dt.datetime | None = None) -> Outcome:
    """Check every row of ``path``; when none has a problem, write them (in the caller's transaction). The outcome
    lists the problems (then nothing was written: see :func:`raise_for_problems`) or what was done per row."""
    now = now or now_utc()
    if session.scalar(select(func.count(Community.id))) == 0:
        raise ImportFailed("the city has no communities yet: import them first (gridpatrol import FILE --layer "
                           "communities)", field="file")
    frame, file_xy, first_row = read_history(path, mapping)
    city_tz = city_timezone(session, settings)
    out = Outcome()
    prepared = check_rows(session, frame, file_xy, first_row, mapping, mapping.timezone or city_tz, out)
    if out.problems:
        return out
    write_rows(session, settings, prepared, mapping, city_tz, out, now)
    out.rows.sort(key=lambda r: r["row"])
    return out


def raise_for_problems(out: Outcome, name: str) -> None:
    """ImportFailed listing (the first :data:`MAX_LISTED` of) the problems, when there are any."""
    if not out.problems:
        return
    kinds = Counter(p["field"] for p in out.problems)
    listed = [f"row {p['row']}" + (f" (id {p['id']})" if p["id"] else "") + f", {p['field']}: {p['message']}"
              for p in sorted(out.problems, key=lambda p: p["row"])[:MAX_LISTED]]
    if len(out.problems) > MAX_LISTED:
        listed.append(f"… and {len(out.problems) - MAX_LISTED} more (all of them in --report FILE)")
    raise ImportFailed(f"{name}: {len(out.problems)} problem(s) in "
                       f"{', '.join(f'{k} ({n})' for k, n in kinds.most_common())}; nothing was imported",
                       field="file", details=listed)


def write_report(out: Outcome, path: str | Path) -> None:
    """One line per row of the file (created / updated / unchanged / skipped / error) with the field and why."""
    with Path(path).open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["row", "id", "outcome", "field", "message"])
        writer.writeheader()
        writer.writerows(sorted(out.rows + out.problems, key=lambda r: r["row"]))
