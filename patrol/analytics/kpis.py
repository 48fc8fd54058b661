"""KPIs of the closed loop (闭环考核指标) per grid, community, unit, category or overall, for a period. Long because
the definition of every KPI is this docstring's table, next to the code that computes it.

A pure computation on two DataFrames (:func:`compute_kpis`: cases and their events) plus a loader that reads only
the needed columns from SpatiaLite or PostGIS (:func:`kpis`), a trend over the last N weeks or months for a
dashboard's sparkline (:func:`kpi_trend`, :func:`compute_trend`), and :func:`kpi_records` for JSON.

Every rate comes with its numerator and denominator (``<kpi>_num``, ``<kpi>_den``, ``<kpi>``) so a supervisor can
check it; a rate whose denominator is 0 is undefined (NaN in the frame, ``None`` in the records), never 0 %.

Definitions
-----------
P = [start, end), half-open, aware datetimes; a date means local midnight in the city's time zone (setting
``timezone``, default Asia/Shanghai). "Event in P" means a ``case_event`` row with ``start <= at < end``. Cases are
grouped by their current ``grid_id`` / ``community_id`` / ``subdistrict_id`` (that of the case's community) /
``worker_id`` (the grid worker walking the case's grid now, ``Grid.worker_id``) /
``unit_id`` (the unit the case is or was last dispatched
to; none for cases handled by a grid worker or whistled to several departments) / ``category_code`` / ``channel``
(where the case came from, :mod:`patrol.cases.channels`; named in words).

| 中文 | English (column) | Definition / formula |
|---|---|---|
| 受理数 | received (``received``) | cases with ``reported_at`` in P |
| 立案数 | registered (``registered``) | cases with a ``register`` event in P |
| 不予立案数 | rejected (``rejected``) | cases with a ``reject`` event in P |
| 合并(重复)数 | merged as duplicates (``merged``) | cases with a ``merge`` event in P |
| 结案数 | closed (``closed``) | cases with at least one ``close`` event in P (a case closed twice counts once) |
| 升级数 | escalated (``escalated``) | cases with an ``escalate`` event in P (manual or automatic) |
| 缓办数 | suspended (``suspended``) | cases with a ``suspend`` event in P |
| 被督办案件数 | urged (``urged``) | cases with at least one ``urge`` event (督办 by a 街道 or an admin) in P |
| 督办次数 | urges (``urges``) | ``urge`` events in P (a case urged twice counts twice) |
| 办结率 | closure rate (``closure_rate``) | 立案数中截至期末已结案数 ÷ 立案数: cases registered in P whose status at ``end`` (that of their last event before ``end``) is ``closed`` ÷ ``registered`` |
| 按期结案率 | on-time closure rate (``on_time_rate``) | 按期结案数 ÷ 应结案数; 应结案数 = 按期结案数 + 超期结案数 + 应结未结数. 按期结案数 ``on_time_closed``: ``closed_at`` in P and ``closed_on_time``; 超期结案数 ``late_closed``: ``closed_at`` in P and not ``closed_on_time``; 应结未结数 ``due_unclosed``: ``deadline_at`` in P and status at ``end`` not closed, rejected, duplicate or suspended (缓办 excluded) |
| 返工率 | rework rate (``rework_rate``) | cases closed in P with at least one rework before ``end`` — a ``rework`` event (核查不通过) or a ``reopen`` event (resident rated ≤ 2, or 回头看 found the problem back) — ÷ 结案数 |
| 重开率 | reopen rate (``reopen_rate``) | cases closed in P with a ``reopen`` event after their first ``close`` in P and before ``end`` ÷ 结案数 |
| 满意率 | satisfaction rate (``satisfaction_rate``) | ratings (``rate`` events) in P with score ≥ 4 ÷ ratings in P with a known score (``rated``) |
| 不满意率 | dissatisfaction rate (``dissatisfaction_rate``) | ratings in P with score ≤ 2 ÷ ``rated`` |
| 平均处置时长 | mean handling time, working hours (``mean_handle_hours``) | Σ working hours from 立案 (``register`` event; ``reported_at`` if none) to the last ``handle`` before the case's last ``close`` in P, less suspended time ÷ cases closed in P with such a handle |
| 平均结案时长 | mean time to closure, working hours (``mean_close_hours``) | Σ working hours from 立案 to the case's last ``close`` in P, less suspended time ÷ cases closed in P |
| 在办数 | open now (``open_now``) | cases open (reported … verified, or suspended) at ``now`` |
| 当前超期数 | overdue now (``overdue_now``) | cases open at ``now``, not suspended, with ``deadline_at < now`` |
| 自行处置数 | handled on the spot (``self_handled``) | cases with ``reported_at`` in P that their reporter handled on the spot (自行处置, ``channel = 'self_handled'``: :func:`patrol.cases.service.create_self_handled`) |
| 小事不出网格率 | settled in the grid (``settled_in_grid_rate``) | cases with a ``handle`` event in P whose ``level`` is ``grid`` (handled by the grid's worker: 自行处置 or dispatched to her; not raised to the community or a department) ÷ cases with a ``handle`` event in P |
| 千户案件数 | cases per 1,000 households (``cases_per_1000_households``) | 受理数 ÷ households × 1000; households = Σ ``building.households`` of the grid / community / filtered area (none by unit or category) |

Notes on what the loop records (:mod:`patrol.cases.service`), which these definitions follow:

* ``deadline_at`` is the deadline *in force*: set at report, reset by dispatch, escalation, reopen and resume, and
  cleared while a case is suspended. 缓办 therefore stops the clock: the remaining working hours are added back on
  resume, so a case suspended across its original due time is *not* due then (the "− 缓办" of
  按期结案率 = 按期结案数 ÷ (应结案数 − 缓办数)), and a case still suspended at ``end`` has no deadline and is not
  应结未结. ``closed_on_time`` = the last handling came at or before the deadline in force at closing.
* Working hours come from the configured calendar (:func:`patrol.cases.worktime.calendar`); suspended time (from a
  ``suspend`` event to the next ``resume``) is not counted in the handling times.
* Ratings: the event log keeps no score, so a ``rate`` event's score is known when it is the case's latest rating
  (``patrol_case.rating``) or when it reopened the case (a ``reopen`` logged at the same instant: score ≤ 2). An
  earlier rating later overwritten without reopening is counted in ``ratings_unknown`` and not in ``rated``.
* What is built from events alone (received … suspended, 办结率, 返工率, 重开率, the handling times) does not change
  once P is over. What reads case columns follows their current values: ``on_time_closed`` / ``late_closed`` use
  the case's standing closure (``closed_at``, so a closure reopened later leaves them), ``due_unclosed`` the
  current ``deadline_at``, the rating scores ``rating``. ``open_now`` / ``overdue_now`` are a snapshot at ``now``
  (in a trend only the period containing ``now`` has them; the others hold NA).

Warnings (黄橙红预警): each KPI in ``thresholds`` gets ``green|yellow|orange|red``; ``warning`` is the worst colour of
the row and ``warning_kpis`` the KPIs at that colour. A :class:`Threshold` with ``worse="below"`` turns yellow when
the value is < ``yellow`` (then < ``orange``, < ``red``); with ``worse="above"`` when it is ≥ ``yellow``. Undefined
rates, and rates whose denominator is below ``min_den``, are not judged. Defaults (:data:`DEFAULT_THRESHOLDS`):
按期结案率 < 90 % / 80 % / 70 %, 满意率 < 96 % / 93 % / 90 %, 返工率 ≥ 10 % / 20 % / 30 %, 当前超期 ≥ 1 / 5 / 10.
The 满意率 warnings follow the seeds, where 96–100 % is what a community reports (S0 蓝海: 12345 工单 124, 满意 119,
96 %; S2 春光山色: 99.87 %): yellow below the lower end of that range, then 3 points a colour.
"""  # noqa: E501 (the definitions above are a Markdown table: a row cannot be wrapped)

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sqlalchemy import ARRAY, Integer, and_, any_, cast, exists, or_, select
from sqlalchemy.orm import Session, aliased

