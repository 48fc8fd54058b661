"""接诉即办 (answering residents' requests) rates per subdistrict / community / grid / unit / channel and period:
响应率, 解决率, 满意率 in two definitions, and a weighted composite score.

A pure computation on two DataFrames (:func:`compute_responsiveness`: the residents' cases and the time of each
case's first response) plus a loader for SpatiaLite or PostGIS (:func:`responsiveness`).

Definitions
-----------
The orders (工单) of period P = [start, end) are the cases a resident brought (``channel`` in
:data:`patrol.cases.channels.RESIDENT_CHANNELS`: the H5 page ``resident``, the hotline ``12345``, ``open311``;
narrowed by a ``channel`` filter) whose ``reported_at`` — for a 12345 order its 受理时间 — lies in P.
Every rate is over these orders and comes with its numerator and denominator.

| 中文 | column | numerator ÷ denominator |
|---|---|---|
| 工单数 | ``orders`` | orders received in P |
| 响应率 | ``response_rate`` | orders whose first response — the first ``register``, ``reject``, ``dispatch`` or ``supplement`` event, a step only staff take — came within ``response_hours`` working hours of receipt (``responded_in_time``) ÷ orders whose response is decided (``response_due``: responded, or the window has passed at ``now``; an order still inside its window without a response is not judged yet) |
| 解决率 | ``resolution_rate`` | orders the resident says were solved (``resident_solved`` true) ÷ orders with an answer (``resident_solved`` true or false) |
| 满意工单率 | ``satisfied_order_rate`` | satisfied orders ÷ all orders received in P (``orders``): the seeds' 119 ÷ 124 = 96.0 % |
| 评价满意率 | ``rated_satisfaction_rate`` | satisfied orders ÷ rated orders (``rated``) |
| 综合得分 | ``composite`` | 100 × (w_响应 × 响应率 + w_解决 × 解决率 + w_满意 × 满意率) ÷ Σw, the 满意率 being the definition chosen by the setting ``responsiveness_satisfaction`` (``rated``, default, or ``orders``); undefined while one of its weighted rates is |

A satisfied order: its rating is ≥ 4 (满意 / 基本满意, the rule of :mod:`patrol.analytics.kpis`). The rating that
counts is each order's latest (``patrol_case.rating``: a low rating reopens the case, 再接单, and the rating given
after the second handling replaces it), so a period's figures follow its orders' ratings and answers as they come
in (回访 follows closure by days). Working hours come from the city's calendar (:func:`patrol.cases.worktime.calendar`).
Default weights 10 % / 45 % / 45 % (settings ``responsiveness_weights``); the default window 2 working hours
(``response_hours``). Warnings: :data:`DEFAULT_THRESHOLDS` (below 90 % / 80 % / 70 %, 评价满意率 below 96 % / 93 %
/ 90 % as the seeds report 96–100 % (S0: 119 of 124 12345 orders satisfied, 96 %; S2: 99.87 %); the composite below
90 / 80 / 70 points), replaced per rate by ``responsiveness_thresholds``. 满意工单率 has no default threshold: the orders of
the last days are not rated yet (回访 follows closure), so over a period that ends today it is low for a reason
that is no one's fault; give it one in the settings to judge closed periods by it.
"""  # noqa: E501 (a Markdown table)

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from patrol.analytics.kpi_groups import group_keys, with_subdistricts
from patrol.analytics.kpis import Threshold, kpi_records
from patrol.analytics.periods import KpiArgumentError, half_open, instant
from patrol.cases.channels import CHANNELS, RESIDENT_CHANNELS, check_channels, label
from patrol.cases.worktime import WorkCalendar, calendar
from patrol.core.models import Case, CaseEvent
from patrol.core.settings import Settings, get_settings

__all__ = ["BY", "DEFAULT_THRESHOLDS", "DEFAULT_WEIGHTS", "RATES", "RESPONSE_ACTIONS", "compute_responsiveness",
           "responsiveness", "responsiveness_records"]

BY = {"subdistrict": "subdistrict_id", "community": "community_id", "grid": "grid_id", "unit": "unit_id",
      "channel": "channel"}
