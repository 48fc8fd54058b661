"""One query model for the case filters of ``GET /cases``, ``/cases/export`` and ``/cases/map``, so the three accept
and refuse the same parameters (an unknown status is a 422 on ``status`` everywhere)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from patrol.cases.channels import CHANNELS, check_channels
from patrol.cases.lifecycle import CLOSED, OPEN
from patrol.cases.service import CaseFilter
from patrol.city.read_models import parse_bbox
from patrol.core.errors import InvalidInput

STATUSES = frozenset(OPEN | CLOSED)


class CaseQuery(BaseModel):
    """The filters every case listing accepts."""

    bbox: str | None = Field(None, description="minlon,minlat,maxlon,maxlat (WGS-84)")
    grid: str | None = Field(None, description="grid id, code or name")
    community: str | None = Field(None, description="community id, code or name")
    subdistrict: str | None = Field(None, description="subdistrict (街道) code or name")
    category: str | None = Field(None, description="category code")
    status: str | None = Field(None, description="comma-separated statuses, e.g. dispatched,accepted")
    overdue: bool | None = None
    since: dt.datetime | None = Field(None, description="reported at or after (with a timezone)")
    until: dt.datetime | None = Field(None, description="reported before (with a timezone)")
    channel: str | None = Field(None, max_length=200, description="where the cases came from, comma-separated: "
                                + ", ".join(CHANNELS))

    @field_validator("channel")
    @classmethod
    def _known_channels(cls, value: str | None) -> str | None:
        try:
            check_channels(value)
        except InvalidInput as exc:
            raise ValueError(str(exc)) from exc
        return value

    @field_validator("status")
    @classmethod
    def _known_statuses(cls, value: str | None) -> str | None:
        bad = [s for s in (value or "").split(",") if s and s not in STATUSES]
        if bad:
            raise ValueError(f"unknown status {bad[0]!r}; statuses: {', '.join(sorted(STATUSES))}")
        return value

    @field_validator("since", "until")
    @classmethod
    def _aware(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("needs a timezone, e.g. 2026-11-01T00:00:00+08:00")
        return value

    def statuses(self) -> list[str]:
        return [s for s in (self.status or "").split(",") if s]

    def to_filter(self) -> CaseFilter:
        """The service's filter (422 on ``bbox`` when it is malformed)."""
        return CaseFilter(bbox=parse_bbox(self.bbox), grid=self.grid, community=self.community,
                          subdistrict=self.subdistrict,
                          category=self.category, status=self.statuses() or None, overdue=self.overdue,
                          since=self.since, until=self.until, channels=check_channels(self.channel) or None)


class CaseListQuery(CaseQuery):
    limit: int = Field(500, ge=1, description="page size (at most the configured page_size_max)")
    offset: int = Field(0, ge=0)


class CaseExportQuery(CaseQuery):
    format: Literal["csv", "geojson", "gpkg"] = "csv"
    headers: Literal["zh", "en", "keys"] = Field(
        "zh", description="CSV column names: zh (Chinese, default), en (English) or keys (machine keys for scripts)")


class CaseMapQuery(CaseQuery):
    bbox: str = Field(description="minlon,minlat,maxlon,maxlat (WGS-84): the map's view")
    zoom: int = Field(ge=0, le=22, description="the map's zoom level")