from patrol.analytics.kpi_groups import group_keys, with_subdistricts, with_workers
from patrol.analytics.kpis_days import day_sums
from patrol.analytics.kpis_fast import fast_sums, place_clauses, place_filters
from patrol.analytics.periods import KpiArgumentError, half_open, instant, last_periods, period_bounds
from patrol.cases.channels import CHANNELS, check_channels
from patrol.cases.channels import label as channel_label
from patrol.cases.lifecycle import CLOSED, OPEN, SELF_HANDLED, Status
from patrol.cases.overdue import overdue_mask
from patrol.cases.worktime import WorkCalendar, calendar
from patrol.core.models import Case, CaseEvent
from patrol.core.settings import Settings, get_settings

__all__ = ["BY", "DEFAULT_THRESHOLDS", "KPIS", "KpiArgumentError", "Threshold", "compute_kpis", "compute_trend",
           "kpi_records", "kpi_trend", "kpis", "last_periods", "load_frames", "parse_thresholds", "period_bounds"]

BY = {"grid": "grid_id", "community": "community_id", "subdistrict": "subdistrict_id", "unit": "unit_id",
      "category": "category_code", "channel": "channel", "worker": "worker_id"}
COLOURS = ("green", "yellow", "orange", "red")

# name → (中文, English); the rates also have <name>_num and <name>_den columns
KPIS: dict[str, tuple[str, str]] = {
    "received": ("受理数", "cases received"),
    "registered": ("立案数", "cases registered"),
    "rejected": ("不予立案数", "reports rejected"),
    "merged": ("合并(重复)数", "merged as duplicates"),
    "closed": ("结案数", "cases closed"),
    "escalated": ("升级数", "cases escalated"),
    "suspended": ("缓办数", "cases suspended"),
    "urged": ("被督办案件数", "cases urged"),
    "urges": ("督办次数", "urges"),
    "on_time_closed": ("按期结案数", "closed on time"),
    "late_closed": ("超期结案数", "closed late"),
    "due_unclosed": ("应结未结数", "due but not closed"),
    "rated": ("评价数", "ratings with a known score"),
    "satisfied": ("满意数", "ratings ≥ 4"),
    "dissatisfied": ("不满意数", "ratings ≤ 2"),
    "ratings_unknown": ("评分未知数", "ratings whose score was overwritten"),
    "open_now": ("在办数", "open now"),
    "overdue_now": ("当前超期数", "overdue now"),
    "households": ("户数", "households"),
    "closure_rate": ("办结率", "closure rate"),
    "on_time_rate": ("按期结案率", "on-time closure rate"),
    "rework_rate": ("返工率", "rework rate"),
    "reopen_rate": ("重开率", "reopen rate"),
    "satisfaction_rate": ("满意率", "satisfaction rate"),
    "dissatisfaction_rate": ("不满意率", "dissatisfaction rate"),
    "mean_handle_hours": ("平均处置时长(工作时)", "mean working hours register → handled"),
    "mean_close_hours": ("平均结案时长(工作时)", "mean working hours register → closed"),
    "cases_per_1000_households": ("千户案件数", "cases per 1,000 households"),
    "self_handled": ("自行处置数", "handled on the spot"),
    "settled_in_grid_rate": ("小事不出网格率", "share handled in the grid"),
}
RATES = ("closure_rate", "on_time_rate", "rework_rate", "reopen_rate", "satisfaction_rate", "dissatisfaction_rate",
         "mean_handle_hours", "mean_close_hours", "cases_per_1000_households", "settled_in_grid_rate")