#: the steps that answer a resident: registered or refused at the desk, dispatched, or a note added (a call back)
RESPONSE_ACTIONS = ("register", "reject", "dispatch", "supplement")
#: name → (中文, English)
RATES: dict[str, tuple[str, str]] = {
    "response_rate": ("响应率", "response rate"),
    "resolution_rate": ("解决率", "resolution rate"),
    "satisfied_order_rate": ("满意工单率", "satisfied orders ÷ all orders"),
    "rated_satisfaction_rate": ("评价满意率", "satisfied ÷ rated"),
    "composite": ("综合得分", "composite score"),
}
COUNTS = ("orders", "response_due", "responded", "responded_in_time", "answered", "solved", "rated", "satisfied")
#: Beijing's 接诉即办 考评 weights of 响应率 / 解决率 / 满意率 (see docs-snippets/kpis.md for the source's status)
DEFAULT_WEIGHTS = {"response": 0.10, "resolution": 0.45, "satisfaction": 0.45}
DEFAULT_THRESHOLDS: dict[str, Threshold] = {
    "response_rate": Threshold(0.90, 0.80, 0.70),
    "resolution_rate": Threshold(0.90, 0.80, 0.70),
    "rated_satisfaction_rate": Threshold(0.96, 0.93, 0.90),  # the seeds' 96–100 %
    "composite": Threshold(90.0, 80.0, 70.0),
}
CASE_COLUMNS = ("id", "channel", "reported_at", "rating", "resident_solved")
_COLOURS = ("green", "yellow", "orange", "red")


def _weights(weights: Mapping[str, float] | None) -> dict[str, float]:
    out = dict(DEFAULT_WEIGHTS if weights is None else weights)
    if set(out) != set(DEFAULT_WEIGHTS) or any(not isinstance(v, int | float) or v < 0 for v in out.values()) \
            or sum(out.values()) <= 0:
        raise KpiArgumentError("weights must give response, resolution and satisfaction, each ≥ 0, not all 0; got "
                               f"{out!r}", field="weights")
    return out


def _thresholds(thresholds: Mapping[str, Any] | None) -> dict[str, Threshold]:
    out = dict(DEFAULT_THRESHOLDS)
    for name, spec in (thresholds or {}).items():
        if name not in RATES:
            raise KpiArgumentError(f"thresholds: unknown rate {name!r}; rates: {', '.join(RATES)}",
                                   field="thresholds")
        y, o, r = (float(v) for v in spec)
        out[name] = spec if isinstance(spec, Threshold) else Threshold(y, o, r)
    return out


def _features(cases: pd.DataFrame, first_response: pd.Series, start: dt.datetime, end: dt.datetime,
              now: dt.datetime, cal: WorkCalendar, hours: float) -> pd.DataFrame:
    """One row per order received in P with 0/1 flags that add up to a group's counts."""
    f = pd.DataFrame(index=cases.index)
    received = cases["reported_at"]
    f["orders"] = 1
    answer = first_response.reindex(cases.index)
    due_at = [cal.add_working_hours(t.to_pydatetime(), hours) for t in received]
    in_time = [pd.notna(a) and a <= d for a, d in zip(answer, due_at, strict=True)]
    f["responded"] = answer.notna().to_numpy()
    f["responded_in_time"] = in_time
    f["response_due"] = f["responded"].to_numpy() | np.array([d <= now for d in due_at], dtype=bool)
    solved = cases["resident_solved"].astype("boolean")
    f["answered"] = solved.notna().to_numpy()
    f["solved"] = solved.eq(True).fillna(False).to_numpy(dtype=bool)
    rating = pd.to_numeric(cases["rating"], errors="coerce")
    f["rated"] = rating.notna().to_numpy()
    f["satisfied"] = (rating >= 4).fillna(False).to_numpy(dtype=bool)
    return f.astype("int64")


