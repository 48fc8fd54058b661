"""The phone's clock, as a request header: ``X-Device-Time`` is the device's time when it sent the request (ISO 8601
with offset). With it the server learns how far the phone's clock is off (:mod:`patrol.cases.times`) and corrects the
``occurred_at`` of the work the request carries."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header

DeviceTimeDep = Annotated[str | None, Header(alias="X-Device-Time", max_length=40,
                                             description="the device's clock when it sent the request (ISO 8601 "
                                                         "with offset): flags and corrects a phone's wrong clock")]

OCCURRED_AT = ("when it happened on the device (ISO 8601 with offset, e.g. 2026-12-05T09:00:00+08:00), for work "
               "queued offline; within bounds (Settings.clock_skew_allowance_s, occurrence_window_hours), else the "
               "receipt with a time_flag")