COUNTS = ("received", "registered", "rejected", "merged", "closed", "escalated", "suspended", "urged", "urges",
          "on_time_closed",
          "late_closed", "due_unclosed", "rated", "satisfied", "dissatisfied", "ratings_unknown", "self_handled")
SNAPSHOT = ("open_now", "overdue_now")
CASE_COLUMNS = ("id", "status", "category_code", "community_id", "grid_id", "unit_id", "reported_at", "deadline_at",
                "closed_at", "closed_on_time", "rating")
#: read when present (a frame without them counts no 自行处置 and nothing settled in the grid)
OPTIONAL_CASE_COLUMNS = ("channel", "level")
EVENT_COLUMNS = ("case_id", "action", "to_status", "at")
_NONE = "\x00none"  # group key standing for "no grid / no unit …" inside groupby


@dataclass(frozen=True)
class Threshold:
    """Warning levels of one KPI. ``worse="below"``: yellow when value < yellow, orange < orange, red < red;
    ``worse="above"``: yellow when value ≥ yellow, and so on. ``min_den``: rates on fewer cases are not judged."""

    yellow: float
    orange: float
    red: float
    worse: str = "below"
    min_den: int = 1

    def __post_init__(self) -> None:
        if self.worse not in ("below", "above"):
            raise KpiArgumentError(f"thresholds: worse must be 'below' or 'above', got {self.worse!r}",
                                   field="thresholds")
        ordered = (self.yellow >= self.orange >= self.red) if self.worse == "below" else (
            self.yellow <= self.orange <= self.red)
        if not ordered:
            raise KpiArgumentError(f"thresholds: yellow, orange, red must get worse in turn (worse={self.worse!r}), "
                                   f"got {self.yellow}, {self.orange}, {self.red}", field="thresholds")

    def colour(self, value: float) -> str:
        if self.worse == "below":
            hits = (value < self.red, value < self.orange, value < self.yellow)
        else:
            hits = (value >= self.red, value >= self.orange, value >= self.yellow)
        for colour, hit in zip(("red", "orange", "yellow"), hits, strict=True):
            if hit:
                return colour
        return "green"


DEFAULT_THRESHOLDS: dict[str, Threshold] = {
    "on_time_rate": Threshold(0.90, 0.80, 0.70),
    "satisfaction_rate": Threshold(0.96, 0.93, 0.90),  # the seeds report 96–100 % (see the module's docstring)
    "rework_rate": Threshold(0.10, 0.20, 0.30, worse="above"),
    "overdue_now": Threshold(1, 5, 10, worse="above"),
}
"""Defaults until settings carry them (proposed: ``Settings.kpi_thresholds``, JSON ``{"kpi": [y, o, r]}``)."""


def parse_thresholds(thresholds: Mapping[str, Any] | None) -> dict[str, Threshold]:
    """``{kpi: Threshold | (yellow, orange, red) | {"yellow": …, "worse": …}}`` → ``{kpi: Threshold}``.
    For a triple, the direction is the default one of the KPI, else read from the order (falling → below)."""
    if thresholds is None:
        return dict(DEFAULT_THRESHOLDS)
    out: dict[str, Threshold] = {}
    for kpi, spec in thresholds.items():
        if kpi not in KPIS:
            raise KpiArgumentError(f"thresholds: unknown KPI {kpi!r}; KPIs: {', '.join(KPIS)}", field="thresholds")
        if isinstance(spec, Threshold):
            out[kpi] = spec
        elif isinstance(spec, Mapping):
            out[kpi] = Threshold(**spec)
        elif isinstance(spec, Sequence) and len(spec) == 3 and not isinstance(spec, str):
            y, o, r = (float(v) for v in spec)
            default = DEFAULT_THRESHOLDS.get(kpi)
            worse = default.worse if default else ("below" if y > r else "above")
            out[kpi] = Threshold(y, o, r, worse=worse)
        else:
            raise KpiArgumentError(f"thresholds: {kpi} needs (yellow, orange, red), got {spec!r}",
                                   field="thresholds")
    return out


# ---------------------------------------------------------------------------------------------- arguments


def _by_column(by: str | None) -> str | None:
    if by is None:
        return None
    if not isinstance(by, str) or by not in BY:
        raise KpiArgumentError(f"by must be one of {', '.join(map(repr, BY))} or None (overall), got {by!r}",
                               field="by")
    return BY[by]


# ---------------------------------------------------------------------------------------------- the computation