def _rate(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def compute_responsiveness(cases_df: pd.DataFrame, first_response: pd.Series | Mapping, *, by: str | None,
                           start: dt.datetime | dt.date, end: dt.datetime | dt.date, now: dt.datetime,
                           calendar: WorkCalendar, response_hours: float = 2.0,
                           weights: Mapping[str, float] | None = None, satisfaction: str = "rated",
                           thresholds: Mapping[str, Any] | None = None, groups: Iterable | None = None
                           ) -> pd.DataFrame:
    """The 接诉即办 rates of period [start, end) per group (definitions: the module docstring).

    ``cases_df``: one row per case with ``id, channel, reported_at, rating, resident_solved`` and the column of
    ``by`` (``grid_id`` …); cases of other channels or received outside P are left out here. ``first_response``:
    case id → the time of its first response step (missing: none yet). ``groups``: keys to list even without
    orders. Returns one row per group: ``by, key``, the counts, each rate with ``_num`` and ``_den``,
    ``composite``, ``warning``, ``warning_kpis``, ``warnings``."""
    if satisfaction not in ("rated", "orders"):
        raise KpiArgumentError(f"satisfaction must be 'rated' or 'orders', got {satisfaction!r}",
                               field="satisfaction")
    if not 0 < response_hours <= 200:
        raise KpiArgumentError(f"response_hours must be in (0, 200], got {response_hours}", field="response_hours")
    if by is not None and by not in BY:
        raise KpiArgumentError(f"by must be one of {', '.join(BY)} or None, got {by!r}", field="by")
    w, limits = _weights(weights), _thresholds(thresholds)
    tz = calendar.timezone
    s, e = half_open(start, end, tz)
    now = instant(now, "now", tz)
    missing = [c for c in CASE_COLUMNS if c not in cases_df.columns]
    if missing:
        raise KpiArgumentError(f"cases_df lacks columns {', '.join(missing)}", field="cases_df")
    cases = cases_df.copy()
    cases["reported_at"] = pd.to_datetime(cases["reported_at"], utc=True)
    cases = cases[cases["channel"].isin(list(RESIDENT_CHANNELS)) & (cases["reported_at"] >= s)
                  & (cases["reported_at"] < e)].drop_duplicates("id").set_index("id", drop=False)
    answers = pd.to_datetime(pd.Series(dict(first_response), dtype=object), utc=True) if len(first_response) \
        else pd.Series([], dtype="datetime64[ns, UTC]")
    feats = _features(cases, answers, s, e, now, calendar, response_hours)
    key_col = BY[by] if by else None
    keys = [None if pd.isna(k) else (int(k) if isinstance(k, int | float | np.integer) else k)
            for k in (cases[key_col] if key_col else ["all"] * len(cases))]
    feats["_key"] = [k if k is not None else "\x00none" for k in keys]
    agg = feats.groupby("_key", sort=False).sum()
    universe: list = ["all"] if key_col is None else [k for k in (groups or [])]
    universe += [k for k in agg.index if k not in universe]
    agg = agg.reindex(universe).fillna(0).astype("int64")
    out = pd.DataFrame({"by": by or "all",
                        "key": pd.Series([None if k in ("all", "\x00none") else k for k in universe], dtype=object)})
    out["start"], out["end"] = s.astimezone(ZoneInfo(tz)), e.astimezone(ZoneInfo(tz))
    for c in COUNTS:
        out[c] = agg[c].to_numpy()
    parts = {"response_rate": ("responded_in_time", "response_due"), "resolution_rate": ("solved", "answered"),
             "satisfied_order_rate": ("satisfied", "orders"), "rated_satisfaction_rate": ("satisfied", "rated")}
    for name, (num, den) in parts.items():
        out[f"{name}_num"], out[f"{name}_den"] = out[num], out[den]
        out[name] = _rate(out[num].to_numpy(float), out[den].to_numpy(float))
    sat = out["rated_satisfaction_rate" if satisfaction == "rated" else "satisfied_order_rate"]
    terms = [(w["response"], out["response_rate"]), (w["resolution"], out["resolution_rate"]),
             (w["satisfaction"], sat)]
    total = sum(weight for weight, _ in terms)
    score = sum(weight * np.nan_to_num(v.to_numpy(float)) for weight, v in terms) / total * 100
    undefined = np.zeros(len(out), dtype=bool)
    for weight, v in terms:
        if weight > 0:
            undefined |= v.isna().to_numpy()
    out["composite"] = np.where(undefined, np.nan, np.round(score, 2))
    _warnings(out, limits)
    return out


def _warnings(out: pd.DataFrame, limits: Mapping[str, Threshold]) -> None:
    worst, worst_kpis, every = [], [], []
    for _, row in out.iterrows():
        colours = {k: t.colour(float(row[k])) for k, t in limits.items() if pd.notna(row[k])}
        level = max((_COLOURS.index(c) for c in colours.values()), default=0)
        worst.append(_COLOURS[level])
        worst_kpis.append([k for k, c in colours.items() if level and _COLOURS.index(c) == level])
        every.append(colours)
    out["warning"], out["warning_kpis"], out["warnings"] = worst, worst_kpis, every


# ---------------------------------------------------------------------------------------------- the database


def load_orders(session: Session, *, start: dt.datetime, end: dt.datetime, channels: Iterable[str],
                where: Iterable = ()) -> tuple[pd.DataFrame, dict]:
    """The orders received in [start, end) of ``channels`` (with the filters ``where``) and the time of each one's
    first response step."""
    names = (*CASE_COLUMNS, "community_id", "grid_id", "unit_id")
    cond = [Case.channel.in_(sorted(channels)), Case.reported_at >= start, Case.reported_at < end, *where]
    rows = session.execute(select(*(getattr(Case, c) for c in names)).where(*cond).order_by(Case.id)).all()
    cases = pd.DataFrame([tuple(r) for r in rows], columns=list(names))
    first = session.execute(select(CaseEvent.case_id, func.min(CaseEvent.at, type_=CaseEvent.at.type))
                            .join(Case, Case.id == CaseEvent.case_id)
                            .where(CaseEvent.action.in_(RESPONSE_ACTIONS), *cond)
                            .group_by(CaseEvent.case_id)).all()
    return cases, {int(c): at for c, at in first}


def responsiveness(session: Session, *, by: str | None, start: dt.datetime | dt.date, end: dt.datetime | dt.date,
                   now: dt.datetime | None = None, community_id: int | None = None, grid_id: int | None = None,
                   unit_id: int | None = None, community_ids: Iterable[int] | None = None,
                   channels: str | list[str] | None = None, include_simulated: bool = True,
                   settings: Settings | None = None, lang: str = "zh") -> pd.DataFrame:
    """The 接诉即办 rates of [start, end) per ``by`` group from the database, with each group's ``code`` and
    ``name`` (a channel's in words, in ``lang``). ``channels``: the resident channels to count (default: all of
    them; 422 on ``channel`` for an unknown one or one that is not a resident's)."""
    settings = settings or get_settings()
    cal = calendar(settings)
    now = now or dt.datetime.now(dt.UTC)
    s, e = half_open(start, end, cal.timezone)
    chosen = check_channels(channels) or sorted(RESIDENT_CHANNELS)
    outside = [c for c in chosen if c not in RESIDENT_CHANNELS]
    if outside:
        raise KpiArgumentError(f"channel {outside[0]!r} is not a resident's; 接诉即办 counts "
                               f"{', '.join(sorted(RESIDENT_CHANNELS))}", field="channel")
    where = []
    for col, value in ((Case.community_id, community_id), (Case.grid_id, grid_id), (Case.unit_id, unit_id)):
        if value is not None:
            where.append(col == value)
    if community_ids is not None:
        where.append(Case.community_id.in_(sorted(community_ids) or [-1]))
    if not include_simulated:
        where.append(Case.simulated.is_(False))
    cases, first = load_orders(session, start=s, end=e, channels=chosen, where=where)
    if by == "subdistrict":
        cases = with_subdistricts(session, cases)
    if by == "channel":
        groups: list = [c for c in CHANNELS if c in chosen]
        labels = {c: (c, label(c, lang)) for c in CHANNELS}
    elif by is None:
        groups, labels = [], {}
    else:
        groups, labels, _ = group_keys(session, by, community_id=community_id, grid_id=grid_id, unit_id=unit_id,
                                       category=None, community_ids=community_ids)
    out = compute_responsiveness(cases, first, by=by, start=s, end=e, now=now, calendar=cal,
                                 response_hours=settings.response_hours, weights=settings.responsiveness_weights,
                                 satisfaction=settings.responsiveness_satisfaction,
                                 thresholds=settings.responsiveness_thresholds, groups=groups)
    if by is not None:
        out.insert(2, "code", [labels.get(k, (None, None))[0] for k in out["key"]])
        out.insert(3, "name", [labels.get(k, (None, None))[1] for k in out["key"]])
    return out


def responsiveness_records(df: pd.DataFrame) -> list[dict]:
    """The rows as JSON-able dicts (None for undefined rates)."""
    return kpi_records(df)
