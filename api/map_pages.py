"""What the analysis map pages (api/routes/maps.py) share: the period they show (by default the last 30 days), the
options of their controls, and the grid and community outlines of the reader's scope; handed as plain values to
:mod:`maps.analytics.page`."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import geopandas as gpd
from fastapi import Query
from sqlalchemy import select

from maps.analytics.page import PAGE_LABELS, Select
from maps.desk.common import CHANNEL
from patrol.analytics import map_frames as mf
from patrol.analytics import service as svc
from patrol.cases.channels import CHANNELS, RESIDENT_CHANNELS
from patrol.cases.lifecycle import OPEN
from patrol.cases.worktime import local_today
from patrol.core.errors import InvalidInput
from patrol.core.frames import read_frame
from patrol.core.models import Community, Grid
from patrol.core.settings import Settings

DEFAULT_PERIOD = "30"
"""A map page without a period shows the last 30 days (today included)."""

PeriodKey = Annotated[Literal["7", "30", "90", "month", "custom"] | None,
                      Query(description="last 7 / 30 / 90 days, this month so far, or custom (start and last); "
                                        "default: the last 30 days, or custom when start or end is given")]
LastDay = Annotated[dt.date | None, Query(description="last day shown (local, included): the form's 'to' date")]

STATUS_FILTERS = ("open", "overdue", "closed")
"""The status filter of the case maps, as on the dashboard: 在办, 当前超期, 已结案 (or all)."""


def map_period(settings: Settings, period: str | None, start: dt.date | None, end: dt.date | None,
               last: dt.date | None = None, *, today: dt.date | None = None) -> tuple[str, dt.date, dt.date]:
    """``(key, start, end)`` of a map page, ``end`` exclusive, in local days. A preset ignores the dates; no
    period with dates (e.g. a link from the dashboard: start and end) is custom; custom takes ``start`` and
    ``last`` (or ``end``), each defaulting to the last 30 days' bound. 422 on ``end`` (or ``last``) before
    ``start``."""
    today = today or local_today(settings.timezone)
    tomorrow = today + dt.timedelta(days=1)
    if period is None:
        period = "custom" if (start or end or last) else DEFAULT_PERIOD
    if period == "month":
        return period, today.replace(day=1), tomorrow
    if period != "custom":
        return period, today - dt.timedelta(days=int(period) - 1), tomorrow
    stop = last + dt.timedelta(days=1) if last is not None else end or tomorrow
    begin = start or stop - dt.timedelta(days=int(DEFAULT_PERIOD))
    if stop <= begin:
        raise InvalidInput(f"the last day ({stop - dt.timedelta(days=1)}) must not be before the first ({begin})",
                           field="last" if last is not None else "end")
    return period, begin, stop


def category_select(session, lang: str, value: str | None) -> Select:
    t = PAGE_LABELS[lang]
    labels = mf.category_labels(session, lang)
    return Select("category", t["category"], [("", t["all"])] + [(c, f"{c} {n}") for c, n in sorted(labels.items())],
                  value)


def channel_select(lang: str, value: str | None) -> Select:
    """Where the cases came from: every channel in words, and the residents' three at once."""
    t = PAGE_LABELS[lang]
    words = [(k, v) for k, v in CHANNEL[lang].items() if k in CHANNELS]
    residents = ",".join(c for c in CHANNELS if c in RESIDENT_CHANNELS)  # resident,12345,open311 as the dashboard
    return Select("channel", t["channel"], [("", t["all"]), (residents, t["channel:residents"]), *words], value)


def status_select(lang: str, value: str | None) -> Select:
    t = PAGE_LABELS[lang]
    return Select("status", t["status"], [("", t["all"])] + [(s, t[f"status:{s}"]) for s in STATUS_FILTERS], value)


def choice_select(lang: str, name: str, values: tuple[str, ...], value: str) -> Select:
    """A select of ``values`` labelled ``PAGE_LABELS[lang][name:value]``."""
    t = PAGE_LABELS[lang]
    return Select(name, t[name], [(v, t[f"{name}:{v}"]) for v in values], value)


def status_filter(status: str | None) -> tuple[list[str] | None, bool | None]:
    """The case statuses and the overdue flag a status filter selects; 422 on ``status`` for another value (a
    comma-separated list of case states also passes, as the case API takes it)."""
    if not status:
        return None, None
    if status == "open":
        return sorted(s.value for s in OPEN), None
    if status == "overdue":
        return None, True
    if status == "closed":
        return ["closed"], None
    return [s for s in status.split(",") if s], None


def filter_cases(cases: gpd.GeoDataFrame, status: str | None) -> gpd.GeoDataFrame:
    """The rows of a case frame (``status``, ``overdue``) that a status filter keeps."""
    statuses, overdue = status_filter(status)
    keep = cases["status"].isin(statuses) if statuses is not None else None
    if overdue:
        keep = cases["overdue"].astype(bool)
    return cases if keep is None else cases[keep.to_numpy()].reset_index(drop=True)


def outlines(session, scope: svc.Scope) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """The grids and communities of ``scope`` (all when unscoped) as polygons, for their outlines."""
    gwhere = [Grid.id == scope.grid_id] if scope.grid_id is not None else scope.community_clauses(Grid.community_id)
    grids = read_frame(session, [Grid.id, Grid.code], Grid.geom, where=gwhere, order_by=[Grid.id])
    cwhere = scope.community_clauses(Community.id)
    if scope.grid_id is not None:
        cwhere.append(Community.id.in_(
            select(Grid.community_id).where(Grid.id == scope.grid_id).scalar_subquery()))
    communities = read_frame(session, [Community.id, Community.name], Community.geom, where=cwhere,
                             order_by=[Community.id])
    return grids, communities