def _frames(cases: pd.DataFrame, events: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    missing = [c for c in CASE_COLUMNS if c not in cases.columns]
    if missing:
        raise KpiArgumentError(f"cases_df lacks columns {', '.join(missing)}", field="cases_df")
    missing = [c for c in EVENT_COLUMNS if c not in events.columns]
    if missing:
        raise KpiArgumentError(f"events_df lacks columns {', '.join(missing)}", field="events_df")
    cases = cases.copy()
    for c in OPTIONAL_CASE_COLUMNS:
        if c not in cases.columns:
            cases[c] = None
    for c in ("reported_at", "deadline_at", "closed_at"):
        cases[c] = pd.to_datetime(cases[c], utc=True)
    cases["id"] = cases["id"].astype("int64")
    cases = cases.drop_duplicates("id").set_index("id", drop=False)
    events = events.copy()
    events["at"] = pd.to_datetime(events["at"], utc=True)
    events["case_id"] = events["case_id"].astype("int64")
    events = events[events["case_id"].isin(cases.index)]
    order = ["at", "id"] if "id" in events.columns else ["at"]
    events = events.sort_values(order, kind="mergesort").reset_index(drop=True)
    events["seq"] = np.arange(len(events))
    return cases, events


def _keys(values: pd.Series) -> list:
    """Group keys as plain Python values: None for missing, int for whole numbers, str otherwise."""
    out = []
    for v in values.tolist():
        if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
            out.append(None)
        elif isinstance(v, (int, np.integer)) or (isinstance(v, float) and v.is_integer()):
            out.append(int(v))
        else:
            out.append(str(v))
    return out


def _net_hours(cal: WorkCalendar, a: dt.datetime, b: dt.datetime, pauses: list[tuple[dt.datetime, dt.datetime]]
               ) -> float:
    hours = cal.working_hours_between(a, b)
    for s, e in pauses:
        lo, hi = max(s, a), min(e, b)
        if hi > lo:
            hours -= cal.working_hours_between(lo, hi)
    return hours


def _handling_times(cases: pd.DataFrame, events: pd.DataFrame, closed_ids: Iterable[int], in_p: pd.Series,
                    cal: WorkCalendar) -> pd.DataFrame:
    """Per case closed in P: working hours from 立案 to the last handle before its last close in P and to that close,
    less suspended time. One pass over the cases' events in plain Python (no per-case pandas indexing)."""
    cols = ["handle_hours_sum", "handle_n", "close_hours_sum", "close_n"]
    ids = list(closed_ids)
    if not ids:
        return pd.DataFrame(0.0, index=pd.Index(ids, dtype="int64"), columns=cols)
    mask = events["case_id"].isin(ids).to_numpy()
    sub = events.loc[mask]
    order = np.argsort(sub["case_id"].to_numpy(), kind="stable")  # per case, in (at, id) order
    case_ids = sub["case_id"].to_numpy()[order]
    actions = sub["action"].to_numpy()[order]
    ats = list(sub["at"].iloc[order].dt.to_pydatetime())  # one conversion, not one per element
    seqs = sub["seq"].to_numpy()[order]
    inp = in_p.to_numpy()[mask][order]
    reported = cases["reported_at"]
    rows: dict[int, tuple[float, float, float, float]] = {}
    bounds = np.flatnonzero(np.diff(case_ids)) + 1
    for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, len(case_ids)], strict=True):
        cid = int(case_ids[lo])
        closes = [i for i in range(lo, hi) if actions[i] == "close" and inp[i]]
        last = closes[-1]
        regs = [i for i in range(lo, hi) if actions[i] == "register"]
        reg_at = ats[regs[0]] if regs else reported.at[cid].to_pydatetime()
        pauses, paused_at = [], None
        for i in range(lo, hi):
            if actions[i] == "suspend" and paused_at is None:
                paused_at = ats[i]
            elif actions[i] == "resume" and paused_at is not None:
                pauses.append((paused_at, ats[i]))
                paused_at = None
        if paused_at is not None:
            pauses.append((paused_at, ats[last]))
        handles = [i for i in range(lo, hi) if actions[i] == "handle" and seqs[i] < seqs[last]]
        handle = (_net_hours(cal, reg_at, ats[handles[-1]], pauses), 1.0) if handles else (0.0, 0.0)
        rows[cid] = (*handle, _net_hours(cal, reg_at, ats[last], pauses), 1.0)
    out = pd.DataFrame([rows.get(i, (0.0, 0.0, 0.0, 0.0)) for i in ids], index=pd.Index(ids, dtype="int64"),
                       columns=cols, dtype=float)
    return out


def _features(cases: pd.DataFrame, events: pd.DataFrame, start: dt.datetime, end: dt.datetime, now: dt.datetime,
              cal: WorkCalendar) -> pd.DataFrame:
    """One row per case (index: case id) with 0/1 flags and sums that add up to the KPIs of a group."""
    idx = cases.index
    f = pd.DataFrame(index=idx)
    ev, act = events, events["action"]
    in_p = (ev["at"] >= start) & (ev["at"] < end)
    before_end = ev["at"] < end

    def has(mask: pd.Series) -> np.ndarray:
        return idx.isin(ev.loc[mask, "case_id"])

    def between(col: str) -> pd.Series:
        return (cases[col] >= start) & (cases[col] < end)

    f["received"] = between("reported_at").to_numpy()
    f["self_handled"] = (f["received"] & (cases["channel"] == SELF_HANDLED)).to_numpy(dtype=bool)
    f["handled_in_p"] = has(in_p & (act == "handle"))
    f["settled_in_grid_rate_num"] = f["handled_in_p"] & (cases["level"] == "grid").to_numpy(dtype=bool)
    for name, action in (("registered", "register"), ("rejected", "reject"), ("merged", "merge"),
                         ("closed", "close"), ("escalated", "escalate"), ("suspended", "suspend")):
        f[name] = has(in_p & (act == action))
    urges = ev.loc[in_p & (act == "urge"), "case_id"].value_counts()
    f["urges"] = urges.reindex(idx).fillna(0).astype("int64").to_numpy()
    f["urged"] = f["urges"].to_numpy() > 0
    status_end = ev[before_end].groupby("case_id")["to_status"].last().reindex(idx)
    f["closure_rate_num"] = f["registered"] & (status_end == "closed").fillna(False).to_numpy(dtype=bool)

    on_time = cases["closed_on_time"].astype("boolean")
    closed_in_p = between("closed_at").fillna(False)
    f["on_time_closed"] = (closed_in_p & on_time.eq(True).fillna(False)).to_numpy(dtype=bool)
    f["late_closed"] = (closed_in_p & on_time.eq(False).fillna(False)).to_numpy(dtype=bool)
    finished = status_end.isin(list(CLOSED | {Status.SUSPENDED}))  # 应结未结 leaves out the finished and 缓办
    f["due_unclosed"] = (between("deadline_at").fillna(False) & ~finished & ~closed_in_p).to_numpy(dtype=bool)

    f["rework_rate_num"] = f["closed"] & has(before_end & act.isin(["rework", "reopen"]))
    first_close = ev[in_p & (act == "close")].groupby("case_id")["seq"].min()
    reopens = ev[before_end & (act == "reopen")]
    after = reopens["seq"].to_numpy() > reopens["case_id"].map(first_close).fillna(np.inf).to_numpy()
    f["reopen_rate_num"] = idx.isin(reopens.loc[after, "case_id"])

    # ratings: the score of a rate event is known when it is the case's latest or when it reopened the case
    nxt = ev.groupby("case_id")[["action", "at"]].shift(-1)
    rates = ev[in_p & (act == "rate")]
    low = (nxt.loc[rates.index, "action"] == "reopen") & (nxt.loc[rates.index, "at"] == rates["at"])
    last_rate = ev[act == "rate"].groupby("case_id")["seq"].max()
    latest = rates["seq"].to_numpy() == rates["case_id"].map(last_rate).to_numpy()
    score = rates["case_id"].map(cases["rating"]).astype("Float64").where(latest & ~low.to_numpy())
    scored = pd.DataFrame({"case_id": rates["case_id"], "low": low.to_numpy(), "score": score.to_numpy()})
    scored["rated"] = scored["low"] | scored["score"].notna()
    scored["satisfied"] = (scored["score"] >= 4).fillna(False)
    scored["dissatisfied"] = scored["low"] | (scored["score"] <= 2).fillna(False)
    scored["ratings_unknown"] = ~scored["rated"]
    per_case = scored.groupby("case_id")[["rated", "satisfied", "dissatisfied", "ratings_unknown"]].sum()
    for c in per_case.columns:
        f[c] = per_case[c].reindex(idx).fillna(0).astype("int64")

    hours = _handling_times(cases, ev, idx[f["closed"].to_numpy(dtype=bool)], in_p, cal)
    for c in hours.columns:
        f[c] = hours[c].reindex(idx).fillna(0.0)

    status_now = ev[ev["at"] <= now].groupby("case_id")["to_status"].last().reindex(idx)
    fallback = cases["status"].where(cases["reported_at"] <= now)
    status_now = status_now.fillna(fallback)
    open_now = status_now.isin(list(OPEN))
    f["open_now"] = open_now.to_numpy(dtype=bool)
    f["overdue_now"] = overdue_mask(status_now, cases["deadline_at"], now).to_numpy(dtype=bool)
    return f


def _compute(cases_df: pd.DataFrame, events_df: pd.DataFrame, *, by: str | None, start, end, now, calendar,
             households, thresholds, groups, snapshot: bool) -> pd.DataFrame:
    tz = calendar.timezone
    start, end = half_open(start, end, tz)
    now = instant(now, "now", tz)
    agg = _aggregate(cases_df, events_df, by=by, start=start, end=end, now=now, calendar=calendar)
    return _assemble(agg, by=by, start=start, end=end, tz=tz, households=households, thresholds=thresholds,
                     groups=groups, snapshot=snapshot)


def _aggregate(cases_df: pd.DataFrame, events_df: pd.DataFrame, *, by: str | None, start: dt.datetime,
               end: dt.datetime, now: dt.datetime, calendar: WorkCalendar) -> pd.DataFrame:
    """The per-case features summed per group key (index ``_key``: the key, ``_NONE`` or ``"all"``)."""
    key_col = _by_column(by)
    cases, events = _frames(cases_df, events_df)
    feats = _features(cases, events, start, end, now, calendar)
    if key_col is not None and key_col not in cases.columns:
        raise KpiArgumentError(f"cases_df lacks the column {key_col} to group by {by}", field="cases_df")
    keys = _keys(cases[key_col]) if key_col else ["all"] * len(cases)
    feats["_key"] = [_NONE if k is None else k for k in keys]
    return feats.groupby("_key", sort=False).sum(numeric_only=True)


def _assemble(agg: pd.DataFrame, *, by: str | None, start: dt.datetime, end: dt.datetime, tz: str, households,
              thresholds, groups, snapshot: bool) -> pd.DataFrame:
    """The KPI table of ``agg`` (summed features per key): the rows of ``groups`` and of the keys found, rates,
    households and warnings."""
    key_col = _by_column(by)
    limits = parse_thresholds(thresholds)
    universe: list = ["all"] if key_col is None else []
    for k in ([] if key_col is None else _keys(pd.Series(list(groups or []), dtype=object))) + list(agg.index):
        k = _NONE if k is None else k
        if k not in universe:
            universe.append(k)
    if key_col is not None:
        universe.sort(key=lambda k: (k == _NONE, str(type(k)), k if k != _NONE else 0))
    agg = agg.reindex(universe).fillna(0)

    out = pd.DataFrame({"by": by or "all",
                        "key": pd.Series([None if k in (_NONE, "all") else k for k in universe], dtype=object)})
    out["start"], out["end"] = start.astimezone(ZoneInfo(tz)), end.astimezone(ZoneInfo(tz))
    for c in COUNTS:
        out[c] = agg[c].to_numpy().astype("int64")
    for c in SNAPSHOT:
        out[c] = pd.array(agg[c].to_numpy().astype("int64") if snapshot else [pd.NA] * len(out), dtype="Int64")
    out["households"] = pd.array(_households(households, key_col, out["key"].tolist()), dtype="Int64")

    parts = {
        "closure_rate": (agg["closure_rate_num"], agg["registered"]),
        "on_time_rate": (agg["on_time_closed"], agg["on_time_closed"] + agg["late_closed"] + agg["due_unclosed"]),
        "rework_rate": (agg["rework_rate_num"], agg["closed"]),
        "reopen_rate": (agg["reopen_rate_num"], agg["closed"]),
        "satisfaction_rate": (agg["satisfied"], agg["rated"]),
        "dissatisfaction_rate": (agg["dissatisfied"], agg["rated"]),
        "mean_handle_hours": (agg["handle_hours_sum"], agg["handle_n"]),
        "mean_close_hours": (agg["close_hours_sum"], agg["close_n"]),
        "cases_per_1000_households": (agg["received"], out["households"].astype("Float64").to_numpy()),
        "settled_in_grid_rate": (agg["settled_in_grid_rate_num"], agg["handled_in_p"]),
    }
    for name, (num, den) in parts.items():
        num = np.asarray(num, dtype=float)
        den = np.asarray(pd.array(den, dtype="Float64").to_numpy(dtype=float, na_value=np.nan))
        hours = name.startswith("mean_")
        out[f"{name}_num"] = num if hours else num.astype("int64")
        if name == "cases_per_1000_households":
            out[f"{name}_den"] = out["households"]
        else:
            out[f"{name}_den"] = den.astype("int64")
        with np.errstate(divide="ignore", invalid="ignore"):
            value = np.where(den > 0, num / den, np.nan)
        out[name] = value * 1000 if name == "cases_per_1000_households" else value
    _warnings(out, limits)
    return out


def _households(households, key_col: str | None, keys: list) -> list:
    if households is None:
        return [pd.NA] * len(keys)
    if key_col is None:
        if isinstance(households, Mapping | pd.Series):
            households = sum(int(v) for v in dict(households).values() if v is not None and not pd.isna(v))
        return [int(households)]
    table = dict(households) if isinstance(households, Mapping | pd.Series) else None
    if table is None:
        raise KpiArgumentError("households must map each group key to its households when by is given",
                               field="households")
    table = {k: v for k, v in zip(_keys(pd.Series(list(table.keys()), dtype=object)), table.values(), strict=True)}
    out = []
    for k in keys:
        v = table.get(k)
        out.append(pd.NA if v is None or pd.isna(v) else int(v))
    return out


def _warnings(out: pd.DataFrame, limits: Mapping[str, Threshold]) -> None:
    worst, worst_kpis, every = [], [], []
    for _, row in out.iterrows():
        colours: dict[str, str] = {}
        for kpi, limit in limits.items():
            value = row[kpi]
            if value is None or pd.isna(value):
                continue
            den = row.get(f"{kpi}_den")
            if den is not None and not pd.isna(den) and den < limit.min_den:
                continue
            colours[kpi] = limit.colour(float(value))
        level = max((COLOURS.index(c) for c in colours.values()), default=0)
        worst.append(COLOURS[level])
        worst_kpis.append([k for k, c in colours.items() if level and COLOURS.index(c) == level])
        every.append(colours)
    out["warning"], out["warning_kpis"], out["warnings"] = worst, worst_kpis, every


def compute_kpis(cases_df: pd.DataFrame, events_df: pd.DataFrame, *, by: str | None, start: dt.datetime | dt.date,
                 end: dt.datetime | dt.date, now: dt.datetime, calendar: WorkCalendar,
                 households: Mapping | pd.Series | int | None = None,
                 thresholds: Mapping[str, Any] | None = None, groups: Iterable | None = None) -> pd.DataFrame:
    """The KPIs of period [start, end) per group (see the module docstring for every definition).

    Parameters
    ----------
    cases_df : DataFrame
        One row per case with ``id, status, category_code, community_id, grid_id, unit_id, reported_at,
        deadline_at, closed_at, closed_on_time, rating`` (aware datetimes or UTC).
    events_df : DataFrame
        The events of those cases: ``case_id, action, to_status, at`` (and ``id``, the tie-breaker for events
        logged at the same instant; without it the row order is kept). All events of a case, not only P's.
    by : {"grid", "community", "unit", "category"} or None
        The grouping; None gives one overall row.
    start, end : aware datetime or date
        The period, half-open; a date is local midnight in ``calendar.timezone``.
    now : aware datetime
        The moment of the ``open_now`` / ``overdue_now`` snapshot.
    calendar : WorkCalendar
        For the handling times in working hours.
    households : mapping key → households (or one number when ``by`` is None), optional
    thresholds : mapping, optional
        ``{kpi: Threshold | (yellow, orange, red)}``; replaces :data:`DEFAULT_THRESHOLDS` (pass ``{}`` for none).
    groups : iterable, optional
        Group keys to list even without cases (e.g. every grid of a community), with zero counts.

    Returns
    -------
    DataFrame
        One row per group: ``by, key, start, end``, the counts, each rate with ``_num`` and ``_den``, ``open_now``,
        ``overdue_now``, ``households``, ``warning``, ``warning_kpis``, ``warnings``. A row with key None holds
        the cases without a grid / community / unit.
    """
    return _compute(cases_df, events_df, by=by, start=start, end=end, now=now, calendar=calendar,
                    households=households, thresholds=thresholds, groups=groups, snapshot=True)


def compute_trend(cases_df: pd.DataFrame, events_df: pd.DataFrame, *, periods: Sequence[tuple], now: dt.datetime,
                  calendar: WorkCalendar, households: int | None = None,
                  thresholds: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Overall KPIs of the given cases for each of ``periods`` (oldest first), one row each, with ``partial``
    (the period contains ``now``). The snapshot columns are filled only for the period containing ``now``."""
    tz = calendar.timezone
    now_utc = instant(now, "now", tz)
    rows = []
    for start, end in periods:
        s, e = half_open(start, end, tz)
        current = s <= now_utc < e
        row = _compute(cases_df, events_df, by=None, start=s, end=e, now=now_utc, calendar=calendar,
                       households=households, thresholds=thresholds, groups=None, snapshot=current)
        row.insert(4, "partial", current)
        rows.append(row)
    if not rows:
        raise KpiArgumentError("periods is empty", field="periods")
    return pd.concat(rows, ignore_index=True)


# ---------------------------------------------------------------------------------------------- the database


def _case_filters(*, community_id, grid_id, unit_id, category, include_simulated, community_ids=None,
                  channels=None) -> list:
    where = [Case.channel.in_(check_channels(channels))] if channels else []
    where += place_clauses(Case, community_id=community_id, community_ids=community_ids, grid_id=grid_id)
    if unit_id is not None:
        where.append(Case.unit_id == unit_id)
    if category is not None:
        where.append(Case.category_code == category)
    if not include_simulated:
        where.append(Case.simulated.is_(False))
    return where


def _fast_filters(*, community_id, grid_id, unit_id, category, include_simulated, community_ids, channels) -> dict:
    """The filters for the summary path: ``where`` without the place, and the place apart (kpis_fast.place_filters)."""
    return {"where": _case_filters(community_id=None, grid_id=None, unit_id=unit_id, category=category,
                                   include_simulated=include_simulated, channels=channels),
            "place": place_filters(community_id=community_id, grid_id=grid_id, community_ids=community_ids)}


def load_frames(session: Session, *, start: dt.datetime, end: dt.datetime, where: Sequence = (), probe: bool = False
                ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The cases that can count in [start, end) or in the snapshot (an event, report, deadline or closure in the
    period, or open now) and all their events, reading only the columns the KPIs need. ``probe``: test "an event
    in the period" case by case (an index probe each) instead of reading every event of the period, for a ``where``
    that keeps few cases (the summary path's non-simple ones)."""
    step = aliased(CaseEvent)  # the events query also reads case_event: the probe reads its own
    in_period = (exists().where(step.case_id == Case.id, step.at >= start, step.at < end).correlate(Case) if probe
                 else Case.id.in_(select(CaseEvent.case_id).where(CaseEvent.at >= start, CaseEvent.at < end)))
    relevant = or_(
        in_period,
        and_(Case.reported_at >= start, Case.reported_at < end),
        and_(Case.deadline_at >= start, Case.deadline_at < end),
        and_(Case.closed_at >= start, Case.closed_at < end),
        Case.status.in_(sorted(OPEN)),
    )
    names = [*CASE_COLUMNS, *OPTIONAL_CASE_COLUMNS]
    rows = session.execute(select(*(getattr(Case, c) for c in names)).where(relevant, *where).order_by(Case.id)).all()
    cases = pd.DataFrame([tuple(r) for r in rows], columns=names)
    ev_cols = [CaseEvent.id, CaseEvent.case_id, CaseEvent.action, CaseEvent.to_status, CaseEvent.at]
    if probe:  # few cases: their events by case id, without testing relevance a second time
        ids = [int(v) for v in cases["id"]] or [-1]
        chosen = (CaseEvent.case_id == any_(cast(ids, ARRAY(Integer)))  # one parameter, not thousands
                  if session.get_bind().dialect.name == "postgresql" else CaseEvent.case_id.in_(ids))
        rows = session.execute(select(*ev_cols).where(chosen).order_by(CaseEvent.at, CaseEvent.id)).all()
    else:
        rows = session.execute(select(*ev_cols).join(Case, Case.id == CaseEvent.case_id).where(relevant, *where)
                               .order_by(CaseEvent.at, CaseEvent.id)).all()
    events = pd.DataFrame([tuple(r) for r in rows], columns=["id", *EVENT_COLUMNS])
    return cases, events


def _settings_and_now(settings: Settings | None, now: dt.datetime | None) -> tuple[Settings, WorkCalendar,
                                                                                 dt.datetime]:
    settings = settings or get_settings()
    return settings, calendar(settings), now or dt.datetime.now(dt.UTC)


def kpis(session: Session, *, by: str | None = None, start: dt.datetime | dt.date, end: dt.datetime | dt.date,
         now: dt.datetime | None = None, community_id: int | None = None, grid_id: int | None = None,
         unit_id: int | None = None, category: str | None = None, include_simulated: bool = True,
         settings: Settings | None = None, thresholds: Mapping[str, Any] | None = None,
         community_ids: Iterable[int] | None = None, channels: str | list[str] | None = None,
         lang: str = "zh") -> pd.DataFrame:
    """The KPIs of [start, end) per ``by`` group from the database (SpatiaLite or PostGIS), with each group's
    ``code`` and ``name`` (a channel's in words, in ``lang``). Filters restrict the cases (and the listed groups);
    by grid / community every group of the filtered area is listed, with zeros when it had no cases;
    ``community_ids`` restricts to a set of communities (a subdistrict's); ``channels`` to those channels (a
    comma-separated text or a list; 422 on ``channel`` for an unknown one). Definitions: the module docstring."""
    key_col = _by_column(by)
    settings, cal, now = _settings_and_now(settings, now)
    s, e = half_open(start, end, cal.timezone)
    where = _case_filters(community_id=community_id, grid_id=grid_id, unit_id=unit_id, category=category,
                          include_simulated=include_simulated, community_ids=community_ids, channels=channels)
    agg = _fast_aggregate(session, by=by, start=s, end=e, now=now, cal=cal, **_fast_filters(
        community_id=community_id, grid_id=grid_id, unit_id=unit_id, category=category,
        include_simulated=include_simulated, community_ids=community_ids, channels=channels)) \
        if settings.fast_reads else None
    if agg is None:
        cases, events = _load_grouped(session, by=by, start=s, end=e, where=where)
    groups, labels, households = group_keys(session, by, community_id=community_id, grid_id=grid_id, unit_id=unit_id,
                                         category=category, community_ids=community_ids)
    if by == "channel":  # the channels chosen, else those with cases; named in words
        groups = check_channels(channels)
        labels = {c: (c, channel_label(c, lang)) for c in CHANNELS}
    if agg is None:
        out = compute_kpis(cases, events, by=by, start=s, end=e, now=now, calendar=cal, households=households,
                           thresholds=thresholds, groups=groups)
    else:
        out = _assemble(agg, by=by, start=s, end=e, tz=cal.timezone, households=households, thresholds=thresholds,
                        groups=groups, snapshot=True)
    if key_col is not None:
        out.insert(2, "code", [labels.get(k, (None, None))[0] for k in out["key"]])
        out.insert(3, "name", [labels.get(k, (None, None))[1] for k in out["key"]])
    return out


def kpi_trend(session: Session, *, period: str = "month", n: int = 6, now: dt.datetime | None = None,
              community_id: int | None = None, grid_id: int | None = None, unit_id: int | None = None,
              category: str | None = None, include_simulated: bool = True, settings: Settings | None = None,
              thresholds: Mapping[str, Any] | None = None, community_ids: Iterable[int] | None = None,
              channels: str | list[str] | None = None) -> pd.DataFrame:
    """The overall KPIs of the filtered group (a grid, a community, a unit, a category, or the city) for each of
    the last ``n`` weeks or months up to the one containing ``now`` (partial), oldest first: one query, then
    :func:`compute_trend`."""
    settings, cal, now = _settings_and_now(settings, now)
    bounds = last_periods(period, n, instant(now, "now", cal.timezone), cal.timezone)
    where = _case_filters(community_id=community_id, grid_id=grid_id, unit_id=unit_id, category=category,
                          include_simulated=include_simulated, community_ids=community_ids, channels=channels)
    _, _, households = group_keys(session, None, community_id=community_id, grid_id=grid_id, unit_id=unit_id,
                               category=category, community_ids=community_ids)
    if settings.fast_reads:
        return _fast_trend(session, bounds=bounds, now=now, cal=cal, households=households, thresholds=thresholds,
                           **_fast_filters(community_id=community_id, grid_id=grid_id, unit_id=unit_id,
                                           category=category, include_simulated=include_simulated,
                                           community_ids=community_ids, channels=channels))
    cases, events = load_frames(session, start=bounds[0][0], end=bounds[-1][1], where=where)
    return compute_trend(cases, events, periods=bounds, now=now, calendar=cal, households=households,
                         thresholds=thresholds)


def _load_grouped(session: Session, *, by: str | None, start: dt.datetime, end: dt.datetime, where: Sequence,
                  probe: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``load_frames`` with the subdistrict or grid worker of each case when grouping by them."""
    cases, events = load_frames(session, start=start, end=end, where=where, probe=probe)
    if by == "subdistrict":
        cases = with_subdistricts(session, cases)
    if by == "worker":  # the grid worker walking the case's grid (issue 22)
        cases = with_workers(session, cases)
    return cases, events


def _fast_aggregate(session: Session, *, by: str | None, start: dt.datetime, end: dt.datetime, now: dt.datetime,
                    cal: WorkCalendar, where: Sequence, place: tuple[list, list, list] = ([], [], []),
                    window: tuple[dt.datetime, dt.datetime] | None = None) -> pd.DataFrame:
    """The features summed per key from the summary table (:mod:`patrol.analytics.kpis_fast`): equal to
    :func:`_aggregate` over ``load_frames``; the cases it cannot read from the summary go through that path."""
    def slow(slow_where: list) -> pd.DataFrame:
        lo, hi = window or (start, end)
        cases, events = _load_grouped(session, by=by, start=lo, end=hi, where=slow_where, probe=True)
        agg = _aggregate(cases, events, by=by, start=start, end=end, now=now, calendar=cal)
        return agg.rename_axis("key").reset_index()

    sums = day_sums(session, by=by, start=start, end=end, now=now, cal=cal, where=where, place=place, window=window,
                    slow=slow)  # a long period from the per-day sums (PostgreSQL), else the facts
    if sums is None:
        sums = fast_sums(session, by=by, start=start, end=end, now=now, cal=cal, where=where, slow=slow,
                         place=place, window=window)
    keys = _keys(sums["key"]) if len(sums) else []
    sums["_key"] = [_NONE if k is None else k for k in keys]
    features = [c for c in sums.columns if c not in ("key", "_key")]
    agg = sums.drop(columns="key").groupby("_key", sort=False).sum(numeric_only=True)
    return agg.reindex(columns=features, fill_value=0)


def _fast_trend(session: Session, *, bounds: Sequence[tuple], now: dt.datetime, cal: WorkCalendar, where: Sequence,
                place: tuple[list, list, list], households, thresholds) -> pd.DataFrame:
    """:func:`compute_trend` from the summary table: one fast aggregate per period."""
    now_utc = instant(now, "now", cal.timezone)
    span = (half_open(*bounds[0], cal.timezone)[0], half_open(*bounds[-1], cal.timezone)[1])
    rows = []
    for start, end in bounds:
        s, e = half_open(start, end, cal.timezone)
        current = s <= now_utc < e
        agg = _fast_aggregate(session, by=None, start=s, end=e, now=now_utc, cal=cal, where=where, place=place,
                              window=span if current else None)  # compute_trend's snapshot: the whole span's cases
        row = _assemble(agg, by=None, start=s, end=e, tz=cal.timezone, households=households, thresholds=thresholds,
                        groups=None, snapshot=current)
        row.insert(4, "partial", current)
        rows.append(row)
    return pd.concat(rows, ignore_index=True)


# ---------------------------------------------------------------------------------------------- JSON


def _plain(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (pd.Timestamp, dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) or math.isinf(value) else float(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in value]
    return value


def kpi_records(df: pd.DataFrame) -> list[dict]:
    """The rows as JSON-able dicts: plain ints and floats, ISO datetimes, None for undefined rates (never NaN)."""
    return [{str(c): _plain(v) for c, v in zip(df.columns, row, strict=True)}
            for row in df.itertuples(index=False, name=None)]
